/* Proximity sampling of training pairs (SSCOR): anomaly patches centred on
 * seams (or inside marked artifact regions), each paired with the nearest
 * patch lying clear of every seam (and artifact) — so both patches show the
 * same tissue and differ mainly by the artifact. Also the intensity scaling
 * that training applies to the patches.
 *
 * Rules (ARCHITECTURE.md, SSCOR "Sampling", made exact here):
 *   - anomaly centres every `step` px along every seam (default patch/2),
 *     moved by a seeded jitter of up to `jitter` px in both directions;
 *   - grid crossings get their own anomaly centred on the crossing, with a
 *     normal searched along the diagonals;
 *   - the normal is the nearest patch, at distance patch, 1.25 patch, ...
 *     (up to 4 patches) along the seam normal on the chosen side first, then
 *     the other, that lies inside the image and does not touch any seam or
 *     artifact region;
 *   - pairs whose anomaly or normal holds less than fg_fraction of foreground
 *     (pixels >= fg_threshold on the reduced image) are skipped;
 *   - at most max_pairs pairs, a seeded random subset in seam order;
 *   - the same inputs and seed give the same pairs.
 * Patches are axis-aligned in the image, also for rotated grids. */
#ifndef SSCOR_SAMPLING_H
#define SSCOR_SAMPLING_H

#include <stdint.h>

#include "geometry.h"

typedef struct {
  int patch;          /* patch side in px (default 256) */
  int step;           /* step along a seam, 0 = patch/2 */
  int jitter;         /* max anomaly offset from the seam point, px; < 0 = none, 0 = patch/8 */
  int max_pairs;      /* 0 = no cap */
  uint64_t seed;
  int side;           /* preferred side for normals: +1, -1, 0 = random per pair */
  double fg_threshold; /* image units; 0 = every pixel counts as foreground */
  double fg_fraction;  /* minimum foreground fraction of both patches (default 0.3) */
  int artifacts;       /* 1 = artifact mode: anomalies from the geometry's regions/mask */
} sscor_sample_params;

void sscor_sample_params_default(sscor_sample_params *p);

typedef struct {
  int ax, ay; /* anomaly patch top-left (image px) */
  int nx, ny; /* normal patch top-left */
  int seam;   /* index into sscor_geometry_seams() order, -1 for crossings/artifacts */
  int crossing; /* 1 when the anomaly is centred on a grid crossing */
} sscor_pair;

/* Samples pairs for a width x height image described by g. `fg` is the
 * image reduced by fg_scale (one channel, e.g. the detection image) used for
 * the foreground test; NULL skips the test. *pairs is malloc'd (may be NULL
 * when n is 0). */
sscor_status sscor_sample_pairs(const sscor_geometry *g, const sscor_image *fg, int fg_scale,
                                const sscor_sample_params *p, sscor_pair **pairs, int *n);

/* Copies the size x size patch at (x,y) of img into out (allocated, same type
 * and channels). The patch must lie inside img. */
sscor_status sscor_cut_patch(const sscor_image *img, int x, int y, int size, sscor_image *out);

/* ---- intensity scaling for training ------------------------------------ */

/* Maps each channel's [lo, hi] (robust percentiles of the training patches,
 * not the type's full range) linearly to [-1, 1]; values beyond are not
 * clipped, so the map inverts exactly. joint = 1 uses one range for all
 * channels (keeps colour balance), 0 one per channel. */
typedef struct {
  int channels;
  float lo[SSCOR_IMAGE_MAX_CHANNELS], hi[SSCOR_IMAGE_MAX_CHANNELS];
} sscor_intensity_scale;

/* Percentiles plo, phi in [0,100] (e.g. 0.5 and 99.5) over all pixels of the
 * n patches (same channels and type). Refuses constant data (hi == lo). */
sscor_status sscor_intensity_scale_from_patches(const sscor_image *patches, int n, double plo,
                                                double phi, int joint, sscor_intensity_scale *s);
static inline float sscor_intensity_to_unit(const sscor_intensity_scale *s, int c, float v) {
  return 2.0f * (v - s->lo[c]) / (s->hi[c] - s->lo[c]) - 1.0f;
}
static inline float sscor_intensity_from_unit(const sscor_intensity_scale *s, int c, float u) {
  return s->lo[c] + (u + 1.0f) * 0.5f * (s->hi[c] - s->lo[c]);
}

#endif
