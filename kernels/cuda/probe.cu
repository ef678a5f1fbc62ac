// probe: one tiny kernel, launched at start-up on the GPU a rank would
// take, so that run.device = auto never picks a GPU this binary cannot run
// on: a driver too old for the runtime, or an architecture the build has no
// code for, shows here as a clear reason instead of at the first step.
#include "kernels/cuda/cuda_impl.h"

__global__ static void probe_kernel(int *flag)
{
    *flag = 42;
}

extern "C" cudaError_t cuk_probe(void)
{
    int *flag = NULL, got = 0;
    cudaError_t e = cudaMalloc((void **)&flag, sizeof *flag);
    if (e != cudaSuccess)
        return e;
    probe_kernel<<<1, 1>>>(flag);
    e = cudaGetLastError();
    if (e == cudaSuccess)
        e = cudaMemcpy(&got, flag, sizeof got, cudaMemcpyDeviceToHost);
    cudaFree(flag);
    if (e == cudaSuccess && got != 42)
        e = cudaErrorLaunchFailure;
    return e;
}
