"""Writes text as token shards in llm.c's format (data.format = tokens).

    python3 text_shards.py [--shard_tokens N] [--val_fraction F] [--exclude PATTERNS]
                           [--tokenizer TOKENIZER.json] OUT_PREFIX INPUT...

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

--tokenizer: the tokens are TOKENIZER.json's ids (a byte-level BPE, as
train_tokenizer.py writes, or GPT-2's), encoded by the tokenizers package,
as data.tokenizer encodes the same text in accel-train: the bytes are cut
first (the cut moved back to the start of the UTF-8 character it falls in)
and each part is encoded on its own, added tokens such as <|endoftext|>
matched where the text holds them. The text must be UTF-8 (a byte that is
not is refused in one line naming its file and offset), and the ids below
65,536 (uint16). The embedding's vocab must be at least one past the
largest id (printed at the end); accel-train refuses a token past it where
a window holding it is read.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import accel_outpath  # noqa: E402
import accel_text  # noqa: E402

MAGIC, VERSION, HEADER_INTS = 20240520, 1, 256


def fail(msg):
    print(f"text_shards: error: {msg}", file=sys.stderr)
    sys.exit(1)


def plan(prefix, cut, n, val, shard_tokens):
    """The shards of a stream of n tokens whose training part is [0, cut):
    (path, first, end) each, the training part's, then the validation
    part's when there is one (val)."""
    parts = [("train", 0, cut)] + ([("val", cut, n)] if val else [])
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


def open_tokenizer(path):
    """The tokenizers package's Tokenizer of path, and one past its largest
    id; refused in one line when it cannot be read or its ids pass uint16."""
    try:
        from tokenizers import Tokenizer
    except ImportError:
        fail("--tokenizer needs the tokenizers package "
             "(pip install -r tests/python/requirements-tokenizer.txt)")
    try:
        tok = Tokenizer.from_file(path)
    except Exception as e:  # the package raises Exception itself
        fail(f"--tokenizer {path}: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
    size = max(tok.get_vocab(with_added_tokens=True).values(), default=-1) + 1
    if size > 1 << 16:
        fail(f"--tokenizer {path}: its ids reach {size - 1}, past the shards' uint16 tokens "
             "(a vocabulary of at most 65,536)")
    return tok, size


def tokenize(tok, data, at, paths):
    """The ids of the training part data[:at] and the validation part
    data[at:], each encoded on its own."""
    try:
        parts = [accel_text.decode(data[:at], paths), accel_text.decode(data[at:], paths, at)]
    except accel_text.TextError as e:
        fail(e)
    return [np.asarray(tok.encode(text).ids, dtype=np.int64) for text in parts]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shard_tokens", type=int, default=100_000_000)
    ap.add_argument("--val_fraction", type=float, default=0.0)
    ap.add_argument("--exclude", default="")
    ap.add_argument("--tokenizer")
    ap.add_argument("out_prefix")
    ap.add_argument("inputs", nargs="+")
    a = ap.parse_args()
    if not 1 <= a.shard_tokens <= 2**31 - 1:
        fail(f"--shard_tokens {a.shard_tokens}: expected 1 to 2^31 - 1 (the header's count is an int32)")
    if not 0 <= a.val_fraction < 1:
        fail(f"--val_fraction {a.val_fraction}: expected 0 <= F < 1")
    try:
        paths = accel_text.list_files(a.inputs, a.exclude)
    except accel_text.TextError as e:
        fail(e)
    tok = open_tokenizer(a.tokenizer) if a.tokenizer else None
    inputs = [(p, f"an input of this command ({p})") for p in a.inputs + paths]
    if a.tokenizer:
        inputs.append((a.tokenizer, f"the tokenizer ({a.tokenizer})"))
    # every shard's name is known from the files' sizes, before any is read
    # (with a tokenizer, the names of as many tokens as bytes: no fewer)
    n = sum(os.stat(p).st_size for p in paths)
    check_outputs(plan(a.out_prefix, accel_text.cut(n, a.val_fraction), n, a.val_fraction > 0,
                       a.shard_tokens), inputs)
    try:
        data = accel_text.read(paths)
    except accel_text.TextError as e:
        fail(e)
    if tok:
        train, val = tokenize(tok[0], data, accel_text.cut_text(data, a.val_fraction), paths)
        tokens, at = np.concatenate([train, val]), len(train)
    else:
        tokens = np.frombuffer(data, dtype=np.uint8)
        at = accel_text.cut(len(tokens), a.val_fraction)
    shards = plan(a.out_prefix, at, len(tokens), a.val_fraction > 0, a.shard_tokens)
    if len(data) != n:  # a file changed size while read: the names again
        check_outputs(shards, inputs)
    for path, first, end in shards:
        write_shard(path, tokens[first:end])
    if tok:
        print(f"{len(data):,} bytes as {len(tokens):,} tokens of {a.tokenizer} "
              f"({tok[1]:,} ids: the embedding's vocab must be at least that)")


if __name__ == "__main__":
    main()
