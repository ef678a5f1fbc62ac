/* dnn_pick: the convolution algorithm a cuDNN plan takes, over heuristics
 * made up here as cuDNN reports them (fastest guess first). */
#include "kernels/cuda/dnn_pick.h"
#include "testutil.h"

#define MIB ((size_t)1 << 20)

/* As cuDNN ranks backward-filter algorithms on many shapes: 0 and 3
 * (atomics) ahead of the deterministic 1. */
static const dnn_candidate filter[] = {
    {.algo = 0, .supported = true, .deterministic = false, .workspace = 0},
    {.algo = 3, .supported = true, .deterministic = false, .workspace = 4 * MIB},
    {.algo = 1, .supported = true, .deterministic = true, .workspace = 8 * MIB},
    {.algo = 5, .supported = true, .deterministic = true, .workspace = 0},
};

START_TEST(deterministic_unless_told_otherwise)
{
    ck_assert_int_eq(filter[dnn_pick(filter, 4, true, 1024 * MIB)].algo, 1);
    ck_assert_int_eq(filter[dnn_pick(filter, 4, false, 1024 * MIB)].algo, 0);
}
END_TEST

START_TEST(unsupported_and_oversized_are_passed_over)
{
    const dnn_candidate c[] = {
        {.algo = 6, .supported = false, .deterministic = true, .workspace = 0},
        {.algo = 7, .supported = true, .deterministic = true, .workspace = 900 * MIB},
        {.algo = 2, .supported = true, .deterministic = true, .workspace = 2 * MIB},
    };
    ck_assert_int_eq(c[dnn_pick(c, 3, true, 512 * MIB)].algo, 2);
    ck_assert_int_eq(c[dnn_pick(c, 3, true, 1024 * MIB)].algo, 7);
    /* within the bound exactly is within */
    ck_assert_int_eq(c[dnn_pick(c, 3, true, 900 * MIB)].algo, 7);
}
END_TEST

START_TEST(none_usable)
{
    ck_assert_int_eq(dnn_pick(filter, 2, true, 1024 * MIB), -1); /* only 0 and 3 */
    ck_assert_int_eq(dnn_pick(filter, 0, false, 1024 * MIB), -1);
    ck_assert_int_eq(dnn_pick(filter + 1, 1, false, 1 * MIB), -1); /* 3 wants 4 MiB */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dnn_pick");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, deterministic_unless_told_otherwise);
    tcase_add_test(tc, unsupported_and_oversized_are_passed_over);
    tcase_add_test(tc, none_usable);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
