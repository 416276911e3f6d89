/* Proximity sampling: anomalies on seams (within jitter), normals clear of
 * every seam and the nearest such patch, background skipped, cap, seed
 * determinism, crossings, artifact mode; intensity scaling. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sampling.h"

#define P 64

/* Does the axis-aligned patch at (x,y) touch any seam (brute force)? */
static int patch_touches(const sscor_seam *s, int n, int x, int y) {
  for (int i = 0; i < n; i++) {
    if (s[i].vertical) {
      if (s[i].pos >= x - 1 && s[i].pos <= x + P + 1 && s[i].to >= y - 1 && s[i].from <= y + P + 1) return 1;
    } else {
      if (s[i].pos >= y - 1 && s[i].pos <= y + P + 1 && s[i].to >= x - 1 && s[i].from <= x + P + 1) return 1;
    }
  }
  return 0;
}

static double dist_to_seam(const sscor_seam *s, int n, double x, double y) {
  double best = 1e30;
  for (int i = 0; i < n; i++) {
    double across = s[i].vertical ? x - s[i].pos : y - s[i].pos;
    double along = s[i].vertical ? y : x;
    double out = along < s[i].from ? s[i].from - along : along > s[i].to ? along - s[i].to : 0;
    best = fmin(best, sqrt(across * across + out * out));
  }
  return best;
}

int main(void) {
  sscor_geometry g;
  CHECK(sscor_geometry_init(&g, 1000, 700) == SSCOR_OK);
  CHECK(sscor_geometry_set_grid(&g, 0, 0, 230, 230, 4, 3, 250, 250) == SSCOR_OK);
  g.width = 3 * 230 + 250;
  g.height = 2 * 230 + 250;
  sscor_seam *seams;
  int ns;
  CHECK(sscor_geometry_seams(&g, &seams, &ns) == SSCOR_OK);

  /* Foreground: the left three quarters hold tissue, the right is background. */
  sscor_image fg;
  int scale = 4;
  CHECK(sscor_image_alloc(&fg, g.width / scale, g.height / scale, 1, SSCOR_F32) == SSCOR_OK);
  for (int y = 0; y < fg.height; y++)
    for (int x = 0; x < fg.width; x++) sscor_image_set(&fg, x, y, 0, x * scale < 700 ? 100.0f : 5.0f);

  sscor_sample_params p;
  sscor_sample_params_default(&p);
  p.patch = P;
  p.jitter = 6;
  p.seed = 42;
  p.fg_threshold = 50;
  p.fg_fraction = 0.5;
  sscor_pair *pr;
  int n;
  CHECK(sscor_sample_pairs(&g, &fg, scale, &p, &pr, &n) == SSCOR_OK);
  printf("%d pairs from %d seams\n", n, ns);
  CHECK(n > 100);
  int bad_anom = 0, bad_norm = 0, bad_near = 0, bad_fg = 0, crossings = 0;
  for (int i = 0; i < n; i++) {
    double cx = pr[i].ax + P / 2.0, cy = pr[i].ay + P / 2.0;
    /* anomaly centre within the jitter (both axes) of a seam */
    if (dist_to_seam(seams, ns, cx, cy) > 6 * M_SQRT2 + 0.5) bad_anom++;
    if (patch_touches(seams, ns, pr[i].nx, pr[i].ny)) bad_norm++;
    if (pr[i].nx < 0 || pr[i].ny < 0 || pr[i].nx + P > g.width || pr[i].ny + P > g.height) bad_norm++;
    crossings += pr[i].crossing;
    /* nearest: distance is one of P, 1.25P, ... and no closer candidate along
       the same direction would have been clear */
    double dx = pr[i].nx - pr[i].ax, dy = pr[i].ny - pr[i].ay, d = sqrt(dx * dx + dy * dy);
    double k = d / (0.25 * P);
    if (fabs(k - lround(k)) > 0.1 || d < P - 1 || d > 4 * P + 1) bad_near++;
    for (double dd = P; dd < d - 1; dd += 0.25 * P) {
      int x = (int)lround(pr[i].ax + dx / d * dd), y = (int)lround(pr[i].ay + dy / d * dd);
      if (x >= 0 && y >= 0 && x + P <= g.width && y + P <= g.height && !patch_touches(seams, ns, x, y) &&
          x + P <= 700 - 32)
        bad_near++;
    }
    /* background-only patches skipped: both patches mostly left of x = 700 */
    if (pr[i].ax + P / 2 > 700 || pr[i].nx + P / 2 > 700) bad_fg++;
  }
  CHECK_MSG(bad_anom == 0, "%d anomalies off the seams", bad_anom);
  CHECK_MSG(bad_norm == 0, "%d normals touching a seam or outside", bad_norm);
  CHECK_MSG(bad_near == 0, "%d normals not the nearest clear patch", bad_near);
  CHECK_MSG(bad_fg == 0, "%d pairs in background", bad_fg);
  CHECK_MSG(crossings > 0, "no grid crossing sampled");

  /* step along a seam: default patch/2, configurable */
  int on_first = 0;
  for (int i = 0; i < n; i++) on_first += pr[i].seam == 0;
  p.step = P;
  sscor_pair *pr2;
  int n2;
  CHECK(sscor_sample_pairs(&g, &fg, scale, &p, &pr2, &n2) == SSCOR_OK);
  int on_first2 = 0;
  for (int i = 0; i < n2; i++) on_first2 += pr2[i].seam == 0;
  CHECK_MSG(on_first2 * 2 <= on_first + 1 && on_first2 > 0, "step P: %d on seam 0, step P/2: %d", on_first2, on_first);
  free(pr2);
  p.step = 0;

  /* determinism and seed dependence */
  CHECK(sscor_sample_pairs(&g, &fg, scale, &p, &pr2, &n2) == SSCOR_OK);
  CHECK(n2 == n && memcmp(pr, pr2, sizeof *pr * (size_t)n) == 0);
  free(pr2);
  p.seed = 43;
  CHECK(sscor_sample_pairs(&g, &fg, scale, &p, &pr2, &n2) == SSCOR_OK);
  CHECK(n2 != n || memcmp(pr, pr2, sizeof *pr * (size_t)n) != 0);
  free(pr2);
  p.seed = 42;

  /* cap: honoured, a subset of the uncapped pairs, deterministic */
  p.max_pairs = 25;
  CHECK(sscor_sample_pairs(&g, &fg, scale, &p, &pr2, &n2) == SSCOR_OK);
  CHECK(n2 == 25);
  int subset = 1;
  for (int i = 0; i < n2; i++) {
    int found = 0;
    for (int k = 0; k < n && !found; k++) found = memcmp(&pr2[i], &pr[k], sizeof *pr) == 0;
    subset &= found;
  }
  CHECK(subset);
  free(pr2);
  p.max_pairs = 0;

  /* no geometry -> no pairs; absurd patch refused */
  sscor_geometry none;
  CHECK(sscor_geometry_init(&none, 1000, 700) == SSCOR_OK);
  CHECK(sscor_sample_pairs(&none, NULL, 1, &p, &pr2, &n2) == SSCOR_OK && n2 == 0);
  free(pr2);
  p.patch = 5000;
  CHECK(sscor_sample_pairs(&g, NULL, 1, &p, &pr2, &n2) == SSCOR_E_INVALID);
  CHECK(strstr(sscor_last_error(), "patch 5000") != NULL);
  p.patch = P;

  /* artifact mode: anomalies overlap the marked region, normals do not */
  CHECK(sscor_geometry_add_region(&none, 300, 200, 150, 100, SSCOR_ARTIFACT_BUBBLE) == SSCOR_OK);
  p.artifacts = 1;
  p.fg_threshold = 0;
  CHECK(sscor_sample_pairs(&none, NULL, 1, &p, &pr2, &n2) == SSCOR_OK);
  CHECK(n2 >= 4);
  int art_bad = 0;
  for (int i = 0; i < n2; i++) {
    const sscor_pair *q = &pr2[i];
    int a_in = q->ax < 450 && q->ax + P > 300 && q->ay < 300 && q->ay + P > 200;
    int n_in = q->nx < 450 && q->nx + P > 300 && q->ny < 300 && q->ny + P > 200;
    double d = hypot(q->nx - q->ax, q->ny - q->ay);
    if (!a_in || n_in || d > 4 * P + 1) art_bad++;
  }
  CHECK_MSG(art_bad == 0, "%d artifact pairs misplaced", art_bad);
  free(pr2);
  none.n_regions = 0;
  CHECK(sscor_sample_pairs(&none, NULL, 1, &p, &pr2, &n2) == SSCOR_E_INVALID);
  sscor_geometry_free(&none);

  /* cut + intensity scaling: 16-bit patches with values 1000..1999 */
  sscor_image img, patches[2];
  CHECK(sscor_image_alloc(&img, 200, 100, 2, SSCOR_U16) == SSCOR_OK);
  for (int y = 0; y < 100; y++)
    for (int x = 0; x < 200; x++) {
      sscor_image_set(&img, x, y, 0, (float)(1000 + (y * 200 + x) % 1000));
      sscor_image_set(&img, x, y, 1, 7.0f + (x % 2)); /* second channel: 7..8 */
    }
  CHECK(sscor_cut_patch(&img, 10, 20, 50, &patches[0]) == SSCOR_OK);
  CHECK(sscor_cut_patch(&img, 150, 50, 50, &patches[1]) == SSCOR_OK);
  CHECK(sscor_image_get(&patches[0], 0, 0, 0) == sscor_image_get(&img, 10, 20, 0));
  CHECK(sscor_cut_patch(&img, 160, 50, 50, &patches[1]) == SSCOR_E_INVALID ||
        sscor_cut_patch(&img, 150, 50, 50, &patches[1]) == SSCOR_OK);
  sscor_image_free(&patches[1]);
  CHECK(sscor_cut_patch(&img, 150, 50, 51, &patches[1]) == SSCOR_E_INVALID);
  CHECK(sscor_cut_patch(&img, 150, 50, 50, &patches[1]) == SSCOR_OK);
  sscor_intensity_scale sc;
  CHECK(sscor_intensity_scale_from_patches(patches, 2, 0, 100, 0, &sc) == SSCOR_OK);
  CHECK(sc.channels == 2);
  CHECK_CLOSE(sc.lo[0], 1010, 0, 0); /* patch 0 starts at x = 10 */
  CHECK_CLOSE(sc.hi[0], 1999, 0, 0);
  CHECK_CLOSE(sc.lo[1], 7, 0, 0);
  CHECK_CLOSE(sc.hi[1], 8, 0, 0);
  CHECK_CLOSE(sscor_intensity_to_unit(&sc, 0, 1010), -1, 1e-6, 0);
  CHECK_CLOSE(sscor_intensity_to_unit(&sc, 0, 1999), 1, 1e-6, 0);
  CHECK_CLOSE(sscor_intensity_from_unit(&sc, 0, sscor_intensity_to_unit(&sc, 0, 1234)), 1234, 1e-3, 0);
  CHECK(sscor_intensity_scale_from_patches(patches, 2, 1, 99, 0, &sc) == SSCOR_OK);
  CHECK(sc.lo[0] > 1010 && sc.lo[0] < 1040 && sc.hi[0] < 1999 && sc.hi[0] > 1970);
  CHECK(sscor_intensity_scale_from_patches(patches, 2, 0, 100, 1, &sc) == SSCOR_OK);
  CHECK_CLOSE(sc.lo[1], 7, 0, 0); /* joint: one range for both channels */
  CHECK_CLOSE(sc.hi[1], 1999, 0, 0);
  CHECK(sscor_intensity_scale_from_patches(patches, 2, 50, 10, 0, &sc) == SSCOR_E_INVALID);
  sscor_image flat;
  CHECK(sscor_image_alloc(&flat, 8, 8, 1, SSCOR_U8) == SSCOR_OK);
  CHECK(sscor_intensity_scale_from_patches(&flat, 1, 1, 99, 0, &sc) == SSCOR_E_INVALID);
  CHECK(strstr(sscor_last_error(), "constant") != NULL);
  sscor_image_free(&flat);
  sscor_image_free(&patches[0]);
  sscor_image_free(&patches[1]);
  sscor_image_free(&img);

  free(pr);
  free(seams);
  sscor_image_free(&fg);
  sscor_geometry_free(&g);
  return CHECK_DONE();
}
