#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "util/err.h"
#include "util/rng.h"

const char *tu_shipped_config(int i, config *cfg, int shape[3])
{
    static const char *const names[TU_SHIPPED_CONFIGS] = {"fashion_mlp", "fashion_cnn",
                                                          "cifar10_resnet"};
    static const int shapes[TU_SHIPPED_CONFIGS][3] = {{1, 28, 28}, {1, 28, 28}, {3, 32, 32}};
    char path[512];
    snprintf(path, sizeof path, "%s/configs/%s.ini", TEST_SOURCE_DIR, names[i]);
    config_defaults(cfg);
    ck_assert_msg(config_load(cfg, path) == 0, "%s", err_msg());
    memcpy(shape, shapes[i], sizeof shapes[i]);
    return names[i];
}

int tu_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}

void tu_fill_uniform(float *x, size_t n, float lo, float hi, uint64_t seed)
{
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * rng_uniform(seed, 99, 0, i);
}

void tu_tmpdir(char *path, size_t size)
{
    snprintf(path, size, "/tmp/accel-test-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(path));
}

void tu_rmtree(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

const char *tu_path(const char *dir, const char *name)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

void tu_write_file(const char *path, const char *text)
{
    tu_write_bytes(path, text, strlen(text), 0);
}

void tu_write_bytes(const char *path, const void *data, size_t len, int gzip)
{
    if (gzip) {
        gzFile f = gzopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(gzwrite(f, data, (unsigned)len), (int)len);
        ck_assert_int_eq(gzclose(f), Z_OK);
        return;
    }
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

double tu_max_err(const float *a, const float *b, size_t n, double rtol)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]) - rtol * fabs((double)b[i]);
        if (!(e <= worst)) /* NaN counts as the worst */
            worst = isnan(e) ? INFINITY : e;
    }
    return worst;
}

void tu_causal_softmax(float *att, int n, int t, float scale)
{
    for (size_t m = 0; m < (size_t)n * (size_t)t; m++) {
        float *a = att + m * (size_t)t;
        int last = (int)(m % (size_t)t);
        double max = -INFINITY, sum = 0.0;
        for (int j = 0; j <= last; j++)
            max = fmax(max, (double)scale * a[j]);
        for (int j = 0; j <= last; j++)
            sum += exp((double)scale * a[j] - max);
        for (int j = 0; j < t; j++)
            a[j] = j <= last ? (float)(exp((double)scale * a[j] - max) / sum) : 0.0f;
    }
}

void tu_causal_softmax_backward(float *datt, const float *att, int n, int t, float scale)
{
    for (size_t m = 0; m < (size_t)n * (size_t)t; m++) {
        float *d = datt + m * (size_t)t;
        const float *a = att + m * (size_t)t;
        int last = (int)(m % (size_t)t);
        double dot = 0.0;
        for (int j = 0; j <= last; j++)
            dot += (double)d[j] * a[j];
        for (int j = 0; j < t; j++)
            d[j] = j <= last ? (float)(scale * a[j] * (d[j] - dot)) : 0.0f;
    }
}
