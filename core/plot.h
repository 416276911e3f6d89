/* Pictures for people: intensity profile plots and atomic PNG writing,
 * shared by `sscor metrics -p` and the slide report (core/report.h).
 * Needs cairo (SSCOR_HAVE_CAIRO); without it every call fails with
 * SSCOR_E_UNSUPPORTED. */
#ifndef SSCOR_PLOT_H
#define SSCOR_PLOT_H

#include "status.h"

/* One curve: y[0..n) drawn at x = x0 + i * dx; NaN samples break the line.
 * kind picks the colour and legend: 0 input (red), 1 corrected (blue),
 * 2 truth (dark grey). */
typedef struct {
  const double *y;
  int n;
  int kind;
} sscor_plot_curve;

typedef struct {
  int width, height;   /* pixels (0 = 1000 x 420) */
  const char *title;
  const char *xlabel;  /* NULL = "position across the stripes / seams (px)" */
  double x0, dx;       /* x of sample 0 and the step (dx 0 = 1) */
  const double *marks; /* x positions drawn as dashed lines (seams); may be NULL */
  int nmarks;
} sscor_plot_opts;

/* Draws the curves on one axis and writes the PNG to path (temp name, renamed). */
sscor_status sscor_plot_profiles(const char *path, const sscor_plot_curve *curves, int ncurves,
                                 const sscor_plot_opts *opts);

#ifdef SSCOR_HAVE_CAIRO
#include <cairo.h>
/* Writes a cairo surface as PNG through a temporary name renamed into place. */
sscor_status sscor_png_write(cairo_surface_t *s, const char *path);
#endif

#endif
