/* comm: the process group. Who this process is among the ranks of the job,
 * and the collectives the trainer needs.
 *
 * Implemented with MPI (comm_mpi.c). Without a launcher (mpirun, srun) the
 * job has one rank, MPI is not started, and every collective is a no-op. The gradient
 * all-reduce (grad_sync.c, below), and its sharded form (grad_shard.c, below
 * it), run over MPI or NCCL. */
#ifndef ACCEL_COMM_H
#define ACCEL_COMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "comm/shard_plan.h"

typedef struct {
    int rank, size;             /* in the whole job */
    int local_rank, local_size; /* on this node */
} comm_info;

int comm_init(int *argc, char ***argv, comm_info *info);

/* The ranks in the job (1 before comm_init, or without a launcher). */
int comm_size(void);

/* In place: buf becomes the element-wise sum over all ranks. */
int comm_allreduce_sum_f64(double *buf, size_t n);

/* Copies `bytes` bytes of root's buf to every rank's buf. */
int comm_broadcast(void *buf, size_t bytes, int root);

/* Gathers `bytes` bytes from every rank: rank r's `mine` lands at
 * all + r * bytes (all holds size * bytes). */
int comm_allgather(const void *mine, void *all, size_t bytes);

/* Gathers floats to root: rank r's `count` floats (counts[r] of them, as
 * root knows) land at all + displs[r] there; all is read only on root. */
int comm_gatherv_floats(const float *mine, int count, float *all, const int *counts,
                        const int *displs, int root);

/* Every rank says whether it is fine. Returns the lowest rank that is not,
 * or -1 when all are; *status gets -1 when the vote itself failed. */
int comm_agree(int ok, int *status);

/* ---- start-up steps that every rank takes together --------------------------
 * Each one ends the same way on every rank, so that a failure on one rank
 * reaches all of them and none is left in a collective that its peers have
 * skipped (comm/nccl.c starts NCCL with them). No CUDA in them: the unit
 * test runs them on the CPU, under mpirun. */

/* Makes a payload of `bytes` bytes on rank 0: 0, or -1 with the error set. */
typedef int (*comm_make_fn)(void *payload, size_t bytes, void *arg);

/* The most bytes comm_share_made carries (an ncclUniqueId is 128). */
enum { COMM_SHARE_MAX = 512 };

/* Rank 0 makes the payload with make (no other rank calls it) and sends
 * every rank, in one broadcast, either the payload or why make failed.
 * Returns 0 with rank 0's payload on every rank, or -1 on every rank with
 * the error "rank 0: <make's error>". */
int comm_share_made(const comm_info *ci, void *payload, size_t bytes, comm_make_fn make, void *arg);

/* How one rank's part of a joint step ended. A rank that gave up waiting
 * has most likely waited for a peer that failed: that peer's error is the
 * one worth telling. */
enum { COMM_STEP_OK, COMM_STEP_TIMED_OUT, COMM_STEP_FAILED };

/* Every rank says how its part ended (a COMM_STEP_*). Returns 0 when all
 * are OK; otherwise -1 on every rank, with the error recorded by the lowest
 * rank that FAILED (or, where none did, that TIMED_OUT), as "rank K: ...". */
int comm_agree_step(const comm_info *ci, int step);

/* The gate before a start-up collective that a rank might reach having
 * failed on its own (an allocation, a host call): every rank says whether
 * its part so far succeeded (rc 0) or failed (rc < 0, its error set), and
 * all go on to the collective together or none does. Returns 0 when all
 * succeeded; otherwise -1 on every rank, with the error of the lowest rank
 * that failed: as "rank K: ..." where some ranks did not fail, as it is
 * where all did (a shared cause, such as a setting, or a rank alone). */
int comm_gate(const comm_info *ci, int rc);

/* 1 when every rank passed the same value, 0 when not, -1 on failure. */
int comm_all_equal_u64(uint64_t value);

/* The CPU threads this rank should use for its math: the cores it may run
 * on, shared with the other ranks on the node unless the launcher has
 * already bound each rank to its own cores. At least 1. */
int comm_default_threads(const comm_info *ci);

/* Ends every rank of the job at once, with this exit status. For an error
 * that the other ranks cannot know of (they may be waiting in a collective). */
void comm_abort(int status);

void comm_finalize(void);

/* ---- the gradient all-reduce (grad_sync.c) ---------------------------------

 * Sums the flat gradient buffer over all ranks in buckets, each started as
 * soon as backward has produced it, so communication overlaps the rest of
 * backward. Each rank's gradient is already divided by the global batch
 * (the loss is scaled so), so the sum is the mean gradient, with no pass to
 * divide. Backward produces gradients from the end of the buffer towards
 * its start (the last layer first), so buckets are cut from the end, at
 * layer boundaries. Three ways:
 *   MPI on host memory (the CPU backend): a non-blocking MPI_Iallreduce a
 *       bucket, moved along by a test after each layer's backward;
 *   NCCL (GPUs): ncclAllReduce(ncclSum) a bucket, on a stream of its own
 *       that waits for the compute stream, with asynchronous errors and a
 *       time limit watched while waiting (comm/nccl.c);
 *   MPI with host staging (GPUs without NCCL): the whole buffer, at the end.
 * With one rank it does nothing. */
typedef struct grad_sync grad_sync;

struct backend;

/* comm.backend: which all-reduce the gradients take on GPUs. */
typedef enum { COMM_AUTO = 0, COMM_NCCL, COMM_MPI } comm_backend_kind;

/* Whether the gradients of `world` ranks go through NCCL, for kind (a
 * comm_backend_kind; mpi where ranks share a GPU) on a GPU or not: on GPUs
 * with peers unless mpi is asked, and on one GPU when nccl is. The same
 * answer gsync_open and gshard_open act on, for the start-up memory check
 * that counts NCCL's buffers before they are taken. */
bool gsync_uses_nccl(bool gpu, int world, int kind);

/* kind is a comm_backend_kind (auto, nccl or mpi). */
grad_sync *gsync_open(struct backend *be, const comm_info *ci, float *grads, size_t n,
                      double bucket_mb, int kind, double timeout_s);

/* Gradients [from, n) of this step are final (from: where a layer's
 * parameters begin): starts a bucket once they add up to bucket_mb. */
int gsync_ready(grad_sync *g, size_t from);

/* Starts what is left and waits: the buffer then holds the sum. */
int gsync_finish(grad_sync *g);

/* Which implementation runs ("nccl", "mpi", "mpi (host staging)", "none"). */
const char *gsync_name(const grad_sync *g);

void gsync_close(grad_sync *g);

/* ---- the sharded gradient sync (grad_shard.c) --------------------------------

 * For optimizer.shard (ZeRO stage 1): each rank keeps the Adam state of, and
 * updates, only the parts of the flat buffers that it owns (shard_plan.h).
 * The buckets start as grad_sync's do, during backward, but each is
 * reduce-scattered instead of all-reduced: every rank receives the sum of
 * its own part only (MPI_Ireduce_scatter; ncclReduceScatter on GPUs), in
 * its place in the gradient buffer. After the update of the owned parts,
 * the parameters are all-gathered (MPI_Allgatherv; ncclAllGather) so that
 * every rank holds them all again. GPUs need NCCL here: the host-staging
 * path (comm.backend = mpi) is refused at open. Opened only with two or
 * more ranks. */
typedef struct grad_shard grad_shard;

/* plan: the model's (its world, the job's size); params and grads: the
 * flat buffers it describes. kind as gsync_open's. */
grad_shard *gshard_open(struct backend *be, const comm_info *ci, const shard_plan *plan,
                        float *params, float *grads, int kind, double timeout_s);

/* Gradients [from, n) of this step are final: starts the reduce-scatter
 * of every bucket that lies within them. */
int gshard_ready(grad_shard *g, size_t from);

/* Starts the buckets left and waits: each rank's owned parts of the
 * gradient buffer then hold their sums over the ranks (the rest is left
 * undefined). */
int gshard_finish(grad_shard *g);

/* Every rank's owned parts of the parameters, to every rank; waits. */
int gshard_gather(grad_shard *g);

/* "mpi" or "nccl" */
const char *gshard_name(const grad_shard *g);

void gshard_close(grad_shard *g);

#endif
