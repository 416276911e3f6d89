/* Proximity sampling and intensity scaling (see sampling.h). */
#include "sampling.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void sscor_sample_params_default(sscor_sample_params *p) {
  memset(p, 0, sizeof *p);
  p->patch = 256;
  p->fg_fraction = 0.3;
}

static uint64_t splitmix(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
/* uniform integer in [-j, j] */
static int rand_sym(uint64_t *s, int j) { return j > 0 ? (int)(splitmix(s) % (uint64_t)(2 * j + 1)) - j : 0; }

typedef struct {
  double x0, y0, x1, y1; /* seam segment in image coordinates */
} seg2;

/* Liang-Barsky: does segment s touch the rectangle [rx0,rx1] x [ry0,ry1]? */
static int seg_hits_rect(const seg2 *s, double rx0, double ry0, double rx1, double ry1) {
  double t0 = 0, t1 = 1, dx = s->x1 - s->x0, dy = s->y1 - s->y0;
  double p[4] = {-dx, dx, -dy, dy}, q[4] = {s->x0 - rx0, rx1 - s->x0, s->y0 - ry0, ry1 - s->y0};
  for (int i = 0; i < 4; i++) {
    if (p[i] == 0) {
      if (q[i] < 0) return 0;
    } else {
      double t = q[i] / p[i];
      if (p[i] < 0) {
        if (t > t1) return 0;
        if (t > t0) t0 = t;
      } else {
        if (t < t0) return 0;
        if (t < t1) t1 = t;
      }
    }
  }
  return 1;
}

typedef struct {
  const sscor_geometry *g;
  const seg2 *segs;
  int nseg;
  const sscor_seam_index *ix;
  const sscor_image *fg;
  int fg_scale;
  const sscor_sample_params *p;
} ctx;

static int inside(const ctx *c, int x, int y) {
  return x >= 0 && y >= 0 && x + c->p->patch <= c->g->width && y + c->p->patch <= c->g->height;
}

static int touches_seam(const ctx *c, int x, int y) {
  /* one pixel of margin: a seam on the patch border still shows */
  double P = c->p->patch;
  /* no seam within the patch's circumscribed circle (and a pixel): none
     touches it, without scanning them all */
  double R = (0.5 * P + 1.0) * M_SQRT2 + 1.0;
  if (sscor_seam_index_distance(c->ix, x + 0.5 * P, y + 0.5 * P, NULL) > R) return 0;
  for (int i = 0; i < c->nseg; i++)
    if (seg_hits_rect(&c->segs[i], x - 1.0, y - 1.0, x + P + 1.0, y + P + 1.0)) return 1;
  return 0;
}

static int touches_artifact(const ctx *c, int x, int y) {
  const sscor_geometry *g = c->g;
  int P = c->p->patch;
  for (int i = 0; i < g->n_regions; i++) {
    const sscor_region *r = &g->regions[i];
    if (x < r->x + r->w && r->x < x + P && y < r->y + r->h && r->y < y + P) return 1;
  }
  if (g->mask.data) {
    int st = P >= 64 ? 4 : 1;
    for (int yy = y; yy < y + P; yy += st)
      for (int xx = x; xx < x + P; xx += st)
        if (xx < g->mask.width && yy < g->mask.height && sscor_image_get(&g->mask, xx, yy, 0) != 0)
          return 1;
  }
  return 0;
}

static int foreground_ok(const ctx *c, int x, int y) {
  if (!c->fg || c->p->fg_threshold <= 0) return 1;
  int s = c->fg_scale, P = c->p->patch;
  int x0 = x / s, y0 = y / s, x1 = (x + P + s - 1) / s, y1 = (y + P + s - 1) / s;
  if (x1 > c->fg->width) x1 = c->fg->width;
  if (y1 > c->fg->height) y1 = c->fg->height;
  long n = 0, k = 0;
  for (int yy = y0; yy < y1; yy++)
    for (int xx = x0; xx < x1; xx++) {
      n++;
      k += sscor_image_get(c->fg, xx, yy, 0) >= c->p->fg_threshold;
    }
  return n > 0 && k >= c->p->fg_fraction * n;
}

/* Nearest clean patch from anomaly top-left (ax,ay) along unit directions
 * dirs[0..nd) (tried in order at each distance). */
static int find_normal(const ctx *c, int ax, int ay, const double (*dirs)[2], int nd, int avoid_seams,
                       int *nx, int *ny) {
  double P = c->p->patch;
  for (double d = P; d <= 4 * P + 1e-9; d += 0.25 * P)
    for (int k = 0; k < nd; k++) {
      int x = (int)lround(ax + dirs[k][0] * d), y = (int)lround(ay + dirs[k][1] * d);
      if (!inside(c, x, y)) continue;
      if (avoid_seams && touches_seam(c, x, y)) continue;
      if (touches_artifact(c, x, y)) continue;
      if (!foreground_ok(c, x, y)) continue;
      *nx = x;
      *ny = y;
      return 1;
    }
  return 0;
}

typedef struct {
  sscor_pair *v;
  int n, cap;
} pairlist;

static int push(pairlist *l, sscor_pair p) {
  if (l->n == l->cap) {
    int nc = l->cap ? 2 * l->cap : 256;
    sscor_pair *q = realloc(l->v, (size_t)nc * sizeof *q);
    if (!q) return -1;
    l->v = q;
    l->cap = nc;
  }
  l->v[l->n++] = p;
  return 0;
}

sscor_status sscor_sample_pairs(const sscor_geometry *g, const sscor_image *fg, int fg_scale,
                                const sscor_sample_params *params, sscor_pair **pairs, int *n) {
  sscor_sample_params def;
  if (!params) {
    sscor_sample_params_default(&def);
    params = &def;
  }
  *pairs = NULL;
  *n = 0;
  const sscor_sample_params *p = params;
  if (p->patch < 8 || p->patch > g->width || p->patch > g->height)
    return sscor_fail(SSCOR_E_INVALID, "sampling: patch %d does not fit the %dx%d image (8 at least)",
                      p->patch, g->width, g->height);
  if (p->step < 0 || p->max_pairs < 0 || p->fg_fraction < 0 || p->fg_fraction > 1)
    return sscor_fail(SSCOR_E_INVALID, "sampling: negative step/cap or foreground fraction outside 0..1");
  if (fg && (fg_scale < 1 || fg->width * fg_scale > g->width + fg_scale ||
             fg->height * fg_scale > g->height + fg_scale))
    return sscor_fail(SSCOR_E_INVALID, "sampling: the foreground image does not match the geometry");
  int P = p->patch, step = p->step ? p->step : P / 2;
  int jit = p->jitter < 0 ? 0 : p->jitter ? p->jitter : P / 8;
  uint64_t rng = p->seed ^ 0x5EC0DE5ull;

  sscor_seam *seams = NULL;
  int ns = 0;
  sscor_status st = sscor_geometry_seams(g, &seams, &ns);
  if (st) return st;
  seg2 *segs = malloc(sizeof *segs * (size_t)(ns + 1));
  pairlist out = {0};
  if (!segs) {
    free(seams);
    return sscor_fail(SSCOR_E_NOMEM, "sampling: out of memory");
  }
  for (int i = 0; i < ns; i++) {
    const sscor_seam *s = &seams[i];
    if (s->vertical) {
      sscor_geometry_to_image(g, s->pos, s->from, &segs[i].x0, &segs[i].y0);
      sscor_geometry_to_image(g, s->pos, s->to, &segs[i].x1, &segs[i].y1);
    } else {
      sscor_geometry_to_image(g, s->from, s->pos, &segs[i].x0, &segs[i].y0);
      sscor_geometry_to_image(g, s->to, s->pos, &segs[i].x1, &segs[i].y1);
    }
  }
  sscor_seam_index *ix = NULL;
  if ((st = sscor_seam_index_build(g, seams, ns, &ix))) {
    free(seams);
    free(segs);
    return st;
  }
  ctx c = {g, segs, ns, ix, fg, fg_scale, p};

  if (!p->artifacts) {
    /* Along every seam. */
    for (int i = 0; i < ns; i++) {
      const sscor_seam *s = &seams[i];
      /* seam normal in image coordinates */
      double ux = s->vertical ? 1 : 0, uy = s->vertical ? 0 : 1, nxv, nyv, ox, oy;
      sscor_geometry_to_image(g, 0, 0, &ox, &oy);
      sscor_geometry_to_image(g, ux, uy, &nxv, &nyv);
      nxv -= ox;
      nyv -= oy;
      for (double t = s->from + step * 0.5; t < s->to; t += step) {
        double cx, cy;
        int ja = rand_sym(&rng, jit), jb = rand_sym(&rng, jit);
        int side = p->side ? (p->side > 0 ? 1 : -1) : (splitmix(&rng) & 1 ? 1 : -1);
        if (s->vertical) sscor_geometry_to_image(g, s->pos + ja, t + jb, &cx, &cy);
        else sscor_geometry_to_image(g, t + jb, s->pos + ja, &cx, &cy);
        int ax = (int)lround(cx - P * 0.5), ay = (int)lround(cy - P * 0.5);
        if (!inside(&c, ax, ay) || !foreground_ok(&c, ax, ay)) continue;
        double dirs[2][2] = {{side * nxv, side * nyv}, {-side * nxv, -side * nyv}};
        int nx, ny;
        if (!find_normal(&c, ax, ay, (const double(*)[2])dirs, 2, 1, &nx, &ny)) continue;
        if (push(&out, (sscor_pair){ax, ay, nx, ny, i, 0})) goto nomem;
      }
    }
    /* Grid crossings: vertical x horizontal seams that intersect. */
    for (int i = 0; i < ns; i++) {
      if (!seams[i].vertical) continue;
      for (int j = 0; j < ns; j++) {
        if (seams[j].vertical) continue;
        const sscor_seam *v = &seams[i], *h = &seams[j];
        if (v->pos < h->from || v->pos > h->to || h->pos < v->from || h->pos > v->to) continue;
        double cx, cy;
        sscor_geometry_to_image(g, v->pos, h->pos, &cx, &cy);
        /* one anomaly per crossing point: skip near-duplicates already taken */
        int ax = (int)lround(cx - P * 0.5) + rand_sym(&rng, jit / 2);
        int ay = (int)lround(cy - P * 0.5) + rand_sym(&rng, jit / 2);
        int dup = 0;
        for (int k = out.n - 1; k >= 0 && !dup; k--)
          dup = out.v[k].crossing && abs(out.v[k].ax - ax) < step / 2 && abs(out.v[k].ay - ay) < step / 2;
        if (dup || !inside(&c, ax, ay) || !foreground_ok(&c, ax, ay)) continue;
        double d[4][2];
        int first = (int)(splitmix(&rng) & 3);
        const double diag[4][2] = {{M_SQRT1_2, M_SQRT1_2}, {-M_SQRT1_2, M_SQRT1_2},
                                   {-M_SQRT1_2, -M_SQRT1_2}, {M_SQRT1_2, -M_SQRT1_2}};
        for (int k = 0; k < 4; k++) {
          /* rotate the diagonals with the frame */
          double ox, oy, tx, ty;
          sscor_geometry_to_image(g, 0, 0, &ox, &oy);
          sscor_geometry_to_image(g, diag[(first + k) & 3][0], diag[(first + k) & 3][1], &tx, &ty);
          d[k][0] = tx - ox;
          d[k][1] = ty - oy;
        }
        int nx, ny;
        if (!find_normal(&c, ax, ay, (const double(*)[2])d, 4, 1, &nx, &ny)) continue;
        if (push(&out, (sscor_pair){ax, ay, nx, ny, -1, 1})) goto nomem;
      }
    }
  } else {
    /* Artifact mode: a grid of anomalies over each region, normals from the
       nearest clean area in 8 directions. */
    if (g->n_regions == 0 && !g->mask.data) {
      st = sscor_fail(SSCOR_E_INVALID, "sampling: artifact mode but the geometry marks no regions");
      goto fail;
    }
    const double dirs8[8][2] = {{1, 0}, {0, 1}, {-1, 0}, {0, -1},
                                {M_SQRT1_2, M_SQRT1_2}, {-M_SQRT1_2, M_SQRT1_2},
                                {-M_SQRT1_2, -M_SQRT1_2}, {M_SQRT1_2, -M_SQRT1_2}};
    for (int i = 0; i < g->n_regions; i++) {
      const sscor_region *r = &g->regions[i];
      int sx = r->w > P ? step : r->w, sy = r->h > P ? step : r->h;
      for (int cy = r->y + (r->h > P ? P / 2 : r->h / 2); cy <= r->y + r->h - (r->h > P ? P / 2 : r->h / 2); cy += sy)
        for (int cx = r->x + (r->w > P ? P / 2 : r->w / 2); cx <= r->x + r->w - (r->w > P ? P / 2 : r->w / 2); cx += sx) {
          int ax = cx - P / 2 + rand_sym(&rng, jit), ay = cy - P / 2 + rand_sym(&rng, jit);
          if (ax < 0) ax = 0;
          if (ay < 0) ay = 0;
          if (ax + P > g->width) ax = g->width - P;
          if (ay + P > g->height) ay = g->height - P;
          if (!foreground_ok(&c, ax, ay)) continue;
          double d[8][2];
          int first = (int)(splitmix(&rng) & 7);
          for (int k = 0; k < 8; k++) {
            d[k][0] = dirs8[(first + k) & 7][0];
            d[k][1] = dirs8[(first + k) & 7][1];
          }
          int nx, ny;
          if (!find_normal(&c, ax, ay, (const double(*)[2])d, 8, 0, &nx, &ny)) continue;
          if (push(&out, (sscor_pair){ax, ay, nx, ny, -1, 0})) goto nomem;
        }
    }
  }
  /* Cap: a seeded random subset, kept in sampling order. */
  if (p->max_pairs > 0 && out.n > p->max_pairs) {
    int *idx = malloc(sizeof(int) * (size_t)out.n);
    if (!idx) goto nomem;
    for (int i = 0; i < out.n; i++) idx[i] = i;
    for (int i = 0; i < p->max_pairs; i++) {
      int j = i + (int)(splitmix(&rng) % (uint64_t)(out.n - i));
      int t = idx[i];
      idx[i] = idx[j];
      idx[j] = t;
    }
    /* sort the chosen indices to keep order */
    for (int i = 1; i < p->max_pairs; i++)
      for (int k = i; k > 0 && idx[k - 1] > idx[k]; k--) {
        int t = idx[k];
        idx[k] = idx[k - 1];
        idx[k - 1] = t;
      }
    for (int i = 0; i < p->max_pairs; i++) out.v[i] = out.v[idx[i]];
    out.n = p->max_pairs;
    free(idx);
  }
  sscor_seam_index_free(ix);
  free(seams);
  free(segs);
  *pairs = out.v;
  *n = out.n;
  return SSCOR_OK;
nomem:
  st = sscor_fail(SSCOR_E_NOMEM, "sampling: out of memory");
fail:
  sscor_seam_index_free(ix);
  free(seams);
  free(segs);
  free(out.v);
  return st;
}

sscor_status sscor_cut_patch(const sscor_image *img, int x, int y, int size, sscor_image *out) {
  if (size <= 0 || x < 0 || y < 0 || x + size > img->width || y + size > img->height)
    return sscor_fail(SSCOR_E_INVALID, "patch %d,%d of %d px does not lie in the %dx%d image", x, y,
                      size, img->width, img->height);
  sscor_status st = sscor_image_alloc(out, size, size, img->channels, img->type);
  if (st) return st;
  size_t px = sscor_sample_size(img->type) * img->channels;
  for (int j = 0; j < size; j++)
    memcpy(sscor_image_row(out, j), (const uint8_t *)sscor_image_row(img, y + j) + (size_t)x * px,
           (size_t)size * px);
  return SSCOR_OK;
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

sscor_status sscor_intensity_scale_from_patches(const sscor_image *patches, int n, double plo,
                                                double phi, int joint, sscor_intensity_scale *s) {
  memset(s, 0, sizeof *s);
  if (n <= 0 || !patches) return sscor_fail(SSCOR_E_INVALID, "intensity scale: no patches");
  if (!(plo >= 0 && phi <= 100 && plo < phi))
    return sscor_fail(SSCOR_E_INVALID, "intensity scale: percentiles %g, %g out of order or range",
                      plo, phi);
  int ch = patches[0].channels;
  for (int i = 1; i < n; i++)
    if (patches[i].channels != ch || patches[i].type != patches[0].type)
      return sscor_fail(SSCOR_E_INVALID, "intensity scale: patch %d differs in type or channels", i);
  s->channels = ch;
  int groups = joint ? 1 : ch;
  /* Samples: every pixel up to ~4M per group, a regular subsample beyond. */
  size_t total = 0;
  for (int i = 0; i < n; i++) total += (size_t)patches[i].width * patches[i].height;
  size_t stride = total / 4000000 + 1;
  size_t per = (total / stride + 1) * (joint ? (size_t)ch : 1);
  float *buf = malloc(per * sizeof *buf);
  if (!buf) return sscor_fail(SSCOR_E_NOMEM, "intensity scale: out of memory");
  for (int gi = 0; gi < groups; gi++) {
    size_t m = 0, k = 0;
    for (int i = 0; i < n; i++) {
      const sscor_image *im = &patches[i];
      for (int y = 0; y < im->height; y++)
        for (int x = 0; x < im->width; x++, k++) {
          if (k % stride) continue;
          for (int c = joint ? 0 : gi; c < (joint ? ch : gi + 1); c++)
            if (m < per) buf[m++] = sscor_image_get(im, x, y, c);
        }
    }
    qsort(buf, m, sizeof *buf, cmp_float);
    float lo = buf[(size_t)(plo / 100.0 * (m - 1) + 0.5)], hi = buf[(size_t)(phi / 100.0 * (m - 1) + 0.5)];
    if (!(hi > lo)) {
      free(buf);
      return sscor_fail(SSCOR_E_INVALID,
                        "intensity scale: channel %d is constant (%g) over the %g..%g percentiles: "
                        "nothing to learn",
                        gi, lo, plo, phi);
    }
    for (int c = 0; c < ch; c++)
      if (joint || c == gi) {
        s->lo[c] = lo;
        s->hi[c] = hi;
      }
  }
  free(buf);
  return SSCOR_OK;
}
