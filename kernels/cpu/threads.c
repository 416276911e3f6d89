#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "cpu/cpu_kernels.h"
#include "kernels.h"

static int thread_count;

void sscor_kernels_set_threads(int n) { thread_count = n > 0 ? n : 0; }

int sscor_kernels_threads(void) {
  if (thread_count > 0) return thread_count;
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

/* OpenMP's team size is a per-thread setting, and GStreamer calls in from
 * streaming threads, so it is applied on the calling thread at every op. */
void sscor_kernels_apply_threads(void) {
  int n = sscor_kernels_threads();
  if (omp_get_max_threads() != n) omp_set_num_threads(n);
}

static _Thread_local char kernels_error[512];

const char *sscor_kernels_error(void) { return kernels_error; }

int sscor_kernels_set_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(kernels_error, sizeof kernels_error, fmt, ap);
  va_end(ap);
  return 1;
}
