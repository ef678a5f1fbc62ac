# A cluster of "nodes" on this one machine, for the tests only. Source it
# after tests/cli/lib.sh (which makes and enters $work).
#
# Each node is a UTS namespace with its own host name, held open by a
# sleeping process. Open MPI starts its daemon on a node through a launch
# agent (plm_rsh_agent) that runs the daemon's command inside that node's
# namespace with nsenter, where a real cluster would use ssh; every
# connection stays on the loopback interface. The nodes share this
# machine's processes, memory and file system: a run directory is seen by
# every node, as a cluster's shared file system would be. Only the host
# name tells them apart, and that is what Open MPI (which ranks share a
# node, the local rank) and accel-train (its placement line) go by.
#
# Whatever ends the test (its end, a failure, a signal, ctest's timeout
# killing it) ends the nodes and everything started in them: the EXIT trap
# kills every process of each node's namespace, and a holder whose test
# was killed outright gets SIGKILL from the kernel (setpriv --pdeathsig).
# Where namespaces cannot be made (not root, no unshare) the test reports
# SKIPPED with the reason.

skip() {
    echo "SKIPPED: $*"
    exit 77
}

cluster_dir=$work/cluster
declare -A cluster_holder=() # node name -> pid of the process holding its namespace
cluster_jobs=()              # background jobs to end with the test (cluster_track)
cluster_retired=()           # namespaces of nodes replaced (cluster_replace_node)
cluster_watchdog=

# cluster_ns_pids NS: every process in the UTS namespace NS (as
# /proc/PID/ns/uts names it: uts:[NUMBER]). One ls for all of them: a
# readlink a process took 1.3 s for some 110 processes at a load of 14 on
# the 2 cores (15 ms this way), seconds in which a node meant to die at
# once goes on training.
cluster_ns_pids() {
    ls -l /proc/[0-9]*/ns/uts 2>/dev/null |
        awk -v ns="$1" '$NF == ns { split($(NF - 2), path, "/"); print path[3] }'
}

# cluster_pids NODE: every process in NODE's namespace, its holder included.
cluster_pids() {
    local ns
    ns=$(readlink "/proc/${cluster_holder[$1]}/ns/uts" 2>/dev/null) || return 0
    cluster_ns_pids "$ns"
}

# cluster_kill_node NODE: SIGKILL to every process of NODE (its Open MPI
# daemon, its ranks, its holder), as a node losing power; prints each pid
# with its program's name.
cluster_kill_node() {
    local pids p
    pids=$(cluster_pids "$1" | tr '\n' ' ')
    for p in $pids; do echo -n "$p ($(cat "/proc/$p/comm" 2>/dev/null)) "; done
    [ -n "$pids" ] && kill -9 $pids 2>/dev/null
    echo
}

# cluster_track PID: a background job (mpirun, accel-run) that the test
# ends, if still running, however the test ends.
cluster_track() {
    cluster_jobs+=("$1")
}

# cluster_replace_node NODE: a fresh node of the same name in NODE's place,
# as a node that reboots: the launch agent reaches the new one from now
# on, so nothing more starts on the old one, whose processes (its holder
# included) are left running in $cluster_old_pids for the caller to kill
# (cluster_cleanup ends whatever of them is left).
cluster_replace_node() {
    local ns
    ns=$(readlink "/proc/${cluster_holder[$1]}/ns/uts" 2>/dev/null) && cluster_retired+=("$ns")
    cluster_old_pids=$(cluster_pids "$1" | tr '\n' ' ')
    cluster_node "$1"
}

cluster_cleanup() {
    trap - EXIT INT TERM HUP
    local pid node ns
    for pid in "${cluster_jobs[@]}"; do kill -9 "$pid" 2>/dev/null; done
    for node in "${!cluster_holder[@]}"; do cluster_kill_node "$node" >/dev/null; done
    for ns in "${cluster_retired[@]}"; do kill -9 $(cluster_ns_pids "$ns") 2>/dev/null; done
    [ -n "$cluster_watchdog" ] && kill "$cluster_watchdog" 2>/dev/null
    cd / && rm -rf "$work"
}

# cluster_node NAME: one more node (after cluster_start, or by it).
cluster_node() {
    local node=$1 pid i
    setpriv --pdeathsig KILL unshare --uts sh -c "hostname $node && exec sleep 100000" \
        2>"$cluster_dir/$node.err" &
    pid=$!
    disown "$pid" # its end is the test's business, not worth a line from bash
    cluster_holder[$node]=$pid
    for i in $(seq 50); do
        [ "$(nsenter -t "$pid" --uts hostname 2>/dev/null)" = "$node" ] && break
        kill -0 "$pid" 2>/dev/null || skip "no UTS namespace for $node: $(cat "$cluster_dir/$node.err")"
        sleep 0.1
    done
    [ "$(nsenter -t "$pid" --uts hostname 2>/dev/null)" = "$node" ] ||
        skip "cannot enter $node's namespace: $(nsenter -t "$pid" --uts hostname 2>&1)"
    echo "$pid" >"$cluster_dir/$node.pid"
}

# cluster_start SECONDS NODE...: a node for each name, and a watchdog that
# fails the test after SECONDS (ctest's own timeout would kill the script
# without its trap). Sets CLUSTER_MPI: the mpirun options that reach them.
cluster_start() {
    local limit=$1 node
    shift
    [ "$(id -u)" -eq 0 ] || skip "the test cluster's namespaces need root"
    for cmd in unshare nsenter setpriv mpirun; do
        command -v $cmd >/dev/null || skip "$cmd is not installed (util-linux, openmpi-bin)"
    done
    trap cluster_cleanup EXIT
    trap 'echo "FAIL: interrupted"; exit 1' INT TERM HUP
    start_watchdog "$limit"
    cluster_watchdog=$watchdog_pid
    mkdir -p "$cluster_dir"
    for node in "$@"; do cluster_node "$node"; done
    # Open MPI calls the agent as "AGENT HOST COMMAND...", as it would ssh.
    cat >"$cluster_dir/agent" <<AGENT
#!/bin/sh
# The test cluster's launch agent: runs a command in a node's namespace.
host=\$1
shift
pid=\$(cat "$cluster_dir/\$host.pid" 2>/dev/null) || { echo "agent: no node \$host" >&2; exit 255; }
exec nsenter -t "\$pid" --uts -- /bin/sh -c "\$*"
AGENT
    chmod +x "$cluster_dir/agent"
    CLUSTER_MPI=(--mca plm_rsh_agent "$cluster_dir/agent"
                 --mca oob_tcp_if_include lo --mca btl_tcp_if_include lo)
}
