/* Streaming pyramidal TIFF writer.
 *
 * Pixels of the full-resolution image arrive as blocks (any rectangles, or
 * rows top to bottom), each pixel once. A tile is kept only while it is
 * being filled: when its last pixel arrives it is halved (2x2 box mean,
 * rounded to nearest) into one quadrant of its tile on the next level and
 * handed to the encoder threads, and the same happens level by level. So
 * memory follows the tiles still open, not the image width: blocks that
 * finish whole tiles keep only a few tiles per level in flight. Level 0 goes
 * straight into the output's temporary file (tiles in the order they finish,
 * which TIFF allows); reduced levels go to temporary files of their own
 * whose compressed tiles are copied (not re-encoded) behind level 0 at the
 * end, so every level's directory is complete and contiguous. Beyond a few
 * dozen tiles being filled at once, the least recently used one is parked in
 * an unlinked scratch file next to the output (the page cache holds it, not
 * the process) until its next pixels come.
 *
 * Layout (what OpenSlide 3.4.1 opens as generic-tiff): tiled, full
 * resolution first, every reduced level in the main IFD chain with
 * NewSubfileType = FILETYPE_REDUCEDIMAGE, every tile written, resolution tags
 * per level. With subifds set, the reduced levels become SubIFDs of the first
 * directory instead (OME-TIFF style, for Bio-Formats / QuPath).
 * With channel_pages set, an image of 2+ channels is written as OME-TIFF the
 * way Bio-Formats writes it: one gray page per channel, each with its reduced
 * levels in SubIFDs, OME-XML (SizeC, channel names) in the first page's
 * ImageDescription (replacing `description`). Every level then goes through
 * a temporary file, whose tiles are copied into the pages at the end.
 *
 * The file appears at `path` only when complete (core/fileio.h: written
 * unnamed, linked into place by finish); the reduced levels and the parked
 * tiles live in unlinked scratch files. So on error, abort or a killed
 * process nothing is left and `path` is untouched. */
#ifndef SSCOR_PYRAMID_H
#define SSCOR_PYRAMID_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"
#include "status.h"

typedef enum {
  SSCOR_COMPRESS_NONE = 0,
  SSCOR_COMPRESS_DEFLATE,
  SSCOR_COMPRESS_LZW,
  SSCOR_COMPRESS_JPEG, /* 8-bit only; 3-channel images are stored as YCbCr */
  SSCOR_COMPRESS_ZSTD
} sscor_compression;

typedef struct {
  sscor_compression compression; /* default deflate (lossless) */
  int quality;                   /* JPEG quality 1..100 (default 90) */
  int level;                     /* deflate/zstd effort; 0 = codec default */
  int tile_size;                 /* tile side, multiple of 16 (default 256) */
  int bigtiff;                   /* -1 auto (large outputs), 0 classic TIFF, 1 BigTIFF */
  int subifds;                   /* 1: reduced levels as SubIFDs (OME-TIFF style) */
  int min_size;                  /* halve until both sides <= this (default: tile_size) */
  int max_levels;                /* 0 = no limit */
  double mpp_x, mpp_y;           /* microns per level-0 pixel; 0 = unknown (no tags) */
  const char *description;      /* ImageDescription of level 0, or NULL */
  int channel_pages;             /* 1: OME-TIFF with one page per channel (see above) */
  const char *channel_names;     /* channel pages: comma-separated names for the OME-XML, or NULL */
} sscor_pyramid_opts;

void sscor_pyramid_opts_default(sscor_pyramid_opts *o);
/* "none", "deflate", "lzw", "jpeg", "zstd" -> enum; unknown names fail. */
sscor_status sscor_compression_parse(const char *name, sscor_compression *out);
const char *sscor_compression_name(sscor_compression c);

typedef struct sscor_pyramid sscor_pyramid;

/* Starts writing a width x height image with `channels` interleaved samples
 * of `type`. Fails (creating nothing) on bad sizes, options or an unwritable
 * directory. */
sscor_status sscor_pyramid_open(const char *path, int width, int height, int channels,
                                sscor_sample_type type, const sscor_pyramid_opts *opts,
                                sscor_pyramid **out);
/* Writes a w x h block at (x, y): interleaved pixels of every channel
 * (channel -1) or the samples of one channel, rows `stride` bytes apart.
 * Fails on blocks outside the image or pixels written twice. */
sscor_status sscor_pyramid_write_rect(sscor_pyramid *p, int x, int y, int w, int h, int channel,
                                      const void *data, size_t stride);
/* Appends nrows full-width rows (interleaved, `stride` bytes apart) below
 * the rows appended before. */
sscor_status sscor_pyramid_write_rows(sscor_pyramid *p, const void *rows, size_t stride,
                                      int nrows);
/* Pixels written so far, in full rows / levels the file will have. */
int sscor_pyramid_rows_written(const sscor_pyramid *p);
int sscor_pyramid_level_count(const sscor_pyramid *p);
/* Bytes held so far at most: tile buffers (the peak number open at once),
 * encoder buffers and per-tile bookkeeping. For memory reports. */
size_t sscor_pyramid_buffer_bytes(const sscor_pyramid *p);
/* Tiles parked in the scratch file so far (for reports). */
uint64_t sscor_pyramid_parked(const sscor_pyramid *p);
/* After the last row: writes the directories, renames into place, frees p.
 * On failure the target is untouched and p is freed all the same. */
sscor_status sscor_pyramid_finish(sscor_pyramid *p);
/* Abandons the file: removes temporaries, frees p. NULL is fine. */
void sscor_pyramid_abort(sscor_pyramid *p);

/* Whole-image convenience: writes img as a pyramidal TIFF (opts may be NULL). */
sscor_status sscor_image_write_pyramid(const char *path, const sscor_image *img,
                                       const sscor_pyramid_opts *opts);

#endif
