/* The report a person looks at after correcting a slide: one HTML page per
 * slide and an index of every slide report in a folder.
 *
 * Layout of a report folder DIR (the workflow relies on it):
 *   DIR/NAME.html              the slide's page (written last: present = complete)
 *   DIR/NAME_files/summary.tsv key<TAB>value lines the index is built from
 *                              (status ok|failed, error, key figures; see report.c)
 *   DIR/NAME_files/[name].png  before.png after.png geometry.png crop_before.png
 *                              crop_after.png profile_v.png profile_h.png (those that apply)
 *   DIR/NAME_files/tiles.txt   the tiles measured, "name x y w h" (sscor metrics --tiles)
 *   DIR/NAME_files/geometry.txt the geometry used (core/geometry.h format)
 *   DIR/index.html             every slide of DIR with its status and key figures
 * Every file is written under a temporary name and renamed into place; the
 * index is rebuilt under a lock (DIR/.index.lock) so parallel slides do not
 * lose each other's rows.
 *
 * Pictures are read in bounded memory: thumbnails from the pyramid level
 * nearest their size (else level 0 band by band, box-reduced), the metrics
 * at full resolution up to SSCOR_REPORT_METRIC_PIXELS pixels and on a
 * reduced level beyond, the zoomed crop at full resolution. */
#ifndef SSCOR_REPORT_H
#define SSCOR_REPORT_H

#include <time.h>

#include "status.h"

/* Full-resolution metrics up to this many pixels; larger slides are measured
 * on the pyramid level (or box reduction) by the smallest power of 2 below it. */
#define SSCOR_REPORT_METRIC_PIXELS 16000000.0

typedef struct {
  const char *name;     /* page name: DIR/NAME.html (see sscor_report_name) */
  const char *input, *output;
  const char *command;  /* the command line, as typed */
  const char *version;  /* "sscor 0.1.0" */
  int failed;           /* 1: the correction failed; error says why */
  const char *error;
  const char *geometry; /* the geometry used, text of core/geometry.h; NULL = unknown */
  const char *summary;  /* the analysis' line: what was detected, which channels were left */
  const char *applied;  /* what was applied, e.g. "seam-aware flat-field" */
  int have_flat;        /* the flat-field figures below are set */
  int flat_seam_obs, flat_interior_obs;
  double flat_rms_before, flat_rms_after, flat_min, flat_max;
  double seconds_analysis, seconds_apply; /* < 0: not run */
  time_t started;
} sscor_report_info;

/* NAME for an output path: its file name without the extension (and a
 * ".ome" before it), into buf. "index" is refused (the index page's name). */
sscor_status sscor_report_name(const char *output, char *buf, size_t size);
/* Creates DIR when missing (its parent must exist) and checks it can be written. */
sscor_status sscor_report_prepare(const char *dir);
/* Writes the slide's page and pictures, then rebuilds the index.
 * *seconds (may be NULL) receives the time it took. */
sscor_status sscor_report_write(const char *dir, const sscor_report_info *info, double *seconds);
/* Rebuilds DIR/index.html from every DIR/NAME_files/summary.tsv that has its page. */
sscor_status sscor_report_index(const char *dir);

#endif
