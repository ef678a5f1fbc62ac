/* nccl: the NCCL communicator of a job on GPUs.
 *
 * Started so that no rank can hang, and none trains while another failed:
 * rank 0's ncclGetUniqueId reaches every rank over MPI together with whether
 * it succeeded (comm_share_made); the communicator is non-blocking, so its
 * initialization is polled, up to the time limit, and aborted on an error
 * or past the limit; then the ranks vote (comm_agree_step) and all fail, with
 * the message of the rank where the trouble began, unless all succeeded.
 * Its collectives run on a stream of their own, ordered after the work
 * already queued on the compute stream; nccl_wait then blocks until they are
 * done, watching for NCCL's asynchronous errors and for the time limit, and
 * aborts the communicator when either strikes, so a dead or stuck peer
 * ends the job instead of hanging it. */
#ifndef ACCEL_NCCL_H
#define ACCEL_NCCL_H

#include <stddef.h>

#include "comm/comm.h"

typedef struct nccl_comm nccl_comm;

/* Collective: every rank of the job calls it, and all get a communicator
 * or, short of MPI itself failing, all get NULL with the same error. */
nccl_comm *nccl_open(const comm_info *ci, void *compute_stream, double timeout_s);

/* Sums buf (device memory) over the ranks, after what the compute stream
 * has queued so far. */
int nccl_allreduce_sum(nccl_comm *c, float *buf, size_t n);

/* The sharded optimizer's two collectives (comm/shard_plan.h), in place
 * on a bucket of len floats cut in pieces of `piece` (rank r's part starts
 * at buf + r * piece, short or empty at the end), after what the compute
 * stream has queued. The reduce-scatter leaves this rank's part of the
 * sum in its place (the rest of buf is left undefined); the all-gather
 * copies every rank's part from its place to every rank. */
int nccl_reduce_scatter_sum(nccl_comm *c, float *buf, size_t len, size_t piece);
int nccl_allgather(nccl_comm *c, float *buf, size_t len, size_t piece);

/* Waits for every collective started; the compute stream then waits too. */
int nccl_wait(nccl_comm *c);

void nccl_close(nccl_comm *c);

#endif
