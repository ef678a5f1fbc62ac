#!/usr/bin/env python3
"""gpu_model.py: a cost model, on paper, of configs/gpt2_124m.ini's training
step on the CUDA backend, call by call as the code issues them, before and
after item 2 of issue 25 (the kernels of 4f491c1 and those of item 2), and
after issue 26 (`fused`: attention as kernels/cuda/flash_attention.cu's
fused kernels instead of the T x T products and softmax), on an H100 SXM
and an A100 SXM 80GB. The unfused attention of `before` and `after` left
the code with issue 26 (its softmax kernels: `git show
b858d2a:kernels/cuda/attention.cu`); gpu_calls times the fused one. No GPU has run this project's CUDA code: every
number here is derived from the figures in HW and MODEL below, each with its
source, and tests/gpu/check.sh times the same calls where a GPU is lent.

    python3 bench/gpu_model.py                 the tables, as text
    python3 bench/gpu_model.py --markdown      the tables of bench/gpu_model.md
    python3 bench/gpu_model.py --totals        one line a (version, GPU, precision)
    python3 bench/gpu_model.py --check CSV --precision P [--gpu NAME]
                                               measured (gpu_calls' CSV) against the model

A call's time is a roofline with a latency and a launch term:

    t = max(bytes / (HBM bandwidth * BW_EFF),          bandwidth
            FLOPs / (peak * GEMM_EFF),                 matrix products
            warp instructions / (SMs * 4 * clock),     issue (4 schedulers an SM)
            rounds * round trips * latency,            latency: Little's law
            float32 FLOPs / fp32 peak,                 the CUDA cores' lanes
            shared wavefronts / (SMs * clock))         shared memory, 128 B a clock
        + LAUNCH

where `rounds` is how many times the resident threads must each wait: a
thread's loop iterations times the threads, over the threads the GPU holds
at once (min(threads launched, SMs * resident blocks an SM * block size),
the blocks an SM holds limited by its threads, registers and shared
memory),
and `round trips` a loop iteration's dependent waits for memory (1 over the
loads nvcc's SASS issues before the first is used: 16 when a loop is
unrolled 16 times). So a thread that walks 8,192 rows, 16 loads in flight,
waits 512 DRAM latencies whatever the bandwidth. The step adds the calls,
a micro-batch's host wait for its loss (model_loss's download) and the
gradient norm's, and takes the host's launch rate where it is slower than
the GPU.
"""
import argparse
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# ---- hardware: published figures -------------------------------------------------------

# NVIDIA's datasheets (H100 SXM5 80GB; A100 SXM4 80GB), dense rates (no
# sparsity); fp32 without tensor cores. The clock is the one the fp32 peak
# implies (SMs x fp32 lanes x 2 x clock), used to turn latencies in cycles
# into seconds; 4 warp schedulers an SM, each issuing one warp instruction a
# clock, and at most 64 warps, 2,048 threads and 32 blocks an SM resident
# (the A100 and H100 whitepapers, CUDA programming guide's compute
# capability 8.0 / 9.0 table); 65,536 registers an SM, and up to 228 KB
# (H100) and 164 KB (A100) of shared memory, 1 KB of it reserved a block
# (the same table); shared memory delivers 32 banks of 4 bytes a clock, a
# wavefront (the guide's "Shared Memory" section). NVLink: 900 GB/s (H100, NVLink 4) and
# 600 GB/s (A100, NVLink 3) both directions together, so half each way.
HW = {
    "H100": dict(name="H100 SXM", sms=132, fp32_lanes=128, hbm=3.35e12, l2_mb=50,
                 bf16=989e12, tf32=494.5e12, fp32=67e12, fp64=34e12, nvlink=450e9,
                 smem_kb=228),
    "A100": dict(name="A100 SXM 80GB", sms=108, fp32_lanes=64, hbm=2.039e12, l2_mb=40,
                 bf16=312e12, tf32=156e12, fp32=19.5e12, fp64=9.7e12, nvlink=300e9,
                 smem_kb=164),
}
for _k, _g in HW.items():
    _g["clock"] = _g["fp32"] / (_g["sms"] * _g["fp32_lanes"] * 2)
    _g["key"] = _k

# The versions of the code modelled, and how the tables name them.
VERSIONS = ("before", "after", "fused")
LABEL = {"before": "before", "after": "after item 2", "fused": "after issue 26"}

# ---- the model's own figures: measured by others, or assumed ------------------------------

MODEL = dict(
    # Latency of a load that misses to DRAM (HBM), and of an L2 hit, in SM
    # clocks, unloaded. No primary measurement could be read here; summaries
    # of the Hopper microbenchmark papers put HBM at 400-800 cycles and L2
    # at ~200, or 200-400 (gpu_model.md, Sources). 600 and 250 are taken for both
    # GPUs; gpu_model.md shows the step at half and twice these.
    lat_dram_cycles=600,
    lat_l2_cycles=250,
    # A block-wide double sum (reduce.cuh's block_sum: two rounds of five
    # dependent shuffles and adds, a barrier between) in clocks: assumed,
    # ~30 clocks a dependent step. It matters only to the block-a-row kernels.
    block_sum_cycles=400,
    # GPU time between two kernels of a stream, no CUDA graph, and the host's
    # cost to enqueue one (cudaLaunchKernel, a cuBLAS call): "on the order of
    # microseconds" (NVIDIA's CUDA Graphs guide); the figures are assumed.
    launch_us=2.0,
    host_us=4.0,
    # A host wait for the device (cudaMemcpyAsync to the host, then
    # cudaStreamSynchronize): the GPU idles while the host wakes and queues
    # again. Assumed.
    sync_us=15.0,
    # Share of the HBM peak a streaming kernel reaches, and of the matrix
    # peak cuBLAS reaches at these shapes: assumed (the best published H100
    # bf16 matmul seen, 780 TFLOP/s = 0.79 of 989, is the upper end).
    bw_eff=0.90,
    gemm_eff=0.75,
    # Share of the issue rate, the fp32 lanes' peak and shared memory's
    # wavefronts a clock that this project's kernels reach where those
    # bound them: 1, the bound itself (the sensitivity table shows 0.7).
    # Only the fused attention's kernels are bound there for long.
    simt_eff=1.0,
    # Distinct tokens in a micro-batch of 8,192 GPT-2 tokens of English text,
    # for the embedding's backward (a block a position; the first position of
    # each token gathers its rows): assumed; and the chunks of 256 ids a
    # later position scans, on average, before it meets its token's first.
    distinct_tokens=2500,
    repeat_scan_chunks=8,
    # An MPI all-reduce of one double between 8 ranks on a node (the
    # step's loss sum): assumed.
    mpi_small_us=10.0,
)

# llm.c's GPT-2 (124M) on 8 H100s: 524,288 tokens a step in about 140 ms,
# 65,536 tokens a GPU; its MFU formula (train_gpt2.cu gpt2_estimate_mfu):
# 6 N + 6 L C T FLOPs a token, against the bf16 dense peak.
LLMC_STEP_MS = 140.0
LLMC_TOKENS_PER_GPU = 65536

MB = 1e6
F = 4  # bytes of a float32: every buffer is float32 at every precision

# ---- the config ---------------------------------------------------------------------------


def read_ini(path):
    """[(section, {key: value})] in order: the repeated [layer] sections
    configparser cannot hold."""
    out = []
    with open(path) as f:
        for line in f:
            line = line.split(";")[0].strip()
            if not line:
                continue
            if line.startswith("["):
                out.append((line.strip("[]").strip(), {}))
            elif "=" in line and out:
                k, v = line.split("=", 1)
                out[-1][1][k.strip()] = v.strip()
    return out


def gpt_config(path):
    """The shapes and settings of a GPT config written as gpt2_124m.ini is:
    an embedding, [repeat] blocks (layernorm, attention, residual,
    layernorm, dense, dense, residual), layernorm, the output dense."""
    secs = read_ini(path)
    get = lambda name, key, d=None: next((s[key] for n, s in secs if n == name and key in s), d)
    layers = [s for n, s in secs if n == "layer"]
    emb = next(s for s in layers if s.get("type") == "embedding")
    attn = next(s for s in layers if s.get("type") == "attention")
    mlp = next(s for s in layers if s.get("type") == "dense" and s.get("activation"))
    blocks = int(get("repeat", "count", "1"))
    batch, accum = int(get("data", "batch_size")), int(get("train", "grad_accum", "1"))
    dropouts = [s for s in layers if s.get("type") == "dropout"]
    return dict(
        B=batch // accum, accum=accum, batch=batch, T=int(emb["block_size"]),
        C=int(emb["units"]), V=int(emb["vocab"]), L=blocks, H=int(attn["heads"]),
        Fh=int(mlp["units"]), act=mlp["activation"], tie=emb.get("tie", "false") == "true",
        # trainer/config.c's defaults where the config is silent
        precision=get("train", "precision", "fp32"),
        attn_dropout=float(attn.get("dropout", "0")), dropout_layers=len(dropouts),
        decay=get("optimizer", "decay", "all"), shard=get("optimizer", "shard", "false"))


def tensors(cfg):
    """Every layer's trained tensors in model order: (layer, tensor, count,
    rank), as the layer files declare them (layer_add_tensor)."""
    C, V, T, Fh = cfg["C"], cfg["V"], cfg["T"], cfg["Fh"]
    out = [("wte", [("wte", V * C, 2), ("wpe", T * C, 2)])]
    for b in range(cfg["L"]):
        out += [(f"h.{b}.ln_1", [("weight", C, 1), ("bias", C, 1)]),
                (f"h.{b}.attn", [("c_attn.weight", 3 * C * C, 2), ("c_attn.bias", 3 * C, 1),
                                 ("c_proj.weight", C * C, 2), ("c_proj.bias", C, 1)]),
                (f"h.{b}.attn_res", []),
                (f"h.{b}.ln_2", [("weight", C, 1), ("bias", C, 1)]),
                (f"h.{b}.mlp.c_fc", [("weight", Fh * C, 2), ("bias", Fh, 1)]),
                (f"h.{b}.mlp.c_proj", [("weight", C * Fh, 2), ("bias", C, 1)]),
                (f"h.{b}.mlp_res", [])]
    out += [("ln_f", [("weight", C, 1), ("bias", C, 1)]), ("lm_head", [])]  # tied, no bias
    return out


def layout(cfg, align=64):
    """model.c place_tensors: each layer's run and each tensor start on a
    multiple of MODEL_ALIGN floats. Returns (n_params with padding, the
    trained values, [(offset, count, rank)])."""
    up = lambda n: (n + align - 1) // align * align
    at, trained, placed = 0, 0, []
    for _, ts in tensors(cfg):
        at = up(at)
        for _, count, rank in ts:
            at = up(at)
            placed.append((at, count, rank))
            at += count
            trained += count
    return at, trained, placed


def adam_runs(cfg):
    """optim.c apply_by_rank (decay = matrices): one adam launch a run of
    neighbouring tensors alike in decay, padding included; [lengths]."""
    n, _, placed = layout(cfg)
    if cfg["decay"] != "matrices":
        return [n]
    runs, start, decayed = [], 0, None
    for off, _, rank in placed:
        d = rank >= 2
        if d == decayed:
            continue
        if decayed is not None:
            runs.append(off - start)
            start = off
        decayed = d
    runs.append(n - start)
    return [r for r in runs if r > 0]


# ---- calls --------------------------------------------------------------------------------


class Call:
    """One call as the code issues it. kind: gemm (cuBLAS), kernel (ours),
    copy (cudaMemcpyAsync device to device), sync (a host wait), nccl,
    host. `per` is how many a step issues."""

    def __init__(self, key, phase, site, what, per, kind, group, **kw):
        self.key, self.phase, self.site, self.what = key, phase, site, what
        self.per, self.kind, self.group = per, kind, group
        self.m = self.n = self.k = 0
        self.batch = 1
        self.blocks = self.threads = 0
        self.iters = 0.0        # loop iterations a thread
        self.trips = 0.0        # dependent DRAM round trips an iteration
        self.trips_l2 = 0.0     # dependent L2 round trips an iteration
        self.fixed_trips = 0.0  # DRAM round trips a thread outside the loop
        self.instr = 0.0        # instructions a thread (all iterations)
        self.extra_cycles = 0.0  # serial clocks a block (block sums, barriers)
        self.bytes = 0.0
        self.flops = 0.0
        self.dflops = 0.0
        self.fflops = 0.0       # float32 FLOPs on the CUDA cores (a kernel's own products)
        self.wavefronts = 0.0   # shared memory wavefronts a warp (all iterations)
        self.regs = 0           # registers a thread (ptxas -v): an int, or {GPU: int}
        self.smem = 0           # static shared memory a block, bytes
        self.attn = False       # attention's calls: what issue 26 changed
        self.lat_override = None  # seconds: a latency term computed by the call itself
        self.launches = 1
        self.geom = ""
        self.changed = False    # differs before/after item 2
        self.op = key           # the backend call it belongs to (gpu_calls' key)
        self.in_op = 1          # how many of it one backend call issues
        for k, v in kw.items():
            setattr(self, k, v)
        if kind == "gemm":
            self.flops = 2.0 * self.m * self.n * self.k * self.batch
            self.bytes = F * (self.m * self.k + self.k * self.n + self.m * self.n) * self.batch
            self.geom = (f"{self.m}x{self.n}x{self.k}" +
                         (f", batch {self.batch}" if self.batch > 1 else ""))


def cuk_blocks(n, threads=256):
    """launch.cuh cuk_blocks: enough blocks for n, at most 65,535."""
    return max(1, min(65535, -(-n // threads)))


def grid_stride(n, threads=256):
    """A grid-stride kernel over n elements at cuk_blocks: (blocks, loop
    iterations a thread, on average)."""
    b = cuk_blocks(n, threads)
    return b, n / (b * threads)


def elementwise(key, phase, site, what, per, group, n, bytes_, loads, instr, **kw):
    """A kernel of launch.cuh's shape: a thread an element, grid-stride."""
    b, it = grid_stride(n)
    return Call(key, phase, site, what, per, "kernel", group, blocks=b, threads=256, iters=it,
                trips=1.0, instr=instr * it, bytes=bytes_, geom=f"{b} x 256, {loads} loads",
                **kw)


def colsum_calls(version, key, phase, site, per, group, rows, cols, read_bytes, loads_per_row,
                 what, finish_outputs=1, old_threads=256, new_threads=256, per_row_instr=5,
                 op=None):
    """A column sum over rows (bias_grad's rows, layer norm's dg and db):
    before item 2 a thread a column over every row (16 loads in flight: the
    SASS of 4f491c1's bias_grad_rows_kernel unrolls its loop 16 times,
    layernorm_dgdb_kernel 4 rows of 4 loads); after, colsum.cuh's two
    passes: colsum_ranges() ranges of rows (4 rows in flight: the SASS of
    today's first passes), then colsum_finish_kernel over the ranges."""
    rows_in_flight = 16 / loads_per_row if loads_per_row > 1 else 16
    if version == "before":
        blocks = -(-cols // old_threads)
        return [Call(key, phase, site, what + ": a thread a column over all rows", per, "kernel",
                     group, blocks=blocks, threads=old_threads, iters=rows,
                     trips=1.0 / rows_in_flight, instr=rows * per_row_instr, bytes=read_bytes,
                     geom=f"{blocks} x {old_threads}, {rows} rows a thread", changed=True,
                     op=op or key)]
    ranges = max(1, min(rows // 64, (1 << 20) // (cols * finish_outputs), 64))
    blocks = -(-cols // new_threads) * ranges
    per_range = rows / ranges
    part_bytes = F * ranges * cols * finish_outputs
    out = [Call(key, phase, site, what + f": {ranges} ranges of {per_range:.0f} rows", per,
                "kernel", group, blocks=blocks, threads=new_threads, iters=per_range,
                trips=1.0 / 4 if loads_per_row == 1 else 1.0 / (16 / loads_per_row),
                instr=per_range * per_row_instr, bytes=read_bytes + part_bytes,
                geom=f"{-(-cols // new_threads)} x {ranges} blocks x {new_threads}", changed=True)]
    fin_blocks = -(-cols // 256)
    out.append(Call(key + ".finish", phase, "kernels/cuda/colsum.cuh:colsum_finish",
                    f"{what.split(':')[0]}: the {ranges} partials of each column, in order",
                    per * finish_outputs, "kernel", group, blocks=fin_blocks, threads=256,
                    iters=ranges, trips_l2=1.0 / 16, instr=ranges * 5,
                    bytes=part_bytes / finish_outputs, geom=f"{fin_blocks} x 256", changed=True,
                    in_op=finish_outputs))
    for cl in out:
        cl.op = op or key
    return out


# The kinds of cost the calls are summed into.
ATT, MM, LG = "attention scores (T x T)", "dense products", "logits and loss"
EW, BG = "elementwise passes", "bias gradients"
ATF = "attention, fused"

# kernels/cuda/flash_attention.cu at GPT-2's head width of 64, as nvcc 13.0
# compiles it for sm_90 (-O3; cuobjdump -sass, the loops' bodies counted):
# the instructions of a pass of each tile product's loop (qk and nt: 8 of
# the 64 features; pv and nn: 8 keys; tn: 4 queries), of the rest of a
# tile's iteration (loads, softmax or gradient tile, barriers; without
# dropout, which the config has none of), and of what a thread runs once;
# registers a thread (ptxas -v, sm_90 and sm_80: nvcc allots more on
# sm_80) and static shared memory a block. The same counts are taken for
# the A100 (sm_80's loops are the same code).
FLASH = {
    "fwd": dict(bq=64, bk=32, regs={"H100": 80, "A100": 76}, smem=35328,
                qk=83, pv=151, rest=344, once=883),
    "dkdv": dict(bt=32, regs={"H100": 64, "A100": 80}, smem=44288,
                 nt=47, tn=51, rest=391, once=362),
    "dq": dict(bt=32, regs={"H100": 55, "A100": 78}, smem=39680,
               nt=47, nn=83, rest=309, once=584),
    "dot": dict(instr=368),
}


def flash_calls(cfg, per):
    """The fused attention's kernels at the config's shapes, forward and
    backward, as gpu_attention_forward and _backward launch them: a block
    of 16 x 16 threads a tile (rows ty + 16a, columns tx + 16b), the causal
    tiles only; each block's loads of later tiles hit L2 (the per-(row,
    head) keys and values are 256 KB each, read by the 16 blocks of its
    query tiles together), so HBM bytes are each tensor once. Shared
    memory wavefronts a warp, per tile: a 128-bit load of the A operand
    (two addresses a warp, a broadcast) one, of B (16 rows 16 bytes each,
    4 banks apart) two, a scalar store one, the weights' tile stores two
    (two rows 36 floats apart share banks)."""
    B, T, C, H = (cfg[k] for k in ("B", "T", "C", "H"))
    N, hd = B * T, C // H
    assert hd == 64, "FLASH's counts are for heads of 64 features"
    S = 16  # threads a side
    f, k2, k3 = FLASH["fwd"], FLASH["dkdv"], FLASH["dq"]
    RQ, RK, RD = f["bq"] // S, f["bk"] // S, hd // S
    qt = -(-T // f["bq"])
    tiles = sum(-(-min(T, (q + 1) * f["bq"]) // f["bk"]) for q in range(qt)) / qt
    fwd_instr = hd / 8 * f["qk"] + f["bk"] / 8 * f["pv"] + f["rest"]
    fwd_ffma = RQ * RK * hd + RQ * RD * f["bk"]
    fwd_wf = (hd / 4 * (RQ + 2 * RK) + f["bk"] / 4 * (RQ + 4 * RD / 4 * 2) +
              2 * f["bk"] * hd / 256 + 2 * RQ * RK)
    blocks = qt * H * B
    fwd = Call("attn.fwd", "forward", "kernels/cuda/flash_attention.cu:gpu_attention_forward",
               f"attn_forward_kernel: a block {f['bq']} queries, keys and values in tiles of "
               f"{f['bk']} (online softmax), ctx and lse", per, "kernel", ATF, blocks=blocks,
               threads=256, iters=tiles, trips_l2=2.0, fixed_trips=1.0,
               instr=tiles * fwd_instr + f["once"], fflops=2.0 * blocks * 256 * tiles * fwd_ffma,
               wavefronts=tiles * fwd_wf, regs=f["regs"], smem=f["smem"],
               bytes=F * (N * 3 * C + N * C + N * H),
               geom=f"{qt} x {H} x {B} blocks x 256, {tiles:.0f} key tiles a block", attn=True)
    bt = k2["bt"]
    R = bt // S
    kt = -(-T // bt)
    iters = (kt + 1) / 2
    blocks2 = kt * H * B
    n = N * H
    b, it = grid_stride(n)
    dot = Call("attn.dot", "backward", "kernels/cuda/flash_attention.cu:gpu_attention_backward",
               "attn_dot_kernel: D = dO . O a (position, head), into dq's place", per, "kernel",
               ATF, blocks=b, threads=256, iters=it, trips=1.0, instr=FLASH["dot"]["instr"] * it,
               bytes=F * 2 * N * C + 32 * n, geom=f"{b} x 256, a (position, head) a thread",
               op="attn.bwd", attn=True)
    dkdv_instr = 2 * hd / 8 * k2["nt"] + 2 * bt / 4 * k2["tn"] + k2["rest"]
    dkdv_ffma = 2 * R * R * hd + 2 * R * RD * bt
    dkdv_wf = 2 * hd / 4 * 3 * R + 2 * bt * (R + RD / 4 * 2) + 2 * bt * hd / 256 + 2 * 2 * R * R
    dkdv = Call("attn.dkdv", "backward", "kernels/cuda/flash_attention.cu:gpu_attention_backward",
                f"attn_dkdv_kernel: a block {bt} keys, the query tiles in order; dK, dV",
                per, "kernel", ATF, blocks=blocks2, threads=256, iters=iters, trips_l2=1.0,
                fixed_trips=1.0, instr=iters * dkdv_instr + k2["once"],
                fflops=2.0 * blocks2 * 256 * iters * dkdv_ffma, wavefronts=iters * dkdv_wf,
                regs=k2["regs"], smem=k2["smem"], bytes=F * (4 * N * C + 2 * n) + 32 * n,
                geom=f"{kt} x {H} x {B} blocks x 256, {iters:.1f} query tiles a block",
                op="attn.bwd", attn=True)
    dq_instr = 2 * hd / 8 * k3["nt"] + bt / 8 * k3["nn"] + k3["rest"]
    dq_ffma = 2 * R * R * hd + R * RD * bt
    dq_wf = 2 * hd / 4 * 3 * R + bt / 4 * (R + 4 * RD / 4 * 2) + 2 * bt * hd / 256 + 2 * R * R
    dq = Call("attn.dq", "backward", "kernels/cuda/flash_attention.cu:gpu_attention_backward",
              f"attn_dq_kernel: a block {bt} queries, the key tiles in order; dQ (D again)",
              per, "kernel", ATF, blocks=blocks2, threads=256, iters=iters, trips_l2=1.0,
              fixed_trips=1.0, instr=iters * dq_instr + k3["once"],
              fflops=2.0 * blocks2 * 256 * iters * dq_ffma, wavefronts=iters * dq_wf,
              regs=k3["regs"], smem=k3["smem"], bytes=F * (6 * N * C + n),
              geom=f"{kt} x {H} x {B} blocks x 256, {iters:.1f} key tiles a block",
              op="attn.bwd", attn=True)
    for cl in (fwd, dot, dkdv, dq):
        cl.flops = cl.fflops
    return fwd, [dot, dkdv, dq]



def step_calls(cfg, version):
    """Every call of one optimizer step, in order: one micro-batch's
    forward, loss and backward (per = calls a step: x blocks x micro-batches
    where they repeat), then the step's gradient sum, all-reduce, norm and
    AdamW."""
    B, T, C, V, L, H, Fh, M = (cfg[k] for k in ("B", "T", "C", "V", "L", "H", "Fh", "accum"))
    N, C3, hd = B * T, 3 * C, C // H
    rows_att = B * H * T              # softmax rows
    half = H * B * T * (T + 1) / 2    # scores at or before the diagonal
    full = H * B * T * T
    n_params, _, _ = layout(cfg)
    heads_calls = B if B < H else H   # layer_attention.c heads_gemm: by row or by head
    heads_batch = H if B < H else B
    act = cfg["act"]
    c = []
    Lm, m = L * M, M
    fwd, bwd = "forward", "backward"
    # ---- forward ------------------------------------------------------------------
    n = N * C
    b, it = grid_stride(n)
    c.append(Call("embed.fwd", fwd, "kernels/cuda/embed.cu:gpu_embed_forward",
                  "y = wte[token] + wpe[position] (layer_embedding.c:embed_forward)", m, "kernel",
                  "embedding", blocks=b, threads=256, iters=it, trips=2.0, instr=95 * it,
                  bytes=F * (2 * n + T * C), geom=f"{b} x 256, token then row"))
    ln_fwd = dict(blocks=N, threads=256, iters=1, trips=1.0, trips_l2=1.0,
                  extra_cycles=2 * MODEL["block_sum_cycles"], instr=C / 256 * 45 + 60,
                  bytes=F * (2 * N * C + 2 * N), dflops=3.0 * N * C, geom=f"{N} x 256, a row")
    c.append(Call("ln.fwd", fwd, "kernels/cuda/layernorm.cu:gpu_layernorm_forward",
                  "ln_1: a block a row, sums in double (layer_layernorm.c:ln_forward)", Lm,
                  "kernel", "layer norm", **ln_fwd))
    c.append(Call("gemm.qkv.fwd", fwd, "kernels/cuda/gemm.c:gpu_gemm",
                  "qkv = x c_attn^T (layer_attention.c:attn_forward)", Lm, "gemm", MM,
                  m=N, n=C3, k=C))
    c.append(elementwise("bias.qkv", fwd, "kernels/cuda/elementwise.cu:gpu_bias_act_forward",
                         "qkv += c_attn.bias, in place", Lm, EW, N * C3,
                         F * 2 * N * C3, 2, 65))
    fused_fwd, fused_bwd = flash_calls(cfg, Lm)
    if version == "fused":
        c.append(fused_fwd)
    else:
        qk = Call("attn.qk", fwd, "kernels/cuda/gemm.c:gpu_gemm_strided_batched",
                  f"scores = q k^T, T x T a head (heads_gemm: {heads_calls} calls)",
                  Lm * heads_calls, "gemm", ATT, m=T, n=T, k=hd, batch=heads_batch)
        c.append(qk)
        c.append(Call("attn.softmax", fwd, "kernels/cuda/attention.cu:gpu_causal_softmax",
                      "causal softmax in place, a warp a row, 3 passes", Lm, "kernel",
                      ATT, blocks=rows_att * 32 // 256, threads=256, iters=1,
                      trips=1.0, trips_l2=8.0, extra_cycles=2 * 150,
                      instr=(69 * math.ceil((T / 2) / 512) + 101 * (T / 2) / 128 + 30 * T / 128
                             + 60),
                      bytes=F * (half + full), geom=f"{rows_att * 32 // 256} x 256, a warp a row"))
        if cfg["attn_dropout"] > 0:
            c.append(elementwise("attn.dropout", fwd,
                                 "kernels/cuda/elementwise.cu:gpu_dropout_forward",
                                 "dropout on the weights", Lm, ATT, full,
                                 F * 2 * full, 1, 40))
        c.append(Call("attn.pv", fwd, "kernels/cuda/gemm.c:gpu_gemm_strided_batched",
                      "ctx = att v (the full T x T, zeros too)", Lm * heads_calls, "gemm",
                      ATT, m=T, n=hd, k=T, batch=heads_batch))
    c.append(Call("gemm.attn_proj.fwd", fwd, "kernels/cuda/gemm.c:gpu_gemm", "y = ctx c_proj^T",
                  Lm, "gemm", MM, m=N, n=C, k=C))
    c.append(elementwise("bias.attn_proj", fwd, "kernels/cuda/elementwise.cu:gpu_bias_act_forward",
                         "y += c_proj.bias", Lm, EW, N * C, F * 2 * N * C, 2, 65))
    c.append(elementwise("residual.add", fwd, "kernels/cuda/elementwise.cu:gpu_add",
                         "attn_res: x + attn (layer_residual.c:residual_forward)", Lm,
                         EW, N * C, F * 3 * N * C, 2, 17))
    c.append(Call("ln.fwd", fwd, "kernels/cuda/layernorm.cu:gpu_layernorm_forward", "ln_2", Lm,
                  "kernel", "layer norm", **ln_fwd))
    c.append(Call("gemm.fc.fwd", fwd, "kernels/cuda/gemm.c:gpu_gemm",
                  "mlp.c_fc: z = x W^T (layer_dense.c:dense_forward)", Lm, "gemm", MM,
                  m=N, n=Fh, k=C))
    c.append(elementwise("bias_act.fc", fwd, "kernels/cuda/elementwise.cu:gpu_bias_act_forward",
                         f"z += bias, y = {act}(z): z and y both kept", Lm, EW,
                         N * Fh, F * 3 * N * Fh, 2, 120))
    c.append(Call("gemm.proj.fwd", fwd, "kernels/cuda/gemm.c:gpu_gemm", "mlp.c_proj: y = h W^T", Lm,
                  "gemm", MM, m=N, n=C, k=Fh))
    c.append(elementwise("bias.proj", fwd, "kernels/cuda/elementwise.cu:gpu_bias_act_forward",
                         "y += bias", Lm, EW, N * C, F * 2 * N * C, 2, 65))
    c.append(elementwise("residual.add", fwd, "kernels/cuda/elementwise.cu:gpu_add",
                         "mlp_res: x + mlp", Lm, EW, N * C, F * 3 * N * C, 2, 17))
    c.append(Call("ln.fwd", fwd, "kernels/cuda/layernorm.cu:gpu_layernorm_forward", "ln_f", m,
                  "kernel", "layer norm", **ln_fwd))
    c.append(Call("gemm.lm_head.fwd", fwd, "kernels/cuda/gemm.c:gpu_gemm",
                  "logits = x wte^T (tied)", m, "gemm", LG, m=N, n=V, k=C))
    c.append(elementwise("bias.lm_head", fwd, "kernels/cuda/elementwise.cu:gpu_bias_act_forward",
                         "no bias, no activation: a pass that rewrites the logits as they are",
                         m, LG, N * V, F * 2 * N * V, 1, 25))
    # ---- loss ---------------------------------------------------------------------
    per_t = V / 512
    c.append(Call("xent", "loss", "kernels/cuda/xent.cu:gpu_xent",
                  "xent_rows_kernel: a block a row; a pass for max and sum, a second for dz "
                  "(model.c:model_loss)", m, "kernel", LG, blocks=N, threads=512,
                  iters=2 * per_t, trips=1.0, extra_cycles=2 * MODEL["block_sum_cycles"],
                  instr=per_t * (46 + 28), bytes=F * 3 * N * V,
                  geom=f"{N} x 512, {per_t:.0f} logits a thread, twice"))
    c.append(Call("loss.download", "loss", "kernels/cuda/backend_cuda.c:gpu_download",
                  "the rows' loss and hits to the host, then cudaStreamSynchronize", m, "sync",
                  "host waits", bytes=F * 2 * N))
    # ---- backward -----------------------------------------------------------------
    c.append(Call("gemm.lm_head.dw", bwd, "kernels/cuda/gemm.c:gpu_gemm",
                  "d wte = dz^T x (layer_dense.c:dense_backward, into the tied wte)", m, "gemm",
                  LG, m=V, n=C, k=N))
    c.append(Call("gemm.lm_head.dx", bwd, "kernels/cuda/gemm.c:gpu_gemm", "dx = dz wte", m, "gemm",
                  LG, m=N, n=C, k=V))
    ln_site = "kernels/cuda/layernorm.cu:gpu_layernorm_backward"

    def ln_backward(per, name):
        out = colsum_calls(version, "ln.dgdb", bwd, ln_site, per, "layer norm", N, C,
                           F * (2 * N * C + 2 * N), 4,
                           f"{name}: dg, db (layernorm_dgdb_kernel)", finish_outputs=2,
                           old_threads=32, new_threads=32, per_row_instr=15, op="ln.bwd")
        out.append(Call("ln.dx", bwd, ln_site, f"{name}: dx, a block a row", per, "kernel",
                        "layer norm", blocks=N, threads=256, iters=1, trips=1.0, trips_l2=1.0,
                        extra_cycles=2 * MODEL["block_sum_cycles"], instr=C / 256 * 60 + 60,
                        bytes=F * (3 * N * C + 2 * N), dflops=3.0 * N * C,
                        geom=f"{N} x 256, a row", op="ln.bwd"))
        return out

    c += ln_backward(m, "ln_f")
    copy = lambda what, per: Call("residual.copy", bwd, "kernels/cuda/backend_cuda.c:gpu_copy",
                                  what + " (layer_residual.c:residual_backward)", per, "copy",
                                  EW, bytes=F * 2 * N * C, geom=f"{F * N * C / MB:.0f} MB")
    c.append(copy("mlp_res: its gradient copied to c_proj's", Lm))
    bg = "kernels/cuda/bias_grad.cu:gpu_bias_grad"
    c += colsum_calls(version, "bias_grad.c768", bwd, bg, Lm, BG, N, C, F * N * C, 1,
                      "mlp.c_proj: db (layer_dense.c:dense_backward)")
    c.append(Call("gemm.proj.dw", bwd, "kernels/cuda/gemm.c:gpu_gemm", "mlp.c_proj: dW = g^T h", Lm,
                  "gemm", MM, m=C, n=Fh, k=N))
    c.append(Call("gemm.proj.dx", bwd, "kernels/cuda/gemm.c:gpu_gemm", "mlp.c_proj: dh = g W", Lm,
                  "gemm", MM, m=N, n=Fh, k=C))
    c.append(elementwise("act_grad.fc", bwd, "kernels/cuda/elementwise.cu:gpu_act_backward",
                         f"dz = dy {act}'(z), y read too (its SASS loads all three)", Lm,
                         EW, N * Fh, F * 4 * N * Fh, 3, 100))
    c += colsum_calls(version, "bias_grad.c3072", bwd, bg, Lm, BG, N, Fh, F * N * Fh, 1,
                      "mlp.c_fc: db")
    c.append(Call("gemm.fc.dw", bwd, "kernels/cuda/gemm.c:gpu_gemm", "mlp.c_fc: dW = dz^T x", Lm,
                  "gemm", MM, m=Fh, n=C, k=N))
    c.append(Call("gemm.fc.dx", bwd, "kernels/cuda/gemm.c:gpu_gemm", "mlp.c_fc: dx = dz W", Lm,
                  "gemm", MM, m=N, n=C, k=Fh))
    c += ln_backward(Lm, "ln_2")
    c.append(elementwise("residual.grad_add", bwd, "kernels/cuda/elementwise.cu:gpu_add",
                         "mlp_res's gradient added to attn_res's (model.c:add_residual_grads)", Lm,
                         EW, N * C, F * 3 * N * C, 2, 17))
    c.append(copy("attn_res: its gradient copied to attn's", Lm))
    c += colsum_calls(version, "bias_grad.c768", bwd, bg, Lm, BG, N, C, F * N * C, 1,
                      "attn.c_proj: db (layer_attention.c:attn_backward)")
    c.append(Call("gemm.attn_proj.dw", bwd, "kernels/cuda/gemm.c:gpu_gemm", "attn.c_proj: dW", Lm,
                  "gemm", MM, m=C, n=C, k=N))
    c.append(Call("gemm.attn_proj.dx", bwd, "kernels/cuda/gemm.c:gpu_gemm", "d ctx = g c_proj", Lm,
                  "gemm", MM, m=N, n=C, k=C))
    if version == "fused":
        c += fused_bwd
    else:
        hb = "layer_attention.c:heads_backward"
        c.append(Call("attn.datt", bwd, "kernels/cuda/gemm.c:gpu_gemm_strided_batched",
                      f"d att = d ctx v^T ({hb})", Lm * heads_calls, "gemm", ATT, m=T, n=T,
                      k=hd, batch=heads_batch))
        c.append(Call("attn.dv", bwd, "kernels/cuda/gemm.c:gpu_gemm_strided_batched",
                      "d v = att^T d ctx", Lm * heads_calls, "gemm", ATT, m=T, n=hd, k=T,
                      batch=heads_batch))
        if cfg["attn_dropout"] > 0:
            c.append(elementwise("attn.dropout_bwd", bwd,
                                 "kernels/cuda/elementwise.cu:gpu_dropout_backward",
                                 "the mask again", Lm, ATT, full, F * 2 * full, 1, 40))
        c.append(Call("attn.softmax_bwd", bwd,
                      "kernels/cuda/attention.cu:gpu_causal_softmax_backward",
                      "d scores from d att and att, a warp a row, 2 passes", Lm, "kernel",
                      ATT, blocks=rows_att * 32 // 256, threads=256, iters=1, trips=1.0,
                      trips_l2=8.0, extra_cycles=150,
                      instr=71 * math.ceil((T / 2) / 512) + 48 * T / 128 + 40,
                      bytes=F * (2 * half + full),
                      geom=f"{rows_att * 32 // 256} x 256, a warp a row"))
        c.append(Call("attn.dq", bwd, "kernels/cuda/gemm.c:gpu_gemm_strided_batched",
                      "d q = d scores k", Lm * heads_calls, "gemm", ATT, m=T, n=hd, k=T,
                      batch=heads_batch))
        c.append(Call("attn.dk", bwd, "kernels/cuda/gemm.c:gpu_gemm_strided_batched",
                      "d k = d scores^T q", Lm * heads_calls, "gemm", ATT, m=T, n=hd,
                      k=T, batch=heads_batch))
    c += colsum_calls(version, "bias_grad.c2304", bwd, bg, Lm, BG, N, C3, F * N * C3, 1,
                      "attn.c_attn: db")
    c.append(Call("gemm.qkv.dw", bwd, "kernels/cuda/gemm.c:gpu_gemm", "attn.c_attn: dW = dqkv^T x",
                  Lm, "gemm", MM, m=C3, n=C, k=N))
    c.append(Call("gemm.qkv.dx", bwd, "kernels/cuda/gemm.c:gpu_gemm", "dx = dqkv c_attn", Lm,
                  "gemm", MM, m=N, n=C, k=C3))
    c += ln_backward(Lm, "ln_1")
    c.append(elementwise("residual.grad_add", bwd, "kernels/cuda/elementwise.cu:gpu_add",
                         "attn_res's gradient added to the block input's", Lm, EW,
                         N * C, F * 3 * N * C, 2, 17))
    tc = T * C
    b, it = grid_stride(tc)
    c.append(Call("embed.dwpe", bwd, "kernels/cuda/embed.cu:gpu_embed_backward",
                  "embed_dwpe_kernel: d wpe, the rows in order", m, "kernel", "embedding",
                  blocks=b, threads=256, iters=it, trips=1.0, instr=70 * it,
                  bytes=F * (N * C + tc), geom=f"{b} x 256, {B} rows a thread", op="embed.bwd"))
    # embed_dwte_kernel: a block a position; the first position of each
    # token scans every id (n / 256 chunks, each an L2 round trip and three
    # barriers) and gathers its rows; the others stop at their token's first.
    D = MODEL["distinct_tokens"]
    c.append(Call("embed.dwte", bwd, "kernels/cuda/embed.cu:gpu_embed_backward",
                  f"embed_dwte_kernel: d wte rows, no atomics ({D} distinct tokens assumed)", m,
                  "kernel", "embedding", blocks=N, threads=256, iters=1,
                  instr=(D * (N / 256) + (N - D) * MODEL["repeat_scan_chunks"]) / N * 60 + 3 * 16,
                  bytes=F * (N * C + 2 * D * C) + 4 * N, dwte=(N, D),
                  geom=f"{N} x 256, a position", op="embed.bwd"))
    c.append(Call("grads.sum", "accumulate", "kernels/cuda/backend_cuda.c:gpu_copy",
                  "micro-batch 0: grad_sum = grads (train.c:sum_grads)", 1 if M > 1 else 0,
                  "copy", "gradient accumulation", bytes=F * 2 * n_params,
                  geom=f"{F * n_params / MB:.0f} MB"))
    b, it = grid_stride(n_params)
    c.append(Call("grads.add", "accumulate", "kernels/cuda/elementwise.cu:gpu_add",
                  "micro-batches 1..: grad_sum += grads; the last into grads", max(M - 1, 0),
                  "kernel", "gradient accumulation", blocks=b, threads=256, iters=it, trips=1.0,
                  instr=17 * it, bytes=F * 3 * n_params, geom=f"{b} x 256, 2 loads"))
    # ---- the step -----------------------------------------------------------------
    c.append(Call("allreduce", "all-reduce", "comm/nccl.c:nccl_allreduce_sum",
                  "one ncclAllReduce of the whole gradient, after the last micro-batch "
                  "(grad_sync.c: buckets start only once the sum is made)", 1, "nccl",
                  "all-reduce", bytes=F * n_params, geom=f"{F * n_params / MB:.0f} MB"))
    c.append(Call("loss.mpi", "all-reduce", "trainer/train.c:train_step",
                  "comm_allreduce_sum_f64 of the loss sums", 1, "host", "host waits"))
    c.append(Call("sumsq.partial", "norm", "kernels/cuda/sumsq.cu:gpu_sumsq",
                  "sumsq_partial_kernel: 256 blocks, a strided share each, 1 load in flight "
                  "(optim.c:optim_grad_norm)", 1, "kernel", "gradient norm", blocks=256,
                  threads=256, iters=n_params / 65536, trips=1.0, instr=10 * n_params / 65536,
                  extra_cycles=MODEL["block_sum_cycles"], bytes=F * n_params,
                  dflops=2.0 * n_params, geom="256 x 256", op="sumsq"))
    c.append(Call("sumsq.final", "norm", "kernels/cuda/sumsq.cu:gpu_sumsq",
                  "sumsq_final_kernel: the 256 partials in order", 1, "kernel", "gradient norm",
                  blocks=1, threads=256, iters=1, trips=1.0,
                  extra_cycles=MODEL["block_sum_cycles"], bytes=8 * 256, geom="1 x 256",
                  op="sumsq"))
    c.append(Call("sumsq.read", "norm", "kernels/cuda/sumsq.cu:gpu_sumsq",
                  "the norm to the host, then cudaStreamSynchronize", 1, "sync",
                  "host waits", bytes=8, op="sumsq"))
    for cl in c:
        cl.attn = cl.group in (ATT, ATF)
    for i, r in enumerate(adam_runs(cfg)):
        b, it = grid_stride(r)
        c.append(Call("adam", "adamw", "kernels/cuda/adam.cu:gpu_adam",
                      "AdamW over a run of tensors alike in decay (optim.c:apply_by_rank)", 1,
                      "kernel", "AdamW", blocks=b, threads=256, iters=it, trips=1.0,
                      instr=76 * it, bytes=F * 7 * r, run=r, geom=f"{b} x 256"))
    return c


# ---- times --------------------------------------------------------------------------------


def resident_blocks(call, g):
    """Blocks an SM holds at once: 32, 2,048 threads, and where the call
    says them, 65,536 registers and the shared memory (1 KB a block
    reserved)."""
    b = min(32, 2048 // call.threads)
    regs = call.regs.get(g["key"], 0) if isinstance(call.regs, dict) else call.regs
    if regs:
        b = min(b, 65536 // (regs * call.threads))
    if call.smem:
        b = min(b, g["smem_kb"] * 1024 // (call.smem + 1024))
    return max(b, 1)


def lat_s(g, cycles):
    return cycles / g["clock"]


def gemm_peak(g, precision):
    return {"fp32": g["fp32"], "tf32": g["tf32"], "bf16": g["bf16"]}[precision]


def call_time(call, g, precision, ranks):
    """(seconds a call, the bound that sets it)."""
    launch = MODEL["launch_us"] * 1e-6
    bw = g["hbm"] * MODEL["bw_eff"]
    if call.kind == "gemm":
        terms = {"compute": call.flops / (gemm_peak(g, precision) * MODEL["gemm_eff"]),
                 "bandwidth": call.bytes / bw}
    elif call.kind == "copy":
        terms = {"bandwidth": call.bytes / bw}
    elif call.kind == "sync":
        return MODEL["sync_us"] * 1e-6, "host wait"
    elif call.kind == "host":
        return (MODEL["mpi_small_us"] * 1e-6 if ranks > 1 else 0.0), "host"
    elif call.kind == "nccl":
        if ranks <= 1:
            return 0.0, "one GPU"
        return launch + 2 * (ranks - 1) / ranks * call.bytes / g["nvlink"], "NVLink"
    else:
        threads = call.blocks * call.threads
        per_sm = resident_blocks(call, g)
        resident = min(call.blocks, g["sms"] * per_sm) * call.threads
        rounds = threads * call.iters / resident
        waves = math.ceil(call.blocks / (g["sms"] * per_sm))
        lat = (rounds * (call.trips * lat_s(g, MODEL["lat_dram_cycles"]) +
                         call.trips_l2 * lat_s(g, MODEL["lat_l2_cycles"])) +
               waves * (call.fixed_trips * lat_s(g, MODEL["lat_dram_cycles"]) +
                        call.extra_cycles / g["clock"]))
        if getattr(call, "dwte", None):
            lat = dwte_latency(call, g)
        active = min(call.blocks, g["sms"])
        simt = MODEL["simt_eff"]
        terms = {"bandwidth": call.bytes / bw,
                 "latency": lat,
                 "issue": threads / 32 * call.instr / (active * 4 * g["clock"] * simt),
                 "fp64": call.dflops / g["fp64"],
                 "fp32": call.fflops / (g["fp32"] * simt),
                 "shared": threads / 32 * call.wavefronts / (active * g["clock"] * simt)}
    bound = max(terms, key=terms.get)
    return terms[bound] + launch * call.launches, bound


def dwte_latency(call, g):
    """embed_dwte_kernel: a token's first position scans every chunk of
    256 ids (an L2 round trip and three barriers, ~50 clocks each, a chunk)
    and gathers its rows (16 loads in flight); the others stop after
    repeat_scan_chunks chunks; all in the slots of resident blocks."""
    n, d = call.dwte
    chunk = lat_s(g, MODEL["lat_l2_cycles"]) + 3 * 50 / g["clock"]
    owner = (n / 256) * chunk + (n / d / 16 + 1) * lat_s(g, MODEL["lat_dram_cycles"])
    other = MODEL["repeat_scan_chunks"] * chunk
    slots = g["sms"] * resident_blocks(call, g)
    return (d * owner + (n - d) * other) / slots


def step(cfg, version, gpu, precision, ranks=1, calls=None):
    """The step's time and its parts. The GPU's time is the calls' sum,
    host waits included (a micro-batch's loss, the norm: `sync` calls);
    where the host would queue the calls (host_us each) slower than the GPU
    runs them, the difference is added (the micro-batches are alike, so
    the step's totals compare as each segment between waits would)."""
    g = HW[gpu]
    calls = calls if calls is not None else step_calls(cfg, version)
    rows = []
    by_phase, by_group = {}, {}
    gpu_time = host_launches = 0.0
    for call in calls:
        t, bound = call_time(call, g, precision, ranks)
        total = t * call.per
        rows.append((call, t, bound, total))
        by_phase[call.phase] = by_phase.get(call.phase, 0.0) + total
        by_group[call.group] = by_group.get(call.group, 0.0) + total
        gpu_time += total
        if call.kind in ("gemm", "kernel", "copy", "nccl"):
            host_launches += call.per * call.launches
    host = host_launches * MODEL["host_us"] * 1e-6
    extra = max(0.0, host - gpu_time)
    return dict(total=gpu_time + extra, rows=rows, phase=by_phase, group=by_group,
                host=host, host_extra=extra)


def model_flops_per_token(cfg):
    """llm.c's count: 6 N + 6 L C T."""
    _, trained, _ = layout(cfg)
    return 6 * trained + 6 * cfg["L"] * cfg["C"] * cfg["T"]


# ---- output -------------------------------------------------------------------------------

MODEL_SOURCES = {
    "lat_dram_cycles": "HBM load latency, clocks: summaries of Hopper microbenchmarks give "
                       "400-800 (see Sources); taken for both GPUs",
    "lat_l2_cycles": "L2 hit latency, clocks: the same summaries give ~200, or 200-400",
    "block_sum_cycles": "reduce.cuh block_sum: 2 x 5 dependent shuffles and a barrier at "
                        "~30 clocks a step: assumed",
    "launch_us": "GPU gap between kernels of one stream, no graph: assumed within NVIDIA's "
                 "'order of microseconds'",
    "host_us": "host cost to queue a kernel or a cuBLAS call: assumed",
    "sync_us": "a host wait (copy to the host, cudaStreamSynchronize) and the restart: assumed",
    "bw_eff": "share of HBM peak a streaming kernel reaches: assumed",
    "gemm_eff": "share of the matrix peak cuBLAS reaches: assumed (best public H100 bf16 "
                "matmul seen: 0.79)",
    "simt_eff": "share of the issue, fp32-lane and shared-memory peaks our kernels reach "
                "where those bound them: the bound itself, assumed (an upper bound)",
    "distinct_tokens": "distinct token ids in 8,192 tokens of FineWeb: assumed",
    "repeat_scan_chunks": "chunks of 256 ids a repeated token's block scans: assumed",
    "mpi_small_us": "MPI all-reduce of one double, 8 ranks on a node: assumed",
}


def fmt_us(t):
    us = t * 1e6
    return f"{us:,.0f}" if us >= 100 else f"{us:.1f}"


def table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(str(x) for x in r) + " |" for r in rows]
    return "\n".join(out)


def merged_rows(calls, prec):
    """One row a call site (the same call at every block and micro-batch
    counted in `per`; AdamW's runs in one row): [(call, per, [calls],
    [(us a call, bound, seconds a step) a GPU])]."""
    merged, order = {}, []
    for call in calls:
        k = (call.key, call.what if call.key != "adam" else "adam")
        if k not in merged:
            merged[k] = []
            order.append(k)
        merged[k].append(call)
    out = []
    for k in order:
        group = merged[k]
        per = sum(cl.per for cl in group)
        cells = []
        for gpu in HW:
            times = [call_time(cl, HW[gpu], prec, 1) for cl in group]
            tot = sum(t * cl.per for (t, _), cl in zip(times, group))
            cells.append((tot / per if per else 0.0, times[0][1], tot))
        out.append((group[0], per, group, cells))
    return out


def call_cells(call, per, group):
    mb = sum(cl.bytes for cl in group) / len(group) / MB
    gf = sum(cl.flops for cl in group) / len(group) / 1e9
    geom = call.geom if call.key != "adam" else f"{len(group)} launches ({group[0].geom}, ...)"
    what = call.what if call.key != "adam" else f"{call.what}: {len(group)} runs"
    return [call.phase, f"`{call.key}`", what, f"`{call.site}`", geom, per,
            f"{mb:,.1f}" if mb >= 0.1 else f"{mb:.3f}", f"{gf:,.1f}" if gf else "-"]


CALL_HEAD = ["phase", "call", "what", "code", "grid x block, or m x n x k", "a step",
             "MB a call", "GFLOP a call"]


def per_call_table(cfg, version, prec, only=None):
    rows = []
    calls = step_calls(cfg, version)
    for i, (call, per, group, cells) in enumerate(merged_rows(calls, prec), 1):
        if only and not only(call):
            continue
        row = [i] + call_cells(call, per, group)
        for t, bound, tot in cells:
            row += [fmt_us(t), bound, f"{tot * 1e3:,.2f}"]
        rows.append(row)
    head = ["#"] + CALL_HEAD
    for gpu in HW:
        head += [f"{gpu} us a call", "bound", f"{gpu} ms a step"]
    return table(head, rows)


def changed_table(cfg, prec, versions=("before", "after"), which=lambda cl: cl.changed):
    """The calls a change made different (item 2's by default), a row a
    call site, in each version."""
    rows = []
    for version in versions:
        calls = [cl for cl in step_calls(cfg, version) if which(cl)]
        for call, per, group, cells in merged_rows(calls, prec):
            row = [LABEL[version]] + call_cells(call, per, group)[1:]
            for t, bound, tot in cells:
                row += [fmt_us(t), bound, f"{tot * 1e3:,.2f}"]
            rows.append(row)
    head = ["kernels"] + CALL_HEAD[1:]
    for gpu in HW:
        head += [f"{gpu} us a call", "bound", f"{gpu} ms a step"]
    return table(head, rows)


def summary(cfg):
    """[{version, gpu, precision, ms1, ms8, mfu1, mfu8, tok1}]."""
    tokens = cfg["batch"] * cfg["T"]
    fpt = model_flops_per_token(cfg)
    out = []
    for prec in precisions(cfg):
        for gpu in HW:
            for version in VERSIONS:
                one = step(cfg, version, gpu, prec, 1)["total"]
                eight = step(cfg, version, gpu, prec, 8)["total"]
                peak = HW[gpu]["bf16"]
                out.append(dict(version=version, gpu=gpu, precision=prec, ms1=one * 1e3,
                                ms8=eight * 1e3, mfu1=fpt * tokens / one / peak,
                                mfu8=fpt * tokens / eight / peak, tok1=tokens / one))
    return out


def precisions(cfg):
    """The config's precision first, then bf16 (llm.c's, for the comparison)."""
    return [cfg["precision"]] + (["bf16"] if cfg["precision"] != "bf16" else [])


def summary_table(cfg):
    rows = []
    for s in summary(cfg):
        rows.append([LABEL[s["version"]], HW[s["gpu"]]["name"], s["precision"], f"{s['ms1']:,.1f}",
                     f"{s['tok1']:,.0f}", f"{100 * s['mfu1']:.1f}%", f"{s['ms8']:,.1f}",
                     f"{100 * s['mfu8']:.1f}%"])
    llmc_mfu = (model_flops_per_token(cfg) * LLMC_TOKENS_PER_GPU / (LLMC_STEP_MS / 1e3) /
                HW["H100"]["bf16"])
    rows.append(["llm.c, measured", "H100 SXM", "bf16", "-",
                 f"{LLMC_TOKENS_PER_GPU / (LLMC_STEP_MS / 1e3):,.0f}", "-",
                 f"{LLMC_STEP_MS:.0f}", f"{100 * llmc_mfu:.1f}%"])
    return table(["kernels", "GPU", "precision", "step ms, 1 GPU", "tokens/s a GPU",
                  "MFU, 1 GPU", "step ms, 8 GPUs", "MFU, 8 GPUs"], rows)


def launch_ms(s):
    """The launch gaps inside a step's calls, ms."""
    return sum(MODEL["launch_us"] * 1e-3 * cl.per * cl.launches for cl, _, _, _ in s["rows"]
               if cl.kind in ("gemm", "kernel", "copy"))


def phase_table(cfg):
    phases = ["forward", "loss", "backward", "accumulate", "all-reduce", "norm", "adamw"]
    rows = []
    for prec in precisions(cfg):
        for gpu in HW:
            for version in VERSIONS:
                s = step(cfg, version, gpu, prec, 8)
                rows.append([LABEL[version], gpu, prec] +
                            [f"{s['phase'].get(p, 0) * 1e3:,.1f}" for p in phases] +
                            [f"{launch_ms(s):,.1f}", f"{s['host'] * 1e3:,.1f}",
                             f"{s['total'] * 1e3:,.1f}"])
    return table(["kernels", "GPU", "precision"] + [p + " ms" for p in phases] +
                 ["of which launch gaps", "host queueing", "step ms"], rows)


def group_table(cfg):
    groups = {}
    for version in ("fused", "after"):  # the latest's order, then what it no longer has
        last = step(cfg, version, "H100", "bf16", 8)["group"]
        for grp in sorted(last, key=last.get, reverse=True):
            groups.setdefault(grp, None)
    cols = []
    for prec in precisions(cfg):
        for gpu in HW:
            for version in VERSIONS:
                cols.append((f"{gpu} {prec} {LABEL[version]}",
                             step(cfg, version, gpu, prec, 8)["group"]))
    rows = [[grp] + [f"{col.get(grp, 0) * 1e3:,.1f}" for _, col in cols] for grp in groups]
    return table(["cost"] + [name for name, _ in cols], rows)


def sensitivity_table(cfg):
    rows = []
    base = dict(MODEL)
    cases = [("as modelled", {}),
             ("latencies x 0.5", dict(lat_dram_cycles=base["lat_dram_cycles"] / 2,
                                      lat_l2_cycles=base["lat_l2_cycles"] / 2)),
             ("latencies x 2", dict(lat_dram_cycles=base["lat_dram_cycles"] * 2,
                                    lat_l2_cycles=base["lat_l2_cycles"] * 2)),
             ("launch 1 us, host 2 us", dict(launch_us=1.0, host_us=2.0)),
             ("launch 5 us, host 8 us", dict(launch_us=5.0, host_us=8.0)),
             ("cuBLAS at 0.60 of peak", dict(gemm_eff=0.60)),
             ("cuBLAS at 0.90 of peak", dict(gemm_eff=0.90)),
             ("HBM at 0.75 of peak", dict(bw_eff=0.75)),
             ("our kernels at 0.7 of issue, lanes, shared", dict(simt_eff=0.7))]
    try:
        for name, change in cases:
            MODEL.update(base)
            MODEL.update(change)
            row = [name]
            for prec in precisions(cfg):
                for version in VERSIONS:
                    row.append(f"{step(cfg, version, 'H100', prec, 1)['total'] * 1e3:,.1f}")
            rows.append(row)
    finally:
        MODEL.update(base)
    head = ["H100, one GPU, step ms"]
    for prec in precisions(cfg):
        head += [f"{prec} {LABEL[version]}" for version in VERSIONS]
    return table(head, rows)


def inputs_table(cfg):
    n, trained, _ = layout(cfg)
    runs = adam_runs(cfg)
    rows = [["micro-batch", f"{cfg['B']} x {cfg['T']} tokens, grad_accum {cfg['accum']}: "
             f"{cfg['batch'] * cfg['T']:,} tokens a GPU a step"],
            ["model", f"{cfg['L']} blocks, C {cfg['C']}, {cfg['H']} heads, MLP {cfg['Fh']} "
             f"({cfg['act']}), vocab {cfg['V']:,}, output tied to wte: "
             f"{str(cfg['tie']).lower()}"],
            ["precision (train.precision)", f"{cfg['precision']} (the config); bf16 shown too"],
            ["dropout", f"attention {cfg['attn_dropout']:g}, dropout layers "
             f"{cfg['dropout_layers']}: no dropout call is issued"],
            ["parameters", f"{trained:,} trained; {n:,} floats with model.c's alignment; "
             f"AdamW in {len(runs)} launches (decay = {cfg['decay']})"],
            ["optimizer.shard", f"{cfg['shard']}: the gradient norm is gpu_sumsq over one buffer"],
            ["model FLOPs a token (llm.c: 6N + 6LCT)",
             f"{model_flops_per_token(cfg) / 1e6:,.1f} M"]]
    return table(["input", "value"], rows)


def hw_table():
    rows = []
    for g in HW.values():
        rows.append([g["name"], g["sms"], f"{g['clock'] / 1e9:.2f}", f"{g['hbm'] / 1e12:.3g}",
                     f"{g['l2_mb']}", f"{g['bf16'] / 1e12:g}", f"{g['tf32'] / 1e12:g}",
                     f"{g['fp32'] / 1e12:g}", f"{g['fp64'] / 1e12:g}", f"{g['nvlink'] / 1e9:g}",
                     f"{MODEL['lat_dram_cycles'] / g['clock'] * 1e9:.0f} / "
                     f"{MODEL['lat_l2_cycles'] / g['clock'] * 1e9:.0f}"])
    return table(["GPU", "SMs", "clock GHz (fp32 peak / lanes)", "HBM TB/s", "L2 MB",
                  "bf16 TFLOP/s", "tf32", "fp32", "fp64", "NVLink GB/s each way",
                  "DRAM / L2 latency ns"], rows)


def model_table():
    return table(["figure", "value", "what, and where from"],
                 [[f"`{k}`", f"{v:g}", MODEL_SOURCES[k]] for k, v in MODEL.items()])


def markdown(cfg):
    prec = cfg["precision"]
    parts = ["### Inputs (from configs/gpt2_124m.ini)", inputs_table(cfg),
             "### Hardware (published)", hw_table(),
             "### The model's own figures", model_table(),
             "### The step, before and after item 2, and after issue 26", summary_table(cfg),
             "### Where the time goes (8 GPUs, ms a step)", phase_table(cfg),
             "### By kind of cost (8 GPUs, ms a step)", group_table(cfg),
             "### How far the assumed figures move it (H100, one GPU)", sensitivity_table(cfg),
             f"### Every call, after item 2, at {prec} (one GPU)",
             per_call_table(cfg, "after", prec)]
    if prec != "bf16":
        parts += ["### The matrix products at bf16 (the other calls as above)",
                  per_call_table(cfg, "after", "bf16", only=lambda cl: cl.kind == "gemm")]
    parts += ["### The calls item 2 changed, before and after (one GPU)",
              changed_table(cfg, prec)]
    for p in precisions(cfg):
        parts += [f"### Attention's calls before and after issue 26, at {p} (one GPU)",
                  changed_table(cfg, p, ("after", "fused"), lambda cl: cl.attn)]
    return "\n\n".join(parts) + "\n"


def totals_lines(cfg):
    return "".join(f"{s['version']} {s['gpu']} {s['precision']} step_ms_1gpu={s['ms1']:.3f} "
                   f"step_ms_8gpu={s['ms8']:.3f} mfu_1gpu={s['mfu1']:.4f} "
                   f"mfu_8gpu={s['mfu8']:.4f}\n" for s in summary(cfg))


def op_times(cfg, gpu, precision):
    """Seconds of one backend call of each op (gpu_calls' keys): the
    first instance's kernels, each as many times as the call issues it."""
    g = HW[gpu]
    out = {}
    n_params, _, _ = layout(cfg)
    for version in ("fused", "after"):  # the unfused attention's calls from "after"
        mine, done, last = {}, set(), None
        for call in step_calls(cfg, version):
            op = call.op
            if last is not None and last != op:
                done.add(last)  # an op's first instance ends where another call starts
            last = op
            if op in done or op in out:
                continue
            t, bound = call_time(call, g, precision, 1)
            prev = mine.get(op, (0.0, bound))
            mine[op] = (prev[0] + t * call.in_op, prev[1])
        out.update(mine)
    adam = Call("adam.all", "adamw", "", "", 1, "kernel", "", blocks=65535, threads=256,
                iters=n_params / (65535 * 256), trips=1.0, instr=76 * n_params / (65535 * 256),
                bytes=F * 7 * n_params)
    out["adam.all"] = call_time(adam, g, precision, 1)
    out["launch"] = (MODEL["launch_us"] * 1e-6, "launch")
    out["host_launch"] = (MODEL["host_us"] * 1e-6, "host")
    out["sync"] = (MODEL["sync_us"] * 1e-6, "host wait")
    return out


def check_table(cfg, path, precision, gpu_name):
    """gpu_calls' CSV (key,ms: one backend call at GPT-2 shapes) against
    the model's time for it on the GPU named (H100 or A100 by name; both
    where the name is neither)."""
    gpus = [g for g in HW if g in gpu_name.upper()] or list(HW)
    models = {gpu: op_times(cfg, gpu, precision) for gpu in gpus}
    rows = []
    with open(path) as f:
        for line in f:
            parts = line.strip().split(",")
            if len(parts) < 2 or parts[0] == "key":
                continue
            key, measured = parts[0], float(parts[1]) * 1e-3
            row = [f"`{key}`", fmt_us(measured)]
            for gpu in gpus:
                if key in models[gpu]:
                    t, bound = models[gpu][key]
                    row += [f"{fmt_us(t)} ({bound})", f"{measured / t:.2f}"]
                else:
                    row += ["-", "-"]
            rows.append(row)
    head = ["call", f"measured us ({precision})"]
    for gpu in gpus:
        head += [f"model {gpu} us", "measured / model"]
    return table(head, rows) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default=os.path.join(ROOT, "configs", "gpt2_124m.ini"))
    ap.add_argument("--markdown", action="store_true", help="the tables of bench/gpu_model.md")
    ap.add_argument("--totals", action="store_true", help="one line a version, GPU, precision")
    ap.add_argument("--check", metavar="CSV", help="gpu_calls' times against the model")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "tf32", "bf16"])
    ap.add_argument("--gpu", default="", help="the GPU's name, for --check")
    a = ap.parse_args()
    cfg = gpt_config(a.config)
    if a.check:
        sys.stdout.write(check_table(cfg, a.check, a.precision, a.gpu))
    elif a.markdown:
        sys.stdout.write(markdown(cfg))
    elif a.totals:
        sys.stdout.write(totals_lines(cfg))
    else:
        sys.stdout.write(markdown(cfg).replace("`", ""))
        sys.stdout.write("\n" + totals_lines(cfg))


if __name__ == "__main__":
    main()
