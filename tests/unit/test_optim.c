/* test_optim: Adam / AdamW steps against values worked out by hand, the
 * clipping scale, an end-to-end optim_step on a tiny model, and the
 * learning-rate schedule. */
#include <math.h>
#include <stdlib.h>

#include "kernels/backend.h"
#include "trainer/config.h"
#include "trainer/model.h"
#include "trainer/optim.h"
#include "trainer/schedule.h"
#include "testutil.h"

static backend *be;
static config *cfg;

/* Defaults (adam, beta1 0.9, beta2 0.999, eps 1e-8, no decay, no clipping,
 * constant schedule) with lr 0.1. */
static void setup(void)
{
    be = backend_cpu_open(1);
    ck_assert_ptr_nonnull(be);
    cfg = malloc(sizeof *cfg);
    ck_assert_ptr_nonnull(cfg);
    config_defaults(cfg);
    cfg->lr = 0.1;
}

static void teardown(void)
{
    config_free(cfg);
    free(cfg);
    backend_close(be);
}

/* One parameter: its value and Adam's two moments, in backend memory. */
typedef struct {
    float *p, *g, *m, *v;
} param1;

static param1 param_new(float p)
{
    param1 x;
    ck_assert_int_eq(be->alloc(be, (void **)&x.p, sizeof(float)), 0);
    ck_assert_int_eq(be->alloc(be, (void **)&x.g, sizeof(float)), 0);
    ck_assert_int_eq(be->alloc(be, (void **)&x.m, sizeof(float)), 0); /* zero-filled */
    ck_assert_int_eq(be->alloc(be, (void **)&x.v, sizeof(float)), 0);
    ck_assert_int_eq(be->upload(be, x.p, &p, sizeof p), 0);
    return x;
}

static void param_free(param1 *x)
{
    be->release(be, x->p), be->release(be, x->g), be->release(be, x->m), be->release(be, x->v);
}

/* The hand values below use decimal betas; the step runs on float ones
 * (1 - beta is computed in double, then rounded, so it is within float
 * rounding of the decimal value). The tolerances, 1e-6 on p after one step
 * and 3e-6 after two, ~2e-5 relative on v, leave room for that rounding and
 * are still 600 times smaller than the 1.8e-3 between Adam with and without
 * L2. */
static float host1(const float *d)
{
    float h;
    ck_assert_int_eq(be->download(be, &h, d, sizeof h), 0);
    return h;
}

/* Update number step + 1 with gradient g, through optim_hyper (which the
 * real optimizer uses) and the backend's adam. Returns the new value. */
static float step1(param1 *x, long step, float g)
{
    ck_assert_int_eq(be->upload(be, x->g, &g, sizeof g), 0);
    adam_hyper h = optim_hyper(cfg, step, cfg->lr, fabs(g));
    ck_assert_int_eq(be->adam(be, x->p, x->g, x->m, x->v, 1, &h), 0);
    return host1(x->p);
}

/* p = 1, g = 0.5 then 0.25, lr 0.1, beta1 0.9, beta2 0.999, eps 1e-8.
 *
 * Step 1: m = 0.1 * 0.5 = 0.05, v = 0.001 * 0.25 = 0.00025.
 *   mhat = 0.05 / (1 - 0.9) = 0.5, vhat = 0.00025 / (1 - 0.999) = 0.25,
 *   mhat / (sqrt(vhat) + eps) = 0.5 / 0.50000001 ~ 1, so p = 1 - 0.1 = 0.9.
 * Step 2: m = 0.9 * 0.05 + 0.1 * 0.25 = 0.07,
 *   v = 0.999 * 0.00025 + 0.001 * 0.0625 = 0.00031225,
 *   mhat = 0.07 / (1 - 0.81) = 0.36842105,
 *   vhat = 0.00031225 / (1 - 0.998001) = 0.15620310, sqrt = 0.39522538,
 *   p = 0.9 - 0.1 * 0.36842105 / 0.39522538 = 0.9 - 0.093217958 = 0.80678204. */
START_TEST(adam_two_steps_by_hand)
{
    param1 x = param_new(1.0f);
    ck_assert_float_eq_tol(step1(&x, 0, 0.5f), 0.9f, 1e-6f);
    ck_assert_float_eq_tol(host1(x.m), 0.05f, 1e-7f);
    ck_assert_float_eq_tol(host1(x.v), 0.00025f, 5e-9f);
    ck_assert_float_eq_tol(step1(&x, 1, 0.25f), 0.80678204f, 3e-6f);
    ck_assert_float_eq_tol(host1(x.m), 0.07f, 1e-7f);
    ck_assert_float_eq_tol(host1(x.v), 0.00031225f, 5e-9f);
    param_free(&x);
}
END_TEST

/* The same steps with weight_decay 0.1, coupled (adam) and decoupled (adamw).
 *
 * Coupled L2 adds 0.1 * p to the gradient:
 *   step 1: g = 0.5 + 0.1 * 1 = 0.6, m = 0.06, v = 0.00036; mhat / sqrt(vhat)
 *     = 0.6 / 0.6 ~ 1, so p = 0.9 (the first Adam step ignores the scale of g).
 *   step 2: g = 0.25 + 0.1 * 0.9 = 0.34, m = 0.054 + 0.034 = 0.088,
 *     v = 0.999 * 0.00036 + 0.001 * 0.1156 = 0.00047524,
 *     mhat = 0.088 / 0.19 = 0.46315789, vhat = 0.00047524 / 0.001999 = 0.23773887,
 *     sqrt = 0.48758473, p = 0.9 - 0.1 * 0.94990238 = 0.80500976.
 * Decoupled shrinks p by 1 - lr * wd = 0.99 first, moments as without decay:
 *   step 1: p = 1 * 0.99 - 0.1 * 1 = 0.89.
 *   step 2: p = 0.89 * 0.99 - 0.1 * 0.93217958 = 0.8811 - 0.093217958 = 0.78788204. */
START_TEST(coupled_vs_decoupled_decay)
{
    cfg->weight_decay = 0.1;

    cfg->optim_type = OPTIM_ADAM;
    param1 a = param_new(1.0f);
    ck_assert_float_eq_tol(step1(&a, 0, 0.5f), 0.9f, 1e-6f);
    ck_assert_float_eq_tol(host1(a.m), 0.06f, 1e-7f); /* the decay is in the moment */
    ck_assert_float_eq_tol(step1(&a, 1, 0.25f), 0.80500976f, 3e-6f);
    param_free(&a);

    cfg->optim_type = OPTIM_ADAMW;
    param1 w = param_new(1.0f);
    ck_assert_float_eq_tol(step1(&w, 0, 0.5f), 0.89f, 1e-6f);
    ck_assert_float_eq_tol(host1(w.m), 0.05f, 1e-7f); /* ... and not here */
    ck_assert_float_eq_tol(step1(&w, 1, 0.25f), 0.78788204f, 3e-6f);
    param_free(&w);
}
END_TEST

/* optim_hyper routes weight_decay by optimizer type and folds the bias
 * corrections of update t = step + 1. */
START_TEST(hyper_fields)
{
    cfg->weight_decay = 0.01;
    cfg->optim_type = OPTIM_ADAM;
    adam_hyper h = optim_hyper(cfg, 0, 0.5, 1.0);
    ck_assert_float_eq(h.lr, 0.5f);
    ck_assert_float_eq_tol(h.l2, 0.01f, 1e-9f);
    ck_assert_float_eq(h.weight_decay, 0.0f);
    ck_assert_float_eq_tol(h.bias_corr1, 0.1f, 1e-7f);              /* 1 - 0.9 */
    ck_assert_float_eq_tol(h.bias_corr2_sqrt, 0.031622777f, 1e-8f); /* sqrt(0.001) */

    cfg->optim_type = OPTIM_ADAMW;
    h = optim_hyper(cfg, 9, 0.5, 1.0); /* t = 10 */
    ck_assert_float_eq(h.l2, 0.0f);
    ck_assert_float_eq_tol(h.weight_decay, 0.01f, 1e-9f);
    ck_assert_float_eq_tol(h.bias_corr1, (float)(1 - pow(0.9, 10)), 1e-7f);
    ck_assert_float_eq_tol(h.bias_corr2_sqrt, (float)sqrt(1 - pow(0.999, 10)), 1e-7f);
}
END_TEST

/* Clipping as clip_grad_norm_: scale = clip / (norm + 1e-6) only when the
 * norm exceeds clip; clip_norm = 0 disables it. */
START_TEST(clip_scale)
{
    cfg->clip_norm = 1.0;
    ck_assert_double_eq_tol(optim_hyper(cfg, 0, 0.1, 4.0).grad_scale, 1.0 / (4.0 + 1e-6), 1e-8);
    ck_assert_float_eq(optim_hyper(cfg, 0, 0.1, 0.5).grad_scale, 1.0f);
    ck_assert_float_eq(optim_hyper(cfg, 0, 0.1, 1.0).grad_scale, 1.0f); /* not above */
    cfg->clip_norm = 0.0;
    ck_assert_float_eq(optim_hyper(cfg, 0, 0.1, 100.0).grad_scale, 1.0f);

    /* Applied in the step: g = 4 with clip 1 enters Adam as ~1, so
     * m = 0.1 * 1 = 0.1 and v = 0.001 * 1 = 0.001. */
    cfg->clip_norm = 1.0;
    param1 x = param_new(1.0f);
    ck_assert_float_eq_tol(step1(&x, 0, 4.0f), 0.9f, 1e-6f);
    ck_assert_float_eq_tol(host1(x.m), 0.1f, 1e-7f);
    ck_assert_float_eq_tol(host1(x.v), 0.001f, 2e-8f);
    param_free(&x);
}
END_TEST

/* ---- optim_step on a model -------------------------------------------------- */

/* A 3 -> 2 dense model with one backward pass done over 4 rows. */
static model *tiny_model_with_grads(void)
{
    cfg->layers[0].type = LAYER_DENSE;
    cfg->layers[0].bias = true;
    cfg->layers[0].units = 2;
    cfg->layers[0].activation = ACT_TANH;
    cfg->n_layers = 1;
    model *m = model_build(cfg, be, (int[3]){3, 1, 1}, 4);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(model_init_params(m, 5), 0);
    float x[12];
    int32_t y[4] = {0, 1, 1, 0};
    tu_fill_uniform(x, 12, -1, 1, 8);
    ck_assert_int_eq(be->upload(be, m->x, x, sizeof x), 0);
    ck_assert_int_eq(be->upload(be, m->y, y, sizeof y), 0);
    double loss = 0, correct = 0;
    ck_assert_int_eq(model_forward(m, 4, true), 0);
    ck_assert_int_eq(model_loss(m, 4, 0.25f, true, &loss, &correct), 0);
    ck_assert_int_eq(model_backward(m, 4), 0);
    return m;
}

/* The reported norm is sqrt(sum g^2) of the unclipped gradient, and the
 * first update moves each parameter by lr * g / (|g| + eps) ~ lr * sign(g),
 * with m = 0.1 * g * scale. Run without and with clipping. */
static void check_step(double clip)
{
    model *m = tiny_model_with_grads();
    /* 2 x 3 weights, 2 biases, and the padding between them (model.h),
     * whose zero gradient leaves it where it was */
    size_t n = m->n_params;
    ck_assert_uint_eq(m->n_trained, 8);
    ck_assert_uint_le(n, 128);
    float g[128], p0[128], p1[128], mom[128];
    const size_t bytes = sizeof(float) * n;
    ck_assert_int_eq(be->download(be, g, m->grads, bytes), 0);
    ck_assert_int_eq(be->download(be, p0, m->params, bytes), 0);
    double ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (double)g[i] * g[i];
    double want = sqrt(ss);
    ck_assert_double_gt(want, 1e-3);

    cfg->clip_norm = clip > 0 ? clip * want : 0.0; /* clip relative to the norm */
    double norm = -1;
    ck_assert_int_eq(optim_step(m, cfg, 0, 0.01, &norm), 0);
    ck_assert_double_eq_tol(norm, want, 1e-12 * want);

    double scale = clip > 0 && clip < 1 ? clip * want / (want + 1e-6) : 1.0;
    ck_assert_int_eq(be->download(be, p1, m->params, bytes), 0);
    ck_assert_int_eq(be->download(be, mom, m->adam_m, bytes), 0);
    for (size_t i = 0; i < n; i++) {
        double gs = g[i] * scale;
        ck_assert_double_eq_tol(p1[i], p0[i] - 0.01 * gs / (fabs(gs) + 1e-8), 1e-6);
        ck_assert_double_eq_tol(mom[i], 0.1 * gs, 1e-7);
    }
    model_free(m);
}

START_TEST(optim_step_end_to_end)
{
    check_step(0.0); /* no clipping */
    check_step(0.5); /* clip at half the norm */
}
END_TEST

/* ---- schedule_lr ---------------------------------------------------------------- */

START_TEST(schedule_warmup_and_constant)
{
    cfg->schedule = SCHED_CONSTANT;
    cfg->warmup_steps = 4;
    /* lr * (s + 1) / 4 */
    ck_assert_double_eq_tol(schedule_lr(cfg, 0, 100), 0.025, 1e-12);
    ck_assert_double_eq_tol(schedule_lr(cfg, 1, 100), 0.05, 1e-12);
    ck_assert_double_eq_tol(schedule_lr(cfg, 3, 100), 0.1, 1e-12);
    ck_assert_double_eq_tol(schedule_lr(cfg, 4, 100), 0.1, 1e-12);
    ck_assert_double_eq_tol(schedule_lr(cfg, 99, 100), 0.1, 1e-12);
    cfg->warmup_steps = 0;
    ck_assert_double_eq_tol(schedule_lr(cfg, 0, 100), 0.1, 1e-12);
}
END_TEST

/* Cosine from lr at the end of warmup to min_lr at `total`:
 * warmup 4, total 104, so p = (s - 4) / 100. */
START_TEST(schedule_cosine)
{
    cfg->schedule = SCHED_COSINE;
    cfg->warmup_steps = 4;
    cfg->min_lr = 0.01;
    ck_assert_double_eq_tol(schedule_lr(cfg, 1, 104), 0.05, 1e-12);   /* still warmup */
    ck_assert_double_eq_tol(schedule_lr(cfg, 4, 104), 0.1, 1e-12);    /* p = 0 */
    ck_assert_double_eq_tol(schedule_lr(cfg, 54, 104), 0.055, 1e-12); /* p = 1/2 */
    /* last step, p = 0.99: 0.01 + 0.09 * (1 + cos(0.99 pi)) / 2 = 0.0100222 */
    double last = schedule_lr(cfg, 103, 104);
    ck_assert_double_gt(last, 0.01);
    ck_assert_double_eq_tol(last, 0.01 + 0.045 * (1 + cos(0.99 * M_PI)), 1e-12);
    ck_assert_double_lt(last, 0.0101);
    ck_assert_double_eq_tol(schedule_lr(cfg, 500, 104), 0.01, 1e-12); /* clamped past the end */
    /* decreasing over the whole cosine part */
    for (long s = 5; s < 104; s++)
        ck_assert_double_lt(schedule_lr(cfg, s, 104), schedule_lr(cfg, s - 1, 104));
    /* no room for the cosine: stays at lr */
    ck_assert_double_eq_tol(schedule_lr(cfg, 10, 4), 0.1, 1e-12);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("adam");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, adam_two_steps_by_hand);
    tcase_add_test(tc, coupled_vs_decoupled_decay);
    tcase_add_test(tc, hyper_fields);
    tcase_add_test(tc, clip_scale);
    tcase_add_test(tc, optim_step_end_to_end);
    suite_add_tcase(s, tc);

    TCase *sc = tcase_create("schedule");
    tcase_add_checked_fixture(sc, setup, teardown);
    tcase_set_timeout(sc, 60);
    tcase_add_test(sc, schedule_warmup_and_constant);
    tcase_add_test(sc, schedule_cosine);
    suite_add_tcase(s, sc);
    return tu_run(s);
}
