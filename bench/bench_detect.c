/* Detects the tile geometry of a stitched TIFF and writes it as a geometry
 * file; prints the time.  usage: bench_detect IN.tif OUT.geom [scale] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "geometry.h"
#include "slide.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s IN.tif OUT.geom [scale]\n", argv[0]);
    return 2;
  }
  int scale = argc > 3 ? atoi(argv[3]) : 4;
  sscor_image img, coarse;
  if (sscor_image_read(argv[1], &img)) {
    fprintf(stderr, "%s\n", sscor_last_error());
    return 1;
  }
  double t0 = now();
  sscor_geometry g;
  sscor_detect_report rep;
  if (sscor_downsample(&img, scale, &coarse) ||
      sscor_detect_geometry(&coarse, scale, img.width, img.height, sscor_image_region_reader, &img,
                            NULL, &g, &rep) ||
      sscor_geometry_write(&g, argv[2])) {
    fprintf(stderr, "%s\n", sscor_last_error());
    return 1;
  }
  double t1 = now();
  printf("%s\ndetect_seconds %.3f\n", rep.summary, t1 - t0);
  sscor_geometry_free(&g);
  sscor_image_free(&coarse);
  sscor_image_free(&img);
  return 0;
}
