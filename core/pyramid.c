#include "pyramid.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <libdeflate.h>
#include <zstd.h>

#include "fileio.h"
#include "ome.h"
#include "tiffutil.h"

#define MAX_LEVELS 32
#define MAX_QUEUED 8 /* finished tiles waiting for an encoder before the writer waits */
/* Tiles being filled kept in memory; beyond this the least recently used one
 * not touched by the current block is parked in a scratch file, so memory
 * does not follow the image width. (A block that spans more tiles than this,
 * e.g. full-width rows, keeps them all: parking them would thrash.) */
#define MAX_RESIDENT 32
/* Raw size above which a file is written as BigTIFF in auto mode (classic
 * TIFF offsets stop at 4 GiB; compression can fail to shrink noise). */
#define BIGTIFF_AUTO_BYTES 3500000000ull

typedef struct level level;

/* A tile being filled: in memory, or parked in the spill file while the
 * stream is elsewhere (e.g. the bottom of a tile row waiting for the next
 * row of input tiles). */
typedef struct open_tile {
  uint8_t *buf;   /* NULL while parked */
  int64_t slot;   /* spill slot while parked */
  uint64_t stamp; /* last use, for least-recently-used parking */
  int k, pos;     /* level; index in p->resident */
  uint32_t index;
} open_tile;

/* A finished tile on its way to an encoder. */
typedef struct job {
  level *lv;
  uint32_t index;
  int vw, vh;
  uint8_t *buf;
  struct job *next;
} job;

struct level {
  int index;
  int w, h;
  size_t row_bytes;
  int cols, rows;      /* tiles across and down */
  TIFF *tif;
  sscor_tiff_errbuf eb;
  int fd;              /* own unlinked scratch file (reduced levels, channel pages), else -1 */
  pthread_mutex_t mu;  /* serialises writes to tif */
  struct open_tile **pend; /* per tile: while being filled (NULL before and after) */
  uint32_t *filled;    /* per tile: samples received */
  uint32_t done;       /* tiles finished */
};

typedef struct {
  uint8_t *out;
  size_t out_cap;
  struct libdeflate_compressor *deflate;
  uint8_t *plane; /* channel pages: one channel of a tile */
} worker_ctx;

struct sscor_pyramid {
  char *path;
  sscor_outfile out; /* level 0 (or the channel pages) and, at the end, the whole file */
  /* channel pages: every level goes to a scratch file of separate planes
     and the output (`pages`) gets one page per channel at the end */
  TIFF *pages;
  sscor_tiff_errbuf pages_eb;
  char *ome;
  int width, height, channels;
  sscor_sample_type type;
  size_t ss;
  sscor_pyramid_opts o;
  int nlevels;
  level lv[MAX_LEVELS];
  int T;
  size_t tile_bytes;
  int own_codec;  /* compression done here (parallel), else libtiff encodes */
  int next_row;   /* sscor_pyramid_write_rows: next row expected */
  uint64_t samples0; /* level-0 samples received */
  /* tile buffers: a free list shared by all levels (touched memory is reused) */
  uint8_t **free_bufs;
  int nfree, free_cap, nbufs;
  /* tiles being filled: resident ones, and the spill file for parked ones */
  open_tile **resident;
  int nresident, resident_cap;
  uint64_t stamp, block_stamp; /* now; when the current block began */
  int spill_fd;
  int64_t *free_slots, nslots;
  int nfree_slots, free_slots_cap;
  uint64_t parked; /* tiles parked so far (for reports) */
  /* worker pool */
  pthread_mutex_t mu;
  pthread_cond_t cv_work, cv_free;
  job *qhead, *qtail, *free_jobs;
  int queued, busy;
  int quit, nthreads;
  pthread_t threads[8];
  worker_ctx wctx[8];
  int failed;
  sscor_status fail_code;
  char fail_msg[600];
};

void sscor_pyramid_opts_default(sscor_pyramid_opts *o) {
  memset(o, 0, sizeof *o);
  o->compression = SSCOR_COMPRESS_DEFLATE;
  o->quality = 90;
  o->tile_size = 256;
  o->bigtiff = -1;
}

static const char *const comp_names[] = {"none", "deflate", "lzw", "jpeg", "zstd"};

const char *sscor_compression_name(sscor_compression c) {
  return (unsigned)c < 5 ? comp_names[c] : "unknown";
}

sscor_status sscor_compression_parse(const char *name, sscor_compression *out) {
  for (int i = 0; i < 5; i++)
    if (name && strcmp(name, comp_names[i]) == 0) {
      *out = (sscor_compression)i;
      return SSCOR_OK;
    }
  return sscor_fail(SSCOR_E_INVALID,
                    "unknown compression \"%s\" (none, deflate, lzw, jpeg, zstd)",
                    name ? name : "");
}

static void record_failure(sscor_pyramid *p, sscor_status code, const char *msg) {
  pthread_mutex_lock(&p->mu);
  if (!p->failed) {
    p->failed = 1;
    p->fail_code = code;
    snprintf(p->fail_msg, sizeof p->fail_msg, "%s", msg);
  }
  pthread_cond_broadcast(&p->cv_free);
  pthread_mutex_unlock(&p->mu);
}

static sscor_status failure(sscor_pyramid *p) {
  return sscor_fail(p->fail_code, "%s", p->fail_msg);
}

/* ---- tags ------------------------------------------------------------- */

static int tiff_compression(sscor_compression c) {
  switch (c) {
  case SSCOR_COMPRESS_NONE: return COMPRESSION_NONE;
  case SSCOR_COMPRESS_DEFLATE: return COMPRESSION_ADOBE_DEFLATE;
  case SSCOR_COMPRESS_LZW: return COMPRESSION_LZW;
  case SSCOR_COMPRESS_JPEG: return COMPRESSION_JPEG;
  case SSCOR_COMPRESS_ZSTD: return COMPRESSION_ZSTD;
  }
  return COMPRESSION_NONE;
}

static int uses_predictor(const sscor_pyramid *p) {
  return p->type != SSCOR_F32 && p->o.compression != SSCOR_COMPRESS_NONE &&
         p->o.compression != SSCOR_COMPRESS_JPEG;
}

/* Tags of level l holding C channels: interleaved, or as separate planes
 * (the channel pages' temporary files); desc goes on full-resolution pages. */
static void set_tags(sscor_pyramid *p, TIFF *tif, const level *l, int reduced, int C, int separate,
                     const char *desc) {
  TIFFSetField(tif, TIFFTAG_SUBFILETYPE, reduced ? FILETYPE_REDUCEDIMAGE : 0);
  TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, (uint32_t)l->w);
  TIFFSetField(tif, TIFFTAG_IMAGELENGTH, (uint32_t)l->h);
  TIFFSetField(tif, TIFFTAG_TILEWIDTH, (uint32_t)p->T);
  TIFFSetField(tif, TIFFTAG_TILELENGTH, (uint32_t)p->T);
  TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)C);
  TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, (uint16_t)(p->ss * 8));
  TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT,
               p->type == SSCOR_F32 ? SAMPLEFORMAT_IEEEFP : SAMPLEFORMAT_UINT);
  TIFFSetField(tif, TIFFTAG_PLANARCONFIG, separate ? PLANARCONFIG_SEPARATE : PLANARCONFIG_CONTIG);
  int jpeg = p->o.compression == SSCOR_COMPRESS_JPEG;
  int rgb = !separate && (C == 3 || C == 4);
  if (rgb) {
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, jpeg && C == 3 ? PHOTOMETRIC_YCBCR : PHOTOMETRIC_RGB);
  } else {
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
  }
  int extra = rgb ? C - 3 : C - 1;
  if (extra > 0) {
    uint16_t kinds[SSCOR_IMAGE_MAX_CHANNELS];
    for (int i = 0; i < extra; i++) kinds[i] = EXTRASAMPLE_UNSPECIFIED;
    if (rgb && C == 4) kinds[0] = EXTRASAMPLE_UNASSALPHA;
    TIFFSetField(tif, TIFFTAG_EXTRASAMPLES, (uint16_t)extra, kinds);
  }
  TIFFSetField(tif, TIFFTAG_COMPRESSION, tiff_compression(p->o.compression));
  if (uses_predictor(p)) TIFFSetField(tif, TIFFTAG_PREDICTOR, PREDICTOR_HORIZONTAL);
  if (jpeg) {
    TIFFSetField(tif, TIFFTAG_JPEGQUALITY, p->o.quality);
    if (C == 3) {
      TIFFSetField(tif, TIFFTAG_YCBCRSUBSAMPLING, 2, 2);
      TIFFSetField(tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
    }
  }
  if (p->o.compression == SSCOR_COMPRESS_DEFLATE && p->o.level > 0)
    TIFFSetField(tif, TIFFTAG_ZIPQUALITY, p->o.level);
  if (p->o.compression == SSCOR_COMPRESS_ZSTD && p->o.level > 0)
    TIFFSetField(tif, TIFFTAG_ZSTD_LEVEL, p->o.level);
  if (p->o.mpp_x > 0 && p->o.mpp_y > 0) {
    double ds_x = (double)p->width / l->w, ds_y = (double)p->height / l->h;
    TIFFSetField(tif, TIFFTAG_RESOLUTIONUNIT, RESUNIT_CENTIMETER);
    TIFFSetField(tif, TIFFTAG_XRESOLUTION, (float)(10000.0 / (p->o.mpp_x * ds_x)));
    TIFFSetField(tif, TIFFTAG_YRESOLUTION, (float)(10000.0 / (p->o.mpp_y * ds_y)));
  }
  if (!reduced && desc) TIFFSetField(tif, TIFFTAG_IMAGEDESCRIPTION, desc);
  TIFFSetField(tif, TIFFTAG_SOFTWARE, "sscor");
}

/* ---- tile encoding (worker threads) ------------------------------------ */

static void predict(const sscor_pyramid *p, uint8_t *tile, int C) {
  int T = p->T;
  if (p->type == SSCOR_U8) {
    for (int y = 0; y < T; y++) {
      uint8_t *r = tile + (size_t)y * T * C;
      for (int i = T * C - 1; i >= C; i--) r[i] = (uint8_t)(r[i] - r[i - C]);
    }
  } else {
    for (int y = 0; y < T; y++) {
      uint16_t *r = (uint16_t *)tile + (size_t)y * T * C;
      for (int i = T * C - 1; i >= C; i--) r[i] = (uint16_t)(r[i] - r[i - C]);
    }
  }
}

/* Replicates the last valid column and row into the padding so every tile
 * is complete and compresses well. */
static void pad_tile(const sscor_pyramid *p, uint8_t *tile, int vw, int vh) {
  int T = p->T;
  size_t px = (size_t)p->channels * p->ss, row = (size_t)T * px;
  if (vw < T)
    for (int y = 0; y < vh; y++) {
      uint8_t *r = tile + (size_t)y * row;
      for (int x = vw; x < T; x++) memcpy(r + (size_t)x * px, r + (size_t)(vw - 1) * px, px);
    }
  for (int y = vh; y < T; y++) memcpy(tile + (size_t)y * row, tile + (size_t)(vh - 1) * row, row);
}

/* Compresses n bytes at data (own codecs) and writes them as tile `index`
 * of l's file; libtiff encodes the others. */
static int write_tile(sscor_pyramid *p, worker_ctx *wk, level *l, uint32_t index, uint8_t *data, size_t n,
                      int C, char *err, size_t errlen) {
  tmsize_t w;
  if (p->own_codec) {
    size_t len = n;
    const uint8_t *out = data;
    if (uses_predictor(p)) predict(p, data, C);
    if (p->o.compression == SSCOR_COMPRESS_DEFLATE) {
      /* zlib-wrapped deflate, as libtiff's AdobeDeflate codec stores it */
      len = libdeflate_zlib_compress(wk->deflate, data, n, wk->out, wk->out_cap);
      if (len == 0) {
        snprintf(err, errlen, "deflate failed on a tile of level %d", l->index);
        return 0;
      }
      out = wk->out;
    } else if (p->o.compression == SSCOR_COMPRESS_ZSTD) {
      int lvl = p->o.level > 0 ? p->o.level : 9;
      size_t r = ZSTD_compress(wk->out, wk->out_cap, data, n, lvl);
      if (ZSTD_isError(r)) {
        snprintf(err, errlen, "zstd failed on a tile of level %d: %s", l->index,
                 ZSTD_getErrorName(r));
        return 0;
      }
      out = wk->out, len = r;
    }
    pthread_mutex_lock(&l->mu);
    w = TIFFWriteRawTile(l->tif, index, (void *)out, (tmsize_t)len);
    pthread_mutex_unlock(&l->mu);
    if (w >= 0 && (size_t)w == len) return 1;
  } else {
    pthread_mutex_lock(&l->mu);
    w = TIFFWriteEncodedTile(l->tif, index, data, (tmsize_t)n);
    pthread_mutex_unlock(&l->mu);
    if (w >= 0) return 1;
  }
  snprintf(err, errlen, "%s: cannot write a tile of level %d: %s", p->path, l->index,
           sscor_tiff_why(&l->eb, strerror(EIO)));
  return 0;
}

static int encode_tile(sscor_pyramid *p, worker_ctx *wk, job *j, char *err, size_t errlen) {
  level *l = j->lv;
  pad_tile(p, j->buf, j->vw, j->vh);
  if (!p->pages) return write_tile(p, wk, l, j->index, j->buf, p->tile_bytes, p->channels, err, errlen);
  /* channel pages: plane c of the separate-planes file holds channel c */
  int C = p->channels;
  size_t ss = p->ss, n = (size_t)p->T * p->T;
  for (int c = 0; c < C; c++) {
    for (size_t i = 0; i < n; i++) memcpy(wk->plane + i * ss, j->buf + (i * C + c) * ss, ss);
    uint32_t t = j->index + (uint32_t)c * (uint32_t)(l->cols * l->rows);
    if (!write_tile(p, wk, l, t, wk->plane, n * ss, 1, err, errlen)) return 0;
  }
  return 1;
}

/* Returns a tile buffer to the free list (p->mu held). */
static void release_buf(sscor_pyramid *p, uint8_t *buf) {
  p->free_bufs[p->nfree++] = buf; /* free_cap >= nbufs: never overflows */
}

typedef struct {
  sscor_pyramid *p;
  int slot;
} worker_arg;

static void *worker_loop(void *arg) {
  sscor_pyramid *p = ((worker_arg *)arg)->p;
  worker_ctx *wk = &p->wctx[((worker_arg *)arg)->slot];
  free(arg);
  char err[600];
  pthread_mutex_lock(&p->mu);
  for (;;) {
    while (!p->qhead && !p->quit) pthread_cond_wait(&p->cv_work, &p->mu);
    if (!p->qhead) break;
    job *j = p->qhead;
    p->qhead = j->next;
    if (!p->qhead) p->qtail = NULL;
    p->queued--;
    p->busy++;
    int skip = p->failed;
    pthread_mutex_unlock(&p->mu);
    int ok = skip ? 0 : encode_tile(p, wk, j, err, sizeof err);
    if (!ok && !skip) record_failure(p, SSCOR_E_IO, err);
    pthread_mutex_lock(&p->mu);
    release_buf(p, j->buf);
    j->next = p->free_jobs;
    p->free_jobs = j;
    p->busy--;
    pthread_cond_broadcast(&p->cv_free);
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

/* Hands a finished tile to the encoders; waits while too many are queued. */
static sscor_status enqueue(sscor_pyramid *p, level *l, uint32_t index, int vw, int vh,
                            uint8_t *buf) {
  pthread_mutex_lock(&p->mu);
  while (p->queued >= MAX_QUEUED && !p->failed) pthread_cond_wait(&p->cv_free, &p->mu);
  job *j = p->free_jobs;
  if (j) p->free_jobs = j->next;
  else j = malloc(sizeof *j);
  if (!j || p->failed) {
    int failed = p->failed;
    if (j) {
      j->next = p->free_jobs;
      p->free_jobs = j;
    }
    release_buf(p, buf);
    pthread_mutex_unlock(&p->mu);
    return failed ? failure(p) : sscor_fail(SSCOR_E_NOMEM, "out of memory");
  }
  *j = (job){l, index, vw, vh, buf, NULL};
  if (p->qtail) p->qtail->next = j;
  else p->qhead = j;
  p->qtail = j;
  p->queued++;
  pthread_cond_broadcast(&p->cv_work);
  pthread_mutex_unlock(&p->mu);
  return SSCOR_OK;
}

/* A tile buffer from the free list, or a new one. */
static uint8_t *take_buf(sscor_pyramid *p) {
  uint8_t *b = NULL;
  pthread_mutex_lock(&p->mu);
  if (p->nfree) {
    b = p->free_bufs[--p->nfree];
  } else {
    if (p->nbufs == p->free_cap) { /* the free list can always take every buffer back */
      int cap = p->free_cap ? 2 * p->free_cap : 64;
      uint8_t **f = realloc(p->free_bufs, (size_t)cap * sizeof *f);
      if (f) p->free_bufs = f, p->free_cap = cap;
    }
    if (p->nbufs < p->free_cap && (b = malloc(p->tile_bytes))) p->nbufs++;
  }
  pthread_mutex_unlock(&p->mu);
  return b;
}

static void wait_idle(sscor_pyramid *p) {
  pthread_mutex_lock(&p->mu);
  while (p->qhead || p->busy) pthread_cond_wait(&p->cv_free, &p->mu);
  pthread_mutex_unlock(&p->mu);
}

static void stop_workers(sscor_pyramid *p) {
  if (!p->nthreads) return;
  pthread_mutex_lock(&p->mu);
  p->quit = 1;
  pthread_cond_broadcast(&p->cv_work);
  pthread_mutex_unlock(&p->mu);
  for (int i = 0; i < p->nthreads; i++) pthread_join(p->threads[i], NULL);
  p->nthreads = 0;
}

/* ---- rows and halving ---------------------------------------------------- */

static void halve_rows(const sscor_pyramid *p, const uint8_t *a, const uint8_t *b, int win,
                       uint8_t *out, int wout) {
  int C = p->channels;
  for (int x = 0; x < wout; x++) {
    int x0 = 2 * x, x1 = 2 * x + 1 < win ? 2 * x + 1 : 2 * x;
    for (int c = 0; c < C; c++) {
      size_t i0 = (size_t)x0 * C + c, i1 = (size_t)x1 * C + c, o = (size_t)x * C + c;
      switch (p->type) {
      case SSCOR_U8:
        out[o] = (uint8_t)(((unsigned)a[i0] + a[i1] + b[i0] + b[i1] + 2) >> 2);
        break;
      case SSCOR_U16: {
        const uint16_t *A = (const uint16_t *)a, *B = (const uint16_t *)b;
        ((uint16_t *)out)[o] = (uint16_t)(((uint32_t)A[i0] + A[i1] + B[i0] + B[i1] + 2) >> 2);
        break;
      }
      case SSCOR_F32: {
        const float *A = (const float *)a, *B = (const float *)b;
        ((float *)out)[o] = (A[i0] + A[i1] + B[i0] + B[i1]) * 0.25f;
        break;
      }
      }
    }
  }
}

static int valid_w(const sscor_pyramid *p, const level *l, uint32_t index) {
  int x0 = (int)(index % (uint32_t)l->cols) * p->T;
  return l->w - x0 < p->T ? l->w - x0 : p->T;
}

static int valid_h(const sscor_pyramid *p, const level *l, uint32_t index) {
  int y0 = (int)(index / (uint32_t)l->cols) * p->T;
  return l->h - y0 < p->T ? l->h - y0 : p->T;
}

static void drop_resident(sscor_pyramid *p, open_tile *t) {
  p->resident[t->pos] = p->resident[--p->nresident];
  p->resident[t->pos]->pos = t->pos;
}

/* Parks the least recently used resident tile in the spill file, if one was
 * not touched by the current block. */
static sscor_status park_one(sscor_pyramid *p) {
  open_tile *t = NULL;
  for (int i = 0; i < p->nresident; i++)
    if (p->resident[i]->stamp <= p->block_stamp && (!t || p->resident[i]->stamp < t->stamp))
      t = p->resident[i];
  if (!t) return SSCOR_OK;
  if (p->spill_fd < 0) {
    p->spill_fd = sscor_scratch_fd(p->path); /* gone with the process, whatever happens */
    if (p->spill_fd < 0)
      return sscor_fail(SSCOR_E_IO, "%s: cannot create a scratch file next to it: %s", p->path,
                        strerror(errno));
  }
  int64_t slot;
  if (p->nfree_slots) {
    slot = p->free_slots[--p->nfree_slots];
  } else {
    if (p->nslots == p->free_slots_cap) { /* room to give every slot back */
      int cap = p->free_slots_cap ? 2 * p->free_slots_cap : 64;
      int64_t *f = realloc(p->free_slots, (size_t)cap * sizeof *f);
      if (!f) return sscor_fail(SSCOR_E_NOMEM, "out of memory");
      p->free_slots = f, p->free_slots_cap = cap;
    }
    slot = p->nslots++;
  }
  ssize_t w = pwrite(p->spill_fd, t->buf, p->tile_bytes, (off_t)(slot * (int64_t)p->tile_bytes));
  if (w != (ssize_t)p->tile_bytes) {
    p->free_slots[p->nfree_slots++] = slot;
    return sscor_fail(SSCOR_E_IO, "%s: cannot write the scratch file next to it: %s", p->path,
                      w < 0 ? strerror(errno) : "disk full");
  }
  pthread_mutex_lock(&p->mu);
  release_buf(p, t->buf);
  pthread_mutex_unlock(&p->mu);
  t->buf = NULL;
  t->slot = slot;
  drop_resident(p, t);
  p->parked++;
  return SSCOR_OK;
}

/* The buffer of tile `index` of level k, in memory: taken when its first
 * samples come, read back if it was parked. */
static sscor_status tile_buf(sscor_pyramid *p, int k, uint32_t index, uint8_t **out) {
  level *l = &p->lv[k];
  open_tile *t = l->pend[index];
  if (!t) {
    if (!(t = calloc(1, sizeof *t))) return sscor_fail(SSCOR_E_NOMEM, "out of memory");
    t->slot = -1, t->k = k, t->index = index;
    l->pend[index] = t;
  }
  if (!t->buf) {
    sscor_status st;
    if (p->nresident >= MAX_RESIDENT && (st = park_one(p))) return st;
    if (p->nresident == p->resident_cap) {
      int cap = p->resident_cap ? 2 * p->resident_cap : 2 * MAX_RESIDENT;
      open_tile **r = realloc(p->resident, (size_t)cap * sizeof *r);
      if (!r) return sscor_fail(SSCOR_E_NOMEM, "out of memory");
      p->resident = r, p->resident_cap = cap;
    }
    if (!(t->buf = take_buf(p)))
      return sscor_fail(SSCOR_E_NOMEM, "%s: out of memory for tile buffers", p->path);
    if (t->slot >= 0) {
      ssize_t r = pread(p->spill_fd, t->buf, p->tile_bytes,
                        (off_t)(t->slot * (int64_t)p->tile_bytes));
      if (r != (ssize_t)p->tile_bytes)
        return sscor_fail(SSCOR_E_IO, "%s: cannot read back the scratch file: %s", p->path,
                          r < 0 ? strerror(errno) : "short read");
      p->free_slots[p->nfree_slots++] = t->slot;
      t->slot = -1;
    }
    t->pos = p->nresident;
    p->resident[p->nresident++] = t;
  }
  t->stamp = ++p->stamp;
  *out = t->buf;
  return SSCOR_OK;
}

static sscor_status add_samples(sscor_pyramid *p, int k, uint32_t index, uint32_t n);

/* A tile whose every sample has arrived: its 2x2 box mean goes into one
 * quadrant of the parent tile (pairs never straddle tiles: T is even), then
 * it is encoded. An odd last row or column is paired with itself. */
static sscor_status finish_tile(sscor_pyramid *p, int k, uint32_t index) {
  level *l = &p->lv[k];
  open_tile *t = l->pend[index];
  uint8_t *buf = t->buf; /* resident: it was just written */
  drop_resident(p, t);
  free(t);
  l->pend[index] = NULL;
  l->done++;
  int vw = valid_w(p, l, index), vh = valid_h(p, l, index);
  if (k + 1 < p->nlevels) {
    level *u = &p->lv[k + 1];
    int col = (int)(index % (uint32_t)l->cols), row = (int)(index / (uint32_t)l->cols);
    uint32_t pi = (uint32_t)(row / 2) * (uint32_t)u->cols + (uint32_t)(col / 2);
    uint8_t *dst;
    sscor_status st = tile_buf(p, k + 1, pi, &dst);
    if (st) {
      pthread_mutex_lock(&p->mu);
      release_buf(p, buf);
      pthread_mutex_unlock(&p->mu);
      return st;
    }
    size_t px = (size_t)p->channels * p->ss, row_bytes = (size_t)p->T * px;
    int hw = (vw + 1) / 2, hh = (vh + 1) / 2;
    dst += (size_t)(row % 2) * (p->T / 2) * row_bytes + (size_t)(col % 2) * (p->T / 2) * px;
    for (int y = 0; y < hh; y++) {
      const uint8_t *a = buf + (size_t)(2 * y) * row_bytes;
      const uint8_t *b = 2 * y + 1 < vh ? a + row_bytes : a;
      halve_rows(p, a, b, vw, dst + (size_t)y * row_bytes, hw);
    }
    if ((st = enqueue(p, l, index, vw, vh, buf))) return st;
    return add_samples(p, k + 1, pi, (uint32_t)(hw * hh * p->channels));
  }
  return enqueue(p, l, index, vw, vh, buf);
}

static sscor_status add_samples(sscor_pyramid *p, int k, uint32_t index, uint32_t n) {
  level *l = &p->lv[k];
  uint32_t need = (uint32_t)(valid_w(p, l, index) * valid_h(p, l, index) * p->channels);
  l->filled[index] += n;
  if (l->filled[index] > need)
    return sscor_fail(SSCOR_E_INVALID, "%s: pixels of tile %u of level %d were written twice",
                      p->path, index, k);
  return l->filled[index] == need ? finish_tile(p, k, index) : SSCOR_OK;
}

sscor_status sscor_pyramid_write_rect(sscor_pyramid *p, int x, int y, int w, int h, int channel,
                                      const void *data, size_t stride) {
  if (p->failed) return failure(p);
  if (x < 0 || y < 0 || w <= 0 || h <= 0 || x > p->width - w || y > p->height - h ||
      channel >= p->channels)
    return sscor_fail(SSCOR_E_INVALID, "%s: block %dx%d at (%d, %d) lies outside the %dx%d image",
                      p->path, w, h, x, y, p->width, p->height);
  level *l = &p->lv[0];
  int T = p->T, C = p->channels;
  size_t ss = p->ss, px = (size_t)C * ss, row_bytes = (size_t)T * px;
  p->block_stamp = p->stamp;
  size_t spx = channel < 0 ? px : ss; /* source pixel */
  for (int ty = y / T; ty <= (y + h - 1) / T; ty++) {
    int y0 = ty * T > y ? ty * T : y, y1 = (ty + 1) * T < y + h ? (ty + 1) * T : y + h;
    for (int tx = x / T; tx <= (x + w - 1) / T; tx++) {
      int x0 = tx * T > x ? tx * T : x, x1 = (tx + 1) * T < x + w ? (tx + 1) * T : x + w;
      uint32_t index = (uint32_t)ty * (uint32_t)l->cols + (uint32_t)tx;
      if (l->filled[index] == (uint32_t)(valid_w(p, l, index) * valid_h(p, l, index) * C))
        return sscor_fail(SSCOR_E_INVALID,
                          "%s: pixels of tile %u of level 0 were written twice", p->path, index);
      uint8_t *buf;
      sscor_status st = tile_buf(p, 0, index, &buf);
      if (st) return st;
      for (int yy = y0; yy < y1; yy++) {
        const uint8_t *src = (const uint8_t *)data + (size_t)(yy - y) * stride +
                             (size_t)(x0 - x) * spx;
        uint8_t *dst = buf + (size_t)(yy - ty * T) * row_bytes + (size_t)(x0 - tx * T) * px;
        if (channel < 0) memcpy(dst, src, (size_t)(x1 - x0) * px);
        else
          for (int xx = 0; xx < x1 - x0; xx++)
            memcpy(dst + (size_t)xx * px + (size_t)channel * ss, src + (size_t)xx * ss, ss);
      }
      uint32_t n = (uint32_t)((x1 - x0) * (y1 - y0) * (channel < 0 ? C : 1));
      p->samples0 += n;
      if ((st = add_samples(p, 0, index, n))) return st;
    }
  }
  return SSCOR_OK;
}

/* ---- open / write / finish ------------------------------------------------ */

static void free_all(sscor_pyramid *p) {
  stop_workers(p);
  for (int k = 0; k < p->nlevels; k++) {
    level *l = &p->lv[k];
    if (l->tif) TIFFClose(l->tif); /* an abandoned file: written only to be removed */
    l->tif = NULL;
    if (l->fd >= 0) close(l->fd);
    if (l->pend)
      for (int i = 0; i < l->cols * l->rows; i++)
        if (l->pend[i]) {
          free(l->pend[i]->buf);
          free(l->pend[i]);
        }
    free(l->pend);
    free(l->filled);
    pthread_mutex_destroy(&l->mu);
  }
  if (p->pages) TIFFClose(p->pages);
  free(p->ome);
  sscor_outfile_abort(&p->out); /* nothing left when not committed */
  if (p->spill_fd >= 0) close(p->spill_fd);
  free(p->free_slots);
  free(p->resident);
  for (int i = 0; i < p->nfree; i++) free(p->free_bufs[i]);
  free(p->free_bufs);
  while (p->free_jobs) {
    job *j = p->free_jobs;
    p->free_jobs = j->next;
    free(j);
  }
  for (int i = 0; i < 8; i++) {
    free(p->wctx[i].out);
    free(p->wctx[i].plane);
    if (p->wctx[i].deflate) libdeflate_free_compressor(p->wctx[i].deflate);
  }
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->cv_work);
  pthread_cond_destroy(&p->cv_free);
  free(p->path);
  free(p);
}

void sscor_pyramid_abort(sscor_pyramid *p) {
  if (p) free_all(p);
}

static const char *open_mode(const sscor_pyramid *p, const level *l) {
  int big = p->o.bigtiff;
  if (big < 0) {
    /* whole file for level 0 (all levels land there), own size for others */
    unsigned long long raw = (unsigned long long)l->row_bytes * l->h;
    if (l->index == 0) raw = raw / 3 * 4;
    big = raw > BIGTIFF_AUTO_BYTES;
  }
  return big ? "w8" : "w";
}

sscor_status sscor_pyramid_open(const char *path, int width, int height, int channels,
                                sscor_sample_type type, const sscor_pyramid_opts *opts,
                                sscor_pyramid **out) {
  *out = NULL;
  sscor_pyramid_opts o;
  if (opts) o = *opts;
  else sscor_pyramid_opts_default(&o);
  if (!path || !*path) return sscor_fail(SSCOR_E_INVALID, "no output file given");
  if (width <= 0 || height <= 0 || width > SSCOR_IMAGE_MAX_SIDE || height > SSCOR_IMAGE_MAX_SIDE)
    return sscor_fail(SSCOR_E_INVALID, "%s: image size %dx%d is out of range (1..%d per side)",
                      path, width, height, SSCOR_IMAGE_MAX_SIDE);
  if (channels <= 0 || channels > SSCOR_IMAGE_MAX_CHANNELS)
    return sscor_fail(SSCOR_E_INVALID, "%s: channel count %d is out of range", path, channels);
  if (o.tile_size < 16 || o.tile_size > 4096 || o.tile_size % 16)
    return sscor_fail(SSCOR_E_INVALID, "%s: tile size %d must be a multiple of 16 in 16..4096",
                      path, o.tile_size);
  if ((unsigned)o.compression > SSCOR_COMPRESS_ZSTD)
    return sscor_fail(SSCOR_E_INVALID, "%s: unknown compression %d", path, (int)o.compression);
  if (o.compression == SSCOR_COMPRESS_JPEG && type != SSCOR_U8)
    return sscor_fail(SSCOR_E_INVALID, "%s: JPEG compression needs 8-bit samples, not %s", path,
                      sscor_sample_type_name(type));
  if (o.compression == SSCOR_COMPRESS_JPEG && channels != 1 && channels != 3)
    return sscor_fail(SSCOR_E_INVALID, "%s: JPEG compression needs 1 or 3 channels, not %d",
                      path, channels);
  if (o.compression == SSCOR_COMPRESS_JPEG && o.channel_pages && channels > 1)
    return sscor_fail(SSCOR_E_INVALID, "%s: JPEG compression is not available for channel pages", path);
  if (o.compression == SSCOR_COMPRESS_JPEG && (o.quality < 1 || o.quality > 100))
    return sscor_fail(SSCOR_E_INVALID, "%s: JPEG quality %d is out of range 1..100", path,
                      o.quality);
  int codec = tiff_compression(o.compression);
  if (!TIFFIsCODECConfigured((uint16_t)codec))
    return sscor_fail(SSCOR_E_UNSUPPORTED, "%s: this libtiff has no %s codec", path,
                      sscor_compression_name(o.compression));

  sscor_pyramid *p = calloc(1, sizeof *p);
  if (!p) return sscor_fail(SSCOR_E_NOMEM, "out of memory");
  p->spill_fd = -1;
  p->out.fd = -1;
  for (int k = 0; k < MAX_LEVELS; k++) p->lv[k].fd = -1;
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv_work, NULL);
  pthread_cond_init(&p->cv_free, NULL);
  p->o = o;
  p->path = strdup(path);
  p->width = width, p->height = height, p->channels = channels, p->type = type;
  p->ss = sscor_sample_size(type);
  p->T = o.tile_size;
  p->tile_bytes = (size_t)p->T * p->T * channels * p->ss;
  p->own_codec = o.compression == SSCOR_COMPRESS_NONE || o.compression == SSCOR_COMPRESS_DEFLATE ||
                 o.compression == SSCOR_COMPRESS_ZSTD;
  int min_size = o.min_size > 0 ? o.min_size : p->T;
  int w = width, h = height;
  for (;;) {
    level *l = &p->lv[p->nlevels];
    l->index = p->nlevels++;
    pthread_mutex_init(&l->mu, NULL);
    l->w = w, l->h = h;
    l->row_bytes = (size_t)w * channels * p->ss;
    if ((w <= min_size && h <= min_size) || p->nlevels == MAX_LEVELS ||
        (o.max_levels > 0 && p->nlevels >= o.max_levels))
      break;
    w = (w + 1) / 2, h = (h + 1) / 2;
  }
  sscor_status st = SSCOR_OK;
  if (!p->path) st = sscor_fail(SSCOR_E_NOMEM, "out of memory");
  for (int k = 0; k < p->nlevels && !st; k++) {
    level *l = &p->lv[k];
    l->cols = (l->w + p->T - 1) / p->T, l->rows = (l->h + p->T - 1) / p->T;
    /* per-tile bookkeeping: 12 bytes a tile, touched as the image goes by */
    l->pend = calloc((size_t)l->cols * l->rows, sizeof *l->pend);
    l->filled = calloc((size_t)l->cols * l->rows, sizeof *l->filled);
    if (!l->pend || !l->filled) st = sscor_fail(SSCOR_E_NOMEM, "%s: out of memory", path);
  }
  int cp = o.channel_pages && channels > 1;
  if (!st) st = sscor_outfile_open(path, &p->out);
  if (!st && cp) {
    p->ome = sscor_ome_xml(width, height, channels, type, o.channel_names, o.mpp_x, o.mpp_y);
    if (!p->ome || !(p->pages = sscor_tiff_fdopen(p->out.fd, path, open_mode(p, &p->lv[0]), &p->pages_eb)))
      st = sscor_fail(SSCOR_E_IO, "%s: cannot write: %s", path,
                      p->ome ? sscor_tiff_why(&p->pages_eb, "libtiff failed") : "out of memory");
  }
  for (int k = 0; k < p->nlevels && !st; k++) {
    level *l = &p->lv[k];
    /* level 0: the output itself unless channel pages; the others: scratch
       files copied in at the end */
    int fd = k == 0 && !cp ? p->out.fd : (l->fd = sscor_scratch_fd(path));
    if (fd < 0) {
      st = sscor_fail(SSCOR_E_IO, "%s: cannot create a scratch file next to it: %s", path,
                      strerror(errno));
      break;
    }
    l->tif = sscor_tiff_fdopen(fd, path, open_mode(p, l), &l->eb);
    if (!l->tif) {
      st = sscor_fail(SSCOR_E_IO, "%s: cannot write: %s", path, sscor_tiff_why(&l->eb, "libtiff failed"));
      break;
    }
    set_tags(p, l->tif, l, k > 0, channels, cp, o.description);
    if (k == 0 && o.subifds && !cp && p->nlevels > 1) {
      uint64_t zeros[MAX_LEVELS] = {0};
      TIFFSetField(l->tif, TIFFTAG_SUBIFD, (uint16_t)(p->nlevels - 1), zeros);
    }
  }
  int nthreads = 2;
  for (int i = 0; i < nthreads && !st; i++) {
    p->wctx[i].out_cap = p->tile_bytes + p->tile_bytes / 10 + 1024;
    if (o.compression == SSCOR_COMPRESS_ZSTD && ZSTD_compressBound(p->tile_bytes) > p->wctx[i].out_cap)
      p->wctx[i].out_cap = ZSTD_compressBound(p->tile_bytes);
    p->wctx[i].deflate = libdeflate_alloc_compressor(o.level > 0 && o.level <= 12 ? o.level : 6);
    if (p->wctx[i].deflate &&
        libdeflate_zlib_compress_bound(p->wctx[i].deflate, p->tile_bytes) > p->wctx[i].out_cap)
      p->wctx[i].out_cap = libdeflate_zlib_compress_bound(p->wctx[i].deflate, p->tile_bytes);
    p->wctx[i].out = malloc(p->wctx[i].out_cap);
    if (cp) p->wctx[i].plane = malloc(p->tile_bytes / channels);
    worker_arg *a = malloc(sizeof *a);
    if (!p->wctx[i].out || !p->wctx[i].deflate || !a || (cp && !p->wctx[i].plane)) {
      free(a);
      st = sscor_fail(SSCOR_E_NOMEM, "out of memory");
      break;
    }
    *a = (worker_arg){p, i};
    if (pthread_create(&p->threads[i], NULL, worker_loop, a) != 0) {
      free(a);
      st = sscor_fail(SSCOR_E_INTERNAL, "cannot start an encoder thread");
      break;
    }
    p->nthreads++;
  }
  if (st) {
    free_all(p);
    return st;
  }
  *out = p;
  return SSCOR_OK;
}

int sscor_pyramid_rows_written(const sscor_pyramid *p) {
  return (int)(p->samples0 / ((uint64_t)p->width * p->channels));
}
int sscor_pyramid_level_count(const sscor_pyramid *p) { return p->nlevels; }

uint64_t sscor_pyramid_parked(const sscor_pyramid *p) { return p->parked; }

size_t sscor_pyramid_buffer_bytes(const sscor_pyramid *p) {
  size_t n = (size_t)p->nbufs * p->tile_bytes;
  for (int i = 0; i < p->nthreads; i++) n += p->wctx[i].out_cap;
  for (int k = 0; k < p->nlevels; k++)
    n += (size_t)p->lv[k].cols * p->lv[k].rows * (sizeof *p->lv[k].pend + sizeof *p->lv[k].filled);
  return n;
}

sscor_status sscor_pyramid_write_rows(sscor_pyramid *p, const void *rows, size_t stride,
                                      int nrows) {
  if (p->failed) return failure(p);
  if (nrows < 0 || p->next_row + nrows > p->height)
    return sscor_fail(SSCOR_E_INVALID, "%s: %d more rows would exceed the image height %d",
                      p->path, nrows, p->height);
  if (nrows == 0) return SSCOR_OK;
  sscor_status st = sscor_pyramid_write_rect(p, 0, p->next_row, p->width, nrows, -1, rows, stride);
  if (!st) p->next_row += nrows;
  return st;
}

/* Finishes a level's scratch file and opens it again for reading. */
static sscor_status reopen_level(sscor_pyramid *p, level *l) {
  if (!TIFFWriteDirectory(l->tif) || !TIFFFlush(l->tif)) {
    return sscor_fail(SSCOR_E_IO, "%s: cannot write level %d: %s", p->path, l->index,
                      sscor_tiff_why(&l->eb, "write failed"));
  }
  TIFFClose(l->tif); /* the scratch file stays open: read it back from the start */
  l->tif = lseek(l->fd, 0, SEEK_SET) == 0 ? sscor_tiff_fdopen(l->fd, p->path, "rm", &l->eb) : NULL;
  if (!l->tif)
    return sscor_fail(SSCOR_E_IO, "%s: cannot reread level %d: %s", p->path, l->index,
                      sscor_tiff_why(&l->eb, strerror(errno)));
  return SSCOR_OK;
}

static void drop_level_file(level *l) {
  TIFFClose(l->tif);
  l->tif = NULL;
  close(l->fd);
  l->fd = -1;
}

/* Copies the compressed tiles of a finished level (reopened) behind the
 * others as one directory of dst: every tile (plane -1), or those of one
 * channel plane, as a one-channel page. */
static sscor_status gather_level(sscor_pyramid *p, level *l, int plane, TIFF *dst, sscor_tiff_errbuf *deb) {
  int k = l->index;
  if (plane < 0) set_tags(p, dst, l, 1, p->channels, 0, NULL);
  else set_tags(p, dst, l, k > 0, 1, 0, k == 0 && plane == 0 ? p->ome : NULL);
  if (plane >= 0 && k == 0 && p->nlevels > 1) {
    uint64_t zeros[MAX_LEVELS] = {0};
    TIFFSetField(dst, TIFFTAG_SUBIFD, (uint16_t)(p->nlevels - 1), zeros);
  }
  if (p->o.compression == SSCOR_COMPRESS_JPEG) {
    uint32_t count = 0;
    void *tables = NULL;
    if (TIFFGetField(l->tif, TIFFTAG_JPEGTABLES, &count, &tables) && count)
      TIFFSetField(dst, TIFFTAG_JPEGTABLES, count, tables);
  }
  uint32_t ntiles = (uint32_t)(l->cols * l->rows), first = plane < 0 ? 0 : (uint32_t)plane * ntiles;
  uint64_t *counts = NULL;
  if (!TIFFGetField(l->tif, TIFFTAG_TILEBYTECOUNTS, &counts) || !counts)
    return sscor_fail(SSCOR_E_IO, "%s: level %d lost its tiles", p->path, l->index);
  uint8_t *buf = NULL;
  size_t cap = 0;
  sscor_status st = SSCOR_OK;
  for (uint32_t t = 0; t < ntiles && !st; t++) {
    size_t n = (size_t)counts[first + t];
    if (n == 0) {
      st = sscor_fail(SSCOR_E_INTERNAL, "%s: tile %u of level %d was never written", p->path, t,
                      l->index);
      break;
    }
    if (n > cap) {
      uint8_t *b = realloc(buf, n);
      if (!b) {
        st = sscor_fail(SSCOR_E_NOMEM, "out of memory");
        break;
      }
      buf = b, cap = n;
    }
    if (TIFFReadRawTile(l->tif, first + t, buf, (tmsize_t)n) != (tmsize_t)n)
      st = sscor_fail(SSCOR_E_IO, "%s: cannot reread tile %u of level %d: %s", p->path, t,
                      l->index, sscor_tiff_why(&l->eb, "read failed"));
    else if (TIFFWriteRawTile(dst, t, buf, (tmsize_t)n) != (tmsize_t)n)
      st = sscor_fail(SSCOR_E_IO, "%s: cannot write: %s", p->path, sscor_tiff_why(deb, "write failed"));
  }
  free(buf);
  if (st) return st;
  if (!TIFFWriteDirectory(dst))
    return sscor_fail(SSCOR_E_IO, "%s: cannot write level %d directory: %s", p->path, l->index,
                      sscor_tiff_why(deb, "write failed"));
  return SSCOR_OK;
}

/* Channel pages: page c is level 0 of channel c, its reduced levels in its
 * SubIFDs, in the order libtiff writes SubIFDs (right after their page). */
static sscor_status gather_pages(sscor_pyramid *p) {
  sscor_status st = SSCOR_OK;
  for (int k = 0; k < p->nlevels && !st; k++) st = reopen_level(p, &p->lv[k]);
  for (int c = 0; c < p->channels && !st; c++)
    for (int k = 0; k < p->nlevels && !st; k++) st = gather_level(p, &p->lv[k], c, p->pages, &p->pages_eb);
  for (int k = 0; k < p->nlevels && !st; k++) drop_level_file(&p->lv[k]);
  return st;
}

sscor_status sscor_pyramid_finish(sscor_pyramid *p) {
  sscor_status st = SSCOR_OK;
  if (p->failed) st = failure(p);
  else if (p->lv[0].done != (uint32_t)(p->lv[0].cols * p->lv[0].rows))
    st = sscor_fail(SSCOR_E_INVALID, "%s: image incomplete: %d of %d rows were written", p->path,
                    sscor_pyramid_rows_written(p), p->height);
  if (!st) {
    wait_idle(p);
    stop_workers(p);
    if (p->failed) st = failure(p);
  }
  for (int k = 0; k < p->nlevels && !st; k++)
    if (p->lv[k].done != (uint32_t)(p->lv[k].cols * p->lv[k].rows))
      st = sscor_fail(SSCOR_E_INTERNAL, "%s: level %d got %u of %d tiles", p->path, k,
                      p->lv[k].done, p->lv[k].cols * p->lv[k].rows);
  level *l0 = &p->lv[0];
  TIFF *out = p->pages ? p->pages : l0->tif;
  sscor_tiff_errbuf *oeb = p->pages ? &p->pages_eb : &l0->eb;
  if (p->pages) {
    if (!st) st = gather_pages(p);
  } else {
    if (!st && !TIFFWriteDirectory(l0->tif))
      st = sscor_fail(SSCOR_E_IO, "%s: cannot write: %s", p->path,
                      sscor_tiff_why(&l0->eb, "directory write failed"));
    for (int k = 1; k < p->nlevels && !st; k++) {
      level *l = &p->lv[k];
      if (!(st = reopen_level(p, l)) && !(st = gather_level(p, l, -1, l0->tif, &l0->eb))) drop_level_file(l);
    }
  }
  if (!st && !TIFFFlush(out))
    st = sscor_fail(SSCOR_E_IO, "%s: cannot write: %s", p->path, sscor_tiff_why(oeb, "flush failed"));
  if (!st) {
    TIFFClose(out);
    if (p->pages) p->pages = NULL;
    else l0->tif = NULL;
    st = sscor_outfile_commit(&p->out); /* fsync, then into place */
  }
  free_all(p);
  return st;
}

sscor_status sscor_image_write_pyramid(const char *path, const sscor_image *img,
                                       const sscor_pyramid_opts *opts) {
  sscor_pyramid *p;
  sscor_status st =
      sscor_pyramid_open(path, img->width, img->height, img->channels, img->type, opts, &p);
  if (st) return st;
  st = sscor_pyramid_write_rows(p, img->data, img->stride, img->height);
  if (st) {
    sscor_pyramid_abort(p);
    return st;
  }
  return sscor_pyramid_finish(p);
}
