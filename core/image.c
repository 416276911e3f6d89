#include "image.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

size_t sscor_sample_size(sscor_sample_type type) {
  switch (type) {
  case SSCOR_U8: return 1;
  case SSCOR_U16: return 2;
  case SSCOR_F32: return 4;
  }
  return 0;
}

const char *sscor_sample_type_name(sscor_sample_type type) {
  switch (type) {
  case SSCOR_U8: return "uint8";
  case SSCOR_U16: return "uint16";
  case SSCOR_F32: return "float32";
  }
  return "unknown";
}

float sscor_sample_max(sscor_sample_type type) {
  switch (type) {
  case SSCOR_U8: return 255.0f;
  case SSCOR_U16: return 65535.0f;
  case SSCOR_F32: return FLT_MAX;
  }
  return 0.0f;
}

sscor_status sscor_image_alloc(sscor_image *img, int width, int height, int channels,
                               sscor_sample_type type) {
  memset(img, 0, sizeof *img);
  if (width <= 0 || height <= 0 || width > SSCOR_IMAGE_MAX_SIDE || height > SSCOR_IMAGE_MAX_SIDE)
    return sscor_fail(SSCOR_E_INVALID, "image size %dx%d is out of range (1..%d per side)", width,
                      height, SSCOR_IMAGE_MAX_SIDE);
  if (channels <= 0 || channels > SSCOR_IMAGE_MAX_CHANNELS)
    return sscor_fail(SSCOR_E_INVALID, "channel count %d is out of range (1..%d)", channels,
                      SSCOR_IMAGE_MAX_CHANNELS);
  size_t ss = sscor_sample_size(type);
  if (!ss) return sscor_fail(SSCOR_E_INVALID, "unknown sample type %d", (int)type);
  size_t stride = (size_t)width * (size_t)channels * ss;
  void *data = calloc((size_t)height, stride);
  if (!data)
    return sscor_fail(SSCOR_E_NOMEM, "cannot allocate a %dx%dx%d %s image", width, height,
                      channels, sscor_sample_type_name(type));
  *img = (sscor_image){width, height, channels, type, stride, data, 1};
  return SSCOR_OK;
}

void sscor_image_wrap(sscor_image *img, void *data, int width, int height, int channels,
                      sscor_sample_type type, size_t stride) {
  *img = (sscor_image){width, height, channels, type, stride, data, 0};
}

void sscor_image_free(sscor_image *img) {
  if (img->owns_data) free(img->data);
  memset(img, 0, sizeof *img);
}

float sscor_image_get(const sscor_image *img, int x, int y, int c) {
  size_t i = (size_t)x * img->channels + c;
  const void *row = sscor_image_row(img, y);
  switch (img->type) {
  case SSCOR_U8: return ((const uint8_t *)row)[i];
  case SSCOR_U16: return ((const uint16_t *)row)[i];
  case SSCOR_F32: return ((const float *)row)[i];
  }
  return 0.0f;
}

void sscor_image_set(sscor_image *img, int x, int y, int c, float v) {
  size_t i = (size_t)x * img->channels + c;
  void *row = sscor_image_row(img, y);
  if (img->type == SSCOR_F32) {
    ((float *)row)[i] = v;
    return;
  }
  float hi = sscor_sample_max(img->type);
  float r = isnan(v) ? 0.0f : v < 0.0f ? 0.0f : v > hi ? hi : rintf(v);
  if (img->type == SSCOR_U8)
    ((uint8_t *)row)[i] = (uint8_t)r;
  else
    ((uint16_t *)row)[i] = (uint16_t)r;
}

sscor_status sscor_image_convert(const sscor_image *src, sscor_image *dst) {
  if (src->width != dst->width || src->height != dst->height || src->channels != dst->channels)
    return sscor_fail(SSCOR_E_INVALID, "image convert: %dx%dx%d into %dx%dx%d", src->width,
                      src->height, src->channels, dst->width, dst->height, dst->channels);
  for (int y = 0; y < src->height; y++)
    for (int x = 0; x < src->width; x++)
      for (int c = 0; c < src->channels; c++)
        sscor_image_set(dst, x, y, c, sscor_image_get(src, x, y, c));
  return SSCOR_OK;
}

sscor_status sscor_image_to_f32(const sscor_image *src, sscor_image *dst) {
  sscor_status st = sscor_image_alloc(dst, src->width, src->height, src->channels, SSCOR_F32);
  if (st) return st;
  return sscor_image_convert(src, dst);
}

sscor_status sscor_image_extract_channel(const sscor_image *src, int c, sscor_image *dst) {
  if (c < 0 || c >= src->channels)
    return sscor_fail(SSCOR_E_INVALID, "channel %d of a %d-channel image", c, src->channels);
  sscor_status st = sscor_image_alloc(dst, src->width, src->height, 1, src->type);
  if (st) return st;
  size_t ss = sscor_sample_size(src->type);
  for (int y = 0; y < src->height; y++) {
    const uint8_t *a = sscor_image_row(src, y);
    uint8_t *b = sscor_image_row(dst, y);
    for (int x = 0; x < src->width; x++) memcpy(b + (size_t)x * ss, a + ((size_t)x * src->channels + c) * ss, ss);
  }
  return SSCOR_OK;
}
