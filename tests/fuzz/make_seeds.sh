#!/bin/bash
# Writes the seed corpora of tests/fuzz/corpus/ (they are committed; run
# this only to remake them, e.g. after the checkpoint format changes):
#     bash tests/fuzz/make_seeds.sh build-fuzz/tests/fuzz/make_ckpt_seed
# or only those of text and tokens, which need nothing built:
#     bash tests/fuzz/make_seeds.sh --lm
# or only the tokenizer's (and tokenizer_fortunes.json, the encoder
# harness's tokenizer), which need the tokenizers package (the .venv that
# tests/run.sh makes, or $PYTHON) and the fortunes:
#     bash tests/fuzz/make_seeds.sh --tokenizer
# Needs Debian's python3-h5py and the Fashion-MNIST package
# (/usr/share/datasets/fashion-mnist). Every file is small (the largest a
# few KiB): the fuzzer mutates them, and a small input runs many times faster.
set -euo pipefail
# text and tokens: the settings bytes the harnesses read first (see
# fuzz_text.c, fuzz_tokens.c), then text, or two token shards.
seeds_lm() {
    mkdir -p "$1"/{text,tokens}
    /usr/bin/python3 - "$1" <<'PY'
import struct, sys

out = sys.argv[1]
ascii_text = b"".join(b"the quick brown fox %d jumps over the lazy dog.\n" % (i % 7) for i in range(40))
utf8_text = "狐狸跳过了懒狗。 café naïve\n".encode() * 20

def write(path, b):
    with open(path, "wb") as f:
        f.write(b)

# text: [window-1, vocab (0: 256), val_fraction * 255 / 0.9, eval_tokens,
# budget (64 << b bytes), where the two files are cut (of 255)]
write(f"{out}/text/ascii_vocab128", bytes([15, 128, 28, 0, 11, 128]) + ascii_text)
write(f"{out}/text/utf8_vocab256", bytes([7, 0, 28, 40, 11, 60]) + utf8_text)
write(f"{out}/text/utf8_vocab128", bytes([7, 128, 0, 0, 11, 200]) + utf8_text)
write(f"{out}/text/over_budget", bytes([3, 0, 0, 0, 3, 128]) + ascii_text)
write(f"{out}/text/one_file_short", bytes([31, 0, 100, 0, 11, 255]) + ascii_text[:40])

# tokens: [window-1, vocab (2 bytes, little-endian; 0: 65536), val_fraction,
# eval_tokens, bit 0: second shard is data.test's, first shard's length
# (2 bytes, big-endian)]
def shard(tokens, count=None, magic=20240520, version=1):
    n = len(tokens) if count is None else count
    return struct.pack("<3i", magic, version, n) + bytes(1012) + struct.pack(f"<{len(tokens)}H", *tokens)

def tokens(name, window, vocab, val, eval_tokens, test, a, b):
    head = bytes([window - 1]) + struct.pack("<H", vocab % 65536) + bytes([val, eval_tokens, test])
    write(f"{out}/tokens/{name}", head + struct.pack(">H", len(a)) + a + b)

text = list(ascii_text[:600])
tokens("train_test", 16, 256, 0, 0, 1, shard(text[:400]), shard(text[400:]))
tokens("two_train_val", 8, 256, 28, 32, 0, shard(text[:300]), shard(text[300:]))
tokens("gpt2_vocab", 4, 50257, 0, 0, 1, shard([50256, 11, 464] * 20), shard([262, 50256] * 10))
tokens("token_past_vocab", 8, 128, 0, 0, 1, shard(text[:100] + [300] + text[:100]), shard(text[:50]))
tokens("count_mismatch", 8, 256, 0, 0, 0, shard(text[:100], count=101), shard(text[:50]))
PY
}

# tokenizer_load: small tokenizer.json files, trained (by the tokenizers
# package, on the fortunes) and written here, valid and refused;
# tokenizer_encode: texts after the harness's settings byte (bit 0: plain,
# bit 1: encode twice); and tokenizer_fortunes.json, the tokenizer the
# encoder harness loads.
seeds_tokenizer() {
    mkdir -p "$1"/{tokenizer_load,tokenizer_encode}
    "${PYTHON:-../../.venv/bin/python}" - "$1" <<'PY'
import copy, glob, json, os, sys
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

out = sys.argv[1]
F = "/usr/share/games/fortunes"
files = sorted(p for p in glob.glob(F + "/*") if os.path.isfile(p) and not p.endswith((".dat", ".u8")))

def train(vocab):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train(files, trainers.BpeTrainer(vocab_size=vocab, special_tokens=["<|endoftext|>"],
                                         show_progress=False,
                                         initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return tok

def write(path, b):
    with open(path, "wb") as f:
        f.write(b)

def dump(path, doc):
    write(path, json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode())

# the encoder's tokenizer: 1,000 tokens and added tokens of both passes
tok = train(1000)
tok.add_special_tokens(["<|end"])
tok.add_tokens([AddedToken(" world", normalized=True), AddedToken("the", normalized=True)])
dump("tokenizer_fortunes.json", json.loads(tok.to_str()))

# tokenizer_load: 300 tokens as trained, in the older merges' form with
# ignore_merges, and a hand-made one of the 256 bytes and three merges
small = json.loads(train(300).to_str())
dump(f"{out}/tokenizer_load/trained_300.json", small)
legacy = copy.deepcopy(small)
legacy["model"]["merges"] = ["#version: 0.2"] + [" ".join(m) for m in legacy["model"]["merges"]]
legacy["model"]["ignore_merges"] = True
dump(f"{out}/tokenizer_load/legacy_ignore_merges.json", legacy)
alphabet = sorted(pre_tokenizers.ByteLevel.alphabet(), key=ord)
vocab = {c: i for i, c in enumerate(alphabet)}
for a, b in [("Ġ", "t"), ("h", "e"), ("Ġt", "he")]:
    vocab[a + b] = len(vocab)
def added(id, content, normalized, special):
    return {"id": id, "content": content, "single_word": False, "lstrip": False,
            "rstrip": False, "normalized": normalized, "special": special}
byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
              "use_regex": True}
tiny = {"version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [added(len(vocab), "<|endoftext|>", False, True),
                         added(vocab["he"], "he", True, False)],
        "normalizer": None, "pre_tokenizer": byte_level, "post_processor": byte_level,
        "decoder": byte_level,
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None, "fuse_unk": False,
                  "byte_fallback": False, "ignore_merges": False, "vocab": vocab,
                  "merges": [["Ġ", "t"], ["h", "e"], ["Ġt", "he"]]}}
dump(f"{out}/tokenizer_load/tiny.json", tiny)

def refused(name, change):
    d = copy.deepcopy(tiny)
    change(d)
    dump(f"{out}/tokenizer_load/refused_{name}.json", d)

refused("normalizer", lambda d: d.update(normalizer={"type": "NFC"}))
refused("prefix_space", lambda d: d["pre_tokenizer"].update(add_prefix_space=True))
refused("wordpiece", lambda d: d["model"].update(type="WordPiece"))
refused("lstrip", lambda d: d["added_tokens"][0].update(lstrip=True))
refused("added_id", lambda d: d["added_tokens"][0].update(id=7))
refused("merge_unknown", lambda d: d["model"]["merges"].append(["Ġ", "zz"]))
refused("no_newline", lambda d: d["model"]["vocab"].pop("Ċ"))
refused("duplicate_id", lambda d: d["model"]["vocab"].update(x=3))

# tokenizer_encode: [settings] + text
with open(f"{F}/art", "rb") as f:
    english = f.read(1500)
with open(f"{F}/chinese", "rb") as f:
    chinese = f.read(1500).decode(errors="ignore").encode()
texts = {
    "english": (0, english),
    "english_plain_twice": (3, english),
    "chinese_twice": (2, chinese),
    "scripts_emoji": (0, "Привет мир 你好 👨‍👩‍👧‍👦 🇫🇷 1️⃣ नमस्ते e\u0301 \u00a0\u3000\u2028 "
                         "\U00031350 ½ ٣٤ 🤖".encode()),
    "added": (0, b"<|endoftext|>the world<|end<|endoftext|>there, world!<|endof"),
    "added_plain": (1, b"<|endoftext|>the world<|end<|endoftext|>"),
    "spaces": (0, b"a  b   \n\n\t\t x \r\n  \x0b\x0c end   "),
    "contractions": (2, b"it's I'm we'll you've they're he'd can't IT'S 'S' ''s"),
    "invalid": (0, b"ok \xff\xfe\x80 \xe4\xbd mid\xc0\xafword \xed\xa0\x80 \xf4\x90\x80\x80 end\xe4"),
    "digits": (0, b"3.14159 1,000,000 0x7f 2024-12-07 42nd"),
}
for name, (settings, text) in texts.items():
    write(f"{out}/tokenizer_encode/{name}", bytes([settings]) + text)
PY
}

if [ "${1:-}" = --tokenizer ]; then # these alone: they need the tokenizers package
    cd "$(dirname "$0")"
    rm -rf corpus/tokenizer_load corpus/tokenizer_encode
    seeds_tokenizer corpus
    exit 0
fi
if [ "${1:-}" = --lm ]; then # these two alone: they need nothing built
    cd "$(dirname "$0")"
    rm -rf corpus/text corpus/tokens
    seeds_lm corpus
    exit 0
fi
make_ckpt_seed=$(realpath "$1")
cd "$(dirname "$0")"
fashion=/usr/share/datasets/fashion-mnist
out=corpus
rm -rf "$out"
mkdir -p "$out"/{config,idx,cifar,hdf5_data,checkpoint}

# config: the shipped configs, the bad ones the CLI tests expect errors
# from, and one of every layer type.
cp ../../configs/*.ini "$out/config/"
for f in ../cli/bad/*.ini; do cp "$f" "$out/config/bad_$(basename "$f")"; done
cat >"$out/config/every_layer.ini" <<'INI'
[run]
name = every_layer
seed = 1
[data]
format = hdf5
shape = 1,28,28
layout = nchw
[optimizer]
type = adamw
schedule = cosine
[layer]
name = c1
type = conv2d
filters = 4
size = 3
stride = 2
padding = 1
init = he_uniform
[layer]
type = batchnorm
sync = true
[layer]
type = avgpool
size = 2
[layer]
type = conv2d
filters = 4
size = 1
[layer]
type = residual
from = c1
[layer]
type = global_avgpool
[layer]
type = flatten
[layer]
type = dropout
rate = 0.25
[layer]
type = dense
units = 10
activation = none
init = glorot_uniform
INI
# a [repeat] group (the GPT configs have one too) and a key given twice in
# one, which is refused as in every other section
cat >"$out/config/repeat.ini" <<'INI'
[data]
format = text
test =
[layer]
type = embedding
vocab = 256
units = 8
block_size = 4
[repeat]
name = h
count = 2
[layer]
type = layernorm
[layer]
type = attention
heads = 2
[layer]
type = residual
from = -2
[end]
[layer]
type = dense
units = 256
INI
sed 's/^count = 2$/count = 2\ncount = 3/' "$out/config/repeat.ini" >"$out/config/bad_repeat_twice.ini"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# checkpoint: a real one from make_ckpt_seed (the model of
# fuzz_ckpt_model.h); the rest derive from it below.
"$make_ckpt_seed" "$tmp" >/dev/null

/usr/bin/python3 - "$fashion" "$out" "$tmp/ckpt-2.h5" <<'PY'
import gzip, shutil, struct, sys
import h5py, numpy as np

fashion, out, ckpt = sys.argv[1:]

def gz(b):
    return gzip.compress(b, mtime=0)

def write(path, b):
    with open(path, "wb") as f:
        f.write(b)

# idx: 2 bytes (big-endian) of the images file's length, the images file,
# the labels file (see fuzz_idx.c): the header and 3 images of t10k.
with gzip.open(f"{fashion}/t10k-images-idx3-ubyte.gz") as f:
    head = f.read(16)
    pixels = f.read(3 * 28 * 28)
with gzip.open(f"{fashion}/t10k-labels-idx1-ubyte.gz") as f:
    f.read(8)
    labels = f.read(3)
images = struct.pack(">IIII", 0x803, 3, 28, 28) + pixels
labs = struct.pack(">II", 0x801, 3) + labels
def idx(im, lb):
    return struct.pack(">H", len(im)) + im + lb
write(f"{out}/idx/raw_raw", idx(images, labs))
write(f"{out}/idx/gz_gz", idx(gz(images), gz(labs)))
write(f"{out}/idx/gz_raw", idx(gz(images), labs))
# one image of 4 x 2, labels raw: the smallest shape
write(f"{out}/idx/tiny", idx(struct.pack(">IIII", 0x803, 1, 4, 2) + bytes(range(8)),
                             struct.pack(">II", 0x801, 1) + b"\x07"))

# cifar: records of one label byte and 3072 pixel bytes.
def cifar(labels):
    return b"".join(bytes([l]) + bytes((i * 7 + l) % 256 for i in range(3072)) for l in labels)
write(f"{out}/cifar/two", cifar([3, 9]))
write(f"{out}/cifar/three", cifar([0, 5, 1]))

# hdf5_data: images and labels as the reader takes them (dataset_hdf5.c).
imgs = np.frombuffer(pixels, np.uint8).reshape(3, 1, 28, 28)
lab = np.frombuffer(labels, np.uint8)
with h5py.File(f"{out}/hdf5_data/u8_nchw.h5", "w", libver="earliest") as f:
    f["images"] = imgs
    f["labels"] = lab.astype(np.int64)
with h5py.File(f"{out}/hdf5_data/f32_nhwc_chunked.h5", "w", libver="earliest") as f:
    x = (np.arange(2 * 4 * 4 * 3, dtype=np.float32) / 96).reshape(2, 4, 4, 3)
    f.create_dataset("images", data=x, chunks=(1, 4, 4, 3), compression="gzip")
    f["labels"] = np.array([1, 0], np.uint8)
with h5py.File(f"{out}/hdf5_data/u8_latest.h5", "w", libver="latest") as f:
    f.create_dataset("images", data=np.arange(2 * 3 * 4 * 4, dtype=np.uint8).reshape(2, 3, 4, 4),
                     chunks=(1, 3, 4, 4))
    f["labels"] = np.array([2, 1], np.int32)

# checkpoint: the whole file (its first byte, 'a', is odd: read as is), and
# its HDF5 part after a 0 byte (even: fuzz_checkpoint seals it anew). Then
# HDF5 parts changed one way each, for ckpt_read's checks behind the CRC.
shutil.copy(ckpt, f"{out}/checkpoint/whole.h5")
with open(ckpt, "rb") as f:
    whole = f.read()
write(f"{out}/checkpoint/sealed", b"\0" + whole[512:])

def variant(name, change):
    path = f"{out}/checkpoint/{name}.tmp"
    write(path, whole)
    with h5py.File(path, "r+") as f:
        change(f)
    with open(path, "rb") as f:
        b = f.read()
    import os
    os.remove(path)
    write(f"{out}/checkpoint/{name}", b"\0" + b[512:])

def set_attr_array(f):
    f.attrs["step"] = np.array([2, 3], np.int64)
def nan_weight(f):
    w = f["model/head/weight"]
    a = w[...]; a.flat[0] = np.nan; w[...] = a
def negative_v(f):
    v = f["optimizer/v/conv/weight"]
    a = v[...]; a.flat[1] = -1; v[...] = a
def extra_layer(f):
    f["model/ghost/weight"] = np.zeros((1, 1), np.float32)
def missing_bias(f):
    del f["optimizer/m/head/bias"]
def bad_state(f):
    f.attrs["samples_seen"] = np.int64(1 << 40)
variant("attr_array", set_attr_array)
variant("nan_weight", nan_weight)
variant("negative_v", negative_v)
variant("extra_layer", extra_layer)
variant("missing_bias", missing_bias)
variant("bad_state", bad_state)
PY
seeds_lm "$out"
seeds_tokenizer "$out"
du -sh "$out"
find "$out" -type f | wc -l
