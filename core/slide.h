/* Slide reading: whole-slide formats through OpenSlide and plain or tiled
 * TIFF/BigTIFF (any sample count, 8/16-bit integer or 32-bit float) through
 * libtiff, chosen by what the file is. Reads are lazy region reads through a
 * small byte-bounded cache of decoded tiles, so memory does not grow with the
 * slide.
 *
 * Which reader: a file OpenSlide recognises as a vendor format (Aperio SVS,
 * Hamamatsu, MIRAX, Leica, Philips, Ventana, ...) goes to OpenSlide, which
 * delivers 8-bit RGB. A TIFF that OpenSlide would only open as "generic-tiff",
 * or cannot open at all (16-bit, 2-channel, striped), goes to libtiff, which
 * keeps sample type and channels as stored.
 *
 * Channel pages: a TIFF whose channels are pages of their own (OME-TIFF as
 * Bio-Formats and stitchers write it: one page per channel, reduced levels in
 * SubIFDs; or a stack of gray pages of one size, none marked reduced) is read
 * as one image of that many channels, interleaved like any other. SizeC of
 * the OME-XML says how many pages; channel pages that differ in size or
 * sample layout are an error (none is dropped without a word). Reduced
 * levels are the SubIFDs every channel page has. */
#ifndef SSCOR_SLIDE_H
#define SSCOR_SLIDE_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"
#include "status.h"

typedef struct sscor_slide sscor_slide;

typedef struct {
  int levels;             /* pyramid levels, 0 = full resolution */
  int channels;           /* samples per pixel delivered by read_region */
  sscor_sample_type type; /* sample type delivered by read_region */
  double mpp_x, mpp_y;    /* microns per level-0 pixel; 0 when the file does not say */
  const char *reader;     /* "libtiff" or "openslide" */
  const char *vendor;     /* OpenSlide vendor name, or "tiff" */
  int pages;              /* TIFF pages the channels come from (1: all in one page) */
  const char *channel_names; /* comma-separated, from OME-XML; NULL when the file names none */
  int ome;                /* 1: channel pages described by OME-XML (SizeC > 1) */
} sscor_slide_info;

/* Default cache budget for decoded tiles (bytes). */
#define SSCOR_SLIDE_CACHE_DEFAULT (32u << 20)

sscor_status sscor_slide_open(const char *path, sscor_slide **out);
void sscor_slide_close(sscor_slide *s);
const sscor_slide_info *sscor_slide_get_info(const sscor_slide *s);
const char *sscor_slide_path(const sscor_slide *s);
/* Size of a level in its own pixels. */
sscor_status sscor_slide_level_size(const sscor_slide *s, int level, int64_t *w, int64_t *h);
/* Level-0 pixels per pixel of this level (1 for level 0). */
double sscor_slide_level_downsample(const sscor_slide *s, int level);
/* Caps the decoded-tile cache (libtiff reader; OpenSlide keeps its own). */
void sscor_slide_set_cache_bytes(sscor_slide *s, size_t bytes);

/* Reads the w x h region at (x, y) of `level`, in that level's coordinates,
 * into dst: interleaved samples of info->type, info->channels per pixel, rows
 * `stride` bytes apart. The region must lie inside the level. */
sscor_status sscor_slide_read_region(sscor_slide *s, int level, int64_t x, int64_t y, int w,
                                     int h, void *dst, size_t stride);

/* Whole-image convenience: reads level 0 of a TIFF or slide into a newly
 * allocated image (type and channels as the reader delivers them). */
sscor_status sscor_image_read(const char *path, sscor_image *img);
/* Reads a region of a level (level coordinates) into a newly allocated image. */
sscor_status sscor_image_read_region(const char *path, int level, int64_t x, int64_t y, int w,
                                     int h, sscor_image *img);

#endif
