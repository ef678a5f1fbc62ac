#!/bin/bash
# Builds GPGPU-Sim for the simulator tier: shared's build (../shared/
# gpgpu-sim: the upstream tarball, its cuda13.patch, its shim) with this
# repository's own fixes to the simulator on top (tests/sim/patches/*.patch,
# each beside the small kernel in tests/sim/defects/ that shows the defect).
#     bash tests/sim/build.sh SIM_DIR ROOT
# SIM_DIR is shared's gpgpu-sim folder, ROOT where builds are kept. The
# simulator goes to ROOT/gpgpu-sim-<hash of every input>, so a changed
# patch builds anew and an unchanged one is there at once (shared's
# build.sh returns at once on a finished prefix); the prefix is printed
# last. About 8 minutes on 2 cores the first time.
set -euo pipefail
sim=$(cd "$1" && pwd)
root=$2
here=$(cd "$(dirname "$0")" && pwd)
patches=("$here"/patches/*.patch)
hash=$(cat "$sim/build.sh" "$sim/cuda13.patch" "$sim/shim.c" "${patches[@]}" |
    { cat; ls -l "$sim"/gpgpu-sim-*.tar.gz | awk '{print $5, $NF}'; } | sha256sum | cut -c1-12)
mkdir -p "$root"
root=$(cd "$root" && pwd)
prefix=$root/gpgpu-sim-$hash
# shared's build.sh reads its inputs beside itself: a folder of them with
# cuda13.patch followed by ours (patch applies the sections in order)
overlay=$root/inputs-$hash
mkdir -p "$overlay"
cp "$sim/build.sh" "$sim/shim.c" "$overlay/"
ln -sfn "$sim"/gpgpu-sim-*.tar.gz "$overlay/"
cat "$sim/cuda13.patch" "${patches[@]}" >"$overlay/cuda13.patch"
bash "$overlay/build.sh" "$prefix" >&2
echo "$prefix"
