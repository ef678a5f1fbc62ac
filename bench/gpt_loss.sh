#!/bin/bash
# bench/gpt_loss.sh: a language-model config's validation loss over its
# whole schedule in accel-train and in PyTorch (Debian's python3-torch), from
# the same initial weights, on the same text, split, batch, optimizer and
# schedule (bench/torch_gpt.py). The two run side by side, one thread each;
# each evaluates every train.eval_every steps and at the end, over every
# non-overlapping window of the validation part. Prints a Markdown table.
#   bench/gpt_loss.sh [BUILD_DIR] [CONFIG]   (defaults: build, configs/fortunes_gpt.ini)
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build}
cfg=${2:-$src/configs/fortunes_gpt.ini}
prog=$build/accel-train
py=${ACCEL_BENCH_PYTHON:-/usr/bin/python3}
[ -x "$prog" ] || { echo "gpt_loss: no $prog (build first)" >&2; exit 1; }
"$py" -c "import torch, h5py" 2>/dev/null ||
    { echo "gpt_loss: $py lacks torch or h5py (apt-get install python3-torch python3-h5py)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$prog" "$cfg" --set train.max_steps=0 --set run.dir="$work/init" >"$work/init.log" 2>&1 ||
    { cat "$work/init.log" >&2; exit 1; }
t0=$(date +%s)
"$prog" "$cfg" --set run.threads=1 --set run.dir="$work/accel" >"$work/accel.log" 2>&1 &
OMP_NUM_THREADS=1 "$py" "$src/bench/torch_gpt.py" train "$work/init/checkpoints/ckpt-0.h5" 1 "$src" \
    >"$work/torch.jsonl" 2>"$work/torch.log" &
wait %1 || { tail -5 "$work/accel.log" >&2; exit 1; }
wait %2 || { tail -5 "$work/torch.log" >&2; exit 1; }
echo "$(basename "$cfg"): both schedules in $(($(date +%s) - t0)) s, one thread each, side by side"
echo
printf '| step | accel-train val loss | PyTorch val loss | difference | accel-train bits/byte | PyTorch bits/byte |\n'
printf '|---|---|---|---|---|---|\n'
grep '"split":"val"' "$work/accel/metrics.jsonl" | sed 's/.*"step":\([0-9]*\).*"loss":\([0-9.e+-]*\).*/\1 \2/' |
    sort -n -u >"$work/a"
sed 's/.*"step": \([0-9]*\), "val_loss": \([0-9.e+-]*\).*/\1 \2/' "$work/torch.jsonl" >"$work/p"
awk 'NR == FNR { torch[$1] = $2; next } $1 in torch { $3 = torch[$1]; print }' "$work/p" "$work/a" |
    awk '{ printf "| %d | %.4f | %.4f | %+.4f | %.4f | %.4f |\n", $1, $2, $3, $2 - $3, $2 / log(2), $3 / log(2) }'
