/* sscortrain: trains an sscor model from training pairs.
 *
 *   gst-launch-1.0 sscorslidesrc location=in.tif ! sscorsample ! sscortrain \
 *       ! filesink location=model.sscor
 *   gst-launch-1.0 ... ! sscorsample ! sscortrain location=model.sscor
 *
 * Input: frames 2*patch wide and patch high, the anomaly patch left and its
 * normal right, each with a GstSscorPairMeta (positions in the image), in
 * GRAY8, GRAY16_LE, RGB or RGBA (alpha is ignored: the model covers the
 * colours), or one GRAY frame per channel in the channel-sequential layout.
 * Before the first pair, the sticky "sscor-analysis" event may bring the
 * analysis of the image (META, GEOM and the seam-aware flat-field FLAT).
 *
 * At EOS, in the streaming thread: with preset "flatfield" the model is the
 * analysis' flat-field (nothing is trained); with "cpu" or "paper" every
 * patch is flat-fielded at its image position first (flatfield-first), then
 * G_C is trained on the pairs and stored with the intensity scaling next to
 * the analysis' GEOM + FLAT. The model goes to `location` (written under a
 * temporary name and renamed) and downstream as one buffer followed by EOS.
 *
 * With its src pad unlinked the element is the end of the pipeline: it then
 * flags itself a sink and posts the EOS message itself, so that
 * `... ! sscortrain location=m.sscor` ends like any sink pipeline. A state
 * change to READY or NULL (Ctrl-C in gst-launch) or a flush stops training
 * after the current iteration; with checkpoint-location the state is saved
 * then, and resume=true continues from it. */
#include "gstsscortrain.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

GST_DEBUG_CATEGORY_STATIC(sscor_train_debug);
#define GST_CAT_DEFAULT sscor_train_debug

enum {
  PROP_0,
  PROP_LOCATION,
  PROP_PRESET,
  PROP_EPOCHS,
  PROP_SEED,
  PROP_THREADS,
  PROP_BUDGET,
  PROP_JOINT_CHANNELS,
  PROP_FLATFIELD_FIRST,
  PROP_CHECKPOINT_LOCATION,
  PROP_CHECKPOINT_INTERVAL,
  PROP_RESUME,
  PROP_PROGRESS_INTERVAL
};

#define MIN_PAIRS 8
#define MAX_EPOCHS 100000
#define MAX_THREADS 256
#define DEFAULT_PRESET "auto"
#define DEFAULT_CHECKPOINT_INTERVAL 300.0
#define DEFAULT_PROGRESS_INTERVAL 1.0

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE(
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE("{ GRAY8, GRAY16_LE, RGB, RGBA }")));
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(GST_SSCOR_MODEL_CAPS));

G_DEFINE_TYPE(GstSscorTrain, gst_sscor_train, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE(sscortrain, "sscortrain", GST_RANK_NONE, GST_TYPE_SSCOR_TRAIN);

/* ---- settings ------------------------------------------------------------- */

static void settings_clear(GstSscorTrainSettings *s) {
  g_clear_pointer(&s->location, g_free);
  g_clear_pointer(&s->preset, g_free);
  g_clear_pointer(&s->checkpoint_location, g_free);
}

static void settings_copy(const GstSscorTrainSettings *src, GstSscorTrainSettings *dst) {
  settings_clear(dst);
  *dst = *src;
  dst->location = src->location && *src->location ? g_strdup(src->location) : NULL;
  dst->preset = g_strdup(src->preset ? src->preset : DEFAULT_PRESET);
  dst->checkpoint_location =
      src->checkpoint_location && *src->checkpoint_location ? g_strdup(src->checkpoint_location) : NULL;
}

/* A file can be created at path (core/fileio.h: not a folder, its folder takes a new file). */
static gboolean can_create(const gchar *path, gchar **why) {
  if (sscor_check_output(path, NULL) == SSCOR_OK) return TRUE;
  *why = g_strdup(sscor_last_error());
  return FALSE;
}

/* Refuses settings that cannot work, before any data flows. */
static gboolean check_settings(GstSscorTrain *self) {
  const GstSscorTrainSettings *r = &self->run;
  gchar *why = NULL;
  if (strcmp(r->preset, "auto") && strcmp(r->preset, "flatfield")) {
    sscor_train_config cfg;
    if (sscor_train_preset(r->preset, 1, &cfg)) {
      GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("Unknown preset \"%s\"", r->preset),
                        ("preset must be auto, flatfield, cpu or paper"));
      return FALSE;
    }
  }
  if (r->epochs < 0 || r->epochs > MAX_EPOCHS) {
    GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("epochs=%d is out of range", r->epochs),
                      ("epochs must be 0 (the preset's) or 1..%d", MAX_EPOCHS));
    return FALSE;
  }
  if (r->threads < 0 || r->threads > MAX_THREADS) {
    GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("threads=%d is out of range", r->threads),
                      ("threads must be 0 (all cores) or 1..%d", MAX_THREADS));
    return FALSE;
  }
  if (!(r->budget >= 0 && isfinite(r->budget))) {
    GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("budget=%g is out of range", r->budget),
                      ("budget is seconds of training, >= 0 (0 = no limit)"));
    return FALSE;
  }
  if (!(r->checkpoint_interval >= 0 && isfinite(r->checkpoint_interval))) {
    GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("checkpoint-interval=%g is out of range", r->checkpoint_interval),
                      ("checkpoint-interval is seconds, >= 0 (0 = only when training stops early)"));
    return FALSE;
  }
  if (!(r->progress_interval >= 0 && isfinite(r->progress_interval))) {
    GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("progress-interval=%g is out of range", r->progress_interval),
                      ("progress-interval is seconds, >= 0 (0 = a message per iteration)"));
    return FALSE;
  }
  if (r->location && !can_create(r->location, &why)) {
    GST_ELEMENT_ERROR(self, RESOURCE, OPEN_WRITE, ("Cannot write the model to %s", r->location), ("%s", why));
    g_free(why);
    return FALSE;
  }
  if (r->resume && !r->checkpoint_location) {
    GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("resume=true needs checkpoint-location"),
                      ("set checkpoint-location to the checkpoint of the run to continue"));
    return FALSE;
  }
  if (r->checkpoint_location) {
    if (r->resume && access(r->checkpoint_location, R_OK) != 0) {
      GST_ELEMENT_ERROR(self, RESOURCE, NOT_FOUND, ("Cannot resume from %s", r->checkpoint_location),
                        ("%s: %s", r->checkpoint_location, g_strerror(errno)));
      return FALSE;
    }
    if (!can_create(r->checkpoint_location, &why)) {
      GST_ELEMENT_ERROR(self, RESOURCE, OPEN_WRITE, ("Cannot write checkpoints to %s", r->checkpoint_location),
                        ("%s", why));
      g_free(why);
      return FALSE;
    }
  }
  return TRUE;
}

/* ---- errors from the streaming thread ------------------------------------ */

/* gst-launch-1.0 stops its main loop from the bus sync handler when an error
 * is posted; an error posted while it is still setting the pipeline to PAUSED,
 * before that loop runs, is lost, and it then waits for EOS for ever (seen
 * with an immediate EOS). So an error found by the streaming thread that early
 * waits, at most 2 s, until the pipeline has started: PLAYING, or its state
 * change returned ASYNC (a sink after this element is prerolling). */
static void wait_pipeline_started(GstSscorTrain *self) {
  GstObject *top = gst_object_ref(GST_OBJECT(self)), *p;
  while ((p = gst_object_get_parent(top))) {
    gst_object_unref(top);
    top = p;
  }
  if (top != GST_OBJECT(self) && GST_IS_ELEMENT(top)) {
    gboolean started = FALSE;
    for (int i = 0; i < 2000 && !started && !g_atomic_int_get(&self->cancel); i++) {
      GST_OBJECT_LOCK(top);
      gboolean async = GST_STATE_RETURN(top) == GST_STATE_CHANGE_ASYNC;
      started = GST_STATE(top) == GST_STATE_PLAYING || async;
      GST_OBJECT_UNLOCK(top);
      if (async) g_usleep(20000); /* set_state returning, the loop starting */
      if (!started) g_usleep(1000);
    }
  }
  gst_object_unref(top);
}

#define STREAM_ERROR(self, ...)        \
  do {                                 \
    wait_pipeline_started(self);       \
    GST_ELEMENT_ERROR(self, __VA_ARGS__); \
  } while (0)

/* ---- stream state ----------------------------------------------------------- */

static void clear_pairs(GstSscorTrain *self) {
  for (int i = 0; i < self->n_pairs; i++) {
    sscor_image_free(&self->anomalies[i]);
    sscor_image_free(&self->normals[i]);
  }
  g_clear_pointer(&self->anomalies, g_free);
  g_clear_pointer(&self->normals, g_free);
  self->n_pairs = self->cap_pairs = 0;
  sscor_image_free(&self->seq);
  memset(&self->seq, 0, sizeof self->seq);
  self->seq_next = 0;
}

static void clear_analysis(GstSscorTrain *self) {
  if (self->have_analysis) sscor_model_clear(&self->analysis);
  memset(&self->analysis, 0, sizeof self->analysis);
  self->have_analysis = FALSE;
  if (self->have_geom) sscor_geometry_free(&self->geom);
  self->have_geom = FALSE;
  for (int k = 0; k < self->nff; k++) sscor_flatfield_free(self->ff[k]);
  self->nff = 0;
}

static void reset_stream(GstSscorTrain *self) {
  clear_pairs(self);
  clear_analysis(self);
  self->have_caps = FALSE;
  self->preset = NULL;
  self->channels = 0;
  self->patch = 0;
  self->frames = 0;
  self->failed = FALSE;
  self->have_progress = self->last_posted = FALSE;
  self->last_post_us = 0;
  g_atomic_int_set(&self->cancel, 0);
}

/* ---- analysis event --------------------------------------------------------- */

static gboolean take_analysis(GstSscorTrain *self, GBytes *bytes) {
  if (self->frames > 0) {
    STREAM_ERROR(self, STREAM, FAILED, ("The analysis changed after training pairs arrived"),
                 ("one model is trained per stream: send the analysis before the first pair"));
    return FALSE;
  }
  clear_analysis(self);
  gsize len;
  const guint8 *data = g_bytes_get_data(bytes, &len);
  if (sscor_model_from_memory(data, len, "analysis event", &self->analysis)) {
    STREAM_ERROR(self, STREAM, DECODE, ("Unreadable analysis from upstream"), ("%s", sscor_last_error()));
    return FALSE;
  }
  self->have_analysis = TRUE;
  if (self->analysis.geometry) {
    if (sscor_model_get_flatfields(&self->analysis, &self->geom, self->ff, &self->nff)) {
      STREAM_ERROR(self, STREAM, DECODE, ("Unreadable analysis from upstream"), ("%s", sscor_last_error()));
      return FALSE;
    }
    self->have_geom = TRUE;
  }
  GST_INFO_OBJECT(self, "analysis: %d channels, geometry %s, flat-field %s", self->analysis.channels,
                  self->have_geom ? "yes" : "no", self->nff ? "yes" : "no");
  return TRUE;
}

/* ---- pairs ------------------------------------------------------------------ */

static const char *format_name(sscor_sample_format f) {
  return f == SSCOR_SAMPLE_U8 ? "8-bit" : f == SSCOR_SAMPLE_U16 ? "16-bit" : f == SSCOR_SAMPLE_F32 ? "float" : "?";
}

/* "auto" is flatfield when the analysis carries a flat-field, else cpu;
 * flatfield without one is an error. Decided when the first pair (or EOS)
 * arrives: the analysis comes before it. */
static gboolean resolve_preset(GstSscorTrain *self) {
  if (!self->preset)
    self->preset = strcmp(self->run.preset, "auto") ? self->run.preset : self->nff ? "flatfield" : "cpu";
  if (strcmp(self->preset, "flatfield") == 0 && !self->nff) {
    STREAM_ERROR(self, STREAM, FAILED, ("preset=flatfield needs a flat-field"),
                 ("%s", self->have_analysis ? "the analysis from upstream carries none (no FLAT section)"
                                            : "no analysis came from upstream (sscorsample sends one)"));
    return FALSE;
  }
  return TRUE;
}

/* Checks the first pair against the analysis and the preset. */
static gboolean first_pair(GstSscorTrain *self, int channels, sscor_sample_type type, guint patch) {
  if (!resolve_preset(self)) return FALSE;
  self->channels = channels;
  self->type = type;
  self->patch = patch;
  sscor_sample_format fmt = (sscor_sample_format)(type + 1);
  if (self->have_analysis) {
    if (self->analysis.channels != channels) {
      STREAM_ERROR(self, STREAM, WRONG_TYPE, ("Pairs do not match the analysis"),
                   ("the pairs have %d channels, the analysis %d", channels, self->analysis.channels));
      return FALSE;
    }
    if (self->analysis.sample_format != SSCOR_SAMPLE_UNKNOWN && self->analysis.sample_format != fmt) {
      STREAM_ERROR(self, STREAM, WRONG_TYPE, ("Pairs do not match the analysis"),
                   ("the pairs are %s, the analysis is for %s samples", format_name(fmt),
                    format_name(self->analysis.sample_format)));
      return FALSE;
    }
  }
  if (strcmp(self->preset, "flatfield") == 0) return TRUE;
  sscor_train_config cfg;
  if (sscor_train_preset(self->preset, channels, &cfg)) {
    STREAM_ERROR(self, RESOURCE, SETTINGS, ("Cannot train %d channels", channels), ("%s", sscor_last_error()));
    return FALSE;
  }
  cfg.patch = (int)patch;
  if (sscor_train_config_check(&cfg)) {
    STREAM_ERROR(self, STREAM, WRONG_TYPE, ("Pairs of %u px do not suit preset %s", patch, self->preset),
                 ("%s (sample pairs with another patch size)", sscor_last_error()));
    return FALSE;
  }
  return TRUE;
}

/* Stores the pair in raw (2*patch x patch, all channels, the stream's type):
 * both halves converted to F32 and flat-fielded at their positions. */
static gboolean store_pair(GstSscorTrain *self, const sscor_image *raw, const GstSscorPairMeta *pm) {
  if (strcmp(self->preset, "flatfield") == 0) return TRUE; /* nothing to learn */
  if (self->n_pairs == self->cap_pairs) {
    int cap = self->cap_pairs ? 2 * self->cap_pairs : 256;
    self->anomalies = g_renew(sscor_image, self->anomalies, cap);
    self->normals = g_renew(sscor_image, self->normals, cap);
    self->cap_pairs = cap;
  }
  int nff = self->run.flatfield_first ? self->nff : 0;
  int P = (int)pm->patch, i = self->n_pairs;
  size_t ss = sscor_sample_size(raw->type) * raw->channels;
  sscor_image a, n;
  sscor_image_wrap(&a, raw->data, P, P, raw->channels, raw->type, raw->stride);
  sscor_image_wrap(&n, (guint8 *)raw->data + ss * P, P, P, raw->channels, raw->type, raw->stride);
  if (sscor_training_patch(&a, self->channels, self->ff, nff, (int)pm->anomaly_x, (int)pm->anomaly_y, &self->anomalies[i])) {
    STREAM_ERROR(self, STREAM, FAILED, ("Cannot prepare pair %u", pm->index), ("%s", sscor_last_error()));
    return FALSE;
  }
  if (sscor_training_patch(&n, self->channels, self->ff, nff, (int)pm->normal_x, (int)pm->normal_y, &self->normals[i])) {
    sscor_image_free(&self->anomalies[i]);
    STREAM_ERROR(self, STREAM, FAILED, ("Cannot prepare pair %u", pm->index), ("%s", sscor_last_error()));
    return FALSE;
  }
  self->n_pairs++;
  return TRUE;
}

static GstFlowReturn handle_frame(GstSscorTrain *self, GstBuffer *buf) {
  guint64 frame_no = self->frames++;
  if (!self->have_caps) {
    STREAM_ERROR(self, CORE, NEGOTIATION, ("No caps before the first frame"), (NULL));
    return GST_FLOW_NOT_NEGOTIATED;
  }
  GstSscorPairMeta *pm = gst_sscor_buffer_get_pair_meta(buf);
  if (!pm) {
    STREAM_ERROR(self, STREAM, FORMAT, ("Frame %" G_GUINT64_FORMAT " is not a training pair", frame_no),
                 ("it has no pair meta: sscortrain takes anomaly | normal pairs as sscorsample emits them"));
    return GST_FLOW_ERROR;
  }
  int fw = GST_VIDEO_INFO_WIDTH(&self->vinfo), fh = GST_VIDEO_INFO_HEIGHT(&self->vinfo);
  if (pm->patch < 4 || fw != 2 * (int)pm->patch || fh != (int)pm->patch) {
    STREAM_ERROR(self, STREAM, FORMAT, ("Pair %u has the wrong size", pm->index),
                 ("the frame is %dx%d, a pair of %u px patches is %ux%u", fw, fh, pm->patch, 2 * pm->patch,
                  pm->patch));
    return GST_FLOW_ERROR;
  }
  if (self->patch && pm->patch != self->patch) {
    STREAM_ERROR(self, STREAM, FORMAT, ("Pair %u has another patch size", pm->index),
                 ("%u px, earlier pairs %u px: one model has one patch size", pm->patch, self->patch));
    return GST_FLOW_ERROR;
  }
  if (self->have_geom && pm->image_width && pm->image_height &&
      (pm->image_width != (guint64)self->geom.width || pm->image_height != (guint64)self->geom.height)) {
    STREAM_ERROR(self, STREAM, FORMAT, ("Pair %u does not match the analysis", pm->index),
                 ("the pairs come from a %" G_GUINT64_FORMAT "x%" G_GUINT64_FORMAT
                  " image, the analysis describes %dx%d",
                  pm->image_width, pm->image_height, self->geom.width, self->geom.height));
    return GST_FLOW_ERROR;
  }
  GstVideoFormat vf = GST_VIDEO_INFO_FORMAT(&self->vinfo);
  int pixel_ch = vf == GST_VIDEO_FORMAT_RGB ? 3 : vf == GST_VIDEO_FORMAT_RGBA ? 4 : 1;
  sscor_sample_type type = vf == GST_VIDEO_FORMAT_GRAY16_LE ? SSCOR_U16 : SSCOR_U8;
  int seq = pm->channel >= 0;
  int channels = seq ? (int)pm->n_channels : pixel_ch == 4 ? 3 : pixel_ch;
  if (seq && (pixel_ch != 1 || pm->n_channels < 1 || pm->n_channels > SSCOR_MODEL_MAX_CHANNELS ||
              pm->channel >= (gint)pm->n_channels)) {
    STREAM_ERROR(self, STREAM, FORMAT, ("Pair %u: bad channel-sequential frame", pm->index),
                 ("channel %d of %u in a %s frame", pm->channel, pm->n_channels, gst_video_format_to_string(vf)));
    return GST_FLOW_ERROR;
  }
  if (!self->patch) {
    if (!first_pair(self, channels, type, pm->patch)) return GST_FLOW_ERROR;
  } else if (channels != self->channels) {
    STREAM_ERROR(self, STREAM, FORMAT, ("Pair %u has %d channels, earlier pairs %d", pm->index, channels,
                                        self->channels),
                 (NULL));
    return GST_FLOW_ERROR;
  }
  GstVideoFrame frame;
  if (!gst_video_frame_map(&frame, &self->vinfo, buf, GST_MAP_READ)) {
    STREAM_ERROR(self, STREAM, FAILED, ("Cannot map pair %u", pm->index), (NULL));
    return GST_FLOW_ERROR;
  }
  sscor_image img;
  sscor_image_wrap(&img, GST_VIDEO_FRAME_PLANE_DATA(&frame, 0), fw, fh, pixel_ch, type,
                   (size_t)GST_VIDEO_FRAME_PLANE_STRIDE(&frame, 0));
  gboolean ok = TRUE;
  if (!seq) {
    ok = store_pair(self, &img, pm);
  } else {
    /* one channel per frame: gather the pair's channels, then store it */
    if (pm->channel != self->seq_next ||
        (pm->channel > 0 && (pm->anomaly_x != self->seq_meta.anomaly_x || pm->anomaly_y != self->seq_meta.anomaly_y ||
                             pm->normal_x != self->seq_meta.normal_x || pm->normal_y != self->seq_meta.normal_y))) {
      STREAM_ERROR(self, STREAM, FORMAT, ("Pair %u: channel frames out of order", pm->index),
                   ("got channel %d, expected channel %d of the same pair", pm->channel, self->seq_next));
      ok = FALSE;
    } else {
      if (pm->channel == 0) {
        sscor_image_free(&self->seq);
        self->seq_meta = *pm;
        if (sscor_image_alloc(&self->seq, fw, fh, channels, type)) {
          STREAM_ERROR(self, RESOURCE, FAILED, ("Out of memory"), ("%s", sscor_last_error()));
          ok = FALSE;
        }
      }
      if (ok) {
        size_t ss = sscor_sample_size(type);
        for (int y = 0; y < fh; y++) {
          const guint8 *src = sscor_image_row(&img, y);
          guint8 *dst = (guint8 *)sscor_image_row(&self->seq, y) + ss * pm->channel;
          for (int x = 0; x < fw; x++) memcpy(dst + (size_t)x * ss * channels, src + (size_t)x * ss, ss);
        }
        self->seq_next = pm->channel + 1;
        if (self->seq_next == channels) {
          self->seq_next = 0;
          ok = store_pair(self, &self->seq, &self->seq_meta);
        }
      }
    }
  }
  gst_video_frame_unmap(&frame);
  return ok ? GST_FLOW_OK : GST_FLOW_ERROR;
}

static GstFlowReturn gst_sscor_train_chain(GstPad *pad, GstObject *parent, GstBuffer *buf) {
  (void)pad;
  GstSscorTrain *self = GST_SSCOR_TRAIN(parent);
  GstFlowReturn ret = GST_FLOW_ERROR;
  if (!self->failed) {
    ret = handle_frame(self, buf);
    if (ret != GST_FLOW_OK) self->failed = TRUE;
  }
  gst_buffer_unref(buf);
  return ret;
}

/* ---- training ----------------------------------------------------------- */

static void post_progress(GstSscorTrain *self, const sscor_train_progress *p) {
  const sscor_train_losses *l = &p->epoch_mean;
  GstStructure *s = gst_structure_new(
      "sscor-train-progress", "epoch", G_TYPE_INT, p->epoch + 1, "epochs", G_TYPE_INT, p->epochs, "iteration",
      G_TYPE_INT, p->iter, "iterations", G_TYPE_INT, p->iters, "step", G_TYPE_INT64, (gint64)p->step, "steps",
      G_TYPE_INT64, (gint64)p->steps, "percent", G_TYPE_DOUBLE,
      p->steps > 0 ? 100.0 * (double)p->step / (double)p->steps : 100.0, "g", G_TYPE_DOUBLE, l->g_total, "d",
      G_TYPE_DOUBLE, l->d_x + l->d_y, "cycle", G_TYPE_DOUBLE, l->cycle_x + l->cycle_y, "identity", G_TYPE_DOUBLE,
      l->idt_c + l->idt_s, "elapsed", G_TYPE_DOUBLE, p->elapsed_s, "eta", G_TYPE_DOUBLE, p->eta_s, "pairs",
      G_TYPE_INT, self->n_pairs, "patch", G_TYPE_INT, (gint)self->patch, "preset", G_TYPE_STRING, self->preset, NULL);
  gst_element_post_message(GST_ELEMENT(self), gst_message_new_element(GST_OBJECT(self), s));
  self->last_post_us = g_get_monotonic_time();
  self->last_posted = TRUE;
}

/* Trainer callback, in the streaming thread: messages at most every
 * progress-interval seconds (plus the first and the last), and the stop
 * request of a state change or flush. */
static int on_progress(const sscor_train_progress *p, void *user) {
  GstSscorTrain *self = user;
  if (g_atomic_int_get(&self->cancel)) return 1;
  gboolean first = !self->have_progress;
  self->last_progress = *p;
  self->have_progress = TRUE;
  self->last_posted = FALSE;
  if (first || p->step >= p->steps ||
      g_get_monotonic_time() - self->last_post_us >= (gint64)(self->run.progress_interval * 1e6))
    post_progress(self, p);
  return 0;
}

/* Builds the model at EOS into *buf. Returns FALSE after posting an error,
 * or with *cancelled set when a stop request ended training. */
static gboolean make_model(GstSscorTrain *self, uint8_t **buf, size_t *len, gboolean *cancelled) {
  *cancelled = FALSE;
  if (!resolve_preset(self)) return FALSE;
  gboolean flat = strcmp(self->preset, "flatfield") == 0;
  sscor_model m;
  memset(&m, 0, sizeof m);
  if (self->have_analysis) {
    m = self->analysis; /* borrows GEOM and FLAT */
    m.corrector = m.synthesiser = NULL;
  } else if (self->patch) {
    m.channels = self->channels;
    m.sample_format = (sscor_sample_format)(self->type + 1);
  }
  if (flat) {
    snprintf(m.preset, sizeof m.preset, "flatfield");
  } else {
    if (self->n_pairs < MIN_PAIRS) {
      STREAM_ERROR(self, STREAM, FAILED, ("Too few training pairs: %d", self->n_pairs),
                   ("training needs at least %d pairs; sample more (a longer step along the seams, more "
                    "tissue) or use preset=flatfield",
                    MIN_PAIRS));
      return FALSE;
    }
    if (!self->run.flatfield_first) { /* the plain CycleGAN: G_C alone, on raw patches */
      m.geometry = NULL;
      m.flatfield = NULL;
      m.flatfield_len = 0;
      m.flatfield_count = 0;
    }
    sscor_refine_params rp;
    sscor_refine_params_default(&rp);
    rp.preset = self->preset;
    rp.epochs = self->run.epochs;
    rp.seed = self->run.seed;
    rp.threads = self->run.threads;
    rp.budget_s = self->run.budget;
    rp.joint_channels = self->run.joint_channels;
    rp.checkpoint = self->run.checkpoint_location;
    rp.checkpoint_interval_s = self->run.checkpoint_interval;
    rp.resume = self->run.resume;
    GST_INFO_OBJECT(self, "training preset %s on %d pairs of %u px", self->preset, self->n_pairs, self->patch);
    int finished = 0;
    sscor_status st =
        sscor_train_patches(self->anomalies, self->normals, self->n_pairs, &rp, on_progress, self, &m, &finished);
    if (st) {
      sscor_net_destroy(m.corrector);
      if (rp.resume && (st == SSCOR_E_FORMAT || st == SSCOR_E_CORRUPT || st == SSCOR_E_IO))
        STREAM_ERROR(self, RESOURCE, READ, ("Cannot resume from %s", rp.checkpoint), ("%s", sscor_last_error()));
      else
        STREAM_ERROR(self, STREAM, FAILED, ("Training failed"), ("%s", sscor_last_error()));
      return FALSE;
    }
    if (g_atomic_int_get(&self->cancel)) {
      sscor_net_destroy(m.corrector);
      *cancelled = TRUE;
      return FALSE;
    }
    if (self->have_progress && !self->last_posted) post_progress(self, &self->last_progress);
    GST_INFO_OBJECT(self, "training %s", finished ? "finished" : "stopped by the budget");
  }
  sscor_status st = sscor_model_to_memory(&m, buf, len);
  if (!flat) sscor_net_destroy(m.corrector);
  if (st) {
    STREAM_ERROR(self, STREAM, FAILED, ("Cannot serialise the model"), ("%s", sscor_last_error()));
    return FALSE;
  }
  return TRUE;
}

/* Writes the model to `location` and pushes it downstream. */
static gboolean output_model(GstSscorTrain *self, uint8_t *buf, size_t len) {
  if (self->run.location && sscor_write_file_atomic(self->run.location, buf, len)) {
    STREAM_ERROR(self, RESOURCE, WRITE, ("Cannot write the model to %s", self->run.location),
                 ("%s", sscor_last_error()));
    free(buf);
    return FALSE;
  }
  if (!gst_pad_is_linked(self->srcpad)) {
    free(buf);
    return TRUE;
  }
  gchar *id = gst_pad_create_stream_id(self->srcpad, GST_ELEMENT(self), "model");
  GstEvent *ss = gst_event_new_stream_start(id);
  gst_event_set_group_id(ss, gst_util_group_id_next());
  g_free(id);
  gst_pad_push_event(self->srcpad, ss);
  GstCaps *caps = gst_caps_new_empty_simple(GST_SSCOR_MODEL_CAPS);
  gst_pad_push_event(self->srcpad, gst_event_new_caps(caps));
  gst_caps_unref(caps);
  GstSegment seg;
  gst_segment_init(&seg, GST_FORMAT_BYTES);
  gst_pad_push_event(self->srcpad, gst_event_new_segment(&seg));
  GstBuffer *out = gst_buffer_new_wrapped_full(0, buf, len, 0, len, buf, free);
  GST_BUFFER_OFFSET(out) = 0;
  GST_BUFFER_OFFSET_END(out) = len;
  GstFlowReturn ret = gst_pad_push(self->srcpad, out);
  if (ret != GST_FLOW_OK && ret != GST_FLOW_FLUSHING && ret != GST_FLOW_NOT_LINKED && ret != GST_FLOW_EOS) {
    GST_ELEMENT_FLOW_ERROR(self, ret);
    return FALSE;
  }
  return TRUE;
}

static void on_eos(GstSscorTrain *self, GstEvent *eos) {
  if (self->failed) {
    gst_event_unref(eos);
    return;
  }
  /* A stream cut before its end (e.g. an upstream seek) still gives EOS:
     nothing is trained when a stop was requested. */
  uint8_t *buf = NULL;
  size_t len = 0;
  gboolean cancelled;
  if (!make_model(self, &buf, &len, &cancelled) || !output_model(self, buf, len)) {
    if (!cancelled) self->failed = TRUE;
    gst_event_unref(eos);
    return;
  }
  guint32 seqnum = gst_event_get_seqnum(eos);
  if (gst_pad_is_linked(self->srcpad)) gst_pad_push_event(self->srcpad, gst_event_ref(eos));
  gst_event_unref(eos);
  if (GST_OBJECT_FLAG_IS_SET(self, GST_ELEMENT_FLAG_SINK)) {
    GstMessage *m = gst_message_new_eos(GST_OBJECT(self));
    gst_message_set_seqnum(m, seqnum);
    gst_element_post_message(GST_ELEMENT(self), m);
  }
}

/* ---- pads ------------------------------------------------------------------- */

static gboolean gst_sscor_train_sink_event(GstPad *pad, GstObject *parent, GstEvent *event) {
  GstSscorTrain *self = GST_SSCOR_TRAIN(parent);
  GBytes *bytes = NULL;
  switch (GST_EVENT_TYPE(event)) {
    case GST_EVENT_CAPS: {
      GstCaps *caps;
      gst_event_parse_caps(event, &caps);
      gboolean ok = gst_video_info_from_caps(&self->vinfo, caps);
      self->have_caps = ok;
      gst_event_unref(event);
      return ok;
    }
    case GST_EVENT_CUSTOM_DOWNSTREAM_STICKY:
      if (gst_sscor_analysis_event_parse(event, &bytes)) {
        gboolean ok = take_analysis(self, bytes);
        g_bytes_unref(bytes);
        if (!ok) self->failed = TRUE;
        gst_event_unref(event);
        return ok;
      }
      gst_event_unref(event);
      return TRUE;
    case GST_EVENT_EOS:
      on_eos(self, event);
      return TRUE;
    case GST_EVENT_FLUSH_START:
      g_atomic_int_set(&self->cancel, 1);
      return gst_pad_event_default(pad, parent, event);
    case GST_EVENT_FLUSH_STOP:
      /* the stream starts over: so does the collection */
      clear_pairs(self);
      self->frames = 0;
      self->patch = 0;
      self->failed = FALSE;
      self->have_progress = FALSE;
      g_atomic_int_set(&self->cancel, 0);
      return gst_pad_event_default(pad, parent, event);
    case GST_EVENT_STREAM_START:
    case GST_EVENT_SEGMENT:
    case GST_EVENT_TAG:
    case GST_EVENT_GAP:
      /* the output is a stream of its own, begun when the model is ready */
      gst_event_unref(event);
      return TRUE;
    default:
      return gst_pad_event_default(pad, parent, event);
  }
}

static gboolean gst_sscor_train_src_query(GstPad *pad, GstObject *parent, GstQuery *query) {
  switch (GST_QUERY_TYPE(query)) {
    case GST_QUERY_CAPS: {
      GstCaps *filter, *caps = gst_pad_get_pad_template_caps(pad);
      gst_query_parse_caps(query, &filter);
      if (filter) {
        GstCaps *c = gst_caps_intersect_full(filter, caps, GST_CAPS_INTERSECT_FIRST);
        gst_caps_unref(caps);
        caps = c;
      }
      gst_query_set_caps_result(query, caps);
      gst_caps_unref(caps);
      return TRUE;
    }
    default: return gst_pad_query_default(pad, parent, query);
  }
}

/* ---- element ------------------------------------------------------------------ */

static GstStateChangeReturn gst_sscor_train_change_state(GstElement *element, GstStateChange transition) {
  GstSscorTrain *self = GST_SSCOR_TRAIN(element);
  switch (transition) {
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      GST_OBJECT_LOCK(self);
      settings_copy(&self->props, &self->run);
      GST_OBJECT_UNLOCK(self);
      reset_stream(self);
      if (!check_settings(self)) return GST_STATE_CHANGE_FAILURE;
      /* nothing downstream: this element ends the pipeline, so it is the sink
         that tells the bin when the stream is done */
      if (gst_pad_is_linked(self->srcpad))
        GST_OBJECT_FLAG_UNSET(self, GST_ELEMENT_FLAG_SINK);
      else
        GST_OBJECT_FLAG_SET(self, GST_ELEMENT_FLAG_SINK);
      break;
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      /* before the pads deactivate, which waits for the streaming thread */
      g_atomic_int_set(&self->cancel, 1);
      break;
    default: break;
  }
  GstStateChangeReturn ret = GST_ELEMENT_CLASS(gst_sscor_train_parent_class)->change_state(element, transition);
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY) reset_stream(self);
  return ret;
}

static void gst_sscor_train_set_property(GObject *o, guint id, const GValue *v, GParamSpec *ps) {
  GstSscorTrain *self = GST_SSCOR_TRAIN(o);
  GstSscorTrainSettings *s = &self->props;
  GST_OBJECT_LOCK(self);
  switch (id) {
    case PROP_LOCATION:
      g_free(s->location);
      s->location = g_value_dup_string(v);
      break;
    case PROP_PRESET:
      g_free(s->preset);
      s->preset = g_value_dup_string(v);
      break;
    case PROP_CHECKPOINT_LOCATION:
      g_free(s->checkpoint_location);
      s->checkpoint_location = g_value_dup_string(v);
      break;
    case PROP_EPOCHS: s->epochs = g_value_get_int(v); break;
    case PROP_SEED: s->seed = g_value_get_uint64(v); break;
    case PROP_THREADS: s->threads = g_value_get_int(v); break;
    case PROP_BUDGET: s->budget = g_value_get_double(v); break;
    case PROP_JOINT_CHANNELS: s->joint_channels = g_value_get_boolean(v); break;
    case PROP_FLATFIELD_FIRST: s->flatfield_first = g_value_get_boolean(v); break;
    case PROP_CHECKPOINT_INTERVAL: s->checkpoint_interval = g_value_get_double(v); break;
    case PROP_RESUME: s->resume = g_value_get_boolean(v); break;
    case PROP_PROGRESS_INTERVAL: s->progress_interval = g_value_get_double(v); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(o, id, ps);
  }
  GST_OBJECT_UNLOCK(self);
}

static void gst_sscor_train_get_property(GObject *o, guint id, GValue *v, GParamSpec *ps) {
  GstSscorTrain *self = GST_SSCOR_TRAIN(o);
  const GstSscorTrainSettings *s = &self->props;
  GST_OBJECT_LOCK(self);
  switch (id) {
    case PROP_LOCATION: g_value_set_string(v, s->location); break;
    case PROP_PRESET: g_value_set_string(v, s->preset); break;
    case PROP_CHECKPOINT_LOCATION: g_value_set_string(v, s->checkpoint_location); break;
    case PROP_EPOCHS: g_value_set_int(v, s->epochs); break;
    case PROP_SEED: g_value_set_uint64(v, s->seed); break;
    case PROP_THREADS: g_value_set_int(v, s->threads); break;
    case PROP_BUDGET: g_value_set_double(v, s->budget); break;
    case PROP_JOINT_CHANNELS: g_value_set_boolean(v, s->joint_channels); break;
    case PROP_FLATFIELD_FIRST: g_value_set_boolean(v, s->flatfield_first); break;
    case PROP_CHECKPOINT_INTERVAL: g_value_set_double(v, s->checkpoint_interval); break;
    case PROP_RESUME: g_value_set_boolean(v, s->resume); break;
    case PROP_PROGRESS_INTERVAL: g_value_set_double(v, s->progress_interval); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(o, id, ps);
  }
  GST_OBJECT_UNLOCK(self);
}

static void gst_sscor_train_finalize(GObject *o) {
  GstSscorTrain *self = GST_SSCOR_TRAIN(o);
  reset_stream(self);
  settings_clear(&self->props);
  settings_clear(&self->run);
  G_OBJECT_CLASS(gst_sscor_train_parent_class)->finalize(o);
}

#define PFLAGS (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)

static void gst_sscor_train_class_init(GstSscorTrainClass *klass) {
  GObjectClass *oc = G_OBJECT_CLASS(klass);
  GstElementClass *ec = GST_ELEMENT_CLASS(klass);
  GST_DEBUG_CATEGORY_INIT(sscor_train_debug, "sscortrain", 0, "sscor training");
  oc->set_property = gst_sscor_train_set_property;
  oc->get_property = gst_sscor_train_get_property;
  oc->finalize = gst_sscor_train_finalize;
  /* Numeric ranges are checked when the stream starts, not by the GParamSpec:
     an out-of-range value then fails the pipeline with a message instead of
     a warning that leaves the default in place. */
  g_object_class_install_property(
      oc, PROP_LOCATION,
      g_param_spec_string("location", "Location",
                          "Write the model to this file (.sscor) at EOS, under a temporary name renamed when "
                          "complete; none = only the buffer pushed downstream",
                          NULL, PFLAGS));
  g_object_class_install_property(
      oc, PROP_PRESET,
      g_param_spec_string("preset", "Preset",
                          "What to make: auto (flatfield when the analysis carries a flat-field, else cpu), "
                          "flatfield (the analysis' seam-aware flat-field, nothing trained), cpu (small "
                          "identity-start gain network refining the flat-field, minutes on a CPU) or paper (the "
                          "published CycleGAN generator, meant for a GPU)",
                          DEFAULT_PRESET, PFLAGS));
  g_object_class_install_property(
      oc, PROP_EPOCHS,
      g_param_spec_int("epochs", "Epochs",
                       "Training epochs, half at the constant learning rate and half decaying (0 = the preset's; "
                       "1..100000)",
                       G_MININT, G_MAXINT, 0, PFLAGS));
  g_object_class_install_property(
      oc, PROP_SEED,
      g_param_spec_uint64("seed", "Seed",
                          "Seed of the network initialisation, pair order and flips: equal seeds, pairs and "
                          "settings give identical models",
                          0, G_MAXUINT64, 1, PFLAGS));
  g_object_class_install_property(
      oc, PROP_THREADS,
      g_param_spec_int("threads", "Threads", "Compute threads for training (0 = all cores; 1..256)", G_MININT,
                       G_MAXINT, 0, PFLAGS));
  g_object_class_install_property(
      oc, PROP_BUDGET,
      g_param_spec_double("budget", "Budget",
                          "Stop training after this many seconds and output the model as trained so far "
                          "(0 = no limit)",
                          -G_MAXDOUBLE, G_MAXDOUBLE, 0, PFLAGS));
  g_object_class_install_property(
      oc, PROP_JOINT_CHANNELS,
      g_param_spec_boolean("joint-channels", "Joint channels",
                           "Intensity scaling (0.5/99.5 percentiles of the pairs) shared by all channels, which "
                           "keeps colour balance; false = one range per channel, for channels of unrelated "
                           "brightness (e.g. fluorescence markers)",
                           TRUE, PFLAGS));
  g_object_class_install_property(
      oc, PROP_FLATFIELD_FIRST,
      g_param_spec_boolean("flatfield-first", "Flat-field first",
                           "Divide each patch by the analysis' flat-field at its image position before training, "
                           "so the network refines the flat-field and the model applies both; false = train on "
                           "raw patches (the plain CycleGAN) and leave the flat-field out of the model",
                           TRUE, PFLAGS));
  g_object_class_install_property(
      oc, PROP_CHECKPOINT_LOCATION,
      g_param_spec_string("checkpoint-location", "Checkpoint location",
                          "Save the whole training state here every checkpoint-interval seconds and when training "
                          "stops early (budget, pipeline stopped); none = no checkpoints",
                          NULL, PFLAGS));
  g_object_class_install_property(
      oc, PROP_CHECKPOINT_INTERVAL,
      g_param_spec_double("checkpoint-interval", "Checkpoint interval",
                          "Seconds between checkpoints (0 = only when training stops early)", -G_MAXDOUBLE,
                          G_MAXDOUBLE, DEFAULT_CHECKPOINT_INTERVAL, PFLAGS));
  g_object_class_install_property(
      oc, PROP_RESUME,
      g_param_spec_boolean("resume", "Resume",
                           "Continue the run saved in checkpoint-location: the same pairs (checked by CRC), "
                           "preset, epochs and seed give the model an uninterrupted run gives",
                           FALSE, PFLAGS));
  g_object_class_install_property(
      oc, PROP_PROGRESS_INTERVAL,
      g_param_spec_double("progress-interval", "Progress interval",
                          "Seconds between sscor-train-progress element messages; the first and last iteration "
                          "always post one (0 = every iteration)",
                          -G_MAXDOUBLE, G_MAXDOUBLE, DEFAULT_PROGRESS_INTERVAL, PFLAGS));
  gst_element_class_set_static_metadata(
      ec, "sscor trainer", "Sink/Filter/Video",
      "Trains an sscor stripe/seam correction model on anomaly | normal pairs and outputs the model at EOS",
      "sscor developers");
  gst_element_class_add_static_pad_template(ec, &sink_template);
  gst_element_class_add_static_pad_template(ec, &src_template);
  ec->change_state = gst_sscor_train_change_state;
}

static void gst_sscor_train_init(GstSscorTrain *self) {
  self->sinkpad = gst_pad_new_from_static_template(&sink_template, "sink");
  gst_pad_set_chain_function(self->sinkpad, GST_DEBUG_FUNCPTR(gst_sscor_train_chain));
  gst_pad_set_event_function(self->sinkpad, GST_DEBUG_FUNCPTR(gst_sscor_train_sink_event));
  GST_PAD_SET_ACCEPT_TEMPLATE(self->sinkpad);
  gst_element_add_pad(GST_ELEMENT(self), self->sinkpad);
  self->srcpad = gst_pad_new_from_static_template(&src_template, "src");
  gst_pad_set_query_function(self->srcpad, GST_DEBUG_FUNCPTR(gst_sscor_train_src_query));
  gst_pad_use_fixed_caps(self->srcpad);
  gst_element_add_pad(GST_ELEMENT(self), self->srcpad);
  self->props.preset = g_strdup(DEFAULT_PRESET);
  self->props.seed = 1;
  self->props.joint_channels = TRUE;
  self->props.flatfield_first = TRUE;
  self->props.checkpoint_interval = DEFAULT_CHECKPOINT_INTERVAL;
  self->props.progress_interval = DEFAULT_PROGRESS_INTERVAL;
}
