"""PyTorch parity of a GPT, as llm.c's test_gpt2 checks its own: from
accel-train's initial checkpoint, trainer/scripts/export_torch.py builds the
model. First its logits: over the validation windows accel-train's --predict
wrote for that checkpoint (PREDICT0.h5), PyTorch's must agree within 1e-4
(the largest difference), on the text's own windows. Then PyTorch
(Debian's) takes the same 10 AdamW steps on the same batches (shuffle off,
dropout 0: the batches are the text's first windows, in order). Each step's
loss must agree with the one accel-train logged, and the parameters after
the 10 steps with its checkpoint: 99.9% within 1e-5.

usage: check_gpt.py CKPT0 CKPT10 METRICS.jsonl TEXT_FILE SRC_DIR PREDICT0.h5"""
import json
import os
import sys

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.join(sys.argv[5], "trainer", "scripts"))
import export_torch  # noqa: E402


def batches(path, sections, t, n):
    data = sections["data"]
    stream = np.frombuffer(open(path, "rb").read(), np.uint8)
    cut = len(stream) - int(len(stream) * float(data.get("val_fraction", "0.1")))
    b = int(data["batch_size"])
    for k in range(n):
        starts = range(k * b, (k + 1) * b)
        w = np.stack([stream[s:s + t + 1] for s in starts]).astype(np.int64)
        assert (k + 1) * b + t < cut
        yield torch.from_numpy(w[:, :-1]), torch.from_numpy(w[:, 1:])


def check_logits(ckpt0, predict, text):
    """accel-train's logits (--predict) against PyTorch's, window by window."""
    model, sections = export_torch.load(ckpt0)
    with h5py.File(predict, "r") as f:
        theirs, inputs, targets = (f[k][()] for k in ("logits", "inputs", "targets"))
    t = model.layers[0].wpe.shape[0]
    stream = np.frombuffer(open(text, "rb").read(), np.uint8)
    cut = len(stream) - int(len(stream) * float(sections["data"].get("val_fraction", "0.1")))
    n = len(inputs)
    want = stream[cut:cut + n * t + 1].astype(np.int32)
    if inputs.shape != (n, t) or not (np.array_equal(inputs.ravel(), want[:-1]) and
                                      np.array_equal(targets.ravel(), want[1:])):
        sys.exit("--predict's inputs and targets are not the validation windows")
    with torch.no_grad():
        ours = model(torch.from_numpy(inputs).long()).numpy()
    if ours.shape != theirs.shape:
        sys.exit(f"logits of shape {theirs.shape}, PyTorch's {ours.shape}")
    diff = np.abs(ours - theirs).max()
    print(f"gpt parity: logits of {n} windows of {t} tokens ({theirs.size} values, "
          f"|logit| up to {np.abs(theirs).max():.3f}) within {diff:.2e} of PyTorch's")
    if not np.abs(theirs).max() > 1e-2:
        sys.exit("the logits are all near zero: nothing compared")
    if not diff <= 1e-4:
        sys.exit("the logits differ")


def main(ckpt0, ckpt10, metrics, text, predict):
    check_logits(ckpt0, predict, text)
    model, sections = export_torch.load(ckpt0)
    model.train()
    opt = sections["optimizer"]
    params = dict(model.named_parameters())
    decay = [p for p in params.values() if p.dim() >= 2]
    plain = [p for p in params.values() if p.dim() < 2]
    adamw = torch.optim.AdamW(
        [{"params": decay, "weight_decay": float(opt["weight_decay"])},
         {"params": plain, "weight_decay": 0.0}],
        lr=float(opt["lr"]), betas=(float(opt.get("beta1", "0.9")), float(opt["beta2"])),
        eps=float(opt.get("eps", "1e-8")))
    records = [json.loads(line) for line in open(metrics)]
    theirs = [r["loss"] for r in sorted((r for r in records if "split" not in r),
                                        key=lambda r: r["step"])]
    t = model.layers[0].wpe.shape[0]
    worst = 0.0
    for step, (x, y) in enumerate(batches(text, sections, t, 10)):
        logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                 y.reshape(-1))
        worst = max(worst, abs(loss.item() - theirs[step]) / theirs[step])
        adamw.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), float(opt["clip_norm"]))
        adamw.step()
    print(f"gpt parity: losses of 10 steps within {worst:.2e} (relative) of accel-train's")
    if not worst <= 1e-5:
        sys.exit("the losses differ")
    after, _ = export_torch.load(ckpt10)
    ours = torch.cat([p.detach().flatten() for p in model.parameters()]).numpy()
    ref = torch.cat([p.detach().flatten() for p in after.parameters()]).numpy()
    diff = np.abs(ours - ref)
    q = np.quantile(diff, 0.999)
    print(f"gpt parity: after 10 AdamW steps, {ours.size} parameters: 99.9% within {q:.2e}, "
          f"the largest difference {diff.max():.2e}")
    if not q <= 1e-5:
        sys.exit("the parameters differ")


if __name__ == "__main__":
    if len(sys.argv) != 7:
        sys.exit(__doc__.split("usage: ")[1])
    main(*sys.argv[1:5], sys.argv[6])
