/* A small, fast, seedable PRNG (xoshiro256**, seeded through splitmix64) for the emulator's
 * loss, jitter and reordering decisions. Not for anything secret: runs must be repeatable
 * with --seed, and drawing a number must cost a few nanoseconds at 150k+ packets/s. */
#ifndef NTM_NETEM_RNG_H
#define NTM_NETEM_RNG_H

#include <stdint.h>

struct netem_rng {
    uint64_t s[4];
};

static inline uint64_t netem_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline void netem_rng_seed(struct netem_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = netem_splitmix64(&seed);
}

static inline uint64_t netem_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t netem_rng_next(struct netem_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = netem_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = netem_rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1) with 53 random bits. */
static inline double netem_rng_unit(struct netem_rng *r)
{
    return (double)(netem_rng_next(r) >> 11) * 0x1.0p-53;
}

#endif
