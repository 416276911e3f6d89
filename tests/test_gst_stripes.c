/* sscorstripes under GstHarness: each format's output equals core/degrade
 * applied to the same frame; per-frame draws; truth file; bad settings. */
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "degrade.h"

/* Pushes one frame of fmt filled by a pattern, returns the output bytes. */
static GstBuffer *run_frame(GstHarness *h, const char *fmt, int w, int hgt, guint8 *in, gsize size) {
  (void)fmt, (void)w, (void)hgt;
  GstBuffer *b = gst_buffer_new_allocate(NULL, size, NULL);
  gst_buffer_fill(b, 0, in, size);
  if (gst_harness_push(h, b) != GST_FLOW_OK) return NULL;
  return gst_harness_pull(h);
}

static void check_format(const char *fmt, int channels, sscor_sample_type type) {
  const int w = 96, hgt = 64;
  const char *spec = "tile-varying:tile=32,strength=0.4;stripes-gaussian:seed=3";
  GstHarness *h = gst_harness_new("sscorstripes");
  g_object_set(h->element, "degradations", spec, NULL);
  gchar *caps = g_strdup_printf("video/x-raw,format=%s,width=%d,height=%d,framerate=1/1", fmt, w, hgt);
  gst_harness_set_src_caps_str(h, caps);
  g_free(caps);
  GstVideoInfo info;
  gst_video_info_set_format(&info, gst_video_format_from_string(fmt), w, hgt);
  gsize size = GST_VIDEO_INFO_SIZE(&info);
  int stride = GST_VIDEO_INFO_PLANE_STRIDE(&info, 0);
  guint8 *in = g_malloc(size);
  for (gsize i = 0; i < size; i++) in[i] = (guint8)(100 + (i * 7) % 101);
  GstBuffer *out = run_frame(h, fmt, w, hgt, in, size);
  CHECK_MSG(out != NULL, "%s: no output", fmt);
  if (out) {
    /* Reference: the library on the same bytes. */
    sscor_degradation d[4];
    int n;
    sscor_degrade_plan *p;
    CHECK(!sscor_degrade_parse(spec, d, 4, &n));
    CHECK(!sscor_degrade_plan_new(d, n, w, hgt, &p));
    guint8 *ref = g_memdup2(in, size);
    sscor_image img;
    sscor_image_wrap(&img, ref, w, hgt, channels, type, (size_t)stride);
    CHECK(!sscor_degrade_plan_apply(p, &img));
    GstMapInfo map;
    CHECK(gst_buffer_map(out, &map, GST_MAP_READ));
    CHECK(map.size == size);
    CHECK_MSG(memcmp(map.data, ref, size) == 0, "%s: output differs from core/degrade", fmt);
    CHECK_MSG(memcmp(map.data, in, size) != 0, "%s: output unchanged", fmt);
    gst_buffer_unmap(out, &map);
    gst_buffer_unref(out);
    sscor_degrade_plan_free(p);
    g_free(ref);
  }
  g_free(in);
  gst_harness_teardown(h);
}

static void check_per_frame(gboolean per_frame) {
  GstHarness *h = gst_harness_new("sscorstripes");
  char truth[] = "/tmp/sscor_gst_truth_XXXXXX";
  int fd = mkstemp(truth);
  close(fd);
  unlink(truth);
  gchar *pattern = g_strdup_printf("%s-%%03u.txt", truth);
  g_object_set(h->element, "degradations", "stripes-gaussian:count=10", "per-frame", per_frame,
               "truth-location", pattern, NULL);
  gst_harness_set_src_caps_str(h, "video/x-raw,format=GRAY8,width=64,height=48,framerate=1/1");
  guint8 in[64 * 48];
  memset(in, 200, sizeof in);
  GstBuffer *a = run_frame(h, "GRAY8", 64, 48, in, sizeof in);
  GstBuffer *b = run_frame(h, "GRAY8", 64, 48, in, sizeof in);
  CHECK(a && b);
  if (a && b) {
    GstMapInfo ma, mb;
    gst_buffer_map(a, &ma, GST_MAP_READ);
    gst_buffer_map(b, &mb, GST_MAP_READ);
    int same = memcmp(ma.data, mb.data, ma.size) == 0;
    CHECK_MSG(same == !per_frame, "per-frame=%d: frames %s", per_frame, same ? "equal" : "differ");
    gst_buffer_unmap(a, &ma);
    gst_buffer_unmap(b, &mb);
  }
  if (a) gst_buffer_unref(a);
  if (b) gst_buffer_unref(b);
  gchar *f0 = g_strdup_printf("%s-000.txt", truth), *f1 = g_strdup_printf("%s-001.txt", truth);
  CHECK(access(f0, R_OK) == 0);
  CHECK((access(f1, R_OK) == 0) == per_frame);
  sscor_truth t;
  CHECK(!sscor_truth_read(f0, &t));
  CHECK(t.width == 64 && t.nstripes == 10);
  sscor_truth_free(&t);
  unlink(f0), unlink(f1);
  g_free(f0), g_free(f1), g_free(pattern);
  gst_harness_teardown(h);
}

static void check_bad_settings(void) {
  /* Unknown kind: refused when the stream starts, with an error message. */
  GstHarness *h = gst_harness_new("sscorstripes");
  g_object_set(h->element, "degradations", "wobble", NULL);
  gst_harness_set_src_caps_str(h, "video/x-raw,format=GRAY8,width=32,height=32,framerate=1/1");
  GstBuffer *b = gst_buffer_new_allocate(NULL, 32 * 32, NULL);
  gst_buffer_memset(b, 0, 100, 32 * 32);
  CHECK(gst_harness_push(h, b) != GST_FLOW_OK);
  GstBus *bus = GST_ELEMENT_BUS(h->element);
  GstMessage *m = bus ? gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR) : NULL;
  if (m) {
    GError *err = NULL;
    gchar *dbg = NULL;
    gst_message_parse_error(m, &err, &dbg);
    CHECK_MSG(dbg && strstr(dbg, "wobble"), "debug: %s", dbg ? dbg : "(none)");
    g_clear_error(&err);
    g_free(dbg);
    gst_message_unref(m);
  }
  gst_harness_teardown(h);

  /* Valid syntax, impossible for the frame size: refused at caps. */
  h = gst_harness_new("sscorstripes");
  g_object_set(h->element, "degradations", "seams:width=0.9", NULL);
  gst_harness_set_src_caps_str(h, "video/x-raw,format=GRAY8,width=32,height=32,framerate=1/1");
  b = gst_buffer_new_allocate(NULL, 32 * 32, NULL);
  gst_buffer_memset(b, 0, 100, 32 * 32);
  CHECK(gst_harness_push(h, b) != GST_FLOW_OK);
  gst_harness_teardown(h);

  /* Property round trip. */
  GstElement *e = gst_element_factory_make("sscorstripes", NULL);
  CHECK(e != NULL);
  if (e) {
    gchar *s;
    g_object_get(e, "degradations", &s, NULL);
    CHECK(s && !strcmp(s, "stripes-regular"));
    g_free(s);
    g_object_set(e, "degradations", "fringe:period=4", NULL);
    g_object_get(e, "degradations", &s, NULL);
    CHECK(s && !strcmp(s, "fringe:period=4"));
    g_free(s);
    gst_object_unref(e);
  }
}

int main(int argc, char **argv) {
  gst_init(&argc, &argv);
  check_format("GRAY8", 1, SSCOR_U8);
  check_format("GRAY16_LE", 1, SSCOR_U16);
  check_format("RGB", 3, SSCOR_U8);
  check_format("BGR", 3, SSCOR_U8);
  check_per_frame(FALSE);
  check_per_frame(TRUE);
  check_bad_settings();
  return CHECK_DONE();
}
