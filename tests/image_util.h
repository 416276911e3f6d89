/* Image comparison shared by the tests (header-only, like check.h). */
#ifndef SSCOR_TEST_IMAGE_UTIL_H
#define SSCOR_TEST_IMAGE_UTIL_H

#include <string.h>

#include "image.h"

/* 1 when a and b have the same shape, type and every sample bit for bit. */
static inline int images_equal(const sscor_image *a, const sscor_image *b) {
  if (a->width != b->width || a->height != b->height || a->channels != b->channels ||
      a->type != b->type)
    return 0;
  for (int y = 0; y < a->height; y++)
    if (memcmp(sscor_image_row(a, y), sscor_image_row(b, y),
               (size_t)a->width * a->channels * sscor_sample_size(a->type)))
      return 0;
  return 1;
}

#endif
