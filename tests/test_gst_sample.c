/* sscorsample with GstHarness and in-process pipelines, on a synthetic
 * stitched image with a known tile grid (vignetted tiles with their own
 * gains, overlaps averaged):
 *   - pairs lie where they should: anomaly on a true seam, normal clear of
 *     every seam, the same positions as sscor_sample_pairs on the analysis;
 *   - pair pixels are the image's at the meta positions;
 *   - deterministic per seed, different for another seed;
 *   - the analysis event comes before the first pair and carries META, GEOM
 *     (the geometry sampled) and FLAT (only with flatfield=true);
 *   - a tile stream (gathered, and read from its file by sscorslidesrc with
 *     max-memory=0) gives exactly the whole frame's pairs;
 *   - errors: no stripes, too few pairs, geometry file missing / malformed /
 *     for another size, bad properties, channel-sequential, max-memory. */
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "../elements/gstsscormeta.h"
#include "check.h"
#include "correct.h"
#include "gst_util.h"
#include "model_file.h"
#include "sampling.h"
#include "synth_tiles.h"

#define P 64
#define SEED 7

static char dir[] = "/tmp/sscor_sample_XXXXXX";

/* The metas live in the plugin module: found by name once it is loaded. */
static GType pair_api, tile_api;
static const GstMetaInfo *tile_info;
#define get_pair_meta(b) ((GstSscorPairMeta *)gst_buffer_get_meta((b), pair_api))

typedef struct {
  GstSscorPairMeta m;
  guint8 *px; /* the frame, 2P x P pixels of bpp bytes, tightly packed */
} got_pair;

typedef struct {
  GPtrArray *pairs;   /* got_pair* */
  GString *order;     /* 'E' analysis event, 'B' pair buffer */
  GBytes *analysis;   /* last analysis event's model */
  int bpp;
} collected;

static void got_free(gpointer p) {
  got_pair *g = p;
  g_free(g->px);
  g_free(g);
}

static void collected_init(collected *c, int bpp) {
  c->pairs = g_ptr_array_new_with_free_func(got_free);
  c->order = g_string_new(NULL);
  c->analysis = NULL;
  c->bpp = bpp;
}

static void collected_clear(collected *c) {
  g_ptr_array_free(c->pairs, TRUE);
  g_string_free(c->order, TRUE);
  if (c->analysis) g_bytes_unref(c->analysis);
}

static gboolean parse_analysis(GstEvent *e, GBytes **model) {
  if (GST_EVENT_TYPE(e) != GST_EVENT_CUSTOM_DOWNSTREAM_STICKY || !gst_event_has_name(e, GST_SSCOR_ANALYSIS_EVENT))
    return FALSE;
  return gst_structure_get(gst_event_get_structure(e), "model", G_TYPE_BYTES, model, NULL);
}

static void take_buffer(collected *c, GstBuffer *b) {
  GstSscorPairMeta *m = get_pair_meta(b);
  CHECK_MSG(m != NULL, "pair frame without a pair meta");
  if (!m) return;
  got_pair *g = g_new0(got_pair, 1);
  g->m = *m;
  g->px = g_malloc((gsize)2 * P * P * c->bpp);
  GstMapInfo map;
  gst_buffer_map(b, &map, GST_MAP_READ);
  gsize row = (gsize)2 * P * c->bpp, stride = (row + 3) & ~(gsize)3;
  CHECK(map.size >= stride * (P - 1) + row);
  for (int y = 0; y < P && map.size >= stride * (P - 1) + row; y++) memcpy(g->px + y * row, map.data + y * stride, row);
  gst_buffer_unmap(b, &map);
  g_ptr_array_add(c->pairs, g);
  g_string_append_c(c->order, 'B');
}

static GstPadProbeReturn probe_cb(GstPad *pad, GstPadProbeInfo *info, gpointer user) {
  (void)pad;
  collected *c = user;
  if (GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_BUFFER) {
    take_buffer(c, GST_PAD_PROBE_INFO_BUFFER(info));
  } else if (GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
    GBytes *m = NULL;
    if (parse_analysis(GST_PAD_PROBE_INFO_EVENT(info), &m)) {
      if (c->analysis) g_bytes_unref(c->analysis);
      c->analysis = m;
      g_string_append_c(c->order, 'E');
    }
  }
  return GST_PAD_PROBE_OK;
}

static void watch(GstElement *e, collected *c) {
  GstPad *src = gst_element_get_static_pad(e, "src");
  gst_pad_add_probe(src, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, probe_cb, c, NULL);
  gst_object_unref(src);
}

/* ---- the image ---------------------------------------------------------- */

static sscor_geometry truth;
static sscor_image image; /* U16, 1 channel */
static char tif[300];

static void make_image(void) {
  CHECK(sscor_geometry_init(&truth, 5 * 116 + 128, 3 * 116 + 128) == SSCOR_OK);
  CHECK(sscor_geometry_set_grid(&truth, 0, 0, 116, 116, 6, 4, 128, 128) == SSCOR_OK);
  double gains[24];
  for (int i = 0; i < 24; i++) gains[i] = 0.8 + 0.4 * synth_hash(i, 0, 9);
  sscor_image f;
  CHECK(sscor_image_alloc(&f, truth.width, truth.height, 1, SSCOR_F32) == SSCOR_OK);
  synth_render(&truth, SYNTH_VIGNETTE, 0.6, gains, &f);
  CHECK(sscor_image_alloc(&image, truth.width, truth.height, 1, SSCOR_U16) == SSCOR_OK);
  CHECK(sscor_image_convert(&f, &image) == SSCOR_OK);
  sscor_image_free(&f);
  snprintf(tif, sizeof tif, "%s/stitched.tif", dir);
  CHECK(write_fixture(tif, &image, 64, 0, COMPRESSION_NONE, 0));
}

static GstBuffer *frame_buffer(const sscor_image *img) {
  gsize row = (gsize)img->width * img->channels * sscor_sample_size(img->type);
  gsize stride = (row + 3) & ~(gsize)3;
  GstBuffer *b = gst_buffer_new_allocate(NULL, stride * img->height, NULL);
  GstMapInfo m;
  gst_buffer_map(b, &m, GST_MAP_WRITE);
  for (int y = 0; y < img->height; y++) memcpy(m.data + y * stride, sscor_image_row(img, y), row);
  gst_buffer_unmap(b, &m);
  return b;
}

static char *caps_of(const sscor_image *img, int w, int h) {
  const char *f = img->type == SSCOR_U16 ? "GRAY16_LE" : img->channels == 3 ? "RGB" : img->channels == 4 ? "RGBA" : "GRAY8";
  return g_strdup_printf("video/x-raw,format=%s,width=%d,height=%d,framerate=0/1", f, w, h);
}

/* Runs the image as one whole frame through sscorsample with `props`
 * ("prop=value ..." as gst-launch takes them). */
static void run_frame(const sscor_image *img, const char *props, collected *c) {
  gchar *desc = g_strdup_printf("sscorsample %s", props);
  GstHarness *h = gst_harness_new_parse(desc);
  g_free(desc);
  collected_init(c, img->channels * (int)sscor_sample_size(img->type));
  watch(h->element, c);
  gchar *caps = caps_of(img, img->width, img->height);
  gst_harness_set_src_caps_str(h, caps);
  g_free(caps);
  CHECK(gst_harness_push(h, frame_buffer(img)) == GST_FLOW_OK);
  gst_harness_teardown(h);
}

/* The same image as a tile stream with tile metas and no file location. */
static void run_tiles(const sscor_image *img, int tw, int th, int ov, const char *props, collected *c) {
  gchar *desc = g_strdup_printf("sscorsample %s", props);
  GstHarness *h = gst_harness_new_parse(desc);
  g_free(desc);
  collected_init(c, 2);
  watch(h->element, c);
  gchar *caps = caps_of(img, tw, th);
  gst_harness_set_src_caps_str(h, caps);
  g_free(caps);
  for (int y = 0; y < img->height; y += th - ov)
    for (int x = 0; x < img->width; x += tw - ov) {
      GstBuffer *b = gst_buffer_new_allocate(NULL, (gsize)tw * th * 2, NULL);
      GstMapInfo m;
      gst_buffer_map(b, &m, GST_MAP_WRITE);
      int vw = MIN(tw, img->width - x), vh = MIN(th, img->height - y);
      for (int r = 0; r < th; r++)
        for (int q = 0; q < tw; q++) /* padding beyond the valid area: garbage on purpose */
          ((guint16 *)m.data)[r * tw + q] =
              r < vh && q < vw ? (guint16)sscor_image_get(img, x + q, y + r, 0) : (guint16)(60000 + q);
      gst_buffer_unmap(b, &m);
      GstSscorTileMeta *t = (GstSscorTileMeta *)gst_buffer_add_meta(b, tile_info, NULL);
      t->x = t->image_x = x, t->y = t->image_y = y;
      t->valid_width = (guint)vw, t->valid_height = (guint)vh;
      t->image_width = (guint64)img->width, t->image_height = (guint64)img->height;
      t->downsample = 1, t->channel = -1, t->n_channels = 1;
      CHECK(gst_harness_push(h, b) == GST_FLOW_OK);
      if (x + tw >= img->width) break;
    }
  gst_harness_push_event(h, gst_event_new_eos());
  gst_harness_teardown(h);
}

static const got_pair *by_index(const collected *c, guint i) {
  for (guint k = 0; k < c->pairs->len; k++) {
    const got_pair *g = g_ptr_array_index(c->pairs, k);
    if (g->m.index == i) return g;
  }
  return NULL;
}

/* Same pairs (positions, flags, pixels), whatever the arrival order. */
static int same_pairs(const collected *a, const collected *b) {
  if (a->pairs->len != b->pairs->len || a->pairs->len == 0) return 0;
  for (guint i = 0; i < a->pairs->len; i++) {
    const got_pair *x = g_ptr_array_index(a->pairs, i), *y = by_index(b, x->m.index);
    if (!y || x->m.anomaly_x != y->m.anomaly_x || x->m.anomaly_y != y->m.anomaly_y ||
        x->m.normal_x != y->m.normal_x || x->m.normal_y != y->m.normal_y || x->m.seam != y->m.seam ||
        x->m.crossing != y->m.crossing || x->m.count != y->m.count ||
        memcmp(x->px, y->px, (size_t)2 * P * P * a->bpp))
      return 0;
  }
  return 1;
}

/* Does a seam of `s` cross the P x P patch at (x,y) more than `margin` px
 * inside it (brute force)? */
static int crosses(const sscor_seam *s, int n, int x, int y, double margin) {
  for (int i = 0; i < n; i++) {
    double lo = s[i].vertical ? x : y, along0 = s[i].vertical ? y : x;
    if (s[i].pos >= lo + margin && s[i].pos <= lo + P - margin && s[i].to >= along0 + margin &&
        s[i].from <= along0 + P - margin)
      return 1;
  }
  return 0;
}

/* ---- tests -------------------------------------------------------------- */

static void test_whole_frame(void) {
  /* reference: the core analysis and sampling of the same image */
  sscor_analyse_params ap;
  sscor_analyse_params_default(&ap);
  ap.scale = 2; /* the elements below run with scale=2 too */
  sscor_geometry g;
  sscor_flatfield *ff;
  sscor_image coarse;
  sscor_analyse_report rep;
  sscor_status st = sscor_analyse_image(&image, "test image", &ap, &g, &ff, &coarse, &rep);
  CHECK_MSG(st == SSCOR_OK, "%s", sscor_last_error());
  if (st) return;
  printf("analysis: %s\n", rep.detect.summary);
  sscor_sample_params sp;
  sscor_sample_params_default(&sp);
  sp.patch = P;
  sp.seed = SEED;
  sp.max_pairs = 2000;
  sp.fg_threshold = rep.flat.foreground;
  sscor_pair *ref;
  int nref;
  CHECK(sscor_sample_pairs(&g, &coarse, rep.scale, &sp, &ref, &nref) == SSCOR_OK);
  printf("%d reference pairs\n", nref);
  CHECK(nref >= 50);

  collected c;
  run_frame(&image, "seed=7 scale=2", &c);
  CHECK_MSG(c.pairs->len == (guint)nref, "%u pairs, core samples %d", c.pairs->len, nref);
  CHECK_MSG(c.order->len > 1 && c.order->str[0] == 'E' && !strchr(c.order->str + 1, 'E'),
            "the analysis event must come once, before the first pair: %.20s", c.order->str);
  sscor_seam *ts;
  int nts;
  CHECK(sscor_geometry_seams(&truth, &ts, &nts) == SSCOR_OK);
  int bad_pos = 0, bad_px = 0, bad_truth = 0, bad_clear = 0, crossings = 0;
  int jit = P / 8;
  for (guint i = 0; i < c.pairs->len; i++) {
    const got_pair *gp = g_ptr_array_index(c.pairs, i);
    const GstSscorPairMeta *m = &gp->m;
    if (m->index != i || m->count != (guint)nref || m->patch != P || m->image_width != (guint64)image.width ||
        m->image_height != (guint64)image.height || m->channel != -1 || i >= (guint)nref)
      bad_pos++;
    else if (m->anomaly_x != ref[i].ax || m->anomaly_y != ref[i].ay || m->normal_x != ref[i].nx ||
             m->normal_y != ref[i].ny || m->seam != ref[i].seam || m->crossing != (ref[i].crossing != 0))
      bad_pos++;
    crossings += m->crossing;
    /* against the true grid: the anomaly centre within jitter (+ detection
       error) of a true seam, no true seam more than 6 px inside the normal
       (the detected grid is 0.1 degrees and a few px off the truth; the
       detected one is checked exactly by the equality with sscor_sample_pairs) */
    double d = sscor_seam_distance(&truth, ts, nts, m->anomaly_x + P / 2.0, m->anomaly_y + P / 2.0, NULL);
    if (d > jit * M_SQRT2 + 3) bad_truth++;
    if (crosses(ts, nts, (int)m->normal_x, (int)m->normal_y, 6)) {
      bad_clear++;
      printf("normal %d,%d (anomaly %d,%d seam %d) crosses a true seam\n", (int)m->normal_x, (int)m->normal_y,
             (int)m->anomaly_x, (int)m->anomaly_y, m->seam);
    }
    /* pixels: anomaly | normal straight from the image */
    for (int y = 0; y < P; y++)
      for (int x = 0; x < 2 * P; x++) {
        int sx = x < P ? (int)m->anomaly_x + x : (int)m->normal_x + x - P;
        int sy = (x < P ? (int)m->anomaly_y : (int)m->normal_y) + y;
        if (((const guint16 *)gp->px)[y * 2 * P + x] != (guint16)sscor_image_get(&image, sx, sy, 0)) bad_px++;
      }
  }
  CHECK_MSG(bad_pos == 0, "%d pairs differ from sscor_sample_pairs", bad_pos);
  CHECK_MSG(bad_truth == 0, "%d anomalies off the true seams", bad_truth);
  CHECK_MSG(bad_clear == 0, "%d normals touch a true seam", bad_clear);
  CHECK_MSG(bad_px == 0, "%d pair pixels differ from the image", bad_px);
  CHECK_MSG(crossings > 0, "no grid crossing sampled");

  /* the analysis event: META, the geometry sampled, the flat-field */
  CHECK(c.analysis != NULL);
  if (c.analysis) {
    gsize len;
    const guint8 *data = g_bytes_get_data(c.analysis, &len);
    sscor_model m;
    st = sscor_model_from_memory(data, len, "analysis event", &m);
    CHECK_MSG(st == SSCOR_OK, "%s", sscor_last_error());
    if (!st) {
      CHECK(m.channels == 1 && m.patch == P && m.sample_format == SSCOR_SAMPLE_U16 && !m.corrector);
      CHECK(m.geometry && m.flatfield);
      char *text;
      CHECK(sscor_geometry_format(&g, &text) == SSCOR_OK);
      CHECK_MSG(m.geometry && !strcmp(m.geometry, text), "event geometry differs from the analysis");
      free(text);
      sscor_geometry eg;
      sscor_flatfield *eff;
      CHECK(sscor_model_get_flatfield(&m, &eg, &eff) == SSCOR_OK);
      CHECK(eff != NULL);
      for (int k = 0; eff && k < 5; k++) {
        double x = 37 + 131 * k, y = 23 + 83 * k;
        CHECK_CLOSE(sscor_flatfield_gain(eff, x, y), sscor_flatfield_gain(ff, x, y), 1e-9, 0);
      }
      sscor_flatfield_free(eff);
      sscor_geometry_free(&eg);
      sscor_model_clear(&m);
    }
  }

  /* deterministic per seed */
  collected c2;
  /* (flatfield=false from here on where the field is not looked at: it
     does not change the pairs, and the estimate is the slow part) */
  run_frame(&image, "seed=7 scale=2 flatfield=false", &c2);
  CHECK_MSG(same_pairs(&c, &c2), "same seed, different pairs");
  collected_clear(&c2);
  run_frame(&image, "seed=8 scale=2 flatfield=false", &c2);
  CHECK_MSG(!same_pairs(&c, &c2), "another seed, the same pairs");
  collected_clear(&c2);

  /* flatfield=false: GEOM only; max-pairs caps */
  run_frame(&image, "seed=7 scale=2 flatfield=false max-pairs=20", &c2);
  CHECK(c2.pairs->len == 20);
  if (c2.analysis) {
    gsize len;
    const guint8 *data = g_bytes_get_data(c2.analysis, &len);
    sscor_model m;
    CHECK(sscor_model_from_memory(data, len, "analysis event", &m) == SSCOR_OK);
    CHECK(m.geometry != NULL && m.flatfield == NULL);
    sscor_model_clear(&m);
  } else {
    CHECK_MSG(0, "no analysis event with flatfield=false");
  }
  collected_clear(&c2);

  /* a tile stream without a file: gathered, then exactly the frame's pairs;
     tiles overlap and carry garbage beyond their valid area */
  run_tiles(&image, 200, 150, 20, "seed=7 scale=2", &c2);
  CHECK_MSG(same_pairs(&c, &c2), "tile stream (gathered) differs from the whole frame (%u vs %u pairs)",
            c2.pairs->len, c.pairs->len);
  CHECK_MSG(c2.analysis && g_bytes_equal(c.analysis, c2.analysis), "tile stream: another analysis");
  collected_clear(&c2);

  /* sscorslidesrc: the file is analysed in bounded memory (max-memory=0
     forbids gathering) and pairs are assembled from the tiles */
  char desc[1200];
  snprintf(desc, sizeof desc,
           "sscorslidesrc location=%s tile-width=96 tile-height=80 overlap=8 ! sscorsample name=s seed=7 scale=2 "
           "max-memory=0 ! fakesink",
           tif);
  GstElement *pipe = gst_parse_launch(desc, NULL);
  CHECK(pipe != NULL);
  if (pipe) {
    GstElement *s = gst_bin_get_by_name(GST_BIN(pipe), "s");
    collected_init(&c2, 2);
    watch(s, &c2);
    gst_object_unref(s);
    gst_element_set_state(pipe, GST_STATE_PLAYING);
    GstBus *bus = gst_element_get_bus(pipe);
    GstMessage *msg = gst_bus_timed_pop_filtered(bus, 120 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
    CHECK_MSG(msg && GST_MESSAGE_TYPE(msg) == GST_MESSAGE_EOS, "slide pipeline did not finish");
    if (msg && GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
      GError *e;
      gst_message_parse_error(msg, &e, NULL);
      printf("error: %s\n", e->message);
      g_error_free(e);
    }
    if (msg) gst_message_unref(msg);
    gst_object_unref(bus);
    gst_element_set_state(pipe, GST_STATE_NULL);
    gst_object_unref(pipe);
    CHECK_MSG(same_pairs(&c, &c2), "tile stream from the file differs from the whole frame (%u vs %u pairs)",
              c2.pairs->len, c.pairs->len);
    CHECK(c2.order->len > 0 && c2.order->str[0] == 'E');
    /* the file's analysis (sscor_analyse_slide, as `sscor train`) is the frame's */
    CHECK_MSG(c2.analysis && g_bytes_equal(c.analysis, c2.analysis), "slide stream: another analysis");
    collected_clear(&c2);
  }

  /* the geometry message and geometry-output */
  char gout[320];
  snprintf(gout, sizeof gout, "%s/used.geom", dir);
  snprintf(desc, sizeof desc, "sscorslidesrc location=%s tile-width=128 tile-height=128 ! sscorsample scale=2 "
           "flatfield=false geometry-output=%s ! fakesink", tif, gout);
  pipe = gst_parse_launch(desc, NULL);
  gst_element_set_state(pipe, GST_STATE_PLAYING);
  GstBus *bus = gst_element_get_bus(pipe);
  int got_geom = 0;
  for (;;) {
    GstMessage *msg = gst_bus_timed_pop_filtered(bus, 120 * GST_SECOND,
                                                 GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_ELEMENT);
    if (!msg) break;
    GstMessageType t = GST_MESSAGE_TYPE(msg);
    const GstStructure *s = gst_message_get_structure(msg);
    if (t == GST_MESSAGE_ELEMENT && gst_structure_has_name(s, "sscor-geometry")) {
      const char *o = gst_structure_get_string(s, "orientation"), *text = gst_structure_get_string(s, "geometry");
      int tiles = 0;
      gst_structure_get_int(s, "tiles", &tiles);
      got_geom = o && !strcmp(o, "grid") && tiles == g.n_tiles && text && strstr(text, "sscor-geometry 1");
    }
    gst_message_unref(msg);
    if (t != GST_MESSAGE_ELEMENT) break;
  }
  gst_object_unref(bus);
  gst_element_set_state(pipe, GST_STATE_NULL);
  gst_object_unref(pipe);
  CHECK_MSG(got_geom, "no sscor-geometry message with the detected grid");
  sscor_geometry rg;
  CHECK(sscor_geometry_read(gout, &rg) == SSCOR_OK && rg.n_tiles == g.n_tiles);
  sscor_geometry_free(&rg);

  /* geometry-location: the same pairs as the detection it came from */
  gchar *props = g_strdup_printf("seed=7 scale=2 flatfield=false stripes=file geometry-location=%s", gout);
  run_frame(&image, props, &c2);
  g_free(props);
  CHECK_MSG(same_pairs(&c, &c2), "pairs from the written geometry differ from the detected one's");
  collected_clear(&c2);

  collected_clear(&c);
  free(ts);
  free(ref);
  sscor_flatfield_free(ff);
  sscor_geometry_free(&g);
  sscor_image_free(&coarse);
}

/* Runs a pipeline that must fail; the error must contain `want`. */
static void expect_error(const char *desc, const char *want) {
  char err[1024];
  int ok = run_pipeline(desc, err, sizeof err);
  CHECK_MSG(!ok, "pipeline succeeded, wanted an error: %s", desc);
  CHECK_MSG(strstr(err, want) != NULL, "error '%s' lacks '%s'", err, want);
}

static void test_errors(void) {
  char desc[1200], path[300];
  /* no stripes: the same content without tiles */
  sscor_image flat, f;
  CHECK(sscor_image_alloc(&f, 400, 300, 1, SSCOR_F32) == SSCOR_OK);
  for (int y = 0; y < f.height; y++)
    for (int x = 0; x < f.width; x++) sscor_image_set(&f, x, y, 0, (float)synth_content(x, y));
  CHECK(sscor_image_alloc(&flat, 400, 300, 1, SSCOR_U16) == SSCOR_OK);
  CHECK(sscor_image_convert(&f, &flat) == SSCOR_OK);
  snprintf(path, sizeof path, "%s/flat.tif", dir);
  CHECK(write_fixture(path, &flat, 64, 0, COMPRESSION_NONE, 0));
  snprintf(desc, sizeof desc, "sscorslidesrc location=%s tile-width=128 tile-height=128 ! sscorsample ! fakesink", path);
  expect_error(desc, "no stripes found");
  sscor_image_free(&f);
  sscor_image_free(&flat);

  /* too few pairs: no patch of 256 clears the 116-px grid */
  snprintf(desc, sizeof desc, "sscorslidesrc location=%s tile-width=128 tile-height=128 ! sscorsample scale=2 patch=256 ! fakesink", tif);
  expect_error(desc, "Too few training pairs");

  /* geometry files: missing, malformed, another image size */
  snprintf(desc, sizeof desc, "sscorslidesrc location=%s tile-width=128 tile-height=128 ! sscorsample geometry-location=%s/none.geom ! fakesink",
           tif, dir);
  expect_error(desc, "none.geom");
  snprintf(path, sizeof path, "%s/bad.geom", dir);
  FILE *fp = fopen(path, "w");
  fprintf(fp, "sscor-geometry 1\nimage 708 476\ntile 0 0 banana\n");
  fclose(fp);
  snprintf(desc, sizeof desc, "sscorslidesrc location=%s tile-width=128 tile-height=128 ! sscorsample geometry-location=%s ! fakesink", tif, path);
  expect_error(desc, "bad.geom");
  fp = fopen(path, "w");
  fprintf(fp, "sscor-geometry 1\nimage 500 400\norientation grid\ntile-size 128 128\ntile 0 0\ntile 116 0\n"
              "tile 0 116\ntile 116 116\n");
  fclose(fp);
  expect_error(desc, "describes a 500x400 image");

  /* bad properties */
  snprintf(desc, sizeof desc, "sscorslidesrc location=%s tile-width=128 tile-height=128 ! sscorsample patch=62 ! fakesink", tif);
  expect_error(desc, "multiple of 4");
  snprintf(desc, sizeof desc, "sscorslidesrc location=%s tile-width=128 tile-height=128 ! sscorsample stripes=sometimes ! fakesink", tif);
  expect_error(desc, "stripes=\"sometimes\"");
  snprintf(desc, sizeof desc, "sscorslidesrc location=%s tile-width=128 tile-height=128 ! sscorsample stripes=file ! fakesink", tif);
  expect_error(desc, "needs geometry-location");

  /* gathering refused past max-memory (a region is not the whole file) */
  snprintf(desc, sizeof desc,
           "sscorslidesrc location=%s region-x=10 tile-width=128 tile-height=128 ! sscorsample max-memory=0 ! "
           "fakesink", tif);
  expect_error(desc, "max-memory");

  /* channel-sequential streams are refused */
  sscor_image two;
  CHECK(sscor_image_alloc(&two, 300, 200, 2, SSCOR_U16) == SSCOR_OK);
  fill_pattern(&two, 5);
  snprintf(path, sizeof path, "%s/two.tif", dir);
  CHECK(write_fixture(path, &two, 64, 0, COMPRESSION_NONE, 0));
  /* channel-sequential tiles (2 x 16-bit) are analysed like any stream: this
     pattern has no seams, which the analysis says, naming the file */
  snprintf(desc, sizeof desc, "sscorslidesrc location=%s tile-width=128 tile-height=128 ! sscorsample ! fakesink", path);
  expect_error(desc, "two.tif: no stripes found");
  sscor_image_free(&two);
}

int main(int argc, char **argv) {
  setenv("GST_REGISTRY_FORK", "no", 0);
  gst_init(&argc, &argv);
  CHECK(mkdtemp(dir) != NULL);
  GstElement *probe = gst_element_factory_make("sscorsample", NULL);
  CHECK_MSG(probe != NULL, "plugin sscor not found (GST_PLUGIN_PATH)");
  if (!probe) return CHECK_DONE();
  gst_object_unref(probe);
  pair_api = g_type_from_name("GstSscorPairMetaAPI");
  tile_api = g_type_from_name("GstSscorTileMetaAPI");
  tile_info = gst_meta_get_info("GstSscorTileMeta");
  CHECK(pair_api != 0 && tile_api != 0 && tile_info != NULL);
  make_image();
  test_whole_frame();
  test_errors();
  sscor_image_free(&image);
  sscor_geometry_free(&truth);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  CHECK(system(cmd) == 0);
  return CHECK_DONE();
}
