#include "data/sampler.h"

#include "util/err.h"
#include "util/rng.h"

/* The order is a balanced Feistel network over the domain [0, 2^(2h)),
 * walked in cycles down to [0, n). A Feistel network is a bijection
 * whatever its round functions, so one position maps to one sample with no
 * table, in O(1) memory, on any rank.
 *
 * The rounds: max(6, 32 / h). With random round functions, Luby and
 * Rackoff's four rounds are proven to pass for a random permutation only
 * while far fewer than 2^(h/2) of its values are seen, six (Patarin)
 * nearly up to 2^h. An epoch sees all 2^(2h), so no count is a proof here;
 * measured instead (the joint law of the samples at positions 0 and 1 over
 * 16 million epochs, chi-square): six rounds show no bias from h = 4 on,
 * but narrow halves mix little a round: at h = 3 six rounds are visibly
 * biased and eight are not, at h = 2 (n of 5 to 16) twelve still are and
 * sixteen are not. 32 / h gives 10 and 16 there; the extra rounds cost
 * nothing that matters at n <= 256, and six keep a pass near 80 ns (a 2-core
 * VM). */
int sampler_init(sampler *s, int64_t n, uint64_t seed, bool shuffle)
{
    if (n < 1 || n > SAMPLER_MAX_N)
        return err_set("sampler: %lld samples, outside 1 to 2^62", (long long)n);
    /* The smallest 2^(2h) >= n: under 4n, so cycle walking takes fewer
     * than 4 passes of the network a position on average. */
    unsigned h = 1;
    while (((uint64_t)1 << 2 * h) < (uint64_t)n)
        h++;
    *s = (sampler){
        .n = n, .seed = seed, .shuffle = shuffle, .half_bits = h, .rounds = h < 6 ? 32 / h : 6};
    return 0;
}

/* Round r's function of the right half: Philox keyed by the seed, with the
 * epoch, the round and the half in the counter. No two (seed, epoch, round)
 * share a function: the full 64-bit epoch goes in, unlike rng_u32's step. */
static uint32_t round_fn(const sampler *s, uint64_t epoch, uint32_t r, uint32_t right)
{
    rng_block c = {{right, (uint32_t)(epoch >> 32), RNG_STREAM_SHUFFLE | r, (uint32_t)epoch}};
    return rng_philox(c, (uint32_t)s->seed, (uint32_t)(s->seed >> 32)).v[0];
}

/* One pass of the network over [0, 2^(2h)); h <= 31 keeps each half in 32
 * bits and the whole below 2^62. */
static uint64_t feistel(const sampler *s, uint64_t epoch, uint64_t x)
{
    const unsigned h = s->half_bits;
    const uint32_t mask = (uint32_t)(((uint64_t)1 << h) - 1);
    uint32_t left = (uint32_t)(x >> h), right = (uint32_t)x & mask;
    for (uint32_t r = 0; r < s->rounds; r++) {
        uint32_t next = left ^ (round_fn(s, epoch, r, right) & mask);
        left = right;
        right = next;
    }
    return (uint64_t)left << h | right;
}

/* Cycle walking: the network's cycle through position (which is below n)
 * comes back below n, so the walk ends, and walking the cycles this way
 * restricts a bijection of the domain to a bijection of [0, n). */
int64_t sampler_at(const sampler *s, int64_t epoch, int64_t position)
{
    if (!s->shuffle)
        return position;
    uint64_t x = (uint64_t)position;
    do
        x = feistel(s, (uint64_t)epoch, x);
    while (x >= (uint64_t)s->n);
    return (int64_t)x;
}

void sampler_batch(sampler *s, int64_t epoch, int64_t step_in_epoch, int batch, int rank, int world,
                   int64_t *idx)
{
    int local = batch / world;
    int64_t first = step_in_epoch * batch + (int64_t)rank * local;
    for (int i = 0; i < local; i++)
        idx[i] = sampler_at(s, epoch, first + i);
}
