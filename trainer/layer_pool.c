/* pool: maxpool and avgpool (size, stride, padding) and global_avgpool (the
 * whole plane, giving (C, 1, 1)). Average pooling counts the padding, as
 * PyTorch does by default; a max sends its gradient to the first maximum of
 * the window. */
#include "trainer/layer.h"
#include "trainer/model.h"
#include "util/err.h"

int layer_window_out(int in, int k, int stride, int pad, int *out);

static pool_geom geom_of(const layer *l)
{
    pool_geom g = {.c = l->in_shape[0],
                   .in_h = l->in_shape[1],
                   .in_w = l->in_shape[2],
                   .out_h = l->out_shape[1],
                   .out_w = l->out_shape[2],
                   .max = l->type == LAYER_MAXPOOL};
    if (l->type == LAYER_GLOBAL_AVGPOOL) {
        g.k_h = g.in_h, g.k_w = g.in_w, g.stride = 1, g.pad = 0;
    } else {
        g.k_h = g.k_w = l->cfg->size;
        g.stride = layer_stride(l->cfg);
        g.pad = l->cfg->padding;
    }
    return g;
}

static int pool_shape(layer *l, const layer_cfg *c, const int in[3])
{
    if (layer_refuse_sequence(l, false) < 0)
        return -1;
    l->out_shape[0] = in[0];
    if (l->type == LAYER_GLOBAL_AVGPOOL) {
        l->out_shape[1] = l->out_shape[2] = 1;
        l->out_rank = 1;
        return 0;
    }
    if (c->padding * 2 > c->size)
        return err_set("padding %d is more than half of size %d", c->padding, c->size);
    int stride = layer_stride(c);
    if (layer_window_out(in[1], c->size, stride, c->padding, &l->out_shape[1]) < 0 ||
        layer_window_out(in[2], c->size, stride, c->padding, &l->out_shape[2]) < 0)
        return err_prefix("input (%d, %d, %d)", in[0], in[1], in[2]);
    return 0;
}

static int pool_alloc(model *m, layer *l, int max_rows)
{
    if (layer_alloc_output(m, l, max_rows) < 0)
        return -1;
    pool_geom g = geom_of(l);
    return m->be->pool_plan(m->be, &g, max_rows, &l->impl);
}

static int pool_forward(model *m, layer *l, const float *x, int rows, bool train)
{
    (void)train;
    if (m->be->pool_forward(m->be, l->impl, x, l->y, rows) < 0)
        return -1;
    l->out_ptr = l->y;
    return 0;
}

static int pool_backward(model *m, layer *l, const float *x, float *dx, int rows)
{
    if (!dx)
        return 0;
    return m->be->pool_backward(m->be, l->impl, x, l->y, l->grad, dx, rows);
}

static void pool_release(model *m, layer *l)
{
    if (l->impl)
        m->be->plan_release(m->be, l->impl);
    l->impl = NULL;
}

static double pool_flops(const layer *l)
{
    if (l->type == LAYER_GLOBAL_AVGPOOL)
        return (double)l->in;
    double k = l->cfg->size;
    return k * k * l->out;
}

static const config_key pool_keys[] = {
    LAYER_KEY_SIZE("window height and width"),
    LAYER_KEY_STRIDE("step of the window (0: size)"),
    LAYER_KEY_PADDING("rows and columns added on each side (at most half of size)"),
    {0},
};

static const config_key global_pool_keys[] = {{0}};

#define POOL_OPS(type_name, what, key_table)                                                       \
    {                                                                                              \
        .name = type_name, .summary = what, .keys = key_table, .flops = pool_flops,                \
        .shape = pool_shape, .alloc = pool_alloc, .forward = pool_forward,                         \
        .backward = pool_backward, .release = pool_release,                                        \
    }

const layer_ops layer_maxpool_ops =
    POOL_OPS("maxpool", "the maximum of each window, per channel", pool_keys);
const layer_ops layer_avgpool_ops = POOL_OPS(
    "avgpool", "the mean of each window, per channel (padding counts, as PyTorch's default)",
    pool_keys);
const layer_ops layer_global_avgpool_ops =
    POOL_OPS("global_avgpool", "the mean of each channel: (C, H, W) to C", global_pool_keys);
