/* rng: a counter-based random number generator (Philox4x32-10, Salmon et al.,
 * "Parallel random numbers: as easy as 1, 2, 3", SC'11).
 *
 * There is no generator state to carry around: every random number is a pure
 * function of (seed, stream, step, index). That is what makes dropout masks,
 * initial weights and the shuffle order identical on every rank, on every
 * backend, and after a resume: each side recomputes the same numbers from the
 * same coordinates instead of sharing a sequence. */
#ifndef ACCEL_RNG_H
#define ACCEL_RNG_H

#include <stdint.h>

#include "util/hd.h"

/* Streams keep the users of the generator apart. The low 16 bits hold a
 * layer index (the shuffle's: a round) where one is needed. */
enum {
    RNG_STREAM_INIT = 1u << 16,     /* initial parameters, | layer index */
    RNG_STREAM_DROPOUT = 2u << 16,  /* dropout masks, | layer index */
    RNG_STREAM_SHUFFLE = 3u << 16,  /* sample order, | Feistel round (sampler.c) */
    RNG_STREAM_AUGMENT = 4u << 16,  /* data augmentation; step = epoch */
    RNG_STREAM_GENERATE = 5u << 16, /* generation's sampling; index = token number */
};

typedef struct {
    uint32_t v[4];
} rng_block;

static inline ACCEL_HD uint32_t rng_mulhilo(uint32_t a, uint32_t b, uint32_t *hi)
{
    uint64_t p = (uint64_t)a * b;
    *hi = (uint32_t)(p >> 32);
    return (uint32_t)p;
}

/* Ten Philox rounds over one 128-bit counter under a 64-bit key. */
static inline ACCEL_HD rng_block rng_philox(rng_block c, uint32_t k0, uint32_t k1)
{
    for (int r = 0; r < 10; r++) {
        uint32_t hi0, hi1;
        uint32_t lo0 = rng_mulhilo(0xD2511F53u, c.v[0], &hi0);
        uint32_t lo1 = rng_mulhilo(0xCD9E8D57u, c.v[2], &hi1);
        rng_block n = {{hi1 ^ c.v[1] ^ k0, lo1, hi0 ^ c.v[3] ^ k1, lo0}};
        c = n;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return c;
}

/* The Philox block holding the numbers at index & ~3 .. index | 3 of
 * (seed, stream, step): a loop over consecutive indices draws one block
 * per four numbers. */
static inline ACCEL_HD rng_block rng_block_at(uint64_t seed, uint32_t stream, uint32_t step,
                                              uint64_t index)
{
    rng_block c = {{(uint32_t)(index >> 2), (uint32_t)(index >> 34), stream, step}};
    return rng_philox(c, (uint32_t)seed, (uint32_t)(seed >> 32));
}

/* The 32-bit random number at `index` of (seed, stream, step). */
static inline ACCEL_HD uint32_t rng_u32(uint64_t seed, uint32_t stream, uint32_t step,
                                        uint64_t index)
{
    return rng_block_at(seed, stream, step, index).v[index & 3];
}

/* A 32-bit number as a uniform in [0, 1), with 24 random bits (every value
 * exactly a float). */
static inline ACCEL_HD float rng_to_uniform(uint32_t bits)
{
    return (float)(bits >> 8) * (1.0f / 16777216.0f);
}

/* The uniform in [0, 1) at `index` of (seed, stream, step). */
static inline ACCEL_HD float rng_uniform(uint64_t seed, uint32_t stream, uint32_t step,
                                         uint64_t index)
{
    return rng_to_uniform(rng_u32(seed, stream, step, index));
}

#endif
