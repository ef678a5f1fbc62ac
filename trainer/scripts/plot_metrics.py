"""Turns one or more runs' metrics.jsonl into a PNG of their curves: the
training loss (per logged step) and the test loss and accuracy (per
evaluation), one line per run.

    python3 plot_metrics.py OUT.png RUN_DIR_OR_METRICS_JSONL...

OUT.png is written under a temporary name and renamed when whole; it may
not be one of the runs' files (a metrics.jsonl, through any spelling or
link) nor anything but a regular file: that is refused in one line (exit
1) before anything is read.
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import accel_outpath  # noqa: E402


def metrics_path(run):
    return os.path.join(run, "metrics.jsonl") if os.path.isdir(run) else run


def read(path):
    path = metrics_path(path)
    train, test = [], []
    with open(path) as f:
        for line in f:
            rec = json.loads(line)
            (test if rec.get("split") == "test" else train).append(rec)
    return train, test


def main(out, runs):
    inputs = [(p, f"an input of this plot ({p})") for r in runs for p in (r, metrics_path(r))]
    accel_outpath.check_file(out, inputs)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    for run in runs:
        train, test = read(run)
        label = os.path.basename(os.path.normpath(run.replace("metrics.jsonl", "")))
        ax_loss.plot([r["step"] for r in train], [r["loss"] for r in train], label=f"{label} train")
        if test:
            ax_loss.plot([r["step"] for r in test], [r["loss"] for r in test], "o-",
                         label=f"{label} test")
            ax_acc.plot([r["step"] for r in test], [r["accuracy"] for r in test], "o-", label=label)
    ax_loss.set(xlabel="step", ylabel="loss", title="loss")
    ax_acc.set(xlabel="step", ylabel="accuracy", title="test accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    accel_outpath.replace(out, lambda tmp: fig.savefig(tmp, dpi=100))
    print(f"plot_metrics: {out}")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    try:
        main(sys.argv[1], sys.argv[2:])
    except (accel_outpath.Refused, OSError) as e:
        sys.exit(f"plot_metrics: error: {e}")
