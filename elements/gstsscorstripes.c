/* sscorstripes: a GstVideoFilter that applies one or more seeded degradations
 * (stripes, tile shading, seams, defocus, bubbles, scan fringes; see
 * core/degrade.h) to every frame in place.
 *
 *   gst-launch-1.0 videotestsrc num-buffers=1 ! video/x-raw,format=GRAY8 \
 *     ! sscorstripes degradations="tile-varying:tile=64;bubble" ! pngenc ! filesink location=a.png
 */
#include "gstsscorstripes.h"

#include <gst/video/video.h>
#include <string.h>

#include "degrade.h"

GST_DEBUG_CATEGORY_STATIC(gst_sscor_stripes_debug);
#define GST_CAT_DEFAULT gst_sscor_stripes_debug

#define MAX_DEGS 16
#define DEFAULT_SPEC "stripes-regular"

struct _GstSscorStripes {
  GstVideoFilter parent;
  /* Guards everything below. Not the object lock: GST_ELEMENT_ERROR takes
   * that one, and errors are posted while this is held. */
  GMutex lock;
  /* properties */
  gchar *spec;
  gboolean per_frame;
  gchar *truth_location;
  /* parsed spec; spec_error holds the parse error until the stream starts */
  sscor_degradation degs[MAX_DEGS];
  int ndeg;
  gchar *spec_error;
  /* streaming state */
  sscor_degrade_plan *plan;
  guint64 frames;
};

enum { PROP_0, PROP_DEGRADATIONS, PROP_PER_FRAME, PROP_TRUTH_LOCATION };

#define FORMATS "{ GRAY8, GRAY16_LE, RGB, BGR }"

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE(
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(FORMATS)));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE(
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(FORMATS)));

G_DEFINE_TYPE(GstSscorStripes, gst_sscor_stripes, GST_TYPE_VIDEO_FILTER);
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE(sscorstripes, "sscorstripes", GST_RANK_NONE,
                                      GST_TYPE_SSCOR_STRIPES,
                                      GST_DEBUG_CATEGORY_INIT(gst_sscor_stripes_debug,
                                                              "sscorstripes", 0,
                                                              "sscor degradation filter"));

static void parse_spec(GstSscorStripes *self) {
  g_clear_pointer(&self->spec_error, g_free);
  int n = 0;
  if (sscor_degrade_parse(self->spec, self->degs, MAX_DEGS, &n)) {
    self->spec_error = g_strdup(sscor_last_error());
    self->ndeg = 0;
  } else {
    self->ndeg = n;
  }
}

static void gst_sscor_stripes_set_property(GObject *object, guint id, const GValue *value,
                                           GParamSpec *pspec) {
  GstSscorStripes *self = GST_SSCOR_STRIPES(object);
  g_mutex_lock(&self->lock);
  switch (id) {
  case PROP_DEGRADATIONS:
    g_free(self->spec);
    self->spec = g_value_dup_string(value);
    if (!self->spec) self->spec = g_strdup(DEFAULT_SPEC);
    parse_spec(self);
    if (self->spec_error) GST_WARNING_OBJECT(self, "degradations: %s", self->spec_error);
    g_clear_pointer(&self->plan, sscor_degrade_plan_free); /* rebuilt on the next frame */
    break;
  case PROP_PER_FRAME: self->per_frame = g_value_get_boolean(value); break;
  case PROP_TRUTH_LOCATION:
    g_free(self->truth_location);
    self->truth_location = g_value_dup_string(value);
    break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
  g_mutex_unlock(&self->lock);
}

static void gst_sscor_stripes_get_property(GObject *object, guint id, GValue *value,
                                           GParamSpec *pspec) {
  GstSscorStripes *self = GST_SSCOR_STRIPES(object);
  g_mutex_lock(&self->lock);
  switch (id) {
  case PROP_DEGRADATIONS: g_value_set_string(value, self->spec); break;
  case PROP_PER_FRAME: g_value_set_boolean(value, self->per_frame); break;
  case PROP_TRUTH_LOCATION: g_value_set_string(value, self->truth_location); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
  g_mutex_unlock(&self->lock);
}

/* Builds the plan for the negotiated size (seeds offset by the frame number
 * when per-frame) and writes the truth file when asked. self->lock held. */
static gboolean build_plan(GstSscorStripes *self, int width, int height, guint64 frame) {
  g_clear_pointer(&self->plan, sscor_degrade_plan_free);
  if (self->spec_error) {
    GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("Invalid degradations \"%s\".", self->spec),
                      ("%s", self->spec_error));
    return FALSE;
  }
  sscor_degradation d[MAX_DEGS];
  memcpy(d, self->degs, sizeof d);
  if (self->per_frame)
    for (int i = 0; i < self->ndeg; i++) d[i].seed += frame;
  if (sscor_degrade_plan_new(d, self->ndeg, width, height, &self->plan)) {
    GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS,
                      ("Invalid degradations \"%s\" for %dx%d frames.", self->spec, width, height),
                      ("%s", sscor_last_error()));
    return FALSE;
  }
  if (self->truth_location && *self->truth_location) {
    gchar *path = strchr(self->truth_location, '%')
                      ? g_strdup_printf(self->truth_location, (guint)frame)
                      : g_strdup(self->truth_location);
    sscor_status st = sscor_degrade_plan_write_truth(self->plan, path);
    if (st) {
      GST_ELEMENT_ERROR(self, RESOURCE, OPEN_WRITE, ("Cannot write the truth file \"%s\".", path),
                        ("%s", sscor_last_error()));
      g_free(path);
      return FALSE;
    }
    g_free(path);
  }
  return TRUE;
}

static gboolean gst_sscor_stripes_set_info(GstVideoFilter *filter, GstCaps *incaps,
                                           GstVideoInfo *in_info, GstCaps *outcaps,
                                           GstVideoInfo *out_info) {
  (void)incaps, (void)outcaps, (void)out_info;
  GstSscorStripes *self = GST_SSCOR_STRIPES(filter);
  g_mutex_lock(&self->lock);
  self->frames = 0;
  gboolean ok = build_plan(self, GST_VIDEO_INFO_WIDTH(in_info), GST_VIDEO_INFO_HEIGHT(in_info), 0);
  g_mutex_unlock(&self->lock);
  return ok;
}

static GstFlowReturn gst_sscor_stripes_transform_frame_ip(GstVideoFilter *filter,
                                                          GstVideoFrame *frame) {
  GstSscorStripes *self = GST_SSCOR_STRIPES(filter);
  int w = GST_VIDEO_FRAME_WIDTH(frame), h = GST_VIDEO_FRAME_HEIGHT(frame);
  GstVideoFormat fmt = GST_VIDEO_FRAME_FORMAT(frame);
  int channels = GST_VIDEO_FORMAT_INFO_IS_GRAY(frame->info.finfo) ? 1 : 3;
  sscor_sample_type type = fmt == GST_VIDEO_FORMAT_GRAY16_LE ? SSCOR_U16 : SSCOR_U8;
  sscor_image img;
  sscor_image_wrap(&img, GST_VIDEO_FRAME_PLANE_DATA(frame, 0), w, h, channels, type,
                   (size_t)GST_VIDEO_FRAME_PLANE_STRIDE(frame, 0));
  g_mutex_lock(&self->lock);
  guint64 n = self->frames++;
  if ((!self->plan || (self->per_frame && n > 0)) && !build_plan(self, w, h, n)) {
    g_mutex_unlock(&self->lock);
    return GST_FLOW_ERROR;
  }
  sscor_status st = sscor_degrade_plan_apply(self->plan, &img);
  g_mutex_unlock(&self->lock);
  if (st) {
    GST_ELEMENT_ERROR(self, STREAM, FAILED, ("Cannot degrade the frame."), ("%s", sscor_last_error()));
    return GST_FLOW_ERROR;
  }
  return GST_FLOW_OK;
}

static gboolean gst_sscor_stripes_start(GstBaseTransform *trans) {
  GstSscorStripes *self = GST_SSCOR_STRIPES(trans);
  gboolean ok = TRUE;
  g_mutex_lock(&self->lock);
  if (self->spec_error) {
    GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("Invalid degradations \"%s\".", self->spec),
                      ("%s", self->spec_error));
    ok = FALSE;
  }
  g_mutex_unlock(&self->lock);
  return ok;
}

static gboolean gst_sscor_stripes_stop(GstBaseTransform *trans) {
  GstSscorStripes *self = GST_SSCOR_STRIPES(trans);
  g_mutex_lock(&self->lock);
  g_clear_pointer(&self->plan, sscor_degrade_plan_free);
  g_mutex_unlock(&self->lock);
  return TRUE;
}

static void gst_sscor_stripes_finalize(GObject *object) {
  GstSscorStripes *self = GST_SSCOR_STRIPES(object);
  g_free(self->spec);
  g_free(self->spec_error);
  g_free(self->truth_location);
  g_clear_pointer(&self->plan, sscor_degrade_plan_free);
  g_mutex_clear(&self->lock);
  G_OBJECT_CLASS(gst_sscor_stripes_parent_class)->finalize(object);
}

static void gst_sscor_stripes_class_init(GstSscorStripesClass *klass) {
  GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS(klass);
  GstVideoFilterClass *filter_class = GST_VIDEO_FILTER_CLASS(klass);

  gobject_class->set_property = gst_sscor_stripes_set_property;
  gobject_class->get_property = gst_sscor_stripes_get_property;
  gobject_class->finalize = gst_sscor_stripes_finalize;

  g_object_class_install_property(
      gobject_class, PROP_DEGRADATIONS,
      g_param_spec_string(
          "degradations", "Degradations",
          "Degradations to apply, KIND[:key=value,...][;KIND...]. Kinds: stripes-regular, "
          "stripes-gaussian, stripes-angled, tile-uniform, tile-varying, oblique, seams, defocus, "
          "bubble, fringe. Keys: strength, additive, level, period, width, length, phase, angle, "
          "radius, count, tile, tile-w, tile-h, offset-x, offset-y, vary, seed",
          DEFAULT_SPEC, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property(
      gobject_class, PROP_PER_FRAME,
      g_param_spec_boolean("per-frame", "Per frame",
                           "Draw new random artifacts for every frame (seeds offset by the frame "
                           "number) instead of the same artifacts on every frame",
                           FALSE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property(
      gobject_class, PROP_TRUTH_LOCATION,
      g_param_spec_string("truth-location", "Truth location",
                          "Write the ground-truth geometry (seams, stripes, regions) to this "
                          "file; with per-frame, a printf pattern such as truth-%05d.txt gives "
                          "one file per frame",
                          NULL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));

  gst_element_class_set_static_metadata(
      element_class, "Synthetic stripe and tile artifacts", "Filter/Effect/Video",
      "Applies seeded stripe, tile-shading, seam, defocus, bubble and scan-fringe degradations "
      "with known ground truth",
      "sscor project");
  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);

  trans_class->start = GST_DEBUG_FUNCPTR(gst_sscor_stripes_start);
  trans_class->stop = GST_DEBUG_FUNCPTR(gst_sscor_stripes_stop);
  filter_class->set_info = GST_DEBUG_FUNCPTR(gst_sscor_stripes_set_info);
  filter_class->transform_frame_ip = GST_DEBUG_FUNCPTR(gst_sscor_stripes_transform_frame_ip);
}

static void gst_sscor_stripes_init(GstSscorStripes *self) {
  g_mutex_init(&self->lock);
  self->spec = g_strdup(DEFAULT_SPEC);
  parse_spec(self);
}
