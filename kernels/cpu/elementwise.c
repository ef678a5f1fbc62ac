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

int cpu_bias_act_forward(backend *be, float *z, float *y, const float *bias, int outer,
                         int channels, int inner, act_kind act)
{
    (void)be;
    if (!bias && act == ACT_NONE && z == y) /* nothing to do: a convolution before batch norm */
        return 0;
    if (inner == 1)
        bias_act_rows(z, y, bias, outer, channels, act);
    else
        bias_act_planes(z, y, bias, outer, channels, inner, act);
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

int cpu_act_backward(backend *be, float *dz, const float *dy, const float *z, const float *y,
                     size_t n, act_kind act)
{
    (void)be;
    if (act == ACT_RELU) {
        if (dz != dy)
            memmove(dz, dy, sizeof(float) * n);
        relu_backward(dz, y, n);
        return 0;
    }
    if (act == ACT_GELU_TANH) {
        gelu_tanh_backward(dz, dy, z, n);
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        dz[i] = dy[i] * math_act_grad(act, z[i], y[i]);
    return 0;
}

int cpu_add(backend *be, float *y, const float *a, const float *b, size_t n)
{
    (void)be;
    for (size_t i = 0; i < n; i++)
        y[i] = a[i] + b[i];
    return 0;
}
