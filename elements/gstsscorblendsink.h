/* sscorblendsink: blends overlapping tiles (or takes a whole frame) and
 * writes a pyramidal tiled TIFF, streaming a band of rows. */
#ifndef GST_SSCOR_BLENDSINK_H
#define GST_SSCOR_BLENDSINK_H

#include <gst/base/gstbasesink.h>
#include <gst/video/video.h>

#include "blend.h"
#include "pyramid.h"

G_BEGIN_DECLS

#define GST_TYPE_SSCOR_BLENDSINK (gst_sscor_blendsink_get_type())
G_DECLARE_FINAL_TYPE(GstSscorBlendSink, gst_sscor_blendsink, GST, SSCOR_BLENDSINK, GstBaseSink)

struct _GstSscorBlendSink {
  GstBaseSink parent;
  /* properties */
  gchar *location;
  sscor_compression compression;
  gint quality, tile_size, bigtiff;
  gboolean subifds;
  gint channel_pages; /* -1 auto, 0 off, 1 on */
  /* stream state */
  GstVideoInfo vinfo;
  gboolean have_caps;
  gint frame_channels;
  sscor_sample_type type;
  gdouble mpp_x, mpp_y;
  gboolean src_pages; /* sscor-channel-pages tag seen */
  sscor_pyramid *writer;
  sscor_band *band;
  gint64 width, height;
  gint channels;
  gboolean whole_frame; /* first buffer had no tile meta */
  gboolean done;        /* image complete and written */
  gint64 covered;       /* lowest bottom edge of image content seen */
  gint next_progress;
};

GST_ELEMENT_REGISTER_DECLARE(sscorblendsink);

G_END_DECLS

#endif
