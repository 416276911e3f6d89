/* The OpenSlide reader on a synthetic Aperio SVS (tiled RGB TIFF whose first
 * ImageDescription starts "Aperio Image Library", plus a 2x-reduced level):
 * sscor_slide_open picks OpenSlide with vendor "aperio", reads MPP = 0.5 and
 * both levels, region reads of level 0 give the pixels written (exactly for
 * uncompressed tiles, within JPEG error for JPEG tiles), and
 * sscorslidesrc ! sscorblendsink reproduces them; corrupt tiles fail the
 * pipeline cleanly; a negative MPP reads as unknown. */
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "gst_util.h"
#include "slide.h"

static char dir[] = "/tmp/sscor_svs_XXXXXX";

/* Writes one tiled RGB directory of img (every `step`-th pixel). */
static int write_level(TIFF *t, const sscor_image *img, int step, int tile, uint16_t comp,
                       const char *desc) {
  uint32_t w = (uint32_t)((img->width + step - 1) / step);
  uint32_t h = (uint32_t)((img->height + step - 1) / step);
  TIFFSetField(t, TIFFTAG_IMAGEWIDTH, w);
  TIFFSetField(t, TIFFTAG_IMAGELENGTH, h);
  TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)3);
  TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, (uint16_t)8);
  TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
  TIFFSetField(t, TIFFTAG_COMPRESSION, comp);
  TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_RGB);
  if (comp == COMPRESSION_JPEG) TIFFSetField(t, TIFFTAG_JPEGQUALITY, 95);
  TIFFSetField(t, TIFFTAG_TILEWIDTH, (uint32_t)tile);
  TIFFSetField(t, TIFFTAG_TILELENGTH, (uint32_t)tile);
  if (desc) TIFFSetField(t, TIFFTAG_IMAGEDESCRIPTION, desc);
  uint8_t *buf = malloc((size_t)tile * tile * 3);
  int ok = buf != NULL;
  for (uint32_t ty = 0; ok && ty < h; ty += (uint32_t)tile)
    for (uint32_t tx = 0; ok && tx < w; tx += (uint32_t)tile) {
      memset(buf, 0, (size_t)tile * tile * 3);
      for (uint32_t y = 0; y < (uint32_t)tile && ty + y < h; y++)
        for (uint32_t x = 0; x < (uint32_t)tile && tx + x < w; x++)
          memcpy(buf + ((size_t)y * tile + x) * 3,
                 (uint8_t *)sscor_image_row(img, (int)(ty + y) * step) +
                     (size_t)(tx + x) * step * 3,
                 3);
      if (TIFFWriteTile(t, buf, tx, ty, 0, 0) < 0) ok = 0;
    }
  free(buf);
  return ok && TIFFWriteDirectory(t);
}

static int write_svs(const char *path, const sscor_image *img, uint16_t comp, const char *mpp) {
  TIFF *t = TIFFOpen(path, "w");
  if (!t) return 0;
  char desc[512];
  snprintf(desc, sizeof desc,
           "Aperio Image Library v10.0.50\r\n%dx%d [0,0 %dx%d] (64x64) %s Q=95"
           "|AppMag = 20|MPP = %s|Filename = synthetic",
           img->width, img->height, img->width, img->height,
           comp == COMPRESSION_JPEG ? "JPEG/RGB" : "RAW", mpp);
  int ok = write_level(t, img, 1, 64, comp, desc) && write_level(t, img, 2, 64, comp, NULL);
  TIFFClose(t);
  return ok;
}

/* Largest and mean absolute sample difference. */
static void diff(const sscor_image *a, const uint8_t *b, size_t stride, int *maxd,
                 double *meand) {
  long sum = 0;
  *maxd = 0;
  for (int y = 0; y < a->height; y++) {
    const uint8_t *ra = sscor_image_row(a, y), *rb = b + (size_t)y * stride;
    for (int i = 0; i < a->width * 3; i++) {
      int d = abs((int)ra[i] - (int)rb[i]);
      sum += d;
      if (d > *maxd) *maxd = d;
    }
  }
  *meand = (double)sum / ((double)a->width * a->height * 3);
}

static void check_file(const char *path, const sscor_image *img, int exact, const char *what) {
  sscor_slide *s = NULL;
  sscor_status st = sscor_slide_open(path, &s);
  CHECK_MSG(st == SSCOR_OK, "%s: open: %s", what, sscor_last_error());
  if (st) return;
  const sscor_slide_info *in = sscor_slide_get_info(s);
  CHECK_MSG(strcmp(in->reader, "openslide") == 0, "%s: reader %s", what, in->reader);
  CHECK_MSG(strcmp(in->vendor, "aperio") == 0, "%s: vendor %s", what, in->vendor);
  CHECK_CLOSE(in->mpp_x, 0.5, 1e-9, 0);
  CHECK_CLOSE(in->mpp_y, 0.5, 1e-9, 0);
  CHECK(in->channels == 3 && in->type == SSCOR_U8);
  CHECK_MSG(in->levels == 2, "%s: %d levels", what, in->levels);
  int64_t w = 0, h = 0;
  CHECK(sscor_slide_level_size(s, 0, &w, &h) == SSCOR_OK && w == img->width &&
        h == img->height);
  CHECK(sscor_slide_level_size(s, 1, &w, &h) == SSCOR_OK && w == (img->width + 1) / 2 &&
        h == (img->height + 1) / 2);
  CHECK_CLOSE(sscor_slide_level_downsample(s, 1), 2.0, 0.02, 0);

  /* whole level 0, then a region crossing tile borders */
  size_t stride = (size_t)img->width * 3;
  uint8_t *buf = malloc(stride * img->height);
  int maxd = 0;
  double meand = 0;
  st = sscor_slide_read_region(s, 0, 0, 0, img->width, img->height, buf, stride);
  CHECK_MSG(st == SSCOR_OK, "%s: read: %s", what, sscor_last_error());
  diff(img, buf, stride, &maxd, &meand);
  if (exact)
    CHECK_MSG(maxd == 0, "%s: level 0 differs by up to %d", what, maxd);
  else
    CHECK_MSG(meand < 3.0 && maxd < 25, "%s: level 0 JPEG error mean %.2f max %d", what, meand,
              maxd);
  sscor_image sub;
  sscor_image_alloc(&sub, 70, 50, 3, SSCOR_U8);
  for (int y = 0; y < 50; y++)
    memcpy(sscor_image_row(&sub, y), (uint8_t *)sscor_image_row(img, 40 + y) + 50 * 3, 70 * 3);
  st = sscor_slide_read_region(s, 0, 50, 40, 70, 50, buf, 70 * 3);
  CHECK_MSG(st == SSCOR_OK, "%s: region: %s", what, sscor_last_error());
  diff(&sub, buf, 70 * 3, &maxd, &meand);
  if (exact) CHECK_MSG(maxd == 0, "%s: region differs by up to %d", what, maxd);
  else CHECK_MSG(meand < 3.0, "%s: region JPEG error mean %.2f", what, meand);
  /* level 1 holds every second pixel; read an inner region in its coordinates */
  if (exact) {
    int bad = 0;
    st = sscor_slide_read_region(s, 1, 10, 7, 60, 40, buf, 60 * 3);
    CHECK_MSG(st == SSCOR_OK, "%s: level 1: %s", what, sscor_last_error());
    for (int y = 0; y < 40; y++)
      for (int x = 0; x < 60; x++)
        bad += memcmp(buf + ((size_t)y * 60 + x) * 3,
                      (uint8_t *)sscor_image_row(img, 2 * (7 + y)) + (size_t)2 * (10 + x) * 3,
                      3) != 0;
    CHECK_MSG(bad == 0, "%s: %d level-1 pixels differ", what, bad);
  }
  /* outside the level: an error, not a crash */
  CHECK(sscor_slide_read_region(s, 0, img->width - 10, 0, 20, 10, buf, 60) != SSCOR_OK);
  sscor_image_free(&sub);
  free(buf);
  sscor_slide_close(s);

  /* the elements: slide source into the blending sink */
  char out[300], desc[1024], err[512];
  snprintf(out, sizeof out, "%s/out.tif", dir);
  unlink(out);
  snprintf(desc, sizeof desc,
           "sscorslidesrc location=%s tile-width=64 tile-height=64 overlap=8 ! "
           "sscorblendsink location=%s",
           path, out);
  int ok = run_pipeline(desc, err, sizeof err);
  CHECK_MSG(ok, "%s: pipeline: %s", what, err);
  if (!ok) return;
  sscor_image got;
  st = sscor_image_read(out, &got);
  CHECK_MSG(st == SSCOR_OK, "%s: output: %s", what, sscor_last_error());
  if (st) return;
  CHECK_MSG(got.width == img->width && got.height == img->height && got.channels == 3 &&
                got.type == SSCOR_U8,
            "%s: output %dx%dx%d", what, got.width, got.height, got.channels);
  if (got.width == img->width && got.height == img->height && got.channels == 3) {
    diff(img, sscor_image_row(&got, 0), got.stride, &maxd, &meand);
    if (exact) CHECK_MSG(maxd == 0, "%s: pipeline output differs by up to %d", what, maxd);
    else CHECK_MSG(meand < 3.0, "%s: pipeline JPEG error mean %.2f", what, meand);
    if (!exact) printf("%s: JPEG error mean %.2f max %d\n", what, meand, maxd);
  }
  sscor_image_free(&got);
  unlink(out);
}

int main(int argc, char **argv) {
  setenv("GST_REGISTRY_FORK", "no", 0);
  gst_init(&argc, &argv);
  CHECK(mkdtemp(dir) != NULL);
  sscor_image img;
  sscor_image_alloc(&img, 200, 150, 3, SSCOR_U8);
  fill_pattern(&img, 7);
  char path[300];
  snprintf(path, sizeof path, "%s/raw.svs", dir);
  CHECK(write_svs(path, &img, COMPRESSION_NONE, "0.5"));
  check_file(path, &img, 1, "uncompressed SVS");
  if (getenv("SSCOR_KEEP")) printf("kept %s\n", path); else unlink(path);
  snprintf(path, sizeof path, "%s/jpeg.svs", dir);
  CHECK(write_svs(path, &img, COMPRESSION_JPEG, "0.5"));
  check_file(path, &img, 0, "JPEG SVS");
  if (getenv("SSCOR_KEEP")) printf("kept %s\n", path); else unlink(path);
  /* corrupt JPEG tile data: the pipeline fails naming OpenSlide's complaint
   * and leaves no output file */
  snprintf(path, sizeof path, "%s/corrupt.svs", dir);
  CHECK(write_svs(path, &img, COMPRESSION_JPEG, "0.5"));
  FILE *f = fopen(path, "r+b");
  CHECK(f != NULL);
  if (f) {
    static uint8_t junk[20000];
    memset(junk, 0xFF, sizeof junk);
    CHECK(fseek(f, 2000, SEEK_SET) == 0 && fwrite(junk, 1, sizeof junk, f) == sizeof junk);
    fclose(f);
  }
  char out[300], desc[1024], err[512];
  snprintf(out, sizeof out, "%s/out.tif", dir);
  snprintf(desc, sizeof desc,
           "sscorslidesrc location=%s tile-width=64 tile-height=64 ! sscorblendsink location=%s",
           path, out);
  CHECK_MSG(!run_pipeline(desc, err, sizeof err), "corrupt SVS: pipeline succeeded");
  CHECK_MSG(strstr(err, "OpenSlide") != NULL, "corrupt SVS: error was: %s", err);
  CHECK_MSG(access(out, F_OK) != 0, "corrupt SVS: output file left behind");
  unlink(path);
  /* a nonsensical resolution reads as unknown, not as a negative size */
  snprintf(path, sizeof path, "%s/badmpp.svs", dir);
  CHECK(write_svs(path, &img, COMPRESSION_NONE, "-0.5"));
  sscor_slide *s = NULL;
  CHECK_MSG(sscor_slide_open(path, &s) == SSCOR_OK, "negative MPP: %s", sscor_last_error());
  if (s) {
    CHECK_MSG(sscor_slide_get_info(s)->mpp_x == 0 && sscor_slide_get_info(s)->mpp_y == 0,
              "negative MPP read as %g", sscor_slide_get_info(s)->mpp_x);
    sscor_slide_close(s);
  }
  unlink(path);
  sscor_image_free(&img);
  rmdir(dir);
  return CHECK_DONE();
}
