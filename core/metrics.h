/* Image-quality metrics the project judges every correction by (ARCHITECTURE.md
 * "How a correction is judged"). All functions read any sscor_image (U8/U16/F32, any channel
 * count) in the type's own units and never modify it.
 *
 * Channel selection: every function taking `channel` reads that channel, or,
 * with SSCOR_METRIC_MEAN_CHANNELS, the mean over all channels of a pixel.
 * PSNR, SSIM and MAE always use all channels (SSIM: mean of per-channel SSIM,
 * as scikit-image with channel_axis).
 *
 * Masks are one-channel U8 sscor_images of the measured image's size; a
 * non-zero sample includes the pixel. Build them with sscor_metric_tissue_mask
 * and sscor_metric_mask_exclude_edges.
 *
 * Conventions that the reference fixtures (tests/make_metric_fixtures.py) follow:
 * - Gaussian smoothing is scipy.ndimage.gaussian_filter(mode='reflect',
 *   truncate=4.0) unless stated otherwise; boxes are uniform_filter(mode='reflect').
 * - std is the population std (ddof 0).
 * - log ratios use log((a + eps) / (b + eps)) with eps = SSCOR_METRIC_LOG_EPS
 *   in the image's units, so zero samples stay finite. */
#ifndef SSCOR_METRICS_H
#define SSCOR_METRICS_H

#include <stddef.h>

#include "image.h"
#include "status.h"

#define SSCOR_METRIC_MEAN_CHANNELS (-1)
#define SSCOR_METRIC_LOG_EPS 1.0

/* An axis-aligned rectangle in pixels: a region, or a tile's footprint in a
 * stitched image (x, y = top-left corner). */
typedef struct {
  int x, y, w, h;
} sscor_rect;

/* ---------------------------------------------------------------- regions */

/* ICV (inverse coefficient of variation) = mean / std of the region's pixels;
 * higher is flatter. Any of the outputs may be NULL. std == 0 gives icv = +inf.
 * The region must lie inside the image. */
sscor_status sscor_metric_icv(const sscor_image *img, int channel, sscor_rect region,
                              double *icv, double *mean, double *std);

/* Intensity profile across stripes that run at angle_deg (0 = horizontal
 * stripes, 90 = vertical; counter-clockwise with y pointing down, i.e. a
 * stripe at +a degrees rises to the right): every pixel of the region is
 * projected on the stripe normal, and the means of 1-px bins form the curve.
 * For angle 0 this is the mean of each row (length region.h); for 90 the mean
 * of each column (length region.w). Bin i holds projection
 * floor(p - pmin + 0.5) with p = x*sin(a) + y*cos(a) (x, y relative to the
 * region's top-left). *profile is malloc'd (caller frees), *n its length. */
sscor_status sscor_metric_profile(const sscor_image *img, int channel, sscor_rect region,
                                  double angle_deg, double **profile, int *n);

/* --------------------------------------------------------------- masks */

/* Otsu threshold (256 bins between min and max) of a channel; a default
 * foreground (tissue) threshold. */
sscor_status sscor_metric_otsu(const sscor_image *img, int channel, double *threshold);

/* mask = (value > threshold). mask must be freed with sscor_image_free. */
sscor_status sscor_metric_tissue_mask(const sscor_image *img, int channel, double threshold,
                                      sscor_image *mask);

/* Clears mask pixels within `margin` px (Chebyshev) of any of the four edges of
 * any tile: the lines x = t.x, x = t.x + t.w, y = t.y, y = t.y + t.h (a pixel
 * column/row index c is within margin of edge e when e - margin <= c < e + margin). */
sscor_status sscor_metric_mask_exclude_edges(sscor_image *mask, const sscor_rect *tiles,
                                             int ntiles, int margin);

/* Reads a tile position list ("name x y" per line, '#' comments, as
 * wsi_brain/tile_positions.txt) into rectangles of tile_w x tile_h; a line
 * "name x y w h" gives that tile its own size.
 * *tiles is malloc'd. Malformed lines are an error naming file and line. */
sscor_status sscor_metric_read_tiles(const char *path, int tile_w, int tile_h,
                                     sscor_rect **tiles, int *ntiles);

/* ------------------------------------------------------------- seams */

typedef struct {
  double seam_step;    /* mean |log(a/b)| across tile edges */
  double nonseam_step; /* the same across the tiles' middle lines */
  double ratio;        /* seam_step / nonseam_step; 1.0 = seams gone */
  long seam_samples, nonseam_samples;
} sscor_seam_stats;

/* Pixels left out on each side of a measured line: stitchers place tiles at
 * sub-pixel positions and interpolate, so the pixel either side of an edge
 * mixes both tiles; leaving it out makes the step robust to that (and gives
 * the input's ratio on wsi_brain that the project's targets were set on). */
#define SSCOR_METRIC_SEAM_GAP 1

/* Seam step over all four edges of every tile. For an edge at column e (left
 * edge e = t.x, right edge e = t.x + t.w), at each row y of the tile's span,
 * with g = SSCOR_METRIC_SEAM_GAP: a = mean of columns e-g-band..e-g-1,
 * b = mean of columns e+g..e+g+band-1 (band = 2 unless given > 0), counted when both a and b exceed `threshold` and all
 * columns lie in the image; the sample is |log((a+eps)/(b+eps))|. Top and
 * bottom edges likewise with rows. Non-seam lines: the vertical line at
 * t.x + t.w/2 and the horizontal line at t.y + t.h/2 of every tile, measured
 * the same way. NaN where no sample counted. */
sscor_status sscor_metric_seam_step(const sscor_image *img, int channel, const sscor_rect *tiles,
                                    int ntiles, double threshold, int band,
                                    sscor_seam_stats *out);

/* ------------------------------------------------- fidelity and contrast */

/* Fidelity: L = log((out+eps)/(in+eps)) over the whole image, F = L minus
 * its Gaussian-smoothed self (sigma, ~6 px); result = std of F over mask
 * (tissue away from seams). Near 0 for any smooth gain; invented or erased
 * texture raises it. Reported as a fraction (0.005 = 0.5 %). */
sscor_status sscor_metric_fidelity(const sscor_image *out, const sscor_image *in, int channel,
                                   const sscor_image *mask, double sigma, double *fidelity);

/* Texture contrast: std over mask of (img - uniform_filter(img, size)), the
 * high-pass at `size` px (15 by convention). */
sscor_status sscor_metric_texture(const sscor_image *img, int channel, const sscor_image *mask,
                                  int size, double *contrast);

/* Median of img inside mask divided by its median outside mask
 * (tissue/background contrast). Median of an even count = mean of the two
 * middle values (numpy). */
sscor_status sscor_metric_median_ratio(const sscor_image *img, int channel,
                                       const sscor_image *mask, double *ratio);

/* Everything ARCHITECTURE.md asks to report next to a seam figure, in one call, the
 * way `sscor metrics` computes it: tissue = pixels of `in` above threshold
 * (NAN = Otsu of `in`); seam stats over `tiles` (skipped when ntiles is 0);
 * texture (15-px high-pass) and fidelity (sigma; <= 0 means 6) over tissue
 * farther than max(ceil(3 sigma), 8) px from every tile edge; tissue/background
 * median ratio over the plain tissue mask (NaN when the mask is all tissue).
 * out may be NULL (input figures only; [1] entries and fidelity are NaN). */
typedef struct {
  double threshold;
  sscor_seam_stats seams[2]; /* [0] input, [1] output */
  double texture[2], tissue_bg[2];
  double fidelity; /* output vs input, fraction */
  int edge_margin; /* px excluded either side of tile edges */
} sscor_correction_report;

sscor_status sscor_metric_correction_report(const sscor_image *in, const sscor_image *out,
                                            int channel, const sscor_rect *tiles, int ntiles,
                                            double threshold, double sigma,
                                            sscor_correction_report *report);

/* ----------------------------------------------- against a ground truth */

typedef enum {
  /* Stripe component of an error e: per-line means of e along the stripe
   * direction (bins as sscor_metric_profile at `param` = angle in degrees),
   * spread back over the lines, minus the mean of e. */
  SSCOR_RESIDUAL_STRIPE = 0,
  /* Shading component: gaussian_filter(e, sigma = `param` px) minus the mean
   * of e: the low-frequency error a tile flat-field leaves. */
  SSCOR_RESIDUAL_SHADING = 1,
} sscor_residual_kind;

/* Residual of an artifact against the truth, as a percentage: with e_out =
 * out - truth and e_in = in - truth (channel-selected), result =
 * 100 * RMS(component(e_out)) / RMS(component(e_in)). 0 = artifact fully
 * removed, 100 = unchanged, > 100 = made worse. rms_out / rms_in (may be NULL)
 * receive the two RMS values in image units. NaN when rms_in is 0. */
sscor_status sscor_metric_residual(const sscor_image *out, const sscor_image *in,
                                   const sscor_image *truth, int channel,
                                   sscor_residual_kind kind, double param, double *percent,
                                   double *rms_out, double *rms_in);

/* PSNR = 10 log10(data_range^2 / MSE) over all samples (skimage
 * peak_signal_noise_ratio); +inf when identical. */
sscor_status sscor_metric_psnr(const sscor_image *a, const sscor_image *b, double data_range,
                               double *psnr);

/* SSIM exactly as skimage.metrics.structural_similarity(a, b,
 * gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
 * data_range=data_range, channel_axis=-1 for several channels): 11x11
 * Gaussian window (truncate 3.5, mode reflect), K1 0.01, K2 0.03, mean of the
 * SSIM map with a 5-px border cropped, averaged over channels. Needs sides >= 11. */
sscor_status sscor_metric_ssim(const sscor_image *a, const sscor_image *b, double data_range,
                               double *ssim);

/* Mean absolute difference over all samples. */
sscor_status sscor_metric_mae(const sscor_image *a, const sscor_image *b, double *mae);

/* Natural data range for a type: 255, 65535; for float the max-min of truth. */
double sscor_metric_data_range(const sscor_image *truth);

/* ------------------------------------------------------- helpers shared */

/* One channel (or the channel mean) of img as a float plane, w*h, malloc'd. */
sscor_status sscor_metric_plane(const sscor_image *img, int channel, float **plane);

/* In-place separable Gaussian blur of a w*h float plane exactly as
 * scipy.ndimage.gaussian_filter(mode='reflect', truncate=truncate).
 * sigma <= 0 leaves it unchanged. */
sscor_status sscor_gaussian_blur(float *plane, int w, int h, double sigma, double truncate);

#endif
