"""Reads an accel-train checkpoint's model, for the scripts beside this file
(h5py and numpy only): the config it was trained with (/config, with its
--set overrides) and the stored tensors (/model/<layer>/<tensor>, shaped as
PyTorch shapes them)."""
import h5py

import accel_config


def read(path):
    """Returns (sections, layers, weights): accel_config.parse's sections and
    layer dicts, and weights[layer name][tensor name] as numpy arrays (a
    layer with no tensors, or a tied output layer, has no entry)."""
    with h5py.File(path, "r") as f:
        text = f["/config"][()]
        text = text.decode() if isinstance(text, bytes) else str(text)
        weights = {name: {k: f["model"][name][k][()] for k in f["model"][name]}
                   for name in f["model"]}
    sections, layers = accel_config.parse(text)
    return sections, layers, weights


def read_tokenizer(path):
    """The bytes of the tokenizer.json the checkpoint carries (/tokenizer,
    a run with data.tokenizer), or None where it has none."""
    with h5py.File(path, "r") as f:
        if "tokenizer" not in f:
            return None
        return f["tokenizer"][()].tobytes()
