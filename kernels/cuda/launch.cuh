/* launch: grid sizing shared by the elementwise kernels. */
#ifndef ACCEL_CUDA_LAUNCH_CUH
#define ACCEL_CUDA_LAUNCH_CUH

#include <stddef.h>

static const int CUK_THREADS = 256;

/* Enough blocks to cover n with grid-stride loops, capped so huge buffers
 * reuse blocks instead of launching millions. */
static inline unsigned cuk_blocks(size_t n)
{
    size_t b = (n + CUK_THREADS - 1) / CUK_THREADS;
    if (b < 1)
        b = 1;
    return (unsigned)(b > 65535 ? 65535 : b);
}

#endif
