/* train: end to end on real Fashion-MNIST. A small model's loss falls on a
 * few hundred samples; whole runs through train_run are deterministic, write
 * their metrics and checkpoints, and max_steps = 0 only initializes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"
#include "testutil.h"
#include "trainer/model.h"
#include "trainer/optim.h"
#include "trainer/train.h"
#include "util/err.h"

enum { SUBSET = 512, BATCH = 64 };

static double subset_loss(model *m, dataset *ds, double *acc)
{
    int64_t idx[SUBSET];
    for (int i = 0; i < SUBSET; i++)
        idx[i] = i;
    ck_assert_int_eq(dataset_gather(ds, idx, SUBSET, m->x, m->y), 0);
    double loss = 0.0, correct = 0.0;
    ck_assert_int_eq(model_forward(m, SUBSET, false), 0);
    ck_assert_int_eq(model_loss(m, SUBSET, 1.0f, false, &loss, &correct), 0);
    *acc = correct / SUBSET;
    return loss / SUBSET;
}

START_TEST(loss_falls_on_real_data)
{
    config cfg;
    config_defaults(&cfg);
    dataset *ds;
    dataset_options data_opts = config_dataset_options(&cfg);
    ck_assert_msg(dataset_open(&ds, &data_opts, FASHION_DIR "/train", "data.train") == 0,
                  "install dataset-fashion-mnist: %s", err_msg());
    cfg.n_layers = 3;
    cfg.layers[0] =
        (layer_cfg){.type = LAYER_DENSE, .bias = true, .units = 64, .activation = ACT_RELU};
    cfg.layers[1] = (layer_cfg){.type = LAYER_DROPOUT, .rate = 0.1};
    cfg.layers[2] = (layer_cfg){.type = LAYER_DENSE, .bias = true, .units = 10};
    backend *be = backend_cpu_open(1);
    model *m = model_build(&cfg, be, (int[3]){784, 1, 1}, SUBSET);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(model_init_params(m, 1), 0);
    double acc0, acc1;
    double before = subset_loss(m, ds, &acc0);
    for (long step = 0; step < 80; step++) {
        int64_t idx[BATCH];
        for (int i = 0; i < BATCH; i++)
            idx[i] = (step * BATCH + i) % SUBSET;
        ck_assert_int_eq(dataset_gather(ds, idx, BATCH, m->x, m->y), 0);
        m->step = (uint32_t)step;
        double loss = 0, correct = 0, norm;
        ck_assert_int_eq(model_forward(m, BATCH, true), 0);
        ck_assert_int_eq(model_loss(m, BATCH, 1.0f / BATCH, true, &loss, &correct), 0);
        ck_assert_int_eq(model_backward(m, BATCH), 0);
        ck_assert_int_eq(optim_step(m, &cfg, step, 1e-3, &norm), 0);
    }
    double after = subset_loss(m, ds, &acc1);
    ck_assert_msg(before > 2.0 && after < 0.5 * before, "loss %g -> %g", before, after);
    ck_assert_msg(acc1 > 0.75, "accuracy %g -> %g", acc0, acc1);
    model_free(m);
    backend_close(be);
    dataset_close(ds);
}
END_TEST

/* A tiny config training on real data, writing under dir. */
static void tiny_config(config *cfg, const char *dir, uint64_t seed, long max_steps)
{
    config_defaults(cfg);
    snprintf(cfg->source, sizeof cfg->source, "tiny.ini");
    snprintf(cfg->run_dir, sizeof cfg->run_dir, "%s", dir);
    cfg->seed = seed;
    cfg->batch_size = 32;
    cfg->max_steps = max_steps;
    cfg->eval_batch_size = 2500;
    cfg->n_layers = 3;
    cfg->layers[0] =
        (layer_cfg){.type = LAYER_DENSE, .bias = true, .units = 16, .activation = ACT_TANH};
    cfg->layers[1] = (layer_cfg){.type = LAYER_DROPOUT, .rate = 0.2};
    cfg->layers[2] = (layer_cfg){.type = LAYER_DENSE, .bias = true, .units = 10};
    cfg->text = strdup("; tiny\n");
}

static int run_quiet(config *cfg)
{
    comm_info ci = {.rank = 0, .size = 1, .local_rank = 0, .local_size = 1};
    FILE *devnull = fopen("/dev/null", "w");
    ck_assert_ptr_nonnull(devnull);
    train_options opt = {.out = devnull};
    int reporter;
    int rc = train_run(cfg, &ci, &opt, &reporter);
    fclose(devnull);
    return rc;
}

static int files_equal(const char *a, const char *b)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", a, b);
    return system(cmd) == 0;
}

START_TEST(runs_are_deterministic)
{
    char d1[256], d2[256], d3[256], p1[512], p2[512], p3[512];
    tu_tmpdir(d1, sizeof d1);
    tu_tmpdir(d2, sizeof d2);
    tu_tmpdir(d3, sizeof d3);
    config c;
    tiny_config(&c, d1, 5, 40);
    ck_assert_msg(run_quiet(&c) == 0, "%s", err_msg());
    config_free(&c);
    tiny_config(&c, d2, 5, 40);
    ck_assert_msg(run_quiet(&c) == 0, "%s", err_msg());
    config_free(&c);
    tiny_config(&c, d3, 6, 40);
    ck_assert_msg(run_quiet(&c) == 0, "%s", err_msg());
    config_free(&c);
    snprintf(p1, sizeof p1, "%s/checkpoints/ckpt-40.h5", d1);
    snprintf(p2, sizeof p2, "%s/checkpoints/ckpt-40.h5", d2);
    snprintf(p3, sizeof p3, "%s/checkpoints/ckpt-40.h5", d3);
    ck_assert_msg(files_equal(p1, p2), "same seed, different checkpoints");
    ck_assert_msg(!files_equal(p1, p3), "another seed, same checkpoint");

    /* metrics.jsonl: logged steps and a final evaluation */
    char mp[512], line[512];
    snprintf(mp, sizeof mp, "%s/metrics.jsonl", d1);
    FILE *f = fopen(mp, "r");
    ck_assert_ptr_nonnull(f);
    int train_lines = 0, eval_lines = 0;
    while (fgets(line, sizeof line, f)) {
        if (strstr(line, "\"split\":\"test\"") && strstr(line, "\"accuracy\":"))
            eval_lines++;
        else if (strstr(line, "\"step\":") && strstr(line, "\"loss\":") &&
                 strstr(line, "\"lr\":") && strstr(line, "\"samples_per_s\":"))
            train_lines++;
        else
            ck_abort_msg("unexpected metrics line: %s", line);
    }
    fclose(f);
    ck_assert_int_eq(train_lines, 1); /* log_every 100 > 40 steps: only the last */
    ck_assert_int_eq(eval_lines, 1);
    tu_rmtree(d1);
    tu_rmtree(d2);
    tu_rmtree(d3);
}
END_TEST

START_TEST(max_steps_zero_only_initializes)
{
    char d[256], p[512];
    tu_tmpdir(d, sizeof d);
    config c;
    tiny_config(&c, d, 9, 0);
    ck_assert_msg(run_quiet(&c) == 0, "%s", err_msg());
    config_free(&c);
    snprintf(p, sizeof p, "%s/checkpoints/ckpt-0.h5", d);
    FILE *f = fopen(p, "rb");
    ck_assert_msg(f != NULL, "no checkpoint %s", p);
    fclose(f);
    tu_rmtree(d);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("train");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, loss_falls_on_real_data);
    tcase_add_test(tc, runs_are_deterministic);
    tcase_add_test(tc, max_steps_zero_only_initializes);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
