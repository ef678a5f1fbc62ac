/* device_share: which ranks share a GPU, over device lists made up here as
 * the ranks would report them. */
#include <stdio.h>
#include <string.h>

#include "comm/device_share.h"
#include "testutil.h"

static comm_device dev(const char *host, const char *bus)
{
    comm_device d;
    memset(&d, 0, sizeof d);
    strcpy(d.host, host);
    strcpy(d.device, bus);
    return d;
}

/* Slurm's --gpus-per-task=1: each of 8 ranks sees one GPU, its own, and
 * calls it device 0; the bus ids differ, so nothing is shared. (Counting
 * visible devices said "8 ranks but 1 GPU" and refused this.) */
START_TEST(one_gpu_a_task_is_not_sharing)
{
    comm_device all[8];
    char bus[32];
    for (int r = 0; r < 8; r++) {
        snprintf(bus, sizeof bus, "00000000:%02X:00.0", 0x18 + 0x10 * r);
        all[r] = dev("gpu-node1", bus);
    }
    int a = -1, b = -1;
    ck_assert_int_eq(comm_device_pair(all, 8, &a, &b), 0);
}
END_TEST

/* More ranks than GPUs without binding: local_rank % 2 puts ranks 0 and 2
 * on one device. */
START_TEST(two_ranks_on_one_gpu)
{
    comm_device all[4] = {dev("n1", "00000000:18:00.0"), dev("n1", "00000000:2A:00.0"),
                          dev("n1", "00000000:18:00.0"), dev("n1", "00000000:2A:00.0")};
    int a = -1, b = -1;
    ck_assert_int_eq(comm_device_pair(all, 4, &a, &b), 1);
    ck_assert_int_eq(a, 0);
    ck_assert_int_eq(b, 2);
}
END_TEST

/* How many ranks are on a rank's GPU, itself included: the start-up
 * memory check holds them to its free memory together. Four ranks on two
 * GPUs of n1 and one on n2 (the same bus id, another GPU), and CPU ranks,
 * which share nothing. */
START_TEST(sharers_of_a_gpu)
{
    comm_device all[7] = {dev("n1", "00000000:18:00.0"),
                          dev("n1", "00000000:2A:00.0"),
                          dev("n1", "00000000:18:00.0"),
                          dev("n1", "00000000:18:00.0"),
                          dev("n2", "00000000:18:00.0"),
                          dev("n3", ""),
                          dev("n3", "")};
    ck_assert_int_eq(comm_device_sharers(all, 7, 0), 3);
    ck_assert_int_eq(comm_device_sharers(all, 7, 3), 3);
    ck_assert_int_eq(comm_device_sharers(all, 7, 1), 1);
    ck_assert_int_eq(comm_device_sharers(all, 7, 4), 1);
    ck_assert_int_eq(comm_device_sharers(all, 7, 5), 1);
    ck_assert_int_eq(comm_device_sharers(all, 7, 6), 1);
}
END_TEST

/* The same bus id on two nodes is two GPUs; the CPU has no device. */
START_TEST(other_nodes_and_cpus_share_nothing)
{
    comm_device nodes[2] = {dev("n1", "00000000:18:00.0"), dev("n2", "00000000:18:00.0")};
    comm_device cpus[2] = {dev("n1", ""), dev("n1", "")};
    int a, b;
    ck_assert_int_eq(comm_device_pair(nodes, 2, &a, &b), 0);
    ck_assert_int_eq(comm_device_pair(cpus, 2, &a, &b), 0);
}
END_TEST

/* run.device = auto on a node whose GPU is unusable: ranks 4 and 5 fell
 * back to the CPU while the others took GPUs. */
START_TEST(gpus_and_cpus_mixed)
{
    comm_device all[6] = {dev("n1", "00000000:18:00.0"),
                          dev("n1", "00000000:2A:00.0"),
                          dev("n2", "00000000:18:00.0"),
                          dev("n2", "00000000:2A:00.0"),
                          dev("n3", ""),
                          dev("n3", "")};
    int gpu, cpu;
    ck_assert_int_eq(comm_device_mixed(all, 6, &gpu, &cpu), 1);
    ck_assert_int_eq(gpu, 0);
    ck_assert_int_eq(cpu, 4);
    /* the other way round: rank 0 on the CPU */
    ck_assert_int_eq(comm_device_mixed(all + 3, 3, &gpu, &cpu), 1);
    ck_assert_int_eq(gpu, 0);
    ck_assert_int_eq(cpu, 1);
    ck_assert_int_eq(comm_device_mixed(all, 4, &gpu, &cpu), 0);     /* all on GPUs */
    ck_assert_int_eq(comm_device_mixed(all + 4, 2, &gpu, &cpu), 0); /* all on the CPU */
}
END_TEST

/* One rank alone: the exchange runs without MPI and finds nothing. */
START_TEST(exchange_on_one_rank)
{
    comm_info ci = {.rank = 0, .size = 1, .local_rank = 0, .local_size = 1};
    comm_device_verdict v;
    v.shared = v.mixed = true;
    ck_assert_int_eq(comm_device_exchange(&ci, "00000000:18:00.0", &v), 0);
    ck_assert(!v.shared);
    ck_assert(!v.mixed);
    ck_assert_int_eq(v.sharers, 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("device_share");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, one_gpu_a_task_is_not_sharing);
    tcase_add_test(tc, two_ranks_on_one_gpu);
    tcase_add_test(tc, sharers_of_a_gpu);
    tcase_add_test(tc, other_nodes_and_cpus_share_nothing);
    tcase_add_test(tc, gpus_and_cpus_mixed);
    tcase_add_test(tc, exchange_on_one_rank);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
