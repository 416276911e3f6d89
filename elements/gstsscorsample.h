/* sscorsample: proximity sampling of training pairs (anomaly patch on a
 * seam | nearest clean patch) from a tile stream or whole frames; see
 * gstsscorsample.c. */
#ifndef GST_SSCOR_SAMPLE_H
#define GST_SSCOR_SAMPLE_H

#include <gst/gst.h>
#include <gst/video/video.h>

#include "correct.h"
#include "sampling.h"

G_BEGIN_DECLS

#define GST_TYPE_SSCOR_SAMPLE (gst_sscor_sample_get_type())
G_DECLARE_FINAL_TYPE(GstSscorSample, gst_sscor_sample, GST, SSCOR_SAMPLE, GstElement)

/* One patch of a pair being assembled from the tiles streaming by. */
typedef struct {
  guint8 *px;   /* patch x patch pixels, tightly packed, NULL until a tile touches it */
  guint8 *seen; /* 1 per sample tracked (pixel, or pixel and channel) once copied (tiles overlap) */
  gint filled;  /* samples copied */
} GstSscorPendingPatch;

struct _GstSscorSample {
  GstElement parent;
  GstPad *sinkpad, *srcpad;
  /* properties */
  gint patch, step, jitter, max_pairs, side, scale;
  guint64 seed;
  gdouble fg_fraction;
  gchar *stripes, *geometry_location, *geometry_output;
  gboolean artifacts, flatfield;
  guint max_memory; /* MB of accumulated tiles */
  gint knots;        /* flat-field options (core/flatfield.h) */
  gboolean tile_gains, interior;
  gdouble dark;
  /* stream */
  GstVideoInfo in_info, out_info;
  gboolean have_caps;
  gint pixel_ch;   /* samples per pixel of the frames */
  gsize bpp;       /* bytes per pixel of a frame */
  gint seq_ch;     /* channel-sequential tile stream: the image's channels; else 0 */
  gsize pbpp;      /* bytes per pixel of the image (seq_ch samples in that layout) */
  sscor_sample_type type;
  gchar *location; /* the file the tiles come from (stream tag), or NULL */
  gint mode;       /* tile streams: 0 undecided, 1 assembling from the file's analysis, 2 accumulating */
  guint frames;    /* whole frames analysed so far */
  /* mode 1: pairs of the analysis and their pending patches */
  sscor_pair *pairs;
  gint n_pairs, n_pushed;
  GstSscorPendingPatch *pending; /* 2 per pair: anomaly, normal */
  gint first_open;               /* pairs below are all pushed */
  /* mode 2: the streamed image */
  sscor_image acc;
};

GST_ELEMENT_REGISTER_DECLARE(sscorsample);

G_END_DECLS

#endif
