/* Seam-aware flat-field correction: sscor's default, right-by-construction
 * correction of tile shading in a stitched image.
 *
 * Physics. Every tile k was recorded through the same optics, so the stitched
 * image with averaged overlaps is
 *     I(x) = dark + T(x) * S(x),   S(x) = b(x) * mean over tiles k covering x of g_k F(x - p_k)
 * with T the sample, F the microscope's flat-field in tile coordinates (shared
 * by all tiles), g_k an optional per-tile gain and p_k the tile origins (from
 * sscor_geometry), b(x) an optional factor where 2+ tiles overlap (a
 * sample exposed twice bleaches). S is smooth inside a tile and jumps
 * exactly at tile edges.
 *
 * Estimation needs no raw tiles: log F is a bilinear function on a knot grid
 * over the tile (knots dense near the edges), fitted by robust Gauss-Newton to
 *   - log steps between 2-px bands either side of every seam (full
 *     resolution, read through the region reader), and
 *   - log differences between neighbouring blocks of the reduced image inside
 *     tiles (where only the smooth part of F and the texture differ; the
 *     texture averages out over many tiles),
 * inside the foreground only, with a smoothness prior on the knots. The
 * correction is out = dark + (I - dark) / S, with S normalised to a median of 1
 * over the foreground so the image keeps its overall level. S can be evaluated
 * at any pixel, so the correction streams tile by tile in bounded memory. */
#ifndef SSCOR_FLATFIELD_H
#define SSCOR_FLATFIELD_H

#include "geometry.h"

typedef struct {
  int knots;          /* knots per tile axis, 5..31 (0 = 13) */
  int tile_gains;     /* also fit a gain per tile (1 = default) */
  double dark;        /* dark offset in image units; < 0 = auto (from the darkest data), 0 = none */
  double foreground;  /* foreground threshold in image units; 0 = auto (Otsu on log intensity) */
  int iterations;     /* Gauss-Newton iterations (0 = 8) */
  double smooth;      /* weight of the knot smoothness prior (0 = 1.0; < 0 = none) */
  int use_interior;   /* use the reduced image's block differences (1 = default) */
  int overlap_factor; /* fit one extra factor for pixels covered by 2+ tiles: overlaps are
                         exposed twice (photobleaching) or blended by the stitcher (1 = default) */
  int validate;       /* hold out a quarter of the evidence and refuse a field that does not
                         clearly help on it (1 = default; see below) */
} sscor_flatfield_params;

void sscor_flatfield_params_default(sscor_flatfield_params *p);

typedef struct sscor_flatfield sscor_flatfield;

typedef struct {
  int seam_obs, interior_obs;  /* observations used */
  double dark, foreground;     /* values used (image units) */
  double seam_rms_before, seam_rms_after; /* robust rms of seam log steps vs model */
  double min_gain, max_gain;   /* range of F over the tile */
  double overlap_factor;       /* fitted factor in overlaps (1 = none) */
  /* Held-out check (params.validate): a quarter of the seam segments and of
   * the interior block groups are left out of the fit. On them, per segment
   * or group, the mean log step before (no correction) and after (with the
   * field), as the median over segments (seam) and the mean over groups
   * (interior); and the 1st..99th percentile of S over the foreground. */
  int check_seam_groups, check_interior_groups;
  double check_seam_before, check_seam_after;
  double check_interior_before, check_interior_after;
  double check_s_lo, check_s_hi;
  /* energy of sharp steps on every row and column line of the reduced image,
     before and after: new steps anywhere (misplaced seams, drifting gains) */
  double check_lines_before, check_lines_after;
} sscor_flatfield_report;

/* Estimates the field of the image described by `g` (tiles required) from
 * `coarse` (the image reduced by `scale`, one float channel, as for
 * detection) and full-resolution seam bands read through `reader`.
 *
 * Never harmful by construction (params.validate): the field is fitted on
 * three quarters of the evidence and judged on the held-out quarter. It is
 * refused (SSCOR_E_INVALID, "no reliable correction found: ...", report
 * filled) unless the held-out seam steps fall clearly (to at most
 * SSCOR_FLATFIELD_SEAM_GAIN of their size), the held-out gradients inside
 * tiles do not grow (at most SSCOR_FLATFIELD_INTERIOR_SLACK times), the
 * energy of sharp steps along every row and column of the reduced image
 * falls (to at most SSCOR_FLATFIELD_LINE_GAIN: lines that are no seams were
 * never fitted, so new steps there show a wrong geometry), and S
 * stays within 1/SSCOR_FLATFIELD_MAX_GAIN..SSCOR_FLATFIELD_MAX_GAIN over the
 * foreground: a wrong geometry, seams too weak to measure, or a degenerate
 * fit on few tiles all end there instead of in a harmed image. */
/* SSCOR_FLATFIELD_DEBUG in the environment prints the check's figures and
 * the tile gains to stderr. */
#define SSCOR_FLATFIELD_SEAM_GAIN 0.7
#define SSCOR_FLATFIELD_INTERIOR_SLACK 1.25
#define SSCOR_FLATFIELD_LINE_GAIN 0.95
#define SSCOR_FLATFIELD_MAX_GAIN 4.0
sscor_status sscor_flatfield_estimate(const sscor_geometry *g, const sscor_image *coarse,
                                      int scale, sscor_region_reader reader, void *reader_user,
                                      const sscor_flatfield_params *params, sscor_flatfield **out,
                                      sscor_flatfield_report *report);
void sscor_flatfield_free(sscor_flatfield *ff);
/* The automatic foreground (tissue) threshold of a reduced image, as the
 * estimate uses it when params->foreground is 0: Otsu on the log intensity of
 * its data (non-zero, finite) pixels; 0 when it holds no data. */
double sscor_foreground_threshold(const sscor_image *coarse);

/* S at image point (x,y) (pixel centre at x+0.5); 1 outside every tile. */
double sscor_flatfield_gain(const sscor_flatfield *ff, double x, double y);
/* The flat-field F at tile-relative point (u,v) (normalised like S). */
double sscor_flatfield_tile_value(const sscor_flatfield *ff, double u, double v);
double sscor_flatfield_dark(const sscor_flatfield *ff);

/* Corrects `region` in place: its pixel (0,0) is image pixel (x0,y0). Any
 * sample type and channel count; zero pixels (no data) stay zero; integer
 * types are rounded and clamped. */
sscor_status sscor_flatfield_apply(const sscor_flatfield *ff, sscor_image *region, int x0, int y0);
/* The same on one channel of region only (channel -1: every channel). */
sscor_status sscor_flatfield_apply_channel(const sscor_flatfield *ff, sscor_image *region, int x0, int y0,
                                           int channel);

#endif

/* ---- storage (model files, core/correct.h) ------------------------------ */

/* The fitted field's numbers: nk knots per axis at ku/kv (tile px), log F at
 * the knots (nk*nk, row v major), log gain per tile (NULL when none), dark.
 * Pointers stay owned by ff. */
void sscor_flatfield_params_of(const sscor_flatfield *ff, int *nk, const double **ku,
                               const double **kv, const double **logf, const double **log_gain,
                               double *dark);
/* The factor fitted for pixels covered by 2+ tiles (params.overlap_factor),
 * as a log; 0 when none. Stored in model files next to the numbers above. */
double sscor_flatfield_log_overlap(const sscor_flatfield *ff);
/* Sets it (a field rebuilt from a model file); refuses a non-finite or
 * absurd value (|log| > 5). */
sscor_status sscor_flatfield_set_log_overlap(sscor_flatfield *ff, double log_factor);
/* Rebuilds a field from those numbers for geometry g (copied); refuses
 * non-finite or unordered knots and a tile count that does not match g. */
sscor_status sscor_flatfield_from_params(const sscor_geometry *g, int nk, const double *ku,
                                         const double *kv, const double *logf,
                                         const double *log_gain, int n_gain, double dark,
                                         sscor_flatfield **out);
