/* Seam-aware flat-field (see flatfield.h for the model). */
#include "flatfield.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COVER 8 /* tiles covering one point that we model */

struct sscor_flatfield {
  sscor_geometry g;
  int nk;          /* knots per axis */
  double *ku, *kv; /* knot positions (tile-relative px) */
  double *f;       /* log F at knots, nk*nk */
  double *gain;    /* log gain per tile */
  int has_overlap; /* fit one log factor for pixels seen by 2+ tiles */
  double overlap;  /* (photobleaching of doubly exposed overlaps, blending) */
  double dark;
  /* Bucket index over the frame so S costs O(tiles nearby), not O(all
     tiles), on slides with thousands of tiles. */
  double cu0, cv0, cw, chh;
  int ncu, ncv;
  int *cell_start, *cell_tiles;
};

static sscor_status build_index(sscor_flatfield *ff) {
  const sscor_geometry *g = &ff->g;
  double umin = 1e30, vmin = 1e30, umax = -1e30, vmax = -1e30, wmax = 1, hmax = 1;
  for (int i = 0; i < g->n_tiles; i++) {
    const sscor_tile *t = &g->tiles[i];
    umin = fmin(umin, t->x);
    vmin = fmin(vmin, t->y);
    umax = fmax(umax, t->x + t->w);
    vmax = fmax(vmax, t->y + t->h);
    wmax = fmax(wmax, t->w);
    hmax = fmax(hmax, t->h);
  }
  ff->cu0 = umin;
  ff->cv0 = vmin;
  ff->cw = wmax;
  ff->chh = hmax;
  ff->ncu = (int)ceil((umax - umin) / wmax) + 1;
  ff->ncv = (int)ceil((vmax - vmin) / hmax) + 1;
  size_t nc = (size_t)ff->ncu * ff->ncv;
  ff->cell_start = calloc(nc + 1, sizeof(int));
  int *fill = calloc(nc, sizeof(int));
  if (!ff->cell_start || !fill) {
    free(fill);
    return sscor_fail(SSCOR_E_NOMEM, "flat-field: out of memory for the tile index");
  }
  for (int pass = 0; pass < 2; pass++) {
    for (int i = 0; i < g->n_tiles; i++) {
      const sscor_tile *t = &g->tiles[i];
      int a0 = (int)floor((t->x - umin) / wmax), a1 = (int)floor((t->x + t->w - umin) / wmax);
      int b0 = (int)floor((t->y - vmin) / hmax), b1 = (int)floor((t->y + t->h - vmin) / hmax);
      for (int b = b0; b <= b1 && b < ff->ncv; b++)
        for (int a = a0; a <= a1 && a < ff->ncu; a++) {
          size_t c = (size_t)b * ff->ncu + a;
          if (pass == 0) ff->cell_start[c + 1]++;
          else ff->cell_tiles[ff->cell_start[c] + fill[c]++] = i;
        }
    }
    if (pass == 0) {
      for (size_t c = 0; c < nc; c++) ff->cell_start[c + 1] += ff->cell_start[c];
      ff->cell_tiles = malloc(sizeof(int) * (size_t)(ff->cell_start[nc] + 1));
      if (!ff->cell_tiles) {
        free(fill);
        return sscor_fail(SSCOR_E_NOMEM, "flat-field: out of memory for the tile index");
      }
    }
  }
  free(fill);
  return SSCOR_OK;
}

/* Tiles covering frame point (u,v), in tile order (as the geometry lists them). */
static int tiles_at_frame(const sscor_flatfield *ff, double u, double v, int *idx, int max) {
  int a = (int)floor((u - ff->cu0) / ff->cw), b = (int)floor((v - ff->cv0) / ff->chh);
  if (a < 0 || b < 0 || a >= ff->ncu || b >= ff->ncv) return 0;
  size_t c = (size_t)b * ff->ncu + a;
  int k = 0;
  for (int i = ff->cell_start[c]; i < ff->cell_start[c + 1] && k < max; i++) {
    const sscor_tile *t = &ff->g.tiles[ff->cell_tiles[i]];
    if (u >= t->x && u < t->x + t->w && v >= t->y && v < t->y + t->h) idx[k++] = ff->cell_tiles[i];
  }
  return k;
}

void sscor_flatfield_params_default(sscor_flatfield_params *p) {
  memset(p, 0, sizeof *p);
  p->knots = 13;
  p->tile_gains = 1;
  p->dark = -1;
  p->iterations = 8;
  p->smooth = 1.0;
  p->use_interior = 1;
  p->overlap_factor = 1;
  p->validate = 1;
}

/* Which evidence is held out: a quarter of the units, by a hash (not a
 * regular pattern, which could alias with the tile grid). */
static int held_out(unsigned a, unsigned b) {
  unsigned h = a * 0x9E3779B1u ^ (b + 0x7F4A7C15u) * 0x85EBCA77u;
  h ^= h >> 15;
  h *= 0x2C1B3C6Du;
  h ^= h >> 12;
  return (h & 3u) == 0;
}

#define CHECK_SEGMENT 32 /* px along a seam per held-out unit */
#define CHECK_BLOCK 64   /* px per side of an interior held-out unit */

void sscor_flatfield_free(sscor_flatfield *ff) {
  if (!ff) return;
  sscor_geometry_free(&ff->g);
  free(ff->ku);
  free(ff->kv);
  free(ff->f);
  free(ff->gain);
  free(ff->cell_start);
  free(ff->cell_tiles);
  free(ff);
}

double sscor_flatfield_dark(const sscor_flatfield *ff) { return ff->dark; }

/* Knots dense near the tile edges (where tile shading changes fastest and
 * where the seam steps pin it down), sparse in the middle: distances
 * 0, 4, 12, 28, 60, ... from each edge (doubling), then evenly between. */
static void make_knots(double *k, int n, double len) {
  int half = n / 2;
  double d = 0, step = 4;
  double *side = malloc(sizeof(double) * (size_t)(half + 1));
  int m = 0;
  while (m < half && d < len * 0.5 - step * 0.5) {
    side[m++] = d;
    d += step;
    step *= 2;
  }
  /* remaining knots evenly between the last edge knot and the centre */
  double last = m ? side[m - 1] : 0;
  int rest = half - m;
  for (int i = 1; i <= rest; i++) side[m++] = last + (len * 0.5 - last) * i / (rest + 1.0);
  for (int i = 0; i < half; i++) k[i] = side[i];
  if (n % 2) k[half] = (len - 1) * 0.5;
  for (int i = 0; i < half; i++) k[n - 1 - i] = (len - 1) - side[i];
  free(side);
}

/* Bilinear knot weights at tile coordinate t: index i0 and weight of i0+1. */
static void knot_locate(const double *k, int n, double t, int *i0, double *w1) {
  if (t <= k[0]) {
    *i0 = 0;
    *w1 = 0;
    return;
  }
  if (t >= k[n - 1]) {
    *i0 = n - 2;
    *w1 = 1;
    return;
  }
  int lo = 0, hi = n - 1;
  while (hi - lo > 1) {
    int mid = (lo + hi) / 2;
    if (k[mid] <= t) lo = mid;
    else hi = mid;
  }
  *i0 = lo;
  *w1 = (t - k[lo]) / (k[lo + 1] - k[lo]);
}

/* log S at image point (x,y) and, when grad != NULL, its sparse gradient:
 * up to MAX_COVER*4 knot entries and MAX_COVER gain entries. Returns the
 * number of gradient entries (0 when no tile covers the point: logS = 0). */
typedef struct {
  int idx[MAX_COVER * 5 + 1];
  double val[MAX_COVER * 5 + 1];
  int n;
} sgrad;

static double log_s(const sscor_flatfield *ff, double x, double y, sgrad *grad) {
  const sscor_geometry *g = &ff->g;
  int tiles[MAX_COVER];
  double u, v;
  sscor_geometry_to_frame(g, x, y, &u, &v);
  int nt = tiles_at_frame(ff, u, v, tiles, MAX_COVER);
  if (grad) grad->n = 0;
  if (nt == 0) return 0.0;
  double fk[MAX_COVER], sum = 0;
  int iu[MAX_COVER], iv[MAX_COVER];
  double wu[MAX_COVER], wv[MAX_COVER];
  int nk = ff->nk;
  for (int i = 0; i < nt; i++) {
    const sscor_tile *t = &g->tiles[tiles[i]];
    /* tile sizes may differ (stripes, irregular): knots scale with the tile */
    double tu = (u - t->x) * (g->tile_w > 0 ? (double)g->tile_w / t->w : 1.0);
    double tv = (v - t->y) * (g->tile_h > 0 ? (double)g->tile_h / t->h : 1.0);
    knot_locate(ff->ku, nk, tu, &iu[i], &wu[i]);
    knot_locate(ff->kv, nk, tv, &iv[i], &wv[i]);
    const double *f0 = ff->f + (size_t)iv[i] * nk + iu[i], *f1 = f0 + nk;
    double lf = (1 - wv[i]) * ((1 - wu[i]) * f0[0] + wu[i] * f0[1]) +
                wv[i] * ((1 - wu[i]) * f1[0] + wu[i] * f1[1]);
    if (ff->gain) lf += ff->gain[tiles[i]];
    fk[i] = exp(lf);
    sum += fk[i];
  }
  if (grad) {
    int n = 0;
    for (int i = 0; i < nt; i++) {
      double share = fk[i] / sum;
      int b = iv[i] * nk + iu[i];
      double w[4] = {(1 - wv[i]) * (1 - wu[i]), (1 - wv[i]) * wu[i], wv[i] * (1 - wu[i]),
                     wv[i] * wu[i]};
      int ix[4] = {b, b + 1, b + nk, b + nk + 1};
      for (int k = 0; k < 4; k++) {
        grad->idx[n] = ix[k];
        grad->val[n++] = share * w[k];
      }
      if (ff->gain) {
        grad->idx[n] = nk * nk + tiles[i];
        grad->val[n++] = share;
      }
    }
    if (ff->has_overlap && nt >= 2) {
      grad->idx[n] = nk * nk + (ff->gain ? g->n_tiles : 0);
      grad->val[n++] = 1.0;
    }
    grad->n = n;
  }
  return log(sum / nt) + (ff->has_overlap && nt >= 2 ? ff->overlap : 0.0);
}

double sscor_flatfield_gain(const sscor_flatfield *ff, double x, double y) {
  return exp(log_s(ff, x, y, NULL));
}

double sscor_flatfield_tile_value(const sscor_flatfield *ff, double u, double v) {
  int i0, j0;
  double wu, wv;
  knot_locate(ff->ku, ff->nk, u, &i0, &wu);
  knot_locate(ff->kv, ff->nk, v, &j0, &wv);
  const double *f0 = ff->f + (size_t)j0 * ff->nk + i0, *f1 = f0 + ff->nk;
  return exp((1 - wv) * ((1 - wu) * f0[0] + wu * f0[1]) + wv * ((1 - wu) * f1[0] + wu * f1[1]));
}

/* ---- observations ------------------------------------------------------- */

typedef struct {
  float x1, y1, x2, y2; /* model: logS(p2) - logS(p1) (each averaged over 2 points) */
  float x1b, y1b, x2b, y2b;
  float y;              /* observed log ratio */
  uint8_t seam;         /* 1 = seam band observation */
  uint8_t held;         /* 1 = held out of the fit, for the check */
  int group;            /* seam segment or interior block group (the check's unit) */
} obs;

typedef struct {
  obs *o;
  int n, cap;
} obslist;

static int obs_push(obslist *l, obs o) {
  if (l->n == l->cap) {
    int nc = l->cap ? l->cap * 2 : 4096;
    obs *q = realloc(l->o, (size_t)nc * sizeof *q);
    if (!q) return -1;
    l->o = q;
    l->cap = nc;
  }
  l->o[l->n++] = o;
  return 0;
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Otsu threshold on log intensity of data pixels (as the evaluator does). */
static double otsu_log(const float *v, int n) {
  if (n <= 0) return 0;
  float lo = 1e30f, hi = -1e30f;
  for (int i = 0; i < n; i++) {
    float l = logf(v[i]);
    lo = fminf(lo, l);
    hi = fmaxf(hi, l);
  }
  if (!(hi > lo)) return exp(lo);
  enum { NB = 256 };
  double hist[NB] = {0};
  for (int i = 0; i < n; i++) {
    int b = (int)((logf(v[i]) - lo) / (hi - lo) * (NB - 1));
    hist[b]++;
  }
  double total = n, sum_all = 0;
  for (int b = 0; b < NB; b++) sum_all += b * hist[b];
  double wb = 0, sb = 0, best = -1, sep = 0;
  int bt = 0;
  for (int b = 0; b < NB; b++) {
    wb += hist[b];
    if (wb == 0 || wb == total) continue;
    sb += b * hist[b];
    double mb = sb / wb, mf = (sum_all - sb) / (total - wb);
    double between = wb * (total - wb) * (mb - mf) * (mb - mf);
    if (between > best) {
      best = between;
      bt = b;
      sep = (mf - mb) * (hi - lo) / (NB - 1);
    }
  }
  /* Classes less than 3x apart are texture of one tissue, not tissue and
     background (an image full of tissue): all of it is foreground. */
  if (sep < log(3.0)) return exp(lo);
  return exp(lo + (hi - lo) * (bt + 0.5) / (NB - 1));
}

double sscor_foreground_threshold(const sscor_image *coarse) {
  size_t npx = (size_t)coarse->width * coarse->height;
  float *vals = malloc(npx * sizeof *vals);
  if (!vals) return 0;
  int nv = 0;
  for (int y = 0; y < coarse->height; y++) {
    const float *row = sscor_image_row(coarse, y);
    for (int x = 0; x < coarse->width; x++)
      if (row[x] > 0 && isfinite(row[x])) vals[nv++] = row[x];
  }
  double fg = otsu_log(vals, nv);
  free(vals);
  return fg;
}

/* Reads the band of one seam at full resolution and adds its observations. */
static sscor_status seam_obs(const sscor_geometry *g, const sscor_seam *s, int seam_index,
                             sscor_region_reader rd, void *user, double dark, double fg, obslist *l,
                             float **buf, size_t *cap, int *ngroups) {
  /* Bounding box of the seam band (+-4 px across) in image coordinates. */
  double xs[4], ys[4];
  double a0 = s->from, a1 = s->to;
  double c0 = s->pos - 4, c1 = s->pos + 4;
  for (int i = 0; i < 4; i++) {
    double along = i & 1 ? a1 : a0, across = i & 2 ? c1 : c0;
    if (s->vertical) sscor_geometry_to_image(g, across, along, &xs[i], &ys[i]);
    else sscor_geometry_to_image(g, along, across, &xs[i], &ys[i]);
  }
  int bx0 = (int)floor(fmin(fmin(xs[0], xs[1]), fmin(xs[2], xs[3]))) - 1;
  int by0 = (int)floor(fmin(fmin(ys[0], ys[1]), fmin(ys[2], ys[3]))) - 1;
  int bx1 = (int)ceil(fmax(fmax(xs[0], xs[1]), fmax(xs[2], xs[3]))) + 2;
  int by1 = (int)ceil(fmax(fmax(ys[0], ys[1]), fmax(ys[2], ys[3]))) + 2;
  if (bx0 < 0) bx0 = 0;
  if (by0 < 0) by0 = 0;
  if (bx1 > g->width) bx1 = g->width;
  if (by1 > g->height) by1 = g->height;
  if (bx1 - bx0 < 2 || by1 - by0 < 2) return SSCOR_OK;
  int bw = bx1 - bx0, bh = by1 - by0;
  size_t need = (size_t)bw * bh;
  if (need > *cap) {
    float *q = realloc(*buf, need * sizeof *q);
    if (!q) return sscor_fail(SSCOR_E_NOMEM, "flat-field: out of memory for a seam band");
    *buf = q;
    *cap = need;
  }
  sscor_status st = rd(user, bx0, by0, bw, bh, *buf);
  if (st) return st;
  const float *b = *buf;
  int group0 = *ngroups;
  *ngroups += (int)((a1 - a0) / CHECK_SEGMENT) + 2;
  /* Pixel value at a frame point, nearest neighbour; -1 outside. */
#define AT(uu, vv, out)                                                        \
  do {                                                                         \
    double x_, y_;                                                             \
    sscor_geometry_to_image(g, (uu), (vv), &x_, &y_);                          \
    int xi_ = (int)floor(x_) - bx0, yi_ = (int)floor(y_) - by0;                \
    out = (xi_ < 0 || yi_ < 0 || xi_ >= bw || yi_ >= bh) ? -1.0f               \
                                                         : b[(size_t)yi_ * bw + xi_]; \
  } while (0)
  for (double t = ceil(a0) + 2; t < a1 - 2; t += 2) {
    /* bands: pixels pos-3, pos-2 (before) and pos+1, pos+2 (after): one pixel
       left out each side, as in the seam metric */
    float q[4];
    double offs[4] = {-2.5, -1.5, 1.5, 2.5};
    int ok = 1;
    double pts[4][2];
    for (int k = 0; k < 4; k++) {
      double across = s->pos + offs[k];
      double uu = s->vertical ? across : t + 0.5, vv = s->vertical ? t + 0.5 : across;
      AT(uu, vv, q[k]);
      sscor_geometry_to_image(g, uu, vv, &pts[k][0], &pts[k][1]);
      if (!(q[k] - dark > 0) || q[k] < fg) ok = 0;
    }
    if (!ok) continue;
    obs o;
    o.x1 = (float)pts[0][0];
    o.y1 = (float)pts[0][1];
    o.x1b = (float)pts[1][0];
    o.y1b = (float)pts[1][1];
    o.x2 = (float)pts[2][0];
    o.y2 = (float)pts[2][1];
    o.x2b = (float)pts[3][0];
    o.y2b = (float)pts[3][1];
    o.y = (float)(log(0.5 * (q[2] + q[3]) - dark) - log(0.5 * (q[0] + q[1]) - dark));
    o.seam = 1;
    int segment = (int)((t - a0) / CHECK_SEGMENT);
    o.group = group0 + segment;
    o.held = (uint8_t)held_out((unsigned)seam_index, (unsigned)segment);
    if (obs_push(l, o)) return sscor_fail(SSCOR_E_NOMEM, "flat-field: out of memory");
  }
#undef AT
  return SSCOR_OK;
}

/* Dense Cholesky solve of A x = b (A symmetric positive definite, n x n). */
static int cholesky_solve(double *A, double *b, int n) {
  for (int j = 0; j < n; j++) {
    double d = A[(size_t)j * n + j];
    for (int k = 0; k < j; k++) d -= A[(size_t)j * n + k] * A[(size_t)j * n + k];
    if (d <= 0) return -1;
    d = sqrt(d);
    A[(size_t)j * n + j] = d;
    for (int i = j + 1; i < n; i++) {
      double s = A[(size_t)i * n + j];
      for (int k = 0; k < j; k++) s -= A[(size_t)i * n + k] * A[(size_t)j * n + k];
      A[(size_t)i * n + j] = s / d;
    }
  }
  for (int i = 0; i < n; i++) {
    double s = b[i];
    for (int k = 0; k < i; k++) s -= A[(size_t)i * n + k] * b[k];
    b[i] = s / A[(size_t)i * n + i];
  }
  for (int i = n - 1; i >= 0; i--) {
    double s = b[i];
    for (int k = i + 1; k < n; k++) s -= A[(size_t)k * n + i] * b[k];
    b[i] = s / A[(size_t)i * n + i];
  }
  return 0;
}

/* Model prediction and gradient (into dense scratch `gd`, indices in gi) of
 * one observation. */
static double predict(const sscor_flatfield *ff, const obs *o, double *gd, int *gi, int *ng,
                      int *mark) {
  sgrad s[4];
  double pts[4][2] = {{o->x1, o->y1}, {o->x1b, o->y1b}, {o->x2, o->y2}, {o->x2b, o->y2b}};
  double sign[4] = {-0.5, -0.5, 0.5, 0.5};
  double pred = 0;
  int n = 0;
  for (int k = 0; k < 4; k++) {
    pred += sign[k] * log_s(ff, pts[k][0], pts[k][1], &s[k]);
    for (int e = 0; e < s[k].n; e++) {
      int id = s[k].idx[e];
      if (!mark[id]) {
        mark[id] = 1;
        gd[id] = 0;
        gi[n++] = id;
      }
      gd[id] += sign[k] * s[k].val[e];
    }
  }
  for (int e = 0; e < n; e++) mark[gi[e]] = 0;
  *ng = n;
  return pred;
}

/* Energy of sharp steps along every line of the reduced image (rows and
 * columns), coherent over segments of 16 px: sum over (line, segment) of
 * count * mean^2 of the trend-removed 2-px step, foreground only. Tile edges
 * add to it, texture hardly does; a field that invents steps (misplaced
 * seams, drifting tile gains) raises it anywhere, not only at the seams it
 * was fitted to. ls (NULL: none) is subtracted from the log image. */
static double line_energy(const float *L, const float *ls, const uint8_t *fgm, int w, int h) {
  double e = 0;
  for (int axis = 0; axis < 2; axis++) {
    int n = axis ? h : w, along = axis ? w : h;
    ptrdiff_t s = axis ? w : 1;
    for (int b = 3; b + 3 < n; b++)
      for (int a0 = 0; a0 < along; a0 += 16) {
        double sum = 0, sq = 0;
        int cnt = 0;
        for (int a = a0; a < a0 + 16 && a < along; a++) {
          size_t i = axis ? (size_t)b * w + a : (size_t)a * w + b;
          int ok = 1;
          for (int k = -3; k <= 3 && ok; k++) ok = fgm[(ptrdiff_t)i + k * s];
          if (!ok) continue;
          float q[7];
          for (int k = -3; k <= 3; k++)
            q[k + 3] = L[(ptrdiff_t)i + k * s] - (ls ? ls[(ptrdiff_t)i + k * s] : 0.0f);
          /* centre step over two boundaries minus the neighbouring trend */
          double d = (q[4] - q[2]) - 0.5 * ((q[6] - q[4]) + (q[2] - q[0]));
          sum += d;
          sq += d * d;
          cnt++;
        }
        /* (sum^2 - sum of squares) / count estimates count * mean^2 without
           the incoherent texture's share */
        if (cnt >= 4) e += (sum * sum - sq) / cnt;
      }
  }
  return e;
}

/* The held-out check (see flatfield.h): fills report->check_* and refuses a
 * field that does not clearly help. */
static sscor_status check_field(const sscor_flatfield *ff, const obslist *L, int ngroups,
                                int igroup0, const sscor_image *coarse, int scale, double fg,
                                sscor_flatfield_report *report) {
  double *sy = calloc((size_t)ngroups * 5 + 1, sizeof *sy);
  size_t npx = (size_t)coarse->width * coarse->height;
  float *v = malloc(sizeof *v * (npx + 1));
  if (!sy || !v) {
    free(sy);
    free(v);
    return sscor_fail(SSCOR_E_NOMEM, "flat-field: out of memory for the check");
  }
  double *sr = sy + ngroups, *cnt = sr + ngroups, *qy = cnt + ngroups, *qr = qy + ngroups;
  for (int i = 0; i < L->n; i++) {
    const obs *o = &L->o[i];
    if (!o->held || o->group < 0 || o->group >= ngroups) continue;
    sgrad s4[4];
    double pts[4][2] = {{o->x1, o->y1}, {o->x1b, o->y1b}, {o->x2, o->y2}, {o->x2b, o->y2b}};
    double sign[4] = {-0.5, -0.5, 0.5, 0.5}, pred = 0;
    for (int k = 0; k < 4; k++) pred += sign[k] * log_s(ff, pts[k][0], pts[k][1], &s4[k]);
    double r = o->y - pred;
    sy[o->group] += o->y;
    sr[o->group] += r;
    qy[o->group] += (double)o->y * o->y;
    qr[o->group] += r * r;
    cnt[o->group] += 1;
  }
  /* Seam segments: the coherent step, sqrt of the mean over segments of
     (sum^2 - sum of squares) / (n (n-1)), an unbiased estimate of the
     squared mean step: the texture's scatter along a segment drops out, so
     the figures compare seam steps, not texture. Interior groups:
     count-weighted mean |mean difference|. */
  int m = 0, mi = 0;
  double eb = 0, ea = 0, ib = 0, ia = 0, iw = 0;
  for (int gi = 0; gi < igroup0; gi++)
    if (cnt[gi] >= 6) {
      double n = cnt[gi];
      eb += (sy[gi] * sy[gi] - qy[gi]) / (n * (n - 1));
      ea += (sr[gi] * sr[gi] - qr[gi]) / (n * (n - 1));
      m++;
    }
  for (int gi = igroup0; gi < ngroups; gi++)
    if (cnt[gi] >= 16) {
      ib += fabs(sy[gi]);
      ia += fabs(sr[gi]);
      iw += cnt[gi];
      mi++;
    }
  report->check_seam_groups = m;
  report->check_interior_groups = mi;
  report->check_seam_before = m ? sqrt(fmax(eb / m, 0)) : 0;
  report->check_seam_after = m ? sqrt(fmax(ea / m, 0)) : 0;
  report->check_interior_before = iw > 0 ? ib / iw : 0;
  report->check_interior_after = iw > 0 ? ia / iw : 0;
  /* S over all data of the reduced image (background included: a tile of
     background only must not be scaled wildly either) */
  int n = 0;
  for (int y = 0; y < coarse->height; y++)
    for (int x = 0; x < coarse->width; x++) {
      float c0 = ((const float *)sscor_image_row(coarse, y))[x];
      if (c0 > 0) v[n++] = (float)log_s(ff, (x + 0.5) * scale, (y + 0.5) * scale, NULL);
    }
  qsort(v, (size_t)n, sizeof *v, cmp_float);
  report->check_s_lo = n ? exp(v[n / 100]) : 1;
  report->check_s_hi = n ? exp(v[n - 1 - n / 100]) : 1;
  {
    float *Lg = malloc(sizeof *Lg * npx * 2);
    uint8_t *fgm = malloc(npx);
    if (!Lg || !fgm) {
      free(Lg);
      free(fgm);
      free(sy);
      free(v);
      return sscor_fail(SSCOR_E_NOMEM, "flat-field: out of memory for the check");
    }
    float *ls = Lg + npx;
    double dark = ff->dark;
    for (int y = 0; y < coarse->height; y++)
      for (int x = 0; x < coarse->width; x++) {
        size_t i = (size_t)y * coarse->width + x;
        float c0 = ((const float *)sscor_image_row(coarse, y))[x];
        fgm[i] = c0 >= fg && c0 - dark > 0;
        Lg[i] = fgm[i] ? (float)log(c0 - dark) : 0.0f;
        ls[i] = fgm[i] ? (float)log_s(ff, (x + 0.5) * scale, (y + 0.5) * scale, NULL) : 0.0f;
      }
    report->check_lines_before = line_energy(Lg, NULL, fgm, coarse->width, coarse->height);
    report->check_lines_after = line_energy(Lg, ls, fgm, coarse->width, coarse->height);
    free(Lg);
    free(fgm);
  }
  free(sy);
  free(v);
  if (getenv("SSCOR_FLATFIELD_DEBUG") && ff->gain)
    for (int i = 0; i < ff->g.n_tiles; i++)
      fprintf(stderr, "gain %d (%g,%g) %.4f\n", i, ff->g.tiles[i].x, ff->g.tiles[i].y, exp(ff->gain[i]));
  if (getenv("SSCOR_FLATFIELD_DEBUG"))
    fprintf(stderr, "check: seam %d groups %.4f -> %.4f, interior %d groups %.4f -> %.4f, S %.3f..%.3f\n",
            report->check_seam_groups, report->check_seam_before, report->check_seam_after,
            report->check_interior_groups, report->check_interior_before,
            report->check_interior_after, report->check_s_lo, report->check_s_hi);
  if (getenv("SSCOR_FLATFIELD_DEBUG"))
    fprintf(stderr, "check: overlap factor %.4f, dark %.4g, fg %.4g\n", ff->has_overlap ? exp(ff->overlap) : 1.0, ff->dark, fg);
  if (getenv("SSCOR_FLATFIELD_DEBUG"))
    fprintf(stderr, "check: line energy %.4g -> %.4g (%.3f)\n", report->check_lines_before,
            report->check_lines_after, report->check_lines_after / report->check_lines_before);
  if (report->check_seam_groups < 4)
    return sscor_fail(SSCOR_E_INVALID,
                      "no reliable correction found: only %d held-out seam segments inside the "
                      "foreground to check the flat-field on",
                      report->check_seam_groups);
  if (!(report->check_seam_after <= SSCOR_FLATFIELD_SEAM_GAIN * report->check_seam_before))
    return sscor_fail(SSCOR_E_INVALID,
                      "no reliable correction found: on held-out seams the mean log step went "
                      "from %.4f only to %.4f (a correction must bring it below %.0f %%)",
                      report->check_seam_before, report->check_seam_after,
                      100 * SSCOR_FLATFIELD_SEAM_GAIN);
  if (report->check_interior_after >
      SSCOR_FLATFIELD_INTERIOR_SLACK * report->check_interior_before + 1e-4)
    return sscor_fail(SSCOR_E_INVALID,
                      "no reliable correction found: the flat-field would raise the held-out "
                      "gradients inside tiles from %.4f to %.4f",
                      report->check_interior_before, report->check_interior_after);
  if (!(report->check_lines_after <= SSCOR_FLATFIELD_LINE_GAIN * report->check_lines_before))
    return sscor_fail(SSCOR_E_INVALID,
                      "no reliable correction found: sharp steps along the image's rows and "
                      "columns would go from %.4g to %.4g (a correction must bring them below "
                      "%.0f %%; the field adds steps where the image has none)",
                      report->check_lines_before, report->check_lines_after,
                      100 * SSCOR_FLATFIELD_LINE_GAIN);
  if (report->check_s_lo < 1.0 / SSCOR_FLATFIELD_MAX_GAIN ||
      report->check_s_hi > SSCOR_FLATFIELD_MAX_GAIN)
    return sscor_fail(SSCOR_E_INVALID,
                      "no reliable correction found: the flat-field spans %.3f..%.3f over the "
                      "image, beyond the plausible 1/%g..%g",
                      report->check_s_lo, report->check_s_hi, SSCOR_FLATFIELD_MAX_GAIN,
                      SSCOR_FLATFIELD_MAX_GAIN);
  return SSCOR_OK;
}

sscor_status sscor_flatfield_estimate(const sscor_geometry *g, const sscor_image *coarse,
                                      int scale, sscor_region_reader reader, void *reader_user,
                                      const sscor_flatfield_params *params, sscor_flatfield **out,
                                      sscor_flatfield_report *report) {
  sscor_flatfield_params def;
  sscor_flatfield_report rep_local;
  if (!params) {
    sscor_flatfield_params_default(&def);
    params = &def;
  }
  if (!report) report = &rep_local;
  memset(report, 0, sizeof *report);
  *out = NULL;
  if (g->n_tiles == 0)
    return sscor_fail(SSCOR_E_INVALID, "flat-field: the geometry has no tiles (no stripes found?)");
  if (!coarse || !coarse->data || scale < 1 || coarse->channels != 1 ||
      coarse->width * scale > g->width || coarse->height * scale > g->height)
    return sscor_fail(SSCOR_E_INVALID,
                      "flat-field: the reduced image (%dx%d, scale %d) does not match the %dx%d "
                      "geometry",
                      coarse ? coarse->width : 0, coarse ? coarse->height : 0, scale, g->width,
                      g->height);
  int nk = params->knots ? params->knots : 13;
  if (nk < 3 || nk > 31)
    return sscor_fail(SSCOR_E_INVALID, "flat-field: %d knots per axis is out of range (3..31)", nk);
  int iters = params->iterations > 0 ? params->iterations : 8;
  double lam = params->smooth == 0 ? 1.0 : params->smooth < 0 ? 0 : params->smooth;

  sscor_status st = SSCOR_OK;
  sscor_flatfield *ff = calloc(1, sizeof *ff);
  obslist L = {0};
  float *vals = NULL, *band = NULL;
  size_t band_cap = 0;
  sscor_seam *seams = NULL;
  sscor_seam_index *six = NULL;
  int nseams = 0;
  double *A = NULL, *rhs = NULL, *gd = NULL, *res = NULL;
  int *gi = NULL, *mark = NULL;
  if (!ff) return sscor_fail(SSCOR_E_NOMEM, "flat-field: out of memory");
  if ((st = sscor_geometry_copy(g, &ff->g))) goto fail;
  if ((st = build_index(ff))) goto fail;
  ff->nk = nk;
  ff->ku = malloc(sizeof(double) * nk);
  ff->kv = malloc(sizeof(double) * nk);
  ff->f = calloc((size_t)nk * nk, sizeof(double));
  if (params->tile_gains) ff->gain = calloc((size_t)g->n_tiles, sizeof(double));
  ff->has_overlap = params->overlap_factor;
  if (!ff->ku || !ff->kv || !ff->f || (params->tile_gains && !ff->gain)) goto nomem;
  {
    int tw = g->tile_w > 0 ? g->tile_w : g->tiles[0].w, th = g->tile_h > 0 ? g->tile_h : g->tiles[0].h;
    make_knots(ff->ku, nk, tw);
    make_knots(ff->kv, nk, th);
  }

  /* Dark offset and foreground from the reduced image's data pixels. */
  size_t npx = (size_t)coarse->width * coarse->height;
  vals = malloc(npx * sizeof *vals);
  if (!vals) goto nomem;
  int nv = 0;
  for (int y = 0; y < coarse->height; y++) {
    const float *row = sscor_image_row(coarse, y);
    for (int x = 0; x < coarse->width; x++)
      if (row[x] > 0 && isfinite(row[x])) vals[nv++] = row[x];
  }
  if (nv < 16) {
    st = sscor_fail(SSCOR_E_INVALID, "flat-field: the image holds no data (all zero)");
    goto fail;
  }
  double dark = params->dark;
  if (dark < 0) {
    /* The darkest data is camera offset plus faint background: take half of
       its 0.1 percentile, which stays below the offset for any sane image. */
    float *tmp = malloc((size_t)nv * sizeof *tmp);
    if (!tmp) goto nomem;
    memcpy(tmp, vals, (size_t)nv * sizeof *tmp);
    qsort(tmp, (size_t)nv, sizeof *tmp, cmp_float);
    dark = 0.5 * tmp[nv / 1000];
    free(tmp);
  }
  double fg = params->foreground > 0 ? params->foreground : otsu_log(vals, nv);
  ff->dark = dark;
  report->dark = dark;
  report->foreground = fg;

  /* Observations. */
  if ((st = sscor_geometry_seams(g, &seams, &nseams))) goto fail;
  if ((st = sscor_seam_index_build(g, seams, nseams, &six))) goto fail;
  int ngroups = 0;
  if (reader)
    for (int i = 0; i < nseams; i++)
      if ((st = seam_obs(g, &seams[i], i, reader, reader_user, dark, fg, &L, &band, &band_cap,
                         &ngroups)))
        goto fail;
  report->seam_obs = L.n;
  int igroup0 = ngroups, gblk = CHECK_BLOCK / scale > 4 ? CHECK_BLOCK / scale : 4;
  int ngx = coarse->width / gblk + 1;
  ngroups += ngx * (coarse->height / gblk + 1) * 2;
  if (params->use_interior) {
    /* Block differences in x and y at lag 2 blocks, blocks clear of seams. */
    double clear = 2.0 * scale + 2;
    for (int y = 0; y + 2 < coarse->height; y += 1)
      for (int x = 0; x + 2 < coarse->width; x += 1) {
        if ((x + y) & 1) continue; /* half the blocks are plenty */
        float c0 = ((const float *)sscor_image_row(coarse, y))[x];
        if (!(c0 >= fg) || !(c0 - dark > 0)) continue;
        double px = (x + 0.5) * scale, py = (y + 0.5) * scale;
        if (sscor_seam_index_distance(six, px, py, NULL) < clear) continue;
        for (int dir = 0; dir < 2; dir++) {
          /* Along stripes that span the image there is one tile: the
             content's own trend along them (a slide's large-scale shading)
             would pass for the flat-field's. */
          if ((dir == 1 && g->orientation == SSCOR_ORIENT_VERTICAL) ||
              (dir == 0 && g->orientation == SSCOR_ORIENT_HORIZONTAL))
            continue;
          int x2 = dir ? x : x + 2, y2 = dir ? y + 2 : y;
          float c1 = ((const float *)sscor_image_row(coarse, y2))[x2];
          if (!(c1 >= fg) || !(c1 - dark > 0)) continue;
          double qx = (x2 + 0.5) * scale, qy = (y2 + 0.5) * scale;
          if (sscor_seam_index_distance(six, qx, qy, NULL) < clear) continue;
          /* both ends inside the same tiles: seams between them would be
             crossed (a lag of 2 blocks can jump a thin overlap band) */
          int ta[MAX_COVER], tb[MAX_COVER];
          double pu, pv, qu, qv;
          sscor_geometry_to_frame(g, px, py, &pu, &pv);
          sscor_geometry_to_frame(g, qx, qy, &qu, &qv);
          int na = tiles_at_frame(ff, pu, pv, ta, MAX_COVER);
          int nb = tiles_at_frame(ff, qu, qv, tb, MAX_COVER);
          if (na != nb || na == 0 || memcmp(ta, tb, sizeof(int) * (size_t)na)) continue;
          int gx = x / gblk, gy = y / gblk;
          obs o = {(float)px, (float)py, (float)qx, (float)qy, (float)px, (float)py,
                   (float)qx, (float)qy, (float)(log(c1 - dark) - log(c0 - dark)), 0,
                   (uint8_t)held_out((unsigned)gx + 7919u, (unsigned)gy),
                   igroup0 + (gy * ngx + gx) * 2 + dir};
          if (obs_push(&L, o)) goto nomem;
        }
      }
  }
  report->interior_obs = L.n - report->seam_obs;
  if (L.n < 50) {
    st = sscor_fail(SSCOR_E_INVALID,
                    "flat-field: only %d usable observations (too little foreground above %.4g "
                    "near the tiles)",
                    L.n, fg);
    goto fail;
  }

  /* Robust Gauss-Newton. */
  int np = nk * nk + (ff->gain ? g->n_tiles : 0) + (ff->has_overlap ? 1 : 0);
  A = malloc(sizeof(double) * (size_t)np * np);
  rhs = malloc(sizeof(double) * (size_t)np);
  gd = calloc((size_t)np, sizeof(double));
  gi = malloc(sizeof(int) * (size_t)np);
  mark = calloc((size_t)np, sizeof(int));
  res = malloc(sizeof(double) * (size_t)L.n);
  float *absr = malloc(sizeof(float) * (size_t)L.n);
  double *diag_gain = malloc(sizeof(double) * (3 * (size_t)g->n_tiles + 1)),
         *diag_sorted = diag_gain + g->n_tiles, *ramp = diag_sorted + g->n_tiles;
  if (!A || !rhs || !gd || !gi || !mark || !res || !absr || !diag_gain) {
    free(absr);
    free(diag_gain);
    goto nomem;
  }
  /* Phase 0 fits without the held-out evidence, which then judges the
     field; phase 1 (once it passed) goes on with all the evidence. */
  for (int phase = 0; phase < 2; phase++) {
  int phase_iters = phase == 0 ? iters : (iters + 1) / 2;
  for (int it = 0; it <= phase_iters; it++) {
    /* residuals and robust scales per class */
    double scale_c[2] = {1, 1};
    for (int cls = 0; cls < 2; cls++) {
      int m = 0;
      for (int i = 0; i < L.n; i++) {
        if (L.o[i].seam != cls) continue;
        int ng;
        double p = predict(ff, &L.o[i], gd, gi, &ng, mark);
        res[i] = L.o[i].y - p;
        absr[m++] = (float)fabs(res[i]);
      }
      if (m) {
        qsort(absr, (size_t)m, sizeof *absr, cmp_float);
        scale_c[cls] = fmax(1.4826 * absr[m / 2], 1e-4);
        if (cls == 1) {
          double rms = 0;
          for (int i = 0; i < m; i++) rms += absr[i] < 3 * scale_c[1] ? (double)absr[i] * absr[i] : 0;
          if (it == 0 && phase == 0) report->seam_rms_before = sqrt(rms / m);
          report->seam_rms_after = sqrt(rms / m);
        }
      }
    }
    if (it == phase_iters) break;
    memset(A, 0, sizeof(double) * (size_t)np * np);
    memset(rhs, 0, sizeof(double) * (size_t)np);
    for (int i = 0; i < L.n; i++) {
      if (phase == 0 && params->validate && L.o[i].held) continue;
      int ng;
      predict(ff, &L.o[i], gd, gi, &ng, mark);
      double c = 2.385 * scale_c[L.o[i].seam], r = res[i] / c;
      double w = 1.0 / (1.0 + r * r); /* Cauchy */
      for (int a = 0; a < ng; a++) {
        int ia = gi[a];
        double wa = w * gd[ia];
        rhs[ia] += wa * res[i];
        for (int b = 0; b < ng; b++) A[(size_t)ia * np + gi[b]] += wa * gd[gi[b]];
      }
    }
    /* Smoothness prior: second differences of log F along both knot axes,
       scaled by the data weight so lam means the same at any image size. */
    double dw = 0;
    for (int i = 0; i < np; i++) dw += A[(size_t)i * np + i];
    dw = dw / np * 1e-3 * lam;
    for (int axis = 0; axis < 2 && lam > 0; axis++)
      for (int j = 0; j < nk; j++)
        for (int i = 1; i + 1 < nk; i++) {
          int id[3], st2 = axis ? nk : 1;
          int base = axis ? j + i * nk : j * nk + i;
          id[0] = base - st2;
          id[1] = base;
          id[2] = base + st2;
          double c[3] = {1, -2, 1}, dv = 0;
          for (int k = 0; k < 3; k++) dv += c[k] * ff->f[id[k]];
          for (int a = 0; a < 3; a++) {
            rhs[id[a]] -= dw * c[a] * dv;
            for (int b = 0; b < 3; b++) A[(size_t)id[a] * np + id[b]] += dw * c[a] * c[b];
          }
        }
    /* Gauge: the mean of log F and of the log gains is fixed (zero). */
    {
      double gw = dw + 1e-9;
      double mf = 0;
      for (int i = 0; i < nk * nk; i++) mf += ff->f[i];
      for (int a = 0; a < nk * nk; a++) {
        rhs[a] -= gw * mf;
        for (int b = 0; b < nk * nk; b++) A[(size_t)a * np + b] += gw;
      }
      if (ff->gain) {
        /* Tiles the data hardly sees (background only, cut by the image
           border) keep gain 1 and stay out of the gauge: otherwise they
           absorb it and take absurd gains. */
        int o0 = nk * nk, nt = g->n_tiles;
        for (int a = 0; a < nt; a++) diag_gain[a] = A[(size_t)(o0 + a) * np + o0 + a];
        memcpy(diag_sorted, diag_gain, sizeof(double) * (size_t)nt);
        qsort(diag_sorted, (size_t)nt, sizeof(double), cmp_double);
        double dmed = diag_sorted[nt / 2];
        double mg = 0;
        for (int i = 0; i < nt; i++)
          if (diag_gain[i] >= 0.05 * dmed) mg += ff->gain[i];
        for (int a = 0; a < nt; a++) {
          double ridge = diag_gain[a] >= 0.05 * dmed ? 0.1 * dw : dmed;
          rhs[o0 + a] -= ridge * ff->gain[a];
          A[(size_t)(o0 + a) * np + o0 + a] += ridge;
          if (diag_gain[a] < 0.05 * dmed) continue;
          rhs[o0 + a] -= gw * mg;
          for (int b = 0; b < nt; b++)
            if (diag_gain[b] >= 0.05 * dmed) A[(size_t)(o0 + a) * np + o0 + b] += gw;
        }
        /* A slope of F across the tile plus gains rising by the same step
           from tile to tile is invisible at the seams: it is a ramp over
           the whole image, which the content's own large-scale trend (seen
           by the interior blocks) would set. Exposure gains are random, not
           a ramp: their linear trend over the tile positions is held at 0. */
        for (int axis = 0; axis < 2; axis++) {
          /* the trend weighted by how well the data sees each tile: a
             barely seen tile at the far end must not cancel it alone */
          double mc = 0, sw = 0, vc = 0, proj = 0;
          int nw = 0;
          for (int a = 0; a < nt; a++) {
            double wa = fmin(diag_gain[a] / dmed, 1.0);
            if (diag_gain[a] < 0.05 * dmed) continue;
            mc += wa * (axis ? g->tiles[a].y + 0.5 * g->tiles[a].h : g->tiles[a].x + 0.5 * g->tiles[a].w);
            sw += wa;
            nw++;
          }
          if (nw < 3) continue;
          mc /= sw;
          for (int a = 0; a < nt; a++) {
            double c = axis ? g->tiles[a].y + 0.5 * g->tiles[a].h : g->tiles[a].x + 0.5 * g->tiles[a].w;
            ramp[a] = diag_gain[a] >= 0.05 * dmed ? fmin(diag_gain[a] / dmed, 1.0) * (c - mc) : 0;
            vc += ramp[a] * ramp[a];
          }
          if (vc <= 0) continue;
          for (int a = 0; a < nt; a++) {
            ramp[a] /= sqrt(vc);
            proj += ramp[a] * ff->gain[a];
          }
          /* as firm as the data on a typical tile's gain: with few tiles the
             content's trend does not average out and would set the ramp */
          double rw = 10 * dmed;
          for (int a = 0; a < nt; a++) {
            rhs[o0 + a] -= rw * ramp[a] * proj;
            for (int b = 0; b < nt; b++) A[(size_t)(o0 + a) * np + o0 + b] += rw * ramp[a] * ramp[b];
          }
        }
      }
    }
    if (ff->has_overlap) {
      int ib = np - 1;
      rhs[ib] -= 0.1 * dw * ff->overlap;
      A[(size_t)ib * np + ib] += 0.1 * dw;
    }
    for (int i = 0; i < np; i++) A[(size_t)i * np + i] += 1e-9 + 1e-6 * A[(size_t)i * np + i];
    if (cholesky_solve(A, rhs, np)) {
      free(absr);
      free(diag_gain);
      st = sscor_fail(SSCOR_E_INTERNAL, "flat-field: the normal equations are singular");
      goto fail;
    }
    for (int i = 0; i < nk * nk; i++) ff->f[i] += rhs[i];
    if (ff->gain)
      for (int i = 0; i < g->n_tiles; i++) ff->gain[i] += rhs[nk * nk + i];
    if (ff->has_overlap) ff->overlap += rhs[np - 1];
  }
  /* Keep the overall level: median of S over foreground blocks = 1. */
  {
    int m = 0;
    for (int y = 0; y < coarse->height; y += 2)
      for (int x = 0; x < coarse->width; x += 2) {
        float c0 = ((const float *)sscor_image_row(coarse, y))[x];
        if (c0 >= fg) vals[m++] = (float)log_s(ff, (x + 0.5) * scale, (y + 0.5) * scale, NULL);
      }
    if (m) {
      qsort(vals, (size_t)m, sizeof *vals, cmp_float);
      double med = vals[m / 2];
      for (int i = 0; i < nk * nk; i++) ff->f[i] -= med;
    }
    double lo = 1e30, hi = -1e30;
    for (int j = 0; j < nk; j++)
      for (int i = 0; i < nk; i++) {
        double v = sscor_flatfield_tile_value(ff, ff->ku[i], ff->kv[j]);
        lo = fmin(lo, v);
        hi = fmax(hi, v);
      }
    report->min_gain = lo;
    report->max_gain = hi;
    report->overlap_factor = ff->has_overlap ? exp(ff->overlap) : 1.0;
  }
  if (phase == 1 || !params->validate) break;
  if ((st = check_field(ff, &L, ngroups, igroup0, coarse, scale, fg, report))) {
    free(absr);
    free(diag_gain);
    goto fail;
  }
  }
  free(absr);
  free(diag_gain);
  *out = ff;
  goto cleanup;
nomem:
  st = sscor_fail(SSCOR_E_NOMEM, "flat-field: out of memory");
fail:
  sscor_flatfield_free(ff);
cleanup:
  free(L.o);
  free(vals);
  free(band);
  sscor_seam_index_free(six);
  free(seams);
  free(A);
  free(rhs);
  free(gd);
  free(gi);
  free(mark);
  free(res);
  return st;
}

sscor_status sscor_flatfield_apply(const sscor_flatfield *ff, sscor_image *region, int x0, int y0) {
  return sscor_flatfield_apply_channel(ff, region, x0, y0, -1);
}

sscor_status sscor_flatfield_apply_channel(const sscor_flatfield *ff, sscor_image *region, int x0, int y0,
                                           int channel) {
  if (!region || !region->data)
    return sscor_fail(SSCOR_E_INVALID, "flat-field: no image to correct");
  if (x0 < 0 || y0 < 0 || x0 + region->width > ff->g.width || y0 + region->height > ff->g.height)
    return sscor_fail(SSCOR_E_INVALID,
                      "flat-field: region %d,%d %dx%d does not lie in the %dx%d image", x0, y0,
                      region->width, region->height, ff->g.width, ff->g.height);
  double dark = ff->dark;
  for (int y = 0; y < region->height; y++)
    for (int x = 0; x < region->width; x++) {
      double s = exp(log_s(ff, x0 + x + 0.5, y0 + y + 0.5, NULL));
      for (int c = channel < 0 ? 0 : channel; c < (channel < 0 ? region->channels : channel + 1); c++) {
        float v = sscor_image_get(region, x, y, c);
        if (v == 0.0f) continue; /* no data stays no data */
        double o = dark + (v - dark) / s;
        if (region->type != SSCOR_F32 && v > dark && o < 1) o = 1; /* never turn data into no-data */
        sscor_image_set(region, x, y, c, (float)o);
      }
    }
  return SSCOR_OK;
}

void sscor_flatfield_params_of(const sscor_flatfield *ff, int *nk, const double **ku,
                               const double **kv, const double **logf, const double **log_gain,
                               double *dark) {
  *nk = ff->nk;
  *ku = ff->ku;
  *kv = ff->kv;
  *logf = ff->f;
  *log_gain = ff->gain;
  *dark = ff->dark;
}

double sscor_flatfield_log_overlap(const sscor_flatfield *ff) {
  return ff->has_overlap ? ff->overlap : 0.0;
}

sscor_status sscor_flatfield_set_log_overlap(sscor_flatfield *ff, double log_factor) {
  if (!isfinite(log_factor) || fabs(log_factor) > 5)
    return sscor_fail(SSCOR_E_FORMAT, "flat-field: overlap factor log %g is not finite or absurd",
                      log_factor);
  ff->has_overlap = log_factor != 0.0;
  ff->overlap = log_factor;
  return SSCOR_OK;
}

sscor_status sscor_flatfield_from_params(const sscor_geometry *g, int nk, const double *ku,
                                         const double *kv, const double *logf,
                                         const double *log_gain, int n_gain, double dark,
                                         sscor_flatfield **out) {
  *out = NULL;
  if (g->n_tiles < 1) return sscor_fail(SSCOR_E_INVALID, "flat-field: the geometry has no tiles");
  if (nk < 2 || nk > 64) return sscor_fail(SSCOR_E_FORMAT, "flat-field: %d knots per axis (needs 2..64)", nk);
  if (log_gain && n_gain != g->n_tiles)
    return sscor_fail(SSCOR_E_FORMAT, "flat-field: %d tile gains for a geometry of %d tiles", n_gain,
                      g->n_tiles);
  if (!isfinite(dark)) return sscor_fail(SSCOR_E_FORMAT, "flat-field: dark offset is not finite");
  for (int i = 0; i < nk; i++)
    if (!isfinite(ku[i]) || !isfinite(kv[i]) || (i && (ku[i] <= ku[i - 1] || kv[i] <= kv[i - 1])))
      return sscor_fail(SSCOR_E_FORMAT, "flat-field: knots are not finite and increasing");
  for (int i = 0; i < nk * nk; i++)
    if (!isfinite(logf[i]) || fabs(logf[i]) > 20)
      return sscor_fail(SSCOR_E_FORMAT, "flat-field: field value %d is not finite or absurd", i);
  for (int i = 0; log_gain && i < n_gain; i++)
    if (!isfinite(log_gain[i]) || fabs(log_gain[i]) > 20)
      return sscor_fail(SSCOR_E_FORMAT, "flat-field: tile gain %d is not finite or absurd", i);
  sscor_flatfield *ff = calloc(1, sizeof *ff);
  if (!ff) return sscor_fail(SSCOR_E_NOMEM, "flat-field: out of memory");
  sscor_status st;
  if ((st = sscor_geometry_copy(g, &ff->g)) || (st = build_index(ff))) {
    sscor_flatfield_free(ff);
    return st;
  }
  ff->nk = nk;
  ff->dark = dark;
  ff->ku = malloc(sizeof(double) * nk);
  ff->kv = malloc(sizeof(double) * nk);
  ff->f = malloc(sizeof(double) * (size_t)nk * nk);
  if (log_gain) ff->gain = malloc(sizeof(double) * (size_t)n_gain);
  if (!ff->ku || !ff->kv || !ff->f || (log_gain && !ff->gain)) {
    sscor_flatfield_free(ff);
    return sscor_fail(SSCOR_E_NOMEM, "flat-field: out of memory");
  }
  memcpy(ff->ku, ku, sizeof(double) * nk);
  memcpy(ff->kv, kv, sizeof(double) * nk);
  memcpy(ff->f, logf, sizeof(double) * (size_t)nk * nk);
  if (log_gain) memcpy(ff->gain, log_gain, sizeof(double) * (size_t)n_gain);
  *out = ff;
  return SSCOR_OK;
}
