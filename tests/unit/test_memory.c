/* Memory before allocation: the budget's check that refuses what does not
 * fit, on budgets made up here (what the machine has is not the test's
 * business), and the reading of this machine's; the plan of a rank's
 * memory against what building the model really takes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"
#include "testutil.h"
#include "trainer/loader.h"
#include "trainer/memplan.h"
#include "trainer/model.h"
#include "util/err.h"
#include "util/membudget.h"

#define GIB ((uint64_t)1 << 30)

START_TEST(fits_and_refuses_with_both_figures)
{
    mem_budget b = {.bytes = 10 * GIB, .shared = 1, .source = "MemAvailable in /proc/meminfo"};
    ck_assert_int_eq(mem_budget_fits(&b, 10 * GIB, 0, 1, "the buffers", NULL), 0);
    ck_assert_int_eq(mem_budget_fits(&b, 10 * GIB + 1, 0, 1, "the buffers", "use less"), -1);
    ck_assert_str_eq(err_msg(), "the buffers need 10.00 GiB, but 10.00 GiB is available "
                                "(MemAvailable in /proc/meminfo): use less");
    err_clear();
}
END_TEST

/* Ranks of one node share the machine's memory and its cgroup, not a
 * process's address-space limit. */
START_TEST(node_ranks_share_what_is_shared)
{
    mem_budget b = {.bytes = 10 * GIB, .shared = 1, .source = "s"};
    ck_assert_int_eq(mem_budget_fits(&b, 3 * GIB, 0, 3, "x", NULL), 0);
    ck_assert_int_eq(mem_budget_fits(&b, 3 * GIB, 0, 4, "x", NULL), -1);
    ck_assert_str_eq(err_msg(), "x need 3.00 GiB a rank, 12.00 GiB for the 4 ranks on this "
                                "node, but 10.00 GiB is available (s)");
    b.shared = 0;
    ck_assert_int_eq(mem_budget_fits(&b, 3 * GIB, 0, 4, "x", NULL), 0);
    err_clear();
}
END_TEST

/* Rank 0's checkpoint staging, counted once a node: 8 ranks of 1 GiB and
 * 4 GiB more fit 12 GiB, where 5 GiB a rank would not; a budget of one
 * process (RLIMIT_AS) holds need and staging. */
START_TEST(staging_counted_once_a_node)
{
    mem_budget b = {.bytes = 12 * GIB, .shared = 1, .source = "s"};
    ck_assert_int_eq(mem_budget_fits(&b, 1 * GIB, 4 * GIB, 8, "x", NULL), 0);
    ck_assert_int_eq(mem_budget_fits(&b, 1 * GIB, 4 * GIB + 1, 8, "x", NULL), -1);
    ck_assert_str_eq(err_msg(), "x need 1.00 GiB a rank and 4.00 GiB more in rank 0, 12.00 GiB for "
                                "the 8 ranks on this node, but 12.00 GiB is available (s)");
    b = (mem_budget){.bytes = 5 * GIB, .shared = 0, .source = "RLIMIT_AS"};
    ck_assert_int_eq(mem_budget_fits(&b, 1 * GIB, 4 * GIB, 8, "x", NULL), 0);
    ck_assert_int_eq(mem_budget_fits(&b, 1 * GIB, 4 * GIB + 1, 8, "x", NULL), -1);
    ck_assert_str_eq(err_msg(), "x need 5.00 GiB, but 5.00 GiB is available (RLIMIT_AS)");
    /* the sum past 64 bits is refused too */
    b.shared = 1;
    ck_assert_int_eq(mem_budget_fits(&b, 1, UINT64_MAX, 2, "x", NULL), -1);
    err_clear();
}
END_TEST

START_TEST(unknown_budget_and_overflow)
{
    mem_budget none = {.bytes = UINT64_MAX, .shared = 1};
    ck_assert_int_eq(mem_budget_fits(&none, UINT64_MAX, 0, 8, "x", NULL), 0);
    mem_budget b = {.bytes = 10 * GIB, .shared = 1, .source = "s"};
    /* need x sharers past 64 bits is refused, not wrapped to something small */
    ck_assert_int_eq(mem_budget_fits(&b, UINT64_MAX / 2 + 1, 0, 2, "x", NULL), -1);
    err_clear();
}
END_TEST

/* On Linux MemAvailable is always there, so the budget is known, names its
 * source, and is no more than the machine's memory. */
START_TEST(reads_this_machine)
{
    mem_budget b;
    mem_budget_read(&b);
    ck_assert_uint_lt(b.bytes, UINT64_MAX);
    ck_assert_uint_gt(b.bytes, 0);
    ck_assert(strstr(b.source, "MemAvailable") || strstr(b.source, "cgroup") ||
              strstr(b.source, "RLIMIT_AS"));
    ck_assert_int_eq(mem_budget_check(1, 0, 1, "one byte", NULL), 0);
}
END_TEST

/* ACCEL_MEM_BUDGET lowers the budget to its size (K, M, G, T: powers of
 * 1024), never raises it, and a value that is not a size is a budget of 0
 * whose source says so; empty is unset. */
START_TEST(env_budget_lowers_and_tells_a_bad_value)
{
    mem_budget machine, b;
    unsetenv("ACCEL_MEM_BUDGET");
    mem_budget_read(&machine);
    const struct {
        const char *text;
        uint64_t bytes;
    } ok[] = {{"4096", 4096}, {"512K", 512 << 10}, {"3m", 3 << 20}, {"2G", 2 * GIB}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        ck_assert_int_eq(setenv("ACCEL_MEM_BUDGET", ok[i].text, 1), 0);
        mem_budget_read(&b);
        if (ok[i].bytes > machine.bytes / 2) /* MemAvailable moves: only clear cases */
            continue;
        ck_assert_msg(b.bytes == ok[i].bytes, "%s: %llu bytes", ok[i].text,
                      (unsigned long long)b.bytes);
        ck_assert_ptr_nonnull(strstr(b.source, "ACCEL_MEM_BUDGET"));
    }
    ck_assert_int_eq(setenv("ACCEL_MEM_BUDGET", "64T", 1), 0); /* more than the machine */
    mem_budget_read(&b);
    ck_assert_ptr_null(strstr(b.source, "ACCEL_MEM_BUDGET"));
    const char *bad[] = {"lots", "12x", "1.5G", "-1", "1GB", "99999999999999999999", "16777216T"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(setenv("ACCEL_MEM_BUDGET", bad[i], 1), 0);
        mem_budget_read(&b);
        ck_assert_msg(b.bytes == 0, "%s: %llu bytes", bad[i], (unsigned long long)b.bytes);
        ck_assert_ptr_nonnull(strstr(b.source, "is not a size such as 512M or 4G"));
    }
    ck_assert_int_eq(setenv("ACCEL_MEM_BUDGET", "", 1), 0);
    mem_budget_read(&b);
    ck_assert_ptr_null(strstr(b.source, "ACCEL_MEM_BUDGET"));
    unsetenv("ACCEL_MEM_BUDGET");
}
END_TEST

/* The model part of the plan is what the CPU backend then allocates, for
 * each shipped config, with and without evaluation rows. */
START_TEST(plan_is_what_the_build_takes)
{
    for (int i = 0; i < TU_SHIPPED_CONFIGS; i++)
        for (int eval_rows = 0; eval_rows <= 100; eval_rows += 100) {
            config cfg;
            int s[3];
            const char *name = tu_shipped_config(i, &cfg, s);
            dataset ds = {.n = 1000,
                          .channels = s[0],
                          .height = s[1],
                          .width = s[2],
                          .features = s[0] * s[1] * s[2]};
            memplan p;
            ck_assert_int_eq(memplan_make(&p, &cfg, &ds, 16, eval_rows, 1, NULL), 0);
            backend *be = backend_cpu_open(1);
            int max_rows = eval_rows > 16 ? eval_rows : 16;
            model *m = model_build_sized(&cfg, be, s, 16, max_rows);
            ck_assert_ptr_nonnull(m);
            ck_assert_msg(p.model == be->bytes_allocated,
                          "%s, %d eval rows: planned %llu, took %zu", name, eval_rows,
                          (unsigned long long)p.model, be->bytes_allocated);
            ck_assert_uint_eq(p.n_params, m->n_params);
            /* the input batches in flight at least (the sampler holds nothing) */
            ck_assert_uint_gt(p.host, LOADER_DEPTH * 16 * 4 * (uint64_t)ds.features);
            model_free(m);
            backend_close(be);
            config_free(&cfg);
        }
}
END_TEST

/* What a made-up device says its convolution plans take: 1 MiB a filter
 * and a row of the largest batch, so the answer tells which plan and rows
 * it was asked for. */
static int asked_train_rows;

static int fake_conv_workspace(backend *be, const conv_geom *g, int train_rows, int max_rows,
                               uint64_t *bytes)
{
    (void)be;
    asked_train_rows = train_rows;
    *bytes = ((uint64_t)g->out_c * (uint64_t)max_rows) << 20;
    return g->out_c == 666 ? err_set("cuDNN offers no algorithm") : 0;
}

/* On a device that plans convolutions itself, the plan holds the largest
 * workspace of the model's convolutions as that device plans them, each
 * asked with the micro-batch and the largest batch; none without one, and
 * a device's failure fails the plan, naming the layer. */
START_TEST(plan_asks_the_device_for_convolution_workspace)
{
    config cfg;
    int s[3];
    const char *name = "";
    for (int i = 0; i < TU_SHIPPED_CONFIGS && strcmp(name, "fashion_cnn"); i++) {
        if (i)
            config_free(&cfg);
        name = tu_shipped_config(i, &cfg, s);
    }
    ck_assert_str_eq(name, "fashion_cnn");
    int filters = 0;
    for (int i = 0; i < cfg.n_layers; i++)
        if (cfg.layers[i].type == LAYER_CONV2D && cfg.layers[i].filters > filters)
            filters = cfg.layers[i].filters;
    ck_assert_int_gt(filters, 0);
    dataset ds = {
        .n = 1000, .channels = s[0], .height = s[1], .width = s[2], .features = s[0] * s[1] * s[2]};
    backend device = {.conv_workspace = fake_conv_workspace};
    memplan p;
    cfg.grad_accum = 2; /* micro-batches of 8 of the 16 rows; evaluation's 100 the largest */
    ck_assert_int_eq(memplan_make(&p, &cfg, &ds, 16, 100, 1, &device), 0);
    ck_assert_uint_eq(p.conv_workspace, ((uint64_t)filters * 100) << 20);
    ck_assert_int_eq(asked_train_rows, 8);
    ck_assert_int_eq(memplan_make(&p, &cfg, &ds, 16, 100, 1, NULL), 0);
    ck_assert_uint_eq(p.conv_workspace, 0);
    for (int i = 0; i < cfg.n_layers; i++)
        if (cfg.layers[i].type == LAYER_CONV2D)
            cfg.layers[i].filters = 666;
    ck_assert_int_eq(memplan_make(&p, &cfg, &ds, 16, 100, 1, &device), -1);
    ck_assert_ptr_nonnull(strstr(err_msg(), "cuDNN offers no algorithm"));
    err_clear();
    config_free(&cfg);
}
END_TEST

/* No test split, no evaluation rows; a small one sizes them. */
START_TEST(eval_rows_follow_the_test_split)
{
    config cfg;
    config_defaults(&cfg);
    cfg.eval_batch_size = 1000;
    dataset small = {.n = 300};
    ck_assert_int_eq(memplan_eval_rows(&cfg, NULL), 0);
    ck_assert_int_eq(memplan_eval_rows(&cfg, &small), 300);
    small.n = 5000;
    ck_assert_int_eq(memplan_eval_rows(&cfg, &small), 1000);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("memory");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, fits_and_refuses_with_both_figures);
    tcase_add_test(tc, node_ranks_share_what_is_shared);
    tcase_add_test(tc, staging_counted_once_a_node);
    tcase_add_test(tc, unknown_budget_and_overflow);
    tcase_add_test(tc, reads_this_machine);
    tcase_add_test(tc, env_budget_lowers_and_tells_a_bad_value);
    tcase_add_test(tc, plan_is_what_the_build_takes);
    tcase_add_test(tc, eval_rows_follow_the_test_split);
    tcase_add_test(tc, plan_asks_the_device_for_convolution_workspace);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
