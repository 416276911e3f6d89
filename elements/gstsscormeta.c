#include "gstsscormeta.h"

#include <string.h>

GType gst_sscor_tile_meta_api_get_type(void) {
  static GType type = 0;
  static const gchar *tags[] = {GST_META_TAG_VIDEO_STR, GST_META_TAG_VIDEO_SIZE_STR, NULL};
  if (g_once_init_enter(&type)) {
    GType t = gst_meta_api_type_register("GstSscorTileMetaAPI", tags);
    g_once_init_leave(&type, t);
  }
  return type;
}

static gboolean tile_meta_init(GstMeta *meta, gpointer params, GstBuffer *buffer) {
  (void)params, (void)buffer;
  GstSscorTileMeta *m = (GstSscorTileMeta *)meta;
  memset((guint8 *)m + sizeof(GstMeta), 0, sizeof *m - sizeof(GstMeta));
  m->channel = -1;
  m->downsample = 1.0;
  return TRUE;
}

static void copy_fields(GstSscorTileMeta *dst, const GstSscorTileMeta *src) {
  memcpy((guint8 *)dst + sizeof(GstMeta), (const guint8 *)src + sizeof(GstMeta),
         sizeof *dst - sizeof(GstMeta));
}

/* Whether a transform keeps a meta that describes the whole frame: copies
 * do, a size-preserving video transform (videoconvert) does; a sub-buffer
 * (*skip: not an error) or anything that resizes the frame does not. */
static gboolean frame_meta_survives(GQuark type, gpointer data, gboolean *skip) {
  *skip = FALSE;
  if (GST_META_TRANSFORM_IS_COPY(type)) {
    GstMetaTransformCopy *copy = data;
    *skip = copy->region;
    return !copy->region;
  }
  if (GST_VIDEO_META_TRANSFORM_IS_SCALE(type)) {
    GstVideoMetaTransform *t = data;
    return GST_VIDEO_INFO_WIDTH(t->in_info) == GST_VIDEO_INFO_WIDTH(t->out_info) &&
           GST_VIDEO_INFO_HEIGHT(t->in_info) == GST_VIDEO_INFO_HEIGHT(t->out_info);
  }
  return FALSE;
}

static gboolean tile_meta_transform(GstBuffer *dest, GstMeta *meta, GstBuffer *buffer,
                                    GQuark type, gpointer data) {
  (void)buffer;
  const GstSscorTileMeta *src = (const GstSscorTileMeta *)meta;
  gboolean skip;
  if (!frame_meta_survives(type, data, &skip)) return skip;
  GstSscorTileMeta *dst = gst_sscor_buffer_add_tile_meta(dest);
  if (!dst) return FALSE;
  copy_fields(dst, src);
  return TRUE;
}

const GstMetaInfo *gst_sscor_tile_meta_get_info(void) {
  static const GstMetaInfo *info = NULL;
  if (g_once_init_enter((GstMetaInfo **)&info)) {
    const GstMetaInfo *mi = gst_meta_register(GST_SSCOR_TILE_META_API_TYPE, "GstSscorTileMeta",
                                              sizeof(GstSscorTileMeta), tile_meta_init, NULL,
                                              tile_meta_transform);
    g_once_init_leave((GstMetaInfo **)&info, (GstMetaInfo *)mi);
  }
  return info;
}

GstSscorTileMeta *gst_sscor_buffer_add_tile_meta(GstBuffer *buffer) {
  return (GstSscorTileMeta *)gst_buffer_add_meta(buffer, GST_SSCOR_TILE_META_INFO, NULL);
}

const gchar *gst_sscor_tile_meta_get_channel_names(const GstSscorTileMeta *meta) {
  const gchar *s = meta->channel_names ? g_quark_to_string(meta->channel_names) : NULL;
  return s ? s : "";
}

void gst_sscor_tile_meta_set_channel_names(GstSscorTileMeta *meta, const gchar *names) {
  meta->channel_names = names && *names ? g_quark_from_string(names) : 0;
}

void gst_sscor_register_tags(void) {
  gst_tag_register(GST_SSCOR_TAG_MPP_X, GST_TAG_FLAG_META, G_TYPE_DOUBLE, "microns per pixel x",
                   "Physical width of one pixel of the stream, in microns", NULL);
  gst_tag_register(GST_SSCOR_TAG_MPP_Y, GST_TAG_FLAG_META, G_TYPE_DOUBLE, "microns per pixel y",
                   "Physical height of one pixel of the stream, in microns", NULL);
  gst_tag_register(GST_SSCOR_TAG_CHANNEL_PAGES, GST_TAG_FLAG_META, G_TYPE_BOOLEAN, "channel pages",
                   "The source keeps its channels as OME-TIFF channel pages", NULL);
}

/* ---- pair meta ---------------------------------------------------------- */

GType gst_sscor_pair_meta_api_get_type(void) {
  static GType type = 0;
  static const gchar *tags[] = {GST_META_TAG_VIDEO_STR, GST_META_TAG_VIDEO_SIZE_STR, NULL};
  if (g_once_init_enter(&type)) {
    GType t = gst_meta_api_type_register("GstSscorPairMetaAPI", tags);
    g_once_init_leave(&type, t);
  }
  return type;
}

static gboolean pair_meta_init(GstMeta *meta, gpointer params, GstBuffer *buffer) {
  (void)params, (void)buffer;
  GstSscorPairMeta *m = (GstSscorPairMeta *)meta;
  memset((guint8 *)m + sizeof(GstMeta), 0, sizeof *m - sizeof(GstMeta));
  m->channel = -1;
  m->seam = -1;
  return TRUE;
}

/* Same rules as the tile meta (so videoconvert ! pngenc sees it). */
static gboolean pair_meta_transform(GstBuffer *dest, GstMeta *meta, GstBuffer *buffer,
                                    GQuark type, gpointer data) {
  (void)buffer;
  gboolean skip;
  if (!frame_meta_survives(type, data, &skip)) return skip;
  GstSscorPairMeta *dst = gst_sscor_buffer_add_pair_meta(dest);
  if (!dst) return FALSE;
  memcpy((guint8 *)dst + sizeof(GstMeta), (const guint8 *)meta + sizeof(GstMeta),
         sizeof *dst - sizeof(GstMeta));
  return TRUE;
}

const GstMetaInfo *gst_sscor_pair_meta_get_info(void) {
  static const GstMetaInfo *info = NULL;
  if (g_once_init_enter((GstMetaInfo **)&info)) {
    const GstMetaInfo *mi = gst_meta_register(GST_SSCOR_PAIR_META_API_TYPE, "GstSscorPairMeta",
                                              sizeof(GstSscorPairMeta), pair_meta_init, NULL,
                                              pair_meta_transform);
    g_once_init_leave((GstMetaInfo **)&info, (GstMetaInfo *)mi);
  }
  return info;
}

GstSscorPairMeta *gst_sscor_buffer_add_pair_meta(GstBuffer *buffer) {
  return (GstSscorPairMeta *)gst_buffer_add_meta(buffer, GST_SSCOR_PAIR_META_INFO, NULL);
}

/* ---- analysis event ------------------------------------------------------ */

GstEvent *gst_sscor_analysis_event_new(GBytes *model) {
  GstStructure *s = gst_structure_new(GST_SSCOR_ANALYSIS_EVENT, "model", G_TYPE_BYTES, model, NULL);
  return gst_event_new_custom(GST_EVENT_CUSTOM_DOWNSTREAM_STICKY, s);
}

gboolean gst_sscor_analysis_event_parse(GstEvent *e, GBytes **model) {
  if (GST_EVENT_TYPE(e) != GST_EVENT_CUSTOM_DOWNSTREAM_STICKY || !gst_event_has_name(e, GST_SSCOR_ANALYSIS_EVENT))
    return FALSE;
  const GstStructure *s = gst_event_get_structure(e);
  return gst_structure_get(s, "model", G_TYPE_BYTES, model, NULL);
}
