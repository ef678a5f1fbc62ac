#!/bin/bash
# A byte-level language model on text files (data.format = text): it
# learns a repeating text (its validation loss falls far below a byte's 8
# bits), reports bits per byte, counts its validation windows at start-up,
# resumes bitwise and on another rank count, 2 and 4 ranks and as many
# micro-batches make the updates 1 rank does;
# data.eval_tokens evaluates the validation split's first windows only;
# --eval reports the validation loss the run logged and --predict writes
# the windows' logits; it continues its text when asked (--generate); bad
# text input gets one line each.
prog=$1 src=$2 diff=$3
source "$(dirname "$0")/lib.sh"

mkdir text
for i in $(seq 1 300); do
    echo "the quick brown fox $((i % 7)) jumps over the lazy dog; 狐狸跳过了懒狗。"
done >text/a.txt
head -c 2000 text/a.txt >text/b.txt
echo "not this one" >text/skip.dat

write_gpt_config lm.ini dropout=0.1 <<'INI'
[run]
name = lm
seed = 3
[data]
format = text
train = text
exclude = *.dat
test =
val_fraction = 0.1
batch_size = 8
eval_batch_size = 16
[train]
max_steps = 120
log_every = 20
eval_every = 60
[optimizer]
type = adamw
lr = 0.01
weight_decay = 0.1
clip_norm = 1.0
[checkpoint]
every_steps = 60
keep = 5
INI

run lm.ini "${PIN[@]}" --set run.dir=full
[ $rc -eq 0 ] || fail "training: exit $rc"
grep -Eq '^data: [0-9]+ train, [0-9]+ validation windows of 16 tokens; batch 8;' out.txt ||
    fail "the start-up line does not count the validation windows of 16 tokens"
grep -q 'val loss .* bits/byte' out.txt || fail "no validation line with bits per byte"
grep -q '"split":"val".*"bits_per_byte"' full/metrics.jsonl || fail "no bits_per_byte in metrics"
bpb=$(grep '"split":"val"' full/metrics.jsonl | tail -1 | sed 's/.*"bits_per_byte":\([0-9.e+-]*\).*/\1/')
awk -v b="$bpb" 'BEGIN { exit !(b < 2.0) }' || fail "final validation $bpb bits/byte: not learned"
echo "ok: the repeating text learned, $bpb bits/byte"

# Exact resume: 60 steps, then the rest from the checkpoint.
run lm.ini "${PIN[@]}" --set run.dir=part --set train.max_steps=60
[ $rc -eq 0 ] || fail "first part: exit $rc"
run lm.ini "${PIN[@]}" --set run.dir=part --resume auto
[ $rc -eq 0 ] || fail "resumed part: exit $rc"
ckpt_same full/checkpoints/ckpt-120.h5 part/checkpoints/ckpt-120.h5 ||
    fail "resumed run differs from the uninterrupted one"
echo "ok: resume is bitwise"

# 2 and 4 ranks, each its share of the batch: the same updates up to rounding. Not
# ckpt_close: the keys' third of c_attn.bias (32 of the 25,696 values, 0.12%)
# has a gradient that is exactly 0 in exact arithmetic (a softmax ignores a
# shift of every key's score by the same q.b), so Adam turns its rounding
# noise into steps of up to lr. Measured after 60 steps: the keys' biases
# differ by up to 5.4e-3 (2.0e-3 on a later build), while 99.5% of the
# values are within 5.4e-7 (1.1e-6 on the later build: lr 0.01 on a tiny
# model amplifies rounding): the test allows 5e-6.
# ... and so does 1 rank in as many micro-batches as there are ranks (the
# attention's dropout masks keyed by the global row, as the ranks' are)
for n in 2 4; do
    mpi $n "$prog" lm.ini "${PIN[@]}" --set run.dir=ranks$n --set train.max_steps=60 >out.txt 2>err.txt ||
        fail "$n ranks: exit $?"
    "$diff" full/checkpoints/ckpt-60.h5 ranks$n/checkpoints/ckpt-60.h5 0.05 0.995 5e-6 ||
        fail "$n ranks differ from 1"
    run lm.ini "${PIN[@]}" --set run.dir=accum$n --set train.max_steps=60 --set train.grad_accum=$n
    [ $rc -eq 0 ] || fail "grad_accum $n: exit $rc"
    "$diff" ranks$n/checkpoints/ckpt-60.h5 accum$n/checkpoints/ckpt-60.h5 0.05 0.995 5e-6 ||
        fail "$n micro-batches differ from $n ranks"
    echo "ok: $n ranks equal 1, and $n micro-batches equal $n ranks"
done
# Resume on another rank count: 1 rank's step 60 taken on by 2 ranks
mkdir -p other/checkpoints && cp full/checkpoints/ckpt-60.h5 other/checkpoints/
mpi 2 "$prog" lm.ini "${PIN[@]}" --set run.dir=other --resume auto >out.txt 2>err.txt ||
    fail "resumed on 2 ranks: exit $?"
grep -q "resuming from .*ckpt-60.h5: step 60" out.txt || fail "2 ranks did not resume from step 60"
"$diff" full/checkpoints/ckpt-120.h5 other/checkpoints/ckpt-120.h5 0.05 0.995 5e-6 ||
    fail "resumed on 2 ranks differs from 1 rank throughout"
echo "ok: 1 rank's checkpoint resumed on 2 ranks"

# --eval of a checkpoint: the validation loss the run logged at its step
# (metrics.jsonl; within 1e-6 relative, to the digits both print), also in
# bits per byte, with the accuracy and a table by position in the window.
logged() { # RUN STEP: the validation loss RUN logged at STEP
    grep "\"split\":\"val\".*\"step\":$2," "$1/metrics.jsonl" | sed 's/.*"loss":\([^,]*\),.*/\1/'
}
evaluated() { # WINDOWS: the loss of --eval's summary line over WINDOWS windows
    sed -nE "s/^.* on $1 validation windows of 16 tokens: loss ([0-9.e+-]+) \\(([0-9.]+) bits\\/byte\\) accuracy [0-9.]+\$/\\1/p" out.txt
}
same_loss() {
    awk -v a="$1" -v b="$2" 'BEGIN { d = (a - b) / b; exit !(a != "" && b != "" && d < 1e-6 && d > -1e-6) }'
}
len=$(cat text/a.txt text/b.txt | wc -c)
cut=$(awk -v n="$len" 'BEGIN { print n - int(n * 0.1) }') # where the validation part starts
windows=$(((len - cut - 1) / 16))
for at in full:60 full:120 ranks2:60 ranks4:60; do
    dir=${at%:*} step=${at#*:}
    run lm.ini "${PIN[@]}" --eval $dir/checkpoints/ckpt-$step.h5
    [ $rc -eq 0 ] || fail "--eval of $dir's step $step: exit $rc"
    loss=$(evaluated $windows)
    same_loss "$loss" "$(logged $dir $step)" ||
        fail "--eval of $dir's step $step: loss '$loss', the run logged '$(logged $dir $step)'"
    echo "ok: --eval of $dir's step $step: loss $loss, as logged"
done
grep -Eq '^ +8-15 +'$((windows * 8))' +[0-9.]+ +[0-9.]+ +[01]\.[0-9]{4}$' out.txt ||
    fail "--eval: no line for positions 8-15 in the table by position"
run lm.ini "${PIN[@]}" --eval full/checkpoints/ckpt-120.h5 --predict pred.h5
[ $rc -eq 0 ] && grep -q '^predictions in pred.h5$' out.txt || fail "--predict: exit $rc"
h5dump -H pred.h5 | grep -A2 'DATASET "logits"' | grep -q "H5T_IEEE_F32LE" ||
    fail "--predict: the logits are not float32"
h5dump -H pred.h5 | grep -A3 'DATASET "logits"' | grep -q "( $windows, 16, 256 )" ||
    fail "--predict: no logits ($windows, 16, 256)"
for set in inputs targets; do
    h5dump -H pred.h5 | grep -A3 "DATASET \"$set\"" | grep -q "( $windows, 16 )" ||
        fail "--predict: no $set ($windows, 16)"
done
# the inputs are the validation part's bytes, window after window, and the
# targets the same one byte on
for set in inputs:1 targets:2; do
    h5dump -d /${set%:*} -y -w 0 pred.h5 | sed -n '/DATA {/,/}/p' | tr -cs '0-9' '\n' | grep . |
        head -48 >$set.txt
    cat text/a.txt text/b.txt | tail -c +$((cut + ${set#*:})) | head -c 48 | od -An -v -tu1 |
        tr -s ' ' '\n' | grep . | cmp -s - $set.txt ||
        fail "--predict: the ${set%:*} are not the validation part's first windows"
done
expect_fail 1 "--eval of a language model reads its validation split, and data.val_fraction is 0" \
    lm.ini --set data.val_fraction=0 --eval full/checkpoints/ckpt-120.h5
echo "ok: --eval and --predict of a language model"

# data.eval_tokens = 100: the validation split's first 6 windows of 16. A
# run with it trains as before and logs another loss, the one --eval finds
# for those 6 windows alone: they are the whole validation split of a
# stream made of 97 other bytes and their 97 (val_fraction 0.5).
run lm.ini "${PIN[@]}" --set run.dir=first6 --set train.max_steps=60 --set data.eval_tokens=100
[ $rc -eq 0 ] || fail "data.eval_tokens = 100: exit $rc"
ckpt_same full/checkpoints/ckpt-60.h5 first6/checkpoints/ckpt-60.h5 ||
    fail "data.eval_tokens changed the training"
six=$(logged first6 60)
same_loss "$six" "$(logged full 60)" && fail "data.eval_tokens = 100: the whole split's loss, $six"
{ head -c 97 text/a.txt; cat text/a.txt text/b.txt | tail -c +$((cut + 1)) | head -c 97; } >six.txt
run lm.ini "${PIN[@]}" --set data.train=six.txt --set data.val_fraction=0.5 \
    --eval first6/checkpoints/ckpt-60.h5
[ $rc -eq 0 ] || fail "--eval on the 6 windows: exit $rc"
same_loss "$(evaluated 6)" "$six" ||
    fail "data.eval_tokens = 100 logged loss $six, the 6 windows' is '$(evaluated 6)'"
run lm.ini "${PIN[@]}" --set data.eval_tokens=100 --eval first6/checkpoints/ckpt-60.h5 \
    --predict six.h5
same_loss "$(evaluated 6)" "$six" || fail "--eval with data.eval_tokens = 100: '$(evaluated 6)'"
h5dump -H six.h5 | grep -A3 'DATASET "logits"' | grep -q "( 6, 16, 256 )" ||
    fail "--predict with data.eval_tokens = 100: no logits (6, 16, 256)"
echo "ok: data.eval_tokens = 100 evaluates 6 windows: loss $six (the whole split's $(logged full 60))"
expect_fail 1 "data.eval_tokens = 15 is less than a window of 16 tokens \\(block_size\\): set at least 16, or 0 for the whole validation split" \
    lm.ini --set data.eval_tokens=15 --set run.dir=tiny
[ ! -e tiny ] || fail "a run refused for data.eval_tokens wrote its directory"

# Generation: the trained model continues its text (greedy), past its
# window of 16 (the cache starts again from the window's last half), and
# the same seed draws the same text.
run lm.ini --generate full/checkpoints/ckpt-120.h5 --prompt "the quick brown" --tokens 60 \
    --temperature 0
[ $rc -eq 0 ] || fail "--generate: exit $rc"
grep -q "fox [0-9] jumps over the" out.txt || fail "the continuation is not the text's"
echo "ok: generated '$(head -c 60 out.txt | tr '\n' ' ')'"
cp out.txt greedy.txt
# a subnormal temperature is a temperature (the likeliest token, as 0 picks)
run lm.ini --generate full/checkpoints/ckpt-120.h5 --prompt "the quick brown" --tokens 60 \
    --temperature 4e-320
[ $rc -eq 0 ] && cmp -s out.txt greedy.txt || fail "--temperature 4e-320: exit $rc, or not 0's text"
run lm.ini --generate full/checkpoints/ckpt-120.h5 --tokens 50 --top_k 5 --seed 9
cp out.txt sample1.txt
run lm.ini --generate full/checkpoints/ckpt-120.h5 --tokens 50 --top_k 5 --seed 9
cmp -s out.txt sample1.txt || fail "the same seed drew another text"
run lm.ini --generate full/checkpoints/ckpt-120.h5 --prompt "$(printf 'x%.0s' $(seq 1 20))" \
    --tokens 5
[ $rc -eq 0 ] && grep -q "note: the prompt's 20 bytes are more than block_size, 16" err.txt ||
    fail "a long prompt is not cut with a note"
expect_fail 1 "--generate needs a language model" "$src/configs/fashion_mlp.ini" \
    --generate full/checkpoints/ckpt-120.h5
expect_fail 2 "--tokens 0: expected a whole number from 1 to 16777216" lm.ini --generate x --tokens 0
echo "ok: generation"

expect_fail 1 "data.train = text: its validation part .* is shorter than a window of 17" \
    lm.ini --set data.val_fraction=0.0005
expect_fail 1 "data.format = text takes its validation split from the end of data.train" \
    lm.ini --set data.test=text/a.txt
expect_fail 1 "data.train: cannot open nowhere" lm.ini --set data.train=nowhere
expect_fail 1 "data.train: no file matches text/\\*.md" lm.ini --set 'data.train=text/*.md'
expect_fail 1 "data.train = text: no text files \\(after data.exclude\\)" lm.ini \
    --set 'data.exclude=*.txt,*.dat'
sed '0,/type = embedding/s//type = dense/; /^vocab\|^block_size/d' lm.ini >dense_first.ini
expect_fail 1 "data.format = text: the first layer must be an embedding" dense_first.ini
echo "text_lm: ok"
