/* Fuzz target: the degradation spec parser (core/degrade.h), as `sscor synth
 * -d SPEC` and sscorstripes' degradations property take it: parse, fill the
 * defaults for a small image, build the plan and apply it. */
#include "degrade.h"
#include "fuzz_util.h"

#define MAX_DEGS 16
#define W 61
#define H 47

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *spec = fuzz_text(data, size);
  sscor_degradation d[MAX_DEGS];
  int n = 0;
  sscor_status st = sscor_degrade_parse(spec, d, MAX_DEGS, &n);
  fuzz_check_error(st, NULL);
  free(spec);
  if (st) return 0;
  if (n < 1 || n > MAX_DEGS) abort();
  for (int i = 0; i < n; i++) {
    sscor_degradation r = d[i];
    st = sscor_degrade_resolve(&r, W, H);
    fuzz_check_error(st, NULL);
    if (st) return 0;
  }
  sscor_degrade_plan *plan;
  st = sscor_degrade_plan_new(d, n, W, H, &plan);
  fuzz_check_error(st, NULL);
  if (st) return 0;
  sscor_image img;
  if (sscor_image_alloc(&img, W, H, 2, SSCOR_U16)) abort();
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) sscor_image_set(&img, x, y, x & 1, (float)(1000 + 37 * x + 11 * y));
  st = sscor_degrade_plan_apply(plan, &img);
  fuzz_check_error(st, NULL);
  sscor_image_free(&img);
  sscor_degrade_plan_free(plan);
  return 0;
}
