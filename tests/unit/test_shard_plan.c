/* The sharded optimizer's ownership arithmetic (comm/shard_plan.h): the
 * buckets are cut where the gradient all-reduce cuts them, every float of
 * the buffer is owned by exactly one rank, a rank's moments are the same
 * size on every rank and about 1/N of the whole, and moments packed per
 * rank and unpacked come back as they were. */
#include <stdlib.h>

#include "comm/shard_plan.h"
#include "testutil.h"

/* Layers starting at these floats, a buffer of 6000: from the end, 5000 is
 * too close (1000 < 1500), 1000 makes a bucket of 5000, then [0, 1000) is
 * what is left. */
static const size_t starts[] = {0, 64, 1000, 5000};

START_TEST(buckets_are_cut_as_the_all_reduce_cuts_them)
{
    shard_plan p;
    ck_assert_int_eq(shard_plan_make(&p, starts, 4, 6000, 1500, 4), 0);
    ck_assert_int_eq(p.n_buckets, 2);
    ck_assert_uint_eq(p.buckets[0].start, 1000);
    ck_assert_uint_eq(p.buckets[0].len, 5000);
    ck_assert_uint_eq(p.buckets[1].start, 0);
    ck_assert_uint_eq(p.buckets[1].len, 1000);
    ck_assert_uint_eq(p.buckets[0].piece, 1250);
    ck_assert_uint_eq(p.buckets[1].piece, 250);
    ck_assert_uint_eq(p.buckets[1].shard_at, 1250);
    ck_assert_uint_eq(p.shard_floats, 1500);
    shard_plan_free(&p);
    /* small buckets: one a layer */
    ck_assert_int_eq(shard_plan_make(&p, starts, 4, 6000, 1, 4), 0);
    ck_assert_int_eq(p.n_buckets, 4);
    ck_assert_uint_eq(p.buckets[3].start, 0);
    ck_assert_uint_eq(p.buckets[3].len, 64);
    shard_plan_free(&p);
}
END_TEST

START_TEST(short_buckets_leave_the_last_ranks_less_or_nothing)
{
    const size_t at[] = {0, 2, 12};
    shard_plan p;
    /* buckets [12, 22) (10 floats) and [2, 12)... then [0, 2): pieces of 3 and 1 */
    ck_assert_int_eq(shard_plan_make(&p, at, 3, 22, 10, 4), 0);
    ck_assert_int_eq(p.n_buckets, 3);
    const size_t counts10[] = {3, 3, 3, 1}, counts2[] = {1, 1, 0, 0};
    for (int r = 0; r < 4; r++) {
        ck_assert_uint_eq(shard_plan_count(&p, 0, r), counts10[r]);
        ck_assert_uint_eq(shard_plan_count(&p, 2, r), counts2[r]);
    }
    size_t from, to;
    shard_plan_owned(&p, 0, 3, &from, &to);
    ck_assert_uint_eq(from, 21);
    ck_assert_uint_eq(to, 22);
    shard_plan_owned(&p, 2, 3, &from, &to);
    ck_assert_uint_eq(from, to);
    shard_plan_free(&p);
}
END_TEST

/* Over rank counts 1 to 9 and several bucket sizes: each float owned once,
 * the shard about 1/N (N - 1 floats of padding at most a bucket), and a
 * pack of every rank's pieces unpacks to the buffer. */
START_TEST(every_float_has_one_owner_and_round_trips)
{
    const size_t n = 6000, buckets[] = {1, 900, 1500, 1 << 20};
    float *flat = malloc(sizeof(float) * n), *back = malloc(sizeof(float) * n);
    int *owners = malloc(sizeof(int) * n);
    for (size_t i = 0; i < n; i++)
        flat[i] = (float)i + 0.5f;
    for (int world = 1; world <= 9; world++)
        for (int k = 0; k < 4; k++) {
            shard_plan p;
            ck_assert_int_eq(shard_plan_make(&p, starts, 4, n, buckets[k], world), 0);
            ck_assert_uint_le(p.shard_floats * (size_t)world,
                              n + (size_t)p.n_buckets * (world - 1));
            ck_assert_uint_ge(p.shard_floats * (size_t)world, n);
            for (size_t i = 0; i < n; i++)
                owners[i] = 0;
            for (int b = 0; b < p.n_buckets; b++)
                for (int r = 0; r < world; r++) {
                    size_t from, to;
                    shard_plan_owned(&p, b, r, &from, &to);
                    ck_assert_uint_le(to - from, p.buckets[b].piece);
                    for (size_t i = from; i < to; i++)
                        owners[i]++;
                }
            for (size_t i = 0; i < n; i++)
                ck_assert_msg(owners[i] == 1, "world %d: float %zu has %d owners", world, i,
                              owners[i]);
            float *shards = malloc(sizeof(float) * p.shard_floats * (size_t)world);
            for (int r = 0; r < world; r++)
                shard_plan_pack(&p, r, flat, shards + (size_t)r * p.shard_floats);
            shard_plan_unpack(&p, shards, back);
            for (size_t i = 0; i < n; i++)
                ck_assert_float_eq(back[i], flat[i]);
            free(shards);
            shard_plan_free(&p);
        }
    free(flat);
    free(back);
    free(owners);
}
END_TEST

START_TEST(bucket_floats_as_the_all_reduce_takes_them)
{
    ck_assert_uint_eq(shard_bucket_floats(1.0), 262144);
    ck_assert_uint_eq(shard_bucket_floats(1e-9), 1);
    ck_assert_uint_eq(shard_bucket_floats(1e9), 1u << 30);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("shard_plan");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, buckets_are_cut_as_the_all_reduce_cuts_them);
    tcase_add_test(tc, short_buckets_leave_the_last_ranks_less_or_nothing);
    tcase_add_test(tc, every_float_has_one_owner_and_round_trips);
    tcase_add_test(tc, bucket_floats_as_the_all_reduce_takes_them);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
