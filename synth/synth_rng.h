/*
 * synth_rng.h — the randomness of `tapir synth`: xoshiro256** and the draws built on it.
 *
 * Every part of the generator draws from a struct synth_rng it owns (the run, a session,
 * a host's habits), seeded from a seed and a key through synth_mix, so that one part's
 * draws never shift another's: the same options give the same bytes. Single-threaded.
 */
#ifndef TAPIR_SYNTH_RNG_H
#define TAPIR_SYNTH_RNG_H

#include <stdint.h>

struct synth_rng {
    uint64_t s[4];
};

void synth_rng_seed(struct synth_rng *r, uint64_t seed);
uint64_t synth_rng_next(struct synth_rng *r);
double synth_rng_unit(struct synth_rng *r);                        /* [0, 1) */
uint32_t synth_rng_below(struct synth_rng *r, uint32_t n);         /* [0, n); 0 when n is 0 */
double synth_rng_exp(struct synth_rng *r, double mean);            /* exponential */
double synth_rng_range(struct synth_rng *r, double lo, double hi); /* uniform, [lo, hi) */
double synth_rng_gauss(struct synth_rng *r); /* standard normal (Box-Muller, one draw) */
/* Mixes two words into one well-spread word (splitmix64 finaliser). */
uint64_t synth_mix(uint64_t a, uint64_t b);

#endif
