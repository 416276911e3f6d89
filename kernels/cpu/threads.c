#include "kernels.h"

#include <unistd.h>

static int thread_count;

void sscor_kernels_set_threads(int n) { thread_count = n > 0 ? n : 0; }

int sscor_kernels_threads(void) {
  if (thread_count > 0) return thread_count;
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}
