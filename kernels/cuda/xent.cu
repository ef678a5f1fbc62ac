// xent: softmax cross-entropy forward and backward on the GPU
// (kernels/cpu/xent.c is the reference), in two shapes:
// - few classes (a classifier's): a thread per row through math_xent_row,
//   the very function the CPU backend calls, so the arithmetic is the
//   CPU's;
// - many (a language model's vocabulary, 256 to GPT-2's 50,257): a block
//   per row. One pass over the logits keeps, per thread, the running
//   maximum, the sum of e^(z - max) rescaled whenever the maximum grows,
//   and the first index of the maximum; the block merges them in a fixed
//   order (so a row's result repeats bit for bit). A second pass writes dz
//   when asked. The formulas are math_xent_row's: loss = log(sum) + max -
//   z[label], dz = (e^(z - max) / sum - [j = label]) * scale, the arg-max
//   the first maximum.
#include <limits.h>

#include "kernels/cuda/cuda_impl.h"
#include "kernels/cuda/launch.cuh"

// Rows of at most this many classes take a thread each.
static const int XENT_THREAD_COLS = 64;
static const int XENT_THREADS = 512; // a block of the block-per-row kernel

__global__ void xent_kernel(const float *z, const int32_t *labels, int rows, int cols, float scale,
                            float *dz, float *stats)
{
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows)
        return;
    int pred;
    float *dr = dz ? dz + (size_t)r * cols : NULL;
    stats[2 * r] = math_xent_row(z + (size_t)r * cols, cols, labels[r], scale, dr, &pred);
    stats[2 * r + 1] = pred == labels[r] ? 1.0f : 0.0f;
}

// A partial softmax: the maximum of some logits, the sum of e^(z - max)
// over them, and the first index of the maximum (INT_MAX: none yet).
typedef struct {
    float max, sum;
    int best;
} xent_part;

static __device__ xent_part xent_merge(xent_part a, xent_part b)
{
    bool take = b.max > a.max || (b.max == a.max && b.best < a.best);
    xent_part m = {take ? b.max : a.max, 0.0f, take ? b.best : a.best};
    // an empty part adds nothing (its max is -inf: e^(-inf - -inf) is NaN)
    float sa = a.sum == 0.0f ? 0.0f : a.sum * expf(a.max - m.max);
    float sb = b.sum == 0.0f ? 0.0f : b.sum * expf(b.max - m.max);
    m.sum = sa + sb;
    return m;
}

static __device__ xent_part xent_shfl_merge(xent_part p)
{
    for (int off = 16; off > 0; off /= 2) {
        xent_part o = {__shfl_down_sync(0xffffffffu, p.max, off),
                       __shfl_down_sync(0xffffffffu, p.sum, off),
                       __shfl_down_sync(0xffffffffu, p.best, off)};
        p = xent_merge(p, o);
    }
    return p;
}

__global__ void xent_rows_kernel(const float *z, const int32_t *labels, int cols, float scale,
                                 float *dz, float *stats)
{
    __shared__ xent_part parts[32];
    __shared__ xent_part whole;
    const float *zr = z + (size_t)blockIdx.x * cols;
    xent_part p = {-INFINITY, 0.0f, INT_MAX};
    for (int j = threadIdx.x; j < cols; j += blockDim.x) {
        float v = zr[j];
        if (v > p.max) {
            p.sum = (p.sum == 0.0f ? 0.0f : p.sum * expf(p.max - v)) + 1.0f;
            p.max = v;
            p.best = j;
        } else if (v != -INFINITY) { // e^(-inf - -inf) would be NaN
            p.sum += expf(v - p.max);
        }
    }
    p = xent_shfl_merge(p);
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    if (lane == 0)
        parts[warp] = p;
    __syncthreads();
    if (warp == 0) {
        xent_part none = {-INFINITY, 0.0f, INT_MAX};
        p = xent_shfl_merge(lane < (int)blockDim.x / 32 ? parts[lane] : none);
        if (lane == 0)
            whole = p;
    }
    __syncthreads();
    int label = labels[blockIdx.x];
    if (threadIdx.x == 0) {
        stats[2 * blockIdx.x] = logf(whole.sum) + whole.max - zr[label];
        stats[2 * blockIdx.x + 1] = whole.best == label ? 1.0f : 0.0f;
    }
    if (!dz)
        return;
    float inv = 1.0f / whole.sum, mx = whole.max;
    float *dr = dz + (size_t)blockIdx.x * cols;
    for (int j = threadIdx.x; j < cols; j += blockDim.x)
        dr[j] = (expf(zr[j] - mx) * inv - (j == label ? 1.0f : 0.0f)) * scale;
}

extern "C" int gpu_xent(backend *be, const float *z, const int32_t *labels, int rows, int cols,
                        float scale, float *dz, float *stats)
{
    if (rows == 0)
        return 0;
    if (cols <= XENT_THREAD_COLS) {
        unsigned blocks = (unsigned)((rows + CUK_THREADS - 1) / CUK_THREADS);
        xent_kernel<<<blocks, CUK_THREADS, 0, stream_of(be)>>>(z, labels, rows, cols, scale, dz,
                                                               stats);
        return KERNEL_LAUNCHED(xent_kernel);
    }
    xent_rows_kernel<<<rows, XENT_THREADS, 0, stream_of(be)>>>(z, labels, cols, scale, dz, stats);
    return KERNEL_LAUNCHED(xent_rows_kernel);
}
