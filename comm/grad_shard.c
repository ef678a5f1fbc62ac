/* The sharded gradient sync (comm.h, optimizer.shard): a reduce-scatter of
 * each bucket, started as backward produces it, and an all-gather of the
 * updated parameters. Buckets and ownership are comm/shard_plan.h's.
 *
 * Every rank holds the whole gradient buffer (ZeRO stage 1 shards only the
 * Adam state), so an in-place all-reduce of each bucket, each rank reading
 * its own pieces, would save as much memory. On the CPU it is the slower:
 * Open MPI 4.1's MPI_Ireduce_scatter of a bucket's uneven parts takes less
 * than its MPI_Iallreduce of the same bytes (2 ranks, 1 MiB: 0.17 against
 * 0.24 ms), and sharded steps took up to 12% longer with the all-reduce
 * (bench/NOTES.md, 2026-12-03). */
#include <limits.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm.h"
#include "comm/mpi_fail.h"
#include "kernels/backend.h"
#include "util/err.h"
#include "util/fault.h"
#ifdef ACCEL_HAVE_CUDA
#include "comm/nccl.h"
#endif

struct grad_shard {
    bool nccl_path;
    backend *be;
    const shard_plan *plan;
    float *params, *grads;
    int rank, world;
    int next; /* buckets [0, next) have started this step */
    MPI_Request *reqs;
    int n_reqs;
    int *counts, *displs; /* MPI: a bucket's parts, world of each a bucket */
#ifdef ACCEL_HAVE_CUDA
    nccl_comm *nccl;
#endif
};

/* The MPI calls take int counts: a bucket is at most the flat buffer, which
 * the model keeps within INT32_MAX floats; checked here all the same. */
static int make_counts(grad_shard *g)
{
    const shard_plan *p = g->plan;
    size_t cells = (size_t)p->n_buckets * (size_t)g->world;
    g->counts = malloc(sizeof(int) * (cells ? cells : 1));
    g->displs = malloc(sizeof(int) * (cells ? cells : 1));
    g->reqs = malloc(sizeof *g->reqs * (size_t)(p->n_buckets ? p->n_buckets : 1));
    if (!g->counts || !g->displs || !g->reqs)
        return err_set("out of host memory for the sharded gradient sync");
    for (int b = 0; b < p->n_buckets; b++) {
        if (p->buckets[b].len > INT_MAX)
            return err_set("a gradient bucket of %zu floats is more than MPI counts",
                           p->buckets[b].len);
        for (int r = 0; r < g->world; r++) {
            g->counts[b * g->world + r] = (int)shard_plan_count(p, b, r);
            g->displs[b * g->world + r] = (int)(p->buckets[b].piece * (size_t)r);
        }
    }
    return 0;
}

/* This rank's own part: the path, and the host memory it needs. */
static int choose_path(grad_shard *g, int kind)
{
    bool gpu = g->be->stream != NULL;
    if (kind == COMM_NCCL && !gpu)
        return err_set("comm.backend = nccl needs the CUDA backend (run.device = cuda)");
    if (gpu && kind == COMM_MPI)
        return err_set("optimizer.shard = true needs NCCL on GPUs, but the gradients go through "
                       "host memory with MPI here (comm.backend = mpi, or ranks sharing a GPU): "
                       "set optimizer.shard = false, or give each rank its own GPU with "
                       "comm.backend = auto");
    if (!gpu)
        return make_counts(g);
    g->nccl_path = true;
#ifdef ACCEL_HAVE_CUDA
    return 0;
#else
    return err_set("a GPU backend in a build without CUDA");
#endif
}

/* The part taken with the peers: NCCL's start-up. */
static int open_nccl(grad_shard *g, const comm_info *ci, double timeout_s)
{
#ifdef ACCEL_HAVE_CUDA
    if (g->nccl_path) {
        g->nccl = nccl_open(ci, g->be->stream, timeout_s);
        return g->nccl ? 0 : -1;
    }
#endif
    (void)g, (void)ci, (void)timeout_s;
    return 0;
}

grad_shard *gshard_open(backend *be, const comm_info *ci, const shard_plan *plan, float *params,
                        float *grads, int kind, double timeout_s)
{
    grad_shard *g = fault_at("sync") ? NULL : calloc(1, sizeof *g);
    int rc = g ? 0 : err_set("out of host memory for the sharded gradient sync");
    if (g) {
        g->be = be;
        g->plan = plan;
        g->params = params;
        g->grads = grads;
        g->rank = ci->rank;
        g->world = ci->size;
        if (plan->world != ci->size)
            rc = err_set("the optimizer's shard plan is for %d ranks, the job has %d", plan->world,
                         ci->size);
        else
            rc = choose_path(g, kind);
    }
    /* a rank that failed alone must not leave its peers in NCCL's start-up */
    if (comm_gate(ci, rc) < 0 || open_nccl(g, ci, timeout_s) < 0) {
        gshard_close(g);
        return NULL;
    }
    return g;
}

/* MPI's reduce-scatter in place leaves this rank's part at the bucket's
 * start (MPI_IN_PLACE takes the input from, and writes the output to, the
 * start of the receive buffer); it moves to its own place, where NCCL's
 * leaves it, so that every path ends with each rank's part where it lives
 * in the flat buffer. */
static void settle_part(grad_shard *g, int b)
{
    size_t from, to;
    shard_plan_owned(g->plan, b, g->rank, &from, &to);
    const shard_bucket *k = &g->plan->buckets[b];
    if (from != k->start && to > from)
        memmove(g->grads + from, g->grads + k->start, sizeof(float) * (to - from));
}

static int launch(grad_shard *g, int b, bool wait_now)
{
    const shard_bucket *k = &g->plan->buckets[b];
#ifdef ACCEL_HAVE_CUDA
    if (g->nccl_path)
        return nccl_reduce_scatter_sum(g->nccl, g->grads + k->start, k->len, k->piece);
#endif
    const int *counts = g->counts + b * g->world;
    if (wait_now) /* blocking: Open MPI's blocking algorithms are the faster */
        MPI_CHECK(MPI_Reduce_scatter(MPI_IN_PLACE, g->grads + k->start, counts, MPI_FLOAT, MPI_SUM,
                                     MPI_COMM_WORLD));
    else
        MPI_CHECK(MPI_Ireduce_scatter(MPI_IN_PLACE, g->grads + k->start, counts, MPI_FLOAT, MPI_SUM,
                                      MPI_COMM_WORLD, &g->reqs[g->n_reqs++]));
    return 0;
}

int gshard_ready(grad_shard *g, size_t from)
{
    const shard_plan *p = g->plan;
    while (g->next < p->n_buckets && p->buckets[g->next].start >= from) {
        if (launch(g, g->next, false) < 0)
            return -1;
        g->next++;
    }
    /* as gsync_ready: Open MPI moves a non-blocking collective along only
     * inside MPI calls */
    int done;
    if (!g->nccl_path && g->n_reqs > 0)
        MPI_CHECK(MPI_Testall(g->n_reqs, g->reqs, &done, MPI_STATUSES_IGNORE));
    return 0;
}

int gshard_finish(grad_shard *g)
{
    const shard_plan *p = g->plan;
    int started = g->next;
    g->next = 0;
    for (int b = started; b < p->n_buckets; b++)
        if (launch(g, b, !g->nccl_path) < 0)
            return -1;
#ifdef ACCEL_HAVE_CUDA
    if (g->nccl_path)
        return nccl_wait(g->nccl);
#endif
    int n = g->n_reqs;
    g->n_reqs = 0;
    MPI_CHECK(MPI_Waitall(n, g->reqs, MPI_STATUSES_IGNORE));
    for (int b = 0; b < p->n_buckets; b++)
        settle_part(g, b);
    return 0;
}

int gshard_gather(grad_shard *g)
{
    const shard_plan *p = g->plan;
    for (int b = 0; b < p->n_buckets; b++) {
        const shard_bucket *k = &p->buckets[b];
#ifdef ACCEL_HAVE_CUDA
        if (g->nccl_path) {
            if (nccl_allgather(g->nccl, g->params + k->start, k->len, k->piece) < 0)
                return -1;
            continue;
        }
#endif
        MPI_CHECK(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, g->params + k->start,
                                 g->counts + b * g->world, g->displs + b * g->world, MPI_FLOAT,
                                 MPI_COMM_WORLD));
    }
#ifdef ACCEL_HAVE_CUDA
    if (g->nccl_path)
        return nccl_wait(g->nccl);
#endif
    return 0;
}

const char *gshard_name(const grad_shard *g)
{
    return g->nccl_path ? "nccl" : "mpi";
}

void gshard_close(grad_shard *g)
{
    if (!g)
        return;
    free(g->reqs);
    free(g->counts);
    free(g->displs);
#ifdef ACCEL_HAVE_CUDA
    nccl_close(g->nccl);
#endif
    free(g);
}
