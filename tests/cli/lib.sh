# Helpers for the command-line tests. Source it; $prog is accel-train.
set -u
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
FASHION=${FASHION_DIR:-/usr/share/datasets/fashion-mnist}

# need_python MODULE...: sets py, the tests' Python ($ACCEL_TEST_PYTHON,
# else the .venv tests/run.sh makes), or says SKIPPED where it lacks one
# of the modules
need_python() {
    py=${ACCEL_TEST_PYTHON:-$src/.venv/bin/python}
    "$py" -c "import $(IFS=,; echo "$*")" 2>/dev/null ||
        { echo "SKIPPED: no Python with $* at $py (tests/run.sh makes one)"; exit 77; }
}

# need_fortunes FILE...: sets FORTUNES, Debian's fortunes directory
# ($FORTUNES_DIR overrides), or says SKIPPED where a file is not there
need_fortunes() {
    FORTUNES=${FORTUNES_DIR:-/usr/share/games/fortunes}
    local f
    for f; do
        [ -f "$FORTUNES/$f" ] ||
            { echo "SKIPPED: no fortunes in $FORTUNES (apt-get install fortunes fortunes-zh)"; exit 77; }
    done
}

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

# write_gpt_config FILE [OPTION]...: FILE gets this function's standard
# input (the script's own [run], [data], [train], ... sections), then the
# layers of a small byte-level GPT, one description for the tests that train
# one: an embedding (vocab 256), transformer blocks (layer norm, attention
# of 4 heads, residual, layer norm, a gelu_tanh MLP, residual) and an
# output layer of 256. The options are what those tests vary:
#   units=32       the embedding's (and each block's) width
#   block_size=16  the context, in tokens
#   mlp=64         the MLP's hidden width
#   blocks=1       the number of blocks; more than one is a [repeat] named h,
#                  one is written out plainly (its layers' names have no h.0.)
#   dropout=0      the attention's dropout rate (no key written for 0)
#   tied           GPT-2's output end: the embedding tied to the output
#                  layer, a final layer norm, an output layer without bias
#   named          GPT-2's layer names (wte, ln_1, attn, ln_2, fc, proj, ln_f,
#                  lm_head), which the exporters' checks look for, and
#                  init = gpt2 on the MLP
write_gpt_config() {
    local file=$1 units=32 block_size=16 mlp=64 blocks=1 dropout=0 tied=false named=false opt
    shift
    for opt in "$@"; do
        case $opt in
        units=* | block_size=* | mlp=* | blocks=* | dropout=*) printf -v "${opt%%=*}" %s "${opt#*=}" ;;
        tied | named) printf -v "$opt" true ;;
        *) echo "write_gpt_config: unknown option '$opt'" >&2; return 1 ;;
        esac
    done
    # the keys that are there only with some options
    local emb=() head=() drop=() init=()
    [ $tied = true ] && emb=('tie = true') head=('bias = false')
    [ "$dropout" != 0 ] && drop=("dropout = $dropout")
    [ $named = true ] && init=('init = gpt2')
    {
        cat
        gpt_layer wte 'type = embedding' 'vocab = 256' "units = $units" "block_size = $block_size" \
            "${emb[@]}"
        [ "$blocks" -gt 1 ] && printf '[repeat]\nname = h\ncount = %s\n' "$blocks"
        gpt_layer ln_1 'type = layernorm'
        gpt_layer attn 'type = attention' 'heads = 4' "${drop[@]}"
        gpt_layer '' 'type = residual' 'from = -3'
        gpt_layer ln_2 'type = layernorm'
        gpt_layer fc 'type = dense' "units = $mlp" 'activation = gelu_tanh' "${init[@]}"
        gpt_layer proj 'type = dense' "units = $units" "${init[@]}"
        gpt_layer '' 'type = residual' 'from = -4'
        [ "$blocks" -gt 1 ] && echo '[end]'
        [ $tied = true ] && gpt_layer ln_f 'type = layernorm'
        gpt_layer lm_head 'type = dense' 'units = 256' "${head[@]}"
    } >"$file"
}
# gpt_layer NAME LINE...: one [layer] of write_gpt_config's, named NAME
# where its model is named (and NAME is not empty).
gpt_layer() {
    echo '[layer]'
    [ "$named" = true ] && [ -n "$1" ] && echo "name = $1"
    shift
    printf '%s\n' "$@"
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
# would kill the script without its traps; its pid in $watchdog_pid. It
# naps a second at a time and ends as soon as the script is no longer its
# parent: a script killed outright (SIGKILL by hand, by the OOM killer, by a
# runner that kills the script alone; ctest 3.25's TIMEOUT kills the whole
# process tree) runs no trap to end it, and one long sleep would outlive the
# test by up to its whole limit. The parent is read from /proc, not tested
# with kill -0 $$, which still succeeds while the killed script waits as a
# zombie to be reaped, or once its pid is another process's.
start_watchdog() {
    local limit=$1 deadline=$((SECONDS + $1))
    (
        nap=
        trap 'kill $nap 2>/dev/null; exit 0' TERM
        # the script is alive while it is this subshell's parent; field 4
        # of stat, counted after the command's name, which may hold spaces
        parent_alive() {
            local stat
            read -r stat <"/proc/$BASHPID/stat" || return 1
            set -- ${stat##*) }
            [ "$2" = $$ ]
        }
        while parent_alive; do
            if [ $SECONDS -ge $deadline ]; then
                echo "FAIL: the test ran past $limit s"
                kill -TERM $$
                exit 0
            fi
            sleep 1 &
            nap=$!
            wait $nap
        done
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
