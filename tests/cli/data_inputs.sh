#!/bin/bash
# Data inputs that are not what they seem, each refused in one line naming
# the key and the file, exit 1, never a hang: a FIFO, a device, a socket
# or a directory where a file is expected, in every format, named or met
# in a directory or a glob (before anything opens it: open() of a FIFO
# would block); text larger than the memory budget, refused before it is
# read when its size says so and no further than the budget when its
# size says less (ACCEL_MEM_BUDGET makes the budget small); text bytes
# not below the embedding's vocab (vocab 128 trains on ASCII); and a
# token shard cut short while the run reads it, told with its size now
# and at start-up.
prog=$1 src=$2
source "$(dirname "$0")/lib.sh"
py=${ACCEL_TEST_SYSPYTHON:-/usr/bin/python3}
# Each run is bounded: one that opened a FIFO would wait for a writer
# forever, and SIGKILL (status 137, which expect_fail reports) is what
# ends it. The watchdog bounds the script.
real_prog=$prog
bounded() { timeout -s KILL 60 "$real_prog" "$@"; }
prog=bounded
start_watchdog 240

write_config c.ini
write_idx_images good-images-idx3-ubyte 100 28 28
write_idx_labels good-labels-idx1-ubyte 100
img=(c.ini --set data.test= --set data.batch_size=10 --set train.max_steps=2)
mkfifo fifo
/usr/bin/python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' sock ||
    fail "cannot make a socket file"

# Every format, data.train and data.test: one line naming the key and the
# path, and what it is.
not_regular() { # KEY PATH KIND ARGS...: KEY's PATH is refused as KIND
    local key=$1 path=$2 kind=$3
    shift 3
    expect_fail 1 "$key: $path is $kind, not a regular file$" "$@"
}
fifo='a FIFO \(named pipe\)'
not_regular data.train fifo "$fifo" "${img[@]}" --set data.train=fifo,good-labels-idx1-ubyte
not_regular data.test fifo "$fifo" "${img[@]}" --set data.train=good --set data.test=good-images-idx3-ubyte,fifo
ln -s fifo p-images-idx3-ubyte
cp good-labels-idx1-ubyte p-labels-idx1-ubyte
not_regular data.train p-images-idx3-ubyte "$fifo" "${img[@]}" --set data.train=p
not_regular data.train /dev/zero 'a character device' "${img[@]}" --set data.train=/dev/zero,/dev/zero
not_regular data.train sock 'a socket' "${img[@]}" --set data.train=sock,good-labels-idx1-ubyte
not_regular data.train fifo "$fifo" "${img[@]}" --set data.format=cifar10 --set data.train=fifo
mkdir cifar && mkfifo cifar/data_batch_1.bin
not_regular data.train cifar/data_batch_1.bin "$fifo" "${img[@]}" --set data.format=cifar10 \
    --set data.train=cifar
not_regular data.train fifo "$fifo" "${img[@]}" --set data.format=hdf5 --set data.train=fifo
not_regular data.test /dev/zero 'a character device' "${img[@]}" --set data.format=hdf5 \
    --set data.train="$src/tests/fuzz/corpus/hdf5_data/u8_nchw.h5" --set data.test=/dev/zero
not_regular data.train cifar 'a directory' "${img[@]}" --set data.format=hdf5 --set data.train=cifar

# Text and tokens: a FIFO named, in a directory, matched by a glob; the
# directory's other files are fine, and data.exclude may leave it out.
mkdir text
for i in $(seq 1 300); do echo "the quick brown fox $((i % 7)) jumps over the lazy dog"; done >text/a.txt
write_gpt_config lm.ini <<'INI'
[run]
name = lm
seed = 3
[data]
format = text
train = text
test =
val_fraction = 0.1
batch_size = 8
[train]
max_steps = 2
INI
lm=(lm.ini --set run.dir=lm)
not_regular data.train fifo "$fifo" "${lm[@]}" --set data.train=fifo
not_regular data.train /dev/zero 'a character device' "${lm[@]}" --set data.train=/dev/zero
run "${lm[@]}"
[ $rc -eq 0 ] || fail "text without a FIFO: exit $rc"
mkfifo text/pipe
in_dir=": remove it, or leave it out with data.exclude$"
expect_fail 1 "data.train: text/pipe is $fifo, not a regular file$in_dir" "${lm[@]}"
expect_fail 1 "data.train: text/pipe is $fifo, not a regular file$in_dir" "${lm[@]}" \
    --set 'data.train=text/*'
run "${lm[@]}" --set data.exclude=pipe
[ $rc -eq 0 ] || fail "text with its FIFO excluded: exit $rc"
rm text/pipe
"$py" - <<'PY' || fail "writing shards"
import struct
def shard(path, tokens):
    with open(path, "wb") as f:
        f.write(struct.pack("<3i", 20240520, 1, len(tokens)) + bytes(1012))
        f.write(struct.pack(f"<{len(tokens)}H", *tokens))
text = open("text/a.txt", "rb").read()
for i in range(3):  # three shards of 4000 tokens
    shard(f"s_{i}.bin", (text * 3)[4000 * i:4000 * (i + 1)])
PY
mkdir shards && cp s_0.bin s_1.bin shards/ && mkfifo shards/pipe
tok=("${lm[@]}" --set data.format=tokens --set data.train=s_0.bin,s_1.bin)
run "${tok[@]}"
[ $rc -eq 0 ] || fail "tokens: exit $rc"
not_regular data.test fifo "$fifo" "${tok[@]}" --set data.test=fifo
expect_fail 1 "data.train: shards/pipe is $fifo, not a regular file$in_dir" "${tok[@]}" \
    --set data.train=shards
expect_fail 1 "data.train: shards/pipe is $fifo, not a regular file$in_dir" "${tok[@]}" \
    --set 'data.train=shards/*'
echo "ok: FIFOs, devices, sockets and directories refused in every format"

# Text larger than the budget: a sparse file of 100 GiB is refused by its
# size before a byte is read; /proc/self/environ says 0 bytes and holds
# 1.2 MB (this test's environment), and is read no further than the
# budget, 512 KiB.
truncate -s 100G huge.txt
ACCEL_MEM_BUDGET=64M expect_fail 1 "data.train: huge.txt: its 107374182400 bytes of text need 100.00 GiB, but 0.06 GiB is available \\(ACCEL_MEM_BUDGET=64M in the environment\\)$" \
    "${lm[@]}" --set data.train=huge.txt
mv huge.txt text/ # after a.txt, in the sorted stream
ACCEL_MEM_BUDGET=64M expect_fail 1 "data.train: text/huge.txt: its 107374182400 bytes of text, with the 13800 of the files before it, need 100.00 GiB, but 0.06 GiB is available" \
    "${lm[@]}"
rm text/huge.txt
pad=$(head -c 100000 /dev/zero | tr '\0' x)
envs=()
for i in $(seq 12); do envs+=("PAD$i=$pad"); done
[ "$(stat -c %s /proc/self/environ)" -eq 0 ] || fail "/proc/self/environ has a size here"
env "${envs[@]}" ACCEL_MEM_BUDGET=512K "$real_prog" "${lm[@]}" --set data.train=/proc/self/environ \
    >out.txt 2>err.txt
rc=$?
[ $rc -eq 1 ] && grep -Eq "^accel-train: error: data.train: /proc/self/environ: its size said 0 bytes, but it holds over 524288, which with the 0 bytes of the files before it pass the memory available, 0.50 MiB \\(ACCEL_MEM_BUDGET=512K in the environment\\): not read further$" err.txt ||
    fail "/proc/self/environ over the budget: exit $rc"
echo "ok: $(cat err.txt)"
env "${envs[@]}" ACCEL_MEM_BUDGET=256M "$real_prog" "${lm[@]}" --set data.train=/proc/self/environ \
    >out.txt 2>err.txt || fail "/proc/self/environ within the budget: exit $?"
ACCEL_MEM_BUDGET=lots expect_fail 1 "data.train: text/a.txt: its 13800 bytes of text need 0.00 GiB, but 0.00 GiB is available \\(ACCEL_MEM_BUDGET=lots in the environment is not a size such as 512M or 4G\\)$" \
    "${lm[@]}"
echo "ok: text past the memory budget refused"

# vocab = 128: ASCII trains (the last layer of 128 units too); a byte of
# 128 or more is refused at start-up, naming the file and its offset in it.
sed 's/^vocab = 256$/vocab = 128/; s/^units = 256$/units = 128/' lm.ini >lm128.ini
grep -q '^vocab = 128$' lm128.ini && grep -q '^units = 128$' lm128.ini || fail "no vocab 128 config"
run lm128.ini --set run.dir=ascii
[ $rc -eq 0 ] || fail "vocab 128 on ASCII: exit $rc"
printf 'caf\xc3\xa9 au lait' >text/b.txt
expect_fail 1 "data.train: text/b.txt: byte 195 at offset 3 is not below the vocabulary, 128 \\(the embedding's vocab\\)$" \
    lm128.ini --set run.dir=latin
[ ! -e latin ] || fail "a run refused for its bytes wrote its directory"
run lm.ini --set run.dir=bytes
[ $rc -eq 0 ] || fail "vocab 256 on the same text: exit $rc"
rm text/b.txt
echo "ok: vocab 128 trains on ASCII and refuses byte 195 at start-up"

# A shard cut short during the run. In order, a step reads 8 windows of
# 17 tokens, so shard 0's 3984 windows take 498 steps. The run's standard
# output is a pipe of 4 KiB, read up to the first step's line and then
# left full, so the run blocks within some 30 steps (a line a step) while
# s_0.bin is cut to 2000 tokens: its window 1984, of step 249, needs bytes
# 4992 to 5026 of a file now 5024 bytes long (the batch is made while
# step 248 runs, which the message names). Then s_1.bin, cut before its
# first window is read (step 499): told when it is opened.
cut_mid_run() { # SHARD BYTES ARGS...: cuts SHARD to BYTES once the run has begun
    local shard=$1 bytes=$2
    shift 2
    "$py" - "$shard" "$bytes" "$real_prog" "$@" <<'PY'
import fcntl, os, subprocess, sys
shard, size, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
r, w = os.pipe()
fcntl.fcntl(w, 1031, 4096)  # F_SETPIPE_SZ: the smallest pipe
with open("err.txt", "wb") as err:
    p = subprocess.Popen(argv, stdout=w, stderr=err)
os.close(w)
out, buf = open("out.txt", "wb"), b""
while b"\nstep 1/" not in buf:
    more = os.read(r, 1)
    if not more:
        break
    buf += more
os.truncate(shard, size)  # the run is past its start-up, and blocked soon
while more:
    out.write(buf)
    buf = more = os.read(r, 65536)
sys.exit(p.wait())
PY
    rc=$?
}
seq=("${lm[@]}" --set data.format=tokens --set 'data.train=s_*.bin' --set data.val_fraction=0
    --set data.shuffle=false --set train.max_steps=600 --set train.log_every=1
    --set checkpoint.every_steps=0)
cp s_0.bin s_0.orig
cut_mid_run s_0.bin 5024 "${seq[@]}"
[ $rc -eq 1 ] || fail "shard 0 cut mid-run: exit $rc"
grep -Eq "^accel-train: error: step 24[89]: data.train: s_0.bin is 5024 bytes now, but was 9024 at start-up, and the window read needs bytes 4992 to 5026: the file changed during the run$" err.txt ||
    fail "shard 0 cut mid-run: not the message"
grep -q '^step 247/600 ' out.txt || fail "shard 0 cut mid-run: step 247 did not run"
echo "ok: $(cat err.txt)"
cp s_0.orig s_0.bin
cut_mid_run s_1.bin 5024 "${seq[@]}"
[ $rc -eq 1 ] && grep -Eq "^accel-train: error: step 49[89]: data.train: s_1.bin is 5024 bytes now, but was 9024 at start-up: the file changed during the run$" err.txt ||
    fail "shard 1 cut before its first read: exit $rc"
echo "ok: $(cat err.txt)"
echo "data_inputs: all passed"
