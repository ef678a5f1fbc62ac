/* gpucaps: what a GPU offers by its compute capability, over GPUs made up
 * here (none runs on this machine): a T4 (7.5, which the build targets),
 * an A100 (8.0), an L4 (8.9), an H100 (9.0) and a B200 (10.0). */
#include <string.h>

#include "kernels/cuda/gpucaps.h"
#include "testutil.h"

#define MIB ((uint64_t)1 << 20)

/* Below 8.0 there are no TF32 or bf16 tensor cores: what was asked runs
 * at fp32, and the start-up clause says so, naming the GPU; from 8.0 on
 * it runs as asked, with nothing to say. */
START_TEST(t4_falls_back_to_fp32)
{
    ck_assert(!gpucaps_tf32_bf16(7, 5));
    ck_assert(!gpucaps_tf32_bf16(7, 0));
    ck_assert(gpucaps_tf32_bf16(8, 0));
    ck_assert(gpucaps_tf32_bf16(9, 0));
    for (int p = PRECISION_FP32; p <= PRECISION_BF16; p++) {
        ck_assert_int_eq(gpucaps_precision((precision_kind)p, 7, 5), PRECISION_FP32);
        ck_assert_int_eq(gpucaps_precision((precision_kind)p, 8, 0), p);
        ck_assert_int_eq(gpucaps_precision((precision_kind)p, 8, 9), p);
        ck_assert_int_eq(gpucaps_precision((precision_kind)p, 10, 0), p);
    }
    char note[256];
    ck_assert_str_eq(gpucaps_fallback(note, sizeof note, PRECISION_BF16, "Tesla T4", 7, 5),
                     "train.precision = bf16 falls back to fp32 math on Tesla T4 (compute "
                     "capability 7.5, no TF32 or bf16 tensor cores: they came with 8.0)");
    ck_assert(strstr(gpucaps_fallback(note, sizeof note, PRECISION_TF32, "Tesla T4", 7, 5),
                     "train.precision = tf32 falls back to fp32 math"));
    ck_assert_str_eq(gpucaps_fallback(note, sizeof note, PRECISION_FP32, "Tesla T4", 7, 5), "");
    ck_assert_str_eq(gpucaps_fallback(note, sizeof note, PRECISION_BF16, "NVIDIA A100", 8, 0), "");
}
END_TEST

/* The peak a utilization is measured against, at what runs: a T4 (40
 * multiprocessors at 1590 MHz) asked for bf16 runs fp32, whose peak is
 * its 8.1 TFLOP/s (64 lanes a multiprocessor), not 0 or a tensor figure;
 * an A100 (108 at 1410 MHz): 19.5 fp32, 156 TF32, 312 bf16; an H100 SXM
 * (132 at 1830 MHz): 989 bf16; an L4's fp32 lanes are 128 a
 * multiprocessor. */
START_TEST(peak_is_the_fp32_one_on_a_t4)
{
    precision_kind t4 = gpucaps_precision(PRECISION_BF16, 7, 5);
    ck_assert_double_eq_tol(gpucaps_peak_flops(t4, 7, 5, 40, 1590000) / 1e12, 8.14, 0.01);
    ck_assert_int_eq(gpucaps_fp32_fma_per_clock(7, 5), 64);
    ck_assert_int_eq(gpucaps_tensor_fma_per_clock(7, 5), 0);
    ck_assert_double_eq_tol(gpucaps_peak_flops(PRECISION_FP32, 8, 0, 108, 1410000) / 1e12, 19.5,
                            0.1);
    ck_assert_double_eq_tol(gpucaps_peak_flops(PRECISION_TF32, 8, 0, 108, 1410000) / 1e12, 156.0,
                            0.5);
    ck_assert_double_eq_tol(gpucaps_peak_flops(PRECISION_BF16, 8, 0, 108, 1410000) / 1e12, 312.0,
                            0.5);
    ck_assert_double_eq_tol(gpucaps_peak_flops(PRECISION_BF16, 9, 0, 132, 1830000) / 1e12, 989.0,
                            1.0);
    ck_assert_int_eq(gpucaps_fp32_fma_per_clock(8, 9), 128);
    ck_assert_double_eq(gpucaps_peak_flops(PRECISION_BF16, 10, 0, 148, 1965000), 0.0); /* unknown */
}
END_TEST

/* cuBLAS's default workspace pool, as its documentation tabulates it. */
START_TEST(cublas_workspace_by_architecture)
{
    ck_assert_uint_eq(gpucaps_cublas_workspace(7, 5), 4 * MIB);
    ck_assert_uint_eq(gpucaps_cublas_workspace(8, 0), 4 * MIB);
    ck_assert_uint_eq(gpucaps_cublas_workspace(8, 9), 4 * MIB);
    ck_assert_uint_eq(gpucaps_cublas_workspace(9, 0), 32 * MIB);
    ck_assert_uint_eq(gpucaps_cublas_workspace(10, 0), 32 * MIB);
    ck_assert_uint_eq(gpucaps_cublas_workspace(12, 0), 32 * MIB);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gpucaps");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, t4_falls_back_to_fp32);
    tcase_add_test(tc, peak_is_the_fp32_one_on_a_t4);
    tcase_add_test(tc, cublas_workspace_by_architecture);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
