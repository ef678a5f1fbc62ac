// embed: token and position embeddings on the GPU: no kernels yet. The
// operations are stubs that fail with a message, so an embedding layer
// refuses to run on the CUDA backend (kernels/cpu/embed.c is the reference
// a kernel here would follow).
#include "kernels/cuda/cuda_impl.h"

extern "C" int gpu_embed_forward(backend *, const int32_t *, const float *, const float *, float *,
                                 int, int, int, int)
{
    return gpu_lacks("an embedding layer", "embed_forward");
}

extern "C" int gpu_embed_backward(backend *, const int32_t *, const float *, float *, float *, int,
                                  int, int, int, bool)
{
    return gpu_lacks("an embedding layer", "embed_backward");
}
