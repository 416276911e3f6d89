/* core/metrics against reference values from numpy/scipy/scikit-image
 * (tests/make_metric_fixtures.py -> tests/fixtures/metrics/). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "metrics.h"
#include "slide.h"

#define MAXREC 128
#define MAXVAL 256

static struct {
  char key[64];
  double v[MAXVAL];
  int n;
} recs[MAXREC];
static int nrecs;
static const char *dir;

static const double *ref_opt(const char *key) {
  for (int i = 0; i < nrecs; i++)
    if (!strcmp(recs[i].key, key)) return recs[i].v;
  return NULL;
}

static const double *ref(const char *key, int *n) {
  for (int i = 0; i < nrecs; i++)
    if (!strcmp(recs[i].key, key)) {
      if (n) *n = recs[i].n;
      return recs[i].v;
    }
  fprintf(stderr, "fixture value %s missing\n", key);
  exit(1);
}

static void load_image(const char *name, sscor_image *img) {
  char path[1024], line[8192];
  snprintf(path, sizeof path, "%s/values.txt", dir);
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "%s: cannot open\n", path);
    exit(1);
  }
  int w = 0, h = 0, c = 0;
  char t[8] = "";
  while (fgets(line, sizeof line, f)) {
    char nm[64];
    if (sscanf(line, "image %63s %d %d %d %7s", nm, &w, &h, &c, t) == 5 && !strcmp(nm, name)) break;
    w = 0;
  }
  fclose(f);
  if (!w) {
    fprintf(stderr, "image %s not in fixtures\n", name);
    exit(1);
  }
  sscor_sample_type type = !strcmp(t, "u8") ? SSCOR_U8 : !strcmp(t, "u16") ? SSCOR_U16 : SSCOR_F32;
  if (sscor_image_alloc(img, w, h, c, type)) exit(1);
  snprintf(path, sizeof path, "%s/%s.raw", dir, name);
  f = fopen(path, "rb");
  size_t bytes = img->stride * (size_t)h;
  if (!f || fread(img->data, 1, bytes, f) != bytes) {
    fprintf(stderr, "%s: cannot read %zu bytes\n", path, bytes);
    exit(1);
  }
  fclose(f);
}

static void load_values(void) {
  char path[1024], line[16384];
  snprintf(path, sizeof path, "%s/values.txt", dir);
  FILE *f = fopen(path, "r");
  if (!f) exit(1);
  while (fgets(line, sizeof line, f) && nrecs < MAXREC) {
    if (line[0] == '#' || !strncmp(line, "image ", 6)) continue;
    char *save, *tok = strtok_r(line, " \n", &save);
    if (!tok) continue;
    snprintf(recs[nrecs].key, sizeof recs[nrecs].key, "%s", tok);
    while ((tok = strtok_r(NULL, " \n", &save)) && recs[nrecs].n < MAXVAL)
      recs[nrecs].v[recs[nrecs].n++] = strtod(tok, NULL);
    nrecs++;
  }
  fclose(f);
}

static void test_regions(const sscor_image *in16, const sscor_image *t8) {
  double icv, mean, sd;
  CHECK(!sscor_metric_icv(in16, 0, (sscor_rect){5, 7, 30, 20}, &icv, &mean, &sd));
  const double *r = ref("icv16", NULL);
  CHECK_CLOSE(icv, r[0], 0, 1e-10);
  CHECK_CLOSE(mean, r[1], 0, 1e-12);
  CHECK_CLOSE(sd, r[2], 0, 1e-10);
  CHECK(!sscor_metric_icv(t8, SSCOR_METRIC_MEAN_CHANNELS, (sscor_rect){2, 3, 28, 37}, &icv, &mean, &sd));
  r = ref("icv8rgb_mean", NULL);
  CHECK_CLOSE(icv, r[0], 0, 1e-10);
  CHECK_CLOSE(mean, r[1], 0, 1e-12);
  /* Outside the image or a bad channel: an error, not a crash. */
  CHECK(sscor_metric_icv(in16, 0, (sscor_rect){70, 0, 20, 5}, &icv, NULL, NULL) == SSCOR_E_INVALID);
  CHECK(sscor_metric_icv(in16, 1, (sscor_rect){0, 0, 5, 5}, &icv, NULL, NULL) == SSCOR_E_INVALID);

  const double angles[] = {0.0, 90.0, 17.5, -33.0};
  const char *keys[] = {"profile16_0", "profile16_90", "profile16_17.5", "profile16_-33"};
  for (int i = 0; i < 4; i++) {
    double *p;
    int n, nr;
    CHECK(!sscor_metric_profile(in16, 0, (sscor_rect){5, 7, 30, 20}, angles[i], &p, &n));
    r = ref(keys[i], &nr);
    CHECK_MSG(n == nr, "%s: %d bins, reference %d", keys[i], n, nr);
    for (int k = 0; k < n && k < nr; k++) CHECK_CLOSE(p[k], r[k], 1e-9, 1e-10);
    free(p);
  }
  double *p;
  int n, nr;
  CHECK(!sscor_metric_profile(t8, 1, (sscor_rect){0, 0, 40, 48}, 0.0, &p, &n));
  r = ref("profile8rgb_g_0", &nr);
  CHECK(n == 48 && nr == 48);
  for (int k = 0; k < n && k < nr; k++) CHECK_CLOSE(p[k], r[k], 1e-9, 1e-12);
  free(p);

  double thr;
  CHECK(!sscor_metric_otsu(in16, 0, &thr));
  CHECK_CLOSE(thr, ref("otsu16", NULL)[0], 1e-6, 1e-12);
  CHECK(!sscor_metric_otsu(t8, SSCOR_METRIC_MEAN_CHANNELS, &thr));
  CHECK_CLOSE(thr, ref("otsu8rgb_mean", NULL)[0], 1e-9, 1e-12);
}

static void test_seams_and_fidelity(const sscor_image *in16, const sscor_image *out16,
                                    const sscor_image *mask_ref) {
  sscor_rect tiles[] = {{0, 0, 40, 32}, {40, 0, 40, 32}, {0, 32, 40, 32}, {38, 30, 40, 32}};
  sscor_seam_stats s;
  CHECK(!sscor_metric_seam_step(in16, 0, tiles, 4, 2000.0, 0, &s));
  const double *r = ref("seam16", NULL);
  CHECK_CLOSE(s.seam_step, r[0], 0, 1e-10);
  CHECK_CLOSE(s.nonseam_step, r[1], 0, 1e-10);
  CHECK_CLOSE(s.ratio, r[2], 0, 1e-10);
  CHECK(s.seam_samples == (long)r[3] && s.nonseam_samples == (long)r[4]);
  CHECK(!sscor_metric_seam_step(in16, 0, tiles, 4, 2000.0, 3, &s));
  r = ref("seam16_band3", NULL);
  CHECK_CLOSE(s.ratio, r[2], 0, 1e-10);
  CHECK(s.seam_samples == (long)r[3]);
  /* A flat image has no seams: every step is 0. */
  sscor_image flat;
  CHECK(!sscor_image_alloc(&flat, 80, 64, 1, SSCOR_U16));
  for (int y = 0; y < 64; y++)
    for (int x = 0; x < 80; x++) sscor_image_set(&flat, x, y, 0, 5000);
  CHECK(!sscor_metric_seam_step(&flat, 0, tiles, 4, 100, 2, &s));
  CHECK(s.seam_step == 0 && s.nonseam_step == 0);
  sscor_image_free(&flat);

  double thr;
  sscor_image mask;
  CHECK(!sscor_metric_otsu(in16, 0, &thr));
  CHECK(!sscor_metric_tissue_mask(in16, 0, thr, &mask));
  CHECK(!sscor_metric_mask_exclude_edges(&mask, tiles, 4, 3));
  long count = 0, diff = 0;
  for (int y = 0; y < 64; y++)
    for (int x = 0; x < 80; x++) {
      int a = sscor_image_get(&mask, x, y, 0) != 0, b = sscor_image_get(mask_ref, x, y, 0) != 0;
      count += a;
      diff += a != b;
    }
  CHECK_MSG(diff == 0, "mask differs from reference in %ld pixels", diff);
  CHECK(count == (long)ref("mask16_count", NULL)[0]);

  double v;
  CHECK(!sscor_metric_fidelity(out16, in16, 0, &mask, 3.0, &v));
  CHECK_CLOSE(v, ref("fidelity16_s3", NULL)[0], 0, 1e-9);
  CHECK(!sscor_metric_fidelity(out16, in16, 0, &mask, 6.0, &v));
  CHECK_CLOSE(v, ref("fidelity16_s6", NULL)[0], 0, 1e-9);
  CHECK(!sscor_metric_fidelity(in16, in16, 0, &mask, 6.0, &v));
  CHECK(v == 0);
  CHECK(!sscor_metric_texture(in16, 0, &mask, 15, &v));
  CHECK_CLOSE(v, ref("texture16_15", NULL)[0], 0, 1e-9);
  CHECK(!sscor_metric_texture(in16, 0, &mask, 4, &v));
  CHECK_CLOSE(v, ref("texture16_4", NULL)[0], 0, 1e-9);
  CHECK(!sscor_metric_median_ratio(in16, 0, &mask, &v));
  CHECK_CLOSE(v, ref("median_ratio16", NULL)[0], 0, 1e-12);
  sscor_image_free(&mask);
}

static void test_truth(const sscor_image *truth16, const sscor_image *in16, const sscor_image *out16,
                       const sscor_image *t8, const sscor_image *o8, const sscor_image *tf,
                       const sscor_image *of) {
  const char *keys[] = {"residual16_stripe0", "residual16_stripe10", "residual16_shading4"};
  const sscor_residual_kind kinds[] = {SSCOR_RESIDUAL_STRIPE, SSCOR_RESIDUAL_STRIPE,
                                       SSCOR_RESIDUAL_SHADING};
  const double params[] = {0.0, 10.0, 4.0};
  for (int i = 0; i < 3; i++) {
    double pct, ro, ri;
    CHECK(!sscor_metric_residual(out16, in16, truth16, 0, kinds[i], params[i], &pct, &ro, &ri));
    const double *r = ref(keys[i], NULL);
    CHECK_CLOSE(pct, r[0], 0, 1e-9);
    CHECK_CLOSE(ro, r[1], 0, 1e-9);
    CHECK_CLOSE(ri, r[2], 0, 1e-9);
  }
  double pct;
  CHECK(!sscor_metric_residual(truth16, in16, truth16, 0, SSCOR_RESIDUAL_STRIPE, 0, &pct, NULL, NULL));
  CHECK(pct == 0);

  double v;
  CHECK(!sscor_metric_psnr(truth16, out16, 65535, &v));
  CHECK_CLOSE(v, ref("psnr16", NULL)[0], 0, 1e-10);
  CHECK(!sscor_metric_ssim(truth16, out16, 65535, &v));
  CHECK_CLOSE(v, ref("ssim16", NULL)[0], 0, 1e-9);
  CHECK(!sscor_metric_mae(truth16, out16, &v));
  CHECK_CLOSE(v, ref("mae16", NULL)[0], 0, 1e-12);
  CHECK(!sscor_metric_psnr(t8, o8, 255, &v));
  CHECK_CLOSE(v, ref("psnr8rgb", NULL)[0], 0, 1e-10);
  CHECK(!sscor_metric_ssim(t8, o8, 255, &v));
  CHECK_CLOSE(v, ref("ssim8rgb", NULL)[0], 0, 1e-9);
  CHECK(!sscor_metric_mae(t8, o8, &v));
  CHECK_CLOSE(v, ref("mae8rgb", NULL)[0], 0, 1e-12);
  double dr = sscor_metric_data_range(tf);
  CHECK_CLOSE(dr, ref("datarange_f", NULL)[0], 0, 1e-7);
  CHECK(!sscor_metric_psnr(tf, of, dr, &v));
  CHECK_CLOSE(v, ref("psnrf", NULL)[0], 0, 1e-6);
  CHECK(!sscor_metric_ssim(tf, of, dr, &v));
  CHECK_CLOSE(v, ref("ssimf", NULL)[0], 0, 1e-6);
  CHECK(!sscor_metric_mae(tf, of, &v));
  CHECK_CLOSE(v, ref("maef", NULL)[0], 0, 1e-7);
  CHECK(!sscor_metric_ssim(t8, t8, 255, &v));
  CHECK_CLOSE(v, 1.0, 1e-12, 0);
  CHECK(!sscor_metric_psnr(t8, t8, 255, &v));
  CHECK(isinf(v));
  /* Mismatched sizes are refused. */
  CHECK(sscor_metric_ssim(truth16, t8, 255, &v) == SSCOR_E_INVALID);
  CHECK(sscor_metric_mae(truth16, tf, &v) == SSCOR_E_INVALID);

  /* The blur primitive itself. */
  float *pl;
  CHECK(!sscor_metric_plane(in16, 0, &pl));
  CHECK(!sscor_gaussian_blur(pl, 80, 64, 2.5, 4.0));
  const double *g = ref("gauss16_px", NULL);
  CHECK_CLOSE(pl[0], g[0], 0, 1e-6);
  CHECK_CLOSE(pl[10 * 80 + 33], g[1], 0, 1e-6);
  CHECK_CLOSE(pl[63 * 80 + 79], g[2], 0, 1e-6);
  free(pl);
}

/* The one-call report equals the individual metrics with its documented masks. */
static void test_report(const sscor_image *in16, const sscor_image *out16) {
  sscor_rect tiles[] = {{0, 0, 40, 32}, {40, 0, 40, 32}, {0, 32, 40, 32}, {38, 30, 40, 32}};
  sscor_correction_report r;
  CHECK(!sscor_metric_correction_report(in16, out16, 0, tiles, 4, NAN, 3.0, &r));
  double thr;
  CHECK(!sscor_metric_otsu(in16, 0, &thr));
  CHECK(r.threshold == thr && r.edge_margin == 9);
  sscor_seam_stats s;
  CHECK(!sscor_metric_seam_step(out16, 0, tiles, 4, thr, 2, &s));
  CHECK(r.seams[1].seam_step == s.seam_step && r.seams[1].ratio == s.ratio);
  sscor_image tissue, away;
  CHECK(!sscor_metric_tissue_mask(in16, 0, thr, &tissue));
  CHECK(!sscor_metric_tissue_mask(in16, 0, thr, &away));
  CHECK(!sscor_metric_mask_exclude_edges(&away, tiles, 4, 9));
  double v;
  CHECK(!sscor_metric_fidelity(out16, in16, 0, &away, 3.0, &v));
  CHECK(r.fidelity == v);
  CHECK(!sscor_metric_texture(in16, 0, &away, 15, &v));
  CHECK(r.texture[0] == v);
  CHECK(!sscor_metric_median_ratio(out16, 0, &tissue, &v));
  CHECK(r.tissue_bg[1] == v);
  sscor_image_free(&tissue), sscor_image_free(&away);
  /* Input only, no tiles: seam and output figures are NaN. */
  CHECK(!sscor_metric_correction_report(in16, NULL, 0, NULL, 0, 5000, 0, &r));
  CHECK(r.threshold == 5000 && isnan(r.fidelity) && isnan(r.texture[1]) && isnan(r.seams[0].ratio));
  CHECK(r.texture[0] > 0 && r.edge_margin == 18);
}

static void test_tiles_file(void) {
  char path[] = "/tmp/sscor_tiles_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  FILE *f = fdopen(fd, "w");
  fputs("# file x y\na.tif 0 9\n\nb.tif 468 0\n", f);
  fclose(f);
  sscor_rect *t;
  int n;
  CHECK(!sscor_metric_read_tiles(path, 512, 512, &t, &n));
  CHECK(n == 2 && t[0].y == 9 && t[1].x == 468 && t[1].w == 512);
  free(t);
  f = fopen(path, "w");
  fputs("a.tif 0 9 300 200\nb.tif 5 6\n", f); /* a tile of its own size */
  fclose(f);
  CHECK(!sscor_metric_read_tiles(path, 512, 512, &t, &n));
  CHECK(n == 2 && t[0].w == 300 && t[0].h == 200 && t[1].w == 512 && t[1].h == 512);
  free(t);
  f = fopen(path, "w");
  fputs("a.tif 0 9 300\n", f); /* a width without a height */
  fclose(f);
  CHECK(sscor_metric_read_tiles(path, 512, 512, &t, &n) == SSCOR_E_FORMAT);
  f = fopen(path, "w");
  fputs("a.tif 0 9\nb.tif 4x8 0\n", f);
  fclose(f);
  CHECK(sscor_metric_read_tiles(path, 512, 512, &t, &n) == SSCOR_E_FORMAT);
  CHECK(strstr(sscor_last_error(), ":2:") != NULL);
  unlink(path);
  CHECK(sscor_metric_read_tiles(path, 512, 512, &t, &n) == SSCOR_E_IO);

  const char *data = getenv("SSCOR_DATA");
  if (data) {
    char p[1024];
    snprintf(p, sizeof p, "%s/wsi_brain/tile_positions.txt", data);
    sscor_image img;
    if (!sscor_metric_read_tiles(p, 512, 512, &t, &n)) {
      CHECK(n == 54);
      snprintf(p, sizeof p, "%s/wsi_brain/stitched.tif", data);
      /* wsi_* values exist when the fixtures were made with the data present. */
      if (ref_opt("wsi_seam") && !sscor_image_read(p, &img)) {
        /* The real image against numpy on the same definition. */
        double thr;
        sscor_seam_stats s;
        CHECK(!sscor_metric_otsu(&img, 0, &thr));
        CHECK_CLOSE(thr, ref("wsi_otsu", NULL)[0], 1e-6, 1e-12);
        CHECK(!sscor_metric_seam_step(&img, 0, t, n, thr, 2, &s));
        const double *r = ref("wsi_seam", NULL);
        CHECK_CLOSE(s.seam_step, r[0], 0, 1e-9);
        CHECK_CLOSE(s.nonseam_step, r[1], 0, 1e-9);
        CHECK_CLOSE(s.ratio, r[2], 0, 1e-9);
        CHECK(s.seam_samples == (long)r[3] && s.nonseam_samples == (long)r[4]);
        sscor_image_free(&img);
      }
      free(t);
    }
  }
}

int main(void) {
  dir = getenv("SSCOR_FIXTURES");
  static char buf[1024];
  snprintf(buf, sizeof buf, "%s/metrics", dir ? dir : "tests/fixtures");
  dir = buf;
  load_values();
  sscor_image truth16, in16, out16, t8, o8, tf, of, mask;
  load_image("truth16", &truth16);
  load_image("in16", &in16);
  load_image("out16", &out16);
  load_image("truth8rgb", &t8);
  load_image("out8rgb", &o8);
  load_image("truthf", &tf);
  load_image("outf", &of);
  load_image("mask16", &mask);
  test_regions(&in16, &t8);
  test_seams_and_fidelity(&in16, &out16, &mask);
  test_truth(&truth16, &in16, &out16, &t8, &o8, &tf, &of);
  test_report(&in16, &out16);
  test_tiles_file();
  sscor_image *all[] = {&truth16, &in16, &out16, &t8, &o8, &tf, &of, &mask};
  for (int i = 0; i < 8; i++) sscor_image_free(all[i]);
  return CHECK_DONE();
}
