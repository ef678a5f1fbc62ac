#include <limits.h>
#include <mpi.h>
#include <stdlib.h>

#include "comm/comm.h"
#include "comm/mpi_fail.h"
#include "kernels/backend.h"
#include "util/err.h"
#include "util/fault.h"
#ifdef ACCEL_HAVE_CUDA
#include "comm/nccl.h"
#endif

typedef enum { GS_NONE, GS_MPI, GS_STAGED, GS_NCCL } gsync_kind;

struct grad_sync {
    gsync_kind kind;
    backend *be;
    float *grads;
    size_t n, bucket; /* in floats */
    int world;
    size_t launched_from; /* buckets cover [launched_from, n) */
    MPI_Request *reqs;
    int n_reqs, max_reqs;
    float *host; /* GS_STAGED: the buffer on the host */
#ifdef ACCEL_HAVE_CUDA
    nccl_comm *nccl;
#endif
};

bool gsync_uses_nccl(bool gpu, int world, int kind)
{
    /* comm.backend = nccl runs it even alone: the path tested on one GPU */
    return gpu && kind != COMM_MPI && (world > 1 || kind == COMM_NCCL);
}

static int choose_kind(grad_sync *g, int kind, const comm_info *ci)
{
    bool gpu = g->be->stream != NULL;
    if (kind == COMM_NCCL && !gpu)
        return err_set("comm.backend = nccl needs the CUDA backend (run.device = cuda)");
    if (gsync_uses_nccl(gpu, ci->size, kind))
        g->kind = GS_NCCL;
    else if (ci->size == 1)
        g->kind = GS_NONE;
    else if (!gpu)
        g->kind = GS_MPI;
    else
        g->kind = GS_STAGED; /* comm.backend = mpi on GPUs */
    return 0;
}

/* This rank's own part: the host memory its path needs. */
static int alloc_kind(grad_sync *g)
{
    if (g->kind == GS_MPI) {
        /* every bucket but the last holds at least `bucket` floats; one
         * over INT_MAX floats goes in several requests */
        g->max_reqs = (int)(g->n / g->bucket + 1 + g->n / INT_MAX + 1);
        g->reqs = malloc(sizeof *g->reqs * (size_t)(g->max_reqs ? g->max_reqs : 1));
        return g->reqs ? 0 : err_set("out of host memory for the all-reduce");
    }
    if (g->kind == GS_STAGED)
        return g->be->host_alloc(g->be, (void **)&g->host, sizeof(float) * g->n);
    return 0;
}

/* The part taken with the peers: NCCL's start-up. */
static int open_nccl(grad_sync *g, const comm_info *ci, double timeout_s)
{
#ifdef ACCEL_HAVE_CUDA
    if (g->kind == GS_NCCL) {
        g->nccl = nccl_open(ci, g->be->stream, timeout_s);
        return g->nccl ? 0 : -1;
    }
#endif
    (void)g, (void)ci, (void)timeout_s;
    return 0;
}

grad_sync *gsync_open(backend *be, const comm_info *ci, float *grads, size_t n, double bucket_mb,
                      int kind, double timeout_s)
{
    grad_sync *g = fault_at("sync") ? NULL : calloc(1, sizeof *g);
    int rc = g ? 0 : err_set("out of host memory for the all-reduce");
    if (g) {
        g->be = be;
        g->grads = grads;
        g->n = n;
        g->world = ci->size;
        g->bucket = shard_bucket_floats(bucket_mb);
        g->launched_from = n;
        rc = choose_kind(g, kind, ci) < 0 || alloc_kind(g) < 0 ? -1 : 0;
    }
    /* a rank that failed alone must not leave its peers in NCCL's start-up */
    if (comm_gate(ci, rc) < 0 || open_nccl(g, ci, timeout_s) < 0) {
        gsync_close(g);
        return NULL;
    }
    return g;
}

static int launch(grad_sync *g, size_t from, size_t to)
{
#ifdef ACCEL_HAVE_CUDA
    if (g->kind == GS_NCCL)
        return nccl_allreduce_sum(g->nccl, g->grads + from, to - from);
#endif
    for (size_t at = from; at < to; at += INT_MAX) {
        int count = (int)(to - at < INT_MAX ? to - at : INT_MAX);
        MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, g->grads + at, count, MPI_FLOAT, MPI_SUM,
                                 MPI_COMM_WORLD, &g->reqs[g->n_reqs]));
        g->n_reqs++;
    }
    return 0;
}

/* A bucket is the gradients of whole layers, at least `bucket` floats (the
 * last, started by gsync_finish, may hold fewer): it starts as soon as its
 * layers are done, and no bucket waits for a layer it does not hold. */
int gsync_ready(grad_sync *g, size_t from)
{
    if (g->kind != GS_MPI && g->kind != GS_NCCL)
        return 0; /* nothing, or everything at the end */
    if (from < g->launched_from && g->launched_from - from >= g->bucket) {
        if (launch(g, from, g->launched_from) < 0)
            return -1;
        g->launched_from = from;
    }
    /* Open MPI moves a non-blocking collective along only inside MPI calls:
     * a test after each layer lets the buckets proceed during backward. */
    int done;
    if (g->kind == GS_MPI && g->n_reqs > 0)
        MPI_CHECK(MPI_Testall(g->n_reqs, g->reqs, &done, MPI_STATUSES_IGNORE));
    return 0;
}

static int finish_staged(grad_sync *g)
{
    backend *be = g->be;
    size_t bytes = sizeof(float) * g->n;
    if (be->download(be, g->host, g->grads, bytes) < 0)
        return -1;
    for (size_t off = 0; off < g->n; off += (1u << 30)) {
        int count = (int)(g->n - off < (1u << 30) ? g->n - off : (1u << 30));
        MPI_CHECK(
            MPI_Allreduce(MPI_IN_PLACE, g->host + off, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD));
    }
    return be->upload(be, g->grads, g->host, bytes);
}

/* The last bucket is waited for at once, so it goes as a blocking
 * MPI_Allreduce: Open MPI's algorithms for those are faster than its
 * non-blocking ones (half the time for 1 MiB between 2 ranks here). */
static int finish_mpi(grad_sync *g)
{
    int n = g->n_reqs;
    g->n_reqs = 0;
    for (size_t at = 0; at < g->launched_from; at += INT_MAX) {
        int count = (int)(g->launched_from - at < INT_MAX ? g->launched_from - at : INT_MAX);
        MPI_CHECK(
            MPI_Allreduce(MPI_IN_PLACE, g->grads + at, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD));
    }
    MPI_CHECK(MPI_Waitall(n, g->reqs, MPI_STATUSES_IGNORE));
    return 0;
}

int gsync_finish(grad_sync *g)
{
    int rc = 0;
    switch (g->kind) {
    case GS_MPI:
        rc = finish_mpi(g);
        break;
    case GS_STAGED:
        rc = finish_staged(g);
        break;
#ifdef ACCEL_HAVE_CUDA
    case GS_NCCL:
        rc = g->launched_from > 0 ? launch(g, 0, g->launched_from) : 0;
        if (rc == 0)
            rc = nccl_wait(g->nccl);
        break;
#endif
    default:
        break;
    }
    g->launched_from = g->n;
    return rc;
}

const char *gsync_name(const grad_sync *g)
{
    static const char *names[] = {"none (one rank)", "mpi", "mpi (host staging)", "nccl"};
    return names[g->kind];
}

void gsync_close(grad_sync *g)
{
    if (!g)
        return;
    free(g->reqs);
    if (g->host)
        g->be->host_release(g->be, g->host);
#ifdef ACCEL_HAVE_CUDA
    nccl_close(g->nccl);
#endif
    free(g);
}
