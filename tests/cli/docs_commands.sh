#!/bin/bash
# cli.docs: the shell commands of README.md and docs/*.md, taken from their
# code blocks (the Markdown is the source, so the docs cannot drift from
# what runs). Each command is classified by the table below, first match
# wins:
#   run   run as written, from a copy of the repository's layout (configs/,
#         launch/, trainer/ and build/accel-train linked into a temporary
#         directory, /tmp/ in a command moved into it); it must exit 0
#   ckpt  as run, but first makes the checkpoint the command names, which
#         the docs' own training takes minutes to write, or does not keep:
#         the newest one of the same run directory, or the config's
#         initial state (--set train.max_steps=0), under the name given
#   dry   too long, or needs what a test has not (GPUs, a Slurm cluster,
#         other hosts): the accel-train invocation in it (from its config
#         on, a placeholder CONFIG or configs/... taken as
#         configs/fashion_mlp.ini) is run with --dry-run, under
#         `mpirun -np N` where the command runs one on this machine; every
#         file of the repository it names must exist
#   skip  not runnable here, for the reason given
# A run or ckpt class with "+long" (a whole training: seconds in Release,
# minutes under the sanitizers) is dry instead with --quick, which the
# sanitizer build passes.
# and a block whose first line a `text` rule matches is not commands at all
# (a program's output, an INI example, a tree, C). A command or block no
# rule matches fails the test ("unclassified command"), and so does a rule
# that matches nothing: a new command in the docs is run, or its reason not
# to be is written here. And every relative link of those pages must name
# a file that is there, and a heading of it where it names one.
prog=$1 src=$2 quick=${3:-}
source "$(dirname "$0")/lib.sh"
start_watchdog 840

# CLASS|REASON|ERE over the whole command, continuation lines joined
rules=$(
    cat <<'RULES'
text|the output of a run|^accel-train: (error|restart)|^accel-run: |^ranks on [0-9]+ nodes:
text|an INI example (configuration.md, a GPT-2 block)|^\[repeat\]$
text|what --generate printed (results.md)|^somest fase|^端匫里今鸿
text|the source tree (layout.md)|^CMakeLists.txt +one build
text|C, the tokenizer's API (tokenizer.md)|^#include "data/tokenizer.h"$
text|a regular expression, GPT-2's pre-tokenizer (tokenizer.md)|^'s\|'t\|
skip|the set-up itself, as root on a fresh machine: what tests/run.sh and CI do|^bash launch/install-deps.sh && cmake -S \. -B build && cmake --build build -j && \./build/accel-train configs/fashion_mlp\.ini$
skip|the whole suite, this test among it|^bash tests/run\.sh$
skip|a build with the CUDA backend: tests/run.sh builds it so where the toolkit is|^cmake -S \. -B build -DACCEL_CUDA=ON && cmake --build build -j$
skip|a synopsis, with placeholders (--dry-run and --help are run on the lines after it)|^accel-train CONFIG (\[--set|--eval CKPT)
dry|a synopsis: CONFIG taken as configs/fashion_mlp.ini|^accel-train CONFIG --dry-run +#
run||^accel-train --(help|help-config|version) +#
run+long|10 epochs of Fashion-MNIST: seconds|^\./build/accel-train configs/fashion_mlp\.ini( +#.*)?$
run||^\./build/accel-train configs/fashion_mlp\.ini --dry-run( +#.*)?$
dry|10 epochs on 2 ranks: minutes where ranks share 2 cores with others|^launch/accel-run -n 2 configs/fashion_mlp\.ini( +#.*)?$
dry|10 epochs on 4 ranks: minutes on 2 cores|^mpirun -np 4 \./build/accel-train configs/fashion_mlp\.ini$
run|500 steps|^\./build/accel-train configs/fashion_mlp\.ini --set train\.max_steps=500( +#.*)?$
run+long|the rest of the 10 epochs, or none after the README's whole training|^\./build/accel-train configs/fashion_mlp\.ini --resume auto( +#.*)?$
ckpt+long|the checkpoint of a step the default training does not keep|^\./build/accel-train configs/fashion_mlp\.ini --resume runs/fashion_mlp/checkpoints/ckpt-2000\.h5$
ckpt|the 1,500-step checkpoint takes 7 minutes|^\./build/accel-train configs/fortunes_gpt\.ini --generate runs/fortunes_gpt/checkpoints/ckpt-1500\.h5 --prompt "Q: (What is)?" --tokens [0-9]+ --temperature 0\.8 --top_k 40 --seed 1$
skip|needs the tokenizers package from PyPI, which tests/run.sh puts in .venv: cli.configs_run trains the BPE configs' tokenizers this way, cli.train_tokenizer tests the script|^python3 trainer/scripts/train_tokenizer\.py --vocab_size 4096 --config configs/fortunes_gpt\.ini fortunes_bpe\.json$
run|2.5 MiB of text as shards|^python3 trainer/scripts/text_shards\.py --val_fraction 0\.1 --shard_tokens 1000000 --exclude
dry|1,500 steps of a GPT: 7 minutes on 2 cores|^\./build/accel-train configs/fortunes_gpt\.ini( +#.*)?$
dry|1,500 steps of a GPT on the shards: 7 minutes|^\./build/accel-train configs/fortunes_gpt\.ini --set data\.format=tokens
dry|8 GPUs|^mpirun -np 8 \./build/accel-train configs/fashion_mlp\.ini +# one rank per GPU$
dry|a placeholder config, on 4 ranks|^mpirun -np 4 \./build/accel-train CONFIG --set optimizer\.shard=true$
dry|a Slurm cluster|^sbatch (--nodes=2 --ntasks-per-node=2 --cpus-per-task=1 --gpus-per-node=0 )?launch/slurm/[a-z_]+\.sbatch configs/
dry|other hosts|^(mpirun --host|launch/accel-run --hosts) nodea:8,nodeb:8 
dry|a Slurm allocation on two nodes|^srun --mpi=pmix --nodes=2 --ntasks-per-node=8 accel-train CONFIG 
RULES
)

repo=$work/repo
mkdir -p "$repo/build" "$repo/tmp" "$work/bin"
for d in configs launch trainer; do ln -s "$src/$d" "$repo/$d"; done
ln -s "$prog" "$repo/build/accel-train"
ln -s "$prog" "$work/bin/accel-train"
export PATH=$work/bin:$PATH ACCEL_TRAIN=$prog

# every relative link names a file there, and a heading of it
(cd "$src" && python3 "$src/tests/cli/docs_links.py" README.md docs/*.md) >links.txt ||
    fail "broken links: $(cat links.txt)"

# every code block's lines: FILE:LINE <tab> BLOCK <tab> TEXT
python3 "$src/tests/cli/docs_blocks.py" "$src/README.md" "$src"/docs/*.md >blocks.txt ||
    fail "could not read the code blocks"
sed -i "s|$src/||" blocks.txt

# classify TEXT: sets class, reason and the rule's number; 1 when none matches
classify() {
    local n=0 line re
    while IFS= read -r line; do
        n=$((n + 1))
        re=${line#*|}
        re=${re#*|}
        if [[ $1 =~ $re ]]; then
            class=${line%%|*} reason=${line#*|} reason=${reason%%|*} rule=$n
            return 0
        fi
    done <<<"$rules"
    return 1
}

# step CMD: runs CMD (a shell line) in the repository's copy; its output in
# out.txt and err.txt, its status in $rc
step() {
    (cd "$repo" && timeout 120 bash -c "$1") </dev/null >"$work/out.txt" 2>"$work/err.txt"
    rc=$?
}

# words CMD: the command's words, in $w (a trailing comment dropped; the
# docs' commands hold no expansions, which are refused)
words() {
    local c=${1%%  #*}
    c=${c%% # *}
    case $c in *'$('* | *'`'*) fail "$where: an expansion in a documented command: $1" ;; esac
    eval "w=($c)"
}

# dry CMD: its accel-train invocation with --dry-run (a placeholder config
# taken as configs/fashion_mlp.ini), through the command's own launcher
# where that runs here (mpirun -np N, launch/accel-run -n N), and every file
# of the repository it names must be there
dry() {
    local i
    words "$1"
    for ((i = 0; i < ${#w[@]}; i++)); do
        case ${w[i]} in
        CONFIG | configs/...) w[i]=configs/fashion_mlp.ini ;;
        launch/* | configs/*.ini | trainer/*)
            [ -e "$src/${w[i]}" ] || fail "$where: no ${w[i]} in the repository: $1" ;;
        esac
    done
    case "${w[0]} ${w[1]:-}" in
    "mpirun -np" | "launch/accel-run -n") ;;
    *)
        for ((i = 0; i < ${#w[@]}; i++)); do
            [[ ${w[i]} == configs/*.ini ]] && break
        done
        [ $i -lt ${#w[@]} ] || fail "$where: no config in: $1"
        w=(accel-train "${w[@]:i}")
        ;;
    esac
    step "$(printf '%q ' "${w[@]}") --dry-run"
}

# ckpt CMD: makes the checkpoint CMD names: a copy of the newest one an
# earlier command of the docs wrote in the same run directory (the README's
# training of fashion_mlp, which a resume from it then ends at once), or
# else the config's initial state (--set train.max_steps=0)
ckpt() {
    local i cfg= path= from
    words "$1"
    for ((i = 0; i < ${#w[@]}; i++)); do
        case ${w[i]} in
        configs/*.ini) cfg=${w[i]} ;;
        runs/*/checkpoints/ckpt-*.h5) path=${w[i]} ;;
        esac
    done
    [ -n "$cfg" ] && [ -n "$path" ] || fail "$where: no config or checkpoint in: $1"
    [ -e "$repo/$path" ] && return
    from=$(ls -v "$repo/$(dirname "$path")"/ckpt-*.h5 2>/dev/null | tail -1)
    if [ -z "$from" ]; then
        step "accel-train $cfg --set train.max_steps=0 --set checkpoint.dir=$work/ckpt0"
        [ $rc -eq 0 ] || fail "$where: making $path (exit $rc)"
        from=$work/ckpt0/ckpt-0.h5
    fi
    mkdir -p "$(dirname "$repo/$path")"
    cp "$from" "$repo/$path" || fail "$where: no checkpoint to copy to $path"
}

declare -A used=() ran=() counts=([run]=0 [ckpt]=0 [dry]=0 [skip]=0 [again]=0 [text]=0)
block= textblock=
while IFS=$'\t' read -r where id cmd; do
    if [ "$id" != "$block" ]; then
        block=$id textblock=
        if classify "$cmd" && [ "$class" = text ]; then
            textblock=1
            used[$rule]=1
            counts[text]=$((counts[text] + 1))
        fi
    fi
    [ -n "$textblock" ] && continue
    classify "$cmd" || fail "$where: unclassified command (run it, or say in tests/cli/docs_commands.sh why not): $cmd"
    [ "$class" = text ] && fail "$where: a text rule matches a command: $cmd"
    if [[ $class == *+long ]]; then
        class=${class%+long}
        [ "$quick" = --quick ] && class=dry reason="$reason; under the sanitizers (--quick), minutes"
    fi
    used[$rule]=1
    counts[$class]=$((counts[$class] + 1))
    cmd=${cmd//\/tmp\//$repo/tmp/}
    # a command the same as one already run, and as quick, is not run twice
    if [ "$class" = run ] || [ "$class" = ckpt ]; then
        if [ -n "${ran[$cmd]:-}" ]; then
            echo "ok (again): $where: $cmd"
            counts[$class]=$((counts[$class] - 1)) counts[again]=$((counts[again] + 1))
            continue
        fi
        ran[$cmd]=1
    fi
    # the scripts' Python modules, which launch/install-deps.sh installs
    if [ "$class" = run ] && [[ $cmd == python3\ trainer/scripts/* ]] &&
        ! python3 -c 'import numpy, h5py' 2>/dev/null; then
        echo "not run: $where: $cmd (numpy or h5py is not installed: bash launch/install-deps.sh)"
        counts[run]=$((counts[run] - 1)) counts[skip]=$((counts[skip] + 1))
        continue
    fi
    t0=$SECONDS
    case $class in
    skip) echo "skipped: $where: $cmd ($reason)"; continue ;;
    run) step "$cmd" ;;
    ckpt) ckpt "$cmd"; step "$cmd" ;;
    dry) dry "$cmd" ;;
    esac
    [ $rc -eq 0 ] || fail "$where: exit $rc: $cmd"
    echo "ok ($class$([ -n "$reason" ] && echo ": $reason"), $((SECONDS - t0)) s): $where: $cmd"
done <blocks.txt

n=0
while IFS= read -r line; do
    n=$((n + 1))
    [ -n "${used[$n]:-}" ] || fail "rule $n matches no command of the docs (remove it): $line"
done <<<"$rules"
echo "docs: ${counts[run]} commands run, ${counts[ckpt]} run from a made checkpoint," \
    "${counts[dry]} dry-run, ${counts[skip]} skipped, ${counts[again]} the same as one before," \
    "${counts[text]} blocks not commands"
