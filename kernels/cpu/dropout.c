/* dropout: math_dropout_scale's masks on the CPU (see backend.h), drawn 64
 * elements at a time: the 16 Philox blocks behind them are computed side by
 * side, lane by lane, so the compiler turns each round into a few vector
 * instructions (32 x 32 -> 64-bit products are one instruction on x86-64's
 * vector units) instead of a chain of scalar multiplies a block. The numbers
 * are rng_block_at's, bit for bit. */
#include "kernels/cpu/cpu_ops.h"
#include "util/rng.h"

enum { LANES = 16, CHUNK = 4 * LANES };

/* u[4 * l + k]: number k of the block at counter `block + l`. */
CPU_SIMD static void philox_lanes(uint32_t *restrict u, uint64_t block, uint32_t stream,
                                  uint32_t step, uint64_t seed)
{
    uint32_t key0 = (uint32_t)seed, key1 = (uint32_t)(seed >> 32);
    for (int l = 0; l < LANES; l++) {
        uint32_t c0 = (uint32_t)(block + (uint64_t)l), c1 = (uint32_t)((block + (uint64_t)l) >> 32);
        uint32_t c2 = stream, c3 = step, k0 = key0, k1 = key1;
        for (int r = 0; r < 10; r++) {
            uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
            c0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
            c1 = (uint32_t)p1;
            c2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
            c3 = (uint32_t)p0;
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        u[4 * l] = c0;
        u[4 * l + 1] = c1;
        u[4 * l + 2] = c2;
        u[4 * l + 3] = c3;
    }
}

/* y may be x (the backward works in place): no restrict on them. */
CPU_SIMD static void apply_mask(float *y, const float *x, const uint32_t *restrict u, int n,
                                float rate)
{
    for (int j = 0; j < n; j++)
        y[j] = x[j] * math_dropout_keep(rng_to_uniform(u[j]), rate);
}

/* z = the mask's factors themselves */
CPU_SIMD static void keep_factors(float *restrict z, const uint32_t *restrict u, int n, float rate)
{
    for (int j = 0; j < n; j++)
        z[j] = math_dropout_keep(rng_to_uniform(u[j]), rate);
}

/* The chunks of CHUNK indices behind [first, first + n), as dropout_part
 * draws them, so the factors are its masks bit for bit. */
void cpu_dropout_keep(float *z, size_t n, float rate, uint64_t seed, uint32_t layer, uint32_t step,
                      uint64_t first)
{
    uint32_t u[CHUNK];
    for (size_t i = 0; i < n;) {
        uint64_t at = first + i, base = at & ~(uint64_t)(CHUNK - 1);
        size_t skip = (size_t)(at - base), len = CHUNK - skip;
        if (len > n - i)
            len = n - i;
        philox_lanes(u, base >> 2, RNG_STREAM_DROPOUT | layer, step, seed);
        keep_factors(z + i, u + skip, (int)len, rate);
        i += len;
    }
}

/* A dropout pass: each element's mask is a function of its index alone,
 * so the threads' ranges may start anywhere. */
typedef struct {
    float *y;
    const float *x;
    float rate;
    uint64_t seed, first;
    uint32_t stream, step;
} dropout_pass;

/* y = x times math_dropout_scale's mask at elements [from, to) */
static void dropout_part(void *arg, size_t from, size_t to)
{
    const dropout_pass *p = arg;
    uint32_t u[CHUNK];
    for (size_t i = from; i < to;) {
        uint64_t at = p->first + i, base = at & ~(uint64_t)(CHUNK - 1);
        size_t skip = (size_t)(at - base), len = CHUNK - skip;
        if (len > to - i)
            len = to - i;
        philox_lanes(u, base >> 2, p->stream, p->step, p->seed);
        apply_mask(p->y + i, p->x + i, u + skip, (int)len, p->rate);
        i += len;
    }
}

/* y = x times math_dropout_scale's mask at indices first .. first + n - 1. */
int cpu_dropout_forward(backend *be, float *y, const float *x, size_t n, float rate, uint64_t seed,
                        uint32_t layer, uint32_t step, uint64_t first)
{
    dropout_pass p = {.y = y,
                      .x = x,
                      .rate = rate,
                      .seed = seed,
                      .first = first,
                      .stream = RNG_STREAM_DROPOUT | layer,
                      .step = step};
    cpu_workers_run(cpu_workers_of(be), n, cpu_workers_grain(1), dropout_part, &p);
    return 0;
}

/* The mask is its own derivative: dx = dy times the same mask. */
int cpu_dropout_backward(backend *be, float *dx, const float *dy, size_t n, float rate,
                         uint64_t seed, uint32_t layer, uint32_t step, uint64_t first)
{
    return cpu_dropout_forward(be, dx, dy, n, rate, seed, layer, step, first);
}
