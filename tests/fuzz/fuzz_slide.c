/* Fuzz target: the slide reader (core/slide.h) on arbitrary bytes, used the
 * way sscorslidesrc uses it: open, look at the info and every level, read a
 * few regions of each level (corners and centre, at most 32x32 pixels each,
 * so a tiny file claiming a huge image is read cheaply), close. A refusal
 * must name the file. */
#include <tiffio.h>

#include "fuzz_util.h"
#include "slide.h"

#define SIDE 32

static void read_level(sscor_slide *s, const sscor_slide_info *info, int level, void *buf) {
  int64_t w, h;
  sscor_status st = sscor_slide_level_size(s, level, &w, &h);
  if (st || w < 1 || h < 1) abort(); /* an opened slide's levels have a size */
  int rw = w < SIDE ? (int)w : SIDE, rh = h < SIDE ? (int)h : SIDE;
  const int64_t at[3][2] = {{0, 0}, {(w - rw) / 2, (h - rh) / 2}, {w - rw, h - rh}};
  size_t stride = (size_t)rw * info->channels * sscor_sample_size(info->type);
  for (int i = 0; i < 3; i++) {
    st = sscor_slide_read_region(s, level, at[i][0], at[i][1], rw, rh, buf, stride);
    fuzz_check_error(st, sscor_slide_path(s));
    if (st) return; /* the rest of a damaged level fails the same way */
  }
  /* outside the level: refused, never read */
  if (sscor_slide_read_region(s, level, w - rw + 1, 0, rw, rh, buf, stride) == SSCOR_OK) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* OpenSlide's libtiff handles print every complaint on stderr (ours are
     per handle): silence them, they only slow the run down */
  TIFFSetErrorHandler(NULL);
  TIFFSetWarningHandler(NULL);
  const char *path = fuzz_file(data, size);
  sscor_slide *s;
  sscor_status st = sscor_slide_open(path, &s);
  fuzz_check_error(st, path);
  if (st) return 0;
  const sscor_slide_info *info = sscor_slide_get_info(s);
  if (info->levels < 1 || info->channels < 1 || info->channels > SSCOR_IMAGE_MAX_CHANNELS)
    abort();
  static uint8_t buf[SIDE * SIDE * SSCOR_IMAGE_MAX_CHANNELS * 4];
  sscor_slide_set_cache_bytes(s, 1u << 20);
  for (int l = 0; l < info->levels; l++) {
    if (!(sscor_slide_level_downsample(s, l) > 0)) abort();
    read_level(s, info, l, buf);
  }
  sscor_slide_close(s);
  return 0;
}
