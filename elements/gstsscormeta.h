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
void gst_sscor_register_tags(void);

G_END_DECLS

#endif
