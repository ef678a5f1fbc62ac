#!/bin/bash
# launch/bundle.sh makes a tarball that runs from anywhere: every library its
# programs load comes from the bundle, glibc, or the host's CUDA, and the
# bundled accel-train trains on the bundled data (Fashion-MNIST, the
# fortunes) with a bare environment.
prog=$1 src=$2 build=$3
source "$src/tests/cli/lib.sh"
for tool in patchelf xz; do
    command -v $tool >/dev/null || { echo "SKIPPED: $tool is not installed"; exit 77; }
done
bash "$src/launch/bundle.sh" "$build" "$work/b.tar.xz" >out.txt 2>err.txt || fail "bundle.sh failed"
size=$(stat -c %s b.tar.xz)
[ "$size" -lt $((64 * 1024 * 1024)) ] || fail "the bundle is $size bytes, over 64 MiB"
mkdir x && tar -C x -xJf b.tar.xz || fail "cannot unpack the bundle"
b=$(realpath "$work/x/accel-train")
for f in "$b"/bin/*; do
    ldd "$f" | awk '$3 ~ /^\// { print $1, $3 }' | while read -r name path; do
        path=$(realpath "$path")
        case "$path" in
        "$b"/lib/*) ;;
        */libc.so*|*/libm.so*|*/libdl.so*|*/libpthread.so*|*/librt.so*|*/libresolv.so*) ;;
        *libcudart*|*libcublas*|*libcudnn*|*libnccl*) ;;
        *) echo "$f loads $name from $path, outside the bundle"; exit 1 ;;
        esac
    done || fail "a bundled program loads a library from outside the bundle"
done
env -i PATH=/usr/bin:/bin HOME="$work" "$b/bin/accel-train" "$b/configs/fashion_mlp.ini" \
    --set run.device=cpu --set train.max_steps=5 --set data.test= \
    --set data.train="$b/data/fashion-mnist/train" --set run.dir="$work/r" >out.txt 2>err.txt ||
    fail "the bundled accel-train does not run"
[ -f r/checkpoints/ckpt-5.h5 ] || fail "the bundled run wrote no checkpoint"
# the fortunes GPT on the bundled fortunes (gpu_train.sh's bf16 check)
env -i PATH=/usr/bin:/bin HOME="$work" "$b/bin/accel-train" "$b/configs/fortunes_gpt.ini" \
    --set run.device=cpu --set train.max_steps=3 --set data.eval_tokens=4096 \
    --set data.train="$b/data/fortunes" --set run.dir="$work/g" >out.txt 2>err.txt ||
    fail "the bundled accel-train does not train the fortunes GPT on the bundled fortunes"
[ -f g/checkpoints/ckpt-3.h5 ] || fail "the bundled GPT run wrote no checkpoint"
echo "bundle: $size bytes, self-contained"
