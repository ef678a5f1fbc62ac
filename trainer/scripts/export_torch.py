"""Loads an accel-train checkpoint into the equivalent PyTorch model.

    python3 export_torch.py CHECKPOINT.h5 [OUT.pt]

builds the model from the config stored in the checkpoint (/config, with its
--set overrides), loads every tensor (weights are stored as PyTorch stores
them: Linear (out, in), Conv2d (out, in, k, k), BatchNorm running statistics;
a GPT's as nanoGPT names them) and, with OUT.pt, saves the model with
torch.save, under a temporary name renamed when whole. OUT.pt may not be the
checkpoint (through any spelling or link) nor anything but a regular file:
that is refused in one line (exit 1) before anything is read. As a module: load(path) -> (model, sections), the model in eval
mode. A language model takes (B, T) token ids and gives (B, T, vocab)."""
import math
import sys

import torch
from torch import nn

sys.path.insert(0, __import__("os").path.dirname(__file__))
import accel_ckpt  # noqa: E402
import accel_outpath  # noqa: E402

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


class Embedding(nn.Module):
    """Token and position embeddings, added (GPT-2's wte and wpe)."""

    def __init__(self, vocab, c, block):
        super().__init__()
        self.wte = nn.Parameter(torch.zeros(vocab, c))
        self.wpe = nn.Parameter(torch.zeros(block, c))

    def forward(self, tok):
        return self.wte[tok] + self.wpe[: tok.shape[1]]


class Attention(nn.Module):
    """Causal multi-head self-attention, as accel-train's layer_attention.c."""

    def __init__(self, c, heads, dropout):
        super().__init__()
        self.c_attn, self.c_proj = nn.Linear(c, 3 * c), nn.Linear(c, c)
        self.heads, self.drop = heads, nn.Dropout(dropout)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.c_attn(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(c // self.heads)
        mask = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
        att = self.drop(att.masked_fill(~mask, float("-inf")).softmax(dim=-1))
        return self.c_proj((att @ v).transpose(1, 2).reshape(b, t, c))


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
    out = int(l["units"])
    inp = w["weight"].shape[1] if "weight" in w else None  # tied: set by load()
    lin = nn.Linear(inp or 1, out, bias="bias" in w)
    module = lin if flat else nn.Sequential(nn.Flatten(), lin)
    return _with_act(module, l.get("activation", "none")), flat or True


def _embedding(l, w, flat):
    vocab, c = w["wte"].shape
    return Embedding(vocab, c, w["wpe"].shape[0]), "sequence"


def _layernorm(l, w, flat):
    return nn.LayerNorm(w["weight"].shape[0], eps=float(l.get("eps", "1e-5"))), flat


def _attention(l, w, flat):
    c = w["c_proj.weight"].shape[0]
    return Attention(c, int(l["heads"]), float(l.get("dropout", "0"))), flat


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
    "embedding": _embedding,
    "layernorm": _layernorm,
    "attention": _attention,
}


def _build(layers, weights):
    """nn modules for the layer dicts; shapes come from the stored weights.
    `flat` says what the next layer reads: False an image, True flat
    features, "sequence" (T, C) rows, which a dense layer takes as they are."""
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
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm,
                          Embedding, Attention)):
            return m
    return module


def _put(core, key, value):
    """Copies a stored tensor into the module's parameter of that name
    ("c_attn.weight" is the weight of its c_attn)."""
    *path, name = key.split(".")
    for part in path:
        core = getattr(core, part)
    getattr(core, name).data.copy_(value)


def load(path):
    sections, layers, stored = accel_ckpt.read(path)
    weights = {name: {k: torch.from_numpy(v) for k, v in w.items()} for name, w in stored.items()}
    modules = _build(layers, weights)
    for l, m in zip(layers, modules):
        core = _core(m)
        for key, value in weights.get(l["name"], {}).items():
            _put(core, key, value)
    if layers and layers[0]["type"] == "embedding" and layers[0].get("tie") == "true":
        _core(modules[-1]).weight = modules[0].wte  # one tensor, as GPT-2's
    model = Stack(modules)
    model.eval()
    return model, sections


def main(argv):
    if len(argv) not in (2, 3):
        print("usage: export_torch.py CHECKPOINT.h5 [OUT.pt]", file=sys.stderr)
        return 2
    ckpt, out = argv[1], argv[2] if len(argv) > 2 else None
    try:
        if out:
            accel_outpath.check_file(out, [(ckpt, f"the checkpoint this export reads ({ckpt})")])
        model, _ = load(ckpt)
        print(model)
        if out:
            accel_outpath.replace(out, lambda tmp: torch.save(model, tmp))
    except (accel_outpath.Refused, OSError) as e:
        print(f"export_torch: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
