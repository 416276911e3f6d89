/* Pyramid writer + slide reader round trips: every sample type and lossless
 * codec, levels are exact 2x2 rounded means of the level above, OME-style
 * SubIFDs, whole-image write/read with default options (float and N-channel
 * included), the real tiled wsi_brain image, and failures (missing, not a
 * TIFF, truncated, unwritable) give clear errors and leave no file behind. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "image_util.h"
#include "pyramid.h"
#include "slide.h"

static char dir[] = "/tmp/sscor_pyr_XXXXXX";

static void fill(sscor_image *img, unsigned seed) {
  for (int y = 0; y < img->height; y++)
    for (int x = 0; x < img->width; x++)
      for (int c = 0; c < img->channels; c++) {
        unsigned v = (unsigned)(x * 7 + y * 13 + c * 101) ^ (seed * 2654435761u >> 7);
        v = v * 2246822519u + (unsigned)(x * y);
        float f = img->type == SSCOR_U8 ? (float)(v % 256)
                  : img->type == SSCOR_U16 ? (float)(v % 65536)
                                            : (float)(v % 100000) / 7.0f;
        sscor_image_set(img, x, y, c, f);
      }
}

/* Reference halving written independently of the writer. */
static void halve(const sscor_image *a, sscor_image *o) {
  sscor_image_alloc(o, (a->width + 1) / 2, (a->height + 1) / 2, a->channels, a->type);
  for (int y = 0; y < o->height; y++)
    for (int x = 0; x < o->width; x++)
      for (int c = 0; c < a->channels; c++) {
        int x1 = 2 * x + 1 < a->width ? 2 * x + 1 : 2 * x;
        int y1 = 2 * y + 1 < a->height ? 2 * y + 1 : 2 * y;
        double s = sscor_image_get(a, 2 * x, 2 * y, c) + sscor_image_get(a, x1, 2 * y, c) +
                   sscor_image_get(a, 2 * x, y1, c) + sscor_image_get(a, x1, y1, c);
        if (a->type == SSCOR_F32) sscor_image_set(o, x, y, c, (float)(s / 4));
        else sscor_image_set(o, x, y, c, (float)(((long)s + 2) / 4));
      }
}

static int files_in_dir(void) {
  DIR *d = opendir(dir);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))) n++;
  closedir(d);
  return n;
}

/* Writes img in raster-ordered blocks of bw x bh that do not align with the
 * tiles (one channel at a time when per_channel), as the blend sink does:
 * partial tiles pile up along each block row and, in an image wider than
 * 32 tiles, get parked in the scratch file and read back. */
static sscor_status write_blocks(const char *path, const sscor_image *img,
                                 const sscor_pyramid_opts *o, int bw, int bh, int per_channel,
                                 uint64_t *parked) {
  sscor_pyramid *p;
  sscor_status st = sscor_pyramid_open(path, img->width, img->height, img->channels, img->type,
                                       o, &p);
  if (st) return st;
  size_t ss = sscor_sample_size(img->type);
  sscor_image plane;
  CHECK(sscor_image_alloc(&plane, bw, bh, 1, img->type) == SSCOR_OK);
  for (int y = 0; y < img->height && !st; y += bh)
    for (int x = 0; x < img->width && !st; x += bw) {
      int w = img->width - x < bw ? img->width - x : bw, h = img->height - y < bh ? img->height - y : bh;
      const uint8_t *src = sscor_image_row(img, y) + (size_t)x * img->channels * ss;
      if (!per_channel) {
        st = sscor_pyramid_write_rect(p, x, y, w, h, -1, src, img->stride);
        continue;
      }
      for (int c = 0; c < img->channels && !st; c++) {
        for (int r = 0; r < h; r++)
          for (int i = 0; i < w; i++)
            memcpy(plane.data + (size_t)r * plane.stride + (size_t)i * ss,
                   src + (size_t)r * img->stride + ((size_t)i * img->channels + c) * ss, ss);
        st = sscor_pyramid_write_rect(p, x, y, w, h, c, plane.data, plane.stride);
      }
    }
  sscor_image_free(&plane);
  *parked = sscor_pyramid_parked(p);
  if (st) {
    sscor_pyramid_abort(p);
    return st;
  }
  return sscor_pyramid_finish(p);
}

static void roundtrip_blocks(int w, int h, int C, sscor_sample_type type, sscor_compression comp,
                             int subifds, int block, int per_channel);

static void roundtrip(int w, int h, int C, sscor_sample_type type, sscor_compression comp,
                      int subifds) {
  roundtrip_blocks(w, h, C, type, comp, subifds, 0, 0);
}

/* block 0: the whole image at once */
static void roundtrip_blocks(int w, int h, int C, sscor_sample_type type, sscor_compression comp,
                             int subifds, int block, int per_channel) {
  char path[256];
  snprintf(path, sizeof path, "%s/out.tif", dir);
  sscor_image img;
  CHECK(sscor_image_alloc(&img, w, h, C, type) == SSCOR_OK);
  fill(&img, (unsigned)(w + C + comp));
  if (comp == SSCOR_COMPRESS_JPEG) /* smooth content: JPEG is for photographs */
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++)
        for (int c = 0; c < C; c++)
          sscor_image_set(&img, x, y, c, 128 + 100 * sinf(x * 0.05f + c) * cosf(y * 0.03f));
  sscor_pyramid_opts o;
  sscor_pyramid_opts_default(&o);
  o.compression = comp;
  o.tile_size = 64;
  o.subifds = subifds;
  o.mpp_x = o.mpp_y = 0.5;
  sscor_status st;
  if (block > 0) {
    uint64_t parked = 0;
    st = write_blocks(path, &img, &o, block, block * 9 / 10, per_channel, &parked);
    /* wider than 32 tiles: the bottoms of a block row must have been parked */
    CHECK_MSG(w <= 32 * 64 || parked > 0, "no tile was parked (%dx%d)", w, h);
  } else {
    st = sscor_image_write_pyramid(path, &img, &o);
  }
  CHECK_MSG(st == SSCOR_OK, "%s", sscor_last_error());
  CHECK(files_in_dir() == 1);
  sscor_slide *s = NULL;
  st = sscor_slide_open(path, &s);
  CHECK_MSG(st == SSCOR_OK, "%s", sscor_last_error());
  if (!s) return;
  const sscor_slide_info *info = sscor_slide_get_info(s);
  int expect_levels = 1;
  for (int lw = w, lh = h; lw > 64 || lh > 64; lw = (lw + 1) / 2, lh = (lh + 1) / 2)
    expect_levels++;
  CHECK_MSG(info->levels == expect_levels, "%d levels, expected %d (%dx%d)", info->levels,
            expect_levels, w, h);
  CHECK(info->channels == C && info->type == type);
  CHECK_CLOSE(info->mpp_x, 0.5, 1e-5, 0);
  sscor_image ref = img, got;
  int lossy = comp == SSCOR_COMPRESS_JPEG;
  for (int l = 0; l < info->levels; l++) {
    int64_t lw, lh;
    sscor_slide_level_size(s, l, &lw, &lh);
    CHECK(lw == ref.width && lh == ref.height);
    CHECK(sscor_image_alloc(&got, (int)lw, (int)lh, C, type) == SSCOR_OK);
    st = sscor_slide_read_region(s, l, 0, 0, (int)lw, (int)lh, got.data, got.stride);
    CHECK_MSG(st == SSCOR_OK, "%s", sscor_last_error());
    if (lossy) {
      double err = 0;
      for (int y = 0; y < got.height; y++)
        for (int x = 0; x < got.width; x++)
          for (int c = 0; c < C; c++)
            err += fabs(sscor_image_get(&got, x, y, c) - sscor_image_get(&ref, x, y, c));
      err /= (double)got.width * got.height * C;
      CHECK_MSG(err < 6, "jpeg level %d mean abs error %.2f", l, err);
    } else {
      CHECK_MSG(images_equal(&got, &ref), "level %d differs (%dx%dx%d %s %s subifds %d)", l, w, h, C,
                sscor_sample_type_name(type), sscor_compression_name(comp), subifds);
    }
    sscor_image next;
    halve(&ref, &next);
    if (l > 0) sscor_image_free(&ref);
    sscor_image_free(&got);
    ref = next;
  }
  sscor_image_free(&ref);
  sscor_slide_close(s);
  sscor_image_free(&img);
  unlink(path);
}

/* Whole-image convenience calls with default options, as the CLI uses them. */
static void whole_image_roundtrips(void) {
  const struct {
    int w, h, c;
    sscor_sample_type t;
  } cases[] = {{37, 21, 1, SSCOR_U8}, {300, 1000, 3, SSCOR_U16}, {16, 9, 2, SSCOR_F32},
               {5, 4, 4, SSCOR_U8},   {7, 3, 5, SSCOR_U16},     {300, 260, 1, SSCOR_F32}};
  char path[256];
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    sscor_image a, b;
    CHECK(!sscor_image_alloc(&a, cases[i].w, cases[i].h, cases[i].c, cases[i].t));
    for (int y = 0; y < a.height; y++) /* floats include negatives and fractions */
      for (int x = 0; x < a.width; x++)
        for (int c = 0; c < a.channels; c++)
          sscor_image_set(&a, x, y, c,
                          a.type == SSCOR_F32 ? (x - y) * 0.37f + c
                                              : (float)((x * 7 + y * 13 + c * 50) % 251));
    snprintf(path, sizeof path, "%s/rt%zu.tif", dir, i);
    CHECK_MSG(!sscor_image_write_pyramid(path, &a, NULL), "%s", sscor_last_error());
    CHECK_MSG(!sscor_image_read(path, &b), "%s", sscor_last_error());
    CHECK_MSG(images_equal(&a, &b), "whole-image round trip %zu differs", i);
    sscor_image_free(&a);
    sscor_image_free(&b);
  }
  CHECK(files_in_dir() == 6); /* no temporary files left */

  /* Read errors name the file; no image is handed out. */
  sscor_image img;
  snprintf(path, sizeof path, "%s/missing.tif", dir);
  CHECK(sscor_image_read(path, &img) == SSCOR_E_IO);
  CHECK(strstr(sscor_last_error(), "missing.tif") != NULL);
  CHECK(img.data == NULL);
  snprintf(path, sizeof path, "%s/rt1.tif", dir);
  struct stat sb;
  CHECK(stat(path, &sb) == 0);
  CHECK(truncate(path, sb.st_size / 2) == 0);
  sscor_status st = sscor_image_read(path, &img);
  CHECK_MSG(st == SSCOR_E_CORRUPT || st == SSCOR_E_FORMAT, "truncated file read as %s",
            sscor_status_name(st));
  CHECK(strstr(sscor_last_error(), "rt1.tif") != NULL);
  CHECK(img.data == NULL);
  /* Tile data cut off behind intact directories: the failing tile is named. */
  snprintf(path, sizeof path, "%s/rt4.tif", dir);
  FILE *f = fopen(path, "r+b");
  CHECK(f != NULL);
  if (f) {
    CHECK(fseek(f, 8, SEEK_SET) == 0); /* first tile follows the 8-byte header */
    unsigned char junk[64];
    memset(junk, 0xA5, sizeof junk);
    CHECK(fwrite(junk, 1, sizeof junk, f) == sizeof junk);
    fclose(f);
  }
  st = sscor_image_read(path, &img);
  CHECK_MSG(st == SSCOR_E_CORRUPT || st == SSCOR_E_FORMAT, "corrupt tile read as %s",
            sscor_status_name(st));
  CHECK(strstr(sscor_last_error(), "rt4.tif") != NULL);
  CHECK(img.data == NULL);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    snprintf(path, sizeof path, "%s/rt%zu.tif", dir, i);
    unlink(path);
  }
  /* Unwritable destination: error naming it, nothing created. */
  sscor_image a;
  CHECK(!sscor_image_alloc(&a, 4, 4, 1, SSCOR_U8));
  snprintf(path, sizeof path, "%s/nodir/x.tif", dir);
  CHECK(sscor_image_write_pyramid(path, &a, NULL) == SSCOR_E_IO);
  CHECK(strstr(sscor_last_error(), "nodir/x.tif") != NULL);
  CHECK(files_in_dir() == 0);
  sscor_image_free(&a);

  /* The real stitched image: tiled deflate uint16. */
  const char *data = getenv("SSCOR_DATA");
  if (data) {
    snprintf(path, sizeof path, "%s/wsi_brain/stitched.tif", data);
    if (access(path, R_OK) == 0) {
      CHECK_MSG(!sscor_image_read(path, &img), "%s", sscor_last_error());
      CHECK(img.width == 4390 && img.height == 2916 && img.channels == 1 &&
            img.type == SSCOR_U16);
      double sum = 0;
      for (int x = 0; x < img.width; x++) sum += sscor_image_get(&img, x, 1500, 0);
      CHECK(sum > 0);
      sscor_image_free(&img);
    }
  }
}

int main(void) {
  CHECK(mkdtemp(dir) != NULL);
  whole_image_roundtrips();
  roundtrip(300, 200, 1, SSCOR_U8, SSCOR_COMPRESS_DEFLATE, 0);
  roundtrip(300, 200, 3, SSCOR_U8, SSCOR_COMPRESS_NONE, 0);
  roundtrip(257, 129, 3, SSCOR_U8, SSCOR_COMPRESS_LZW, 0);
  roundtrip(257, 129, 4, SSCOR_U8, SSCOR_COMPRESS_ZSTD, 0);
  roundtrip(301, 77, 1, SSCOR_U16, SSCOR_COMPRESS_DEFLATE, 0);
  roundtrip(190, 333, 2, SSCOR_U16, SSCOR_COMPRESS_ZSTD, 1);
  roundtrip(190, 120, 5, SSCOR_U16, SSCOR_COMPRESS_LZW, 1);
  roundtrip(130, 70, 1, SSCOR_F32, SSCOR_COMPRESS_DEFLATE, 0);
  roundtrip(64, 64, 1, SSCOR_U8, SSCOR_COMPRESS_NONE, 0); /* a single level */
  roundtrip(300, 200, 3, SSCOR_U8, SSCOR_COMPRESS_JPEG, 0);
  roundtrip(300, 200, 1, SSCOR_U8, SSCOR_COMPRESS_JPEG, 0);
  /* blocks that straddle tiles, with parking in images wider than 32 tiles */
  roundtrip_blocks(300, 200, 3, SSCOR_U8, SSCOR_COMPRESS_DEFLATE, 0, 100, 0);
  roundtrip_blocks(2600, 300, 1, SSCOR_U16, SSCOR_COMPRESS_ZSTD, 0, 100, 0);
  roundtrip_blocks(2300, 200, 3, SSCOR_U8, SSCOR_COMPRESS_NONE, 0, 70, 1);

  /* failures leave nothing behind */
  sscor_image img;
  sscor_image_alloc(&img, 100, 100, 1, SSCOR_U16);
  sscor_pyramid_opts o;
  sscor_pyramid_opts_default(&o);
  o.compression = SSCOR_COMPRESS_JPEG;
  char path[256];
  snprintf(path, sizeof path, "%s/bad.tif", dir);
  CHECK(sscor_image_write_pyramid(path, &img, &o) == SSCOR_E_INVALID);
  CHECK(strstr(sscor_last_error(), "8-bit") != NULL);
  o.compression = SSCOR_COMPRESS_DEFLATE;
  o.tile_size = 100;
  CHECK(sscor_image_write_pyramid(path, &img, &o) == SSCOR_E_INVALID);
  o.tile_size = 64;
  CHECK(sscor_image_write_pyramid("/nonexistent-dir/x.tif", &img, &o) == SSCOR_E_IO);
  CHECK(strstr(sscor_last_error(), "/nonexistent-dir/x.tif") != NULL);
  sscor_pyramid *p;
  CHECK(sscor_pyramid_open(path, 100, 100, 1, SSCOR_U16, &o, &p) == SSCOR_OK);
  CHECK(sscor_pyramid_write_rows(p, img.data, img.stride, 50) == SSCOR_OK);
  CHECK(sscor_pyramid_finish(p) == SSCOR_E_INVALID); /* 50 of 100 rows */
  CHECK(strstr(sscor_last_error(), "incomplete") != NULL);
  CHECK(files_in_dir() == 0);
  CHECK(sscor_pyramid_open(path, 100, 100, 1, SSCOR_U16, &o, &p) == SSCOR_OK);
  CHECK(sscor_pyramid_write_rows(p, img.data, img.stride, 100) == SSCOR_OK);
  sscor_pyramid_abort(p);
  CHECK(files_in_dir() == 0);
  /* an existing target survives a failed write untouched */
  FILE *f = fopen(path, "w");
  fputs("keep", f);
  fclose(f);
  CHECK(sscor_pyramid_open(path, 100, 100, 1, SSCOR_U16, &o, &p) == SSCOR_OK);
  sscor_pyramid_abort(p);
  struct stat sb;
  CHECK(stat(path, &sb) == 0 && sb.st_size == 4);
  unlink(path);
  sscor_image_free(&img);

  /* reader errors */
  sscor_slide *s;
  CHECK(sscor_slide_open("/nonexistent.tif", &s) == SSCOR_E_IO);
  snprintf(path, sizeof path, "%s/text.tif", dir);
  f = fopen(path, "w");
  fputs("this is not an image at all\n", f);
  fclose(f);
  CHECK(sscor_slide_open(path, &s) == SSCOR_E_FORMAT);
  CHECK(strstr(sscor_last_error(), "text.tif") != NULL);
  unlink(path);
  rmdir(dir);
  return CHECK_DONE();
}
