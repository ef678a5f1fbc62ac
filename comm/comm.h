/* comm: the process group. Who this process is among the ranks of the job,
 * and the collectives the trainer needs, over backend memory.
 *
 * One interface, several implementations: comm_single.c (one process) today;
 * MPI and NCCL sit behind the same functions. */
#ifndef ACCEL_COMM_H
#define ACCEL_COMM_H

#include <stddef.h>

typedef struct {
    int rank, size;             /* in the whole job */
    int local_rank, local_size; /* on this node */
} comm_info;

int comm_init(int *argc, char ***argv, comm_info *info);

/* In place: buf becomes the element-wise mean over all ranks. */
int comm_allreduce_mean(float *buf, size_t n);

/* In place: buf becomes the element-wise sum over all ranks. */
int comm_allreduce_sum_f64(double *buf, size_t n);

void comm_finalize(void);

#endif
