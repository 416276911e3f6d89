#include "adam.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

sscor_status sscor_adam_init(sscor_adam *a, size_t n, float lr, float beta1, float beta2, float eps) {
  memset(a, 0, sizeof *a);
  if (n == 0 || !(lr >= 0) || !(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1) || !(eps > 0))
    return sscor_fail(SSCOR_E_INVALID, "adam: invalid settings (n %zu, lr %g, betas %g %g, eps %g)", n,
                      lr, beta1, beta2, eps);
  a->m = calloc(n, sizeof(float));
  a->v = calloc(n, sizeof(float));
  if (!a->m || !a->v) {
    sscor_adam_free(a);
    return sscor_fail(SSCOR_E_NOMEM, "adam: cannot allocate state for %zu parameters", n);
  }
  a->n = n;
  a->lr = lr;
  a->beta1 = beta1;
  a->beta2 = beta2;
  a->eps = eps;
  return SSCOR_OK;
}

void sscor_adam_free(sscor_adam *a) {
  free(a->m);
  free(a->v);
  memset(a, 0, sizeof *a);
}

void sscor_adam_reset(sscor_adam *a) {
  if (a->m) memset(a->m, 0, a->n * sizeof(float));
  if (a->v) memset(a->v, 0, a->n * sizeof(float));
  a->t = 0;
}

sscor_status sscor_adam_step(sscor_adam *a, const sscor_adam_segment *seg, int nseg) {
  size_t total = 0;
  for (int s = 0; s < nseg; s++) total += seg[s].n;
  if (total != a->n)
    return sscor_fail(SSCOR_E_INTERNAL, "adam: segments cover %zu parameters, optimiser has %zu", total,
                      a->n);
  a->t++;
  /* Scalars in double and rounded once to float, as PyTorch does. */
  double bc1 = 1.0 - pow(a->beta1, (double)a->t);
  double bc2 = 1.0 - pow(a->beta2, (double)a->t);
  const float step = (float)(a->lr / bc1);
  const float bc2s = (float)sqrt(bc2);
  const float b1 = a->beta1, b2 = a->beta2, eps = a->eps;
  const float c1 = (float)(1.0 - (double)a->beta1), c2 = (float)(1.0 - (double)a->beta2);
  size_t off = 0;
  for (int s = 0; s < nseg; s++) {
    float *restrict p = seg[s].param;
    const float *restrict g = seg[s].grad;
    float *restrict m = a->m + off, *restrict v = a->v + off;
    for (size_t i = 0; i < seg[s].n; i++) {
      m[i] = m[i] * b1 + g[i] * c1;
      v[i] = v[i] * b2 + c2 * g[i] * g[i];
      float denom = sqrtf(v[i]) / bc2s + eps;
      p[i] += -step * (m[i] / denom);
    }
    off += seg[s].n;
  }
  return SSCOR_OK;
}
