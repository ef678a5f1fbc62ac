/* flash_attention: fused causal attention on the CPU (see backend.h). */
#include "kernels/cpu/cpu_ops.h"
#include "util/err.h"

int cpu_attention_forward(backend *be, const float *qkv, float *ctx, float *lse, const attn_args *a)
{
    (void)be, (void)qkv, (void)ctx, (void)lse, (void)a;
    return err_set("attention_forward: not yet on the CPU");
}

int cpu_attention_backward(backend *be, const float *qkv, const float *ctx, const float *lse,
                           const float *dctx, float *dqkv, const attn_args *a)
{
    (void)be, (void)qkv, (void)ctx, (void)lse, (void)dctx, (void)dqkv, (void)a;
    return err_set("attention_backward: not yet on the CPU");
}
