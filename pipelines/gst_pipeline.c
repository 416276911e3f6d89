/* Running GStreamer pipelines from the `sscor` tool; see gst_pipeline.h. */
#include "gst_pipeline.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

double sscor_cli_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int sscor_gst_ready(const char *cmd) {
  static int done;
  if (done) return 0;
  gst_init(NULL, NULL);
  /* find the plugin in the build tree, else where it is installed */
  GstRegistry *reg = gst_registry_get();
  GstPluginFeature *f = gst_registry_lookup_feature(reg, "sscorcorrect");
  if (!f) {
    gst_registry_scan_path(reg, SSCOR_PLUGIN_DIR);
    f = gst_registry_lookup_feature(reg, "sscorcorrect");
  }
  if (!f) {
    fprintf(stderr,
            "sscor %s: the sscor GStreamer plugin is not installed (looked in GST_PLUGIN_PATH, "
            "the system plugin folder and %s)\n",
            cmd, SSCOR_PLUGIN_DIR);
    return -1;
  }
  gst_object_unref(f);
  done = 1;
  return 0;
}

void sscor_gst_quote(GString *g, const char *s) {
  g_string_append_c(g, '"');
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') g_string_append_c(g, '\\');
    g_string_append_c(g, *s);
  }
  g_string_append_c(g, '"');
}

void sscor_cli_progress(int quiet, const char *what, double frac, double t0, int *last) {
  if (quiet) return;
  int pct = (int)(frac * 100 + 0.5);
  if (isatty(2)) {
    int n = pct * 30 / 100;
    fprintf(stderr, "\r%-10s [%.*s%*s] %3d%% %5.0fs", what, n, "##############################", 30 - n, "",
            pct, sscor_cli_now() - t0);
    if (pct >= 100) fputc('\n', stderr);
  } else if (pct >= *last + 10 || (pct >= 100 && *last < 100)) {
    fprintf(stderr, "%s: %d%% (%.0f s)\n", what, pct, sscor_cli_now() - t0);
    *last = pct;
  }
}

int sscor_gst_run(const char *cmd, const char *text, int quiet, const char *what, sscor_gst_setup_fn setup,
                  sscor_gst_message_fn on_message, void *user) {
  if (sscor_gst_ready(cmd)) return SSCOR_EXIT_FAIL;
  if (!quiet) fprintf(stderr, "pipeline: gst-launch-1.0 %s\n", text);
  GError *err = NULL;
  GstElement *p = gst_parse_launch(text, &err);
  if (!p || err) {
    fprintf(stderr, "sscor %s: cannot build the pipeline: %s\n", cmd, err ? err->message : "unknown error");
    g_clear_error(&err);
    if (p) gst_object_unref(p);
    return SSCOR_EXIT_FAIL;
  }
  if (setup) setup(p, user);
  int rc = SSCOR_EXIT_OK, last = -10;
  double t0 = sscor_cli_now();
  GstBus *bus = gst_element_get_bus(p);
  if (gst_element_set_state(p, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) rc = SSCOR_EXIT_FAIL;
  for (int done = 0; !done;) {
    GstMessage *m = gst_bus_timed_pop_filtered(bus, GST_CLOCK_TIME_NONE,
                                               GST_MESSAGE_ERROR | GST_MESSAGE_EOS | GST_MESSAGE_ELEMENT);
    if (!m) break;
    switch (GST_MESSAGE_TYPE(m)) {
    case GST_MESSAGE_ERROR: {
      GError *e = NULL;
      gchar *dbg = NULL;
      gst_message_parse_error(m, &e, &dbg);
      if (!quiet && isatty(2)) fputc('\n', stderr);
      fprintf(stderr, "sscor %s: %s%s%s\n", cmd, e->message, dbg ? ": " : "", dbg ? dbg : "");
      sscor_fail(SSCOR_E_IO, "%s", e->message); /* for whoever reports the run (correct --report) */
      g_error_free(e);
      g_free(dbg);
      rc = SSCOR_EXIT_FAIL;
      done = 1;
      break;
    }
    case GST_MESSAGE_EOS: done = 1; break;
    default: {
      const GstStructure *s = gst_message_get_structure(m);
      int rows, total;
      if (s && gst_structure_has_name(s, "progress") && gst_structure_get_int(s, "rows", &rows) &&
          gst_structure_get_int(s, "total", &total) && total > 0)
        sscor_cli_progress(quiet, what, (double)rows / total, t0, &last);
      else if (s && on_message)
        on_message(s, user);
    }
    }
    gst_message_unref(m);
  }
  gst_element_set_state(p, GST_STATE_NULL);
  gst_object_unref(bus);
  gst_object_unref(p);
  if (rc == SSCOR_EXIT_OK) sscor_cli_progress(quiet, what, 1.0, t0, &last);
  return rc;
}
