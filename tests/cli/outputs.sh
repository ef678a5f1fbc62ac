#!/bin/bash
# No output replaces an input of its command (the config, the checkpoint,
# the data: through another spelling, a symbolic link or a hard link) nor
# anything but a regular file (util/outpath.h, trainer/outputs.h,
# trainer/scripts/accel_outpath.py): --predict, the run and checkpoint
# directories, metrics.jsonl, the checkpoints already in checkpoint.dir,
# the TensorBoard event file, and the scripts' outputs. Each refusal is
# one line and exit 1 before any work, and every input is byte for byte
# as it was; what is allowed (a new path, an unrelated file replaced,
# resume and pruning) still works.
prog=$1 src=$2
source "$(dirname "$0")/lib.sh"
start_watchdog 250 # a FIFO opened for writing would block: fail, not hang

write_config c.ini
write_idx_images tr-images-idx3-ubyte 200 28 28
write_idx_labels tr-labels-idx1-ubyte 200
write_idx_images te-images-idx3-ubyte 50 28 28
write_idx_labels te-labels-idx1-ubyte 50
data=(--set data.train=tr --set data.test=te --set data.batch_size=10 --set train.max_steps=4)
run c.ini "${data[@]}" --set run.dir=r
[ $rc -eq 0 ] || fail "the first run: exit $rc"
ck=r/checkpoints/ckpt-4.h5
[ -f $ck ] || fail "no $ck"
inputs=(c.ini tr-images-idx3-ubyte tr-labels-idx1-ubyte te-images-idx3-ubyte te-labels-idx1-ubyte
        $ck)
mkdir orig
for f in "${inputs[@]}"; do cp "$f" "orig/${f//\//_}"; done
# intact: every input byte for byte as it was
intact() {
    local f
    for f in "${inputs[@]}"; do
        cmp -s "$f" "orig/${f//\//_}" || fail "$f changed (after: $(cat err.txt))"
    done
}
refuse() { # expect_fail 1, then the inputs checked
    expect_fail 1 "$@"
    intact
}
eval_ck=(c.ini "${data[@]}" --eval $ck)

# --predict over an input, however it is named
is_ck="is the checkpoint this command evaluates \(--eval $ck\); choose another output path$"
refuse "--predict $ck: $is_ck" "${eval_ck[@]}" --predict $ck
refuse "--predict \./$ck: $is_ck" "${eval_ck[@]}" --predict ./$ck
ln -s $ck link.h5
refuse "--predict link.h5: $is_ck" "${eval_ck[@]}" --predict link.h5
ln $ck hard.h5
refuse "--predict hard.h5: $is_ck" "${eval_ck[@]}" --predict hard.h5
refuse "--predict c.ini: is the config file this command reads \(c.ini\); choose another output path$" \
    "${eval_ck[@]}" --predict c.ini
refuse "--predict te-images-idx3-ubyte: is a data file of data.test \(te-images-idx3-ubyte\)" \
    "${eval_ck[@]}" --predict te-images-idx3-ubyte
refuse "--predict \./tr-labels-idx1-ubyte: is a data file of data.train \(tr-labels-idx1-ubyte\)" \
    "${eval_ck[@]}" --predict ./tr-labels-idx1-ubyte
# ... or its temporary file over one
cp $ck out.h5.tmp
inputs+=(out.h5.tmp)
cp out.h5.tmp orig/out.h5.tmp
refuse "--predict's temporary file out.h5.tmp: is the checkpoint this command evaluates \(--eval out.h5.tmp\)" \
    c.ini "${data[@]}" --eval out.h5.tmp --predict out.h5
[ ! -e out.h5 ] || fail "a refused --predict made out.h5"

# --predict over what is not a regular file. The devices are this test's
# own nodes of /dev/null and /dev/full where it may make them (as root): a
# check that failed would replace those, not the machine's. Without root,
# the machine's, which such a process cannot replace.
if mknod null c 1 3 2>/dev/null && mknod full c 1 7; then
    null=$work/null full=$work/full # the links below reach them from anywhere
else
    null=/dev/null full=/dev/full
fi
mkfifo fifo
mkdir adir
ln -s $null null-link
for special in $null:"a character device" $full:"a character device" fifo:"a FIFO" \
    adir:"a directory" null-link:"a character device"; do
    path=${special%%:*}
    refuse "--predict $path: not a regular file \(${special#*:}\); choose another output path$" \
        "${eval_ck[@]}" --predict "$path"
done
[ -p fifo ] && [ -d adir ] && [ -L null-link ] && [ -c $null ] && [ -c $full ] ||
    fail "a special file changed"
refuse "--predict nodir/p.h5: directory nodir is not writable" "${eval_ck[@]}" --predict nodir/p.h5

# allowed: a new path; an unrelated regular file, replaced; a link to one,
# the link replaced and its target left alone; a stale temporary file that
# is a link, removed, never written through
run "${eval_ck[@]}" --predict new.h5
[ $rc -eq 0 ] || fail "--predict new.h5: exit $rc"
echo unrelated >other.h5
run "${eval_ck[@]}" --predict other.h5
[ $rc -eq 0 ] || fail "--predict over an unrelated file: exit $rc"
echo target >target.txt
cp target.txt target.orig
ln -s target.txt plink.h5
ln -s target.txt stale.h5.tmp
run "${eval_ck[@]}" --predict plink.h5
[ $rc -eq 0 ] || fail "--predict over a link to an unrelated file: exit $rc"
run "${eval_ck[@]}" --predict stale.h5
[ $rc -eq 0 ] || fail "--predict with a stale temporary link: exit $rc"
cmp -s target.txt target.orig || fail "a link's target was written through"
for f in new.h5 other.h5 plink.h5 stale.h5; do
    [ -f $f ] && [ ! -L $f ] || fail "$f is not a regular file"
    h5dump -H $f | grep -A2 'DATASET "logits"' | grep -q '( 50, 10 )' || fail "$f holds no logits"
done
[ ! -e stale.h5.tmp ] && [ ! -e new.h5.tmp ] || fail "a temporary file was left"
intact
echo "ok: --predict to a new path, over an unrelated file, through links"

# the run and checkpoint directories
train=(c.ini "${data[@]}")
refuse "the run directory c.ini: is the config file this command reads \(c.ini\); choose another run.dir$" \
    "${train[@]}" --set run.dir=c.ini
refuse "the checkpoint directory c.ini: is the config file this command reads \(c.ini\); choose another checkpoint.dir$" \
    "${train[@]}" --set run.dir=x --set checkpoint.dir=c.ini
refuse "the run directory tr-images-idx3-ubyte: is a data file of data.train" \
    "${train[@]}" --set run.dir=tr-images-idx3-ubyte
refuse "the checkpoint directory \./te-labels-idx1-ubyte: is a data file of data.test" \
    "${train[@]}" --set run.dir=x --set checkpoint.dir=./te-labels-idx1-ubyte
[ ! -e x ] || fail "a refused run made its run directory"
# metrics.jsonl: a link to an input, a FIFO, a device
mkdir m
ln -s ../c.ini m/metrics.jsonl
refuse "m/metrics.jsonl: is the config file this command reads \(c.ini\); choose another run.dir$" \
    "${train[@]}" --set run.dir=m
rm m/metrics.jsonl
mkfifo m/metrics.jsonl
refuse "m/metrics.jsonl: not a regular file \(a FIFO\)" "${train[@]}" --set run.dir=m
rm m/metrics.jsonl
ln -s $full m/metrics.jsonl
refuse "m/metrics.jsonl: not a regular file \(a character device\)" "${train[@]}" --set run.dir=m
rm m/metrics.jsonl
[ -z "$(ls -A m)" ] || fail "a refused run wrote into m: $(ls -A m)"
# a checkpoint name that pruning would delete: a hard link of the config
mkdir -p k/checkpoints
ln c.ini k/checkpoints/ckpt-2.h5
refuse "k/checkpoints/ckpt-2.h5: is the config file this command reads \(c.ini\); checkpoints there are replaced and pruned" \
    "${train[@]}" --set run.dir=k
[ "$(ls -A k)" = checkpoints ] && [ "$(ls -A k/checkpoints)" = ckpt-2.h5 ] ||
    fail "a refused run wrote into k"
# the TensorBoard event file: links to the config at the names of the next
# seconds are not followed; a new file is made beside them
mkdir e
now=$(date +%s)
for s in $(seq "$now" $((now + 20))); do ln -s ../c.ini "e/events.out.tfevents.$s.$(hostname)"; done
run "${train[@]}" --set run.dir=e
[ $rc -eq 0 ] || fail "a run beside planted event-file links: exit $rc"
intact
echo "ok: the run directory's files replace no input"

# allowed: resume, pruning, a requeued run's rewrite of its own newest
# checkpoint, a new event file each run
keep=("${train[@]}" --set run.dir=rr --set checkpoint.every_steps=2 --set checkpoint.keep=2)
run "${keep[@]}" --set train.max_steps=6
[ $rc -eq 0 ] || fail "pruned run: exit $rc"
run "${keep[@]}" --set train.max_steps=10 --resume auto
[ $rc -eq 0 ] || fail "--resume auto: exit $rc"
grep -q "resuming from rr/checkpoints/ckpt-6.h5" out.txt || fail "--resume auto did not resume ckpt-6"
[ "$(ls rr/checkpoints | sort | tr '\n' ' ')" = "ckpt-10.h5 ckpt-8.h5 " ] ||
    fail "pruning kept $(ls rr/checkpoints | tr '\n' ' ')"
run "${keep[@]}" --set train.max_steps=10 --resume rr/checkpoints/ckpt-10.h5
[ $rc -eq 0 ] || fail "--resume of the newest checkpoint, at the last step: exit $rc"
[ "$(ls rr/events.out.tfevents.* | wc -l)" -eq 3 ] || fail "not an event file for each of 3 runs"
[ "$(grep -c '"step"' rr/metrics.jsonl)" -ge 3 ] || fail "metrics.jsonl was not appended to"
echo "ok: resume, pruning, a requeued rewrite"

# A language model: its data named by a directory and by a pattern
mkdir txt
for i in $(seq 1 100); do echo "line $i: the quick brown fox jumps over the lazy dog"; done >txt/a.txt
cp txt/a.txt txt/b.txt
write_gpt_config gpt.ini <<'INI'
[run]
name = gpt
threads = 1
[data]
format = text
train = txt
test =
val_fraction = 0.2
batch_size = 4
[train]
max_steps = 2
INI
run gpt.ini --set run.dir=g
[ $rc -eq 0 ] || fail "the language model: exit $rc"
inputs+=(gpt.ini txt/a.txt txt/b.txt g/checkpoints/ckpt-2.h5)
for f in gpt.ini txt/a.txt txt/b.txt g/checkpoints/ckpt-2.h5; do cp "$f" "orig/${f//\//_}"; done
refuse "--predict txt/b.txt: is a data file of data.train \(txt/b.txt\)" \
    gpt.ini --eval g/checkpoints/ckpt-2.h5 --predict txt/b.txt
refuse "--predict txt/a.txt: is a data file of data.train \(txt/a.txt\)" \
    gpt.ini --set 'data.train=txt/*.txt' --eval g/checkpoints/ckpt-2.h5 --predict txt/a.txt
refuse "the run directory \./txt/: is a data directory of data.train \(txt\); choose another run.dir$" \
    gpt.ini --set run.dir=./txt/
refuse "the checkpoint directory txt: is a data directory of data.train \(txt\)" \
    gpt.ini --set run.dir=g2 --set checkpoint.dir=txt
[ "$(ls -A txt)" = "$(printf 'a.txt\nb.txt')" ] || fail "a refused run wrote into txt"
echo "ok: a language model's data"

# The scripts, with their output their input
py=${ACCEL_TEST_SYSPYTHON:-/usr/bin/python3}
scripts=$src/trainer/scripts
# script_refuses NAME PATTERN COMMAND...: exit 1, one stderr line
# "NAME: error: PATTERN", the inputs intact
script_refuses() {
    local name=$1 pattern=$2
    shift 2
    "$@" >out.txt 2>err.txt
    rc=$?
    [ $rc -eq 1 ] || fail "$*: exit status $rc, expected 1"
    [ "$(wc -l <err.txt)" -eq 1 ] || fail "$*: stderr is not exactly one line"
    grep -Eq -- "^$name: error: $pattern" err.txt || fail "$*: stderr does not match '$pattern'"
    echo "ok: $(cat err.txt)"
    intact
}
if "$py" -c "import h5py, numpy" 2>/dev/null; then
    if "$py" -c "import torch" 2>/dev/null; then
        script_refuses export_torch "$ck: is the checkpoint this export reads \($ck\)" \
            "$py" "$scripts/export_torch.py" $ck $ck
        script_refuses export_torch "hard.h5: is the checkpoint this export reads" \
            "$py" "$scripts/export_torch.py" $ck hard.h5
        script_refuses export_torch "fifo: not a regular file \(a FIFO\)" \
            "$py" "$scripts/export_torch.py" $ck fifo
        "$py" "$scripts/export_torch.py" $ck model.pt >/dev/null || fail "export_torch to model.pt"
        [ -s model.pt ] || fail "export_torch wrote no model.pt"
    else
        echo "note: $py lacks torch: export_torch.py not checked"
    fi
    script_refuses export_hf "g/checkpoints/ckpt-2.h5: is the checkpoint this export reads" \
        "$py" "$scripts/export_hf.py" g/checkpoints/ckpt-2.h5 g/checkpoints/ckpt-2.h5
    script_refuses export_hf "link.h5: is the checkpoint this export reads \($ck\)" \
        "$py" "$scripts/export_hf.py" $ck link.h5
    ln txt/a.txt hl_train_000000.bin # the shard's name, a hard link of an input
    script_refuses text_shards "hl_train_000000.bin: is an input of this command \(txt/a.txt\)" \
        "$py" "$scripts/text_shards.py" hl txt
    "$py" "$scripts/text_shards.py" --shard_tokens 2000 sh txt >/dev/null || fail "text_shards"
    inputs+=(sh_train_000001.bin)
    cp sh_train_000001.bin orig/
    script_refuses text_shards "sh_train_000000.bin: is an input of this command" \
        "$py" "$scripts/text_shards.py" --shard_tokens 2000 sh 'sh_train_*.bin'
    ln -sf $null null_train_000000.bin
    script_refuses text_shards "null_train_000000.bin: not a regular file \(a character device\)" \
        "$py" "$scripts/text_shards.py" null txt
else
    echo "note: $py lacks h5py or numpy: export_torch.py, export_hf.py, text_shards.py not checked"
fi
if "$py" -c "import matplotlib" 2>/dev/null; then
    inputs+=(r/metrics.jsonl)
    cp r/metrics.jsonl orig/r_metrics.jsonl
    script_refuses plot_metrics "r/metrics.jsonl: is an input of this plot" \
        "$py" "$scripts/plot_metrics.py" r/metrics.jsonl r
    script_refuses plot_metrics "r: is an input of this plot" "$py" "$scripts/plot_metrics.py" r r
    script_refuses plot_metrics "$null: not a regular file \(a character device\)" \
        "$py" "$scripts/plot_metrics.py" $null r
else
    echo "note: $py lacks matplotlib: plot_metrics.py not checked"
fi
# bundle.sh, on a build directory of stand-ins (its refusals come first)
if command -v patchelf >/dev/null; then
    mkdir -p fb/tests/gpu
    for p in accel-train tests/ckpt_diff tests/gpu/gpu_probe tests/gpu/test_gpu_ops \
        tests/gpu/gpu_calls; do
        printf '#!/bin/sh\n' >fb/$p
        chmod +x fb/$p
    done
    inputs+=(fb/accel-train)
    cp fb/accel-train orig/fb_accel-train
    script_refuses bundle.sh "\./fb/accel-train: is fb/accel-train, which goes into the bundle" \
        bash "$src/launch/bundle.sh" fb ./fb/accel-train
    script_refuses bundle.sh "fifo: not a regular file" bash "$src/launch/bundle.sh" fb fifo
else
    echo "note: no patchelf: bundle.sh not checked"
fi
echo "outputs: all passed"
