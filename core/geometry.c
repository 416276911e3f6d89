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

double sscor_seam_distance(const sscor_geometry *g, const sscor_seam *seams, int n, double x,
                           double y, int *nearest) {
  double u, v, best = 1e30;
  int bi = -1;
  sscor_geometry_to_frame(g, x, y, &u, &v);
  for (int i = 0; i < n; i++) {
    const sscor_seam *s = &seams[i];
    double across = s->vertical ? u - s->pos : v - s->pos;
    double along = s->vertical ? v : u;
    double out = along < s->from ? s->from - along : along > s->to ? along - s->to : 0.0;
    double d = sqrt(across * across + out * out);
    if (d < best) {
      best = d;
      bi = i;
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

#define PFAIL(...)                                                                     \
  do {                                                                                 \
    char m_[512];                                                                      \
    snprintf(m_, sizeof m_, __VA_ARGS__);                                              \
    st = sscor_fail(SSCOR_E_FORMAT, "%s:%d: %s", name, lineno, m_);                    \
    goto done;                                                                         \
  } while (0)

sscor_status sscor_geometry_parse(const char *text, const char *name, sscor_geometry *g) {
  sscor_status st = SSCOR_OK;
  memset(g, 0, sizeof *g);
  char *copy = strdup(text);
  if (!copy) return sscor_fail(SSCOR_E_NOMEM, "%s: out of memory", name);
  int lineno = 0, have_header = 0, have_image = 0, tw = 0, th = 0;
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
      if (nt != 3 || !inum(tok[1], &w) || !inum(tok[2], &h))
        PFAIL("expected \"image WIDTH HEIGHT\" with integer sizes");
      if (sscor_geometry_init(g, w, h)) PFAIL("image size %dx%d is out of range", w, h);
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
      if (nt != 2 || !num(tok[1], &a)) PFAIL("expected \"angle DEGREES\"");
      if (fabs(a) > 45.0) PFAIL("angle %g is out of range (-45..45 degrees)", a);
      g->angle_deg = a;
    } else if (strcmp(tok[0], "tile-size") == 0) {
      if (nt != 3 || !inum(tok[1], &tw) || !inum(tok[2], &th) || tw <= 0 || th <= 0)
        PFAIL("expected \"tile-size WIDTH HEIGHT\" with positive integers");
      g->tile_w = tw;
      g->tile_h = th;
    } else if (strcmp(tok[0], "tile") == 0) {
      double x, y;
      int w = tw, h = th;
      if ((nt != 3 && nt != 5) || !num(tok[1], &x) || !num(tok[2], &y) ||
          (nt == 5 && (!inum(tok[3], &w) || !inum(tok[4], &h))))
        PFAIL("expected \"tile X Y [W H]\"");
      if (w <= 0 || h <= 0) PFAIL("tile without a size: give \"tile-size W H\" first or W H here");
      if (x + w <= 0 || y + h <= 0 || x >= g->width || y >= g->height)
        PFAIL("tile %g,%g size %dx%d lies outside the %dx%d image", x, y, w, h, g->width,
              g->height);
      if (sscor_geometry_add_tile(g, x, y, w, h)) PFAIL("%s", sscor_last_error());
    } else if (strcmp(tok[0], "seam") == 0) {
      double p, a, b;
      if (nt != 5 || (strcmp(tok[1], "v") && strcmp(tok[1], "h")) || !num(tok[2], &p) ||
          !num(tok[3], &a) || !num(tok[4], &b))
        PFAIL("expected \"seam v|h POSITION FROM TO\"");
      if (b <= a) PFAIL("seam extent %g..%g is empty", a, b);
      if (sscor_geometry_add_seam(g, tok[1][0] == 'v', p, a, b)) PFAIL("%s", sscor_last_error());
    } else if (strcmp(tok[0], "region") == 0) {
      int x, y, w, h, kind = 0;
      if ((nt != 5 && nt != 6) || !inum(tok[1], &x) || !inum(tok[2], &y) || !inum(tok[3], &w) ||
          !inum(tok[4], &h))
        PFAIL("expected \"region X Y W H [focus|bubble|fringe|other]\"");
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
