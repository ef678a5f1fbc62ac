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


def _close_group(layers, group):
    """Takes the layers of a [repeat] group `count` times, named as
    accel-train names them: <name>.<i>.<layer's name, or layer<j>>."""
    first, count, name = group["first"], int(group.get("count", 1)), group.get("name", "block")
    body = layers[first:]
    del layers[first:]
    for i in range(count):
        for j, layer in enumerate(body):
            copy = dict(layer)
            copy["name"] = f"{name}.{i}.{layer['name'] or f'layer{j}'}"
            layers.append(copy)


def parse(text):
    """Returns (sections, layers): sections maps a section to {key: value},
    layers is a list of {key: value}, with [repeat] groups taken as many
    times as they say and --set overrides applied."""
    sections, layers, current, group = {}, [], None, None
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
            elif name == "repeat":
                current = group = {"first": len(layers)}
            elif name == "end":
                _close_group(layers, group)
                current = group = None
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
        section, _, key = target.rpartition(".")
        named = [l for l in layers if l["name"] == section]
        (named[0] if named else sections.setdefault(section, {}))[key] = value
    return sections, layers
