/* Element tests with GstHarness: the tile meta (copies, videoconvert keeps
 * it, scaling drops it), sscorslidesrc (tile grid, meta fields, reflect
 * padding, channel-sequential frames, resolution tags) and sscorblendsink
 * (raised-cosine blending of differing tiles, identity, whole frames, errors). */
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "../elements/gstsscormeta.h"
#include "blend.h"
#include "check.h"
#include "gst_util.h"
#include "slide.h"

static char dir[] = "/tmp/sscor_el_XXXXXX";

/* The meta lives in the plugin module; like any application, the test finds
 * it by name once the plugin is loaded instead of registering its own copy. */
static const GstMetaInfo *tile_info;
static GType tile_api;
#undef gst_sscor_buffer_get_tile_meta
#define gst_sscor_buffer_add_tile_meta(b) ((GstSscorTileMeta *)gst_buffer_add_meta((b), tile_info, NULL))
#define gst_sscor_buffer_get_tile_meta(b) ((GstSscorTileMeta *)gst_buffer_get_meta((b), tile_api))
static const char *names_of(const GstSscorTileMeta *m) {
  return m->channel_names ? g_quark_to_string(m->channel_names) : "";
}
#define gst_sscor_tile_meta_get_channel_names names_of
#define gst_sscor_tile_meta_set_channel_names(m, s) ((m)->channel_names = g_quark_from_string(s))

static void test_weights(void) {
  /* raised cosine, independent formula; complementary across an overlap */
  for (int ov = 1; ov <= 9; ov += 4) {
    int n = 3 * ov + 5, step = n - ov;
    for (int t = 0; t < ov; t++) {
      double want = 0.5 - 0.5 * cos(M_PI * (t + 0.5) / ov);
      CHECK_CLOSE(sscor_blend_weight(t, n, ov, 0), want, 1e-6, 0);
      double sum = sscor_blend_weight(step + t, n, ov, ov) + sscor_blend_weight(t, n, ov, ov);
      CHECK_CLOSE(sum, 1.0, 1e-6, 0);
    }
    CHECK(sscor_blend_weight(ov, n, ov, ov) == 1.0f);
    CHECK(sscor_blend_weight(0, n, 0, 0) == 1.0f);
  }
}

static GstBuffer *tile_buffer(GstVideoInfo *vi, const sscor_image *img, int x, int y, int tw,
                              int th, int ov, int offset, int channel) {
  GstBuffer *b = gst_buffer_new_allocate(NULL, GST_VIDEO_INFO_SIZE(vi), NULL);
  GstMapInfo m;
  gst_buffer_map(b, &m, GST_MAP_WRITE);
  size_t stride = (size_t)GST_VIDEO_INFO_PLANE_STRIDE(vi, 0);
  int vw = MIN(tw, img->width - x), vh = MIN(th, img->height - y);
  for (int r = 0; r < th; r++)
    for (int c = 0; c < tw; c++) {
      int sx = x + MIN(c, vw - 1), sy = y + MIN(r, vh - 1);
      float v = sscor_image_get(img, sx, sy, channel < 0 ? 0 : channel) + (float)offset;
      ((guint16 *)(m.data + r * stride))[c] = (guint16)v;
    }
  gst_buffer_unmap(b, &m);
  GstSscorTileMeta *meta = gst_sscor_buffer_add_tile_meta(b);
  meta->image_x = meta->x = x;
  meta->image_y = meta->y = y;
  meta->valid_width = (guint)vw, meta->valid_height = (guint)vh;
  meta->image_width = (guint64)img->width, meta->image_height = (guint64)img->height;
  meta->overlap = (guint)ov;
  meta->channel = channel;
  meta->n_channels = channel < 0 ? 1 : (guint)img->channels;
  return b;
}

static void test_meta(void) {
  GstBuffer *b = gst_buffer_new_allocate(NULL, 16 * 8 * 3, NULL);
  GstSscorTileMeta *m = gst_sscor_buffer_add_tile_meta(b);
  CHECK(m && m->channel == -1 && m->downsample == 1.0);
  m->x = 1000, m->y = 2000, m->image_x = 10, m->image_y = 20, m->valid_width = 12;
  m->valid_height = 8, m->image_width = 500, m->image_height = 400, m->overlap = 4;
  gst_sscor_tile_meta_set_channel_names(m, "R,G,B");
  GstBuffer *c = gst_buffer_copy(b);
  GstSscorTileMeta *mc = gst_sscor_buffer_get_tile_meta(c);
  CHECK(mc && mc->x == 1000 && mc->image_y == 20 && mc->overlap == 4);
  CHECK(mc && strcmp(gst_sscor_tile_meta_get_channel_names(mc), "R,G,B") == 0);
  gst_buffer_unref(c);

  /* videoconvert: RGB -> BGRA keeps the meta */
  GstHarness *h = gst_harness_new_parse("videoconvert");
  gst_harness_set_caps_str(h, "video/x-raw,format=RGB,width=16,height=8,framerate=0/1",
                           "video/x-raw,format=BGRA,width=16,height=8,framerate=0/1");
  GstBuffer *o = gst_harness_push_and_pull(h, gst_buffer_ref(b));
  CHECK(o != NULL);
  GstSscorTileMeta *mo = o ? gst_sscor_buffer_get_tile_meta(o) : NULL;
  CHECK_MSG(mo != NULL, "tile meta lost in videoconvert");
  CHECK(mo && mo->x == 1000 && mo->y == 2000 && mo->image_x == 10 && mo->valid_width == 12 &&
        mo->image_height == 400 && mo->overlap == 4);
  if (o) gst_buffer_unref(o);
  gst_harness_teardown(h);

  /* a resize invalidates tile geometry: the meta is dropped */
  h = gst_harness_new_parse("videoscale");
  gst_harness_set_caps_str(h, "video/x-raw,format=RGB,width=16,height=8,framerate=0/1",
                           "video/x-raw,format=RGB,width=32,height=16,framerate=0/1");
  o = gst_harness_push_and_pull(h, gst_buffer_ref(b));
  CHECK(o != NULL && gst_sscor_buffer_get_tile_meta(o) == NULL);
  if (o) gst_buffer_unref(o);
  gst_harness_teardown(h);
  gst_buffer_unref(b);
}

static int count_event(GstHarness *h, GstEventType type, double *mpp) {
  int n = 0;
  GstEvent *e;
  while ((e = gst_harness_try_pull_event(h))) {
    if (GST_EVENT_TYPE(e) == type) {
      n++;
      if (type == GST_EVENT_TAG && mpp) {
        GstTagList *t;
        gst_event_parse_tag(e, &t);
        gst_tag_list_get_double(t, GST_SSCOR_TAG_MPP_X, mpp);
      }
    }
    gst_event_unref(e);
  }
  return n;
}

static void test_slidesrc(void) {
  char path[300];
  snprintf(path, sizeof path, "%s/src.tif", dir);
  sscor_image img;
  sscor_image_alloc(&img, 70, 45, 1, SSCOR_U16);
  fill_pattern(&img, 3);
  CHECK(write_fixture(path, &img, 16, 0, COMPRESSION_NONE, 0.25));
  /* 32x32 tiles, overlap 8: step 24 -> columns at 0,24,48 (last valid 22), rows 0,24 (valid 21) */
  GstHarness *h = gst_harness_new("sscorslidesrc");
  g_object_set(h->element, "location", path, "tile-width", 32, "tile-height", 32, "overlap", 8,
               NULL);
  gst_harness_play(h);
  int n = 0;
  GstBuffer *b;
  for (n = 0; n < 6; n++) {
    b = gst_harness_pull(h);
    if (!b) break;
    GstSscorTileMeta *m = gst_sscor_buffer_get_tile_meta(b);
    CHECK(m != NULL);
    if (!m) {
      gst_buffer_unref(b);
      continue;
    }
    int col = n % 3, row = n / 3;
    CHECK(m->col == (guint)col && m->row == (guint)row && m->n_cols == 3 && m->n_rows == 2);
    CHECK(m->image_x == col * 24 && m->image_y == row * 24 && m->x == m->image_x);
    CHECK(m->valid_width == (col == 2 ? 22u : 32u) && m->valid_height == (row == 1 ? 21u : 32u));
    CHECK(m->image_width == 70 && m->image_height == 45 && m->overlap == 8 && m->channel == -1);
    CHECK(strcmp(gst_sscor_tile_meta_get_channel_names(m), "gray") == 0);
    GstMapInfo map;
    gst_buffer_map(b, &map, GST_MAP_READ);
    const guint16 *px = (const guint16 *)map.data; /* stride 64: 32 x 2 bytes */
    int ok = 1;
    for (int y = 0; y < 32; y++)
      for (int x = 0; x < 32; x++) {
        int vw = (int)m->valid_width, vh = (int)m->valid_height;
        int sx = x < vw ? x : 2 * (vw - 1) - x, sy = y < vh ? y : 2 * (vh - 1) - y;
        if (px[y * 32 + x] != (guint16)sscor_image_get(&img, (int)m->image_x + sx,
                                                        (int)m->image_y + sy, 0))
          ok = 0;
      }
    CHECK_MSG(ok, "tile %d content or reflect padding wrong", n);
    gst_buffer_unmap(b, &map);
    gst_buffer_unref(b);
  }
  CHECK(n == 6);
  double mpp = 0;
  CHECK(count_event(h, GST_EVENT_TAG, &mpp) == 1);
  CHECK_CLOSE(mpp, 0.25, 1e-5, 0);
  GstCaps *caps = gst_pad_get_current_caps(h->sinkpad);
  CHECK(caps && strstr(gst_caps_to_string(caps), "GRAY16_LE") != NULL);
  if (caps) gst_caps_unref(caps);
  gst_harness_teardown(h);
  sscor_image_free(&img);

  /* two 16-bit channels: one GRAY16_LE frame per channel and tile */
  sscor_image two;
  sscor_image_alloc(&two, 40, 40, 2, SSCOR_U16);
  fill_pattern(&two, 4);
  CHECK(write_fixture(path, &two, -8, 0, COMPRESSION_LZW, 0));
  h = gst_harness_new("sscorslidesrc");
  g_object_set(h->element, "location", path, "tile-width", 40, "tile-height", 20, NULL);
  gst_harness_play(h);
  for (int i = 0; i < 4; i++) {
    b = gst_harness_pull(h);
    GstSscorTileMeta *m = b ? gst_sscor_buffer_get_tile_meta(b) : NULL;
    CHECK(m && m->channel == i % 2 && m->n_channels == 2 && m->row == (guint)(i / 2));
    CHECK(m && strcmp(gst_sscor_tile_meta_get_channel_names(m), "ch0,ch1") == 0);
    if (m) {
      GstMapInfo map;
      gst_buffer_map(b, &map, GST_MAP_READ);
      CHECK(((guint16 *)map.data)[5] ==
            (guint16)sscor_image_get(&two, 5, (int)m->image_y, m->channel));
      gst_buffer_unmap(b, &map);
    }
    if (b) gst_buffer_unref(b);
  }
  gst_harness_teardown(h);
  sscor_image_free(&two);

  /* a missing file fails to start */
  h = gst_harness_new("sscorslidesrc");
  g_object_set(h->element, "location", "/nonexistent/slide.svs", NULL);
  CHECK(gst_element_set_state(h->element, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE);
  gst_harness_teardown(h);
}

/* The sink needs its location before it starts, and a harness starts at once. */
static GstHarness *sink_harness(const char *out, const char *props) {
  gchar *d = g_strdup_printf("sscorblendsink location=%s %s", out, props);
  GstHarness *h = gst_harness_new_parse(d);
  g_free(d);
  return h;
}

static void test_blendsink(void) {
  char out[300];
  snprintf(out, sizeof out, "%s/blend.tif", dir);
  sscor_image img;
  sscor_image_alloc(&img, 100, 60, 1, SSCOR_U16);
  fill_pattern(&img, 5);
  int tw = 40, th = 40, ov = 10, step = 30;
  GstVideoInfo vi;
  gst_video_info_set_format(&vi, GST_VIDEO_FORMAT_GRAY16_LE, (guint)tw, (guint)th);
  const char *caps = "video/x-raw,format=GRAY16_LE,width=40,height=40,framerate=0/1";
  for (int pass = 0; pass < 2; pass++) {
    /* pass 0: identical tiles -> exact; pass 1: each tile brighter by 100*index */
    GstHarness *h = sink_harness(out, "tile-size=16");
    gst_harness_set_src_caps_str(h, caps);
    int k = 0;
    for (int y = 0; y < 60 - ov; y += step, k += 0)
      for (int x = 0; x < 100 - ov; x += step, k++)
        CHECK(gst_harness_push(h, tile_buffer(&vi, &img, x, y, tw, th, ov, pass * 100 * k,
                                              -1)) == GST_FLOW_OK);
    CHECK(k == 6);
    CHECK(gst_harness_push_event(h, gst_event_new_eos()));
    gst_harness_teardown(h);
    sscor_image got;
    CHECK_MSG(sscor_image_read(out, &got) == SSCOR_OK, "%s", sscor_last_error());
    if (!got.data) continue;
    if (pass == 0) {
      CHECK_MSG(images_equal(&got, &img), "identity tiles not reproduced exactly");
    } else {
      /* expected: weighted mean of (v + offset) with the raised-cosine weights */
      double maxerr = 0;
      for (int y = 0; y < 60; y++)
        for (int x = 0; x < 100; x++) {
          double sw = 0, sv = 0;
          int kk = 0;
          for (int ty = 0; ty < 60 - ov; ty += step)
            for (int tx = 0; tx < 100 - ov; tx += step, kk++) {
              int vw = MIN(tw, 100 - tx), vh = MIN(th, 60 - ty);
              if (x < tx || x >= tx + vw || y < ty || y >= ty + vh) continue;
              double w = sscor_blend_weight(x - tx, tw, tx > 0 ? ov : 0, tx + vw < 100 ? ov : 0) *
                         sscor_blend_weight(y - ty, th, ty > 0 ? ov : 0, ty + vh < 60 ? ov : 0);
              sw += w;
              sv += w * (sscor_image_get(&img, x, y, 0) + 100 * kk);
            }
          double e = fabs(sscor_image_get(&got, x, y, 0) - sv / sw);
          if (e > maxerr) maxerr = e;
        }
      CHECK_MSG(maxerr <= 0.5 + 1e-3, "blended values off by %.3f", maxerr);
      /* the seam between tile 0 (offset 0) and tile 1 (offset 100) is a smooth ramp */
      double prev = -1;
      int monotone = 1;
      for (int x = 30; x < 40; x++) {
        double d = sscor_image_get(&got, x, 5, 0) - sscor_image_get(&img, x, 5, 0);
        if (d < prev - 0.5) monotone = 0;
        prev = d;
      }
      CHECK(monotone);
      CHECK(sscor_image_get(&got, 35, 5, 0) - sscor_image_get(&img, 35, 5, 0) > 40 &&
            sscor_image_get(&got, 35, 5, 0) - sscor_image_get(&img, 35, 5, 0) < 60);
    }
    sscor_image_free(&got);
    unlink(out);
  }

  /* tiles out of raster order are refused; nothing is written */
  GstHarness *h = sink_harness(out, "");
  gst_harness_set_src_caps_str(h, caps);
  sscor_image narrow; /* one tile wide, so rows finish as tiles move down */
  sscor_image_alloc(&narrow, 40, 60, 1, SSCOR_U16);
  CHECK(gst_harness_push(h, tile_buffer(&vi, &narrow, 0, 0, tw, th, ov, 0, -1)) == GST_FLOW_OK);
  CHECK(gst_harness_push(h, tile_buffer(&vi, &narrow, 0, 30, tw, th, ov, 0, -1)) == GST_FLOW_OK);
  CHECK(gst_harness_push(h, tile_buffer(&vi, &narrow, 0, 0, tw, th, ov, 0, -1)) == GST_FLOW_ERROR);
  sscor_image_free(&narrow);
  gst_harness_teardown(h);
  CHECK(access(out, F_OK) != 0);

  /* a gap between tiles is refused */
  h = sink_harness(out, "");
  gst_harness_set_src_caps_str(h, caps);
  CHECK(gst_harness_push(h, tile_buffer(&vi, &img, 0, 0, tw, th, 0, 0, -1)) == GST_FLOW_OK);
  CHECK(gst_harness_push(h, tile_buffer(&vi, &img, 0, 50, tw, th, 0, 0, -1)) == GST_FLOW_ERROR);
  gst_harness_teardown(h);
  CHECK(access(out, F_OK) != 0);

  /* a plain frame (no meta) is a whole image */
  h = sink_harness(out, "compression=none");
  gst_harness_set_src_caps_str(h, "video/x-raw,format=GRAY16_LE,width=100,height=60,framerate=0/1");
  GstVideoInfo fi;
  gst_video_info_set_format(&fi, GST_VIDEO_FORMAT_GRAY16_LE, 100, 60);
  GstBuffer *f = gst_buffer_new_allocate(NULL, GST_VIDEO_INFO_SIZE(&fi), NULL);
  gst_buffer_fill(f, 0, img.data, img.stride * img.height);
  CHECK(gst_harness_push(h, f) == GST_FLOW_OK);
  CHECK(gst_harness_push_event(h, gst_event_new_eos()));
  gst_harness_teardown(h);
  sscor_image got;
  CHECK(sscor_image_read(out, &got) == SSCOR_OK);
  CHECK(got.data && images_equal(&got, &img));
  sscor_image_free(&got);
  unlink(out);
  sscor_image_free(&img);
}

int main(int argc, char **argv) {
  /* scan plugins in this process: a sanitizer build of the plugin cannot be
   * loaded by the (uninstrumented) gst-plugin-scanner helper */
  setenv("GST_REGISTRY_FORK", "no", 0);
  gst_init(&argc, &argv);
  CHECK(mkdtemp(dir) != NULL);
  GstElement *probe = gst_element_factory_make("sscorslidesrc", NULL);
  CHECK_MSG(probe != NULL, "plugin sscor not found (GST_PLUGIN_PATH)");
  if (!probe) return CHECK_DONE();
  gst_object_unref(probe);
  tile_api = g_type_from_name("GstSscorTileMetaAPI");
  tile_info = gst_meta_get_info("GstSscorTileMeta");
  CHECK(tile_api != 0 && tile_info != NULL);
  test_weights();
  test_meta();
  test_slidesrc();
  test_blendsink();
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  CHECK(system(cmd) == 0);
  return CHECK_DONE();
}
