/* `sscor`: one command-line tool, one sub-command per task. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const sscor_command commands[] = {
    {"correct", "correct a stitched image end to end: detect, estimate, correct, write the pyramid", sscor_cmd_correct},
    {"detect", "find the tile/stripe geometry of an image; print or save it", sscor_cmd_detect},
    {"sample", "write the training pairs (anomaly | normal) of an image as PNGs, with their positions", sscor_cmd_sample},
    {"train", "estimate a correction model (geometry + seam-aware flat-field) of an image", sscor_cmd_train},
    {"apply", "correct an image with a model (the sscorcorrect pipeline)", sscor_cmd_apply},
    {"batch", "correct many images into a folder, skipping finished ones", sscor_cmd_batch},
    {"synth", "degrade an image (or generated tissue) with known artifacts; write the truth", sscor_cmd_synth},
    {"metrics", "measure a correction: seams, flatness, fidelity, and PSNR/SSIM against a truth", sscor_cmd_metrics},
    {"report-index", "rebuild the index page of a folder of slide reports (correct --report)", sscor_cmd_report_index},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

int sscor_cli_fail(const char *cmd) {
  fprintf(stderr, "sscor %s: %s\n", cmd, sscor_last_error());
  return SSCOR_EXIT_FAIL;
}

int sscor_cli_usage_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "sscor %s: ", cmd);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n(see 'sscor %s --help')\n", cmd);
  return SSCOR_EXIT_USAGE;
}

int sscor_cli_double(const char *s, double lo, double hi, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end || errno || !isfinite(v) || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

int sscor_cli_int(const char *s, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (end == s || *end || errno || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: sscor COMMAND [options] [arguments]\n"
          "Stripe and artifact self-correction for stitched microscopy images.\n\n"
          "commands:\n");
  for (size_t i = 0; i < NCOMMANDS; i++) fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf(f,
          "\n'sscor COMMAND --help' describes a command.\n"
          "exit status: 0 success, 1 the work failed (bad or unreadable input, I/O), 2 usage error\n");
}

/* GNU OpenMP reads OMP_WAIT_POLICY when it loads, before main: by default its
 * threads spin, and the kernels crawl whenever another program shares the
 * cores. Set it and start again once; a setting the user made is kept. */
static void prefer_passive_openmp(char **argv) {
  if (getenv("OMP_WAIT_POLICY")) return;
  setenv("OMP_WAIT_POLICY", "passive", 1);
  execv("/proc/self/exe", argv); /* returns only on failure: go on spinning */
}

int main(int argc, char **argv) {
  prefer_passive_openmp(argv);
  if (argc < 2) {
    usage(stderr);
    return SSCOR_EXIT_USAGE;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return SSCOR_EXIT_OK;
  }
  if (!strcmp(argv[1], "--version")) {
    printf("sscor " SSCOR_VERSION "\n");
    return SSCOR_EXIT_OK;
  }
  for (size_t i = 0; i < NCOMMANDS; i++)
    if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "sscor: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return SSCOR_EXIT_USAGE;
}
