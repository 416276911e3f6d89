/* sscorslidesrc ! sscorblendsink reproduces its input pixel for pixel: 8-bit
 * gray, 16-bit gray, RGB, RGBA, 2- and 3-channel 16-bit (channel-sequential
 * frames), striped / tiled / separate-plane inputs, sizes that are not
 * multiples of the tile, several tile sizes and overlaps; through queue, tee
 * and videoconvert (the tile meta must survive); regions, levels and channel
 * subsets; the resolution reaches the output; the real stitched brain. */
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "gst_util.h"
#include "pyramid.h"
#include "slide.h"

static char dir[] = "/tmp/sscor_rt_XXXXXX";
static char out_path[300];

static void expect_same_file(const char *path, const sscor_image *ref, const char *what) {
  sscor_image got;
  sscor_status st = sscor_image_read(path, &got);
  CHECK_MSG(st == SSCOR_OK, "%s: %s", what, sscor_last_error());
  if (st) return;
  CHECK_MSG(images_equal(&got, ref), "%s: output differs from input (%dx%dx%d vs %dx%dx%d)",
            what, got.width, got.height, got.channels, ref->width, ref->height, ref->channels);
  sscor_image_free(&got);
}

static void roundtrip(const char *in, const sscor_image *ref, int tw, int th, int ov,
                      const char *mid, const char *what) {
  char desc[2048], err[512], label[2048], tiles[64] = "";
  /* tw 0: tile size left to the element's default */
  if (tw > 0) snprintf(tiles, sizeof tiles, "tile-width=%d tile-height=%d", tw, th);
  snprintf(desc, sizeof desc,
           "sscorslidesrc location=%s %s overlap=%d ! %s "
           "sscorblendsink location=%s compression=zstd tile-size=64",
           in, tiles, ov, mid ? mid : "", out_path);
  snprintf(label, sizeof label, "%s tile %dx%d overlap %d%s%s", what, tw, th, ov,
           mid ? " via " : "", mid ? mid : "");
  unlink(out_path);
  int ok = run_pipeline(desc, err, sizeof err);
  CHECK_MSG(ok, "%s: %s", label, err);
  if (ok) expect_same_file(out_path, ref, label);
}

static void fixture(const char *name, int w, int h, int C, sscor_sample_type type, int tile,
                    int separate, uint16_t comp, char *path, sscor_image *img) {
  snprintf(path, 300, "%s/%s", dir, name);
  sscor_image_alloc(img, w, h, C, type);
  fill_pattern(img, (unsigned)(w * 31 + C));
  CHECK(write_fixture(path, img, tile, separate, comp, 0.25));
}

int main(int argc, char **argv) {
  /* scan plugins in this process: a sanitizer build of the plugin cannot be
   * loaded by the (uninstrumented) gst-plugin-scanner helper */
  setenv("GST_REGISTRY_FORK", "no", 0);
  gst_init(&argc, &argv);
  CHECK(mkdtemp(dir) != NULL);
  snprintf(out_path, sizeof out_path, "%s/out.tif", dir);
  char in[300];
  sscor_image img;

  fixture("gray8.tif", 333, 211, 1, SSCOR_U8, -7, 0, COMPRESSION_ADOBE_DEFLATE, in, &img);
  roundtrip(in, &img, 64, 64, 0, NULL, "gray8 striped");
  roundtrip(in, &img, 100, 70, 17, "queue !", "gray8 striped");
  roundtrip(in, &img, 333, 211, 0, NULL, "gray8 one tile");
  roundtrip(in, &img, 31, 200, 23, NULL, "gray8 thin tiles");
  /* smaller than the default 512 tile: one tile of the image */
  roundtrip(in, &img, 0, 0, 0, NULL, "gray8 default tile on a small image");
  sscor_image_free(&img);

  fixture("gray16.tif", 301, 177, 1, SSCOR_U16, 48, 0, COMPRESSION_LZW, in, &img);
  roundtrip(in, &img, 64, 64, 16, NULL, "gray16 tiled");
  roundtrip(in, &img, 128, 96, 33, NULL, "gray16 tiled");
  roundtrip(in, &img, 50, 50, 37, NULL, "gray16 overlap 3/4 tile (the largest)");
  sscor_image_free(&img);

  fixture("rgb.tif", 250, 190, 3, SSCOR_U8, 32, 0, COMPRESSION_ADOBE_DEFLATE, in, &img);
  roundtrip(in, &img, 96, 64, 24, NULL, "rgb tiled");
  roundtrip(in, &img, 64, 80, 8,
            "videoconvert ! video/x-raw,format=BGRA ! videoconvert ! video/x-raw,format=RGB !",
            "rgb");
  /* tee: both branches get the full stream with its meta */
  {
    char desc[2048], err[512], second[300];
    snprintf(second, sizeof second, "%s/second.tif", dir);
    snprintf(desc, sizeof desc,
             "sscorslidesrc location=%s tile-width=70 tile-height=70 overlap=10 ! tee name=t ! "
             "queue ! sscorblendsink location=%s t. ! queue ! sscorblendsink location=%s",
             in, out_path, second);
    CHECK_MSG(run_pipeline(desc, err, sizeof err), "tee: %s", err);
    expect_same_file(out_path, &img, "tee branch 1");
    expect_same_file(second, &img, "tee branch 2");
    unlink(second);
  }
  /* one channel of RGB: GRAY8 */
  {
    sscor_image g;
    sscor_image_alloc(&g, img.width, img.height, 1, SSCOR_U8);
    for (int y = 0; y < g.height; y++)
      for (int x = 0; x < g.width; x++) sscor_image_set(&g, x, y, 0, sscor_image_get(&img, x, y, 1));
    char desc[2048], err[512];
    snprintf(desc, sizeof desc,
             "sscorslidesrc location=%s tile-width=64 tile-height=64 overlap=8 channels=1 ! "
             "sscorblendsink location=%s", in, out_path);
    CHECK_MSG(run_pipeline(desc, err, sizeof err), "channels=1: %s", err);
    expect_same_file(out_path, &g, "channel 1 of RGB");
    sscor_image_free(&g);
  }
  sscor_image_free(&img);

  fixture("rgba.tif", 140, 90, 4, SSCOR_U8, -16, 0, COMPRESSION_NONE, in, &img);
  roundtrip(in, &img, 64, 64, 32, NULL, "rgba striped");
  sscor_image_free(&img);

  fixture("two16.tif", 211, 157, 2, SSCOR_U16, -10, 1, COMPRESSION_ADOBE_DEFLATE, in, &img);
  roundtrip(in, &img, 64, 64, 12, NULL, "2-channel 16-bit planar");
  roundtrip(in, &img, 100, 50, 0, "queue !", "2-channel 16-bit planar");
  sscor_image_free(&img);

  fixture("three16.tif", 120, 99, 3, SSCOR_U16, 16, 0, COMPRESSION_NONE, in, &img);
  roundtrip(in, &img, 48, 40, 7, NULL, "3-channel 16-bit tiled");
  sscor_image_free(&img);

  /* level + region of a pyramid, resolution carried to the output */
  {
    sscor_image big;
    sscor_image_alloc(&big, 600, 500, 1, SSCOR_U16);
    fill_pattern(&big, 9);
    snprintf(in, sizeof in, "%s/pyr.tif", dir);
    sscor_pyramid_opts o;
    sscor_pyramid_opts_default(&o);
    o.tile_size = 64;
    o.mpp_x = o.mpp_y = 0.5;
    CHECK(sscor_image_write_pyramid(in, &big, &o) == SSCOR_OK);
    sscor_image ref;
    /* level 1 is 300x250; region x 100..500, y 60..460 of level 0 -> 50..250, 30..230 */
    CHECK(sscor_image_read_region(in, 1, 50, 30, 200, 200, &ref) == SSCOR_OK);
    char desc[2048], err[512];
    snprintf(desc, sizeof desc,
             "sscorslidesrc location=%s level=1 region-x=100 region-y=60 region-width=400 "
             "region-height=400 tile-width=64 tile-height=64 overlap=16 ! sscorblendsink "
             "location=%s", in, out_path);
    CHECK_MSG(run_pipeline(desc, err, sizeof err), "level/region: %s", err);
    expect_same_file(out_path, &ref, "level 1 region");
    sscor_slide *s;
    if (sscor_slide_open(out_path, &s) == SSCOR_OK) {
      CHECK_CLOSE(sscor_slide_get_info(s)->mpp_x, 1.0, 1e-4, 0); /* 0.5 um at level 0, x2 */
      sscor_slide_close(s);
    }
    sscor_image_free(&ref);
    sscor_image_free(&big);
  }

  /* the real stitched fluorescence section (4390 x 2916, uint16) */
  const char *data = getenv("SSCOR_DATA");
  if (data) {
    char path[512];
    snprintf(path, sizeof path, "%s/wsi_brain/stitched.tif", data);
    sscor_image ref;
    if (sscor_image_read(path, &ref) == SSCOR_OK) {
      roundtrip(path, &ref, 512, 512, 64, "queue !", "wsi_brain");
      sscor_image_free(&ref);
    } else {
      fprintf(stderr, "skipping wsi_brain: %s\n", sscor_last_error());
    }
  }
  unlink(out_path);
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  CHECK(system(cmd) == 0);
  return CHECK_DONE();
}
