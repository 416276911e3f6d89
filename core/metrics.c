#include "metrics.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ helpers */

static sscor_status check_channel(const sscor_image *img, int channel) {
  if (!img || !img->data) return sscor_fail(SSCOR_E_INVALID, "metrics: no image");
  if (channel != SSCOR_METRIC_MEAN_CHANNELS && (channel < 0 || channel >= img->channels))
    return sscor_fail(SSCOR_E_INVALID, "metrics: channel %d out of range (image has %d)", channel,
                      img->channels);
  return SSCOR_OK;
}

static sscor_status check_same(const sscor_image *a, const sscor_image *b, const char *what) {
  if (!a || !b || !a->data || !b->data)
    return sscor_fail(SSCOR_E_INVALID, "%s: missing image", what);
  if (a->width != b->width || a->height != b->height || a->channels != b->channels)
    return sscor_fail(SSCOR_E_INVALID, "%s: images differ in size: %dx%dx%d vs %dx%dx%d", what,
                      a->width, a->height, a->channels, b->width, b->height, b->channels);
  return SSCOR_OK;
}

static sscor_status check_mask(const sscor_image *img, const sscor_image *mask) {
  if (!mask || !mask->data || mask->type != SSCOR_U8 || mask->channels != 1)
    return sscor_fail(SSCOR_E_INVALID, "metrics: mask must be a one-channel uint8 image");
  if (mask->width != img->width || mask->height != img->height)
    return sscor_fail(SSCOR_E_INVALID, "metrics: mask is %dx%d, image %dx%d", mask->width,
                      mask->height, img->width, img->height);
  return SSCOR_OK;
}

static inline double px(const sscor_image *img, int x, int y, int channel) {
  if (channel >= 0) return sscor_image_get(img, x, y, channel);
  double s = 0;
  for (int c = 0; c < img->channels; c++) s += sscor_image_get(img, x, y, c);
  return s / img->channels;
}

static inline int mask_at(const sscor_image *m, int x, int y) {
  return ((const uint8_t *)sscor_image_row(m, y))[x] != 0;
}

/* Double plane of one channel (or the channel mean). */
static sscor_status plane_d(const sscor_image *img, int channel, double **out) {
  sscor_status st = check_channel(img, channel);
  if (st) return st;
  double *p = malloc(sizeof(double) * (size_t)img->width * img->height);
  if (!p) return sscor_fail(SSCOR_E_NOMEM, "metrics: cannot allocate a %dx%d plane", img->width,
                            img->height);
  for (int y = 0; y < img->height; y++)
    for (int x = 0; x < img->width; x++) p[(size_t)y * img->width + x] = px(img, x, y, channel);
  *out = p;
  return SSCOR_OK;
}

sscor_status sscor_metric_plane(const sscor_image *img, int channel, float **plane) {
  sscor_status st = check_channel(img, channel);
  if (st) return st;
  float *p = malloc(sizeof(float) * (size_t)img->width * img->height);
  if (!p) return sscor_fail(SSCOR_E_NOMEM, "metrics: cannot allocate a %dx%d plane", img->width,
                            img->height);
  for (int y = 0; y < img->height; y++)
    for (int x = 0; x < img->width; x++)
      p[(size_t)y * img->width + x] = (float)px(img, x, y, channel);
  *plane = p;
  return SSCOR_OK;
}

/* scipy.ndimage 'reflect' (half-sample symmetric): d c b a | a b c d | d c b a. */
static inline int reflect_index(int i, int n) {
  if (n == 1) return 0;
  int period = 2 * n;
  i %= period;
  if (i < 0) i += period;
  return i < n ? i : period - 1 - i;
}

/* Correlates n samples (stride apart) with kernel k[-r..r] (k points at the
 * centre), reflect boundary; tmp holds n + 2r doubles. */
static void corr1d(double *data, size_t stride, int n, const double *k, int r, double *tmp) {
  for (int i = -r; i < n + r; i++) tmp[i + r] = data[(size_t)reflect_index(i, n) * stride];
  for (int i = 0; i < n; i++) {
    double s = 0;
    const double *t = tmp + i + r;
    for (int j = -r; j <= r; j++) s += k[j] * t[j];
    data[(size_t)i * stride] = s;
  }
}

/* Separable filter over rows then columns with the same 1-D kernel. */
static sscor_status sep_filter(double *plane, int w, int h, const double *k, int r) {
  int n = w > h ? w : h;
  double *tmp = malloc(sizeof(double) * ((size_t)n + 2 * (size_t)r));
  if (!tmp) return sscor_fail(SSCOR_E_NOMEM, "metrics: cannot allocate filter buffer");
  for (int y = 0; y < h; y++) corr1d(plane + (size_t)y * w, 1, w, k, r, tmp);
  for (int x = 0; x < w; x++) corr1d(plane + x, (size_t)w, h, k, r, tmp);
  free(tmp);
  return SSCOR_OK;
}

static sscor_status gauss_d(double *plane, int w, int h, double sigma, double truncate) {
  if (!(sigma > 0)) return SSCOR_OK;
  int r = (int)(truncate * sigma + 0.5);
  if (r > 100000) return sscor_fail(SSCOR_E_INVALID, "gaussian sigma %g is absurd", sigma);
  double *k = malloc(sizeof(double) * (2 * (size_t)r + 1));
  if (!k) return sscor_fail(SSCOR_E_NOMEM, "metrics: cannot allocate kernel");
  double s = 0;
  for (int j = -r; j <= r; j++) s += k[j + r] = exp(-0.5 * j * j / (sigma * sigma));
  for (int j = 0; j <= 2 * r; j++) k[j] /= s;
  sscor_status st = sep_filter(plane, w, h, k + r, r);
  free(k);
  return st;
}

/* scipy.ndimage.uniform_filter(size, mode='reflect'): window [i - size/2, i + size - size/2 - 1]. */
static sscor_status box_d(double *plane, int w, int h, int size) {
  int lo = size / 2, hi = size - lo - 1, r = lo > hi ? lo : hi;
  double *k = calloc(2 * (size_t)r + 1, sizeof(double));
  if (!k) return sscor_fail(SSCOR_E_NOMEM, "metrics: cannot allocate kernel");
  for (int j = -lo; j <= hi; j++) k[j + r] = 1.0 / size;
  sscor_status st = sep_filter(plane, w, h, k + r, r);
  free(k);
  return st;
}

sscor_status sscor_gaussian_blur(float *plane, int w, int h, double sigma, double truncate) {
  if (!(sigma > 0)) return SSCOR_OK;
  size_t n = (size_t)w * h;
  double *d = malloc(sizeof(double) * n);
  if (!d) return sscor_fail(SSCOR_E_NOMEM, "gaussian blur: cannot allocate %dx%d", w, h);
  for (size_t i = 0; i < n; i++) d[i] = plane[i];
  sscor_status st = gauss_d(d, w, h, sigma, truncate);
  if (!st)
    for (size_t i = 0; i < n; i++) plane[i] = (float)d[i];
  free(d);
  return st;
}

/* ------------------------------------------------------------ regions */

static sscor_status check_region(const sscor_image *img, sscor_rect r) {
  if (r.w <= 0 || r.h <= 0 || r.x < 0 || r.y < 0 || r.x + r.w > img->width ||
      r.y + r.h > img->height)
    return sscor_fail(SSCOR_E_INVALID, "region %dx%d+%d+%d is not inside the %dx%d image", r.w,
                      r.h, r.x, r.y, img->width, img->height);
  return SSCOR_OK;
}

sscor_status sscor_metric_icv(const sscor_image *img, int channel, sscor_rect region, double *icv,
                              double *mean, double *std) {
  sscor_status st = check_channel(img, channel);
  if (st || (st = check_region(img, region))) return st;
  /* Two passes: one-pass sums lose precision on 16-bit data. */
  double s = 0;
  for (int y = region.y; y < region.y + region.h; y++)
    for (int x = region.x; x < region.x + region.w; x++) s += px(img, x, y, channel);
  double n = (double)region.w * region.h, m = s / n, v = 0;
  for (int y = region.y; y < region.y + region.h; y++)
    for (int x = region.x; x < region.x + region.w; x++) {
      double d = px(img, x, y, channel) - m;
      v += d * d;
    }
  double sd = sqrt(v / n);
  if (mean) *mean = m;
  if (std) *std = sd;
  if (icv) *icv = sd > 0 ? m / sd : INFINITY;
  return SSCOR_OK;
}

/* Bin index of each pixel for lines at angle_deg across a w x h area; returns
 * the number of bins. bins may be NULL to only count. */
static int line_bins(int w, int h, double angle_deg, int *bins) {
  double a = angle_deg * M_PI / 180.0, sa = sin(a), ca = cos(a);
  double pmin = fmin(fmin(0.0, (w - 1) * sa), fmin((h - 1) * ca, (w - 1) * sa + (h - 1) * ca));
  int nb = 0;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      int b = (int)floor(x * sa + y * ca - pmin + 0.5);
      if (bins) bins[(size_t)y * w + x] = b;
      if (b + 1 > nb) nb = b + 1;
    }
  return nb;
}

sscor_status sscor_metric_profile(const sscor_image *img, int channel, sscor_rect region,
                                  double angle_deg, double **profile, int *n) {
  sscor_status st = check_channel(img, channel);
  if (st || (st = check_region(img, region))) return st;
  if (!isfinite(angle_deg)) return sscor_fail(SSCOR_E_INVALID, "profile: angle is not finite");
  int w = region.w, h = region.h;
  int *bins = malloc(sizeof(int) * (size_t)w * h);
  if (!bins) return sscor_fail(SSCOR_E_NOMEM, "profile: cannot allocate");
  int nb = line_bins(w, h, angle_deg, bins);
  double *sum = calloc((size_t)nb, sizeof(double));
  long *cnt = calloc((size_t)nb, sizeof(long));
  if (!sum || !cnt) {
    free(bins), free(sum), free(cnt);
    return sscor_fail(SSCOR_E_NOMEM, "profile: cannot allocate");
  }
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      int b = bins[(size_t)y * w + x];
      sum[b] += px(img, region.x + x, region.y + y, channel);
      cnt[b]++;
    }
  for (int b = 0; b < nb; b++) sum[b] = cnt[b] ? sum[b] / cnt[b] : NAN;
  free(bins);
  free(cnt);
  *profile = sum;
  *n = nb;
  return SSCOR_OK;
}

/* --------------------------------------------------------------- masks */

sscor_status sscor_metric_otsu(const sscor_image *img, int channel, double *threshold) {
  double *p;
  sscor_status st = plane_d(img, channel, &p);
  if (st) return st;
  size_t n = (size_t)img->width * img->height;
  double lo = INFINITY, hi = -INFINITY;
  for (size_t i = 0; i < n; i++)
    if (isfinite(p[i])) lo = fmin(lo, p[i]), hi = fmax(hi, p[i]);
  if (!(hi > lo)) {
    free(p);
    *threshold = isfinite(lo) ? lo : 0.0;
    return SSCOR_OK;
  }
  double hist[256] = {0}, width = (hi - lo) / 256.0;
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(p[i])) continue;
    int b = (int)((p[i] - lo) / width);
    hist[b > 255 ? 255 : b] += 1;
  }
  free(p);
  /* Maximise between-class variance over the split after bin k. */
  double total = 0, sum_all = 0;
  for (int b = 0; b < 256; b++) total += hist[b], sum_all += b * hist[b];
  double w0 = 0, s0 = 0, best = -1;
  int kbest = 0;
  for (int k = 0; k < 255; k++) {
    w0 += hist[k], s0 += k * hist[k];
    double w1 = total - w0;
    if (w0 == 0 || w1 == 0) continue;
    double m0 = s0 / w0, m1 = (sum_all - s0) / w1, v = w0 * w1 * (m0 - m1) * (m0 - m1);
    if (v > best) best = v, kbest = k;
  }
  *threshold = lo + (kbest + 1) * width;
  return SSCOR_OK;
}

sscor_status sscor_metric_tissue_mask(const sscor_image *img, int channel, double threshold,
                                      sscor_image *mask) {
  sscor_status st = check_channel(img, channel);
  if (st || (st = sscor_image_alloc(mask, img->width, img->height, 1, SSCOR_U8))) return st;
  for (int y = 0; y < img->height; y++) {
    uint8_t *m = sscor_image_row(mask, y);
    for (int x = 0; x < img->width; x++) m[x] = px(img, x, y, channel) > threshold;
  }
  return SSCOR_OK;
}

static void clear_cols(sscor_image *mask, int c0, int c1, int y0, int y1) {
  if (c0 < 0) c0 = 0;
  if (c1 > mask->width) c1 = mask->width;
  if (y0 < 0) y0 = 0;
  if (y1 > mask->height) y1 = mask->height;
  for (int y = y0; y < y1; y++) {
    uint8_t *m = sscor_image_row(mask, y);
    for (int x = c0; x < c1; x++) m[x] = 0;
  }
}

sscor_status sscor_metric_mask_exclude_edges(sscor_image *mask, const sscor_rect *tiles,
                                             int ntiles, int margin) {
  if (!mask || !mask->data || mask->type != SSCOR_U8 || mask->channels != 1)
    return sscor_fail(SSCOR_E_INVALID, "exclude edges: mask must be a one-channel uint8 image");
  if (ntiles < 0 || (ntiles && !tiles) || margin < 0)
    return sscor_fail(SSCOR_E_INVALID, "exclude edges: bad tile list or margin");
  for (int i = 0; i < ntiles; i++) {
    sscor_rect t = tiles[i];
    /* Vertical edges span the tile's rows (widened by margin), horizontal ones its columns. */
    int ys = t.y - margin, ye = t.y + t.h + margin, xs = t.x - margin, xe = t.x + t.w + margin;
    clear_cols(mask, t.x - margin, t.x + margin, ys, ye);
    clear_cols(mask, t.x + t.w - margin, t.x + t.w + margin, ys, ye);
    clear_cols(mask, xs, xe, t.y - margin, t.y + margin);
    clear_cols(mask, xs, xe, t.y + t.h - margin, t.y + t.h + margin);
  }
  return SSCOR_OK;
}

sscor_status sscor_metric_read_tiles(const char *path, int tile_w, int tile_h, sscor_rect **tiles,
                                     int *ntiles) {
  if (tile_w <= 0 || tile_h <= 0)
    return sscor_fail(SSCOR_E_INVALID, "%s: tile size %dx%d must be positive", path, tile_w,
                      tile_h);
  FILE *f = fopen(path, "r");
  if (!f) return sscor_fail(SSCOR_E_IO, "%s: cannot open: %s", path, strerror(errno));
  sscor_rect *v = NULL;
  int n = 0, cap = 0, lineno = 0;
  char line[4096];
  sscor_status st = SSCOR_OK;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    char *s = line;
    while (isspace((unsigned char)*s)) s++;
    if (!*s || *s == '#') continue;
    char name[1024];
    long x, y, w = tile_w, h = tile_h;
    char extra;
    int got = sscanf(s, "%1023s %ld %ld %ld %ld %c", name, &x, &y, &w, &h, &extra);
    if ((got != 3 && got != 5) || x < -SSCOR_IMAGE_MAX_SIDE || x > SSCOR_IMAGE_MAX_SIDE ||
        y < -SSCOR_IMAGE_MAX_SIDE || y > SSCOR_IMAGE_MAX_SIDE || w < 1 || w > SSCOR_IMAGE_MAX_SIDE || h < 1 ||
        h > SSCOR_IMAGE_MAX_SIDE) {
      st = sscor_fail(SSCOR_E_FORMAT, "%s:%d: expected 'name x y [w h]' with integer x, y (and sizes >= 1)", path,
                      lineno);
      break;
    }
    if (n == cap) {
      cap = cap ? 2 * cap : 64;
      sscor_rect *nv = realloc(v, sizeof *v * (size_t)cap);
      if (!nv) {
        st = sscor_fail(SSCOR_E_NOMEM, "%s: too many tiles", path);
        break;
      }
      v = nv;
    }
    v[n++] = (sscor_rect){(int)x, (int)y, (int)w, (int)h};
  }
  if (!st && ferror(f)) st = sscor_fail(SSCOR_E_IO, "%s: read error", path);
  if (!st && n == 0) st = sscor_fail(SSCOR_E_FORMAT, "%s: no tile positions", path);
  fclose(f);
  if (st) {
    free(v);
    return st;
  }
  *tiles = v;
  *ntiles = n;
  return SSCOR_OK;
}

/* ------------------------------------------------------------- seams */

/* Accumulates |log(a/b)| along one line: vertical (col edge e, rows y0..y1-1)
 * or horizontal (row edge e, cols x0..x1-1). */
static void line_step(const sscor_image *img, int channel, int vertical, int e, int s0, int s1,
                      int band, double thr, double *sum, long *cnt) {
  int W = img->width, H = img->height, across = vertical ? W : H, along = vertical ? H : W;
  const int g = SSCOR_METRIC_SEAM_GAP;
  if (e - g - band < 0 || e + g + band > across) return;
  if (s0 < 0) s0 = 0;
  if (s1 > along) s1 = along;
  for (int s = s0; s < s1; s++) {
    double a = 0, b = 0;
    for (int k = 0; k < band; k++) {
      a += vertical ? px(img, e - g - band + k, s, channel) : px(img, s, e - g - band + k, channel);
      b += vertical ? px(img, e + g + k, s, channel) : px(img, s, e + g + k, channel);
    }
    a /= band, b /= band;
    if (a > thr && b > thr) {
      *sum += fabs(log((a + SSCOR_METRIC_LOG_EPS) / (b + SSCOR_METRIC_LOG_EPS)));
      (*cnt)++;
    }
  }
}

sscor_status sscor_metric_seam_step(const sscor_image *img, int channel, const sscor_rect *tiles,
                                    int ntiles, double threshold, int band,
                                    sscor_seam_stats *out) {
  sscor_status st = check_channel(img, channel);
  if (st) return st;
  if (ntiles <= 0 || !tiles) return sscor_fail(SSCOR_E_INVALID, "seam step: no tiles given");
  if (band <= 0) band = 2;
  double ss = 0, ns = 0;
  long sc = 0, nc = 0;
  for (int i = 0; i < ntiles; i++) {
    sscor_rect t = tiles[i];
    if (t.w <= 0 || t.h <= 0)
      return sscor_fail(SSCOR_E_INVALID, "seam step: tile %d has size %dx%d", i, t.w, t.h);
    line_step(img, channel, 1, t.x, t.y, t.y + t.h, band, threshold, &ss, &sc);
    line_step(img, channel, 1, t.x + t.w, t.y, t.y + t.h, band, threshold, &ss, &sc);
    line_step(img, channel, 0, t.y, t.x, t.x + t.w, band, threshold, &ss, &sc);
    line_step(img, channel, 0, t.y + t.h, t.x, t.x + t.w, band, threshold, &ss, &sc);
    line_step(img, channel, 1, t.x + t.w / 2, t.y, t.y + t.h, band, threshold, &ns, &nc);
    line_step(img, channel, 0, t.y + t.h / 2, t.x, t.x + t.w, band, threshold, &ns, &nc);
  }
  out->seam_samples = sc;
  out->nonseam_samples = nc;
  out->seam_step = sc ? ss / sc : NAN;
  out->nonseam_step = nc ? ns / nc : NAN;
  out->ratio = out->seam_step / out->nonseam_step;
  return SSCOR_OK;
}

/* ------------------------------------------------- fidelity and contrast */

/* Population std of plane over mask (two passes). */
static double masked_std(const double *p, const sscor_image *mask, long *count) {
  int w = mask->width, h = mask->height;
  double s = 0;
  long n = 0;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      if (mask_at(mask, x, y)) s += p[(size_t)y * w + x], n++;
  if (count) *count = n;
  if (!n) return NAN;
  double m = s / n, v = 0;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      if (mask_at(mask, x, y)) {
        double d = p[(size_t)y * w + x] - m;
        v += d * d;
      }
  return sqrt(v / n);
}

sscor_status sscor_metric_fidelity(const sscor_image *out, const sscor_image *in, int channel,
                                   const sscor_image *mask, double sigma, double *fidelity) {
  sscor_status st = check_same(out, in, "fidelity");
  if (st || (st = check_channel(in, channel)) || (st = check_mask(in, mask))) return st;
  if (!(sigma > 0)) return sscor_fail(SSCOR_E_INVALID, "fidelity: sigma %g must be > 0", sigma);
  int w = in->width, h = in->height;
  size_t n = (size_t)w * h;
  double *l = malloc(sizeof(double) * n), *g = malloc(sizeof(double) * n);
  if (!l || !g) {
    free(l), free(g);
    return sscor_fail(SSCOR_E_NOMEM, "fidelity: cannot allocate %dx%d planes", w, h);
  }
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      l[(size_t)y * w + x] = log((px(out, x, y, channel) + SSCOR_METRIC_LOG_EPS) /
                                 (px(in, x, y, channel) + SSCOR_METRIC_LOG_EPS));
  memcpy(g, l, sizeof(double) * n);
  st = gauss_d(g, w, h, sigma, 4.0);
  if (!st) {
    for (size_t i = 0; i < n; i++) l[i] -= g[i];
    *fidelity = masked_std(l, mask, NULL);
  }
  free(l), free(g);
  return st;
}

sscor_status sscor_metric_texture(const sscor_image *img, int channel, const sscor_image *mask,
                                  int size, double *contrast) {
  sscor_status st = check_channel(img, channel);
  if (st || (st = check_mask(img, mask))) return st;
  if (size < 1 || size > 4096)
    return sscor_fail(SSCOR_E_INVALID, "texture: high-pass size %d out of range", size);
  double *p, *b;
  if ((st = plane_d(img, channel, &p))) return st;
  size_t n = (size_t)img->width * img->height;
  if (!(b = malloc(sizeof(double) * n))) {
    free(p);
    return sscor_fail(SSCOR_E_NOMEM, "texture: cannot allocate");
  }
  memcpy(b, p, sizeof(double) * n);
  st = box_d(b, img->width, img->height, size);
  if (!st) {
    for (size_t i = 0; i < n; i++) p[i] -= b[i];
    *contrast = masked_std(p, mask, NULL);
  }
  free(p), free(b);
  return st;
}

/* k-th smallest (0-based) of v[0..n-1], reordering v so v[0..k-1] <= v[k]
 * (Hoare quickselect). */
static double select_kth(double *v, ptrdiff_t n, ptrdiff_t k) {
  ptrdiff_t lo = 0, hi = n - 1;
  while (hi > lo) {
    double pivot = v[lo + (hi - lo) / 2];
    ptrdiff_t i = lo, j = hi;
    while (i <= j) {
      while (v[i] < pivot) i++;
      while (v[j] > pivot) j--;
      if (i <= j) {
        double t = v[i];
        v[i++] = v[j];
        v[j--] = t;
      }
    }
    if (k <= j)
      hi = j;
    else if (k >= i)
      lo = i;
    else
      return v[k];
  }
  return v[k];
}

static double median(double *v, size_t n) {
  if (!n) return NAN;
  double hi = select_kth(v, (ptrdiff_t)n, (ptrdiff_t)(n / 2));
  if (n % 2) return hi;
  double lo = v[0]; /* largest of the lower half */
  for (size_t i = 1; i < n / 2; i++) lo = fmax(lo, v[i]);
  return 0.5 * (lo + hi);
}

sscor_status sscor_metric_median_ratio(const sscor_image *img, int channel,
                                       const sscor_image *mask, double *ratio) {
  sscor_status st = check_channel(img, channel);
  if (st || (st = check_mask(img, mask))) return st;
  size_t n = (size_t)img->width * img->height, ni = 0, no = n;
  double *v = malloc(sizeof(double) * n);
  if (!v) return sscor_fail(SSCOR_E_NOMEM, "median ratio: cannot allocate");
  /* Tissue samples fill v from the front, background from the back. */
  for (int y = 0; y < img->height; y++)
    for (int x = 0; x < img->width; x++) {
      double val = px(img, x, y, channel);
      if (mask_at(mask, x, y))
        v[ni++] = val;
      else
        v[--no] = val;
    }
  if (ni == 0 || no == n) {
    free(v);
    return sscor_fail(SSCOR_E_INVALID, "median ratio: the mask selects %s pixel",
                      ni == 0 ? "no" : "every");
  }
  double mt = median(v, ni), mb = median(v + no, n - no);
  free(v);
  *ratio = mt / mb;
  return SSCOR_OK;
}

sscor_status sscor_metric_correction_report(const sscor_image *in, const sscor_image *out,
                                            int channel, const sscor_rect *tiles, int ntiles,
                                            double threshold, double sigma,
                                            sscor_correction_report *r) {
  sscor_status st = check_channel(in, channel);
  if (st || (out && (st = check_same(out, in, "correction report")))) return st;
  if (ntiles < 0 || (ntiles && !tiles))
    return sscor_fail(SSCOR_E_INVALID, "correction report: bad tile list");
  if (!(sigma > 0)) sigma = 6.0;
  const sscor_seam_stats none = {NAN, NAN, NAN, 0, 0};
  *r = (sscor_correction_report){NAN, {none, none}, {NAN, NAN}, {NAN, NAN}, NAN, 0};
  r->edge_margin = (int)ceil(3 * sigma) > 8 ? (int)ceil(3 * sigma) : 8;
  if (isnan(threshold) && (st = sscor_metric_otsu(in, channel, &threshold))) return st;
  r->threshold = threshold;
  sscor_image tissue = {0}, away = {0};
  if ((st = sscor_metric_tissue_mask(in, channel, threshold, &tissue)) ||
      (st = sscor_metric_tissue_mask(in, channel, threshold, &away)) ||
      (ntiles && (st = sscor_metric_mask_exclude_edges(&away, tiles, ntiles, r->edge_margin))))
    goto done;
  const sscor_image *imgs[2] = {in, out};
  for (int k = 0; k < 2 && !st; k++) {
    if (!imgs[k]) continue;
    if (ntiles && (st = sscor_metric_seam_step(imgs[k], channel, tiles, ntiles, threshold, 2,
                                               &r->seams[k])))
      break;
    if ((st = sscor_metric_texture(imgs[k], channel, &away, 15, &r->texture[k]))) break;
    if (sscor_metric_median_ratio(imgs[k], channel, &tissue, &r->tissue_bg[k])) {
      sscor_clear_error(); /* all tissue or all background: no ratio */
      r->tissue_bg[k] = NAN;
    }
  }
  if (!st && out) st = sscor_metric_fidelity(out, in, channel, &away, sigma, &r->fidelity);
done:
  sscor_image_free(&tissue);
  sscor_image_free(&away);
  return st;
}

/* ----------------------------------------------- against a ground truth */

/* RMS of the artifact component of e (w*h, modified in place). */
static sscor_status component_rms(double *e, int w, int h, sscor_residual_kind kind, double param,
                                  double *rms) {
  size_t n = (size_t)w * h;
  double mean = 0;
  for (size_t i = 0; i < n; i++) mean += e[i];
  mean /= (double)n;
  if (kind == SSCOR_RESIDUAL_STRIPE) {
    int *bins = malloc(sizeof(int) * n);
    if (!bins) return sscor_fail(SSCOR_E_NOMEM, "residual: cannot allocate");
    int nb = line_bins(w, h, param, bins);
    double *sum = calloc((size_t)nb, sizeof(double));
    long *cnt = calloc((size_t)nb, sizeof(long));
    if (!sum || !cnt) {
      free(bins), free(sum), free(cnt);
      return sscor_fail(SSCOR_E_NOMEM, "residual: cannot allocate");
    }
    for (size_t i = 0; i < n; i++) sum[bins[i]] += e[i], cnt[bins[i]]++;
    double acc = 0;
    for (size_t i = 0; i < n; i++) {
      double c = sum[bins[i]] / cnt[bins[i]] - mean;
      acc += c * c;
    }
    *rms = sqrt(acc / (double)n);
    free(bins), free(sum), free(cnt);
    return SSCOR_OK;
  }
  sscor_status st = gauss_d(e, w, h, param, 4.0);
  if (st) return st;
  double acc = 0;
  for (size_t i = 0; i < n; i++) acc += (e[i] - mean) * (e[i] - mean);
  *rms = sqrt(acc / (double)n);
  return SSCOR_OK;
}

sscor_status sscor_metric_residual(const sscor_image *out, const sscor_image *in,
                                   const sscor_image *truth, int channel,
                                   sscor_residual_kind kind, double param, double *percent,
                                   double *rms_out, double *rms_in) {
  sscor_status st = check_same(out, truth, "residual");
  if (st || (st = check_same(in, truth, "residual")) || (st = check_channel(truth, channel)))
    return st;
  if (kind != SSCOR_RESIDUAL_STRIPE && kind != SSCOR_RESIDUAL_SHADING)
    return sscor_fail(SSCOR_E_INVALID, "residual: unknown kind %d", (int)kind);
  if (!isfinite(param) || (kind == SSCOR_RESIDUAL_SHADING && !(param > 0)))
    return sscor_fail(SSCOR_E_INVALID, "residual: bad parameter %g", param);
  int w = truth->width, h = truth->height;
  size_t n = (size_t)w * h;
  double *e = malloc(sizeof(double) * n);
  if (!e) return sscor_fail(SSCOR_E_NOMEM, "residual: cannot allocate");
  double r[2];
  for (int pass = 0; pass < 2 && !st; pass++) {
    const sscor_image *a = pass ? in : out;
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) e[(size_t)y * w + x] = px(a, x, y, channel) - px(truth, x, y, channel);
    st = component_rms(e, w, h, kind, param, &r[pass]);
  }
  free(e);
  if (st) return st;
  if (rms_out) *rms_out = r[0];
  if (rms_in) *rms_in = r[1];
  if (percent) *percent = r[1] > 0 ? 100.0 * r[0] / r[1] : NAN;
  return SSCOR_OK;
}

sscor_status sscor_metric_mae(const sscor_image *a, const sscor_image *b, double *mae) {
  sscor_status st = check_same(a, b, "MAE");
  if (st) return st;
  double s = 0;
  for (int y = 0; y < a->height; y++)
    for (int x = 0; x < a->width; x++)
      for (int c = 0; c < a->channels; c++)
        s += fabs((double)sscor_image_get(a, x, y, c) - sscor_image_get(b, x, y, c));
  *mae = s / ((double)a->width * a->height * a->channels);
  return SSCOR_OK;
}

sscor_status sscor_metric_psnr(const sscor_image *a, const sscor_image *b, double data_range,
                               double *psnr) {
  sscor_status st = check_same(a, b, "PSNR");
  if (st) return st;
  if (!(data_range > 0)) return sscor_fail(SSCOR_E_INVALID, "PSNR: data range %g", data_range);
  double s = 0;
  for (int y = 0; y < a->height; y++)
    for (int x = 0; x < a->width; x++)
      for (int c = 0; c < a->channels; c++) {
        double d = (double)sscor_image_get(a, x, y, c) - sscor_image_get(b, x, y, c);
        s += d * d;
      }
  double mse = s / ((double)a->width * a->height * a->channels);
  *psnr = mse > 0 ? 10.0 * log10(data_range * data_range / mse) : INFINITY;
  return SSCOR_OK;
}

sscor_status sscor_metric_ssim(const sscor_image *a, const sscor_image *b, double data_range,
                               double *ssim) {
  sscor_status st = check_same(a, b, "SSIM");
  if (st) return st;
  if (!(data_range > 0)) return sscor_fail(SSCOR_E_INVALID, "SSIM: data range %g", data_range);
  const double sigma = 1.5, truncate = 3.5, C1 = pow(0.01 * data_range, 2),
               C2 = pow(0.03 * data_range, 2);
  const int pad = (int)(truncate * sigma + 0.5), w = a->width, h = a->height;
  if (w < 2 * pad + 1 || h < 2 * pad + 1)
    return sscor_fail(SSCOR_E_INVALID, "SSIM: image %dx%d is smaller than the %d-px window", w, h,
                      2 * pad + 1);
  size_t n = (size_t)w * h;
  double *buf = malloc(sizeof(double) * n * 5);
  if (!buf) return sscor_fail(SSCOR_E_NOMEM, "SSIM: cannot allocate %dx%d planes", w, h);
  double *ux = buf, *uy = buf + n, *uxx = buf + 2 * n, *uyy = buf + 3 * n, *uxy = buf + 4 * n;
  double total = 0;
  for (int c = 0; c < a->channels && !st; c++) {
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) {
        size_t i = (size_t)y * w + x;
        double va = sscor_image_get(a, x, y, c), vb = sscor_image_get(b, x, y, c);
        ux[i] = va, uy[i] = vb, uxx[i] = va * va, uyy[i] = vb * vb, uxy[i] = va * vb;
      }
    for (int k = 0; k < 5 && !st; k++) st = gauss_d(buf + k * n, w, h, sigma, truncate);
    double s = 0;
    for (int y = pad; y < h - pad; y++)
      for (int x = pad; x < w - pad; x++) {
        size_t i = (size_t)y * w + x;
        double mx = ux[i], my = uy[i];
        double vx = uxx[i] - mx * mx, vy = uyy[i] - my * my, vxy = uxy[i] - mx * my;
        s += ((2 * mx * my + C1) * (2 * vxy + C2)) / ((mx * mx + my * my + C1) * (vx + vy + C2));
      }
    total += s / ((double)(w - 2 * pad) * (h - 2 * pad));
  }
  free(buf);
  if (st) return st;
  *ssim = total / a->channels;
  return SSCOR_OK;
}

double sscor_metric_data_range(const sscor_image *truth) {
  if (truth->type != SSCOR_F32) return sscor_sample_max(truth->type);
  double lo = INFINITY, hi = -INFINITY;
  for (int y = 0; y < truth->height; y++)
    for (int x = 0; x < truth->width; x++)
      for (int c = 0; c < truth->channels; c++) {
        double v = sscor_image_get(truth, x, y, c);
        if (isfinite(v)) lo = fmin(lo, v), hi = fmax(hi, v);
      }
  return hi > lo ? hi - lo : 1.0;
}
