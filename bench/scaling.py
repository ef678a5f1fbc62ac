#!/usr/bin/env python3
"""scaling.py: a latency-bandwidth model of data-parallel training's
collectives, fitted to what bench/scaling.sh measured on this machine, and
what it predicts for clusters of 8 to 1024 GPUs. A model, not a measurement:
the printed Markdown says which inputs were measured here, which are
published figures, and which are assumptions.

    python3 bench/scaling.py RESULTS_DIR > bench/scaling.md

RESULTS_DIR (bench/scaling.sh writes it) holds:
  collectives-<transport>-<ranks>.csv  bench_collectives: op,ranks,bytes,median_ms,min_ms
  steps.csv   training steps here: config,transport,ranks,bucket_mb,step_ms,
              compute_ms,backward_ms,allreduce_ms,grad_bytes
  machine.txt a line about where it ran

The model (ring algorithms, p ranks, S bytes in all):
  all-reduce       2 (p - 1) alpha + 2 (p - 1) / p * S * beta
  reduce-scatter   (p - 1) alpha + (p - 1) / p * S * beta, all-gather alike
alpha and beta are fitted per transport and collective by least squares on
relative errors, over every size and rank count measured.
"""
import csv
import glob
import math
import os
import sys

import numpy as np

OPS = ("allreduce", "reduce_scatter", "allgather")


def ring_coeffs(op, p):
    """(latency steps, share of S on the busiest link) of a ring collective."""
    if op == "allreduce":
        return 2 * (p - 1), 2 * (p - 1) / p
    return p - 1, (p - 1) / p


def ring_time(op, p, nbytes, alpha, beta):
    a, b = ring_coeffs(op, p)
    return a * alpha + b * nbytes * beta


# ---- fitting what was measured here -------------------------------------------------


def read_collectives(results):
    """{(transport, op): [(ranks, bytes, seconds), ...]} from the CSVs,
    each point the least time seen (the one least disturbed by the rest of
    the machine)."""
    points = {}
    for path in sorted(glob.glob(os.path.join(results, "collectives-*-*.csv"))):
        transport = os.path.basename(path).split("-")[1]
        with open(path) as f:
            for row in csv.DictReader(f):
                key = (transport, row["op"])
                points.setdefault(key, []).append(
                    (int(row["ranks"]), int(row["bytes"]), float(row["min_ms"]) / 1e3))
    return points


def fit(points, op):
    """alpha, beta (seconds, seconds a byte) and the relative errors of the
    fit at each point."""
    rows, rhs = [], []
    for p, nbytes, t in points:
        a, b = ring_coeffs(op, p)
        rows.append([a / t, b * nbytes / t])
        rhs.append(1.0)
    (alpha, beta), *_ = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)
    alpha, beta = max(alpha, 0.0), max(beta, 1e-15)
    errs = [ring_time(op, p, n, alpha, beta) / t - 1 for p, n, t in points]
    return alpha, beta, errs


def median_abs(errs):
    e = sorted(abs(x) for x in errs)
    return e[len(e) // 2] if e else float("nan")


def fits_table(points, cores):
    """Fitted on the rank counts the machine has cores for; the larger ones
    (ranks sharing cores) are the check of how the model carries over to
    more ranks."""
    out = ["| transport | collective | alpha (us) | bandwidth (GB/s) | fit: points, median error "
           "| more ranks than cores: points, median error |", "|---|---|---|---|---|---|"]
    fitted = {}
    for (transport, op), pts in sorted(points.items()):
        own = [x for x in pts if x[0] <= cores] or pts
        more = [x for x in pts if x[0] > cores]
        alpha, beta, errs = fit(own, op)
        fitted[(transport, op)] = (alpha, beta)
        check = [ring_time(op, p, n, alpha, beta) / t - 1 for p, n, t in more]
        out.append(f"| {transport} | {op} | {alpha * 1e6:.1f} | {1 / beta / 1e9:.2f} "
                   f"| {len(own)}, {100 * median_abs(errs):.0f}% "
                   f"| {len(more)}, {100 * median_abs(check):.0f}% |")
    return out, fitted


def read_steps(results):
    path = os.path.join(results, "steps.csv")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return list(csv.DictReader(f))


def exposed_comm(total, last_bucket, backward, overlap):
    """The communication a step waits for: all of it without overlap; with
    overlap, what outlasts backward, and at least the last bucket, which
    starts only when backward ends."""
    if not overlap:
        return total
    return max(last_bucket, total - backward)


def check_table(steps, fitted):
    """The model's all-reduce time a step against the trainer's own
    measurement (allreduce_ms: the time a step waited for it)."""
    out = ["| config | transport | ranks | bucket (MiB) | measured wait (ms) | model (ms) "
           "| the rest, of compute | measured step (ms) | model step (ms) |",
           "|---|---|---|---|---|---|---|---|---|"]
    for s in steps:
        key = (s["transport"], "allreduce")
        if key not in fitted:
            continue
        alpha, beta = fitted[key]
        p, grad = int(s["ranks"]), int(s["grad_bytes"])
        bucket = min(grad, float(s["bucket_mb"]) * (1 << 20))
        n_buckets = math.ceil(grad / bucket)
        total = n_buckets * ring_time("allreduce", p, grad / n_buckets, alpha, beta)
        last = ring_time("allreduce", p, grad / n_buckets, alpha, beta)
        wait = exposed_comm(total, last, float(s["backward_ms"]) / 1e3, n_buckets > 1)
        step = float(s["compute_ms"]) / 1e3 + wait
        rest = (float(s["allreduce_ms"]) / 1e3 - wait) / (float(s["compute_ms"]) / 1e3)
        out.append(f"| {s['config']} | {s['transport']} | {p} | {s['bucket_mb']} "
                   f"| {float(s['allreduce_ms']):.2f} | {wait * 1e3:.2f} | {100 * rest:.1f}% "
                   f"| {float(s['step_ms']):.1f} | {step * 1e3:.1f} |")
    return out


# ---- predictions for GPU clusters ----------------------------------------------------

# Published figures: per-GPU NVLink bandwidth each way (NVIDIA's A100 and
# H100 datasheets: 600 and 900 GB/s in both directions together) and one
# InfiniBand NIC a GPU (DGX A100: HDR, 200 Gb/s; DGX H100: NDR, 400 Gb/s);
# the GPUs' dense bf16 peaks (312 and 989 TFLOP/s). The latencies are
# assumptions (a few microseconds a hop: the order NCCL's own tuning model
# uses), not measurements.
CLUSTERS = {
    "A100 (DGX A100: NVLink 3, HDR IB)": dict(gpus_per_node=8, nvlink=300e9, nic=25e9,
                                              alpha_nvlink=2e-6, alpha_nic=5e-6, peak=312e12),
    "H100 (DGX H100: NVLink 4, NDR IB)": dict(gpus_per_node=8, nvlink=450e9, nic=50e9,
                                              alpha_nvlink=2e-6, alpha_nic=5e-6, peak=989e12),
}


def hierarchical(op, n, nbytes, c):
    """A collective over n GPUs as NCCL runs one across nodes: rings inside
    each node over NVLink, and between the nodes over each GPU's own NIC on
    its 1/g share (rails), the faster of a ring or a tree there."""
    g = min(n, c["gpus_per_node"])
    m = n // g
    intra_a, intra_b = ring_coeffs(op, g)
    t = intra_a * c["alpha_nvlink"] + intra_b * nbytes / c["nvlink"]
    if m > 1:
        share = nbytes / g
        ring = ring_time(op, m, share, c["alpha_nic"], 1 / c["nic"])
        steps = 2 if op == "allreduce" else 1
        tree = steps * (math.log2(m) * c["alpha_nic"] + share / c["nic"])
        t += min(ring, tree)
    return t


def step_comm(n, grad_bytes, bucket_bytes, backward, c, overlap, shard):
    """The communication a step waits for on n GPUs: the gradient in
    buckets (all-reduced, or reduce-scattered when sharded), overlapped with
    backward or not; a sharded step then all-gathers the parameters after
    the update, which nothing hides."""
    if n == 1:
        return 0.0
    op = "reduce_scatter" if shard else "allreduce"
    if not overlap:
        bucket_bytes = grad_bytes
    n_buckets = max(1, math.ceil(grad_bytes / bucket_bytes))
    one = hierarchical(op, n, grad_bytes / n_buckets, c)
    wait = exposed_comm(n_buckets * one, one, backward, overlap)
    if shard:
        wait += hierarchical("allgather", n, grad_bytes, c)
    return wait


def efficiency_table(name, grad_bytes, compute, backward_share, c, bucket_bytes):
    ns = [8, 16, 32, 64, 128, 256, 512, 1024]
    out = [f"| {name} | " + " | ".join(str(n) for n in ns) + " |",
           "|---|" + "---|" * len(ns)]
    for overlap in (True, False):
        for shard in (False, True):
            cells = []
            for n in ns:
                wait = step_comm(n, grad_bytes, bucket_bytes, backward_share * compute, c,
                                 overlap, shard)
                cells.append(f"{100 * compute / (compute + wait):.0f}%")
            label = ("overlap" if overlap else "no overlap") + (", sharded" if shard else "")
            out.append(f"| {label} | " + " | ".join(cells) + " |")
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: scaling.py RESULTS_DIR")
    results = sys.argv[1]
    points = read_collectives(results)
    if not points:
        sys.exit(f"scaling.py: no collectives-*.csv in {results} (run bench/scaling.sh)")
    machine = open(os.path.join(results, "machine.txt")).read().strip() \
        if os.path.exists(os.path.join(results, "machine.txt")) else "unknown"
    lines = ["# Scaling model", "", "Made by `bench/scaling.sh` (measurements) and "
             "`bench/scaling.py` (fit and predictions). **A model, not a measurement of "
             "GPU clusters**: no GPU or cluster has run accel-train yet.", "",
             f"Measured on: {machine}.", "", "## The collectives measured here, and the fit", "",
             "Each point is the least of its repetitions (bench_collectives: the slowest "
             "rank's time of each); shm is Open MPI's shared-memory transport (vader), tcp its "
             "TCP transport over the loopback interface on one node; cluster is TCP between "
             "the two namespace nodes of the test cluster, where it was measured.", ""]
    cores_path = os.path.join(results, "cores.txt")
    cores = int(open(cores_path).read()) if os.path.exists(cores_path) else 1 << 30
    table, fitted = fits_table(points, cores)
    lines += table
    lines += ["", "alpha and bandwidth are fitted on the runs with a core a rank (2 ranks "
              "here); runs with more ranks than cores are the check of the rank-count terms, "
              "and fail it: ranks that share a core wait for the scheduler, which no "
              "latency-bandwidth model holds. Open MPI's reduce-scatter (bench_collectives times "
              "MPI_Reduce_scatter_block: equal parts, not in place) follows the ring model "
              "worst: at 2 ranks it takes four to six times as long as the all-reduce of the "
              "same bytes (1 to 16 MB), where a ring would take half (its algorithm is not a "
              "ring). The trainer's sharded optimizer calls MPI_Ireduce_scatter in place "
              "instead, which measured faster than MPI_Iallreduce at 2 ranks "
              "(`bench_collectives --shard`, bench/NOTES.md). The cluster rows "
              "(ranks on two namespace nodes) match tcp: the same TCP path through the kernel, "
              "only named as two hosts."]
    steps = read_steps(results)
    if steps:
        lines += ["", "## Checked against training here", "",
                  "The trainer's own wait for the gradient all-reduce (`allreduce_ms`, rank "
                  "0's mean over the run's last logged window) against the fitted model's "
                  "transfer time, and the step (compute from the same run plus the model's "
                  "wait). 2 ranks, one thread each, on the 2 cores.", ""]
        lines += check_table(steps, fitted)
        lines += ["", "Where the gradient is small (fashion_mlp, 0.9 MB) the model's wait "
                  "is the measured one within a tenth of a millisecond. Where a step is long "
                  "(fashion_cnn, fortunes_gpt: 70-300 ms) the ranks wait ten to fifty times "
                  "longer than the transfer takes, with one bucket as with many: what they wait "
                  "for is the other rank's compute, which varies by a few percent of a step on "
                  "this shared VM (the column \"the rest\"). So here stragglers, not bandwidth, "
                  "decide the cost of data parallelism; the predictions below leave them out "
                  "(how much a GPU's step varies was not measured), which is one more reason "
                  "they are upper bounds."]

    lines += ["", "## Predictions: scaling efficiency on GPU clusters", "",
              "Weak scaling (the per-GPU batch fixed): throughput per GPU at N GPUs over one "
              "GPU's, = compute / (compute + the communication a step waits for). Inputs and "
              "their sources are below each table. Bandwidths are the links' published "
              "rates, which real collectives do not fully reach, so these are upper bounds "
              "on efficiency; latencies are assumed.", ""]
    # GPT-2 124M: llm.c's step (8 A100s, 524,288 tokens in 300 ms) gives the
    # compute a GPU needs for its 65,536 tokens; the FLOPs a token are
    # accel-train's --dry-run figure (8.75e11 a 1024-token window, forward
    # and backward; backward is 2/3 of it).
    flops_window, params = 8.75e11, 124_439_808
    a100 = CLUSTERS["A100 (DGX A100: NVLink 3, HDR IB)"]
    util = 64 * flops_window / (0.300 * a100["peak"])
    for cname, c in CLUSTERS.items():
        compute = 64 * flops_window / (util * c["peak"])
        lines += ["", f"### gpt2_124m on {cname}, 64 x 1024 tokens a GPU", ""]
        lines += efficiency_table("buckets of 25 MiB", 4 * params, compute, 2 / 3, c, 25 << 20)
        lines += ["", f"Compute {compute * 1e3:.0f} ms a step: llm.c's 300 ms step on 8 A100s "
                  f"read as compute at {100 * util:.0f}% of the bf16 peak (its communication "
                  "being small on one node, as the 8-GPU column shows), at the same "
                  "utilization on this GPU. Gradients float32 (accel-train reduces float32), "
                  f"{4 * params / 1e6:.0f} MB."]
    # fashion_cnn: no GPU has timed it; its step on a GPU is a few kernel
    # launches a layer, so the prediction is given for three step times.
    c = CLUSTERS["H100 (DGX H100: NVLink 4, NDR IB)"]
    cnn_params = 421_738
    for compute in (0.002, 0.005, 0.020):
        lines += ["", f"### fashion_cnn on H100 nodes, batch 128 a GPU, if a step's compute "
                  f"takes {compute * 1e3:.0f} ms", ""]
        lines += efficiency_table("buckets of 1 MiB", 4 * cnn_params, compute, 2 / 3, c, 1 << 20)
    lines += ["", f"fashion_cnn's gradient is {4 * cnn_params / 1e6:.2f} MB: latency, not "
              "bandwidth, decides its scaling; no GPU has timed its step, so the three tables "
              "bracket it."]

    # Horovod's published anchor: 128 servers of 4 P100s, 25 Gbit/s RoCE a
    # server; ResNet-101 at batch 64 a GPU at about 103.5 images/s a GPU (its
    # docs' 16-GPU example: 1656.82 images/s), 44.5 M parameters (float32).
    horovod = dict(gpus_per_node=4, nvlink=10e9, nic=25e9 / 8 / 4, alpha_nvlink=5e-6,
                   alpha_nic=10e-6, peak=0)
    compute = 64 / 103.5
    lines += ["", "### Checked against published anchors", ""]
    eff = []
    for overlap in (False, True):
        wait = step_comm(512, 4 * 44.5e6, 64 << 20, 2 / 3 * compute, horovod, overlap, False)
        eff.append(100 * compute / (compute + wait))
    lines.append(f"- Horovod, ResNet-101 on 512 P100s, published 90%: the model gives "
                 f"{eff[0]:.0f}% without overlap and {eff[1]:.0f}% with it, either side of the "
                 "published figure (inputs: 618 ms a step from Horovod's own 16-GPU figure, "
                 "178 MB of float32 gradients in 64 MiB buckets, each server's 25 Gbit/s "
                 "shared by its 4 GPUs, PCIe inside taken as 10 GB/s, an assumed 10 us a hop).")
    waits = [step_comm(8, 4 * params, 25 << 20, 0.2, a100, overlap, False)
             for overlap in (False, True)]
    lines.append(f"- llm.c, GPT-2 124M on 8 A100s, about 300 ms a 524,288-token step: the model "
                 f"puts the gradient's all-reduce at {waits[0] * 1e3:.1f} ms a step without "
                 f"overlap and {waits[1] * 1e3:.1f} ms with it, consistent with reading that "
                 "step as compute.")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
