// embed: token and position embeddings on the GPU (kernels/cpu/embed.c is
// the reference). Forward is a thread per element. Backward uses no float
// atomics, so a step repeats bit for bit and matches the CPU's sums
// exactly: the CPU adds each position's gradient into its token's row in
// position order, and here the first position of each token in the batch
// (its owner) gathers, in position order, the gradients of every position
// that holds its token, and writes the row once. No scratch memory: each
// owner finds its token's positions by scanning the batch's token ids.
#include "kernels/cuda/cuda_impl.h"
#include "kernels/cuda/launch.cuh"

// Threads of a block of the backward scatter: its scan reads this many
// token ids at a time.
static const int EMBED_SCAN = 256;
// Channels a block of the backward scatter sums, in shared memory: 8 KiB,
// whatever the width (a width past the 48 KiB a block may take without
// asking, 12,288 channels, is cut into several blocks' parts).
static const int EMBED_CHANNELS = 2048;

// A token id not below vocab (or negative) gives NaN rows, which the
// trainer's check of the loss reports: the CPU fails naming the id, but a
// kernel cannot fail the call that launched it without waiting for it.
__global__ void embed_forward_kernel(const int32_t *tok, const float *wte, const float *wpe,
                                     float *y, size_t n, int t, int c, int vocab)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t pos = i / c;
        int ch = (int)(i % c), p = (int)(pos % t);
        int32_t id = tok[pos];
        y[i] = id >= 0 && id < vocab ? wte[(size_t)id * c + ch] + wpe[(size_t)p * c + ch] : NAN;
    }
}

// dwpe[p][ch] = sum over rows r, in order, of dy[r][p][ch].
__global__ void embed_dwpe_kernel(const float *dy, float *dwpe, int rows, int t, int c)
{
    size_t tc = (size_t)t * c;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < tc;
         i += (size_t)gridDim.x * blockDim.x) {
        float s = 0.0f;
        for (int r = 0; r < rows; r++)
            s += dy[(size_t)r * tc + i];
        dwpe[i] = s;
    }
}

// Block (b, part) looks at position b of the n = rows * t positions: when
// it is the first to hold its token, it lists (in shared memory, in order,
// a chunk of EMBED_SCAN ids at a time, ranked by warp ballots) the
// positions holding it and adds their gradients into the token's row, its
// part's EMBED_CHANNELS channels, each thread a set of them. dwte's rows
// were zeroed before when not accumulating.
// A block stops at the first earlier position of its token, so the scans
// cost up to n ids a distinct token (n^2 at worst, all tokens distinct):
// at GPT-2's 8 x 1024 positions, 67M reads of a 32 KiB array in cache.
__global__ void embed_dwte_kernel(const int32_t *tok, const float *dy, float *dwte, int n, int c,
                                  int vocab)
{
    __shared__ int match[EMBED_SCAN], warp_hits[EMBED_SCAN / 32];
    __shared__ int later_owner;
    int me = blockIdx.x;
    int32_t id = tok[me];
    if (id < 0 || id >= vocab)
        return;
    // the part's running sums: a thread's channels, threadIdx.x + k * blockDim.x
    __shared__ float acc[EMBED_CHANNELS];
    int part = blockIdx.y * EMBED_CHANNELS, width = c - part;
    width = width < EMBED_CHANNELS ? width : EMBED_CHANNELS;
    float *row = dwte + (size_t)id * c + part;
    dy += part;
    for (int ch = threadIdx.x; ch < width; ch += blockDim.x)
        acc[ch] = row[ch];
    for (int base = 0; base < n; base += EMBED_SCAN) {
        if (threadIdx.x == 0)
            later_owner = 0;
        __syncthreads();
        int j = base + threadIdx.x, lane = threadIdx.x % 32, warp = threadIdx.x / 32;
        bool hit = j < n && tok[j] == id;
        if (hit && j < me)
            later_owner = 1; // an earlier position holds it: that block writes the row
        unsigned hits = __ballot_sync(0xffffffffu, hit);
        if (lane == 0)
            warp_hits[warp] = __popc(hits);
        __syncthreads();
        if (later_owner)
            return;
        // the hits' positions in order: each one's rank among them
        int before = __popc(hits & ((1u << lane) - 1u)), count = 0;
        for (int w = 0; w < EMBED_SCAN / 32; w++) {
            before += w < warp ? warp_hits[w] : 0;
            count += warp_hits[w];
        }
        if (hit)
            match[before] = j;
        __syncthreads();
        for (int ch = threadIdx.x; ch < width; ch += blockDim.x) {
            float s = acc[ch];
            for (int k = 0; k < count; k++)
                s += dy[(size_t)match[k] * c + ch];
            acc[ch] = s;
        }
        __syncthreads();
    }
    for (int ch = threadIdx.x; ch < width; ch += blockDim.x)
        row[ch] = acc[ch];
}

extern "C" int gpu_embed_forward(backend *be, const int32_t *tok, const float *wte,
                                 const float *wpe, float *y, int rows, int t, int c, int vocab)
{
    size_t n = (size_t)rows * t * c;
    if (n == 0)
        return 0;
    embed_forward_kernel<<<cuk_blocks(n), CUK_THREADS, 0, stream_of(be)>>>(tok, wte, wpe, y, n, t,
                                                                           c, vocab);
    return KERNEL_LAUNCHED(embed_forward_kernel);
}

extern "C" int gpu_embed_backward(backend *be, const int32_t *tok, const float *dy, float *dwte,
                                  float *dwpe, int rows, int t, int c, int vocab, bool accumulate)
{
    cudaStream_t s = stream_of(be);
    if (!accumulate)
        CUDA_TRY(cudaMemsetAsync(dwte, 0, sizeof(float) * (size_t)vocab * c, s));
    size_t tc = (size_t)t * c;
    int n = rows * t;
    if (tc == 0)
        return 0;
    embed_dwpe_kernel<<<cuk_blocks(tc), CUK_THREADS, 0, s>>>(dy, dwpe, rows, t, c);
    if (KERNEL_LAUNCHED(embed_dwpe_kernel) < 0)
        return -1;
    if (n == 0)
        return 0;
    dim3 grid((unsigned)n, (unsigned)((c + EMBED_CHANNELS - 1) / EMBED_CHANNELS));
    embed_dwte_kernel<<<grid, EMBED_SCAN, 0, s>>>(tok, dy, dwte, n, c, vocab);
    return KERNEL_LAUNCHED(embed_dwte_kernel);
}
