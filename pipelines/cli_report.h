/* `sscor correct --report DIR` and `sscor report-index DIR`: the CLI side of
 * core/report.h (collects what the pipelines tell, then writes the page). */
#ifndef SSCOR_CLI_REPORT_H
#define SSCOR_CLI_REPORT_H

#include <gst/gst.h>
#include <time.h>

typedef struct {
  const char *dir;
  char name[256];
  char *summary, *geometry; /* from the sscor-geometry message */
  int have_flat, flat_seam_obs, flat_interior_obs;
  double flat_rms_before, flat_rms_after, flat_min, flat_max;
  double t_analysis, t_apply; /* seconds, < 0: not run */
  time_t started;
} sscor_cli_report;

/* Remembers the sub-command's argv for the page's "command" line. */
void sscor_cli_report_set_command(int argc, char **argv);
/* Checks DIR (creating it) and the page name from OUT before any work;
 * prints why not and returns SSCOR_EXIT_FAIL, else SSCOR_EXIT_OK. */
int sscor_cli_report_begin(const char *cmd, sscor_cli_report *r, const char *dir, const char *out);
/* Takes what an sscor-geometry message says. */
void sscor_cli_report_message(sscor_cli_report *r, const GstStructure *s);
/* Writes the page for a run that ended with exit code rc (failed: the last
 * error message); returns rc, or SSCOR_EXIT_FAIL when the page cannot be written. */
int sscor_cli_report_end(const char *cmd, sscor_cli_report *r, const char *in, const char *out, int rc,
                         const char *applied, int quiet);

#endif
