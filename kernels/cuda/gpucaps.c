#include "kernels/cuda/gpucaps.h"

#include <stdio.h>

bool gpucaps_tf32_bf16(int major, int minor)
{
    (void)minor;
    return major >= 8;
}

precision_kind gpucaps_precision(precision_kind asked, int major, int minor)
{
    return gpucaps_tf32_bf16(major, minor) ? asked : PRECISION_FP32;
}

const char *gpucaps_fallback(char *buf, size_t size, precision_kind asked, const char *name,
                             int major, int minor)
{
    static const char *const names[] = {"fp32", "tf32", "bf16"};
    if (size == 0)
        return buf;
    buf[0] = '\0';
    if (gpucaps_precision(asked, major, minor) == asked)
        return buf;
    snprintf(buf, size,
             "train.precision = %s falls back to fp32 math on %.100s (compute capability %d.%d, "
             "no TF32 or bf16 tensor cores: they came with 8.0)",
             names[asked], name, major, minor);
    return buf;
}

int gpucaps_fp32_fma_per_clock(int major, int minor)
{
    if (major < 8 || (major == 8 && minor == 0))
        return 64;
    return 128;
}

int gpucaps_tensor_fma_per_clock(int major, int minor)
{
    if (major == 8)
        return minor == 0 ? 1024 : 512;
    return major == 9 ? 2048 : 0;
}

double gpucaps_peak_flops(precision_kind run, int major, int minor, int sms, int khz)
{
    double fma;
    if (run == PRECISION_FP32)
        fma = gpucaps_fp32_fma_per_clock(major, minor);
    else
        fma = gpucaps_tensor_fma_per_clock(major, minor) / (run == PRECISION_TF32 ? 2.0 : 1.0);
    return 2.0 * fma * sms * khz * 1e3;
}

uint64_t gpucaps_cublas_workspace(int major, int minor)
{
    (void)minor;
    return (major == 9 || major == 10 || major == 12 ? 32u : 4u) << 20;
}
