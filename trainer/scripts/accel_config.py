"""Reads accel-train's INI configs (repeated [layer] sections, and the
"; --set section.key=value" lines a checkpoint's /config ends with), for the
scripts beside this file. Only what they need: the [data] keys and the
layers, with accel-train's defaults."""

LAYER_DEFAULTS = {"activation": "none", "stride": "0", "padding": "0", "bias": "true",
                  "momentum": "0.1", "eps": "1e-5", "sync": "true", "name": ""}


def _strip(line):
    for mark in (" ;", "\t;"):
        if mark in line:
            line = line[: line.index(mark)]
    return line.strip()


def parse(text):
    """Returns (sections, layers): sections maps a section to {key: value},
    layers is a list of {key: value}, with --set overrides applied."""
    sections, layers, current = {}, [], None
    sets = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("; --set "):
            sets.append(line[len("; --set "):])
            continue
        line = _strip(line)
        if not line or line[0] in ";#":
            continue
        if line.startswith("["):
            name = line[1:line.index("]")].strip()
            if name == "layer":
                current = dict(LAYER_DEFAULTS)
                layers.append(current)
            else:
                current = sections.setdefault(name, {})
            continue
        key, _, value = line.partition("=")
        current[key.strip()] = value.strip()
    for i, layer in enumerate(layers):
        if not layer["name"]:
            layer["name"] = f"layer{i}"
    for assignment in sets:
        target, _, value = assignment.partition("=")
        section, _, key = target.partition(".")
        named = [l for l in layers if l["name"] == section]
        (named[0] if named else sections.setdefault(section, {}))[key] = value
    return sections, layers
