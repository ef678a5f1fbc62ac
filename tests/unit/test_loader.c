/* loader: the thread makes exactly the batches the sampler, the dataset and
 * the transform make on the caller's thread; it never refills a buffer
 * before its release; a read error in the thread reaches the caller with
 * its message; closing never waits for buffers that will not come back. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data/sampler.h"
#include "data/transform.h"
#include "testutil.h"
#include "trainer/loader.h"
#include "util/err.h"

#define N 50 /* samples */
#define F 16 /* features: 1 x 4 x 4 */

/* A dataset whose sample i has pixels i + j / 100 and label i % 7, and
 * whose gather fails from call number fail_at on (0: never). */
typedef struct {
    int calls, fail_at;
} fake;

static int fake_gather(dataset *ds, const int64_t *idx, int count, float *x, int32_t *y)
{
    fake *f = ds->impl;
    if (f->fail_at && ++f->calls >= f->fail_at)
        return err_set("data.train: read error on the fake disk");
    for (int r = 0; r < count; r++) {
        for (int j = 0; j < F; j++)
            x[r * F + j] = (float)idx[r] + (float)j / 100.0f;
        y[r] = (int32_t)(idx[r] % 7);
    }
    return 0;
}

static fake the_fake;
static dataset ds = {.n = N,
                     .channels = 1,
                     .height = 4,
                     .width = 4,
                     .features = F,
                     .classes = 7,
                     .gather = fake_gather,
                     .impl = &the_fake};

static config cfg;
static float *bx[LOADER_DEPTH];
static int32_t *by[LOADER_DEPTH];

/* rank 1 of 2, global batch 8: 4 local rows, 6 steps an epoch */
static const loader_shape shape = {
    .rank = 1, .world = 2, .batch = 8, .local_batch = 4, .steps_per_epoch = N / 8};

static loader *open_loader(int fail_at)
{
    the_fake = (fake){.fail_at = fail_at};
    config_defaults(&cfg);
    cfg.seed = 11;
    cfg.augment_flip = true; /* so that the transform has work to do */
    for (int i = 0; i < LOADER_DEPTH; i++) {
        bx[i] = malloc(sizeof(float) * 4 * F);
        by[i] = malloc(sizeof(int32_t) * 4);
    }
    loader *ld = loader_open(&cfg, &ds, &shape, bx, by);
    ck_assert_msg(ld != NULL, "%s", err_msg());
    ck_assert(loader_threaded(ld));
    return ld;
}

static void close_loader(loader *ld)
{
    loader_close(ld);
    for (int i = 0; i < LOADER_DEPTH; i++)
        free(bx[i]), free(by[i]);
}

/* The batch of `step` as the trainer made it before there was a thread. */
static void expected(long step, float *x, int32_t *y)
{
    sampler s;
    transform t;
    int64_t idx[4];
    ck_assert_int_eq(sampler_init(&s, N, cfg.seed, cfg.shuffle), 0);
    transform_options tf_opts = config_transform_options(&cfg);
    ck_assert_int_eq(transform_init(&t, &tf_opts, 1, 4, 4), 0);
    long epoch = step / shape.steps_per_epoch;
    sampler_batch(&s, epoch, step % shape.steps_per_epoch, 8, 1, 2, idx);
    fake plain = {0};
    dataset d = ds;
    d.impl = &plain;
    ck_assert_int_eq(fake_gather(&d, idx, 4, x, y), 0);
    transform_apply(&t, x, 4, idx, epoch, true);
    transform_free(&t);
}

static void pause_ms(int ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

START_TEST(batches_are_the_unthreaded_ones)
{
    loader *ld = open_loader(0);
    const long first = 4, end = 20; /* from mid-epoch, across epochs */
    ck_assert_int_eq(loader_start(ld, first, end), 0);
    float *prev_x = NULL, want_x[4 * F], keep_x[4 * F];
    int32_t *y, want_y[4];
    for (long step = first; step < end; step++) {
        float *x;
        loader_release(ld, step - 2); /* as the trainer does */
        ck_assert_int_eq(loader_get(ld, step, &x, &y), 0);
        expected(step, want_x, want_y);
        ck_assert_mem_eq(x, want_x, sizeof want_x);
        ck_assert_mem_eq(y, want_y, sizeof want_y);
        /* step - 1's batch, not yet released, stays as it was however far
         * ahead the thread runs meanwhile */
        if (prev_x) {
            pause_ms(5);
            ck_assert_mem_eq(prev_x, keep_x, sizeof keep_x);
        }
        prev_x = x;
        memcpy(keep_x, x, sizeof keep_x);
    }
    close_loader(ld);
}
END_TEST

START_TEST(read_error_reaches_the_caller)
{
    loader *ld = open_loader(4); /* the fourth batch fails */
    ck_assert_int_eq(loader_start(ld, 0, 10), 0);
    float *x;
    int32_t *y;
    for (long step = 0; step < 3; step++)
        ck_assert_int_eq(loader_get(ld, step, &x, &y), 0);
    ck_assert_int_eq(loader_get(ld, 3, &x, &y), -1);
    ck_assert_str_eq(err_msg(), "data.train: read error on the fake disk");
    close_loader(ld);
}
END_TEST

START_TEST(close_while_the_thread_waits_for_buffers)
{
    loader *ld = open_loader(0);
    ck_assert_int_eq(loader_start(ld, 0, 1000), 0);
    float *x;
    int32_t *y;
    ck_assert_int_eq(loader_get(ld, 0, &x, &y), 0);
    pause_ms(5);      /* the thread fills every buffer, then waits */
    close_loader(ld); /* returns: this test hangs otherwise */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("loader");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, batches_are_the_unthreaded_ones);
    tcase_add_test(tc, read_error_reaches_the_caller);
    tcase_add_test(tc, close_while_the_thread_waits_for_buffers);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
