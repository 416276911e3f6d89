/* Geometry model, text format, and automatic detection on synthetic stitched
 * images with known tiles (axis-aligned, rotated, jittered, irregular,
 * stripes) and on a clean image (must report no stripes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "geometry.h"
#include "synth_tiles.h"

/* Builds a jittered nx x ny grid in the frame. */
static void make_grid(sscor_geometry *g, int w, int h, double angle, double x0, double y0, int tile,
                      int pitch, int nx, int ny, int jitter, uint32_t seed) {
  /* axis-aligned grids get slanted rows (2 px per column) as real stitching
     has; rotated grids are a rotated stage, rows straight in the frame */
  int slant = angle == 0.0 ? 2 : 0;
  CHECK(sscor_geometry_init(g, w, h) == SSCOR_OK);
  g->angle_deg = angle;
  g->orientation = SSCOR_ORIENT_GRID;
  g->tile_w = g->tile_h = tile;
  for (int j = 0; j < ny; j++)
    for (int i = 0; i < nx; i++) {
      int jx = jitter ? (int)(synth_hash(i, j, seed) * (2 * jitter + 1)) - jitter : 0;
      int jy = jitter ? (int)(synth_hash(i, j, seed + 7) * (2 * jitter + 1)) - jitter : 0;
      CHECK(sscor_geometry_add_tile(g, x0 + i * pitch + jx, y0 + j * pitch + jy + slant * i, tile, tile) ==
            SSCOR_OK);
    }
}

/* Every true tile has a detected tile with all four edges within tol. */
static int count_matched(const sscor_geometry *truth, const sscor_geometry *det, double tol) {
  int ok = 0;
  for (int i = 0; i < truth->n_tiles; i++) {
    const sscor_tile *t = &truth->tiles[i];
    for (int k = 0; k < det->n_tiles; k++) {
      const sscor_tile *d = &det->tiles[k];
      if (fabs(d->x - t->x) <= tol && fabs(d->y - t->y) <= tol &&
          fabs(d->x + d->w - t->x - t->w) <= tol && fabs(d->y + d->h - t->y - t->h) <= tol) {
        ok++;
        break;
      }
    }
    if (getenv("SSCOR_TEST_VERBOSE")) {
      int best = -1;
      double bd = 1e30;
      for (int k = 0; k < det->n_tiles; k++) {
        double dd = fabs(det->tiles[k].x - t->x) + fabs(det->tiles[k].y - t->y);
        if (dd < bd) bd = dd, best = k;
      }
      if (best >= 0 && bd > tol)
        printf("  true %.1f,%.1f detected %.1f,%.1f\n", t->x, t->y, det->tiles[best].x, det->tiles[best].y);
    }
  }
  return ok;
}

/* min_frac: fraction of tiles that must match within tol (rotated grids
 * still snap some tiles to the other edge of their overlap band). */
static void detect_case_frac(const char *name, sscor_geometry *truth, synth_shading sh,
                             double strength, int scale, double tol, double angle_tol,
                             double min_frac);
static void detect_case(const char *name, sscor_geometry *truth, synth_shading sh, double strength,
                        int scale, double tol, double angle_tol) {
  detect_case_frac(name, truth, sh, strength, scale, tol, angle_tol, 0.9);
}

static int detect_lines_mode; /* detect_case* use sscor_detect_params.lines */
static int detect_gains;      /* detect_case* give each tile its own exposure gain */

static void detect_case_frac(const char *name, sscor_geometry *truth, synth_shading sh,
                             double strength, int scale, double tol, double angle_tol,
                             double min_frac) {
  sscor_detect_params dp;
  sscor_detect_params_default(&dp);
  dp.lines = detect_lines_mode;
  sscor_image img, coarse;
  CHECK(sscor_image_alloc(&img, truth->width, truth->height, 1, SSCOR_F32) == SSCOR_OK);
  double *gains = NULL;
  if (detect_gains) {
    gains = malloc(sizeof(double) * (size_t)truth->n_tiles);
    for (int i = 0; i < truth->n_tiles; i++) gains[i] = 0.8 + 0.1 * ((i * 7 + 3) % 5);
  }
  synth_render(truth, sh, strength, gains, &img);
  free(gains);
  CHECK(sscor_downsample(&img, scale, &coarse) == SSCOR_OK);
  sscor_geometry det;
  sscor_detect_report rep;
  sscor_status st = sscor_detect_geometry(&coarse, scale, img.width, img.height,
                                          sscor_image_region_reader, &img, &dp, &det, &rep);
  CHECK_MSG(st == SSCOR_OK, "%s: %s", name, sscor_last_error());
  if (st == SSCOR_OK) {
    int m = count_matched(truth, &det, tol);
    printf("%s: %s; matched %d/%d\n", name, rep.summary, m, truth->n_tiles);
    CHECK_MSG(det.orientation == truth->orientation, "%s: orientation %s", name,
              sscor_orientation_name(det.orientation));
    /* the bar: at least 90 % right; all on these clean cases but one */
    CHECK_MSG((min_frac < 0.9 || m >= truth->n_tiles - 1) && m >= min_frac * truth->n_tiles,
              "%s: %d of %d tiles within %g px", name, m, truth->n_tiles, tol);
    CHECK_MSG(min_frac < 0.9 || det.n_tiles == truth->n_tiles, "%s: %d tiles detected, %d true",
              name, det.n_tiles, truth->n_tiles);
    CHECK_MSG(fabs(det.angle_deg - truth->angle_deg) <= angle_tol, "%s: angle %g vs %g", name,
              det.angle_deg, truth->angle_deg);
    sscor_geometry_free(&det);
  }
  sscor_image_free(&coarse);
  sscor_image_free(&img);
}

static void test_detection(void) {
  sscor_geometry g;
  /* axis-aligned, jittered, slanted rows (2 px per column, as real stitching) */
  make_grid(&g, 740, 520, 0.0, 12, 12, 128, 116, 6, 4, 3, 11);
  detect_case("axis-aligned jittered grid", &g, SYNTH_VIGNETTE, 0.6, 2, 3.0, 0.25);
  sscor_geometry_free(&g);

  /* rotated about the image centre, both ways */
  make_grid(&g, 900, 700, 3.0, 80, 90, 128, 116, 6, 4, 2, 5);
  detect_case_frac("rotated 3 deg", &g, SYNTH_VIGNETTE, 0.6, 2, 3.0, 0.3, 0.75);
  sscor_geometry_free(&g);
  make_grid(&g, 900, 700, -4.0, 90, 80, 128, 116, 6, 4, 0, 5);
  detect_case_frac("rotated -4 deg", &g, SYNTH_VIGNETTE, 0.6, 2, 3.0, 0.3, 0.75);
  sscor_geometry_free(&g);

  /* irregular: the last tile of the first row overlaps its neighbour by half */
  make_grid(&g, 740, 520, 0.0, 12, 12, 128, 116, 6, 4, 0, 1);
  g.tiles[5].x -= 50;
  detect_case("irregular tile", &g, SYNTH_VIGNETTE, 0.6, 2, 3.0, 0.25);
  sscor_geometry_free(&g);

  /* vertical stripes without overlap: a ramp makes every boundary a step */
  CHECK(sscor_geometry_init(&g, 800, 400) == SSCOR_OK);
  CHECK(sscor_geometry_set_grid(&g, 0, 0, 100, 400, 8, 1, 100, 400) == SSCOR_OK);
  detect_case("vertical stripes", &g, SYNTH_RAMP_U, 0.3, 2, 2.0, 0.25);
  sscor_geometry_free(&g);
}

static void test_clean_image(void) {
  /* The same content without tiles or shading: no invented seams. */
  sscor_image img, coarse;
  CHECK(sscor_image_alloc(&img, 800, 600, 1, SSCOR_F32) == SSCOR_OK);
  for (int y = 0; y < 600; y++)
    for (int x = 0; x < 800; x++) sscor_image_set(&img, x, y, 0, (float)synth_content(x, y));
  CHECK(sscor_downsample(&img, 2, &coarse) == SSCOR_OK);
  sscor_geometry det;
  sscor_detect_report rep;
  CHECK(sscor_detect_geometry(&coarse, 2, 800, 600, sscor_image_region_reader, &img, NULL, &det,
                              &rep) == SSCOR_OK);
  printf("clean image: %s\n", rep.summary);
  CHECK(det.orientation == SSCOR_ORIENT_NONE);
  CHECK(det.n_tiles == 0);
  CHECK(strstr(rep.summary, "no stripes found") != NULL);
  sscor_geometry_free(&det);
  /* nor by seam lines, at full resolution, where texture is strongest */
  sscor_detect_params dp;
  sscor_detect_params_default(&dp);
  dp.lines = 1;
  sscor_image full;
  CHECK(sscor_downsample(&img, 1, &full) == SSCOR_OK);
  CHECK(sscor_detect_geometry(&full, 1, 800, 600, sscor_image_region_reader, &img, &dp, &det,
                              &rep) == SSCOR_OK);
  printf("clean image, lines: %s\n", rep.summary);
  CHECK(det.orientation == SSCOR_ORIENT_NONE && det.n_tiles == 0);
  CHECK(strstr(rep.summary, "no stripes found") != NULL);
  sscor_geometry_free(&det);
  sscor_image_free(&full);
  /* bad arguments */
  CHECK(sscor_detect_geometry(&coarse, 3, 800, 600, NULL, NULL, NULL, &det, NULL) == SSCOR_E_INVALID);
  CHECK(strstr(sscor_last_error(), "does not match") != NULL);
  sscor_image_free(&coarse);
  sscor_image_free(&img);
}

/* Long thin images: the right stripes, and detection's working arrays bounded
 * by the pixels (the angle bins once spanned the circumscribed square: for
 * 4000x128 some 23 cells per pixel). */
static void long_case(int w, int h, int vertical) {
  sscor_geometry g;
  CHECK(sscor_geometry_init(&g, w, h) == SSCOR_OK);
  if (vertical)
    CHECK(sscor_geometry_set_grid(&g, 0, 0, 250, h, w / 250, 1, 250, h) == SSCOR_OK);
  else
    CHECK(sscor_geometry_set_grid(&g, 0, 0, w, 250, 1, h / 250, w, 250) == SSCOR_OK);
  /* horizontal: the vertical case's image transposed */
  sscor_geometry gv;
  CHECK(sscor_geometry_init(&gv, vertical ? w : h, vertical ? h : w) == SSCOR_OK);
  CHECK(sscor_geometry_set_grid(&gv, 0, 0, 250, gv.height, gv.width / 250, 1, 250, gv.height) ==
        SSCOR_OK);
  sscor_image img, iv, coarse;
  CHECK(sscor_image_alloc(&iv, gv.width, gv.height, 1, SSCOR_F32) == SSCOR_OK);
  synth_render(&gv, SYNTH_RAMP_U, 0.3, NULL, &iv);
  CHECK(sscor_image_alloc(&img, w, h, 1, SSCOR_F32) == SSCOR_OK);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      sscor_image_set(&img, x, y, 0, sscor_image_get(&iv, vertical ? x : y, vertical ? y : x, 0));
  sscor_image_free(&iv);
  sscor_geometry_free(&gv);
  CHECK(sscor_downsample(&img, 1, &coarse) == SSCOR_OK);
  sscor_geometry det;
  sscor_detect_report rep;
  CHECK(sscor_detect_geometry(&coarse, 1, w, h, sscor_image_region_reader, &img, NULL, &det,
                              &rep) == SSCOR_OK);
  int m = count_matched(&g, &det, 2.0);
  double cells = (double)rep.work_cells / ((double)w * h);
  printf("%dx%d: %s; matched %d/%d; %.2f working cells per pixel\n", w, h, rep.summary, m,
         g.n_tiles, cells);
  CHECK(det.orientation == g.orientation);
  CHECK_MSG(m >= g.n_tiles - 1 && det.n_tiles == g.n_tiles, "%dx%d: %d of %d tiles", w, h, m,
            g.n_tiles);
  CHECK_MSG(rep.work_cells > 0 && cells <= 3.0, "%dx%d: %zu working cells", w, h, rep.work_cells);
  /* the angle of the first call, given to a second: the same tiles */
  sscor_detect_params dp;
  sscor_detect_params_default(&dp);
  dp.angle_known = 1;
  dp.angle = rep.angle_searched;
  sscor_geometry again;
  CHECK(sscor_detect_geometry(&coarse, 1, w, h, sscor_image_region_reader, &img, &dp, &again,
                              NULL) == SSCOR_OK);
  CHECK(again.n_tiles == det.n_tiles && again.angle_deg == det.angle_deg &&
        memcmp(again.tiles, det.tiles, sizeof *det.tiles * (size_t)det.n_tiles) == 0);
  sscor_geometry_free(&again);
  dp.angle = 30; /* beyond max_angle_deg */
  CHECK(sscor_detect_geometry(&coarse, 1, w, h, NULL, NULL, &dp, &again, NULL) == SSCOR_E_INVALID);
  CHECK(strstr(sscor_last_error(), "known angle 30") != NULL);
  sscor_geometry_free(&det);
  sscor_geometry_free(&g);
  sscor_image_free(&coarse);
  sscor_image_free(&img);
}

static void test_long_thin(void) {
  long_case(4000, 128, 1);
  long_case(128, 4000, 0);
  /* a 16-px strip: an answer (stripes or none), quickly, in bounded memory */
  sscor_image img;
  CHECK(sscor_image_alloc(&img, 20000, 16, 1, SSCOR_F32) == SSCOR_OK);
  for (int y = 0; y < 16; y++)
    for (int x = 0; x < 20000; x++)
      sscor_image_set(&img, x, y, 0, (float)(synth_content(x, y) * (1 - 0.3 * (x % 250 + 0.5) / 250)));
  sscor_geometry det;
  sscor_detect_report rep;
  CHECK(sscor_detect_geometry(&img, 1, 20000, 16, sscor_image_region_reader, &img, NULL, &det,
                              &rep) == SSCOR_OK);
  printf("20000x16: %s; %zu working cells\n", rep.summary, rep.work_cells);
  CHECK(rep.work_cells > 0 && rep.work_cells <= 3u * 20000 * 16);
  CHECK(det.angle_deg == 0.0); /* no angle is searched at 1250:1 */
  sscor_geometry_free(&det);
  sscor_image_free(&img);
}

/* The seam index gives the brute-force scan's distance and nearest seam, on
 * random grids (jittered, rotated, with explicit seams) at random points,
 * inside the image and beyond it. */
static double rnd(uint64_t *r) {
  *r = *r * 6364136223846793005ull + 1442695040888963407ull;
  return (double)(*r >> 11) * (1.0 / 9007199254740992.0);
}

static void test_seam_index(void) {
  uint64_t r = 12345;
  int bad = 0, total = 0;
  for (int trial = 0; trial < 40; trial++) {
    int w = 200 + (int)(rnd(&r) * 3000), h = 100 + (int)(rnd(&r) * 3000);
    sscor_geometry g;
    CHECK(sscor_geometry_init(&g, w, h) == SSCOR_OK);
    int tile = 16 + (int)(rnd(&r) * 400), nx = w / tile + 1 + (int)(rnd(&r) * 2), ny = h / tile + 1;
    g.angle_deg = trial % 3 == 0 ? 0.0 : (rnd(&r) - 0.5) * 40;
    g.orientation = trial % 4 == 1 ? SSCOR_ORIENT_VERTICAL : SSCOR_ORIENT_GRID;
    if (trial % 5 == 4) nx = ny = 0; /* explicit seams only */
    for (int j = 0; j < (g.orientation == SSCOR_ORIENT_VERTICAL ? 1 : ny); j++)
      for (int i = 0; i < nx; i++)
        CHECK(sscor_geometry_add_tile(&g, i * tile * 0.9 + rnd(&r) * 6 - 3, j * tile * 0.9 + rnd(&r) * 6 - 3,
                                      tile, g.orientation == SSCOR_ORIENT_VERTICAL ? h : tile) == SSCOR_OK);
    for (int k = 0; k < (int)(rnd(&r) * 20); k++) {
      double a = rnd(&r) * w;
      CHECK(sscor_geometry_add_seam(&g, rnd(&r) < 0.5, rnd(&r) * w, a, a + 1 + rnd(&r) * w) == SSCOR_OK);
    }
    sscor_seam *s;
    int n;
    sscor_seam_index *ix;
    CHECK(sscor_geometry_seams(&g, &s, &n) == SSCOR_OK);
    CHECK(sscor_seam_index_build(&g, s, n, &ix) == SSCOR_OK);
    for (int q = 0; q < 3000; q++) {
      /* some points exactly on pixel centres of seams' ends, most anywhere */
      double x = rnd(&r) * (w + 400) - 200, y = rnd(&r) * (h + 400) - 200;
      if (q % 7 == 0) x = floor(x) + 0.5, y = floor(y) + 0.5;
      int nb, ni;
      double db = sscor_seam_distance(&g, s, n, x, y, &nb);
      double di = sscor_seam_index_distance(ix, x, y, &ni);
      total++;
      if (db != di || nb != ni) {
        if (bad++ < 5) printf("seam index: trial %d (%d seams) at %g,%g: %.17g #%d, scan %.17g #%d\n",
                              trial, n, x, y, di, ni, db, nb);
      }
    }
    sscor_seam_index_free(ix);
    free(s);
    sscor_geometry_free(&g);
  }
  CHECK_MSG(bad == 0, "seam index: %d of %d lookups differ from the scan", bad, total);
}

/* A geometry file with more tiles or seams than its image can hold is
 * refused at the first one too many, naming the line and the limit. */
static void test_absurd_counts(void) {
  size_t cap = 64 << 20, len = 0;
  char *t = malloc(cap);
  len += (size_t)snprintf(t + len, cap - len, "sscor-geometry 1\nimage 1024 1024\norientation grid\ntile-size 16 16\n");
  for (int i = 0; i < 20000; i++)
    len += (size_t)snprintf(t + len, cap - len, "tile %d %d\n", (i * 8) % 1008, (i / 126) * 8 % 1008);
  sscor_geometry g;
  CHECK(sscor_geometry_parse(t, "many.geom", &g) == SSCOR_E_FORMAT);
  int max = sscor_geometry_max_tiles(1024, 1024);
  char want[160];
  snprintf(want, sizeof want, "many.geom:%d: more tiles than a 1024x1024 image can hold: at most %d",
           4 + max + 1, max);
  CHECK_MSG(strstr(sscor_last_error(), want) != NULL, "got \"%s\"", sscor_last_error());
  CHECK(max < 20000);
  len = (size_t)snprintf(t, cap, "sscor-geometry 1\nimage 100 100\n");
  for (int i = 0; i < 1000; i++) len += (size_t)snprintf(t + len, cap - len, "seam v %d 0 100\n", i % 100);
  CHECK(sscor_geometry_parse(t, "seams.geom", &g) == SSCOR_E_FORMAT);
  CHECK_MSG(strstr(sscor_last_error(), "seams.geom:803: more seams than a 100x100 image can hold: at most 800"),
            "got \"%s\"", sscor_last_error());
  free(t);
}

static void test_model(void) {
  sscor_geometry g;
  CHECK(sscor_geometry_init(&g, 300, 200) == SSCOR_OK);
  CHECK(sscor_geometry_set_grid(&g, 0, 0, 90, 90, 3, 2, 100, 100) == SSCOR_OK);
  CHECK(g.orientation == SSCOR_ORIENT_GRID && g.n_tiles == 6);
  sscor_seam *s;
  int n;
  CHECK(sscor_geometry_seams(&g, &s, &n) == SSCOR_OK);
  /* left edges at 0 and top edges at 0 lie on the border and are no seams;
     right edges 100,190 (280 inside too), bottom 100,190 */
  int v = 0, h = 0;
  for (int i = 0; i < n; i++) v += s[i].vertical, h += !s[i].vertical;
  /* vertical: right edges of all 6 tiles (100,190,280 inside) + left edges at
     90,180 of 4 tiles = 10; horizontal: bottoms of 6 tiles at 100,190 (190 is
     inside the 200-high image) + tops at 90 of 3 tiles = 9 */
  CHECK_MSG(v == 10 && h == 9, "seams v %d h %d", v, h);
  int near;
  CHECK_CLOSE(sscor_seam_distance(&g, s, n, 93.0, 50.0, &near), 3.0, 1e-9, 0);
  int idx[8];
  CHECK(sscor_geometry_tiles_at(&g, 95, 95, idx, 8) == 4); /* in the 4-tile overlap */
  free(s);
  /* frame <-> image */
  g.angle_deg = 7;
  double x, y, u, vv;
  sscor_geometry_to_image(&g, 10, 20, &x, &y);
  sscor_geometry_to_frame(&g, x, y, &u, &vv);
  CHECK_CLOSE(u, 10, 1e-9, 0);
  CHECK_CLOSE(vv, 20, 1e-9, 0);
  CHECK(sscor_geometry_add_region(&g, 10, 10, 20, 20, SSCOR_ARTIFACT_BUBBLE) == SSCOR_OK);
  CHECK(sscor_geometry_add_region(&g, 290, 10, 20, 20, SSCOR_ARTIFACT_BUBBLE) == SSCOR_E_INVALID);
  CHECK(sscor_geometry_in_artifact(&g, 15, 15) && !sscor_geometry_in_artifact(&g, 35, 15));
  sscor_geometry_free(&g);
}

static void test_format(void) {
  sscor_geometry g, r;
  CHECK(sscor_geometry_init(&g, 1000, 800) == SSCOR_OK);
  g.orientation = SSCOR_ORIENT_GRID;
  g.angle_deg = -1.25;
  g.tile_w = 256;
  g.tile_h = 200;
  CHECK(sscor_geometry_add_tile(&g, 0, 4.5, 256, 200) == SSCOR_OK);
  CHECK(sscor_geometry_add_tile(&g, 230, 7, 256, 200) == SSCOR_OK);
  CHECK(sscor_geometry_add_tile(&g, 700, 600, 300, 200) == SSCOR_OK); /* odd size */
  CHECK(sscor_geometry_add_seam(&g, 1, 500.5, 0, 800) == SSCOR_OK);
  CHECK(sscor_geometry_add_region(&g, 100, 120, 50, 60, SSCOR_ARTIFACT_FOCUS) == SSCOR_OK);
  g.mask_path = strdup("mask.tif");
  char path[] = "/tmp/sscor_geom_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  close(fd);
  CHECK(sscor_geometry_write(&g, path) == SSCOR_OK);
  CHECK_MSG(sscor_geometry_read(path, &r) == SSCOR_OK, "%s", sscor_last_error());
  CHECK(r.width == 1000 && r.height == 800 && r.orientation == SSCOR_ORIENT_GRID);
  CHECK_CLOSE(r.angle_deg, -1.25, 1e-9, 0);
  CHECK(r.n_tiles == 3 && r.tile_w == 256 && r.tile_h == 200);
  if (r.n_tiles == 3) {
    CHECK_CLOSE(r.tiles[0].y, 4.5, 1e-9, 0);
    CHECK(r.tiles[2].w == 300 && r.tiles[1].w == 256);
  }
  CHECK(r.n_seams == 1 && r.n_regions == 1 && r.regions[0].kind == SSCOR_ARTIFACT_FOCUS);
  CHECK(r.mask_path && strcmp(r.mask_path, "mask.tif") == 0);
  sscor_geometry_free(&r);
  unlink(path);
  CHECK(sscor_geometry_read(path, &r) == SSCOR_E_IO); /* missing file */
  CHECK(strstr(sscor_last_error(), path) != NULL);
  sscor_geometry_free(&g);

  /* Malformed: each refused with the line number and the problem. */
  struct {
    const char *text, *expect;
  } bad[] = {
      {"", ":1: empty file"},
      {"hello 1\n", ":1: not a geometry file"},
      {"sscor-geometry 2\n", ":1: unsupported geometry format version 2"},
      {"sscor-geometry 1\ntile 0 0\n", ":2: \"tile\" before the \"image W H\" record"},
      {"sscor-geometry 1\nimage 100 x\n", ":2: image height \"x\" is not a whole number"},
      {"sscor-geometry 1\nimage 100\n", ":2: expected \"image WIDTH HEIGHT\""},
      {"sscor-geometry 1\nimage -5 100\n", ":2: image size -5x100 is out of range (1..1048576)"},
      {"sscor-geometry 1\nimage 100 100\n\n# c\ntile 1 2\n", ":5: tile without a size"},
      {"sscor-geometry 1\nimage 100 100\ntile-size 20 20\ntile 1 2 3\n", ":4: expected \"tile X Y [W H]\""},
      {"sscor-geometry 1\nimage 100 100\ntile-size 20 20\ntile 500 2\n", ":4: tile 500,2 size 20x20 lies outside"},
      {"sscor-geometry 1\nimage 100 100\ntile -50 -50 20 20\n", ":3: tile -50,-50 size 20x20 lies outside"},
      {"sscor-geometry 1\nimage 100 100\ntile 10 10 -50 -50\n", ":3: tile size -50x-50 is not positive"},
      {"sscor-geometry 1\nimage 100 100\ntile 10 10 0 20\n", ":3: tile size 0x20 is not positive"},
      {"sscor-geometry 1\nimage 100 100\ntile 10 10 4 4\n", ":3: tile size 4x4 is below the 16-px minimum"},
      {"sscor-geometry 1\nimage 100 100\ntile 10 10 3000000 20\n", ":3: tile size 3000000x20 is over the"},
      {"sscor-geometry 1\nimage 100 100\ntile 10 10 1e12 20\n", ":3: tile width \"1e12\" is not a whole number"},
      {"sscor-geometry 1\nimage 100 100\ntile 10 10 20.5 20\n", ":3: tile width \"20.5\" is not a whole number"},
      {"sscor-geometry 1\nimage 100 100\ntile abc 10 20 20\n", ":3: tile X \"abc\" is not a finite number"},
      {"sscor-geometry 1\nimage 100 100\ntile 10 nan 20 20\n", ":3: tile Y \"nan\" is not a finite number"},
      {"sscor-geometry 1\nimage 100 100\ntile 10 inf 20 20\n", ":3: tile Y \"inf\" is not a finite number"},
      {"sscor-geometry 1\nimage 100 100\ntile 1e300 10 20 20\n", ":3: tile position 1e+300,10 is out of range"},
      {"sscor-geometry 1\nimage 100 100\ntile-size -50 -50\n", ":3: tile size -50x-50 is not positive"},
      {"sscor-geometry 1\nimage 100 100\ntile-size 8 x\n", ":3: tile-size height \"x\" is not a whole number"},
      {"sscor-geometry 1\nimage 100 100\nseam v 1e300 0 5\n", ":3: seam 1e+300 from 0 to 5 is out of range"},
      {"sscor-geometry 1\nimage 100 100\nseam v 5 zero 5\n", ":3: seam start \"zero\" is not a finite number"},
      {"sscor-geometry 1\nimage 100 100\nregion -5 0 10 10\n", ":3: geometry: region -5,0 size 10x10 does not lie"},
      {"sscor-geometry 1\nimage 100 100\nregion 0 0 1.5 10\n", ":3: region width \"1.5\" is not a whole number"},
      {"sscor-geometry 1\nimage 100 100\norientation diagonal\n", ":3: expected \"orientation"},
      {"sscor-geometry 1\nimage 100 100\nangle 90\n", ":3: angle 90 is out of range"},
      {"sscor-geometry 1\nimage 100 100\nangle nan\n", ":3: angle \"nan\" is not a finite number"},
      {"sscor-geometry 1\nimage 100 100\nangle\n", ":3: expected \"angle DEGREES\""},
      {"sscor-geometry 1\nimage 100 100\nseam x 1 2 3\n", ":3: expected \"seam v|h"},
      {"sscor-geometry 1\nimage 100 100\nseam v 1 5 3\n", ":3: seam extent 5..3 is empty"},
      {"sscor-geometry 1\nimage 100 100\nseam v 30 0 0.002\n", ":3: seam extent 0..0.002 is shorter than 1 px"},
      {"sscor-geometry 1\nimage 100 100\nregion 90 90 20 20\n", ":3: geometry: region 90,90 size 20x20 does not lie"},
      {"sscor-geometry 1\nimage 100 100\nregion 1 1 2 2 blob\n", ":3: unknown region kind \"blob\""},
      {"sscor-geometry 1\nimage 100 100\nwobble 3\n", ":3: unknown record \"wobble\""},
      {"sscor-geometry 1\nimage 100 100\nimage 100 100\n", ":3: second \"image\" record"},
      {"sscor-geometry 1\n", ":2: no \"image WIDTH HEIGHT\" record"},
      {"sscor-geometry 1\nimage 100 100\ntile-size 20 20\ntile 0 0\ntile 5 5\n", "orientation none"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    sscor_status st = sscor_geometry_parse(bad[i].text, "g.txt", &r);
    CHECK_MSG(st == SSCOR_E_FORMAT, "case %zu accepted", i);
    CHECK_MSG(strstr(sscor_last_error(), bad[i].expect) != NULL, "case %zu: got \"%s\", want \"%s\"",
              i, sscor_last_error(), bad[i].expect);
  }
}

/* Few tiles and steep angles: 2x2 tiles (one seam line per axis), a small
 * image, and grids rotated by 7 and 10 degrees, by seam lines (the few-tile
 * detector) and, where there are enough tiles, by periodicity. */
static void test_few_tiles(void) {
  sscor_geometry g;
  /* A symmetric vignette makes no step at a seam (only a kink): exposure
     gains differing from tile to tile make the steps, as on microscopes. */
  detect_gains = 1;
  detect_lines_mode = 1;
  /* 2x2 tiles: one vertical and one horizontal seam line */
  CHECK(sscor_geometry_init(&g, 400, 300) == SSCOR_OK);
  CHECK(sscor_geometry_set_grid(&g, 0, 0, 200, 150, 2, 2, 200, 150) == SSCOR_OK);
  detect_case("2x2 tiles, lines", &g, SYNTH_VIGNETTE, 0.3, 1, 2.0, 0.3);
  sscor_geometry_free(&g);
  /* 2x2 tiles, the seams off centre (an image cut from a larger scan) */
  CHECK(sscor_geometry_init(&g, 420, 340) == SSCOR_OK);
  CHECK(sscor_geometry_set_grid(&g, -60, -40, 240, 190, 2, 2, 240, 190) == SSCOR_OK);
  detect_case("2x2 tiles off centre, lines", &g, SYNTH_VIGNETTE, 0.3, 1, 2.0, 0.3);
  sscor_geometry_free(&g);
  /* a small image of 4x4 tiles */
  CHECK(sscor_geometry_init(&g, 512, 512) == SSCOR_OK);
  CHECK(sscor_geometry_set_grid(&g, 0, 0, 128, 128, 4, 4, 128, 128) == SSCOR_OK);
  detect_case("512x512, 4x4 tiles, lines", &g, SYNTH_VIGNETTE, 0.3, 1, 2.0, 0.3);
  sscor_geometry_free(&g);
  /* rotated 7 and 10 degrees, grids inside the image, by seam lines (no
     overlap) and by periodicity (overlapping tiles) */
  for (int k = 0; k < 4; k++) {
    double a = (k & 1) ? -10.0 : 7.0;
    char name[64];
    detect_lines_mode = k < 2;
    detect_gains = k < 2; /* overlaps make the steps of the periodic cases */
    snprintf(name, sizeof name, "rotated %g deg, %s", a, k < 2 ? "lines" : "periodicity");
    if (k < 2) {
      make_grid(&g, 900, 700, a, 130, 110, 160, 160, 4, 3, 0, 3);
    } else {
      /* a grid larger than the image, as a crop of a scan: the truth is
         the tiles wholly inside the image */
      make_grid(&g, 1000, 800, a, -30, -40, 128, 116, 9, 8, 0, 5);
      int kept = 0;
      for (int i = 0; i < g.n_tiles; i++) {
        const sscor_tile *t = &g.tiles[i];
        int inside = 1;
        for (int c = 0; c < 4; c++) {
          double x, y;
          sscor_geometry_to_image(&g, t->x + (c & 1) * t->w, t->y + (c >> 1) * t->h, &x, &y);
          inside &= x >= 0 && y >= 0 && x <= g.width && y <= g.height;
        }
        if (inside) g.tiles[kept++] = *t;
      }
      g.n_tiles = kept;
    }
    detect_case_frac(name, &g, SYNTH_VIGNETTE, k < 2 ? 0.4 : 0.6, 2, 3.0, 0.3, 0.75);
    sscor_geometry_free(&g);
  }
  detect_lines_mode = 0;
  detect_gains = 0;
}

int main(void) {
  test_few_tiles();
  test_model();
  test_format();
  test_clean_image();
  test_detection();
  test_long_thin();
  test_seam_index();
  test_absurd_counts();
  return CHECK_DONE();
}
