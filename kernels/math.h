/* math: elementwise formulas shared by every backend.
 *
 * Each function here is the single definition of its formula: the CPU loops
 * call it, and the CUDA kernels call it (ACCEL_HD makes it a device function
 * under nvcc). So the CPU unit tests check the formulas the GPU runs, though
 * not its rounding: nvcc contracts a * b + c into one fused multiply-add
 * (--fmad=true, its default) where the CPU build, without FMA in its target,
 * rounds twice; and CUDA's expf, erff and tanhf differ from glibc's by up to
 * 2 ulp (the CUDA C Programming Guide's table of maximum ulp errors). Each
 * operation therefore agrees to a few ulp, not bitwise: tests/gpu compares
 * every operation with the CPU backend at 1e-5 relative (1e-6 where no
 * transcendental is involved), tens of ulp of float32, which covers both. */
#ifndef ACCEL_MATH_H
#define ACCEL_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "util/hd.h"
#include "util/rng.h"

typedef enum { ACT_NONE = 0, ACT_RELU, ACT_TANH, ACT_SIGMOID, ACT_GELU, ACT_GELU_TANH } act_kind;

/* e^x without a libm call, so that loops of it vectorize: x clamped to
 * [-87, 88], x = n ln2 + r with |r| <= ln2 / 2 (ln2 in two parts, so n ln2
 * is exact), e^r by a degree-7 minimax polynomial (Cephes's expf
 * coefficients), times 2^n made from its bits. Measured over [-87, 88]:
 * within 8e-8 of e^x relatively (test_kernels holds it to 2e-7). */
static inline ACCEL_HD float math_expf(float x)
{
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    /* n = x log2(e) to the nearest integer: adding 1.5 * 2^23 rounds it
     * (floorf would not vectorize: GCC keeps roundps for
     * -fno-trapping-math) */
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    union {
        int32_t i;
        float f;
    } two_n = {.i = ((int32_t)n + 127) << 23};
    return p * two_n.f;
}

/* tanh(u) from one math_expf: (1 - e) / (1 + e) with u's sign, e = e^-2|u|
 * in (0, 1]. Within 9e-8 of tanh absolutely (measured; not relatively near
 * 0, where it rounds 1 - e): what GELU, which adds it to 1, needs. */
static inline ACCEL_HD float math_tanh_abs(float u)
{
    float e = math_expf(-2.0f * fabsf(u));
    return copysignf((1.0f - e) / (1.0f + e), u);
}

/* GELU's tanh approximation (GPT-2's): sqrt(2 / pi) and the cubic term. */
#define MATH_GELU_TANH_K 0.79788456080286536f
#define MATH_GELU_TANH_C 0.044715f

/* True when the derivative can be computed from the output alone, so the
 * layer need not keep its pre-activation. */
static inline ACCEL_HD int math_act_grad_needs_input(act_kind a)
{
    return a == ACT_GELU || a == ACT_GELU_TANH;
}

static inline ACCEL_HD float math_sigmoid(float z)
{
    /* Two branches so exp never overflows. */
    if (z >= 0.0f)
        return 1.0f / (1.0f + expf(-z));
    float e = expf(z);
    return e / (1.0f + e);
}

static inline ACCEL_HD float math_act(act_kind a, float z)
{
    switch (a) {
    case ACT_RELU:
        return z > 0.0f ? z : 0.0f;
    case ACT_TANH:
        return tanhf(z);
    case ACT_SIGMOID:
        return math_sigmoid(z);
    case ACT_GELU: /* the exact (erf) form, as PyTorch's default */
        return 0.5f * z * (1.0f + erff(z * 0.70710678118654752f));
    case ACT_GELU_TANH: /* PyTorch's GELU(approximate="tanh") */
        return 0.5f * z *
               (1.0f + math_tanh_abs(MATH_GELU_TANH_K * (z + MATH_GELU_TANH_C * z * z * z)));
    default:
        return z;
    }
}

/* d act / d z, given the input z and the output y = act(z). */
static inline ACCEL_HD float math_act_grad(act_kind a, float z, float y)
{
    switch (a) {
    case ACT_RELU:
        return y > 0.0f ? 1.0f : 0.0f;
    case ACT_TANH:
        return 1.0f - y * y;
    case ACT_SIGMOID:
        return y * (1.0f - y);
    case ACT_GELU: {
        float cdf = 0.5f * (1.0f + erff(z * 0.70710678118654752f));
        float pdf = 0.39894228040143268f * expf(-0.5f * z * z);
        return cdf + z * pdf;
    }
    case ACT_GELU_TANH: {
        float t = math_tanh_abs(MATH_GELU_TANH_K * (z + MATH_GELU_TANH_C * z * z * z));
        float du = MATH_GELU_TANH_K * (1.0f + 3.0f * MATH_GELU_TANH_C * z * z);
        return 0.5f * (1.0f + t) + 0.5f * z * (1.0f - t * t) * du;
    }
    default:
        return 1.0f;
    }
}

/* Softmax cross-entropy of one row of k logits against `label`, forward and
 * backward in one pass. Writes d loss / d logits, times `scale` (1 / global
 * batch, so the gradients of all ranks add up to the batch mean) into dz when
 * dz is not NULL. Returns the row's loss; *pred gets the arg-max. */
static inline ACCEL_HD float math_xent_row(const float *z, int k, int label, float scale, float *dz,
                                           int *pred)
{
    float mx = z[0];
    int best = 0;
    for (int j = 1; j < k; j++)
        if (z[j] > mx) {
            mx = z[j];
            best = j;
        }
    float sum = 0.0f;
    for (int j = 0; j < k; j++)
        sum += expf(z[j] - mx);
    float lse = logf(sum);
    if (dz) {
        float inv = 1.0f / sum;
        for (int j = 0; j < k; j++)
            dz[j] = (expf(z[j] - mx) * inv - (j == label ? 1.0f : 0.0f)) * scale;
    }
    *pred = best;
    return lse + mx - z[label];
}

/* x with only `keep` of float32's 23 fraction bits (10: TF32, 7: bfloat16),
 * rounded to nearest, ties to even: the inputs of a tensor-core product as
 * the CPU backend emulates them (train.precision). A finite x may round up
 * to infinity, as a conversion to bfloat16 does; infinities pass, and a NaN
 * stays a NaN (its quiet bit set, which the rounding keeps). keep = 23 (or
 * more) leaves x as it is. */
static inline ACCEL_HD float math_round_mantissa(float x, int keep)
{
    if (keep >= 23)
        return x;
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    const int drop = 23 - keep;
    if ((u & 0x7f800000u) == 0x7f800000u) {
        if (u & 0x007fffffu)
            u |= 0x00400000u;
    } else {
        u += (1u << (drop - 1)) - 1u + ((u >> drop) & 1u);
    }
    u &= ~((1u << drop) - 1u);
    memcpy(&x, &u, sizeof x);
    return x;
}

/* Inverted dropout: an element is kept with probability 1 - rate and then
 * scaled by 1 / (1 - rate). The decision is a pure function of its
 * coordinates, so the backward pass and every rank recompute the same mask. */
static inline ACCEL_HD float math_dropout_keep(float u, float rate)
{
    return u >= rate ? 1.0f / (1.0f - rate) : 0.0f;
}

static inline ACCEL_HD float math_dropout_scale(uint64_t seed, uint32_t layer, uint32_t step,
                                                uint64_t index, float rate)
{
    return math_dropout_keep(rng_uniform(seed, RNG_STREAM_DROPOUT | layer, step, index), rate);
}

/* Hyper-parameters of one Adam step, folded so the per-element work is small. */
typedef struct {
    float lr;
    float beta1, beta2, eps;
    float one_minus_beta1, one_minus_beta2; /* computed in double: 1.0f - 0.999f is not 0.001f */
    float weight_decay;                     /* decoupled (AdamW): p *= 1 - lr * weight_decay */
    float l2;                               /* coupled (Adam): g += l2 * p */
    float grad_scale;                       /* gradient clipping folded in: 1 when not clipping */
    float bias_corr1;                       /* 1 - beta1^t */
    float bias_corr2_sqrt;                  /* sqrt(1 - beta2^t) */
} adam_hyper;

/* One element of Adam (Kingma & Ba) with bias correction, and with either
 * coupled L2 (torch.optim.Adam's weight_decay) or decoupled weight decay
 * (AdamW, Loshchilov & Hutter), in PyTorch's order of operations. */
static inline ACCEL_HD void math_adam(float *p, float g, float *m, float *v, const adam_hyper *h)
{
    g = g * h->grad_scale + h->l2 * *p;
    float mm = h->beta1 * *m + h->one_minus_beta1 * g;
    float vv = h->beta2 * *v + h->one_minus_beta2 * g * g;
    float x = *p * (1.0f - h->lr * h->weight_decay);
    float denom = sqrtf(vv) / h->bias_corr2_sqrt + h->eps;
    *p = x - (h->lr / h->bias_corr1) * mm / denom;
    *m = mm;
    *v = vv;
}

/* One channel of batch normalization's statistics, in double, from the
 * sums of x and x^2 over `count` values: the mean and 1/std it normalizes
 * with, and the running statistics moved toward them (PyTorch's momentum
 * convention, the unbiased variance). Without sums (evaluation) it
 * normalizes with the running statistics and leaves them. */
static inline ACCEL_HD void math_bn_stats(const double *sum, const double *sum_sq, double count,
                                          double eps, double momentum, float *mean, float *invstd,
                                          float *run_mean, float *run_var)
{
    if (!sum) {
        *mean = *run_mean;
        *invstd = (float)(1.0 / sqrt((double)*run_var + eps));
        return;
    }
    double mu = *sum / count;
    double var = *sum_sq / count - mu * mu;
    if (var < 0.0)
        var = 0.0;
    *mean = (float)mu;
    *invstd = (float)(1.0 / sqrt(var + eps));
    double unbiased = count > 1.0 ? var * count / (count - 1.0) : var;
    *run_mean = (float)((1.0 - momentum) * *run_mean + momentum * mu);
    *run_var = (float)((1.0 - momentum) * *run_var + momentum * unbiased);
}

#endif
