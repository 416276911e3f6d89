/* core/degrade: every model's field against its documented formula, sample
 * types and channels, determinism, the truth file, and procedural content. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "degrade.h"
#include "metrics.h"

static void flat(sscor_image *img, int w, int h, int c, sscor_sample_type t, float v) {
  CHECK(!sscor_image_alloc(img, w, h, c, t));
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int k = 0; k < c; k++) sscor_image_set(img, x, y, k, v);
}

/* Applies spec to a flat float image of 1.0 (the gain field itself). */
static sscor_degrade_plan *apply_spec(const char *spec, sscor_image *img, int w, int h) {
  sscor_degradation d[8];
  int n = 0;
  CHECK_MSG(!sscor_degrade_parse(spec, d, 8, &n), "%s", sscor_last_error());
  flat(img, w, h, 1, SSCOR_F32, 1.0f);
  sscor_degrade_plan *p = NULL;
  CHECK_MSG(!sscor_degrade_plan_new(d, n, w, h, &p), "%s", sscor_last_error());
  if (p) CHECK(!sscor_degrade_plan_apply(p, img));
  return p;
}

static float at(const sscor_image *img, int x, int y) { return sscor_image_get(img, x, y, 0); }

static void test_parse(void) {
  sscor_degradation d[4];
  int n = 0;
  CHECK(!sscor_degrade_parse("tile-varying:tile=256,strength=0.4; bubble:count=2,seed=7", d, 4, &n));
  CHECK(n == 2 && d[0].kind == SSCOR_DEG_TILE_VARYING && d[0].tile_w == 256 && d[0].tile_h == 256);
  CHECK(d[0].strength == 0.4 && d[1].kind == SSCOR_DEG_BUBBLE && d[1].count == 2 && d[1].seed == 7);
  CHECK(sscor_degrade_parse("stripes", d, 4, &n) == SSCOR_E_INVALID);
  CHECK(strstr(sscor_last_error(), "stripes-regular") != NULL); /* lists the known names */
  CHECK(sscor_degrade_parse("seams:colour=3", d, 4, &n) == SSCOR_E_INVALID);
  CHECK(strstr(sscor_last_error(), "colour") != NULL);
  CHECK(sscor_degrade_parse("seams:width=abc", d, 4, &n) == SSCOR_E_INVALID);
  CHECK(sscor_degrade_parse("seams:width", d, 4, &n) == SSCOR_E_INVALID);
  CHECK(sscor_degrade_parse("", d, 4, &n) == SSCOR_E_INVALID);
  CHECK(sscor_degrade_parse("fringe;fringe;fringe", d, 2, &n) == SSCOR_E_INVALID);
  /* Range checks happen when resolved for a size. */
  CHECK(!sscor_degrade_parse("seams:width=0.9", d, 4, &n));
  CHECK(sscor_degrade_resolve(&d[0], 100, 100) == SSCOR_E_INVALID);
  CHECK(!sscor_degrade_parse("bubble:strength=1.5", d, 4, &n));
  CHECK(sscor_degrade_resolve(&d[0], 100, 100) == SSCOR_E_INVALID);
  CHECK(!sscor_degrade_parse("tile-uniform:tile=2", d, 4, &n));
  CHECK(sscor_degrade_resolve(&d[0], 100, 100) == SSCOR_E_INVALID);
  CHECK(!sscor_degrade_parse("stripes-regular", d, 4, &n));
  CHECK(!sscor_degrade_resolve(&d[0], 100, 60));
  CHECK(d[0].period == 16 && d[0].width == 2 && d[0].strength == 0.3);
}

static void test_stripes(void) {
  sscor_image img;
  sscor_degrade_plan *p = apply_spec("stripes-regular:period=16,width=2,strength=0.3,phase=4", &img, 64, 80);
  /* Centre rows 4, 20, 36...: 1 - 0.3 * (1 + 2 exp(-16^2/8) ...) ~ 0.7. */
  CHECK_CLOSE(at(&img, 10, 4), 0.7, 1e-5, 0);
  CHECK_CLOSE(at(&img, 50, 36), 0.7, 1e-5, 0);
  CHECK_CLOSE(at(&img, 10, 5), 1 - 0.3 * exp(-1.0 / 8), 1e-5, 0);
  CHECK_CLOSE(at(&img, 10, 12), 1 - 0.3 * 2 * exp(-64.0 / 8), 1e-5, 0);
  for (int y = 0; y + 16 < 80; y++) CHECK_CLOSE(at(&img, 3, y), at(&img, 3, y + 16), 1e-5, 0);
  sscor_degrade_plan_free(p);
  sscor_image_free(&img);

  /* Gaussian stripes: darkening only, anisotropic (row means vary far more than column means). */
  p = apply_spec("stripes-gaussian:count=20,width=1.5,length=40,strength=0.5,seed=3", &img, 128, 128);
  double *rows, *cols;
  int nr, nc;
  CHECK(!sscor_metric_profile(&img, 0, (sscor_rect){0, 0, 128, 128}, 0, &rows, &nr));
  CHECK(!sscor_metric_profile(&img, 0, (sscor_rect){0, 0, 128, 128}, 90, &cols, &nc));
  double vr = 0, vc = 0, mr = 0, mc = 0, mn = 1;
  for (int i = 0; i < 128; i++) mr += rows[i] / 128, mc += cols[i] / 128;
  for (int i = 0; i < 128; i++) vr += (rows[i] - mr) * (rows[i] - mr), vc += (cols[i] - mc) * (cols[i] - mc);
  for (int y = 0; y < 128; y++)
    for (int x = 0; x < 128; x++) mn = fmin(mn, at(&img, x, y));
  CHECK_MSG(vr > 5 * vc, "row variance %g, column variance %g", vr, vc);
  CHECK(mn < 0.8 && mn > 0);
  free(rows), free(cols);
  sscor_degrade_plan_free(p);
  sscor_image_free(&img);

  /* Angled stripes: the profile across the stripes at the angle varies more than the row profile. */
  p = apply_spec("stripes-angled:count=30,angle=20,length=200,strength=0.5,seed=4", &img, 128, 128);
  double *pa, *p0;
  int na, n0;
  CHECK(!sscor_metric_profile(&img, 0, (sscor_rect){0, 0, 128, 128}, 20, &pa, &na));
  CHECK(!sscor_metric_profile(&img, 0, (sscor_rect){0, 0, 128, 128}, 0, &p0, &n0));
  double sa = 0, s0 = 0, ma = 0, m0 = 0;
  for (int i = 10; i < na - 10; i++) ma += pa[i] / (na - 20);
  for (int i = 10; i < na - 10; i++) sa += (pa[i] - ma) * (pa[i] - ma) / (na - 20);
  for (int i = 0; i < n0; i++) m0 += p0[i] / n0;
  for (int i = 0; i < n0; i++) s0 += (p0[i] - m0) * (p0[i] - m0) / n0;
  CHECK_MSG(sa > 2 * s0, "angled profile var %g, row var %g", sa, s0);
  free(pa), free(p0);
  sscor_degrade_plan_free(p);
  sscor_image_free(&img);
}

static void test_tiles(void) {
  sscor_image img;
  sscor_degrade_plan *p = apply_spec("tile-uniform:tile=64,strength=0.4", &img, 200, 150);
  /* Repeats with the tile period, darker at the corners than at the centre. */
  for (int y = 0; y < 150; y += 7)
    for (int x = 0; x + 64 < 200; x += 5) CHECK_CLOSE(at(&img, x, y), at(&img, x + 64, y), 1e-6, 0);
  CHECK(at(&img, 32, 32) > 0.95 && at(&img, 0, 0) < 0.85 && at(&img, 63, 63) < 0.85);
  sscor_degrade_plan_free(p);
  sscor_image_free(&img);

  p = apply_spec("tile-varying:tile=64,strength=0.4,seed=5", &img, 192, 192);
  double c1 = at(&img, 32, 32), c2 = at(&img, 96, 32), c3 = at(&img, 32, 96);
  CHECK(fabs(c1 - c2) > 1e-3 || fabs(c1 - c3) > 1e-3);
  sscor_degrade_plan_free(p);
  sscor_image_free(&img);

  /* Seams: an overlap band of round(0.1*64) = 6 px at the start of every
   * tile, gain 0.7, sharp edges; the seam metric sees it, off-seam lines do not. */
  p = apply_spec("seams:tile=64,width=0.1,strength=0.3", &img, 192, 128);
  CHECK_CLOSE(at(&img, 64, 20), 0.7, 1e-6, 0);
  CHECK_CLOSE(at(&img, 69, 20), 0.7, 1e-6, 0);
  CHECK_CLOSE(at(&img, 70, 20), 1.0, 1e-6, 0);
  CHECK_CLOSE(at(&img, 63, 20), 1.0, 1e-6, 0);
  CHECK_CLOSE(at(&img, 2, 20), 1.0, 1e-6, 0); /* no neighbour at the image border: no band */
  CHECK_CLOSE(at(&img, 66, 66), 0.49, 1e-6, 0); /* band crossing */
  CHECK_CLOSE(at(&img, 32, 20), 1.0, 1e-6, 0);
  sscor_image u16;
  CHECK(!sscor_image_alloc(&u16, 192, 128, 1, SSCOR_U16));
  for (int y = 0; y < 128; y++)
    for (int x = 0; x < 192; x++) sscor_image_set(&u16, x, y, 0, 1000 * at(&img, x, y));
  sscor_rect tiles[6];
  for (int i = 0; i < 6; i++) tiles[i] = (sscor_rect){(i % 3) * 64, (i / 3) * 64, 70, 70};
  sscor_seam_stats s;
  CHECK(!sscor_metric_seam_step(&u16, 0, tiles, 6, 10, 2, &s));
  CHECK_MSG(s.seam_step > 0.2 && s.nonseam_step == 0, "seam %g, non-seam %g", s.seam_step,
            s.nonseam_step);
  sscor_image_free(&u16);
  char path[] = "/tmp/sscor_truth_XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  CHECK(!sscor_degrade_plan_write_truth(p, path));
  sscor_truth t;
  CHECK_MSG(!sscor_truth_read(path, &t), "%s", sscor_last_error());
  CHECK(t.width == 192 && t.height == 128 && t.ndeg == 1 && t.kinds[0] == SSCOR_DEG_SEAMS);
  /* Band edges: columns 64, 70, 128, 134; rows 64, 70. */
  CHECK_MSG(t.ntiles == 6 && t.nseams == 6, "%d tiles, %d seams", t.ntiles, t.nseams);
  int v64 = 0, v70 = 0, v128 = 0, v134 = 0, h64 = 0, h70 = 0;
  for (int i = 0; i < t.nseams; i++) {
    char o = t.seams[i].v_or_h;
    double pos = t.seams[i].a[0];
    v64 += o == 'v' && pos == 64, v70 += o == 'v' && pos == 70;
    v128 += o == 'v' && pos == 128, v134 += o == 'v' && pos == 134;
    h64 += o == 'h' && pos == 64, h70 += o == 'h' && pos == 70;
  }
  CHECK(v64 == 1 && v70 == 1 && v128 == 1 && v134 == 1 && h64 == 1 && h70 == 1);
  sscor_rect *tr;
  int ntr;
  CHECK(!sscor_truth_tile_rects(&t, &tr, &ntr));
  CHECK(ntr == 6 && tr[4].x == 64 && tr[4].y == 64 && tr[4].w == 70);
  free(tr);
  sscor_truth_free(&t);
  sscor_degrade_plan_free(p);
  sscor_image_free(&img);

  /* Oblique: seams run at the angle (dx/dy = tan(angle) for vertical ones). */
  p = apply_spec("oblique:tile=50,angle=4", &img, 160, 120);
  CHECK(!sscor_degrade_plan_write_truth(p, path));
  CHECK(!sscor_truth_read(path, &t));
  CHECK(t.grid[0][4] == 4 && t.nseams > 0);
  for (int i = 0; i < t.nseams; i++) {
    const double *a = t.seams[i].a;
    if (t.seams[i].v_or_h == 'v')
      CHECK_CLOSE((a[3] - a[1]) / (a[4] - a[2]), tan(4 * M_PI / 180), 1e-5, 0);
    else
      CHECK_CLOSE((a[4] - a[2]) / (a[3] - a[1]), -tan(4 * M_PI / 180), 1e-5, 0);
  }
  CHECK(sscor_truth_tile_rects(&t, &tr, &ntr) == SSCOR_E_INVALID); /* rotated: no rectangles */
  sscor_truth_free(&t);
  sscor_degrade_plan_free(p);
  sscor_image_free(&img);

  /* A malformed truth file names its line. */
  FILE *f = fopen(path, "w");
  fputs("sscor-truth 1\nsize 10 10\ndegradation seams\nseam q 1 2 3 4 5\n", f);
  fclose(f);
  CHECK(sscor_truth_read(path, &t) == SSCOR_E_FORMAT);
  CHECK(strstr(sscor_last_error(), ":4:") != NULL);
  f = fopen(path, "w");
  fputs("hello\n", f);
  fclose(f);
  CHECK(sscor_truth_read(path, &t) == SSCOR_E_FORMAT);
  unlink(path);
  CHECK(sscor_truth_read(path, &t) == SSCOR_E_IO);
}

static void test_local(void) {
  sscor_image img;
  sscor_degrade_plan *p = apply_spec("bubble:count=1,radius=20,strength=0.8,seed=2", &img, 128, 128);
  char path[] = "/tmp/sscor_truth_XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  CHECK(!sscor_degrade_plan_write_truth(p, path));
  sscor_truth t;
  CHECK(!sscor_truth_read(path, &t));
  CHECK(t.nregions == 1 && t.regions[0].a[0] == SSCOR_DEG_BUBBLE);
  double cx = t.regions[0].a[1], cy = t.regions[0].a[2], r = t.regions[0].a[3];
  CHECK(r >= 15 && r <= 25);
  CHECK_CLOSE(at(&img, (int)cx, (int)cy), 0.2, 1e-5, 0);          /* signal lost inside */
  CHECK(at(&img, (int)(cx + r - r / 12), (int)cy) > 1.05);          /* bright rim */
  CHECK_CLOSE(at(&img, (int)(cx + r + 3) < 128 ? (int)(cx + r + 3) : 127, (int)cy), 1.0, 1e-6, 0);
  sscor_truth_free(&t);
  sscor_degrade_plan_free(p);
  sscor_image_free(&img);

  /* Defocus on real structure: lower local contrast and dimmer inside the region. */
  sscor_image c;
  CHECK(!sscor_image_alloc(&c, 160, 160, 1, SSCOR_F32));
  for (int y = 0; y < 160; y++)
    for (int x = 0; x < 160; x++) sscor_image_set(&c, x, y, 0, ((x / 2 + y / 2) % 2) ? 1.0f : 0.2f);
  sscor_degradation d = sscor_degrade_default(SSCOR_DEG_DEFOCUS);
  d.count = 1, d.radius = 30, d.strength = 0.5;
  CHECK(!sscor_degrade_plan_new(&d, 1, 160, 160, &p));
  CHECK(!sscor_degrade_plan_apply(p, &c));
  CHECK(!sscor_degrade_plan_write_truth(p, path));
  CHECK(!sscor_truth_read(path, &t));
  CHECK(t.nregions == 1);
  int rx = (int)t.regions[0].a[1], ry = (int)t.regions[0].a[2];
  double icv_in, m_in, sd_in, icv_out, m_out, sd_out;
  CHECK(!sscor_metric_icv(&c, 0, (sscor_rect){rx - 8, ry - 8, 16, 16}, &icv_in, &m_in, &sd_in));
  CHECK(!sscor_metric_icv(&c, 0, (sscor_rect){rx < 80 ? 144 : 0, ry < 80 ? 144 : 0, 16, 16}, &icv_out, &m_out, &sd_out));
  CHECK_MSG(sd_in < 0.1 * sd_out, "std inside %g, outside %g", sd_in, sd_out);
  CHECK_CLOSE(m_in, 0.6 * 0.8, 0.02, 0); /* mean 0.6 dimmed by 1 - 0.4*0.5 */
  CHECK_CLOSE(m_out, 0.6, 1e-6, 0);
  sscor_truth_free(&t);
  sscor_degrade_plan_free(p);
  sscor_image_free(&c);
  unlink(path);

  /* Fringe: line modulation of the documented amplitude and envelope. */
  p = apply_spec("fringe:period=6,strength=0.2", &img, 100, 60);
  CHECK_CLOSE(at(&img, 0, 0), 1 + 0.2 * cos(2 * M_PI * 0.5 / 6) * (0.5 + 0.5 * pow(2 * 0.5 / 100 - 1, 2)), 1e-5, 0);
  CHECK_CLOSE(at(&img, 50, 3), 1 + 0.2 * cos(2 * M_PI * 3.5 / 6) * (0.5 + 0.5 * pow(2 * 50.5 / 100 - 1, 2)), 1e-5, 0);
  sscor_degrade_plan_free(p);
  sscor_image_free(&img);
}

static void test_types_and_additive(void) {
  /* Additive dark offset: zero input becomes D * level, within 0.75..1.0 * additive * level. */
  sscor_degradation d[2];
  int n;
  CHECK(!sscor_degrade_parse("tile-uniform:tile=32,additive=0.1,level=1000", d, 2, &n));
  sscor_image z;
  flat(&z, 64, 64, 2, SSCOR_U16, 0);
  sscor_degrade_plan *p;
  CHECK(!sscor_degrade_plan_new(d, n, 64, 64, &p));
  CHECK(!sscor_degrade_plan_apply(p, &z));
  CHECK(sscor_image_get(&z, 0, 5, 0) == 75 && sscor_image_get(&z, 31, 5, 1) >= 99);
  sscor_degrade_plan_free(p);
  sscor_image_free(&z);

  /* Channels: one gain on every channel; 8-bit values rounded and clamped. */
  sscor_image rgb;
  CHECK(!sscor_image_alloc(&rgb, 96, 64, 3, SSCOR_U8));
  CHECK(!sscor_synth_content(&rgb, 9));
  sscor_image orig;
  CHECK(!sscor_image_alloc(&orig, 96, 64, 3, SSCOR_U8));
  CHECK(!sscor_image_convert(&rgb, &orig));
  CHECK(!sscor_degrade_parse("tile-varying:tile=32,strength=0.5", d, 2, &n));
  CHECK(!sscor_degrade_plan_new(d, n, 96, 64, &p));
  CHECK(!sscor_degrade_plan_apply(p, &rgb));
  const float *g = sscor_degrade_plan_gain(p);
  long bad = 0;
  for (int y = 0; y < 64; y++)
    for (int x = 0; x < 96; x++)
      for (int c = 0; c < 3; c++) {
        float want = sscor_image_get(&orig, x, y, c) * g[y * 96 + x];
        want = want > 255 ? 255 : rintf(want);
        bad += fabsf(sscor_image_get(&rgb, x, y, c) - want) > 0.5f;
      }
  CHECK(bad == 0);
  /* Wrong size: refused. */
  sscor_image small;
  CHECK(!sscor_image_alloc(&small, 10, 10, 1, SSCOR_U8));
  CHECK(sscor_degrade_plan_apply(p, &small) == SSCOR_E_INVALID);
  sscor_image_free(&small);
  sscor_degrade_plan_free(p);
  sscor_image_free(&rgb);
  sscor_image_free(&orig);

  /* Determinism and seeds. */
  sscor_image a, b;
  sscor_degrade_plan *pa = apply_spec("stripes-gaussian:seed=11", &a, 80, 80);
  sscor_degrade_plan *pb = apply_spec("stripes-gaussian:seed=11", &b, 80, 80);
  CHECK(!memcmp(a.data, b.data, a.stride * 80));
  sscor_degrade_plan_free(pb);
  sscor_image_free(&b);
  pb = apply_spec("stripes-gaussian:seed=12", &b, 80, 80);
  CHECK(memcmp(a.data, b.data, a.stride * 80) != 0);
  sscor_degrade_plan_free(pa), sscor_degrade_plan_free(pb);
  sscor_image_free(&a), sscor_image_free(&b);
}

static void test_content(void) {
  sscor_image a, b;
  CHECK(!sscor_image_alloc(&a, 256, 256, 1, SSCOR_U16));
  CHECK(!sscor_image_alloc(&b, 256, 256, 1, SSCOR_U16));
  CHECK(!sscor_synth_content(&a, 42));
  CHECK(!sscor_synth_content(&b, 42));
  CHECK(!memcmp(a.data, b.data, a.stride * 256));
  double thr;
  CHECK(!sscor_metric_otsu(&a, 0, &thr));
  sscor_image mask;
  CHECK(!sscor_metric_tissue_mask(&a, 0, thr, &mask));
  long fg = 0;
  for (int y = 0; y < 256; y++)
    for (int x = 0; x < 256; x++) fg += sscor_image_get(&mask, x, y, 0) != 0;
  CHECK_MSG(fg > 256 * 256 / 10 && fg < 256 * 256 * 9 / 10, "tissue fraction %ld", fg);
  double ratio, tex;
  CHECK(!sscor_metric_median_ratio(&a, 0, &mask, &ratio));
  CHECK_MSG(ratio > 3, "tissue/background %g", ratio);
  CHECK(!sscor_metric_texture(&a, 0, &mask, 15, &tex));
  CHECK_MSG(tex > 300, "texture %g", tex); /* cells and fibres give fine structure */
  sscor_image_free(&mask);
  sscor_image_free(&a), sscor_image_free(&b);
  sscor_image f;
  CHECK(!sscor_image_alloc(&f, 64, 48, 4, SSCOR_F32));
  CHECK(!sscor_synth_content(&f, 1));
  double m0, m1;
  CHECK(!sscor_metric_icv(&f, 0, (sscor_rect){0, 0, 64, 48}, NULL, &m0, NULL));
  CHECK(!sscor_metric_icv(&f, 1, (sscor_rect){0, 0, 64, 48}, NULL, &m1, NULL));
  CHECK(m0 > 0 && m0 < 1.5 && m0 != m1);
  sscor_image_free(&f);
}

int main(void) {
  test_parse();
  test_stripes();
  test_tiles();
  test_local();
  test_types_and_additive();
  test_content();
  return CHECK_DONE();
}
