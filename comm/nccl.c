#include "comm/nccl.h"

#include <cuda_runtime_api.h>
#include <nccl.h>
#include <stdlib.h>
#include <time.h>

#include "kernels/cuda/cuda_check.h"
#include "util/err.h"

_Static_assert(sizeof(ncclUniqueId) <= COMM_SHARE_MAX, "comm_share_made carries an ncclUniqueId");

struct nccl_comm {
    ncclComm_t comm;
    cudaStream_t compute, stream;
    cudaEvent_t queued, done;
    double timeout_s;
    int rank, size;
};

static int nccl_fail(const char *call, ncclResult_t r, ncclComm_t comm)
{
    const char *last = comm ? ncclGetLastError(comm) : NULL;
    return err_set("%s failed: %s%s%s", call, ncclGetErrorString(r), last && *last ? ": " : "",
                   last ? last : "");
}

#define NCCL_TRY(call, comm)                                                                       \
    do {                                                                                           \
        ncclResult_t nccl_r_ = (call);                                                             \
        if (nccl_r_ != ncclSuccess)                                                                \
            return nccl_fail(#call, nccl_r_, comm);                                                \
    } while (0)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* 20 us: no need to spin a core while NCCL works in the background. */
static void nap(void)
{
    struct timespec t = {0, 20000};
    nanosleep(&t, NULL);
}

/* Ends the communicator so that no call waits on it again. What
 * ncclCommAbort itself returns is not looked at: the failure that led here
 * is the one to tell. */
static int abandon(nccl_comm *c)
{
    ncclCommAbort(c->comm);
    c->comm = NULL;
    return -1;
}

/* The communicator is non-blocking, so that no NCCL call can hold this rank
 * forever: a call may answer ncclInProgress and go on in the background,
 * and until the communicator's state leaves ncclInProgress no other NCCL
 * call may be made, nor work queued on NCCL's stream. Waits for that, up to
 * comm.timeout_s; on an error or past the limit, aborts the communicator.
 * Returns a COMM_STEP_*. */
static int settle(nccl_comm *c, const char *call)
{
    double start = now_s();
    for (;;) {
        ncclResult_t state, r = ncclCommGetAsyncError(c->comm, &state);
        if (r != ncclSuccess) {
            nccl_fail("ncclCommGetAsyncError", r, c->comm);
            abandon(c);
            return COMM_STEP_FAILED;
        }
        if (state == ncclSuccess)
            return COMM_STEP_OK;
        if (state != ncclInProgress) {
            nccl_fail(call, state, c->comm);
            abandon(c);
            return COMM_STEP_FAILED;
        }
        if (now_s() - start > c->timeout_s) {
            err_set("%s did not finish within comm.timeout_s = %g s: a peer rank failed, is "
                    "stuck, or cannot be reached",
                    call, c->timeout_s);
            abandon(c);
            return COMM_STEP_TIMED_OUT;
        }
        nap();
    }
}

static int make_id(void *id, size_t bytes, void *arg)
{
    (void)bytes, (void)arg;
    ncclResult_t r = ncclGetUniqueId(id);
    return r == ncclSuccess ? 0 : nccl_fail("ncclGetUniqueId", r, NULL);
}

static int make_stream(nccl_comm *c)
{
    /* the highest priority: a bucket's all-reduce runs as soon as it can,
     * beside the backward kernels still queued, rather than after them */
    int least, greatest;
    CUDA_TRY(cudaDeviceGetStreamPriorityRange(&least, &greatest));
    CUDA_TRY(cudaStreamCreateWithPriority(&c->stream, cudaStreamNonBlocking, greatest));
    CUDA_TRY(cudaEventCreateWithFlags(&c->queued, cudaEventDisableTiming));
    CUDA_TRY(cudaEventCreateWithFlags(&c->done, cudaEventDisableTiming));
    return 0;
}

/* This rank's part of the start-up, none of which waits on a peer past
 * comm.timeout_s. Returns a COMM_STEP_*. */
static int open_mine(nccl_comm *c, const comm_info *ci, ncclUniqueId id)
{
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0; /* see settle */
    ncclResult_t r = ncclCommInitRankConfig(&c->comm, ci->size, id, ci->rank, &config);
    if (r != ncclSuccess && r != ncclInProgress) {
        nccl_fail("ncclCommInitRankConfig", r, c->comm);
        if (c->comm)
            abandon(c);
        return COMM_STEP_FAILED;
    }
    int step = settle(c, "ncclCommInitRankConfig");
    if (step == COMM_STEP_OK && make_stream(c) < 0)
        step = COMM_STEP_FAILED;
    return step;
}

/* Rank 0's id reaches every rank, or its failure does; then every rank
 * votes, whatever its part came to, so that none goes on to train while a
 * peer has given up, and each fails with the message of the rank where the
 * trouble began. */
static int open_comm(nccl_comm *c, const comm_info *ci)
{
    ncclUniqueId id;
    if (comm_share_made(ci, &id, sizeof id, make_id, NULL) < 0)
        return -1;
    if (comm_agree_step(ci, open_mine(c, ci, id)) < 0) {
        if (c->comm) /* its peers are giving theirs up: nothing to use it with */
            abandon(c);
        return -1;
    }
    return 0;
}

nccl_comm *nccl_open(const comm_info *ci, void *compute_stream, double timeout_s)
{
    nccl_comm *c = calloc(1, sizeof *c);
    if (!c) {
        err_set("out of host memory opening NCCL");
        return NULL;
    }
    c->compute = compute_stream;
    c->timeout_s = timeout_s;
    c->rank = ci->rank;
    c->size = ci->size;
    if (open_comm(c, ci) < 0) {
        err_prefix("starting NCCL");
        nccl_close(c);
        return NULL;
    }
    return c;
}

/* After an abort there is no communicator left to hand NCCL. */
static int check_live(const nccl_comm *c)
{
    return c->comm ? 0 : err_set("the NCCL communicator was aborted after an earlier failure");
}

/* Queues work on the NCCL stream after what the compute stream has queued. */
static int follow_compute(nccl_comm *c)
{
    if (check_live(c) < 0)
        return -1;
    CUDA_TRY(cudaEventRecord(c->queued, c->compute));
    CUDA_TRY(cudaStreamWaitEvent(c->stream, c->queued, 0));
    return 0;
}

/* What a collective (or a group's ncclGroupEnd) returned: ncclInProgress
 * means still being queued, in the background, on the non-blocking
 * communicator. */
static int queued(nccl_comm *c, ncclResult_t r, const char *call)
{
    if (r == ncclInProgress)
        return settle(c, call) == COMM_STEP_OK ? 0 : -1;
    if (r != ncclSuccess) {
        nccl_fail(call, r, c->comm);
        return abandon(c);
    }
    return 0;
}

int nccl_allreduce_sum(nccl_comm *c, float *buf, size_t n)
{
    if (follow_compute(c) < 0)
        return -1;
    return queued(c, ncclAllReduce(buf, buf, n, ncclFloat32, ncclSum, c->comm, c->stream),
                  "ncclAllReduce");
}

/* Rank r's part of a bucket of len split in pieces: [r * piece, ...), short
 * or empty at the end (comm/shard_plan.h). */
static size_t piece_count(size_t len, size_t piece, int r)
{
    size_t lo = (size_t)r * piece;
    return lo >= len ? 0 : len - lo < piece ? len - lo : piece;
}

/* ncclReduceScatter and ncclAllGather take equal parts: a bucket that the
 * ranks divide evenly goes in one call, in place; another as one reduce (or
 * broadcast) a rank, grouped, which NCCL runs as one collective of uneven
 * parts. */
int nccl_reduce_scatter_sum(nccl_comm *c, float *buf, size_t len, size_t piece)
{
    if (follow_compute(c) < 0)
        return -1;
    if (piece * (size_t)c->size == len)
        return queued(c,
                      ncclReduceScatter(buf, buf + (size_t)c->rank * piece, piece, ncclFloat32,
                                        ncclSum, c->comm, c->stream),
                      "ncclReduceScatter");
    NCCL_TRY(ncclGroupStart(), c->comm);
    for (int r = 0; r < c->size; r++) {
        size_t count = piece_count(len, piece, r);
        float *at = buf + (size_t)r * piece;
        ncclResult_t e =
            count ? ncclReduce(at, at, count, ncclFloat32, ncclSum, r, c->comm, c->stream)
                  : ncclSuccess;
        if (e != ncclSuccess && e != ncclInProgress) {
            ncclGroupEnd();
            nccl_fail("ncclReduce (an uneven reduce-scatter)", e, c->comm);
            return abandon(c);
        }
    }
    return queued(c, ncclGroupEnd(), "ncclGroupEnd (an uneven reduce-scatter)");
}

int nccl_allgather(nccl_comm *c, float *buf, size_t len, size_t piece)
{
    if (follow_compute(c) < 0)
        return -1;
    if (piece * (size_t)c->size == len)
        return queued(c,
                      ncclAllGather(buf + (size_t)c->rank * piece, buf, piece, ncclFloat32, c->comm,
                                    c->stream),
                      "ncclAllGather");
    NCCL_TRY(ncclGroupStart(), c->comm);
    for (int r = 0; r < c->size; r++) {
        size_t count = piece_count(len, piece, r);
        float *at = buf + (size_t)r * piece;
        ncclResult_t e =
            count ? ncclBroadcast(at, at, count, ncclFloat32, r, c->comm, c->stream) : ncclSuccess;
        if (e != ncclSuccess && e != ncclInProgress) {
            ncclGroupEnd();
            nccl_fail("ncclBroadcast (an uneven all-gather)", e, c->comm);
            return abandon(c);
        }
    }
    return queued(c, ncclGroupEnd(), "ncclGroupEnd (an uneven all-gather)");
}

int nccl_wait(nccl_comm *c)
{
    if (check_live(c) < 0)
        return -1;
    CUDA_TRY(cudaEventRecord(c->done, c->stream));
    double start = now_s();
    for (;;) {
        cudaError_t e = cudaEventQuery(c->done);
        if (e == cudaSuccess)
            break;
        if (e != cudaErrorNotReady)
            return cuda_fail("cudaEventQuery (waiting for NCCL)", e, __FILE__, __LINE__);
        /* "not ready" is an answer, not a failure, but the runtime also
         * leaves it in this thread's last-error slot, where the next
         * launch's cudaGetLastError() check would read it as that launch's
         * failure (PyTorch clears it the same way: pytorch#18584, #61554) */
        (void)cudaGetLastError();
        ncclResult_t async;
        NCCL_TRY(ncclCommGetAsyncError(c->comm, &async), c->comm);
        if (async != ncclSuccess && async != ncclInProgress) {
            nccl_fail("an NCCL collective", async, c->comm);
            return abandon(c);
        }
        if (now_s() - start > c->timeout_s) {
            err_set("an NCCL collective did not finish within comm.timeout_s = %g s: a peer "
                    "rank is stuck or gone",
                    c->timeout_s);
            return abandon(c);
        }
        nap();
    }
    CUDA_TRY(cudaStreamWaitEvent(c->compute, c->done, 0));
    return 0;
}

void nccl_close(nccl_comm *c)
{
    if (!c)
        return;
    if (c->comm)
        ncclCommDestroy(c->comm);
    if (c->queued)
        cudaEventDestroy(c->queued);
    if (c->done)
        cudaEventDestroy(c->done);
    if (c->stream)
        cudaStreamDestroy(c->stream);
    free(c);
}
