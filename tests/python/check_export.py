"""Loads a checkpoint into PyTorch with trainer/scripts/export_torch.py and
checks the PyTorch model against accel-train's own --predict output on the
same test split: logits within 1e-4 on the first batch of 500, and the same
accuracy over the whole split.

usage: check_export.py CHECKPOINT PREDICTIONS.h5 IDX_PREFIX SRC_DIR"""
import gzip
import os
import sys

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.join(sys.argv[4], "trainer", "scripts"))
import export_torch  # noqa: E402


def idx(path):
    opener = gzip.open if os.path.exists(path + ".gz") else open
    with opener(path + (".gz" if opener is gzip.open else ""), "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def main(ckpt, predictions, prefix):
    model, sections = export_torch.load(ckpt)
    images = idx(prefix + "-images-idx3-ubyte").astype(np.float32) / 255.0
    labels = idx(prefix + "-labels-idx1-ubyte").astype(np.int64)
    x = torch.from_numpy(images).unsqueeze(1)  # (N, 1, H, W)
    data = sections.get("data", {})
    if data.get("mean"):
        mean = torch.tensor([float(v) for v in data["mean"].split(",")]).view(1, -1, 1, 1)
        std = torch.tensor([float(v) for v in data["std"].split(",")]).view(1, -1, 1, 1)
        x = (x - mean) / std
    with torch.no_grad():
        logits = torch.cat([model(x[i:i + 500]) for i in range(0, len(x), 500)]).numpy()
    with h5py.File(predictions, "r") as f:
        theirs = f["/logits"][()]
        their_pred = f["/predicted"][()]
    diff = np.abs(logits[:500] - theirs[:500]).max()
    ours = (logits.argmax(1) == labels).mean()
    accel = (their_pred == labels).mean()
    print(f"export: PyTorch logits within {diff:.2e} of accel-train's on 500 samples; "
          f"accuracy {ours:.4f} (PyTorch) vs {accel:.4f} (accel-train)")
    if not diff <= 1e-4:
        sys.exit("logits differ by more than 1e-4")
    if abs(ours - accel) > 1e-4:
        sys.exit("the accuracies differ")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
