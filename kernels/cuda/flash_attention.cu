// flash_attention: fused causal attention on the GPU (see backend.h), in
// the manner of FlashAttention-2, float32 on the CUDA cores: no t x t
// buffer anywhere, only tiles of it in shared memory.
//
// Forward: a block a tile of queries of one (row, head); the keys and
// values stream through in tiles, each query keeping its running maximum
// and sum of the exponentials (the online softmax), the weighted values
// rescaled when the maximum moves; then ctx = the sum over the sum of the
// exponentials, and lse = log of that sum (in the scores' units).
//
// Backward, three kernels, no atomics: attn_dot_kernel computes D_i = dO_i
// . O_i for every query (it equals sum_j P_ij dP_ij with or without
// dropout, the softmax backward's row term) into dqkv's q part, which the
// next kernel reads and the last overwrites; attn_dkdv_kernel, a block a
// tile of keys, walks the query tiles in order from the diagonal, the
// weights recomputed from q, k and the lse, and sums dK and dV in
// registers; attn_dq_kernel, a block a tile of queries, walks the key
// tiles in order and sums dQ. Each sum runs in one fixed order, so the
// results repeat bit for bit; the price is that the scores and dP are
// computed twice in the backward (seven tile products where
// FlashAttention-2, summing dQ with atomics, has five).
//
// Dropout: the weight of query i and key j has mask index first + ((r *
// heads + h) * t + i) * t + j, where the unfused path's (rows, heads, t,
// t) weights put it, and the same Philox numbers as dropout_forward's:
// one block computed for four consecutive indices (attn_dropout).
//
// A block is 256 threads, 16 x 16: thread (ty, tx) holds the tile rows
// ty, ty + 16, ... and the columns tx, tx + 16, ... of the scores, and
// the columns tx * n .. tx * n + n - 1 of a product over keys or queries
// (n = features / 16), so that it loads them in one go; each tile product
// sums over its inner index in order (attn_mma_*), and a row's maximum
// and sum are taken over its 16 threads by shuffles (attn_row_max, _sum),
// so every thread of the row gets the same bits. Shared memory rows are
// padded by 4 floats (attn_load). Static shared memory only, under the 48
// KiB a block takes without asking: tiles of 64 queries and 32 keys
// forward and 32 x 32 backward for heads up to 64 features, 32 x 32 and
// 16 x 16 for 128. An SM holds 3 or 4 blocks (55 to 80 registers a
// thread, by ptxas for sm_90).
//
// e^x is exp2f of the scores scaled by log2(e), not math.h's math_expf:
// one instruction on the GPU, within 2 ulp; the tests hold the results to
// the unfused CPU path within the tolerances they state.
#include "kernels/cuda/cuda_impl.h"
#include "kernels/cuda/launch.cuh"
#include "util/err.h"

enum { ATTN_THREADS = 256, ATTN_SIDE = 16 };

static constexpr float ATTN_LOG2E = 1.4426950408889634f, ATTN_LN2 = 0.6931471805599453f;

// The kernels' arguments, by value.
struct attn_params {
    int t, c, heads;
    int q0, qend; // forward: queries q0 .. qend - 1
    float scale;  // of the scores
    float scale2; // scale * log2(e): the scores in base 2
    float rate;   // dropout on the weights
    uint64_t seed, first;
    uint32_t stream, step;
};

// Tile sizes by head width, so that a block's static shared memory stays
// under 48 KiB (the forward's 64 x 32 at 64 features: 35 KiB; the dK and
// dV kernel's four 32-row tiles of q, k, v and dO and two of weights: 43
// KiB).
template <int HD> struct attn_tiles {
    static constexpr int FQ = HD > 64 ? 32 : 64; // forward: queries a block
    static constexpr int FK = 32;                // forward: keys a tile
    static constexpr int BT = HD > 64 ? 16 : 32; // backward: queries, and keys, a tile
};

// Rows 0 .. n - 1 of a tile from positions pos0, pos0 + 1, ... of one
// head (src: its first feature at position 0; positions `stride` floats
// apart); the rows from n on are zero. A row in shared memory is HD + 4
// floats: 16-byte aligned for the tile products' 128-bit loads, and 4
// banks on from the previous row, so 16 rows read at one column offset
// take two wavefronts, the least 256 bytes can. HD divides the block, so
// a thread keeps its feature and steps over rows.
template <int ROWS, int HD>
static __device__ void attn_load(float *dst, const float *src, size_t stride, int pos0, int n)
{
    constexpr int STEP = ATTN_THREADS / HD; // rows a pass of the block
    static_assert(ROWS % STEP == 0, "a tile is whole passes of the block");
    int d = threadIdx.x % HD, row = threadIdx.x / HD;
    const float *g = src + (size_t)(pos0 + row) * stride + d;
#pragma unroll
    for (int k = 0; k < ROWS / STEP; k++, row += STEP, g += STEP * stride)
        dst[row * (HD + 4) + d] = row < n ? *g : 0.0f;
}

// v = p[0 .. N - 1], in 64- or 128-bit loads (p aligned to them).
template <int N> static __device__ void attn_vec(float (&v)[N], const float *p)
{
    if constexpr (N == 1) {
        v[0] = p[0];
    } else if constexpr (N == 2) {
        float2 x = *reinterpret_cast<const float2 *>(p);
        v[0] = x.x, v[1] = x.y;
    } else {
#pragma unroll
        for (int i = 0; i < N; i += 4) {
            float4 x = *reinterpret_cast<const float4 *>(p + i);
            v[i] = x.x, v[i + 1] = x.y, v[i + 2] = x.z, v[i + 3] = x.w;
        }
    }
}

// The tile products: c[i][j] += the sum over k < K, in order, of
// A(ty + 16i, k) B(k, col j), the operands in shared memory as
//   _nt: A(row, k) = a[row * AS + k], B(k, col) = b[col * BS + k], col j =
//        tx + 16j (Q K^T, dO V^T): 128-bit loads along k of both;
//   _nn: A as _nt, B(k, col) = b[k * BS + col], col j = tx * RB + j (P V,
//        dS K): along k for A, along a thread's columns for B;
//   _tn: A(row, k) = a[k * AS + row], B as _nn (P^T dO, dS^T Q).
// Every load of A is one of two addresses a warp (its two ty), so a
// broadcast; B's are the 16 tx's, conflict-free or the least wavefronts.
template <int RA, int RB, int K, int AS, int BS>
static __device__ void attn_mma_nt(float (&c)[RA][RB], const float *a, const float *b)
{
    int ty = threadIdx.x / ATTN_SIDE, tx = threadIdx.x % ATTN_SIDE;
#pragma unroll 2
    for (int k = 0; k < K; k += 4) {
        float av[RA][4], bv[RB][4];
#pragma unroll
        for (int i = 0; i < RA; i++)
            attn_vec<4>(av[i], a + (ty + ATTN_SIDE * i) * AS + k);
#pragma unroll
        for (int j = 0; j < RB; j++)
            attn_vec<4>(bv[j], b + (tx + ATTN_SIDE * j) * BS + k);
#pragma unroll
        for (int i = 0; i < RA; i++)
#pragma unroll
            for (int j = 0; j < RB; j++)
#pragma unroll
                for (int e = 0; e < 4; e++)
                    c[i][j] = fmaf(av[i][e], bv[j][e], c[i][j]);
    }
}

template <int RA, int RB, int K, int AS, int BS>
static __device__ void attn_mma_nn(float (&c)[RA][RB], const float *a, const float *b)
{
    int ty = threadIdx.x / ATTN_SIDE, tx = threadIdx.x % ATTN_SIDE;
#pragma unroll 2
    for (int k = 0; k < K; k += 4) {
        float av[RA][4];
#pragma unroll
        for (int i = 0; i < RA; i++)
            attn_vec<4>(av[i], a + (ty + ATTN_SIDE * i) * AS + k);
#pragma unroll
        for (int e = 0; e < 4; e++) {
            float bv[RB];
            attn_vec<RB>(bv, b + (k + e) * BS + tx * RB);
#pragma unroll
            for (int i = 0; i < RA; i++)
#pragma unroll
                for (int j = 0; j < RB; j++)
                    c[i][j] = fmaf(av[i][e], bv[j], c[i][j]);
        }
    }
}

template <int RA, int RB, int K, int AS, int BS>
static __device__ void attn_mma_tn(float (&c)[RA][RB], const float *a, const float *b)
{
    int ty = threadIdx.x / ATTN_SIDE, tx = threadIdx.x % ATTN_SIDE;
#pragma unroll 4
    for (int k = 0; k < K; k++) {
        float av[RA], bv[RB];
#pragma unroll
        for (int i = 0; i < RA; i++)
            av[i] = a[k * AS + ty + ATTN_SIDE * i];
        attn_vec<RB>(bv, b + k * BS + tx * RB);
#pragma unroll
        for (int i = 0; i < RA; i++)
#pragma unroll
            for (int j = 0; j < RB; j++)
                c[i][j] = fmaf(av[i], bv[j], c[i][j]);
    }
}

// The maximum, and the sum, of v over the 16 threads of a tile row (half
// a warp), by butterfly: every one of them gets the same bits, since each
// step adds the same two values in either order. All 32 lanes take part.
static __device__ float attn_row_max(float v)
{
    for (int off = ATTN_SIDE / 2; off > 0; off /= 2)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, off));
    return v;
}

static __device__ float attn_row_sum(float v)
{
    for (int off = ATTN_SIDE / 2; off > 0; off /= 2)
        v += __shfl_xor_sync(0xffffffffu, v, off);
    return v;
}

// Dropout over a tile of weights in shared memory (ld floats a row): tile
// row `row` is query i0 + row, column `col` key j0 + col, of the (row,
// head) whose weight (0, 0) has mask index at0. A thread computes one
// Philox block, four consecutive indices (rng_block_at, as dropout_kernel
// does), and masks the tile's weights among them: a row's COLS keys touch
// at most COLS / 4 + 1 blocks. Rows from `rows` on, and blocks wholly past
// the causal diagonal (weights 0), draw nothing and take 0. MASK: the tile
// receives the mask's factors (0 or 1 / (1 - rate)); else its weights are
// multiplied by them.
template <int ROWS, int COLS, bool MASK>
static __device__ void attn_dropout(float *tile, int ld, int rows, int i0, int j0, uint64_t at0,
                                    const attn_params &p)
{
    constexpr int SLOTS = COLS / 4 + 1;
    for (int task = threadIdx.x; task < ROWS * SLOTS; task += ATTN_THREADS) {
        int row = task / SLOTS, i = i0 + row;
        uint64_t at = at0 + (uint64_t)i * p.t + j0;    // weight (i, j0)'s index
        uint64_t b0 = ((at >> 2) + task % SLOTS) << 2; // the block's first index
        long long k0 = (long long)b0 - (long long)at;  // ... as a tile column
        if (k0 >= COLS)
            continue;
        bool live = row < rows && j0 + (k0 > 0 ? k0 : 0) <= i; // any weight not masked
        rng_block b = {{0, 0, 0, 0}};
        if (live)
            b = rng_block_at(p.seed, p.stream, p.step, b0);
#pragma unroll
        for (int e = 0; e < 4; e++) {
            long long col = k0 + e;
            if (col < 0 || col >= COLS)
                continue;
            float f = live ? math_dropout_keep(rng_to_uniform(b.v[e]), p.rate) : 0.0f;
            float *w = tile + row * ld + col;
            *w = MASK ? f : *w * f;
        }
    }
}

// The weights' mask index of (row r, head h)'s query 0 and key 0.
static __device__ uint64_t attn_index0(const attn_params &p, int r, int h)
{
    return p.first + ((uint64_t)r * p.heads + h) * p.t * p.t;
}

// One key tile of the online softmax: s (the thread's scores, raw) become
// base-2 exponents, masked past the diagonal; each row's maximum m moves to
// the tile's where larger, its sum l and weighted values acc rescaled to
// it; the exponentials go to ps (the tile of weights, PL floats a row).
template <int RQ, int RK, int RD, int PL>
static __device__ void attn_online_softmax(float (&s)[RQ][RK], float (&m)[RQ], float (&l)[RQ],
                                           float (&acc)[RQ][RD], float *ps, int i0, int j0,
                                           float scale2)
{
    int ty = threadIdx.x / ATTN_SIDE, tx = threadIdx.x % ATTN_SIDE;
#pragma unroll
    for (int a = 0; a < RQ; a++) {
        int i = i0 + ty + ATTN_SIDE * a;
        float mx = -INFINITY;
#pragma unroll
        for (int b = 0; b < RK; b++) {
            s[a][b] = j0 + tx + ATTN_SIDE * b <= i ? s[a][b] * scale2 : -INFINITY;
            mx = fmaxf(mx, s[a][b]);
        }
        // finite: every row's first tile holds key 0, which it sees
        float mnew = fmaxf(m[a], attn_row_max(mx));
        float alpha = exp2f(m[a] - mnew); // 0 on the first tile (m = -inf)
        m[a] = mnew;
        float sum = 0.0f;
#pragma unroll
        for (int b = 0; b < RK; b++) {
            float e = exp2f(s[a][b] - mnew);
            sum += e;
            ps[(ty + ATTN_SIDE * a) * PL + tx + ATTN_SIDE * b] = e;
        }
        l[a] = l[a] * alpha + sum;
#pragma unroll
        for (int d = 0; d < RD; d++)
            acc[a][d] *= alpha;
    }
}

// Block (x, h, r): queries q0 + x' * FQ .. of row r, head h, x' counting
// from the last tile (the longest: most keys) so that those start first.
template <int HD>
__global__ void __launch_bounds__(ATTN_THREADS)
    attn_forward_kernel(const float *qkv, float *ctx, float *lse, attn_params p)
{
    constexpr int BQ = attn_tiles<HD>::FQ, BK = attn_tiles<HD>::FK;
    constexpr int LD = HD + 4, PL = BK + 4;
    constexpr int RQ = BQ / ATTN_SIDE, RK = BK / ATTN_SIDE, RD = HD / ATTN_SIDE;
    __shared__ __align__(16) float qs[BQ * LD], kv[BK * LD], ps[BQ * PL];
    int ty = threadIdx.x / ATTN_SIDE, tx = threadIdx.x % ATTN_SIDE;
    int h = blockIdx.y, r = blockIdx.z;
    int i0 = p.q0 + (int)(gridDim.x - 1 - blockIdx.x) * BQ;
    int n = min(BQ, p.qend - i0);
    size_t stride = 3 * (size_t)p.c;
    const float *q = qkv + (size_t)r * p.t * stride + h * HD, *k = q + p.c, *v = q + 2 * p.c;
    attn_load<BQ, HD>(qs, q, stride, i0, n);
    float m[RQ], l[RQ], acc[RQ][RD];
#pragma unroll
    for (int a = 0; a < RQ; a++) {
        m[a] = -INFINITY, l[a] = 0.0f;
#pragma unroll
        for (int d = 0; d < RD; d++)
            acc[a][d] = 0.0f;
    }
    uint64_t at0 = attn_index0(p, r, h);
    for (int j0 = 0; j0 < i0 + n; j0 += BK) { // the keys up to the last query's
        int nk = min(BK, p.t - j0);
        attn_load<BK, HD>(kv, k, stride, j0, nk);
        __syncthreads();
        float s[RQ][RK] = {};
        attn_mma_nt<RQ, RK, HD, LD, LD>(s, qs, kv);
        attn_online_softmax<RQ, RK, RD, PL>(s, m, l, acc, ps, i0, j0, p.scale2);
        __syncthreads(); // the keys read, the weights written
        if (p.rate > 0.0f)
            attn_dropout<BQ, BK, false>(ps, PL, n, i0, j0, at0, p);
        attn_load<BK, HD>(kv, v, stride, j0, nk);
        __syncthreads();
        attn_mma_nn<RQ, RD, BK, PL, LD>(acc, ps, kv);
        __syncthreads(); // before the next tile overwrites kv and ps
    }
#pragma unroll
    for (int a = 0; a < RQ; a++) {
        float sum = attn_row_sum(l[a]);
        int row = ty + ATTN_SIDE * a, i = i0 + row;
        if (row >= n)
            continue;
        float *o = ctx + ((size_t)r * p.t + i) * p.c + h * HD;
#pragma unroll
        for (int d = 0; d < RD; d++)
            o[tx * RD + d] = acc[a][d] / sum;
        if (lse && tx == 0)
            lse[((size_t)r * p.heads + h) * p.t + i] = (m[a] + log2f(sum)) * ATTN_LN2;
    }
}

// dO . O of one head's position, in feature order: the same bits in
// attn_dot_kernel and attn_dq_kernel.
template <int HD> static __device__ float attn_dot(const float *x, const float *y)
{
    float s = 0.0f;
    for (int d = 0; d < HD; d++)
        s = fmaf(x[d], y[d], s);
    return s;
}

// D of (row, head, query) into dqkv's element h of that position's q
// part: a thread a (position, head), heads side by side in memory.
template <int HD>
__global__ void attn_dot_kernel(const float *ctx, const float *dctx, float *dqkv, size_t n,
                                attn_params p)
{
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < n;
         e += (size_t)gridDim.x * blockDim.x) {
        size_t pos = e / p.heads, at = pos * p.c + (e % p.heads) * HD;
        dqkv[pos * 3 * p.c + e % p.heads] = attn_dot<HD>(dctx + at, ctx + at);
    }
}

// One tile of the backward, query rows i0 + ty + 16a and keys j0 + tx +
// 16b: the weight P recomputed from the score and the row's lse (base 2,
// lse2; 0 past the diagonal), dP = dO . v, the mask's factor f (from
// `mask` with dropout: every element is read, then written, by its own
// thread, so mask may be pw or ds), ds = P (dP f - D) (the scores'
// gradient over `scale`), and P f into pw where given.
template <int HD, int BT>
static __device__ void attn_grad_tile(float *pw, float *ds, const float *mask, const float *qs,
                                      const float *ks, const float *dos, const float *vs,
                                      const float *lse2, const float *dd, int i0, int j0,
                                      const attn_params &p)
{
    constexpr int LD = HD + 4, PL = BT + 4, R = BT / ATTN_SIDE;
    int ty = threadIdx.x / ATTN_SIDE, tx = threadIdx.x % ATTN_SIDE;
    float s[R][R] = {}, dp[R][R] = {};
    attn_mma_nt<R, R, HD, LD, LD>(s, qs, ks);
    attn_mma_nt<R, R, HD, LD, LD>(dp, dos, vs);
#pragma unroll
    for (int a = 0; a < R; a++)
#pragma unroll
        for (int b = 0; b < R; b++) {
            int row = ty + ATTN_SIDE * a, col = tx + ATTN_SIDE * b, e = row * PL + col;
            float w = j0 + col <= i0 + row ? exp2f(s[a][b] * p.scale2 - lse2[row]) : 0.0f;
            float f = p.rate > 0.0f ? mask[e] : 1.0f;
            if (pw)
                pw[e] = w * f;
            ds[e] = w * (dp[a][b] * f - dd[row]);
        }
}

// A query tile's lse in base 2, +inf from row n on (so their weights are
// 0), into lse2.
template <int BT> static __device__ void attn_tile_lse(float *lse2, const float *lse, int i0, int n)
{
    int row = threadIdx.x;
    if (row < BT)
        lse2[row] = row < n ? lse[i0 + row] * ATTN_LOG2E : INFINITY;
}

// Block (x, h, r): keys x * BT .. of row r, head h (x = 0, the most query
// tiles, first); dK and dV summed over the query tiles in order, from the
// diagonal's. D is read from dqkv (attn_dot_kernel's).
template <int HD>
__global__ void __launch_bounds__(ATTN_THREADS)
    attn_dkdv_kernel(const float *qkv, const float *lse, const float *dctx, float *dqkv,
                     attn_params p)
{
    constexpr int BT = attn_tiles<HD>::BT, LD = HD + 4, PL = BT + 4;
    constexpr int R = BT / ATTN_SIDE, RD = HD / ATTN_SIDE;
    __shared__ __align__(16) float ks[BT * LD], vs[BT * LD], qs[BT * LD], dos[BT * LD];
    __shared__ __align__(16) float pw[BT * PL], ds[BT * PL], lse2[BT], dd[BT];
    int ty = threadIdx.x / ATTN_SIDE, tx = threadIdx.x % ATTN_SIDE;
    int h = blockIdx.y, r = blockIdx.z, j0 = blockIdx.x * BT, nk = min(BT, p.t - j0);
    size_t stride = 3 * (size_t)p.c;
    const float *q = qkv + (size_t)r * p.t * stride + h * HD;
    const float *dout = dctx + (size_t)r * p.t * p.c + h * HD;
    const float *lse_rh = lse + ((size_t)r * p.heads + h) * p.t;
    float *dqkv_r = dqkv + (size_t)r * p.t * stride;
    attn_load<BT, HD>(ks, q + p.c, stride, j0, nk);
    attn_load<BT, HD>(vs, q + 2 * p.c, stride, j0, nk);
    float dk[R][RD] = {}, dv[R][RD] = {};
    uint64_t at0 = attn_index0(p, r, h);
    for (int i0 = j0; i0 < p.t; i0 += BT) {
        int n = min(BT, p.t - i0);
        attn_load<BT, HD>(qs, q, stride, i0, n);
        attn_load<BT, HD>(dos, dout, p.c, i0, n);
        attn_tile_lse<BT>(lse2, lse_rh, i0, n);
        if (threadIdx.x < BT) // D, where attn_dot_kernel put it
            dd[threadIdx.x] =
                threadIdx.x < n ? dqkv_r[(size_t)(i0 + threadIdx.x) * stride + h] : 0.0f;
        if (p.rate > 0.0f)
            attn_dropout<BT, BT, true>(pw, PL, n, i0, j0, at0, p);
        __syncthreads();
        attn_grad_tile<HD, BT>(pw, ds, pw, qs, ks, dos, vs, lse2, dd, i0, j0, p);
        __syncthreads();
        attn_mma_tn<R, RD, BT, PL, LD>(dv, pw, dos); // dV += (P f)^T dO
        attn_mma_tn<R, RD, BT, PL, LD>(dk, ds, qs);  // dK += dS^T Q
        __syncthreads();                             // before the next tile overwrites them
    }
#pragma unroll
    for (int a = 0; a < R; a++) {
        int row = ty + ATTN_SIDE * a;
        if (row >= nk)
            continue;
        float *g = dqkv_r + (size_t)(j0 + row) * stride + h * HD;
#pragma unroll
        for (int d = 0; d < RD; d++) {
            g[p.c + tx * RD + d] = dk[a][d] * p.scale;
            g[2 * p.c + tx * RD + d] = dv[a][d];
        }
    }
}

// Block (x, h, r): queries of row r, head h, counting tiles from the last
// (the most key tiles) first; dQ summed over the key tiles in order. Its
// D is computed here (dqkv's q part, where attn_dot_kernel left it, is
// what this kernel writes, for every head).
template <int HD>
__global__ void __launch_bounds__(ATTN_THREADS)
    attn_dq_kernel(const float *qkv, const float *ctx, const float *lse, const float *dctx,
                   float *dqkv, attn_params p)
{
    constexpr int BT = attn_tiles<HD>::BT, LD = HD + 4, PL = BT + 4;
    constexpr int R = BT / ATTN_SIDE, RD = HD / ATTN_SIDE;
    __shared__ __align__(16) float qs[BT * LD], dos[BT * LD], ks[BT * LD], vs[BT * LD];
    __shared__ __align__(16) float ds[BT * PL], lse2[BT], dd[BT];
    int ty = threadIdx.x / ATTN_SIDE, tx = threadIdx.x % ATTN_SIDE;
    int h = blockIdx.y, r = blockIdx.z, i0 = (int)(gridDim.x - 1 - blockIdx.x) * BT;
    int n = min(BT, p.t - i0);
    size_t stride = 3 * (size_t)p.c;
    const float *q = qkv + (size_t)r * p.t * stride + h * HD;
    const float *dout = dctx + (size_t)r * p.t * p.c + h * HD;
    const float *o = ctx + (size_t)r * p.t * p.c + h * HD;
    attn_load<BT, HD>(qs, q, stride, i0, n);
    attn_load<BT, HD>(dos, dout, p.c, i0, n);
    attn_tile_lse<BT>(lse2, lse + ((size_t)r * p.heads + h) * p.t, i0, n);
    if (threadIdx.x < BT) {
        size_t at = (size_t)(i0 + threadIdx.x) * p.c;
        dd[threadIdx.x] = threadIdx.x < n ? attn_dot<HD>(dout + at, o + at) : 0.0f;
    }
    float dq[R][RD] = {};
    uint64_t at0 = attn_index0(p, r, h);
    for (int j0 = 0; j0 < i0 + n; j0 += BT) {
        int nk = min(BT, p.t - j0);
        attn_load<BT, HD>(ks, q + p.c, stride, j0, nk);
        attn_load<BT, HD>(vs, q + 2 * p.c, stride, j0, nk);
        if (p.rate > 0.0f)
            attn_dropout<BT, BT, true>(ds, PL, n, i0, j0, at0, p);
        __syncthreads();
        attn_grad_tile<HD, BT>(nullptr, ds, ds, qs, ks, dos, vs, lse2, dd, i0, j0, p);
        __syncthreads();
        attn_mma_nn<R, RD, BT, PL, LD>(dq, ds, ks); // dQ += dS K
        __syncthreads();
    }
#pragma unroll
    for (int a = 0; a < R; a++) {
        int row = ty + ATTN_SIDE * a;
        if (row >= n)
            continue;
        float *g = dqkv + ((size_t)r * p.t + i0 + row) * stride + h * HD;
#pragma unroll
        for (int d = 0; d < RD; d++)
            g[tx * RD + d] = dq[a][d] * p.scale;
    }
}

// What both directions check: the shape, a head width with a kernel, the
// grid's limits (rows and heads are its y and z); *hd = the width.
static int attn_check(const char *op, const attn_args *a, int *hd)
{
    if (a->rows < 0 || a->t < 1 || a->heads < 1 || a->c < a->heads || a->c % a->heads)
        return err_set("%s: no attention of %d rows of %d positions, %d features in %d heads", op,
                       a->rows, a->t, a->c, a->heads);
    *hd = a->c / a->heads;
    if (*hd != 16 && *hd != 32 && *hd != 64 && *hd != 128)
        return err_set("%s: heads of %d features (%d features, %d heads) have no GPU kernel: the "
                       "fused attention takes 16, 32, 64 or 128 a head; change the layer's heads",
                       op, *hd, a->c, a->heads);
    if (a->rows > 65535 || a->heads > 65535)
        return err_set("%s: %d rows, %d heads: at most 65,535 of each in one call", op, a->rows,
                       a->heads);
    if (!(a->rate >= 0.0f && a->rate < 1.0f))
        return err_set("%s: dropout rate %g is not in [0, 1)", op, (double)a->rate);
    return 0;
}

static attn_params attn_params_of(const attn_args *a)
{
    attn_params p;
    p.t = a->t, p.c = a->c, p.heads = a->heads;
    p.q0 = a->q0, p.qend = a->q0 + a->nq;
    p.scale = a->scale;
    p.scale2 = (float)((double)a->scale * 1.4426950408889634);
    p.rate = a->rate;
    p.seed = a->seed, p.first = a->first;
    p.stream = RNG_STREAM_DROPOUT | a->layer, p.step = a->step;
    return p;
}

template <int HD>
static int attn_forward_launch(cudaStream_t s, const float *qkv, float *ctx, float *lse,
                               const attn_params &p, int rows)
{
    constexpr int BQ = attn_tiles<HD>::FQ;
    dim3 grid((unsigned)((p.qend - p.q0 + BQ - 1) / BQ), (unsigned)p.heads, (unsigned)rows);
    attn_forward_kernel<HD><<<grid, ATTN_THREADS, 0, s>>>(qkv, ctx, lse, p);
    return KERNEL_LAUNCHED(attn_forward_kernel);
}

extern "C" int gpu_attention_forward(backend *be, const float *qkv, float *ctx, float *lse,
                                     const attn_args *a)
{
    int hd = 0;
    if (attn_check("attention_forward", a, &hd) < 0)
        return -1;
    if (a->q0 < 0 || a->nq < 0 || a->nq > a->t - a->q0)
        return err_set("attention_forward: queries %d .. %d are not among the %d positions", a->q0,
                       a->q0 + a->nq - 1, a->t);
    if (a->rows == 0 || a->nq == 0)
        return 0;
    attn_params p = attn_params_of(a);
    cudaStream_t s = stream_of(be);
    switch (hd) {
    case 16:
        return attn_forward_launch<16>(s, qkv, ctx, lse, p, a->rows);
    case 32:
        return attn_forward_launch<32>(s, qkv, ctx, lse, p, a->rows);
    case 64:
        return attn_forward_launch<64>(s, qkv, ctx, lse, p, a->rows);
    default:
        return attn_forward_launch<128>(s, qkv, ctx, lse, p, a->rows);
    }
}

// The three kernels in order: D into dqkv's q part, dK and dV (reading
// D), dQ (overwriting D).
template <int HD>
static int attn_backward_launch(cudaStream_t s, const float *qkv, const float *ctx,
                                const float *lse, const float *dctx, float *dqkv,
                                const attn_params &p, int rows)
{
    constexpr int BT = attn_tiles<HD>::BT;
    size_t n = (size_t)rows * p.t * p.heads;
    attn_dot_kernel<HD><<<cuk_blocks(n), CUK_THREADS, 0, s>>>(ctx, dctx, dqkv, n, p);
    if (KERNEL_LAUNCHED(attn_dot_kernel) < 0)
        return -1;
    dim3 grid((unsigned)((p.t + BT - 1) / BT), (unsigned)p.heads, (unsigned)rows);
    attn_dkdv_kernel<HD><<<grid, ATTN_THREADS, 0, s>>>(qkv, lse, dctx, dqkv, p);
    if (KERNEL_LAUNCHED(attn_dkdv_kernel) < 0)
        return -1;
    attn_dq_kernel<HD><<<grid, ATTN_THREADS, 0, s>>>(qkv, ctx, lse, dctx, dqkv, p);
    return KERNEL_LAUNCHED(attn_dq_kernel);
}

extern "C" int gpu_attention_backward(backend *be, const float *qkv, const float *ctx,
                                      const float *lse, const float *dctx, float *dqkv,
                                      const attn_args *a)
{
    int hd = 0;
    if (attn_check("attention_backward", a, &hd) < 0)
        return -1;
    if (a->q0 != 0 || a->nq != a->t)
        return err_set("attention_backward: it takes all %d queries (q0 = 0, nq = %d), not q0 = "
                       "%d, nq = %d",
                       a->t, a->t, a->q0, a->nq);
    if (a->rows == 0)
        return 0;
    attn_params p = attn_params_of(a);
    cudaStream_t s = stream_of(be);
    switch (hd) {
    case 16:
        return attn_backward_launch<16>(s, qkv, ctx, lse, dctx, dqkv, p, a->rows);
    case 32:
        return attn_backward_launch<32>(s, qkv, ctx, lse, dctx, dqkv, p, a->rows);
    case 64:
        return attn_backward_launch<64>(s, qkv, ctx, lse, dctx, dqkv, p, a->rows);
    default:
        return attn_backward_launch<128>(s, qkv, ctx, lse, dctx, dqkv, p, a->rows);
    }
}
