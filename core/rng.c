#include "rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void sscor_rng_seed(sscor_rng *r, uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t sscor_rng_next(sscor_rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

float sscor_rng_uniform(sscor_rng *r) {
  return (float)(sscor_rng_next(r) >> 40) * (1.0f / 16777216.0f);
}

uint32_t sscor_rng_below(sscor_rng *r, uint32_t n) {
  if (n <= 1) return 0;
  /* Rejection on the top of the 32-bit range keeps every value equally likely. */
  uint32_t limit = UINT32_MAX - UINT32_MAX % n;
  for (;;) {
    uint32_t v = (uint32_t)(sscor_rng_next(r) >> 32);
    if (v < limit) return v % n;
  }
}

float sscor_rng_normal(sscor_rng *r, float mean, float std) {
  /* u1 in (0, 1] so log() is finite. */
  double u1 = ((double)(sscor_rng_next(r) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
  double u2 = (double)(sscor_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
  double z = sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
  return (float)(mean + std * z);
}

void sscor_rng_fill_normal(sscor_rng *r, float *x, long n, float mean, float std) {
  for (long i = 0; i < n; i++) x[i] = sscor_rng_normal(r, mean, std);
}

void sscor_rng_shuffle(sscor_rng *r, uint32_t *idx, uint32_t n) {
  for (uint32_t i = n; i > 1; i--) {
    uint32_t j = sscor_rng_below(r, i);
    uint32_t t = idx[i - 1];
    idx[i - 1] = idx[j];
    idx[j] = t;
  }
}
