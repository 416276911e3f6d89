/* Geometry model and its text format; detection lives in geometry_detect.c. */
#include "geometry.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"

sscor_status sscor_geometry_init(sscor_geometry *g, int width, int height) {
  memset(g, 0, sizeof *g);
  if (width <= 0 || height <= 0 || width > SSCOR_IMAGE_MAX_SIDE || height > SSCOR_IMAGE_MAX_SIDE)
    return sscor_fail(SSCOR_E_INVALID, "geometry: image size %dx%d is out of range (1..%d)", width,
                      height, SSCOR_IMAGE_MAX_SIDE);
  g->width = width;
  g->height = height;
  return SSCOR_OK;
}

void sscor_geometry_free(sscor_geometry *g) {
  free(g->tiles);
  free(g->seams);
  free(g->regions);
  free(g->mask_path);
  sscor_image_free(&g->mask);
  memset(g, 0, sizeof *g);
}

static sscor_status grow(void **p, int *cap, int need, size_t elem) {
  if (need <= *cap) return SSCOR_OK;
  int nc = *cap ? *cap * 2 : 16;
  while (nc < need) nc *= 2;
  void *q = realloc(*p, (size_t)nc * elem);
  if (!q) return sscor_fail(SSCOR_E_NOMEM, "geometry: out of memory (%d entries)", nc);
  *p = q;
  *cap = nc;
  return SSCOR_OK;
}

sscor_status sscor_geometry_copy(const sscor_geometry *src, sscor_geometry *dst) {
  sscor_status st = sscor_geometry_init(dst, src->width, src->height);
  if (st) return st;
  dst->orientation = src->orientation;
  dst->angle_deg = src->angle_deg;
  dst->tile_w = src->tile_w;
  dst->tile_h = src->tile_h;
  for (int i = 0; i < src->n_tiles && !st; i++)
    st = sscor_geometry_add_tile(dst, src->tiles[i].x, src->tiles[i].y, src->tiles[i].w,
                                 src->tiles[i].h);
  for (int i = 0; i < src->n_seams && !st; i++)
    st = sscor_geometry_add_seam(dst, src->seams[i].vertical, src->seams[i].pos,
                                 src->seams[i].from, src->seams[i].to);
  for (int i = 0; i < src->n_regions && !st; i++) {
    const sscor_region *r = &src->regions[i];
    st = sscor_geometry_add_region(dst, r->x, r->y, r->w, r->h, r->kind);
  }
  if (!st && src->mask_path && !(dst->mask_path = strdup(src->mask_path)))
    st = sscor_fail(SSCOR_E_NOMEM, "geometry: out of memory");
  if (!st && src->mask.data) {
    st = sscor_image_alloc(&dst->mask, src->mask.width, src->mask.height, src->mask.channels,
                           src->mask.type);
    if (!st) st = sscor_image_convert(&src->mask, &dst->mask);
  }
  if (st) sscor_geometry_free(dst);
  return st;
}

sscor_status sscor_geometry_add_tile(sscor_geometry *g, double x, double y, int w, int h) {
  if (w <= 0 || h <= 0 || w > SSCOR_IMAGE_MAX_SIDE || h > SSCOR_IMAGE_MAX_SIDE || !isfinite(x) ||
      !isfinite(y) || fabs(x) > SSCOR_IMAGE_MAX_SIDE || fabs(y) > SSCOR_IMAGE_MAX_SIDE)
    return sscor_fail(SSCOR_E_INVALID, "geometry: tile %gx%g+%dx%d is out of range", x, y, w, h);
  sscor_status st = grow((void **)&g->tiles, &g->cap_tiles, g->n_tiles + 1, sizeof *g->tiles);
  if (st) return st;
  g->tiles[g->n_tiles++] = (sscor_tile){x, y, w, h};
  return SSCOR_OK;
}

sscor_status sscor_geometry_add_seam(sscor_geometry *g, int vertical, double pos, double from,
                                     double to) {
  if (!isfinite(pos) || !isfinite(from) || !isfinite(to) || to <= from)
    return sscor_fail(SSCOR_E_INVALID, "geometry: seam at %g from %g to %g is empty or invalid",
                      pos, from, to);
  sscor_status st = grow((void **)&g->seams, &g->cap_seams, g->n_seams + 1, sizeof *g->seams);
  if (st) return st;
  g->seams[g->n_seams++] = (sscor_seam){vertical ? 1 : 0, pos, from, to};
  return SSCOR_OK;
}

sscor_status sscor_geometry_add_region(sscor_geometry *g, int x, int y, int w, int h,
                                       sscor_artifact_kind kind) {
  if (w <= 0 || h <= 0 || x < 0 || y < 0 || x >= g->width || y >= g->height ||
      w > g->width - x || h > g->height - y)
    return sscor_fail(SSCOR_E_INVALID,
                      "geometry: region %d,%d size %dx%d does not lie inside the %dx%d image", x,
                      y, w, h, g->width, g->height);
  sscor_status st =
      grow((void **)&g->regions, &g->cap_regions, g->n_regions + 1, sizeof *g->regions);
  if (st) return st;
  g->regions[g->n_regions++] = (sscor_region){x, y, w, h, kind};
  return SSCOR_OK;
}

sscor_status sscor_geometry_set_grid(sscor_geometry *g, double x0, double y0, double px,
                                     double py, int nx, int ny, int tw, int th) {
  if (nx <= 0 || ny <= 0 || (long)nx * ny > 1000000 || px <= 0 || py <= 0 || tw <= 0 || th <= 0)
    return sscor_fail(SSCOR_E_INVALID,
                      "geometry: grid of %dx%d tiles of %dx%d, pitch %gx%g is invalid", nx, ny,
                      tw, th, px, py);
  g->n_tiles = 0;
  for (int j = 0; j < ny; j++)
    for (int i = 0; i < nx; i++) {
      sscor_status st = sscor_geometry_add_tile(g, x0 + i * px, y0 + j * py, tw, th);
      if (st) return st;
    }
  g->tile_w = tw;
  g->tile_h = th;
  g->orientation = nx > 1 && ny > 1 ? SSCOR_ORIENT_GRID
                   : nx > 1         ? SSCOR_ORIENT_VERTICAL
                   : ny > 1         ? SSCOR_ORIENT_HORIZONTAL
                                    : SSCOR_ORIENT_NONE;
  return SSCOR_OK;
}

void sscor_geometry_to_image(const sscor_geometry *g, double u, double v, double *x, double *y) {
  if (g->angle_deg == 0.0) {
    *x = u;
    *y = v;
    return;
  }
  double a = g->angle_deg * M_PI / 180.0, c = cos(a), s = sin(a);
  double cx = g->width * 0.5, cy = g->height * 0.5;
  *x = cx + c * (u - cx) - s * (v - cy);
  *y = cy + s * (u - cx) + c * (v - cy);
}

void sscor_geometry_to_frame(const sscor_geometry *g, double x, double y, double *u, double *v) {
  if (g->angle_deg == 0.0) {
    *u = x;
    *v = y;
    return;
  }
  double a = g->angle_deg * M_PI / 180.0, c = cos(a), s = sin(a);
  double cx = g->width * 0.5, cy = g->height * 0.5;
  *u = cx + c * (x - cx) + s * (y - cy);
  *v = cy - s * (x - cx) + c * (y - cy);
}

/* True when the seam line has some part inside the image, away from its border. */
static int seam_inside(const sscor_geometry *g, const sscor_seam *s) {
  const int steps = 16;
  for (int i = 0; i <= steps; i++) {
    double t = s->from + (s->to - s->from) * i / steps, x, y;
    if (s->vertical)
      sscor_geometry_to_image(g, s->pos, t, &x, &y);
    else
      sscor_geometry_to_image(g, t, s->pos, &x, &y);
    if (x > 1.0 && x < g->width - 1.0 && y > 1.0 && y < g->height - 1.0) return 1;
  }
  return 0;
}

sscor_status sscor_geometry_seams(const sscor_geometry *g, sscor_seam **out, int *n) {
  int cap = g->n_seams + 4 * g->n_tiles + 1, k = 0;
  sscor_seam *s = malloc((size_t)cap * sizeof *s);
  if (!s) return sscor_fail(SSCOR_E_NOMEM, "geometry: out of memory for %d seams", cap);
  for (int i = 0; i < g->n_seams; i++)
    if (seam_inside(g, &g->seams[i])) s[k++] = g->seams[i];
  for (int i = 0; i < g->n_tiles; i++) {
    const sscor_tile *t = &g->tiles[i];
    sscor_seam e[4] = {{1, t->x, t->y, t->y + t->h},
                       {1, t->x + t->w, t->y, t->y + t->h},
                       {0, t->y, t->x, t->x + t->w},
                       {0, t->y + t->h, t->x, t->x + t->w}};
    for (int j = 0; j < 4; j++) {
      /* Stripes: the long sides only. */
      if (g->orientation == SSCOR_ORIENT_VERTICAL && !e[j].vertical) continue;
      if (g->orientation == SSCOR_ORIENT_HORIZONTAL && e[j].vertical) continue;
      if (seam_inside(g, &e[j])) s[k++] = e[j];
    }
  }
  *out = s;
  *n = k;
  return SSCOR_OK;
}

/* Distance from frame point (u,v) to one seam segment. */
static double seam_dist(const sscor_seam *s, double u, double v) {
  double across = s->vertical ? u - s->pos : v - s->pos;
  double along = s->vertical ? v : u;
  double out = along < s->from ? s->from - along : along > s->to ? along - s->to : 0.0;
  return sqrt(across * across + out * out);
}

double sscor_seam_distance(const sscor_geometry *g, const sscor_seam *seams, int n, double x,
                           double y, int *nearest) {
  double u, v, best = 1e30;
  int bi = -1;
  sscor_geometry_to_frame(g, x, y, &u, &v);
  for (int i = 0; i < n; i++) {
    double d = seam_dist(&seams[i], u, v);
    if (d < best) {
      best = d;
      bi = i;
    }
  }
  if (nearest) *nearest = bi;
  return best;
}

struct sscor_seam_index {
  const sscor_geometry *g;
  const sscor_seam *seams;
  double u0, v0, c; /* grid origin and cell side, frame coordinates */
  int ncu, ncv;
  int *start, *list; /* cell k holds seams list[start[k] .. start[k+1]) */
};

static int cell_of(double x, double x0, double c, int nc) {
  double k = floor((x - x0) / c);
  return k < 0 ? 0 : k >= nc ? nc - 1 : (int)k;
}

/* Cell range [*a, *b] x [*c0, *c1] of seam s. */
static void seam_cells(const sscor_seam_index *ix, const sscor_seam *s, int *a, int *b, int *c0,
                       int *c1) {
  double u0 = s->vertical ? s->pos : s->from, u1 = s->vertical ? s->pos : s->to;
  double v0 = s->vertical ? s->from : s->pos, v1 = s->vertical ? s->to : s->pos;
  *a = cell_of(u0, ix->u0, ix->c, ix->ncu);
  *b = cell_of(u1, ix->u0, ix->c, ix->ncu);
  *c0 = cell_of(v0, ix->v0, ix->c, ix->ncv);
  *c1 = cell_of(v1, ix->v0, ix->c, ix->ncv);
}

sscor_status sscor_seam_index_build(const sscor_geometry *g, const sscor_seam *seams, int n,
                                    sscor_seam_index **out) {
  sscor_seam_index *ix = calloc(1, sizeof *ix);
  if (!ix) return sscor_fail(SSCOR_E_NOMEM, "geometry: out of memory for a seam index");
  ix->g = g;
  ix->seams = seams;
  double umin = 0, umax = 1, vmin = 0, vmax = 1, len = 0;
  for (int i = 0; i < n; i++) {
    const sscor_seam *s = &seams[i];
    double a0 = s->vertical ? s->pos : s->from, a1 = s->vertical ? s->pos : s->to;
    double b0 = s->vertical ? s->from : s->pos, b1 = s->vertical ? s->to : s->pos;
    if (i == 0 || a0 < umin) umin = a0;
    if (i == 0 || a1 > umax) umax = a1;
    if (i == 0 || b0 < vmin) vmin = b0;
    if (i == 0 || b1 > vmax) vmax = b1;
    len += s->to - s->from;
  }
  /* About one seam per cell, and seams spanning a few cells each: memory and
     build time stay a small multiple of n. */
  int m = n > 0 ? n : 1;
  double c = sqrt((umax - umin + 1) * (vmax - vmin + 1) / m);
  if (c < len / (4.0 * m)) c = len / (4.0 * m);
  if (c < 1) c = 1;
  ix->u0 = umin;
  ix->v0 = vmin;
  ix->c = c;
  ix->ncu = (int)fmin(floor((umax - umin) / c) + 1, 1e6);
  ix->ncv = (int)fmin(floor((vmax - vmin) / c) + 1, 1e6);
  size_t ncell = (size_t)ix->ncu * ix->ncv;
  ix->start = calloc(ncell + 1, sizeof *ix->start);
  if (!ix->start) goto nomem;
  for (int pass = 0; pass < 2; pass++) {
    for (int i = 0; i < n; i++) {
      int a, b, c0, c1;
      seam_cells(ix, &seams[i], &a, &b, &c0, &c1);
      for (int cv = c0; cv <= c1; cv++)
        for (int cu = a; cu <= b; cu++) {
          size_t k = (size_t)cv * ix->ncu + cu;
          if (pass == 0) ix->start[k + 1]++;
          else ix->list[ix->start[k]++] = i;
        }
    }
    if (pass == 0) {
      for (size_t k = 0; k < ncell; k++) ix->start[k + 1] += ix->start[k];
      if (!(ix->list = malloc(sizeof *ix->list * ((size_t)ix->start[ncell] + 1)))) goto nomem;
    }
  }
  /* the fill advanced every start to the next cell's: shift back */
  memmove(ix->start + 1, ix->start, ncell * sizeof *ix->start);
  ix->start[0] = 0;
  *out = ix;
  return SSCOR_OK;
nomem:
  sscor_seam_index_free(ix);
  return sscor_fail(SSCOR_E_NOMEM, "geometry: out of memory for a seam index of %d seams", n);
}

void sscor_seam_index_free(sscor_seam_index *ix) {
  if (!ix) return;
  free(ix->start);
  free(ix->list);
  free(ix);
}

/* Rings of cells around the query's cell, nearest first; a ring r cells out
 * holds nothing nearer than (r - 1) cells, so the search stops there. Ties go
 * to the lowest index, as in sscor_seam_distance. */
double sscor_seam_index_distance(const sscor_seam_index *ix, double x, double y, int *nearest) {
  double u, v, best = 1e30;
  int bi = -1;
  sscor_geometry_to_frame(ix->g, x, y, &u, &v);
  double fu = floor((u - ix->u0) / ix->c), fv = floor((v - ix->v0) / ix->c);
  fu = fmax(-1e6, fmin(fu, 2e6));
  fv = fmax(-1e6, fmin(fv, 2e6));
  int qu = (int)fu, qv = (int)fv;
  int rmin = 0, rmax = 0;
  int d[4] = {-qu, qu - (ix->ncu - 1), -qv, qv - (ix->ncv - 1)};
  for (int k = 0; k < 4; k++) {
    if (d[k] > rmin) rmin = d[k];
    if (abs(d[k]) > rmax) rmax = abs(d[k]);
  }
  for (int r = rmin; r <= rmax; r++) {
    if (r >= 1 && best <= (r - 1) * ix->c * 0.999) break;
    for (int cv = qv - r; cv <= qv + r; cv++) {
      if (cv < 0 || cv >= ix->ncv) continue;
      int edge = cv == qv - r || cv == qv + r, step = edge ? 1 : 2 * r;
      for (int cu = qu - r; cu <= qu + r; cu += step > 0 ? step : 1) {
        if (cu < 0 || cu >= ix->ncu) continue;
        size_t k = (size_t)cv * ix->ncu + cu;
        for (int j = ix->start[k]; j < ix->start[k + 1]; j++) {
          int i = ix->list[j];
          double dd = seam_dist(&ix->seams[i], u, v);
          if (dd < best || (dd == best && i < bi)) {
            best = dd;
            bi = i;
          }
        }
      }
    }
  }
  if (nearest) *nearest = bi;
  return best;
}

int sscor_geometry_tiles_at(const sscor_geometry *g, double x, double y, int *idx, int max) {
  double u, v;
  int k = 0;
  sscor_geometry_to_frame(g, x, y, &u, &v);
  for (int i = 0; i < g->n_tiles && k < max; i++) {
    const sscor_tile *t = &g->tiles[i];
    if (u >= t->x && u < t->x + t->w && v >= t->y && v < t->y + t->h) idx[k++] = i;
  }
  return k;
}

int sscor_geometry_in_artifact(const sscor_geometry *g, int x, int y) {
  for (int i = 0; i < g->n_regions; i++) {
    const sscor_region *r = &g->regions[i];
    if (x >= r->x && x < r->x + r->w && y >= r->y && y < r->y + r->h) return 1;
  }
  if (g->mask.data && x >= 0 && y >= 0 && x < g->mask.width && y < g->mask.height)
    return sscor_image_get(&g->mask, x, y, 0) != 0.0f;
  return 0;
}

static const char *orient_names[] = {"none", "vertical", "horizontal", "grid"};
static const char *kind_names[] = {"other", "focus", "bubble", "fringe"};

const char *sscor_orientation_name(sscor_orientation o) {
  return (unsigned)o < 4 ? orient_names[o] : "unknown";
}

/* ---- text form ---------------------------------------------------------- */

typedef struct {
  char *p;
  size_t len, cap;
  int failed;
} strbuf;

static void sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(strbuf *b, const char *fmt, ...) {
  if (b->failed) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0) {
      b->failed = 1;
      return;
    }
    if ((size_t)n < b->cap - b->len) {
      b->len += (size_t)n;
      return;
    }
    size_t nc = b->cap * 2 + (size_t)n + 64;
    char *q = realloc(b->p, nc);
    if (!q) {
      b->failed = 1;
      return;
    }
    b->p = q;
    b->cap = nc;
  }
}

sscor_status sscor_geometry_format(const sscor_geometry *g, char **text) {
  strbuf b = {malloc(256), 0, 256, 0};
  if (!b.p) return sscor_fail(SSCOR_E_NOMEM, "geometry: out of memory");
  b.p[0] = 0;
  sb_printf(&b, "sscor-geometry 1\n");
  sb_printf(&b, "# tiles are axis-aligned in a frame rotated by `angle` degrees about the image\n"
                "# centre; tile X Y = top-left corner in that frame, seams = tile edges\n");
  sb_printf(&b, "image %d %d\n", g->width, g->height);
  sb_printf(&b, "orientation %s\n", sscor_orientation_name(g->orientation));
  sb_printf(&b, "angle %.4f\n", g->angle_deg);
  if (g->tile_w > 0 && g->tile_h > 0) sb_printf(&b, "tile-size %d %d\n", g->tile_w, g->tile_h);
  for (int i = 0; i < g->n_tiles; i++) {
    const sscor_tile *t = &g->tiles[i];
    if (t->w == g->tile_w && t->h == g->tile_h)
      sb_printf(&b, "tile %.2f %.2f\n", t->x, t->y);
    else
      sb_printf(&b, "tile %.2f %.2f %d %d\n", t->x, t->y, t->w, t->h);
  }
  for (int i = 0; i < g->n_seams; i++) {
    const sscor_seam *s = &g->seams[i];
    sb_printf(&b, "seam %c %.2f %.2f %.2f\n", s->vertical ? 'v' : 'h', s->pos, s->from, s->to);
  }
  for (int i = 0; i < g->n_regions; i++) {
    const sscor_region *r = &g->regions[i];
    sb_printf(&b, "region %d %d %d %d %s\n", r->x, r->y, r->w, r->h,
              (unsigned)r->kind < 4 ? kind_names[r->kind] : "other");
  }
  if (g->mask_path) sb_printf(&b, "mask %s\n", g->mask_path);
  if (b.failed) {
    free(b.p);
    return sscor_fail(SSCOR_E_NOMEM, "geometry: out of memory formatting the text form");
  }
  *text = b.p;
  return SSCOR_OK;
}

/* Parses one number token; refuses trailing junk, non-finite values. */
static int num(const char *tok, double *v) {
  if (!tok) return 0;
  char *end;
  errno = 0;
  *v = strtod(tok, &end);
  return end != tok && *end == 0 && errno == 0 && isfinite(*v);
}

static int inum(const char *tok, int *v) {
  double d;
  if (!num(tok, &d) || d != floor(d) || fabs(d) > 2e9) return 0;
  *v = (int)d;
  return 1;
}

int sscor_geometry_max_tiles(int width, int height) {
  long n = 4L * (width / SSCOR_GEOMETRY_MIN_TILE + 2) * (height / SSCOR_GEOMETRY_MIN_TILE + 2);
  return n > 100000000L ? 100000000 : (int)n;
}

int sscor_geometry_max_seams(int width, int height) { return 4 * (width + height); }

/* NULL when w x h is a usable tile size, else what is wrong with it. */
static const char *tile_size_problem(int w, int h, char *buf, size_t n) {
  if (w <= 0 || h <= 0)
    snprintf(buf, n, "tile size %dx%d is not positive", w, h);
  else if (w < SSCOR_GEOMETRY_MIN_TILE || h < SSCOR_GEOMETRY_MIN_TILE)
    snprintf(buf, n, "tile size %dx%d is below the %d-px minimum", w, h, SSCOR_GEOMETRY_MIN_TILE);
  else if (w > SSCOR_IMAGE_MAX_SIDE || h > SSCOR_IMAGE_MAX_SIDE)
    snprintf(buf, n, "tile size %dx%d is over the %d-px limit", w, h, SSCOR_IMAGE_MAX_SIDE);
  else
    return NULL;
  return buf;
}

#define PFAIL(...)                                                                     \
  do {                                                                                 \
    char m_[512];                                                                      \
    snprintf(m_, sizeof m_, __VA_ARGS__);                                              \
    st = sscor_fail(SSCOR_E_FORMAT, "%s:%d: %s", name, lineno, m_);                    \
    goto done;                                                                         \
  } while (0)
/* Field i of the record as a number, or a message naming it. */
#define NUM(i, what, var)                                                              \
  if (!num(tok[i], &(var))) PFAIL("%s \"%s\" is not a finite number", what, tok[i])
#define INUM(i, what, var)                                                             \
  if (!inum(tok[i], &(var)))                                                           \
  PFAIL("%s \"%s\" is not a whole number (within +-2e9)", what, tok[i])

sscor_status sscor_geometry_parse(const char *text, const char *name, sscor_geometry *g) {
  sscor_status st = SSCOR_OK;
  memset(g, 0, sizeof *g);
  char *copy = strdup(text);
  if (!copy) return sscor_fail(SSCOR_E_NOMEM, "%s: out of memory", name);
  int lineno = 0, have_header = 0, have_image = 0, tw = 0, th = 0;
  char why[160];
  char *save_line = NULL;
  /* strtok_r skips empty lines, so count lines by hand. */
  char *line = copy;
  while (line) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = 0;
    lineno++;
    char *hash = strchr(line, '#');
    if (hash) *hash = 0;
    char *tok[8];
    int nt = 0;
    for (char *t = strtok_r(line, " \t\r", &save_line); t; t = strtok_r(NULL, " \t\r", &save_line))
      if (nt < 8) tok[nt++] = t;
      else PFAIL("too many fields");
    for (int i = nt; i < 8; i++) tok[i] = NULL;
    if (nt == 0) goto next;
    if (!have_header) {
      int ver;
      if (strcmp(tok[0], "sscor-geometry") != 0)
        PFAIL("not a geometry file: expected \"sscor-geometry 1\" first, found \"%s\"", tok[0]);
      if (nt != 2 || !inum(tok[1], &ver)) PFAIL("expected \"sscor-geometry VERSION\"");
      if (ver != 1) PFAIL("unsupported geometry format version %d (this build reads 1)", ver);
      have_header = 1;
      goto next;
    }
    if (strcmp(tok[0], "image") == 0) {
      int w, h;
      if (have_image) PFAIL("second \"image\" record");
      if (nt != 3) PFAIL("expected \"image WIDTH HEIGHT\"");
      INUM(1, "image width", w);
      INUM(2, "image height", h);
      if (sscor_geometry_init(g, w, h))
        PFAIL("image size %dx%d is out of range (1..%d)", w, h, SSCOR_IMAGE_MAX_SIDE);
      have_image = 1;
      goto next;
    }
    if (!have_image) PFAIL("\"%s\" before the \"image W H\" record", tok[0]);
    if (strcmp(tok[0], "orientation") == 0) {
      int o = -1;
      for (int i = 0; i < 4 && nt == 2; i++)
        if (strcmp(tok[1], orient_names[i]) == 0) o = i;
      if (o < 0) PFAIL("expected \"orientation none|vertical|horizontal|grid\"");
      g->orientation = (sscor_orientation)o;
    } else if (strcmp(tok[0], "angle") == 0) {
      double a;
      if (nt != 2) PFAIL("expected \"angle DEGREES\"");
      NUM(1, "angle", a);
      if (fabs(a) > 45.0) PFAIL("angle %g is out of range (-45..45 degrees)", a);
      g->angle_deg = a;
    } else if (strcmp(tok[0], "tile-size") == 0) {
      if (nt != 3) PFAIL("expected \"tile-size WIDTH HEIGHT\"");
      INUM(1, "tile-size width", tw);
      INUM(2, "tile-size height", th);
      if (tile_size_problem(tw, th, why, sizeof why)) PFAIL("%s", why);
      g->tile_w = tw;
      g->tile_h = th;
    } else if (strcmp(tok[0], "tile") == 0) {
      double x, y;
      int w = tw, h = th;
      if (nt != 3 && nt != 5) PFAIL("expected \"tile X Y [W H]\"");
      NUM(1, "tile X", x);
      NUM(2, "tile Y", y);
      if (nt == 5) {
        INUM(3, "tile width", w);
        INUM(4, "tile height", h);
      } else if (w == 0 && h == 0) {
        PFAIL("tile without a size: give \"tile-size W H\" first or W H here");
      }
      if (tile_size_problem(w, h, why, sizeof why)) PFAIL("%s", why);
      if (fabs(x) > SSCOR_IMAGE_MAX_SIDE || fabs(y) > SSCOR_IMAGE_MAX_SIDE)
        PFAIL("tile position %g,%g is out of range (-%d..%d)", x, y, SSCOR_IMAGE_MAX_SIDE,
              SSCOR_IMAGE_MAX_SIDE);
      if (x + w <= 0 || y + h <= 0 || x >= g->width || y >= g->height)
        PFAIL("tile %g,%g size %dx%d lies outside the %dx%d image", x, y, w, h, g->width,
              g->height);
      if (g->n_tiles >= sscor_geometry_max_tiles(g->width, g->height))
        PFAIL("more tiles than a %dx%d image can hold: at most %d (tiles of %d px or more, 4 "
              "deep)",
              g->width, g->height, sscor_geometry_max_tiles(g->width, g->height),
              SSCOR_GEOMETRY_MIN_TILE);
      if (sscor_geometry_add_tile(g, x, y, w, h)) PFAIL("%s", sscor_last_error());
    } else if (strcmp(tok[0], "seam") == 0) {
      double p, a, b;
      if (nt != 5 || (strcmp(tok[1], "v") && strcmp(tok[1], "h")))
        PFAIL("expected \"seam v|h POSITION FROM TO\"");
      NUM(2, "seam position", p);
      NUM(3, "seam start", a);
      NUM(4, "seam end", b);
      if (b <= a) PFAIL("seam extent %g..%g is empty", a, b);
      /* shorter seams are no seam, and would not survive the text form's 0.01 px */
      if (b - a < 1) PFAIL("seam extent %g..%g is shorter than 1 px", a, b);
      if (fabs(p) > SSCOR_IMAGE_MAX_SIDE || fabs(a) > SSCOR_IMAGE_MAX_SIDE ||
          fabs(b) > SSCOR_IMAGE_MAX_SIDE)
        PFAIL("seam %g from %g to %g is out of range (-%d..%d)", p, a, b, SSCOR_IMAGE_MAX_SIDE,
              SSCOR_IMAGE_MAX_SIDE);
      if (g->n_seams >= sscor_geometry_max_seams(g->width, g->height))
        PFAIL("more seams than a %dx%d image can hold: at most %d", g->width, g->height,
              sscor_geometry_max_seams(g->width, g->height));
      if (sscor_geometry_add_seam(g, tok[1][0] == 'v', p, a, b)) PFAIL("%s", sscor_last_error());
    } else if (strcmp(tok[0], "region") == 0) {
      int x, y, w, h, kind = 0;
      if (nt != 5 && nt != 6) PFAIL("expected \"region X Y W H [focus|bubble|fringe|other]\"");
      INUM(1, "region X", x);
      INUM(2, "region Y", y);
      INUM(3, "region width", w);
      INUM(4, "region height", h);
      if (g->n_regions >= sscor_geometry_max_tiles(g->width, g->height))
        PFAIL("more regions than a %dx%d image can hold: at most %d", g->width, g->height,
              sscor_geometry_max_tiles(g->width, g->height));
      if (nt == 6) {
        kind = -1;
        for (int i = 0; i < 4; i++)
          if (strcmp(tok[5], kind_names[i]) == 0) kind = i;
        if (kind < 0) PFAIL("unknown region kind \"%s\" (focus, bubble, fringe, other)", tok[5]);
      }
      if (sscor_geometry_add_region(g, x, y, w, h, (sscor_artifact_kind)kind))
        PFAIL("%s", sscor_last_error());
    } else if (strcmp(tok[0], "mask") == 0) {
      if (nt != 2) PFAIL("expected \"mask PATH\" (no spaces in the path)");
      free(g->mask_path);
      if (!(g->mask_path = strdup(tok[1]))) PFAIL("out of memory");
    } else {
      PFAIL("unknown record \"%s\"", tok[0]);
    }
  next:
    line = nl ? nl + 1 : NULL;
  }
  if (!have_header) {
    lineno = 1;
    PFAIL("empty file: expected \"sscor-geometry 1\"");
  }
  if (!have_image) PFAIL("no \"image WIDTH HEIGHT\" record");
  if (g->orientation == SSCOR_ORIENT_NONE && g->n_tiles > 1)
    PFAIL("%d tiles but orientation none: say vertical, horizontal or grid", g->n_tiles);
done:
  free(copy);
  if (st) sscor_geometry_free(g);
  return st;
}

sscor_status sscor_geometry_write(const sscor_geometry *g, const char *path) {
  char *text;
  sscor_status st = sscor_geometry_format(g, &text);
  if (st) return st;
  st = sscor_write_file_atomic(path, (const uint8_t *)text, strlen(text));
  free(text);
  return st;
}

sscor_status sscor_geometry_read(const char *path, sscor_geometry *g) {
  memset(g, 0, sizeof *g);
  FILE *f = fopen(path, "rb");
  if (!f) return sscor_fail(SSCOR_E_IO, "%s: cannot open: %s", path, strerror(errno));
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  sscor_status st = SSCOR_OK;
  while (buf) {
    if (len + 1 >= cap) {
      if (cap > ((size_t)64 << 20)) {
        st = sscor_fail(SSCOR_E_FORMAT, "%s: larger than 64 MiB: not a geometry file", path);
        break;
      }
      char *q = realloc(buf, cap * 2);
      if (!q) break;
      buf = q;
      cap *= 2;
    }
    size_t r = fread(buf + len, 1, cap - 1 - len, f);
    len += r;
    if (r == 0) break;
  }
  int err = ferror(f);
  fclose(f);
  if (!buf) return sscor_fail(SSCOR_E_NOMEM, "%s: out of memory", path);
  if (!st && err) st = sscor_fail(SSCOR_E_IO, "%s: read error", path);
  if (!st && memchr(buf, 0, len))
    st = sscor_fail(SSCOR_E_FORMAT, "%s: binary data: not a geometry file", path);
  if (!st) {
    buf[len] = 0;
    st = sscor_geometry_parse(buf, path, g);
  }
  free(buf);
  return st;
}
