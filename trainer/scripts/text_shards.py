"""Writes text as byte-level token shards in llm.c's format (data.format = tokens).

    python3 text_shards.py [--shard_tokens N] [--val_fraction F] [--exclude PATTERNS]
                           OUT_PREFIX INPUT...

INPUT names files, directories (their regular files, not links, not
subdirectories) and glob patterns, as data.train does for data.format = text;
--exclude leaves out file names matching its comma-separated patterns. The
files are joined in sorted path order and every byte is a token (0..255), so
the token stream is the byte stream data.format = text reads from the same
inputs. The last --val_fraction of it (default 0, cut where accel-train's text
format cuts: at len - int(len * F)) goes to OUT_PREFIX_val_000000.bin, ...,
the rest to OUT_PREFIX_train_000000.bin, ..., each shard of at most
--shard_tokens tokens (default 100,000,000, llm.c's). A shard is 256
little-endian int32 (magic 20240520, version 1, the token count) and then the
tokens as little-endian uint16. Each file is written under a temporary name
and renamed when whole. A shard's name may not be an input (through any
spelling or link: a shard of an earlier run read back in, say) nor anything
but a regular file: that is refused in one line (exit 1) before anything is
read or written. Needs numpy.
"""

import argparse
import fnmatch
import glob
import os
import stat
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import accel_outpath  # noqa: E402

MAGIC, VERSION, HEADER_INTS = 20240520, 1, 256


def fail(msg):
    print(f"text_shards: error: {msg}", file=sys.stderr)
    sys.exit(1)


def list_files(entries, exclude):
    """The files of the inputs, sorted by path, without the excluded names."""
    paths = []
    for entry in entries:
        if any(c in entry for c in "*?["):
            matches = glob.glob(entry)
            if not matches:
                fail(f"no file matches {entry}")
            paths += [p for p in matches if os.path.isfile(p)]
        elif os.path.isdir(entry):
            for name in os.listdir(entry):
                p = os.path.join(entry, name)
                if not name.startswith(".") and stat.S_ISREG(os.lstat(p).st_mode):
                    paths.append(p)
        elif os.path.exists(entry):
            paths.append(entry)
        else:
            fail(f"cannot open {entry}")
    pats = [p for p in exclude.split(",") if p]
    paths = [p for p in paths if not any(fnmatch.fnmatchcase(os.path.basename(p), q) for q in pats)]
    if not paths:
        fail("no input files (after --exclude)")
    # sorted as C's strcmp sorts: by the paths' bytes
    return sorted(paths, key=os.fsencode)


def plan(prefix, n, val_fraction, shard_tokens):
    """The shards of a stream of n tokens: (path, first, end) each, the
    training part's, then the validation part's when there is one."""
    cut = n - int(n * val_fraction)
    parts = [("train", 0, cut)] + ([("val", cut, n)] if val_fraction > 0 else [])
    shards = []
    for split, lo, hi in parts:
        for i in range(max(1, -(-(hi - lo) // shard_tokens))):
            first = lo + i * shard_tokens
            shards.append((f"{prefix}_{split}_{i:06d}.bin", first, min(hi, first + shard_tokens)))
    return shards


def check_outputs(shards, inputs):
    try:
        for path, _, _ in shards:
            accel_outpath.check_file(path, inputs, "choose another OUT_PREFIX")
    except accel_outpath.Refused as e:
        fail(e)


def write_shard(path, tokens):
    header = np.zeros(HEADER_INTS, dtype="<i4")
    header[:3] = (MAGIC, VERSION, len(tokens))

    def write(tmp):
        with open(tmp, "wb") as f:
            f.write(header.tobytes())
            f.write(tokens.astype("<u2").tobytes())

    try:
        accel_outpath.replace(path, write)
    except OSError as e:
        fail(f"{path}: {e.strerror or e}")
    print(f"{path}: {len(tokens):,} tokens")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shard_tokens", type=int, default=100_000_000)
    ap.add_argument("--val_fraction", type=float, default=0.0)
    ap.add_argument("--exclude", default="")
    ap.add_argument("out_prefix")
    ap.add_argument("inputs", nargs="+")
    a = ap.parse_args()
    if not 1 <= a.shard_tokens <= 2**31 - 1:
        fail(f"--shard_tokens {a.shard_tokens}: expected 1 to 2^31 - 1 (the header's count is an int32)")
    if not 0 <= a.val_fraction < 1:
        fail(f"--val_fraction {a.val_fraction}: expected 0 <= F < 1")
    paths = list_files(a.inputs, a.exclude)
    inputs = [(p, f"an input of this command ({p})") for p in a.inputs + paths]
    # every shard's name is known from the files' sizes, before any is read
    shards = plan(a.out_prefix, sum(os.stat(p).st_size for p in paths), a.val_fraction,
                  a.shard_tokens)
    check_outputs(shards, inputs)
    data = b"".join(open(p, "rb").read() for p in paths)
    tokens = np.frombuffer(data, dtype=np.uint8)
    if len(tokens) != shards[-1][2]:  # a file changed size while read: the names again
        shards = plan(a.out_prefix, len(tokens), a.val_fraction, a.shard_tokens)
        check_outputs(shards, inputs)
    for path, first, end in shards:
        write_shard(path, tokens[first:end])


if __name__ == "__main__":
    main()
