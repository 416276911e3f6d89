/* Fuzz target: model files and training checkpoints (core/model_file.h), as
 * `sscor apply`, sscorcorrect (model=) and sscortrain (resume) load them:
 * parse the buffer as a model; when it loads, build the corrector (which
 * reads the GEOM and FLAT sections) and correct a small region with it; and
 * load the same bytes as a checkpoint into a tiny trainer.
 *
 * A mutated file almost never keeps a valid CRC-32, which would stop every
 * input at the checksum; so each input whose last section is a checksum is
 * also run with the checksum recomputed, to reach the section parsers. */
#include "correct.h"
#include "fuzz_util.h"
#include "model_file.h"
#include "tiny_trainer.h"

static void correct_region(const sscor_model *m) {
  sscor_corrector *c;
  sscor_status st = sscor_corrector_new(m, NULL, &c);
  fuzz_check_error(st, NULL);
  if (st) return;
  const sscor_geometry *g = sscor_corrector_geometry(c);
  int W = g ? g->width : 24, H = g ? g->height : 24;
  int w = W < 24 ? W : 24, h = H < 24 ? H : 24;
  sscor_image img;
  if (sscor_image_alloc(&img, w, h, m->channels, SSCOR_U16)) abort();
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int k = 0; k < m->channels; k++) sscor_image_set(&img, x, y, k, (float)(500 + 13 * x + 7 * y + k));
  st = sscor_corrector_check(c, m->channels, SSCOR_U16, W, H, "fuzz image");
  if (!st) st = sscor_corrector_apply(c, &img, 0, 0);
  fuzz_check_error(st, NULL);
  sscor_image_free(&img);
  sscor_corrector_free(c);
}

static void run(const uint8_t *data, size_t size) {
  sscor_model m;
  sscor_status st = sscor_model_from_memory(data, size, "fuzz.sscor", &m);
  fuzz_check_error(st, "fuzz.sscor");
  if (!st) {
    if (m.corrector || m.flatfield) correct_region(&m);
    sscor_model_clear(&m);
  }
  static sscor_trainer *t;
  if (!t && tiny_trainer(&t)) {
    fprintf(stderr, "tiny trainer: %s\n", sscor_last_error());
    abort();
  }
  const char *path = fuzz_file(data, size);
  st = sscor_checkpoint_load(t, path);
  fuzz_check_error(st, path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  run(data, size);
  /* trailer: tag "CRC ", reserved 0, u64 length 4, u32 CRC */
  static const uint8_t crc_head[16] = {'C', 'R', 'C', ' ', 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0};
  if (size < 36 || memcmp(data + size - 20, crc_head, 16) != 0) return 0;
  uint8_t *fixed = malloc(size);
  if (!fixed) abort();
  memcpy(fixed, data, size);
  uint32_t crc = sscor_crc32(0, fixed, size - 20);
  for (int i = 0; i < 4; i++) fixed[size - 4 + i] = (uint8_t)(crc >> (8 * i));
  if (memcmp(fixed, data, size) != 0) run(fixed, size);
  free(fixed);
  return 0;
}
