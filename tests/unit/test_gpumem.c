/* gpumem: a rank's terms of its GPU's memory and the start-up check of the
 * ranks on one GPU against what it has free, on GPUs and launches made up
 * here (no GPU runs on this machine): NCCL's bound by ranks, nodes,
 * capability and knobs; the refusal naming every term; ranks sharing a GPU
 * held to it together; --dry-run's line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "trainer/gpumem.h"
#include "util/err.h"

#define MIB ((uint64_t)1 << 20)
#define GIB ((uint64_t)1 << 30)

/* The environment a test gives gpumem_nccl_setup: NAME=VALUE pairs. */
static const char *fake_env[8];

static char *env_of(const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < 8 && fake_env[i]; i++)
        if (!strncmp(fake_env[i], name, n) && fake_env[i][n] == '=')
            return (char *)fake_env[i] + n + 1;
    return NULL;
}

static uint64_t nccl_mib(int ranks, int local, int nodes, int cc)
{
    gpumem_nccl n;
    gpumem_nccl_setup(&n, ranks, local, nodes, cc, env_of);
    return gpumem_nccl_bytes(&n) / MIB;
}

/* With NCCL's defaults a connection is 12 MiB (its receive side's three
 * protocols, 0.5 + 4.6875 + 4 MiB, in 2 MiB units: 10 MiB, and the send
 * side's 2 MiB), on each of 64 channels: a ring's one and a tree's up to
 * two on one node, four with other nodes; NVLink SHARP's 1 MiB buffers on
 * 9.0 and later; nothing for one rank alone. */
START_TEST(nccl_bound_by_ranks_nodes_and_capability)
{
    memset(fake_env, 0, sizeof fake_env);
    ck_assert_uint_eq(nccl_mib(1, 1, 1, 75), 0);            /* comm.backend = nccl alone */
    ck_assert_uint_eq(nccl_mib(2, 2, 1, 75), 64 * 2 * 12);  /* two T4s: ring + tree's 1 */
    ck_assert_uint_eq(nccl_mib(8, 8, 1, 80), 64 * 3 * 12);  /* A100s: the chain's 2 */
    ck_assert_uint_eq(nccl_mib(16, 8, 2, 80), 64 * 5 * 12); /* two nodes: the tree's 4 */
    ck_assert_uint_eq(nccl_mib(4, 1, 4, 80), 64 * 4 * 12);  /* a GPU a node: 3 across */
    ck_assert_uint_eq(nccl_mib(8, 8, 1, 90), 64 * 3 * 12 + 16 * 2 * 8); /* H100: NVLS */
    ck_assert_uint_eq(nccl_mib(8, 8, 1, 100), 64 * 3 * 12 + 32 * 2 * 8);
    ck_assert_uint_eq(nccl_mib(8, 1, 8, 90), 64 * 4 * 12); /* no node peers: no NVLS */
}
END_TEST

/* NCCL's documented knobs move the bound as they move NCCL, read as NCCL
 * reads them (strtoll in base 0, trailing text ignored): fewer channels,
 * another Simple buffer (1 MiB: the receive side's 6.19 MiB in 8 MiB and
 * the send side's 2), NVLink SHARP off; channels held to 1..64 as NCCL
 * holds them; a value out of range, empty, or a buffer of 0, leaves the
 * default. */
START_TEST(nccl_knobs_from_the_environment)
{
    memset(fake_env, 0, sizeof fake_env);
    fake_env[0] = "NCCL_MAX_NCHANNELS=8";
    ck_assert_uint_eq(nccl_mib(2, 2, 1, 75), 8 * 2 * 12);
    fake_env[1] = "NCCL_BUFFSIZE=1048576";
    ck_assert_uint_eq(nccl_mib(2, 2, 1, 75), 8 * 2 * 10);
    memset(fake_env, 0, sizeof fake_env);
    fake_env[0] = "NCCL_NVLS_ENABLE=0";
    ck_assert_uint_eq(nccl_mib(8, 8, 1, 90), 64 * 3 * 12);
    fake_env[0] = "NCCL_NVLS_ENABLE=1";
    ck_assert_uint_eq(nccl_mib(8, 8, 1, 90), 64 * 3 * 12 + 16 * 2 * 8);
    const struct {
        const char *env;
        uint64_t mib;
    } knobs[] = {
        {"NCCL_MAX_NCHANNELS=200", 64 * 2 * 12},
        {"NCCL_MAX_NCHANNELS=0x10", 16 * 2 * 12},
        {"NCCL_MAX_NCHANNELS=lots", 1 * 2 * 12},
        {"NCCL_MAX_NCHANNELS=-4", 1 * 2 * 12},
        {"NCCL_MAX_NCHANNELS=99999999999999999999", 64 * 2 * 12},
        {"NCCL_MAX_NCHANNELS=", 64 * 2 * 12},
        {"NCCL_BUFFSIZE=0", 64 * 2 * 12},
        {"NCCL_BUFFSIZE=4M", 64 * 2 * 8}, /* NCCL reads 4 bytes */
    };
    for (size_t i = 0; i < sizeof knobs / sizeof knobs[0]; i++) {
        fake_env[0] = knobs[i].env;
        ck_assert_msg(nccl_mib(2, 2, 1, 75) == knobs[i].mib, "%s: %llu MiB", knobs[i].env,
                      (unsigned long long)nccl_mib(2, 2, 1, 75));
    }
    memset(fake_env, 0, sizeof fake_env);
}
END_TEST

/* A T4 (14.0 GiB free) and a model whose buffers are 12.5 GiB: with
 * cuBLAS's 4 MiB and cuDNN's 96 MiB it fits on a GPU of its own; NCCL's
 * bound for two ranks (1536 MiB) tips it over, and the refusal names every
 * term, the totals, what is free and what to change. */
START_TEST(refusal_names_every_term)
{
    gpumem_rank r = {.buffers = 12 * GIB + GIB / 2, .cublas = 4 * MIB, .cudnn = 96 * MIB};
    const char *t4 = "GPU 0: Tesla T4, PCI 0000:3B:00.0, 14.6 GiB";
    uint64_t free_bytes = 14 * GIB;
    ck_assert_int_eq(gpumem_check(&r, 1, free_bytes, t4), 0);
    r.nccl = 1536 * MIB;
    r.nccl_channels = 64;
    ck_assert_uint_eq(gpumem_rank_bytes(&r), 12 * GIB + 2148 * MIB);
    ck_assert_int_eq(gpumem_check(&r, 1, free_bytes, t4), -1);
    ck_assert_str_eq(err_msg(),
                     "this run needs 14.10 GiB on the GPU (its buffers 12800.0 MiB, cuBLAS's "
                     "workspace 4.0 MiB, cuDNN's workspace 96.0 MiB, NCCL's buffers up to 1536.0 "
                     "MiB (64 channels)), but 14.00 GiB is free on GPU 0: Tesla T4, PCI "
                     "0000:3B:00.0, 14.6 GiB: lower data.batch_size, or raise train.grad_accum "
                     "for smaller micro-batches, or set NCCL_MAX_NCHANNELS below the channels "
                     "counted (--dry-run shows where the memory goes)");
    err_clear();
    /* exactly what is free fits */
    ck_assert_int_eq(gpumem_check(&r, 1, gpumem_rank_bytes(&r), t4), 0);
    ck_assert_int_eq(gpumem_check(&r, 1, gpumem_rank_bytes(&r) - 1, t4), -1);
    err_clear();
}
END_TEST

/* Ranks that share a GPU (run.allow_shared_gpu) are held to its free
 * memory together, not each to the whole: two of 6 GiB fit 12 GiB, three
 * do not; and a need past 64 bits is refused, not wrapped. */
START_TEST(ranks_sharing_a_gpu_counted_together)
{
    gpumem_rank r = {.buffers = 6 * GIB - 4 * MIB, .cublas = 4 * MIB};
    ck_assert_int_eq(gpumem_check(&r, 1, 12 * GIB, "GPU 0"), 0);
    ck_assert_int_eq(gpumem_check(&r, 2, 12 * GIB, "GPU 0"), 0);
    ck_assert_int_eq(gpumem_check(&r, 3, 12 * GIB, "GPU 0"), -1);
    ck_assert_str_eq(err_msg(),
                     "this run needs 6.00 GiB a rank on the GPU (its buffers 6140.0 MiB, cuBLAS's "
                     "workspace 4.0 MiB, cuDNN's workspace 0.0 MiB), 18.00 GiB for the 3 ranks "
                     "that share it, but 12.00 GiB is free on GPU 0: lower data.batch_size, or "
                     "raise train.grad_accum for smaller micro-batches, or give each rank a GPU "
                     "of its own (--dry-run shows where the memory goes)");
    err_clear();
    r.buffers = UINT64_MAX / 2;
    ck_assert_int_eq(gpumem_check(&r, 3, UINT64_MAX - 1, "GPU 0"), -1);
    err_clear();
}
END_TEST

/* --dry-run's line: each term, their sum, and what the GPU has free. */
START_TEST(dry_run_line)
{
    gpumem_rank r = {.buffers = 100 * MIB,
                     .cublas = 32 * MIB,
                     .cudnn = 12 * MIB + MIB / 2,
                     .nccl = 2560 * MIB,
                     .nccl_channels = 64};
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(out);
    gpumem_print(&r, 80 * GIB, "GPU 0: NVIDIA H100 80GB HBM3", out);
    fclose(out);
    ck_assert_str_eq(text, "GPU memory of one rank: its buffers 100.0 MiB, cuBLAS's workspace "
                           "32.0 MiB, cuDNN's workspace 12.5 MiB, NCCL's buffers up to 2560.0 "
                           "MiB (64 channels); 2704.5 MiB in all, of 81920.0 MiB free on GPU 0: "
                           "NVIDIA H100 80GB HBM3\n");
    free(text);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gpumem");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, nccl_bound_by_ranks_nodes_and_capability);
    tcase_add_test(tc, nccl_knobs_from_the_environment);
    tcase_add_test(tc, refusal_names_every_term);
    tcase_add_test(tc, ranks_sharing_a_gpu_counted_together);
    tcase_add_test(tc, dry_run_line);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
