/* The slide reader refuses headers that claim more than a file can hold,
 * before anything is allocated by the claimed size (inputs found by
 * tests/fuzz; the fuzz replays only check they do not crash):
 *   - a tag whose data would lie beyond the end of the file (OpenSlide
 *     3.4.1 allocated the claimed 4 GB while detecting the vendor);
 *   - an Aperio-style slide with a level larger than level 0 (OpenSlide
 *     divided by zero);
 *   - tiles that would decode to gigabytes each.
 * And the decoded-block cache, made O(1) for files of tiny blocks (one fuzz
 * input spent seconds scanning it), still returns the right pixels. */
#include <stdio.h>
#include <string.h>
#include <tiffio.h>
#include <unistd.h>

#include "check.h"
#include "pyramid.h"
#include "slide.h"

static char dir[] = "/tmp/sscor_slidelim_XXXXXX";

static void expect_refused(const char *path, sscor_status want, const char *words) {
  sscor_slide *s = NULL;
  sscor_status st = sscor_slide_open(path, &s);
  CHECK_MSG(st == want, "%s opened as %s (%s), expected %s", path, sscor_status_name(st),
            sscor_last_error(), sscor_status_name(want));
  CHECK(s == NULL);
  CHECK_MSG(strstr(sscor_last_error(), path) && strstr(sscor_last_error(), words),
            "message \"%s\" should name %s and say \"%s\"", sscor_last_error(), path, words);
  sscor_slide_close(s);
}

/* Classic little-endian TIFF, 8x8 gray, one strip, plus a Software tag
 * claiming `count` bytes at offset 8. */
static void write_tag_beyond_end(const char *path, uint32_t count) {
  uint8_t b[264] = {'I', 'I', 42, 0, 8, 0, 0, 0};
  const uint16_t tags[][2] = {{256, 4}, {257, 4}, {258, 3}, {262, 3}, {273, 4}, {278, 4}, {279, 4}, {305, 2}};
  const uint32_t vals[] = {8, 8, 8, 1, 200, 8, 64, 8};
  int n = 8, at = 8;
  b[at] = (uint8_t)n, at += 2;
  for (int i = 0; i < n; i++, at += 12) {
    uint32_t cnt = tags[i][0] == 305 ? count : 1;
    memcpy(b + at, &tags[i][0], 2);
    memcpy(b + at + 2, &tags[i][1], 2);
    memcpy(b + at + 4, &cnt, 4);
    memcpy(b + at + 8, &vals[i], 4);
  }
  FILE *f = fopen(path, "wb");
  CHECK(f && fwrite(b, 1, 264, f) == 264); /* header, directory, 64 pixel bytes from 200 */
  if (f) fclose(f);
}

/* Tiled 8-bit RGB directories of the given sizes, the first described as Aperio. */
static void write_aperio(const char *path, const uint32_t (*sizes)[2], int n) {
  TIFF *t = TIFFOpen(path, "w");
  CHECK(t != NULL);
  if (!t) return;
  static uint8_t tile[16 * 16 * 3];
  for (int d = 0; d < n; d++) {
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, sizes[d][0]);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, sizes[d][1]);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 3);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 8);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_RGB);
    TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(t, TIFFTAG_TILEWIDTH, 16);
    TIFFSetField(t, TIFFTAG_TILELENGTH, 16);
    if (d == 0)
      TIFFSetField(t, TIFFTAG_IMAGEDESCRIPTION, "Aperio Image Library v10.0.0\n48x32 [0,0 48x32] (16x16) RAW|AppMag = 20|MPP = 0.5");
    for (uint32_t i = 0; i < TIFFNumberOfTiles(t); i++) TIFFWriteEncodedTile(t, i, tile, sizeof tile);
    TIFFWriteDirectory(t);
  }
  TIFFClose(t);
}

/* One directory of w x h with tw x th tiles and spp 16-bit samples, no tile data. */
static void write_huge_tiles(const char *path, uint32_t w, uint32_t h, uint32_t tw, uint32_t th, int spp) {
  TIFF *t = TIFFOpen(path, "w");
  CHECK(t != NULL);
  if (!t) return;
  TIFFSetField(t, TIFFTAG_IMAGEWIDTH, w);
  TIFFSetField(t, TIFFTAG_IMAGELENGTH, h);
  TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, spp);
  TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 16);
  TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
  TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
  TIFFSetField(t, TIFFTAG_TILEWIDTH, tw);
  TIFFSetField(t, TIFFTAG_TILELENGTH, th);
  TIFFWriteCheck(t, 1, "test");
  TIFFWriteDirectory(t);
  TIFFClose(t);
}

/* Random regions read through a cache of a few blocks equal the same regions
 * of the whole image: eviction and reuse keep every block where it belongs. */
static void cache_reads_exact(void) {
  char path[256];
  snprintf(path, sizeof path, "%s/cache.tif", dir);
  sscor_image img, whole;
  CHECK(!sscor_image_alloc(&img, 200, 150, 2, SSCOR_U16));
  for (int y = 0; y < img.height; y++)
    for (int x = 0; x < img.width; x++)
      for (int c = 0; c < 2; c++) sscor_image_set(&img, x, y, c, (float)((x * 131 + y * 17 + c * 7) % 60000));
  sscor_pyramid_opts o;
  sscor_pyramid_opts_default(&o);
  o.tile_size = 16;
  CHECK_MSG(!sscor_image_write_pyramid(path, &img, &o), "%s", sscor_last_error());
  CHECK_MSG(!sscor_image_read(path, &whole), "%s", sscor_last_error());
  sscor_slide *s = NULL;
  CHECK_MSG(!sscor_slide_open(path, &s), "%s", sscor_last_error());
  if (!s || !whole.data) return;
  sscor_slide_set_cache_bytes(s, 5 * 16 * 16 * 4); /* five tiles */
  uint16_t buf[40 * 40 * 2];
  unsigned seed = 7, bad = 0;
  for (int k = 0; k < 400; k++) {
    seed = seed * 1103515245u + 12345u;
    int w = 1 + (int)(seed >> 8) % 40, h = 1 + (int)(seed >> 16) % 40;
    int x = (int)(seed >> 4) % (200 - w + 1), y = (int)(seed >> 12) % (150 - h + 1);
    if (sscor_slide_read_region(s, 0, x, y, w, h, buf, (size_t)w * 4)) bad++;
    for (int yy = 0; yy < h; yy++)
      for (int xx = 0; xx < w * 2; xx++)
        bad += buf[yy * w * 2 + xx] != ((uint16_t *)sscor_image_row(&whole, y + yy))[x * 2 + xx];
  }
  CHECK_MSG(bad == 0, "%u samples differ reading through a five-tile cache", bad);
  sscor_slide_close(s);
  sscor_image_free(&img);
  sscor_image_free(&whole);
  unlink(path);
}

int main(void) {
  CHECK(mkdtemp(dir) != NULL);
  char path[256];
  TIFFSetWarningHandler(NULL);
  TIFFSetErrorHandler(NULL);

  snprintf(path, sizeof path, "%s/tag4g.tif", dir);
  write_tag_beyond_end(path, 0xfffffff0u);
  expect_refused(path, SSCOR_E_CORRUPT, "beyond the end of the file");
  write_tag_beyond_end(path, 8); /* the same file with an honest tag opens */
  sscor_slide *s = NULL;
  CHECK_MSG(sscor_slide_open(path, &s) == SSCOR_OK, "%s", sscor_last_error());
  sscor_slide_close(s);
  unlink(path);

  snprintf(path, sizeof path, "%s/aperio.svs", dir);
  const uint32_t bad[2][2] = {{48, 32}, {4096, 16}}, good[2][2] = {{48, 32}, {24, 16}};
  write_aperio(path, bad, 2);
  expect_refused(path, SSCOR_E_CORRUPT, "larger than the full-resolution image");
  write_aperio(path, good, 2);
  s = NULL;
  CHECK_MSG(sscor_slide_open(path, &s) == SSCOR_OK, "%s", sscor_last_error());
  if (s) CHECK(strcmp(sscor_slide_get_info(s)->reader, "openslide") == 0 && sscor_slide_get_info(s)->levels == 2);
  sscor_slide_close(s);
  unlink(path);

  snprintf(path, sizeof path, "%s/hugetiles.tif", dir);
  write_huge_tiles(path, 1 << 20, 1 << 20, 65536, 65536, 4); /* 32 GiB per tile */
  expect_refused(path, SSCOR_E_UNSUPPORTED, "MiB each");
  unlink(path);
  cache_reads_exact();
  CHECK(rmdir(dir) == 0);
  return CHECK_DONE();
}
