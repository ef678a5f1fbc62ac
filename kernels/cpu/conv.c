/* conv: convolution on the CPU as im2col and one OpenBLAS matrix product per
 * sample: the input patches of a sample become the columns of a
 * (C k k) x (H' W') matrix, and the filters (out_c x C k k) multiply it.
 * The column buffer, the plan's only workspace, holds one sample. */
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/cpu_ops.h"
#include "util/err.h"

typedef struct {
    int kind; /* 1: conv, 2: pool; so cpu_plan_release can tell them apart */
    conv_geom g;
    float *col;
} conv_plan;

int cpu_conv_plan(backend *be, const conv_geom *g, int train_rows, int max_rows, void **plan)
{
    (void)train_rows, (void)max_rows;
    conv_plan *p = calloc(1, sizeof *p);
    size_t n = (size_t)g->in_c * g->k * g->k * g->out_h * g->out_w;
    size_t bytes = sizeof(float) * (n ? n : 1);
    be->bytes_allocated += bytes;
    if (p && !be->counting)
        p->col = malloc(bytes);
    if (!p || (!be->counting && !p->col)) {
        free(p);
        return err_set("out of host memory for a convolution's workspace (%zu floats)", n);
    }
    p->kind = 1;
    p->g = *g;
    *plan = p;
    return 0;
}

/* The output positions o (of n_out) whose input position o s - p + j lies
 * inside the n_in pixels: [*lo, *hi). Outside them a column is padding. */
static void inside_span(int n_in, int n_out, int stride, int pad, int j, int *lo, int *hi)
{
    int l = 0, h = n_out;
    while (l < h && l * stride - pad + j < 0)
        l++;
    while (h > l && (h - 1) * stride - pad + j >= n_in)
        h--;
    *lo = l;
    *hi = h;
}

/* col[(c k + i) k + j][oy W' + ox] = x[c][oy s - p + i][ox s - p + j], or 0
 * outside the image: a copy of the span inside, zeros around it. */
static void im2col(const conv_geom *g, const float *x, float *col)
{
    const int ohw = g->out_h * g->out_w, s = g->stride;
    for (int c = 0; c < g->in_c; c++)
        for (int i = 0; i < g->k; i++)
            for (int j = 0; j < g->k; j++) {
                float *row = col + (size_t)((c * g->k + i) * g->k + j) * ohw;
                const float *plane = x + (size_t)c * g->in_h * g->in_w;
                int lo, hi;
                inside_span(g->in_w, g->out_w, s, g->pad, j, &lo, &hi);
                for (int oy = 0; oy < g->out_h; oy++) {
                    int iy = oy * s - g->pad + i;
                    float *dst = row + oy * g->out_w;
                    if (iy < 0 || iy >= g->in_h || lo >= hi) {
                        memset(dst, 0, sizeof(float) * (size_t)g->out_w);
                        continue;
                    }
                    const float *src = plane + iy * g->in_w + lo * s - g->pad + j;
                    memset(dst, 0, sizeof(float) * (size_t)lo);
                    if (s == 1)
                        memcpy(dst + lo, src, sizeof(float) * (size_t)(hi - lo));
                    else
                        for (int ox = lo; ox < hi; ox++)
                            dst[ox] = src[(ox - lo) * s];
                    memset(dst + hi, 0, sizeof(float) * (size_t)(g->out_w - hi));
                }
            }
}

/* dst[o] += src[o] for n floats: the body of col2im_add at stride 1. */
CPU_SIMD static void add_row(float *restrict dst, const float *restrict src, int n)
{
    for (int o = 0; o < n; o++)
        dst[o] += src[o];
}

/* The adjoint of im2col: adds each column entry inside the image back to its
 * pixel. */
static void col2im_add(const conv_geom *g, const float *col, float *dx)
{
    const int ohw = g->out_h * g->out_w, s = g->stride;
    for (int c = 0; c < g->in_c; c++)
        for (int i = 0; i < g->k; i++)
            for (int j = 0; j < g->k; j++) {
                const float *row = col + (size_t)((c * g->k + i) * g->k + j) * ohw;
                float *plane = dx + (size_t)c * g->in_h * g->in_w;
                int lo, hi;
                inside_span(g->in_w, g->out_w, s, g->pad, j, &lo, &hi);
                for (int oy = 0; oy < g->out_h && lo < hi; oy++) {
                    int iy = oy * s - g->pad + i;
                    if (iy < 0 || iy >= g->in_h)
                        continue;
                    float *dst = plane + iy * g->in_w + lo * s - g->pad + j;
                    const float *src = row + oy * g->out_w + lo;
                    if (s == 1)
                        add_row(dst, src, hi - lo);
                    else
                        for (int ox = lo; ox < hi; ox++)
                            dst[(ox - lo) * s] += src[ox - lo];
                }
            }
}

int cpu_conv_forward(backend *be, void *plan, const float *x, const float *w, float *y, int rows)
{
    const precision_kind prec = precision_of_conv(be->precision);
    conv_plan *p = plan;
    const conv_geom *g = &p->g;
    const int ckk = g->in_c * g->k * g->k, ohw = g->out_h * g->out_w;
    const size_t in_sz = (size_t)g->in_c * g->in_h * g->in_w, out_sz = (size_t)g->out_c * ohw;
    for (int n = 0; n < rows; n++) {
        im2col(g, x + n * in_sz, p->col);
        if (cpu_gemm_at(be, prec, false, false, g->out_c, ohw, ckk, 1.0f, w, ckk, p->col, ohw, 0.0f,
                        y + n * out_sz, ohw) < 0)
            return -1;
    }
    return 0;
}

int cpu_conv_backward(backend *be, void *plan, const float *x, const float *w, const float *dy,
                      float *dw, float *dx, int rows)
{
    const precision_kind prec = precision_of_conv(be->precision);
    conv_plan *p = plan;
    const conv_geom *g = &p->g;
    const int ckk = g->in_c * g->k * g->k, ohw = g->out_h * g->out_w;
    const size_t in_sz = (size_t)g->in_c * g->in_h * g->in_w, out_sz = (size_t)g->out_c * ohw;
    for (int n = 0; n < rows; n++) {
        const float *dys = dy + n * out_sz;
        im2col(g, x + n * in_sz, p->col);
        /* dW (out_c x ckk) += dY (out_c x ohw) . col^T (ohw x ckk) */
        if (cpu_gemm_at(be, prec, false, true, g->out_c, ckk, ohw, 1.0f, dys, ohw, p->col, ohw,
                        n ? 1.0f : 0.0f, dw, ckk) < 0)
            return -1;
        if (!dx)
            continue;
        /* dcol (ckk x ohw) = W^T (ckk x out_c) . dY (out_c x ohw) */
        if (cpu_gemm_at(be, prec, true, false, ckk, ohw, g->out_c, 1.0f, w, ckk, dys, ohw, 0.0f,
                        p->col, ohw) < 0)
            return -1;
        memset(dx + n * in_sz, 0, sizeof(float) * in_sz);
        col2im_add(g, p->col, dx + n * in_sz);
    }
    if (rows == 0)
        memset(dw, 0, sizeof(float) * (size_t)g->out_c * ckk);
    return 0;
}

void cpu_plan_release(backend *be, void *plan)
{
    (void)be;
    conv_plan *p = plan;
    if (p && p->kind == 1)
        free(p->col);
    free(plan);
}
