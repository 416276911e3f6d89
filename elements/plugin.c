/* The sscor GStreamer plugin: registers every element once. */
#include <gst/gst.h>

#include "gstsscorstripes.h"

static gboolean plugin_init(GstPlugin *plugin) {
  gboolean ok = TRUE;
  ok &= GST_ELEMENT_REGISTER(sscorstripes, plugin);
  return ok;
}

GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, sscor,
                  "Stripe and artifact self-correction for stitched microscopy images",
                  plugin_init, VERSION, "LGPL", GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
