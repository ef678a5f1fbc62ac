#include "comm/nccl.h"

#include <cuda_runtime_api.h>
#include <nccl.h>
#include <stdlib.h>
#include <time.h>

#include "kernels/cuda/cuda_check.h"
#include "trainer/err.h"

struct nccl_comm {
    ncclComm_t comm;
    cudaStream_t compute, stream;
    cudaEvent_t queued, done;
    double timeout_s;
    int rank;
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

static int open_comm(nccl_comm *c, const comm_info *ci)
{
    ncclUniqueId id;
    if (ci->rank == 0)
        NCCL_TRY(ncclGetUniqueId(&id), NULL);
    if (comm_broadcast(&id, sizeof id, 0) < 0)
        return -1;
    NCCL_TRY(ncclCommInitRank(&c->comm, ci->size, id, ci->rank), NULL);
    CUDA_TRY(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
    CUDA_TRY(cudaEventCreateWithFlags(&c->queued, cudaEventDisableTiming));
    CUDA_TRY(cudaEventCreateWithFlags(&c->done, cudaEventDisableTiming));
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
    if (open_comm(c, ci) < 0) {
        err_prefix("starting NCCL");
        nccl_close(c);
        return NULL;
    }
    return c;
}

int nccl_allreduce_sum(nccl_comm *c, float *buf, size_t n)
{
    CUDA_TRY(cudaEventRecord(c->queued, c->compute));
    CUDA_TRY(cudaStreamWaitEvent(c->stream, c->queued, 0));
    NCCL_TRY(ncclAllReduce(buf, buf, n, ncclFloat32, ncclSum, c->comm, c->stream), c->comm);
    return 0;
}

/* Ends the communicator so that no call waits on it again. */
static int abandon(nccl_comm *c)
{
    ncclCommAbort(c->comm);
    c->comm = NULL;
    return -1;
}

int nccl_wait(nccl_comm *c)
{
    CUDA_TRY(cudaEventRecord(c->done, c->stream));
    double start = now_s();
    for (;;) {
        cudaError_t e = cudaEventQuery(c->done);
        if (e == cudaSuccess)
            break;
        if (e != cudaErrorNotReady)
            return cuda_fail("cudaEventQuery (waiting for NCCL)", e, __FILE__, __LINE__);
        ncclResult_t async;
        NCCL_TRY(ncclCommGetAsyncError(c->comm, &async), c->comm);
        if (async != ncclSuccess && async != ncclInProgress) {
            nccl_fail("an NCCL all-reduce", async, c->comm);
            return abandon(c);
        }
        if (now_s() - start > c->timeout_s) {
            err_set("the NCCL all-reduce did not finish within comm.timeout_s = %g s: a peer "
                    "rank is stuck or gone",
                    c->timeout_s);
            return abandon(c);
        }
        struct timespec nap = {0, 20000}; /* 20 us: no need to spin a core */
        nanosleep(&nap, NULL);
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
