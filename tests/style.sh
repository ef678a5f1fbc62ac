#!/bin/bash
# Every C source and header is formatted as .clang-format says.
# Exit 77 (SKIPPED) where clang-format is not installed.
src=$1
cd "$src" || exit 1
if ! command -v clang-format >/dev/null; then
    echo "SKIPPED: clang-format is not installed (apt-get install clang-format)"
    exit 77
fi
mapfile -t files < <(find util trainer comm kernels data tests bench -name '*.c' -o -name '*.h' -o -name '*.cu' 2>/dev/null | sort)
[ ${#files[@]} -gt 0 ] || { echo "FAIL: no sources found"; exit 1; }
if ! clang-format --dry-run -Werror "${files[@]}"; then
    echo "FAIL: run clang-format -i on the files above"
    exit 1
fi
echo "style: ${#files[@]} files formatted"
