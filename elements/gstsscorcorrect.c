/* sscorcorrect: corrects tiles (tile meta) or whole frames with a model.
 *
 *   gst-launch-1.0 sscorslidesrc location=in.tif ! sscorcorrect model=m.sscor \
 *       ! sscorblendsink location=out.tif
 *   gst-launch-1.0 filesrc location=in.png ! pngdec ! videoconvert \
 *       ! sscorcorrect model=m.sscor ! videoconvert ! pngenc ! filesink location=out.png
 *
 * Works in place: keeps the sample type, the channel count and the tile meta.
 * With RGBA the colour channels are corrected by a 3-channel model and alpha
 * is kept. Channel-sequential tiles (one GRAY frame per channel, the tile
 * meta saying which) are corrected channel by channel, each with its own
 * flat-field when the model has one per channel. Tiles are corrected on their
 * valid part (the reflected padding on the right/bottom edges is left as is). */
#include "gstsscorcorrect.h"

#include "gstsscormeta.h"

GST_DEBUG_CATEGORY_STATIC(sscor_correct_debug);
#define GST_CAT_DEFAULT sscor_correct_debug

enum { PROP_0, PROP_MODEL, PROP_STEP, PROP_MAX_RULE, PROP_THREADS };

#define CAPS GST_VIDEO_CAPS_MAKE("{ GRAY8, GRAY16_LE, RGB, RGBA }")

G_DEFINE_TYPE(GstSscorCorrect, gst_sscor_correct, GST_TYPE_VIDEO_FILTER);
GST_ELEMENT_REGISTER_DEFINE(sscorcorrect, "sscorcorrect", GST_RANK_NONE, GST_TYPE_SSCOR_CORRECT);

static void release(GstSscorCorrect *s) {
  sscor_corrector_free(s->corr);
  s->corr = NULL;
  if (s->model_loaded) sscor_model_clear(&s->model);
  s->model_loaded = FALSE;
  s->checked = FALSE;
}

static gboolean gst_sscor_correct_start(GstBaseTransform *bt) {
  GstSscorCorrect *s = GST_SSCOR_CORRECT(bt);
  release(s);
  if (!s->model_path || !*s->model_path) {
    GST_ELEMENT_ERROR(s, RESOURCE, NOT_FOUND, ("No model given"),
                      ("set model=FILE.sscor (made by 'sscor train' or sscortrain)"));
    return FALSE;
  }
  if (sscor_model_load(s->model_path, &s->model)) {
    GST_ELEMENT_ERROR(s, RESOURCE, READ, ("Cannot use model %s", s->model_path), ("%s", sscor_last_error()));
    return FALSE;
  }
  s->model_loaded = TRUE;
  sscor_correct_params p;
  sscor_correct_params_default(&p);
  p.step = s->step;
  p.max_rule = s->max_rule;
  p.threads = s->threads;
  if (sscor_corrector_new(&s->model, &p, &s->corr)) {
    GST_ELEMENT_ERROR(s, RESOURCE, READ, ("Cannot use model %s", s->model_path), ("%s", sscor_last_error()));
    release(s);
    return FALSE;
  }
  return TRUE;
}

static gboolean gst_sscor_correct_stop(GstBaseTransform *bt) {
  GstSscorCorrect *s = GST_SSCOR_CORRECT(bt);
  release(s);
  g_free(s->location);
  s->location = NULL;
  return TRUE;
}

/* The file the stream comes from (sscorslidesrc's location tag), for messages. */
static gboolean gst_sscor_correct_sink_event(GstBaseTransform *bt, GstEvent *e) {
  GstSscorCorrect *s = GST_SSCOR_CORRECT(bt);
  gchar *loc = NULL;
  if (GST_EVENT_TYPE(e) == GST_EVENT_TAG) {
    GstTagList *tags;
    gst_event_parse_tag(e, &tags);
    if (gst_tag_list_get_string(tags, GST_TAG_LOCATION, &loc) && loc) {
      g_free(s->location);
      s->location = loc;
    }
  }
  return GST_BASE_TRANSFORM_CLASS(gst_sscor_correct_parent_class)->sink_event(bt, e);
}

static GstFlowReturn gst_sscor_correct_transform_frame_ip(GstVideoFilter *vf, GstVideoFrame *frame) {
  GstSscorCorrect *s = GST_SSCOR_CORRECT(vf);
  GstVideoFormat fmt = GST_VIDEO_FRAME_FORMAT(frame);
  int fw = GST_VIDEO_FRAME_WIDTH(frame), fh = GST_VIDEO_FRAME_HEIGHT(frame);
  int pixel_ch = fmt == GST_VIDEO_FORMAT_RGB ? 3 : fmt == GST_VIDEO_FORMAT_RGBA ? 4 : 1;
  int channels = fmt == GST_VIDEO_FORMAT_RGBA ? 3 : pixel_ch;
  sscor_sample_type type = fmt == GST_VIDEO_FORMAT_GRAY16_LE ? SSCOR_U16 : SSCOR_U8;
  GstSscorTileMeta *meta = gst_sscor_buffer_get_tile_meta(frame->buffer);
  int x0 = 0, y0 = 0, vw = fw, vh = fh, iw = fw, ih = fh;
  if (meta) {
    if (meta->channel >= 0) { /* channel-sequential: one channel of an image of n_channels */
      if (pixel_ch != 1 || meta->channel >= (gint)meta->n_channels) {
        GST_ELEMENT_ERROR(s, STREAM, FORMAT, ("Bad channel-sequential tile for model %s", s->model_path),
                          ("channel %d of %u in a %s frame", meta->channel, meta->n_channels,
                           gst_video_format_to_string(fmt)));
        return GST_FLOW_ERROR;
      }
      channels = (int)meta->n_channels;
    }
    x0 = (int)meta->image_x;
    y0 = (int)meta->image_y;
    vw = MIN((int)meta->valid_width, fw);
    vh = MIN((int)meta->valid_height, fh);
    iw = (int)meta->image_width;
    ih = (int)meta->image_height;
  }
  if (!s->checked) {
    if (sscor_corrector_check(s->corr, channels, type, iw, ih, s->location ? s->location : "the stream")) {
      GST_ELEMENT_ERROR(s, STREAM, WRONG_TYPE, ("Model %s does not fit the stream", s->model_path),
                        ("%s", sscor_last_error()));
      return GST_FLOW_ERROR;
    }
    s->checked = TRUE;
  }
  if (vw <= 0 || vh <= 0) return GST_FLOW_OK;
  sscor_image img;
  size_t stride = (size_t)GST_VIDEO_FRAME_PLANE_STRIDE(frame, 0);
  if (meta && meta->channel >= 0) {
    sscor_image_wrap(&img, GST_VIDEO_FRAME_PLANE_DATA(frame, 0), vw, vh, 1, type, stride);
    if (sscor_corrector_apply_channel(s->corr, &img, x0, y0, meta->channel)) goto fail;
  } else if (pixel_ch == channels) {
    sscor_image_wrap(&img, GST_VIDEO_FRAME_PLANE_DATA(frame, 0), vw, vh, channels, type, stride);
    if (sscor_corrector_apply(s->corr, &img, x0, y0)) goto fail;
  } else {
    /* RGBA: correct a packed RGB copy, keep alpha */
    if (sscor_image_alloc(&img, vw, vh, 3, SSCOR_U8)) goto fail;
    for (int y = 0; y < vh; y++) {
      const guint8 *src = (const guint8 *)GST_VIDEO_FRAME_PLANE_DATA(frame, 0) + y * stride;
      guint8 *dst = sscor_image_row(&img, y);
      for (int x = 0; x < vw; x++) memcpy(dst + 3 * x, src + 4 * x, 3);
    }
    if (sscor_corrector_apply(s->corr, &img, x0, y0)) {
      sscor_image_free(&img);
      goto fail;
    }
    for (int y = 0; y < vh; y++) {
      guint8 *dst = (guint8 *)GST_VIDEO_FRAME_PLANE_DATA(frame, 0) + y * stride;
      const guint8 *src = sscor_image_row(&img, y);
      for (int x = 0; x < vw; x++) memcpy(dst + 4 * x, src + 3 * x, 3);
    }
    sscor_image_free(&img);
  }
  return GST_FLOW_OK;
fail:
  GST_ELEMENT_ERROR(s, STREAM, FAILED, ("%s: correction with model %s failed: %s",
                                        s->location ? s->location : "the stream", s->model_path,
                                        sscor_last_error()),
                    (NULL));
  return GST_FLOW_ERROR;
}

static void gst_sscor_correct_set_property(GObject *o, guint id, const GValue *v, GParamSpec *ps) {
  GstSscorCorrect *s = GST_SSCOR_CORRECT(o);
  switch (id) {
    case PROP_MODEL:
      g_free(s->model_path);
      s->model_path = g_value_dup_string(v);
      break;
    case PROP_STEP: s->step = g_value_get_int(v); break;
    case PROP_MAX_RULE: s->max_rule = g_value_get_boolean(v); break;
    case PROP_THREADS: s->threads = g_value_get_int(v); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(o, id, ps);
  }
}

static void gst_sscor_correct_get_property(GObject *o, guint id, GValue *v, GParamSpec *ps) {
  GstSscorCorrect *s = GST_SSCOR_CORRECT(o);
  switch (id) {
    case PROP_MODEL: g_value_set_string(v, s->model_path); break;
    case PROP_STEP: g_value_set_int(v, s->step); break;
    case PROP_MAX_RULE: g_value_set_boolean(v, s->max_rule); break;
    case PROP_THREADS: g_value_set_int(v, s->threads); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(o, id, ps);
  }
}

static void gst_sscor_correct_finalize(GObject *o) {
  GstSscorCorrect *s = GST_SSCOR_CORRECT(o);
  release(s);
  g_free(s->model_path);
  g_free(s->location);
  G_OBJECT_CLASS(gst_sscor_correct_parent_class)->finalize(o);
}

static void gst_sscor_correct_class_init(GstSscorCorrectClass *klass) {
  GObjectClass *oc = G_OBJECT_CLASS(klass);
  GstElementClass *ec = GST_ELEMENT_CLASS(klass);
  GstBaseTransformClass *bc = GST_BASE_TRANSFORM_CLASS(klass);
  GstVideoFilterClass *vc = GST_VIDEO_FILTER_CLASS(klass);
  GST_DEBUG_CATEGORY_INIT(sscor_correct_debug, "sscorcorrect", 0, "sscor correction");
  oc->set_property = gst_sscor_correct_set_property;
  oc->get_property = gst_sscor_correct_get_property;
  oc->finalize = gst_sscor_correct_finalize;
  g_object_class_install_property(
      oc, PROP_MODEL,
      g_param_spec_string("model", "Model", "sscor model file (.sscor): flat-field and/or learned corrector",
                          NULL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property(
      oc, PROP_STEP,
      g_param_spec_int("step", "Window step", "Step between G_C windows in px (0 = patch/2; at most patch/2)",
                       0, 65536, 0, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property(
      oc, PROP_MAX_RULE,
      g_param_spec_boolean("max-rule", "Max rule",
                           "Keep max(original, corrected) per sample, as the reference does (only brightens)",
                           FALSE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property(
      oc, PROP_THREADS,
      g_param_spec_int("threads", "Threads", "Compute threads for the learned corrector (0 = all cores)", 0,
                       256, 0, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  gst_element_class_set_static_metadata(ec, "sscor corrector", "Filter/Effect/Video",
                                        "Removes tile seams and stripes with an sscor model",
                                        "sscor developers");
  gst_element_class_add_pad_template(ec, gst_pad_template_new("sink", GST_PAD_SINK, GST_PAD_ALWAYS,
                                                              gst_caps_from_string(CAPS)));
  gst_element_class_add_pad_template(ec, gst_pad_template_new("src", GST_PAD_SRC, GST_PAD_ALWAYS,
                                                              gst_caps_from_string(CAPS)));
  bc->start = gst_sscor_correct_start;
  bc->stop = gst_sscor_correct_stop;
  bc->sink_event = gst_sscor_correct_sink_event;
  vc->transform_frame_ip = gst_sscor_correct_transform_frame_ip;
}

static void gst_sscor_correct_init(GstSscorCorrect *s) {
  (void)s;
}
