/* conv2d: y = act(conv(x, W) + b), W stored (out_c, in_c, k, k) as in
 * PyTorch and cuDNN. The backend plans the convolution once, at start-up
 * (its algorithm and workspace), for the largest batch. */
#include "trainer/layer.h"
#include "trainer/model.h"
#include "util/err.h"

conv_geom layer_conv_geom(const layer *l)
{
    const layer_cfg *c = l->cfg;
    return (conv_geom){.in_c = l->in_shape[0],
                       .in_h = l->in_shape[1],
                       .in_w = l->in_shape[2],
                       .out_c = l->out_shape[0],
                       .out_h = l->out_shape[1],
                       .out_w = l->out_shape[2],
                       .k = c->size,
                       .stride = layer_stride(c),
                       .pad = c->padding};
}

/* The output size along one axis, or an error naming the layer's numbers. */
int layer_window_out(int in, int k, int stride, int pad, int *out)
{
    int64_t span = (int64_t)in + 2 * (int64_t)pad; /* no wrap for any int */
    if (span < k)
        return err_set("a window of %d does not fit an input of %d with padding %d", k, in, pad);
    int64_t n = (span - k) / stride + 1;
    if (n > INT32_MAX)
        return err_set("an input of %d with padding %d makes %lld outputs", in, pad, (long long)n);
    *out = (int)n;
    return 0;
}

static int conv_shape(layer *l, const layer_cfg *c, const int in[3])
{
    if (layer_refuse_sequence(l, false) < 0)
        return -1;
    int stride = layer_stride(c);
    l->act = (act_kind)c->activation;
    l->init = (init_kind)c->init;
    if (l->init == INIT_AUTO)
        l->init =
            (l->act == ACT_RELU || l->act == ACT_GELU) ? INIT_HE_UNIFORM : INIT_GLOROT_UNIFORM;
    l->out_shape[0] = c->filters;
    if (layer_window_out(in[1], c->size, stride, c->padding, &l->out_shape[1]) < 0 ||
        layer_window_out(in[2], c->size, stride, c->padding, &l->out_shape[2]) < 0)
        return err_prefix("input (%d, %d, %d)", in[0], in[1], in[2]);
    /* the unrolled input (im2col) of one sample is a matrix BLAS indexes
     * with int: (channels x size x size) x (output height x width) */
    int64_t col = (int64_t)in[0] * c->size * c->size;
    if (__builtin_mul_overflow(col, (int64_t)l->out_shape[1] * l->out_shape[2], &col) ||
        col > MODEL_MAX_VALUES)
        return err_set("input (%d, %d, %d): its unrolled windows are more than the %lld values "
                       "a buffer may hold",
                       in[0], in[1], in[2], (long long)MODEL_MAX_VALUES);
    layer_add_tensor(l, "weight", false, 4, (int[]){c->filters, in[0], c->size, c->size});
    if (c->bias)
        layer_add_tensor(l, "bias", false, 1, (int[]){c->filters});
    return 0;
}

static int conv_alloc(model *m, layer *l, int max_rows)
{
    if (layer_alloc_output(m, l, max_rows) < 0)
        return -1;
    conv_geom g = layer_conv_geom(l);
    return m->be->conv_plan(m->be, &g, m->train_rows, max_rows, &l->impl);
}

static void conv_init(const layer *l, uint64_t seed, float *params, float *state)
{
    (void)state;
    double k2 = (double)l->cfg->size * l->cfg->size;
    layer_init_weight(l, seed, params, l->n_weight, l->in_shape[0] * k2, l->out_shape[0] * k2);
    float *bias = l->n_bias ? layer_init_place(l, params, 1) : NULL;
    for (size_t i = 0; i < l->n_bias; i++)
        bias[i] = 0.0f;
}

static int conv_forward(model *m, layer *l, const float *x, int rows, bool train)
{
    (void)train;
    backend *be = m->be;
    int hw = l->out_shape[1] * l->out_shape[2];
    if (be->conv_forward(be, l->impl, x, l->w, l->z, rows) < 0 ||
        be->bias_act_forward(be, l->z, l->y, l->b, rows, l->out_shape[0], hw, l->act) < 0)
        return -1;
    l->out_ptr = l->y;
    return 0;
}

static int conv_backward(model *m, layer *l, const float *x, float *dx, int rows)
{
    backend *be = m->be;
    float *g = l->grad;
    int hw = l->out_shape[1] * l->out_shape[2];
    if (l->act != ACT_NONE &&
        be->act_backward(be, g, g, l->z, l->y, (size_t)rows * l->out, l->act) < 0)
        return -1;
    if (l->b && be->bias_grad(be, l->db, g, rows, l->out_shape[0], hw) < 0)
        return -1;
    return be->conv_backward(be, l->impl, x, l->w, g, l->dw, dx, rows);
}

static void conv_release(model *m, layer *l)
{
    if (l->impl)
        m->be->plan_release(m->be, l->impl);
    l->impl = NULL;
}

static double conv_flops(const layer *l)
{
    double k = l->cfg->size;
    return 2.0 * l->in_shape[0] * k * k * l->out + l->out;
}

static const config_key conv_keys[] = {
    {"layer", "filters", KT_INT, LAYER_FIELD(filters), NULL, 1, 1 << 16, 0, NULL, "output channels",
     true},
    LAYER_KEY_SIZE("kernel height and width"),
    LAYER_KEY_STRIDE("step of the kernel (0: 1)"),
    LAYER_KEY_PADDING("zero rows and columns added on each side"),
    {"layer", "bias", KT_BOOL, LAYER_FIELD(bias), "true", 0, 0, 0, NULL,
     "learn a bias per filter (off before a batchnorm)", false},
    LAYER_KEY_ACTIVATION("applied to the output"),
    LAYER_KEY_INIT("weight init (auto: he_uniform before relu/gelu, else glorot_uniform)"),
    {0},
};

const layer_ops layer_conv2d_ops = {
    .name = "conv2d",
    .summary = "2-D convolution (cross-correlation, as PyTorch's Conv2d) of NCHW images",
    .keys = conv_keys,
    .flops = conv_flops,
    .matmul = true,
    .shape = conv_shape,
    .alloc = conv_alloc,
    .init = conv_init,
    .forward = conv_forward,
    .backward = conv_backward,
    .release = conv_release,
};
