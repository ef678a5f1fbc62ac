#!/bin/bash
# Every config in configs/ runs: a few steps each, on the real Fashion-MNIST
# and fortunes, or for CIFAR-10 on small files of random images in its
# binary format (nothing is downloaded), with the final checkpoint written.
prog=$1 src=$2
source "$(dirname "$0")/lib.sh"

# write_cifar FILE N: N records of a label byte (0..9) and 3072 pixel bytes
write_cifar() {
    for ((i = 0; i < $2; i++)); do
        printf "\\x0$((i % 10))"
        head -c 3072 /dev/urandom
    done >"$1"
}
mkdir cifar
for b in 1 2; do write_cifar cifar/data_batch_$b.bin 40; done
write_cifar cifar/test_batch.bin 30

# the BPE configs' tokenizers, trained as their comments say, where a
# Python with the tokenizers package is at hand ($ACCEL_TEST_PYTHON, or the
# .venv tests/run.sh makes)
py=${ACCEL_TEST_PYTHON:-$src/.venv/bin/python}
n=0
for cfg in "$src"/configs/*.ini; do
    name=$(basename "$cfg" .ini)
    extra=()
    case "$name" in
    fortunes*bpe*)
        if ! "$py" -c "import tokenizers" 2>/dev/null; then
            echo "skipped: $name (no Python with the tokenizers package at $py to make its tokenizer)"
            continue
        fi
        "$py" "$src/trainer/scripts/train_tokenizer.py" --vocab_size 4096 --config "$cfg" \
            tok-$name.json >/dev/null || fail "$name: train_tokenizer.py"
        extra=(--set data.val_fraction=0.01 --set data.eval_batch_size=64
               --set data.tokenizer=tok-$name.json) ;;
    cifar10*) extra=(--set data.train=cifar --set data.test=cifar --set data.batch_size=16) ;;
    fortunes*) extra=(--set data.val_fraction=0.01 --set data.eval_batch_size=64) ;;
    gpt2_124m) # 7 TFLOP and 28 GB a step: cli.dry_run checks it instead
        echo "skipped: $name (dry-run only, in cli.dry_run)"
        continue ;;
    esac
    run "$cfg" --set train.max_steps=3 --set train.log_every=1 --set run.dir=$name \
        --set data.eval_batch_size=500 "${extra[@]}"
    [ $rc -eq 0 ] || fail "$name: exit $rc"
    [ -f $name/checkpoints/ckpt-3.h5 ] || fail "$name: no final checkpoint"
    grep -Eq '"split":"(test|val)"' $name/metrics.jsonl || fail "$name: no evaluation"
    echo "ok: $name ($(head -1 out.txt))"
    n=$((n + 1))
done
[ $n -ge 3 ] || fail "only $n configs found"
echo "configs_run: $n configs ran"
