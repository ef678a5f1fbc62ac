#!/bin/bash
# Chaos: a training on two nodes of one rank each (tests/cluster/lib.sh)
# under launch/accel-run --max-restarts is killed with SIGKILL again and
# again, at random, and must end as if nothing had happened: its final
# checkpoint bitwise that of the same training uninterrupted.
#
# Each kill is one of four kinds, each at least once (a shuffled deck):
#   rank     a random rank, at a random moment between two checkpoints
#   node     every process of a random node (its Open MPI daemon, its
#            rank), as a node losing power, at such a moment
#   write    the writer, rank 0, or its whole node, when it creates a
#            checkpoint's temporary file (tests/tools/kill_at_create,
#            inotify) and 0 to 10 ms later: mid-write (the write and its
#            fsync take 5 to 10 ms here), or just after
#   start-up a random rank, a random moment after the ranks start: in
#            MPI's start-up, the data's loading or the checkpoint's reading
# A killed node is first replaced by a fresh one of the same name (a node
# that reboots, cluster_replace_node): the restart then runs on the same
# two ranks, which is what keeps it bitwise. After each kill accel-run
# must tell the failure within 90 s (no hang) and restart with --resume
# auto; the restarted ranks must resume from the newest whole checkpoint
# (never a temporary file), every checkpoint left must read through HDF5,
# and at the end no temporary file may be left (a start removes a dead
# writer's).
#
# The choices (kinds, victims, delays) come from a seed, printed first;
# ACCEL_CHAOS_SEED=N replays them (the moments are the machine's), and
# ACCEL_CHAOS_KILLS=N sets the number of kills (default 8, at least 4).
prog=$1 src=$2 diff=$3 killer=$4
source "$src/tests/cli/lib.sh"
source "$src/tests/cluster/lib.sh"
cluster_start 280 nodea nodeb
export ACCEL_TRAIN=$prog

seed=${ACCEL_CHAOS_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
kills=${ACCEL_CHAOS_KILLS:-8}
[[ $seed =~ ^[0-9]+$ ]] || fail "ACCEL_CHAOS_SEED wants a number, got '$seed'"
[[ $kills =~ ^[0-9]+$ ]] && [ "$kills" -ge 4 ] || fail "ACCEL_CHAOS_KILLS wants a number >= 4, got '$kills'"
echo "chaos seed $seed, $kills kills (the same choices again: ACCEL_CHAOS_SEED=$seed)"
RANDOM=$seed

# fashion_mlp, 2 ranks of one thread, the global batch 1024, a checkpoint
# every 2 steps, none pruned (the test reads them all). An attempt is
# killed at most two checkpoints past where it resumed (progress, below),
# so the run outlasts the kills.
ckdir=chaos/checkpoints
steps=$((6 * kills + 20))
train=("$src/configs/fashion_mlp.ini" --set data.batch_size=1024 --set data.test=
       --set train.max_steps=$steps --set checkpoint.every_steps=2 --set checkpoint.keep=1000
       --set train.log_every=50 "${PIN[@]}")
hosts=nodea:1,nodeb:1

start=$SECONDS
mpirun "${CLUSTER_MPI[@]}" --host $hosts -np 2 "$prog" "${train[@]}" --set run.dir=ref \
    >out.txt 2>err.txt || fail "the uninterrupted run: exit status $?"
rm out.txt err.txt # fail() shows them: not the reference's once it has passed
[ -f ref/checkpoints/ckpt-$steps.h5 ] || fail "the uninterrupted run left no ckpt-$steps.h5"
# a checkpoint's interval on this machine now, from the reference's files:
# the scale of the random moments below
first=$(date -r ref/checkpoints/ckpt-2.h5 +%s%N)
last=$(date -r ref/checkpoints/ckpt-$steps.h5 +%s%N)
interval_ms=$(((last - first) / 1000000 / (steps / 2 - 1) + 1))
echo "the uninterrupted run: $steps steps in $((SECONDS - start)) s, a checkpoint every $interval_ms ms"

# The deck of kinds: each once, the rest at random, shuffled.
kinds=(rank node write start-up)
while [ ${#kinds[@]} -lt "$kills" ]; do kinds+=("${kinds[RANDOM % 4]}"); done
for ((i = ${#kinds[@]} - 1; i > 0; i--)); do
    j=$((RANDOM % (i + 1)))
    t=${kinds[i]} kinds[i]=${kinds[j]} kinds[j]=$t
done
echo "kills: ${kinds[*]}"

"$src/launch/accel-run" --hosts $hosts --mpi-args "${CLUSTER_MPI[*]}" --max-restarts "$kills" \
    "${train[@]}" --set run.dir=chaos >chaos.out 2>chaos.err &
job=$!
cluster_track $job

# job_alive: accel-run still runs; fails the test, with its last words, if not.
job_alive() {
    kill -0 $job 2>/dev/null && return
    wait $job
    local st=$?
    echo "--- accel-run's output:"
    tail -20 chaos.err
    fail "accel-run ended (status $st) with kill $k of $kills still to come"
}

# ranks: sets r0 and r1 to the pids of the job's ranks 0 and 1 once both
# run (by the rank mpirun gave each, in its environment: accel-run's own
# --dry-run has the same command line and none), at most 60 s.
ranks() {
    local i p r
    for i in $(seq 600); do
        r0='' r1=''
        for p in $(pgrep -f "^$prog .*--set run.dir=chaos( |\$)"); do
            r=$(tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | sed -n 's/^OMPI_COMM_WORLD_RANK=//p')
            case $r in 0) r0=$p ;; 1) r1=$p ;; esac
        done
        [ -n "$r0" ] && [ -n "$r1" ] && return
        job_alive
        sleep 0.1
    done
    fail "the ranks of attempt $attempt did not both start within 60 s"
}

# newest: the step of the newest whole checkpoint, 0 when none.
newest() {
    ls $ckdir 2>/dev/null | sed -n 's/^ckpt-\([0-9]*\)\.h5$/\1/p' | sort -n | tail -1 | grep . || echo 0
}

# nap MS: sleeps MS milliseconds.
nap() {
    sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"
}

# progress: waits (at most 60 s) until the attempt has written a checkpoint
# past the one it resumed from, then a random moment of the interval to
# the next one (or its write).
progress() {
    local i
    for i in $(seq 600); do
        [ "$(newest)" -gt "$resumed" ] && break
        job_alive
        sleep 0.1
    done
    [ "$(newest)" -gt "$resumed" ] ||
        fail "attempt $attempt wrote no checkpoint past step $resumed within 60 s"
    nap $((RANDOM % (interval_ms + 1)))
}

# rank_victim: a random rank; sets r and victim (its pid).
rank_victim() {
    r=$((RANDOM % 2))
    victim=$r0
    [ $r -eq 1 ] && victim=$r1
}

# began: the first line of the running attempt's output (from line
# out_from on) that tells where it began, if it got that far.
began() {
    tail -n +$((out_from + 1)) chaos.out | grep -m1 "^resuming from \|^--resume auto: no checkpoint"
}

# as_ref F WHEN: F reads back through HDF5 and is bitwise the uninterrupted
# run's checkpoint of its step; fails the test, saying WHEN, if not. Every
# checkpoint, not the last alone: 1 ulp added to a restored value is often
# rounded off within a few steps (an Adam moment that beta1 scales, a bias
# beside a larger sum), so an inexact resume can leave the last checkpoint
# bitwise equal while one soon after the resume still shows it. A first
# moment nudged so at every restore passed a check of the last alone, and
# failed this one (seed 54223, at ckpt-14).
as_ref() {
    local st
    "$diff" "ref/checkpoints/${1##*/}" "$1" 0 >/dev/null
    st=$?
    [ $st -eq 2 ] && fail "$2, $1 does not read whole"
    [ $st -eq 0 ] || fail "$2 (seed $seed), $1 differs from the uninterrupted run's: $("$diff" "ref/checkpoints/${1##*/}" "$1" 0 | tr '\n' ' ')"
}

checked=" " # the checkpoints checked so far (a whole one never changes)
cut=" "     # the temporary files kills left (writes cut short)
resumed=0   # the step the running attempt resumed from
attempt=1
out_from=0 # chaos.out's lines before the running attempt's
expect=''  # how the running attempt must begin (the first: no --resume)
for ((k = 1; k <= kills; k++)); do
    kind=${kinds[k - 1]}
    ranks
    case $kind in
    rank)
        progress
        rank_victim
        kill -9 "$victim" 2>/dev/null
        what="rank $r (pid $victim), newest checkpoint step $(newest)"
        ;;
    node)
        # the fresh node first (seconds, on a loaded machine), so that the
        # kill lands at the moment chosen
        node=nodea
        [ $((RANDOM % 2)) -eq 1 ] && node=nodeb
        cluster_replace_node $node
        progress
        kill -9 $cluster_old_pids 2>/dev/null
        what="$node (pids $cluster_old_pids), newest checkpoint step $(newest)"
        ;;
    write)
        # the writer, rank 0, or its node (nodea), armed once rank 0 has
        # made the checkpoint directory: the next temporary file in it is
        # the next checkpoint's
        for i in $(seq 600); do
            [ -d $ckdir ] && break
            job_alive
            sleep 0.1
        done
        [ -d $ckdir ] || fail "attempt $attempt made no $ckdir within 60 s"
        pids=$r0 target="rank 0"
        if [ $((RANDOM % 2)) -eq 1 ]; then
            cluster_replace_node nodea
            # rank 0 first: the one whose end means no write is coming
            for p in $cluster_old_pids; do [ "$p" = "$r0" ] || pids+=" $p"; done
            target=nodea
        fi
        said=$("$killer" $ckdir .ckpt- $((RANDOM % 10000)) 60 $pids) ||
            fail "no kill during a write ($target): $said"
        what="$target during a write: $said"
        ;;
    start-up)
        delay=$((RANDOM % 1500))
        nap $delay
        rank_victim
        kill -9 "$victim" 2>/dev/null
        what="rank $r (pid $victim) $delay ms after both ranks ran"
        ;;
    esac
    echo "kill $k ($kind): $what"
    # accel-run tells the failure within 90 s (no hang); mpirun and the
    # ranks are gone then, and the restart has not begun
    for i in $(seq 900); do
        [ "$(grep -c "^accel-run: the job failed" chaos.err)" -ge $k ] && break
        job_alive
        sleep 0.1
    done
    [ "$(grep -c "^accel-run: the job failed" chaos.err)" -ge $k ] || fail "no failure told 90 s after kill $k"
    echo "  $(grep "^accel-run: the job failed" chaos.err | tail -1)"
    # the attempt just ended began where it had to, if it got that far
    from=$(began)
    if [ -n "$expect" ] && [ -n "$from" ] && [ "$from" != "$expect" ] && [[ $from != "$expect: "* ]]; then
        fail "attempt $attempt began '$from', expected '$expect'"
    fi
    out_from=$(wc -l <chaos.out)
    # what is newest now is where the next attempt must resume; a
    # temporary file is a dead writer's, for the next start to remove
    resumed=$(newest)
    expect="resuming from $ckdir/ckpt-$resumed.h5"
    [ "$resumed" -eq 0 ] && expect="--resume auto: no checkpoint in $ckdir, starting fresh"
    for f in $(ls -A $ckdir 2>/dev/null | grep '^\.ckpt-'); do
        case $cut in *" $f "*) continue ;; esac
        echo "  left: $f"
        cut+="$f "
    done
    for f in $ckdir/ckpt-*.h5; do
        [ -e "$f" ] || continue
        case $checked in *" $f "*) continue ;; esac
        as_ref "$f" "after kill $k"
        checked+="$f "
    done
    for i in $(seq 600); do
        grep -q "^accel-run: restart $k of $kills " chaos.err && break
        job_alive
        sleep 0.1
    done
    grep -q "^accel-run: restart $k of $kills " chaos.err || fail "no restart 60 s after failure $k"
    attempt=$((attempt + 1))
done

# The last attempt runs to the end.
for i in $(seq 1800); do
    kill -0 $job 2>/dev/null || break
    sleep 0.1
done
kill -0 $job 2>/dev/null && fail "accel-run still runs 180 s after the last kill"
wait $job
status=$?
[ $status -eq 0 ] || { tail -20 chaos.err; fail "accel-run ended $status, expected 0"; }
from=$(began)
[ "$from" = "$expect" ] || [[ $from == "$expect: "* ]] ||
    fail "the last attempt began '$from', expected '$expect'"
[ "$(grep -c "^accel-run: restart [0-9]* of $kills on $hosts (2 ranks), from the newest checkpoint" chaos.err)" -eq "$kills" ] ||
    fail "not $kills restarts, each on $hosts (2 ranks): $(grep '^accel-run: restart' chaos.err | tr '\n' ' ')"
[ -z "$(ls -A $ckdir | grep '^\.ckpt-')" ] || fail "temporary files are left: $(ls -A $ckdir | grep '^\.ckpt-')"
for f in $ckdir/ckpt-*.h5; do
    case $checked in *" $f "*) continue ;; esac
    as_ref "$f" "at the end"
done
echo "$(($(wc -w <<<"$cut"))) of $kills kills left a temporary file (a write cut short); none is left"
ckpt_same ref/checkpoints/ckpt-$steps.h5 $ckdir/ckpt-$steps.h5 ||
    fail "after $kills kills (seed $seed) the final checkpoint differs from the uninterrupted run's"
echo "cluster chaos: all passed in $((SECONDS - start)) s (seed $seed)"
