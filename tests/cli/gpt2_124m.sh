#!/bin/bash
# configs/gpt2_124m.ini, GPT-2 small, on the CPU backend: from GPT-2-sized
# token shards (here Debian's fortunes as byte tokens, every one a valid
# GPT-2 token id, in dev/data/fineweb10B/ where the config looks), --dry-run
# reports 124,439,808 parameters, and a few steps train at a reduced window
# (64 tokens, 2 windows a step): the first loss is that of a near-uniform
# guess over 50,257 tokens (ln 50257 = 10.82, GPT-2's initialization), the
# loss falls over nearly the same windows (no shuffle: they start a byte
# apart), and the checkpoint is written.
prog=$1 src=$2
source "$(dirname "$0")/lib.sh"
py=${ACCEL_TEST_SYSPYTHON:-/usr/bin/python3}
"$py" -c 'import numpy' 2>/dev/null ||
    { echo "SKIPPED: $py lacks numpy (apt-get install python3-numpy)"; exit 77; }
FORTUNES=${FORTUNES_DIR:-/usr/share/games/fortunes}
[ -f "$FORTUNES/art" ] || { echo "SKIPPED: no fortunes in $FORTUNES (apt-get install fortunes)"; exit 77; }
mkdir -p dev/data/fineweb10B
"$py" "$src/trainer/scripts/text_shards.py" --val_fraction 0.1 dev/data/fineweb10B/fineweb \
    "$FORTUNES/art" >/dev/null || fail "text_shards.py"
mv dev/data/fineweb10B/fineweb_train_000000.bin dev/data/fineweb10B/fineweb_train_000001.bin

cfg=$src/configs/gpt2_124m.ini
run "$cfg" --dry-run
[ $rc -eq 0 ] || fail "--dry-run: exit $rc: $(cat err.txt)"
grep -q '^total: 124439808 parameters' out.txt || fail "parameters: $(grep '^total' out.txt)"
grep -q '^h\.11\.mlp\.c_proj ' out.txt || fail "no h.11.mlp.c_proj"
echo "ok: $(grep '^total' out.txt)"

# 4 steps at a constant rate on the first windows, in order: GPT-2 at a
# 64-token window, 123,702,528 parameters (wpe is 64 x 768)
small=(--set wte.block_size=64 --set data.batch_size=2 --set data.shuffle=false --set train.grad_accum=1
    --set train.max_steps=4 --set train.log_every=1 --set optimizer.schedule=constant
    --set optimizer.warmup_steps=0 --set optimizer.lr=0.0003 --set data.eval_tokens=64
    --set data.eval_batch_size=1 --set checkpoint.every_steps=4 --set run.threads=2)
run "$cfg" "${small[@]}" --set run.dir=run
[ $rc -eq 0 ] || fail "4 steps: exit $rc: $(tail -3 err.txt)"
losses=$(grep -v split run/metrics.jsonl | sed -n 's/.*"loss":\([0-9.e+-]*\).*/\1/p' | tr '\n' ' ')
echo "losses: $losses"
echo "$losses" | awk '{ exit !(NF == 4 && $1 > 10.5 && $1 < 11.2 && $4 < $1 - 0.5) }' ||
    fail "losses $losses: not a near-uniform start, then falling"
grep -q '^total: 123702528 parameters' <("$prog" "$cfg" "${small[@]}" --dry-run) ||
    fail "the reduced model is not 123,702,528 parameters"
[ -f run/checkpoints/ckpt-4.h5 ] || fail "no checkpoint at step 4"
# a vocabulary of more than bytes: the loss in bits per token, not per byte
grep -q '"split":"val".*"bits_per_token"' run/metrics.jsonl && ! grep -q bits_per_byte run/metrics.jsonl ||
    fail "the validation line has no bits_per_token, or has bits_per_byte"
grep -q 'bits/token' out.txt || fail "the log does not say bits/token"
echo "ok: GPT-2 small trains on the CPU at a 64-token window"
echo "gpt2_124m: all passed"
