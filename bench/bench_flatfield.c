/* Detects the tile geometry of a stitched TIFF, estimates the seam-aware
 * flat-field, corrects the image band by band (as a streaming element would)
 * and writes the result; prints what it found and the time of each stage.
 *
 * usage: bench_flatfield IN.tif OUT.tif [options]
 *   --scale N         reduction of the coarse image (default 4)
 *   --geometry FILE   use this geometry instead of detecting it
 *   --save-geometry FILE
 *   --knots N  --no-gains  --dark D  --no-interior  --smooth L  --foreground F */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flatfield.h"
#include "geometry.h"
#include "tiff_local.h"

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
    else if (!strcmp(a, "--smooth") && v) fp.smooth = atof(argv[++i]);
    else if (!strcmp(a, "--foreground") && v) fp.foreground = atof(argv[++i]);
    else {
      fprintf(stderr, "unknown option %s\n", a);
      return 2;
    }
  }
  sscor_image img, coarse;
  if (bench_tiff_read(argv[1], &img)) return die();
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
  printf("flatfield: %d seam + %d interior observations, dark %.1f, foreground %.1f, seam residual "
         "rms %.4f -> %.4f, F range %.3f..%.3f\n",
         fr.seam_obs, fr.interior_obs, fr.dark, fr.foreground, fr.seam_rms_before,
         fr.seam_rms_after, fr.min_gain, fr.max_gain);
  /* Correct in bands of 256 rows, as a streaming element would. */
  for (int y = 0; y < img.height; y += 256) {
    int h = img.height - y < 256 ? img.height - y : 256;
    sscor_image band;
    sscor_image_wrap(&band, sscor_image_row(&img, y), img.width, h, img.channels, img.type,
                     img.stride);
    if (sscor_flatfield_apply(ff, &band, 0, y)) return die();
  }
  double t4 = now();
  if (bench_tiff_write(argv[2], &img)) return die();
  printf("time_s downsample %.3f detect %.3f estimate %.3f apply %.3f total %.3f\n", t1 - t0,
         t2 - t1, t3 - t2, t4 - t3, t4 - t0);
  sscor_flatfield_free(ff);
  sscor_geometry_free(&g);
  sscor_image_free(&coarse);
  sscor_image_free(&img);
  return 0;
}
