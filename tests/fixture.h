/* Reader for the fixture files written by tests/make_fixtures.py: a list of
 * named float arrays (float32 or float16, little-endian). Header-only so each
 * test stays one file. */
#ifndef SSCOR_TEST_FIXTURE_H
#define SSCOR_TEST_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  char name[96];
  int ndim, dims[8];
  size_t count;
  float *data;
} fx_array;

typedef struct {
  fx_array *a;
  int n;
} fx_file;

static inline float fx_half(uint16_t h) {
  int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
  float v;
  if (e == 0) v = ldexpf((float)m, -24);
  else if (e == 31) v = m ? NAN : INFINITY;
  else v = ldexpf((float)(m | 1024), e - 25);
  return s ? -v : v;
}

static inline uint32_t fx_u32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Loads $SSCOR_FIXTURES/<file>; returns 0 and prints why on failure. */
static inline int fx_load(const char *file, fx_file *out) {
  memset(out, 0, sizeof *out);
  const char *dir = getenv("SSCOR_FIXTURES");
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir ? dir : "tests/fixtures", file);
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "%s: cannot open\n", path);
    return 0;
  }
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *buf = malloc((size_t)len);
  if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
    fclose(f);
    free(buf);
    fprintf(stderr, "%s: read failed\n", path);
    return 0;
  }
  fclose(f);
  size_t pos = 0;
  while (pos + 12 <= (size_t)len) {
    fx_array a;
    memset(&a, 0, sizeof a);
    uint32_t nl = fx_u32(buf + pos);
    pos += 4;
    if (nl >= sizeof a.name) break;
    memcpy(a.name, buf + pos, nl);
    pos += nl;
    uint32_t dtype = fx_u32(buf + pos), nd = fx_u32(buf + pos + 4);
    pos += 8;
    a.ndim = (int)nd;
    a.count = 1;
    for (uint32_t i = 0; i < nd && i < 8; i++) {
      a.dims[i] = (int)fx_u32(buf + pos);
      a.count *= (size_t)a.dims[i];
      pos += 4;
    }
    size_t es = dtype == 1 ? 2 : 4;
    if (pos + a.count * es > (size_t)len) break;
    a.data = malloc(a.count * sizeof(float) + 1);
    for (size_t i = 0; i < a.count; i++) {
      const uint8_t *p = buf + pos + i * es;
      if (dtype == 1) {
        a.data[i] = fx_half((uint16_t)(p[0] | p[1] << 8));
      } else {
        uint32_t u = fx_u32(p);
        memcpy(&a.data[i], &u, 4);
      }
    }
    pos += a.count * es;
    out->a = realloc(out->a, (size_t)(out->n + 1) * sizeof *out->a);
    out->a[out->n++] = a;
  }
  free(buf);
  if (pos != (size_t)len) {
    fprintf(stderr, "%s: malformed at byte %zu\n", path, pos);
    return 0;
  }
  return 1;
}

static inline const fx_array *fx_get(const fx_file *f, const char *name) {
  for (int i = 0; i < f->n; i++)
    if (strcmp(f->a[i].name, name) == 0) return &f->a[i];
  fprintf(stderr, "fixture array '%s' missing\n", name);
  return NULL;
}

static inline void fx_free(fx_file *f) {
  for (int i = 0; i < f->n; i++) free(f->a[i].data);
  free(f->a);
  memset(f, 0, sizeof *f);
}

/* max |a-b| / (max |b| + tiny): one relative figure for a whole tensor */
static inline double fx_rel_err(const float *a, const float *b, size_t n) {
  double md = 0, mb = 0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)a[i] - b[i]);
    if (d > md || d != d) md = d != d ? INFINITY : d;
    if (fabs(b[i]) > mb) mb = fabs(b[i]);
  }
  return md / (mb + 1e-30);
}

#endif
