/* Float32 4-D tensors and the arena they live in.
 *
 * A tensor is logically NCHW (n images, c channels, h rows, w columns). Its
 * physical layout is chosen by the compute backend that produced it
 * (sscor_engine_layout in layers.h): the plain-C reference keeps NCHW, the
 * oneDNN backend keeps activations in NHWC (channels innermost) between
 * layers because its convolutions run ~1.6x faster there and no reorder is
 * needed between ops. Both layouts are dense, so a tensor always holds
 * exactly n*c*h*w floats at `data`; only the order differs. Code that reads
 * or writes values itself (image I/O, fixtures, tests) goes through
 * sscor_tensor_import / sscor_tensor_export, which take plain NCHW arrays.
 *
 * Weights are NOT activations: they are always plain arrays in PyTorch's
 * order (conv OIHW, transposed conv IOHW, bias [cout]) in host memory, so
 * model files and fixtures need no conversion.
 *
 * Memory: allocate every buffer of a network once from an arena before the
 * training / inference loop and reuse it; an arena hands out 64-byte aligned
 * blocks from a few large chunks (huge pages requested; each block is zeroed,
 * i.e. first-touched, when handed out) and frees them all at once. */
#ifndef SSCOR_TENSOR_H
#define SSCOR_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

typedef enum {
  SSCOR_LAYOUT_NCHW = 0, /* plain: w fastest, then h, c, n */
  SSCOR_LAYOUT_NHWC = 1  /* channels innermost: c fastest, then w, h, n */
} sscor_layout;

typedef struct sscor_tensor {
  int n, c, h, w;
  sscor_layout layout;
  float *data; /* n*c*h*w floats, 64-byte aligned when from an arena */
} sscor_tensor;

/* Bump allocator over large chunks; never frees single blocks. */
typedef struct sscor_arena_chunk sscor_arena_chunk;
typedef struct sscor_arena {
  sscor_arena_chunk *chunks; /* newest first */
  size_t chunk_bytes;        /* default size of a new chunk */
  size_t used;               /* bytes handed out (incl. alignment) */
  size_t reserved;           /* bytes obtained from the system */
} sscor_arena;

/* chunk_bytes 0 picks 16 MiB; larger requests get a chunk of their own. */
void sscor_arena_init(sscor_arena *a, size_t chunk_bytes);
/* Zero-filled, 64-byte aligned. Fails with SSCOR_E_NOMEM (message says how
 * much) when the system refuses; *out is NULL then. */
sscor_status sscor_arena_alloc(sscor_arena *a, size_t bytes, void **out);
/* Releases every chunk; the arena can be used again after. */
void sscor_arena_free(sscor_arena *a);

static inline size_t sscor_tensor_numel(const sscor_tensor *t) {
  return (size_t)t->n * (size_t)t->c * (size_t)t->h * (size_t)t->w;
}

/* Sets the shape and takes zeroed storage from the arena. Refuses
 * non-positive or absurd dimensions (> 2^31 elements) with SSCOR_E_INVALID. */
sscor_status sscor_tensor_alloc(sscor_arena *a, sscor_tensor *t, int n, int c, int h, int w,
                                sscor_layout layout);
/* Describes existing storage (no allocation). */
sscor_tensor sscor_tensor_wrap(float *data, int n, int c, int h, int w, sscor_layout layout);
int sscor_tensor_same_shape(const sscor_tensor *a, const sscor_tensor *b);

/* Offset of element (n, c, y, x) in t->data for t's layout. */
static inline size_t sscor_tensor_index(const sscor_tensor *t, int n, int c, int y, int x) {
  if (t->layout == SSCOR_LAYOUT_NHWC)
    return (((size_t)n * t->h + y) * t->w + x) * t->c + c;
  return (((size_t)n * t->c + c) * t->h + y) * t->w + x;
}

/* Copy between a plain NCHW host array of numel floats and t (any layout). */
void sscor_tensor_import(sscor_tensor *t, const float *nchw);
void sscor_tensor_export(const sscor_tensor *t, float *nchw);
/* dst = src with dst's layout; shapes must match (checked, SSCOR_E_INVALID). */
sscor_status sscor_tensor_convert(const sscor_tensor *src, sscor_tensor *dst);
void sscor_tensor_fill(sscor_tensor *t, float v);

#endif
