/* sampler: the global order depends only on (seed, epoch); ranks take
 * disjoint contiguous slices whose union is the 1-rank batch. */
#include <stdlib.h>
#include <string.h>

#include "data/sampler.h"
#include "testutil.h"

START_TEST(order_is_a_permutation)
{
    sampler s;
    ck_assert_int_eq(sampler_init(&s, 1000, 7, true), 0);
    int64_t idx[1000];
    sampler_batch(&s, 0, 0, 1000, 0, 1, idx);
    char seen[1000] = {0};
    int moved = 0;
    for (int i = 0; i < 1000; i++) {
        ck_assert(idx[i] >= 0 && idx[i] < 1000);
        ck_assert(!seen[idx[i]]);
        seen[idx[i]] = 1;
        moved += idx[i] != i;
    }
    ck_assert_int_gt(moved, 900); /* really shuffled */
    sampler_free(&s);
}
END_TEST

START_TEST(depends_only_on_seed_and_epoch)
{
    sampler a, b;
    ck_assert_int_eq(sampler_init(&a, 500, 3, true), 0);
    ck_assert_int_eq(sampler_init(&b, 500, 3, true), 0);
    int64_t x[100], y[100];
    /* b visits another epoch first: its cache must not matter */
    sampler_batch(&b, 4, 0, 100, 0, 1, y);
    sampler_batch(&a, 1, 2, 100, 0, 1, x);
    sampler_batch(&b, 1, 2, 100, 0, 1, y);
    ck_assert_mem_eq(x, y, sizeof x);
    sampler_batch(&b, 2, 2, 100, 0, 1, y);
    ck_assert(memcmp(x, y, sizeof x) != 0); /* a new order each epoch */
    sampler_free(&a);
    ck_assert_int_eq(sampler_init(&a, 500, 4, true), 0);
    sampler_batch(&a, 1, 2, 100, 0, 1, y);
    ck_assert(memcmp(x, y, sizeof x) != 0); /* and for each seed */
    sampler_free(&a);
    sampler_free(&b);
}
END_TEST

START_TEST(rank_slices_make_the_global_batch)
{
    sampler s;
    ck_assert_int_eq(sampler_init(&s, 256, 11, true), 0);
    int64_t whole[64], part[16];
    sampler_batch(&s, 2, 3, 64, 0, 1, whole);
    for (int r = 0; r < 4; r++) {
        sampler_batch(&s, 2, 3, 64, r, 4, part);
        ck_assert_mem_eq(part, whole + 16 * r, sizeof part);
    }
    sampler_free(&s);
}
END_TEST

START_TEST(no_shuffle_is_identity)
{
    sampler s;
    ck_assert_int_eq(sampler_init(&s, 100, 11, false), 0);
    int64_t idx[10];
    sampler_batch(&s, 5, 3, 10, 0, 1, idx);
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(idx[i], 30 + i);
    sampler_free(&s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sampler");
    TCase *tc = tcase_create("sampler");
    tcase_add_test(tc, order_is_a_permutation);
    tcase_add_test(tc, depends_only_on_seed_and_epoch);
    tcase_add_test(tc, rank_slices_make_the_global_batch);
    tcase_add_test(tc, no_shuffle_is_identity);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
