#!/bin/bash
# bundle.sh: a relocatable tarball of accel-train and its GPU check kit, for
# a machine with a GPU but none of this project's packages.
#   launch/bundle.sh [BUILD_DIR [OUT]]      (defaults: build, accel-train-bundle.tar.xz)
#
# Inside: bin/ (accel-train and the test programs), lib/ (every shared
# library they load that is not glibc's or CUDA's, each with an $ORIGIN
# run path, so the bundle works from any directory), configs/, the test
# scripts, the training split of Fashion-MNIST, the English fortunes,
# tests/gpu/check.sh, and bench/gpu_model.py (the cost model whose calls
# check.sh times with gpu_calls).
# The CUDA libraries (runtime, cuBLAS, cuDNN, NCCL) are not inside: they
# must match the host's driver, so check.sh finds the host's own (through
# LD_LIBRARY_PATH, the CUDA toolkit, or the NVIDIA wheels of PyTorch).
# OUT is written under a temporary name beside it and renamed when whole;
# it may not be a file the bundle is made of (through any spelling or link)
# nor anything but a regular file, refused before any work.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build}
out=${2:-$PWD/accel-train-bundle.tar.xz}
command -v patchelf >/dev/null || { echo "bundle.sh: needs patchelf (apt-get install patchelf)" >&2; exit 1; }
progs=(accel-train tests/ckpt_diff tests/gpu/gpu_probe tests/gpu/test_gpu_ops tests/gpu/gpu_calls)
for prog in "${progs[@]}"; do
    [ -x "$build/$prog" ] || { echo "bundle.sh: no $build/$prog: build with the CUDA backend first" >&2; exit 1; }
done
refuse() { echo "bundle.sh: error: $out: $*; choose another output path" >&2; exit 1; }
if [ -e "$out" ] && [ ! -f "$out" ]; then
    refuse "not a regular file"
fi
# -ef: the same device and inode, whatever the spelling or link
for f in "${progs[@]/#/$build/}" "$src"/configs/*.ini "$src"/tests/cli/lib.sh "$src"/tests/gpu/*.sh \
    "$src"/bench/gpu_model.py; do
    if [ "$out" -ef "$f" ]; then
        refuse "is $f, which goes into the bundle"
    fi
done

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/accel-train
mkdir -p "$root"/{bin,lib,configs,bench,tests/cli,tests/gpu,data/fashion-mnist}
cp "$build/accel-train" "$build/tests/ckpt_diff" "$build/tests/gpu/gpu_probe" \
    "$build/tests/gpu/test_gpu_ops" "$build/tests/gpu/gpu_calls" "$root/bin/"
cp "$src"/bench/gpu_model.py "$root/bench/"
cp "$src"/configs/*.ini "$root/configs/"
cp "$src"/tests/cli/lib.sh "$root/tests/cli/"
cp "$src"/tests/gpu/*.sh "$root/tests/gpu/"
cp /usr/share/datasets/fashion-mnist/train-* "$root/data/fashion-mnist/"
# the English fortunes the fortunes GPT trains on (its config's exclusions)
mkdir -p "$root/data/fortunes"
find /usr/share/games/fortunes -maxdepth 1 -type f ! -name '*.dat' ! -name '*.u8' \
    ! -name chinese ! -name tang300 ! -name song100 \
    -exec cp {} "$root/data/fortunes/" \;

# glibc's own libraries come with every Linux; CUDA's come from the host.
skip='^(linux-vdso|ld-linux|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libresolv\.so|libutil\.so|libcuda|libcudart|libcublas|libcudnn|libnccl|libnvidia|libnvrtc)'
for f in "$root"/bin/*; do
    ldd "$f" | awk '$3 ~ /^\// { print $1, $3 }'
done | sort -u | while read -r name path; do
    if ! [[ $name =~ $skip ]]; then
        cp -L "$path" "$root/lib/$name"
    fi
done
for f in "$root"/bin/*; do patchelf --set-rpath '$ORIGIN/../lib' "$f"; done
for f in "$root"/lib/*; do patchelf --set-rpath '$ORIGIN' "$f"; done

part=$(mktemp "$(dirname "$out")/.$(basename "$out").XXXXXX") # made exclusively
trap 'rm -rf "$stage" "$part"' EXIT
tar -C "$stage" -cf - accel-train | xz -T0 -6 >"$part"
chmod "$(printf '%o' $((0666 & ~$(umask))))" "$part" # mktemp's is 0600
mv -f "$part" "$out"
echo "bundle.sh: $out ($(du -h "$out" | cut -f1)): $(ls "$root/lib" | wc -l) libraries bundled"
