/* Channel pages: TIFFs that keep each channel in a page of its own (OME-TIFF
 * as Bio-Formats and stitchers write it, stacks of gray pages) are read as
 * one image of that many channels, pixel-exact at every level; pages that
 * do not match are an error naming the file; a gray pyramid in the main
 * chain stays a pyramid; the pyramid writer's channel pages round-trip. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>
#include <unistd.h>

#include "check.h"
#include "ome.h"
#include "pyramid.h"
#include "slide.h"

static char dir[256];

/* v(c, y, x) of tests/make_ome_fixture.py */
static unsigned formula(int c, int y, int x) { return (unsigned)(c * 20011 + y * 263 + x * 37) % 65536u; }

/* Writes one tiled page of w x h `bits`-bit gray samples v(c, y, x). */
static void write_page(TIFF *t, int w, int h, int bits, int c, uint32_t subfile, const char *desc) {
  TIFFSetField(t, TIFFTAG_SUBFILETYPE, subfile);
  TIFFSetField(t, TIFFTAG_IMAGEWIDTH, (uint32_t)w);
  TIFFSetField(t, TIFFTAG_IMAGELENGTH, (uint32_t)h);
  TIFFSetField(t, TIFFTAG_TILEWIDTH, 16u);
  TIFFSetField(t, TIFFTAG_TILELENGTH, 16u);
  TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
  TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, bits);
  TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
  TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
  if (desc) TIFFSetField(t, TIFFTAG_IMAGEDESCRIPTION, desc);
  int ss = bits / 8;
  uint8_t *tile = malloc((size_t)16 * 16 * ss);
  for (int ty = 0; ty < h; ty += 16)
    for (int tx = 0; tx < w; tx += 16) {
      for (int y = 0; y < 16; y++)
        for (int x = 0; x < 16; x++) {
          unsigned v = formula(c, ty + y, tx + x);
          if (ss == 2) ((uint16_t *)tile)[y * 16 + x] = (uint16_t)v;
          else tile[y * 16 + x] = (uint8_t)v;
        }
      TIFFWriteTile(t, tile, (uint32_t)tx, (uint32_t)ty, 0, 0);
    }
  free(tile);
  TIFFWriteDirectory(t);
}

typedef struct {
  int w, h, bits;
  uint32_t subfile;
} page;

static void write_file(const char *path, const page *p, int n, const char *desc) {
  TIFF *t = TIFFOpen(path, "w");
  for (int i = 0; i < n; i++) write_page(t, p[i].w, p[i].h, p[i].bits, i, p[i].subfile, i ? NULL : desc);
  TIFFClose(t);
}

/* Every pixel of channel c of level-0 image img equals v(c, y*step, x*step). */
static int bad_pixels(const sscor_image *img, int step) {
  int bad = 0;
  for (int y = 0; y < img->height; y++)
    for (int x = 0; x < img->width; x++)
      for (int c = 0; c < img->channels; c++)
        bad += sscor_image_get(img, x, y, c) != (float)formula(c, y * step, x * step);
  return bad;
}

static const char *OME3 =
    "<?xml version=\"1.0\"?><OME xmlns=\"http://www.openmicroscopy.org/Schemas/OME/2016-06\"><Image ID=\"Image:0\">"
    "<Pixels ID=\"Pixels:0\" DimensionOrder=\"XYCZT\" Type=\"uint16\" SizeX=\"48\" SizeY=\"32\" SizeC=\"3\" "
    "SizeZ=\"1\" SizeT=\"1\"><Channel ID=\"Channel:0:0\" Name=\"A &amp; B\"/><Channel ID=\"Channel:0:1\" "
    "Name=\"G\"/><Channel ID=\"Channel:0:2\" Name=\"R\"/><TiffData IFD=\"0\" PlaneCount=\"3\"/></Pixels></Image></OME>";

static void test_ome_parse(void) {
  sscor_ome_info o;
  CHECK(sscor_ome_parse(OME3, &o) == 1 && o.size_c == 3 && o.size_z == 1 && o.size_t == 1);
  CHECK_MSG(!strcmp(o.names, "A & B,G,R"), "names \"%s\"", o.names);
  CHECK(sscor_ome_parse("ImageJ=1.53 channels=3", &o) == 0);
  char *xml = sscor_ome_xml(48, 32, 3, SSCOR_U16, "A & B,G,R", 0.5, 0.5);
  CHECK(xml && sscor_ome_parse(xml, &o) == 1 && o.size_c == 3 && !strcmp(o.names, "A & B,G,R"));
  free(xml);
}

/* Stacks of gray pages without OME: channels; with a reduced page after them:
 * not a channel; a pyramid in the main chain: levels, one channel. */
static void test_stacks(void) {
  char path[300];
  snprintf(path, sizeof path, "%s/stack.tif", dir);
  page p[4] = {{48, 32, 16, 0}, {48, 32, 16, 0}, {48, 32, 16, 0}, {24, 16, 16, FILETYPE_REDUCEDIMAGE}};
  write_file(path, p, 4, NULL);
  sscor_image img;
  CHECK(sscor_image_read(path, &img) == SSCOR_OK);
  CHECK(img.channels == 3 && img.type == SSCOR_U16 && img.width == 48 && img.height == 32);
  CHECK_MSG(bad_pixels(&img, 1) == 0, "stack pixels differ");
  sscor_image_free(&img);
  sscor_slide *s;
  CHECK(sscor_slide_open(path, &s) == SSCOR_OK);
  CHECK(sscor_slide_get_info(s)->pages == 3 && !sscor_slide_get_info(s)->ome);
  sscor_slide_close(s);

  /* a gray pyramid in the main chain, reduced pages not marked: levels */
  snprintf(path, sizeof path, "%s/chain.tif", dir);
  page q[3] = {{64, 48, 8, 0}, {32, 24, 8, 0}, {16, 12, 8, 0}};
  write_file(path, q, 3, NULL);
  CHECK(sscor_slide_open(path, &s) == SSCOR_OK);
  CHECK_MSG(sscor_slide_get_info(s)->channels == 1 && sscor_slide_get_info(s)->levels == 3, "%d channels, %d levels",
            sscor_slide_get_info(s)->channels, sscor_slide_get_info(s)->levels);
  sscor_slide_close(s);

  /* a channel page of another sample type: an error naming the file and page */
  snprintf(path, sizeof path, "%s/mixed.tif", dir);
  page r[2] = {{48, 32, 16, 0}, {48, 32, 8, 0}};
  write_file(path, r, 2, NULL);
  CHECK(sscor_slide_open(path, &s) == SSCOR_E_FORMAT);
  CHECK_MSG(strstr(sscor_last_error(), "mixed.tif") && strstr(sscor_last_error(), "channel page 1"), "%s",
            sscor_last_error());
}

static void test_ome_pages(void) {
  char path[300];
  snprintf(path, sizeof path, "%s/ome.tif", dir);
  page p[3] = {{48, 32, 16, 0}, {48, 32, 16, 0}, {48, 32, 16, 0}};
  write_file(path, p, 3, OME3);
  sscor_slide *s;
  sscor_status st = sscor_slide_open(path, &s);
  CHECK(st == SSCOR_OK);
  if (!st) {
    const sscor_slide_info *i = sscor_slide_get_info(s);
    CHECK(i->channels == 3 && i->pages == 3 && i->ome == 1);
    CHECK(i->channel_names && !strcmp(i->channel_names, "A & B,G,R"));
    sscor_slide_close(s);
  }
  /* OME pages that differ in size, or fewer pages than SizeC: errors */
  page q[3] = {{48, 32, 16, 0}, {48, 30, 16, 0}, {48, 32, 16, 0}};
  write_file(path, q, 3, OME3);
  CHECK(sscor_slide_open(path, &s) == SSCOR_E_FORMAT);
  CHECK_MSG(strstr(sscor_last_error(), "ome.tif") && strstr(sscor_last_error(), "48x30"), "%s", sscor_last_error());
  write_file(path, p, 2, OME3);
  CHECK(sscor_slide_open(path, &s) == SSCOR_E_FORMAT);
  CHECK_MSG(strstr(sscor_last_error(), "3 channel pages, the file holds 2"), "%s", sscor_last_error());
}

/* The fixture tifffile wrote: pages with SubIFD levels, names. */
static void test_tifffile_fixture(void) {
  char path[512];
  snprintf(path, sizeof path, "%s/ome_3ch.ome.tif", getenv("SSCOR_FIXTURES") ? getenv("SSCOR_FIXTURES") : ".");
  sscor_slide *s;
  sscor_status st = sscor_slide_open(path, &s);
  CHECK_MSG(st == SSCOR_OK, "%s", sscor_last_error());
  if (st) return;
  const sscor_slide_info *info = sscor_slide_get_info(s);
  CHECK(info->channels == 3 && info->type == SSCOR_U16 && info->levels == 3 && info->ome == 1);
  CHECK(info->channel_names && !strcmp(info->channel_names, "DAPI,GFP,Cy5"));
  for (int level = 0; level < 3; level++) {
    int64_t w, h;
    sscor_slide_level_size(s, level, &w, &h);
    sscor_image img;
    CHECK(sscor_image_alloc(&img, (int)w, (int)h, 3, SSCOR_U16) == SSCOR_OK);
    CHECK(sscor_slide_read_region(s, level, 0, 0, (int)w, (int)h, img.data, img.stride) == SSCOR_OK);
    CHECK_MSG(bad_pixels(&img, 1 << level) == 0, "level %d pixels differ", level);
    sscor_image_free(&img);
  }
  sscor_slide_close(s);
}

/* Channel pages out (OME-TIFF) and back in: pixel-exact, names, levels
 * equal to those of the interleaved layout. */
static void test_writer_roundtrip(void) {
  sscor_image img;
  CHECK(sscor_image_alloc(&img, 300, 200, 4, SSCOR_U16) == SSCOR_OK);
  for (int y = 0; y < 200; y++)
    for (int x = 0; x < 300; x++)
      for (int c = 0; c < 4; c++) sscor_image_set(&img, x, y, c, (float)formula(c, y, x));
  char a[300], b[300];
  snprintf(a, sizeof a, "%s/pages.tif", dir);
  snprintf(b, sizeof b, "%s/inter.tif", dir);
  sscor_pyramid_opts o;
  sscor_pyramid_opts_default(&o);
  o.tile_size = 64;
  CHECK(sscor_image_write_pyramid(b, &img, &o) == SSCOR_OK);
  o.channel_pages = 1;
  o.channel_names = "DAPI,GFP,Cy3,Cy5";
  CHECK(sscor_image_write_pyramid(a, &img, &o) == SSCOR_OK);
  sscor_slide *sa = NULL, *sb = NULL;
  sscor_status st = sscor_slide_open(a, &sa);
  if (!st) st = sscor_slide_open(b, &sb);
  CHECK_MSG(st == SSCOR_OK, "%s", sscor_last_error());
  if (st) {
    sscor_slide_close(sa);
    sscor_image_free(&img);
    return;
  }
  const sscor_slide_info *ia = sscor_slide_get_info(sa), *ib = sscor_slide_get_info(sb);
  CHECK(ia->pages == 4 && ia->ome && ia->channels == 4 && ib->pages == 1 && ia->levels == ib->levels && ia->levels > 2);
  CHECK(ia->channel_names && !strcmp(ia->channel_names, "DAPI,GFP,Cy3,Cy5"));
  for (int level = 0; level < ia->levels; level++) {
    int64_t w, h;
    sscor_slide_level_size(sa, level, &w, &h);
    sscor_image ra, rb;
    sscor_image_alloc(&ra, (int)w, (int)h, 4, SSCOR_U16);
    sscor_image_alloc(&rb, (int)w, (int)h, 4, SSCOR_U16);
    CHECK(sscor_slide_read_region(sa, level, 0, 0, (int)w, (int)h, ra.data, ra.stride) == SSCOR_OK);
    CHECK(sscor_slide_read_region(sb, level, 0, 0, (int)w, (int)h, rb.data, rb.stride) == SSCOR_OK);
    int diff = 0;
    for (int y = 0; y < (int)h; y++) diff += memcmp(sscor_image_row(&ra, y), sscor_image_row(&rb, y), ra.stride) != 0;
    CHECK_MSG(diff == 0, "level %d: %d rows differ between channel pages and interleaved", level, diff);
    if (level == 0) CHECK(bad_pixels(&ra, 1) == 0);
    sscor_image_free(&ra);
    sscor_image_free(&rb);
  }
  sscor_slide_close(sa);
  sscor_slide_close(sb);
  /* JPEG has no channel pages: refused before any file appears */
  o.compression = SSCOR_COMPRESS_JPEG;
  sscor_image u8;
  CHECK(sscor_image_alloc(&u8, 64, 64, 3, SSCOR_U8) == SSCOR_OK);
  unlink(a);
  CHECK(sscor_image_write_pyramid(a, &u8, &o) == SSCOR_E_INVALID && access(a, F_OK) != 0);
  sscor_image_free(&u8);
  sscor_image_free(&img);
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/sscor_pages_XXXXXX");
  if (!mkdtemp(dir)) return 1;
  TIFFSetWarningHandler(NULL);
  test_ome_parse();
  test_stacks();
  test_ome_pages();
  test_tifffile_fixture();
  test_writer_roundtrip();
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd)) fprintf(stderr, "cannot remove %s\n", dir);
  return CHECK_DONE();
}
