/* sscortrain: collects training pairs (anomaly | normal frames with the pair
 * meta, as sscorsample emits them), trains sscor's corrector at EOS
 * (core/correct.h sscor_train_patches) and outputs the model: one buffer of
 * caps application/x-sscor-model downstream, and/or the file `location`. */
#ifndef GST_SSCOR_TRAIN_H
#define GST_SSCOR_TRAIN_H

#include <gst/gst.h>
#include <gst/video/video.h>

#include "correct.h"
#include "gstsscormeta.h"

G_BEGIN_DECLS

#define GST_TYPE_SSCOR_TRAIN (gst_sscor_train_get_type())
G_DECLARE_FINAL_TYPE(GstSscorTrain, gst_sscor_train, GST, SSCOR_TRAIN, GstElement)

/* Properties, as set (object lock). */
typedef struct {
  gchar *location, *preset, *checkpoint_location;
  gint epochs, threads;
  guint64 seed;
  gdouble budget, checkpoint_interval, progress_interval;
  gboolean joint_channels, flatfield_first, resume;
} GstSscorTrainSettings;

struct _GstSscorTrain {
  GstElement parent;
  GstPad *sinkpad, *srcpad;
  GstSscorTrainSettings props;
  /* streaming state: the settings of this run, copied when it starts */
  GstSscorTrainSettings run;
  const gchar *preset;      /* resolved: "flatfield", "cpu" or "paper" */
  GstVideoInfo vinfo;
  gboolean have_caps;
  sscor_model analysis;     /* META (+ GEOM, FLAT) from the analysis event */
  gboolean have_analysis;
  sscor_geometry geom;
  gboolean have_geom;
  sscor_flatfield *ff[SSCOR_MODEL_MAX_CHANNELS]; /* the analysis' fields: one for all channels, or one each */
  int nff;
  gint channels;            /* of the pairs (RGBA counts 3) */
  sscor_sample_type type;
  guint patch;              /* of the first pair */
  guint64 frames;           /* frames received */
  /* collected pairs (flat-fielded F32 patches) */
  sscor_image *anomalies, *normals;
  gint n_pairs, cap_pairs;
  /* channel-sequential pairs: channels received so far */
  sscor_image seq;          /* 2*patch x patch, all channels, the stream's type */
  gint seq_next;
  GstSscorPairMeta seq_meta;
  gboolean failed;
  gint cancel;              /* atomic: stop training (state change, flush) */
  /* progress messages */
  sscor_train_progress last_progress;
  gboolean have_progress, last_posted;
  gint64 last_post_us;
};

GST_ELEMENT_REGISTER_DECLARE(sscortrain);

G_END_DECLS

#endif
