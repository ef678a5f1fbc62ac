#!/bin/bash
# Checkpoints continue a run exactly: a resumed run ends bitwise equal to an
# uninterrupted one (mid-epoch, with dropout, shuffling, warmup, cosine decay,
# clipping and weight decay), on another number of ranks it stays within
# 2e-5, --resume auto skips a damaged newest file, a checkpoint of format 2
# (the earlier sample order) continues with a note, and a checkpoint of
# another model is refused.
prog=$1 src=$2 diff=$3
source "$(dirname "$0")/lib.sh"
command -v h5diff >/dev/null || fail "install hdf5-tools"
write_resume_config c.ini

# One run of 140 steps, and one of 70 (epoch 2, step 12 of it) resumed to 140.
run c.ini --set run.dir=whole --set train.max_steps=140
[ $rc -eq 0 ] || fail "whole run: exit $rc"
run c.ini --set run.dir=split --set train.max_steps=70
[ $rc -eq 0 ] || fail "first half: exit $rc"
run c.ini --set run.dir=split --set train.max_steps=140 --resume auto
[ $rc -eq 0 ] || fail "resumed half: exit $rc"
grep -q "resuming from split/checkpoints/ckpt-70.h5: step 70 (epoch 2, step 12 of it)" out.txt ||
    fail "did not resume from step 70"
grep -q "note: the checkpoint was written" out.txt && fail "same ranks, threads and format: noted as inexact"
ckpt_same whole/checkpoints/ckpt-140.h5 split/checkpoints/ckpt-140.h5 || fail "resume is not exact"
for g in /model /optimizer; do
    h5diff whole/checkpoints/ckpt-140.h5 split/checkpoints/ckpt-140.h5 $g $g ||
        fail "h5diff finds differences in $g"
done
[ "$(grep -c '"step":140,' split/metrics.jsonl)" -eq 1 ] || fail "metrics.jsonl was not appended to"
grep -q '"step":70,' split/metrics.jsonl || fail "metrics.jsonl lost the first half"

# --resume PATH, from an older checkpoint of the whole run
run c.ini --set run.dir=frompath --set train.max_steps=140 --resume whole/checkpoints/ckpt-60.h5
[ $rc -eq 0 ] || fail "--resume PATH: exit $rc"
ckpt_same whole/checkpoints/ckpt-140.h5 frompath/checkpoints/ckpt-140.h5 ||
    fail "resume from step 60 is not exact"

# Across world sizes: 4 ranks to step 60, then 2 ranks (and 1) to 140,
# against 4 ranks all the way.
mpi 4 "$prog" c.ini --set run.dir=w4 --set train.max_steps=140 >out.txt 2>err.txt || fail "4 ranks: exit $?"
mpi 4 "$prog" c.ini --set run.dir=w42 --set train.max_steps=60 >out.txt 2>err.txt || fail "4 ranks to 60: exit $?"
cp -r w42 w41
mpi 2 "$prog" c.ini --set run.dir=w42 --set train.max_steps=140 --resume auto >out.txt 2>err.txt ||
    fail "2 ranks resuming: exit $?"
grep -q "resuming from w42/checkpoints/ckpt-60.h5" out.txt || fail "2 ranks did not resume"
grep -q "note: the checkpoint was written by 4 ranks with 1 CPU thread each, this run has 2 ranks with 1 CPU thread each: it continues the same training, but not bitwise" out.txt ||
    fail "resuming 4 ranks on 2: no note that it is not bitwise"
ckpt_close w4/checkpoints/ckpt-140.h5 w42/checkpoints/ckpt-140.h5 || fail "4 -> 2 ranks drifted"
run c.ini --set run.dir=w41 --set train.max_steps=140 --resume auto
[ $rc -eq 0 ] || fail "1 rank resuming a 4-rank checkpoint: exit $rc"
ckpt_close w4/checkpoints/ckpt-140.h5 w41/checkpoints/ckpt-140.h5 || fail "4 -> 1 rank drifted"

# --resume auto skips a truncated newest checkpoint, naming it
mkdir -p dmg/checkpoints
cp whole/checkpoints/ckpt-60.h5 whole/checkpoints/ckpt-80.h5 dmg/checkpoints/
truncate -s 2000 dmg/checkpoints/ckpt-80.h5
run c.ini --set run.dir=dmg --set train.max_steps=100 --resume auto
[ $rc -eq 0 ] || fail "resume past a damaged file: exit $rc"
grep -q "^accel-train: warning: skipping damaged dmg/checkpoints/ckpt-80.h5: " err.txt ||
    fail "no warning naming the damaged file"
grep -q "resuming from dmg/checkpoints/ckpt-60.h5" out.txt || fail "did not fall back to ckpt-60"

# --resume auto with nothing to resume starts fresh
run c.ini --set run.dir=fresh --set train.max_steps=3 --resume auto
[ $rc -eq 0 ] && grep -q "no checkpoint in fresh/checkpoints, starting fresh" out.txt ||
    fail "--resume auto with no checkpoint"

# A checkpoint of another model is refused, naming the layer and both shapes,
# and nothing is written.
before=$(md5sum whole/checkpoints/*)
expect_fail 1 "--resume: checkpoint whole/checkpoints/ckpt-140.h5: layer 'layer0' \\(dense\\): units is 64 in the checkpoint, 32 in the config; a checkpoint is read only into the model it holds" \
    c.ini --set run.dir=whole --set layer0.units=32 --resume whole/checkpoints/ckpt-140.h5
expect_fail 1 "--resume: checkpoint whole/checkpoints/ckpt-140.h5 was written with run.seed = 7, the config has 8" \
    c.ini --set run.dir=whole --set run.seed=8 --resume whole/checkpoints/ckpt-140.h5
expect_fail 1 "--resume nothere.h5: No such file or directory" c.ini --set run.dir=x --resume nothere.h5
cp whole/checkpoints/ckpt-140.h5 cut.h5
truncate -s 5000 cut.h5
expect_fail 1 "--resume: checkpoint cut.h5 is truncated: 4488 bytes after its header, [0-9]+ expected" c.ini --set run.dir=x --resume cut.h5
# forge.py SRC DST EDIT: checkpoint SRC with one edit, re-sealed with a
# valid CRC as a forgery would be. An edit finds a root attribute's
# message (version 1: name, type and space, each padded to 8 bytes).
cat >forge.py <<'PY'
import sys
src, dst, edit = sys.argv[1:]
d = bytearray(open(src, "rb").read())
head = bytes(d[:d.index(b"\n") + 1])  # "accel-train checkpoint <format>"
def attribute(name):
    n = len(name) + 1
    at = d.find(b"\x01\x00%c\x00\x0c\x00\x08\x00%s\x00" % (n, name.encode()))
    assert at > 0, "no attribute message for " + name
    return at, at + 8 + (n + 7) // 8 * 8 + 16 + 8
if edit == "seed-space":  # its dataspace's size 8 -> 9
    at, _ = attribute("seed")
    d[at + 6] = 9
elif edit == "format-2":  # format_version 3 -> 2, in the attribute and the header
    _, value = attribute("format_version")
    assert d[value:value + 8] == (3).to_bytes(8, "little"), "format_version is not 3"
    d[value] = 2
    head = b"accel-train checkpoint 2\n"
def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF
body = bytes(d[512:])
head += b"crc32c %08x of %d bytes after this header\n" % (crc32c(body), len(body))
open(dst, "wb").write(head.ljust(512, b"\0") + body)
PY

# A checkpoint of format 2 is read (the same layout): the run continues
# from it with one note that the sample order changed (here the forgery of
# a format-3 checkpoint, so it ends as the whole run). --eval says nothing.
python3 forge.py whole/checkpoints/ckpt-120.h5 old.h5 format-2 || fail "could not forge a format-2 checkpoint"
run c.ini --set run.dir=old --set train.max_steps=140 --resume old.h5
[ $rc -eq 0 ] || fail "resuming a format-2 checkpoint: exit $rc"
[ "$(grep -c "note: the checkpoint was written with the earlier sample order (checkpoint format 2): it continues the same training, but not bitwise" out.txt)" -eq 1 ] ||
    fail "resuming a format-2 checkpoint: not one note about the sample order"
head -c 25 old/checkpoints/ckpt-140.h5 | grep -q "^accel-train checkpoint 3$" ||
    fail "the run resumed from format 2 did not write format 3"
ckpt_same whole/checkpoints/ckpt-140.h5 old/checkpoints/ckpt-140.h5 ||
    fail "a format-2 checkpoint did not load the state it holds"
run c.ini --set data.test="$FASHION/t10k" --eval old.h5
[ $rc -eq 0 ] || fail "--eval of a format-2 checkpoint: exit $rc"
grep -q "sample order" out.txt err.txt && fail "--eval of a format-2 checkpoint: a note about the sample order"

# A real checkpoint mutated as fuzzing found libhdf5 1.10 crash on: the
# root attribute seed's dataspace size 8 -> 9 (its decoder then copies the
# value from past its buffer). Refused in one line, whatever the library
# does with it.
python3 forge.py whole/checkpoints/ckpt-140.h5 forged.h5 seed-space || fail "could not forge the checkpoint"
expect_fail 1 "--resume: checkpoint forged.h5[: ]" c.ini --set run.dir=x --resume forged.h5
[ "$before" = "$(md5sum whole/checkpoints/*)" ] || fail "a refused resume changed the checkpoints"
[ ! -e x ] || fail "a refused resume created a run directory"
echo "resume: all passed"
