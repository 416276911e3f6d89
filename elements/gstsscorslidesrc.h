/* sscorslidesrc: streams a whole-slide image or TIFF as overlapping tiles in
 * raster order, each with a GstSscorTileMeta. */
#ifndef GST_SSCOR_SLIDESRC_H
#define GST_SSCOR_SLIDESRC_H

#include <gst/base/gstpushsrc.h>
#include <gst/video/video.h>

#include "slide.h"

G_BEGIN_DECLS

#define GST_TYPE_SSCOR_SLIDESRC (gst_sscor_slidesrc_get_type())
G_DECLARE_FINAL_TYPE(GstSscorSlideSrc, gst_sscor_slidesrc, GST, SSCOR_SLIDESRC, GstPushSrc)

struct _GstSscorSlideSrc {
  GstPushSrc parent;
  /* properties */
  gchar *location;
  gint level;
  gint tile_width, tile_height, overlap;
  gboolean tile_width_set, tile_height_set; /* set by the user (else clamped to the image) */
  gint64 region_x, region_y, region_width, region_height;
  gchar *channels;
  guint cache_mb;
  /* stream state */
  sscor_slide *slide;
  GstVideoInfo vinfo;
  gint src_channels, out_channels, sequential;
  gint sel[SSCOR_IMAGE_MAX_CHANNELS];
  gchar *channel_names;
  sscor_sample_type type;
  gint64 rx, ry, rw, rh; /* region at the streamed level */
  gint tw, th;           /* tile size in use */
  gdouble downsample;
  guint n_cols, n_rows, col, row, chan;
  guint8 *scratch;     /* one tile, every source channel, valid part */
  gboolean tile_loaded, tags_sent;
};

GST_ELEMENT_REGISTER_DECLARE(sscorslidesrc);

G_END_DECLS

#endif
