/* Seeded degradation models and procedural tissue-like content, so the
 * project can measure its own corrections against a known truth and train on
 * synthetic pairs.
 *
 * Every degradation is out = in * G(x, y) + D(x, y) * level, with a gain field
 * G (multiplicative part) and an offset field D (additive part, in units of
 * `level`), except defocus, which also blurs the content inside its regions
 * before the gain is applied. Fields are computed once per image size (a
 * plan) and applied to any sscor_image: every sample type (integer results
 * rounded and clamped), every channel count (the same field on every channel:
 * shading and stripes are optical, they hit all channels alike).
 *
 * ---------------------------------------------------------------- kinds
 * Common parameters (all kinds):
 *   strength  main amplitude, meaning per kind (default per kind below)
 *   additive  additive part: D peaks at `additive` (fraction of level); 0
 *   level     intensity the additive part is relative to; 0 = the mean of the
 *             image it is applied to (per frame in a stream)
 *   seed      random seed; the same seed gives the same field (default 1)
 * Light-sheet stripes (Wei et al., BOE 2022):
 *   stripes-regular   horizontal dark stripes every `period` px (16), Gaussian
 *                     profile of std `width` px (2) starting at `phase` px (0):
 *                     G = 1 - strength * sum_k exp(-(y - phase - k*period)^2 / (2 width^2)),
 *                     strength default 0.3.
 *   stripes-gaussian  `count` (H/12) horizontal anisotropic Gaussian stripes
 *                     at random centres: std `width` px across (1.5), std
 *                     `length` px along (W/4); amplitude uniform in
 *                     [strength/2, strength] (0.4); G = prod_i (1 - a_i g_i).
 *   stripes-angled    the same, the stripes running at `angle` degrees (10;
 *                     positive rises to the right, y pointing down).
 * Tile artifacts (SSCOR, Wang et al. 2023), on a grid of `tile` px (or
 * tile-w/tile-h; 128), origin `offset-x`/`offset-y` (0), rotated by `angle`
 * degrees about the image centre (0; oblique: 3):
 *   tile-uniform      one flat-field repeated on every tile: a vignette
 *                     G = 1 - strength * r^2 (r = 1 at the tile's corners,
 *                     centre displaced by up to 10 % of the tile, seeded),
 *                     strength 0.35; dark offset D = additive * (0.75 + 0.25 u)
 *                     (u = 0..1 across the tile).
 *   tile-varying      flat-fields varying tile to tile: each tile its own
 *                     vignette depth strength*[0.5, 1.5], centre, and an
 *                     exposure gain 1 + strength*[-0.3, 0.3].
 *   oblique           tile-varying on a grid rotated by `angle` (3) degrees.
 *   seams             stitching seams: tiles overlap their right and lower
 *                     neighbours by a band of `width` x tile px (0.05, the
 *                     paper's 0..0.16; at least 1 px), and the band (the first
 *                     columns/rows of every tile) is off by a gain 1 - strength
 *                     (0.3; negative = bright), with sharp edges as averaged
 *                     overlaps give. Truth tiles are tile + band px wide, and
 *                     every grid line has two seams (band start and end).
 * Local artifacts (regions are circles, listed in the truth file):
 *   defocus           `count` (2) regions of `radius` px (min(W,H)/8): blur
 *                     of std 1 + 6*strength px and dimming by 1 - 0.4*strength
 *                     (strength 0.6), with a smooth edge `radius`/4 wide.
 *   bubble            `count` (1) round regions of `radius` px (min(W,H)/10)
 *                     where signal is lost (G = 1 - strength, 0.8) with a
 *                     bright rim (G = 1 + strength/2) of width `radius`/6.
 *   fringe            resonant-scanner line modulation: G = 1 + strength *
 *                     cos(2 pi y / period + phase) * (0.5 + 0.5 (2x/W - 1)^2)
 *                     (stronger at the scan field's edges), period 6 px,
 *                     strength 0.15.
 *
 * Specification strings (CLI and GStreamer element):
 *   KIND[:key=value[,key=value...]][;KIND...]
 *   e.g. "tile-varying:tile=256,strength=0.4;bubble:count=2,seed=7"
 *
 * ------------------------------------------------------ truth file format
 * Coordinates are continuous pixel units: pixel (x, y) covers [x, x+1) x
 * [y, y+1), so its centre is (x + 0.5, y + 0.5); a tile edge at column e lies
 * between pixel columns e-1 and e.
 * Plain text, one record per line, tokens separated by spaces, '#' starts a
 * comment line. Written by sscor_degrade_plan_write_truth, read back by
 * sscor_truth_read.
 *   sscor-truth 1                       first line, format version
 *   size W H                            image size
 *   degradation KIND                    starts the block of one degradation
 *   param NAME VALUE                    every parameter as used (defaults filled)
 *   grid TW TH OX OY ANGLE CX CY        tile grid: pitch, origin, rotation
 *                                       (degrees) about (CX, CY)
 *   tile X Y W H                        a tile's footprint in grid coordinates
 *                                       (equal to image coordinates when ANGLE = 0)
 *   seam v|h POS X0 Y0 X1 Y1            a tile edge: v = vertical (grid column POS),
 *                                       h = horizontal (grid row POS); endpoints
 *                                       of its segment in image coordinates
 *   stripe XC YC ANGLE ACROSS ALONG AMP a stripe through (XC, YC) at ANGLE
 *                                       degrees, Gaussian std ACROSS and ALONG px
 *                                       (ALONG 0 = spans the image), amplitude AMP
 *   region KIND CX CY R                 a circular artifact region (defocus, bubble)
 *   end                                 closes the degradation block
 * Readers must ignore records they do not know (forward compatibility). */
#ifndef SSCOR_DEGRADE_H
#define SSCOR_DEGRADE_H

#include <stdint.h>

#include "image.h"
#include "metrics.h"
#include "status.h"

typedef enum {
  SSCOR_DEG_STRIPES_REGULAR = 0,
  SSCOR_DEG_STRIPES_GAUSSIAN,
  SSCOR_DEG_STRIPES_ANGLED,
  SSCOR_DEG_TILE_UNIFORM,
  SSCOR_DEG_TILE_VARYING,
  SSCOR_DEG_OBLIQUE,
  SSCOR_DEG_SEAMS,
  SSCOR_DEG_DEFOCUS,
  SSCOR_DEG_BUBBLE,
  SSCOR_DEG_FRINGE,
  SSCOR_DEG_NKINDS
} sscor_deg_kind;

/* One degradation. NAN (doubles) or -1 (ints) mean "default", filled by
 * sscor_degrade_resolve for a given image size. */
typedef struct {
  sscor_deg_kind kind;
  double strength, additive, level;
  double period, width, length, phase, angle, radius;
  int count, tile_w, tile_h, offset_x, offset_y;
  int vary; /* tile-to-tile variation: 0 tile-uniform, 1 tile-varying/oblique */
  uint64_t seed;
} sscor_degradation;

const char *sscor_degrade_kind_name(sscor_deg_kind kind);
/* Kind from its name ("tile-varying"); SSCOR_E_INVALID listing the valid names. */
sscor_status sscor_degrade_kind_from_name(const char *name, sscor_deg_kind *kind);
/* A degradation of this kind with every parameter at "default". */
sscor_degradation sscor_degrade_default(sscor_deg_kind kind);
/* Parses "KIND[:k=v,...][;KIND...]" into up to max entries; *n receives the
 * count. Unknown kinds or keys and out-of-range values are errors naming them. */
sscor_status sscor_degrade_parse(const char *spec, sscor_degradation *out, int max, int *n);
/* Fills defaults for an image of width x height and checks ranges. */
sscor_status sscor_degrade_resolve(sscor_degradation *d, int width, int height);

/* The fields of one or more degradations for one image size. */
typedef struct sscor_degrade_plan sscor_degrade_plan;

sscor_status sscor_degrade_plan_new(const sscor_degradation *d, int n, int width, int height,
                                    sscor_degrade_plan **plan);
void sscor_degrade_plan_free(sscor_degrade_plan *plan);
/* Applies the plan in place; img must have the plan's size. */
sscor_status sscor_degrade_plan_apply(const sscor_degrade_plan *plan, sscor_image *img);
/* Gives channel c the degradation raised to the power a[c] (n values, one
 * per channel of out): out = truth * (out / truth)^a[c], so 0.5 halves the
 * log-shading; fluorescence channels shade with different strengths. Pixels
 * where either is 0 stay as they are; integer results rounded and clamped. */
sscor_status sscor_degrade_channel_strengths(const sscor_image *truth, sscor_image *out, const double *a, int n);
/* Gain and offset fields (width*height floats; offset in units of level). */
const float *sscor_degrade_plan_gain(const sscor_degrade_plan *plan);
const float *sscor_degrade_plan_offset(const sscor_degrade_plan *plan);
/* Writes the ground truth geometry (format above), atomically. */
sscor_status sscor_degrade_plan_write_truth(const sscor_degrade_plan *plan, const char *path);

/* ---------------------------------------------------- truth file reading */

typedef struct {
  int block;   /* index of the degradation it belongs to */
  char v_or_h; /* seams: 'v' or 'h' */
  double a[8]; /* numbers in file order (see the format) */
} sscor_truth_item;

typedef struct {
  int width, height;
  int ndeg;
  sscor_deg_kind kinds[16];
  double grid[16][7]; /* per block: TW TH OX OY ANGLE CX CY (0 when no grid) */
  sscor_truth_item *tiles, *seams, *stripes, *regions; /* regions: a[0] = kind */
  int ntiles, nseams, nstripes, nregions;
} sscor_truth;

sscor_status sscor_truth_read(const char *path, sscor_truth *t);
void sscor_truth_free(sscor_truth *t);
/* Tile footprints (axis-aligned grids only) as rectangles for the seam metrics;
 * *tiles is malloc'd. SSCOR_E_INVALID when the file has no tiles. */
sscor_status sscor_truth_tile_rects(const sscor_truth *t, sscor_rect **tiles, int *n);

/* ------------------------------------------------ procedural content */

/* Fills img (any type, any channel count) with tissue-like content: a tissue
 * area with soft edges on a dim background, cells (round bright blobs with
 * darker nuclei), curved fibres, fine texture and signal-dependent noise.
 * Full signal ~ 220 (uint8), 20000 (uint16) or 1.0 (float). With several
 * channels, channel c stresses cells (c%3 = 0), fibres (1) or the tissue
 * ground (2). Deterministic for a seed. */
sscor_status sscor_synth_content(sscor_image *img, uint64_t seed);

#endif
