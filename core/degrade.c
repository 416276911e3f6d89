#include "degrade.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"

#define MAX_DEG 16

/* ------------------------------------------------------------- random */

typedef struct {
  uint64_t s;
} rng_t;

static uint64_t rng_next(rng_t *r) {
  uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static double rng_uniform(rng_t *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }
static double rng_range(rng_t *r, double a, double b) { return a + (b - a) * rng_uniform(r); }
static double rng_normal(rng_t *r) {
  double u = rng_uniform(r), v = rng_uniform(r);
  return sqrt(-2.0 * log(u + 1e-300)) * cos(2 * M_PI * v);
}
/* A generator for one tile/lattice cell, independent of evaluation order. */
static rng_t rng_at(uint64_t seed, int64_t i, int64_t j, uint64_t salt) {
  rng_t r = {seed ^ (salt * 0xD1B54A32D192ED03ull)};
  r.s ^= rng_next(&r) + (uint64_t)i * 0x9E3779B97F4A7C15ull;
  r.s ^= rng_next(&r) + (uint64_t)j * 0xC2B2AE3D27D4EB4Full;
  rng_next(&r);
  return r;
}

static double smoothstep(double a, double b, double x) {
  if (x <= a) return 0;
  if (x >= b) return 1;
  double t = (x - a) / (b - a);
  return t * t * (3 - 2 * t);
}

/* -------------------------------------------------------------- kinds */

static const char *kind_names[SSCOR_DEG_NKINDS] = {
    "stripes-regular", "stripes-gaussian", "stripes-angled", "tile-uniform", "tile-varying",
    "oblique",         "seams",            "defocus",        "bubble",       "fringe"};

const char *sscor_degrade_kind_name(sscor_deg_kind kind) {
  return kind >= 0 && kind < SSCOR_DEG_NKINDS ? kind_names[kind] : "unknown";
}

sscor_status sscor_degrade_kind_from_name(const char *name, sscor_deg_kind *kind) {
  for (int k = 0; k < SSCOR_DEG_NKINDS; k++)
    if (!strcmp(name, kind_names[k])) {
      *kind = (sscor_deg_kind)k;
      return SSCOR_OK;
    }
  char list[512] = "";
  for (int k = 0; k < SSCOR_DEG_NKINDS; k++) {
    strcat(list, kind_names[k]);
    if (k + 1 < SSCOR_DEG_NKINDS) strcat(list, ", ");
  }
  return sscor_fail(SSCOR_E_INVALID, "unknown degradation '%s' (known: %s)", name, list);
}

sscor_degradation sscor_degrade_default(sscor_deg_kind kind) {
  return (sscor_degradation){.kind = kind,
                             .strength = NAN,
                             .additive = 0,
                             .level = 0,
                             .period = NAN,
                             .width = NAN,
                             .length = NAN,
                             .phase = NAN,
                             .angle = NAN,
                             .radius = NAN,
                             .count = -1,
                             .tile_w = -1,
                             .tile_h = -1,
                             .offset_x = 0,
                             .offset_y = 0,
                             .vary = -1,
                             .seed = 1};
}

static int has_grid(sscor_deg_kind k) {
  return k == SSCOR_DEG_TILE_UNIFORM || k == SSCOR_DEG_TILE_VARYING || k == SSCOR_DEG_OBLIQUE ||
         k == SSCOR_DEG_SEAMS;
}
static int is_stripes(sscor_deg_kind k) {
  return k == SSCOR_DEG_STRIPES_REGULAR || k == SSCOR_DEG_STRIPES_GAUSSIAN ||
         k == SSCOR_DEG_STRIPES_ANGLED;
}

#define DEF(field, value) \
  if (isnan(d->field)) d->field = (value)

sscor_status sscor_degrade_resolve(sscor_degradation *d, int W, int H) {
  if (d->kind < 0 || d->kind >= SSCOR_DEG_NKINDS)
    return sscor_fail(SSCOR_E_INVALID, "unknown degradation kind %d", (int)d->kind);
  if (W <= 0 || H <= 0) return sscor_fail(SSCOR_E_INVALID, "degrade: image size %dx%d", W, H);
  const char *name = kind_names[d->kind];
  static const double strengths[SSCOR_DEG_NKINDS] = {0.3, 0.4, 0.4, 0.35, 0.35,
                                                     0.35, 0.3, 0.6, 0.8, 0.15};
  int m = W < H ? W : H;
  DEF(strength, strengths[d->kind]);
  DEF(phase, 0.0);
  DEF(angle, d->kind == SSCOR_DEG_STRIPES_ANGLED ? 10.0 : d->kind == SSCOR_DEG_OBLIQUE ? 3.0 : 0.0);
  DEF(period, d->kind == SSCOR_DEG_FRINGE ? 6.0 : 16.0);
  DEF(width, d->kind == SSCOR_DEG_SEAMS ? 0.05 : d->kind == SSCOR_DEG_STRIPES_REGULAR ? 2.0 : 1.5);
  DEF(length, W / 4.0);
  DEF(radius, d->kind == SSCOR_DEG_BUBBLE ? m / 10.0 : m / 8.0);
  if (d->count < 0)
    d->count = d->kind == SSCOR_DEG_DEFOCUS ? 2 : d->kind == SSCOR_DEG_BUBBLE ? 1 : (H / 12 > 1 ? H / 12 : 1);
  if (d->tile_w < 0) d->tile_w = d->tile_h > 0 ? d->tile_h : 128;
  if (d->tile_h < 0) d->tile_h = d->tile_w;
  if (d->vary < 0) d->vary = d->kind == SSCOR_DEG_TILE_VARYING || d->kind == SSCOR_DEG_OBLIQUE;
  if (d->kind != SSCOR_DEG_SEAMS && d->kind != SSCOR_DEG_STRIPES_REGULAR &&
      d->kind != SSCOR_DEG_STRIPES_GAUSSIAN && d->kind != SSCOR_DEG_STRIPES_ANGLED &&
      !(d->strength >= 0 && d->strength <= 1))
    return sscor_fail(SSCOR_E_INVALID, "%s: strength %g must be in 0..1", name, d->strength);
  if (!(d->strength >= -1 && d->strength <= 1))
    return sscor_fail(SSCOR_E_INVALID, "%s: strength %g must be in -1..1", name, d->strength);
  if (!(fabs(d->additive) <= 10) || !(d->level >= 0 && d->level < 1e30))
    return sscor_fail(SSCOR_E_INVALID, "%s: additive %g or level %g out of range", name,
                      d->additive, d->level);
  if (!(d->period >= 1 && d->period <= 1e6))
    return sscor_fail(SSCOR_E_INVALID, "%s: period %g must be in 1..1e6 px", name, d->period);
  /* wider stripes merge into one band; each pixel then sums width/period of them */
  if (d->kind == SSCOR_DEG_STRIPES_REGULAR && !(d->width <= 4 * d->period))
    return sscor_fail(SSCOR_E_INVALID, "%s: width %g must be at most 4 periods (%g px)", name,
                      d->width, 4 * d->period);
  if (d->kind == SSCOR_DEG_SEAMS) {
    if (!(d->width >= 0 && d->width <= 0.5))
      return sscor_fail(SSCOR_E_INVALID, "seams: width %g must be a fraction of the tile in 0..0.5",
                        d->width);
  } else if (!(d->width > 0 && d->width <= 1e5)) {
    return sscor_fail(SSCOR_E_INVALID, "%s: width %g must be in (0, 1e5] px", name, d->width);
  }
  if (!(d->length > 0 && d->length <= 1e7))
    return sscor_fail(SSCOR_E_INVALID, "%s: length %g must be positive", name, d->length);
  if (!isfinite(d->phase) || !(fabs(d->angle) <= 90))
    return sscor_fail(SSCOR_E_INVALID, "%s: angle %g must be in -90..90 degrees", name, d->angle);
  if (!(d->radius >= 1 && d->radius <= 1e6))
    return sscor_fail(SSCOR_E_INVALID, "%s: radius %g must be in 1..1e6 px", name, d->radius);
  /* more than one stripe or region per 16 pixels only piles them up, at a cost per pixel each */
  int64_t max_count = (int64_t)W * H / 16 > 100000 ? 100000 : (int64_t)W * H / 16;
  if (max_count < 1) max_count = 1;
  if (d->count < 1 || d->count > max_count)
    return sscor_fail(SSCOR_E_INVALID, "%s: count %d must be in 1..%lld for a %dx%d image", name,
                      d->count, (long long)max_count, W, H);
  if (d->tile_w < 4 || d->tile_h < 4 || d->tile_w > SSCOR_IMAGE_MAX_SIDE ||
      d->tile_h > SSCOR_IMAGE_MAX_SIDE)
    return sscor_fail(SSCOR_E_INVALID, "%s: tile size %dx%d must be at least 4 px", name,
                      d->tile_w, d->tile_h);
  if (abs(d->offset_x) > SSCOR_IMAGE_MAX_SIDE || abs(d->offset_y) > SSCOR_IMAGE_MAX_SIDE)
    return sscor_fail(SSCOR_E_INVALID, "%s: grid offset out of range", name);
  return SSCOR_OK;
}

/* ------------------------------------------------------------ parsing */

static sscor_status parse_num(const char *kind, const char *key, const char *val, double *out) {
  char *end;
  errno = 0;
  double v = strtod(val, &end);
  if (end == val || *end || errno || !isfinite(v))
    return sscor_fail(SSCOR_E_INVALID, "%s: %s=%s is not a number", kind, key, val);
  *out = v;
  return SSCOR_OK;
}

static sscor_status parse_int(const char *kind, const char *key, const char *val, int *out) {
  double v;
  sscor_status st = parse_num(kind, key, val, &v);
  if (st) return st;
  if (v != floor(v) || fabs(v) > 2e9)
    return sscor_fail(SSCOR_E_INVALID, "%s: %s=%s must be an integer", kind, key, val);
  *out = (int)v;
  return SSCOR_OK;
}

static sscor_status set_param(sscor_degradation *d, const char *key, const char *val) {
  const char *k = kind_names[d->kind];
  struct {
    const char *name;
    double *field;
  } dbl[] = {{"strength", &d->strength}, {"additive", &d->additive}, {"level", &d->level},
             {"period", &d->period},     {"width", &d->width},       {"length", &d->length},
             {"phase", &d->phase},       {"angle", &d->angle},       {"radius", &d->radius}};
  for (size_t i = 0; i < sizeof dbl / sizeof dbl[0]; i++)
    if (!strcmp(key, dbl[i].name)) return parse_num(k, key, val, dbl[i].field);
  struct {
    const char *name;
    int *field;
  } ints[] = {{"count", &d->count},       {"tile-w", &d->tile_w},     {"tile-h", &d->tile_h},
              {"offset-x", &d->offset_x}, {"offset-y", &d->offset_y}, {"vary", &d->vary}};
  for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
    if (!strcmp(key, ints[i].name)) return parse_int(k, key, val, ints[i].field);
  if (!strcmp(key, "tile")) {
    sscor_status st = parse_int(k, key, val, &d->tile_w);
    d->tile_h = d->tile_w;
    return st;
  }
  if (!strcmp(key, "seed")) {
    char *end;
    errno = 0;
    unsigned long long s = strtoull(val, &end, 10);
    if (end == val || *end || errno || val[0] == '-')
      return sscor_fail(SSCOR_E_INVALID, "%s: seed=%s must be a non-negative integer", k, val);
    d->seed = s;
    return SSCOR_OK;
  }
  return sscor_fail(SSCOR_E_INVALID,
                    "%s: unknown parameter '%s' (known: strength, additive, level, period, width, "
                    "length, phase, angle, radius, count, tile, tile-w, tile-h, offset-x, "
                    "offset-y, vary, seed)",
                    k, key);
}

static char *trim(char *s) {
  while (isspace((unsigned char)*s)) s++;
  char *e = s + strlen(s);
  while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
  return s;
}

sscor_status sscor_degrade_parse(const char *spec, sscor_degradation *out, int max, int *n) {
  if (!spec) return sscor_fail(SSCOR_E_INVALID, "no degradation given");
  char *copy = strdup(spec);
  if (!copy) return sscor_fail(SSCOR_E_NOMEM, "out of memory");
  sscor_status st = SSCOR_OK;
  int count = 0;
  char *save1, *item = strtok_r(copy, ";", &save1);
  for (; item && !st; item = strtok_r(NULL, ";", &save1)) {
    item = trim(item);
    if (!*item) continue;
    if (count >= max) {
      st = sscor_fail(SSCOR_E_INVALID, "too many degradations (at most %d)", max);
      break;
    }
    char *params = strchr(item, ':');
    if (params) *params++ = 0;
    sscor_deg_kind kind = SSCOR_DEG_STRIPES_REGULAR;
    if ((st = sscor_degrade_kind_from_name(trim(item), &kind))) break;
    sscor_degradation d = sscor_degrade_default(kind);
    if (params) {
      char *save2, *kv = strtok_r(params, ",", &save2);
      for (; kv && !st; kv = strtok_r(NULL, ",", &save2)) {
        char *eq = strchr(kv, '=');
        if (!eq) {
          st = sscor_fail(SSCOR_E_INVALID, "%s: '%s' is not key=value", kind_names[kind], trim(kv));
          break;
        }
        *eq = 0;
        st = set_param(&d, trim(kv), trim(eq + 1));
      }
    }
    if (!st) out[count++] = d;
  }
  free(copy);
  if (!st && count == 0) st = sscor_fail(SSCOR_E_INVALID, "no degradation in '%s'", spec);
  if (!st) *n = count;
  return st;
}

/* -------------------------------------------------------------- plans */

typedef struct {
  int block, kind;
  double cx, cy, r, edge, sigma;
} region_t;

typedef struct {
  int block;
  double xc, yc, angle, across, along, amp;
} stripe_t;

struct sscor_degrade_plan {
  int w, h, n;
  sscor_degradation d[MAX_DEG];
  float *gain, *offset;
  double level;
  region_t *reg;
  int nreg, cap_reg;
  stripe_t *str;
  int nstr, cap_str;
};

const float *sscor_degrade_plan_gain(const sscor_degrade_plan *p) { return p->gain; }
const float *sscor_degrade_plan_offset(const sscor_degrade_plan *p) { return p->offset; }

void sscor_degrade_plan_free(sscor_degrade_plan *p) {
  if (!p) return;
  free(p->gain);
  free(p->offset);
  free(p->reg);
  free(p->str);
  free(p);
}

/* Image -> grid coordinates: the grid is rotated by angle about (cx, cy). */
typedef struct {
  double ca, sa, cx, cy;
} frame_t;

static frame_t make_frame(double angle_deg, int w, int h) {
  double a = angle_deg * M_PI / 180;
  return (frame_t){cos(a), sin(a), w / 2.0, h / 2.0};
}
static void to_grid(const frame_t *f, double x, double y, double *u, double *v) {
  double dx = x - f->cx, dy = y - f->cy;
  *u = dx * f->ca - dy * f->sa + f->cx;
  *v = dx * f->sa + dy * f->ca + f->cy;
}
static void to_image(const frame_t *f, double u, double v, double *x, double *y) {
  double du = u - f->cx, dv = v - f->cy;
  *x = f->cx + du * f->ca + dv * f->sa;
  *y = f->cy - du * f->sa + dv * f->ca;
}

typedef struct {
  double depth, cu, cv, exposure;
} tile_params;

static tile_params tile_at(const sscor_degradation *d, int64_t i, int64_t j) {
  rng_t r = d->vary ? rng_at(d->seed, i, j, 11) : rng_at(d->seed, 0, 0, 11);
  tile_params t;
  t.cu = 0.5 + rng_range(&r, -0.1, 0.1);
  t.cv = 0.5 + rng_range(&r, -0.1, 0.1);
  t.depth = d->vary ? d->strength * rng_range(&r, 0.5, 1.5) : d->strength;
  t.exposure = d->vary ? 1 + d->strength * rng_range(&r, -0.3, 0.3) : 1.0;
  return t;
}

/* Width in px of the seams kind's overlap band (at least one pixel). */
static double seam_band(const sscor_degradation *d) {
  double bw = rint(d->width * (d->tile_w < d->tile_h ? d->tile_w : d->tile_h));
  return bw < 1 ? 1 : bw;
}

static void field_tiles(const sscor_degradation *d, int W, int H, float *G, float *D) {
  frame_t f = make_frame(d->angle, W, H);
  double tw = d->tile_w, th = d->tile_h, umin = INFINITY, vmin = INFINITY;
  for (int c = 0; c < 4; c++) {
    double u, v;
    to_grid(&f, (c & 1) ? W : 0, (c & 2) ? H : 0, &u, &v);
    umin = fmin(umin, u), vmin = fmin(vmin, v);
  }
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) {
      double u, v;
      to_grid(&f, x + 0.5, y + 0.5, &u, &v);
      double fu = (u - d->offset_x) / tw, fv = (v - d->offset_y) / th;
      int64_t i = (int64_t)floor(fu), j = (int64_t)floor(fv);
      double lu = fu - i, lv = fv - j;
      size_t k = (size_t)y * W + x;
      if (d->kind == SSCOR_DEG_SEAMS) {
        /* The overlap band: the first bw px of every tile, where it overlaps
         * its left/upper neighbour, is off by a gain with sharp edges. */
        /* No band where the grid line is the image's own border (no neighbour). */
        double bw = seam_band(d), g = 1, a = 0;
        if (lu * tw < bw && u - lu * tw > umin + 0.5) g *= 1 - d->strength, a = 1;
        if (lv * th < bw && v - lv * th > vmin + 0.5) g *= 1 - d->strength, a = 1;
        G[k] *= (float)g;
        D[k] += (float)(d->additive * a);
        continue;
      }
      tile_params t = tile_at(d, i, j);
      double r2 = ((lu - t.cu) * (lu - t.cu) + (lv - t.cv) * (lv - t.cv)) / 0.5;
      double g = t.exposure * (1 - t.depth * r2);
      G[k] *= (float)(g > 0.02 ? g : 0.02);
      D[k] += (float)(d->additive * (0.75 + 0.25 * lu));
    }
}

static sscor_status add_stripe(sscor_degrade_plan *p, stripe_t s) {
  if (p->nstr == p->cap_str) {
    int cap = p->cap_str ? 2 * p->cap_str : 64;
    stripe_t *n = realloc(p->str, sizeof *n * (size_t)cap);
    if (!n) return sscor_fail(SSCOR_E_NOMEM, "degrade: out of memory");
    p->str = n, p->cap_str = cap;
  }
  p->str[p->nstr++] = s;
  return SSCOR_OK;
}

static sscor_status add_region(sscor_degrade_plan *p, region_t r) {
  if (p->nreg == p->cap_reg) {
    int cap = p->cap_reg ? 2 * p->cap_reg : 16;
    region_t *n = realloc(p->reg, sizeof *n * (size_t)cap);
    if (!n) return sscor_fail(SSCOR_E_NOMEM, "degrade: out of memory");
    p->reg = n, p->cap_reg = cap;
  }
  p->reg[p->nreg++] = r;
  return SSCOR_OK;
}

static sscor_status field_stripes(sscor_degrade_plan *p, int b, float *G, float *D) {
  const sscor_degradation *d = &p->d[b];
  int W = p->w, H = p->h;
  double a = d->angle * M_PI / 180, sa = sin(a), ca = cos(a), cx = W / 2.0, cy = H / 2.0;
  sscor_status st;
  if (d->kind == SSCOR_DEG_STRIPES_REGULAR) {
    /* Across-coordinate q = y for angle 0; stripes where q - phase is a multiple of period. */
    int reach = (int)ceil(4 * d->width / d->period) + 1;
    for (int y = 0; y < H; y++)
      for (int x = 0; x < W; x++) {
        double q = (x + 0.5 - cx) * sa + (y + 0.5 - cy) * ca + cy - 0.5 - d->phase;
        double k0 = floor(q / d->period + 0.5), s = 0;
        for (int k = -reach; k <= reach; k++) {
          double dq = q - (k0 + k) * d->period;
          s += exp(-dq * dq / (2 * d->width * d->width));
        }
        double g = 1 - d->strength * s;
        size_t i = (size_t)y * W + x;
        G[i] *= (float)(g > 0.02 ? g : 0.02);
        D[i] += (float)(d->additive * fmin(s, 1));
      }
    /* Truth: each stripe line crossing the image, given by its point at x = cx. */
    double qmin = INFINITY, qmax = -INFINITY;
    for (int c = 0; c < 4; c++) {
      double x = (c & 1) ? W : 0, y = (c & 2) ? H : 0;
      double q = (x - cx) * sa + (y - cy) * ca + cy - 0.5 - d->phase;
      qmin = fmin(qmin, q), qmax = fmax(qmax, q);
    }
    for (double k = ceil(qmin / d->period); k * d->period <= qmax; k++) {
      double q = k * d->period + d->phase + 0.5 - cy; /* (y - cy) * ca at x = cx */
      if ((st = add_stripe(p, (stripe_t){b, cx, cy + q / ca, d->angle, d->width, 0, d->strength})))
        return st;
    }
    return SSCOR_OK;
  }
  /* Anisotropic Gaussian stripes: direction (ca, -sa), normal (sa, ca). */
  rng_t r = rng_at(d->seed, 0, 0, 23);
  for (int i = 0; i < d->count; i++) {
    stripe_t s = {b, rng_range(&r, 0, W), rng_range(&r, 0, H), d->angle,
                  d->width * rng_range(&r, 0.7, 1.3), d->length * rng_range(&r, 0.5, 1.5),
                  rng_range(&r, 0.5, 1.0) * d->strength};
    if ((st = add_stripe(p, s))) return st;
    double ea = 4 * s.along, ec = 4 * s.across;
    double hx = fabs(ca) * ea + fabs(sa) * ec, hy = fabs(sa) * ea + fabs(ca) * ec;
    int x0 = (int)floor(s.xc - hx), x1 = (int)ceil(s.xc + hx), y0 = (int)floor(s.yc - hy),
        y1 = (int)ceil(s.yc + hy);
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > W) x1 = W;
    if (y1 > H) y1 = H;
    for (int y = y0; y < y1; y++)
      for (int x = x0; x < x1; x++) {
        double dx = x + 0.5 - s.xc, dy = y + 0.5 - s.yc;
        double along = dx * ca - dy * sa, across = dx * sa + dy * ca;
        double g = exp(-across * across / (2 * s.across * s.across) -
                       along * along / (2 * s.along * s.along));
        size_t k = (size_t)y * W + x;
        G[k] *= (float)(1 - s.amp * g);
        D[k] += (float)(d->additive * g);
      }
  }
  return SSCOR_OK;
}

static sscor_status field_regions(sscor_degrade_plan *p, int b, float *G, float *D) {
  const sscor_degradation *d = &p->d[b];
  int W = p->w, H = p->h;
  rng_t r = rng_at(d->seed, 0, 0, 37);
  for (int i = 0; i < d->count; i++) {
    region_t g = {b, d->kind, rng_range(&r, 0.1 * W, 0.9 * W), rng_range(&r, 0.1 * H, 0.9 * H),
                  d->radius * rng_range(&r, 0.75, 1.25), 0, 0};
    g.edge = d->kind == SSCOR_DEG_DEFOCUS ? g.r / 4 : g.r / 6; /* smooth edge / rim width */
    g.sigma = 1 + 6 * d->strength;
    sscor_status st = add_region(p, g);
    if (st) return st;
    int reach = (int)ceil(g.r + g.edge) + 1;
    int x0 = (int)g.cx - reach, x1 = (int)g.cx + reach, y0 = (int)g.cy - reach,
        y1 = (int)g.cy + reach;
    for (int y = y0 < 0 ? 0 : y0; y < (y1 > H ? H : y1); y++)
      for (int x = x0 < 0 ? 0 : x0; x < (x1 > W ? W : x1); x++) {
        double dist = hypot(x + 0.5 - g.cx, y + 0.5 - g.cy);
        size_t k = (size_t)y * W + x;
        if (d->kind == SSCOR_DEG_DEFOCUS) {
          double m = 1 - smoothstep(g.r - g.edge / 2, g.r + g.edge / 2, dist);
          G[k] *= (float)(1 - m * 0.4 * d->strength);
        } else {
          double inner = 1 - smoothstep(g.r - g.edge, g.r - 0.5 * g.edge, dist);
          double rim = dist >= g.r - g.edge && dist <= g.r
                           ? 0.5 * (1 - cos(2 * M_PI * (dist - (g.r - g.edge)) / g.edge))
                           : 0;
          G[k] *= (float)((1 - d->strength * inner) * (1 + 0.5 * d->strength * rim));
          D[k] += (float)(d->additive * rim);
        }
      }
  }
  return SSCOR_OK;
}

static void field_fringe(const sscor_degradation *d, int W, int H, float *G, float *D) {
  for (int y = 0; y < H; y++) {
    double c = cos(2 * M_PI * (y + 0.5 - d->phase) / d->period);
    for (int x = 0; x < W; x++) {
      double e = 2.0 * (x + 0.5) / W - 1, env = 0.5 + 0.5 * e * e;
      size_t k = (size_t)y * W + x;
      G[k] *= (float)(1 + d->strength * c * env);
      D[k] += (float)(d->additive * 0.5 * (1 + c) * env);
    }
  }
}

sscor_status sscor_degrade_plan_new(const sscor_degradation *d, int n, int width, int height,
                                    sscor_degrade_plan **plan) {
  *plan = NULL;
  if (n < 1 || n > MAX_DEG)
    return sscor_fail(SSCOR_E_INVALID, "degrade: %d degradations (1..%d)", n, MAX_DEG);
  if (width <= 0 || height <= 0 || width > SSCOR_IMAGE_MAX_SIDE || height > SSCOR_IMAGE_MAX_SIDE)
    return sscor_fail(SSCOR_E_INVALID, "degrade: image size %dx%d out of range", width, height);
  sscor_degrade_plan *p = calloc(1, sizeof *p);
  if (!p) return sscor_fail(SSCOR_E_NOMEM, "degrade: out of memory");
  p->w = width, p->h = height, p->n = n;
  size_t npx = (size_t)width * height;
  p->gain = malloc(sizeof(float) * npx);
  p->offset = calloc(npx, sizeof(float));
  if (!p->gain || !p->offset) {
    sscor_degrade_plan_free(p);
    return sscor_fail(SSCOR_E_NOMEM, "degrade: cannot allocate %dx%d fields", width, height);
  }
  for (size_t i = 0; i < npx; i++) p->gain[i] = 1;
  sscor_status st = SSCOR_OK;
  for (int b = 0; b < n && !st; b++) {
    p->d[b] = d[b];
    if ((st = sscor_degrade_resolve(&p->d[b], width, height))) break;
    if (p->level == 0 && p->d[b].level > 0) p->level = p->d[b].level;
    sscor_deg_kind k = p->d[b].kind;
    if (is_stripes(k))
      st = field_stripes(p, b, p->gain, p->offset);
    else if (has_grid(k))
      field_tiles(&p->d[b], width, height, p->gain, p->offset);
    else if (k == SSCOR_DEG_DEFOCUS || k == SSCOR_DEG_BUBBLE)
      st = field_regions(p, b, p->gain, p->offset);
    else
      field_fringe(&p->d[b], width, height, p->gain, p->offset);
  }
  if (st) {
    sscor_degrade_plan_free(p);
    return st;
  }
  *plan = p;
  return SSCOR_OK;
}

/* Defocus mask of region g at pixel (x, y): 1 inside, 0 outside, smooth edge. */
static double defocus_mask(const region_t *g, int x, int y) {
  return 1 - smoothstep(g->r - g->edge / 2, g->r + g->edge / 2, hypot(x + 0.5 - g->cx, y + 0.5 - g->cy));
}

/* Blurs one defocus degradation's regions: the box around all of them is
 * blurred once per channel and blended in through the union (max) of their
 * masks, so the cost does not grow with the region count. */
static sscor_status defocus_block(const sscor_degrade_plan *p, int b, sscor_image *img) {
  int x0 = img->width, y0 = img->height, x1 = 0, y1 = 0;
  double sigma = 0;
  for (int i = 0; i < p->nreg; i++) {
    const region_t *g = &p->reg[i];
    if (g->block != b) continue;
    int reach = (int)ceil(g->r + g->edge + 4 * g->sigma) + 1;
    x0 = fmin(x0, g->cx - reach), y0 = fmin(y0, g->cy - reach);
    x1 = fmax(x1, g->cx + reach), y1 = fmax(y1, g->cy + reach);
    sigma = g->sigma; /* one per degradation */
  }
  if (x0 < 0) x0 = 0;
  if (y0 < 0) y0 = 0;
  if (x1 > img->width) x1 = img->width;
  if (y1 > img->height) y1 = img->height;
  int bw = x1 - x0, bh = y1 - y0;
  if (bw <= 0 || bh <= 0) return SSCOR_OK;
  float *buf = malloc(sizeof(float) * (size_t)bw * bh), *mask = calloc((size_t)bw * bh, sizeof(float));
  sscor_status st = buf && mask ? SSCOR_OK : sscor_fail(SSCOR_E_NOMEM, "defocus: out of memory");
  for (int i = 0; i < p->nreg && !st; i++) {
    const region_t *g = &p->reg[i];
    if (g->block != b) continue;
    int reach = (int)ceil(g->r + g->edge) + 1;
    for (int y = (int)fmax(y0, g->cy - reach); y < fmin(y1, g->cy + reach); y++)
      for (int x = (int)fmax(x0, g->cx - reach); x < fmin(x1, g->cx + reach); x++) {
        float m = (float)defocus_mask(g, x, y), *o = &mask[(size_t)(y - y0) * bw + x - x0];
        if (m > *o) *o = m;
      }
  }
  for (int c = 0; c < img->channels && !st; c++) {
    for (int y = 0; y < bh; y++)
      for (int x = 0; x < bw; x++) buf[(size_t)y * bw + x] = sscor_image_get(img, x0 + x, y0 + y, c);
    if ((st = sscor_gaussian_blur(buf, bw, bh, sigma, 4.0))) break;
    for (int y = 0; y < bh; y++)
      for (int x = 0; x < bw; x++) {
        float m = mask[(size_t)y * bw + x];
        if (m <= 0) continue;
        float v = sscor_image_get(img, x0 + x, y0 + y, c);
        sscor_image_set(img, x0 + x, y0 + y, c, v + m * (buf[(size_t)y * bw + x] - v));
      }
  }
  free(buf);
  free(mask);
  return st;
}

static sscor_status apply_defocus(const sscor_degrade_plan *p, sscor_image *img) {
  sscor_status st = SSCOR_OK;
  for (int b = 0; b < p->n && !st; b++)
    if (p->d[b].kind == SSCOR_DEG_DEFOCUS) st = defocus_block(p, b, img);
  return st;
}

sscor_status sscor_degrade_plan_apply(const sscor_degrade_plan *p, sscor_image *img) {
  if (!img || !img->data || img->width != p->w || img->height != p->h)
    return sscor_fail(SSCOR_E_INVALID, "degrade: image is %dx%d, the plan was made for %dx%d",
                      img ? img->width : 0, img ? img->height : 0, p->w, p->h);
  sscor_status st = apply_defocus(p, img);
  if (st) return st;
  int W = p->w, H = p->h, C = img->channels;
  double level = p->level;
  int any_offset = 0;
  for (int b = 0; b < p->n; b++) any_offset |= p->d[b].additive != 0;
  if (any_offset && level == 0) {
    double s = 0;
    for (int y = 0; y < H; y++)
      for (int x = 0; x < W; x++)
        for (int c = 0; c < C; c++) s += sscor_image_get(img, x, y, c);
    level = s / ((double)W * H * C);
  }
  for (int y = 0; y < H; y++) {
    const float *g = p->gain + (size_t)y * W, *o = p->offset + (size_t)y * W;
    switch (img->type) {
    case SSCOR_F32: {
      float *row = sscor_image_row(img, y);
      for (int x = 0; x < W; x++)
        for (int c = 0; c < C; c++) row[x * C + c] = row[x * C + c] * g[x] + (float)(o[x] * level);
      break;
    }
    default:
      for (int x = 0; x < W; x++)
        for (int c = 0; c < C; c++)
          sscor_image_set(img, x, y, c, (float)(sscor_image_get(img, x, y, c) * g[x] + o[x] * level));
    }
  }
  return SSCOR_OK;
}

/* ------------------------------------------------------------ truth out */

static void write_grid(FILE *f, const sscor_degradation *d, int W, int H) {
  frame_t fr = make_frame(d->angle, W, H);
  fprintf(f, "grid %d %d %d %d %.6g %.6g %.6g\n", d->tile_w, d->tile_h, d->offset_x, d->offset_y,
          d->angle, fr.cx, fr.cy);
  /* Extent of the image in grid coordinates. */
  double umin = INFINITY, umax = -INFINITY, vmin = INFINITY, vmax = -INFINITY;
  for (int c = 0; c < 4; c++) {
    double u, v;
    to_grid(&fr, (c & 1) ? W : 0, (c & 2) ? H : 0, &u, &v);
    umin = fmin(umin, u), umax = fmax(umax, u), vmin = fmin(vmin, v), vmax = fmax(vmax, v);
  }
  int64_t i0 = (int64_t)floor((umin - d->offset_x) / d->tile_w),
          i1 = (int64_t)ceil((umax - d->offset_x) / d->tile_w),
          j0 = (int64_t)floor((vmin - d->offset_y) / d->tile_h),
          j1 = (int64_t)ceil((vmax - d->offset_y) / d->tile_h);
  /* Seams kind: tiles overlap their right/lower neighbour by the band, so
   * each footprint is band px larger and every grid line has two edges. */
  int band = d->kind == SSCOR_DEG_SEAMS ? (int)seam_band(d) : 0;
  for (int64_t j = j0; j < j1; j++)
    for (int64_t i = i0; i < i1; i++)
      fprintf(f, "tile %lld %lld %d %d\n", (long long)(d->offset_x + i * d->tile_w),
              (long long)(d->offset_y + j * d->tile_h), d->tile_w + band, d->tile_h + band);
  for (int e = 0; e <= (band ? 1 : 0); e++) {
    for (int64_t i = i0; i <= i1; i++) {
      double u0 = d->offset_x + (double)i * d->tile_w, u = u0 + e * band, x0, y0, x1, y1;
      if (u <= umin || u >= umax || (band && u0 <= umin + 0.5)) continue;
      to_image(&fr, u, vmin, &x0, &y0);
      to_image(&fr, u, vmax, &x1, &y1);
      fprintf(f, "seam v %.6g %.6g %.6g %.6g %.6g\n", u, x0, y0, x1, y1);
    }
    for (int64_t j = j0; j <= j1; j++) {
      double v0 = d->offset_y + (double)j * d->tile_h, v = v0 + e * band, x0, y0, x1, y1;
      if (v <= vmin || v >= vmax || (band && v0 <= vmin + 0.5)) continue;
      to_image(&fr, umin, v, &x0, &y0);
      to_image(&fr, umax, v, &x1, &y1);
      fprintf(f, "seam h %.6g %.6g %.6g %.6g %.6g\n", v, x0, y0, x1, y1);
    }
  }
}

sscor_status sscor_degrade_plan_write_truth(const sscor_degrade_plan *p, const char *path) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len); /* the text, then one atomic write */
  if (!f) return sscor_fail(SSCOR_E_NOMEM, "%s: out of memory", path);
  fprintf(f, "sscor-truth 1\n# ground truth of a synthetic degradation; format in core/degrade.h\n");
  fprintf(f, "size %d %d\n", p->w, p->h);
  for (int b = 0; b < p->n; b++) {
    const sscor_degradation *d = &p->d[b];
    fprintf(f, "degradation %s\n", kind_names[d->kind]);
    fprintf(f,
            "param strength %.9g\nparam additive %.9g\nparam level %.9g\nparam period %.9g\n"
            "param width %.9g\nparam length %.9g\nparam phase %.9g\nparam angle %.9g\n"
            "param radius %.9g\nparam count %d\nparam tile-w %d\nparam tile-h %d\n"
            "param offset-x %d\nparam offset-y %d\nparam vary %d\nparam seed %llu\n",
            d->strength, d->additive, d->level, d->period, d->width, d->length, d->phase, d->angle,
            d->radius, d->count, d->tile_w, d->tile_h, d->offset_x, d->offset_y, d->vary,
            (unsigned long long)d->seed);
    if (has_grid(d->kind)) write_grid(f, d, p->w, p->h);
    for (int i = 0; i < p->nstr; i++)
      if (p->str[i].block == b)
        fprintf(f, "stripe %.6f %.6f %.6g %.6g %.6g %.6g\n", p->str[i].xc, p->str[i].yc,
                p->str[i].angle, p->str[i].across, p->str[i].along, p->str[i].amp);
    for (int i = 0; i < p->nreg; i++)
      if (p->reg[i].block == b)
        fprintf(f, "region %s %.6f %.6f %.6f\n", kind_names[p->reg[i].kind], p->reg[i].cx,
                p->reg[i].cy, p->reg[i].r);
    if (d->kind == SSCOR_DEG_FRINGE)
      fprintf(f, "region fringe %.6f %.6f %.6f\n", p->w / 2.0, p->h / 2.0, hypot(p->w, p->h) / 2);
    fprintf(f, "end\n");
  }
  int bad = ferror(f);
  bad |= fclose(f) != 0;
  sscor_status st = bad ? sscor_fail(SSCOR_E_NOMEM, "%s: out of memory", path)
                        : sscor_write_file_atomic(path, (const uint8_t *)text, len);
  free(text);
  return st;
}

/* ------------------------------------------------------------- truth in */

static sscor_status push_item(sscor_truth_item **v, int *n, sscor_truth_item it) {
  if (*n % 64 == 0) {
    sscor_truth_item *nv = realloc(*v, sizeof *nv * (size_t)(*n + 64));
    if (!nv) return sscor_fail(SSCOR_E_NOMEM, "truth: out of memory");
    *v = nv;
  }
  (*v)[(*n)++] = it;
  return SSCOR_OK;
}

void sscor_truth_free(sscor_truth *t) {
  free(t->tiles), free(t->seams), free(t->stripes), free(t->regions);
  memset(t, 0, sizeof *t);
}

sscor_status sscor_truth_read(const char *path, sscor_truth *t) {
  memset(t, 0, sizeof *t);
  FILE *f = fopen(path, "r");
  if (!f) return sscor_fail(SSCOR_E_IO, "%s: cannot open: %s", path, strerror(errno));
  char line[1024];
  int lineno = 0, block = -1;
  sscor_status st = SSCOR_OK;
#define BAD(...) (st = sscor_fail(SSCOR_E_FORMAT, __VA_ARGS__))
  while (!st && fgets(line, sizeof line, f)) {
    lineno++;
    char *s = trim(line), word[32];
    if (!*s || *s == '#') continue;
    if (lineno == 1 || (t->width == 0 && !strncmp(s, "sscor-truth", 11))) {
      int ver;
      if (sscanf(s, "sscor-truth %d", &ver) != 1 || ver != 1) BAD("%s: not an sscor truth file (version 1)", path);
      continue;
    }
    if (sscanf(s, "%31s", word) != 1) continue;
    sscor_truth_item it = {block, 0, {0}};
    const char *rest = s + strlen(word);
    if (!strcmp(word, "size")) {
      if (sscanf(rest, "%d %d", &t->width, &t->height) != 2 || t->width <= 0 || t->height <= 0)
        BAD("%s:%d: bad size", path, lineno);
    } else if (!strcmp(word, "degradation")) {
      char name[64];
      if (t->ndeg >= 16) {
        BAD("%s:%d: more than 16 degradations", path, lineno);
        break;
      }
      if (sscanf(rest, "%63s", name) != 1 || sscor_degrade_kind_from_name(name, &t->kinds[t->ndeg]))
        BAD("%s:%d: unknown degradation", path, lineno);
      block = t->ndeg++;
    } else if (!strcmp(word, "grid")) {
      double *g = block >= 0 ? t->grid[block] : NULL;
      if (!g || sscanf(rest, "%lf %lf %lf %lf %lf %lf %lf", g, g + 1, g + 2, g + 3, g + 4, g + 5,
                       g + 6) != 7)
        BAD("%s:%d: bad grid record", path, lineno);
    } else if (!strcmp(word, "tile")) {
      if (sscanf(rest, "%lf %lf %lf %lf", it.a, it.a + 1, it.a + 2, it.a + 3) != 4)
        BAD("%s:%d: bad tile record", path, lineno);
      else
        st = push_item(&t->tiles, &t->ntiles, it);
    } else if (!strcmp(word, "seam")) {
      char vh[4];
      if (sscanf(rest, "%3s %lf %lf %lf %lf %lf", vh, it.a, it.a + 1, it.a + 2, it.a + 3,
                 it.a + 4) != 6 || (strcmp(vh, "v") && strcmp(vh, "h")))
        BAD("%s:%d: bad seam record", path, lineno);
      else {
        it.v_or_h = vh[0];
        st = push_item(&t->seams, &t->nseams, it);
      }
    } else if (!strcmp(word, "stripe")) {
      if (sscanf(rest, "%lf %lf %lf %lf %lf %lf", it.a, it.a + 1, it.a + 2, it.a + 3, it.a + 4,
                 it.a + 5) != 6)
        BAD("%s:%d: bad stripe record", path, lineno);
      else
        st = push_item(&t->stripes, &t->nstripes, it);
    } else if (!strcmp(word, "region")) {
      char name[64];
      sscor_deg_kind k = SSCOR_DEG_STRIPES_REGULAR;
      if (sscanf(rest, "%63s %lf %lf %lf", name, it.a + 1, it.a + 2, it.a + 3) != 4 ||
          sscor_degrade_kind_from_name(name, &k))
        BAD("%s:%d: bad region record", path, lineno);
      else {
        it.a[0] = k;
        st = push_item(&t->regions, &t->nregions, it);
      }
    } else if (!strcmp(word, "end")) {
      block = -1;
    } /* param and unknown records: ignored here */
  }
#undef BAD
  fclose(f);
  if (!st && t->width == 0) st = sscor_fail(SSCOR_E_FORMAT, "%s: no size record", path);
  if (st) sscor_truth_free(t);
  return st;
}

sscor_status sscor_truth_tile_rects(const sscor_truth *t, sscor_rect **tiles, int *n) {
  int first = -1;
  for (int i = 0; i < t->ntiles && first < 0; i++)
    if (t->tiles[i].block >= 0 && t->grid[t->tiles[i].block][4] == 0) first = t->tiles[i].block;
  if (first < 0) return sscor_fail(SSCOR_E_INVALID, "truth has no axis-aligned tile grid");
  sscor_rect *v = malloc(sizeof *v * (size_t)t->ntiles);
  if (!v) return sscor_fail(SSCOR_E_NOMEM, "out of memory");
  int k = 0;
  for (int i = 0; i < t->ntiles; i++)
    if (t->tiles[i].block == first)
      v[k++] = (sscor_rect){(int)t->tiles[i].a[0], (int)t->tiles[i].a[1], (int)t->tiles[i].a[2],
                            (int)t->tiles[i].a[3]};
  *tiles = v;
  *n = k;
  return SSCOR_OK;
}

/* ------------------------------------------------------------- content */

/* Smooth value noise in 0..1 with lattice spacing `cell` px, octaves halving. */
static double value_noise(uint64_t seed, double x, double y, double cell, int octaves) {
  double sum = 0, norm = 0, amp = 1;
  for (int o = 0; o < octaves; o++, cell /= 2, amp *= 0.5) {
    double fx = x / cell, fy = y / cell;
    int64_t ix = (int64_t)floor(fx), iy = (int64_t)floor(fy);
    double tx = fx - ix, ty = fy - iy;
    tx = tx * tx * (3 - 2 * tx), ty = ty * ty * (3 - 2 * ty);
    double c[4];
    for (int k = 0; k < 4; k++) {
      rng_t r = rng_at(seed, ix + (k & 1), iy + (k >> 1), 101 + (uint64_t)o);
      c[k] = rng_uniform(&r);
    }
    sum += amp * ((c[0] * (1 - tx) + c[1] * tx) * (1 - ty) + (c[2] * (1 - tx) + c[3] * tx) * ty);
    norm += amp;
  }
  return sum / norm;
}

sscor_status sscor_synth_content(sscor_image *img, uint64_t seed) {
  if (!img || !img->data) return sscor_fail(SSCOR_E_INVALID, "synth: no image");
  int W = img->width, H = img->height, C = img->channels;
  size_t npx = (size_t)W * H;
  float *cells = calloc(npx, sizeof(float)), *fibres = calloc(npx, sizeof(float));
  float *tissue = malloc(sizeof(float) * npx), *ground = malloc(sizeof(float) * npx);
  if (!cells || !fibres || !tissue || !ground) {
    free(cells), free(fibres), free(tissue), free(ground);
    return sscor_fail(SSCOR_E_NOMEM, "synth: cannot allocate %dx%d planes", W, H);
  }
  double big = (W > H ? W : H) / 2.5;
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) {
      size_t k = (size_t)y * W + x;
      tissue[k] = (float)smoothstep(0.40, 0.50, value_noise(seed, x, y, big, 3));
      double mid = value_noise(seed + 1, x, y, 48, 2), fine = value_noise(seed + 2, x, y, 6, 2);
      ground[k] = (float)((0.22 + 0.25 * (mid - 0.5)) * (1 + 0.35 * (fine - 0.5)));
    }
  rng_t r = rng_at(seed, 0, 0, 7);
  /* Cells: bright round bodies with a dimmer nucleus, mostly inside tissue. */
  long ncells = (long)(npx / 700);
  for (long i = 0; i < ncells; i++) {
    double cx = rng_range(&r, 0, W), cy = rng_range(&r, 0, H), rad = rng_range(&r, 2.5, 6);
    double amp = rng_range(&r, 0.4, 1.0);
    int xi = (int)cx, yi = (int)cy;
    if (tissue[(size_t)(yi < H ? yi : H - 1) * W + (xi < W ? xi : W - 1)] < 0.5 &&
        rng_uniform(&r) > 0.05)
      continue;
    int reach = (int)ceil(2.5 * rad);
    for (int y = yi - reach; y <= yi + reach; y++)
      for (int x = xi - reach; x <= xi + reach; x++) {
        if (x < 0 || y < 0 || x >= W || y >= H) continue;
        double d2 = ((x + 0.5 - cx) * (x + 0.5 - cx) + (y + 0.5 - cy) * (y + 0.5 - cy)) / (rad * rad);
        double v = amp * (exp(-d2 * 1.2) - 0.35 * exp(-d2 * 5));
        float *c = &cells[(size_t)y * W + x];
        if (v > *c) *c = (float)v;
      }
  }
  /* Fibres: smooth random walks drawn with a Gaussian cross-section. */
  long nfib = (W + H) / 30 + 1;
  for (long i = 0; i < nfib; i++) {
    double x = rng_range(&r, 0, W), y = rng_range(&r, 0, H), th = rng_range(&r, 0, 2 * M_PI);
    double amp = rng_range(&r, 0.3, 0.7), sig = rng_range(&r, 0.7, 1.4), turn = 0;
    int steps = (int)rng_range(&r, 40, 240);
    for (int s = 0; s < steps; s++) {
      turn = 0.9 * turn + 0.03 * rng_normal(&r);
      th += turn;
      x += cos(th), y += sin(th);
      for (int yy = (int)y - 3; yy <= (int)y + 3; yy++)
        for (int xx = (int)x - 3; xx <= (int)x + 3; xx++) {
          if (xx < 0 || yy < 0 || xx >= W || yy >= H) continue;
          double d2 = (xx + 0.5 - x) * (xx + 0.5 - x) + (yy + 0.5 - y) * (yy + 0.5 - y);
          double v = amp * exp(-d2 / (2 * sig * sig));
          float *f = &fibres[(size_t)yy * W + xx];
          if (v > *f) *f = (float)v;
        }
    }
  }
  double scale = img->type == SSCOR_U8 ? 220.0 : img->type == SSCOR_U16 ? 20000.0 : 1.0;
  rng_t nr = rng_at(seed, 0, 0, 9);
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) {
      size_t k = (size_t)y * W + x;
      for (int c = 0; c < C; c++) {
        double wc = 1, wf = 1, wg = 1;
        if (C > 1) {
          int m = c % 3;
          wc = m == 0 ? 1.0 : m == 1 ? 0.3 : 0.2;
          wf = m == 0 ? 0.3 : m == 1 ? 1.0 : 0.2;
          wg = m == 0 ? 0.6 : m == 1 ? 0.5 : 1.2;
        }
        double s = 0.03 + tissue[k] * (wg * ground[k] + wc * cells[k] + wf * fibres[k]);
        double v = scale * (s + 0.015 * sqrt(s) * rng_normal(&nr));
        sscor_image_set(img, x, y, c, (float)(v > 0 ? v : 0));
      }
    }
  free(cells), free(fibres), free(tissue), free(ground);
  return SSCOR_OK;
}

sscor_status sscor_degrade_channel_strengths(const sscor_image *truth, sscor_image *out, const double *a, int n) {
  if (n != out->channels || truth->channels != out->channels || truth->width != out->width ||
      truth->height != out->height)
    return sscor_fail(SSCOR_E_INVALID, "channel strengths: %d values for a %d-channel image", n, out->channels);
  for (int y = 0; y < out->height; y++)
    for (int x = 0; x < out->width; x++)
      for (int c = 0; c < n; c++) {
        double t = sscor_image_get(truth, x, y, c), v = sscor_image_get(out, x, y, c);
        if (t > 0 && v > 0) sscor_image_set(out, x, y, c, (float)(t * pow(v / t, a[c])));
      }
  return SSCOR_OK;
}
