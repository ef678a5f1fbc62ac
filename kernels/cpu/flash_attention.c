/* flash_attention: fused causal attention on the CPU (see backend.h), as
 * FlashAttention-2 (Dao, 2023) arranges it, for a core's caches rather
 * than a GPU's shared memory: no t x t buffer, only tiles of TILE x TILE
 * weights in each thread's scratch (some 140 KiB a thread at 64 features
 * a head: the second-level cache), and in the backward a head's queries,
 * d ctx and dQ, packed (3 x t x 64 floats).
 *
 * Forward, an item of work a (row, head, tile of TILE queries): the keys
 * and values stream through in tiles of TILE, each query keeping the
 * running maximum m and sum l of its exponentials (the online softmax),
 * its weighted sum of the values rescaled by e^(m_old - m_new) when the
 * maximum moves; then ctx = that sum / l and lse = m + log l. Key tiles
 * after a query tile's last query are never read, and in the diagonal
 * tile each query stops at its own position.
 *
 * Backward, an item a (row, head), whole: for each key tile in order, the
 * query tiles from the diagonal on recompute the scores s = q.k, the
 * weights P = e^(scale s - lse), dW = dO.v, and dS = scale P (dW z - D)
 * with D = dO.O (which is sum_j P dP, dropout or not); dK and dV are
 * summed over the query tiles in order in the scratch and written once,
 * and each key tile's share of dQ is added to it in order (the head's
 * queries and d ctx are packed once, its dQ summed in the scratch). A head's whole
 * backward on one thread: every sum has one order whatever the threads, so
 * the result repeats bit for bit, and rows x heads items (96 and more at
 * the shipped GPTs' batches) keep the threads busy.
 *
 * Every product of tiles is micro's: four rows by sixteen columns at a
 * time, each element summed over the inner index in order, a multiply then
 * an add (never fused: ISO C), so its bits do not depend on the vector
 * width. micro_avx2 holds the sixteen columns in two 8-float vectors; GCC
 * lowers such vectors badly for plain x86-64 (through memory, 2 GFLOP/s),
 * so micro_base, for CPUs without AVX2, holds them in four of 4 floats.
 * The operands are packed into the scratch first, the head width rounded
 * up to 16 with zeros, the keys (and values) transposed where the scores
 * (and dW) take them as columns.
 *
 * Dropout: weight (r, h, i, j)'s factor is dropout_forward's at index
 * first + ((r * heads + h) * t + i) * t + j (cpu_dropout_keep), drawn for
 * each row of a tile in the forward and again in the backward.
 *
 * Arithmetic is float32 at every train.precision: the fused products are
 * not gemm's, whose inputs the precision rounds. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/cpu_ops.h"
#include "util/err.h"

enum {
    TILE = 64, /* queries, and keys, a tile; tiles start at multiples of TILE */
    MR = 4,    /* rows of a micro-kernel */
    NR = 16,   /* its columns */
};

/* c[r][0..cols) = (add ? c[r][0..cols) : 0) + the sum over k < kn of
 * a(r, k) b[k][0..cols), for r < MR, where a(r, k) = a[r * ars + k * aks],
 * b's rows are ldb floats apart and c's ldc; cols a multiple of NR. */
typedef void micro_fn(float *restrict c, int ldc, const float *restrict a, int ars, int aks,
                      const float *restrict b, int ldb, int cols, int kn, bool add);

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define FLASH_AVX2 1
typedef float vec8 __attribute__((vector_size(32)));

__attribute__((target("arch=x86-64-v3"))) static void
micro_avx2(float *restrict c, int ldc, const float *restrict a, int ars, int aks,
           const float *restrict b, int ldb, int cols, int kn, bool add)
{
    for (int j = 0; j < cols; j += NR, c += NR, b += NR) {
        vec8 lo[MR], hi[MR];
        for (int r = 0; r < MR; r++)
            if (add) {
                memcpy(&lo[r], c + r * ldc, sizeof lo[r]);
                memcpy(&hi[r], c + r * ldc + 8, sizeof hi[r]);
            } else
                lo[r] = hi[r] = (vec8){0};
        for (int k = 0; k < kn; k++) {
            vec8 b0, b1;
            memcpy(&b0, b + (size_t)k * ldb, sizeof b0);
            memcpy(&b1, b + (size_t)k * ldb + 8, sizeof b1);
            for (int r = 0; r < MR; r++) {
                float x = a[r * ars + k * aks];
                lo[r] += x * b0;
                hi[r] += x * b1;
            }
        }
        for (int r = 0; r < MR; r++) {
            memcpy(c + r * ldc, &lo[r], sizeof lo[r]);
            memcpy(c + r * ldc + 8, &hi[r], sizeof hi[r]);
        }
    }
}
#endif

typedef float vec4 __attribute__((vector_size(16)));

/* Two rows at a time: sixteen registers of SSE hold their eight running
 * sums, a row of b and the broadcast. */
static void micro_base(float *restrict c, int ldc, const float *restrict a, int ars, int aks,
                       const float *restrict b, int ldb, int cols, int kn, bool add)
{
    for (int r0 = 0; r0 < MR; r0 += 2)
        for (int j = 0; j < cols; j += NR) {
            vec4 acc[2][4];
            for (int r = 0; r < 2; r++)
                for (int q = 0; q < 4; q++)
                    if (add)
                        memcpy(&acc[r][q], c + (r0 + r) * ldc + j + 4 * q, sizeof acc[r][q]);
                    else
                        acc[r][q] = (vec4){0};
            for (int k = 0; k < kn; k++) {
                vec4 row[4];
                memcpy(row, b + (size_t)k * ldb + j, sizeof row);
                for (int r = 0; r < 2; r++) {
                    float x = a[(r0 + r) * ars + k * aks];
                    for (int q = 0; q < 4; q++)
                        acc[r][q] += x * row[q];
                }
            }
            for (int r = 0; r < 2; r++)
                memcpy(c + (r0 + r) * ldc + j, acc[r], sizeof acc[r]);
        }
}

/* The products this CPU runs: AVX2's where it has x86-64-v3 (and the
 * tests have not asked for the others), else the baseline's. */
static micro_fn *micro_for(const backend *be)
{
#ifdef FLASH_AVX2
    if (!((const cpu_impl *)be->impl)->attn_baseline && __builtin_cpu_supports("x86-64-v3"))
        return micro_avx2;
#else
    (void)be;
#endif
    return micro_base;
}

static int round_up(int x, int to)
{
    return (x + to - 1) / to * to;
}

static int min_int(int a, int b)
{
    return a < b ? a : b;
}

/* One thread's tiles (floats; each a multiple of 16, so each starts
 * 64-byte aligned). hdp is the head width rounded up to NR. */
typedef struct {
    float *q;   /* TILE x hdp: the tile's queries (forward) */
    float *kt;  /* hdp x TILE: the keys, transposed */
    float *vt;  /* hdp x TILE: the values, transposed (backward) */
    float *kv;  /* TILE x hdp: the values (forward), the keys (backward) */
    float *acc; /* TILE x hdp: the weighted values (forward), a share of dQ (backward) */
    float *dk;  /* TILE x hdp: dK (backward) */
    float *dv;  /* TILE x hdp: dV (backward) */
    float *s;   /* TILE x TILE: scores, then weights */
    float *ds;  /* TILE x TILE: dW, then d scores (backward) */
    float *z;   /* TILE: a row's dropout factors */
    float *m;   /* TILE: the running maxima (forward) */
    float *l;   /* TILE: the running sums (forward) */
    /* the backward's, for a whole head: packed once, not for each tile */
    float *qa;  /* tpad x hdp: its queries */
    float *da;  /* tpad x hdp: d ctx */
    float *dqa; /* tpad x hdp: dQ, summed key tile by key tile */
    float *dd;  /* tpad: D = dO.O of each query */
} tiles;

/* A thread's floats: its tiles, and a whole head's rows where tpad (t
 * rounded up to MR; 0 for the forward) asks for them. */
static size_t tiles_floats(int hdp, int tpad)
{
    size_t head = tpad ? (size_t)3 * tpad * hdp + (size_t)round_up(tpad, NR) : 0;
    return (size_t)7 * TILE * hdp + (size_t)2 * TILE * TILE + (size_t)3 * TILE + head;
}

/* A pass of either direction over the backend's threads. */
typedef struct {
    const attn_args *a;
    const float *qkv, *ctx, *dctx, *lse; /* ctx, dctx: the backward's */
    float *out;                          /* forward: ctx; backward: dqkv */
    float *lse_out;                      /* forward: lse, or NULL */
    int hd, hdp;
    int tpad;         /* backward: t rounded up to MR; 0 forward */
    int tile0, tiles; /* forward: the first query tile and how many a (row, head) */
    micro_fn *micro;
    float *scratch; /* a slice of tiles_floats(hdp, tpad) for each thread */
    atomic_int slot;
} flash_pass;

/* The next free slice of the scratch: one for each range of the pass (at
 * most one a thread), whatever thread runs it. */
static tiles take_tiles(flash_pass *p)
{
    int slot = atomic_fetch_add_explicit(&p->slot, 1, memory_order_relaxed);
    float *f = p->scratch + (size_t)slot * tiles_floats(p->hdp, p->tpad);
    size_t big = (size_t)TILE * p->hdp, sq = (size_t)TILE * TILE;
    tiles w;
    w.q = f, w.kt = f + big, w.vt = f + 2 * big, w.kv = f + 3 * big;
    w.acc = f + 4 * big, w.dk = f + 5 * big, w.dv = f + 6 * big;
    w.s = f + 7 * big, w.ds = w.s + sq, w.z = w.ds + sq, w.m = w.z + TILE, w.l = w.m + TILE;
    size_t head = (size_t)p->tpad * p->hdp;
    w.qa = w.l + TILE, w.da = w.qa + head, w.dqa = w.da + head, w.dd = w.dqa + head;
    return w;
}

/* dst's rows 0 .. n-1 (hdp apart) = hd features of the n positions at src
 * (stride apart), zeros after hd; rows n .. pad-1 zero. */
static void pack_rows(float *dst, int hdp, const float *src, int stride, int n, int hd, int pad)
{
    for (int i = 0; i < pad; i++) {
        float *d = dst + (size_t)i * hdp;
        const float *x = src + (size_t)i * stride;
        int len = i < n ? hd : 0;
        for (int f = 0; f < len; f++) /* loops, not memcpy: rows are short */
            d[f] = x[f];
        for (int f = len; f < hdp; f++)
            d[f] = 0.0f;
    }
}

/* dst[f][j] (rows TILE apart) = feature f of position j at src, j < n;
 * columns n .. pad-1 zero. */
static void pack_cols(float *dst, const float *src, int stride, int n, int hd, int pad)
{
    for (int j = 0; j < n; j++)
        for (int f = 0; f < hd; f++)
            dst[(size_t)f * TILE + j] = src[(size_t)j * stride + f];
    for (int f = 0; f < hd; f++)
        for (int j = n; j < pad; j++)
            dst[(size_t)f * TILE + j] = 0.0f;
}

/* The largest of x[0..n-1], n >= 1, in CPU_LANES running maxima. */
static inline float lane_max(const float *x, int n)
{
    float acc[CPU_LANES];
    for (int l = 0; l < CPU_LANES; l++)
        acc[l] = x[0];
    int j = 0;
    for (; j + CPU_LANES <= n; j += CPU_LANES)
        for (int l = 0; l < CPU_LANES; l++)
            acc[l] = x[j + l] > acc[l] ? x[j + l] : acc[l];
    for (int l = 0; j < n; j++, l++)
        acc[l] = x[j] > acc[l] ? x[j] : acc[l];
    float mx = acc[0];
    for (int l = 1; l < CPU_LANES; l++)
        mx = acc[l] > mx ? acc[l] : mx;
    return mx;
}

/* The online softmax's step for one query over n keys of a tile: s (its
 * scores q.k) becomes its weights e^(scale s - m) times the dropout
 * factors z (NULL: none), zeros from n to `to`; m and l move on (first:
 * the query's first tile). Returns the factor its weighted sum of values
 * must be rescaled by. The maximum is of the scaled
 * scores, math.h's e^x. */
static inline float online_row(float *s, int n, int to, float scale, const float *z, float *m,
                               float *l, bool first)
{
    float mx = lane_max(s, n) * scale;
    if (!first && *m > mx)
        mx = *m;
    for (int j = 0; j < n; j++)
        s[j] = math_expf(s[j] * scale - mx);
    float sum = cpu_lane_dot(s, NULL, n);
    float alpha = first ? 0.0f : math_expf(*m - mx);
    *l = first ? sum : *l * alpha + sum;
    *m = mx;
    if (z)
        for (int j = 0; j < n; j++)
            s[j] *= z[j];
    for (int j = n; j < to; j++)
        s[j] = 0.0f;
    return alpha;
}

/* Position 0's features of head h in row r: its query; + c, its key;
 * + 2c, its value. */
static const float *head_of(const float *qkv, const attn_args *a, int r, int h)
{
    return qkv + (size_t)r * a->t * 3 * a->c + (size_t)h * (a->c / a->heads);
}

/* The dropout factors of query i's weights on keys j0 .. j0 + n - 1 into
 * z; NULL where there is no dropout. */
static const float *drop_row(const attn_args *a, int r, int h, int i, int j0, int n, float *z)
{
    if (a->rate <= 0.0f)
        return NULL;
    uint64_t at = a->first + (((uint64_t)r * a->heads + h) * a->t + i) * a->t + j0;
    cpu_dropout_keep(z, (size_t)n, a->rate, a->seed, a->layer, a->step, at);
    return z;
}

/* How many of the nk keys from position j0 on the queries of tile rows g
 * .. g + MR - 1 see (the tile's rows are positions i0 .. i0 + nr - 1):
 * those up to the group's last query. */
static int group_keys(int i0, int g, int nr, int j0, int nk)
{
    int last = i0 + min_int(g + MR, nr) - 1;
    return min_int(nk, last - j0 + 1);
}

/* One tile of keys and values against the query tile of rows i0 .. i0 +
 * nr - 1: scores, online softmax, weighted values. */
CPU_SIMD static void forward_keys(flash_pass *p, const tiles *w, int r, int h, int i0, int nr,
                                  int kt)
{
    const attn_args *a = p->a;
    int hd = p->hd, hdp = p->hdp, c3 = 3 * a->c, j0 = kt * TILE;
    int nk = min_int(TILE, i0 + nr - j0); /* keys up to the tile's last query */
    const float *k = head_of(p->qkv, a, r, h) + a->c + (size_t)j0 * c3;
    pack_cols(w->kt, k, c3, nk, hd, round_up(nk, NR));
    pack_rows(w->kv, hdp, k + a->c, c3, nk, hd, nk);
    for (int g = 0; g < nr; g += MR)
        p->micro(w->s + (size_t)g * TILE, TILE, w->q + (size_t)g * hdp, hdp, 1, w->kt, TILE,
                 round_up(group_keys(i0, g, nr, j0, nk), NR), hd, false);
    for (int ii = 0; ii < nr; ii++) {
        int n = min_int(nk, i0 + ii - j0 + 1);
        float *s = w->s + (size_t)ii * TILE;
        const float *z = drop_row(a, r, h, i0 + ii, j0, n, w->z);
        float alpha = online_row(s, n, nk, a->scale, z, &w->m[ii], &w->l[ii], kt == 0);
        if (kt > 0)
            for (int f = 0; f < hdp; f++)
                w->acc[(size_t)ii * hdp + f] *= alpha;
    }
    for (int g = 0; g < nr; g += MR)
        p->micro(w->acc + (size_t)g * hdp, hdp, w->s + (size_t)g * TILE, TILE, 1, w->kv, hdp, hdp,
                 group_keys(i0, g, nr, j0, nk), true);
}

/* Query tile qt of head h in row r: its queries q0 .. q0 + nq - 1. */
static void forward_item(flash_pass *p, const tiles *w, int r, int h, int qt)
{
    const attn_args *a = p->a;
    int hd = p->hd, hdp = p->hdp, c3 = 3 * a->c;
    int i0 = qt * TILE > a->q0 ? qt * TILE : a->q0;
    int nr = min_int(qt * TILE + TILE, a->q0 + a->nq) - i0, pad = round_up(nr, MR);
    pack_rows(w->q, hdp, head_of(p->qkv, a, r, h) + (size_t)i0 * c3, c3, nr, hd, pad);
    memset(w->acc, 0, sizeof(float) * (size_t)pad * hdp);
    for (int kt = 0; kt * TILE < i0 + nr; kt++)
        forward_keys(p, w, r, h, i0, nr, kt);
    for (int ii = 0; ii < nr; ii++) {
        size_t at = (size_t)r * a->t + i0 + ii;
        float *out = p->out + at * a->c + (size_t)h * hd, inv = 1.0f / w->l[ii];
        for (int f = 0; f < hd; f++)
            out[f] = w->acc[(size_t)ii * hdp + f] * inv;
        if (p->lse_out)
            p->lse_out[((size_t)r * a->heads + h) * a->t + i0 + ii] = w->m[ii] + logf(w->l[ii]);
    }
}

/* Items [from, to): (row, head, query tile), the tile fastest. */
static void forward_part(void *arg, size_t from, size_t to)
{
    flash_pass *p = arg;
    tiles w = take_tiles(p);
    for (size_t it = from; it < to; it++) {
        size_t rh = it / (size_t)p->tiles;
        forward_item(p, &w, (int)(rh / (size_t)p->a->heads), (int)(rh % (size_t)p->a->heads),
                     p->tile0 + (int)(it % (size_t)p->tiles));
    }
}

/* The backward of one query's weights on n keys of a tile: s (its
 * scores) becomes the dropped weights P z, dw (dW) the scores' gradient
 * scale P (dW z - d); zeros from n to `to`. */
static inline void backward_row(float *s, float *dw, int n, int to, float scale, float lse, float d,
                                const float *z)
{
    for (int j = 0; j < n; j++)
        s[j] = math_expf(s[j] * scale - lse);
    if (z)
        for (int j = 0; j < n; j++) {
            float p = s[j];
            s[j] = p * z[j];
            dw[j] = scale * p * (dw[j] * z[j] - d);
        }
    else
        for (int j = 0; j < n; j++)
            dw[j] = scale * s[j] * (dw[j] - d);
    for (int j = n; j < to; j++)
        s[j] = dw[j] = 0.0f;
}

/* Query tile qt against key tile kt (both packed in w): the block's share
 * of dK and dV (summed in w->dk, w->dv), and of dQ (added to w->dqa). */
CPU_SIMD static void backward_block(flash_pass *p, const tiles *w, int r, int h, int kt, int qt)
{
    const attn_args *a = p->a;
    int hd = p->hd, hdp = p->hdp;
    int i0 = qt * TILE, nr = min_int(TILE, a->t - i0);
    int j0 = kt * TILE, nk = min_int(TILE, a->t - j0), kpad = round_up(nk, MR);
    const float *q = w->qa + (size_t)i0 * hdp, *dout = w->da + (size_t)i0 * hdp;
    for (int g = 0; g < nr; g += MR) {
        int cols = round_up(group_keys(i0, g, nr, j0, nk), NR);
        p->micro(w->s + (size_t)g * TILE, TILE, q + (size_t)g * hdp, hdp, 1, w->kt, TILE, cols, hd,
                 false);
        p->micro(w->ds + (size_t)g * TILE, TILE, dout + (size_t)g * hdp, hdp, 1, w->vt, TILE, cols,
                 hd, false);
    }
    const float *lse = p->lse + ((size_t)r * a->heads + h) * a->t + i0;
    for (int ii = 0; ii < nr; ii++) {
        int n = min_int(nk, i0 + ii - j0 + 1);
        const float *z = drop_row(a, r, h, i0 + ii, j0, n, w->z);
        backward_row(w->s + (size_t)ii * TILE, w->ds + (size_t)ii * TILE, n, kpad, a->scale,
                     lse[ii], w->dd[i0 + ii], z);
    }
    /* dV += W^T dO, dK += dS^T Q: the keys' rows; in the diagonal block the
     * queries before a key group have no weight on it */
    for (int g = 0; g < nk; g += MR) {
        int k0 = qt == kt ? g : 0;
        p->micro(w->dv + (size_t)g * hdp, hdp, w->s + (size_t)k0 * TILE + g, 1, TILE,
                 dout + (size_t)k0 * hdp, hdp, hdp, nr - k0, true);
        p->micro(w->dk + (size_t)g * hdp, hdp, w->ds + (size_t)k0 * TILE + g, 1, TILE,
                 q + (size_t)k0 * hdp, hdp, hdp, nr - k0, true);
    }
    /* dQ += dS K */
    for (int g = 0; g < nr; g += MR)
        p->micro(w->acc + (size_t)g * hdp, hdp, w->ds + (size_t)g * TILE, TILE, 1, w->kv, hdp, hdp,
                 group_keys(i0, g, nr, j0, nk), false);
    float *dq = w->dqa + (size_t)i0 * hdp;
    for (size_t f = 0; f < (size_t)nr * hdp; f++)
        dq[f] += w->acc[f];
}

/* rows 0 .. n-1 of src (hdp apart), hd features each, over dst's (stride
 * apart) */
static void unpack_rows(float *dst, int stride, const float *src, int hdp, int n, int hd)
{
    for (int i = 0; i < n; i++)
        memcpy(dst + (size_t)i * stride, src + (size_t)i * hdp, sizeof(float) * (size_t)hd);
}

/* Head h of row r, whole: its queries', keys' and values' gradients. */
static void backward_item(flash_pass *p, const tiles *w, int r, int h)
{
    const attn_args *a = p->a;
    int hd = p->hd, hdp = p->hdp, c3 = 3 * a->c, tiles = (a->t + TILE - 1) / TILE;
    float *dq = p->out + (size_t)r * a->t * c3 + (size_t)h * hd;
    const float *q = head_of(p->qkv, a, r, h), *k = q + a->c;
    size_t at = (size_t)r * a->t; /* the row's first position in ctx and dctx */
    const float *o = p->ctx + at * a->c + (size_t)h * hd;
    const float *dout = p->dctx + at * a->c + (size_t)h * hd;
    pack_rows(w->qa, hdp, q, c3, a->t, hd, p->tpad);
    pack_rows(w->da, hdp, dout, a->c, a->t, hd, p->tpad);
    for (int i = 0; i < a->t; i++)
        w->dd[i] = cpu_lane_dot(dout + (size_t)i * a->c, o + (size_t)i * a->c, hd);
    memset(w->dqa, 0, sizeof(float) * (size_t)p->tpad * hdp);
    for (int kt = 0; kt < tiles; kt++) {
        int j0 = kt * TILE, nk = min_int(TILE, a->t - j0), kpad = round_up(nk, MR);
        size_t off = (size_t)j0 * c3;
        pack_cols(w->kt, k + off, c3, nk, hd, round_up(nk, NR));
        pack_cols(w->vt, k + a->c + off, c3, nk, hd, round_up(nk, NR));
        pack_rows(w->kv, hdp, k + off, c3, nk, hd, nk);
        memset(w->dk, 0, sizeof(float) * (size_t)kpad * hdp);
        memset(w->dv, 0, sizeof(float) * (size_t)kpad * hdp);
        for (int qt = kt; qt < tiles; qt++)
            backward_block(p, w, r, h, kt, qt);
        unpack_rows(dq + a->c + off, c3, w->dk, hdp, nk, hd);
        unpack_rows(dq + 2 * a->c + off, c3, w->dv, hdp, nk, hd);
    }
    unpack_rows(dq, c3, w->dqa, hdp, a->t, hd);
}

/* Items [from, to): (row, head). */
static void backward_part(void *arg, size_t from, size_t to)
{
    flash_pass *p = arg;
    tiles w = take_tiles(p);
    for (size_t it = from; it < to; it++)
        backward_item(p, &w, (int)(it / (size_t)p->a->heads), (int)(it % (size_t)p->a->heads));
}

static int check_args(const attn_args *a, const char *op)
{
    if (a->rows < 0 || a->t < 1 || a->heads < 1 || a->c < 1 || a->c % a->heads || a->q0 < 0 ||
        a->nq < 0 || a->q0 + a->nq > a->t || !(a->rate >= 0.0f && a->rate < 1.0f))
        return err_set("%s: no such attention: %d rows of %d positions, %d features in %d heads, "
                       "queries %d .. %d, dropout %g",
                       op, a->rows, a->t, a->c, a->heads, a->q0, a->q0 + a->nq - 1,
                       (double)a->rate);
    return 0;
}

/* The pass's common part, and the scratch for every thread, grown (in
 * the first step) to this head width's tiles. */
static int pass_open(backend *be, flash_pass *p, const attn_args *a, const char *op)
{
    if (check_args(a, op) < 0)
        return -1;
    cpu_impl *c = be->impl;
    p->a = a;
    p->hd = a->c / a->heads;
    p->hdp = round_up(p->hd, NR);
    p->micro = micro_for(be);
    size_t need = tiles_floats(p->hdp, p->tpad) * (size_t)cpu_workers_threads(c->workers);
    if (c->attn_scratch_cap < need) {
        free(c->attn_scratch);
        c->attn_scratch = aligned_alloc(64, sizeof(float) * need);
        c->attn_scratch_cap = c->attn_scratch ? need : 0;
        if (!c->attn_scratch)
            return err_set("%s: out of host memory for %zu bytes of tiles", op,
                           sizeof(float) * need);
        memset(c->attn_scratch, 0, sizeof(float) * need);
    }
    p->scratch = c->attn_scratch;
    atomic_init(&p->slot, 0);
    return 0;
}

/* Items worth a range of their own: some 4 M floating-point operations
 * (about 60 us at the products' pace), so that generation's one query a
 * head stays on the calling thread. */
static size_t flash_grain(double flops_per_item)
{
    const double work = 4e6;
    return flops_per_item >= work ? 1 : (size_t)(work / (flops_per_item > 1 ? flops_per_item : 1));
}

int cpu_attention_forward(backend *be, const float *qkv, float *ctx, float *lse, const attn_args *a)
{
    flash_pass p = {.qkv = qkv, .out = ctx, .lse_out = lse};
    if (pass_open(be, &p, a, "attention_forward") < 0)
        return -1;
    if (a->nq == 0 || a->rows == 0)
        return 0;
    p.tile0 = a->q0 / TILE;
    p.tiles = (a->q0 + a->nq - 1) / TILE - p.tile0 + 1;
    size_t items = (size_t)a->rows * a->heads * p.tiles;
    /* four products of a query by a key's features, over the keys it sees */
    double per = 4.0 * p.hd * (double)a->nq * (a->q0 + 0.5 * a->nq) / p.tiles;
    cpu_workers_run(cpu_workers_of(be), items, flash_grain(per), forward_part, &p);
    return 0;
}

int cpu_attention_backward(backend *be, const float *qkv, const float *ctx, const float *lse,
                           const float *dctx, float *dqkv, const attn_args *a)
{
    flash_pass p = {
        .qkv = qkv, .ctx = ctx, .dctx = dctx, .lse = lse, .out = dqkv, .tpad = round_up(a->t, MR)};
    if (pass_open(be, &p, a, "attention_backward") < 0)
        return -1;
    if (a->q0 != 0 || a->nq != a->t || !lse)
        return err_set("attention_backward: it takes all %d queries (asked %d .. %d) and the "
                       "forward's lse%s",
                       a->t, a->q0, a->q0 + a->nq - 1, lse ? "" : " (NULL given)");
    if (a->rows == 0)
        return 0;
    size_t items = (size_t)a->rows * a->heads;
    double per = 10.0 * p.hd * 0.5 * (double)a->t * a->t;
    cpu_workers_run(cpu_workers_of(be), items, flash_grain(per), backward_part, &p);
    return 0;
}
