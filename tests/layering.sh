#!/bin/bash
# The source tree's floors: a module includes only itself and the floors
# below it, never one above (the DESIGN's direction of dependencies):
#   util/                        nothing of the project
#   data/, kernels/              util/
#   comm/                        kernels/ (the backend's stream), util/
#   trainer/                     any of them
# A file that breaks it is named with its include.
src=$1
cd "$src" || exit 1
declare -A below=([util]="" [data]="util" [kernels]="util" [comm]="kernels util")
status=0
for mod in util data kernels comm; do
    allowed="$mod ${below[$mod]}"
    while IFS= read -r hit; do
        inc=${hit#*#include \"}
        dir=${inc%%/*}
        if [[ " $allowed " != *" $dir "* ]]; then
            echo "FAIL: $hit: $mod/ may include only ${allowed// /, }"
            status=1
        fi
    done < <(grep -rnE '^#include "[a-z_]+/' "$mod" --include='*.c' --include='*.h' \
                 --include='*.cu' --include='*.cuh')
done
[ $status -eq 0 ] && echo "layering: util < data, kernels < comm < trainer holds"
exit $status
