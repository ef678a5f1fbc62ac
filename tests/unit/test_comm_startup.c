/* comm's start-up steps, as comm/nccl.c starts NCCL with them, and the gate
 * before a start-up collective (comm_gate): rank 0's
 * payload (the NCCL id) or its failure reaches every rank; a failed part on
 * any rank fails every rank, with the message of the rank where the trouble
 * began; and after a failure the ranks are still in step (the next
 * collective matches). ctest runs it alone (one rank, no MPI) and under
 * mpirun with 2 ranks. A hang is a failure: the alarm below ends it. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "comm/comm.h"
#include "testutil.h"
#include "util/err.h"

enum { ID_BYTES = 128 }; /* an ncclUniqueId's size */

static comm_info ci;
static int make_calls;

static int fake_get_id_fails(void *payload, size_t bytes, void *arg)
{
    (void)payload, (void)bytes, (void)arg;
    make_calls++;
    return err_set("ncclGetUniqueId failed: unhandled system error (injected)");
}

/* Fills the payload with bytes that depend on *arg. */
static int fake_get_id(void *payload, size_t bytes, void *arg)
{
    unsigned char *p = payload, seed = *(unsigned char *)arg;
    make_calls++;
    for (size_t i = 0; i < bytes; i++)
        p[i] = (unsigned char)(seed + 7 * i);
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The ranks still take their collectives together. */
static void assert_in_step(void)
{
    ck_assert_int_eq(comm_all_equal_u64(0x5eed), 1);
}

START_TEST(rank0_failure_reaches_every_rank)
{
    unsigned char id[ID_BYTES];
    make_calls = 0;
    err_clear();
    double start = now_s();
    ck_assert_int_eq(comm_share_made(&ci, id, sizeof id, fake_get_id_fails, NULL), -1);
    ck_assert_double_lt(now_s() - start, 10.0);
    ck_assert_int_eq(make_calls, ci.rank == 0); /* only rank 0 gets the id */
    ck_assert_str_eq(err_msg(),
                     "rank 0: ncclGetUniqueId failed: unhandled system error (injected)");
    assert_in_step();
}
END_TEST

START_TEST(rank0_payload_reaches_every_rank)
{
    unsigned char id[ID_BYTES], want[ID_BYTES], seed = 11;
    fake_get_id(want, sizeof want, &seed);
    memset(id, 0xa0 + ci.rank, sizeof id); /* each rank starts with its own bytes */
    make_calls = 0;
    ck_assert_int_eq(comm_share_made(&ci, id, sizeof id, fake_get_id, &seed), 0);
    ck_assert_int_eq(make_calls, ci.rank == 0);
    ck_assert_mem_eq(id, want, sizeof id);
    assert_in_step();
}
END_TEST

START_TEST(oversized_payload_is_refused_on_every_rank)
{
    unsigned char big[COMM_SHARE_MAX + 1], seed = 0;
    make_calls = 0;
    ck_assert_int_eq(comm_share_made(&ci, big, sizeof big, fake_get_id, &seed), -1);
    ck_assert_int_eq(make_calls, 0);
    ck_assert_ptr_nonnull(strstr(err_msg(), "comm_share_made"));
    assert_in_step();
}
END_TEST

START_TEST(all_parts_ok_agree)
{
    err_clear();
    ck_assert_int_eq(comm_agree_step(&ci, COMM_STEP_OK), 0);
    ck_assert_str_eq(err_msg(), "");
    assert_in_step();
}
END_TEST

/* The last rank's communicator fails to start; every rank fails with its
 * message, whatever each had recorded before. */
START_TEST(one_failed_part_fails_every_rank)
{
    int last = ci.size - 1;
    err_set("ncclCommInitRankConfig failed: invalid usage (on rank %d)", ci.rank);
    double start = now_s();
    int step = ci.rank == last ? COMM_STEP_FAILED : COMM_STEP_OK;
    ck_assert_int_eq(comm_agree_step(&ci, step), -1);
    ck_assert_double_lt(now_s() - start, 10.0);
    char want[128];
    snprintf(want, sizeof want,
             "rank %d: ncclCommInitRankConfig failed: invalid usage (on rank %d)", last, last);
    ck_assert_str_eq(err_msg(), want);
    assert_in_step();
}
END_TEST

/* Rank 0 gave up waiting (for the peer that failed): the failure is told,
 * not the time-out. With one rank, rank 0's time-out is all there is. */
START_TEST(a_failure_is_told_before_a_time_out)
{
    int last = ci.size - 1, step = COMM_STEP_OK;
    if (ci.rank == 0) {
        err_set("ncclCommInitRankConfig did not finish within comm.timeout_s = 1 s");
        step = COMM_STEP_TIMED_OUT;
    }
    if (ci.rank == last && last > 0) {
        err_set("ncclCommInitRankConfig failed: unhandled cuda error");
        step = COMM_STEP_FAILED;
    }
    ck_assert_int_eq(comm_agree_step(&ci, step), -1);
    char want[128];
    if (last > 0)
        snprintf(want, sizeof want, "rank %d: ncclCommInitRankConfig failed: unhandled cuda error",
                 last);
    else
        snprintf(want, sizeof want,
                 "rank 0: ncclCommInitRankConfig did not finish within comm.timeout_s = 1 s");
    ck_assert_str_eq(err_msg(), want);
    assert_in_step();
}
END_TEST

/* The gate: the last rank failed alone (an allocation); every rank fails
 * with its message, and alone (all failed) the message is not prefixed. */
START_TEST(a_gate_fails_every_rank_with_the_failed_ones_message)
{
    int last = ci.size - 1, rc = 0;
    if (ci.rank == last)
        rc = err_set("out of host memory for the ranks' host names");
    ck_assert_int_eq(comm_gate(&ci, rc), -1);
    char want[128];
    if (last > 0)
        snprintf(want, sizeof want, "rank %d: out of host memory for the ranks' host names", last);
    else
        snprintf(want, sizeof want, "out of host memory for the ranks' host names");
    ck_assert_str_eq(err_msg(), want);
    assert_in_step();
    err_clear();
    ck_assert_int_eq(comm_gate(&ci, 0), 0);
    ck_assert_str_eq(err_msg(), "");
    assert_in_step();
}
END_TEST

/* Every rank failed (a setting none can use): rank 0's message, as it is. */
START_TEST(a_gate_tells_a_shared_failure_as_it_is)
{
    int rc = err_set("comm.backend = nccl needs the CUDA backend (on rank %d)", ci.rank);
    ck_assert_int_eq(comm_gate(&ci, rc), -1);
    ck_assert_str_eq(err_msg(), "comm.backend = nccl needs the CUDA backend (on rank 0)");
    assert_in_step();
}
END_TEST

int main(int argc, char **argv)
{
    alarm(60); /* a rank stuck in a collective ends the test (and mpirun) */
    if (comm_init(&argc, &argv, &ci) < 0) {
        fprintf(stderr, "test_comm_startup: %s\n", err_msg());
        return 1;
    }
    Suite *s = suite_create("comm_startup");
    TCase *tc = tcase_create("comm_startup");
    tcase_add_test(tc, rank0_failure_reaches_every_rank);
    tcase_add_test(tc, rank0_payload_reaches_every_rank);
    tcase_add_test(tc, oversized_payload_is_refused_on_every_rank);
    tcase_add_test(tc, all_parts_ok_agree);
    tcase_add_test(tc, one_failed_part_fails_every_rank);
    tcase_add_test(tc, a_failure_is_told_before_a_time_out);
    tcase_add_test(tc, a_gate_fails_every_rank_with_the_failed_ones_message);
    tcase_add_test(tc, a_gate_tells_a_shared_failure_as_it_is);
    suite_add_tcase(s, tc);
    int rc = tu_run(s);
    comm_finalize();
    return rc;
}
