"""The PyTorch side of the GPT in bench/run.sh and bench/gpt_loss.sh: from a
checkpoint accel-train wrote before its first step (the same weights),
trainer/scripts/export_torch.py builds the GPT, and PyTorch (Debian's) trains
it on the config's text, split and batch: AdamW with decay on matrices and
embeddings only, the config's betas, clipping, dropout, and warmup then
cosine to min_lr over schedule_steps, as accel-train's schedule.c computes
it. Its training windows are drawn at random offsets of the training part
(its own order: the sampler's is accel-train's).

usage: torch_gpt.py speed CKPT0 STEPS THREADS SRC_DIR
           prints steady-state steps/s (the steps after the first 10)
       torch_gpt.py train CKPT0 THREADS SRC_DIR
           prints a JSON line per evaluation (every eval_every steps and at
           the end): the validation loss over every non-overlapping window of
           the validation part, as accel-train evaluates it, and bits per byte
"""
import json
import math
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(sys.argv[-1], "trainer", "scripts"))
import export_torch  # noqa: E402
import accel_text  # noqa: E402  (its list_files: dataset_text.c's listing)


def splits(data):
    files = accel_text.list_files(filter(None, data["train"].split(",")), data.get("exclude", ""))
    stream = b"".join(open(p, "rb").read() for p in files)
    cut = len(stream) - int(len(stream) * float(data.get("val_fraction", "0.1")))
    arr = np.frombuffer(stream, np.uint8)
    return arr[:cut], arr[cut:]


def lr_at(opt, step, total):
    lr, warm = float(opt["lr"]), int(opt.get("warmup_steps", "0"))
    if step < warm:
        return lr * (step + 1) / warm
    if opt.get("schedule", "constant") == "constant" or total <= warm:
        return lr
    p = min(1.0, (step - warm) / (total - warm))
    lo = float(opt.get("min_lr", "0"))
    return lo + (lr - lo) * 0.5 * (1.0 + math.cos(math.pi * p))


def evaluate(model, val, t, batch):
    model.eval()
    n = (len(val) - 1 - t) // t + 1
    total = 0.0
    with torch.no_grad():
        for b in range(0, n, batch):
            w = np.stack([val[i * t:i * t + t + 1] for i in range(b, min(n, b + batch))])
            w = torch.from_numpy(w.astype(np.int64))
            logits = model(w[:, :-1])
            total += torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), w[:, 1:].reshape(-1), reduction="sum").item()
    model.train()
    return total / (n * t)


def setup(ckpt):
    model, sections = export_torch.load(ckpt)
    model.train()
    opt = sections["optimizer"]
    params = [p for p in model.parameters()]
    adamw = torch.optim.AdamW(
        [{"params": [p for p in params if p.dim() >= 2], "weight_decay": float(opt["weight_decay"])},
         {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}],
        lr=float(opt["lr"]), betas=(float(opt.get("beta1", "0.9")), float(opt.get("beta2", "0.999"))),
        eps=float(opt.get("eps", "1e-8")))
    return model, sections, adamw


def step(model, adamw, opt, train, t, batch, rng, lr):
    starts = rng.integers(0, len(train) - t, batch)
    w = torch.from_numpy(np.stack([train[s:s + t + 1] for s in starts]).astype(np.int64))
    for g in adamw.param_groups:
        g["lr"] = lr
    logits = model(w[:, :-1])
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), w[:, 1:].reshape(-1))
    adamw.zero_grad(set_to_none=True)
    loss.backward()
    clip = float(opt.get("clip_norm", "0"))
    if clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    adamw.step()


def main(mode, args):
    torch.manual_seed(0)
    model, sections, adamw = setup(args[0])
    data, opt, tr = sections["data"], sections["optimizer"], sections.get("train", {})
    t = model.layers[0].wpe.shape[0]
    batch = int(data["batch_size"])
    train, val = splits(data)
    rng = np.random.default_rng(0)
    if mode == "speed":
        steps, threads = int(args[1]), int(args[2])
        torch.set_num_threads(threads)
        t0 = None
        for s in range(steps):
            if s == 10:
                t0 = time.perf_counter()
            step(model, adamw, opt, train, t, batch, rng, float(opt["lr"]))
        print(f"{(steps - 10) / (time.perf_counter() - t0):.3f}")
        return
    torch.set_num_threads(int(args[1]))
    total = int(opt["schedule_steps"])
    every = int(tr.get("eval_every", "0"))
    for s in range(total):
        step(model, adamw, opt, train, t, batch, rng, lr_at(opt, s, total))
        if (every and (s + 1) % every == 0) or s + 1 == total:
            loss = evaluate(model, val, t, int(data.get("eval_batch_size", batch)))
            print(json.dumps({"step": s + 1, "val_loss": loss, "bits_per_byte": loss / math.log(2)}),
                  flush=True)


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in ("speed", "train"):
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2:-1])
