"""Loads an accel-train checkpoint into the equivalent PyTorch model.

    python3 export_torch.py CHECKPOINT.h5 [OUT.pt]

builds the model from the config stored in the checkpoint (/config, with its
--set overrides), loads every tensor (weights are stored as PyTorch stores
them: Linear (out, in), Conv2d (out, in, k, k), BatchNorm running statistics)
and, with OUT.pt, saves the model with torch.save. As a module:
load(path) -> (model, sections), the model in eval mode."""
import sys

import h5py
import torch
from torch import nn

sys.path.insert(0, __import__("os").path.dirname(__file__))
import accel_config  # noqa: E402

ACTIVATIONS = {"none": None, "relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid,
               "gelu": nn.GELU, "gelu_tanh": lambda: nn.GELU(approximate="tanh")}


class Residual(nn.Module):
    """Darknet's shortcut: adds the output of the layer `back` steps earlier."""

    def __init__(self, back, act):
        super().__init__()
        self.back, self.act = back, act

    def forward(self, x, outputs):
        y = x + outputs[len(outputs) + self.back]
        return self.act(y) if self.act else y


class Stack(nn.Module):
    """accel-train's layer stack: sequential, with residuals that reach back."""

    def __init__(self, layers):
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, x):
        outputs = []
        for layer in self.layers:
            x = layer(x, outputs) if isinstance(layer, Residual) else layer(x)
            outputs.append(x)
        return x


def _with_act(module, act):
    make = ACTIVATIONS[act]
    return nn.Sequential(module, make()) if make else module


def _ints(l, *keys):
    return [int(l.get(k, 0) or 0) for k in keys]


# One builder a layer type, as accel-train's layer_ops list them: each
# makes the nn module of a layer dict (its config keys), given its stored
# tensors w and whether the input is flat yet; returns (module, flat after).

def _dense(l, w, flat):
    out, inp = w["weight"].shape
    lin = nn.Linear(inp, out, bias="bias" in w)
    module = lin if flat else nn.Sequential(nn.Flatten(), lin)
    return _with_act(module, l.get("activation", "none")), True


def _conv2d(l, w, flat):
    out, inp, k, _ = w["weight"].shape
    stride, pad = _ints(l, "stride", "padding")
    conv = nn.Conv2d(inp, out, k, stride or 1, pad, bias="bias" in w)
    return _with_act(conv, l.get("activation", "none")), flat


def _batchnorm(l, w, flat):
    make = nn.BatchNorm1d if flat else nn.BatchNorm2d
    bn = make(w["weight"].shape[0], eps=float(l["eps"]), momentum=float(l["momentum"]))
    return _with_act(bn, l.get("activation", "none")), flat


def _pool(make, **extra):
    def build(l, w, flat):
        size, stride, pad = _ints(l, "size", "stride", "padding")
        return make(size, stride or size, pad, **extra), flat
    return build


def _residual(l, w, flat):
    make = ACTIVATIONS[l.get("activation", "none")]
    return Residual(int(l["from"]), make() if make else None), flat


BUILDERS = {
    "dense": _dense,
    "dropout": lambda l, w, flat: (nn.Dropout(float(l["rate"])), flat),
    "conv2d": _conv2d,
    "maxpool": _pool(nn.MaxPool2d),
    "avgpool": _pool(nn.AvgPool2d, count_include_pad=True),
    "global_avgpool": lambda l, w, flat: (nn.AdaptiveAvgPool2d(1), flat),
    "flatten": lambda l, w, flat: (nn.Flatten(), True),
    "batchnorm": _batchnorm,
    "residual": _residual,
}


def _build(layers, weights):
    """nn modules for the layer dicts; shapes come from the stored weights."""
    modules, flat = [], False
    for l in layers:
        build = BUILDERS.get(l["type"])
        if build is None:
            raise ValueError(f"layer type {l['type']} has no PyTorch equivalent here")
        module, flat = build(l, weights.get(l["name"], {}), flat)
        modules.append(module)
    return modules


def _core(module):
    """The module holding the parameters, inside the Sequentials that add a
    flatten or an activation around it."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.BatchNorm1d, nn.BatchNorm2d)):
            return m
    return module


def load(path):
    with h5py.File(path, "r") as f:
        text = f["/config"][()]
        text = text.decode() if isinstance(text, bytes) else str(text)
        weights = {name: {k: torch.from_numpy(f["model"][name][k][()]) for k in f["model"][name]}
                   for name in f["model"]}
    sections, layers = accel_config.parse(text)
    modules = _build(layers, weights)
    for l, m in zip(layers, modules):
        core = _core(m)
        for key, value in weights.get(l["name"], {}).items():
            getattr(core, key).data.copy_(value)
    model = Stack(modules)
    model.eval()
    return model, sections


if __name__ == "__main__":
    model, _ = load(sys.argv[1])
    print(model)
    if len(sys.argv) > 2:
        torch.save(model, sys.argv[2])
