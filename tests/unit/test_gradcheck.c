/* test_gradcheck: the model's backward pass against central finite
 * differences of its loss.
 *
 * The model computes in float32, so the differences are taken with a large
 * step (eps = 1e-2 on inputs and parameters of order 1): the truncation error
 * of a central difference is O(eps^2) ~ 1e-5, and the float rounding of the
 * loss (~1e-7) divided by 2 eps adds ~1e-5 more. The gradients themselves
 * are of order 1e-1, so both checks below (relative error of the whole
 * gradient vector, and each element with an absolute floor) have a wide
 * margin while still catching a wrong sign, factor, transpose or mask. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "trainer/config.h"
#include "trainer/model.h"
#include "testutil.h"

#define EPS  1e-2f
#define ROWS 5
#define IN   4

static backend *be;

static void setup(void)
{
    be = backend_cpu_open(1);
    ck_assert_ptr_nonnull(be);
}

static void teardown(void)
{
    backend_close(be);
    be = NULL;
}

/* One layer of a test model. */
typedef struct {
    layer_type type;
    int units;
    act_kind act;
    double rate;
} spec;

/* Builds the model of `specs` for IN features and ROWS rows, with seeded
 * weights, random (nonzero) biases, random inputs and fixed labels. */
static model *build(const spec *specs, int n)
{
    config *cfg = malloc(sizeof *cfg);
    ck_assert_ptr_nonnull(cfg);
    config_defaults(cfg);
    for (int i = 0; i < n; i++) {
        cfg->layers[i].type = specs[i].type;
        cfg->layers[i].units = specs[i].units;
        cfg->layers[i].activation = specs[i].act;
        cfg->layers[i].rate = specs[i].rate;
        cfg->layers[i].bias = true;
    }
    cfg->n_layers = n;
    model *m = model_build(cfg, be, (int[3]){IN, 1, 1}, ROWS);
    config_free(cfg);
    free(cfg);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(model_init_params(m, 2024), 0);

    /* Biases start at 0; make them random so their gradients are exercised
     * away from the initial point too. */
    for (int i = 0; i < m->n_layers; i++) {
        const layer *l = &m->layers[i];
        if (!l->n_bias)
            continue;
        float *b = malloc(sizeof(float) * l->n_bias);
        tu_fill_uniform(b, l->n_bias, -0.5f, 0.5f, 300 + (uint64_t)i);
        ck_assert_int_eq(be->upload(be, l->b, b, sizeof(float) * l->n_bias), 0);
        free(b);
    }

    float x[ROWS * IN];
    int32_t y[ROWS];
    tu_fill_uniform(x, ROWS * IN, -1.0f, 1.0f, 79);
    for (int r = 0; r < ROWS; r++)
        y[r] = (r * 7 + 1) % m->classes;
    ck_assert_int_eq(be->upload(be, m->x, x, sizeof x), 0);
    ck_assert_int_eq(be->upload(be, m->y, y, sizeof y), 0);
    return m;
}

/* The mean loss over the rows of the last forward's logits. */
static double loss_only(model *m)
{
    double loss = 0.0, correct = 0.0;
    ck_assert_int_eq(model_loss(m, ROWS, 1.0f / ROWS, false, &loss, &correct), 0);
    return loss / ROWS;
}

/* Forward (training mode, so dropout is on) and the mean loss. */
static double loss_at(model *m)
{
    ck_assert_int_eq(model_forward(m, ROWS, true), 0);
    return loss_only(m);
}

/* The backward pass's d (mean loss) / d params, into host g. */
static void analytic_grads(model *m, float *g)
{
    double loss = 0.0, correct = 0.0;
    ck_assert_int_eq(model_forward(m, ROWS, true), 0);
    ck_assert_int_eq(model_loss(m, ROWS, 1.0f / ROWS, true, &loss, &correct), 0);
    ck_assert_int_eq(model_backward(m, ROWS), 0);
    ck_assert_int_eq(be->download(be, g, m->grads, sizeof(float) * m->n_params), 0);
}

/* Central differences of f over the n floats of backend buffer `buf`,
 * restoring each one after. f re-evaluates the loss from buf. */
static void finite_diff(model *m, float *buf, size_t n, double (*f)(model *), float *fd)
{
    float *h = malloc(sizeof(float) * n);
    ck_assert_int_eq(be->download(be, h, buf, sizeof(float) * n), 0);
    for (size_t i = 0; i < n; i++) {
        float orig = h[i];
        h[i] = orig + EPS;
        ck_assert_int_eq(be->upload(be, buf, h, sizeof(float) * n), 0);
        double up = f(m);
        h[i] = orig - EPS;
        ck_assert_int_eq(be->upload(be, buf, h, sizeof(float) * n), 0);
        double down = f(m);
        h[i] = orig;
        /* the true step taken, after float rounding of orig +- EPS */
        fd[i] = (float)((up - down) / ((double)(orig + EPS) - (double)(orig - EPS)));
    }
    ck_assert_int_eq(be->upload(be, buf, h, sizeof(float) * n), 0);
    free(h);
}

/* Analytic vs numeric: ||g - fd|| / ||fd|| under 1e-3, and every element
 * within 2e-4 + 1e-2 |fd|. Also insists the gradient is not trivially 0. */
static void compare(const char *what, const float *g, const float *fd, size_t n)
{
    double diff = 0.0, norm = 0.0;
    for (size_t i = 0; i < n; i++) {
        diff += ((double)g[i] - fd[i]) * ((double)g[i] - fd[i]);
        norm += (double)fd[i] * fd[i];
        ck_assert_msg(fabs((double)g[i] - fd[i]) <= 2e-4 + 1e-2 * fabs(fd[i]),
                      "%s: element %zu: backward %.7g, finite difference %.7g", what, i, g[i],
                      fd[i]);
    }
    ck_assert_msg(norm > 1e-6, "%s: gradient is ~0 (norm^2 %g), nothing checked", what, norm);
    double rel = sqrt(diff / norm);
    ck_assert_msg(rel < 1e-3, "%s: relative error %g", what, rel);
}

/* Checks every parameter gradient of the model of specs. */
static void check_params(const char *what, const spec *specs, int n, uint64_t dropout_seed)
{
    model *m = build(specs, n);
    m->seed = dropout_seed;
    m->step = 3;
    m->first_row = 2; /* a rank's slice not starting at row 0 */
    float *g = malloc(sizeof(float) * m->n_params), *fd = malloc(sizeof(float) * m->n_params);
    /* Twice: each backward must overwrite the gradients, not add to them. */
    analytic_grads(m, g);
    analytic_grads(m, g);
    finite_diff(m, m->params, m->n_params, loss_at, fd);
    compare(what, g, fd, m->n_params);
    free(g), free(fd);
    model_free(m);
}

/* ReLU is not differentiable at 0: a difference straddling the kink is
 * wrong by design. A step of EPS in a weight moves a pre-activation by at
 * most EPS * max|x| <= EPS (inputs are in [-1, 1]), and in a bias by EPS, so
 * insist every pre-activation of the first layer (the only ReLU layer in
 * these tests) is further than that from 0, with a 1.5x margin. It holds for these seeds; if a
 * seed change breaks it, pick another seed rather than loosen the check.
 * The layer keeps no pre-activation for ReLU (z == y), so it is recomputed
 * here from x, W and b. */
static void assert_away_from_kinks(const spec *specs, int n)
{
    model *m = build(specs, n);
    const layer *l = &m->layers[0];
    float x[ROWS * IN], *w = malloc(sizeof(float) * (l->n_weight + l->n_bias));
    ck_assert_int_eq(be->download(be, x, m->x, sizeof x), 0);
    /* the bias after the weights here; in the buffers, at its own offset */
    ck_assert_int_eq(be->download(be, w, l->w, sizeof(float) * l->n_weight), 0);
    ck_assert_int_eq(be->download(be, w + l->n_weight, l->b, sizeof(float) * l->n_bias), 0);
    double closest = INFINITY;
    for (int r = 0; r < ROWS; r++)
        for (int o = 0; o < l->out; o++) {
            double z = w[l->n_weight + o];
            for (int i = 0; i < IN; i++)
                z += (double)x[r * IN + i] * w[o * IN + i];
            closest = fmin(closest, fabs(z));
        }
    ck_assert_msg(closest > 1.5 * EPS, "a ReLU input is %g from the kink", closest);
    free(w);
    model_free(m);
}

static const char *act_names[] = {"none", "relu", "tanh", "sigmoid", "gelu", "gelu_tanh"};

/* A dense layer with each activation, both as a hidden layer (its gradient
 * flows through the next layer's dx) and as the output layer itself. */
START_TEST(dense_each_activation)
{
    act_kind act = (act_kind)_i;
    spec hidden[] = {{LAYER_DENSE, 6, act, 0}, {LAYER_DENSE, 3, ACT_NONE, 0}};
    spec output[] = {{LAYER_DENSE, 3, act, 0}};
    char what[64];
    if (act == ACT_RELU) {
        assert_away_from_kinks(hidden, 2);
        assert_away_from_kinks(output, 1);
    }
    snprintf(what, sizeof what, "hidden %s", act_names[act]);
    check_params(what, hidden, 2, 0);
    snprintf(what, sizeof what, "output %s", act_names[act]);
    check_params(what, output, 1, 0);
}
END_TEST

/* dense - dropout - dense: with fixed (seed, step, first_row) the mask is a
 * pure function of the coordinates, so the perturbed forwards see the same
 * mask as the backward pass and the differences are valid. */
START_TEST(dense_dropout_dense)
{
    spec s[] = {{LAYER_DENSE, 8, ACT_TANH, 0},
                {LAYER_DROPOUT, 0, ACT_NONE, 0.5},
                {LAYER_DENSE, 3, ACT_NONE, 0}};
    check_params("dense-dropout-dense", s, 3, 99);

    /* The mask must actually drop some units and keep others, or the test
     * above would not cover it. */
    model *m = build(s, 3);
    m->seed = 99, m->step = 3, m->first_row = 2;
    ck_assert_int_eq(model_forward(m, ROWS, true), 0);
    const layer *d = &m->layers[1];
    size_t n = (size_t)ROWS * d->out, zeros = 0;
    float *y = malloc(sizeof(float) * n);
    ck_assert_int_eq(be->download(be, y, d->out_ptr, sizeof(float) * n), 0);
    for (size_t i = 0; i < n; i++)
        zeros += y[i] == 0.0f;
    ck_assert_uint_gt(zeros, 0);
    ck_assert_uint_lt(zeros, n);
    free(y);
    model_free(m);
}
END_TEST

/* Three dense layers: the chain rule through two dx products. */
START_TEST(deep_stack)
{
    spec s[] = {{LAYER_DENSE, 5, ACT_GELU, 0},
                {LAYER_DENSE, 4, ACT_SIGMOID, 0},
                {LAYER_DENSE, 3, ACT_TANH, 0}};
    check_params("gelu-sigmoid-tanh", s, 3, 0);
}
END_TEST

/* The loss's own gradient: xent's dz (scaled by 1/rows) against finite
 * differences of the mean loss over the logits. */
START_TEST(loss_wrt_logits)
{
    spec s[] = {{LAYER_DENSE, 5, ACT_NONE, 0}};
    model *m = build(s, 1);
    layer *out = &m->layers[0];
    size_t n = (size_t)ROWS * out->out;
    ck_assert_int_eq(model_forward(m, ROWS, true), 0);
    /* Logits of a useful size: a few units apart, so softmax is not flat. */
    float *z = malloc(sizeof(float) * n);
    tu_fill_uniform(z, n, -3.0f, 3.0f, 55);
    ck_assert_int_eq(be->upload(be, out->y, z, sizeof(float) * n), 0);

    double loss = 0.0, correct = 0.0;
    ck_assert_int_eq(model_loss(m, ROWS, 1.0f / ROWS, true, &loss, &correct), 0);
    float *dz = malloc(sizeof(float) * n), *fd = malloc(sizeof(float) * n);
    ck_assert_int_eq(be->download(be, dz, out->grad, sizeof(float) * n), 0);
    finite_diff(m, out->y, n, loss_only, fd);
    compare("d loss / d logits", dz, fd, n);

    /* model_loss adds to its sums: a second call doubles them. */
    double again = loss;
    ck_assert_int_eq(model_loss(m, ROWS, 1.0f / ROWS, false, &again, &correct), 0);
    ck_assert_double_eq_tol(again, 2 * loss, 1e-9 * loss);
    free(z), free(dz), free(fd);
    model_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gradcheck");
    TCase *tc = tcase_create("finite_differences");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, dense_each_activation, ACT_NONE, ACT_GELU_TANH + 1);
    tcase_add_test(tc, dense_dropout_dense);
    tcase_add_test(tc, deep_stack);
    tcase_add_test(tc, loss_wrt_logits);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
