/* sampler: the global order depends only on (seed, epoch) and is a
 * permutation of the samples for any count of them, without memory; ranks
 * take disjoint contiguous slices whose union is the 1-rank batch. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/sampler.h"
#include "testutil.h"
#include "util/err.h"

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
}
END_TEST

START_TEST(depends_only_on_seed_and_epoch)
{
    sampler a, b;
    ck_assert_int_eq(sampler_init(&a, 500, 3, true), 0);
    ck_assert_int_eq(sampler_init(&b, 500, 3, true), 0);
    int64_t x[100], y[100];
    /* b visits another epoch first: nothing of it may stay behind */
    sampler_batch(&b, 4, 0, 100, 0, 1, y);
    sampler_batch(&a, 1, 2, 100, 0, 1, x);
    sampler_batch(&b, 1, 2, 100, 0, 1, y);
    ck_assert_mem_eq(x, y, sizeof x);
    sampler_batch(&b, 2, 2, 100, 0, 1, y);
    ck_assert(memcmp(x, y, sizeof x) != 0); /* a new order each epoch */
    sampler_batch(&b, 1 + ((int64_t)1 << 32), 2, 100, 0, 1, y);
    ck_assert(memcmp(x, y, sizeof x) != 0); /* all 64 bits of the epoch count */
    ck_assert_int_eq(sampler_init(&a, 500, 4, true), 0);
    sampler_batch(&a, 1, 2, 100, 0, 1, y);
    ck_assert(memcmp(x, y, sizeof x) != 0); /* and for each seed */
    ck_assert_int_eq(sampler_init(&a, 500, 3 + ((uint64_t)1 << 32), true), 0);
    sampler_batch(&a, 1, 2, 100, 0, 1, y);
    ck_assert(memcmp(x, y, sizeof x) != 0); /* all 64 bits of it */
}
END_TEST

START_TEST(rank_slices_make_the_global_batch)
{
    sampler s;
    ck_assert_int_eq(sampler_init(&s, 256, 11, true), 0);
    int64_t whole[64], part[16];
    sampler_batch(&s, 2, 3, 64, 0, 1, whole);
    for (int i = 0; i < 64; i++)
        ck_assert_int_eq(whole[i], sampler_at(&s, 2, 3 * 64 + i));
    for (int r = 0; r < 4; r++) {
        sampler_batch(&s, 2, 3, 64, r, 4, part);
        ck_assert_mem_eq(part, whole + 16 * r, sizeof part);
    }
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
}
END_TEST

/* Every sample exactly once in each of two epochs of n samples. */
static void check_bijection(int64_t n)
{
    sampler s;
    ck_assert_int_eq(sampler_init(&s, n, 5, true), 0);
    unsigned char *seen = malloc((size_t)n);
    ck_assert_ptr_nonnull(seen);
    for (int64_t epoch = 0; epoch < 2; epoch++) {
        memset(seen, 0, (size_t)n);
        for (int64_t i = 0; i < n; i++) {
            int64_t k = sampler_at(&s, epoch, i);
            ck_assert_msg(k >= 0 && k < n, "n %lld: position %lld gives %lld", (long long)n,
                          (long long)i, (long long)k);
            ck_assert_msg(!seen[k], "n %lld, epoch %lld: sample %lld twice", (long long)n,
                          (long long)epoch, (long long)k);
            seen[k] = 1;
        }
    }
    free(seen);
}

/* Sizes on both sides of the domain's powers of four, where cycle walking
 * has the least or the most to skip. */
START_TEST(bijection_for_any_size)
{
    for (int64_t n = 1; n <= 300; n++)
        check_bijection(n);
    static const int64_t sizes[] = {1000, 1023, 1024, 1025, 4097, 65535, 65536, 65537};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        check_bijection(sizes[i]);
}
END_TEST

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* n = 2^40: a thousand positions from across the epoch give distinct
 * samples in range, the same on a second call; and the largest n reaches
 * its ends without overflow. */
START_TEST(huge_n)
{
    const int64_t n = (int64_t)1 << 40;
    sampler s;
    ck_assert_int_eq(sampler_init(&s, n, 9, true), 0);
    enum { K = 1000 };
    int64_t *got = malloc(sizeof(int64_t) * K);
    ck_assert_ptr_nonnull(got);
    for (int64_t i = 0; i < K; i++) {
        int64_t position = i < K - 1 ? i * (n / K) + i : n - 1;
        got[i] = sampler_at(&s, 3, position);
        ck_assert(got[i] >= 0 && got[i] < n);
        ck_assert_int_eq(sampler_at(&s, 3, position), got[i]);
    }
    qsort(got, K, sizeof *got, cmp_i64);
    for (int i = 1; i < K; i++)
        ck_assert_int_ne(got[i], got[i - 1]);
    free(got);
    static const int64_t edge[] = {SAMPLER_MAX_N, SAMPLER_MAX_N - 1};
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(sampler_init(&s, edge[k], 9, true), 0);
        for (int64_t p = 0; p < 4; p++) {
            int64_t position = p < 2 ? p : edge[k] - 1 - (p - 2);
            int64_t v = sampler_at(&s, 1, position);
            ck_assert(v >= 0 && v < edge[k]);
            ck_assert_int_eq(sampler_at(&s, 1, position), v);
        }
    }
}
END_TEST

/* Over 20000 epochs of 1000 samples, position 0 holds each sample 20 times
 * on average. A fair draw stays within (0, 40] for all of them (a count
 * past 40 has odds 2.5e-5 a sample, none 2e-9), where the crude bound of
 * four times the share over 2000 epochs (past 8) would have 2e-4 a sample:
 * one failure in five seeds. And no two consecutive epochs begin alike. */
START_TEST(orders_are_spread_over_epochs)
{
    enum { N = 1000, EPOCHS = 20000 };
    sampler s;
    ck_assert_int_eq(sampler_init(&s, N, 42, true), 0);
    int *count = calloc(N, sizeof *count);
    ck_assert_ptr_nonnull(count);
    int64_t prev[10], head[10];
    for (int64_t e = 0; e < EPOCHS; e++) {
        count[sampler_at(&s, e, 0)]++;
        for (int i = 0; i < 10; i++)
            head[i] = sampler_at(&s, e, i);
        ck_assert(e == 0 || memcmp(head, prev, sizeof head) != 0);
        memcpy(prev, head, sizeof head);
    }
    for (int k = 0; k < N; k++)
        ck_assert_msg(count[k] > 0 && count[k] <= 2 * EPOCHS / N,
                      "sample %d first in %d of %d epochs", k, count[k], EPOCHS);
    free(count);
}
END_TEST

/* With 2-bit halves (n <= 16) a round mixes little. Over 50000 epochs
 * each sample sits at each position its share of them, within 5.5
 * standard deviations (a fair draw strays that far with odds 4e-8 a
 * cell); six rounds strayed 9.9 at n = 5 and 7.5 at n = 9. */
START_TEST(small_sizes_are_fair)
{
    static const int sizes[] = {5, 9};
    enum { EPOCHS = 50000 };
    for (int k = 0; k < 2; k++) {
        const int n = sizes[k];
        sampler s;
        ck_assert_int_eq(sampler_init(&s, n, 42, true), 0);
        int count[9][9] = {{0}};
        for (int64_t e = 0; e < EPOCHS; e++)
            for (int p = 0; p < n; p++)
                count[p][sampler_at(&s, e, p)]++;
        const double share = (double)EPOCHS / n, sd = sqrt(share * (1 - 1.0 / n));
        for (int p = 0; p < n; p++)
            for (int i = 0; i < n; i++)
                ck_assert_msg(fabs(count[p][i] - share) < 5.5 * sd,
                              "n %d: sample %d at position %d in %d of %d epochs", n, i, p,
                              count[p][i], EPOCHS);
    }
}
END_TEST

START_TEST(init_refuses_sizes_out_of_range)
{
    sampler s;
    ck_assert_int_eq(sampler_init(&s, 0, 1, true), -1);
    ck_assert_str_eq(err_msg(), "sampler: 0 samples, outside 1 to 2^62");
    ck_assert_int_eq(sampler_init(&s, SAMPLER_MAX_N + 1, 1, false), -1);
    err_clear();
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
    tcase_add_test(tc, bijection_for_any_size);
    tcase_add_test(tc, huge_n);
    tcase_add_test(tc, orders_are_spread_over_epochs);
    tcase_add_test(tc, small_sizes_are_fair);
    tcase_add_test(tc, init_refuses_sizes_out_of_range);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
