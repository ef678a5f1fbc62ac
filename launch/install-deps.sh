#!/bin/sh
# Installs everything accel-train needs to build, train and run its tests,
# from Debian 12's own packages: the compiler and CMake, Open MPI, HDF5,
# OpenBLAS, libinih, zlib, PCRE2 and jansson (the tokenizer's pattern and
# JSON), Check, Python with numpy and h5py (for the scripts of
# trainer/scripts: token shards, checkpoints, the Hugging Face export), and
# the data sets: Fashion-MNIST, and the fortunes (English and Chinese) that
# the language-model configs train on.
# The CUDA toolkit is not among them: where /usr/local/cuda is absent the
# build is CPU-only and says so.
set -eu
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends \
    build-essential cmake pkg-config \
    libopenmpi-dev openmpi-bin \
    libhdf5-dev hdf5-tools \
    libopenblas-dev libinih-dev zlib1g-dev libpcre2-dev libjansson-dev \
    check \
    python3 python3-numpy python3-h5py \
    dataset-fashion-mnist fortunes fortunes-zh
