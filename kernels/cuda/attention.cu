// attention: the causal softmax of self-attention on the GPU: no kernels
// yet. The operations are stubs that fail with a message, so an attention
// layer refuses to run on the CUDA backend (kernels/cpu/attention.c is the
// reference a kernel here would follow; the products around it are gemm's).
#include "kernels/cuda/cuda_impl.h"

extern "C" int gpu_causal_softmax(backend *, float *, int, int, float)
{
    return gpu_lacks("an attention layer", "causal_softmax");
}

extern "C" int gpu_causal_softmax_row(backend *, float *, int, int, float)
{
    return gpu_lacks("an attention layer", "causal_softmax_row");
}

extern "C" int gpu_causal_softmax_backward(backend *, float *, const float *, int, int, float)
{
    return gpu_lacks("an attention layer", "causal_softmax_backward");
}
