/* Shared bits of the `sscor` command-line tool. Each sub-command lives in its
 * own pipelines/cmd_NAME.c as `int sscor_cmd_NAME(int argc, char **argv)`
 * (argv[0] is the sub-command's name) and is listed once in the table in
 * pipelines/sscor.c. */
#ifndef SSCOR_CLI_H
#define SSCOR_CLI_H

#include <stdio.h>

#include "status.h"

#define SSCOR_VERSION "0.1.0"

/* Exit codes, the same for every sub-command. */
enum {
  SSCOR_EXIT_OK = 0,
  SSCOR_EXIT_FAIL = 1,  /* the work failed: unreadable or bad input, I/O error */
  SSCOR_EXIT_USAGE = 2, /* wrong options or arguments */
};

typedef struct {
  const char *name;
  const char *summary; /* one line for `sscor --help` */
  int (*run)(int argc, char **argv);
} sscor_command;

/* Sub-commands (add new ones here and in the table in sscor.c). */
int sscor_cmd_synth(int argc, char **argv);
int sscor_cmd_sample(int argc, char **argv);
int sscor_cmd_metrics(int argc, char **argv);
int sscor_cmd_detect(int argc, char **argv);
int sscor_cmd_train(int argc, char **argv);
int sscor_cmd_apply(int argc, char **argv);
int sscor_cmd_correct(int argc, char **argv);
int sscor_cmd_batch(int argc, char **argv);
int sscor_cmd_report_index(int argc, char **argv);

/* Prints "sscor CMD: <last libsscor error>" and returns SSCOR_EXIT_FAIL. */
int sscor_cli_fail(const char *cmd);
/* Prints "sscor CMD: <message>" plus a pointer to --help; returns SSCOR_EXIT_USAGE. */
int sscor_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Strict number parsing: the whole string, finite, within [lo, hi]. 0 on success. */
int sscor_cli_double(const char *s, double lo, double hi, double *out);
int sscor_cli_int(const char *s, long lo, long hi, long *out);

#endif
