/* Fuzz target: the geometry text parser (core/geometry.h), as `sscor correct
 * --geometry` and sscorsample's geometry-location read it. What parses must
 * also work downstream: the seam list, tile look-ups, and the text form,
 * which must parse again to the same text (`sscor detect -o` writes what
 * `--geometry` reads). */
#include "fuzz_util.h"
#include "geometry.h"

static void use(const sscor_geometry *g) {
  sscor_seam *seams;
  int n, idx[8];
  if (sscor_geometry_seams(g, &seams, &n)) abort();
  double cx = g->width * 0.5, cy = g->height * 0.5;
  sscor_seam_distance(g, seams, n, cx, cy, NULL);
  sscor_geometry_tiles_at(g, cx, cy, idx, 8);
  sscor_geometry_in_artifact(g, (int)cx, (int)cy);
  free(seams);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = fuzz_text(data, size);
  sscor_geometry g, g2, g3;
  sscor_status st = sscor_geometry_parse(text, "fuzz.geom", &g);
  fuzz_check_error(st, "fuzz.geom");
  free(text);
  if (st) return 0;
  use(&g);
  if (sscor_geometry_copy(&g, &g2)) abort();
  char *t1, *t2;
  if (sscor_geometry_format(&g2, &t1)) abort();
  st = sscor_geometry_parse(t1, "formatted", &g3);
  if (st) {
    fprintf(stderr, "the text form does not parse again: %s\n%s", sscor_last_error(), t1);
    abort();
  }
  if (sscor_geometry_format(&g3, &t2)) abort();
  if (strcmp(t1, t2) != 0) {
    fprintf(stderr, "the text form changes when read back:\n%s---\n%s", t1, t2);
    abort();
  }
  free(t1);
  free(t2);
  sscor_geometry_free(&g);
  sscor_geometry_free(&g2);
  sscor_geometry_free(&g3);
  return 0;
}
