/* Shared inside the report module (report.c, report_pictures.c, report_index.c). */
#ifndef SSCOR_REPORT_PRIV_H
#define SSCOR_REPORT_PRIV_H

#include <stddef.h>

#include "geometry.h"
#include "image.h"
#include "metrics.h"
#include "report.h"

/* Growable text; a failed allocation sets oom and later appends do nothing. */
typedef struct {
  char *p;
  size_t len, cap;
  int oom;
} sscor_sb;

void sscor_sb_printf(sscor_sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s with & < > " ' escaped for HTML text and attribute values. */
void sscor_sb_html(sscor_sb *b, const char *s);
/* Writes the text to path atomically; frees it. */
sscor_status sscor_sb_write(sscor_sb *b, const char *path);

/* The page's style sheet, shared by slide pages and the index. */
extern const char sscor_report_css[];

/* Pictures of one slide, from files and the geometry. */
typedef struct {
  int have_before, have_after, have_geometry, have_crop, have_profile_v, have_profile_h;
  int width, height;        /* level-0 size of the input */
  int crop_x, crop_y, crop_size; /* level-0 crop, when have_crop */
  int crop_crossing;        /* 1: centred on a seam crossing */
  int metric_factor;        /* level-0 px per pixel the metrics were measured at */
  int have_metrics;
  sscor_correction_report metrics;
  int metric_tiles;         /* tiles the seam figures were measured over (0: none) */
} sscor_report_pictures;

/* Writes the pictures into files_dir (a folder that exists) and measures the
 * correction. geometry may be NULL, output NULL (failed run: input only). */
sscor_status sscor_report_make_pictures(const char *files_dir, const char *input, const char *output,
                                        const sscor_geometry *g, sscor_report_pictures *pic);

#endif
