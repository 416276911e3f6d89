/* Seam-aware flat-field on synthetic stitched images with a known shading:
 * the shading residual must drop strongly, a clean image must stay put, and
 * band-wise correction must equal whole-image correction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "flatfield.h"
#include "synth_tiles.h"

/* std of log(a / content) over data pixels away from the image border */
static double shading_residual(const sscor_image *a) {
  double s = 0, s2 = 0;
  long n = 0;
  for (int y = 20; y < a->height - 20; y++)
    for (int x = 20; x < a->width - 20; x++) {
      float v = sscor_image_get(a, x, y, 0);
      if (v <= 0) continue;
      double l = log(v / synth_content(x, y));
      s += l;
      s2 += l * l;
      n++;
    }
  double m = s / n;
  return sqrt(s2 / n - m * m);
}

static void grid(sscor_geometry *g, int w, int h) {
  CHECK(sscor_geometry_init(g, w, h) == SSCOR_OK);
  CHECK(sscor_geometry_set_grid(g, 0, 0, 116, 116, 6, 4, 128, 128) == SSCOR_OK);
}

static void test_reduces_shading(void) {
  sscor_geometry g;
  grid(&g, 5 * 116 + 128, 3 * 116 + 128);
  double gains[24];
  for (int i = 0; i < 24; i++) gains[i] = 0.9 + 0.2 * synth_hash(i, 0, 9);
  sscor_image img, coarse, ref;
  CHECK(sscor_image_alloc(&img, g.width, g.height, 1, SSCOR_F32) == SSCOR_OK);
  synth_render(&g, SYNTH_VIGNETTE, 0.5, gains, &img);
  CHECK(sscor_image_alloc(&ref, g.width, g.height, 1, SSCOR_F32) == SSCOR_OK);
  CHECK(sscor_image_convert(&img, &ref) == SSCOR_OK);
  CHECK(sscor_downsample(&img, 2, &coarse) == SSCOR_OK);
  sscor_flatfield_params p;
  sscor_flatfield_params_default(&p);
  p.dark = 0;
  p.foreground = 1; /* everything is tissue here */
  p.iterations = 5;
  sscor_flatfield *ff;
  sscor_flatfield_report rep;
  sscor_status st = sscor_flatfield_estimate(&g, &coarse, 2, sscor_image_region_reader, &img, &p, &ff, &rep);
  CHECK_MSG(st == SSCOR_OK, "%s", sscor_last_error());
  if (st) return;
  double before = shading_residual(&img);
  /* correct in two bands, as a stream would */
  sscor_image top, bottom;
  int half = img.height / 2;
  sscor_image_wrap(&top, img.data, img.width, half, 1, SSCOR_F32, img.stride);
  sscor_image_wrap(&bottom, sscor_image_row(&img, half), img.width, img.height - half, 1, SSCOR_F32,
                   img.stride);
  CHECK(sscor_flatfield_apply(ff, &top, 0, 0) == SSCOR_OK);
  CHECK(sscor_flatfield_apply(ff, &bottom, 0, half) == SSCOR_OK);
  double after = shading_residual(&img);
  printf("shading residual %.4f -> %.4f (%d seam + %d interior obs, F %.3f..%.3f)\n", before, after,
         rep.seam_obs, rep.interior_obs, rep.min_gain, rep.max_gain);
  CHECK_MSG(after < before / 4, "residual %.4f -> %.4f", before, after);
  /* whole-image apply equals band-wise apply */
  CHECK(sscor_flatfield_apply(ff, &ref, 0, 0) == SSCOR_OK);
  double maxd = 0;
  for (int y = 0; y < img.height; y++)
    for (int x = 0; x < img.width; x++)
      maxd = fmax(maxd, fabs(sscor_image_get(&img, x, y, 0) - sscor_image_get(&ref, x, y, 0)));
  CHECK_CLOSE(maxd, 0, 1e-3, 0);
  /* the level stays: median gain over the image ~ 1 */
  {
    int n = 0;
    float *v = malloc(sizeof(float) * (size_t)(g.width / 4 + 1) * (g.height / 4 + 1));
    for (int y = 0; y < g.height; y += 4)
      for (int x = 0; x < g.width; x += 4) v[n++] = (float)sscor_flatfield_gain(ff, x + 0.5, y + 0.5);
    for (int i = 1; i < n; i++)
      for (int k = i; k > 0 && v[k - 1] > v[k]; k--) {
        float t = v[k];
        v[k] = v[k - 1];
        v[k - 1] = t;
      }
    CHECK_CLOSE(v[n / 2], 1.0, 0.05, 0);
    free(v);
  }
  /* regions outside the image are refused */
  CHECK(sscor_flatfield_apply(ff, &ref, 5, 0) == SSCOR_E_INVALID);
  sscor_flatfield_free(ff);

  /* 16-bit input keeps its type and no-data pixels stay zero */
  sscor_image u16;
  CHECK(sscor_image_alloc(&u16, g.width, g.height, 1, SSCOR_U16) == SSCOR_OK);
  synth_render(&g, SYNTH_VIGNETTE, 0.5, gains, &ref);
  CHECK(sscor_image_convert(&ref, &u16) == SSCOR_OK);
  ((uint16_t *)u16.data)[0] = 0;
  CHECK(sscor_flatfield_estimate(&g, &coarse, 2, sscor_image_region_reader, &u16, &p, &ff, NULL) == SSCOR_OK);
  CHECK(sscor_flatfield_apply(ff, &u16, 0, 0) == SSCOR_OK);
  CHECK(((uint16_t *)u16.data)[0] == 0);
  sscor_image_free(&ref);
  CHECK(sscor_image_alloc(&ref, g.width, g.height, 1, SSCOR_F32) == SSCOR_OK);
  CHECK(sscor_image_convert(&u16, &ref) == SSCOR_OK);
  ((float *)ref.data)[0] = (float)synth_content(0, 0);
  double r16 = shading_residual(&ref);
  CHECK_MSG(r16 < before / 4, "16-bit residual %.4f", r16);
  sscor_flatfield_free(ff);
  sscor_image_free(&u16);
  sscor_image_free(&img);
  sscor_image_free(&ref);
  sscor_image_free(&coarse);
  sscor_geometry_free(&g);
}

static void test_clean_untouched(void) {
  /* A stitched image without shading: the field must stay ~1 everywhere, so
     the output is the input (fidelity). */
  sscor_geometry g;
  grid(&g, 5 * 116 + 128, 3 * 116 + 128);
  sscor_image img, coarse;
  CHECK(sscor_image_alloc(&img, g.width, g.height, 1, SSCOR_F32) == SSCOR_OK);
  synth_render(&g, SYNTH_NONE, 0, NULL, &img);
  CHECK(sscor_downsample(&img, 2, &coarse) == SSCOR_OK);
  sscor_flatfield_params p;
  sscor_flatfield_params_default(&p);
  p.dark = 0;
  p.foreground = 1;
  p.iterations = 5;
  sscor_flatfield *ff;
  sscor_flatfield_report rep;
  /* With the held-out check there is nothing to correct: refused. */
  CHECK(sscor_flatfield_estimate(&g, &coarse, 2, sscor_image_region_reader, &img, &p, &ff, &rep) ==
        SSCOR_E_INVALID);
  CHECK_MSG(strstr(sscor_last_error(), "no reliable correction found") != NULL, "%s",
            sscor_last_error());
  printf("clean, checked: %s\n", sscor_last_error());
  /* The fit alone must not invent seams either. */
  p.validate = 0;
  CHECK(sscor_flatfield_estimate(&g, &coarse, 2, sscor_image_region_reader, &img, &p, &ff, &rep) == SSCOR_OK);
  printf("clean: F range %.4f..%.4f\n", rep.min_gain, rep.max_gain);
  /* No seam may be invented: the field's log step across every tile edge
     stays tiny. (Smooth departures inside tiles are possible on few-tile
     images whose content varies at tile scale; they add no texture.) */
  sscor_seam *seams;
  int ns;
  CHECK(sscor_geometry_seams(&g, &seams, &ns) == SSCOR_OK);
  double worst = 0, mean = 0;
  int cnt = 0;
  for (int i = 0; i < ns; i++)
    for (double t = seams[i].from + 4; t < seams[i].to - 4; t += 4) {
      double a, b;
      if (seams[i].vertical) {
        a = log(sscor_flatfield_gain(ff, seams[i].pos - 2.0, t));
        b = log(sscor_flatfield_gain(ff, seams[i].pos + 2.0, t));
      } else {
        a = log(sscor_flatfield_gain(ff, t, seams[i].pos - 2.0));
        b = log(sscor_flatfield_gain(ff, t, seams[i].pos + 2.0));
      }
      worst = fmax(worst, fabs(a - b));
      mean += fabs(a - b);
      cnt++;
    }
  free(seams);
  mean /= cnt;
  printf("clean: field step across seams mean %.4f max %.4f\n", mean, worst);
  CHECK_MSG(mean < 0.025, "clean image: invented seam steps of %.4f on average", mean);
  sscor_flatfield_free(ff);
  /* no tiles: refused with a clear message */
  sscor_geometry empty;
  CHECK(sscor_geometry_init(&empty, g.width, g.height) == SSCOR_OK);
  CHECK(sscor_flatfield_estimate(&empty, &coarse, 2, NULL, NULL, NULL, &ff, NULL) == SSCOR_E_INVALID);
  CHECK(strstr(sscor_last_error(), "no tiles") != NULL);
  sscor_geometry_free(&empty);
  sscor_image_free(&img);
  sscor_image_free(&coarse);
  sscor_geometry_free(&g);
}

/* Few tiles on a small image: 2x2 tiles (one seam line per axis) are
 * corrected (the shading's residual against the truth falls); the same image with a
 * geometry half a tile off (seams where the image has none) is refused
 * instead of harmed. */
static void test_few_tiles_and_refusal(void) {
  sscor_geometry g;
  CHECK(sscor_geometry_init(&g, 384, 320) == SSCOR_OK);
  CHECK(sscor_geometry_set_grid(&g, 0, 0, 192, 160, 2, 2, 192, 160) == SSCOR_OK);
  double gains[4] = {1.0, 0.85, 1.1, 0.95};
  sscor_image img, coarse;
  CHECK(sscor_image_alloc(&img, g.width, g.height, 1, SSCOR_F32) == SSCOR_OK);
  synth_render(&g, SYNTH_VIGNETTE, 0.4, gains, &img);
  CHECK(sscor_downsample(&img, 1, &coarse) == SSCOR_OK);
  sscor_flatfield_params p;
  sscor_flatfield_params_default(&p);
  sscor_flatfield *ff;
  sscor_flatfield_report rep;
  double before = shading_residual(&img);
  sscor_status st = sscor_flatfield_estimate(&g, &coarse, 1, sscor_image_region_reader, &img, &p, &ff, &rep);
  CHECK_MSG(st == SSCOR_OK, "2x2: %s", sscor_last_error());
  if (st == SSCOR_OK) {
    sscor_image out;
    CHECK(sscor_image_alloc(&out, g.width, g.height, 1, SSCOR_F32) == SSCOR_OK);
    CHECK(sscor_image_convert(&img, &out) == SSCOR_OK);
    CHECK(sscor_flatfield_apply(ff, &out, 0, 0) == SSCOR_OK);
    double after = shading_residual(&out);
    printf("2x2 tiles: shading residual %.4f -> %.4f, held-out seam step %.4f -> %.4f, lines %.4g -> %.4g\n",
           before, after, rep.check_seam_before, rep.check_seam_after, rep.check_lines_before,
           rep.check_lines_after);
    CHECK_MSG(after < 0.5 * before, "2x2: shading residual %.4f -> %.4f", before, after);
    CHECK(rep.check_seam_after <= SSCOR_FLATFIELD_SEAM_GAIN * rep.check_seam_before);
    sscor_image_free(&out);
    sscor_flatfield_free(ff);
  }
  /* A wrong geometry: tiles of the right size, half a tile off. */
  sscor_geometry wrong;
  CHECK(sscor_geometry_init(&wrong, 384, 320) == SSCOR_OK);
  CHECK(sscor_geometry_set_grid(&wrong, -96, -80, 192, 160, 3, 3, 192, 160) == SSCOR_OK);
  st = sscor_flatfield_estimate(&wrong, &coarse, 1, sscor_image_region_reader, &img, &p, &ff, &rep);
  CHECK_MSG(st == SSCOR_E_INVALID, "a geometry half a tile off was accepted (seam %.4f -> %.4f)",
            rep.check_seam_before, rep.check_seam_after);
  if (st == SSCOR_OK) sscor_flatfield_free(ff);
  CHECK(strstr(sscor_last_error(), "no reliable correction found") != NULL);
  printf("half a tile off: %s\n", sscor_last_error());
  sscor_geometry_free(&wrong);
  sscor_image_free(&img);
  sscor_image_free(&coarse);
  sscor_geometry_free(&g);
}

int main(void) {
  test_few_tiles_and_refusal();
  test_reduces_shading();
  test_clean_untouched();
  return CHECK_DONE();
}
