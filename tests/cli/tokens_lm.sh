#!/bin/bash
# Token shards in llm.c's format (data.format = tokens), made from real
# text (Debian's fortunes) by trainer/scripts/text_shards.py: a model
# trained on one shard of a text's bytes is bitwise the one trained on the
# text itself (data.test's validation shard, or the val_fraction fallback),
# the windows read are the text's bytes, it learns; over several shards 2
# ranks make the updates 1 rank does and resume is bitwise, also across a
# shard boundary; bad shards get one line each, naming the file and offset.
prog=$1 src=$2 diff=$3
source "$(dirname "$0")/lib.sh"
py=${ACCEL_TEST_SYSPYTHON:-/usr/bin/python3}
"$py" -c 'import numpy' 2>/dev/null ||
    { echo "SKIPPED: $py lacks numpy (apt-get install python3-numpy)"; exit 77; }
FORTUNES=${FORTUNES_DIR:-/usr/share/games/fortunes}
[ -f "$FORTUNES/art" ] && [ -f "$FORTUNES/debian" ] ||
    { echo "SKIPPED: no fortunes in $FORTUNES (apt-get install fortunes)"; exit 77; }
shards() { "$py" "$src/trainer/scripts/text_shards.py" "$@" >/dev/null || fail "text_shards.py $*"; }

mkdir text
cp "$FORTUNES/art" "$FORTUNES/debian" text/ # 100,942 bytes of English
# text_lm.sh's model and settings, whose tolerances hold here: its
# write_gpt_config call, run here without its data.exclude
source <(sed -n '/^write_gpt_config lm.ini/,/^INI$/p' "$src/tests/cli/text_lm.sh" |
    sed 's/^exclude = .*//')
grep -q '^block_size = 16$' lm.ini || fail "text_lm.sh's model changed: no block_size 16"
text=(--set data.format=text --set data.train=text)
tok=(--set data.format=tokens)

# One shard of the text's training part, one of its validation part: the
# same windows, the same order, the same model.
shards --val_fraction 0.1 one text
shards whole text
[ -f one_train_000000.bin ] && [ -f one_val_000000.bin ] && [ -f whole_train_000000.bin ] ||
    fail "text_shards.py: no shards written"
[ "$(stat -c %s whole_train_000000.bin)" -eq $((1024 + 2 * 100942)) ] ||
    fail "text_shards.py: the shard is not 1024 + 2 x 100,942 bytes"
run lm.ini "${PIN[@]}" "${text[@]}" --set run.dir=plain --set train.max_steps=60
[ $rc -eq 0 ] || fail "text: exit $rc"
run lm.ini "${PIN[@]}" "${tok[@]}" --set run.dir=one --set train.max_steps=60 \
    --set data.train=one_train_000000.bin --set data.test=one_val_000000.bin
[ $rc -eq 0 ] || fail "tokens, data.test: exit $rc"
ckpt_same plain/checkpoints/ckpt-60.h5 one/checkpoints/ckpt-60.h5 ||
    fail "the shards' model differs from the text's"
run lm.ini "${PIN[@]}" "${tok[@]}" --set run.dir=whole --set train.max_steps=60 \
    --set data.train=whole_train_000000.bin
[ $rc -eq 0 ] || fail "tokens, val_fraction: exit $rc"
ckpt_same plain/checkpoints/ckpt-60.h5 whole/checkpoints/ckpt-60.h5 ||
    fail "the val_fraction shard's model differs from the text's"
val() { grep '"split":"val"' "$1/metrics.jsonl" | tail -1 | sed 's/.*"loss":\([^,]*\),.*/\1/'; }
[ -n "$(val plain)" ] && [ "$(val one)" = "$(val plain)" ] && [ "$(val whole)" = "$(val plain)" ] ||
    fail "validation losses $(val one), $(val whole), the text's $(val plain)"
echo "ok: one shard trains bitwise as the text does, validation loss $(val one) as the text's"

# The windows read are the text's bytes: --predict's inputs and targets are
# the validation part's first bytes, and its shard's.
len=100942 cut=$((100942 - 10094))
run lm.ini "${PIN[@]}" "${tok[@]}" --set data.train=one_train_000000.bin \
    --set data.test=one_val_000000.bin --set data.eval_tokens=64 \
    --eval one/checkpoints/ckpt-60.h5 --predict pred.h5
[ $rc -eq 0 ] || fail "--eval --predict: exit $rc"
grep -q "on 4 validation windows of 16 tokens" out.txt || fail "--eval: not 4 windows"
for set in inputs:1 targets:2; do
    h5dump -d /${set%:*} -y -w 0 pred.h5 | sed -n '/DATA {/,/}/p' | tr -cs '0-9' '\n' | grep . \
        >$set.txt
    cat text/art text/debian | tail -c +$((cut + ${set#*:})) | head -c 64 | od -An -v -tu1 |
        tr -s ' ' '\n' | grep . | cmp -s - $set.txt ||
        fail "--predict: the ${set%:*} are not the text's bytes"
    tail -c +$((1024 + 1 + 2 * (${set#*:} - 1))) one_val_000000.bin | head -c 128 | od -An -v -tu2 |
        tr -s ' ' '\n' | grep . | cmp -s - $set.txt ||
        fail "--predict: the ${set%:*} are not the shard's tokens"
done
echo "ok: the windows read are the text's bytes"

# It learns: 300 steps take the validation loss from ln 256 (5.55 nats)
# to under 4 (measured: 3.56; the validation part is the debian file's end,
# another register than art's, where the training loss is near 2.7).
shards --val_fraction 0.1 --shard_tokens 30000 many text # 4 training shards, 1 validation
[ "$(ls many_train_*.bin | wc -l)" -eq 4 ] && [ "$(ls many_val_*.bin | wc -l)" -eq 1 ] ||
    fail "text_shards.py --shard_tokens 30000: not 4 + 1 shards"
many=("${tok[@]}" --set 'data.train=many_train_*.bin' --set data.test=many_val_000000.bin)
run lm.ini "${PIN[@]}" "${many[@]}" --set run.dir=learn --set train.max_steps=300 \
    --set train.eval_every=300 --set checkpoint.every_steps=300
[ $rc -eq 0 ] || fail "learning: exit $rc"
awk -v l="$(val learn)" 'BEGIN { exit !(l != "" && l < 4.0) }' ||
    fail "validation loss $(val learn) after 300 steps: not learned"
echo "ok: 4 shards learned, validation loss $(val learn) nats after 300 steps"

# Several shards: the order is a function of (seed, epoch), not of the
# ranks (tolerances as text_lm's, for the same model), and resume is bitwise.
run lm.ini "${PIN[@]}" "${many[@]}" --set run.dir=full
[ $rc -eq 0 ] || fail "4 shards, 120 steps: exit $rc"
mpi 2 "$prog" lm.ini "${PIN[@]}" "${many[@]}" --set run.dir=two --set train.max_steps=60 \
    >out.txt 2>err.txt || fail "2 ranks: exit $?"
"$diff" full/checkpoints/ckpt-60.h5 two/checkpoints/ckpt-60.h5 0.05 0.995 5e-6 ||
    fail "2 ranks differ from 1 over 4 shards"
echo "ok: 2 ranks equal 1 over 4 shards"
run lm.ini "${PIN[@]}" "${many[@]}" --set run.dir=part --set train.max_steps=60
run lm.ini "${PIN[@]}" "${many[@]}" --set run.dir=part --resume auto
[ $rc -eq 0 ] || fail "resumed: exit $rc"
ckpt_same full/checkpoints/ckpt-120.h5 part/checkpoints/ckpt-120.h5 ||
    fail "resumed over 4 shards differs from the uninterrupted run"
echo "ok: resume over 4 shards is bitwise"
# In order (no shuffling), shards of 400 tokens hold 384 windows, 48
# steps of 8: a run resumed at step 40 crosses into the second shard at 48.
head -c 4000 text/art >small.txt
shards --shard_tokens 400 small small.txt
small=("${tok[@]}" --set 'data.train=small_train_*.bin' --set data.test=small_train_000009.bin
    --set data.shuffle=false --set checkpoint.every_steps=40)
run lm.ini "${PIN[@]}" "${small[@]}" --set run.dir=seq --set train.max_steps=80
[ $rc -eq 0 ] || fail "in order: exit $rc"
run lm.ini "${PIN[@]}" "${small[@]}" --set run.dir=seqpart --set train.max_steps=40
run lm.ini "${PIN[@]}" "${small[@]}" --set run.dir=seqpart --set train.max_steps=80 --resume auto
[ $rc -eq 0 ] && grep -q "resuming from .*ckpt-40.h5: step 40" out.txt ||
    fail "in order: not resumed from step 40"
ckpt_same seq/checkpoints/ckpt-80.h5 seqpart/checkpoints/ckpt-80.h5 ||
    fail "resumed across a shard boundary differs"
echo "ok: resume across a shard boundary is bitwise"

# Bad shards: one line each, naming the file (and the offset), exit 1, no
# checkpoint.
"$py" - <<'PY' || fail "writing the bad shards"
import numpy as np
def shard(path, tokens, magic=20240520, version=1, count=None, header_bytes=1024):
    h = np.zeros(256, "<i4")
    h[:3] = (magic, version, len(tokens) if count is None else count)
    with open(path, "wb") as f:
        f.write(h.tobytes()[:header_bytes])
        if header_bytes == 1024:
            f.write(np.asarray(tokens, "<u2").tobytes())
good = np.frombuffer(open("text/debian", "rb").read(), np.uint8)[:1000]
shard("magic.bin", good, magic=20240521)
shard("version.bin", good, version=2)
shard("count.bin", good, count=1001)
shard("short.bin", good, header_bytes=100)
bad = good.astype(np.uint16)
bad[5] = 300
shard("token.bin", bad)
PY
bad() { # FILE PATTERN [ARGS]: data.train = FILE fails with PATTERN
    local f=$1 pattern=$2
    shift 2
    expect_fail 1 "$pattern" lm.ini "${tok[@]}" --set data.train=$f --set run.dir=bad_$f "$@"
    [ ! -e bad_$f/checkpoints/ckpt-0.h5 ] && [ -z "$(ls bad_$f/checkpoints 2>/dev/null)" ] ||
        fail "$f: a checkpoint was written"
}
bad magic.bin "data.train: magic.bin: not a token shard: magic 20240521 at offset 0, expected 20240520$"
bad version.bin "data.train: version.bin: version 2 at offset 4, expected 1 \\(uint16 tokens\\)$"
bad count.bin "data.train: count.bin: the header's token count, 1001 at offset 8, makes 3026 bytes, but the file has 3024$"
bad short.bin "data.train: short.bin: 100 bytes, shorter than a token shard's header of 1024$"
bad token.bin "step 1: data.train: token.bin: token 300 at offset 1034 is not below the vocabulary, 256 \\(the embedding's vocab\\)$" \
    --set data.shuffle=false
expect_fail 1 "evaluation: data.test: token.bin: token 300 at offset 1034 is not below the vocabulary, 256" \
    lm.ini "${many[@]}" --set data.test=token.bin --set train.max_steps=2 --set run.dir=bad_val
[ -z "$(ls bad_val/checkpoints 2>/dev/null)" ] || fail "bad validation token: a checkpoint was written"
expect_fail 1 "data.test: cannot open nowhere.bin" lm.ini "${many[@]}" --set data.test=nowhere.bin
expect_fail 1 "data.train: no file matches x_\\*.bin" lm.ini "${tok[@]}" --set 'data.train=x_*.bin'
expect_fail 1 "data.train = small_train_000000.bin: its validation part \\(val_fraction 0.01\\), 4 tokens, has no window of 17" \
    lm.ini "${tok[@]}" --set data.train=small_train_000000.bin --set data.val_fraction=0.01
sed '0,/type = embedding/s//type = dense/; /^vocab\|^block_size/d' lm.ini >dense_first.ini
expect_fail 1 "data.format = tokens: the first layer must be an embedding" dense_first.ini \
    "${many[@]}"
echo "tokens_lm: ok"
