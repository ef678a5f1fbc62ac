// layernorm: layer normalization on the GPU: no kernels yet. The
// operations are stubs that fail with a message, so a layernorm layer
// refuses to run on the CUDA backend (kernels/cpu/layernorm.c is the
// reference a kernel here would follow).
#include "kernels/cuda/cuda_impl.h"

extern "C" int gpu_layernorm_forward(backend *, const float *, const float *, const float *,
                                     float *, float *, float *, int, int, float)
{
    return gpu_lacks("a layernorm layer", "layernorm_forward");
}

extern "C" int gpu_layernorm_backward(backend *, const float *, const float *, const float *,
                                      const float *, const float *, float *, float *, float *, int,
                                      int)
{
    return gpu_lacks("a layernorm layer", "layernorm_backward");
}
