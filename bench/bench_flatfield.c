/* Detects the tile geometry of a stitched TIFF, estimates the seam-aware
 * flat-field, corrects the image band by band (as a streaming element would)
 * and writes the result; prints what it found and the time of each stage.
 *
 * usage: bench_flatfield IN.tif OUT.tif [options]
 *   --scale N         reduction of the coarse image (default 4)
 *   --geometry FILE   use this geometry instead of detecting it
 *   --save-geometry FILE
 *   --knots N  --no-gains  --dark D  --no-interior  --no-overlap-factor  --smooth L
 *   --foreground F */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flatfield.h"
#include "geometry.h"
#include "pyramid.h"
#include "sampling.h"
#include "slide.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int die(void) {
  fprintf(stderr, "error: %s\n", sscor_last_error());
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s IN.tif OUT.tif [--scale N] [--geometry FILE] [--save-geometry FILE]"
                    " [--knots N] [--no-gains] [--dark D] [--no-interior] [--smooth L]"
                    " [--foreground F]\n", argv[0]);
    return 2;
  }
  int scale = 4;
  const char *geom_in = NULL, *geom_out = NULL;
  sscor_flatfield_params fp;
  sscor_flatfield_params_default(&fp);
  for (int i = 3; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--scale") && v) scale = atoi(argv[++i]);
    else if (!strcmp(a, "--geometry") && v) geom_in = argv[++i];
    else if (!strcmp(a, "--save-geometry") && v) geom_out = argv[++i];
    else if (!strcmp(a, "--knots") && v) fp.knots = atoi(argv[++i]);
    else if (!strcmp(a, "--no-gains")) fp.tile_gains = 0;
    else if (!strcmp(a, "--dark") && v) fp.dark = atof(argv[++i]);
    else if (!strcmp(a, "--no-interior")) fp.use_interior = 0;
    else if (!strcmp(a, "--no-overlap-factor")) fp.overlap_factor = 0;
    else if (!strcmp(a, "--smooth") && v) fp.smooth = atof(argv[++i]);
    else if (!strcmp(a, "--foreground") && v) fp.foreground = atof(argv[++i]);
    else {
      fprintf(stderr, "unknown option %s\n", a);
      return 2;
    }
  }
  sscor_image img, coarse;
  if (sscor_image_read(argv[1], &img)) return die();
  double t0 = now();
  if (sscor_downsample(&img, scale, &coarse)) return die();
  double t1 = now();
  sscor_geometry g;
  if (geom_in) {
    if (sscor_geometry_read(geom_in, &g)) return die();
    printf("geometry: %s (%d tiles)\n", geom_in, g.n_tiles);
  } else {
    sscor_detect_report rep;
    if (sscor_detect_geometry(&coarse, scale, img.width, img.height, sscor_image_region_reader,
                              &img, NULL, &g, &rep))
      return die();
    printf("detect: %s\n", rep.summary);
  }
  if (geom_out && sscor_geometry_write(&g, geom_out)) return die();
  double t2 = now();
  sscor_flatfield *ff;
  sscor_flatfield_report fr;
  if (sscor_flatfield_estimate(&g, &coarse, scale, sscor_image_region_reader, &img, &fp, &ff, &fr))
    return die();
  double t3 = now();
  double t_est = t3 - t2;
  printf("flatfield: %d seam + %d interior observations, dark %.1f, foreground %.1f, seam residual "
         "rms %.4f -> %.4f, F range %.3f..%.3f, overlap factor %.4f\n",
         fr.seam_obs, fr.interior_obs, fr.dark, fr.foreground, fr.seam_rms_before,
         fr.seam_rms_after, fr.min_gain, fr.max_gain, fr.overlap_factor);
  /* Training pairs as sscorsample would draw them (paper patch 256), and the
     intensity scaling sscortrain would store, from the uncorrected image. */
  {
    double ts = now();
    sscor_sample_params sp;
    sscor_sample_params_default(&sp);
    sp.patch = 256;
    sp.seed = 1;
    sp.fg_threshold = fr.foreground;
    sscor_pair *pairs;
    int np;
    if (sscor_sample_pairs(&g, &coarse, scale, &sp, &pairs, &np)) return die();
    int crossings = 0;
    for (int i = 0; i < np; i++) crossings += pairs[i].crossing;
    int nsc = np < 64 ? np : 64;
    sscor_image *patches = calloc((size_t)nsc + 1, sizeof *patches);
    for (int i = 0; i < nsc; i++)
      if (sscor_cut_patch(&img, pairs[i].ax, pairs[i].ay, sp.patch, &patches[i])) return die();
    sscor_intensity_scale isc;
    if (nsc && sscor_intensity_scale_from_patches(patches, nsc, 0.5, 99.5, 0, &isc)) return die();
    printf("sampling: %d pairs (%d at grid crossings), patch %d; intensity scale from %d patches: "
           "%.0f..%.0f; %.3f s\n",
           np, crossings, sp.patch, nsc, nsc ? isc.lo[0] : 0.0, nsc ? isc.hi[0] : 0.0, now() - ts);
    for (int i = 0; i < nsc; i++) sscor_image_free(&patches[i]);
    free(patches);
    free(pairs);
  }
  t3 = now();
  /* Correct in bands of 256 rows, as a streaming element would. */
  for (int y = 0; y < img.height; y += 256) {
    int h = img.height - y < 256 ? img.height - y : 256;
    sscor_image band;
    sscor_image_wrap(&band, sscor_image_row(&img, y), img.width, h, img.channels, img.type,
                     img.stride);
    if (sscor_flatfield_apply(ff, &band, 0, y)) return die();
  }
  double t4 = now();
  if (sscor_image_write_pyramid(argv[2], &img, NULL)) return die();
  printf("time_s downsample %.3f detect %.3f estimate %.3f apply %.3f total %.3f\n", t1 - t0,
         t2 - t1, t_est, t4 - t3, t1 - t0 + t2 - t1 + t_est + t4 - t3);
  sscor_flatfield_free(ff);
  sscor_geometry_free(&g);
  sscor_image_free(&coarse);
  sscor_image_free(&img);
  return 0;
}
