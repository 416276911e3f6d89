/* Synthetic stitched images for the geometry, flat-field and sampling tests:
 * procedural tissue-like content T times a known tile shading on a known,
 * possibly rotated and jittered, tile layout, overlaps averaged as stitchers
 * do; pixels outside every tile are 0 (no data). */
#ifndef SSCOR_TEST_SYNTH_TILES_H
#define SSCOR_TEST_SYNTH_TILES_H

#include <math.h>
#include <stdint.h>

#include "geometry.h"

static double synth_hash(int x, int y, uint32_t seed) {
  uint32_t h = (uint32_t)x * 374761393u + (uint32_t)y * 668265263u + seed * 2246822519u;
  h = (h ^ (h >> 13)) * 1274126177u;
  return ((h ^ (h >> 16)) & 0xFFFFFF) / (double)0xFFFFFF;
}

/* Smooth value noise at scale s. */
static double synth_noise(double x, double y, double s, uint32_t seed) {
  double fx = x / s, fy = y / s;
  int ix = (int)floor(fx), iy = (int)floor(fy);
  double ax = fx - ix, ay = fy - iy;
  ax = ax * ax * (3 - 2 * ax);
  ay = ay * ay * (3 - 2 * ay);
  double a = synth_hash(ix, iy, seed), b = synth_hash(ix + 1, iy, seed);
  double c = synth_hash(ix, iy + 1, seed), d = synth_hash(ix + 1, iy + 1, seed);
  return (1 - ay) * ((1 - ax) * a + ax * b) + ay * ((1 - ax) * c + ax * d);
}

/* Tissue-like content around 1000: broad regions, cells, fine texture. */
static double synth_content(int x, int y) {
  double v = 0.6 + 0.5 * synth_noise(x, y, 90, 1) + 0.25 * synth_noise(x, y, 23, 2);
  double cells = synth_noise(x, y, 5, 3);
  v *= 0.8 + 0.4 * cells * cells;
  v *= 0.9 + 0.2 * synth_hash(x, y, 4);
  return 1000.0 * v;
}

/* Vignetting flat-field of a tw x th tile at tile coordinate (u,v). */
static double synth_vignette(double u, double v, int tw, int th, double strength) {
  double a = (u + 0.5) / tw * 2 - 1, b = (v + 0.5) / th * 2 - 1;
  return (1 - strength * a * a) * (1 - strength * b * b);
}

typedef enum { SYNTH_VIGNETTE, SYNTH_RAMP_U, SYNTH_NONE } synth_shading;

/* Renders the stitched image of geometry g into img (F32, 1 channel, g's size). */
static void synth_render(const sscor_geometry *g, synth_shading sh, double strength,
                         const double *tile_gain, sscor_image *img) {
  for (int y = 0; y < g->height; y++)
    for (int x = 0; x < g->width; x++) {
      int idx[8];
      int n = sscor_geometry_tiles_at(g, x + 0.5, y + 0.5, idx, 8);
      double u, v, s = 0;
      sscor_geometry_to_frame(g, x + 0.5, y + 0.5, &u, &v);
      for (int k = 0; k < n; k++) {
        const sscor_tile *t = &g->tiles[idx[k]];
        double tu = u - t->x - 0.5, tv = v - t->y - 0.5, f = 1;
        if (sh == SYNTH_VIGNETTE) f = synth_vignette(tu, tv, t->w, t->h, strength);
        else if (sh == SYNTH_RAMP_U) f = 1 - strength * (tu + 0.5) / t->w;
        s += f * (tile_gain ? tile_gain[idx[k]] : 1.0);
      }
      sscor_image_set(img, x, y, 0, n ? (float)(synth_content(x, y) * s / n) : 0.0f);
    }
}

#endif
