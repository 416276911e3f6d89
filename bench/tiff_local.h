/* Minimal libtiff reader/writer for benchmarks only (single-channel or
 * interleaved 8/16-bit or float, stripped or tiled). The project's shared TIFF
 * module replaces it once it lands. */
#ifndef SSCOR_BENCH_TIFF_LOCAL_H
#define SSCOR_BENCH_TIFF_LOCAL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

#include "image.h"

static inline sscor_status bench_tiff_read(const char *path, sscor_image *img) {
  TIFF *t = TIFFOpen(path, "r");
  if (!t) return sscor_fail(SSCOR_E_IO, "%s: cannot open as TIFF", path);
  uint32_t w = 0, h = 0;
  uint16_t bps = 0, spp = 1, fmt = SAMPLEFORMAT_UINT, planar = PLANARCONFIG_CONTIG;
  TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w);
  TIFFGetField(t, TIFFTAG_IMAGELENGTH, &h);
  TIFFGetFieldDefaulted(t, TIFFTAG_BITSPERSAMPLE, &bps);
  TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLESPERPIXEL, &spp);
  TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLEFORMAT, &fmt);
  TIFFGetFieldDefaulted(t, TIFFTAG_PLANARCONFIG, &planar);
  sscor_sample_type type;
  if (bps == 8 && fmt == SAMPLEFORMAT_UINT) type = SSCOR_U8;
  else if (bps == 16 && fmt == SAMPLEFORMAT_UINT) type = SSCOR_U16;
  else if (bps == 32 && fmt == SAMPLEFORMAT_IEEEFP) type = SSCOR_F32;
  else {
    TIFFClose(t);
    return sscor_fail(SSCOR_E_FORMAT, "%s: unsupported sample format (%u bits, format %u)", path,
                      bps, fmt);
  }
  if (planar != PLANARCONFIG_CONTIG && spp > 1) {
    TIFFClose(t);
    return sscor_fail(SSCOR_E_FORMAT, "%s: planar TIFF not supported here", path);
  }
  sscor_status st = sscor_image_alloc(img, (int)w, (int)h, spp, type);
  if (st) {
    TIFFClose(t);
    return st;
  }
  size_t px = sscor_sample_size(type) * spp;
  if (TIFFIsTiled(t)) {
    uint32_t tw, th;
    TIFFGetField(t, TIFFTAG_TILEWIDTH, &tw);
    TIFFGetField(t, TIFFTAG_TILELENGTH, &th);
    uint8_t *buf = malloc(TIFFTileSize(t));
    for (uint32_t y = 0; y < h && !st; y += th)
      for (uint32_t x = 0; x < w && !st; x += tw) {
        if (TIFFReadTile(t, buf, x, y, 0, 0) < 0) {
          st = sscor_fail(SSCOR_E_CORRUPT, "%s: cannot read tile at %u,%u", path, x, y);
          break;
        }
        for (uint32_t j = 0; j < th && y + j < h; j++) {
          uint32_t n = (x + tw <= w ? tw : w - x);
          memcpy((uint8_t *)sscor_image_row(img, (int)(y + j)) + x * px, buf + (size_t)j * tw * px,
                 n * px);
        }
      }
    free(buf);
  } else {
    for (uint32_t y = 0; y < h; y++)
      if (TIFFReadScanline(t, sscor_image_row(img, (int)y), y, 0) < 0) {
        st = sscor_fail(SSCOR_E_CORRUPT, "%s: cannot read row %u", path, y);
        break;
      }
  }
  TIFFClose(t);
  if (st) sscor_image_free(img);
  return st;
}

static inline sscor_status bench_tiff_write(const char *path, const sscor_image *img) {
  TIFF *t = TIFFOpen(path, "w");
  if (!t) return sscor_fail(SSCOR_E_IO, "%s: cannot create", path);
  int bps = (int)sscor_sample_size(img->type) * 8;
  TIFFSetField(t, TIFFTAG_IMAGEWIDTH, (uint32_t)img->width);
  TIFFSetField(t, TIFFTAG_IMAGELENGTH, (uint32_t)img->height);
  TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, (uint16_t)bps);
  TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)img->channels);
  TIFFSetField(t, TIFFTAG_SAMPLEFORMAT,
               (uint16_t)(img->type == SSCOR_F32 ? SAMPLEFORMAT_IEEEFP : SAMPLEFORMAT_UINT));
  TIFFSetField(t, TIFFTAG_PHOTOMETRIC,
               (uint16_t)(img->channels == 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK));
  TIFFSetField(t, TIFFTAG_PLANARCONFIG, (uint16_t)PLANARCONFIG_CONTIG);
  TIFFSetField(t, TIFFTAG_COMPRESSION, (uint16_t)COMPRESSION_ADOBE_DEFLATE);
  TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, (uint32_t)16);
  sscor_status st = SSCOR_OK;
  for (int y = 0; y < img->height; y++)
    if (TIFFWriteScanline(t, sscor_image_row(img, y), (uint32_t)y, 0) < 0) {
      st = sscor_fail(SSCOR_E_IO, "%s: write failed at row %d", path, y);
      break;
    }
  TIFFClose(t);
  return st;
}

#endif
