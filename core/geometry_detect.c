/* Automatic stripe/tile geometry detection (declared in geometry.h).
 *
 * Tile shading makes every tile edge a straight line along which log
 * intensity steps by a nearly constant amount; texture steps average out
 * along a line, tile edges do not. So we work on signed log steps averaged
 * over short segments ("coherent support"), on a reduced image first:
 *   1. angle: the rotation that makes edge steps most coherent along lines;
 *   2. period: autocorrelation of per-band edge profiles gives the pitch (and
 *      the tile size when tiles overlap) per axis, with a significance score
 *      that tells stripes from clean images;
 *   3. tiles: every rectangle of the tile size is scored by the support of its
 *      four edges; greedy non-maximum suppression picks the tiles, so each
 *      tile keeps its own origin (irregular stitching);
 *   4. each tile edge is refined at full resolution through the region reader,
 *      which only ever asks for a thin strip around one edge (bounded memory).
 */
#include <float.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geometry.h"

#define STEP_CLIP 0.5f

void sscor_detect_params_default(sscor_detect_params *p) {
  memset(p, 0, sizeof *p);
  p->max_angle_deg = 10.0;
}

sscor_status sscor_image_region_reader(void *user, int x, int y, int w, int h, float *dst) {
  const sscor_image *img = user;
  if (x < 0 || y < 0 || w <= 0 || h <= 0 || x + w > img->width || y + h > img->height)
    return sscor_fail(SSCOR_E_INVALID, "region %d,%d %dx%d outside the %dx%d image", x, y, w, h,
                      img->width, img->height);
  for (int j = 0; j < h; j++)
    for (int i = 0; i < w; i++) {
      float s = 0;
      for (int c = 0; c < img->channels; c++) s += sscor_image_get(img, x + i, y + j, c);
      dst[(size_t)j * w + i] = s / img->channels;
    }
  return SSCOR_OK;
}

sscor_status sscor_downsample(const sscor_image *src, int factor, sscor_image *dst) {
  if (factor < 1 || factor > src->width || factor > src->height)
    return sscor_fail(SSCOR_E_INVALID, "downsample factor %d does not fit a %dx%d image", factor,
                      src->width, src->height);
  int w = src->width / factor, h = src->height / factor;
  sscor_status st = sscor_image_alloc(dst, w, h, 1, SSCOR_F32);
  if (st) return st;
  double *acc = calloc((size_t)w, sizeof *acc);
  if (!acc) {
    sscor_image_free(dst);
    return sscor_fail(SSCOR_E_NOMEM, "downsample: out of memory");
  }
  double norm = 1.0 / ((double)factor * factor * src->channels);
  for (int y = 0; y < h; y++) {
    memset(acc, 0, (size_t)w * sizeof *acc);
    for (int yy = y * factor; yy < (y + 1) * factor; yy++)
      for (int x = 0; x < w * factor; x++)
        for (int c = 0; c < src->channels; c++) acc[x / factor] += sscor_image_get(src, x, yy, c);
    float *row = sscor_image_row(dst, y);
    for (int x = 0; x < w; x++) row[x] = (float)(acc[x] * norm);
  }
  free(acc);
  return SSCOR_OK;
}

/* ---- helpers ------------------------------------------------------------ */

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

static float median_of(float *v, int n) {
  if (n <= 0) return 0.0f;
  qsort(v, (size_t)n, sizeof *v, cmp_float);
  return v[n / 2];
}

/* The detection frame: the coarse log image resampled into the rotated frame.
 * Frame pixel (i,j) has frame coordinates (u0+i, v0+j) in coarse units. */
typedef struct {
  int fw, fh;
  double u0, v0;
  float *L;          /* log intensity */
  uint8_t *present;  /* inside the image */
  uint8_t *data;     /* present and not "no data" (zero) */
  double *px, *py;   /* prefix sums of vertical-edge steps along v, horizontal along u */
  int *cx, *cy;      /* prefix counts of computable steps */
} frame;

static void frame_free(frame *f) {
  free(f->L);
  free(f->present);
  free(f->data);
  free(f->px);
  free(f->py);
  free(f->cx);
  free(f->cy);
}

/* Coarse-unit rotation helpers about the coarse image centre. */
typedef struct {
  double c, s, cx, cy;
} rot;

static rot make_rot(double angle_deg, double cx, double cy) {
  double a = angle_deg * M_PI / 180.0;
  return (rot){cos(a), sin(a), cx, cy};
}
static void rot_to_image(const rot *r, double u, double v, double *x, double *y) {
  *x = r->cx + r->c * (u - r->cx) - r->s * (v - r->cy);
  *y = r->cy + r->s * (u - r->cx) + r->c * (v - r->cy);
}
static void rot_to_frame(const rot *r, double x, double y, double *u, double *v) {
  *u = r->cx + r->c * (x - r->cx) + r->s * (y - r->cy);
  *v = r->cy - r->s * (x - r->cx) + r->c * (y - r->cy);
}

/* Log image of the coarse input; zero = no data gets a very low value so that
 * steps into no-data regions (which are tile edges) saturate the clip. */
static sscor_status log_image(const sscor_image *c, float **out, uint8_t **data, float *eps_out) {
  size_t n = (size_t)c->width * c->height;
  float *L = malloc(n * sizeof *L), *tmp = malloc(n * sizeof *tmp);
  uint8_t *d = malloc(n);
  if (!L || !tmp || !d) {
    free(L);
    free(tmp);
    free(d);
    return sscor_fail(SSCOR_E_NOMEM, "detect: out of memory for a %dx%d image", c->width,
                      c->height);
  }
  int k = 0;
  for (int y = 0; y < c->height; y++)
    for (int x = 0; x < c->width; x++) {
      float v = sscor_image_get(c, x, y, 0);
      if (v > 0 && isfinite(v)) tmp[k++] = v;
    }
  float med = median_of(tmp, k);
  float eps = med > 0 ? med * 1e-3f : 1e-6f;
  *eps_out = eps;
  for (int y = 0; y < c->height; y++)
    for (int x = 0; x < c->width; x++) {
      size_t i = (size_t)y * c->width + x;
      float v = sscor_image_get(c, x, y, 0);
      d[i] = v > 0 && isfinite(v);
      L[i] = logf(d[i] ? fmaxf(v, eps) : eps);
    }
  free(tmp);
  *out = L;
  *data = d;
  return SSCOR_OK;
}

static inline float clipf(float v) { return v > STEP_CLIP ? STEP_CLIP : v < -STEP_CLIP ? -STEP_CLIP : v; }

/* Log step at the boundary before p[0] between 2-px bands, minus the local
 * trend (the mean of the neighbouring band steps): a sharp tile edge keeps
 * its full step, a smooth ramp (blob, soft tissue border) gives zero.
 * Reads p[-4*s] .. p[3*s]. */
/* The same on a reduced image, where an edge may fall inside a pixel: the
 * centre step spans two boundaries (p[-1] to p[1]) so its phase does not
 * matter. Reads p[-3*s] .. p[3*s]. */
static inline float sharp_step_coarse(const float *p, ptrdiff_t s) {
  float centre = p[s] - p[-s], side = 0.5f * ((p[3 * s] - p[s]) + (p[-s] - p[-3 * s]));
  return clipf(centre - side);
}

static inline float sharp_step(const float *p, ptrdiff_t s) {
  float b_2 = p[-4 * s] + p[-3 * s], b_1 = p[-2 * s] + p[-s], b0 = p[0] + p[s],
        b1 = p[2 * s] + p[3 * s];
  float centre = b0 - b_1, side = 0.5f * ((b1 - b0) + (b_1 - b_2));
  /* A wider clip than the coarse pass: a step into no-data must peak at its
     own boundary, not plateau over the neighbours. */
  float v = 0.5f * (centre - side);
  return v > 8 * STEP_CLIP ? 8 * STEP_CLIP : v < -8 * STEP_CLIP ? -8 * STEP_CLIP : v;
}

/* Along-line range of the lines of one direction that the image reaches.
 * Corners (a[i], b[i]) are the pixel-centre rectangle in frame coordinates,
 * a across the lines, b along them; line L receives the pixels whose
 * binning coordinate a - 0.25 + off floors to L-1 or L. For each line,
 * first[L] and the prefix start[L] give its segments (along b, in units of
 * seg of the binned coordinate b - 0.25 + off, clamped to [0, nb-2]): the
 * convex rectangle's slab is clipped edge by edge, with a pixel of margin. */
static void line_segments(const double a[4], const double b[4], double off, int seg, int nl,
                          int nb, int *first, size_t *start) {
  start[0] = 0;
  for (int L = 0; L < nl; L++) {
    double lo = L - 1 + 0.25 - off - 1, hi = L + 1 + 0.25 - off + 1, bmin = 1e300, bmax = -1e300;
    for (int i = 0; i < 4; i++) {
      int j = (i + 1) & 3;
      double t0 = 0, t1 = 1;
      if (a[i] == a[j]) {
        if (a[i] < lo || a[i] > hi) continue;
      } else {
        double tl = (lo - a[i]) / (a[j] - a[i]), th = (hi - a[i]) / (a[j] - a[i]);
        t0 = fmax(0, fmin(tl, th));
        t1 = fmin(1, fmax(tl, th));
        if (t0 > t1) continue;
      }
      double b0 = b[i] + t0 * (b[j] - b[i]), b1 = b[i] + t1 * (b[j] - b[i]);
      bmin = fmin(bmin, fmin(b0, b1));
      bmax = fmax(bmax, fmax(b0, b1));
    }
    double i0 = floor(bmin - 0.25 + off - 1), i1 = floor(bmax - 0.25 + off + 1);
    if (i0 < 0) i0 = 0;
    if (i1 > nb - 2) i1 = nb - 2;
    int cnt = bmin <= bmax && i0 <= i1 ? (int)i1 / seg - (int)i0 / seg + 1 : 0;
    first[L] = cnt ? (int)i0 / seg : 0;
    start[L + 1] = start[L] + (size_t)cnt;
  }
}

/* Angle score: coherence of projected log gradients along frame lines at
 * angle a: per (line, segment) bin, (sum^2 - sum of squares) / count is an
 * unbiased estimate of count * mean^2, so incoherent texture adds nothing
 * whatever the binning at this angle, and straight seams add their energy.
 * Only the bins the image reaches are stored (a long thin image at an angle
 * reaches a thin band of the circumscribed square): memory and work follow
 * the pixels. *cells gets the largest accumulator used. */
static double angle_score(const float *L, int w, int h, double a, int seg, size_t *cells) {
  rot r = make_rot(a, w * 0.5, h * 0.5);
  /* Frame coordinates of image points lie within the image's circumscribed box. */
  double diag = sqrt((double)w * w + (double)h * h);
  int off = (int)ceil((diag - fmin(w, h)) * 0.5) + 2;
  int nu = w + 2 * off, nv = h + 2 * off;
  double cu[4], cv[4], px[4] = {3.5, w - 3.5, w - 3.5, 3.5}, py[4] = {3.5, 3.5, h - 3.5, h - 3.5};
  for (int i = 0; i < 4; i++) rot_to_frame(&r, px[i], py[i], &cu[i], &cv[i]);
  int *fu0 = malloc(sizeof(int) * ((size_t)nu + nv));
  size_t *ou = malloc(sizeof(size_t) * ((size_t)nu + nv + 2)), *ov = ou ? ou + nu + 1 : NULL;
  int *fv0 = fu0 ? fu0 + nu : NULL;
  double *su = NULL, *sv = NULL, score = -1;
  if (fu0 && ou) {
    line_segments(cu, cv, off, seg, nu, nv, fu0, ou);
    line_segments(cv, cu, off, seg, nv, nu, fv0, ov);
    /* per bin: sum of w*g, sum of (w*g)^2, sum of w */
    su = calloc(ou[nu] * 3 + 1, sizeof *su);
    sv = calloc(ov[nv] * 3 + 1, sizeof *sv);
    size_t n = (ou[nu] + ov[nv]) * 3;
    if (cells && n > *cells) *cells = n;
  }
  if (su && sv) {
    for (int y = 3; y < h - 3; y++)
      for (int x = 3; x < w - 3; x++) {
        const float *p = L + (size_t)y * w + x;
        /* trend-removed steps: smooth content gradients are coherent along
           any direction and would drown the seams */
        float gx = sharp_step_coarse(p, 1), gy = sharp_step_coarse(p, w);
        double u, v;
        rot_to_frame(&r, x + 0.5, y + 0.5, &u, &v);
        /* split between the two nearest lines, so every angle blurs lines
           alike (nearest-bin would favour the pixel axes) */
        double fu = u - 0.25 + off, fv = v - 0.25 + off; /* axis-aligned lines split 1:3, near the 2:3 mean of rotated ones */
        int iu = (int)floor(fu), iv = (int)floor(fv);
        if (iu < 0 || iv < 0 || iu + 1 >= nu || iv + 1 >= nv) continue;
        double wu = fu - iu, wv = fv - iv;
        double gu = r.c * gx + r.s * gy, gv = -r.s * gx + r.c * gy;
        for (int k = 0; k < 2; k++) {
          double wk = k ? wu : 1 - wu;
          size_t a1 = (ou[iu + k] + (size_t)(iv / seg - fu0[iu + k])) * 3;
          su[a1] += wk * gu;
          su[a1 + 1] += wk * wk * gu * gu;
          su[a1 + 2] += wk;
          wk = k ? wv : 1 - wv;
          size_t a2 = (ov[iv + k] + (size_t)(iu / seg - fv0[iv + k])) * 3;
          sv[a2] += wk * gv;
          sv[a2 + 1] += wk * wk * gv * gv;
          sv[a2 + 2] += wk;
        }
      }
    score = 0;
    for (size_t i = 0; i < ou[nu]; i++)
      if (su[3 * i + 2] >= 1) score += (su[3 * i] * su[3 * i] - su[3 * i + 1]) / su[3 * i + 2];
    for (size_t i = 0; i < ov[nv]; i++)
      if (sv[3 * i + 2] >= 1) score += (sv[3 * i] * sv[3 * i] - sv[3 * i + 1]) / sv[3 * i + 2];
  }
  free(su);
  free(sv);
  free(fu0);
  free(ou);
  return score;
}

static double find_angle(const float *L, int w, int h, double max_deg, size_t *cells) {
  if (max_deg <= 0) return 0.0;
  /* Short segments tolerate a wrong angle (coarse pass), long ones tell
     small angle errors apart (fine passes). */
  int seg = 16;
  double best = 0, bs = angle_score(L, w, h, 0.0, seg, cells);
  double step = 1.0;
  double centre = 0.0, range = max_deg;
  for (int pass = 0; pass < 3; pass++) {
    if (pass == 1) {
      seg = 48;
      bs = angle_score(L, w, h, best, seg, cells);
    }
    for (double a = centre - range; a <= centre + range + 1e-9; a += step) {
      if (fabs(a) > max_deg + 1e-9) continue;
      double s = angle_score(L, w, h, a, seg, cells);
      if (getenv("SSCOR_DETECT_DEBUG")) fprintf(stderr, "angle %d %.4f %.6g\n", seg, a, s);
      if (s > bs * (1 + 1e-9)) {
        bs = s;
        best = a;
      }
    }
    centre = best;
    range = step;
    step /= 4;
  }
  /* Prefer exactly 0 when it is as good: avoids resampling axis-aligned images. */
  if (fabs(best) <= 0.5 && angle_score(L, w, h, 0.0, seg, cells) >= 0.95 * bs) best = 0.0;
  return best;
}

/* The widest angle (whole degrees) whose frame, the rotated image's bounding
 * box that every later stage holds, stays within 4x the pixels: area
 * w*h + (w^2 + h^2) sin(2a)/2. No limit up to an aspect of about 17:1 at
 * 10 degrees; 16000x512 gets 5, strips beyond about 170:1 none. */
static double frame_angle_limit(int w, int h) {
  double q = 6.0 * w * h / ((double)w * w + (double)h * h);
  return q >= 1 ? 45.0 : floor(asin(q) * 90.0 / M_PI);
}

static sscor_status build_frame(const float *L, const uint8_t *data, int w, int h, double angle,
                                double cx, double cy, frame *f) {
  memset(f, 0, sizeof *f);
  rot r = make_rot(angle, cx, cy);
  double umin = 1e30, umax = -1e30, vmin = 1e30, vmax = -1e30;
  double cxs[4] = {0, (double)w, 0, (double)w}, cys[4] = {0, 0, (double)h, (double)h};
  for (int i = 0; i < 4; i++) {
    double u, v;
    rot_to_frame(&r, cxs[i], cys[i], &u, &v);
    umin = fmin(umin, u);
    umax = fmax(umax, u);
    vmin = fmin(vmin, v);
    vmax = fmax(vmax, v);
  }
  f->u0 = floor(umin);
  f->v0 = floor(vmin);
  f->fw = (int)ceil(umax) - (int)f->u0;
  f->fh = (int)ceil(vmax) - (int)f->v0;
  size_t n = (size_t)f->fw * f->fh, n1 = (size_t)(f->fw + 1) * (f->fh + 1);
  f->L = malloc(n * sizeof *f->L);
  f->present = calloc(n, 1);
  f->data = calloc(n, 1);
  f->px = calloc(n1, sizeof *f->px);
  f->py = calloc(n1, sizeof *f->py);
  f->cx = calloc(n1, sizeof *f->cx);
  f->cy = calloc(n1, sizeof *f->cy);
  if (!f->L || !f->present || !f->data || !f->px || !f->py || !f->cx || !f->cy) {
    frame_free(f);
    return sscor_fail(SSCOR_E_NOMEM, "detect: out of memory for a %dx%d frame", f->fw, f->fh);
  }
  for (int j = 0; j < f->fh; j++)
    for (int i = 0; i < f->fw; i++) {
      size_t k = (size_t)j * f->fw + i;
      double x, y;
      rot_to_image(&r, f->u0 + i + 0.5, f->v0 + j + 0.5, &x, &y);
      x -= 0.5;
      y -= 0.5;
      f->L[k] = 0;
      if (angle == 0.0) {
        int xi = (int)lround(x), yi = (int)lround(y);
        if (xi < 0 || yi < 0 || xi >= w || yi >= h) continue;
        f->L[k] = L[(size_t)yi * w + xi];
        f->present[k] = 1;
        f->data[k] = data[(size_t)yi * w + xi];
        continue;
      }
      if (x < 0 || y < 0 || x > w - 1 || y > h - 1) continue;
      int x0 = (int)x, y0 = (int)y, x1 = x0 + 1 < w ? x0 + 1 : x0, y1 = y0 + 1 < h ? y0 + 1 : y0;
      double ax = x - x0, ay = y - y0;
      const float *r0 = L + (size_t)y0 * w, *r1 = L + (size_t)y1 * w;
      f->L[k] = (float)((1 - ay) * ((1 - ax) * r0[x0] + ax * r0[x1]) +
                        ay * ((1 - ax) * r1[x0] + ax * r1[x1]));
      f->present[k] = 1;
      f->data[k] = data[(size_t)y0 * w + x0] && data[(size_t)y0 * w + x1] &&
                   data[(size_t)y1 * w + x0] && data[(size_t)y1 * w + x1];
    }
  /* Vertical-edge steps at boundary b (between columns b-1 and b): 2-px bands. */
  int W1 = f->fw + 1, H1 = f->fh + 1;
  for (int b = 0; b <= f->fw; b++)
    for (int j = 0; j < f->fh; j++) {
      float d = 0;
      int ok = b >= 3 && b + 3 < f->fw;
      if (ok) {
        const float *p = f->L + (size_t)j * f->fw;
        const uint8_t *q = f->present + (size_t)j * f->fw;
        for (int k = -3; k <= 3 && ok; k++) ok = q[b + k];
        if (ok) d = sharp_step_coarse(p + b, 1);
      }
      f->px[(size_t)b * H1 + j + 1] = f->px[(size_t)b * H1 + j] + d;
      f->cx[(size_t)b * H1 + j + 1] = f->cx[(size_t)b * H1 + j] + ok;
    }
  for (int b = 0; b <= f->fh; b++)
    for (int i = 0; i < f->fw; i++) {
      float d = 0;
      int ok = b >= 3 && b + 3 < f->fh;
      if (ok) {
        ptrdiff_t fw = f->fw;
        const float *p = f->L + i;
        const uint8_t *q = f->present + i;
        for (int k = -3; k <= 3 && ok; k++) ok = q[(b + k) * fw];
        if (ok) d = sharp_step_coarse(p + b * fw, fw);
      }
      f->py[(size_t)b * W1 + i + 1] = f->py[(size_t)b * W1 + i] + d;
      f->cy[(size_t)b * W1 + i + 1] = f->cy[(size_t)b * W1 + i] + ok;
    }
  return SSCOR_OK;
}

/* Coherent support of an edge at boundary b over [a0,a1) along it: the
 * length-weighted mean of |mean step| over segments of `seg`. Returns -1 when
 * less than a quarter of it can be observed. */
static double support(const double *P, const int *C, int stride, int b, int a0, int a1, int seg) {
  if (a0 < 0) a0 = 0;
  if (a1 > stride - 1) a1 = stride - 1;
  int len = a1 - a0;
  if (len <= 0) return -1;
  const double *p = P + (size_t)b * stride;
  const int *c = C + (size_t)b * stride;
  int cnt = c[a1] - c[a0];
  if (cnt * 4 < len) return -1;
  int ns = (len + seg / 2) / seg;
  if (ns < 1) ns = 1;
  double acc = 0;
  for (int s = 0; s < ns; s++) {
    int s0 = a0 + (int)((long)len * s / ns), s1 = a0 + (int)((long)len * (s + 1) / ns);
    acc += fabs(p[s1] - p[s0]);
  }
  return acc / cnt;
}

/* Periodicity of edge profiles along one axis. vertical=1: vertical edges
 * (profile over u, bands along v). Returns the z-score; pitch and size (coarse
 * px) in *pitch, *size. */
static double periodicity(const frame *f, int vertical, int minlag, int maxlag, int band,
                          double *pitch, double *size) {
  int n = vertical ? f->fw + 1 : f->fh + 1, along = vertical ? f->fh : f->fw;
  const double *P = vertical ? f->px : f->py;
  const int *C = vertical ? f->cx : f->cy;
  int stride = along + 1;
  *pitch = *size = 0;
  if (maxlag > n / 2) maxlag = n / 2;
  if (maxlag <= minlag + 4) return 0;
  int nb = along / band;
  if (nb < 1) return 0;
  float *a = calloc((size_t)n, sizeof *a), *tmp = malloc((size_t)n * sizeof *tmp);
  double *ac = calloc((size_t)maxlag + 2, sizeof *ac), *acs = calloc((size_t)maxlag + 2, sizeof *acs);
  double *cnt = calloc((size_t)maxlag + 2, sizeof *cnt);
  int *pks = malloc((size_t)n * sizeof *pks);
  double z = 0;
  if (!a || !tmp || !ac || !acs || !cnt || !pks) goto out;
  for (int k = 0; k < nb; k++) {
    int a0 = k * band, a1 = a0 + band;
    for (int b = 0; b < n; b++) {
      const double *p = P + (size_t)b * stride;
      const int *c = C + (size_t)b * stride;
      int m = c[a1] - c[a0];
      a[b] = m * 2 >= band ? (float)fabs((p[a1] - p[a0]) / m) : 0.0f;
      tmp[b] = a[b];
    }
    /* Keep only outstanding steps: texture leaves a broad floor. */
    float med = median_of(tmp, n);
    for (int b = 0; b < n; b++) tmp[b] = fabsf(a[b] - med);
    float mad = 1.4826f * median_of(tmp, n);
    /* Binary peaks: each edge counts once, however strong (tissue borders
       would otherwise dominate). */
    for (int b = 0; b < n; b++) tmp[b] = a[b];
    for (int b = 0; b < n; b++) {
      int pk = tmp[b] > med + 3.0f * mad;
      for (int d = -2; d <= 2 && pk; d++)
        if (d && b + d >= 0 && b + d < n && (tmp[b + d] > tmp[b] || (tmp[b + d] == tmp[b] && d < 0))) pk = 0;
      a[b] = (float)pk;
    }
    /* The autocorrelation of binary peaks counts peak pairs: from the list
       of peaks, work follows the pairs within maxlag, not n * maxlag. */
    int np = 0;
    for (int b = 0; b < n; b++)
      if (a[b] != 0.0f) pks[np++] = b;
    for (int i = 0; i < np; i++)
      for (int j = i + 1; j < np && pks[j] - pks[i] <= maxlag; j++) ac[pks[j] - pks[i]] += 1.0;
    for (int lag = 1; lag <= maxlag; lag++) cnt[lag] += n - lag;
  }
  for (int lag = 1; lag <= maxlag; lag++) ac[lag] /= cnt[lag];
  /* Jittered stitching smears the pitch peak: smooth over +-2 lags. */
  for (int lag = 1; lag <= maxlag; lag++) {
    double s = 0;
    int m = 0;
    for (int d = -2; d <= 2; d++)
      if (lag + d >= 1 && lag + d <= maxlag) {
        s += ac[lag + d];
        m++;
      }
    acs[lag] = s / m;
  }
  int nl = maxlag - minlag + 1, best = minlag;
  for (int lag = minlag; lag <= maxlag; lag++) {
    tmp[lag - minlag] = (float)acs[lag];
    if (acs[lag] > acs[best]) best = lag;
  }
  float med = median_of(tmp, nl);
  if (getenv("SSCOR_DETECT_DEBUG"))
    for (int lag = minlag; lag <= maxlag; lag++)
      fprintf(stderr, "ac %d %d %g %g\n", vertical, lag, ac[lag], acs[lag]);
  /* Peak pairs counted over the 5 smoothed lags against the Poisson spread of
     the typical lag's count: random texture peaks give z of a few units. */
  double top = acs[best];
  {
    double expect = fmax(med, 0) * cnt[best] * 5, seen = top * cnt[best] * 5;
    z = (seen - expect) / sqrt(expect + 1.0);
  }
  /* Multiples of the pitch peak as high: take the smallest local peak that is
     nearly as strong. */
  for (int lag = minlag + 1; lag < best; lag++) {
    double ratio = (double)best / lag;
    if (ratio < 1.8 || fabs(ratio - lround(ratio)) > 0.1) continue; /* not a divisor */
    if (acs[lag] >= acs[lag - 1] && acs[lag] >= acs[lag + 1] && acs[lag] - med >= 0.7 * (top - med)) {
      best = lag;
      break;
    }
  }
  /* Sub-pixel pitch from the unsmoothed autocorrelation's centroid. */
  {
    double s = 0, sw = 0;
    for (int d = -3; d <= 3; d++) {
      int l = best + d;
      if (l < 1 || l > maxlag) continue;
      double wgt = fmax(ac[l] - med, 0);
      s += wgt * l;
      sw += wgt;
    }
    *pitch = sw > 0 ? s / sw : best;
  }
  /* Overlapping tiles: the tile size is a second, sharper peak above the pitch. */
  *size = *pitch;
  int lo = (int)ceil(*pitch) + 3, hi = (int)floor(*pitch * 1.5);
  if (hi > maxlag) hi = maxlag;
  int sb = -1;
  for (int lag = lo; lag <= hi; lag++)
    if (sb < 0 || ac[lag] > ac[sb]) sb = lag;
  double pk = 0;
  for (int d = -1; d <= 1; d++) pk = fmax(pk, ac[(int)lround(*pitch) + d]);
  if (sb > 0 && ac[sb] - med >= 0.2 * (pk - med) && ac[sb] >= ac[sb - 1] && ac[sb] >= ac[sb + 1])
    *size = sb;
out:
  free(a);
  free(tmp);
  free(ac);
  free(acs);
  free(cnt);
  free(pks);
  return z;
}

typedef struct {
  int u, v;
  float score;
} cand;

static int cmp_cand(const void *a, const void *b) {
  float x = ((const cand *)a)->score, y = ((const cand *)b)->score;
  return (x < y) - (x > y);
}

/* Score of a tile at frame pixel (u,v) of size tw x th: mean support over its
 * observable edges; -1 when it does not fit. */
static double tile_score(const frame *f, int u, int v, int tw, int th, int use_v, int use_h,
                         int seg, int *nobs) {
  /* Geometric mean: a rectangle borrowing three real edges from neighbours
     but lacking the fourth must lose against the true tile. */
  double s = 0, e;
  int n = 0;
  int H1 = f->fh + 1, W1 = f->fw + 1;
#define ADD(expr) if ((e = (expr)) >= 0) s += log(fmax(e, 0) + 1e-3), n++
  if (use_v) {
    if (u >= 0 && u <= f->fw) ADD(support(f->px, f->cx, H1, u, v, v + th, seg));
    if (u + tw >= 0 && u + tw <= f->fw) ADD(support(f->px, f->cx, H1, u + tw, v, v + th, seg));
  }
  if (use_h) {
    if (v >= 0 && v <= f->fh) ADD(support(f->py, f->cy, W1, v, u, u + tw, seg));
    if (v + th >= 0 && v + th <= f->fh) ADD(support(f->py, f->cy, W1, v + th, u, u + tw, seg));
  }
#undef ADD
  *nobs = n;
  return n ? exp(s / n) : -1;
}

/* Does the rectangle (frame pixels) lie inside the image, give or take tol? */
static int tile_inside(const frame *f, const rot *r, int u, int v, int tw, int th, int iw, int ih,
                       double tol) {
  double us[4] = {u, u + tw, u, u + tw}, vs[4] = {v, v, v + th, v + th};
  for (int i = 0; i < 4; i++) {
    double x, y;
    rot_to_image(r, f->u0 + us[i], f->v0 + vs[i], &x, &y);
    if (x < -tol || y < -tol || x > iw + tol || y > ih + tol) return 0;
  }
  return 1;
}

/* ---- full-resolution refinement ----------------------------------------- */

typedef struct {
  sscor_region_reader read;
  void *user;
  int W, H;       /* full image */
  double angle;   /* degrees */
  float *buf, *strip;
  size_t cap_buf, cap_strip;
} refiner;

static sscor_status ensure(float **p, size_t *cap, size_t n) {
  if (n <= *cap) return SSCOR_OK;
  float *q = realloc(*p, n * sizeof *q);
  if (!q) return sscor_fail(SSCOR_E_NOMEM, "detect: out of memory for a %zu-sample strip", n);
  *p = q;
  *cap = n;
  return SSCOR_OK;
}

/* Samples the frame rectangle [u0,u0+w) x [v0,v0+h) (full-res frame coords,
 * unit steps) into r->strip; NaN marks pixels outside the image. */
static sscor_status read_frame_rect(refiner *r, double u0, double v0, int w, int h) {
  sscor_status st = ensure(&r->strip, &r->cap_strip, (size_t)w * h);
  if (st) return st;
  rot ro = make_rot(r->angle, r->W * 0.5, r->H * 0.5);
  double xmin = 1e30, xmax = -1e30, ymin = 1e30, ymax = -1e30;
  double us[4] = {u0, u0 + w, u0, u0 + w}, vs[4] = {v0, v0, v0 + h, v0 + h};
  for (int i = 0; i < 4; i++) {
    double x, y;
    rot_to_image(&ro, us[i], vs[i], &x, &y);
    xmin = fmin(xmin, x);
    xmax = fmax(xmax, x);
    ymin = fmin(ymin, y);
    ymax = fmax(ymax, y);
  }
  int bx0 = (int)floor(xmin) - 1, by0 = (int)floor(ymin) - 1;
  int bx1 = (int)ceil(xmax) + 2, by1 = (int)ceil(ymax) + 2;
  if (bx0 < 0) bx0 = 0;
  if (by0 < 0) by0 = 0;
  if (bx1 > r->W) bx1 = r->W;
  if (by1 > r->H) by1 = r->H;
  for (size_t i = 0; i < (size_t)w * h; i++) r->strip[i] = NAN;
  if (bx1 <= bx0 || by1 <= by0) return SSCOR_OK;
  int bw = bx1 - bx0, bh = by1 - by0;
  if ((st = ensure(&r->buf, &r->cap_buf, (size_t)bw * bh))) return st;
  if ((st = r->read(r->user, bx0, by0, bw, bh, r->buf))) return st;
  for (int j = 0; j < h; j++)
    for (int i = 0; i < w; i++) {
      double x, y;
      rot_to_image(&ro, u0 + i + 0.5, v0 + j + 0.5, &x, &y);
      x -= 0.5 + bx0;
      y -= 0.5 + by0;
      float val;
      if (r->angle == 0.0) {
        int xi = (int)lround(x), yi = (int)lround(y);
        if (xi < 0 || yi < 0 || xi >= bw || yi >= bh) continue;
        val = r->buf[(size_t)yi * bw + xi];
      } else {
        if (x < 0 || y < 0 || x > bw - 1 || y > bh - 1) continue;
        int x0 = (int)x, y0 = (int)y, x1 = x0 + 1 < bw ? x0 + 1 : x0, y1 = y0 + 1 < bh ? y0 + 1 : y0;
        double ax = x - x0, ay = y - y0;
        const float *p0 = r->buf + (size_t)y0 * bw, *p1 = r->buf + (size_t)y1 * bw;
        val = (float)((1 - ay) * ((1 - ax) * p0[x0] + ax * p0[x1]) + ay * ((1 - ax) * p1[x0] + ax * p1[x1]));
      }
      r->strip[(size_t)j * w + i] = val;
    }
  return SSCOR_OK;
}

/* Refines one edge: vertical (line u = pos) or horizontal, spanning [a0,a1)
 * along it, within +-rad of pos. Returns the best boundary and its support. */
static sscor_status refine_edge(refiner *r, int vertical, int pos, int a0, int a1, int rad,
                                int seg, float eps, int *best_pos, double *best_sup) {
  int across = 2 * rad + 8, along = a1 - a0;
  *best_pos = pos;
  *best_sup = -1;
  if (along <= 0) return SSCOR_OK;
  int lo = pos - rad - 4;
  sscor_status st = vertical ? read_frame_rect(r, lo, a0, across, along)
                             : read_frame_rect(r, a0, lo, along, across);
  if (st) return st;
  float *s = r->strip;
  /* log in place */
  for (size_t i = 0; i < (size_t)across * along; i++)
    if (!isnan(s[i])) s[i] = logf(s[i] > eps ? s[i] : eps);
  for (int b = 4; b <= across - 4; b++) {
    double acc = 0, segsum = 0;
    int cnt = 0, segn = 0, sego = 0;
    for (int t = 0; t < along; t++) {
      float q[8];
      int ok = 1;
      for (int k = 0; k < 8; k++) {
        int c = b - 4 + k;
        q[k] = vertical ? s[(size_t)t * across + c] : s[(size_t)c * along + t];
        ok &= !isnan(q[k]);
      }
      if (ok) {
        segsum += sharp_step(q + 4, 1);
        sego++;
      }
      if (++segn == seg || t == along - 1) {
        acc += fabs(segsum);
        cnt += sego;
        segsum = 0;
        segn = sego = 0;
      }
    }
    if (cnt * 4 < along) continue;
    double sup = acc / cnt;
    if (sup > *best_sup) {
      *best_sup = sup;
      *best_pos = lo + b;
    }
  }
  return SSCOR_OK;
}

/* Refines the four edges of the coarse tile candidate (u,v) at full
 * resolution: e[0..3] = left, right, top, bottom positions, e[4..7] their
 * supports (<= 0: not observable). *gm = geometric mean support. */
static sscor_status refine_candidate(refiner *rf, int u, int v, double fu0, double fv0, int scale,
                                     int TW, int TH, int use_v, int use_h, int rad, int seg,
                                     float eps, int have_reader, double e[8], double *gm,
                                     int *nobs) {
  int U = (int)lround(fu0 + (double)u * scale), V = (int)lround(fv0 + (double)v * scale);
  int pos[4] = {U, U + TW, V, V + TH};
  double lsum = 0;
  *nobs = 0;
  for (int k = 0; k < 4; k++) {
    int vertical = k < 2;
    e[k] = pos[k];
    e[4 + k] = -1;
    if ((vertical && !use_v) || (!vertical && !use_h)) continue;
    if (!have_reader) {
      e[4 + k] = 0;
      continue;
    }
    int a0 = vertical ? V : U, a1 = vertical ? V + TH : U + TW;
    /* leave the corners out: neighbours' edges cross there */
    int trim = (a1 - a0) / 16, bp;
    double bs;
    sscor_status st = refine_edge(rf, vertical, pos[k], a0 + trim, a1 - trim, rad, seg, eps, &bp, &bs);
    if (st) return st;
    /* An edge on the image border has nothing to refine against. */
    if (bs > 0) {
      e[k] = bp;
      e[4 + k] = bs;
      lsum += log(bs + 1e-3);
      (*nobs)++;
    }
  }
  *gm = *nobs ? exp(lsum / *nobs) : 0;
  return SSCOR_OK;
}

/* ---- seams as individual lines (few tiles) ------------------------------ */

/* Lines of one axis that stand out: the coherent support of every boundary
 * over the whole frame length, peaks above the texture's spread (median +
 * 10 MAD, and 2x the median) that are the strongest within min_gap.
 * Returns the count; positions (coarse frame px) in pos[] (max n). */
static int find_lines(const frame *f, int vertical, int seg, int min_gap, int *pos, int max_n) {
  int n = vertical ? f->fw + 1 : f->fh + 1, along = vertical ? f->fh : f->fw;
  const double *P = vertical ? f->px : f->py;
  const int *C = vertical ? f->cx : f->cy;
  float *sup = malloc(sizeof(float) * (size_t)n * 2);
  if (!sup) return -1;
  float *tmp = sup + n;
  int m = 0;
  for (int b = 0; b < n; b++) {
    double v = b >= 4 && b + 4 < n ? support(P, C, along + 1, b, 0, along, seg) : -1;
    sup[b] = (float)v;
    /* the texture's spread from lines through data only: no-data (steps of
       exactly 0) would pull the median down and widen the spread */
    if (v > 0) tmp[m++] = (float)v;
  }
  int k = 0;
  if (m >= 16) {
    float med = median_of(tmp, m);
    int mm = 0;
    for (int b = 0; b < n; b++)
      if (sup[b] > 0) tmp[mm++] = fabsf(sup[b] - med);
    float mad = 1.4826f * median_of(tmp, mm);
    float thr = fmaxf(med + 10.0f * mad, 2.0f * med);
    for (int b = 0; b < n && k < max_n; b++) {
      if (!(sup[b] > thr)) continue;
      int peak = 1;
      for (int d = -min_gap; d <= min_gap && peak; d++)
        if (d && b + d >= 0 && b + d < n && (sup[b + d] > sup[b] || (sup[b + d] == sup[b] && d < 0)))
          peak = 0;
      if (peak) pos[k++] = b;
      if (getenv("SSCOR_DETECT_DEBUG") && peak)
        fprintf(stderr, "line %d %d sup %.4f (median %.4f, mad %.4f)\n", vertical, b, sup[b], med, mad);
    }
  }
  free(sup);
  return k;
}

/* Tile origins along one axis from its lines (full-res frame px, refined):
 * every line starts a tile of size `size`; tiles are added before the first
 * and after the last line until the frame [lo, hi) is covered. */
static int origins_from_lines(const double *lines, int nl, double size, double ov, double lo,
                              double hi, double *org, int max_n) {
  int k = 0;
  double first = lines[0];
  while (first > lo + ov + 0.5 && k < max_n / 4) first -= size;
  for (double o = first; o < lines[0] - 0.5 && k < max_n; o += size) org[k++] = o;
  for (int i = 0; i < nl && k < max_n; i++) {
    org[k++] = lines[i];
    /* a gap of several pitches: the seams between were too weak to see */
    if (i + 1 < nl) {
      long gaps = lround((lines[i + 1] - lines[i]) / size);
      for (long j = 1; j < gaps && k < max_n; j++)
        org[k++] = lines[i] + (lines[i + 1] - lines[i]) * (double)j / (double)gaps;
    }
  }
  while (k < max_n && org[k - 1] + size < hi - 0.5) {
    org[k] = org[k - 1] + size;
    k++;
  }
  return k;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The geometry from lines: see sscor_detect_params.lines. */
static sscor_status detect_by_lines(const frame *f, int scale, int min_tile, refiner *rf,
                                    int have_reader, float eps, sscor_geometry *g,
                                    sscor_detect_report *report) {
  enum { MAXL = 256 };
  int pos[2][MAXL], nl[2];
  double fine[2][MAXL], size[2] = {0, 0}, overlap[2] = {0, 0};
  int min_gap = min_tile / scale / 4 > 3 ? min_tile / scale / 4 : 3; /* coarse px */
  double u0 = f->u0 * scale, v0 = f->v0 * scale;
  double lo[2] = {u0, v0}, hi[2] = {u0 + (double)f->fw * scale, v0 + (double)f->fh * scale};
  for (int axis = 0; axis < 2; axis++) {
    int along = axis == 0 ? f->fh : f->fw;
    int seg = along / 8 < 8 ? 8 : along / 8 > 48 ? 48 : along / 8;
    /* lines 3 coarse px apart stay apart: the two ends of an overlap band */
    nl[axis] = find_lines(f, axis == 0, seg, 3, pos[axis], MAXL);
    if (nl[axis] < 0) return sscor_fail(SSCOR_E_NOMEM, "detect: out of memory");
    for (int i = 0; i < nl[axis]; i++) {
      double p0 = (axis == 0 ? f->u0 : f->v0) * scale + (double)pos[axis][i] * scale;
      fine[axis][i] = p0;
      if (!have_reader) continue;
      int a0 = (int)(axis == 0 ? v0 : u0), a1 = (int)(axis == 0 ? hi[1] : hi[0]), bp;
      double bs;
      sscor_status st = refine_edge(rf, axis == 0, (int)lround(p0), a0, a1, 2 * scale + 2,
                                    48, eps, &bp, &bs);
      if (st) return st;
      if (bs > 0) fine[axis][i] = bp;
    }
    qsort(fine[axis], (size_t)nl[axis], sizeof(double), cmp_double);
    /* Lines closer than min_gap form a cluster: one seam line, or the two
       ends of an overlap band (averaged overlaps, a band exposed twice).
       When most clusters are such pairs with one width, tiles overlap by
       it: a tile starts at the first line of a pair and ends at the second
       line of the next. Otherwise the strongest line of a cluster stays. */
    {
      double start[MAXL], width[MAXL], best[MAXL];
      int nc = 0, npair = 0;
      for (int i = 0; i < nl[axis]; i++) {
        double d = fine[axis][i];
        if (nc && d - (start[nc - 1] + width[nc - 1]) < min_gap * scale) {
          width[nc - 1] = d - start[nc - 1];
          continue;
        }
        start[nc] = d;
        width[nc] = 0;
        best[nc] = d;
        nc++;
      }
      double ws[MAXL];
      for (int c = 0; c < nc; c++)
        if (width[c] > 0) ws[npair++] = width[c];
      double ov = 0;
      if (npair >= 1 && npair * 2 >= nc) {
        qsort(ws, (size_t)npair, sizeof(double), cmp_double);
        ov = ws[npair / 2];
        int agree = 0;
        for (int c = 0; c < npair; c++) agree += fabs(ws[c] - ov) <= 2;
        if (agree * 3 < npair * 2) ov = 0;
      }
      /* a lone line (the other end outside the image or too weak) starts a
         tile only when it is the first of a pair; keep it as it is */
      for (int c = 0; c < nc; c++) fine[axis][c] = ov > 0 ? start[c] : best[c];
      if (ov <= 0)
        for (int c = 0; c < nc; c++)
          if (width[c] > 0) fine[axis][c] = start[c] + 0.5 * width[c];
      nl[axis] = nc;
      overlap[axis] = ov;
    }
    if (nl[axis] >= 2) {
      /* The pitch: the smallest gap, when every gap is a whole multiple of
         it (a seam too weak to stand out leaves a double gap); otherwise
         the median gap. */
      double d[MAXL];
      for (int i = 0; i + 1 < nl[axis]; i++) d[i] = fine[axis][i + 1] - fine[axis][i];
      qsort(d, (size_t)nl[axis] - 1, sizeof(double), cmp_double);
      double p0 = d[0], sum = 0;
      int units = 0, whole = 1;
      for (int i = 0; i + 1 < nl[axis]; i++) {
        long k = lround(d[i] / p0);
        if (k < 1 || fabs(d[i] - k * p0) > 0.06 * p0 + 2) whole = 0;
        sum += d[i];
        units += (int)k;
      }
      size[axis] = whole && units > 0 ? sum / units : d[(nl[axis] - 1) / 2];
      /* Tile seams repeat at the pitch; lines at random gaps or closer
         than a tile are something else (light-sheet stripes, scratches,
         the sample's own straight edges). */
      if ((nl[axis] >= 3 && !whole) || size[axis] < min_tile) {
        if (getenv("SSCOR_DETECT_DEBUG"))
          fprintf(stderr, "lines %d: %d lines, pitch %.1f, %s: not tile seams\n", axis, nl[axis],
                  size[axis], whole ? "regular" : "irregular");
        nl[axis] = 0;
        size[axis] = 0;
      }
    } else if (nl[axis] == 1) {
      /* one seam line: two tiles, each at least as large as its side */
      size[axis] = fmax(fine[axis][0] - lo[axis], hi[axis] - fine[axis][0]);
    }
  }
  int use_v = nl[0] > 0, use_h = nl[1] > 0;
  report->pitch_x = size[0];
  report->pitch_y = size[1];
  if (!use_v && !use_h) {
    snprintf(report->summary, sizeof report->summary,
             "no stripes found: no straight seam line stands out of the texture");
    return SSCOR_OK;
  }
  g->orientation = use_v && use_h ? SSCOR_ORIENT_GRID
                   : use_v        ? SSCOR_ORIENT_VERTICAL
                                  : SSCOR_ORIENT_HORIZONTAL;
  double ox[4 * MAXL], oy[4 * MAXL];
  int nx = 1, ny = 1;
  ox[0] = lo[0];
  oy[0] = lo[1];
  double tw = use_v ? size[0] : hi[0] - lo[0], th = use_h ? size[1] : hi[1] - lo[1];
  if (use_v) nx = origins_from_lines(fine[0], nl[0], tw, overlap[0], lo[0], hi[0], ox, 4 * MAXL);
  if (use_h) ny = origins_from_lines(fine[1], nl[1], th, overlap[1], lo[1], hi[1], oy, 4 * MAXL);
  /* overlapping tiles: each reaches the far end of the next band */
  if (use_v && nl[0] >= 2) tw += overlap[0];
  if (use_h && nl[1] >= 2) th += overlap[1];
  int TW = (int)ceil(tw), TH = (int)ceil(th);
  for (int j = 0; j < ny; j++)
    for (int i = 0; i < nx; i++) {
      /* the frame's box is larger than a rotated image: keep tiles on it */
      if (ox[i] + TW <= 0 || oy[j] + TH <= 0 || ox[i] >= g->width || oy[j] >= g->height) continue;
      sscor_status st = sscor_geometry_add_tile(g, ox[i], oy[j], TW, TH);
      if (st) return st;
    }
  g->tile_w = TW;
  g->tile_h = TH;
  report->edges_refined = nl[0] + nl[1];
  snprintf(report->summary, sizeof report->summary,
           "%s: %d tiles of %dx%d from %d vertical and %d horizontal seam lines, angle %.2f deg",
           sscor_orientation_name(g->orientation), g->n_tiles, TW, TH, nl[0], nl[1], g->angle_deg);
  return SSCOR_OK;
}

static void note_cells(sscor_detect_report *r, size_t n) {
  if (n > r->work_cells) r->work_cells = n;
}

static int cmp_int(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

sscor_status sscor_detect_geometry(const sscor_image *coarse, int scale, int full_w, int full_h,
                                   sscor_region_reader reader, void *reader_user,
                                   const sscor_detect_params *params, sscor_geometry *g,
                                   sscor_detect_report *report) {
  sscor_detect_params def;
  sscor_detect_report rep_local;
  if (!params) {
    sscor_detect_params_default(&def);
    params = &def;
  }
  if (!report) report = &rep_local;
  memset(report, 0, sizeof *report);
  memset(g, 0, sizeof *g);
  if (!coarse || !coarse->data || scale < 1)
    return sscor_fail(SSCOR_E_INVALID, "detect: no coarse image or scale %d < 1", scale);
  if (full_w < coarse->width * scale || full_h < coarse->height * scale ||
      full_w >= (coarse->width + 1) * scale + scale || full_h >= (coarse->height + 1) * scale + scale)
    return sscor_fail(SSCOR_E_INVALID,
                      "detect: coarse image %dx%d at scale %d does not match a %dx%d image",
                      coarse->width, coarse->height, scale, full_w, full_h);
  if (coarse->width < 16 || coarse->height < 16)
    return sscor_fail(SSCOR_E_INVALID, "detect: coarse image %dx%d is too small (16x16 at least)",
                      coarse->width, coarse->height);
  if (params->angle_known && !(fabs(params->angle) <= params->max_angle_deg))
    return sscor_fail(SSCOR_E_INVALID, "detect: known angle %g is outside 0..+-%g degrees",
                      params->angle, params->max_angle_deg);
  if (params->max_angle_deg < 0 || params->max_angle_deg > 45)
    return sscor_fail(SSCOR_E_INVALID, "detect: max angle %g is out of range (0..45 degrees)",
                      params->max_angle_deg);
  sscor_status st = sscor_geometry_init(g, full_w, full_h);
  if (st) return st;

  int cw = coarse->width, ch = coarse->height;
  float *L = NULL;
  uint8_t *data = NULL;
  frame f;
  memset(&f, 0, sizeof f);
  cand *cands = NULL, *allc = NULL;
  float *scores = NULL;
  refiner rf = {reader, reader_user, full_w, full_h, 0, NULL, NULL, 0, 0};
  int *lens = NULL;
  double *edge = NULL;
  float eps = 1e-6f;
  if ((st = log_image(coarse, &L, &data, &eps))) goto fail;

  /* Rotation centre: the full image's, in coarse units. */
  double ccx = full_w * 0.5 / scale, ccy = full_h * 0.5 / scale;
  double angle = params->angle_known
                     ? params->angle
                     : find_angle(L, cw, ch, fmin(params->max_angle_deg, frame_angle_limit(cw, ch)),
                                  &report->work_cells);
  report->angle_searched = angle;
  if ((st = build_frame(L, data, cw, ch, angle, ccx, ccy, &f))) goto fail;
  note_cells(report, (size_t)(f.fw + 1) * (f.fh + 1));

  int min_tile = params->min_tile > 0 ? params->min_tile : 64;
  if (params->lines) {
    g->angle_deg = angle;
    rf.angle = angle;
    st = detect_by_lines(&f, scale, min_tile, &rf, reader != NULL, eps, g, report);
    if (!st && g->n_tiles == 0) g->angle_deg = 0;
    goto done;
  }
  int max_tile_x = params->max_tile > 0 ? params->max_tile : full_w / 2;
  int max_tile_y = params->max_tile > 0 ? params->max_tile : full_h / 2;
  int minlag = min_tile / scale > 4 ? min_tile / scale : 4;
  double pitch_x, size_x, pitch_y, size_y;
  int band = 16;
  double zx = periodicity(&f, 1, minlag, max_tile_x / scale, band, &pitch_x, &size_x);
  double zy = periodicity(&f, 0, minlag, max_tile_y / scale, band, &pitch_y, &size_y);
  double zmin = params->min_significance > 0 ? params->min_significance : 5.0;
  report->significance_x = zx;
  report->significance_y = zy;
  int use_v = zx >= zmin, use_h = zy >= zmin;
  g->angle_deg = angle;
  if (!use_v && !use_h) {
    snprintf(report->summary, sizeof report->summary,
             "no stripes found: seam periodicity z-score %.1f (vertical), %.1f (horizontal), "
             "below %.1f",
             zx, zy, zmin);
    g->angle_deg = 0;
    goto done;
  }
  report->pitch_x = use_v ? pitch_x * scale : 0;
  report->pitch_y = use_h ? pitch_y * scale : 0;
  g->orientation = use_v && use_h ? SSCOR_ORIENT_GRID
                   : use_v        ? SSCOR_ORIENT_VERTICAL
                                  : SSCOR_ORIENT_HORIZONTAL;

  /* Coarse tile size in frame pixels; stripes span the whole frame. */
  int tw = use_v ? (int)lround(size_x) : f.fw, th = use_h ? (int)lround(size_y) : f.fh;
  double pu = use_v ? pitch_x : f.fw, pv = use_h ? pitch_y : f.fh;
  int seg_v = th / 4 < 8 ? 8 : th / 4 > 48 ? 48 : th / 4;
  int seg_h = tw / 4 < 8 ? 8 : tw / 4 > 48 ? 48 : tw / 4;
  int seg = seg_v < seg_h ? seg_v : seg_h;
  rot cr = make_rot(angle, ccx, ccy);
  int umin = use_v ? 0 : 0, umax = use_v ? f.fw - tw : 0;
  int vmin = use_h ? 0 : 0, vmax = use_h ? f.fh - th : 0;
  size_t ncand_max = (size_t)(umax - umin + 1) * (vmax - vmin + 1);
  note_cells(report, ncand_max);
  scores = malloc(ncand_max * sizeof *scores);
  cands = malloc(ncand_max * sizeof *cands);
  if (!scores || !cands) {
    st = sscor_fail(SSCOR_E_NOMEM, "detect: out of memory for %zu tile candidates", ncand_max);
    goto fail;
  }
  int nu = umax - umin + 1, nv = vmax - vmin + 1;
  int min_obs = use_v && use_h ? 2 : 1;
  double tol = 1.5 + (angle != 0.0 ? 1.0 : 0.0);
  for (int j = 0; j < nv; j++)
    for (int i = 0; i < nu; i++) {
      int u = umin + i, v = vmin + j, nobs;
      float sc = -1;
      if (!use_v || !use_h || tile_inside(&f, &cr, u, v, tw, th, cw, ch, tol)) {
        /* the tile must hold data at its centre */
        int cu = u + tw / 2, cv = v + th / 2;
        if (cu < f.fw && cv < f.fh && f.data[(size_t)cv * f.fw + cu]) {
          double s = tile_score(&f, u, v, tw, th, use_v, use_h, seg, &nobs);
          if (nobs >= min_obs) sc = (float)s;
        }
      }
      scores[(size_t)j * nu + i] = sc;
    }
  /* Local maxima, strongest first, greedy suppression. */
  size_t nc = 0;
  for (int j = 0; j < nv; j++)
    for (int i = 0; i < nu; i++) {
      float s = scores[(size_t)j * nu + i];
      if (s <= 0) continue;
      int ismax = 1;
      for (int dj = -1; dj <= 1 && ismax; dj++)
        for (int di = -1; di <= 1; di++) {
          int ii = i + di, jj = j + dj;
          if ((di || dj) && ii >= 0 && jj >= 0 && ii < nu && jj < nv &&
              scores[(size_t)jj * nu + ii] > s) {
            ismax = 0;
            break;
          }
        }
      if (ismax) cands[nc++] = (cand){umin + i, vmin + j, s};
    }
  qsort(cands, nc, sizeof *cands, cmp_cand);
  double sup_u = 0.33 * fmin(pu, tw), sup_v = 0.33 * fmin(pv, th);
  if (!use_v) sup_u = 1e9;
  if (!use_h) sup_v = 1e9;
  allc = malloc(nc * sizeof *allc + 1);
  if (!allc) {
    st = sscor_fail(SSCOR_E_NOMEM, "detect: out of memory");
    goto fail;
  }
  memcpy(allc, cands, nc * sizeof *allc);
  size_t nall = nc;
  /* A tile is new only where the stronger tiles do not already cover the
     image: rectangles straddling real tiles (built from their edges) fall. */
  uint8_t *cover = calloc((size_t)f.fw * f.fh, 1);
  if (!cover) {
    st = sscor_fail(SSCOR_E_NOMEM, "detect: out of memory");
    goto fail;
  }
  int nacc = 0;
  for (size_t k = 0; k < nc; k++) {
    int clash = 0;
    for (int a = 0; a < nacc && !clash; a++)
      clash = fabs((double)cands[a].u - cands[k].u) < sup_u && fabs((double)cands[a].v - cands[k].v) < sup_v;
    if (clash) continue;
    int u0 = cands[k].u, v0 = cands[k].v, u1 = u0 + tw, v1 = v0 + th;
    if (u0 < 0) u0 = 0;
    if (v0 < 0) v0 = 0;
    if (u1 > f.fw) u1 = f.fw;
    if (v1 > f.fh) v1 = f.fh;
    long tot = 0, cov = 0;
    for (int v = v0; v < v1; v += 2)
      for (int u = u0; u < u1; u += 2) {
        size_t i = (size_t)v * f.fw + u;
        if (!f.data[i]) continue;
        tot++;
        cov += cover[i] != 0;
      }
    if (tot == 0 || cov > 0.7 * tot) continue;
    for (int v = v0; v < v1; v++) memset(cover + (size_t)v * f.fw + u0, 1, (size_t)(u1 - u0));
    cands[nacc++] = cands[k];
  }
  free(cover);
  if (getenv("SSCOR_DETECT_DEBUG"))
    for (int a = 0; a < nacc; a++)
      fprintf(stderr, "cand %g %g %g\n", (f.u0 + cands[a].u) * scale, (f.v0 + cands[a].v) * scale,
              cands[a].score);
  /* Keep tiles whose edges are about as strong as the typical tile's. */
  {
    int nt = nacc;
    for (int a = 0; a < nt; a++) scores[a] = cands[a].score;
    qsort(scores, (size_t)nt, sizeof *scores, cmp_float);
    float ref = nt ? scores[(int)(nt * 0.75)] : 0;
    int k = 0;
    for (int a = 0; a < nacc; a++)
      if (cands[a].score >= 0.25f * ref) cands[k++] = cands[a];
    nacc = k;
  }
  if (nacc == 0) {
    g->orientation = SSCOR_ORIENT_NONE;
    g->angle_deg = 0;
    snprintf(report->summary, sizeof report->summary,
             "no stripes found: periodic seams (z %.1f, %.1f) but no tile fits them", zx, zy);
    goto done;
  }

  /* Full-resolution refinement of every observable edge. Frame coordinates
     of tile edges at full resolution: (f.u0 + u) * scale. */
  edge = malloc((size_t)nacc * 8 * sizeof *edge);
  lens = malloc((size_t)nacc * 2 * sizeof *lens);
  if (!edge || !lens) {
    st = sscor_fail(SSCOR_E_NOMEM, "detect: out of memory");
    goto fail;
  }
  rf.angle = angle;
  int rad = params->refine_radius > 0 ? params->refine_radius : 2 * scale + 2;
  double sup_sum = 0;
  int sup_n = 0;
  double fu0 = f.u0 * scale, fv0 = f.v0 * scale;
  int TW = tw * scale, TH = th * scale;
  /* Pass 0 refines every tile and its rivals on image evidence alone; pass 1
     adds a lattice prior from the neighbours found in pass 0. */
  double *prev = malloc(sizeof(double) * 2 * (size_t)nacc + 1);
  if (!prev) {
    st = sscor_fail(SSCOR_E_NOMEM, "detect: out of memory");
    goto fail;
  }
  for (int pass = 0; pass < 2; pass++) {
    for (int a = 0; a < nacc; a++) {
      /* The coarse pass cannot always tell a tile edge from a thin line of
         the sample a few pixels off; full resolution can. Refine the tile
         and its strongest suppressed rivals, keep the best. */
      double best_gm = -1;
      double *e = edge + (size_t)a * 8; /* pos[4], sup[4] */
      int tried = 0;
      for (size_t k = 0; k < nall && tried < 6; k++) {
        const cand *c = &allc[k];
        if (fabs((double)c->u - cands[a].u) >= sup_u || fabs((double)c->v - cands[a].v) >= sup_v) continue;
        if (c->score < 0.5f * cands[a].score && !(c->u == cands[a].u && c->v == cands[a].v)) continue;
        tried++;
        double te[8], gm;
        int nobs;
        if ((st = refine_candidate(&rf, c->u, c->v, fu0, fv0, scale, TW, TH, use_v, use_h, rad,
                                   seg * scale, eps, reader != NULL, te, &gm, &nobs))) {
          free(prev);
          goto fail;
        }
        /* Lattice prior: a rival a pitch away from its neighbours is more
           likely than one borrowing a neighbour's edge (lines of the sample
           near a tile edge otherwise tempt the choice). */
        if (pass == 1) {
          double dev2 = 0, PU = pu * scale, PV = pv * scale;
          int nn = 0;
          for (int b = 0; b < nacc; b++) {
            if (b == a) continue;
            double du = prev[2 * a] - prev[2 * b], dv = prev[2 * a + 1] - prev[2 * b + 1];
            if (use_v && fabs(dv) < 0.5 * PV && fabs(du) > 0.5 * PU && fabs(du) < 1.5 * PU) {
              double d = (fabs(te[0] - prev[2 * b]) - PU) / (0.1 * PU);
              dev2 += d * d;
              nn++;
            }
            if (use_h && fabs(du) < 0.5 * PU && fabs(dv) > 0.5 * PV && fabs(dv) < 1.5 * PV) {
              double d = (fabs(te[2] - prev[2 * b + 1]) - PV) / (0.1 * PV);
              dev2 += d * d;
              nn++;
            }
          }
          if (nn) gm *= exp(-0.5 * dev2 / nn);
        }
        if (getenv("SSCOR_DETECT_DEBUG"))
          fprintf(stderr, "pass %d rival of %d: %g,%g edges %g %g %g %g sup %.3f %.3f %.3f %.3f gm %.4f\n",
                  pass, a, te[0], te[2], te[0], te[1], te[2], te[3], te[4], te[5], te[6], te[7], gm);
        if (gm > best_gm) {
          best_gm = gm;
          memcpy(e, te, sizeof te);
        }
      }
      if (pass == 1)
        for (int k = 0; k < 4; k++)
          if (e[4 + k] > 0) {
            sup_sum += e[4 + k];
            sup_n++;
            report->edges_refined++;
          }
    }
    for (int a = 0; a < nacc; a++) {
      prev[2 * a] = edge[(size_t)a * 8];
      prev[2 * a + 1] = edge[(size_t)a * 8 + 2];
    }
  }
  free(prev);
  /* Tile size at full resolution: the median of (right - left) over tiles where
     both edges were seen clearly. */
  int fullw = TW, fullh = TH;
  for (int axis = 0; axis < 2; axis++) {
    int k = 0, use = axis == 0 ? use_v : use_h;
    if (!use || !reader) continue;
    for (int a = 0; a < nacc; a++) {
      double *e = edge + (size_t)a * 8;
      int i0 = axis == 0 ? 0 : 2;
      if (e[4 + i0] > 0 && e[5 + i0] > 0) lens[k++] = (int)(e[i0 + 1] - e[i0]);
    }
    if (k == 0) continue;
    /* The mode, not the median: with narrow overlaps an edge may snap to the
       neighbour's edge, but both edges right give the exact size. */
    qsort(lens, (size_t)k, sizeof *lens, cmp_int);
    int best = lens[k / 2], bestc = 0;
    for (int i = 0; i < k; i++) {
      int c = 0;
      for (int j = 0; j < k; j++) c += abs(lens[j] - lens[i]) <= 1;
      c = c * 4 + (lens[i] == lens[k / 2]); /* ties: nearer the median */
      int exact = 0;
      for (int j = 0; j < k; j++) exact += lens[j] == lens[i];
      c = c * 1000 + exact;
      if (c > bestc) {
        bestc = c;
        best = lens[i];
      }
    }
    if (axis == 0)
      fullw = best;
    else
      fullh = best;
  }
  if (!use_v) {
    fullw = (int)ceil(f.fw * (double)scale);
  }
  if (!use_h) {
    fullh = (int)ceil(f.fh * (double)scale);
  }
  g->tile_w = fullw;
  g->tile_h = fullh;
  /* Second look with the size known: of "origin at the left edge" and
     "origin at the right edge minus the size", keep the one whose two edges
     are both supported (an edge may have snapped to a neighbour's edge). */
  for (int a = 0; a < nacc && reader; a++) {
    double *e = edge + (size_t)a * 8;
    for (int axis = 0; axis < 2; axis++) {
      int i0 = axis * 2, size = axis == 0 ? fullw : fullh;
      if (!(axis == 0 ? use_v : use_h) || !(e[4 + i0] > 0 && e[5 + i0] > 0)) continue;
      int hyp[2] = {(int)e[i0], (int)e[i0 + 1] - size};
      if (hyp[0] == hyp[1]) continue;
      double bestsc = -1;
      int bestlo = hyp[0];
      double bsup[2] = {0, 0};
      int bpos[2] = {0, 0};
      for (int hI = 0; hI < 2; hI++) {
        double sc = 0;
        int ok = 1, pp[2];
        double ss[2];
        for (int k = 0; k < 2; k++) {
          int vertical = axis == 0;
          /* span along the edge: the tile's extent on the other axis */
          int a0 = (int)(vertical ? e[2] : e[0]), a1 = a0 + (vertical ? TH : TW);
          if (vertical ? !use_h : !use_v) {
            a0 = (int)(vertical ? fv0 : fu0);
            a1 = a0 + (vertical ? TH : TW);
          }
          int trim = (a1 - a0) / 16;
          if ((st = refine_edge(&rf, vertical, hyp[hI] + k * size, a0 + trim, a1 - trim, 1,
                                seg * scale, eps, &pp[k], &ss[k])))
            goto fail;
          if (ss[k] <= 0) ok = 0;
          sc += log(fmax(ss[k], 0) + 1e-3);
        }
        if (ok && sc > bestsc) {
          bestsc = sc;
          bestlo = pp[0];
          bpos[0] = pp[0];
          bpos[1] = pp[1];
          bsup[0] = ss[0];
          bsup[1] = ss[1];
        }
      }
      if (bestsc > -1e30 && bsup[0] > 0) {
        e[i0] = bestlo;
        e[i0 + 1] = bpos[1];
        e[4 + i0] = bsup[0];
        e[5 + i0] = bsup[1];
      }
    }
  }
  for (int a = 0; a < nacc; a++) {
    double *e = edge + (size_t)a * 8;
    double org[2];
    for (int axis = 0; axis < 2; axis++) {
      int i0 = axis * 2, size = axis == 0 ? fullw : fullh;
      double lo = e[i0], hi = e[i0 + 1] - size, slo = e[4 + i0], shi = e[5 + i0];
      if (slo > 0 && shi > 0)
        org[axis] = fabs(lo - hi) <= 2 ? floor((lo + hi) * 0.5) : (slo >= shi ? lo : hi);
      else if (shi > 0)
        org[axis] = hi;
      else
        org[axis] = lo;
    }
    if (!use_v) org[0] = fu0;
    if (!use_h) org[1] = fv0;
    if ((st = sscor_geometry_add_tile(g, org[0], org[1], fullw, fullh))) goto fail;
  }
  report->mean_step = sup_n ? sup_sum / sup_n : 0;
  snprintf(report->summary, sizeof report->summary,
           "%s: %d tiles of %dx%d, pitch %.1f x %.1f px, angle %.2f deg, "
           "periodicity z %.1f/%.1f, mean edge step %.3f",
           sscor_orientation_name(g->orientation), g->n_tiles, fullw, fullh, report->pitch_x,
           report->pitch_y, angle, zx, zy, report->mean_step);
done: /* st is SSCOR_OK on every path that jumps here */
fail:
  free(L);
  free(data);
  frame_free(&f);
  free(cands);
  free(allc);
  free(scores);
  free(rf.buf);
  free(rf.strip);
  free(edge);
  free(lens);
  if (st) sscor_geometry_free(g);
  return st;
}
