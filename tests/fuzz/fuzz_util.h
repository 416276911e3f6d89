/* Shared by the fuzz targets: the bytes under test as a path the project's
 * file APIs open, and a check that failures say something.
 *
 * The file is an anonymous memory file (memfd) reached through
 * /proc/self/fd/N: nothing is written to /tmp, and nothing is left behind
 * when a run crashes. One memfd per process, rewritten for every input. */
#ifndef SSCOR_FUZZ_UTIL_H
#define SSCOR_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h> /* memfd_create: _GNU_SOURCE, set by CMakeLists.txt */
#include <unistd.h>

#include "status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Path of a file holding exactly data[0..size). Aborts when the host cannot
 * give one: that is a broken fuzz setup, not a finding. */
static inline const char *fuzz_file(const uint8_t *data, size_t size) {
  static int fd = -1;
  static char path[64];
  if (fd < 0) {
    fd = memfd_create("sscor-fuzz", MFD_CLOEXEC);
    if (fd < 0) {
      perror("memfd_create");
      abort();
    }
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  }
  if (ftruncate(fd, 0) != 0 || (size && pwrite(fd, data, size, 0) != (ssize_t)size)) {
    perror("fuzz input file");
    abort();
  }
  return path;
}

/* A NUL-terminated copy (text parsers take C strings); free() it. */
static inline char *fuzz_text(const uint8_t *data, size_t size) {
  char *t = malloc(size + 1);
  if (!t) abort();
  memcpy(t, data, size);
  t[size] = 0;
  return t;
}

/* A failed call must leave a message; when `name` is given the message must
 * name it (the file a person has to look at). */
static inline void fuzz_check_error(sscor_status st, const char *name) {
  const char *msg = sscor_last_error();
  static int verbose = -1; /* SSCOR_FUZZ_VERBOSE=1: print every refusal (how deep seeds get) */
  if (verbose < 0) verbose = getenv("SSCOR_FUZZ_VERBOSE") != NULL;
  if (st == SSCOR_OK) return;
  if (verbose) fprintf(stderr, "refused: %s\n", msg);
  if (!msg || !*msg || (name && !strstr(msg, name))) {
    fprintf(stderr, "failure %s without a clear message: \"%s\" (expected it to name %s)\n",
            sscor_status_name(st), msg ? msg : "(null)", name ? name : "the problem");
    abort();
  }
}

#endif
