/* noalloc: a training step allocates nothing. Every buffer is made when the
 * model is built; here glibc's allocator statistics must not move over 50
 * steps of a CNN (forward, loss, backward, gradient all-reduce, Adam), and
 * over 20 of a language model with attention, once the first step has
 * run. */
#include <malloc.h>
#include <stdlib.h>

#include "comm/comm.h"
#include "testutil.h"
#include "trainer/model.h"
#include "trainer/optim.h"
#include "util/err.h"

enum { ROWS = 16 };

static int one_step(model *m, const config *cfg, grad_sync *gs, long step)
{
    double loss = 0, correct = 0, norm;
    m->step = (uint32_t)step;
    if (model_forward(m, ROWS, true) < 0 ||
        model_loss(m, ROWS, 1.0f / ROWS, true, &loss, &correct) < 0 ||
        model_backward(m, ROWS) < 0 || gsync_finish(gs) < 0)
        return -1;
    return optim_step(m, cfg, step, 1e-3, &norm);
}

START_TEST(steps_do_not_allocate)
{
    config *cfg = malloc(sizeof *cfg);
    config_defaults(cfg);
    cfg->n_layers = 6;
    cfg->layers[0] = (layer_cfg){.type = LAYER_CONV2D, .filters = 4, .size = 3, .padding = 1};
    cfg->layers[1] = (layer_cfg){.type = LAYER_BATCHNORM,
                                 .momentum = 0.1,
                                 .eps = 1e-5,
                                 .sync = true,
                                 .activation = ACT_RELU};
    cfg->layers[2] = (layer_cfg){.type = LAYER_MAXPOOL, .size = 2};
    cfg->layers[3] = (layer_cfg){.type = LAYER_DROPOUT, .rate = 0.2};
    cfg->layers[4] =
        (layer_cfg){.type = LAYER_DENSE, .bias = true, .units = 16, .activation = ACT_GELU};
    cfg->layers[5] = (layer_cfg){.type = LAYER_DENSE, .bias = true, .units = 10};
    backend *be = backend_cpu_open(1);
    model *m = model_build(cfg, be, (int[3]){1, 12, 12}, ROWS);
    ck_assert_msg(m != NULL, "%s", err_msg());
    ck_assert_int_eq(model_init_params(m, 3), 0);
    tu_fill_uniform(m->x, (size_t)ROWS * m->in_features, 0, 1, 4);
    for (int r = 0; r < ROWS; r++)
        m->y[r] = r % 10;
    comm_info ci = {.rank = 0, .size = 1, .local_rank = 0, .local_size = 1};
    grad_sync *gs = gsync_open(be, &ci, m->grads, m->n_params, 4.0, COMM_AUTO, 60);
    ck_assert_ptr_nonnull(gs);
    ck_assert_int_eq(one_step(m, cfg, gs, 0), 0); /* lets libraries set themselves up */
    struct mallinfo2 before = mallinfo2();
    for (long step = 1; step <= 50; step++)
        ck_assert_int_eq(one_step(m, cfg, gs, step), 0);
    struct mallinfo2 after = mallinfo2();
    ck_assert_msg(after.uordblks == before.uordblks && after.hblkhd == before.hblkhd,
                  "50 steps changed the heap: %zu -> %zu bytes in use, %zu -> %zu mapped",
                  before.uordblks, after.uordblks, before.hblkhd, after.hblkhd);
    gsync_close(gs);
    model_free(m);
    backend_close(be);
    free(cfg);
}
END_TEST

/* The same for a language model at 2 threads: the fused attention's
 * tiles, a slice a thread, are made in the first step, then reused. */
START_TEST(lm_steps_do_not_allocate)
{
    enum { T = 70, VOCAB = 11 };
    config *cfg = malloc(sizeof *cfg);
    config_defaults(cfg);
    cfg->n_layers = 3;
    cfg->layers[0] =
        (layer_cfg){.type = LAYER_EMBEDDING, .vocab = VOCAB, .units = 32, .block_size = T};
    cfg->layers[1] = (layer_cfg){.type = LAYER_ATTENTION, .heads = 2, .dropout = 0.1};
    cfg->layers[2] = (layer_cfg){.type = LAYER_DENSE, .bias = true, .units = VOCAB};
    backend *be = backend_cpu_open(2);
    model_input in = {.tokens = true, .shape = {T, 1, 1}};
    model *m = model_build_input(cfg, be, &in, ROWS, ROWS);
    ck_assert_msg(m != NULL, "%s", err_msg());
    ck_assert_int_eq(model_init_params(m, 3), 0);
    int32_t *tok = (int32_t *)m->x;
    for (int i = 0; i < ROWS * T; i++) {
        tok[i] = i % VOCAB;
        m->y[i] = (i * 5 + 1) % VOCAB;
    }
    comm_info ci = {.rank = 0, .size = 1, .local_rank = 0, .local_size = 1};
    grad_sync *gs = gsync_open(be, &ci, m->grads, m->n_params, 4.0, COMM_AUTO, 60);
    ck_assert_ptr_nonnull(gs);
    ck_assert_int_eq(one_step(m, cfg, gs, 0), 0);
    struct mallinfo2 before = mallinfo2();
    for (long step = 1; step <= 20; step++)
        ck_assert_int_eq(one_step(m, cfg, gs, step), 0);
    struct mallinfo2 after = mallinfo2();
    ck_assert_msg(after.uordblks == before.uordblks && after.hblkhd == before.hblkhd,
                  "20 steps changed the heap: %zu -> %zu bytes in use, %zu -> %zu mapped",
                  before.uordblks, after.uordblks, before.hblkhd, after.hblkhd);
    gsync_close(gs);
    model_free(m);
    backend_close(be);
    free(cfg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("noalloc");
    TCase *tc = tcase_create("noalloc");
    tcase_add_test(tc, steps_do_not_allocate);
    tcase_add_test(tc, lm_steps_do_not_allocate);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
