/* Running GStreamer pipelines from the `sscor` tool: the sub-commands print
 * a gst-launch-1.0 line and build the pipeline from that very text, so a
 * user typing it gets the same result. */
#ifndef SSCOR_CLI_GST_PIPELINE_H
#define SSCOR_CLI_GST_PIPELINE_H

#include <gst/gst.h>

/* Monotonic seconds. */
double sscor_cli_now(void);
/* gst_init once and find the sscor plugin (build tree or installed); prints
 * why not and returns -1 when it is missing. */
int sscor_gst_ready(const char *cmd);
/* Appends s to a pipeline text as a quoted property value. */
void sscor_gst_quote(GString *g, const char *s);
/* Progress display: a bar on a terminal, a line every 10 % otherwise. */
void sscor_cli_progress(int quiet, const char *what, double frac, double t0, int *last);

/* Called with the parsed pipeline before it plays (e.g. to add pad probes). */
typedef void (*sscor_gst_setup_fn)(GstElement *pipeline, void *user);
/* Called with every other element message (e.g. sscor-geometry). */
typedef void (*sscor_gst_message_fn)(const GstStructure *s, void *user);
/* Runs the pipeline `text` to EOS, printing it first unless quiet. Element
 * messages named "progress" (rows, total) drive a progress display labelled
 * `what`; the others go to on_message (may be NULL). Prints the element's
 * error; returns an SSCOR_EXIT_* code. */
int sscor_gst_run(const char *cmd, const char *text, int quiet, const char *what, sscor_gst_setup_fn setup,
                  sscor_gst_message_fn on_message, void *user);
/* The signal (SIGINT, SIGTERM, SIGHUP) that stopped a run, else 0. The run
 * returned SSCOR_EXIT_FAIL, later runs fail at once, and main() dies of
 * that signal once the command has cleaned up. */
int sscor_gst_stopped(void);

#endif
