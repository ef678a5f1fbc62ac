/* comm_single: the process group of a job with one rank, where every
 * collective is the identity. */
#include "comm/comm.h"

int comm_init(int *argc, char ***argv, comm_info *info)
{
    (void)argc, (void)argv;
    *info = (comm_info){.rank = 0, .size = 1, .local_rank = 0, .local_size = 1};
    return 0;
}

int comm_allreduce_mean(float *buf, size_t n)
{
    (void)buf, (void)n;
    return 0;
}

int comm_allreduce_sum_f64(double *buf, size_t n)
{
    (void)buf, (void)n;
    return 0;
}

void comm_finalize(void) {}
