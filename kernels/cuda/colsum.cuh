/* colsum: sums over rows, column by column, in two passes that use the
 * whole GPU and repeat bit for bit. A thread a column walking every row
 * (8,192 of them for GPT-2's micro-batch) keeps a few thousand threads
 * busy, each a long chain of dependent loads; here the rows are cut into
 * colsum_ranges() fixed ranges, each summed in row order by a thread a
 * column into a partial (the first pass: columns x ranges threads), then
 * each column's partials are added in range order (the second). The
 * ranges depend on the shape alone, never on the device, so a result is
 * the same bits on every run and every GPU; it is the CPU's within
 * rounding (which sums the rows in one pass). The partials live in the
 * backend's scratch (cuda_impl.colsum_partials, CUK_COLSUM_FLOATS). */
#ifndef ACCEL_CUDA_COLSUM_CUH
#define ACCEL_CUDA_COLSUM_CUH

#include "kernels/cuda/cuda_impl.h"
#include "kernels/cuda/launch.cuh"

/* At most this many ranges, and at least this many rows in one. */
enum { COLSUM_MAX_RANGES = 64, COLSUM_MIN_ROWS = 64 };

/* How many ranges `rows` rows of `cols` columns are cut into, for
 * `outputs` sums a column (layer norm's dg and db: 2): as many as the
 * scratch holds, up to COLSUM_MAX_RANGES; 1 (a single pass) for a shape
 * too wide for two. */
static inline int colsum_ranges(int rows, int cols, int outputs)
{
    long by_rows = rows / COLSUM_MIN_ROWS, by_room = CUK_COLSUM_FLOATS / ((long)cols * outputs);
    long r = by_rows < by_room ? by_rows : by_room;
    r = r < (long)COLSUM_MAX_RANGES ? r : (long)COLSUM_MAX_RANGES;
    return r > 1 ? (int)r : 1;
}

/* Range k of `ranges` over `rows`: [*from, *to). */
static __device__ inline void colsum_range(int rows, int ranges, int k, int *from, int *to)
{
    *from = (int)((long)rows * k / ranges);
    *to = (int)((long)rows * (k + 1) / ranges);
}

/* The second pass: out[c] = the sum, in range order, of partials[k * cols
 * + c] over the ranges. */
static __global__ void colsum_finish_kernel(const float *partials, float *out, int ranges, int cols)
{
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= cols)
        return;
    float s = 0.0f;
    for (int k = 0; k < ranges; k++)
        s = __fadd_rn(s, partials[(size_t)k * cols + c]);
    out[c] = s;
}

static inline int colsum_finish(cudaStream_t s, const float *partials, float *out, int ranges,
                                int cols)
{
    unsigned blocks = (unsigned)((cols + CUK_THREADS - 1) / CUK_THREADS);
    colsum_finish_kernel<<<blocks, CUK_THREADS, 0, s>>>(partials, out, ranges, cols);
    return KERNEL_LAUNCHED(colsum_finish_kernel);
}

#endif
