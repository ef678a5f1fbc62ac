/* comm_mpi: the process group over MPI. Errors are returned, not fatal
 * (MPI_ERRORS_RETURN), so each failed call can say which call failed. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "comm/comm.h"

#include <limits.h>
#include <mpi.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "comm/mpi_fail.h"
#include "util/err.h"

static int world_size = 1, world_rank; /* as comm_init found them */

int comm_mpi_fail(const char *call, int code)
{
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, text, &len) != MPI_SUCCESS)
        snprintf(text, sizeof text, "error code %d", code);
    return err_set("%s failed: %s (another rank may have died; see the messages above)", call,
                   text);
}

static bool mpi_started;

/* The ranks that share this node's memory are the ranks on this node. Where
 * MPI cannot tell (MPI_Comm_split_type fails), Slurm's SLURM_LOCALID and
 * SLURM_NTASKS_PER_NODE can. */
static int node_ranks(comm_info *info)
{
    MPI_Comm node;
    int rc =
        MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, info->rank, MPI_INFO_NULL, &node);
    if (rc != MPI_SUCCESS) {
        const char *id = getenv("SLURM_LOCALID"), *per = getenv("SLURM_NTASKS_PER_NODE");
        if (!id || !per)
            return comm_mpi_fail("MPI_Comm_split_type", rc);
        info->local_rank = atoi(id);
        info->local_size = atoi(per) > 0 ? atoi(per) : 1;
        return 0;
    }
    MPI_CHECK(MPI_Comm_set_errhandler(node, MPI_ERRORS_RETURN));
    MPI_CHECK(MPI_Comm_rank(node, &info->local_rank));
    MPI_CHECK(MPI_Comm_size(node, &info->local_size));
    MPI_CHECK(MPI_Comm_free(&node));
    return 0;
}

/* Whether a launcher (mpirun, srun, mpiexec) started this process: each
 * leaves its mark in the environment. */
static bool launched(void)
{
    static const char *const marks[] = {
        "OMPI_COMM_WORLD_SIZE", /* Open MPI's mpirun */
        "PMIX_RANK",            /* PMIx launchers: srun --mpi=pmix, Open MPI 5 */
        "PMI_RANK",             /* MPICH's hydra, srun --mpi=pmi2 */
        "PMI_SIZE",
    };
    for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++)
        if (getenv(marks[i]))
            return true;
    const char *force = getenv("ACCEL_MPI");
    return force && !strcmp(force, "1");
}

int comm_init(int *argc, char ***argv, comm_info *info)
{
    /* Without a launcher the job has one rank and needs no MPI at all.
     * Skipping MPI_Init then saves Open MPI's singleton start-up (it spawns
     * an orted daemon) and lets the program run where Open MPI's plugins
     * and daemons are not installed. ACCEL_MPI=1 forces MPI on. */
    if (!launched()) {
        /* srun without an MPI plugin would start N independent one-rank
         * jobs, each writing the same files: refuse. */
        const char *ntasks = getenv("SLURM_NTASKS"), *step = getenv("SLURM_STEP_ID");
        if (step && ntasks && atoi(ntasks) > 1)
            return err_set("started by srun as one of %s tasks, but without MPI: use srun "
                           "--mpi=pmix (or mpirun)",
                           ntasks);
        *info = (comm_info){.rank = 0, .size = 1, .local_rank = 0, .local_size = 1};
        world_size = 1;
        world_rank = 0;
        return 0;
    }
    int inited = 0;
    MPI_CHECK(MPI_Initialized(&inited));
    /* FUNNELED: the process has other threads (the data loader's, the BLAS
     * library's), but only this one calls MPI. */
    int provided;
    if (!inited)
        MPI_CHECK(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided));
    mpi_started = true;
    MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
    MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &info->rank));
    MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &info->size));
    if (node_ranks(info) < 0)
        return -1;
    world_size = info->size;
    world_rank = info->rank;
    return 0;
}

int comm_size(void)
{
    return world_size;
}

/* MPI counts are ints: long buffers go in pieces. */
#define CHUNK (INT_MAX / 8)

int comm_allreduce_sum_f64(double *buf, size_t n)
{
    if (world_size == 1)
        return 0;
    MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD));
    return 0;
}

int comm_broadcast(void *buf, size_t bytes, int root)
{
    if (world_size == 1)
        return 0;
    for (size_t off = 0; off < bytes; off += CHUNK) {
        int count = (int)(bytes - off < CHUNK ? bytes - off : CHUNK);
        MPI_CHECK(MPI_Bcast((char *)buf + off, count, MPI_BYTE, root, MPI_COMM_WORLD));
    }
    return 0;
}

int comm_allgather(const void *mine, void *all, size_t bytes)
{
    if (bytes > INT_MAX)
        return err_set("comm_allgather: %zu bytes a rank is more than MPI counts", bytes);
    if (world_size == 1) {
        memcpy(all, mine, bytes);
        return 0;
    }
    MPI_CHECK(MPI_Allgather(mine, (int)bytes, MPI_BYTE, all, (int)bytes, MPI_BYTE, MPI_COMM_WORLD));
    return 0;
}

int comm_gatherv_floats(const float *mine, int count, float *all, const int *counts,
                        const int *displs, int root)
{
    if (world_size == 1) {
        memcpy(all + displs[0], mine, sizeof(float) * (size_t)count);
        return 0;
    }
    MPI_CHECK(
        MPI_Gatherv(mine, count, MPI_FLOAT, all, counts, displs, MPI_FLOAT, root, MPI_COMM_WORLD));
    return 0;
}

int comm_agree(int ok, int *status)
{
    int rank = world_rank, lowest;
    *status = 0;
    if (world_size == 1)
        return ok ? -1 : 0;
    int mine = ok ? world_size : rank;
    int rc = MPI_Allreduce(&mine, &lowest, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) {
        *status = comm_mpi_fail("MPI_Allreduce (agreeing on start-up)", rc);
        return rank;
    }
    return lowest == world_size ? -1 : lowest;
}

/* What comm_share_made broadcasts: a fixed size, so that every rank posts
 * the same broadcast whatever rank 0 has to say. */
typedef struct {
    int ok;
    char why[ERR_MSG_MAX];
    unsigned char payload[COMM_SHARE_MAX];
} share_packet;

int comm_share_made(const comm_info *ci, void *payload, size_t bytes, comm_make_fn make, void *arg)
{
    /* the same on every rank, so every rank returns before the broadcast */
    if (bytes > COMM_SHARE_MAX)
        return err_set("comm_share_made: a payload of %zu bytes is over its %d", bytes,
                       COMM_SHARE_MAX);
    share_packet p;
    memset(&p, 0, sizeof p);
    if (ci->rank == 0) {
        p.ok = make(payload, bytes, arg) == 0;
        if (p.ok)
            memcpy(p.payload, payload, bytes);
        else
            snprintf(p.why, sizeof p.why, "%s", err_msg());
    }
    if (comm_broadcast(&p, sizeof p, 0) < 0)
        return -1;
    if (!p.ok)
        return err_set("rank 0: %s", p.why);
    memcpy(payload, p.payload, bytes);
    return 0;
}

/* The rank whose error tells what went wrong: the lowest that failed, or
 * the lowest that gave up waiting; -1 when all are fine, -2 when a vote
 * failed. Every rank takes the same votes, as each learns the first. */
static int step_teller(int step)
{
    int vote, teller = comm_agree(step != COMM_STEP_FAILED, &vote);
    if (vote == 0 && teller < 0)
        teller = comm_agree(step == COMM_STEP_OK, &vote);
    return vote < 0 ? -2 : teller;
}

/* Every rank takes the teller's error as its own: "rank K: ..." when
 * named, else as it is. Returns -1. */
static int told_by(const comm_info *ci, int teller, bool named)
{
    char why[ERR_MSG_MAX] = "";
    if (ci->rank == teller)
        snprintf(why, sizeof why, "%s", err_msg());
    if (comm_broadcast(why, sizeof why, teller) < 0)
        return -1;
    return named ? err_set("rank %d: %s", teller, why) : err_set("%s", why);
}

int comm_agree_step(const comm_info *ci, int step)
{
    int teller = step_teller(step);
    if (teller < 0)
        return teller == -1 ? 0 : -1;
    return told_by(ci, teller, true);
}

int comm_gate(const comm_info *ci, int rc)
{
    int vote, teller = comm_agree(rc == 0, &vote);
    if (vote < 0)
        return -1;
    if (teller < 0)
        return 0;
    /* a failure every rank met (a setting that cannot work) is told as it
     * is; one that some met alone names the lowest of them */
    int fine = comm_agree(rc < 0, &vote);
    if (vote < 0)
        return -1;
    return told_by(ci, teller, fine >= 0);
}

int comm_all_equal_u64(uint64_t value)
{
    if (world_size == 1)
        return 1;
    uint64_t lo, hi;
    MPI_CHECK(MPI_Allreduce(&value, &lo, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD));
    MPI_CHECK(MPI_Allreduce(&value, &hi, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD));
    return lo == hi;
}

int comm_default_threads(const comm_info *ci)
{
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    cpu_set_t set;
    int allowed = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : (int)online;
    /* Bound to a subset of the node's cores: the launcher already split the
     * node, so use them all. Otherwise share the node between its ranks. */
    int threads = allowed < online ? allowed : allowed / ci->local_size;
    return threads > 0 ? threads : 1;
}

void comm_abort(int status)
{
    if (mpi_started)
        MPI_Abort(MPI_COMM_WORLD, status);
    exit(status);
}

/* What MPI_Finalize returns is not looked at: the job's outcome is decided
 * by now, and a rank that cannot finalize has nothing left to do. */
void comm_finalize(void)
{
    int fin = 0;
    if (mpi_started && MPI_Finalized(&fin) == MPI_SUCCESS && !fin)
        MPI_Finalize();
}
