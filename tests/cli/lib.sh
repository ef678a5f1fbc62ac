# Helpers for the command-line tests. Source it; $prog is accel-train.
set -u
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
FASHION=${FASHION_DIR:-/usr/share/datasets/fashion-mnist}

fail() {
    echo "FAIL: $*"
    for f in out.txt err.txt; do [ -s "$f" ] && { echo "--- $f:"; tail -20 "$f"; }; done
    exit 1
}

# run ARGS...: runs accel-train, leaving its status in $rc, output in out.txt/err.txt
run() {
    "$prog" "$@" >out.txt 2>err.txt
    rc=$?
}

# expect_fail STATUS PATTERN ARGS...: exit status STATUS and exactly one stderr
# line "accel-train: error: ..." matching the grep -E PATTERN.
expect_fail() {
    local want=$1 pattern=$2
    shift 2
    run "$@"
    [ $rc -eq "$want" ] || fail "$*: exit status $rc, expected $want"
    [ "$(wc -l <err.txt)" -eq 1 ] || fail "$*: stderr is not exactly one line"
    grep -Eq -- "^accel-train: error: $pattern" err.txt || fail "$*: stderr does not match '$pattern'"
    echo "ok: $(cat err.txt)"
}

# A small valid model config, on whatever data --set points it to.
write_config() {
    cat >"$1" <<'INI'
[run]
name = t
[train]
epochs = 1
[layer]
type = dense
units = 16
activation = relu
[layer]
type = dense
units = 10
INI
}

# be32 N: N as 4 big-endian bytes.
be32() {
    printf "$(printf '%08x' "$1" | sed 's/../\\x&/g')"
}

# write_idx_images FILE N ROWS COLS [MAGIC]: an IDX image file of random pixels.
write_idx_images() {
    local f=$1 n=$2 r=$3 c=$4 magic=${5:-03}
    { printf "\\x00\\x00\\x08\\x$magic"; be32 "$n"; be32 "$r"; be32 "$c";
      head -c $((n * r * c)) /dev/urandom; } >"$f"
}

# write_idx_labels FILE N: an IDX label file of labels 0..9, repeating.
write_idx_labels() {
    local f=$1 n=$2
    { printf '\x00\x00\x08\x01'; be32 "$n";
      for ((i = 0; i < n; i++)); do printf "\\x0$((i % 10))"; done; } >"$f"
}

# Runs that are compared pin OpenBLAS to one thread on both sides: the
# thread count changes how OpenBLAS splits a product's inner dimension, and
# so its rounding, and mpirun binds a one-rank job to one core on some
# machines and not on others.
PIN=(--set run.threads=1)

# ckpt_same A B: parameters and Adam moments bitwise equal ($diff is the
# checkpoint comparer, the scripts' third argument).
ckpt_same() {
    "$diff" "$1" "$2" 0
}

# ckpt_close A B: equal but for the order of float additions, as runs on
# different numbers of ranks are: 99.99% of the differences within 1e-6, and
# every one within 1e-4 (a few Adam weights whose gradient is almost always
# zero are pushed to +-lr by rounding alone). Measured after 60 steps of
# fashion_mlp on 1 and 4 ranks: 99.99th percentile 4.5e-8, maximum 7e-7
# (2.1e-5 on another machine); a real difference (batch norm left
# unsynchronized) is 1e-2 at the 99.99th percentile.
ckpt_close() {
    "$diff" "$1" "$2" 1e-4 0.9999 1e-6
}

# start_watchdog SECONDS: fails the test (SIGTERM to this script, whose
# traps then clean up) after SECONDS, well before ctest's own timeout, which
# would kill the script without its traps; its pid in $watchdog_pid.
start_watchdog() {
    local limit=$1
    (
        trap 'kill $nap 2>/dev/null; exit 0' TERM
        sleep "$limit" &
        nap=$!
        wait $nap && echo "FAIL: the test ran past $limit s" && kill -TERM $$
    ) &
    watchdog_pid=$!
}

# mpirun as these tests need it: as root in CI, more ranks than cores.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
mpi() {
    local n=$1
    shift
    mpirun -np "$n" "$@"
}

# A small model with every source of randomness (dropout, shuffling) and
# every optimizer feature, on real Fashion-MNIST: 58 steps an epoch. Its
# runs are compared, so it pins the thread count (see PIN).
write_resume_config() {
    cat >"$1" <<'INI'
[run]
name = resume
seed = 7
threads = 1
[data]
batch_size = 1024
test =
[train]
epochs = 3
log_every = 10
[optimizer]
type = adamw
weight_decay = 0.01
clip_norm = 1.0
schedule = cosine
warmup_steps = 5
[checkpoint]
every_steps = 20
keep = 10
[layer]
type = dense
units = 64
activation = gelu
[layer]
type = dropout
rate = 0.25
[layer]
type = dense
units = 10
INI
}
