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
} sscor_flatfield_params;

void sscor_flatfield_params_default(sscor_flatfield_params *p);

typedef struct sscor_flatfield sscor_flatfield;

typedef struct {
  int seam_obs, interior_obs;  /* observations used */
  double dark, foreground;     /* values used (image units) */
  double seam_rms_before, seam_rms_after; /* robust rms of seam log steps vs model */
  double min_gain, max_gain;   /* range of F over the tile */
  double overlap_factor;       /* fitted factor in overlaps (1 = none) */
} sscor_flatfield_report;

/* Estimates the field of the image described by `g` (tiles required) from
 * `coarse` (the image reduced by `scale`, one float channel, as for
 * detection) and full-resolution seam bands read through `reader`. */
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

#endif

/* ---- storage (model files, core/correct.h) ------------------------------ */

/* The fitted field's numbers: nk knots per axis at ku/kv (tile px), log F at
 * the knots (nk*nk, row v major), log gain per tile (NULL when none), dark,
 * and the log factor of pixels covered by 2+ tiles (0 when none).
 * Pointers stay owned by ff. */
void sscor_flatfield_params_of(const sscor_flatfield *ff, int *nk, const double **ku,
                               const double **kv, const double **logf, const double **log_gain,
                               double *dark, double *log_overlap);
/* Rebuilds a field from those numbers for geometry g (copied); refuses
 * non-finite or unordered knots and a tile count that does not match g. */
sscor_status sscor_flatfield_from_params(const sscor_geometry *g, int nk, const double *ku,
                                         const double *kv, const double *logf,
                                         const double *log_gain, int n_gain, double dark,
                                         double log_overlap, sscor_flatfield **out);
