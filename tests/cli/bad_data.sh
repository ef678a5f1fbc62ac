#!/bin/bash
# Bad data files: each gets one error line naming the key and the file, exit 1,
# and leaves an existing checkpoint directory exactly as it was.
prog=$1 src=$2
source "$(dirname "$0")/lib.sh"
write_config c.ini

# good tiny data, and a first run that leaves a checkpoint behind
write_idx_images good-images-idx3-ubyte 100 28 28
write_idx_labels good-labels-idx1-ubyte 100
gzip -k good-images-idx3-ubyte
common=(--set run.dir=out --set data.test= --set data.batch_size=10)
run c.ini "${common[@]}" --set data.train=good --set train.max_steps=3
[ $rc -eq 0 ] || fail "the good tiny run failed"
[ -f out/checkpoints/ckpt-3.h5 ] || fail "no checkpoint from the good run"
before=$(cd out && find . -type f -exec md5sum {} + | sort)

write_idx_images trunc-images-idx3-ubyte 100 28 28
truncate -s 5000 trunc-images-idx3-ubyte
cp good-labels-idx1-ubyte trunc-labels-idx1-ubyte
expect_fail 1 "data.train: trunc-images-idx3-ubyte: truncated: expected 78400 bytes of pixels, found 4984" \
    c.ini "${common[@]}" --set data.train=trunc

write_idx_images magic-images-idx3-ubyte 100 28 28 02
cp good-labels-idx1-ubyte magic-labels-idx1-ubyte
expect_fail 1 "data.train: magic-images-idx3-ubyte: wrong magic number 0x00000802, expected 0x00000803" \
    c.ini "${common[@]}" --set data.train=magic

cp good-images-idx3-ubyte.gz count-images-idx3-ubyte.gz
write_idx_labels count-labels-idx1-ubyte 90
expect_fail 1 "data.train: count-images-idx3-ubyte.gz has 100 images but count-labels-idx1-ubyte has 90 labels" \
    c.ini "${common[@]}" --set data.train=count

expect_fail 1 "data.test = missing: found neither missing-images-idx3-ubyte.gz nor missing-images-idx3-ubyte" \
    c.ini "${common[@]}" --set data.train=good --set data.test=missing

head -c 3000 good-images-idx3-ubyte.gz >cut-images-idx3-ubyte.gz
cp good-labels-idx1-ubyte cut-labels-idx1-ubyte
expect_fail 1 "data.train: cut-images-idx3-ubyte.gz: " c.ini "${common[@]}" --set data.train=cut

# a gzipped file's header may announce far more than it holds: 2^28 images
# in 1,000 bytes is refused as truncated, having taken only what was there
{ printf '\x00\x00\x08\x03'; be32 268435456; be32 1; be32 1; head -c 1000 /dev/zero; } |
    gzip >announced-images-idx3-ubyte.gz
cp good-labels-idx1-ubyte announced-labels-idx1-ubyte
expect_fail 1 "data.train: announced-images-idx3-ubyte.gz: truncated: expected 268435456 bytes of pixels, found 1000" \
    c.ini "${common[@]}" --set data.train=announced

# an HDF5 data file damaged so that libhdf5 1.10 itself crashes (a NULL
# read in the root group's heap, inside H5Lexists), from a real one by
# fuzzing: refused in one line, never read by this process
crashed=$src/tests/fuzz/corpus/hdf5_data/libhdf5-local-heap-null-read
expect_fail 1 "data.train: $crashed: the HDF5 file is malformed: libhdf5 crashed reading its metadata" \
    c.ini "${common[@]}" --set data.format=hdf5 --set data.train="$crashed"

expect_fail 1 "data.batch_size = 200 is larger than the 100 training samples" \
    c.ini "${common[@]}" --set data.train=good --set data.batch_size=200

after=$(cd out && find . -type f -exec md5sum {} + | sort)
[ "$before" = "$after" ] || fail "a failed run changed the run directory"
echo "bad_data: all passed"
