/* sscorblendsink: overlapping tiles in, pyramidal TIFF out.
 *
 *   gst-launch-1.0 sscorslidesrc location=in.tif overlap=64 ! sscorblendsink location=out.tif
 *
 * Tiles carry a GstSscorTileMeta; overlaps are blended with complementary
 * raised-cosine weights (core/blend.h), so an unmodified stream is written
 * back exactly and corrected tiles meet without seams. Each tile's finished
 * block goes straight into the streaming pyramid writer (core/pyramid.h),
 * which encodes output tiles as soon as they are complete. A buffer without the meta is a
 * whole image. The file appears at `location` only when complete; on error,
 * a stream that ends early or a stopped pipeline nothing is left there. */
#include "gstsscorblendsink.h"

#include <math.h>
#include <string.h>

#include "fileio.h"
#include "gstsscormeta.h"

GST_DEBUG_CATEGORY_STATIC(sscor_blendsink_debug);
#define GST_CAT_DEFAULT sscor_blendsink_debug

enum {
  PROP_0,
  PROP_LOCATION,
  PROP_COMPRESSION,
  PROP_QUALITY,
  PROP_TILE_SIZE,
  PROP_BIGTIFF,
  PROP_SUBIFDS,
  PROP_CHANNEL_PAGES,
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE(
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE("{ GRAY8, GRAY16_LE, RGB, RGBA }")));

#define gst_sscor_blendsink_parent_class parent_class
G_DEFINE_TYPE(GstSscorBlendSink, gst_sscor_blendsink, GST_TYPE_BASE_SINK);
GST_ELEMENT_REGISTER_DEFINE(sscorblendsink, "sscorblendsink", GST_RANK_NONE,
                            GST_TYPE_SSCOR_BLENDSINK);

#define GST_TYPE_SSCOR_COMPRESSION (sscor_compression_get_type())
static GType sscor_compression_get_type(void) {
  static GType t = 0;
  static const GEnumValue values[] = {
      {SSCOR_COMPRESS_NONE, "No compression", "none"},
      {SSCOR_COMPRESS_DEFLATE, "Deflate with horizontal predictor (lossless)", "deflate"},
      {SSCOR_COMPRESS_LZW, "LZW with horizontal predictor (lossless)", "lzw"},
      {SSCOR_COMPRESS_JPEG, "JPEG (lossy; 8-bit gray or RGB only)", "jpeg"},
      {SSCOR_COMPRESS_ZSTD, "Zstandard with horizontal predictor (lossless)", "zstd"},
      {0, NULL, NULL}};
  if (g_once_init_enter(&t)) g_once_init_leave(&t, g_enum_register_static("GstSscorCompression", values));
  return t;
}

#define GST_TYPE_SSCOR_CHANNEL_PAGES (sscor_channel_pages_get_type())
static GType sscor_channel_pages_get_type(void) {
  static GType t = 0;
  static const GEnumValue values[] = {
      {-1, "One page per channel when the source kept its channels as OME-TIFF pages", "auto"},
      {0, "Channels interleaved in one page", "off"},
      {1, "One page per channel (OME-TIFF) for every image of 2+ channels", "on"},
      {0, NULL, NULL}};
  if (g_once_init_enter(&t)) g_once_init_leave(&t, g_enum_register_static("GstSscorChannelPages", values));
  return t;
}

#define GST_TYPE_SSCOR_BIGTIFF (sscor_bigtiff_get_type())
static GType sscor_bigtiff_get_type(void) {
  static GType t = 0;
  static const GEnumValue values[] = {
      {-1, "BigTIFF when the output could pass 4 GB", "auto"},
      {0, "Classic TIFF (fails beyond 4 GB)", "off"},
      {1, "Always BigTIFF", "on"},
      {0, NULL, NULL}};
  if (g_once_init_enter(&t)) g_once_init_leave(&t, g_enum_register_static("GstSscorBigTiff", values));
  return t;
}

static void set_property(GObject *obj, guint id, const GValue *v, GParamSpec *ps) {
  GstSscorBlendSink *s = GST_SSCOR_BLENDSINK(obj);
  GST_OBJECT_LOCK(s);
  switch (id) {
  case PROP_LOCATION:
    g_free(s->location);
    s->location = g_value_dup_string(v);
    break;
  case PROP_COMPRESSION: s->compression = (sscor_compression)g_value_get_enum(v); break;
  case PROP_QUALITY: s->quality = g_value_get_int(v); break;
  case PROP_TILE_SIZE: s->tile_size = g_value_get_int(v); break;
  case PROP_BIGTIFF: s->bigtiff = g_value_get_enum(v); break;
  case PROP_SUBIFDS: s->subifds = g_value_get_boolean(v); break;
  case PROP_CHANNEL_PAGES: s->channel_pages = g_value_get_enum(v); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, ps);
  }
  GST_OBJECT_UNLOCK(s);
}

static void get_property(GObject *obj, guint id, GValue *v, GParamSpec *ps) {
  GstSscorBlendSink *s = GST_SSCOR_BLENDSINK(obj);
  GST_OBJECT_LOCK(s);
  switch (id) {
  case PROP_LOCATION: g_value_set_string(v, s->location); break;
  case PROP_COMPRESSION: g_value_set_enum(v, s->compression); break;
  case PROP_QUALITY: g_value_set_int(v, s->quality); break;
  case PROP_TILE_SIZE: g_value_set_int(v, s->tile_size); break;
  case PROP_BIGTIFF: g_value_set_enum(v, s->bigtiff); break;
  case PROP_SUBIFDS: g_value_set_boolean(v, s->subifds); break;
  case PROP_CHANNEL_PAGES: g_value_set_enum(v, s->channel_pages); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, ps);
  }
  GST_OBJECT_UNLOCK(s);
}

static void finalize(GObject *obj) {
  GstSscorBlendSink *s = GST_SSCOR_BLENDSINK(obj);
  g_free(s->location);
  G_OBJECT_CLASS(parent_class)->finalize(obj);
}

static void reset(GstSscorBlendSink *s) {
  if (s->writer) GST_INFO_OBJECT(s, "abandoning the unfinished %s", s->location);
  sscor_band_free(s->band);
  s->band = NULL;
  sscor_pyramid_abort(s->writer); /* removes temporaries; the target is untouched */
  s->writer = NULL;
  s->whole_frame = FALSE;
  s->done = FALSE;
  s->covered = 0;
  s->next_progress = 0;
}

static gboolean start(GstBaseSink *bsink) {
  GstSscorBlendSink *s = GST_SSCOR_BLENDSINK(bsink);
  reset(s);
  s->have_caps = FALSE;
  s->mpp_x = s->mpp_y = 0;
  s->src_pages = FALSE;
  if (!s->location || !*s->location) {
    GST_ELEMENT_ERROR(s, RESOURCE, NOT_FOUND, ("No output file given (set location)"), (NULL));
    return FALSE;
  }
  if (sscor_check_output(s->location, NULL)) { /* a folder, an unwritable one: before any data */
    GST_ELEMENT_ERROR(s, RESOURCE, OPEN_WRITE, ("%s", sscor_last_error()), (NULL));
    return FALSE;
  }
  return TRUE;
}

static gboolean stop(GstBaseSink *bsink) {
  reset(GST_SSCOR_BLENDSINK(bsink));
  return TRUE;
}

static gboolean set_caps(GstBaseSink *bsink, GstCaps *caps) {
  GstSscorBlendSink *s = GST_SSCOR_BLENDSINK(bsink);
  GstVideoInfo vi;
  if (!gst_video_info_from_caps(&vi, caps)) return FALSE;
  switch (GST_VIDEO_INFO_FORMAT(&vi)) {
  case GST_VIDEO_FORMAT_GRAY8: s->type = SSCOR_U8, s->frame_channels = 1; break;
  case GST_VIDEO_FORMAT_GRAY16_LE: s->type = SSCOR_U16, s->frame_channels = 1; break;
  case GST_VIDEO_FORMAT_RGB: s->type = SSCOR_U8, s->frame_channels = 3; break;
  case GST_VIDEO_FORMAT_RGBA: s->type = SSCOR_U8, s->frame_channels = 4; break;
  default: return FALSE;
  }
  if (s->writer && (GST_VIDEO_INFO_WIDTH(&vi) != GST_VIDEO_INFO_WIDTH(&s->vinfo) ||
                    GST_VIDEO_INFO_HEIGHT(&vi) != GST_VIDEO_INFO_HEIGHT(&s->vinfo) ||
                    GST_VIDEO_INFO_FORMAT(&vi) != GST_VIDEO_INFO_FORMAT(&s->vinfo))) {
    GST_ELEMENT_ERROR(s, STREAM, FORMAT, ("Frame format changed in the middle of an image"),
                      (NULL));
    return FALSE;
  }
  s->vinfo = vi;
  s->have_caps = TRUE;
  return TRUE;
}

static sscor_status emit_block(void *user, int x, int y, int w, int h, int channel,
                               const void *data, size_t stride) {
  GstSscorBlendSink *s = user;
  sscor_status st = sscor_pyramid_write_rect(s->writer, x, y, w, h, channel, data, stride);
  int done = sscor_pyramid_rows_written(s->writer);
  if (!st && done >= s->next_progress) {
    /* progress as an element message, every ~5 % */
    gdouble pct = 100.0 * done / (gdouble)s->height;
    gst_element_post_message(
        GST_ELEMENT(s),
        gst_message_new_element(GST_OBJECT(s),
                                gst_structure_new("progress", "rows", G_TYPE_INT, done, "total",
                                                  G_TYPE_INT, (gint)s->height, "percent",
                                                  G_TYPE_DOUBLE, pct, NULL)));
    s->next_progress = done + (int)(s->height / 20 > 0 ? s->height / 20 : 1);
  }
  return st;
}

static gboolean open_writer(GstSscorBlendSink *s, gint64 w, gint64 h, gint channels, const gchar *names) {
  sscor_pyramid_opts o;
  sscor_pyramid_opts_default(&o);
  o.compression = s->compression;
  o.quality = s->quality;
  o.tile_size = s->tile_size;
  o.bigtiff = s->bigtiff;
  o.subifds = s->subifds;
  o.mpp_x = s->mpp_x, o.mpp_y = s->mpp_y;
  o.channel_pages = s->channel_pages > 0 || (s->channel_pages < 0 && s->src_pages);
  o.channel_names = names;
  if (w > SSCOR_IMAGE_MAX_SIDE || h > SSCOR_IMAGE_MAX_SIDE || w <= 0 || h <= 0) {
    GST_ELEMENT_ERROR(s, STREAM, FORMAT,
                      ("%s: image size %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT " is out of range",
                       s->location, w, h),
                      (NULL));
    return FALSE;
  }
  s->width = w, s->height = h, s->channels = channels;
  sscor_status st = sscor_pyramid_open(s->location, (int)w, (int)h, channels, s->type, &o,
                                       &s->writer);
  if (st) {
    if (st == SSCOR_E_IO)
      GST_ELEMENT_ERROR(s, RESOURCE, OPEN_WRITE, ("%s", sscor_last_error()), (NULL));
    else
      GST_ELEMENT_ERROR(s, RESOURCE, SETTINGS, ("%s", sscor_last_error()), (NULL));
    return FALSE;
  }
  return TRUE;
}

static GstFlowReturn write_failed(GstSscorBlendSink *s) {
  GST_ELEMENT_ERROR(s, RESOURCE, WRITE, ("%s", sscor_last_error()), (NULL));
  reset(s);
  return GST_FLOW_ERROR;
}

static GstFlowReturn render(GstBaseSink *bsink, GstBuffer *buf) {
  GstSscorBlendSink *s = GST_SSCOR_BLENDSINK(bsink);
  if (!s->have_caps) {
    GST_ELEMENT_ERROR(s, CORE, NEGOTIATION, ("Frame without caps"), (NULL));
    return GST_FLOW_NOT_NEGOTIATED;
  }
  GstSscorTileMeta *m = gst_sscor_buffer_get_tile_meta(buf);
  if (s->done || (s->writer && s->whole_frame)) {
    GST_ELEMENT_WARNING(s, STREAM, TOO_LAZY, ("Ignoring a frame after the complete image"),
                        ("one image per stream; %s is already complete", s->location));
    return GST_FLOW_OK;
  }
  GstVideoFrame frame;
  if (!gst_video_frame_map(&frame, &s->vinfo, buf, GST_MAP_READ)) {
    GST_ELEMENT_ERROR(s, STREAM, FAILED, ("Cannot map a frame"), (NULL));
    return GST_FLOW_ERROR;
  }
  sscor_image tile;
  sscor_image_wrap(&tile, GST_VIDEO_FRAME_PLANE_DATA(&frame, 0), GST_VIDEO_FRAME_WIDTH(&frame),
                   GST_VIDEO_FRAME_HEIGHT(&frame), s->frame_channels, s->type,
                   (size_t)GST_VIDEO_FRAME_PLANE_STRIDE(&frame, 0));
  GstFlowReturn ret = GST_FLOW_OK;
  if (!m) {
    /* a whole image: straight to the writer */
    s->whole_frame = TRUE;
    if (!open_writer(s, tile.width, tile.height, tile.channels, NULL)) ret = GST_FLOW_ERROR;
    else if (sscor_pyramid_write_rows(s->writer, tile.data, tile.stride, tile.height))
      ret = write_failed(s);
    else
      s->covered = tile.height;
    gst_video_frame_unmap(&frame);
    return ret;
  }
  gint C = m->channel >= 0 ? (gint)m->n_channels : s->frame_channels;
  if (m->channel >= 0 && s->frame_channels != 1) {
    GST_ELEMENT_ERROR(s, STREAM, FORMAT,
                      ("%s: channel-sequential tiles must be GRAY frames, not %s", s->location,
                       gst_video_format_to_string(GST_VIDEO_INFO_FORMAT(&s->vinfo))),
                      (NULL));
    ret = GST_FLOW_ERROR;
    goto out;
  }
  if (!s->writer) {
    if (!open_writer(s, (gint64)m->image_width, (gint64)m->image_height, C,
                     gst_sscor_tile_meta_get_channel_names(m))) {
      ret = GST_FLOW_ERROR;
      goto out;
    }
    if (m->overlap > G_MAXINT ||
        sscor_tile_overlap_check(tile.width, tile.height, (int)m->overlap)) {
      GST_ELEMENT_ERROR(s, STREAM, FORMAT, ("%s: tile meta: %s", s->location, sscor_last_error()),
                        (NULL));
      reset(s);
      ret = GST_FLOW_ERROR;
      goto out;
    }
    sscor_status st = sscor_band_new((int)s->width, (int)s->height, C, s->type, tile.width,
                                     tile.height, (int)m->overlap, emit_block, s, &s->band);
    if (st) {
      GST_ELEMENT_ERROR(s, RESOURCE, NO_SPACE_LEFT, ("%s", sscor_last_error()), (NULL));
      reset(s);
      ret = GST_FLOW_ERROR;
      goto out;
    }
  } else if ((gint64)m->image_width != s->width || (gint64)m->image_height != s->height ||
             C != s->channels) {
    GST_ELEMENT_ERROR(s, STREAM, FORMAT,
                      ("%s: tile meta changed image geometry mid-stream (%" G_GUINT64_FORMAT
                       "x%" G_GUINT64_FORMAT "x%d after %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT
                       "x%d)",
                       s->location, m->image_width, m->image_height, C, s->width, s->height, s->channels),
                      (NULL));
    reset(s);
    ret = GST_FLOW_ERROR;
    goto out;
  }
  int ov = (int)m->overlap;
  sscor_band_tile t = {
      .x = (int)m->image_x,
      .y = (int)m->image_y,
      .valid_w = (int)m->valid_width,
      .valid_h = (int)m->valid_height,
      .lead_x = m->image_x > 0 ? ov : 0,
      .trail_x = (guint64)m->image_x + m->valid_width < m->image_width ? ov : 0,
      .lead_y = m->image_y > 0 ? ov : 0,
      .trail_y = (guint64)m->image_y + m->valid_height < m->image_height ? ov : 0,
      .channel = m->channel,
  };
  if (sscor_band_add(s->band, &tile, &t)) {
    GST_ELEMENT_ERROR(s, STREAM, FORMAT, ("%s", sscor_last_error()), (NULL));
    reset(s);
    ret = GST_FLOW_ERROR;
    goto out;
  }
  if (t.y + t.valid_h > s->covered) s->covered = t.y + t.valid_h;
  /* rows above this tile were written in sscor_band_add; a failure there is a write error */
out:
  gst_video_frame_unmap(&frame);
  return ret;
}

static gboolean finish(GstSscorBlendSink *s) {
  if (!s->writer) {
    GST_ELEMENT_ERROR(s, STREAM, FAILED, ("No image received: nothing to write to %s",
                                          s->location), (NULL));
    return FALSE;
  }
  if (s->covered < s->height) {
    GST_ELEMENT_ERROR(s, STREAM, FAILED,
                      ("Stream ended at row %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT
                       ": image incomplete, %s not written",
                       s->covered, s->height, s->location),
                      (NULL));
    reset(s);
    return FALSE;
  }
  sscor_status st = SSCOR_OK;
  if (s->band) st = sscor_band_finish(s->band);
  GST_INFO_OBJECT(s, "memory: blending %.1f MB, pyramid tiles and encoders %.1f MB, %" G_GUINT64_FORMAT " tiles parked",
                  (s->band ? sscor_band_buffer_bytes(s->band) : 0) / 1048576.0,
                  sscor_pyramid_buffer_bytes(s->writer) / 1048576.0,
                  sscor_pyramid_parked(s->writer));
  sscor_pyramid *w = s->writer;
  s->writer = NULL;
  if (st) sscor_pyramid_abort(w);
  else st = sscor_pyramid_finish(w);
  sscor_band_free(s->band);
  s->band = NULL;
  if (st) {
    GST_ELEMENT_ERROR(s, RESOURCE, WRITE, ("%s", sscor_last_error()), (NULL));
    return FALSE;
  }
  s->done = TRUE;
  GST_INFO_OBJECT(s, "wrote %s", s->location);
  return TRUE;
}

static gboolean event(GstBaseSink *bsink, GstEvent *ev) {
  GstSscorBlendSink *s = GST_SSCOR_BLENDSINK(bsink);
  if (GST_EVENT_TYPE(ev) == GST_EVENT_TAG) {
    GstTagList *tags;
    gst_event_parse_tag(ev, &tags);
    gdouble mx, my;
    if (gst_tag_list_get_double(tags, GST_SSCOR_TAG_MPP_X, &mx) && mx > 0 &&
        gst_tag_list_get_double(tags, GST_SSCOR_TAG_MPP_Y, &my) && my > 0) {
      s->mpp_x = mx;
      s->mpp_y = my;
    }
    gboolean pages;
    if (gst_tag_list_get_boolean(tags, GST_SSCOR_TAG_CHANNEL_PAGES, &pages)) s->src_pages = pages;
  } else if (GST_EVENT_TYPE(ev) == GST_EVENT_EOS && !s->done) {
    if (!finish(s)) {
      gst_event_unref(ev);
      return FALSE;
    }
  }
  return GST_BASE_SINK_CLASS(parent_class)->event(bsink, ev);
}

static void gst_sscor_blendsink_class_init(GstSscorBlendSinkClass *klass) {
  GObjectClass *oc = G_OBJECT_CLASS(klass);
  GstElementClass *ec = GST_ELEMENT_CLASS(klass);
  GstBaseSinkClass *bc = GST_BASE_SINK_CLASS(klass);
  oc->set_property = set_property;
  oc->get_property = get_property;
  oc->finalize = finalize;
  GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY;
  g_object_class_install_property(
      oc, PROP_LOCATION,
      g_param_spec_string("location", "Location",
                          "Pyramidal TIFF to write; it appears only when complete (written "
                          "unnamed in its folder, linked into place at the end: a stopped or "
                          "killed pipeline leaves nothing)",
                          NULL, rw));
  g_object_class_install_property(
      oc, PROP_COMPRESSION,
      g_param_spec_enum("compression", "Compression", "Tile compression",
                        GST_TYPE_SSCOR_COMPRESSION, SSCOR_COMPRESS_DEFLATE, rw));
  g_object_class_install_property(
      oc, PROP_QUALITY,
      g_param_spec_int("quality", "JPEG quality", "JPEG quality (compression=jpeg)", 1, 100, 90,
                       rw));
  g_object_class_install_property(
      oc, PROP_TILE_SIZE,
      g_param_spec_int("tile-size", "Tile size",
                       "Side of the TIFF tiles (multiple of 16); levels are halved until they "
                       "fit in one tile",
                       16, 4096, 256, rw));
  g_object_class_install_property(
      oc, PROP_BIGTIFF,
      g_param_spec_enum("bigtiff", "BigTIFF", "Write BigTIFF (64-bit offsets)",
                        GST_TYPE_SSCOR_BIGTIFF, -1, rw));
  g_object_class_install_property(
      oc, PROP_SUBIFDS,
      g_param_spec_boolean("subifds", "SubIFDs",
                           "Store reduced levels as SubIFDs of the full-resolution image "
                           "(OME-TIFF style, for Bio-Formats/QuPath) instead of the main "
                           "directory chain (OpenSlide generic-tiff)",
                           FALSE, rw));
  g_object_class_install_property(
      oc, PROP_CHANNEL_PAGES,
      g_param_spec_enum("channel-pages", "Channel pages",
                        "Write an image of 2+ channels as OME-TIFF with one page per channel (reduced "
                        "levels in SubIFDs, OME-XML with SizeC and the channel names); auto does so when "
                        "the source kept its channels as OME-TIFF pages (sscor-channel-pages tag)",
                        GST_TYPE_SSCOR_CHANNEL_PAGES, -1, rw));
  gst_element_class_add_static_pad_template(ec, &sink_template);
  gst_element_class_set_static_metadata(
      ec, "Tile blending pyramidal TIFF sink", "Sink/Video/File",
      "Blends overlapping tiles (tile meta) with smooth weights, or takes whole frames, and "
      "streams the image into a tiled pyramidal (Big)TIFF in bounded memory",
      "sscor developers");
  bc->start = start;
  bc->stop = stop;
  bc->set_caps = set_caps;
  bc->render = render;
  bc->event = event;
  GST_DEBUG_CATEGORY_INIT(sscor_blendsink_debug, "sscorblendsink", 0, "sscor blend sink");
  gst_type_mark_as_plugin_api(GST_TYPE_SSCOR_COMPRESSION, 0);
  gst_type_mark_as_plugin_api(GST_TYPE_SSCOR_BIGTIFF, 0);
  gst_type_mark_as_plugin_api(GST_TYPE_SSCOR_CHANNEL_PAGES, 0);
}

static void gst_sscor_blendsink_init(GstSscorBlendSink *s) {
  s->compression = SSCOR_COMPRESS_DEFLATE;
  s->quality = 90;
  s->tile_size = 256;
  s->bigtiff = -1;
  s->channel_pages = -1;
  gst_base_sink_set_sync(GST_BASE_SINK(s), FALSE);
}
