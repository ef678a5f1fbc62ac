/* comm: the process group. Who this process is among the ranks of the job,
 * and the collectives the trainer needs.
 *
 * Implemented with MPI (comm_mpi.c). Without a launcher the program is an MPI
 * singleton: one rank, and every collective a no-op. The NCCL implementation
 * of the gradient all-reduce will sit behind the same functions. */
#ifndef ACCEL_COMM_H
#define ACCEL_COMM_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int rank, size;             /* in the whole job */
    int local_rank, local_size; /* on this node */
} comm_info;

int comm_init(int *argc, char ***argv, comm_info *info);

/* In place: buf becomes the element-wise mean over all ranks (host memory). */
int comm_allreduce_mean(float *buf, size_t n);

/* In place: buf becomes the element-wise sum over all ranks. */
int comm_allreduce_sum_f64(double *buf, size_t n);

/* Copies `bytes` bytes of root's buf to every rank's buf. */
int comm_broadcast(void *buf, size_t bytes, int root);

/* Every rank says whether it is fine. Returns the lowest rank that is not,
 * or -1 when all are; *status gets -1 when the vote itself failed. */
int comm_agree(int ok, int *status);

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

#endif
