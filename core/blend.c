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
  int W, H, C, cap;
  sscor_sample_type type;
  int direct;  /* tiles never overlap: samples are copied, not accumulated */
  uint8_t *rows; /* direct: cap rows x W x C samples of the output type */
  int *cover;    /* direct: pixels filled per ring row (for gap detection) */
  float *acc;  /* cap rows x W x C, ring indexed by image row % cap */
  float *wsum; /* cap rows x W */
  int y0;      /* first row not yet emitted */
  int top;     /* top row of the newest tile (rows above it are final) */
  uint8_t *out; /* converted rows for emit */
  float *wx, *wy; /* weights of the current tile */
  int wxcap, wycap;
  sscor_band_emit emit;
  void *user;
};

sscor_status sscor_band_new(int width, int height, int channels, sscor_sample_type type,
                            int band_rows, int overlapping, sscor_band_emit emit, void *user,
                            sscor_band **out) {
  *out = NULL;
  if (width <= 0 || height <= 0 || width > SSCOR_IMAGE_MAX_SIDE || height > SSCOR_IMAGE_MAX_SIDE)
    return sscor_fail(SSCOR_E_INVALID, "blend: image size %dx%d is out of range", width, height);
  if (channels <= 0 || channels > SSCOR_IMAGE_MAX_CHANNELS)
    return sscor_fail(SSCOR_E_INVALID, "blend: channel count %d is out of range", channels);
  if (band_rows <= 0) return sscor_fail(SSCOR_E_INVALID, "blend: band of %d rows", band_rows);
  if (band_rows > height) band_rows = height;
  sscor_band *b = calloc(1, sizeof *b);
  if (!b) return sscor_fail(SSCOR_E_NOMEM, "out of memory");
  *b = (sscor_band){.W = width, .H = height, .C = channels, .cap = band_rows, .type = type,
                    .emit = emit, .user = user};
  b->direct = !overlapping;
  size_t row_bytes = (size_t)width * channels * sscor_sample_size(type);
  if (b->direct) {
    b->rows = malloc((size_t)band_rows * row_bytes);
    b->cover = calloc((size_t)band_rows, sizeof(int));
  } else {
    b->acc = calloc((size_t)band_rows * width * channels, sizeof(float));
    b->wsum = calloc((size_t)band_rows * width, sizeof(float));
  }
  b->out = malloc(row_bytes);
  if ((b->direct ? !b->rows || !b->cover : !b->acc || !b->wsum) || !b->out) {
    sscor_band_free(b);
    return sscor_fail(SSCOR_E_NOMEM, "blend: cannot allocate a %d-row band of a %d-wide image",
                      band_rows, width);
  }
  *out = b;
  return SSCOR_OK;
}

void sscor_band_free(sscor_band *b) {
  if (!b) return;
  free(b->acc);
  free(b->wsum);
  free(b->rows);
  free(b->cover);
  free(b->out);
  free(b->wx);
  free(b->wy);
  free(b);
}

int sscor_band_rows_done(const sscor_band *b) { return b->y0; }

/* Emits rows [y0, y) and clears their ring slots. */
static sscor_status emit_direct(sscor_band *b, int y) {
  size_t row_bytes = (size_t)b->W * b->C * sscor_sample_size(b->type);
  for (; b->y0 < y; b->y0++) {
    int slot = b->y0 % b->cap;
    if (b->cover[slot] != b->W)
      return sscor_fail(SSCOR_E_INVALID,
                        "blend: row %d received tiles for %d of %d pixels: the tiles leave a gap",
                        b->y0, b->cover[slot], b->W);
    b->cover[slot] = 0;
    sscor_status st = b->emit(b->user, b->y0, b->rows + (size_t)slot * row_bytes, row_bytes, 1);
    if (st) return st;
  }
  return SSCOR_OK;
}

static sscor_status emit_until(sscor_band *b, int y) {
  if (b->direct) return emit_direct(b, y);
  size_t n = (size_t)b->W * b->C;
  float maxv = sscor_sample_max(b->type);
  for (; b->y0 < y; b->y0++) {
    int slot = b->y0 % b->cap;
    float *a = b->acc + (size_t)slot * n;
    float *ws = b->wsum + (size_t)slot * b->W;
    for (int x = 0; x < b->W; x++)
      if (!(ws[x] > 0))
        return sscor_fail(SSCOR_E_INVALID,
                          "blend: pixel (%d, %d) received no tile: the tiles leave a gap", x,
                          b->y0);
    int C = b->C;
#define EMIT_ROW(T, CONVERT)                                \
  for (int x = 0; x < b->W; x++) {                          \
    float inv = 1.0f / ws[x];                               \
    for (int c = 0; c < C; c++) {                           \
      float v = a[(size_t)x * C + c] * inv;                 \
      ((T *)b->out)[(size_t)x * C + c] = CONVERT;           \
    }                                                       \
  }
    if (b->type == SSCOR_U8) EMIT_ROW(uint8_t, (uint8_t)(v < 0 ? 0 : v > maxv ? maxv : v + 0.5f))
    else if (b->type == SSCOR_U16) EMIT_ROW(uint16_t, (uint16_t)(v < 0 ? 0 : v > maxv ? maxv : v + 0.5f))
    else EMIT_ROW(float, v)
#undef EMIT_ROW
    memset(a, 0, n * sizeof(float));
    memset(ws, 0, (size_t)b->W * sizeof(float));
    sscor_status st = b->emit(b->user, b->y0, b->out, n * sscor_sample_size(b->type), 1);
    if (st) return st;
  }
  return SSCOR_OK;
}

static sscor_status weights(float **buf, int *cap, int n, int lead, int trail) {
  if (n > *cap) {
    float *p = realloc(*buf, (size_t)n * sizeof(float));
    if (!p) return sscor_fail(SSCOR_E_NOMEM, "out of memory");
    *buf = p, *cap = n;
  }
  for (int t = 0; t < n; t++) (*buf)[t] = sscor_blend_weight(t, n, lead, trail);
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
  if (t->y < b->top)
    return sscor_fail(SSCOR_E_INVALID,
                      "blend: tiles out of raster order (a tile at row %d after one at row %d)",
                      t->y, b->top);
  if (vh > b->cap)
    return sscor_fail(SSCOR_E_INVALID, "blend: tile of %d rows is taller than the %d-row band",
                      vh, b->cap);
  if (b->direct && (t->lead_x || t->trail_x || t->lead_y || t->trail_y))
    return sscor_fail(SSCOR_E_INVALID,
                      "blend: an overlapping tile in a stream of non-overlapping tiles");
  /* Rows above this tile receive nothing more. */
  sscor_status st = emit_until(b, t->y);
  if (st) return st;
  b->top = t->y;
  if (b->direct) { /* exact copy; weights would all be 1 */
    size_t ss = sscor_sample_size(b->type), row_bytes = (size_t)b->W * b->C * ss;
    int one = t->channel >= 0;
    for (int r = 0; r < vh; r++) {
      int slot = (t->y + r) % b->cap;
      uint8_t *dst = b->rows + (size_t)slot * row_bytes + (size_t)t->x * b->C * ss;
      const uint8_t *src = sscor_image_row(tile, r);
      if (!one) {
        memcpy(dst, src, (size_t)vw * b->C * ss);
      } else {
        for (int x = 0; x < vw; x++)
          memcpy(dst + ((size_t)x * b->C + t->channel) * ss, src + (size_t)x * ss, ss);
      }
      if (!one || t->channel == 0) b->cover[slot] += vw;
    }
    return SSCOR_OK;
  }
  if ((st = weights(&b->wx, &b->wxcap, tile->width, t->lead_x, t->trail_x))) return st;
  if ((st = weights(&b->wy, &b->wycap, tile->height, t->lead_y, t->trail_y))) return st;
  const float *wx = b->wx, *wy = b->wy;
  size_t n = (size_t)b->W * b->C;
  int C = b->C;
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

sscor_status sscor_band_finish(sscor_band *b) { return emit_until(b, b->H); }
