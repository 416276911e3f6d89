/* The sscor GStreamer plugin: registers the tile meta once, then every
 * element. Add an element by adding one line to the list below. */
#include <gst/gst.h>

#include "gstsscorblendsink.h"
#include "gstsscorcorrect.h"
#include "gstsscormeta.h"
#include "gstsscorsample.h"
#include "gstsscorslidesrc.h"
#include "gstsscorstripes.h"
#include "gstsscortrain.h"

static gboolean plugin_init(GstPlugin *plugin) {
  gst_sscor_tile_meta_get_info();
  gst_sscor_pair_meta_get_info();
  gst_sscor_register_tags();
  gboolean ok = TRUE;
  ok &= GST_ELEMENT_REGISTER(sscorslidesrc, plugin);
  ok &= GST_ELEMENT_REGISTER(sscorblendsink, plugin);
  ok &= GST_ELEMENT_REGISTER(sscorcorrect, plugin);
  ok &= GST_ELEMENT_REGISTER(sscorstripes, plugin);
  ok &= GST_ELEMENT_REGISTER(sscortrain, plugin);
  ok &= GST_ELEMENT_REGISTER(sscorsample, plugin);
  return ok;
}

GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, sscor,
                  "Stripe and artifact self-correction for stitched microscopy and whole slides",
                  plugin_init, VERSION, "LGPL", GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
