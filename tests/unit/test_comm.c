/* comm: what a rank decides without talking to the others (the multi-rank
 * collectives are tested under mpirun by tests/cli/mpi_ranks.sh). */
#define _GNU_SOURCE
#include <sched.h>
#include <unistd.h>

#include "comm/comm.h"
#include "testutil.h"

static int allowed_cores(void)
{
    cpu_set_t set;
    ck_assert_int_eq(sched_getaffinity(0, sizeof set, &set), 0);
    return CPU_COUNT(&set);
}

START_TEST(threads_share_the_node)
{
    int cores = allowed_cores();
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    comm_info one = {.rank = 0, .size = 1, .local_rank = 0, .local_size = 1};
    ck_assert_int_eq(comm_default_threads(&one), cores);
    comm_info many = {.rank = 0, .size = 64, .local_rank = 0, .local_size = 64};
    /* Unbound ranks share the node, never fewer than one thread each; a rank
     * the launcher bound to a subset of the cores uses all of that subset. */
    int want = cores < online ? cores : (cores / 64 > 0 ? cores / 64 : 1);
    ck_assert_int_eq(comm_default_threads(&many), want);
    if (cores == online && cores >= 2) {
        comm_info two = {.rank = 1, .size = 2, .local_rank = 1, .local_size = 2};
        ck_assert_int_eq(comm_default_threads(&two), cores / 2);
    }
}
END_TEST

START_TEST(one_rank_collectives_are_identity)
{
    double s[2] = {4.0, 5.0};
    ck_assert_int_eq(comm_allreduce_sum_f64(s, 2), 0);
    ck_assert_double_eq(s[0], 4.0);
    int status;
    ck_assert_int_eq(comm_agree(1, &status), -1);
    ck_assert_int_eq(status, 0);
    ck_assert_int_eq(comm_agree(0, &status), 0); /* rank 0 is the one that failed */
    ck_assert_int_eq(comm_all_equal_u64(77), 1);
}
END_TEST

/* Whether NCCL carries the gradients, which the start-up memory check
 * needs before NCCL starts: on GPUs with peers unless mpi is asked (or
 * forced, ranks sharing a GPU), on one GPU only when nccl is asked, never
 * on the CPU. */
START_TEST(nccl_where_gradients_take_it)
{
    ck_assert(gsync_uses_nccl(true, 2, COMM_AUTO));
    ck_assert(gsync_uses_nccl(true, 8, COMM_NCCL));
    ck_assert(!gsync_uses_nccl(true, 8, COMM_MPI));
    ck_assert(!gsync_uses_nccl(true, 1, COMM_AUTO));
    ck_assert(gsync_uses_nccl(true, 1, COMM_NCCL));
    ck_assert(!gsync_uses_nccl(false, 8, COMM_AUTO));
    ck_assert(!gsync_uses_nccl(false, 1, COMM_NCCL));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("comm");
    TCase *tc = tcase_create("comm");
    tcase_add_test(tc, threads_share_the_node);
    tcase_add_test(tc, one_rank_collectives_are_identity);
    tcase_add_test(tc, nccl_where_gradients_take_it);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
