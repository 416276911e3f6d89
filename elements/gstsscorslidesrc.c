/* sscorslidesrc: a whole slide or TIFF as a raster-order stream of tiles.
 *
 *   gst-launch-1.0 sscorslidesrc location=slide.svs tile-width=512 tile-height=512 \
 *       overlap=64 ! sscorblendsink location=out.tif
 *
 * Frames: GRAY8, GRAY16_LE, RGB or RGBA following the data. Images no video
 * format holds (2 or more channels of 16-bit, 2 or 5+ channels of 8-bit) use
 * the channel-sequential layout: every tile is sent as one GRAY8/GRAY16_LE
 * frame per channel, in channel order, the tile meta saying which channel
 * (see gstsscormeta.h). Edge tiles are padded to the full frame by reflection;
 * the meta gives the valid size. The slide is read tile by tile through a
 * bounded cache, so memory does not depend on the slide size. Resolution goes
 * downstream as sscor-mpp-x / sscor-mpp-y stream tags (microns per
 * pixel of the streamed level). An OME-TIFF whose channels are pages of
 * their own (core/slide.h) streams like any multi-channel image, with the
 * OME-XML's channel names in the tile meta and the sscor-channel-pages tag,
 * so sscorblendsink writes the channels back as pages. */
#include "gstsscorslidesrc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blend.h"
#include "gstsscormeta.h"

GST_DEBUG_CATEGORY_STATIC(sscor_slidesrc_debug);
#define GST_CAT_DEFAULT sscor_slidesrc_debug

enum {
  PROP_0,
  PROP_LOCATION,
  PROP_LEVEL,
  PROP_TILE_WIDTH,
  PROP_TILE_HEIGHT,
  PROP_OVERLAP,
  PROP_REGION_X,
  PROP_REGION_Y,
  PROP_REGION_WIDTH,
  PROP_REGION_HEIGHT,
  PROP_CHANNELS,
  PROP_CACHE_SIZE,
};

#define DEFAULT_TILE 512
#define DEFAULT_CACHE_MB 32

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE(
    "src", GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE("{ GRAY8, GRAY16_LE, RGB, RGBA }")));

#define gst_sscor_slidesrc_parent_class parent_class
G_DEFINE_TYPE(GstSscorSlideSrc, gst_sscor_slidesrc, GST_TYPE_PUSH_SRC);
GST_ELEMENT_REGISTER_DEFINE(sscorslidesrc, "sscorslidesrc", GST_RANK_NONE,
                            GST_TYPE_SSCOR_SLIDESRC);

static void set_property(GObject *obj, guint id, const GValue *v, GParamSpec *ps) {
  GstSscorSlideSrc *s = GST_SSCOR_SLIDESRC(obj);
  GST_OBJECT_LOCK(s);
  switch (id) {
  case PROP_LOCATION:
    g_free(s->location);
    s->location = g_value_dup_string(v);
    break;
  case PROP_LEVEL: s->level = g_value_get_int(v); break;
  case PROP_TILE_WIDTH:
    s->tile_width = g_value_get_int(v);
    s->tile_width_set = TRUE;
    break;
  case PROP_TILE_HEIGHT:
    s->tile_height = g_value_get_int(v);
    s->tile_height_set = TRUE;
    break;
  case PROP_OVERLAP: s->overlap = g_value_get_int(v); break;
  case PROP_REGION_X: s->region_x = g_value_get_int64(v); break;
  case PROP_REGION_Y: s->region_y = g_value_get_int64(v); break;
  case PROP_REGION_WIDTH: s->region_width = g_value_get_int64(v); break;
  case PROP_REGION_HEIGHT: s->region_height = g_value_get_int64(v); break;
  case PROP_CHANNELS:
    g_free(s->channels);
    s->channels = g_value_dup_string(v);
    break;
  case PROP_CACHE_SIZE: s->cache_mb = g_value_get_uint(v); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, ps);
  }
  GST_OBJECT_UNLOCK(s);
}

static void get_property(GObject *obj, guint id, GValue *v, GParamSpec *ps) {
  GstSscorSlideSrc *s = GST_SSCOR_SLIDESRC(obj);
  GST_OBJECT_LOCK(s);
  switch (id) {
  case PROP_LOCATION: g_value_set_string(v, s->location); break;
  case PROP_LEVEL: g_value_set_int(v, s->level); break;
  case PROP_TILE_WIDTH: g_value_set_int(v, s->tile_width); break;
  case PROP_TILE_HEIGHT: g_value_set_int(v, s->tile_height); break;
  case PROP_OVERLAP: g_value_set_int(v, s->overlap); break;
  case PROP_REGION_X: g_value_set_int64(v, s->region_x); break;
  case PROP_REGION_Y: g_value_set_int64(v, s->region_y); break;
  case PROP_REGION_WIDTH: g_value_set_int64(v, s->region_width); break;
  case PROP_REGION_HEIGHT: g_value_set_int64(v, s->region_height); break;
  case PROP_CHANNELS: g_value_set_string(v, s->channels); break;
  case PROP_CACHE_SIZE: g_value_set_uint(v, s->cache_mb); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, ps);
  }
  GST_OBJECT_UNLOCK(s);
}

static void finalize(GObject *obj) {
  GstSscorSlideSrc *s = GST_SSCOR_SLIDESRC(obj);
  g_free(s->location);
  g_free(s->channels);
  G_OBJECT_CLASS(parent_class)->finalize(obj);
}

#define SETTINGS_ERROR(s, ...) \
  ({ GST_ELEMENT_ERROR(s, RESOURCE, SETTINGS, (__VA_ARGS__), (NULL)); FALSE; })

/* Parses "0,2" into s->sel; empty means every channel. */
static gboolean parse_channels(GstSscorSlideSrc *s) {
  int n = 0;
  if (!s->channels || !*s->channels) {
    for (int c = 0; c < s->src_channels; c++) s->sel[n++] = c;
  } else {
    gchar **parts = g_strsplit(s->channels, ",", -1);
    for (gchar **p = parts; *p; p++) {
      gchar *end = NULL;
      gchar *t = g_strstrip(*p);
      long c = strtol(t, &end, 10);
      if (!*t || *end || c < 0 || c >= s->src_channels || n == SSCOR_IMAGE_MAX_CHANNELS) {
        /* t points into parts: report before freeing it */
        (void)SETTINGS_ERROR(s, "channels=\"%s\": \"%s\" is not a channel of %s (it has %d)",
                             s->channels, t, s->location, s->src_channels);
        g_strfreev(parts);
        return FALSE;
      }
      s->sel[n++] = (int)c;
    }
    g_strfreev(parts);
    if (n == 0) return SETTINGS_ERROR(s, "channels=\"%s\" selects no channel of %s", s->channels, s->location);
  }
  s->out_channels = n;
  GString *names = g_string_new(NULL);
  int rgb = s->src_channels >= 3 && s->src_channels <= 4 && s->type == SSCOR_U8;
  const char *file_names = sscor_slide_get_info(s->slide)->channel_names;
  gchar **named = file_names ? g_strsplit(file_names, ",", -1) : NULL;
  for (int i = 0; i < n; i++) {
    if (i) g_string_append_c(names, ',');
    if (named && s->sel[i] < (int)g_strv_length(named) && named[s->sel[i]][0])
      g_string_append(names, named[s->sel[i]]); /* as the OME-XML names them */
    else if (rgb) g_string_append_c(names, "RGBA"[s->sel[i]]);
    else if (s->src_channels == 1) g_string_append(names, "gray");
    else g_string_append_printf(names, "ch%d", s->sel[i]);
  }
  g_strfreev(named);
  s->channel_names = g_string_free(names, FALSE);
  return TRUE;
}

/* Decodes the current tile into scratch once (channel-sequential streams
 * emit several frames from it). Posts the error itself. */
static gboolean load_tile(GstSscorSlideSrc *s) {
  if (s->tile_loaded) return TRUE;
  int tw = s->tw, th = s->th;
  gint64 ix = (gint64)s->col * (tw - s->overlap), iy = (gint64)s->row * (th - s->overlap);
  int vw = (int)MIN((gint64)tw, s->rw - ix), vh = (int)MIN((gint64)th, s->rh - iy);
  size_t spx = (size_t)s->src_channels * sscor_sample_size(s->type);
  if (sscor_slide_read_region(s->slide, s->level, s->rx + ix, s->ry + iy, vw, vh, s->scratch,
                              (size_t)tw * spx)) {
    GST_ELEMENT_ERROR(s, STREAM, DECODE, ("%s", sscor_last_error()), (NULL));
    return FALSE;
  }
  s->tile_loaded = TRUE;
  return TRUE;
}

static gboolean stop(GstBaseSrc *bsrc);

static gboolean start(GstBaseSrc *bsrc) {
  GstSscorSlideSrc *s = GST_SSCOR_SLIDESRC(bsrc);
  if (!s->location || !*s->location) {
    GST_ELEMENT_ERROR(s, RESOURCE, NOT_FOUND, ("No slide file given (set location)"), (NULL));
    return FALSE;
  }
  sscor_status st = sscor_slide_open(s->location, &s->slide);
  if (st) {
    if (st == SSCOR_E_IO)
      GST_ELEMENT_ERROR(s, RESOURCE, OPEN_READ, ("%s", sscor_last_error()), (NULL));
    else
      GST_ELEMENT_ERROR(s, STREAM, WRONG_TYPE, ("%s", sscor_last_error()), (NULL));
    return FALSE;
  }
  sscor_slide_set_cache_bytes(s->slide, (size_t)s->cache_mb << 20);
  const sscor_slide_info *info = sscor_slide_get_info(s->slide);
  s->src_channels = info->channels;
  s->type = info->type;
  if (s->type == SSCOR_F32)
    return SETTINGS_ERROR(s, "%s: 32-bit float samples have no video format; convert to 16-bit",
                          s->location);
  if (s->level < 0 || s->level >= info->levels)
    return SETTINGS_ERROR(s, "level=%d: %s has levels 0..%d", s->level, s->location,
                          info->levels - 1);
  int64_t lw, lh, w0, h0;
  sscor_slide_level_size(s->slide, s->level, &lw, &lh);
  sscor_slide_level_size(s->slide, 0, &w0, &h0);
  s->downsample = sscor_slide_level_downsample(s->slide, s->level);
  /* Region in level-0 pixels, 0 width/height = to the edge. */
  if (s->region_x < 0 || s->region_y < 0 || s->region_width < 0 || s->region_height < 0 ||
      s->region_x >= w0 || s->region_y >= h0 ||
      (s->region_width && s->region_x + s->region_width > w0) ||
      (s->region_height && s->region_y + s->region_height > h0))
    return SETTINGS_ERROR(s,
                          "region %" G_GINT64_FORMAT ",%" G_GINT64_FORMAT " %" G_GINT64_FORMAT
                          "x%" G_GINT64_FORMAT " is not inside %s (%" G_GINT64_FORMAT
                          "x%" G_GINT64_FORMAT ")",
                          s->region_x, s->region_y, s->region_width, s->region_height,
                          s->location, (gint64)w0, (gint64)h0);
  gint64 rw0 = s->region_width ? s->region_width : w0 - s->region_x;
  gint64 rh0 = s->region_height ? s->region_height : h0 - s->region_y;
  s->rx = (gint64)floor(s->region_x / s->downsample);
  s->ry = (gint64)floor(s->region_y / s->downsample);
  s->rw = MIN((gint64)ceil(rw0 / s->downsample), lw - s->rx);
  s->rh = MIN((gint64)ceil(rh0 / s->downsample), lh - s->ry);
  if (s->rw <= 0 || s->rh <= 0)
    return SETTINGS_ERROR(s, "%s: the region is empty at level %d", s->location, s->level);
  int tw = s->tile_width, th = s->tile_height, ov = s->overlap;
  /* A default tile larger than a small image becomes one tile of the image;
   * an explicit one is the user's request and stays an error. */
  if (!s->tile_width_set && tw > s->rw) tw = (int)s->rw;
  if (!s->tile_height_set && th > s->rh) th = (int)s->rh;
  s->tw = tw, s->th = th;
  if (tw <= 0 || th <= 0)
    return SETTINGS_ERROR(s, "%s: tile size %dx%d: both sides must be at least 1", s->location, tw, th);
  if (tw > s->rw || th > s->rh)
    return SETTINGS_ERROR(s,
                          "%s: tile size %dx%d is larger than the image (%" G_GINT64_FORMAT
                          "x%" G_GINT64_FORMAT " at level %d); use smaller tiles",
                          s->location, tw, th, s->rw, s->rh, s->level);
  if (sscor_tile_overlap_check(tw, th, ov))
    return SETTINGS_ERROR(s, "%s: %s", s->location, sscor_last_error());
  if (!parse_channels(s)) return FALSE;
  GstVideoFormat fmt;
  int C = s->out_channels;
  s->sequential = 0;
  if (s->type == SSCOR_U8 && C == 1) fmt = GST_VIDEO_FORMAT_GRAY8;
  else if (s->type == SSCOR_U8 && C == 3) fmt = GST_VIDEO_FORMAT_RGB;
  else if (s->type == SSCOR_U8 && C == 4) fmt = GST_VIDEO_FORMAT_RGBA;
  else if (s->type == SSCOR_U16 && C == 1) fmt = GST_VIDEO_FORMAT_GRAY16_LE;
  else {
    s->sequential = 1;
    fmt = s->type == SSCOR_U8 ? GST_VIDEO_FORMAT_GRAY8 : GST_VIDEO_FORMAT_GRAY16_LE;
  }
  gst_video_info_set_format(&s->vinfo, fmt, (guint)tw, (guint)th);
  GST_VIDEO_INFO_FPS_N(&s->vinfo) = 0;
  GST_VIDEO_INFO_FPS_D(&s->vinfo) = 1;
  gint64 sx = tw - ov, sy = th - ov;
  s->n_cols = s->rw <= tw ? 1 : (guint)(1 + (s->rw - tw + sx - 1) / sx);
  s->n_rows = s->rh <= th ? 1 : (guint)(1 + (s->rh - th + sy - 1) / sy);
  s->col = s->row = s->chan = 0;
  s->tile_loaded = FALSE;
  s->tags_sent = FALSE;
  s->scratch = g_try_malloc((gsize)tw * th * s->src_channels * sscor_sample_size(s->type));
  if (!s->scratch) {
    GST_ELEMENT_ERROR(s, RESOURCE, FAILED, ("cannot allocate a %dx%d tile", tw, th), (NULL));
    return FALSE;
  }
  GST_INFO_OBJECT(s, "%s: %s reader, %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT " at level %d, %ux%u tiles",
                  s->location, info->reader, s->rw, s->rh, s->level, s->n_cols, s->n_rows);
  /* Decode the first tile now: an unreadable file then fails the state
   * change itself instead of racing the sink's preroll in the streaming
   * thread (gst-launch-1.0 can hang on that race). */
  if (!load_tile(s)) {
    stop(bsrc);
    return FALSE;
  }
  return TRUE;
}

static gboolean stop(GstBaseSrc *bsrc) {
  GstSscorSlideSrc *s = GST_SSCOR_SLIDESRC(bsrc);
  sscor_slide_close(s->slide);
  s->slide = NULL;
  g_free(s->scratch);
  s->scratch = NULL;
  g_free(s->channel_names);
  s->channel_names = NULL;
  return TRUE;
}

static GstCaps *get_caps(GstBaseSrc *bsrc, GstCaps *filter) {
  GstSscorSlideSrc *s = GST_SSCOR_SLIDESRC(bsrc);
  GstCaps *caps;
  if (s->slide) caps = gst_video_info_to_caps(&s->vinfo);
  else caps = gst_pad_get_pad_template_caps(GST_BASE_SRC_PAD(bsrc));
  if (filter) {
    GstCaps *t = gst_caps_intersect_full(filter, caps, GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref(caps);
    caps = t;
  }
  return caps;
}

/* Mirror index for padding: numpy's "reflect" (edge not repeated). */
static inline int reflect(int i, int n) {
  if (n == 1) return 0;
  int p = 2 * (n - 1);
  i %= p;
  return i < n ? i : p - i;
}

static GstFlowReturn create(GstPushSrc *psrc, GstBuffer **out) {
  GstSscorSlideSrc *s = GST_SSCOR_SLIDESRC(psrc);
  if (s->row >= s->n_rows) return GST_FLOW_EOS;
  if (!s->tags_sent) {
    s->tags_sent = TRUE;
    const sscor_slide_info *info = sscor_slide_get_info(s->slide);
    GstTagList *tags = gst_tag_list_new_empty();
    if (info->mpp_x > 0 && info->mpp_y > 0)
      gst_tag_list_add(tags, GST_TAG_MERGE_REPLACE, GST_SSCOR_TAG_MPP_X,
                       info->mpp_x * s->downsample, GST_SSCOR_TAG_MPP_Y,
                       info->mpp_y * s->downsample, NULL);
    gchar *desc = g_strdup_printf("%s slide read by %s, level %d, channels %s", info->vendor,
                                  info->reader, s->level, s->channel_names);
    gst_tag_list_add(tags, GST_TAG_MERGE_REPLACE, GST_TAG_DESCRIPTION, desc, NULL);
    if (info->ome && s->out_channels > 1)
      gst_tag_list_add(tags, GST_TAG_MERGE_REPLACE, GST_SSCOR_TAG_CHANNEL_PAGES, TRUE, NULL);
    /* the file itself, so sscorsample can analyse it in bounded memory */
    gst_tag_list_add(tags, GST_TAG_MERGE_REPLACE, GST_TAG_LOCATION, s->location, NULL);
    g_free(desc);
    gst_tag_list_set_scope(tags, GST_TAG_SCOPE_STREAM);
    gst_element_send_event(GST_ELEMENT(s), gst_event_new_tag(tags));
  }
  int tw = s->tw, th = s->th;
  gint64 ix = (gint64)s->col * (tw - s->overlap), iy = (gint64)s->row * (th - s->overlap);
  int vw = (int)MIN((gint64)tw, s->rw - ix), vh = (int)MIN((gint64)th, s->rh - iy);
  size_t ss = sscor_sample_size(s->type);
  int SC = s->src_channels;
  size_t spx = (size_t)SC * ss; /* scratch pixel */
  if (!load_tile(s)) return GST_FLOW_ERROR;
  GstBuffer *buf = gst_buffer_new_allocate(NULL, GST_VIDEO_INFO_SIZE(&s->vinfo), NULL);
  GstMapInfo map;
  if (!buf || !gst_buffer_map(buf, &map, GST_MAP_WRITE)) {
    if (buf) gst_buffer_unref(buf);
    GST_ELEMENT_ERROR(s, RESOURCE, FAILED, ("cannot allocate a tile buffer"), (NULL));
    return GST_FLOW_ERROR;
  }
  size_t stride = (size_t)GST_VIDEO_INFO_PLANE_STRIDE(&s->vinfo, 0);
  int OC = s->sequential ? 1 : s->out_channels;
  const int *sel = s->sequential ? &s->sel[s->chan] : s->sel;
  for (int y = 0; y < th; y++) {
    const guint8 *srow = s->scratch + (size_t)reflect(y, vh) * tw * spx;
    guint8 *drow = map.data + (size_t)y * stride;
    for (int x = 0; x < tw; x++) {
      const guint8 *sp = srow + (size_t)reflect(x, vw) * spx;
      guint8 *dp = drow + (size_t)x * OC * ss;
      for (int c = 0; c < OC; c++) memcpy(dp + c * ss, sp + (size_t)sel[c] * ss, ss);
    }
  }
  gst_buffer_unmap(buf, &map);
  GstSscorTileMeta *m = gst_sscor_buffer_add_tile_meta(buf);
  m->image_x = ix, m->image_y = iy;
  m->x = (gint64)llround((s->rx + ix) * s->downsample);
  m->y = (gint64)llround((s->ry + iy) * s->downsample);
  m->valid_width = (guint)vw, m->valid_height = (guint)vh;
  m->image_width = (guint64)s->rw, m->image_height = (guint64)s->rh;
  m->overlap = (guint)s->overlap;
  m->col = s->col, m->row = s->row, m->n_cols = s->n_cols, m->n_rows = s->n_rows;
  m->level = (guint)s->level;
  m->downsample = s->downsample;
  m->channel = s->sequential ? (gint)s->chan : -1;
  m->n_channels = (guint)s->out_channels;
  gst_sscor_tile_meta_set_channel_names(m, s->channel_names);
  GST_BUFFER_OFFSET(buf) = (guint64)s->row * s->n_cols + s->col;
  /* advance: channels of this tile, then the next tile in raster order */
  if (s->sequential && ++s->chan < (guint)s->out_channels) {
    *out = buf;
    return GST_FLOW_OK;
  }
  s->chan = 0;
  s->tile_loaded = FALSE;
  if (++s->col == s->n_cols) {
    s->col = 0;
    s->row++;
  }
  *out = buf;
  return GST_FLOW_OK;
}

static void gst_sscor_slidesrc_class_init(GstSscorSlideSrcClass *klass) {
  GObjectClass *oc = G_OBJECT_CLASS(klass);
  GstElementClass *ec = GST_ELEMENT_CLASS(klass);
  GstBaseSrcClass *bc = GST_BASE_SRC_CLASS(klass);
  GstPushSrcClass *pc = GST_PUSH_SRC_CLASS(klass);
  oc->set_property = set_property;
  oc->get_property = get_property;
  oc->finalize = finalize;
  GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY;
  g_object_class_install_property(
      oc, PROP_LOCATION,
      g_param_spec_string("location", "Location",
                          "Slide or TIFF to read: vendor formats through OpenSlide (SVS, NDPI, "
                          "MRXS, SCN, ...), TIFF/BigTIFF of any sample count through libtiff",
                          NULL, rw));
  g_object_class_install_property(
      oc, PROP_LEVEL,
      g_param_spec_int("level", "Level", "Pyramid level to stream (0 = full resolution)", 0,
                       G_MAXINT, 0, rw));
  g_object_class_install_property(
      oc, PROP_TILE_WIDTH,
      g_param_spec_int("tile-width", "Tile width",
                       "Width of each emitted tile in pixels; left unset, a narrower image is one tile wide, "
                       "set explicitly it must not exceed the image width", 0,
                       G_MAXINT, DEFAULT_TILE, rw));
  g_object_class_install_property(
      oc, PROP_TILE_HEIGHT,
      g_param_spec_int("tile-height", "Tile height",
                       "Height of each emitted tile in pixels; left unset, a shorter image is one tile high, "
                       "set explicitly it must not exceed the image height", 0,
                       G_MAXINT, DEFAULT_TILE, rw));
  g_object_class_install_property(
      oc, PROP_OVERLAP,
      g_param_spec_int("overlap", "Overlap",
                       "Pixels each tile shares with its right and lower neighbours "
                       "(at most 3/4 of the tile size); tiles step by tile size - overlap",
                       0, G_MAXINT, 0, rw));
  g_object_class_install_property(
      oc, PROP_REGION_X,
      g_param_spec_int64("region-x", "Region x",
                         "Left edge of the region of interest, level-0 pixels", 0, G_MAXINT64,
                         0, rw));
  g_object_class_install_property(
      oc, PROP_REGION_Y,
      g_param_spec_int64("region-y", "Region y",
                         "Top edge of the region of interest, level-0 pixels", 0, G_MAXINT64, 0,
                         rw));
  g_object_class_install_property(
      oc, PROP_REGION_WIDTH,
      g_param_spec_int64("region-width", "Region width",
                         "Width of the region of interest in level-0 pixels (0 = to the right "
                         "edge)",
                         0, G_MAXINT64, 0, rw));
  g_object_class_install_property(
      oc, PROP_REGION_HEIGHT,
      g_param_spec_int64("region-height", "Region height",
                         "Height of the region of interest in level-0 pixels (0 = to the "
                         "bottom edge)",
                         0, G_MAXINT64, 0, rw));
  g_object_class_install_property(
      oc, PROP_CHANNELS,
      g_param_spec_string("channels", "Channels",
                          "Comma-separated source channels to emit, e.g. \"0,2\" (empty = all). "
                          "1 channel -> GRAY8/GRAY16_LE, 3/4 of 8-bit -> RGB/RGBA, others -> "
                          "one GRAY frame per channel (channel-sequential, see the tile meta)",
                          "", rw));
  g_object_class_install_property(
      oc, PROP_CACHE_SIZE,
      g_param_spec_uint("cache-size", "Cache size",
                        "Decoded-tile cache for TIFF input, MiB (memory stays bounded by it)",
                        1, 4096, DEFAULT_CACHE_MB, rw));
  gst_element_class_add_static_pad_template(ec, &src_template);
  gst_element_class_set_static_metadata(
      ec, "Slide tile source", "Source/Video",
      "Streams a whole-slide image or TIFF (8/16-bit, any channel count) as overlapping tiles "
      "in raster order, each with its position in a tile meta",
      "sscor developers");
  bc->start = start;
  bc->stop = stop;
  bc->get_caps = get_caps;
  pc->create = create;
  GST_DEBUG_CATEGORY_INIT(sscor_slidesrc_debug, "sscorslidesrc", 0, "sscor slide source");
}

static void gst_sscor_slidesrc_init(GstSscorSlideSrc *s) {
  s->tile_width = s->tile_height = DEFAULT_TILE;
  s->cache_mb = DEFAULT_CACHE_MB;
  s->channels = g_strdup("");
  gst_base_src_set_format(GST_BASE_SRC(s), GST_FORMAT_DEFAULT);
}
