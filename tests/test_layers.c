/* Layers: every op on the oneDNN backend against the plain-C reference
 * (random shapes, odd sizes), every backward against central finite
 * differences on the reference, plus argument checking. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "kernels.h"
#include "layers.h"
#include "tensor.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static float urand(void) { /* uniform in [-1, 1) */
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (float)((rng_state >> 40) * (1.0 / (1 << 23)) - 1.0);
}
static float *rnd(size_t n, float scale) {
  float *p = malloc(n * sizeof *p);
  for (size_t i = 0; i < n; i++) p[i] = scale * urand();
  return p;
}

static sscor_engine *REF, *DNN;
static sscor_arena ARENA;

/* A tensor in e's layout holding nchw (or zeros). */
static sscor_tensor mk(sscor_engine *e, int n, int c, int h, int w, const float *nchw) {
  sscor_tensor t;
  sscor_status s = sscor_tensor_alloc(&ARENA, &t, n, c, h, w, sscor_engine_layout(e));
  if (s) {
    fprintf(stderr, "%s\n", sscor_last_error());
    exit(1);
  }
  if (nchw) sscor_tensor_import(&t, nchw);
  return t;
}
static float *get(const sscor_tensor *t) {
  float *p = malloc(sscor_tensor_numel(t) * sizeof *p);
  sscor_tensor_export(t, p);
  return p;
}

/* |a-b| <= rtol * (|b| + rms(b)) everywhere: relative, with the array's own
 * scale as the floor for elements near zero. */
static void compare(const char *what, const float *a, const float *b, size_t n, double rtol) {
  double ss = 0;
  for (size_t i = 0; i < n; i++) ss += (double)b[i] * b[i];
  double rms = sqrt(ss / (double)n) + 1e-30, worst = 0;
  size_t wi = 0;
  for (size_t i = 0; i < n; i++) {
    double err = fabs((double)a[i] - b[i]) / (fabs(b[i]) + rms);
    if (err > worst) worst = err, wi = i;
  }
  CHECK_MSG(worst <= rtol, "%s: element %zu: %.9g vs reference %.9g (rel err %.3g, rms %.3g)",
            what, wi, a[wi], b[wi], worst, rms);
}

#define OK(expr)                                                        \
  do {                                                                  \
    sscor_status s_ = (expr);                                           \
    CHECK_MSG(s_ == SSCOR_OK, "%s: %s", #expr, sscor_last_error());     \
  } while (0)

/* ---------------- convolutions: oneDNN vs reference ---------------- */

typedef struct {
  int deconv, n, h, w, bias;
  sscor_conv p;
} conv_case;

static void conv_sizes(const conv_case *cc, int *ho, int *wo) {
  *ho = cc->deconv ? sscor_deconv2d_out_size(&cc->p, cc->h) : sscor_conv2d_out_size(&cc->p, cc->h);
  *wo = cc->deconv ? sscor_deconv2d_out_size(&cc->p, cc->w) : sscor_conv2d_out_size(&cc->p, cc->w);
}

/* Runs forward, backward data and backward weights on engine e. */
static void conv_run(sscor_engine *e, const conv_case *cc, const float *x, const float *w,
                     const float *b, const float *dy, float **y, float **dx, float *dw,
                     float *db) {
  const sscor_conv *p = &cc->p;
  int ho, wo;
  conv_sizes(cc, &ho, &wo);
  sscor_tensor tx = mk(e, cc->n, p->cin, cc->h, cc->w, x);
  sscor_tensor ty = mk(e, cc->n, p->cout, ho, wo, NULL);
  sscor_tensor tdy = mk(e, cc->n, p->cout, ho, wo, dy);
  sscor_tensor tdx = mk(e, cc->n, p->cin, cc->h, cc->w, NULL);
  sscor_conv pb = *p;
  pb.act = SSCOR_ACT_NONE; /* backward of the conv itself */
  if (cc->deconv) {
    OK(sscor_deconv2d_forward(e, p, &tx, w, b, &ty));
    OK(sscor_deconv2d_backward_data(e, &pb, w, &tdy, &tdx));
    OK(sscor_deconv2d_backward_weights(e, &pb, &tx, &tdy, dw, db));
  } else {
    OK(sscor_conv2d_forward(e, p, &tx, w, b, &ty));
    OK(sscor_conv2d_backward_data(e, &pb, w, &tdy, &tdx));
    OK(sscor_conv2d_backward_weights(e, &pb, &tx, &tdy, dw, db));
  }
  *y = get(&ty);
  *dx = get(&tdx);
}

static void conv_compare(const conv_case *cc) {
  const sscor_conv *p = &cc->p;
  int ho, wo;
  conv_sizes(cc, &ho, &wo);
  size_t nx = (size_t)cc->n * p->cin * cc->h * cc->w, ny = (size_t)cc->n * p->cout * ho * wo;
  size_t nw = (size_t)p->cin * p->cout * p->k * p->k;
  float *x = rnd(nx, 1), *w = rnd(nw, 0.5f), *b = cc->bias ? rnd(p->cout, 0.5f) : NULL;
  float *dy = rnd(ny, 1);
  /* Weight gradients accumulate: start both from the same non-zero values. */
  float *dw0 = rnd(nw, 1), *db0 = rnd(p->cout, 1);
  float *dw_r = malloc(nw * 4), *dw_d = malloc(nw * 4), *db_r = malloc(p->cout * 4),
        *db_d = malloc(p->cout * 4);
  memcpy(dw_r, dw0, nw * 4), memcpy(dw_d, dw0, nw * 4);
  memcpy(db_r, db0, p->cout * 4), memcpy(db_d, db0, p->cout * 4);
  float *y_r, *dx_r, *y_d, *dx_d;
  conv_run(REF, cc, x, w, b, dy, &y_r, &dx_r, dw_r, cc->bias ? db_r : NULL);
  conv_run(DNN, cc, x, w, b, dy, &y_d, &dx_d, dw_d, cc->bias ? db_d : NULL);
  char what[200];
  snprintf(what, sizeof what, "%s n%d %dx%d cin %d cout %d k%d s%d p%d op%d act%d bias%d",
           cc->deconv ? "deconv" : "conv", cc->n, cc->h, cc->w, p->cin, p->cout, p->k,
           p->stride, p->pad, p->out_pad, p->act, cc->bias);
  char w2[260];
  snprintf(w2, sizeof w2, "%s forward", what);
  compare(w2, y_d, y_r, ny, 1e-4);
  snprintf(w2, sizeof w2, "%s backward data", what);
  compare(w2, dx_d, dx_r, nx, 1e-4);
  snprintf(w2, sizeof w2, "%s backward weights", what);
  compare(w2, dw_d, dw_r, nw, 1e-4);
  if (cc->bias) {
    snprintf(w2, sizeof w2, "%s backward bias", what);
    compare(w2, db_d, db_r, p->cout, 1e-4);
  }
  /* The reference accumulated onto dw0: dw_r - dw0 must not be ~0. */
  double moved = 0;
  for (size_t i = 0; i < nw; i++) moved += fabs(dw_r[i] - dw0[i]);
  CHECK_MSG(moved > 0, "%s: weight gradient is zero", what);
  free(x), free(w), free(b), free(dy), free(dw0), free(db0), free(dw_r), free(dw_d);
  free(db_r), free(db_d), free(y_r), free(dx_r), free(y_d), free(dx_d);
}

static void test_conv_backends(void) {
  const conv_case cases[] = {
      /* generator shapes, small */
      {0, 1, 13, 9, 1, {3, 16, 7, 1, 0, 0, SSCOR_ACT_NONE}},
      {0, 1, 13, 9, 1, {16, 32, 3, 2, 1, 0, SSCOR_ACT_NONE}},
      {0, 2, 8, 8, 1, {32, 32, 3, 1, 0, 0, SSCOR_ACT_NONE}},
      {0, 1, 13, 9, 1, {17, 1, 7, 1, 0, 0, SSCOR_ACT_TANH}}, /* hand kernel path */
      {0, 1, 12, 10, 1, {32, 3, 7, 1, 0, 0, SSCOR_ACT_TANH}},
      {0, 1, 12, 10, 0, {16, 2, 3, 1, 0, 0, SSCOR_ACT_NONE}},
      {0, 2, 9, 11, 1, {16, 4, 5, 1, 0, 0, SSCOR_ACT_SIGMOID}}, /* hand kernels, n 2 */
      {0, 2, 9, 11, 1, {4, 16, 5, 1, 0, 0, SSCOR_ACT_NONE}},
      {0, 1, 3, 6, 1, {1, 32, 3, 1, 0, 0, SSCOR_ACT_NONE}},
      /* discriminator shapes */
      {0, 1, 16, 14, 1, {3, 16, 4, 2, 1, 0, SSCOR_ACT_LRELU}},
      {0, 1, 9, 7, 1, {16, 1, 4, 1, 1, 0, SSCOR_ACT_NONE}},
      /* odd sizes, channels, strides, pads, activations */
      {0, 1, 5, 7, 1, {3, 17, 3, 1, 1, 0, SSCOR_ACT_RELU}},
      {0, 2, 13, 9, 0, {17, 5, 3, 2, 0, 0, SSCOR_ACT_SIGMOID}},
      {0, 1, 7, 5, 1, {5, 3, 1, 1, 0, 0, SSCOR_ACT_NONE}},
      {0, 1, 11, 6, 1, {4, 6, 5, 3, 2, 0, SSCOR_ACT_NONE}},
      /* transposed */
      {1, 1, 5, 7, 1, {16, 8, 3, 2, 1, 1, SSCOR_ACT_NONE}},
      {1, 2, 6, 4, 1, {17, 3, 3, 2, 1, 1, SSCOR_ACT_RELU}},
      {1, 1, 5, 7, 0, {3, 5, 4, 2, 1, 0, SSCOR_ACT_NONE}},
      {1, 1, 13, 9, 1, {5, 4, 3, 1, 1, 0, SSCOR_ACT_NONE}},
      {1, 1, 4, 5, 1, {6, 7, 5, 3, 2, 2, SSCOR_ACT_NONE}},
      {1, 1, 4, 5, 1, {3, 5, 2, 2, 0, 1, SSCOR_ACT_NONE}}, /* out_pad > pad */
      {1, 2, 9, 7, 1, {64, 32, 3, 2, 1, 1, SSCOR_ACT_TANH}},
      /* strided conv whose window does not reach the last row */
      {0, 1, 9, 10, 1, {5, 7, 4, 2, 1, 0, SSCOR_ACT_NONE}},
      {0, 1, 12, 11, 1, {16, 16, 3, 3, 0, 0, SSCOR_ACT_LRELU}},
      /* large enough for the multi-threaded paths of the hand kernels */
      {0, 1, 40, 38, 1, {32, 3, 7, 1, 0, 0, SSCOR_ACT_TANH}},
      {0, 1, 40, 38, 1, {3, 32, 7, 1, 0, 0, SSCOR_ACT_NONE}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) conv_compare(&cases[i]);
}

/* ---------------- finite differences on the reference ---------------- */

/* Loss L = sum(r * f(params)) in double; the checker perturbs one parameter
 * at a time by +-h and compares (L+ - L-) / 2h with the analytic gradient. */
typedef double (*loss_fn)(void *state);

static void fd_check(const char *what, loss_fn f, void *state, float *param, const float *grad,
                     size_t n, float h, double rtol) {
  int step = n > 40 ? (int)(n / 40) : 1; /* sample about 40 coordinates */
  double worst = 0, gmax = 0;
  size_t wi = 0;
  double wf = 0;
  for (size_t i = 0; i < n; i++) gmax = fmax(gmax, fabs(grad[i]));
  for (size_t i = (size_t)(urand() + 1) * 3 % step; i < n; i += step) {
    float save = param[i];
    param[i] = save + h;
    double lp = f(state);
    param[i] = save - h;
    double lm = f(state);
    param[i] = save;
    double fd = (lp - lm) / (2.0 * h);
    double err = fabs(fd - grad[i]) / (fabs(fd) + 0.05 * gmax + 1e-12);
    if (err > worst) worst = err, wi = i, wf = fd;
  }
  CHECK_MSG(worst <= rtol, "%s: coordinate %zu: analytic %.9g, finite difference %.9g (rel %.3g)",
            what, wi, grad[wi], wf, worst);
}

static double dot(const float *a, const float *b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
  return s;
}

typedef struct {
  conv_case cc;
  float *x, *w, *b, *r;
  sscor_tensor tx, ty;
} conv_fd;

static double conv_fd_loss(void *s) {
  conv_fd *c = s;
  sscor_tensor_import(&c->tx, c->x);
  if (c->cc.deconv) sscor_deconv2d_forward(REF, &c->cc.p, &c->tx, c->w, c->b, &c->ty);
  else sscor_conv2d_forward(REF, &c->cc.p, &c->tx, c->w, c->b, &c->ty);
  return dot(c->ty.data, c->r, sscor_tensor_numel(&c->ty));
}

static void conv_fd_case(const conv_case *cc) {
  conv_fd c = {.cc = *cc};
  const sscor_conv *p = &cc->p;
  int ho, wo;
  conv_sizes(cc, &ho, &wo);
  size_t nx = (size_t)cc->n * p->cin * cc->h * cc->w, ny = (size_t)cc->n * p->cout * ho * wo;
  size_t nw = (size_t)p->cin * p->cout * p->k * p->k;
  c.x = rnd(nx, 1), c.w = rnd(nw, 0.5f), c.b = rnd(p->cout, 0.5f), c.r = rnd(ny, 1);
  c.tx = mk(REF, cc->n, p->cin, cc->h, cc->w, c.x);
  c.ty = mk(REF, cc->n, p->cout, ho, wo, NULL);
  sscor_tensor tr = mk(REF, cc->n, p->cout, ho, wo, c.r), tdx = mk(REF, cc->n, p->cin, cc->h, cc->w, NULL);
  float *dw = calloc(nw, 4), *db = calloc(p->cout, 4);
  if (cc->deconv) {
    OK(sscor_deconv2d_backward_data(REF, p, c.w, &tr, &tdx));
    OK(sscor_deconv2d_backward_weights(REF, p, &c.tx, &tr, dw, db));
  } else {
    OK(sscor_conv2d_backward_data(REF, p, c.w, &tr, &tdx));
    OK(sscor_conv2d_backward_weights(REF, p, &c.tx, &tr, dw, db));
  }
  char what[160];
  const char *kind = cc->deconv ? "deconv" : "conv";
  /* Linear in each argument: central differences are exact up to rounding. */
  snprintf(what, sizeof what, "%s k%d s%d p%d op%d: d/dx", kind, p->k, p->stride, p->pad, p->out_pad);
  fd_check(what, conv_fd_loss, &c, c.x, tdx.data, nx, 0.25f, 1e-4);
  snprintf(what, sizeof what, "%s k%d s%d p%d op%d: d/dw", kind, p->k, p->stride, p->pad, p->out_pad);
  fd_check(what, conv_fd_loss, &c, c.w, dw, nw, 0.25f, 1e-4);
  snprintf(what, sizeof what, "%s k%d s%d p%d op%d: d/db", kind, p->k, p->stride, p->pad, p->out_pad);
  fd_check(what, conv_fd_loss, &c, c.b, db, p->cout, 0.25f, 1e-4);
  free(c.x), free(c.w), free(c.b), free(c.r), free(dw), free(db);
}

static void test_conv_fd(void) {
  const conv_case cases[] = {
      {0, 2, 7, 5, 1, {3, 4, 3, 1, 1, 0, SSCOR_ACT_NONE}},
      {0, 1, 9, 8, 1, {2, 3, 3, 2, 1, 0, SSCOR_ACT_NONE}},
      {0, 1, 9, 7, 1, {3, 2, 4, 2, 1, 0, SSCOR_ACT_NONE}},
      {0, 1, 10, 9, 1, {2, 1, 7, 1, 0, 0, SSCOR_ACT_NONE}},
      {1, 1, 4, 5, 1, {3, 2, 3, 2, 1, 1, SSCOR_ACT_NONE}},
      {1, 2, 3, 4, 1, {2, 3, 4, 2, 1, 0, SSCOR_ACT_NONE}},
      {1, 1, 4, 3, 1, {2, 2, 5, 3, 2, 2, SSCOR_ACT_NONE}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) conv_fd_case(&cases[i]);
}

/* ---------------- pad, instance norm, element-wise ---------------- */

static void test_pad(void) {
  const int shapes[][5] = {{1, 3, 5, 7, 1}, {2, 17, 13, 9, 3}, {1, 4, 4, 4, 3}, {1, 2, 8, 6, 2},
                           {1, 32, 40, 38, 3} /* multi-threaded */};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    int n = shapes[s][0], c = shapes[s][1], h = shapes[s][2], w = shapes[s][3], pad = shapes[s][4];
    size_t nx = (size_t)n * c * h * w, ny = (size_t)n * c * (h + 2 * pad) * (w + 2 * pad);
    float *x = rnd(nx, 1), *dy = rnd(ny, 1), *ys[2], *dxs[2];
    sscor_engine *es[2] = {REF, DNN};
    for (int b = 0; b < 2; b++) {
      sscor_tensor tx = mk(es[b], n, c, h, w, x), ty = mk(es[b], n, c, h + 2 * pad, w + 2 * pad, NULL);
      sscor_tensor tdy = mk(es[b], n, c, h + 2 * pad, w + 2 * pad, dy), tdx = mk(es[b], n, c, h, w, NULL);
      OK(sscor_reflect_pad_forward(es[b], pad, &tx, &ty));
      OK(sscor_reflect_pad_backward(es[b], pad, &tdy, &tdx));
      ys[b] = get(&ty), dxs[b] = get(&tdx);
    }
    compare("reflect pad forward", ys[1], ys[0], ny, 1e-6);
    compare("reflect pad backward", dxs[1], dxs[0], nx, 1e-6);
    /* PyTorch ReflectionPad2d facts: y[pad-1] mirrors x[1], corners too. */
    CHECK(ys[0][(pad - 1) * (w + 2 * pad) + pad] == x[1 * w + 0]);
    CHECK(ys[0][0] == x[pad * w + pad]);
    /* Backward is the adjoint of forward: <pad(x), dy> == <x, pad^T(dy)>. */
    CHECK_CLOSE(dot(ys[0], dy, ny), dot(x, dxs[0], nx), 1e-5, 1e-5);
    free(x), free(dy);
    for (int b = 0; b < 2; b++) free(ys[b]), free(dxs[b]);
  }
}

typedef struct {
  sscor_act act;
  float *x, *r;
  sscor_tensor tx, ty;
} in_fd;

static double in_fd_loss(void *s) {
  in_fd *c = s;
  sscor_tensor_import(&c->tx, c->x);
  sscor_instnorm_forward(REF, &c->tx, &c->ty, NULL, NULL, c->act);
  return dot(c->ty.data, c->r, sscor_tensor_numel(&c->ty));
}

static void test_instnorm(void) {
  const int shapes[][4] = {{1, 3, 5, 7}, {2, 17, 13, 9}, {1, 64, 8, 8}, {1, 2, 4, 3},
                           {2, 32, 40, 38} /* multi-threaded */};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
    for (int act = SSCOR_ACT_NONE; act <= SSCOR_ACT_SIGMOID; act++) {
      int n = shapes[s][0], c = shapes[s][1], h = shapes[s][2], w = shapes[s][3];
      size_t nx = (size_t)n * c * h * w;
      float *x = rnd(nx, 2), *dy = rnd(nx, 1), *ys[2], *dxs[2], st[2][2][64 * 2];
      int big = nx > 10000; /* finite differences only on the small shapes */
      for (size_t i = 0; i < nx; i++) x[i] += 3.f; /* a mean the norm must remove */
      sscor_engine *es[2] = {REF, DNN};
      for (int b = 0; b < 2; b++) {
        sscor_tensor tx = mk(es[b], n, c, h, w, x), ty = mk(es[b], n, c, h, w, NULL);
        sscor_tensor tdy = mk(es[b], n, c, h, w, dy), tdx = mk(es[b], n, c, h, w, NULL);
        OK(sscor_instnorm_forward(es[b], &tx, &ty, st[b][0], st[b][1], act));
        /* dx may alias dy */
        sscor_tensor *out = b ? &tdy : &tdx;
        OK(sscor_instnorm_backward(es[b], &tx, &ty, st[b][0], st[b][1], act, &tdy, out));
        ys[b] = get(&ty), dxs[b] = get(out);
      }
      char what[100];
      snprintf(what, sizeof what, "instnorm %dx%dx%dx%d act %d forward", n, c, h, w, act);
      compare(what, ys[1], ys[0], nx, 1e-4);
      snprintf(what, sizeof what, "instnorm %dx%dx%dx%d act %d backward", n, c, h, w, act);
      compare(what, dxs[1], dxs[0], nx, 1e-4);
      compare("instnorm mean", st[1][0], st[0][0], n * c, 1e-5);
      compare("instnorm rstd", st[1][1], st[0][1], n * c, 1e-4);
      if (act == SSCOR_ACT_NONE) { /* zero mean, variance var/(var+eps) */
        double m = 0, v = 0, mx = 0, vx = 0;
        for (int i = 0; i < h * w; i++) m += ys[0][i], mx += x[i];
        m /= h * w, mx /= h * w;
        for (int i = 0; i < h * w; i++)
          v += (ys[0][i] - m) * (ys[0][i] - m), vx += (x[i] - mx) * (x[i] - mx);
        v /= h * w, vx /= h * w; /* biased */
        CHECK_CLOSE(m, 0, 1e-6, 0);
        CHECK_CLOSE(v, vx / (vx + 1e-5), 1e-5, 0);
        CHECK_CLOSE(st[0][0][0], mx, 1e-6, 1e-6);
      }
      /* finite differences (skip kinked activations unless no value is near
       * the kink: a step of h moves xhat by about h*rstd) */
      const float h_fd = 1e-2f;
      int kinked = act == SSCOR_ACT_RELU || act == SSCOR_ACT_LRELU;
      int near_kink = 0;
      if (kinked)
        for (size_t i = 0; i < nx; i++)
          if (fabsf(ys[0][i]) < 0.05f) near_kink = 1;
      if (!near_kink && !big) {
        in_fd f = {.act = act, .x = x, .r = dy};
        f.tx = mk(REF, n, c, h, w, x), f.ty = mk(REF, n, c, h, w, NULL);
        snprintf(what, sizeof what, "instnorm %dx%dx%dx%d act %d: d/dx", n, c, h, w, act);
        fd_check(what, in_fd_loss, &f, x, dxs[0], nx, h_fd, 2e-3);
      }
      free(x), free(dy);
      for (int b = 0; b < 2; b++) free(ys[b]), free(dxs[b]);
    }
}

typedef struct {
  int kind; /* 0 act, 1 mse, 2 l1 */
  sscor_act act;
  float *x, *t, *r;
  sscor_tensor tx, ty, tt;
} ew_fd;

static double ew_fd_loss(void *s) {
  ew_fd *c = s;
  sscor_tensor_import(&c->tx, c->x);
  if (c->kind == 0) {
    sscor_act_forward(REF, c->act, &c->tx, &c->ty);
    return dot(c->ty.data, c->r, sscor_tensor_numel(&c->ty));
  }
  double v;
  if (c->kind == 1) sscor_mse_loss(REF, &c->tx, c->t ? &c->tt : NULL, 1.f, 0.5f, &v, NULL);
  else sscor_l1_loss(REF, &c->tx, c->t ? &c->tt : NULL, 1.f, 10.f, &v, NULL);
  return v;
}

static void test_elementwise_shape(int n, int c, int h, int w) {
  const size_t nx = (size_t)n * c * h * w;
  float *x = rnd(nx, 2), *dy = rnd(nx, 1), *t = rnd(nx, 1);
  for (size_t i = 0; i < nx; i++) /* keep away from the kinks at 0 and at t */
    if (fabsf(x[i]) < 0.05f || fabsf(x[i] - t[i]) < 0.05f || fabsf(x[i] - 1.f) < 0.05f) x[i] += 0.2f;
  sscor_engine *es[2] = {REF, DNN};
  for (int act = SSCOR_ACT_NONE; act <= SSCOR_ACT_SIGMOID; act++) {
    float *ys[2], *dxs[2];
    for (int b = 0; b < 2; b++) {
      sscor_tensor tx = mk(es[b], n, c, h, w, x), ty = mk(es[b], n, c, h, w, NULL);
      sscor_tensor tdy = mk(es[b], n, c, h, w, dy);
      OK(sscor_act_forward(es[b], (sscor_act)act, &tx, &ty));
      OK(sscor_act_backward(es[b], (sscor_act)act, &ty, &tdy, &tdy)); /* in place */
      ys[b] = get(&ty), dxs[b] = get(&tdy);
    }
    char what[64];
    snprintf(what, sizeof what, "act %d forward", act);
    compare(what, ys[1], ys[0], nx, 1e-6);
    snprintf(what, sizeof what, "act %d backward", act);
    compare(what, dxs[1], dxs[0], nx, 1e-6);
    ew_fd f = {.kind = 0, .act = (sscor_act)act, .x = x, .r = dy};
    f.tx = mk(REF, n, c, h, w, x), f.ty = mk(REF, n, c, h, w, NULL);
    snprintf(what, sizeof what, "act %d: d/dx", act);
    if (nx < 10000) fd_check(what, ew_fd_loss, &f, x, dxs[0], nx, 1e-2f, 2e-3);
    free(ys[0]), free(ys[1]), free(dxs[0]), free(dxs[1]);
  }
  { /* values straight from the definitions */
    float v[4] = {-1.f, 0.5f, 0.f, 2.f}, o[4];
    sscor_tensor tv = mk(REF, 1, 1, 1, 4, v), to = mk(REF, 1, 1, 1, 4, NULL);
    OK(sscor_act_forward(REF, SSCOR_ACT_RELU, &tv, &to));
    sscor_tensor_export(&to, o);
    CHECK(o[0] == 0.f && o[1] == 0.5f && o[3] == 2.f);
    OK(sscor_act_forward(REF, SSCOR_ACT_LRELU, &tv, &to));
    sscor_tensor_export(&to, o);
    CHECK_CLOSE(o[0], -0.2, 1e-7, 0);
    CHECK(o[1] == 0.5f);
    OK(sscor_act_forward(REF, SSCOR_ACT_TANH, &tv, &to));
    sscor_tensor_export(&to, o);
    CHECK_CLOSE(o[1], tanh(0.5), 1e-7, 0);
    OK(sscor_act_forward(REF, SSCOR_ACT_SIGMOID, &tv, &to));
    sscor_tensor_export(&to, o);
    CHECK_CLOSE(o[2], 0.5, 1e-7, 0);
    CHECK_CLOSE(o[3], 1.0 / (1.0 + exp(-2.0)), 1e-7, 0);
  }
  /* add */
  {
    float *ys[2];
    for (int b = 0; b < 2; b++) {
      sscor_tensor ta = mk(es[b], n, c, h, w, x), tb = mk(es[b], n, c, h, w, dy);
      OK(sscor_add(es[b], &ta, &tb, &ta));
      ys[b] = get(&ta);
    }
    CHECK(ys[0][5] == x[5] + dy[5]);
    compare("add", ys[1], ys[0], nx, 0);
    free(ys[0]), free(ys[1]);
  }
  /* losses, with a target tensor and with a constant target */
  for (int kind = 1; kind <= 2; kind++)
    for (int use_t = 0; use_t <= 1; use_t++) {
      double v[2];
      float *g[2];
      float weight = kind == 1 ? 0.5f : 10.f;
      for (int b = 0; b < 2; b++) {
        sscor_tensor tx = mk(es[b], n, c, h, w, x), tt = mk(es[b], n, c, h, w, t);
        sscor_tensor tg = mk(es[b], n, c, h, w, NULL);
        if (kind == 1) OK(sscor_mse_loss(es[b], &tx, use_t ? &tt : NULL, 1.f, weight, &v[b], &tg));
        else OK(sscor_l1_loss(es[b], &tx, use_t ? &tt : NULL, 1.f, weight, &v[b], &tg));
        g[b] = get(&tg);
      }
      double expect = 0; /* straight from the definition */
      for (size_t i = 0; i < nx; i++) {
        double d = (double)x[i] - (use_t ? t[i] : 1.0);
        expect += kind == 1 ? d * d : fabs(d);
      }
      expect *= weight / (double)nx;
      CHECK_CLOSE(v[0], expect, 0, 1e-12);
      CHECK_CLOSE(v[1], expect, 0, 1e-6);
      compare(kind == 1 ? "mse grad" : "l1 grad", g[1], g[0], nx, 1e-6);
      ew_fd f = {.kind = kind, .x = x, .t = use_t ? t : NULL};
      f.tx = mk(REF, n, c, h, w, x), f.tt = mk(REF, n, c, h, w, t);
      if (nx < 10000)
        fd_check(kind == 1 ? "mse: d/dx" : "l1: d/dx", ew_fd_loss, &f, x, g[0], nx, 1e-2f, 1e-3);
      free(g[0]), free(g[1]);
    }
  free(x), free(dy), free(t);
}

static void test_elementwise(void) {
  test_elementwise_shape(2, 17, 5, 7);
  test_elementwise_shape(1, 32, 40, 38); /* multi-threaded */
}

/* ---------------- tensors, arena, weight freezing, errors ---------------- */

static void test_tensor(void) {
  sscor_arena a;
  sscor_arena_init(&a, 1 << 16);
  sscor_tensor t, u;
  OK(sscor_tensor_alloc(&a, &t, 2, 3, 5, 7, SSCOR_LAYOUT_NHWC));
  CHECK(((uintptr_t)t.data & 63) == 0);
  OK(sscor_tensor_alloc(&a, &u, 2, 3, 5, 7, SSCOR_LAYOUT_NCHW));
  float *x = rnd(210, 1), y[210];
  sscor_tensor_import(&t, x);
  CHECK(t.data[sscor_tensor_index(&t, 1, 2, 3, 4)] == x[((1 * 3 + 2) * 5 + 3) * 7 + 4]);
  OK(sscor_tensor_convert(&t, &u));
  CHECK(memcmp(u.data, x, sizeof y) == 0);
  sscor_tensor_export(&t, y);
  CHECK(memcmp(y, x, sizeof y) == 0);
  /* a block larger than a chunk, then small ones again */
  void *big, *small;
  OK(sscor_arena_alloc(&a, 1 << 20, &big));
  OK(sscor_arena_alloc(&a, 100, &small));
  CHECK(big && small && ((char *)small < (char *)big || (char *)small >= (char *)big + (1 << 20)));
  CHECK(a.used >= (1 << 20) + 2 * 210 * 4);
  CHECK(sscor_tensor_alloc(&a, &t, 0, 3, 5, 7, SSCOR_LAYOUT_NCHW) == SSCOR_E_INVALID);
  CHECK(sscor_tensor_alloc(&a, &t, 65536, 65536, 2, 2, SSCOR_LAYOUT_NCHW) == SSCOR_E_INVALID);
  CHECK(sscor_tensor_convert(&u, &(sscor_tensor){1, 3, 5, 7, SSCOR_LAYOUT_NCHW, y}) == SSCOR_E_INVALID);
  sscor_arena_free(&a);
  CHECK(a.used == 0 && a.chunks == NULL);
  free(x);
}

static void test_frozen_weights(void) {
  sscor_conv p = {8, 8, 3, 1, 1, 0, SSCOR_ACT_NONE};
  float *x = rnd(8 * 36, 1), *w1 = rnd(8 * 8 * 9, 1), *w2 = rnd(8 * 8 * 9, 1), *o[4];
  sscor_tensor tx = mk(DNN, 1, 8, 6, 6, x), ty = mk(DNN, 1, 8, 6, 6, NULL);
  OK(sscor_conv2d_forward(DNN, &p, &tx, w1, NULL, &ty));
  o[0] = get(&ty);
  sscor_engine_freeze_weights(DNN, 1);
  OK(sscor_conv2d_forward(DNN, &p, &tx, w1, NULL, &ty)); /* cached */
  o[1] = get(&ty);
  OK(sscor_conv2d_forward(DNN, &p, &tx, w2, NULL, &ty)); /* other pointer */
  o[2] = get(&ty);
  sscor_engine_freeze_weights(DNN, 0);
  memcpy(w1, w2, 8 * 8 * 9 * 4); /* changed in place after unfreezing */
  OK(sscor_conv2d_forward(DNN, &p, &tx, w1, NULL, &ty));
  o[3] = get(&ty);
  CHECK(memcmp(o[0], o[1], 8 * 36 * 4) == 0);
  CHECK(memcmp(o[0], o[2], 8 * 36 * 4) != 0);
  CHECK(memcmp(o[2], o[3], 8 * 36 * 4) == 0);
  for (int i = 0; i < 4; i++) free(o[i]);
  free(x), free(w1), free(w2);
}

/* Frozen inference runs 3x3 stride-1 convs by Winograd where the CPU has it:
 * close to the reference, and really a different algorithm (not bit-equal to
 * direct). Where it has none (AVX2), the engine says so and stays direct. */
static void test_winograd(void) {
  const struct { int n, h, w; sscor_conv p; } cases[] = {
      {1, 18, 18, {64, 64, 3, 1, 0, 0, SSCOR_ACT_NONE}},
      {2, 13, 9, {64, 80, 3, 1, 1, 0, SSCOR_ACT_RELU}},
      {1, 14, 14, {256, 256, 3, 1, 0, 0, SSCOR_ACT_NONE}}, /* residual block width */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const sscor_conv *p = &cases[i].p;
    int n = cases[i].n, h = cases[i].h, w = cases[i].w;
    int ho = sscor_conv2d_out_size(p, h), wo = sscor_conv2d_out_size(p, w);
    size_t nx = (size_t)n * p->cin * h * w, ny = (size_t)n * p->cout * ho * wo;
    float *x = rnd(nx, 1), *wt = rnd((size_t)p->cin * p->cout * 9, 0.05f), *b = rnd(p->cout, 0.1f);
    float *o[3];
    sscor_engine *es[3] = {REF, DNN, DNN};
    long wino_before = 0;
    for (int k = 0; k < 3; k++) {
      sscor_engine_freeze_weights(es[k], k == 2);
      sscor_tensor tx = mk(es[k], n, p->cin, h, w, x), ty = mk(es[k], n, p->cout, ho, wo, NULL);
      if (k == 2) wino_before = sscor_engine_winograd_runs(DNN);
      OK(sscor_conv2d_forward(es[k], p, &tx, wt, b, &ty));
      if (k == 2) OK(sscor_conv2d_forward(es[k], p, &tx, wt, b, &ty)); /* cached weights */
      o[k] = get(&ty);
    }
    long wino_runs = sscor_engine_winograd_runs(DNN) - wino_before;
    sscor_engine_freeze_weights(DNN, 0);
    char what[80];
    snprintf(what, sizeof what, "winograd %dx%d %d->%d", h, w, p->cin, p->cout);
    compare(what, o[2], o[0], ny, 1e-4);
    CHECK_MSG(wino_runs == 0 || wino_runs == 2, "%s: %ld of 2 frozen forwards by Winograd", what,
              wino_runs);
    if (wino_runs)
      CHECK_MSG(memcmp(o[1], o[2], ny * 4) != 0, "%s: Winograd equals direct bit for bit", what);
    else /* no Winograd on this CPU: the frozen forward is the direct one */
      CHECK_MSG(memcmp(o[1], o[2], ny * 4) == 0, "%s: direct fallback differs from direct", what);
    printf("%s: %s\n", what, wino_runs ? "Winograd" : "no Winograd on this CPU, direct");
    for (int k = 0; k < 3; k++) free(o[k]);
    free(x), free(wt), free(b);
  }
}

/* The thread count can change between calls; results must not. */
static void test_threads(void) {
  sscor_conv p = {16, 16, 3, 1, 1, 0, SSCOR_ACT_RELU};
  float *x = rnd(16 * 100, 1), *w = rnd(16 * 16 * 9, 0.3f), *o[2];
  sscor_tensor tx = mk(DNN, 1, 16, 10, 10, x), ty = mk(DNN, 1, 16, 10, 10, NULL);
  for (int t = 0; t < 2; t++) {
    sscor_kernels_set_threads(t + 1);
    CHECK(sscor_kernels_threads() == t + 1);
    OK(sscor_conv2d_forward(DNN, &p, &tx, w, NULL, &ty));
    OK(sscor_instnorm_forward(DNN, &ty, &tx, NULL, NULL, SSCOR_ACT_NONE));
    o[t] = get(&tx);
    sscor_tensor_import(&tx, x);
  }
  sscor_kernels_set_threads(0);
  compare("1 vs 2 threads", o[1], o[0], 16 * 100, 1e-5);
  free(o[0]), free(o[1]), free(x), free(w);
}

static void test_errors(void) {
  sscor_engine *e = NULL;
  CHECK(sscor_engine_create(SSCOR_BACKEND_CUDA, &e) == SSCOR_E_UNSUPPORTED && e == NULL);
  CHECK(strstr(sscor_last_error(), "CUDA") != NULL);
  sscor_conv p = {3, 4, 3, 1, 1, 0, SSCOR_ACT_NONE};
  float w[4 * 3 * 9] = {0};
  sscor_tensor x = mk(REF, 1, 3, 5, 5, NULL), y = mk(REF, 1, 4, 5, 5, NULL);
  sscor_tensor ybad = mk(REF, 1, 4, 4, 5, NULL), xn = mk(DNN, 1, 3, 5, 5, NULL);
  CHECK(sscor_conv2d_forward(REF, &p, &x, w, NULL, &ybad) == SSCOR_E_INVALID);
  CHECK(strstr(sscor_last_error(), "expected output 5x5") != NULL);
  CHECK(sscor_conv2d_forward(REF, &p, &xn, w, NULL, &y) == SSCOR_E_INVALID);
  CHECK(strstr(sscor_last_error(), "NHWC") != NULL);
  CHECK(sscor_conv2d_forward(REF, &p, &x, NULL, NULL, &y) == SSCOR_E_INVALID);
  sscor_conv bad = p;
  bad.stride = 0;
  CHECK(sscor_conv2d_forward(REF, &bad, &x, w, NULL, &y) == SSCOR_E_INVALID);
  bad = p;
  bad.out_pad = 1; /* only for transposed */
  CHECK(sscor_conv2d_forward(REF, &bad, &x, w, NULL, &y) == SSCOR_E_INVALID);
  sscor_conv dp = {3, 4, 3, 2, 1, 2, SSCOR_ACT_NONE}; /* out_pad >= stride */
  CHECK(sscor_deconv2d_out_size(&dp, 5) == 0);
  sscor_tensor y2 = mk(REF, 1, 3, 9, 9, NULL);
  CHECK(sscor_reflect_pad_forward(REF, 5, &x, &y2) == SSCOR_E_INVALID); /* pad >= size */
  CHECK(sscor_reflect_pad_forward(REF, 2, &x, &y) == SSCOR_E_INVALID);
  CHECK(sscor_instnorm_forward(REF, &x, &y, NULL, NULL, SSCOR_ACT_NONE) == SSCOR_E_INVALID);
  CHECK(sscor_instnorm_forward(REF, &x, &x, NULL, NULL, SSCOR_ACT_NONE) == SSCOR_E_INVALID);
  CHECK(sscor_instnorm_backward(REF, &x, &x, NULL, NULL, SSCOR_ACT_NONE, &x, &y2) == SSCOR_E_INVALID);
  CHECK(sscor_add(REF, &x, &y, &x) == SSCOR_E_INVALID);
  CHECK(sscor_act_forward(REF, (sscor_act)99, &x, &x) == SSCOR_E_INVALID);
  double v;
  CHECK(sscor_mse_loss(REF, &x, &y, 0, 1, &v, NULL) == SSCOR_E_INVALID);
  {
    static float one;
    sscor_tensor wide = sscor_tensor_wrap(&one, 1, SSCOR_MAX_CHANNELS + 1, 1, 1, SSCOR_LAYOUT_NHWC);
    CHECK(sscor_act_forward(DNN, SSCOR_ACT_RELU, &wide, &wide) == SSCOR_E_UNSUPPORTED);
  }
  sscor_tensor empty = {0};
  CHECK(sscor_l1_loss(REF, &empty, NULL, 0, 1, &v, NULL) == SSCOR_E_INVALID);
}

int main(void) {
  sscor_arena_init(&ARENA, 0);
  if (sscor_engine_create(SSCOR_BACKEND_REF, &REF) || sscor_engine_create(SSCOR_BACKEND_DNNL, &DNN)) {
    fprintf(stderr, "engine: %s\n", sscor_last_error());
    return 1;
  }
  CHECK(sscor_engine_layout(REF) == SSCOR_LAYOUT_NCHW);
  CHECK(sscor_engine_layout(DNN) == SSCOR_LAYOUT_NHWC);
  test_tensor();
  test_conv_backends();
  test_conv_fd();
  test_pad();
  test_instnorm();
  test_elementwise();
  test_frozen_weights();
  test_threads();
  test_winograd();
  test_errors();
  sscor_engine_destroy(REF);
  sscor_engine_destroy(DNN);
  sscor_arena_free(&ARENA);
  return CHECK_DONE();
}
