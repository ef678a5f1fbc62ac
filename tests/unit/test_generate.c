/* generate: the device --generate asks for, and what takes it, with GPUs
 * usable or not as made up here: run.device as training takes it, no
 * longer always the CPU. */
#include "kernels/backend.h"
#include "testutil.h"
#include "trainer/generate.h"

/* auto takes the GPU only where one is usable (backend_cuda_usable's 1),
 * else the CPU; cuda and cpu take what they name, whatever is there. */
START_TEST(auto_takes_a_usable_gpu)
{
    ck_assert_int_eq(backend_choose(DEVICE_AUTO, 1), DEVICE_CUDA);
    ck_assert_int_eq(backend_choose(DEVICE_AUTO, 0), DEVICE_CPU);  /* none */
    ck_assert_int_eq(backend_choose(DEVICE_AUTO, -1), DEVICE_CPU); /* one it cannot use */
    ck_assert_int_eq(backend_choose(DEVICE_CUDA, 0), DEVICE_CUDA); /* fails to open, saying why */
    ck_assert_int_eq(backend_choose(DEVICE_CUDA, 1), DEVICE_CUDA);
    ck_assert_int_eq(backend_choose(DEVICE_CPU, 1), DEVICE_CPU);
}
END_TEST

/* Generation asks for run.device, train.precision and run.deterministic
 * of its config, and rank 0's GPU (it runs there alone). */
START_TEST(generation_asks_for_the_configured_device)
{
    config cfg;
    config_defaults(&cfg);
    const device_kind devices[] = {DEVICE_AUTO, DEVICE_CUDA, DEVICE_CPU};
    for (int i = 0; i < 3; i++) {
        cfg.device = devices[i];
        cfg.precision = PRECISION_BF16;
        cfg.threads = 3;
        backend_options o = generate_backend_options(&cfg);
        ck_assert_int_eq(o.device, devices[i]);
        ck_assert_int_eq(o.precision, PRECISION_BF16);
        ck_assert_int_eq(o.threads, 3);
        ck_assert_int_eq(o.deterministic, cfg.deterministic);
        ck_assert_int_eq(o.local_rank, 0);
        ck_assert_int_eq(o.local_size, 1);
    }
    config_free(&cfg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("generate");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, auto_takes_a_usable_gpu);
    tcase_add_test(tc, generation_asks_for_the_configured_device);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
