/* Seeded, deterministic random numbers for initialisation, shuffling, flips
 * and the history pool.
 *
 * xoshiro256** (Blackman & Vigna) seeded through splitmix64. The whole state
 * is four 64-bit words, so a training checkpoint stores it verbatim and a
 * resumed run draws exactly the numbers an uninterrupted run would. Results
 * do not depend on the platform's rand() or libm beyond log/sin/cos in
 * sscor_rng_normal (computed in double, rounded to float). */
#ifndef SSCOR_RNG_H
#define SSCOR_RNG_H

#include <stdint.h>

typedef struct {
  uint64_t s[4];
} sscor_rng;

/* Any seed (0 included) gives a valid, well-mixed state. */
void sscor_rng_seed(sscor_rng *r, uint64_t seed);
uint64_t sscor_rng_next(sscor_rng *r);
/* Uniform in [0, 1) with 24 random bits (every value exactly a float). */
float sscor_rng_uniform(sscor_rng *r);
/* Uniform integer in [0, n), unbiased; n >= 1. */
uint32_t sscor_rng_below(sscor_rng *r, uint32_t n);
/* Normal N(mean, std) by Box-Muller; uses two uniforms per call and keeps no
 * spare value, so the state stays the four words above. */
float sscor_rng_normal(sscor_rng *r, float mean, float std);
/* Fills n floats with N(mean, std). */
void sscor_rng_fill_normal(sscor_rng *r, float *x, long n, float mean, float std);
/* Fisher-Yates shuffle of idx[0..n). */
void sscor_rng_shuffle(sscor_rng *r, uint32_t *idx, uint32_t n);

#endif
