#include "blend.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

float sscor_blend_weight(int t, int n, int lead, int trail) {
  double w = 1.0;
  if (lead > 0 && t < lead) w *= 0.5 - 0.5 * cos(M_PI * (t + 0.5) / lead);
  if (trail > 0 && t >= n - trail) w *= 0.5 - 0.5 * cos(M_PI * (n - t - 0.5) / trail);
  return (float)w;
}

struct sscor_band {
  int W, H, C;
  sscor_sample_type type;
  size_t ss;
  int tw, th, O;
  sscor_band_emit emit;
  void *user;
  int grid; /* 2 * overlap <= tile: per-tile blocks; else the float row band */
  /* grid mode */
  int sx, sy, ncols, nrows;
  int next_r, next_c, next_ch; /* the tile expected next */
  uint8_t *above;   /* ncols slots: bottom O rows x tw of the row above's tiles */
  uint8_t *pend;    /* bottom O rows of the previous tile of this row (slot not free yet) */
  uint8_t *left;    /* right O columns x th of the previous tile of this row */
  uint8_t *block;   /* the finished block of the current tile */
  float *wx, *wy;   /* weights of the current tile */
  float *wtx, *wty; /* trailing ramps (weights of the left / upper neighbour) */
  /* row-band mode */
  int cap;     /* rows in the band */
  float *acc;  /* cap rows x W x C, ring indexed by image row % cap */
  float *wsum; /* cap rows x W */
  int y0;      /* first row not yet emitted */
  int top;     /* top row of the newest tile (rows above it are final) */
  uint8_t *out; /* converted row for emit */
};

static float get_sample(const uint8_t *p, sscor_sample_type t) {
  switch (t) {
  case SSCOR_U8: return *p;
  case SSCOR_U16: return *(const uint16_t *)p;
  default: return *(const float *)p;
  }
}

/* Rounds to nearest and clamps for integer types, as the inverse of exact weights needs. */
static void put_sample(uint8_t *p, sscor_sample_type t, float v) {
  float maxv = sscor_sample_max(t);
  switch (t) {
  case SSCOR_U8: *p = (uint8_t)(v < 0 ? 0 : v > maxv ? maxv : v + 0.5f); break;
  case SSCOR_U16: *(uint16_t *)p = (uint16_t)(v < 0 ? 0 : v > maxv ? maxv : v + 0.5f); break;
  default: *(float *)p = v;
  }
}

static void weights(float *w, int n, int lead, int trail) {
  for (int t = 0; t < n; t++) w[t] = sscor_blend_weight(t, n, lead, trail);
}

sscor_status sscor_tile_overlap_check(int tile_w, int tile_h, int overlap) {
  int t = tile_w < tile_h ? tile_w : tile_h, most = t - (t + 3) / 4;
  if (overlap < 0)
    return sscor_fail(SSCOR_E_INVALID, "overlap %d must not be negative", overlap);
  if (overlap > most)
    return sscor_fail(SSCOR_E_INVALID,
                      "overlap %d must be smaller: at most %d on %dx%d tiles (tiles step by the "
                      "tile size - overlap, at least a quarter tile)",
                      overlap, most, tile_w, tile_h);
  return SSCOR_OK;
}

sscor_status sscor_band_new(int width, int height, int channels, sscor_sample_type type,
                            int tile_w, int tile_h, int overlap, sscor_band_emit emit,
                            void *user, sscor_band **out) {
  *out = NULL;
  if (width <= 0 || height <= 0 || width > SSCOR_IMAGE_MAX_SIDE || height > SSCOR_IMAGE_MAX_SIDE)
    return sscor_fail(SSCOR_E_INVALID, "blend: image size %dx%d is out of range", width, height);
  if (channels <= 0 || channels > SSCOR_IMAGE_MAX_CHANNELS)
    return sscor_fail(SSCOR_E_INVALID, "blend: channel count %d is out of range", channels);
  if (tile_w <= 0 || tile_h <= 0)
    return sscor_fail(SSCOR_E_INVALID, "blend: tiles of %dx%d", tile_w, tile_h);
  sscor_status st = sscor_tile_overlap_check(tile_w, tile_h, overlap);
  if (st) return st;
  sscor_band *b = calloc(1, sizeof *b);
  if (!b) return sscor_fail(SSCOR_E_NOMEM, "out of memory");
  *b = (sscor_band){.W = width, .H = height, .C = channels, .type = type,
                    .ss = sscor_sample_size(type), .tw = tile_w, .th = tile_h, .O = overlap,
                    .emit = emit, .user = user};
  size_t px = (size_t)channels * b->ss;
  int ok;
  b->grid = 2 * overlap <= tile_w && 2 * overlap <= tile_h;
  if (b->grid) {
    int O = overlap;
    b->sx = tile_w - O, b->sy = tile_h - O;
    b->ncols = width <= tile_w ? 1 : 1 + (width - tile_w + b->sx - 1) / b->sx;
    b->nrows = height <= tile_h ? 1 : 1 + (height - tile_h + b->sy - 1) / b->sy;
    b->wx = malloc((size_t)tile_w * sizeof(float));
    b->wy = malloc((size_t)tile_h * sizeof(float));
    ok = b->wx && b->wy;
    if (O > 0) {
      b->above = malloc((size_t)b->ncols * O * tile_w * px);
      b->pend = malloc((size_t)O * tile_w * px);
      b->left = malloc((size_t)tile_h * O * px);
      b->block = malloc((size_t)tile_w * tile_h * px);
      b->wtx = malloc((size_t)O * sizeof(float));
      b->wty = malloc((size_t)O * sizeof(float));
      ok = ok && b->above && b->pend && b->left && b->block && b->wtx && b->wty;
      if (ok) {
        /* a neighbour's trailing ramp at our leading samples (never its leading one: sx >= O) */
        for (int i = 0; i < O; i++) b->wtx[i] = sscor_blend_weight(i + b->sx, tile_w, 0, O);
        for (int i = 0; i < O; i++) b->wty[i] = sscor_blend_weight(i + b->sy, tile_h, 0, O);
      }
    }
  } else {
    b->cap = tile_h > height ? height : tile_h;
    b->acc = calloc((size_t)b->cap * width * channels, sizeof(float));
    b->wsum = calloc((size_t)b->cap * width, sizeof(float));
    b->out = malloc((size_t)width * px);
    b->wx = malloc((size_t)tile_w * sizeof(float));
    b->wy = malloc((size_t)tile_h * sizeof(float));
    ok = b->acc && b->wsum && b->out && b->wx && b->wy;
  }
  if (!ok) {
    sscor_band_free(b);
    return sscor_fail(SSCOR_E_NOMEM, "blend: cannot allocate the buffers for a %d-wide image",
                      width);
  }
  *out = b;
  return SSCOR_OK;
}

void sscor_band_free(sscor_band *b) {
  if (!b) return;
  free(b->above);
  free(b->pend);
  free(b->left);
  free(b->block);
  free(b->wtx);
  free(b->wty);
  free(b->acc);
  free(b->wsum);
  free(b->out);
  free(b->wx);
  free(b->wy);
  free(b);
}

size_t sscor_band_buffer_bytes(const sscor_band *b) {
  size_t px = (size_t)b->C * b->ss;
  if (!b->grid)
    return (size_t)b->cap * b->W * (b->C + 1) * sizeof(float) + (size_t)b->W * px;
  if (b->O == 0) return 0;
  return ((size_t)b->ncols * b->O * b->tw + (size_t)b->O * b->tw + (size_t)b->th * b->O +
          (size_t)b->tw * b->th) * px;
}

/* Copies a w x h block of one channel (ch >= 0) or all of them (ch -1)
 * between buffers of dc / sc interleaved channels. */
static void copy_block(uint8_t *dst, size_t dstride, int dc, const uint8_t *src, size_t sstride,
                       int sc, int w, int h, int ch, size_t ss) {
  for (int y = 0; y < h; y++) {
    uint8_t *d = dst + (size_t)y * dstride;
    const uint8_t *s = src + (size_t)y * sstride;
    if (ch < 0 && dc == sc) {
      memcpy(d, s, (size_t)w * dc * ss);
      continue;
    }
    int dci = ch < 0 || dc == 1 ? 0 : ch, sci = ch < 0 || sc == 1 ? 0 : ch;
    for (int x = 0; x < w; x++)
      memcpy(d + ((size_t)x * dc + dci) * ss, s + ((size_t)x * sc + sci) * ss, ss);
  }
}

static sscor_status grid_add(sscor_band *b, const sscor_image *tile, const sscor_band_tile *t) {
  int r = b->next_r, c = b->next_c, one = t->channel >= 0;
  int ex = c * b->sx, ey = r * b->sy;
  int evw = b->W - ex < b->tw ? b->W - ex : b->tw, evh = b->H - ey < b->th ? b->H - ey : b->th;
  if (r >= b->nrows)
    return sscor_fail(SSCOR_E_INVALID, "blend: a tile at (%d, %d) after the last tile", t->x, t->y);
  if (tile->width != b->tw || tile->height != b->th)
    return sscor_fail(SSCOR_E_INVALID, "blend: a %dx%d tile in a stream of %dx%d tiles",
                      tile->width, tile->height, b->tw, b->th);
  if (t->x != ex || t->y != ey || (one && t->channel != b->next_ch) || (!one && b->next_ch))
    return sscor_fail(SSCOR_E_INVALID,
                      "blend: got the tile at (%d, %d)%s where the one at (%d, %d) was due: "
                      "tiles must come in raster order on the %dx%d grid (tile %dx%d, overlap "
                      "%d) without gaps",
                      t->x, t->y, one ? " (one channel)" : "", ex, ey, b->sx, b->sy, b->tw,
                      b->th, b->O);
  if (t->valid_w != evw || t->valid_h != evh)
    return sscor_fail(SSCOR_E_INVALID, "blend: tile at (%d, %d) says %dx%d valid, not %dx%d",
                      t->x, t->y, t->valid_w, t->valid_h, evw, evh);
  int O = b->O, C = b->C, tc = tile->channels, ch = one ? t->channel : -1;
  int last_c = c == b->ncols - 1, last_r = r == b->nrows - 1;
  size_t ss = b->ss, px = (size_t)C * ss;
  /* the block this tile finishes: up to where its right / bottom neighbour starts */
  int ue = last_c ? evw : b->sx, ve = last_r ? evh : b->sy;
  sscor_status st;
  if (O == 0) {
    st = b->emit(b->user, ex, ey, ue, ve, ch, tile->data, tile->stride);
  } else {
    int nc = one ? 1 : C;
    size_t bstride = (size_t)b->tw * nc * ss;
    copy_block(b->block, bstride, nc, tile->data, tile->stride, tc, ue, ve, -1, ss);
    int lo_x = c > 0 ? (O < ue ? O : ue) : 0, lo_y = r > 0 ? (O < ve ? O : ve) : 0;
    if (lo_x || lo_y) {
      weights(b->wx, b->tw, c > 0 ? O : 0, last_c ? 0 : O);
      weights(b->wy, b->th, r > 0 ? O : 0, last_r ? 0 : O);
      const uint8_t *above = b->above + (size_t)c * O * b->tw * px;
      const uint8_t *corner = c > 0 ? b->above + (size_t)(c - 1) * O * b->tw * px : NULL;
      for (int v = 0; v < ve; v++) {
        int u_end = v < lo_y ? ue : lo_x;
        const uint8_t *trow = sscor_image_row(tile, v);
        for (int u = 0; u < u_end; u++)
          for (int k = 0; k < nc; k++) {
            int ck = one ? t->channel : k;
            float w = b->wx[u] * b->wy[v];
            float sw = w, sv = w * get_sample(trow + ((size_t)u * tc + k) * ss, b->type);
            if (u < lo_x) {
              w = b->wtx[u] * b->wy[v];
              sw += w;
              sv += w * get_sample(b->left + ((size_t)v * O + u) * px + (size_t)ck * ss, b->type);
            }
            if (v < lo_y) {
              w = b->wx[u] * b->wty[v];
              sw += w;
              sv += w * get_sample(above + ((size_t)v * b->tw + u) * px + (size_t)ck * ss, b->type);
              if (u < lo_x) {
                w = b->wtx[u] * b->wty[v];
                sw += w;
                sv += w * get_sample(corner + ((size_t)v * b->tw + u + b->sx) * px +
                                         (size_t)ck * ss, b->type);
              }
            }
            put_sample(b->block + (size_t)v * bstride + ((size_t)u * nc + k) * ss, b->type,
                       sv / sw);
          }
      }
    }
    st = b->emit(b->user, ex, ey, ue, ve, ch, b->block, bstride);
    if (st) return st;
    /* keep what the right and lower neighbours will need */
    if (!last_c)
      copy_block(b->left, (size_t)O * px, C, tile->data + (size_t)b->sx * tc * ss, tile->stride,
                 tc, O, b->th, ch, ss);
    if (!last_r) {
      size_t slot = (size_t)O * b->tw * px;
      const uint8_t *bottom = sscor_image_row(tile, b->sy);
      if (c > 0) /* the previous tile's slot is free now: its last reader was this tile */
        copy_block(b->above + (size_t)(c - 1) * slot, (size_t)b->tw * px, C, b->pend,
                   (size_t)b->tw * px, C, b->tw, O, ch, ss);
      copy_block(last_c ? b->above + (size_t)c * slot : b->pend, (size_t)b->tw * px, C, bottom,
                 tile->stride, tc, b->tw, O, ch, ss);
    }
  }
  if (st) return st;
  if (one && ++b->next_ch < C) return SSCOR_OK;
  b->next_ch = 0;
  if (++b->next_c == b->ncols) b->next_c = 0, b->next_r++;
  return SSCOR_OK;
}

/* ---- row band (overlap above half a tile) ---- */

/* Emits rows [y0, y) and clears their ring slots. */
static sscor_status emit_until(sscor_band *b, int y) {
  size_t n = (size_t)b->W * b->C;
  int C = b->C;
  for (; b->y0 < y; b->y0++) {
    int slot = b->y0 % b->cap;
    float *a = b->acc + (size_t)slot * n;
    float *ws = b->wsum + (size_t)slot * b->W;
    for (int x = 0; x < b->W; x++) {
      if (!(ws[x] > 0))
        return sscor_fail(SSCOR_E_INVALID,
                          "blend: pixel (%d, %d) received no tile: the tiles leave a gap", x,
                          b->y0);
      float inv = 1.0f / ws[x];
      for (int c = 0; c < C; c++)
        put_sample(b->out + ((size_t)x * C + c) * b->ss, b->type, a[(size_t)x * C + c] * inv);
    }
    memset(a, 0, n * sizeof(float));
    memset(ws, 0, (size_t)b->W * sizeof(float));
    sscor_status st = b->emit(b->user, 0, b->y0, b->W, 1, -1, b->out, n * b->ss);
    if (st) return st;
  }
  return SSCOR_OK;
}

static sscor_status band_add(sscor_band *b, const sscor_image *tile, const sscor_band_tile *t) {
  int vw = t->valid_w, vh = t->valid_h;
  if (t->y < b->top)
    return sscor_fail(SSCOR_E_INVALID,
                      "blend: tiles out of raster order (a tile at row %d after one at row %d)",
                      t->y, b->top);
  if (vh > b->cap || tile->width > b->tw || tile->height > b->th)
    return sscor_fail(SSCOR_E_INVALID, "blend: a %dx%d tile in a stream of %dx%d tiles",
                      tile->width, tile->height, b->tw, b->th);
  /* Rows above this tile receive nothing more. */
  sscor_status st = emit_until(b, t->y);
  if (st) return st;
  b->top = t->y;
  weights(b->wx, tile->width, t->lead_x, t->trail_x);
  weights(b->wy, tile->height, t->lead_y, t->trail_y);
  const float *wx = b->wx, *wy = b->wy;
  size_t n = (size_t)b->W * b->C;
  int C = b->C, one = t->channel >= 0;
  int tc = tile->channels, dc = one ? t->channel : 0, wsum = !one || t->channel == 0;
  /* one loop per sample type so the inner loop has no branches */
#define ADD_ROWS(T)                                                                \
  for (int r = 0; r < vh; r++) {                                                   \
    int slot = (t->y + r) % b->cap;                                                \
    float *a = b->acc + (size_t)slot * n + (size_t)t->x * C + dc;                  \
    float *ws = b->wsum + (size_t)slot * b->W + t->x;                              \
    const T *src = (const T *)sscor_image_row(tile, r);                            \
    float fy = wy[r];                                                              \
    for (int x = 0; x < vw; x++) {                                                 \
      float w = wx[x] * fy;                                                        \
      if (wsum) ws[x] += w;                                                        \
      for (int c = 0; c < tc; c++) a[(size_t)x * C + c] += w * (float)src[(size_t)x * tc + c]; \
    }                                                                              \
  }
  if (b->type == SSCOR_U8) ADD_ROWS(uint8_t)
  else if (b->type == SSCOR_U16) ADD_ROWS(uint16_t)
  else ADD_ROWS(float)
#undef ADD_ROWS
  return SSCOR_OK;
}

sscor_status sscor_band_add(sscor_band *b, const sscor_image *tile, const sscor_band_tile *t) {
  int vw = t->valid_w, vh = t->valid_h;
  if (vw <= 0 || vh <= 0 || vw > tile->width || vh > tile->height)
    return sscor_fail(SSCOR_E_INVALID, "blend: valid size %dx%d does not fit a %dx%d tile", vw,
                      vh, tile->width, tile->height);
  if (t->x < 0 || t->y < 0 || t->x + vw > b->W || t->y + vh > b->H)
    return sscor_fail(SSCOR_E_INVALID,
                      "blend: tile %dx%d at (%d, %d) lies outside the %dx%d image", vw, vh, t->x,
                      t->y, b->W, b->H);
  if (tile->type != b->type)
    return sscor_fail(SSCOR_E_INVALID, "blend: tile of %s samples in a %s image",
                      sscor_sample_type_name(tile->type), sscor_sample_type_name(b->type));
  int one = t->channel >= 0;
  if (one ? (t->channel >= b->C || tile->channels != 1) : tile->channels != b->C)
    return sscor_fail(SSCOR_E_INVALID, "blend: tile with %d channel(s) (channel %d) for a %d-channel image",
                      tile->channels, t->channel, b->C);
  return b->grid ? grid_add(b, tile, t) : band_add(b, tile, t);
}

sscor_status sscor_band_finish(sscor_band *b) {
  if (!b->grid) return emit_until(b, b->H);
  if (b->next_r < b->nrows)
    return sscor_fail(SSCOR_E_INVALID, "blend: the stream ended at tile %d of %d",
                      b->next_r * b->ncols + b->next_c, b->nrows * b->ncols);
  return SSCOR_OK;
}
