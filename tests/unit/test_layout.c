/* The flat buffers' layout (model.h): every trained tensor of every
 * shipped config starts at a multiple of MODEL_ALIGN floats, none overlaps
 * another, the buffers hold them all, and the parameter count is the
 * tensors' values alone, padding not counted. */
#include <stdio.h>

#include "testutil.h"
#include "trainer/config.h"
#include "trainer/model.h"
#include "util/err.h"

/* Checks m's trained tensors, in order, against the rules above. */
static void check_layout(const model *m, const char *name)
{
    size_t end = 0, counted = 0;
    for (int i = 0; i < m->n_layers; i++) {
        const layer *l = &m->layers[i];
        ck_assert_msg(l->param_offset % MODEL_ALIGN == 0, "%s: layer %s starts at %zu", name,
                      l->name, l->param_offset);
        for (int t = 0; t < l->n_tensors; t++) {
            const layer_tensor *x = &l->tensors[t];
            if (x->state)
                continue;
            ck_assert_msg(x->offset % MODEL_ALIGN == 0, "%s: %s/%s at %zu", name, l->name, x->name,
                          x->offset);
            ck_assert_msg(x->offset >= end, "%s: %s/%s overlaps the tensor before it", name,
                          l->name, x->name);
            end = x->offset + x->count;
            counted += x->count;
        }
    }
    ck_assert_uint_le(end, m->n_params);
    ck_assert_uint_eq(counted, m->n_trained);
}

START_TEST(tensors_are_aligned_and_counted)
{
    const size_t trained[TU_SHIPPED_CONFIGS] = {235146, 421738, 0}; /* 0: not pinned here */
    backend *be = backend_cpu_counting_open();
    for (int i = 0; i < TU_SHIPPED_CONFIGS; i++) {
        config cfg;
        int shape[3];
        const char *name = tu_shipped_config(i, &cfg, shape);
        model *m = model_build(&cfg, be, shape, 4);
        ck_assert_msg(m != NULL, "%s", err_msg());
        check_layout(m, name);
        if (trained[i])
            ck_assert_uint_eq(m->n_trained, trained[i]);
        ck_assert_uint_ge(m->n_params, m->n_trained);
        model_free(m);
        config_free(&cfg);
    }
    backend_close(be);
}
END_TEST

/* The padding stays zero: it starts so, and training leaves it be. */
START_TEST(padding_starts_zero)
{
    config cfg;
    config_defaults(&cfg);
    cfg.n_layers = 2;
    cfg.layers[0] =
        (layer_cfg){.type = LAYER_DENSE, .bias = true, .units = 3, .activation = ACT_RELU};
    cfg.layers[1] = (layer_cfg){.type = LAYER_DENSE, .bias = true, .units = 5};
    backend *be = backend_cpu_open(1);
    model *m = model_build(&cfg, be, (int[3]){7, 1, 1}, 4);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(model_init_params(m, 3), 0);
    /* dense 7 -> 3: weight 21 at 0, bias 3 at 64; dense 3 -> 5: weight 15
     * at 128, bias 5 at 192 */
    ck_assert_uint_eq(m->layers[0].tensors[1].offset, 64);
    ck_assert_uint_eq(m->layers[1].tensors[0].offset, 128);
    ck_assert_uint_eq(m->n_params, 197);
    ck_assert_uint_eq(m->n_trained, 44);
    for (size_t i = 21; i < 64; i++)
        ck_assert_float_eq(m->params[i], 0.0f);
    for (size_t i = 143; i < 192; i++)
        ck_assert_float_eq(m->params[i], 0.0f);
    model_free(m);
    backend_close(be);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("layout");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, tensors_are_aligned_and_counted);
    tcase_add_test(tc, padding_starts_zero);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
