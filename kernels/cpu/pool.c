/* pool: max and average pooling on the CPU, direct loops over each window.
 * Max pooling keeps no indices: backward finds each window's first maximum
 * again, the same element forward picked. */
#include <float.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/cpu_ops.h"
#include "util/err.h"

typedef struct {
    int kind; /* 2: pool (see conv.c) */
    pool_geom g;
} pool_plan;

int cpu_pool_plan(backend *be, const pool_geom *g, int max_rows, void **plan)
{
    (void)be, (void)max_rows;
    pool_plan *p = calloc(1, sizeof *p);
    if (!p)
        return err_set("out of host memory for a pooling plan");
    p->kind = 2;
    p->g = *g;
    *plan = p;
    return 0;
}

/* The flat index in the plane of the window's first maximum, or -1 when the
 * window lies wholly in the padding. */
static int window_argmax(const pool_geom *g, const float *plane, int oy, int ox)
{
    int best = -1;
    float best_v = -FLT_MAX;
    for (int i = 0; i < g->k_h; i++) {
        int iy = oy * g->stride - g->pad + i;
        if (iy < 0 || iy >= g->in_h)
            continue;
        for (int j = 0; j < g->k_w; j++) {
            int ix = ox * g->stride - g->pad + j;
            if (ix < 0 || ix >= g->in_w)
                continue;
            float v = plane[iy * g->in_w + ix];
            if (best < 0 || v > best_v) {
                best = iy * g->in_w + ix;
                best_v = v;
            }
        }
    }
    return best;
}

static float window_sum(const pool_geom *g, const float *plane, int oy, int ox)
{
    float s = 0.0f;
    for (int i = 0; i < g->k_h; i++) {
        int iy = oy * g->stride - g->pad + i;
        if (iy < 0 || iy >= g->in_h)
            continue;
        for (int j = 0; j < g->k_w; j++) {
            int ix = ox * g->stride - g->pad + j;
            if (ix >= 0 && ix < g->in_w)
                s += plane[iy * g->in_w + ix];
        }
    }
    return s;
}

/* Max pooling over 2 x 2 windows at stride 2 without padding, the usual
 * kind, has loops of its own: windows that tile the plane, compares without
 * branches, and no index arithmetic. Same picks as window_argmax. */
static bool is_max2x2(const pool_geom *g)
{
    return g->max && g->k_h == 2 && g->k_w == 2 && g->stride == 2 && g->pad == 0;
}

CPU_SIMD static void max2x2_forward(const pool_geom *g, const float *restrict src,
                                    float *restrict dst)
{
    for (int oy = 0; oy < g->out_h; oy++) {
        const float *r0 = src + 2 * oy * g->in_w, *r1 = r0 + g->in_w;
        float *out = dst + oy * g->out_w;
        for (int ox = 0; ox < g->out_w; ox++) {
            float v = r0[2 * ox];
            v = r0[2 * ox + 1] > v ? r0[2 * ox + 1] : v;
            v = r1[2 * ox] > v ? r1[2 * ox] : v;
            out[ox] = r1[2 * ox + 1] > v ? r1[2 * ox + 1] : v;
        }
    }
}

/* Writes every pixel a window covers: the gradient at the window's first
 * maximum, 0 at the other three. */
CPU_SIMD static void max2x2_backward(const pool_geom *g, const float *restrict src,
                                     const float *restrict d, float *restrict dst)
{
    for (int oy = 0; oy < g->out_h; oy++) {
        const float *r0 = src + 2 * oy * g->in_w, *r1 = r0 + g->in_w;
        float *d0 = dst + 2 * oy * g->in_w, *d1 = d0 + g->in_w;
        for (int ox = 0; ox < g->out_w; ox++) {
            float a = r0[2 * ox], b = r0[2 * ox + 1], c = r1[2 * ox], e = r1[2 * ox + 1];
            float gv = d[oy * g->out_w + ox];
            bool pb = b > a;
            float v = pb ? b : a;
            bool pc = c > v;
            v = pc ? c : v;
            bool pe = e > v;
            d1[2 * ox + 1] = pe ? gv : 0.0f;
            d1[2 * ox] = !pe && pc ? gv : 0.0f;
            d0[2 * ox + 1] = !pe && !pc && pb ? gv : 0.0f;
            d0[2 * ox] = !pe && !pc && !pb ? gv : 0.0f;
        }
    }
}

/* One input plane's output. */
static void forward_plane(const pool_geom *g, const float *src, float *dst)
{
    if (is_max2x2(g)) {
        max2x2_forward(g, src, dst);
        return;
    }
    const float inv = 1.0f / (float)(g->k_h * g->k_w);
    for (int oy = 0; oy < g->out_h; oy++)
        for (int ox = 0; ox < g->out_w; ox++) {
            float v;
            if (g->max) {
                int a = window_argmax(g, src, oy, ox);
                v = a < 0 ? 0.0f : src[a];
            } else {
                v = window_sum(g, src, oy, ox) * inv;
            }
            dst[oy * g->out_w + ox] = v;
        }
}

/* One input plane's gradient, from its output's. */
static void backward_plane(const pool_geom *g, const float *src, const float *d, float *dst)
{
    const bool tiled = g->in_h == 2 * g->out_h && g->in_w == 2 * g->out_w;
    if (!is_max2x2(g) || !tiled) /* else every pixel gets written */
        memset(dst, 0, sizeof(float) * (size_t)g->in_h * g->in_w);
    if (is_max2x2(g)) {
        max2x2_backward(g, src, d, dst);
        return;
    }
    const float inv = 1.0f / (float)(g->k_h * g->k_w);
    for (int oy = 0; oy < g->out_h; oy++)
        for (int ox = 0; ox < g->out_w; ox++) {
            float gv = d[oy * g->out_w + ox];
            if (g->max) {
                int a = window_argmax(g, src, oy, ox);
                if (a >= 0)
                    dst[a] += gv;
                continue;
            }
            for (int i = 0; i < g->k_h; i++) {
                int iy = oy * g->stride - g->pad + i;
                for (int j = 0; j < g->k_w && iy >= 0 && iy < g->in_h; j++) {
                    int ix = ox * g->stride - g->pad + j;
                    if (ix >= 0 && ix < g->in_w)
                        dst[iy * g->in_w + ix] += gv * inv;
                }
            }
        }
}

/* Planes [from, to) of a pass, for the backend's threads. */
typedef struct {
    const pool_geom *g;
    const float *x, *dy;
    float *y, *dx;
} pool_pass;

static void forward_part(void *arg, size_t from, size_t to)
{
    const pool_pass *p = arg;
    const size_t in_plane = (size_t)p->g->in_h * p->g->in_w;
    const size_t out_plane = (size_t)p->g->out_h * p->g->out_w;
    for (size_t k = from; k < to; k++)
        forward_plane(p->g, p->x + k * in_plane, p->y + k * out_plane);
}

static void backward_part(void *arg, size_t from, size_t to)
{
    const pool_pass *p = arg;
    const size_t in_plane = (size_t)p->g->in_h * p->g->in_w;
    const size_t out_plane = (size_t)p->g->out_h * p->g->out_w;
    for (size_t k = from; k < to; k++)
        backward_plane(p->g, p->x + k * in_plane, p->dy + k * out_plane, p->dx + k * in_plane);
}

int cpu_pool_forward(backend *be, void *plan, const float *x, float *y, int rows)
{
    pool_pass p = {.g = &((pool_plan *)plan)->g, .x = x, .y = y};
    size_t planes = (size_t)rows * p.g->c;
    cpu_workers_run(cpu_workers_of(be), planes, cpu_workers_grain((size_t)p.g->in_h * p.g->in_w),
                    forward_part, &p);
    return 0;
}

int cpu_pool_backward(backend *be, void *plan, const float *x, const float *y, const float *dy,
                      float *dx, int rows)
{
    (void)y;
    pool_pass p = {.g = &((pool_plan *)plan)->g, .x = x, .dy = dy, .dx = dx};
    size_t planes = (size_t)rows * p.g->c;
    cpu_workers_run(cpu_workers_of(be), planes, cpu_workers_grain((size_t)p.g->in_h * p.g->in_w),
                    backward_part, &p);
    return 0;
}
