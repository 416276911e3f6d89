/* sscortrain: trains on pair streams made here as sscorsample would send them
 * (a synthetic tiled image with a known tile shading, pairs sampled with
 * core/sampling, the analysis event with its geometry and flat-field).
 * Checks: preset flatfield keeps the analysis' FLAT and trains nothing; the
 * cpu preset's losses fall, its model (buffer == location file) has the
 * expected sections and scaling and corrects the image in sscorcorrect;
 * channel-sequential pairs; resume from a checkpoint equals an uninterrupted
 * run; progress messages; a pipeline whose sscortrain has no downstream
 * element ends with EOS; a stop during training is prompt and leaves no
 * model; every error case.
 * Measurement, not a test: SSCOR_TRAIN_EXPERIMENT=EPOCHS tests/test_gst_train
 * trains the network alone on all the scene's pairs and prints the shading
 * residual, seam ratio and fidelity of its correction. */
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../elements/gstsscormeta.h"
#include "check.h"
#include "correct.h"
#include "flatfield.h"
#include "metrics.h"
#include "model_file.h"
#include "sampling.h"
#include "synth_tiles.h"

static char dir[] = "/tmp/sscor_train_XXXXXX";
static int sanitize;

/* The meta lives in the plugin module: found by name once it is loaded. */
static const GstMetaInfo *pair_info;
#define add_pair_meta(b) ((GstSscorPairMeta *)gst_buffer_add_meta((b), pair_info, NULL))

/* ---- a synthetic stitched image and its pairs ------------------------------ */

#define TILE 128
#define NX 4
#define NY 3
#define PATCH 32

typedef struct {
  sscor_geometry g;
  sscor_image img;    /* U16, the shaded image */
  sscor_flatfield *ff;
  sscor_pair *pairs;
  int n;
} scene;

static void scene_make(scene *s, int max_pairs) {
  memset(s, 0, sizeof *s);
  CHECK(sscor_geometry_init(&s->g, NX * TILE, NY * TILE) == SSCOR_OK);
  CHECK(sscor_geometry_set_grid(&s->g, 0, 0, TILE, TILE, NX, NY, TILE, TILE) == SSCOR_OK);
  double gains[NX * NY];
  for (int i = 0; i < NX * NY; i++) gains[i] = 0.85 + 0.3 * synth_hash(i, 0, 7);
  sscor_image f, coarse;
  CHECK(sscor_image_alloc(&f, s->g.width, s->g.height, 1, SSCOR_F32) == SSCOR_OK);
  synth_render(&s->g, SYNTH_VIGNETTE, 0.4, gains, &f);
  CHECK(sscor_image_alloc(&s->img, s->g.width, s->g.height, 1, SSCOR_U16) == SSCOR_OK);
  CHECK(sscor_image_convert(&f, &s->img) == SSCOR_OK);
  CHECK(sscor_downsample(&f, 2, &coarse) == SSCOR_OK);
  sscor_flatfield_params fp;
  sscor_flatfield_params_default(&fp);
  fp.dark = 0;
  fp.foreground = 1;
  CHECK(sscor_flatfield_estimate(&s->g, &coarse, 2, sscor_image_region_reader, &f, &fp, &s->ff, NULL) == SSCOR_OK);
  sscor_sample_params sp;
  sscor_sample_params_default(&sp);
  sp.patch = PATCH;
  sp.seed = 3;
  sp.max_pairs = max_pairs;
  CHECK(sscor_sample_pairs(&s->g, NULL, 1, &sp, &s->pairs, &s->n) == SSCOR_OK);
  CHECK(max_pairs == 0 || s->n == max_pairs);
  sscor_image_free(&f);
  sscor_image_free(&coarse);
}

static void scene_free(scene *s) {
  sscor_geometry_free(&s->g);
  sscor_image_free(&s->img);
  sscor_flatfield_free(s->ff);
  free(s->pairs);
}

/* std of log(img / content) over the image: the shading left in it */
static double shading_residual(const sscor_image *img) {
  double sum = 0, sum2 = 0;
  long n = 0;
  for (int y = 0; y < img->height; y++)
    for (int x = 0; x < img->width; x++) {
      double v = sscor_image_get(img, x, y, 0);
      if (v <= 0) continue;
      double l = log(v / synth_content(x, y));
      sum += l;
      sum2 += l * l;
      n++;
    }
  double m = sum / n;
  return sqrt(sum2 / n - m * m);
}

/* Pair i as sscorsample sends it: anomaly | normal, C channels of img
 * replicated (C = 3 or 4: RGB(A) at 8 bits), with the pair meta; channel >= 0
 * gives the channel-sequential frame of that channel. */
static GstBuffer *pair_buffer(const scene *s, int i, int C, int channel) {
  const sscor_pair *p = &s->pairs[i];
  int ss = C > 1 ? 1 : 2, pc = channel >= 0 ? 1 : C;
  GstBuffer *b = gst_buffer_new_allocate(NULL, (size_t)2 * PATCH * PATCH * pc * ss, NULL);
  GstMapInfo map;
  gst_buffer_map(b, &map, GST_MAP_WRITE);
  for (int y = 0; y < PATCH; y++)
    for (int x = 0; x < 2 * PATCH; x++) {
      int sx = x < PATCH ? p->ax + x : p->nx + x - PATCH, sy = (x < PATCH ? p->ay : p->ny) + y;
      float v = sscor_image_get(&s->img, sx, sy, 0);
      for (int c = 0; c < pc; c++) {
        size_t o = ((size_t)y * 2 * PATCH + x) * pc + c;
        float w = v * (1.0f + 0.1f * (channel >= 0 ? channel : c));
        if (ss == 1) {
          map.data[o] = (guint8)fminf(255.0f, w / 8.0f);
        } else {
          guint16 u = (guint16)fminf(65535.0f, w);
          map.data[2 * o] = (guint8)(u & 0xff);
          map.data[2 * o + 1] = (guint8)(u >> 8);
        }
      }
    }
  gst_buffer_unmap(b, &map);
  GstSscorPairMeta *m = add_pair_meta(b);
  m->anomaly_x = p->ax;
  m->anomaly_y = p->ay;
  m->normal_x = p->nx;
  m->normal_y = p->ny;
  m->patch = PATCH;
  m->seam = p->seam;
  m->crossing = p->crossing;
  m->index = (guint)i;
  m->count = (guint)s->n;
  m->image_width = (guint64)s->g.width;
  m->image_height = (guint64)s->g.height;
  m->channel = channel;
  m->n_channels = channel >= 0 ? (guint)C : 0;
  return b;
}

/* The analysis event: META (channels, format), GEOM and (with_flat) FLAT. */
static GstEvent *analysis_event(const scene *s, int channels, sscor_sample_format fmt, int with_flat) {
  sscor_model m;
  memset(&m, 0, sizeof m);
  m.channels = channels;
  m.patch = PATCH;
  m.sample_format = fmt;
  for (int c = 0; c < channels; c++) m.high[c] = fmt == SSCOR_SAMPLE_U8 ? 255.0f : 65535.0f;
  snprintf(m.preset, sizeof m.preset, "analysis");
  CHECK(sscor_model_set_flatfield(&m, &s->g, with_flat ? s->ff : NULL) == SSCOR_OK);
  uint8_t *buf;
  size_t len;
  CHECK(sscor_model_to_memory(&m, &buf, &len) == SSCOR_OK);
  sscor_model_clear(&m);
  GBytes *bytes = g_bytes_new_take(buf, len);
  GstStructure *st = gst_structure_new(GST_SSCOR_ANALYSIS_EVENT, "model", G_TYPE_BYTES, bytes, NULL);
  g_bytes_unref(bytes);
  return gst_event_new_custom(GST_EVENT_CUSTOM_DOWNSTREAM_STICKY, st);
}

static const char *caps_for(int C, int seq) {
  if (seq) return "video/x-raw,format=GRAY8,width=64,height=32,framerate=0/1";
  return C == 1 ? "video/x-raw,format=GRAY16_LE,width=64,height=32,framerate=0/1"
         : C == 3 ? "video/x-raw,format=RGB,width=64,height=32,framerate=0/1"
                  : "video/x-raw,format=RGBA,width=64,height=32,framerate=0/1";
}

/* ---- running sscortrain in a harness -------------------------------------- */

typedef struct {
  const char *props;  /* gst-launch style property list */
  int channels;       /* of the pairs: 1 (GRAY16), 3 (RGB), 4 (RGBA) */
  int seq;            /* channel-sequential GRAY8 frames */
  int pairs;          /* how many of the scene's pairs to send */
  int analysis;       /* 0 none, 1 without FLAT, 2 with FLAT */
  int analysis_channels; /* 0 = as the pairs */
  sscor_sample_format analysis_format; /* 0 = as the pairs */
} run_spec;

typedef struct {
  int ok;             /* EOS came out and no error */
  char *error;        /* error message + debug text, or NULL */
  uint8_t *model;     /* the pushed buffer */
  size_t len;
  char *caps;
  int progress;       /* progress messages */
  double first_g, first_cycle, first_d, last_cycle, last_d; /* losses of the first/last message */
  double epoch1_content, last_content; /* cycle + identity means at the end of the first and last epoch */
  gint64 last_step, steps;
} run_result;

static void result_free(run_result *r) {
  g_free(r->error);
  g_free(r->caps);
  free(r->model);
  memset(r, 0, sizeof *r);
}

static void read_bus(GstBus *bus, run_result *r) {
  GstMessage *m;
  while ((m = gst_bus_pop(bus))) {
    if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_ERROR && !r->error) {
      GError *e;
      gchar *dbg;
      gst_message_parse_error(m, &e, &dbg);
      r->error = g_strdup_printf("%s | %s", e->message, dbg ? dbg : "");
      g_error_free(e);
      g_free(dbg);
    } else if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_ELEMENT &&
               gst_structure_has_name(gst_message_get_structure(m), "sscor-train-progress")) {
      const GstStructure *st = gst_message_get_structure(m);
      double g = 0, d = 0, cyc = 0, idt = 0;
      int it = 0, its = 0;
      gst_structure_get(st, "g", G_TYPE_DOUBLE, &g, "d", G_TYPE_DOUBLE, &d, "cycle", G_TYPE_DOUBLE, &cyc,
                        "identity", G_TYPE_DOUBLE, &idt, "iteration", G_TYPE_INT, &it, "iterations", G_TYPE_INT,
                        &its, "step", G_TYPE_INT64, &r->last_step, "steps", G_TYPE_INT64, &r->steps, NULL);
      CHECK(gst_structure_has_field(st, "epoch") && gst_structure_has_field(st, "eta") &&
            gst_structure_has_field(st, "elapsed") && gst_structure_has_field(st, "epochs"));
      if (r->progress++ == 0) {
        r->first_g = g;
        r->first_cycle = cyc;
        r->first_d = d;
      }
      r->last_cycle = cyc;
      r->last_d = d;
      if (it == its) {
        if (r->epoch1_content == 0) r->epoch1_content = cyc + idt;
        r->last_content = cyc + idt;
      }
    }
    gst_message_unref(m);
  }
}

static GstElement *make_train(const char *props, GstBus **bus) {
  gchar *desc = g_strdup_printf("sscortrain %s", props ? props : "");
  GError *e = NULL;
  GstElement *el = gst_parse_launch(desc, &e);
  g_free(desc);
  CHECK_MSG(el && !e, "%s", e ? e->message : "?");
  if (e) g_error_free(e);
  *bus = gst_bus_new();
  gst_element_set_bus(el, *bus);
  return el;
}

/* Sends the spec's stream through sscortrain and collects what comes out. */
static void run_train(const scene *s, const run_spec *sp, run_result *r) {
  memset(r, 0, sizeof *r);
  GstBus *bus;
  GstElement *el = make_train(sp->props, &bus);
  GstHarness *h = gst_harness_new_with_element(el, "sink", "src");
  gst_object_unref(el);
  gst_harness_set_src_caps_str(h, caps_for(sp->channels, sp->seq));
  int C = sp->channels == 4 ? 3 : sp->channels;
  sscor_sample_format fmt = sp->channels == 1 && !sp->seq ? SSCOR_SAMPLE_U16 : SSCOR_SAMPLE_U8;
  int ok = 1;
  if (sp->analysis)
    ok = gst_harness_push_event(h, analysis_event(s, sp->analysis_channels ? sp->analysis_channels : C,
                                                  sp->analysis_format ? sp->analysis_format : fmt, sp->analysis == 2));
  for (int i = 0; ok && i < sp->pairs; i++) {
    if (sp->seq) {
      for (int c = 0; ok && c < sp->channels; c++) ok = gst_harness_push(h, pair_buffer(s, i, sp->channels, c)) == GST_FLOW_OK;
    } else {
      ok = gst_harness_push(h, pair_buffer(s, i, sp->channels, -1)) == GST_FLOW_OK;
    }
  }
  if (ok) gst_harness_push_event(h, gst_event_new_eos());
  GstEvent *ev;
  while ((ev = gst_harness_try_pull_event(h))) {
    if (GST_EVENT_TYPE(ev) == GST_EVENT_CAPS) {
      GstCaps *caps;
      gst_event_parse_caps(ev, &caps);
      r->caps = gst_caps_to_string(caps);
    }
    if (GST_EVENT_TYPE(ev) == GST_EVENT_EOS) r->ok = 1;
    gst_event_unref(ev);
  }
  GstBuffer *b = gst_harness_try_pull(h);
  if (b) {
    GstMapInfo map;
    gst_buffer_map(b, &map, GST_MAP_READ);
    r->model = malloc(map.size);
    memcpy(r->model, map.data, map.size);
    r->len = map.size;
    gst_buffer_unmap(b, &map);
    gst_buffer_unref(b);
    CHECK(gst_harness_try_pull(h) == NULL); /* exactly one buffer */
  }
  read_bus(bus, r);
  if (r->error) r->ok = 0;
  gst_harness_teardown(h);
  gst_object_unref(bus);
}

/* The error of a state change that must fail (settings checked at start). */
static char *start_error(const char *props) {
  GstBus *bus;
  GstElement *el = make_train(props, &bus);
  CHECK(gst_element_set_state(el, GST_STATE_PAUSED) == GST_STATE_CHANGE_FAILURE);
  run_result r = {0};
  read_bus(bus, &r);
  gst_element_set_state(el, GST_STATE_NULL);
  gst_object_unref(el);
  gst_object_unref(bus);
  char *e = r.error ? g_strdup(r.error) : g_strdup("(no error)");
  result_free(&r);
  return e;
}

static int file_equals(const char *path, const uint8_t *buf, size_t len) {
  uint8_t *f;
  size_t n;
  if (sscor_read_file(path, &f, &n)) return 0;
  int eq = n == len && memcmp(f, buf, len) == 0;
  free(f);
  return eq;
}

/* Corrects the scene's image with the model file in sscorcorrect; *sum
 * (may be NULL) gets the sum of the output's samples, *keep (may be NULL) a
 * copy of the output. */
static double corrected_image(const scene *s, const char *model, double *sum, sscor_image *keep) {
  gchar *d = g_strdup_printf("sscorcorrect model=%s", model);
  GstHarness *h = gst_harness_new_parse(d);
  g_free(d);
  gchar *caps = g_strdup_printf("video/x-raw,format=GRAY16_LE,width=%d,height=%d,framerate=0/1", s->img.width,
                                s->img.height);
  gst_harness_set_src_caps_str(h, caps);
  g_free(caps);
  size_t row = (size_t)s->img.width * 2, stride = GST_ROUND_UP_4(row);
  GstBuffer *b = gst_buffer_new_allocate(NULL, stride * s->img.height, NULL);
  for (int y = 0; y < s->img.height; y++) gst_buffer_fill(b, stride * y, sscor_image_row(&s->img, y), row);
  GstBuffer *o = gst_harness_push_and_pull(h, b);
  double res = -1;
  if (o) {
    GstMapInfo map;
    gst_buffer_map(o, &map, GST_MAP_READ);
    sscor_image img;
    sscor_image_wrap(&img, map.data, s->img.width, s->img.height, 1, SSCOR_U16, stride);
    res = shading_residual(&img);
    if (keep && sscor_image_alloc(keep, img.width, img.height, 1, SSCOR_U16) == SSCOR_OK)
      sscor_image_convert(&img, keep);
    if (sum) {
      *sum = 0;
      for (int y = 0; y < img.height; y++)
        for (int x = 0; x < img.width; x++) *sum += sscor_image_get(&img, x, y, 0);
    }
    gst_buffer_unmap(o, &map);
    gst_buffer_unref(o);
  }
  gst_harness_teardown(h);
  return res;
}
#define corrected_residual(s, model, sum) corrected_image(s, model, sum, NULL)

/* The scene's tiles as rectangles, for the metrics. */
static void scene_tiles(sscor_rect *tiles) {
  for (int i = 0; i < NX * NY; i++) tiles[i] = (sscor_rect){(i % NX) * TILE, (i / NX) * TILE, TILE, TILE};
}

/* Seam ratio (seam step / step across tile middles) of img. */
static double seam_ratio(const sscor_image *img) {
  sscor_rect tiles[NX * NY];
  scene_tiles(tiles);
  sscor_seam_stats st;
  if (sscor_metric_seam_step(img, 0, tiles, NX * NY, 1, 0, &st)) return NAN;
  return st.ratio;
}

/* Fidelity of out against in, away from the tile edges (3 sigma: the
 * correction jumps there by design). */
static double fidelity(const sscor_image *out, const sscor_image *in) {
  sscor_rect tiles[NX * NY];
  scene_tiles(tiles);
  sscor_image mask;
  double f = NAN;
  if (sscor_metric_tissue_mask(in, 0, 0, &mask)) return f;
  if (!sscor_metric_mask_exclude_edges(&mask, tiles, NX * NY, 18)) sscor_metric_fidelity(out, in, 0, &mask, 6, &f);
  sscor_image_free(&mask);
  return f;
}

static gchar *path_in(const char *name) { return g_strdup_printf("%s/%s", dir, name); }

/* ---- tests ----------------------------------------------------------------- */

static void test_flatfield_preset(const scene *s) {
  gchar *loc = path_in("flat.sscor");
  gchar *props = g_strdup_printf("location=%s", loc);
  run_spec sp = {props, 1, 0, 12, 2, 0, 0};
  run_result r;
  run_train(s, &sp, &r); /* preset auto: the analysis has a flat-field */
  CHECK_MSG(r.ok, "%s", r.error ? r.error : "no EOS");
  CHECK(r.caps && strcmp(r.caps, GST_SSCOR_MODEL_CAPS) == 0);
  CHECK(r.progress == 0); /* nothing trained */
  sscor_model m;
  if (r.model && sscor_model_from_memory(r.model, r.len, "buffer", &m) == SSCOR_OK) {
    CHECK(m.corrector == NULL && m.geometry && m.flatfield);
    CHECK(strcmp(m.preset, "flatfield") == 0 && m.channels == 1 && m.sample_format == SSCOR_SAMPLE_U16);
    /* FLAT is the analysis' own, byte for byte */
    sscor_model a;
    memset(&a, 0, sizeof a);
    a.channels = 1;
    a.high[0] = 1;
    CHECK(sscor_model_set_flatfield(&a, &s->g, s->ff) == SSCOR_OK);
    CHECK(a.flatfield_len == m.flatfield_len && memcmp(a.flatfield, m.flatfield, a.flatfield_len) == 0);
    CHECK(strcmp(a.geometry, m.geometry) == 0);
    sscor_model_clear(&a);
    sscor_model_clear(&m);
  } else {
    CHECK_MSG(0, "no model buffer: %s", r.model ? sscor_last_error() : "none");
  }
  CHECK(r.model && file_equals(loc, r.model, r.len));
  sscor_image out = {0};
  double before = shading_residual(&s->img), after = corrected_image(s, loc, NULL, &out);
  double r0 = seam_ratio(&s->img), r1 = out.data ? seam_ratio(&out) : NAN, fid = out.data ? fidelity(&out, &s->img) : NAN;
  printf("flatfield preset: shading residual %.6f -> %.6f, seam ratio %.3f -> %.3f, fidelity %.3f %%\n", before, after,
         r0, r1, 100 * fid);
  CHECK(after > 0 && after < 0.5 * before);
  CHECK(r1 < 1 + 0.5 * (r0 - 1));
  /* the knot field's kinks on this strong vignette (40 %) leave ~1 % fine
     structure (the true shading's inverse gives 0.05 %) */
  CHECK(fid < 0.015);
  sscor_image_free(&out);
  result_free(&r);
  /* explicit preset=flatfield with a flat-field and no pairs at all also works */
  g_free(props);
  props = g_strdup_printf("preset=flatfield location=%s", loc);
  run_spec sp0 = {props, 1, 0, 0, 2, 0, 0};
  run_train(s, &sp0, &r);
  CHECK_MSG(r.ok && r.model, "%s", r.error ? r.error : "no model");
  result_free(&r);
  g_free(props);
  g_free(loc);
}

static int cmp(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* cpu preset on flat-fielded pairs: losses fall, model = FLAT + G_C with the
 * scaling of the flat-fielded patches, buffer == file, it corrects. */
static void test_train_cpu(const scene *s) {
  gchar *loc = path_in("cpu.sscor");
  int epochs = sanitize ? 2 : 6, pairs = sanitize ? 12 : 32;
  gchar *props = g_strdup_printf("preset=cpu epochs=%d seed=5 progress-interval=0 location=%s", epochs, loc);
  run_spec sp = {props, 1, 0, pairs, 2, 0, 0};
  run_result r;
  run_train(s, &sp, &r);
  CHECK_MSG(r.ok, "%s", r.error ? r.error : "no EOS");
  CHECK(r.model && file_equals(loc, r.model, r.len));
  CHECK_MSG(r.progress == epochs * pairs && r.last_step == r.steps && r.steps == epochs * pairs,
            "%d messages, step %ld of %ld", r.progress, (long)r.last_step, (long)r.steps);
  printf("cpu preset: losses D %.4f -> %.4f, cycle+identity epoch 1 %.4f -> epoch %d %.4f\n", r.first_d, r.last_d,
         r.epoch1_content, epochs, r.last_content);
  CHECK_MSG(r.last_d < r.first_d, "discriminator loss did not fall: %.4f -> %.4f", r.first_d, r.last_d);
  sscor_model m;
  if (r.model && sscor_model_from_memory(r.model, r.len, "buffer", &m) == SSCOR_OK) {
    CHECK(m.corrector && m.geometry && m.flatfield && m.patch == PATCH && strcmp(m.preset, "cpu") == 0);
    /* scaling: 0.5 / 99.5 percentiles of the flat-fielded patches, computed here by sorting */
    int n = 2 * pairs * PATCH * PATCH, k = 0;
    float *v = malloc(sizeof(float) * n);
    for (int i = 0; i < pairs; i++)
      for (int side = 0; side < 2; side++) {
        int px = side ? s->pairs[i].nx : s->pairs[i].ax, py = side ? s->pairs[i].ny : s->pairs[i].ay;
        for (int y = 0; y < PATCH; y++)
          for (int x = 0; x < PATCH; x++)
            v[k++] = (float)(sscor_image_get(&s->img, px + x, py + y, 0) /
                             sscor_flatfield_gain(s->ff, px + x + 0.5, py + y + 0.5));
      }
    qsort(v, n, sizeof *v, cmp);
    double lo = v[(int)(0.005 * (n - 1) + 0.5)], hi = v[(int)(0.995 * (n - 1) + 0.5)];
    CHECK_CLOSE(m.low[0], lo, 2.0, 0.002);
    CHECK_CLOSE(m.high[0], hi, 2.0, 0.002);
    free(v);
    sscor_model_clear(&m);
  } else {
    CHECK_MSG(0, "no model buffer: %s", r.model ? sscor_last_error() : "none");
  }
  /* the network is applied after the flat-field; on so few iterations from
     its identity start it changes little, and must not make things worse */
  gchar *flat = path_in("flat.sscor");
  sscor_image out_flat = {0}, out = {0};
  double sum_flat, sum_cpu, before = shading_residual(&s->img),
                            after_flat = corrected_image(s, flat, &sum_flat, &out_flat),
                            after = corrected_image(s, loc, &sum_cpu, &out);
  double r_flat = out_flat.data ? seam_ratio(&out_flat) : NAN, r_cpu = out.data ? seam_ratio(&out) : NAN,
         fid_flat = out_flat.data ? fidelity(&out_flat, &s->img) : NAN, fid = out.data ? fidelity(&out, &s->img) : NAN;
  printf("cpu preset (flat-field + G_C): shading residual %.6f -> %.6f (flat-field alone %.6f), seam ratio %.3f -> "
         "%.3f (flat-field alone %.3f), fidelity %.3f %%; output sums differ by %.1f\n",
         before, after, after_flat, seam_ratio(&s->img), r_cpu, r_flat, 100 * fid, sum_cpu - sum_flat);
  CHECK(after > 0 && after < 0.6 * before && after < 1.02 * after_flat);
  CHECK(r_cpu < 1.02 * r_flat && fid < fid_flat + 0.001); /* the network invents no texture */
  CHECK(sum_cpu != sum_flat);
  sscor_image_free(&out_flat);
  sscor_image_free(&out);
  g_free(flat);
  result_free(&r);
  g_free(props);
  g_free(loc);
}

/* No analysis: the network alone, on raw RGB pairs; per-channel scaling
 * differs between channels, joint does not; the same pairs as channel-
 * sequential frames give the same model as interleaved ones. */
static void test_channels(const scene *s) {
  const char *common = "preset=cpu epochs=1 progress-interval=100";
  gchar *props = g_strdup_printf("%s joint-channels=false", common);
  run_spec sp = {props, 3, 0, 8, 0, 0, 0};
  run_result r;
  run_train(s, &sp, &r);
  CHECK_MSG(r.ok && r.model, "%s", r.error ? r.error : "no model");
  CHECK(r.progress == 2); /* first and last only */
  sscor_model m;
  if (r.model && sscor_model_from_memory(r.model, r.len, "buffer", &m) == SSCOR_OK) {
    CHECK(m.channels == 3 && m.corrector && !m.geometry && !m.flatfield && m.sample_format == SSCOR_SAMPLE_U8);
    /* channel c is (1 + 0.1 c) times channel 0 */
    CHECK(m.high[2] > 1.1 * m.high[0]);
    sscor_model_clear(&m);
  }
  result_free(&r);
  g_free(props);
  /* RGBA: alpha is not a colour, the model has 3 channels; joint scaling */
  run_spec sp4 = {common, 4, 0, 8, 0, 0, 0};
  run_train(s, &sp4, &r);
  CHECK_MSG(r.ok && r.model, "%s", r.error ? r.error : "no model");
  if (r.model && sscor_model_from_memory(r.model, r.len, "buffer", &m) == SSCOR_OK) {
    CHECK(m.channels == 3 && m.low[0] == m.low[2] && m.high[0] == m.high[2]);
    sscor_model_clear(&m);
  }
  result_free(&r);
  /* channel-sequential frames (GRAY8, one per channel) == interleaved RGB */
  run_result a, b;
  run_spec si = {common, 3, 0, 8, 0, 0, 0}, ss = {common, 3, 1, 8, 0, 0, 0};
  run_train(s, &si, &a);
  run_train(s, &ss, &b);
  CHECK_MSG(b.ok, "%s", b.error ? b.error : "no EOS");
  CHECK(a.model && b.model && a.len == b.len && memcmp(a.model, b.model, a.len) == 0);
  result_free(&a);
  result_free(&b);
}

/* A run stopped by its budget after one iteration saves a checkpoint; resumed
 * it gives the model of an uninterrupted run, byte for byte. */
static void test_resume(const scene *s) {
  gchar *ck = path_in("ck.sscor");
  const char *common = "preset=cpu epochs=2 seed=9 progress-interval=0";
  run_spec sp = {common, 1, 0, 8, 2, 0, 0};
  run_result full, part, res;
  run_train(s, &sp, &full);
  CHECK_MSG(full.ok && full.model, "%s", full.error ? full.error : "no model");
  gchar *p1 = g_strdup_printf("%s budget=0.000001 checkpoint-location=%s", common, ck);
  sp.props = p1;
  run_train(s, &sp, &part);
  CHECK_MSG(part.ok && part.model, "%s", part.error ? part.error : "no model");
  CHECK_MSG(part.last_step == 1 && part.steps == 16, "stopped at step %ld of %ld", (long)part.last_step,
            (long)part.steps);
  CHECK(access(ck, R_OK) == 0);
  CHECK(part.model && full.model && (part.len != full.len || memcmp(part.model, full.model, part.len)));
  gchar *p2 = g_strdup_printf("%s resume=true checkpoint-location=%s", common, ck);
  sp.props = p2;
  run_train(s, &sp, &res);
  CHECK_MSG(res.ok && res.model, "%s", res.error ? res.error : "no model");
  CHECK_MSG(res.model && full.model && res.len == full.len && memcmp(res.model, full.model, res.len) == 0,
            "resumed model differs from the uninterrupted one");
  result_free(&res);
  /* checkpoints on an interval (here after every iteration but the last):
     the run's model is unchanged, and resuming its last checkpoint finishes
     the one iteration left to the same model */
  gchar *ck2 = path_in("ck2.sscor");
  gchar *p3 = g_strdup_printf("%s checkpoint-interval=0.000001 checkpoint-location=%s", common, ck2);
  sp.props = p3;
  run_train(s, &sp, &res);
  CHECK(res.ok && res.model && res.len == full.len && memcmp(res.model, full.model, res.len) == 0);
  CHECK(access(ck2, R_OK) == 0);
  result_free(&res);
  g_free(p3);
  p3 = g_strdup_printf("%s resume=true checkpoint-location=%s", common, ck2);
  sp.props = p3;
  run_train(s, &sp, &res);
  CHECK_MSG(res.ok && res.model && res.progress == 1 && res.last_step == 16, "%s, %d messages, last step %ld",
            res.error ? res.error : "ok", res.progress, (long)res.last_step);
  CHECK(res.model && res.len == full.len && memcmp(res.model, full.model, res.len) == 0);
  result_free(&res);
  g_free(p3);
  g_free(ck2);
  sp.props = p2;
  /* other pairs: refused, naming the checkpoint */
  sp.pairs = 9;
  run_train(s, &sp, &res);
  CHECK_MSG(!res.ok && res.error && strstr(res.error, "other training pairs") && strstr(res.error, ck), "%s",
            res.error ? res.error : "no error");
  result_free(&res);
  /* a corrupt checkpoint */
  FILE *f = fopen(ck, "r+b");
  if (f) {
    fseek(f, 100, SEEK_SET);
    fputc(0x55, f);
    fclose(f);
  }
  sp.pairs = 8;
  run_train(s, &sp, &res);
  CHECK_MSG(!res.ok && res.error && strstr(res.error, "Cannot resume") && strstr(res.error, ck), "%s",
            res.error ? res.error : "no error");
  result_free(&res);
  result_free(&part);
  result_free(&full);
  g_free(p1);
  g_free(p2);
  g_free(ck);
}

static void expect_stream_error(const scene *s, const run_spec *sp, const char *what, const char *loc) {
  run_result r;
  run_train(s, sp, &r);
  CHECK_MSG(!r.ok && r.error && strstr(r.error, what), "expected \"%s\", got %s", what,
            r.error ? r.error : "no error");
  CHECK(r.model == NULL);
  if (loc) CHECK_MSG(access(loc, F_OK) != 0, "%s left after an error", loc);
  result_free(&r);
}

static void test_errors(const scene *s) {
  /* an analysis without a flat-field (GEOM alone) is a valid model file that
     corrects nothing: it loads, and a corrector refuses it */
  {
    sscor_model a, b;
    memset(&a, 0, sizeof a);
    a.channels = 1;
    a.patch = PATCH;
    a.high[0] = 65535;
    CHECK(sscor_model_set_flatfield(&a, &s->g, NULL) == SSCOR_OK);
    uint8_t *buf;
    size_t len;
    CHECK(sscor_model_to_memory(&a, &buf, &len) == SSCOR_OK);
    CHECK(sscor_model_from_memory(buf, len, "analysis", &b) == SSCOR_OK);
    CHECK(b.geometry && !b.flatfield && !b.corrector);
    sscor_corrector *c = NULL;
    CHECK(sscor_corrector_new(&b, NULL, &c) == SSCOR_E_INVALID && c == NULL);
    CHECK_MSG(strstr(sscor_last_error(), "holds no correction"), "%s", sscor_last_error());
    free(buf);
    sscor_model_clear(&a);
    sscor_model_clear(&b);
  }
  gchar *loc = path_in("bad.sscor");
  unlink(loc);
  gchar *props = g_strdup_printf("preset=cpu epochs=1 location=%s", loc);
  run_spec sp = {props, 1, 0, 7, 0, 0, 0};
  expect_stream_error(s, &sp, "Too few training pairs: 7", loc);
  /* preset=flatfield without a flat-field (analysis without FLAT, or none) */
  gchar *pf = g_strdup_printf("preset=flatfield location=%s", loc);
  run_spec sf = {pf, 1, 0, 8, 1, 0, 0};
  expect_stream_error(s, &sf, "no FLAT section", loc);
  sf.analysis = 0;
  expect_stream_error(s, &sf, "no analysis came", loc);
  /* pairs disagreeing with the analysis */
  run_spec sc = {props, 1, 0, 8, 2, 3, 0};
  expect_stream_error(s, &sc, "the pairs have 1 channels, the analysis 3", loc);
  run_spec sfmt = {props, 1, 0, 8, 2, 0, SSCOR_SAMPLE_U8};
  expect_stream_error(s, &sfmt, "the pairs are 16-bit, the analysis is for 8-bit", loc);
  /* a pair of a larger image than the analysis describes */
  {
    GstBus *bus;
    GstElement *el = make_train(props, &bus);
    GstHarness *h = gst_harness_new_with_element(el, "sink", "src");
    gst_object_unref(el);
    gst_harness_set_src_caps_str(h, caps_for(1, 0));
    gst_harness_push_event(h, analysis_event(s, 1, SSCOR_SAMPLE_U16, 1));
    GstBuffer *b = pair_buffer(s, 0, 1, -1);
    ((GstSscorPairMeta *)gst_buffer_get_meta(b, pair_info->api))->image_width += 10;
    CHECK(gst_harness_push(h, b) == GST_FLOW_ERROR);
    run_result r = {0};
    read_bus(bus, &r);
    CHECK_MSG(r.error && strstr(r.error, "the analysis describes 512x384"), "%s", r.error ? r.error : "no error");
    result_free(&r);
    /* frames without a pair meta, and of the wrong size */
    gst_harness_teardown(h);
    gst_object_unref(bus);
    el = make_train(props, &bus);
    h = gst_harness_new_with_element(el, "sink", "src");
    gst_object_unref(el);
    gst_harness_set_src_caps_str(h, caps_for(1, 0));
    CHECK(gst_harness_push(h, gst_buffer_new_allocate(NULL, 64 * 32 * 2, NULL)) == GST_FLOW_ERROR);
    read_bus(bus, &r);
    CHECK_MSG(r.error && strstr(r.error, "Frame 0 is not a training pair"), "%s", r.error ? r.error : "no error");
    result_free(&r);
    gst_harness_teardown(h);
    gst_object_unref(bus);
    el = make_train(props, &bus);
    h = gst_harness_new_with_element(el, "sink", "src");
    gst_object_unref(el);
    gst_harness_set_src_caps_str(h, "video/x-raw,format=GRAY16_LE,width=64,height=64,framerate=0/1");
    b = gst_buffer_new_allocate(NULL, 64 * 64 * 2, NULL);
    GstSscorPairMeta *pm = add_pair_meta(b);
    pm->patch = 32;
    CHECK(gst_harness_push(h, b) == GST_FLOW_ERROR);
    read_bus(bus, &r);
    CHECK_MSG(r.error && strstr(r.error, "the frame is 64x64, a pair of 32 px patches is 64x32"), "%s",
              r.error ? r.error : "no error");
    result_free(&r);
    gst_harness_teardown(h);
    gst_object_unref(bus);
    /* a patch the networks cannot take: the discriminator needs more than 16 px */
    el = make_train(props, &bus);
    h = gst_harness_new_with_element(el, "sink", "src");
    gst_object_unref(el);
    gst_harness_set_src_caps_str(h, "video/x-raw,format=GRAY16_LE,width=32,height=16,framerate=0/1");
    b = gst_buffer_new_allocate(NULL, 32 * 16 * 2, NULL);
    add_pair_meta(b)->patch = 16;
    CHECK(gst_harness_push(h, b) == GST_FLOW_ERROR);
    read_bus(bus, &r);
    CHECK_MSG(r.error && strstr(r.error, "Pairs of 16 px do not suit preset cpu"), "%s", r.error ? r.error : "no error");
    result_free(&r);
    gst_harness_teardown(h);
    gst_object_unref(bus);
  }
  CHECK(access(loc, F_OK) != 0);
  /* settings refused when the stream starts */
  struct {
    const char *props, *what;
  } bad[] = {
      {"preset=bogus", "Unknown preset \"bogus\""},
      {"epochs=-1", "epochs=-1 is out of range"},
      {"epochs=100001", "epochs=100001 is out of range"},
      {"threads=999", "threads=999 is out of range"},
      {"budget=-1", "budget=-1 is out of range"},
      {"checkpoint-interval=-5", "checkpoint-interval=-5 is out of range"},
      {"progress-interval=-1", "progress-interval=-1 is out of range"},
      {"location=/nonexistent-dir/m.sscor", "cannot write into /nonexistent-dir"},
      {"location=/tmp", "/tmp is a folder"},
      {"resume=true", "resume=true needs checkpoint-location"},
      {"resume=true checkpoint-location=/tmp/sscor-no-such-checkpoint", "Cannot resume from"},
      {"checkpoint-location=/nonexistent-dir/ck", "Cannot write checkpoints"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char *e = start_error(bad[i].props);
    CHECK_MSG(strstr(e, bad[i].what), "%s: expected \"%s\", got %s", bad[i].props, bad[i].what, e);
    g_free(e);
  }
  g_free(pf);
  g_free(props);
  g_free(loc);
}

/* ---- pipelines: no downstream element, and a stop during training -------- */

static GstElement *appsrc_pipeline(const char *tail) {
  gchar *d = g_strdup_printf("appsrc name=src format=time caps=%s ! sscortrain name=train %s", caps_for(1, 0), tail);
  GError *e = NULL;
  GstElement *p = gst_parse_launch(d, &e);
  CHECK_MSG(p && !e, "%s: %s", d, e ? e->message : "?");
  if (e) g_error_free(e);
  g_free(d);
  return p;
}

static void feed(GstElement *p, const scene *s, int n) {
  GstElement *src = gst_bin_get_by_name(GST_BIN(p), "src");
  for (int i = 0; i < n; i++) {
    GstFlowReturn ret;
    g_signal_emit_by_name(src, "push-buffer", pair_buffer(s, i, 1, -1), &ret);
    /* push-buffer takes its own reference */
  }
  GstFlowReturn ret;
  g_signal_emit_by_name(src, "end-of-stream", &ret);
  gst_object_unref(src);
}

static void test_pipelines(const scene *s) {
  gchar *a = path_in("unlinked.sscor"), *b = path_in("filesink.sscor");
  /* no element after sscortrain: it ends the pipeline and posts EOS */
  gchar *t = g_strdup_printf("preset=cpu epochs=1 location=%s", a);
  GstElement *p = appsrc_pipeline(t);
  g_free(t);
  gst_element_set_state(p, GST_STATE_PLAYING);
  feed(p, s, 8);
  GstBus *bus = gst_element_get_bus(p);
  GstMessage *m = gst_bus_timed_pop_filtered(bus, 120 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  CHECK_MSG(m && GST_MESSAGE_TYPE(m) == GST_MESSAGE_EOS, "unlinked src pad: %s",
            m ? "error instead of EOS" : "no EOS (hang)");
  if (m) gst_message_unref(m);
  gst_object_unref(bus);
  gst_element_set_state(p, GST_STATE_NULL);
  gst_object_unref(p);
  sscor_model model;
  CHECK(sscor_model_load(a, &model) == SSCOR_OK);
  sscor_model_clear(&model);
  /* ! filesink: the same model, and EOS once both have finished */
  t = g_strdup_printf("preset=cpu epochs=1 ! filesink location=%s", b);
  p = appsrc_pipeline(t);
  g_free(t);
  gst_element_set_state(p, GST_STATE_PLAYING);
  feed(p, s, 8);
  bus = gst_element_get_bus(p);
  m = gst_bus_timed_pop_filtered(bus, 120 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  CHECK_MSG(m && GST_MESSAGE_TYPE(m) == GST_MESSAGE_EOS, "filesink: %s", m ? "error" : "no EOS");
  if (m) gst_message_unref(m);
  gst_object_unref(bus);
  gst_element_set_state(p, GST_STATE_NULL);
  gst_object_unref(p);
  uint8_t *buf;
  size_t len;
  if (sscor_read_file(a, &buf, &len) == SSCOR_OK) {
    CHECK(file_equals(b, buf, len));
    free(buf);
  }

  /* a stop during a long training: prompt, no model, a checkpoint to resume */
  gchar *c = path_in("stopped.sscor"), *ck = path_in("stopped.ck");
  t = g_strdup_printf("preset=cpu epochs=100000 location=%s checkpoint-location=%s", c, ck);
  p = appsrc_pipeline(t);
  g_free(t);
  gst_element_set_state(p, GST_STATE_PLAYING);
  feed(p, s, 8);
  bus = gst_element_get_bus(p);
  int training = 0;
  while ((m = gst_bus_timed_pop_filtered(bus, 60 * GST_SECOND, GST_MESSAGE_ELEMENT | GST_MESSAGE_ERROR))) {
    training = GST_MESSAGE_TYPE(m) == GST_MESSAGE_ELEMENT &&
               gst_structure_has_name(gst_message_get_structure(m), "sscor-train-progress");
    gst_message_unref(m);
    if (training) break;
  }
  CHECK_MSG(training, "training did not start");
  gint64 t0 = g_get_monotonic_time();
  gst_element_set_state(p, GST_STATE_NULL);
  double stop_s = (g_get_monotonic_time() - t0) / 1e6;
  printf("stop during training took %.3f s\n", stop_s);
  CHECK_MSG(stop_s < 10, "stopping took %.1f s", stop_s);
  CHECK(access(c, F_OK) != 0);
  CHECK(access(ck, R_OK) == 0);
  gst_object_unref(bus);
  gst_object_unref(p);
  g_free(c);
  g_free(ck);
  g_free(a);
  g_free(b);
}

/* Not a test: SSCOR_TRAIN_EXPERIMENT=EPOCHS trains the network alone (no
 * flat-field) on every pair of the scene and prints what it does. */
static void experiment(int epochs) {
  scene s;
  scene_make(&s, 0);
  gchar *loc = path_in("exp.sscor");
  gchar *props = g_strdup_printf("preset=cpu epochs=%d progress-interval=5 location=%s", epochs, loc);
  run_spec sp = {props, 1, 0, s.n, 1, 0, 0};
  run_result r;
  gint64 t0 = g_get_monotonic_time();
  run_train(&s, &sp, &r);
  double secs = (g_get_monotonic_time() - t0) / 1e6;
  sscor_image out = {0};
  double res = corrected_image(&s, loc, NULL, &out), fid = fidelity(&out, &s.img);
  printf("network alone: %d pairs, %d epochs, %.1f s: residual %.4f -> %.4f, seam ratio %.3f -> %.3f, "
         "fidelity %.2f %%, D %.3f -> %.3f\n",
         s.n, epochs, secs, shading_residual(&s.img), res, seam_ratio(&s.img), seam_ratio(&out), 100 * fid,
         r.first_d, r.last_d);
  sscor_image_free(&out);
  result_free(&r);
  g_free(props);
  g_free(loc);
  scene_free(&s);
}

int main(int argc, char **argv) {
  setenv("GST_REGISTRY_FORK", "no", 0);
  gst_init(&argc, &argv);
  sanitize = getenv("SSCOR_SANITIZE") && atoi(getenv("SSCOR_SANITIZE"));
  CHECK(mkdtemp(dir) != NULL);
  GstElement *probe = gst_element_factory_make("sscortrain", NULL);
  CHECK_MSG(probe != NULL, "plugin sscor not found (GST_PLUGIN_PATH)");
  if (!probe) return CHECK_DONE();
  gst_object_unref(probe);
  pair_info = gst_meta_get_info("GstSscorPairMeta");
  CHECK(pair_info != NULL);
  if (getenv("SSCOR_TRAIN_EXPERIMENT")) {
    experiment(atoi(getenv("SSCOR_TRAIN_EXPERIMENT")));
    return CHECK_DONE();
  }
  scene s;
  scene_make(&s, 32);
  test_flatfield_preset(&s);
  test_train_cpu(&s);
  test_channels(&s);
  test_resume(&s);
  test_errors(&s);
  test_pipelines(&s);
  scene_free(&s);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  CHECK(system(cmd) == 0);
  return CHECK_DONE();
}
