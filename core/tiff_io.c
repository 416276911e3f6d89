#include "tiff_io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>
#include <unistd.h>

/* libtiff's messages go to this per-call buffer instead of stderr. */
typedef struct {
  char msg[512];
} tiff_msgs;

static int on_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
  (void)tif, (void)module;
  tiff_msgs *m = user;
  if (!m->msg[0]) vsnprintf(m->msg, sizeof m->msg, fmt, ap); /* the first error is the cause */
  return 1;
}

static int on_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
  (void)tif, (void)user, (void)module, (void)fmt, (void)ap;
  return 1; /* unknown tags and the like: not worth a word */
}

static TIFF *open_tiff(const char *path, const char *mode, tiff_msgs *m) {
  TIFFOpenOptions *o = TIFFOpenOptionsAlloc();
  if (!o) return NULL;
  TIFFOpenOptionsSetErrorHandlerExtR(o, on_error, m);
  TIFFOpenOptionsSetWarningHandlerExtR(o, on_warning, m);
  TIFF *t = TIFFOpenExt(path, mode, o);
  TIFFOpenOptionsFree(o);
  return t;
}

sscor_status sscor_tiff_read(const char *path, sscor_image *img) {
  memset(img, 0, sizeof *img);
  FILE *probe = fopen(path, "rb");
  if (!probe) return sscor_fail(SSCOR_E_IO, "%s: cannot open: %s", path, strerror(errno));
  fclose(probe);
  tiff_msgs m = {{0}};
  TIFF *t = open_tiff(path, "r", &m);
  if (!t)
    return sscor_fail(SSCOR_E_FORMAT, "%s: not a readable TIFF file (%s)", path,
                      m.msg[0] ? m.msg : "unknown error");
  sscor_status st = SSCOR_OK;
  uint32_t w = 0, h = 0;
  uint16_t spp = 1, bps = 1, fmt = SAMPLEFORMAT_UINT, planar = PLANARCONFIG_CONTIG, photo = 0;
  TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w);
  TIFFGetField(t, TIFFTAG_IMAGELENGTH, &h);
  TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLESPERPIXEL, &spp);
  TIFFGetFieldDefaulted(t, TIFFTAG_BITSPERSAMPLE, &bps);
  TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLEFORMAT, &fmt);
  TIFFGetFieldDefaulted(t, TIFFTAG_PLANARCONFIG, &planar);
  TIFFGetFieldDefaulted(t, TIFFTAG_PHOTOMETRIC, &photo);
  sscor_sample_type type;
  if (bps == 8 && fmt == SAMPLEFORMAT_UINT)
    type = SSCOR_U8;
  else if (bps == 16 && fmt == SAMPLEFORMAT_UINT)
    type = SSCOR_U16;
  else if (bps == 32 && fmt == SAMPLEFORMAT_IEEEFP)
    type = SSCOR_F32;
  else {
    TIFFClose(t);
    return sscor_fail(SSCOR_E_FORMAT,
                      "%s: %u-bit %s samples are not supported (uint8, uint16 or float32)", path,
                      bps, fmt == SAMPLEFORMAT_IEEEFP ? "float" : fmt == SAMPLEFORMAT_INT ? "signed" : "unsigned");
  }
  if (photo == PHOTOMETRIC_PALETTE || photo == PHOTOMETRIC_YCBCR || photo == PHOTOMETRIC_SEPARATED) {
    TIFFClose(t);
    return sscor_fail(SSCOR_E_FORMAT, "%s: photometric interpretation %u is not supported", path,
                      photo);
  }
  if (planar != PLANARCONFIG_CONTIG && spp > 1) {
    TIFFClose(t);
    return sscor_fail(SSCOR_E_FORMAT, "%s: planar-separate channels are not supported", path);
  }
  if (w == 0 || h == 0 || w > SSCOR_IMAGE_MAX_SIDE || h > SSCOR_IMAGE_MAX_SIDE || spp == 0 ||
      spp > SSCOR_IMAGE_MAX_CHANNELS) {
    TIFFClose(t);
    return sscor_fail(SSCOR_E_FORMAT, "%s: absurd image size %ux%u with %u channels", path, w, h,
                      spp);
  }
  if ((st = sscor_image_alloc(img, (int)w, (int)h, spp, type))) {
    TIFFClose(t);
    return st;
  }
  size_t ss = sscor_sample_size(type), pixel = ss * spp;
  if (TIFFIsTiled(t)) {
    uint32_t tw = 0, th = 0;
    TIFFGetField(t, TIFFTAG_TILEWIDTH, &tw);
    TIFFGetField(t, TIFFTAG_TILELENGTH, &th);
    tmsize_t tsize = TIFFTileSize(t);
    if (tw == 0 || th == 0 || tsize <= 0 || (uint64_t)tsize != (uint64_t)tw * th * pixel) {
      st = sscor_fail(SSCOR_E_CORRUPT, "%s: inconsistent tile layout %ux%u", path, tw, th);
    } else {
      uint8_t *buf = malloc((size_t)tsize);
      if (!buf) st = sscor_fail(SSCOR_E_NOMEM, "%s: cannot allocate a tile", path);
      for (uint32_t ty = 0; !st && ty < h; ty += th)
        for (uint32_t tx = 0; !st && tx < w; tx += tw) {
          if (TIFFReadEncodedTile(t, TIFFComputeTile(t, tx, ty, 0, 0), buf, tsize) < 0) {
            st = sscor_fail(SSCOR_E_CORRUPT, "%s: cannot decode the tile at (%u, %u): %s", path,
                            tx, ty, m.msg[0] ? m.msg : "truncated or corrupt");
            break;
          }
          uint32_t cw = tx + tw > w ? w - tx : tw, ch = ty + th > h ? h - ty : th;
          for (uint32_t r = 0; r < ch; r++)
            memcpy((uint8_t *)sscor_image_row(img, (int)(ty + r)) + tx * pixel,
                   buf + (size_t)r * tw * pixel, cw * pixel);
        }
      free(buf);
    }
  } else {
    uint32_t rps = 0;
    TIFFGetFieldDefaulted(t, TIFFTAG_ROWSPERSTRIP, &rps);
    if (rps == 0 || rps > h) rps = h;
    size_t strip_bytes = (size_t)rps * img->stride;
    uint8_t *buf = malloc(strip_bytes);
    if (!buf) st = sscor_fail(SSCOR_E_NOMEM, "%s: cannot allocate a strip", path);
    for (uint32_t y = 0; !st && y < h; y += rps) {
      uint32_t rows = y + rps > h ? h - y : rps;
      tmsize_t want = (tmsize_t)(rows * img->stride);
      tmsize_t got = TIFFReadEncodedStrip(t, TIFFComputeStrip(t, y, 0), buf, want);
      if (got < want) {
        st = sscor_fail(SSCOR_E_CORRUPT, "%s: cannot decode the strip at row %u: %s", path, y,
                        m.msg[0] ? m.msg : "truncated or corrupt");
        break;
      }
      memcpy(sscor_image_row(img, (int)y), buf, (size_t)want);
    }
    free(buf);
  }
  TIFFClose(t);
  if (!st && photo == PHOTOMETRIC_MINISWHITE)
    st = sscor_fail(SSCOR_E_FORMAT, "%s: min-is-white images are not supported", path);
  if (st) sscor_image_free(img);
  return st;
}

sscor_status sscor_tiff_write(const char *path, const sscor_image *img) {
  if (!img || !img->data || img->width <= 0 || img->height <= 0 || img->channels <= 0)
    return sscor_fail(SSCOR_E_INVALID, "%s: no image to write", path);
  size_t plen = strlen(path);
  char *tmp = malloc(plen + 16);
  if (!tmp) return sscor_fail(SSCOR_E_NOMEM, "%s: out of memory", path);
  snprintf(tmp, plen + 16, "%s.tmp%ld", path, (long)getpid());
  size_t bytes = img->stride * (size_t)img->height;
  tiff_msgs m = {{0}};
  TIFF *t = open_tiff(tmp, bytes > ((size_t)2 << 30) ? "w8" : "w", &m);
  if (!t) {
    sscor_status st = sscor_fail(SSCOR_E_IO, "%s: cannot create: %s", tmp,
                                 m.msg[0] ? m.msg : strerror(errno));
    free(tmp);
    return st;
  }
  size_t ss = sscor_sample_size(img->type);
  int c = img->channels;
  TIFFSetField(t, TIFFTAG_IMAGEWIDTH, (uint32_t)img->width);
  TIFFSetField(t, TIFFTAG_IMAGELENGTH, (uint32_t)img->height);
  TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)c);
  TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, (uint16_t)(ss * 8));
  TIFFSetField(t, TIFFTAG_SAMPLEFORMAT,
               (uint16_t)(img->type == SSCOR_F32 ? SAMPLEFORMAT_IEEEFP : SAMPLEFORMAT_UINT));
  TIFFSetField(t, TIFFTAG_PLANARCONFIG, (uint16_t)PLANARCONFIG_CONTIG);
  int rgb = c == 3 || c == 4;
  TIFFSetField(t, TIFFTAG_PHOTOMETRIC, (uint16_t)(rgb ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK));
  int extra = rgb ? c - 3 : c - 1;
  if (extra > 0) {
    uint16_t kinds[SSCOR_IMAGE_MAX_CHANNELS] = {0}; /* EXTRASAMPLE_UNSPECIFIED */
    TIFFSetField(t, TIFFTAG_EXTRASAMPLES, (uint16_t)extra, kinds);
  }
  TIFFSetField(t, TIFFTAG_COMPRESSION, (uint16_t)COMPRESSION_ADOBE_DEFLATE);
  if (img->type != SSCOR_F32) TIFFSetField(t, TIFFTAG_PREDICTOR, (uint16_t)PREDICTOR_HORIZONTAL);
  size_t row = (size_t)img->width * c * ss;
  uint32_t rps = (uint32_t)((1 << 18) / row);
  if (rps < 1) rps = 1;
  TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, rps);
  sscor_status st = SSCOR_OK;
  uint8_t *buf = malloc(row * rps); /* libtiff may modify the strip it encodes (predictor) */
  if (!buf) st = sscor_fail(SSCOR_E_NOMEM, "%s: out of memory", path);
  for (uint32_t y = 0; !st && y < (uint32_t)img->height; y += rps) {
    uint32_t rows = y + rps > (uint32_t)img->height ? (uint32_t)img->height - y : rps;
    for (uint32_t r = 0; r < rows; r++)
      memcpy(buf + r * row, sscor_image_row(img, (int)(y + r)), row);
    if (TIFFWriteEncodedStrip(t, TIFFComputeStrip(t, y, 0), buf, (tmsize_t)(rows * row)) < 0)
      st = sscor_fail(SSCOR_E_IO, "%s: cannot write: %s", path, m.msg[0] ? m.msg : "write error");
  }
  free(buf);
  if (!st && !TIFFWriteDirectory(t))
    st = sscor_fail(SSCOR_E_IO, "%s: cannot write: %s", path, m.msg[0] ? m.msg : "write error");
  TIFFClose(t);
  if (!st && rename(tmp, path) != 0)
    st = sscor_fail(SSCOR_E_IO, "%s: cannot rename the finished file into place: %s", path,
                    strerror(errno));
  if (st) unlink(tmp);
  free(tmp);
  return st;
}
