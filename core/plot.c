/* Profile plots and PNG writing; see plot.h. */
#include "plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"

#ifdef SSCOR_HAVE_CAIRO

/* The PNG in memory, then the one atomic write (core/fileio.h). */
typedef struct {
  uint8_t *p;
  size_t len, cap;
} png_buf;

static cairo_status_t png_append(void *user, const unsigned char *data, unsigned int n) {
  png_buf *b = user;
  if (b->len + n > b->cap) {
    size_t cap = (b->len + n) * 2;
    uint8_t *q = realloc(b->p, cap);
    if (!q) return CAIRO_STATUS_NO_MEMORY;
    b->p = q, b->cap = cap;
  }
  memcpy(b->p + b->len, data, n);
  b->len += n;
  return CAIRO_STATUS_SUCCESS;
}

sscor_status sscor_png_write(cairo_surface_t *s, const char *path) {
  png_buf png = {0};
  cairo_status_t cs = cairo_surface_write_to_png_stream(s, png_append, &png);
  sscor_status st = cs != CAIRO_STATUS_SUCCESS
                        ? sscor_fail(SSCOR_E_IO, "%s: cannot write the picture: %s", path,
                                     cairo_status_to_string(cs))
                        : sscor_write_file_atomic(path, png.p, png.len);
  free(png.p);
  return st;
}

typedef struct {
  int W, H, L, R, T, B;
  double lo, hi, xmin, xmax;
} frame_t;

static double fx(const frame_t *f, double x) {
  return f->L + (f->W - f->L - f->R) * (f->xmax > f->xmin ? (x - f->xmin) / (f->xmax - f->xmin) : 0.5);
}
static double fy(const frame_t *f, double y) { return f->H - f->B - (f->H - f->T - f->B) * (y - f->lo) / (f->hi - f->lo); }

/* Box, tick labels, title and x label. */
static void draw_axes(cairo_t *cr, const frame_t *f, const sscor_plot_opts *o) {
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_set_line_width(cr, 1);
  cairo_rectangle(cr, f->L, f->T, f->W - f->L - f->R, f->H - f->T - f->B);
  cairo_stroke(cr);
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, 13);
  char buf[64];
  for (int t = 0; t <= 4; t++) {
    double v = f->lo + (f->hi - f->lo) * t / 4, y = f->H - f->B - (f->H - f->T - f->B) * t / 4.0;
    snprintf(buf, sizeof buf, "%.4g", v);
    cairo_move_to(cr, 8, y + 4);
    cairo_show_text(cr, buf);
    double x = f->L + (f->W - f->L - f->R) * t / 4.0;
    snprintf(buf, sizeof buf, "%d", (int)lrint(f->xmin + (f->xmax - f->xmin) * t / 4.0));
    cairo_text_extents_t e;
    cairo_text_extents(cr, buf, &e);
    cairo_move_to(cr, t == 4 ? x - e.x_advance + 4 : t ? x - e.x_advance / 2 : x - 4, f->H - f->B + 18); /* inside the picture */
    cairo_show_text(cr, buf);
  }
  cairo_move_to(cr, f->L, 24);
  cairo_show_text(cr, o->title ? o->title : "");
  const char *xl = o->xlabel ? o->xlabel : "position across the stripes / seams (px)";
  cairo_text_extents_t ext;
  cairo_text_extents(cr, xl, &ext);
  cairo_move_to(cr, f->W / 2.0 - ext.width / 2, f->H - 10);
  cairo_show_text(cr, xl);
}

/* Seams as light dashed lines behind the curves. */
static void draw_marks(cairo_t *cr, const frame_t *f, const sscor_plot_opts *o) {
  static const double dash[2] = {4, 3};
  cairo_save(cr);
  cairo_set_source_rgb(cr, 0.6, 0.6, 0.6);
  cairo_set_line_width(cr, 1);
  cairo_set_dash(cr, dash, 2, 0);
  for (int i = 0; i < o->nmarks; i++) {
    if (!(o->marks[i] >= f->xmin && o->marks[i] <= f->xmax)) continue;
    double x = floor(fx(f, o->marks[i])) + 0.5;
    cairo_move_to(cr, x, f->T + 1);
    cairo_line_to(cr, x, f->H - f->B - 1);
  }
  cairo_stroke(cr);
  cairo_restore(cr);
}

static void draw_curve(cairo_t *cr, const frame_t *f, const sscor_plot_curve *c, double x0, double dx, int legend) {
  static const char *labels[3] = {"input", "corrected", "truth"};
  static const double colors[3][3] = {{0.85, 0.2, 0.15}, {0.1, 0.45, 0.85}, {0.2, 0.2, 0.2}};
  int k = c->kind >= 0 && c->kind < 3 ? c->kind : 2;
  cairo_set_source_rgb(cr, colors[k][0], colors[k][1], colors[k][2]);
  cairo_set_line_width(cr, 1.2);
  int started = 0;
  for (int i = 0; i < c->n; i++) {
    if (!isfinite(c->y[i])) {
      started = 0;
      continue;
    }
    double x = c->n > 1 ? fx(f, x0 + dx * i) : fx(f, 0.5 * (f->xmin + f->xmax)), y = fy(f, c->y[i]);
    if (started)
      cairo_line_to(cr, x, y);
    else
      cairo_move_to(cr, x, y), started = 1;
  }
  cairo_stroke(cr);
  /* Legend: a short line and the name, left to right in drawing order. */
  double lx = f->W - f->R - 330 + 110 * legend;
  cairo_move_to(cr, lx, 19);
  cairo_line_to(cr, lx + 20, 19);
  cairo_stroke(cr);
  cairo_move_to(cr, lx + 26, 24);
  cairo_show_text(cr, labels[k]);
}

sscor_status sscor_plot_profiles(const char *path, const sscor_plot_curve *curves, int ncurves,
                                 const sscor_plot_opts *opts) {
  sscor_plot_opts o = opts ? *opts : (sscor_plot_opts){0};
  if (o.dx == 0) o.dx = 1;
  frame_t f = {o.width > 0 ? o.width : 1000, o.height > 0 ? o.height : 420, 80, 20, 40, 50, INFINITY, -INFINITY, 0, 0};
  int n = 0;
  for (int k = 0; k < ncurves; k++) {
    if (curves[k].n > n) n = curves[k].n;
    for (int i = 0; i < curves[k].n; i++)
      if (isfinite(curves[k].y[i])) f.lo = fmin(f.lo, curves[k].y[i]), f.hi = fmax(f.hi, curves[k].y[i]);
  }
  if (!isfinite(f.lo)) f.lo = 0;
  if (!(f.hi > f.lo)) f.hi = f.lo + 1;
  double pad = 0.05 * (f.hi - f.lo);
  f.lo -= pad, f.hi += pad;
  f.xmin = o.x0, f.xmax = o.x0 + o.dx * (n > 1 ? n - 1 : 0);
  cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, f.W, f.H);
  cairo_t *cr = cairo_create(s);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  draw_axes(cr, &f, &o);
  if (o.nmarks) draw_marks(cr, &f, &o);
  for (int k = 0, legend = 0; k < ncurves; k++) draw_curve(cr, &f, &curves[k], o.x0, o.dx, legend++);
  cairo_destroy(cr);
  sscor_status st = sscor_png_write(s, path);
  cairo_surface_destroy(s);
  return st;
}

#else

sscor_status sscor_plot_profiles(const char *path, const sscor_plot_curve *curves, int ncurves,
                                 const sscor_plot_opts *opts) {
  (void)curves, (void)ncurves, (void)opts;
  return sscor_fail(SSCOR_E_UNSUPPORTED, "%s: this build has no cairo: no plots", path);
}

#endif
