/* Replays files through a fuzz target's LLVMFuzzerTestOneInput without
 * libFuzzer: every argument is a file or a folder of files (the committed
 * seed corpus and the regression inputs), so each input that once crashed
 * stays a test of the normal build. A crash, a sanitizer report or an abort
 * inside the target fails the test; the count of inputs run is printed. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_util.h"
#include "model_file.h"

static int run_file(const char *path) {
  uint8_t *buf;
  size_t len;
  if (sscor_read_file(path, &buf, &len)) {
    fprintf(stderr, "%s\n", sscor_last_error());
    return -1;
  }
  LLVMFuzzerTestOneInput(buf, len);
  free(buf);
  return 1;
}

static int cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file of a folder, in name order; -1 when unreadable. */
static int run_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  char **names = NULL;
  int n = 0, cap = 0, done = 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 64;
      if (!(names = realloc(names, (size_t)cap * sizeof *names))) abort();
    }
    size_t l = strlen(dir) + strlen(e->d_name) + 2;
    if (!(names[n] = malloc(l))) abort();
    snprintf(names[n++], l, "%s/%s", dir, e->d_name);
  }
  closedir(d);
  if (n) qsort(names, (size_t)n, sizeof *names, cmp);
  for (int i = 0; i < n; i++) {
    struct stat sb;
    if (stat(names[i], &sb) == 0 && S_ISREG(sb.st_mode)) {
      if (run_file(names[i]) < 0) done = -1;
      else if (done >= 0) done++;
    }
    free(names[i]);
  }
  free(names);
  return done;
}

int main(int argc, char **argv) {
  int total = 0;
  for (int i = 1; i < argc; i++) {
    struct stat sb;
    int n;
    if (stat(argv[i], &sb) != 0) {
      fprintf(stderr, "%s: no such file or folder\n", argv[i]);
      return 1;
    }
    n = S_ISDIR(sb.st_mode) ? run_dir(argv[i]) : run_file(argv[i]);
    if (n < 0) {
      fprintf(stderr, "%s: cannot read every input\n", argv[i]);
      return 1;
    }
    printf("%s: %d inputs\n", argv[i], n);
    total += n;
  }
  if (total == 0) {
    fprintf(stderr, "no inputs replayed\n");
    return 1;
  }
  printf("%d inputs replayed, no crash\n", total);
  return 0;
}
