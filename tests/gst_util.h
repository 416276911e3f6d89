/* Shared helpers for the GStreamer tests: TIFF fixtures written with libtiff
 * in any layout, running a gst-launch style pipeline in-process, and image
 * comparison. */
#ifndef SSCOR_TEST_GST_UTIL_H
#define SSCOR_TEST_GST_UTIL_H

#include <gst/gst.h>
#include <stdint.h>
#include <string.h>
#include <tiffio.h>

#include "image.h"
#include "image_util.h"

/* Deterministic content with structure and noise in every sample. */
static inline void fill_pattern(sscor_image *img, unsigned seed) {
  float maxv = img->type == SSCOR_U8 ? 255.0f : 65535.0f;
  uint32_t r = seed * 747796405u + 2891336453u;
  for (int y = 0; y < img->height; y++)
    for (int x = 0; x < img->width; x++)
      for (int c = 0; c < img->channels; c++) {
        r = r * 1664525u + 1013904223u;
        float v = (float)(((x * 3 + y * 5 + c * 40) % 97) / 97.0) * 0.7f * maxv +
                  (float)(r >> 8) / 16777216.0f * 0.3f * maxv;
        sscor_image_set(img, x, y, c, v);
      }
}

/* Writes img as a single-level TIFF: tiled (tile > 0) or striped (rows per
 * strip = -tile), contiguous or separate planes, with a compression and an
 * optional resolution in microns per pixel. */
static inline int write_fixture(const char *path, const sscor_image *img, int tile, int separate,
                         uint16_t compression, double mpp) {
  TIFF *t = TIFFOpen(path, "w");
  if (!t) return 0;
  int C = img->channels;
  size_t ss = sscor_sample_size(img->type);
  TIFFSetField(t, TIFFTAG_IMAGEWIDTH, (uint32_t)img->width);
  TIFFSetField(t, TIFFTAG_IMAGELENGTH, (uint32_t)img->height);
  TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)C);
  TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, (uint16_t)(ss * 8));
  TIFFSetField(t, TIFFTAG_PLANARCONFIG, separate ? PLANARCONFIG_SEPARATE : PLANARCONFIG_CONTIG);
  TIFFSetField(t, TIFFTAG_PHOTOMETRIC,
               (C == 3 || C == 4) && ss == 1 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK);
  if (C == 4 && ss == 1) {
    uint16_t ex = EXTRASAMPLE_UNASSALPHA;
    TIFFSetField(t, TIFFTAG_EXTRASAMPLES, 1, &ex);
  } else if (C > 1 && !(C == 3 && ss == 1)) {
    uint16_t ex[64] = {0};
    TIFFSetField(t, TIFFTAG_EXTRASAMPLES, (uint16_t)(C - 1), ex);
  }
  TIFFSetField(t, TIFFTAG_COMPRESSION, compression);
  if (mpp > 0) {
    TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_CENTIMETER);
    TIFFSetField(t, TIFFTAG_XRESOLUTION, (float)(10000.0 / mpp));
    TIFFSetField(t, TIFFTAG_YRESOLUTION, (float)(10000.0 / mpp));
  }
  int planes = separate ? C : 1, spp = separate ? 1 : C;
  int ok = 1;
  if (tile > 0) {
    TIFFSetField(t, TIFFTAG_TILEWIDTH, (uint32_t)tile);
    TIFFSetField(t, TIFFTAG_TILELENGTH, (uint32_t)tile);
    uint8_t *buf = calloc((size_t)tile * tile * spp, ss);
    for (int p = 0; p < planes; p++)
      for (int ty = 0; ty < img->height; ty += tile)
        for (int tx = 0; tx < img->width; tx += tile) {
          memset(buf, 0, (size_t)tile * tile * spp * ss);
          for (int y = 0; y < tile && ty + y < img->height; y++)
            for (int x = 0; x < tile && tx + x < img->width; x++)
              for (int c = 0; c < spp; c++)
                memcpy(buf + ((size_t)(y * tile + x) * spp + c) * ss,
                       (uint8_t *)sscor_image_row(img, ty + y) +
                           ((size_t)(tx + x) * C + (separate ? p : c)) * ss,
                       ss);
          if (TIFFWriteTile(t, buf, (uint32_t)tx, (uint32_t)ty, 0, (uint16_t)p) < 0) ok = 0;
        }
    free(buf);
  } else {
    TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, (uint32_t)(-tile));
    uint8_t *row = malloc((size_t)img->width * spp * ss);
    for (int p = 0; p < planes; p++)
      for (int y = 0; y < img->height; y++) {
        for (int x = 0; x < img->width; x++)
          for (int c = 0; c < spp; c++)
            memcpy(row + ((size_t)x * spp + c) * ss,
                   (uint8_t *)sscor_image_row(img, y) + ((size_t)x * C + (separate ? p : c)) * ss,
                   ss);
        if (TIFFWriteScanline(t, row, (uint32_t)y, (uint16_t)p) < 0) ok = 0;
      }
    free(row);
  }
  TIFFClose(t);
  return ok;
}

/* Runs a pipeline description to EOS. Returns 1 on EOS, 0 on error (message
 * copied into err). */
static inline int run_pipeline(const char *desc, char *err, size_t errlen) {
  GError *e = NULL;
  err[0] = '\0';
  GstElement *p = gst_parse_launch(desc, &e);
  if (!p || e) {
    snprintf(err, errlen, "parse: %s", e ? e->message : "?");
    if (e) g_error_free(e);
    if (p) gst_object_unref(p);
    return 0;
  }
  gst_element_set_state(p, GST_STATE_PLAYING);
  GstBus *bus = gst_element_get_bus(p);
  GstMessage *m = gst_bus_timed_pop_filtered(bus, 300 * GST_SECOND,
                                             GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  int ok = 0;
  if (m && GST_MESSAGE_TYPE(m) == GST_MESSAGE_EOS) {
    ok = 1;
  } else if (m) {
    GError *ge = NULL;
    gst_message_parse_error(m, &ge, NULL);
    snprintf(err, errlen, "%s", ge ? ge->message : "?");
    if (ge) g_error_free(ge);
  } else {
    snprintf(err, errlen, "timeout");
  }
  if (m) gst_message_unref(m);
  gst_object_unref(bus);
  gst_element_set_state(p, GST_STATE_NULL);
  gst_object_unref(p);
  return ok;
}

#endif
