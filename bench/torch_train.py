"""The PyTorch side of bench/run.sh: trains the model of an accel-train
config (built by trainer/scripts/export_torch.py's builder, initialized the
same way: He-uniform before relu, Glorot-uniform otherwise, zero biases)
with Adam on Fashion-MNIST at the config's batch size, and prints the
steady-state steps/s (steps after the first 50).

usage: torch_train.py CONFIG STEPS THREADS SRC_DIR"""
import gzip
import os
import sys
import time

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.join(sys.argv[4], "trainer", "scripts"))
import accel_config  # noqa: E402
import export_torch  # noqa: E402


def idx(path):
    with gzip.open(path + ".gz", "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def shapes(layers, in_shape):
    """Fake weights with the shapes export_torch's builder reads."""
    c, h, w = in_shape
    flat = None
    out = {}
    for l in layers:
        t = l["type"]
        size, stride, pad = int(l.get("size", 0) or 0), int(l.get("stride", 0) or 0), int(l.get("padding", 0) or 0)
        if t == "conv2d":
            f = int(l["filters"])
            out[l["name"]] = {"weight": torch.zeros(f, c, size, size)}
            if l.get("bias", "true") == "true":
                out[l["name"]]["bias"] = torch.zeros(f)
            s = stride or 1
            c, h, w = f, (h + 2 * pad - size) // s + 1, (w + 2 * pad - size) // s + 1
        elif t in ("maxpool", "avgpool"):
            s = stride or size
            h, w = (h + 2 * pad - size) // s + 1, (w + 2 * pad - size) // s + 1
        elif t == "batchnorm":
            out[l["name"]] = {"weight": torch.zeros(c)}
        elif t == "dense":
            inp = flat or c * h * w
            out[l["name"]] = {"weight": torch.zeros(int(l["units"]), inp)}
            flat = int(l["units"])
    return out


def main(config, steps, threads, src):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    sections, layers = accel_config.parse(open(config).read())
    model = export_torch.Stack(export_torch._build(layers, shapes(layers, (1, 28, 28))))
    # accel-train's scheme: He-uniform before relu (the hidden layers of
    # these configs), Glorot-uniform for the last, biases zero
    weighted = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    for i, m in enumerate(weighted):
        if i + 1 < len(weighted):
            nn.init.kaiming_uniform_(m.weight, nonlinearity="relu")
        else:
            nn.init.xavier_uniform_(m.weight)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    data = sections.get("data", {})
    prefix = data.get("train", "/usr/share/datasets/fashion-mnist/train")
    x = torch.from_numpy(idx(prefix + "-images-idx3-ubyte").astype(np.float32) / 255.0).unsqueeze(1)
    y = torch.from_numpy(idx(prefix + "-labels-idx1-ubyte").astype(np.int64))
    batch = int(data.get("batch_size", 64))
    opt = torch.optim.Adam(model.parameters(), lr=float(sections.get("optimizer", {}).get("lr", 1e-3)))
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    order = torch.randperm(len(x))
    t0 = None
    for step in range(steps):
        if step == 50:
            t0 = time.perf_counter()
        idx_b = order[(step * batch) % (len(x) - batch):][:batch]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x[idx_b]), y[idx_b])
        loss.backward()
        opt.step()
    print(f"{(steps - 50) / (time.perf_counter() - t0):.1f}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
