/* core/correct: models with geometry + flat-field sections round-trip and
 * correct identically; corrupt sections and mismatched streams are refused;
 * an identity G_C (residual output, zero last layer) run through windows with
 * smooth blending leaves the image unchanged; a G_C that adds a constant
 * shifts the image by that constant everywhere (windows cover every pixel,
 * weights normalised). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "correct.h"
#include "rng.h"

static double texture(int x, int y) {
  return 3000 + 1500 * sin(x * 0.37) * cos(y * 0.23) + ((x * 7919 + y * 104729) % 97) * 10;
}

/* 4x3 grid of 64-px tiles, each darkened towards its left/top edges and with
 * its own exposure; texture from a hash. */
static void make_image(sscor_image *img, sscor_geometry *g) {
  CHECK(sscor_image_alloc(img, 256, 192, 1, SSCOR_U16) == SSCOR_OK);
  CHECK(sscor_geometry_init(g, 256, 192) == SSCOR_OK);
  CHECK(sscor_geometry_set_grid(g, 0, 0, 64, 64, 4, 3, 64, 64) == SSCOR_OK);
  for (int y = 0; y < 192; y++)
    for (int x = 0; x < 256; x++) {
      int tx = x / 64, ty = y / 64, u = x % 64, v = y % 64;
      double tex = texture(x, y);
      double shade = (0.7 + 0.3 * u / 63.0) * (0.75 + 0.25 * v / 63.0) * (1 + 0.1 * ((tx + 2 * ty) % 3));
      sscor_image_set(img, x, y, 0, (float)(tex * shade));
    }
}

/* rms of log(image / true texture) about its mean: the shading left */
static double shading_rms(const sscor_image *img) {
  double s = 0, s2 = 0;
  int n = 0;
  for (int y = 0; y < 192; y++)
    for (int x = 0; x < 256; x++) {
      double l = log(sscor_image_get(img, x, y, 0) / texture(x, y));
      s += l;
      s2 += l * l;
      n++;
    }
  return sqrt(s2 / n - (s / n) * (s / n));
}

int main(void) {
  sscor_image img, coarse;
  sscor_geometry g;
  make_image(&img, &g);
  CHECK(sscor_downsample(&img, 2, &coarse) == SSCOR_OK);
  sscor_flatfield_params fp;
  sscor_flatfield_params_default(&fp);
  fp.dark = 0;
  fp.foreground = 100; /* all tissue, no background */
  sscor_flatfield *ff = NULL;
  sscor_flatfield_report fr;
  CHECK(sscor_flatfield_estimate(&g, &coarse, 2, sscor_image_region_reader, &img, &fp, &ff, &fr) ==
        SSCOR_OK);

  /* model with geometry + flat-field, no network */
  sscor_model m;
  memset(&m, 0, sizeof m);
  m.channels = 1;
  m.patch = 32;
  m.sample_format = SSCOR_SAMPLE_U16;
  m.low[0] = 0;
  m.high[0] = 65535;
  CHECK(sscor_model_set_flatfield(&m, &g, ff) == SSCOR_OK);
  uint8_t *buf;
  size_t len;
  CHECK(sscor_model_to_memory(&m, &buf, &len) == SSCOR_OK);
  sscor_model m2;
  CHECK(sscor_model_from_memory(buf, len, "m", &m2) == SSCOR_OK);
  CHECK(m2.corrector == NULL && m2.geometry && m2.flatfield_len == m.flatfield_len);

  /* the loaded model corrects exactly as the estimated field, tile by tile */
  sscor_image a, b;
  CHECK(sscor_image_alloc(&a, 256, 192, 1, SSCOR_U16) == SSCOR_OK);
  CHECK(sscor_image_convert(&img, &a) == SSCOR_OK);
  CHECK(sscor_flatfield_apply(ff, &a, 0, 0) == SSCOR_OK);
  CHECK(sscor_image_alloc(&b, 256, 192, 1, SSCOR_U16) == SSCOR_OK);
  CHECK(sscor_image_convert(&img, &b) == SSCOR_OK);
  sscor_corrector *c;
  CHECK(sscor_corrector_new(&m2, NULL, &c) == SSCOR_OK);
  CHECK(sscor_corrector_has_flatfield(c) && !sscor_corrector_has_network(c));
  for (int ty = 0; ty < 192; ty += 96)
    for (int tx = 0; tx < 256; tx += 128) {
      sscor_image t;
      sscor_image_wrap(&t, (uint16_t *)sscor_image_row(&b, ty) + tx, 128, 96, 1, SSCOR_U16, b.stride);
      CHECK(sscor_corrector_apply(c, &t, tx, ty) == SSCOR_OK);
    }
  CHECK(memcmp(a.data, b.data, a.stride * a.height) == 0);
  double s0 = shading_rms(&img), s1 = shading_rms(&b);
  printf("shading rms %.4f -> %.4f\n", s0, s1);
  CHECK(s1 < 0.3 * s0);

  /* the overlap factor travels with the model (it was once dropped, and
     overlap bands stayed uncorrected) */
  {
    sscor_geometry go;
    CHECK(sscor_geometry_init(&go, 256, 192) == SSCOR_OK);
    CHECK(sscor_geometry_set_grid(&go, 0, 0, 60, 60, 4, 3, 76, 72) == SSCOR_OK); /* overlaps */
    int nk;
    const double *ku, *kv, *lf, *lg;
    double dk;
    sscor_flatfield_params_of(ff, &nk, &ku, &kv, &lf, &lg, &dk);
    sscor_flatfield *fo, *fl = NULL;
    CHECK(sscor_flatfield_from_params(&go, nk, ku, kv, lf, NULL, 0, dk, &fo) == SSCOR_OK);
    CHECK(sscor_flatfield_set_log_overlap(fo, -0.4) == SSCOR_OK);
    CHECK(sscor_flatfield_set_log_overlap(fo, NAN) == SSCOR_E_FORMAT);
    sscor_model mo;
    memset(&mo, 0, sizeof mo);
    CHECK(sscor_model_set_flatfield(&mo, &go, fo) == SSCOR_OK);
    sscor_geometry gl;
    CHECK(sscor_model_get_flatfield(&mo, &gl, &fl) == SSCOR_OK && fl);
    if (fl) {
      CHECK_CLOSE(sscor_flatfield_log_overlap(fl), -0.4, 1e-12, 0);
      /* (62, 30) lies in the band shared by the first two tiles */
      CHECK_CLOSE(sscor_flatfield_gain(fl, 62.5, 30.5), sscor_flatfield_gain(fo, 62.5, 30.5), 1e-12, 0);
      CHECK(sscor_flatfield_gain(fo, 62.5, 30.5) < 0.8 * sscor_flatfield_gain(fo, 30.5, 30.5));
      sscor_flatfield_free(fl);
      sscor_geometry_free(&gl);
    }
    sscor_flatfield_free(fo);
    sscor_model_clear(&mo);
    sscor_geometry_free(&go);
  }

  /* stream checks */
  CHECK(sscor_corrector_check(c, 1, SSCOR_U16, 256, 192, "s") == SSCOR_OK);
  CHECK(sscor_corrector_check(c, 3, SSCOR_U16, 256, 192, "s") == SSCOR_E_INVALID);
  CHECK(strstr(sscor_last_error(), "3 channels") != NULL);
  CHECK(sscor_corrector_check(c, 1, SSCOR_U16, 512, 192, "s") == SSCOR_E_INVALID);
  CHECK(strstr(sscor_last_error(), "256x192") != NULL);
  sscor_corrector_free(c);

  /* corrupt FLAT section: refused with a message */
  m2.flatfield_len -= 8;
  CHECK(sscor_corrector_new(&m2, NULL, &c) == SSCOR_E_CORRUPT);
  CHECK(strstr(sscor_last_error(), "FLAT") != NULL);
  m2.flatfield_len += 8;
  m2.flatfield[0] = 1; /* 1 knot */
  CHECK(sscor_corrector_new(&m2, NULL, &c) != SSCOR_OK);
  sscor_model_clear(&m2);
  /* a FLAT without GEOM is refused on load */
  free(m.geometry);
  m.geometry = NULL;
  uint8_t *buf2 = NULL;
  CHECK(sscor_model_to_memory(&m, &buf2, &len) == SSCOR_E_INVALID);
  sscor_model_clear(&m);
  free(buf);

  /* G_C only: identity start keeps the image; a constant residual shifts it */
  memset(&m, 0, sizeof m);
  m.channels = 1;
  m.patch = 32;
  m.sample_format = SSCOR_SAMPLE_F32;
  m.low[0] = 0;
  m.high[0] = 10000;
  sscor_net_config cfg = sscor_gen_config(1, 1, 4, 1, SSCOR_GEN_OUT_RESIDUAL);
  CHECK(sscor_net_create(&cfg, &m.corrector) == SSCOR_OK);
  sscor_rng rng;
  sscor_rng_seed(&rng, 5);
  sscor_net_init(m.corrector, &rng);
  sscor_image f, f0;
  CHECK(sscor_image_to_f32(&img, &f) == SSCOR_OK);
  CHECK(sscor_image_to_f32(&img, &f0) == SSCOR_OK);
  sscor_correct_params cp;
  sscor_correct_params_default(&cp);
  cp.step = 12; /* < patch/2: many overlaps */
  CHECK(sscor_corrector_new(&m, &cp, &c) == SSCOR_OK);
  CHECK(sscor_corrector_check(c, 1, SSCOR_U16, 256, 192, "s") == SSCOR_E_INVALID); /* trained on float */
  CHECK(sscor_corrector_check(c, 1, SSCOR_F32, 999, 999, "s") == SSCOR_OK); /* no geometry: any size */
  sscor_image r;
  sscor_image_wrap(&r, sscor_image_row(&f, 10), 250, 100, 1, SSCOR_F32, f.stride); /* not a multiple of 4 */
  CHECK(sscor_corrector_apply(c, &r, 0, 10) == SSCOR_OK);
  double maxd = 0;
  for (int y = 0; y < 192; y++)
    for (int x = 0; x < 256; x++) maxd = fmax(maxd, fabs(sscor_image_get(&f, x, y, 0) - sscor_image_get(&f0, x, y, 0)));
  printf("identity G_C: max change %.4g\n", maxd);
  CHECK(maxd < 0.05);
  /* last conv bias 0.1: the residual stage adds tanh(0.1) in [-1,1] units,
     5000 tanh(0.1) in image units, at every pixel */
  m.corrector->params[m.corrector->layers[m.corrector->n_layers - 1].b_off] = 0.1f;
  CHECK(sscor_corrector_apply(c, &r, 0, 10) == SSCOR_OK);
  double lo = 1e9, hi = -1e9;
  for (int y = 10; y < 110; y++)
    for (int x = 0; x < 250; x++) {
      double d = sscor_image_get(&f, x, y, 0) - sscor_image_get(&f0, x, y, 0);
      lo = fmin(lo, d);
      hi = fmax(hi, d);
    }
  double want = 5000 * tanh(0.1);
  printf("constant residual: change %.3f..%.3f (want %.3f)\n", lo, hi, want);
  CHECK_CLOSE(lo, want, 0.05, 0);
  CHECK_CLOSE(hi, want, 0.05, 0);
  /* max rule: a negative residual changes nothing */
  sscor_corrector_free(c);
  cp.max_rule = 1;
  CHECK(sscor_corrector_new(&m, &cp, &c) == SSCOR_OK);
  m.corrector->params[m.corrector->layers[m.corrector->n_layers - 1].b_off] = -0.1f;
  CHECK(sscor_image_convert(&f0, &f) == SSCOR_OK);
  CHECK(sscor_corrector_apply(c, &r, 0, 10) == SSCOR_OK);
  CHECK(memcmp(f.data, f0.data, f.stride * f.height) == 0);
  sscor_corrector_free(c);
  sscor_model_clear(&m);

  sscor_image_free(&f);
  sscor_image_free(&f0);
  sscor_image_free(&a);
  sscor_image_free(&b);
  sscor_image_free(&coarse);
  sscor_image_free(&img);
  sscor_flatfield_free(ff);
  sscor_geometry_free(&g);
  return CHECK_DONE();
}
