#!/bin/bash
# bench/recipes.sh: a language-model config's whole schedule under several
# recipes (dropout, weight decay, learning rate, warmup, batch), two at a
# time, one thread each, from the same seed; prints the validation loss of
# each recipe at each evaluation, and its bits per byte at the end, as a
# Markdown table. How the shipped recipes are chosen (issue 28): a change
# is kept when it wins over whole schedules, on two seeds where the gain
# is small.
#   bench/recipes.sh BUILD_DIR CONFIG RECIPE...
# A RECIPE is NAME or NAME:SET[,SET...], each SET a --set KEY=VALUE; a `*`
# in KEY stands for every copy of a repeated block (h.*.attn_drop.rate=0
# sets h.0 to h.3's). `shipped` alone is the config as it is.
#   bench/recipes.sh build configs/fortunes_gpt.ini shipped \
#       no_dropout:h.*.attn_drop.rate=0,h.*.mlp_drop.rate=0
# ACCEL_RECIPE_SEEDS="42 7" runs each recipe once a seed (default: the
# config's own).
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 3 ] || { sed -n '2,17p' "$0" >&2; exit 2; }
build=$1 cfg=$2
shift 2
prog=$build/accel-train
[ -x "$prog" ] || { echo "recipes: no $prog (build first)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# the layer names of the model, for the `*` of a SET
"$prog" "$cfg" --dry-run 2>/dev/null | awk 'NF >= 2 && $1 ~ /\./ { print $1 }' >"$work/layers"

# expand SET: its --set options, one a line
expand() {
    local key=${1%%=*} value=${1#*=}
    if [[ $key != *'*'* ]]; then
        echo "--set" && echo "$1"
        return
    fi
    local layer=${key%.*} field=${key##*.} re
    re="^$(sed 's/\./\\./g; s/\*/[0-9]+/g' <<<"$layer")\$"
    local n=0
    while read -r name; do
        echo "--set" && echo "$name.$field=$value"
        n=$((n + 1))
    done < <(grep -E "$re" "$work/layers")
    [ $n -gt 0 ] || { echo "recipes: no layer matches $layer" >&2; exit 1; }
}

# one run: NAME SEED SETS...; its metrics in $work/NAME-SEED.jsonl
run() {
    local name=$1 seed=$2
    shift 2
    local dir=$work/$name-$seed
    "$prog" "$cfg" --set run.threads=1 --set run.dir="$dir" --set checkpoint.every_steps=0 \
        ${seed:+--set run.seed="$seed"} "$@" >"$dir.log" 2>&1 ||
        { echo "recipes: $name (seed $seed) failed: $(tail -1 "$dir.log")" >&2; return 1; }
    cp "$dir/metrics.jsonl" "$dir.jsonl"
}

seeds=${ACCEL_RECIPE_SEEDS:-}
[ -n "$seeds" ] || seeds=default

for recipe in "$@"; do
    name=${recipe%%:*} sets=() items=()
    [ "$name" = "$recipe" ] || IFS=, read -ra items <<<"${recipe#*:}"
    for item in "${items[@]}"; do
        out=$(expand "$item") || exit 1
        while IFS= read -r line; do sets+=("$line"); done <<<"$out"
    done
    for seed in $seeds; do
        [ "$seed" = default ] && seed=
        run "$name" "$seed" "${sets[@]}" &

        # two at a time: one a core of the 2-core machine
        [ $(jobs -rp | wc -l) -lt 2 ] || wait -n
    done
done
wait

# the table: a row per evaluation step, a column per (recipe, seed)
python3 - "$work" "$@" <<'EOF'
import json, sys, glob, os
work = sys.argv[1]
cols = sorted(glob.glob(os.path.join(work, "*.jsonl")))
evals, bpb = {}, {}
for path in cols:
    col = os.path.basename(path)[:-6].rstrip("-")
    for line in open(path):
        r = json.loads(line)
        if r.get("split") == "val":
            evals.setdefault(r["step"], {})[col] = r["loss"]
            bpb[col] = r.get("bits_per_byte", r.get("bits_per_token"))
names = [os.path.basename(p)[:-6].rstrip("-") for p in cols]
print("| step | " + " | ".join(names) + " |")
print("|---" * (len(names) + 1) + "|")
for step in sorted(evals):
    print(f"| {step} | " + " | ".join(f"{evals[step].get(n, float('nan')):.4f}" for n in names) + " |")
print("| bits a byte, at the end | " + " | ".join(f"{bpb.get(n) or float('nan'):.3f}" for n in names) + " |")
EOF
