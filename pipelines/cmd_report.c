/* sscor report-index, and the --report hooks of sscor correct / batch. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_report.h"
#include "report.h"

static char *command_line;

/* The command as typed, words with odd characters single-quoted. */
void sscor_cli_report_set_command(int argc, char **argv) {
  GString *g = g_string_new("sscor");
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    g_string_append_c(g, ' ');
    if (*a && strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=,:+@%") == strlen(a)) {
      g_string_append(g, a);
      continue;
    }
    g_string_append_c(g, '\'');
    for (; *a; a++) *a == '\'' ? g_string_append(g, "'\\''") : g_string_append_c(g, *a);
    g_string_append_c(g, '\'');
  }
  g_free(command_line);
  command_line = g_string_free(g, FALSE);
}

int sscor_cli_report_begin(const char *cmd, sscor_cli_report *r, const char *dir, const char *out) {
  memset(r, 0, sizeof *r);
  r->dir = dir, r->t_analysis = r->t_apply = -1, r->started = time(NULL);
  if (sscor_report_name(out, r->name, sizeof r->name) || sscor_report_prepare(dir)) return sscor_cli_fail(cmd);
  return SSCOR_EXIT_OK;
}

void sscor_cli_report_message(sscor_cli_report *r, const GstStructure *s) {
  if (!gst_structure_has_name(s, "sscor-geometry")) return;
  g_free(r->summary), g_free(r->geometry);
  r->summary = g_strdup(gst_structure_get_string(s, "summary"));
  r->geometry = g_strdup(gst_structure_get_string(s, "geometry"));
  r->have_flat = gst_structure_get(s, "flatfield-seam-obs", G_TYPE_INT, &r->flat_seam_obs, "flatfield-interior-obs",
                                   G_TYPE_INT, &r->flat_interior_obs, "flatfield-residual-before", G_TYPE_DOUBLE,
                                   &r->flat_rms_before, "flatfield-residual-after", G_TYPE_DOUBLE, &r->flat_rms_after,
                                   "flatfield-min", G_TYPE_DOUBLE, &r->flat_min, "flatfield-max", G_TYPE_DOUBLE,
                                   &r->flat_max, NULL);
}

int sscor_cli_report_end(const char *cmd, sscor_cli_report *r, const char *in, const char *out, int rc,
                         const char *applied, int quiet) {
  char error[2048];
  snprintf(error, sizeof error, "%s", *sscor_last_error() ? sscor_last_error() : "the correction failed (see its log)");
  sscor_report_info info = {
      .name = r->name, .input = in, .output = out, .command = command_line, .version = "sscor " SSCOR_VERSION,
      .failed = rc != SSCOR_EXIT_OK, .error = error, .geometry = r->geometry, .summary = r->summary,
      .applied = rc ? "nothing: no output was written" : applied, .have_flat = r->have_flat,
      .flat_seam_obs = r->flat_seam_obs, .flat_interior_obs = r->flat_interior_obs,
      .flat_rms_before = r->flat_rms_before, .flat_rms_after = r->flat_rms_after, .flat_min = r->flat_min,
      .flat_max = r->flat_max, .seconds_analysis = r->t_analysis, .seconds_apply = r->t_apply, .started = r->started};
  double s;
  if (sscor_report_write(r->dir, &info, &s)) {
    fprintf(stderr, "sscor %s: report: %s\n", cmd, sscor_last_error());
    rc = SSCOR_EXIT_FAIL;
  } else if (!quiet) {
    fprintf(stderr, "report: %s/%s.html (%.1f s)\n", r->dir, r->name, s);
  }
  g_free(r->summary), g_free(r->geometry);
  r->summary = r->geometry = NULL;
  return rc;
}

int sscor_cmd_report_index(int argc, char **argv) {
  const char *cmd = "report-index";
  if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    printf("usage: sscor report-index DIR\n"
           "Rebuilds DIR/index.html from the slide reports in DIR (written by 'sscor correct --report DIR').\n");
    return SSCOR_EXIT_OK;
  }
  if (argc != 2 || argv[1][0] == '-') return sscor_cli_usage_error(cmd, "expected the report folder DIR");
  if (sscor_report_index(argv[1])) return sscor_cli_fail(cmd);
  return SSCOR_EXIT_OK;
}
