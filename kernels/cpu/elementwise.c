/* elementwise: bias + activation forward, activation backward and the sum
 * of two tensors on the CPU, over the formulas of kernels/math.h that the
 * GPU's kernels run too (dropout has a file of its own, dropout.c). The hot cases (ReLU, GPT's
 * gelu_tanh, dense rows) get loops of their own that vectorize. */
#include <string.h>

#include "kernels/cpu/cpu_ops.h"

/* Over planes of inner floats (a convolution's output). */
static void bias_act_planes(float *z, float *y, const float *bias, int outer, int channels,
                            int inner, act_kind act)
{
    for (int o = 0; o < outer; o++)
        for (int c = 0; c < channels; c++) {
            size_t base = ((size_t)o * channels + c) * inner;
            float *zr = z + base, *yr = y + base;
            float bc = bias ? bias[c] : 0.0f;
            if (act == ACT_RELU) { /* the common case, kept branch-free */
                for (int i = 0; i < inner; i++) {
                    float v = zr[i] + bc;
                    zr[i] = v;
                    yr[i] = v > 0.0f ? v : 0.0f;
                }
                continue;
            }
            for (int i = 0; i < inner; i++) {
                float v = zr[i] + bc;
                zr[i] = v;
                yr[i] = math_act(act, v);
            }
        }
}

/* GPT's activation over a row, in its own loop so that it vectorizes (its
 * tanh is math.h's, with no libm call). dz may be dy. */
CPU_SIMD static void gelu_tanh_row(float *restrict z, float *restrict y, const float *bias, int n)
{
    for (int i = 0; i < n; i++) {
        float v = z[i] + (bias ? bias[i] : 0.0f);
        z[i] = v;
        y[i] = math_act(ACT_GELU_TANH, v);
    }
}

CPU_SIMD static void gelu_tanh_backward(float *dz, const float *dy, const float *restrict z,
                                        size_t n)
{
    for (size_t i = 0; i < n; i++)
        dz[i] = dy[i] * math_act_grad(ACT_GELU_TANH, z[i], 0.0f);
}

/* Dense layers (inner = 1) get loops over whole rows: the hot path of an MLP. */
static void bias_act_rows(float *z, float *y, const float *bias, int rows, int cols, act_kind act)
{
    for (int r = 0; r < rows; r++) {
        float *zr = z + (size_t)r * cols, *yr = y + (size_t)r * cols;
        if (act == ACT_RELU) {
            for (int c = 0; c < cols; c++) {
                float v = zr[c] + (bias ? bias[c] : 0.0f);
                zr[c] = v;
                yr[c] = v > 0.0f ? v : 0.0f;
            }
            continue;
        }
        if (act == ACT_GELU_TANH && zr != yr) {
            gelu_tanh_row(zr, yr, bias, cols);
            continue;
        }
        for (int c = 0; c < cols; c++) {
            float v = zr[c] + (bias ? bias[c] : 0.0f);
            zr[c] = v;
            yr[c] = math_act(act, v);
        }
    }
}

/* A pass's operands, for the threads' ranges (workers.h). */
typedef struct {
    float *z, *y, *dz;
    const float *bias, *dy, *z_in, *y_in, *a, *b;
    int channels, inner;
    act_kind act;
} pass;

/* rows [from, to) of a dense layer's output */
static void bias_act_rows_part(void *arg, size_t from, size_t to)
{
    const pass *p = arg;
    size_t at = from * (size_t)p->channels;
    bias_act_rows(p->z + at, p->y + at, p->bias, (int)(to - from), p->channels, p->act);
}

/* samples [from, to) of a convolution's output */
static void bias_act_planes_part(void *arg, size_t from, size_t to)
{
    const pass *p = arg;
    size_t at = from * (size_t)p->channels * p->inner;
    bias_act_planes(p->z + at, p->y + at, p->bias, (int)(to - from), p->channels, p->inner, p->act);
}

int cpu_bias_act_forward(backend *be, float *z, float *y, const float *bias, int outer,
                         int channels, int inner, act_kind act)
{
    if (!bias && act == ACT_NONE && z == y) /* nothing to do: a convolution before batch norm */
        return 0;
    pass p = {.z = z, .y = y, .bias = bias, .channels = channels, .inner = inner, .act = act};
    size_t row = (size_t)channels * inner;
    cpu_workers_run(cpu_workers_of(be), (size_t)outer, cpu_workers_grain(row),
                    inner == 1 ? bias_act_rows_part : bias_act_planes_part, &p);
    return 0;
}

/* ReLU's backward, written so that it becomes a vector compare and blend
 * (dz is dy in every caller; a load only on the kept side would be a branch
 * the CPU mispredicts half the time). */
CPU_SIMD static void relu_backward(float *restrict dz, const float *restrict y, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float d = dz[i];
        dz[i] = y[i] > 0.0f ? d : 0.0f;
    }
}

/* elements [from, to) of an activation's backward */
static void act_backward_part(void *arg, size_t from, size_t to)
{
    const pass *p = arg;
    float *dz = p->dz + from;
    const float *dy = p->dy + from, *z = p->z_in + from, *y = p->y_in + from;
    size_t n = to - from;
    if (p->act == ACT_RELU) {
        if (dz != dy)
            memmove(dz, dy, sizeof(float) * n);
        relu_backward(dz, y, n);
    } else if (p->act == ACT_GELU_TANH) {
        gelu_tanh_backward(dz, dy, z, n);
    } else {
        for (size_t i = 0; i < n; i++)
            dz[i] = dy[i] * math_act_grad(p->act, z[i], y[i]);
    }
}

int cpu_act_backward(backend *be, float *dz, const float *dy, const float *z, const float *y,
                     size_t n, act_kind act)
{
    pass p = {.dz = dz, .dy = dy, .z_in = z, .y_in = y, .act = act};
    cpu_workers_run(cpu_workers_of(be), n, cpu_workers_grain(1), act_backward_part, &p);
    return 0;
}

static void add_part(void *arg, size_t from, size_t to)
{
    const pass *p = arg;
    for (size_t i = from; i < to; i++)
        p->y[i] = p->a[i] + p->b[i];
}

int cpu_add(backend *be, float *y, const float *a, const float *b, size_t n)
{
    pass p = {.y = y, .a = a, .b = b};
    cpu_workers_run(cpu_workers_of(be), n, cpu_workers_grain(1), add_part, &p);
    return 0;
}
