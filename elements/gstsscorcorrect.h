/* sscorcorrect: applies an sscor model (flat-field and/or learned G_C,
 * core/correct.h) to each tile of a tile stream, or to whole frames. */
#ifndef GST_SSCOR_CORRECT_H
#define GST_SSCOR_CORRECT_H

#include <gst/video/gstvideofilter.h>
#include <gst/video/video.h>

#include "correct.h"

G_BEGIN_DECLS

#define GST_TYPE_SSCOR_CORRECT (gst_sscor_correct_get_type())
G_DECLARE_FINAL_TYPE(GstSscorCorrect, gst_sscor_correct, GST, SSCOR_CORRECT, GstVideoFilter)

struct _GstSscorCorrect {
  GstVideoFilter parent;
  gchar *model_path;
  gint step, threads;
  gboolean max_rule;
  sscor_model model;
  gboolean model_loaded;
  sscor_corrector *corr;
  gboolean checked;
  gchar *location; /* the stream's file (location tag), for messages; NULL when none */
};

GST_ELEMENT_REGISTER_DECLARE(sscorcorrect);

G_END_DECLS

#endif
