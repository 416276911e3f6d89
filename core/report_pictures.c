/* The report's pictures and figures: thumbnails, detected geometry, zoomed
 * crop, seam profiles and the correction metrics, all read in bounded
 * memory (see report.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot.h"
#include "report_priv.h"
#include "slide.h"

#ifdef SSCOR_HAVE_CAIRO

#define THUMB 512 /* longest side of a thumbnail, px */
#define CROP 256  /* side of the zoomed crop, level-0 px */

/* ---- reading reduced images ---------------------------------------------- */

/* Adds one band of `h` rows (a multiple of f) of the level into acc: the sum
 * of every f x f block, per output channel (nout 1: the channel mean; 3: the
 * first three channels). */
static void accumulate(const sscor_image *band, int x0, int f, int nout, int ow, double *acc) {
  int C = band->channels;
  for (int yy = 0; yy < band->height; yy++)
    for (int xx = 0; xx < band->width; xx++) {
      double *a = acc + ((size_t)(yy / f) * ow + (size_t)(x0 + xx) / f) * nout;
      if (nout == 3) {
        for (int k = 0; k < 3; k++) a[k] += sscor_image_get(band, xx, yy, k);
      } else {
        double s = 0;
        for (int k = 0; k < C; k++) s += sscor_image_get(band, xx, yy, k);
        a[0] += s / C;
      }
    }
}

/* The slide at `path` reduced by about `factor` (box mean), as F32 with one
 * channel (the mean) or, with rgb and 3+ channels, the first three: from the
 * coarsest pyramid level not coarser than the factor, read in bands of
 * tile-friendly height and at most 16 MB. *got: the level-0 px per pixel. */
static sscor_status read_reduced(const char *path, double factor, int rgb, sscor_image *out, double *got) {
  sscor_slide *s;
  sscor_status st = sscor_slide_open(path, &s);
  if (st) return st;
  const sscor_slide_info *info = sscor_slide_get_info(s);
  int L = 0, nout = rgb && info->channels >= 3 ? 3 : 1;
  for (int l = 1; l < info->levels; l++)
    if (sscor_slide_level_downsample(s, l) <= factor * 1.001) L = l;
  double ds = sscor_slide_level_downsample(s, L);
  int f = (int)lround(factor / ds);
  if (f < 1) f = 1;
  int64_t WL, HL;
  sscor_slide_level_size(s, L, &WL, &HL);
  int ow = (int)(WL / f), oh = (int)(HL / f);
  size_t px = (size_t)info->channels * sscor_sample_size(info->type);
  int rows = f * ((256 + f - 1) / f), cw = (int)((16u << 20) / ((size_t)rows * px)) / f * f;
  if (cw < f) cw = f;
  if (cw > ow * f) cw = ow * f;
  void *buf = NULL;
  double *acc = NULL;
  if (ow < 1 || oh < 1) st = sscor_fail(SSCOR_E_INVALID, "%s: too small to reduce by %d", path, f);
  if (!st) st = sscor_image_alloc(out, ow, oh, nout, SSCOR_F32);
  if (!st) {
    buf = malloc((size_t)rows * cw * px);
    acc = malloc(sizeof(double) * (size_t)(rows / f) * ow * nout);
    if (!buf || !acc) st = sscor_fail(SSCOR_E_NOMEM, "%s: out of memory reading a reduced image", path);
  }
  for (int y0 = 0; !st && y0 < oh * f; y0 += rows) {
    int h = rows < oh * f - y0 ? rows : oh * f - y0;
    memset(acc, 0, sizeof(double) * (size_t)(h / f) * ow * nout);
    for (int x0 = 0; !st && x0 < ow * f; x0 += cw) {
      int w = cw < ow * f - x0 ? cw : ow * f - x0;
      if ((st = sscor_slide_read_region(s, L, x0, y0, w, h, buf, (size_t)w * px))) break;
      sscor_image band;
      sscor_image_wrap(&band, buf, w, h, info->channels, info->type, (size_t)w * px);
      accumulate(&band, x0, f, nout, ow, acc);
    }
    for (int oy = 0; !st && oy < h / f; oy++) {
      float *row = sscor_image_row(out, y0 / f + oy);
      for (int i = 0; i < ow * nout; i++) row[i] = (float)(acc[(size_t)oy * ow * nout + i] / ((double)f * f));
    }
  }
  free(buf);
  free(acc);
  sscor_slide_close(s);
  if (st && out->owns_data) sscor_image_free(out);
  *got = ds * f;
  return st;
}

/* A full-resolution region of the slide as F32 display channels (the mean,
 * or the first three of 3+). */
static sscor_status read_crop(const char *path, int x, int y, int c, sscor_image *out) {
  sscor_image raw;
  sscor_status st = sscor_image_read_region(path, 0, x, y, c, c, &raw);
  if (st) return st;
  int nout = raw.channels >= 3 ? 3 : 1;
  if (!(st = sscor_image_alloc(out, c, c, nout, SSCOR_F32)))
    for (int yy = 0; yy < c; yy++)
      for (int xx = 0; xx < c; xx++) {
        if (nout == 3) {
          for (int k = 0; k < 3; k++) sscor_image_set(out, xx, yy, k, sscor_image_get(&raw, xx, yy, k));
          continue;
        }
        double s = 0;
        for (int k = 0; k < raw.channels; k++) s += sscor_image_get(&raw, xx, yy, k);
        sscor_image_set(out, xx, yy, 0, (float)(s / raw.channels));
      }
  sscor_image_free(&raw);
  return st;
}

/* ---- display -------------------------------------------------------------- */

/* Display range: the 0.5 and 99.7 percentiles of every sample (a 4096-bin
 * histogram between min and max), so a few hot pixels do not darken it. */
static void display_range(const sscor_image *img, double *lo, double *hi) {
  size_t n = (size_t)img->width * img->height * img->channels;
  const float *v = img->data; /* F32, packed */
  double mn = INFINITY, mx = -INFINITY;
  for (size_t i = 0; i < n; i++)
    if (isfinite(v[i])) mn = fmin(mn, v[i]), mx = fmax(mx, v[i]);
  *lo = isfinite(mn) ? mn : 0, *hi = isfinite(mx) ? mx : 1;
  if (!(mx > mn)) {
    *hi = *lo + 1;
    return;
  }
  enum { NB = 4096 };
  size_t hist[NB] = {0};
  for (size_t i = 0; i < n; i++)
    if (isfinite(v[i])) hist[(int)fmin(NB - 1, (v[i] - mn) / (mx - mn) * NB)]++;
  size_t acc = 0, a = (size_t)(0.005 * n), b = (size_t)(0.997 * n);
  int ia = -1, ib = NB - 1;
  for (int i = 0; i < NB; i++) {
    acc += hist[i];
    if (ia < 0 && acc > a) ia = i;
    if (acc >= b) {
      ib = i;
      break;
    }
  }
  *lo = mn + (mx - mn) * ia / NB, *hi = mn + (mx - mn) * (ib + 1) / NB;
}

static cairo_surface_t *to_surface(const sscor_image *img, double lo, double hi) {
  cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, img->width, img->height);
  cairo_surface_flush(s);
  unsigned char *d = cairo_image_surface_get_data(s);
  int stride = cairo_image_surface_get_stride(s), C = img->channels;
  for (int y = 0; y < img->height; y++) {
    const float *row = sscor_image_row(img, y);
    uint32_t *o = (uint32_t *)(d + (size_t)y * stride);
    for (int x = 0; x < img->width; x++) {
      uint32_t rgb = 0;
      for (int k = 0; k < 3; k++) {
        double t = (row[(size_t)x * C + (C == 3 ? k : 0)] - lo) / (hi - lo);
        int b = (int)lrint(255 * (t < 0 ? 0 : t > 1 ? 1 : t));
        rgb = rgb << 8 | (uint32_t)b;
      }
      o[x] = rgb;
    }
  }
  cairo_surface_mark_dirty(s);
  return s;
}

/* src drawn into a new dw x dh surface (smooth scaling). */
static cairo_surface_t *scaled(cairo_surface_t *src, int dw, int dh) {
  cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, dw, dh);
  cairo_t *cr = cairo_create(s);
  cairo_scale(cr, (double)dw / cairo_image_surface_get_width(src), (double)dh / cairo_image_surface_get_height(src));
  cairo_set_source_surface(cr, src, 0, 0);
  cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_GOOD);
  cairo_paint(cr);
  cairo_destroy(cr);
  return s;
}

static sscor_status write_display(const sscor_image *img, double lo, double hi, int dw, int dh, const char *dir,
                                  const char *name, cairo_surface_t **keep) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  cairo_surface_t *raw = to_surface(img, lo, hi), *s = scaled(raw, dw, dh);
  cairo_surface_destroy(raw);
  sscor_status st = sscor_png_write(s, path);
  if (keep && !st)
    *keep = s;
  else
    cairo_surface_destroy(s);
  return st;
}

/* ---- geometry ----------------------------------------------------------- */

/* Seam segment end points in image coordinates. */
static void seam_ends(const sscor_geometry *g, const sscor_seam *s, double *x0, double *y0, double *x1, double *y1) {
  if (s->vertical) {
    sscor_geometry_to_image(g, s->pos, s->from, x0, y0);
    sscor_geometry_to_image(g, s->pos, s->to, x1, y1);
  } else {
    sscor_geometry_to_image(g, s->from, s->pos, x0, y0);
    sscor_geometry_to_image(g, s->to, s->pos, x1, y1);
  }
}

/* Tile outlines (rotated with the frame), explicit seams, artifact regions
 * and the crop's place over the thumbnail; k = thumbnail px per level-0 px. */
static void draw_geometry(cairo_surface_t *s, const sscor_geometry *g, double k, const sscor_report_pictures *pic) {
  cairo_t *cr = cairo_create(s);
  cairo_scale(cr, k, k);
  cairo_set_line_width(cr, 1.2 / k);
  cairo_set_source_rgba(cr, 1.0, 0.85, 0.1, 0.85);
  for (int i = 0; i < g->n_tiles; i++) {
    const sscor_tile *t = &g->tiles[i];
    double u[4] = {t->x, t->x + t->w, t->x + t->w, t->x}, v[4] = {t->y, t->y, t->y + t->h, t->y + t->h}, x, y;
    for (int j = 0; j < 4; j++) {
      sscor_geometry_to_image(g, u[j], v[j], &x, &y);
      j ? cairo_line_to(cr, x, y) : cairo_move_to(cr, x, y);
    }
    cairo_close_path(cr);
  }
  cairo_stroke(cr);
  cairo_set_source_rgba(cr, 0.2, 0.9, 1.0, 0.9);
  for (int i = 0; i < g->n_seams; i++) {
    double x0, y0, x1, y1;
    seam_ends(g, &g->seams[i], &x0, &y0, &x1, &y1);
    cairo_move_to(cr, x0, y0);
    cairo_line_to(cr, x1, y1);
  }
  cairo_stroke(cr);
  cairo_set_source_rgba(cr, 1.0, 0.3, 1.0, 0.9);
  for (int i = 0; i < g->n_regions; i++)
    cairo_rectangle(cr, g->regions[i].x, g->regions[i].y, g->regions[i].w, g->regions[i].h);
  cairo_stroke(cr);
  if (pic->have_crop) {
    cairo_set_source_rgb(cr, 1.0, 0.15, 0.1);
    cairo_set_line_width(cr, 2.5 / k);
    cairo_rectangle(cr, pic->crop_x, pic->crop_y, pic->crop_size, pic->crop_size);
    cairo_stroke(cr);
  }
  cairo_destroy(cr);
}

/* Short ticks on the crop's border where seams cross it (the seam itself
 * stays uncovered, so the eye judges it). */
static void draw_seam_ticks(cairo_surface_t *s, const sscor_geometry *g, const sscor_seam *seams, int n, int cx,
                            int cy, int c) {
  cairo_t *cr = cairo_create(s);
  cairo_set_source_rgb(cr, 1.0, 0.85, 0.1);
  cairo_set_line_width(cr, 2);
  const double T = 9;
  for (int i = 0; i < n; i++) {
    double x0, y0, x1, y1;
    seam_ends(g, &seams[i], &x0, &y0, &x1, &y1);
    x0 -= cx, x1 -= cx, y0 -= cy, y1 -= cy;
    for (int e = 0; e < 2; e++) { /* top/bottom edges, then left/right */
      double a0 = e ? x0 : y0, a1 = e ? x1 : y1, b0 = e ? y0 : x0, b1 = e ? y1 : x1;
      for (int side = 0; side < 2 && a1 != a0; side++) {
        double at = side ? c : 0, t = (at - a0) / (a1 - a0), b = b0 + t * (b1 - b0);
        if (t < 0 || t > 1 || b < 0 || b > c) continue;
        double d = side ? -T : T;
        if (e)
          cairo_move_to(cr, at, b), cairo_line_to(cr, at + d, b);
        else
          cairo_move_to(cr, b, at), cairo_line_to(cr, b, at + d);
      }
    }
  }
  cairo_stroke(cr);
  cairo_destroy(cr);
}

/* ---- where to zoom -------------------------------------------------------- */

typedef struct {
  const float *frac; /* tissue fraction per block, gw x gh */
  int gw, gh, block; /* block: metric px per cell */
  double f;          /* level-0 px per metric px */
} tissue_map;

/* Tissue fraction of the c x c level-0 window at (x, y). */
static double window_tissue(const tissue_map *m, int x, int y, int c) {
  double cell = m->f * m->block;
  int i0 = (int)(x / cell), j0 = (int)(y / cell), i1 = (int)ceil((x + c) / cell), j1 = (int)ceil((y + c) / cell);
  double s = 0;
  int n = 0;
  for (int j = j0; j < j1 && j < m->gh; j++)
    for (int i = i0; i < i1 && i < m->gw; i++) s += m->frac[(size_t)j * m->gw + i], n++;
  return n ? s / n : 0;
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Scores a candidate centre: tissue in the window (capped: any well-filled
 * window will do), a bonus for a crossing, then nearness to the centre. */
static void consider(sscor_report_pictures *pic, const tissue_map *m, double x, double y, int crossing, double *best) {
  int c = pic->crop_size, W = pic->width, H = pic->height;
  if (x < 0 || y < 0 || x >= W || y >= H) return;
  int wx = clampi((int)lround(x) - c / 2, 0, W - c), wy = clampi((int)lround(y) - c / 2, 0, H - c);
  double t = window_tissue(m, wx, wy, c), dc = hypot(x - W / 2.0, y - H / 2.0) / hypot(W, H);
  double score = fmin(t, 0.95) + (crossing ? 0.3 : 0) - 0.01 * dc;
  if (t < 0.02 || score <= *best) return;
  *best = score;
  pic->crop_x = wx, pic->crop_y = wy, pic->crop_crossing = crossing, pic->have_crop = 1;
}

/* The crop: on a seam crossing inside tissue when there is one, else on a
 * seam inside tissue; none without seams or tissue. */
static void choose_crop(sscor_report_pictures *pic, const tissue_map *m, const sscor_geometry *g, const sscor_seam *sm,
                        int n) {
  double best = -1;
  int step = n > 2000 ? n / 2000 : 1; /* huge grids: a sample of the seams is plenty */
  for (int i = 0; i < n; i += step) {
    if (!sm[i].vertical) continue;
    for (int j = 0; j < n; j += step) {
      if (sm[j].vertical || sm[i].pos < sm[j].from - 2 || sm[i].pos > sm[j].to + 2 || sm[j].pos < sm[i].from - 2 ||
          sm[j].pos > sm[i].to + 2)
        continue;
      double x, y;
      sscor_geometry_to_image(g, sm[i].pos, sm[j].pos, &x, &y);
      consider(pic, m, x, y, 1, &best);
    }
  }
  for (int i = 0; i < n && !pic->have_crop; i += step) {
    double x0, y0, x1, y1, len;
    seam_ends(g, &sm[i], &x0, &y0, &x1, &y1);
    len = hypot(x1 - x0, y1 - y0);
    for (double t = 0; t <= len; t += pic->crop_size / 2.0)
      consider(pic, m, x0 + (x1 - x0) * t / len, y0 + (y1 - y0) * t / len, 0, &best);
  }
}

/* Tissue fraction per block of the metric image (above the threshold). */
static sscor_status make_tissue_map(const sscor_image *img, double thr, double f, tissue_map *m, float **frac) {
  m->block = (int)fmax(1, CROP / (f * 16));
  m->gw = (img->width + m->block - 1) / m->block, m->gh = (img->height + m->block - 1) / m->block, m->f = f;
  float *v = calloc((size_t)m->gw * m->gh, sizeof *v);
  if (!v) return sscor_fail(SSCOR_E_NOMEM, "report: out of memory");
  for (int y = 0; y < img->height; y++) {
    const float *row = sscor_image_row(img, y);
    for (int x = 0; x < img->width; x++) v[(size_t)(y / m->block) * m->gw + x / m->block] += row[x] > thr;
  }
  for (size_t i = 0; i < (size_t)m->gw * m->gh; i++) v[i] /= (float)(m->block * m->block);
  m->frac = *frac = v;
  return SSCOR_OK;
}

/* ---- profiles ------------------------------------------------------------ */

/* Intensity before/after across the vertical (or horizontal) seams, over a
 * band one tile wide through (cx, cy) (level-0 px) of the metric images
 * (f level-0 px per px); detected seams dashed. */
static sscor_status seam_profile(const char *path, const sscor_image *in, const sscor_image *out,
                                 const sscor_geometry *g, const sscor_seam *sm, int n, double f, int vertical, int cx,
                                 int cy) {
  int W = in->width, H = in->height, tile = vertical ? g->tile_h : g->tile_w;
  int band = (int)lround((tile > 0 ? tile : 512) / f);
  sscor_rect r;
  if (vertical) {
    int bh = band < H ? band : H;
    r = (sscor_rect){0, clampi((int)(cy / f) - bh / 2, 0, H - bh), W, bh};
  } else {
    int bw = band < W ? band : W;
    r = (sscor_rect){clampi((int)(cx / f) - bw / 2, 0, W - bw), 0, bw, H};
  }
  double a = (vertical ? 90 - g->angle_deg : -g->angle_deg) * M_PI / 180, sa = sin(a), ca = cos(a);
  double pmin = fmin(fmin(0.0, (r.w - 1) * sa), fmin((r.h - 1) * ca, (r.w - 1) * sa + (r.h - 1) * ca));
  double *p[2] = {0}, *marks = malloc(sizeof(double) * (n + 1));
  int np = 0;
  sscor_status st = marks ? SSCOR_OK : sscor_fail(SSCOR_E_NOMEM, "report: out of memory");
  if (!st) st = sscor_metric_profile(in, SSCOR_METRIC_MEAN_CHANNELS, r, a * 180 / M_PI, &p[0], &np);
  if (!st) st = sscor_metric_profile(out, SSCOR_METRIC_MEAN_CHANNELS, r, a * 180 / M_PI, &p[1], &np);
  int nm = 0, start = vertical ? r.x : r.y;
  double mid = vertical ? r.y + r.h / 2.0 : r.x + r.w / 2.0; /* the band's centre line, metric px */
  for (int i = 0; !st && i < n; i++) {
    if (sm[i].vertical != vertical) continue;
    double x0, y0, x1, y1;
    seam_ends(g, &sm[i], &x0, &y0, &x1, &y1);
    double a0 = (vertical ? y0 : x0) / f, a1 = (vertical ? y1 : x1) / f, b0 = (vertical ? x0 : y0) / f,
           b1 = (vertical ? x1 : y1) / f;
    if (a1 == a0 || (mid - a0) * (mid - a1) > 0) continue;
    double b = b0 + (mid - a0) * (b1 - b0) / (a1 - a0);
    double xr = vertical ? b - r.x : mid - r.x, yr = vertical ? mid - r.y : b - r.y;
    marks[nm++] = (start + xr * sa + yr * ca) * f;
  }
  char title[160];
  snprintf(title, sizeof title, "across the %s seams: %s means over %s %d-%d", vertical ? "vertical" : "horizontal",
           vertical ? "column" : "row", vertical ? "rows" : "columns", (int)lround((vertical ? r.y : r.x) * f),
           (int)lround(((vertical ? r.y + r.h : r.x + r.w)) * f));
  sscor_plot_curve c[2] = {{p[0], np, 0}, {p[1], np, 1}};
  sscor_plot_opts o = {.width = 1000, .height = 360, .title = title,
                       .xlabel = vertical ? "x (level-0 px); dashed: detected seams" : "y (level-0 px); dashed: detected seams",
                       .x0 = (start + pmin) * f, .dx = f, .marks = marks, .nmarks = nm};
  if (!st) st = sscor_plot_profiles(path, c, 2, &o);
  free(p[0]), free(p[1]), free(marks);
  return st;
}

/* ---- metrics ------------------------------------------------------------- */

/* Axis-aligned tiles of g as rectangles at 1/f scale (none for a rotated
 * frame: the seam figures need an axis-aligned grid). */
static int tile_rects(const sscor_geometry *g, double f, sscor_rect **out) {
  *out = NULL;
  if (!g || !g->n_tiles || g->angle_deg != 0.0) return 0;
  sscor_rect *r = malloc(sizeof *r * (size_t)g->n_tiles);
  if (!r) return 0;
  for (int i = 0; i < g->n_tiles; i++)
    r[i] = (sscor_rect){(int)lround(g->tiles[i].x / f), (int)lround(g->tiles[i].y / f),
                        (int)lround(g->tiles[i].w / f), (int)lround(g->tiles[i].h / f)};
  *out = r;
  return g->n_tiles;
}

/* The tiles measured, in sscor metrics --tiles form (level 0). */
static sscor_status write_tiles(const char *dir, const sscor_geometry *g) {
  sscor_rect *r;
  int n = tile_rects(g, 1.0, &r);
  sscor_sb b = {0};
  sscor_sb_printf(&b, "# tiles of the detected geometry: name x y w h (sscor metrics --tiles)\n");
  for (int i = 0; i < n; i++) sscor_sb_printf(&b, "tile_%d %d %d %d %d\n", i, r[i].x, r[i].y, r[i].w, r[i].h);
  free(r);
  char path[4096];
  snprintf(path, sizeof path, "%s/tiles.txt", dir);
  return sscor_sb_write(&b, path);
}

/* Input and output reduced by the metric factor (a power of 2 keeping the
 * image under SSCOR_REPORT_METRIC_PIXELS), cut to their common size. */
static sscor_status read_metric_images(const char *input, const char *output, int W, int H, sscor_image *in,
                                       sscor_image *out, double *f) {
  int fm = 1;
  while ((double)(W / fm) * (H / fm) > SSCOR_REPORT_METRIC_PIXELS) fm *= 2;
  double g2;
  sscor_status st = read_reduced(input, fm, 0, in, f);
  if (!st && (st = read_reduced(output, fm, 0, out, &g2))) sscor_image_free(in);
  if (st) return st;
  int w = in->width < out->width ? in->width : out->width, h = in->height < out->height ? in->height : out->height;
  in->width = out->width = w, in->height = out->height = h; /* same rows, fewer read */
  return SSCOR_OK;
}

static sscor_status measure(const char *input, const char *output, const sscor_geometry *g, sscor_report_pictures *pic,
                            sscor_image *in, sscor_image *out, double *f) {
  sscor_status st = read_metric_images(input, output, pic->width, pic->height, in, out, f);
  if (st) return st;
  sscor_rect *r;
  int n = tile_rects(g, *f, &r);
  st = sscor_metric_correction_report(in, out, SSCOR_METRIC_MEAN_CHANNELS, r, n, NAN, 6, &pic->metrics);
  free(r);
  pic->metric_factor = (int)lround(*f), pic->metric_tiles = n, pic->have_metrics = !st;
  return st;
}

/* ---- the whole set ------------------------------------------------------- */

static sscor_status thumbnails(const char *dir, const char *input, const char *output, sscor_report_pictures *pic,
                               cairo_surface_t **before) {
  int W = pic->width, H = pic->height, side = W > H ? W : H;
  double k = side > THUMB ? (double)THUMB / side : 1.0, got;
  int ft = side / THUMB > 1 ? side / THUMB : 1, dw = (int)fmax(1, lround(W * k)), dh = (int)fmax(1, lround(H * k));
  sscor_image t = {0};
  double lo, hi;
  sscor_status st = read_reduced(input, ft, 1, &t, &got);
  if (st) return st;
  display_range(&t, &lo, &hi);
  st = write_display(&t, lo, hi, dw, dh, dir, "before.png", before);
  sscor_image_free(&t);
  pic->have_before = !st;
  if (st || !output) return st;
  if (!(st = read_reduced(output, ft, 1, &t, &got))) {
    st = write_display(&t, lo, hi, dw, dh, dir, "after.png", NULL); /* the input's range: honest comparison */
    sscor_image_free(&t);
  }
  pic->have_after = !st;
  return st;
}

static sscor_status crops(const char *dir, const char *input, const char *output, const sscor_geometry *g,
                          const sscor_seam *sm, int n, const sscor_report_pictures *pic) {
  sscor_image a = {0}, b = {0};
  int c = pic->crop_size;
  sscor_status st = read_crop(input, pic->crop_x, pic->crop_y, c, &a);
  if (!st) st = read_crop(output, pic->crop_x, pic->crop_y, c, &b);
  double lo, hi;
  if (!st) display_range(&a, &lo, &hi);
  const char *names[2] = {"crop_before.png", "crop_after.png"};
  const sscor_image *imgs[2] = {&a, &b};
  for (int i = 0; i < 2 && !st; i++) {
    cairo_surface_t *s = to_surface(imgs[i], lo, hi);
    draw_seam_ticks(s, g, sm, n, pic->crop_x, pic->crop_y, c);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    st = sscor_png_write(s, path);
    cairo_surface_destroy(s);
  }
  sscor_image_free(&a);
  sscor_image_free(&b);
  return st;
}

static sscor_status geometry_picture(const char *dir, cairo_surface_t *before, const sscor_geometry *g,
                                     const sscor_report_pictures *pic) {
  cairo_surface_t *s = scaled(before, cairo_image_surface_get_width(before), cairo_image_surface_get_height(before));
  draw_geometry(s, g, (double)cairo_image_surface_get_width(s) / pic->width, pic);
  char path[4096];
  snprintf(path, sizeof path, "%s/geometry.png", dir);
  sscor_status st = sscor_png_write(s, path);
  cairo_surface_destroy(s);
  return st;
}

/* Crop, profiles and the geometry picture: what needs the seams. */
static sscor_status seam_pictures(const char *dir, const char *input, const char *output, const sscor_geometry *g,
                                  const sscor_image *in, const sscor_image *out, double f, cairo_surface_t *before,
                                  sscor_report_pictures *pic) {
  sscor_seam *sm = NULL;
  int n = 0;
  float *frac = NULL;
  tissue_map m;
  sscor_status st = sscor_geometry_seams(g, &sm, &n);
  if (!st && in->data && !(st = make_tissue_map(in, pic->metrics.threshold, f, &m, &frac))) {
    choose_crop(pic, &m, g, sm, n);
    if (pic->have_crop) st = crops(dir, input, output, g, sm, n, pic);
    int cx = pic->have_crop ? pic->crop_x + pic->crop_size / 2 : pic->width / 2;
    int cy = pic->have_crop ? pic->crop_y + pic->crop_size / 2 : pic->height / 2;
    char path[4096];
    for (int v = 1; v >= 0 && !st; v--) {
      if (g->orientation != SSCOR_ORIENT_GRID && (g->orientation == SSCOR_ORIENT_VERTICAL) != v) continue;
      snprintf(path, sizeof path, "%s/profile_%s.png", dir, v ? "v" : "h");
      if (!(st = seam_profile(path, in, out, g, sm, n, f, v, cx, cy))) *(v ? &pic->have_profile_v : &pic->have_profile_h) = 1;
    }
  }
  if (!st && before) st = geometry_picture(dir, before, g, pic);
  pic->have_geometry = !st && before;
  free(frac);
  free(sm);
  return st;
}

sscor_status sscor_report_make_pictures(const char *dir, const char *input, const char *output,
                                        const sscor_geometry *g, sscor_report_pictures *pic) {
  memset(pic, 0, sizeof *pic);
  sscor_slide *s;
  int64_t W, H;
  sscor_status st = sscor_slide_open(input, &s);
  if (st) return st;
  st = sscor_slide_level_size(s, 0, &W, &H);
  sscor_slide_close(s);
  if (st) return st;
  pic->width = (int)W, pic->height = (int)H;
  pic->crop_size = (int)fmin(CROP, fmin(W, H));
  cairo_surface_t *before = NULL;
  sscor_image in = {0}, out = {0};
  double f = 1;
  st = thumbnails(dir, input, output, pic, &before);
  if (!st && output) st = measure(input, output, g, pic, &in, &out, &f);
  if (!st && g && g->n_tiles) st = write_tiles(dir, g);
  if (!st && g && (g->n_tiles || g->n_seams)) st = seam_pictures(dir, input, output, g, &in, &out, f, before, pic);
  if (before) cairo_surface_destroy(before);
  sscor_image_free(&in);
  sscor_image_free(&out);
  return st;
}

#else

sscor_status sscor_report_make_pictures(const char *dir, const char *input, const char *output,
                                        const sscor_geometry *g, sscor_report_pictures *pic) {
  (void)input, (void)output, (void)g;
  memset(pic, 0, sizeof *pic);
  return sscor_fail(SSCOR_E_UNSUPPORTED, "%s: this build has no cairo: no report pictures", dir);
}

#endif
