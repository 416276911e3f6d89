/* sscorstripes: applies seeded degradations (core/degrade.h) to video frames,
 * to make test and training data with known artifacts in a pipeline. */
#ifndef GST_SSCOR_STRIPES_H
#define GST_SSCOR_STRIPES_H

#include <gst/gst.h>
#include <gst/video/gstvideofilter.h>

G_BEGIN_DECLS

#define GST_TYPE_SSCOR_STRIPES (gst_sscor_stripes_get_type())
G_DECLARE_FINAL_TYPE(GstSscorStripes, gst_sscor_stripes, GST, SSCOR_STRIPES, GstVideoFilter)

GST_ELEMENT_REGISTER_DECLARE(sscorstripes);

G_END_DECLS

#endif
