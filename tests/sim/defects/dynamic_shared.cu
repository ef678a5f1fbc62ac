// GPGPU-Sim defect: dynamic shared memory (extern __shared__) was placed at
// the same address as a kernel's static shared memory, so writing the one
// overwrote the other (embedding_exact's scan chunks over its `acc`). On a
// GPU dynamic shared memory follows the static. Fixed by
// tests/sim/patches/dynamic-shared.patch; this kernel fails without it.
#include <cstdio>

__global__ void both_kinds(int *out, int n)
{
    __shared__ int fixed[8];
    extern __shared__ int dyn[];
    int t = threadIdx.x;
    if (t < 8)
        fixed[t] = 100 + t;
    __syncthreads();
    if (t < n)
        dyn[t] = -1;
    __syncthreads();
    if (t < 8)
        out[t] = fixed[t];
}

int main()
{
    int *d, h[8];
    if (cudaMalloc(&d, sizeof h) != cudaSuccess)
        return 2;
    both_kinds<<<1, 32, 32 * sizeof(int)>>>(d, 32);
    if (cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost) != cudaSuccess)
        return 2;
    int bad = 0;
    for (int i = 0; i < 8; i++)
        bad += h[i] != 100 + i;
    printf("%s: static shared memory %s\n", bad ? "FAILED" : "ok",
           bad ? "overwritten by dynamic shared memory" : "intact beside dynamic shared memory");
    return bad != 0;
}
