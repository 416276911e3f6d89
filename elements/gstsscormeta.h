/* GstSscorTileMeta: where a buffer's pixels sit in a larger image.
 *
 * sscorslidesrc attaches it to every tile it emits; sscorblendsink (and any
 * element that works per tile: samplers, correctors) reads it to know the
 * tile's place, how much of it is real image and how tiles overlap. Buffers
 * without it are whole images.
 *
 * Coordinates: `x`, `y` are the tile origin in level-0 (full resolution)
 * coordinates of the source slide, for people and for reading more of the
 * slide; `image_x`, `image_y` are the origin in the streamed image (pixels of
 * the streamed level, relative to the region of interest), which is what
 * blending and geometry use. Tiles on the right and bottom edges are padded to
 * the full frame size by reflection; `valid_width` x `valid_height` (from the
 * top-left) is image content.
 *
 * Channels: a frame either carries every channel of the image interleaved in
 * its video format (`channel` = -1), or, in the channel-sequential layout used
 * for images that no video format holds (e.g. 2..N channels of 16-bit), one
 * channel as a GRAY8/GRAY16_LE frame: the tile is then sent as `n_channels`
 * consecutive frames, `channel` = 0 .. n_channels-1, with identical geometry.
 *
 * The meta is tagged "video" and "size": it survives queue, tee and any
 * element that keeps the frame size (videoconvert copies it through its
 * transform function); an element that scales the frame drops it, since the
 * geometry would be wrong. */
#ifndef GST_SSCOR_META_H
#define GST_SSCOR_META_H

#include <gst/gst.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

#define GST_SSCOR_TILE_META_API_TYPE (gst_sscor_tile_meta_api_get_type())
#define GST_SSCOR_TILE_META_INFO (gst_sscor_tile_meta_get_info())

typedef struct {
  GstMeta meta;
  gint64 x, y;                 /* tile origin, level-0 slide coordinates */
  gint64 image_x, image_y;     /* tile origin in the streamed image */
  guint valid_width;           /* columns of image content from the left */
  guint valid_height;          /* rows of image content from the top */
  guint64 image_width;         /* streamed image size (region at the streamed level) */
  guint64 image_height;
  guint overlap;               /* samples shared with each neighbouring tile */
  guint col, row;              /* tile index in the grid (raster order) */
  guint n_cols, n_rows;        /* grid size */
  guint level;                 /* source pyramid level */
  gdouble downsample;          /* level-0 pixels per streamed pixel */
  gint channel;                /* -1: all channels interleaved; else the one channel carried */
  guint n_channels;            /* channels of the image */
  GQuark channel_names;        /* comma-separated names, e.g. "R,G,B" or "ch0,ch1"; 0 = none */
} GstSscorTileMeta;

GType gst_sscor_tile_meta_api_get_type(void);
/* Registers the meta on first use (plugin_init calls it once). */
const GstMetaInfo *gst_sscor_tile_meta_get_info(void);

/* Adds a zeroed tile meta (channel = -1, downsample = 1) for the caller to fill. */
GstSscorTileMeta *gst_sscor_buffer_add_tile_meta(GstBuffer *buffer);
#define gst_sscor_buffer_get_tile_meta(b) \
  ((GstSscorTileMeta *)gst_buffer_get_meta((b), GST_SSCOR_TILE_META_API_TYPE))

/* Channel names as a string ("" when unset). */
const gchar *gst_sscor_tile_meta_get_channel_names(const GstSscorTileMeta *meta);
void gst_sscor_tile_meta_set_channel_names(GstSscorTileMeta *meta, const gchar *names);

/* Stream tags carrying the physical pixel size (microns per pixel of the
 * streamed level, G_TYPE_DOUBLE), registered by the plugin. */
#define GST_SSCOR_TAG_MPP_X "sscor-mpp-x"
#define GST_SSCOR_TAG_MPP_Y "sscor-mpp-y"
/* Stream tag (G_TYPE_BOOLEAN): the source file keeps its channels as
 * OME-TIFF channel pages, so sscorblendsink writes them back that way. */
#define GST_SSCOR_TAG_CHANNEL_PAGES "sscor-channel-pages"
void gst_sscor_register_tags(void);

/* GstSscorPairMeta: one training pair, as sscorsample emits it.
 *
 * The frame is 2*patch wide and patch high: the anomaly patch (centred on a
 * seam, a grid crossing or in an artifact region) on the left, the nearest
 * clean "normal" patch on the right, in the stream's format. Positions are
 * the patches' top-left corners in the streamed image (same coordinates as
 * the tile meta's image_x/image_y). In the channel-sequential layout a pair
 * is sent as n_channels consecutive GRAY frames, channel = 0 .. n-1. */
#define GST_SSCOR_PAIR_META_API_TYPE (gst_sscor_pair_meta_api_get_type())
#define GST_SSCOR_PAIR_META_INFO (gst_sscor_pair_meta_get_info())

typedef struct {
  GstMeta meta;
  gint64 anomaly_x, anomaly_y; /* anomaly patch top-left, streamed image px */
  gint64 normal_x, normal_y;   /* normal patch top-left */
  guint patch;                 /* patch side in px */
  gint seam;                   /* seam index (sscor_geometry_seams order); -1: crossing or artifact */
  gboolean crossing;           /* the anomaly is centred on a grid crossing */
  guint index, count;          /* pair number and number of pairs in the stream */
  guint64 image_width, image_height; /* the streamed image the pairs come from */
  gint channel;                /* -1: all channels interleaved; else the one channel carried */
  guint n_channels;
} GstSscorPairMeta;

GType gst_sscor_pair_meta_api_get_type(void);
const GstMetaInfo *gst_sscor_pair_meta_get_info(void);
/* Adds a zeroed pair meta (channel = -1, seam = -1). */
GstSscorPairMeta *gst_sscor_buffer_add_pair_meta(GstBuffer *buffer);
#define gst_sscor_buffer_get_pair_meta(b) \
  ((GstSscorPairMeta *)gst_buffer_get_meta((b), GST_SSCOR_PAIR_META_API_TYPE))

/* The analysis of the image the pairs come from, sent by sscorsample before
 * its first pair as a sticky custom downstream event: a model file in memory
 * (core/model_file.h, sscor_model_to_memory) holding the META section
 * (channels, sample format), GEOM (the stripe geometry used for sampling) and,
 * when a seam-aware flat-field was estimated, FLAT. sscortrain composes its
 * model from it. */
#define GST_SSCOR_ANALYSIS_EVENT "sscor-analysis"
GstEvent *gst_sscor_analysis_event_new(GBytes *model);
/* TRUE when e is an analysis event; *model gets a new reference. */
gboolean gst_sscor_analysis_event_parse(GstEvent *e, GBytes **model);

/* Caps of a serialized model (sscortrain's output). */
#define GST_SSCOR_MODEL_CAPS "application/x-sscor-model"

G_END_DECLS

#endif
