/* Adam optimiser (Kingma & Ba), with PyTorch's update order and bias
 * correction so one step matches torch.optim.Adam:
 *   m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g*g
 *   p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
 * One optimiser may drive several networks (CycleGAN steps both generators
 * with one Adam): their parameters are passed as segments, always in the same
 * order, whose lengths add up to the size given at init. */
#ifndef SSCOR_ADAM_H
#define SSCOR_ADAM_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

typedef struct {
  float lr, beta1, beta2, eps;
  int64_t t; /* steps taken */
  size_t n;  /* parameters driven */
  float *m, *v;
} sscor_adam;

typedef struct {
  float *param;
  const float *grad;
  size_t n;
} sscor_adam_segment;

sscor_status sscor_adam_init(sscor_adam *a, size_t n, float lr, float beta1, float beta2, float eps);
void sscor_adam_free(sscor_adam *a);
/* Zeroes the moments and the step count. */
void sscor_adam_reset(sscor_adam *a);
/* One update of every segment; the segments must cover exactly a->n values. */
sscor_status sscor_adam_step(sscor_adam *a, const sscor_adam_segment *seg, int nseg);

#endif
