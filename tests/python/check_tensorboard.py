"""Reads a run's TensorBoard event files with the tensorboard package and
checks every scalar against metrics.jsonl: the same steps, the same values
(to float32 precision), nothing missing and nothing extra.

usage: check_tensorboard.py RUN_DIR"""
import json
import math
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

TRAIN = ["loss", "lr", "samples_per_s", "grad_norm"]


def expected(run_dir):
    """{tag: {step: value}} from metrics.jsonl."""
    want = {}
    with open(f"{run_dir}/metrics.jsonl") as f:
        for line in f:
            rec = json.loads(line)
            if "split" in rec:
                for key in ("loss", "accuracy"):
                    want.setdefault(f"{rec['split']}/{key}", {})[rec["step"]] = rec[key]
            else:
                for key in TRAIN:
                    want.setdefault(f"train/{key}", {})[rec["step"]] = rec[key]
    return want


def main(run_dir):
    acc = EventAccumulator(run_dir, size_guidance={"scalars": 0})
    acc.Reload()
    want = expected(run_dir)
    got_tags = set(acc.Tags()["scalars"])
    if got_tags != set(want):
        sys.exit(f"tags differ: events have {sorted(got_tags)}, metrics.jsonl {sorted(want)}")
    n = 0
    for tag, steps in want.items():
        got = {e.step: e.value for e in acc.Scalars(tag)}
        if set(got) != set(steps):
            sys.exit(f"{tag}: steps {sorted(got)} in the events, {sorted(steps)} in metrics.jsonl")
        for step, value in steps.items():
            if value is None:
                ok = math.isnan(got[step]) or math.isinf(got[step])
            else:
                ok = math.isclose(got[step], value, rel_tol=1e-6, abs_tol=1e-30)
            if not ok:
                sys.exit(f"{tag} at step {step}: {got[step]} in the events, {value} in metrics.jsonl")
            n += 1
    print(f"tensorboard: {n} scalars in {len(want)} tags match metrics.jsonl")


if __name__ == "__main__":
    main(sys.argv[1])
