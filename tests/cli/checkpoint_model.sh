#!/bin/bash
# A checkpoint is evaluated, generated from and resumed only as the model it
# holds: a config whose layers compute something else (attention heads, an
# activation, a layer norm's eps) is refused in one line naming the layer,
# the key and both values, on one rank and on two, before anything is
# written; a key that shapes training alone (a dropout rate) counts for a
# resume only, where --allow-change LAYER.KEY lets it differ on purpose.
prog=$1
source "$(dirname "$0")/lib.sh"

for i in $(seq 1 200); do echo "the quick brown fox $((i % 7)) jumps over the lazy dog"; done >a.txt
# two blocks of a [repeat], so layer names hold dots (h.1.attn)
write_gpt_config lm.ini blocks=2 dropout=0.1 named <<'INI'
[run]
name = lm
seed = 3
threads = 1
[data]
format = text
train = a.txt
test =
batch_size = 8
[train]
max_steps = 20
log_every = 10
[checkpoint]
every_steps = 10
INI
run lm.ini --set run.dir=r
[ $rc -eq 0 ] || fail "training: exit $rc"
ck=r/checkpoints/ckpt-20.h5
cp -a r keep

# unchanged: the checkpoints and nothing else in the run directory
untouched() {
    diff -r keep r >/dev/null || fail "$1: the run directory changed"
}

# Another function: every command refuses it.
keep_text="a checkpoint is read only into the model it holds"
heads="checkpoint $ck: layer 'h.1.attn' \\(attention\\): heads is 4 in the checkpoint, 8 in the config; $keep_text"
expect_fail 1 "$heads" lm.ini --set h.1.attn.heads=8 --eval $ck
expect_fail 1 "$heads" lm.ini --set h.1.attn.heads=8 --eval $ck --predict p.h5
[ ! -e p.h5 ] || fail "a refused --predict wrote its file"
expect_fail 1 "$heads" lm.ini --set h.1.attn.heads=8 --generate $ck --tokens 5
expect_fail 1 "--resume: $heads" lm.ini --set run.dir=r --set h.1.attn.heads=8 --resume $ck
untouched "--resume PATH with other heads"
expect_fail 1 "$(echo "$heads" | sed 's/h\.1\.attn/h.0.attn/; s/, 8 in/, 1 in/')" lm.ini \
    --set run.dir=r --set h.0.attn.heads=1 --resume auto
untouched "--resume auto with other heads"
expect_fail 1 "checkpoint $ck: layer 'h.0.fc' \\(dense\\): activation is gelu_tanh in the checkpoint, relu in the config; $keep_text" \
    lm.ini --set h.0.fc.activation=relu --eval $ck
expect_fail 1 "checkpoint $ck: layer 'h.1.ln_2' \\(layernorm\\): eps is 1e-05 in the checkpoint, 1e-06 in the config; $keep_text" \
    lm.ini --set h.1.ln_2.eps=1e-6 --eval $ck
# a layer more: its type where the checkpoint has another
sed '0,/type = residual/s//type = dropout\nrate = 0.1\n[layer]\ntype = residual/' lm.ini >more.ini
expect_fail 1 "checkpoint $ck: layer 3 is 'h.0.layer2' \\(residual\\) in the checkpoint, 'h.0.layer2' \\(dropout\\) in the config" \
    more.ini --eval $ck

# On two ranks: rank 0 reads the checkpoint; the job ends with its line.
mpi 2 "$prog" lm.ini --set run.dir=r --set h.1.attn.heads=8 --resume auto >out.txt 2>err.txt
rc=$?
[ $rc -eq 1 ] && [ "$(grep -c 'accel-train: error:' err.txt)" -eq 1 ] &&
    grep -Eq "^accel-train: error: $heads" err.txt || fail "2 ranks, other heads: exit $rc"
untouched "2 ranks with other heads"
echo "ok: 2 ranks: $(grep "accel-train: error:" err.txt)"

# The config's overrides are part of the checkpoint's model: a run trained
# with --set h.1.attn.heads=8 is evaluated with it, and refused without.
run lm.ini --set run.dir=r8 --set h.1.attn.heads=8 --set train.max_steps=10
[ $rc -eq 0 ] || fail "training with --set h.1.attn.heads=8: exit $rc"
run lm.ini --set h.1.attn.heads=8 --eval r8/checkpoints/ckpt-10.h5
[ $rc -eq 0 ] || fail "--eval with the run's own --set: exit $rc"
expect_fail 1 "checkpoint r8/checkpoints/ckpt-10.h5: layer 'h.1.attn' \\(attention\\): heads is 8 in the checkpoint, 4 in the config" \
    lm.ini --eval r8/checkpoints/ckpt-10.h5

# A dropout rate: evaluation and generation do not look at it; a resume
# does, unless told it may differ.
run lm.ini --set h.0.attn.dropout=0.3 --eval $ck
[ $rc -eq 0 ] || fail "--eval with another dropout rate: exit $rc"
run lm.ini --set h.0.attn.dropout=0.3 --generate $ck --tokens 5
[ $rc -eq 0 ] || fail "--generate with another dropout rate: exit $rc"
expect_fail 1 "checkpoint $ck: layer 'h.0.attn' \\(attention\\): dropout is 0.1 in the checkpoint, 0.3 in the config; to resume with the config's: --allow-change h.0.attn.dropout" \
    lm.ini --set run.dir=r --set h.0.attn.dropout=0.3 --resume auto --set train.max_steps=30
untouched "--resume with another dropout rate"
expect_fail 1 "--allow-change h.0.attn.heads: heads defines what layer 'h.0.attn' \\(attention\\) computes; $keep_text" \
    lm.ini --set run.dir=r --resume auto --allow-change h.0.attn.heads
expect_fail 1 "--allow-change h.9.attn.dropout: the config has no layer 'h.9.attn'" \
    lm.ini --set run.dir=r --resume auto --allow-change h.9.attn.dropout
expect_fail 2 "--allow-change goes with --resume" lm.ini --allow-change h.0.attn.dropout
untouched "refused --allow-change"
run lm.ini --set run.dir=r --set h.0.attn.dropout=0.3 --set train.max_steps=30 --resume auto \
    --allow-change h.0.attn.dropout
[ $rc -eq 0 ] && [ -e r/checkpoints/ckpt-30.h5 ] || fail "--allow-change h.0.attn.dropout: exit $rc"
# its checkpoints hold the new rate: the next resume needs no allowance
run lm.ini --set run.dir=r --set h.0.attn.dropout=0.3 --set train.max_steps=40 --resume auto
[ $rc -eq 0 ] && [ -e r/checkpoints/ckpt-40.h5 ] || fail "resume after the allowed change: exit $rc"
echo "ok: a dropout rate changed on purpose, and kept"
echo "checkpoint_model: ok"
