#include "tensor.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

struct sscor_arena_chunk {
  sscor_arena_chunk *next;
  char *base;
  size_t size, used;
};

#define ARENA_ALIGN 64
#define ARENA_DEFAULT_CHUNK ((size_t)16 << 20)

void sscor_arena_init(sscor_arena *a, size_t chunk_bytes) {
  memset(a, 0, sizeof *a);
  a->chunk_bytes = chunk_bytes ? chunk_bytes : ARENA_DEFAULT_CHUNK;
}

static sscor_arena_chunk *arena_new_chunk(sscor_arena *a, size_t need) {
  size_t size = need > a->chunk_bytes ? need : a->chunk_bytes;
  size = (size + 4095) & ~(size_t)4095;
  sscor_arena_chunk *c = malloc(sizeof *c);
  if (!c) return NULL;
  /* 2 MiB alignment lets the kernel back the chunk with huge pages. */
  void *p = NULL;
  if (posix_memalign(&p, (size_t)2 << 20, size) != 0) {
    free(c);
    return NULL;
  }
#ifdef MADV_HUGEPAGE
  madvise(p, size, MADV_HUGEPAGE);
#endif
  c->base = p;
  c->size = size;
  c->used = 0;
  c->next = a->chunks;
  a->chunks = c;
  a->reserved += size;
  return c;
}

sscor_status sscor_arena_alloc(sscor_arena *a, size_t bytes, void **out) {
  *out = NULL;
  if (bytes == 0) bytes = 1;
  if (bytes > ((size_t)1 << 46))
    return sscor_fail(SSCOR_E_NOMEM, "arena: absurd allocation of %zu bytes", bytes);
  size_t need = (bytes + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
  sscor_arena_chunk *c = a->chunks;
  if (!c || c->size - c->used < need) {
    /* Keep filling the current chunk for small requests that follow. */
    if (c && need > a->chunk_bytes / 4) {
      sscor_arena_chunk *own = arena_new_chunk(a, need);
      if (!own)
        return sscor_fail(SSCOR_E_NOMEM, "arena: cannot allocate %zu bytes", need);
      /* Put the dedicated chunk behind the current one so the current chunk
       * keeps serving small requests. */
      a->chunks = own->next;
      own->next = c->next;
      c->next = own;
      own->used = need;
      a->used += need;
      *out = own->base;
      memset(*out, 0, need); /* first touch now, not in the first step */
      return SSCOR_OK;
    }
    c = arena_new_chunk(a, need);
    if (!c) return sscor_fail(SSCOR_E_NOMEM, "arena: cannot allocate %zu bytes", need);
  }
  *out = c->base + c->used;
  memset(*out, 0, need); /* first touch now, not in the first step */
  c->used += need;
  a->used += need;
  return SSCOR_OK;
}

void sscor_arena_free(sscor_arena *a) {
  sscor_arena_chunk *c = a->chunks;
  while (c) {
    sscor_arena_chunk *next = c->next;
    free(c->base);
    free(c);
    c = next;
  }
  size_t chunk = a->chunk_bytes;
  sscor_arena_init(a, chunk);
}

sscor_status sscor_tensor_alloc(sscor_arena *a, sscor_tensor *t, int n, int c, int h, int w,
                                sscor_layout layout) {
  memset(t, 0, sizeof *t);
  if (n <= 0 || c <= 0 || h <= 0 || w <= 0)
    return sscor_fail(SSCOR_E_INVALID, "tensor: bad shape %dx%dx%dx%d", n, c, h, w);
  double numel = (double)n * c * h * w;
  if (numel > 2147483647.0)
    return sscor_fail(SSCOR_E_INVALID, "tensor: shape %dx%dx%dx%d is too large", n, c, h, w);
  void *p;
  sscor_status s = sscor_arena_alloc(a, (size_t)numel * sizeof(float), &p);
  if (s) return s;
  *t = sscor_tensor_wrap(p, n, c, h, w, layout);
  return SSCOR_OK;
}

sscor_tensor sscor_tensor_wrap(float *data, int n, int c, int h, int w, sscor_layout layout) {
  sscor_tensor t = {.n = n, .c = c, .h = h, .w = w, .layout = layout, .data = data};
  return t;
}

int sscor_tensor_same_shape(const sscor_tensor *a, const sscor_tensor *b) {
  return a->n == b->n && a->c == b->c && a->h == b->h && a->w == b->w;
}

void sscor_tensor_import(sscor_tensor *t, const float *nchw) {
  if (t->layout == SSCOR_LAYOUT_NCHW || t->c == 1) {
    memcpy(t->data, nchw, sscor_tensor_numel(t) * sizeof(float));
    return;
  }
  size_t hw = (size_t)t->h * t->w;
  for (int n = 0; n < t->n; n++)
    for (int c = 0; c < t->c; c++) {
      const float *src = nchw + ((size_t)n * t->c + c) * hw;
      float *dst = t->data + (size_t)n * hw * t->c + c;
      for (size_t i = 0; i < hw; i++) dst[i * t->c] = src[i];
    }
}

void sscor_tensor_export(const sscor_tensor *t, float *nchw) {
  if (t->layout == SSCOR_LAYOUT_NCHW || t->c == 1) {
    memcpy(nchw, t->data, sscor_tensor_numel(t) * sizeof(float));
    return;
  }
  size_t hw = (size_t)t->h * t->w;
  for (int n = 0; n < t->n; n++)
    for (int c = 0; c < t->c; c++) {
      const float *src = t->data + (size_t)n * hw * t->c + c;
      float *dst = nchw + ((size_t)n * t->c + c) * hw;
      for (size_t i = 0; i < hw; i++) dst[i] = src[i * t->c];
    }
}

sscor_status sscor_tensor_convert(const sscor_tensor *src, sscor_tensor *dst) {
  if (!sscor_tensor_same_shape(src, dst))
    return sscor_fail(SSCOR_E_INVALID, "tensor convert: shapes %dx%dx%dx%d and %dx%dx%dx%d differ",
                      src->n, src->c, src->h, src->w, dst->n, dst->c, dst->h, dst->w);
  if (src->layout == dst->layout) {
    if (src->data != dst->data)
      memcpy(dst->data, src->data, sscor_tensor_numel(src) * sizeof(float));
    return SSCOR_OK;
  }
  if (src->data == dst->data)
    return sscor_fail(SSCOR_E_INVALID, "tensor convert: cannot change layout in place");
  if (src->layout == SSCOR_LAYOUT_NCHW)
    sscor_tensor_import(dst, src->data);
  else
    sscor_tensor_export(src, dst->data);
  return SSCOR_OK;
}

void sscor_tensor_fill(sscor_tensor *t, float v) {
  size_t n = sscor_tensor_numel(t);
  for (size_t i = 0; i < n; i++) t->data[i] = v;
}
