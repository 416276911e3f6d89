/* In-memory images shared by every pixel module (I/O, geometry, correction,
 * blending, metrics): interleaved channels, any of the sample types
 * microscopy delivers, kept as is (we never force 8-bit RGB). */
#ifndef SSCOR_IMAGE_H
#define SSCOR_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

typedef enum { SSCOR_U8 = 0, SSCOR_U16 = 1, SSCOR_F32 = 2 } sscor_sample_type;

/* Refuse anything larger: a request beyond this is a bug or a corrupt header. */
#define SSCOR_IMAGE_MAX_SIDE (1 << 20)
#define SSCOR_IMAGE_MAX_CHANNELS 64

typedef struct {
  int width, height, channels; /* channels interleaved within a pixel */
  sscor_sample_type type;
  size_t stride; /* bytes from one row to the next */
  void *data;
  int owns_data; /* 1 when sscor_image_free must release data */
} sscor_image;

size_t sscor_sample_size(sscor_sample_type type);
const char *sscor_sample_type_name(sscor_sample_type type);

/* Allocates a zeroed image; refuses zero, negative or absurd sizes. */
sscor_status sscor_image_alloc(sscor_image *img, int width, int height, int channels,
                               sscor_sample_type type);
/* Wraps caller memory (not freed by sscor_image_free). */
void sscor_image_wrap(sscor_image *img, void *data, int width, int height, int channels,
                      sscor_sample_type type, size_t stride);
void sscor_image_free(sscor_image *img);

static inline void *sscor_image_row(const sscor_image *img, int y) {
  return (uint8_t *)img->data + (size_t)y * img->stride;
}

/* Sample value as float in the type's own units (0..255, 0..65535, or as stored). */
float sscor_image_get(const sscor_image *img, int x, int y, int c);
/* Stores v, rounding and clamping to the type's range for integer types. */
void sscor_image_set(sscor_image *img, int x, int y, int c, float v);
/* Largest value the type can hold (255, 65535, or FLT_MAX for float). */
float sscor_sample_max(sscor_sample_type type);

/* Converts any image to a newly allocated float image with the same values. */
sscor_status sscor_image_to_f32(const sscor_image *src, sscor_image *dst);
/* Channel c of src as a newly allocated one-channel image of its type. */
sscor_status sscor_image_extract_channel(const sscor_image *src, int c, sscor_image *dst);
/* Copies values between images of equal size and channels, converting type. */
sscor_status sscor_image_convert(const sscor_image *src, sscor_image *dst);

#endif
