/* Correction models applied region by region; see correct.h. */
#include "correct.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/kernels.h"
#include "layers.h"
#include "nets.h"
#include "tensor.h"

void sscor_correct_params_default(sscor_correct_params *p) {
  memset(p, 0, sizeof *p);
}

struct sscor_corrector {
  const sscor_model *m;
  sscor_correct_params p;
  sscor_geometry g;
  int has_geom;
  sscor_flatfield *ff[SSCOR_MODEL_MAX_CHANNELS]; /* one for all channels, or one per channel */
  int nff;
  /* G_C windows: one workspace per window size in use (usually one) */
  sscor_engine *engine;
  sscor_net_ws *ws;
  int ws_w, ws_h;
  float *win_in, *win_out; /* c*h*w planar */
  float *acc, *wsum;       /* region accumulators, reused */
  size_t acc_cap;
};

/* ---- FLAT section (layout in model_file.h) ------------------------------ */


static void put_u32(uint8_t **p, uint32_t v) {
  for (int i = 0; i < 4; i++) *(*p)++ = (uint8_t)(v >> (8 * i));
}
static void put_f64(uint8_t **p, double d) {
  uint64_t v;
  memcpy(&v, &d, 8);
  for (int i = 0; i < 8; i++) *(*p)++ = (uint8_t)(v >> (8 * i));
}
static uint32_t get_u32(const uint8_t **p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) v |= (uint32_t)(*p)[i] << (8 * i);
  *p += 4;
  return v;
}
static double get_f64(const uint8_t **p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)(*p)[i] << (8 * i);
  *p += 8;
  double d;
  memcpy(&d, &v, 8);
  return d;
}

/* One FLAT payload (layout in model_file.h), malloc'd. */
static sscor_status flat_payload(const sscor_geometry *g, const sscor_flatfield *ff, uint8_t **out, size_t *len) {
  int nk;
  const double *ku, *kv, *f, *gain;
  double dark;
  sscor_flatfield_params_of(ff, &nk, &ku, &kv, &f, &gain, &dark);
  int nt = g->n_tiles;
  double lov = sscor_flatfield_log_overlap(ff);
  *len = 16 + 8 + 16 * (size_t)nk + 8 * (size_t)nk * nk + (gain ? 8 * (size_t)nt : 0) + (lov != 0.0 ? 8 : 0);
  uint8_t *p = *out = malloc(*len);
  if (!p) return sscor_fail(SSCOR_E_NOMEM, "model: out of memory storing the flat-field");
  put_u32(&p, (uint32_t)nk);
  put_u32(&p, (uint32_t)nt);
  put_u32(&p, gain ? 1 : 0);
  put_u32(&p, lov != 0.0 ? 1 : 0); /* flags: 1 = an overlap factor follows the gains */
  put_f64(&p, dark);
  for (int i = 0; i < nk; i++) put_f64(&p, ku[i]);
  for (int i = 0; i < nk; i++) put_f64(&p, kv[i]);
  for (int i = 0; i < nk * nk; i++) put_f64(&p, f[i]);
  for (int i = 0; gain && i < nt; i++) put_f64(&p, gain[i]);
  if (lov != 0.0) put_f64(&p, lov);
  return SSCOR_OK;
}

sscor_status sscor_model_set_flatfields(sscor_model *m, const sscor_geometry *g, sscor_flatfield *const *ff,
                                        int n) {
  char *text;
  sscor_status st = sscor_geometry_format(g, &text);
  if (st) return st;
  uint8_t *buf = NULL;
  size_t len = 0;
  for (int k = 0; k < n && !st; k++) {
    uint8_t *one;
    size_t n1;
    if ((st = flat_payload(g, ff[k], &one, &n1))) break;
    uint8_t *b = realloc(buf, len + n1);
    if (b) {
      memcpy(b + len, one, n1);
      buf = b, len += n1;
    } else {
      st = sscor_fail(SSCOR_E_NOMEM, "model: out of memory storing the flat-field");
    }
    free(one);
  }
  if (st) {
    free(buf);
    free(text);
    return st;
  }
  free(m->geometry);
  free(m->flatfield);
  m->geometry = text;
  m->flatfield = buf;
  m->flatfield_len = len;
  m->flatfield_count = n;
  return SSCOR_OK;
}

sscor_status sscor_model_set_flatfield(sscor_model *m, const sscor_geometry *g,
                                       const sscor_flatfield *ff) {
  sscor_flatfield *one = (sscor_flatfield *)ff;
  return sscor_model_set_flatfields(m, g, &one, ff ? 1 : 0);
}

/* Rebuilds the field of one FLAT payload for geometry g. */
static sscor_status parse_flat(const uint8_t *p, size_t len, const sscor_geometry *g, sscor_flatfield **ff) {
  const uint8_t *end = p + len;
  if (len < 24) return sscor_fail(SSCOR_E_CORRUPT, "model: FLAT section too short (%zu bytes)", len);
  int nk = (int)get_u32(&p), nt = (int)get_u32(&p), has_gain = (int)get_u32(&p);
  uint32_t flags = get_u32(&p);
  double dark = get_f64(&p);
  size_t need = 24 + 16 * (size_t)(nk > 0 ? nk : 0) + 8 * (size_t)(nk > 0 ? nk : 0) * (nk > 0 ? nk : 0) +
                (has_gain ? 8 * (size_t)(nt > 0 ? nt : 0) : 0) + (flags & 1 ? 8 : 0);
  if (nk < 2 || nk > 64 || nt < 0 || has_gain > 1 || flags > 1 || need != len)
    return sscor_fail(SSCOR_E_CORRUPT, "model: FLAT section of %zu bytes does not fit %d knots and %d tiles",
                      len, nk, nt);
  double *v = malloc(sizeof(double) * ((size_t)2 * nk + (size_t)nk * nk + (size_t)nt + 2));
  if (!v) return sscor_fail(SSCOR_E_NOMEM, "model: out of memory reading the flat-field");
  size_t n = 0;
  while (p < end) v[n++] = get_f64(&p);
  sscor_status st = sscor_flatfield_from_params(g, nk, v, v + nk, v + 2 * nk,
                                                has_gain ? v + 2 * nk + nk * nk : NULL, nt, dark, ff);
  if (!st && (flags & 1) && (st = sscor_flatfield_set_log_overlap(*ff, v[n - 1]))) {
    sscor_flatfield_free(*ff);
    *ff = NULL;
  }
  free(v);
  return st;
}

sscor_status sscor_model_get_flatfields(const sscor_model *m, sscor_geometry *g, sscor_flatfield **ff, int *n) {
  *n = 0;
  if (!m->geometry) return sscor_fail(SSCOR_E_FORMAT, "model: holds no geometry");
  sscor_status st = sscor_geometry_parse(m->geometry, "model geometry", g);
  if (st) return st;
  int want = m->flatfield ? (m->flatfield_count > 0 ? m->flatfield_count : 1) : 0;
  size_t off = 0;
  for (int k = 0; k < want && !st; k++) {
    /* the last (or only) field takes the rest, so a bad length is caught by parse_flat */
    size_t len = k + 1 < want ? sscor_model_flat_len(m->flatfield + off, m->flatfield_len - off)
                              : m->flatfield_len - off;
    if (!len) st = sscor_fail(SSCOR_E_CORRUPT, "model: FLAT section %d is malformed", k);
    else if (!(st = parse_flat(m->flatfield + off, len, g, &ff[k]))) (*n)++;
    off += len;
  }
  if (st) {
    for (int k = 0; k < *n; k++) sscor_flatfield_free(ff[k]);
    *n = 0;
    sscor_geometry_free(g);
  }
  return st;
}

sscor_status sscor_model_get_flatfield(const sscor_model *m, sscor_geometry *g, sscor_flatfield **ff) {
  sscor_flatfield *all[SSCOR_MODEL_MAX_CHANNELS];
  int n;
  *ff = NULL;
  sscor_status st = sscor_model_get_flatfields(m, g, all, &n);
  if (st) return st;
  for (int k = 1; k < n; k++) sscor_flatfield_free(all[k]);
  if (n) *ff = all[0];
  return SSCOR_OK;
}

/* ---- corrector ---------------------------------------------------------- */

sscor_status sscor_corrector_new(const sscor_model *m, const sscor_correct_params *p,
                                 sscor_corrector **out) {
  *out = NULL;
  if (!m->corrector && !m->flatfield)
    return sscor_fail(SSCOR_E_INVALID, "model: holds no correction (no flat-field, no network): only a geometry");
  sscor_corrector *c = calloc(1, sizeof *c);
  if (!c) return sscor_fail(SSCOR_E_NOMEM, "corrector: out of memory");
  c->m = m;
  sscor_status st;
  if (!m->corrector && !m->flatfield) {
    st = sscor_fail(SSCOR_E_INVALID,
                    "model holds only a geometry (an image analysis), nothing to correct with: estimate "
                    "a flat-field or train a corrector");
    goto fail;
  }
  if (p) c->p = *p;
  else sscor_correct_params_default(&c->p);
  if (m->geometry) {
    if ((st = sscor_model_get_flatfields(m, &c->g, c->ff, &c->nff))) goto fail;
    c->has_geom = 1;
  }
  if (m->corrector) {
    if (c->p.threads > 0) sscor_kernels_set_threads(c->p.threads);
    if ((st = sscor_engine_create(SSCOR_BACKEND_DNNL, &c->engine))) goto fail;
  }
  *out = c;
  return SSCOR_OK;
fail:
  sscor_corrector_free(c);
  return st;
}

void sscor_corrector_free(sscor_corrector *c) {
  if (!c) return;
  for (int k = 0; k < c->nff; k++) sscor_flatfield_free(c->ff[k]);
  if (c->has_geom) sscor_geometry_free(&c->g);
  sscor_net_ws_destroy(c->ws);
  if (c->engine) sscor_engine_destroy(c->engine);
  free(c->win_in);
  free(c->win_out);
  free(c->acc);
  free(c->wsum);
  free(c);
}

int sscor_corrector_has_flatfield(const sscor_corrector *c) { return c->nff > 0; }
int sscor_corrector_has_network(const sscor_corrector *c) { return c->m->corrector != NULL; }
const sscor_geometry *sscor_corrector_geometry(const sscor_corrector *c) {
  return c->has_geom ? &c->g : NULL;
}

sscor_status sscor_corrector_check(const sscor_corrector *c, int channels, sscor_sample_type type,
                                   int image_w, int image_h, const char *what) {
  const sscor_model *m = c->m;
  if (channels != m->channels)
    return sscor_fail(SSCOR_E_INVALID, "%s has %d channel%s, the model was made for %d", what, channels,
                      channels == 1 ? "" : "s", m->channels);
  if (c->has_geom && (image_w != c->g.width || image_h != c->g.height))
    return sscor_fail(SSCOR_E_INVALID,
                      "%s is %dx%d, the model's geometry describes a %dx%d image (estimate a model "
                      "for this image)",
                      what, image_w, image_h, c->g.width, c->g.height);
  if (m->corrector) {
    float tmax = sscor_sample_max(type);
    for (int k = 0; k < channels; k++)
      if (m->low[k] < (type == SSCOR_F32 ? -tmax : 0.0f) - 1e-3f || m->low[k] > tmax ||
          (type != SSCOR_F32 && m->high[k] > 4.0f * tmax))
        return sscor_fail(SSCOR_E_INVALID,
                          "%s holds %s samples, the model's intensity scaling of channel %d "
                          "(%g..%g) does not fit that range",
                          what, sscor_sample_type_name(type), k, m->low[k], m->high[k]);
    if (m->sample_format != SSCOR_SAMPLE_UNKNOWN && (int)m->sample_format != (int)type + 1)
      return sscor_fail(SSCOR_E_INVALID, "%s holds %s samples, the model was trained on %s samples",
                        what, sscor_sample_type_name(type),
                        sscor_sample_type_name((sscor_sample_type)(m->sample_format - 1)));
  }
  return SSCOR_OK;
}

/* Raised-cosine weight of position i in a window of n: small but non-zero at
 * the border (so region borders, covered by one window only, stay defined). */
static float win_weight(int i, int n) {
  double t = (i + 0.5) / n;
  return (float)(0.02 + 0.98 * (0.5 - 0.5 * cos(2 * M_PI * t)));
}

static sscor_status ensure_ws(sscor_corrector *c, int w, int h) {
  if (c->ws && c->ws_w == w && c->ws_h == h) return SSCOR_OK;
  sscor_net_ws_destroy(c->ws);
  c->ws = NULL;
  free(c->win_in);
  free(c->win_out);
  size_t n = (size_t)c->m->channels * w * h;
  c->win_in = malloc(n * sizeof(float));
  c->win_out = malloc(n * sizeof(float));
  if (!c->win_in || !c->win_out) return sscor_fail(SSCOR_E_NOMEM, "corrector: out of memory");
  sscor_status st = sscor_net_ws_create(c->m->corrector, c->engine, 1, h, w, 0, &c->ws);
  if (st) return st;
  c->ws_w = w;
  c->ws_h = h;
  return SSCOR_OK;
}

/* Window origins covering [0, len) with windows of size win and step <= step. */
static int window_starts(int len, int win, int step, int *out, int max) {
  if (len <= win) {
    out[0] = 0;
    return 1;
  }
  int n = (len - win + step - 1) / step + 1;
  if (n > max) n = max;
  for (int i = 0; i < n; i++) out[i] = (int)((double)i * (len - win) / (n - 1) + 0.5);
  return n;
}

static sscor_status refine(sscor_corrector *c, sscor_image *r) {
  const sscor_model *m = c->m;
  int C = r->channels, W = r->width, H = r->height;
  int P = m->patch;
  int ww = W < P ? W & ~3 : P, wh = H < P ? H & ~3 : P;
  if (ww < 8 || wh < 8) return SSCOR_OK; /* too small for the network: flat-field only */
  int step = c->p.step > 0 && c->p.step <= P / 2 ? c->p.step : P / 2;
  sscor_status st = ensure_ws(c, ww, wh);
  if (st) return st;
  size_t npx = (size_t)W * H;
  if (c->acc_cap < npx) {
    free(c->acc);
    free(c->wsum);
    c->acc = malloc(npx * C * sizeof(float));
    c->wsum = malloc(npx * sizeof(float));
    if (!c->acc || !c->wsum) {
      c->acc_cap = 0;
      return sscor_fail(SSCOR_E_NOMEM, "corrector: out of memory for a %dx%d region", W, H);
    }
    c->acc_cap = npx;
  }
  memset(c->acc, 0, npx * C * sizeof(float));
  memset(c->wsum, 0, npx * sizeof(float));
  int xs[4096], ys[4096];
  int nx = window_starts(W, ww, step, xs, 4096), ny = window_starts(H, wh, step, ys, 4096);
  sscor_tensor *in = sscor_net_ws_input(c->ws);
  for (int j = 0; j < ny; j++)
    for (int i = 0; i < nx; i++) {
      int x0 = xs[i], y0 = ys[j];
      for (int k = 0; k < C; k++) {
        float lo = m->low[k], hi = m->high[k];
        for (int y = 0; y < wh; y++)
          for (int x = 0; x < ww; x++) {
            float v = sscor_image_get(r, x0 + x, y0 + y, k);
            c->win_in[((size_t)k * wh + y) * ww + x] = 2.0f * (v - lo) / (hi - lo) - 1.0f;
          }
      }
      sscor_tensor_import(in, c->win_in);
      if ((st = sscor_net_forward(c->ws, in))) return st;
      sscor_tensor_export(sscor_net_ws_output(c->ws), c->win_out);
      for (int y = 0; y < wh; y++) {
        float wy = win_weight(y, wh);
        for (int x = 0; x < ww; x++) {
          float w = wy * win_weight(x, ww);
          size_t o = (size_t)(y0 + y) * W + x0 + x;
          c->wsum[o] += w;
          for (int k = 0; k < C; k++) {
            float u = c->win_out[((size_t)k * wh + y) * ww + x];
            c->acc[o * C + k] += w * (m->low[k] + (u + 1.0f) * 0.5f * (m->high[k] - m->low[k]));
          }
        }
      }
    }
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) {
      size_t o = (size_t)y * W + x;
      for (int k = 0; k < C; k++) {
        float v0 = sscor_image_get(r, x, y, k);
        if (v0 == 0.0f) continue; /* no data stays no data */
        float v = c->acc[o * C + k] / c->wsum[o];
        if (c->p.max_rule && v < v0) v = v0;
        sscor_image_set(r, x, y, k, v);
      }
    }
  return SSCOR_OK;
}

/* The flat-field stage on channels [c0, c0 + region channels) of the image. */
static sscor_status apply_fields(const sscor_corrector *c, sscor_image *region, int x0, int y0, int c0) {
  if (c->nff == 1) return sscor_flatfield_apply(c->ff[0], region, x0, y0);
  sscor_status st = SSCOR_OK;
  for (int k = 0; k < region->channels && c->nff && !st; k++)
    st = sscor_flatfield_apply_channel(c->ff[c0 + k], region, x0, y0, k);
  return st;
}

sscor_status sscor_corrector_apply(sscor_corrector *c, sscor_image *region, int x0, int y0) {
  if (region->channels != c->m->channels)
    return sscor_fail(SSCOR_E_INVALID, "corrector: region has %d channels, the model %d", region->channels,
                      c->m->channels);
  sscor_status st;
  if ((st = apply_fields(c, region, x0, y0, 0))) return st;
  if (c->m->corrector) return refine(c, region);
  return SSCOR_OK;
}

sscor_status sscor_corrector_apply_channel(sscor_corrector *c, sscor_image *region, int x0, int y0,
                                           int channel) {
  if (region->channels != 1 || channel < 0 || channel >= c->m->channels)
    return sscor_fail(SSCOR_E_INVALID, "corrector: channel %d (a %d-channel region) of a %d-channel model",
                      channel, region->channels, c->m->channels);
  if (c->m->corrector)
    return sscor_fail(SSCOR_E_UNSUPPORTED,
                      "the model's learned corrector needs every channel of a pixel at once, not one channel "
                      "per frame: use a flat-field model, or a stream with all channels in one frame");
  return apply_fields(c, region, x0, y0, c->nff == 1 ? 0 : channel);
}

/* ---- analysis ----------------------------------------------------------- */

void sscor_analyse_params_default(sscor_analyse_params *p) {
  memset(p, 0, sizeof *p);
  sscor_detect_params_default(&p->detect);
  sscor_flatfield_params_default(&p->flat);
}

typedef struct {
  sscor_slide *s;
  const sscor_slide_info *info;
  void *buf;
  size_t cap;
  int channel; /* -1: the mean of every channel */
} slide_reader;

static sscor_status slide_region_reader(void *user, int x, int y, int w, int h, float *dst) {
  slide_reader *r = user;
  int C = r->info->channels;
  size_t ss = sscor_sample_size(r->info->type), stride = (size_t)w * C * ss, need = stride * h;
  if (need > r->cap) {
    void *nb = realloc(r->buf, need);
    if (!nb) return sscor_fail(SSCOR_E_NOMEM, "analyse: out of memory reading a %dx%d region", w, h);
    r->buf = nb;
    r->cap = need;
  }
  sscor_status st = sscor_slide_read_region(r->s, 0, x, y, w, h, r->buf, stride);
  if (st) return st;
  sscor_image img;
  sscor_image_wrap(&img, r->buf, w, h, C, r->info->type, stride);
  for (int yy = 0; yy < h; yy++)
    for (int xx = 0; xx < w; xx++) {
      if (r->channel >= 0) {
        dst[(size_t)yy * w + xx] = sscor_image_get(&img, xx, yy, r->channel);
        continue;
      }
      float s = 0;
      for (int k = 0; k < C; k++) s += sscor_image_get(&img, xx, yy, k);
      dst[(size_t)yy * w + xx] = s / C;
    }
  return SSCOR_OK;
}

typedef struct {
  const sscor_image *img;
  int channel;
} image_channel_reader;

static sscor_status image_channel_region(void *user, int x, int y, int w, int h, float *dst) {
  const image_channel_reader *r = user;
  for (int yy = 0; yy < h; yy++)
    for (int xx = 0; xx < w; xx++) dst[(size_t)yy * w + xx] = sscor_image_get(r->img, x + xx, y + yy, r->channel);
  return SSCOR_OK;
}

/* Loads the artifact mask a geometry file names (a relative path is taken
 * from the geometry file's folder); it must match the image size. */
static sscor_status load_mask(sscor_geometry *g, const char *geometry_file) {
  if (!g->mask_path || g->mask.data) return SSCOR_OK;
  char *path = NULL;
  if (g->mask_path[0] != '/' && strrchr(geometry_file, '/')) {
    size_t dl = (size_t)(strrchr(geometry_file, '/') - geometry_file);
    path = malloc(dl + strlen(g->mask_path) + 2);
    if (!path) return sscor_fail(SSCOR_E_NOMEM, "out of memory");
    memcpy(path, geometry_file, dl);
    path[dl] = '/';
    strcpy(path + dl + 1, g->mask_path);
  }
  sscor_status st = sscor_image_read(path ? path : g->mask_path, &g->mask);
  if (!st && (g->mask.width != g->width || g->mask.height != g->height)) {
    st = sscor_fail(SSCOR_E_INVALID, "%s: mask %s is %dx%d, the image %dx%d", geometry_file,
                    path ? path : g->mask_path, g->mask.width, g->mask.height, g->width, g->height);
    sscor_image_free(&g->mask);
    memset(&g->mask, 0, sizeof g->mask);
  }
  free(path);
  return st;
}

/* The image reduced by `scale` (box mean), read band by band through
 * reader: `scale` rows make one reduced row, so memory is a band plus the
 * reduced image. */
static sscor_status reduce_image(const char *name, int W, int H, int scale, sscor_region_reader reader,
                                 void *user, sscor_image *coarse_img) {
  sscor_image coarse;
  sscor_status st = sscor_image_alloc(&coarse, W / scale, H / scale, 1, SSCOR_F32);
  if (st) return st;
  int rows = scale;
  while (rows * 2 <= 256 && rows * 2 <= H) rows *= 2;
  float *band = malloc(sizeof(float) * (size_t)W * rows);
  double *acc = malloc(sizeof(double) * (size_t)coarse.width);
  if (!band || !acc) {
    st = sscor_fail(SSCOR_E_NOMEM, "%s: out of memory for the reduced image", name);
  }
  for (int y0 = 0; y0 < coarse.height * scale && !st; y0 += rows) {
    int h = rows;
    if (y0 + h > coarse.height * scale) h = coarse.height * scale - y0;
    if ((st = reader(user, 0, y0, W, h, band))) break;
    for (int cy = 0; cy < h / scale; cy++) {
      memset(acc, 0, sizeof(double) * (size_t)coarse.width);
      for (int yy = 0; yy < scale; yy++) {
        const float *row = band + (size_t)(cy * scale + yy) * W;
        for (int x = 0; x < coarse.width * scale; x++) acc[x / scale] += row[x];
      }
      float *out = sscor_image_row(&coarse, y0 / scale + cy);
      for (int x = 0; x < coarse.width; x++) out[x] = (float)(acc[x] / ((double)scale * scale));
    }
  }
  free(band);
  free(acc);
  if (st) sscor_image_free(&coarse);
  else *coarse_img = coarse;
  return st;
}

/* The analysis itself, over any reader of the full-resolution image: the
 * reduced image band by band (`scale` rows make one reduced row, so memory is
 * a band plus the reduced image), then detection or the geometry file, then
 * the flat-field (or only the foreground threshold). `name` names the image
 * in messages. */
static sscor_status analyse(const char *name, int W, int H, sscor_region_reader reader, void *user,
                            const sscor_analyse_params *p, sscor_geometry *g, sscor_flatfield **ff,
                            sscor_image *coarse_out, sscor_analyse_report *rep) {
  *ff = NULL;
  memset(rep, 0, sizeof *rep);
  memset(g, 0, sizeof *g);
  sscor_image coarse = {0};
  sscor_status st = SSCOR_OK;
  int scale = p->scale;
  if (scale <= 0) {
    /* 4 on slides; less on small images, whose seams would otherwise be a
       pixel or two from the texture at the reduced scale (a 512-px image
       reduced by 4 keeps tiles of 32 px, too few for the angle and seams). */
    scale = 4;
    while (scale > 1 && (W < H ? W : H) / scale < 512) scale /= 2;
    while ((double)(W / scale) * (H / scale) > 64e6) scale *= 2; /* keep the reduced image small */
  }
  if (W / scale < 16 || H / scale < 16)
    return sscor_fail(SSCOR_E_INVALID, "%s: %dx%d is too small to analyse at reduction %d", name, W, H, scale);
  rep->scale = scale;
  if ((st = reduce_image(name, W, H, scale, reader, user, &coarse))) goto done;
  if (p->geometry_file) {
    if ((st = sscor_geometry_read(p->geometry_file, g))) goto done;
    if (g->width != W || g->height != H) {
      st = sscor_fail(SSCOR_E_INVALID, "%s: describes a %dx%d image, %s is %dx%d", p->geometry_file,
                      g->width, g->height, name, W, H);
      goto done;
    }
    if ((st = load_mask(g, p->geometry_file))) goto done;
    snprintf(rep->detect.summary, sizeof rep->detect.summary, "geometry from %s: %d tiles, %d regions%s",
             p->geometry_file, g->n_tiles, g->n_regions, g->mask.data ? ", a mask" : "");
    int stripes = g->n_tiles >= 2 && g->orientation != SSCOR_ORIENT_NONE;
    if (!stripes && !(p->allow_no_stripes && (g->n_regions || g->mask.data))) {
      st = sscor_fail(SSCOR_E_INVALID, "%s: no stripes found (%s)", name, rep->detect.summary);
      goto done;
    }
    if (p->no_flatfield || !stripes) {
      rep->flat.foreground = p->flat.foreground > 0 ? p->flat.foreground : sscor_foreground_threshold(&coarse);
    } else if ((st = sscor_flatfield_estimate(g, &coarse, scale, reader, user, &p->flat, ff, &rep->flat))) {
      char msg[512];
      snprintf(msg, sizeof msg, "%s", sscor_last_error());
      st = sscor_fail(st, "%s: %s (%s)", name, msg, rep->detect.summary);
    }
  } else {
    rep->detected = 1;
    /* Two detectors: by periodicity (many tiles, overlaps) and by
       individual seam lines (few tiles). Each geometry's flat-field must
       pass its held-out check; of two that pass, the one leaving the least
       step energy along the image's lines wins. */
    char first[768] = "";
    sscor_geometry best_g;
    sscor_flatfield *best_ff = NULL;
    sscor_detect_report best_det;
    sscor_flatfield_report best_flat;
    memset(&best_g, 0, sizeof best_g);
    int have_angle = 0;
    double angle = 0;
    for (int attempt = p->detect.lines ? 1 : 0; attempt < 2; attempt++) {
      sscor_detect_params dp = p->detect;
      dp.lines = attempt;
      /* both detectors search the same angle on the same image: once */
      if (have_angle && !dp.angle_known) {
        dp.angle_known = 1;
        dp.angle = angle;
      }
      sscor_geometry_free(g);
      memset(g, 0, sizeof *g);
      if ((st = sscor_detect_geometry(&coarse, scale, W, H, reader, user, &dp, g,
                                      &rep->detect)))
        break;
      have_angle = 1;
      angle = rep->detect.angle_searched;
      if (g->n_tiles < 2 || g->orientation == SSCOR_ORIENT_NONE) {
        st = sscor_fail(SSCOR_E_INVALID, "%s: no stripes found (%s)", name, rep->detect.summary);
      } else {
        st = sscor_flatfield_estimate(g, &coarse, scale, reader, user, &p->flat, ff,
                                      &rep->flat);
        if (st) {
          char msg[512];
          snprintf(msg, sizeof msg, "%s", sscor_last_error());
          st = sscor_fail(st, "%s: %s (%s)", name, msg, rep->detect.summary);
        }
      }
      if (st && st != SSCOR_E_INVALID) break;
      if (!st) {
        int better = !best_ff || rep->flat.check_lines_after < best_flat.check_lines_after;
        if (better) {
          sscor_flatfield_free(best_ff);
          sscor_geometry_free(&best_g);
          best_ff = *ff;
          best_g = *g;
          best_det = rep->detect;
          best_flat = rep->flat;
        } else {
          sscor_flatfield_free(*ff);
          sscor_geometry_free(g);
        }
        *ff = NULL;
        memset(g, 0, sizeof *g);
        continue;
      }
      if (attempt == 0 || !first[0]) {
        snprintf(first, sizeof first, "%s", sscor_last_error());
      } else {
        /* both refused: say both, the periodic reason first */
        char second[768];
        snprintf(second, sizeof second, "%s", sscor_last_error());
        const char *tail = strncmp(second, name, strlen(name)) == 0 ? second + strlen(name) + 2 : second;
        st = sscor_fail(st, "%s; by seam lines: %s", first, tail);
      }
    }
    if (best_ff && (!st || st == SSCOR_E_INVALID)) {
      sscor_geometry_free(g);
      *g = best_g;
      *ff = best_ff;
      rep->detect = best_det;
      rep->flat = best_flat;
      st = SSCOR_OK;
    } else {
      sscor_flatfield_free(best_ff);
      sscor_geometry_free(&best_g);
    }
    if (st) goto done;
    if (p->no_flatfield) { /* the check chose the geometry; the field is not wanted */
      sscor_flatfield_free(*ff);
      *ff = NULL;
    }
  }
done:
  if (st) {
    sscor_geometry_free(g);
    memset(g, 0, sizeof *g);
    sscor_image_free(&coarse);
  } else if (coarse_out) {
    *coarse_out = coarse;
  } else {
    sscor_image_free(&coarse);
  }
  return st;
}

sscor_status sscor_analyse_slide(const char *path, const sscor_analyse_params *p,
                                 sscor_geometry *g, sscor_flatfield **ff, sscor_image *coarse_out,
                                 sscor_analyse_report *rep) {
  *ff = NULL;
  memset(rep, 0, sizeof *rep);
  memset(g, 0, sizeof *g);
  slide_reader rd = {0};
  rd.channel = -1;
  sscor_status st = sscor_slide_open(path, &rd.s);
  if (st) return st;
  rd.info = sscor_slide_get_info(rd.s);
  int64_t W64, H64;
  if (!(st = sscor_slide_level_size(rd.s, 0, &W64, &H64)))
    st = analyse(path, (int)W64, (int)H64, slide_region_reader, &rd, p, g, ff, coarse_out, rep);
  free(rd.buf);
  sscor_slide_close(rd.s);
  return st;
}

sscor_status sscor_analyse_image(const sscor_image *img, const char *name, const sscor_analyse_params *p,
                                 sscor_geometry *g, sscor_flatfield **ff, sscor_image *coarse_out,
                                 sscor_analyse_report *rep) {
  return analyse(name ? name : "image", img->width, img->height, sscor_image_region_reader, (void *)img, p,
                 g, ff, coarse_out, rep);
}

/* ---- one flat-field per channel ---------------------------------------- */

/* The field that changes nothing (for a channel whose own field is refused). */
static sscor_status identity_field(const sscor_geometry *g, sscor_flatfield **ff) {
  double ku[2] = {0, g->tile_w > 0 ? g->tile_w : 1}, kv[2] = {0, g->tile_h > 0 ? g->tile_h : 1}, f[4] = {0};
  return sscor_flatfield_from_params(g, 2, ku, kv, f, NULL, 0, 0.0, ff);
}

/* Estimates ff[k] for each of C channels from that channel alone (the
 * reader's channel selected by *channel); see correct.h. */
static sscor_status analyse_channels(const char *name, int W, int H, int C, sscor_region_reader reader, void *user,
                                     int *channel, const sscor_analyse_params *p, const sscor_geometry *g,
                                     int scale, sscor_flatfield **ff, sscor_analyse_report *rep) {
  sscor_status st = SSCOR_OK;
  char kept[128] = "";
  int n = 0, left = 0;
  sscor_flatfield_params fp = p->flat;
  for (int k = 0; k < C && !st; k++) {
    sscor_image coarse = {0};
    sscor_flatfield_report fr;
    *channel = k;
    if (!(st = reduce_image(name, W, H, scale, reader, user, &coarse)))
      st = sscor_flatfield_estimate(g, &coarse, scale, reader, user, &fp, &ff[k], &fr);
    sscor_image_free(&coarse);
    if (st == SSCOR_E_INVALID) { /* the held-out check refused it: never harm a channel */
      left++;
      size_t l = strlen(kept);
      snprintf(kept + l, sizeof kept - l, "%s%d", l ? "," : "", k);
      st = identity_field(g, &ff[k]);
    }
    if (!st) n++;
  }
  if (st) {
    for (int k = 0; k < n; k++) sscor_flatfield_free(ff[k]);
    char msg[512];
    snprintf(msg, sizeof msg, "%s", sscor_last_error());
    return sscor_fail(st, "%s: flat-field of channel %d: %s", name, n, msg);
  }
  if (left == C) {
    for (int k = 0; k < n; k++) sscor_flatfield_free(ff[k]);
    return sscor_fail(SSCOR_E_INVALID, "%s: no reliable correction found for any of its %d channels alone", name, C);
  }
  size_t l = strlen(rep->detect.summary);
  if (left)
    snprintf(rep->detect.summary + l, sizeof rep->detect.summary - l,
             "; a flat-field per channel, channel%s %s left as is (no reliable correction)", left > 1 ? "s" : "",
             kept);
  else
    snprintf(rep->detect.summary + l, sizeof rep->detect.summary - l, "; a flat-field per channel (%d)", C);
  return SSCOR_OK;
}

sscor_status sscor_analyse_slide_channels(const char *path, const sscor_analyse_params *p, const sscor_geometry *g,
                                          int scale, int channels, sscor_flatfield **ff, sscor_analyse_report *rep) {
  slide_reader rd = {0};
  sscor_status st = sscor_slide_open(path, &rd.s);
  if (st) return st;
  rd.info = sscor_slide_get_info(rd.s);
  if (channels < 1 || channels > rd.info->channels)
    st = sscor_fail(SSCOR_E_INVALID, "%s: %d channels asked of a %d-channel image", path, channels, rd.info->channels);
  else
    st = analyse_channels(path, g->width, g->height, channels, slide_region_reader, &rd, &rd.channel, p, g, scale,
                          ff, rep);
  free(rd.buf);
  sscor_slide_close(rd.s);
  return st;
}

sscor_status sscor_analyse_image_channels(const sscor_image *img, const char *name, const sscor_analyse_params *p,
                                          const sscor_geometry *g, int scale, int channels, sscor_flatfield **ff,
                                          sscor_analyse_report *rep) {
  image_channel_reader rd = {img, 0};
  if (channels < 1 || channels > img->channels)
    return sscor_fail(SSCOR_E_INVALID, "%s: %d channels asked of a %d-channel image", name, channels, img->channels);
  return analyse_channels(name ? name : "image", img->width, img->height, channels, image_channel_region, &rd,
                          &rd.channel, p, g, scale, ff, rep);
}

/* ---- learned refinement ------------------------------------------------- */

#include "sampling.h"
#include "trainer.h"

void sscor_refine_params_default(sscor_refine_params *p) {
  memset(p, 0, sizeof *p);
  p->preset = "cpu";
  p->seed = 1;
  p->flatfield_first = 1;
  p->joint_channels = 1;
}

sscor_status sscor_training_patch(const sscor_image *src, int channels, sscor_flatfield *const *ff, int nff,
                                  int x, int y, sscor_image *out) {
  if (channels < 1 || channels > src->channels)
    return sscor_fail(SSCOR_E_INVALID, "training patch: %d channels asked of a %d-channel image", channels,
                      src->channels);
  if (nff > 1 && nff != channels)
    return sscor_fail(SSCOR_E_INVALID, "training patch: %d flat-fields for %d channels", nff, channels);
  sscor_status st = sscor_image_alloc(out, src->width, src->height, channels, SSCOR_F32);
  if (st) return st;
  for (int yy = 0; yy < src->height; yy++)
    for (int xx = 0; xx < src->width; xx++)
      for (int c = 0; c < channels; c++) sscor_image_set(out, xx, yy, c, sscor_image_get(src, xx, yy, c));
  for (int k = 0; k < nff && !st; k++)
    st = sscor_flatfield_apply_channel(ff[k], out, x, y, nff == 1 ? -1 : k);
  if (st) sscor_image_free(out);
  return st;
}

typedef struct {
  sscor_refine_progress_fn cb;
  void *user;
  double budget;
  /* checkpoints */
  const sscor_trainer *t;
  const sscor_model *meta;
  const char *path;
  double interval, last;
  sscor_status st;
} refine_cb;

/* Between iterations: the caller's callback, the budget, and a checkpoint
 * every `interval` seconds and when training stops before its end (a run
 * that ends needs none: its model is the result). */
static int refine_progress(const sscor_train_progress *pr, void *user) {
  refine_cb *r = user;
  int stop = (r->cb && r->cb(pr, r->user)) || (r->budget > 0 && pr->elapsed_s >= r->budget);
  int done = pr->step >= pr->steps;
  if (r->path && !done && (stop || (r->interval > 0 && pr->elapsed_s - r->last >= r->interval))) {
    r->last = pr->elapsed_s;
    if ((r->st = sscor_checkpoint_save(r->t, r->meta, r->path))) return 1;
  }
  return stop;
}

sscor_status sscor_train_patches(const sscor_image *anomalies, const sscor_image *normals, int n,
                                 const sscor_refine_params *p, sscor_refine_progress_fn cb, void *user,
                                 sscor_model *m, int *finished) {
  sscor_train_config cfg;
  sscor_status st;
  sscor_image *all = NULL;
  float *px = NULL, *py = NULL;
  sscor_trainer *t = NULL;
  const char *preset = p->preset ? p->preset : "cpu";
  int C = m->channels;
  if (finished) *finished = 0;
  if (n < 8) return sscor_fail(SSCOR_E_INVALID, "too few training pairs (%d; need 8)", n);
  int P = anomalies[0].width;
  for (int i = 0; i < 2 * n; i++) {
    const sscor_image *im = i % 2 ? &normals[i / 2] : &anomalies[i / 2];
    if (im->width != P || im->height != P || im->channels != C || im->type != anomalies[0].type)
      return sscor_fail(SSCOR_E_INVALID,
                        "training pair %d: %s patch is %dx%d with %d %s channels; expected %dx%d with %d %s",
                        i / 2, i % 2 ? "normal" : "anomaly", im->width, im->height, im->channels,
                        sscor_sample_type_name(im->type), P, P, C, sscor_sample_type_name(anomalies[0].type));
  }
  if ((st = sscor_train_preset(preset, C, &cfg))) return st;
  if (p->epochs > 0) {
    cfg.epochs = (p->epochs + 1) / 2;
    cfg.epochs_decay = p->epochs / 2;
  }
  cfg.seed = p->seed;
  cfg.patch = P; /* the pairs decide; the networks must accept it */
  if ((st = sscor_train_config_check(&cfg))) {
    char why[512];
    snprintf(why, sizeof why, "%s", sscor_last_error());
    return sscor_fail(st, "patch %d px does not suit preset %s: %s", P, preset, why);
  }
  if (p->threads > 0) sscor_kernels_set_threads(p->threads);
  /* scaling from every patch of both domains */
  all = malloc((size_t)2 * n * sizeof *all);
  if (!all) return sscor_fail(SSCOR_E_NOMEM, "out of memory for %d pairs", n);
  for (int i = 0; i < 2 * n; i++) all[i] = i % 2 ? normals[i / 2] : anomalies[i / 2];
  sscor_intensity_scale sc;
  st = sscor_intensity_scale_from_patches(all, 2 * n, 0.5, 99.5, p->joint_channels, &sc);
  free(all);
  if (st) return st;
  for (int c = 0; c < C; c++) {
    m->low[c] = sc.lo[c];
    m->high[c] = sc.hi[c];
  }
  m->patch = P;
  size_t per = (size_t)C * P * P;
  px = malloc(per * n * sizeof(float));
  py = malloc(per * n * sizeof(float));
  if (!px || !py) {
    st = sscor_fail(SSCOR_E_NOMEM, "out of memory for %d pairs", n);
    goto done;
  }
  for (int i = 0; i < 2 * n; i++) {
    const sscor_image *im = i % 2 ? &normals[i / 2] : &anomalies[i / 2];
    float *dst = (i % 2 ? py : px) + per * (i / 2);
    for (int c = 0; c < C; c++)
      for (int yy = 0; yy < P; yy++)
        for (int xx = 0; xx < P; xx++)
          dst[((size_t)c * P + yy) * P + xx] = sscor_intensity_to_unit(&sc, c, sscor_image_get(im, xx, yy, c));
  }
  sscor_pairs tp = {px, py, n, C, P};
  if ((st = sscor_trainer_create(&cfg, &tp, &t))) goto done;
  if (p->resume) {
    if (!p->checkpoint) {
      st = sscor_fail(SSCOR_E_INVALID, "resume: no checkpoint file given");
      goto done;
    }
    if ((st = sscor_checkpoint_load(t, p->checkpoint))) goto done;
  }
  refine_cb rc = {cb, user, p->budget_s, t, m, p->checkpoint, p->checkpoint_interval_s, 0, SSCOR_OK};
  st = sscor_trainer_run(t, refine_progress, &rc);
  if (!st) st = rc.st;
  if (st) goto done;
  sscor_net *gc = sscor_trainer_corrector(t), *copy;
  if ((st = sscor_net_create(&gc->cfg, &copy))) goto done;
  memcpy(copy->params, gc->params, sizeof(float) * gc->n_params);
  sscor_net_destroy(m->corrector);
  m->corrector = copy;
  snprintf(m->preset, sizeof m->preset, "%s", preset);
  if (finished) *finished = sscor_trainer_finished(t);
done:
  sscor_trainer_destroy(t);
  free(px);
  free(py);
  return st;
}

sscor_status sscor_refine_train(const char *path, const sscor_geometry *g, const sscor_flatfield *ff,
                                const sscor_image *coarse, int scale, double fg,
                                const sscor_refine_params *p, sscor_refine_progress_fn cb, void *user,
                                sscor_model *m, int *n_pairs) {
  sscor_train_config cfg;
  sscor_status st;
  *n_pairs = 0;
  sscor_slide *s = NULL;
  sscor_pair *pairs = NULL;
  sscor_image *patches = NULL;
  int n = 0, C = m->channels;
  /* the preset's patch side decides where pairs are cut */
  if ((st = sscor_train_preset(p->preset ? p->preset : "cpu", C, &cfg))) return st;
  int P = cfg.patch;
  sscor_sample_params sp;
  sscor_sample_params_default(&sp);
  sp.patch = P;
  sp.seed = p->seed;
  sp.max_pairs = p->max_pairs > 0 ? p->max_pairs : 2000;
  sp.fg_threshold = fg;
  if ((st = sscor_sample_pairs(g, coarse, scale, &sp, &pairs, &n))) return st;
  if (n < 8) {
    free(pairs);
    return sscor_fail(SSCOR_E_INVALID, "%s: too few training pairs (%d; need 8): too little tissue along the seams",
                      path, n);
  }
  if ((st = sscor_slide_open(path, &s))) goto done;
  const sscor_slide_info *info = sscor_slide_get_info(s);
  if ((info->channels == 4 ? 3 : info->channels) != C) {
    st = sscor_fail(SSCOR_E_INVALID, "%s: %d channels, the model has %d", path, info->channels, C);
    goto done;
  }
  /* anomalies in patches[0..n), normals in patches[n..2n) */
  patches = calloc((size_t)2 * n, sizeof *patches);
  if (!patches) {
    st = sscor_fail(SSCOR_E_NOMEM, "out of memory for %d pairs", n);
    goto done;
  }
  /* cut both patches of every pair at full resolution */
  sscor_image raw = {0};
  if ((st = sscor_image_alloc(&raw, P, P, info->channels, info->type))) goto done;
  for (int i = 0; i < 2 * n && !st; i++) {
    int x = i % 2 ? pairs[i / 2].nx : pairs[i / 2].ax, y = i % 2 ? pairs[i / 2].ny : pairs[i / 2].ay;
    if ((st = sscor_slide_read_region(s, 0, x, y, P, P, raw.data, raw.stride))) break;
    sscor_flatfield *one = (sscor_flatfield *)ff;
    st = sscor_training_patch(&raw, C, &one, p->flatfield_first && ff ? 1 : 0, x, y, &patches[(i % 2) * n + i / 2]);
  }
  sscor_image_free(&raw);
  if (st) goto done;
  if ((st = sscor_train_patches(patches, patches + n, n, p, cb, user, m, NULL))) goto done;
  *n_pairs = n;
done:
  for (int i = 0; patches && i < 2 * n; i++) sscor_image_free(&patches[i]);
  free(patches);
  free(pairs);
  if (s) sscor_slide_close(s);
  return st;
}
