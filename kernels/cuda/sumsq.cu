// sumsq: the squared L2 norm of a flat buffer, or of ranges of it, in
// double, in two passes: each of CUK_SUMSQ_BLOCKS blocks reduces a fixed,
// strided share into one partial, then one block adds the partials in
// order. No atomics, so the result is the same bits on every run. The
// partials and the result live in the backend's scratch (cuda_impl),
// allocated when it opens; the host waits once, for the result.
#include "kernels/cuda/cuda_impl.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/reduce.cuh"
#include "util/err.h"

// The ranges one launch takes, in its parameters (4 KiB at most, with the
// rest): a sharded GPT-2 rank's parts of the gradient (about 150) in one.
enum { SUMSQ_SPANS = 384 };

typedef struct {
    unsigned from[SUMSQ_SPANS], len[SUMSQ_SPANS];
    int n;
} sumsq_spans;

__global__ void sumsq_partial_kernel(const float *x, size_t n, double *partials)
{
    double acc = 0.0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        acc += (double)x[i] * x[i];
    __shared__ double scratch[32];
    acc = block_sum(acc, scratch);
    if (threadIdx.x == 0)
        partials[blockIdx.x] = acc;
}

// Every thread walks every span, the same share of each: the order of
// additions is fixed by the spans and the grid alone.
__global__ void sumsq_spans_kernel(const float *x, sumsq_spans s, double *partials)
{
    double acc = 0.0;
    size_t first = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (int k = 0; k < s.n; k++) {
        const float *p = x + s.from[k];
        for (size_t i = first; i < s.len[k]; i += stride)
            acc += (double)p[i] * p[i];
    }
    __shared__ double scratch[32];
    acc = block_sum(acc, scratch);
    if (threadIdx.x == 0)
        partials[blockIdx.x] = acc;
}

// *result = the sum of the first `blocks` partials, added to what it
// holds when `add`.
__global__ void sumsq_final_kernel(const double *partials, int blocks, double *result, bool add)
{
    double v = threadIdx.x < blocks ? partials[threadIdx.x] : 0.0;
    __shared__ double scratch[32];
    v = block_sum(v, scratch);
    if (threadIdx.x == 0)
        *result = (add ? *result : 0.0) + v;
}

static int finish(cuda_impl *c, int blocks, bool add)
{
    sumsq_final_kernel<<<1, CUK_SUMSQ_BLOCKS, 0, c->compute>>>(c->sumsq_partials, blocks,
                                                               c->sumsq_result, add);
    return KERNEL_LAUNCHED(sumsq_final_kernel);
}

static int read_result(cuda_impl *c, double *out)
{
    CUDA_TRY(
        cudaMemcpyAsync(out, c->sumsq_result, sizeof *out, cudaMemcpyDeviceToHost, c->compute));
    CUDA_TRY(cudaStreamSynchronize(c->compute));
    return 0;
}

extern "C" int gpu_sumsq(backend *be, const float *x, size_t n, double *out)
{
    cuda_impl *c = impl_of(be);
    sumsq_partial_kernel<<<CUK_SUMSQ_BLOCKS, CUK_THREADS, 0, c->compute>>>(x, n, c->sumsq_partials);
    if (KERNEL_LAUNCHED(sumsq_partial_kernel) < 0 || finish(c, CUK_SUMSQ_BLOCKS, false) < 0)
        return -1;
    return read_result(c, out);
}

// A launch (and its final pass) a SUMSQ_SPANS ranges, each chunk's sum
// added to the last's on the device, and one wait at the end. A chunk of
// few elements takes fewer blocks (every thread walks every span): a
// number its size alone sets, so the sum still repeats bit for bit.
extern "C" int gpu_sumsq_ranges(backend *be, const float *x, const size_t *ranges, int n,
                                double *out)
{
    cuda_impl *c = impl_of(be);
    *out = 0.0;
    for (int k0 = 0; k0 < n; k0 += SUMSQ_SPANS) {
        sumsq_spans s;
        s.n = n - k0 < SUMSQ_SPANS ? n - k0 : SUMSQ_SPANS;
        size_t total = 0;
        for (int k = 0; k < s.n; k++) {
            size_t from = ranges[2 * (k0 + k)], to = ranges[2 * (k0 + k) + 1];
            if (to < from || from > 0xffffffffu || to - from > 0x7fffffffu)
                return err_set("gpu_sumsq_ranges: range [%zu, %zu) out of bounds", from, to);
            s.from[k] = (unsigned)from;
            s.len[k] = (unsigned)(to - from);
            total += to - from;
        }
        size_t want = (total + 4 * CUK_THREADS - 1) / (4 * CUK_THREADS); /* 4 a thread */
        int blocks = want < 1 ? 1 : want > CUK_SUMSQ_BLOCKS ? CUK_SUMSQ_BLOCKS : (int)want;
        sumsq_spans_kernel<<<blocks, CUK_THREADS, 0, c->compute>>>(x, s, c->sumsq_partials);
        if (KERNEL_LAUNCHED(sumsq_spans_kernel) < 0 || finish(c, blocks, k0 > 0) < 0)
            return -1;
    }
    return n > 0 ? read_result(c, out) : 0;
}
