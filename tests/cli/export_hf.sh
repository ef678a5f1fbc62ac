#!/bin/bash
# trainer/scripts/export_hf.py: two small GPTs trained 40 steps (one tied,
# with dropouts, MLP 4C, layers named as GPT-2's; one untied, other names,
# MLP 2C, its second dense layer without bias, layernorm eps 1e-6),
# exported and loaded by transformers.GPT2LMHeadModel.from_pretrained, give
# accel-train's logits
# within 1e-4 and its greedy text (tests/python/check_hf.py). Models of
# another shape, a bad checkpoint, an occupied output directory and a write
# that fails are refused in one line, exit 1, leaving no directory behind.
#
# The refusals need only Debian's python3 with h5py and numpy. The rest
# needs transformers: from $ACCEL_TEST_HF_PYTHON, or a virtual environment
# over Debian's python3 and its torch this test makes at $src/.venv-hf with
# the versions tests/python/requirements-hf.txt pins (from PyPI; kept for
# the next run). SKIPPED, with the reason, where it cannot be had.
prog=$1 src=$2
source "$(dirname "$0")/lib.sh"
sys=${ACCEL_TEST_SYSPYTHON:-/usr/bin/python3}
"$sys" -c "import h5py, numpy" 2>/dev/null ||
    { echo "SKIPPED: $sys lacks h5py or numpy (apt-get install python3-h5py)"; exit 77; }
export OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 HF_HOME=$work/hf-home
export_hf() {
    "$1" "$src/trainer/scripts/export_hf.py" "${@:2}" >hf-out.txt 2>hf-err.txt
    rc=$?
}

for i in $(seq 1 200); do echo "line $i: the quick brown fox jumps over the lazy dog"; done >text.txt
# gpt_config FILE TIE C_FC EPS DROPOUT: the model; with C_FC mlp.c_fc, the
# MLP's layers named as GPT-2's, 4C wide, with biases; with C_FC fc, 2C,
# the second without bias; dropout layers of rate DROPOUT where GPT-2 has
# them.
gpt_config() {
    drop() { [ "$1" != 0 ] && printf '[layer]\nname = %s\ntype = dropout\nrate = %s\n' "$2" "$1"; }
    cat >"$1" <<INI
[run]
name = gpt
seed = 3
threads = 1
[data]
format = text
train = text.txt
test =
batch_size = 8
[train]
max_steps = 40
log_every = 40
[optimizer]
type = adamw
lr = 0.01
weight_decay = 0.1
decay = matrices
clip_norm = 1.0
[layer]
name = wte
type = embedding
vocab = 256
units = 32
block_size = 16
tie = $2
$(drop $5 embd_drop)
[repeat]
name = h
count = 2
[layer]
name = ln_1
type = layernorm
eps = $4
[layer]
name = attn
type = attention
heads = 4
dropout = $5
$(drop $5 attn_drop)
[layer]
name = res_1
type = residual
from = -$([ "$5" != 0 ] && echo 4 || echo 3)
[layer]
name = ln_2
type = layernorm
eps = $4
[layer]
name = $3
type = dense
units = $([ "$3" = mlp.c_fc ] && echo 128 || echo 64)
activation = gelu_tanh
init = gpt2
[layer]
name = $([ "$3" = mlp.c_fc ] && echo mlp.c_proj || echo proj)
type = dense
units = 32
bias = $([ "$3" = mlp.c_fc ] && echo true || echo false)
init = gpt2
$(drop $5 mlp_drop)
[layer]
name = res_2
type = residual
from = -$([ "$5" != 0 ] && echo 5 || echo 4)
[end]
[layer]
name = ln_f
type = layernorm
eps = $4
[layer]
name = lm_head
type = dense
units = 256
bias = false
INI
}
gpt_config tied.ini true mlp.c_fc 1e-5 0.1
gpt_config untied.ini false fc 1e-6 0
for m in tied untied; do
    run $m.ini --set run.dir=$m
    [ $rc -eq 0 ] || fail "$m: training: exit $rc"
    run $m.ini --eval $m/checkpoints/ckpt-40.h5 --predict $m-predict.h5
    [ $rc -eq 0 ] || fail "$m: --eval: exit $rc"
    "$prog" $m.ini --generate $m/checkpoints/ckpt-40.h5 --prompt "line 1" --tokens 10 \
        --temperature 0 >$m-gen.txt 2>err.txt || fail "$m: --generate"
done

# refused NAME PATTERN ARGS...: export_hf.py (Debian's python) exits 1 with
# one stderr line matching PATTERN, and leaves no directory behind.
refused() {
    local name=$1 pattern=$2
    shift 2
    export_hf "$sys" "$@"
    [ $rc -eq 1 ] || { cat hf-err.txt; fail "$name: exit $rc, expected 1"; }
    [ "$(wc -l <hf-err.txt)" -eq 1 ] || { cat hf-err.txt; fail "$name: stderr is not one line"; }
    grep -Eq -- "^export_hf: error: $pattern" hf-err.txt ||
        { cat hf-err.txt; fail "$name: stderr does not match '$pattern'"; }
    ! ls -d out .out.tmp-* >/dev/null 2>&1 || fail "$name: a directory was left behind"
    echo "ok: $name: $(cat hf-err.txt)"
}
# init NAME ARGS...: the initial checkpoint of tied.ini with ARGS' --sets, in NAME.
init() {
    local name=$1
    shift
    run tied.ini --set run.dir=$name --set train.max_steps=0 "$@"
    [ $rc -eq 0 ] || fail "$name: the initial checkpoint: exit $rc"
}
init gelu --set h.1.mlp.c_fc.activation=gelu
refused "erf GELU" "gelu/checkpoints/ckpt-0.h5: not a GPT-2-shaped model: layer 16 \(h.1.mlp.c_fc\) \
has activation gelu where GPT-2's MLP's c_fc has gelu_tanh$" gelu/checkpoints/ckpt-0.h5 out
init bias --set lm_head.bias=true
refused "lm_head bias" ".*: layer 21 \(lm_head\), the output layer, has a bias" \
    bias/checkpoints/ckpt-0.h5 out
init heads --set h.1.attn.heads=8
refused "heads differ" ".*: layer 12 \(h.1.attn\) has n_head 8, block 0 4" \
    heads/checkpoints/ckpt-0.h5 out
init eps --set h.1.ln_2.eps=1e-6
refused "eps differ" ".*: layer 15 \(h.1.ln_2\) has eps 1e-06, the first layernorm 1e-05" \
    eps/checkpoints/ckpt-0.h5 out
init parallel --set h.0.res_2.from=-8
refused "residual elsewhere" \
    ".*: layer 10 \(h.0.res_2\) adds the output of layer 2, where GPT-2's residual after the MLP" \
    parallel/checkpoints/ckpt-0.h5 out
cat >bigram.ini <<'INI'
[run]
name = bigram
[data]
format = text
train = text.txt
test =
batch_size = 8
[train]
max_steps = 0
[layer]
type = embedding
vocab = 256
units = 32
block_size = 16
[layer]
type = dense
units = 256
INI
run bigram.ini --set run.dir=bigram
[ $rc -eq 0 ] || fail "bigram: the initial checkpoint: exit $rc"
refused "no block" ".*: not a GPT-2-shaped model: no transformer block" \
    bigram/checkpoints/ckpt-0.h5 out
refused "not a checkpoint" "cannot read the checkpoint" text.txt out
# a write that fails (a file size limit: Python ignores SIGXFSZ, so the
# write returns EFBIG) removes the temporary directory
(ulimit -f 100; refused "file size limit" "writing .*/out: File too large" \
    tied/checkpoints/ckpt-40.h5 out) || exit 1
mkdir out && touch out/keep
export_hf "$sys" tied/checkpoints/ckpt-40.h5 out
[ $rc -eq 1 ] && grep -q "out exists and is not an empty directory" hf-err.txt &&
    [ "$(ls out)" = keep ] || fail "an occupied output directory: exit $rc, $(cat hf-err.txt)"
rm -r out
export_hf "$sys" tied/checkpoints/ckpt-40.h5
[ $rc -eq 2 ] || fail "no OUT_DIR: exit $rc, expected 2"
# Debian's python3, without the safetensors package unless it has one
export_hf "$sys" tied/checkpoints/ckpt-40.h5 tied-sys
[ $rc -eq 0 ] || { cat hf-err.txt; fail "tied: export with $sys: exit $rc"; }
cat hf-out.txt

# A Python with transformers: the pinned ones in a virtual environment of
# our own over Debian's python3 (for its torch), made once and reused; one
# whose install did not finish (no .installed matching the pins) is made
# again. Installing is bounded; failing to is a SKIP, naming why.
pins="$src/tests/python/requirements-hf.txt"
py=${ACCEL_TEST_HF_PYTHON:-}
if [ -z "$py" ]; then
    venv=$src/.venv-hf py=$src/.venv-hf/bin/python
    if ! cmp -s "$pins" "$venv/.installed"; then
        rm -rf "$venv"
        start=$SECONDS
        "$sys" -m venv --system-site-packages "$venv" >venv.txt 2>&1 ||
            { echo "SKIPPED: $sys -m venv failed (apt-get install python3-venv): $(tail -1 venv.txt)"
              exit 77; }
        if ! timeout 240 "$py" -m pip install --disable-pip-version-check --no-input -q \
            --timeout 30 --retries 2 -r "$pins" >pip.txt 2>&1; then
            echo "SKIPPED: could not install $pins from PyPI (no network?):"
            tail -3 pip.txt
            exit 77
        fi
        cp "$pins" "$venv/.installed"
        echo "installed the pinned transformers in $venv in $((SECONDS - start)) s"
    fi
fi
"$py" -c "import transformers, safetensors, torch" 2>py.txt ||
    { cat py.txt; fail "$py cannot import transformers, safetensors and torch"; }

for m in tied untied; do
    export_hf "$py" $m/checkpoints/ckpt-40.h5 $m-hf
    [ $rc -eq 0 ] || { cat hf-err.txt; fail "$m: export: exit $rc"; }
    cat hf-out.txt
    grep -q "written by the safetensors package" hf-out.txt ||
        fail "$m: the export did not use the safetensors package"
    "$py" "$src/tests/python/check_hf.py" $m-hf $m-predict.h5 $m "line 1" $m-gen.txt "$src" ||
        fail "$m: transformers disagrees"
done

# A BPE model (data.tokenizer, a tokenizer trained here on English and
# Chinese lines, so tokens cut characters): the export carries the
# checkpoint's tokenizer, and AutoTokenizer with the model gives the text
# --generate --temperature 0 gives, stopping where it stops
for i in $(seq 1 200); do echo "line $i: the quick brown fox, 敏捷的棕色狐狸 $((i % 9)), jumps"; done >bpe.txt
"$py" "$src/trainer/scripts/train_tokenizer.py" --vocab_size 320 --val_fraction 0.1 bpe.json \
    bpe.txt >tok.txt || fail "bpe: train_tokenizer.py: $(cat tok.txt)"
sed -e 's/^vocab = 256$/vocab = 320/' -e 's/^units = 256$/units = 320/' \
    -e 's/^block_size = 16$/block_size = 32/' \
    -e 's/^train = text.txt$/train = bpe.txt\ntokenizer = bpe.json/' tied.ini >bpe.ini
grep -q '^tokenizer = bpe.json' bpe.ini && grep -q '^units = 320' bpe.ini || fail "bpe.ini"
run bpe.ini --set run.dir=bpe
[ $rc -eq 0 ] || fail "bpe: training: exit $rc"
run bpe.ini --eval bpe/checkpoints/ckpt-40.h5 --predict bpe-predict.h5
[ $rc -eq 0 ] || fail "bpe: --eval: exit $rc"
"$prog" bpe.ini --generate bpe/checkpoints/ckpt-40.h5 --prompt "line 7: 敏" --tokens 24 \
    --temperature 0 >bpe-gen.txt 2>err.txt || fail "bpe: --generate: $(cat err.txt)"
export_hf "$py" bpe/checkpoints/ckpt-40.h5 bpe-hf
[ $rc -eq 0 ] || { cat hf-err.txt; fail "bpe: export: exit $rc"; }
cat hf-out.txt
cmp -s bpe-hf/tokenizer.json bpe.json || fail "bpe: the exported tokenizer.json is not bpe.json"
"$py" "$src/tests/python/check_hf.py" bpe-hf bpe-predict.h5 tied "line 7: 敏" bpe-gen.txt "$src" 24 ||
    fail "bpe: transformers disagrees"
cmp tied-hf/model.safetensors tied-sys/model.safetensors ||
    fail "the export with $sys wrote another model.safetensors"
cmp tied-hf/config.json tied-sys/config.json ||
    fail "the export with $sys wrote another config.json"
echo "export_hf: all passed"
