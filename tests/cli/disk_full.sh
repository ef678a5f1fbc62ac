#!/bin/bash
# A checkpoint directory that cannot take checkpoints is refused at start-up
# when that can be seen then (too little space, not a directory); a write
# that fails mid-run (a file size limit) is reported with the path and the
# system's reason, leaves no temporary file, leaves the older checkpoints as
# they were, and ends the run non-zero.
prog=$1 src=$2 diff=$3
source "$(dirname "$0")/lib.sh"
cfg="$src/configs/fashion_mlp.ini"
common=(--set data.test= --set train.log_every=10)

# A checkpoint of this model takes 2.8 MB; a 1 MB file system is too small.
mkdir small
if mount -t tmpfs -o size=1m tmpfs small 2>/dev/null; then
    trap 'umount "$work/small" 2>/dev/null; rm -rf "$work"' EXIT
    expect_fail 1 "small/checkpoints has 1.0 MiB free, but writing checkpoints needs about" \
        "$cfg" "${common[@]}" --set run.dir=small --set train.max_steps=5
    [ -z "$(ls small/checkpoints)" ] || fail "a refused run wrote into small/checkpoints"
else
    echo "note: cannot mount a tmpfs here: the start-up space check is not exercised"
fi

# a read-only file system
mkdir ro-src ro
if mount --bind -o ro ro-src ro 2>/dev/null; then
    trap 'umount "$work/ro" "$work/small" 2>/dev/null; rm -rf "$work"' EXIT
    mkdir -p ro-src/checkpoints
    expect_fail 1 "directory ro/checkpoints is not writable: Read-only file system" \
        "$cfg" "${common[@]}" --set checkpoint.dir=ro/checkpoints --set run.dir=x --set train.max_steps=5
else
    echo "note: cannot bind-mount read-only here: the writability check is not exercised"
fi

touch notadir
expect_fail 1 "the checkpoint directory notadir: not a directory \\(a regular file\\); choose another checkpoint.dir" "$cfg" "${common[@]}" \
    --set checkpoint.dir=notadir --set run.dir=x --set train.max_steps=5

# Mid-run: a first run leaves ckpt-10; the second, under a 1 MiB file size
# limit, resumes and fails to write ckpt-20.
run "$cfg" "${common[@]}" --set run.dir=r --set train.max_steps=10
[ $rc -eq 0 ] || fail "the first run: exit $rc"
before=$(md5sum r/checkpoints/ckpt-10.h5)
(
    ulimit -f 1024
    "$prog" "$cfg" "${common[@]}" --set run.dir=r --set train.max_steps=20 --resume auto \
        >out.txt 2>err.txt
)
status=$?
[ $status -eq 1 ] || fail "a failed checkpoint write: exit status $status, expected 1"
[ "$(wc -l <err.txt)" -eq 1 ] || fail "the error is not one line: $(cat err.txt)"
grep -q "^accel-train: error: checkpoint r/checkpoints/ckpt-20.h5: cannot write r/checkpoints/.ckpt-20.h5.tmp.[0-9]* (.* bytes written): File too large$" err.txt ||
    fail "the error does not name the file and the reason: $(cat err.txt)"
[ "$before" = "$(md5sum r/checkpoints/ckpt-10.h5)" ] || fail "the older checkpoint changed"
[ "$(ls -A r/checkpoints)" = "ckpt-10.h5" ] || fail "left behind: $(ls -A r/checkpoints)"
echo "ok: $(cat err.txt)"
echo "disk_full: all passed"
