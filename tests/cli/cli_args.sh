#!/bin/bash
# The command line: --help, --version, and each usage error.
prog=$1
source "$(dirname "$0")/lib.sh"

run --help
[ $rc -eq 0 ] || fail "--help: exit $rc"
for s in '\[run\]' '\[data\]' '\[train\]' '\[optimizer\]' '\[checkpoint\]' '\[layer\]' \
    '--set section.key=value' '--resume auto\|PATH' batch_size warmup_steps every_steps; do
    grep -q -- "$s" out.txt || fail "--help does not mention $s"
done
run --version
[ $rc -eq 0 ] && head -1 out.txt | grep -Eq '^accel-train [0-9]+\.[0-9]+\.[0-9]+$' &&
    grep -q '^OpenBLAS: ' out.txt || fail "--version"

# what only prints is the product (docs/config.md is --help-config's): a
# write that fails, here to a full device, fails the command
for a in --help --help-config --version; do
    "$prog" $a >/dev/full 2>err.txt
    rc=$?
    [ $rc -eq 1 ] && [ "$(wc -l <err.txt)" -eq 1 ] &&
        grep -q '^accel-train: error: cannot write standard output: No space left on device' err.txt ||
        fail "$a >/dev/full: exit $rc"
done

expect_fail 2 "no config file given" 
expect_fail 2 "unknown option '--frobnicate'" --frobnicate x.ini
expect_fail 2 "--set needs a value" x.ini --set
expect_fail 2 "more than one config file given" a.ini b.ini
expect_fail 1 "cannot open config nothere.ini: No such file" nothere.ini
write_config c.ini
expect_fail 1 "--set train.epochs=x: expected an integer, got 'x'" c.ini --set train.epochs=x
expect_fail 1 "--set train.epochs=0: expected an integer >= 1, got '0'" c.ini --set=train.epochs=0
expect_fail 1 "--set nosuch.key=1: no section or layer named 'nosuch'" c.ini --set nosuch.key=1
expect_fail 1 "--set layer0.width=3: unknown key 'width' in \[layer\]" c.ini --set layer0.width=3
# without a GPU, or in a build without the CUDA backend
expect_fail 1 "run.device = cuda, but (this accel-train was built without the CUDA backend|there is no usable GPU)" \
    c.ini --set run.device=cuda
expect_fail 1 "--set run.device=tpu: expected one of auto,cpu,cuda, got 'tpu'" c.ini --set run.device=tpu
# generation's options go with --generate only, rather than being dropped
# while a training run starts; whole numbers are whole
for opt in "--prompt hi" "--tokens 5" "--temperature=0.5" "--top_k 3" "--seed 7"; do
    expect_fail 2 "${opt%%[ =]*} goes with --generate CHECKPOINT" c.ini $opt
done
expect_fail 2 "--tokens 2.9: expected a whole number from 1 to 16777216" c.ini --generate x --tokens 2.9
expect_fail 2 "--top_k 1e3: expected a whole number from 0 to 16777216" c.ini --generate x --top_k 1e3
expect_fail 2 "--seed -1: expected a whole number from 0 to 18446744073709551615" c.ini \
    --generate x --seed -1
expect_fail 2 "--seed 18446744073709551616: expected a whole number" c.ini --generate x \
    --seed 18446744073709551616
expect_fail 2 "--temperature nan: expected a number from 0 to 100" c.ini --generate x --temperature nan
expect_fail 2 "--temperature 1e999: expected a number from 0 to 100" c.ini --generate x \
    --temperature 1e999
# the largest seed and a subnormal temperature are values, not errors: the
# run gets as far as the model, which is not a language model
expect_fail 1 "--generate needs a language model" c.ini --generate x --seed 18446744073709551615 --temperature 1e-310
[ ! -e runs ] || fail "a failed start created a run directory"
echo "cli_args: all passed"
