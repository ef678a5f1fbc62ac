/* transform: normalization values and errors; the augmentation is a pure
 * function of (seed, epoch, sample index), is off in evaluation, and really
 * crops (shifted content, zeros filled in) and flips (a mirror image). */
#include <stdlib.h>
#include <string.h>

#include "data/transform.h"
#include "testutil.h"
#include "util/err.h"

enum { C = 3, H = 6, W = 7, F = C * H * W, N = 32 };

static transform_options opt;

static void setup(void)
{
    opt = (transform_options){.mean = "", .std = ""};
}

/* N samples whose values are all distinct and non-zero. */
static void fill(float *x)
{
    for (int i = 0; i < N * F; i++)
        x[i] = 1.0f + (float)i;
}

static void indices(int64_t *idx, int64_t first)
{
    for (int i = 0; i < N; i++)
        idx[i] = first + i;
}

START_TEST(normalizes_per_channel)
{
    opt.mean = "0.5, 0.25";
    opt.std = "0.5,2";
    transform t;
    ck_assert_msg(transform_init(&t, &opt, 2, 1, 2) == 0, "%s", err_msg());
    for (int train = 0; train < 2; train++) {
        float x[8] = {0.0f, 1.0f, 0.25f, 2.25f, 1.5f, 0.5f, 0.25f, 0.0f};
        int64_t idx[2] = {0, 1};
        transform_apply(&t, x, 2, idx, 3, train);
        float want[8] = {-1.0f, 1.0f, 0.0f, 1.0f, 2.0f, 0.0f, 0.0f, -0.125f};
        for (int i = 0; i < 8; i++)
            ck_assert_float_eq_tol(x[i], want[i], 1e-6f);
    }
    transform_free(&t);
}
END_TEST

static void expect_error(const char *mean, const char *std, const char *msg)
{
    opt.mean = mean;
    opt.std = std;
    transform t;
    ck_assert_int_eq(transform_init(&t, &opt, 3, 2, 2), -1);
    ck_assert_msg(strstr(err_msg(), msg), "got: %s", err_msg());
}

START_TEST(bad_normalization)
{
    expect_error("0.5,0.5", "1,1,1", "data.mean = 0.5,0.5: expected 3 comma-separated numbers");
    expect_error("0.5,0.5,0.5", "1,1,1,1", "data.std = 1,1,1,1: expected 3 comma-separated");
    expect_error("0.5,x,0.5", "1,1,1", "data.mean = 0.5,x,0.5: expected 3");
    expect_error("0.5,0.5,0.5", "1,0,1", "data.std = 1,0,1: value 2 is 0, expected a number > 0");
    expect_error("0.5,0.5,0.5", "", "data.mean is set but data.std is not");
    expect_error("", "1,1,1", "data.std is set but data.mean is not");
}
END_TEST

/* A transform with crop and flip for C x H x W samples. */
static void augmenting(transform *t, int pad, bool flip, uint64_t seed)
{
    opt.crop = pad;
    opt.flip = flip;
    opt.seed = seed;
    ck_assert_msg(transform_init(t, &opt, C, H, W) == 0, "%s", err_msg());
}

START_TEST(augmentation_is_a_function_of_seed_epoch_index)
{
    static float a[N * F], b[N * F], c[N * F];
    int64_t idx[N], rev[N];
    indices(idx, 100);
    for (int i = 0; i < N; i++)
        rev[i] = idx[N - 1 - i];
    transform t;
    augmenting(&t, 2, true, 7);
    fill(a);
    transform_apply(&t, a, N, idx, 4, true);
    /* the same again */
    fill(b);
    transform_apply(&t, b, N, idx, 4, true);
    ck_assert_mem_eq(a, b, sizeof a);
    /* the same samples in another order (as on another rank, in another batch) */
    fill(b);
    for (int i = 0; i < N; i++)
        memcpy(c + (size_t)(N - 1 - i) * F, b + (size_t)i * F, sizeof(float) * F);
    transform_apply(&t, c, N, rev, 4, true);
    for (int i = 0; i < N; i++)
        ck_assert_mem_eq(c + (size_t)(N - 1 - i) * F, a + (size_t)i * F, sizeof(float) * F);
    /* another epoch chooses differently somewhere */
    fill(b);
    transform_apply(&t, b, N, idx, 5, true);
    ck_assert_msg(memcmp(a, b, sizeof a) != 0, "epochs 4 and 5 augment alike");
    transform_free(&t);
    /* as does another seed */
    augmenting(&t, 2, true, 8);
    fill(b);
    transform_apply(&t, b, N, idx, 4, true);
    ck_assert_msg(memcmp(a, b, sizeof a) != 0, "seeds 7 and 8 augment alike");
    transform_free(&t);
}
END_TEST

START_TEST(identity_without_augmentation_or_in_eval)
{
    static float x[N * F], ref[N * F];
    int64_t idx[N];
    indices(idx, 0);
    fill(ref);
    transform t;
    augmenting(&t, 0, false, 7);
    fill(x);
    transform_apply(&t, x, N, idx, 1, true);
    ck_assert_mem_eq(x, ref, sizeof x);
    transform_free(&t);
    augmenting(&t, 3, true, 7);
    fill(x);
    transform_apply(&t, x, N, NULL, 1, false);
    ck_assert_mem_eq(x, ref, sizeof x);
    transform_free(&t);
}
END_TEST

START_TEST(flip_mirrors)
{
    static float x[N * F], ref[N * F];
    int64_t idx[N];
    indices(idx, 40);
    fill(ref);
    fill(x);
    transform t;
    augmenting(&t, 0, true, 3);
    transform_apply(&t, x, N, idx, 0, true);
    int flipped = 0, kept = 0;
    for (int s = 0; s < N; s++) {
        const float *in = ref + (size_t)s * F, *out = x + (size_t)s * F;
        bool same = memcmp(in, out, sizeof(float) * F) == 0, mirror = true;
        for (int c = 0; c < C; c++)
            for (int y = 0; y < H; y++)
                for (int i = 0; i < W; i++)
                    mirror = mirror && out[(c * H + y) * W + i] == in[(c * H + y) * W + W - 1 - i];
        ck_assert_msg(same || mirror, "sample %d neither kept nor mirrored", s);
        flipped += mirror;
        kept += same;
    }
    /* each way with probability 1/2: both happen among 32 */
    ck_assert_int_gt(flipped, 0);
    ck_assert_int_gt(kept, 0);
    transform_free(&t);
}
END_TEST

/* Whether out is in shifted by (oy, ox) with zeros where that falls outside. */
static bool is_shift(const float *in, const float *out, int oy, int ox)
{
    for (int c = 0; c < C; c++)
        for (int y = 0; y < H; y++)
            for (int i = 0; i < W; i++) {
                int sy = y + oy, sx = i + ox;
                bool inside = sy >= 0 && sy < H && sx >= 0 && sx < W;
                float want = inside ? in[(c * H + sy) * W + sx] : 0.0f;
                if (out[(c * H + y) * W + i] != want)
                    return false;
            }
    return true;
}

START_TEST(crop_shifts_with_zero_fill)
{
    enum { PAD = 2 };
    static float x[N * F], ref[N * F];
    int64_t idx[N];
    indices(idx, 7);
    fill(ref);
    fill(x);
    transform t;
    augmenting(&t, PAD, false, 11);
    transform_apply(&t, x, N, idx, 2, true);
    bool seen[2 * PAD + 1][2 * PAD + 1] = {{false}};
    for (int s = 0; s < N; s++) {
        bool found = false;
        for (int oy = -PAD; oy <= PAD && !found; oy++)
            for (int ox = -PAD; ox <= PAD && !found; ox++)
                if (is_shift(ref + (size_t)s * F, x + (size_t)s * F, oy, ox)) {
                    found = true;
                    seen[oy + PAD][ox + PAD] = true;
                }
        ck_assert_msg(found, "sample %d is not a shift of its input by at most %d", s, PAD);
    }
    int offsets = 0;
    for (int i = 0; i < 2 * PAD + 1; i++)
        for (int j = 0; j < 2 * PAD + 1; j++)
            offsets += seen[i][j];
    /* 25 offsets, 32 samples: many of them, not all the same one */
    ck_assert_int_ge(offsets, 5);
    transform_free(&t);
}
END_TEST

START_TEST(crop_then_flip_then_normalize)
{
    /* one channel, constant 1: after crop and flip a sample is 1s and 0s,
     * after normalization (x - 0.5) / 0.5 exactly +1 and -1 */
    opt.mean = "0.5,0.5,0.5";
    opt.std = "0.5,0.5,0.5";
    static float x[N * F];
    for (int i = 0; i < N * F; i++)
        x[i] = 1.0f;
    int64_t idx[N];
    indices(idx, 0);
    transform t;
    augmenting(&t, 1, true, 5);
    transform_apply(&t, x, N, idx, 0, true);
    int minus = 0;
    for (int i = 0; i < N * F; i++) {
        ck_assert_msg(x[i] == 1.0f || x[i] == -1.0f, "value %g", (double)x[i]);
        minus += x[i] == -1.0f;
    }
    ck_assert_int_gt(minus, 0); /* some padding came in */
    transform_free(&t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("transform");
    TCase *tc = tcase_create("transform");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, normalizes_per_channel);
    tcase_add_test(tc, bad_normalization);
    tcase_add_test(tc, augmentation_is_a_function_of_seed_epoch_index);
    tcase_add_test(tc, identity_without_augmentation_or_in_eval);
    tcase_add_test(tc, flip_mirrors);
    tcase_add_test(tc, crop_shifts_with_zero_fill);
    tcase_add_test(tc, crop_then_flip_then_normalize);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
