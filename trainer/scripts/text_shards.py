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
and renamed when whole. Needs numpy.
"""

import argparse
import fnmatch
import glob
import os
import stat
import sys

import numpy as np

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


def write_shard(path, tokens):
    header = np.zeros(HEADER_INTS, dtype="<i4")
    header[:3] = (MAGIC, VERSION, len(tokens))
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(header.tobytes())
        f.write(tokens.astype("<u2").tobytes())
    os.replace(tmp, path)
    print(f"{path}: {len(tokens):,} tokens")


def write_part(prefix, split, tokens, shard_tokens):
    count = max(1, -(-len(tokens) // shard_tokens))
    for i in range(count):
        write_shard(f"{prefix}_{split}_{i:06d}.bin", tokens[i * shard_tokens:(i + 1) * shard_tokens])


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
    data = b"".join(open(p, "rb").read() for p in list_files(a.inputs, a.exclude))
    tokens = np.frombuffer(data, dtype=np.uint8)
    cut = len(tokens) - int(len(tokens) * a.val_fraction)
    write_part(a.out_prefix, "train", tokens[:cut], a.shard_tokens)
    if a.val_fraction > 0:
        write_part(a.out_prefix, "val", tokens[cut:], a.shard_tokens)


if __name__ == "__main__":
    main()
