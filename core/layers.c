/* Layer entry points: check shapes and layouts, dispatch to the backend's
 * kernels (kernels/cpu), keep counters for benchmarks. */
#include "layers.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu/cpu_kernels.h"
#include "kernels.h"

enum {
  OP_CONV_FWD, OP_CONV_BWD_DATA, OP_CONV_BWD_W,
  OP_DECONV_FWD, OP_DECONV_BWD_DATA, OP_DECONV_BWD_W,
  OP_PAD_FWD, OP_PAD_BWD, OP_IN_FWD, OP_IN_BWD,
  OP_ACT_FWD, OP_ACT_BWD, OP_ADD, OP_LOSS, OP_COUNT
};
static const char *const op_names[OP_COUNT] = {
  "conv fwd", "conv bwd data", "conv bwd weights",
  "deconv fwd", "deconv bwd data", "deconv bwd weights",
  "reflect pad fwd", "reflect pad bwd", "instnorm fwd", "instnorm bwd",
  "act fwd", "act bwd", "add", "loss"};

struct sscor_engine {
  sscor_backend backend;
  sscor_dnnl *dnnl;
  int profiling;
  double flops;
  struct { long calls; double seconds, flops; } st[OP_COUNT];
  float *pack; /* repacked weights for the small-output conv */
  size_t pack_cap;
};

const char *sscor_backend_name(sscor_backend b) {
  switch (b) {
  case SSCOR_BACKEND_REF: return "reference";
  case SSCOR_BACKEND_DNNL: return "onednn";
  case SSCOR_BACKEND_CUDA: return "cuda";
  case SSCOR_BACKEND_BEST: return "best";
  }
  return "unknown";
}

sscor_status sscor_engine_create(sscor_backend backend, sscor_engine **out) {
  *out = NULL;
  if (backend == SSCOR_BACKEND_BEST) backend = SSCOR_BACKEND_DNNL;
  if (backend == SSCOR_BACKEND_CUDA)
    return sscor_fail(SSCOR_E_UNSUPPORTED, "engine: the CUDA backend is not available in this build");
  if (backend != SSCOR_BACKEND_REF && backend != SSCOR_BACKEND_DNNL)
    return sscor_fail(SSCOR_E_INVALID, "engine: unknown backend %d", (int)backend);
  sscor_engine *e = calloc(1, sizeof *e);
  if (!e) return sscor_fail(SSCOR_E_NOMEM, "engine: out of memory");
  e->backend = backend;
  if (backend == SSCOR_BACKEND_DNNL) {
    if (dnnl_ctx_create(&e->dnnl) != 0) {
      free(e);
      return sscor_fail(SSCOR_E_INTERNAL, "engine: %s", sscor_kernels_error());
    }
    dnnl_ctx_set_winograd(e->dnnl, 1);
  }
  *out = e;
  return SSCOR_OK;
}

void sscor_engine_destroy(sscor_engine *e) {
  if (!e) return;
  if (e->dnnl) dnnl_ctx_destroy(e->dnnl);
  free(e->pack);
  free(e);
}

sscor_backend sscor_engine_backend(const sscor_engine *e) { return e->backend; }

sscor_layout sscor_engine_layout(const sscor_engine *e) {
  return e->backend == SSCOR_BACKEND_DNNL ? SSCOR_LAYOUT_NHWC : SSCOR_LAYOUT_NCHW;
}

void sscor_engine_freeze_weights(sscor_engine *e, int frozen) {
  if (e->dnnl) dnnl_ctx_freeze_weights(e->dnnl, frozen);
}

void sscor_engine_set_winograd(sscor_engine *e, int on) {
  if (e->dnnl) dnnl_ctx_set_winograd(e->dnnl, on);
}

long sscor_engine_winograd_runs(const sscor_engine *e) {
  return e->dnnl ? dnnl_ctx_winograd_runs(e->dnnl) : 0;
}

void sscor_engine_reset_stats(sscor_engine *e) {
  e->flops = 0;
  memset(e->st, 0, sizeof e->st);
}

double sscor_engine_flops(const sscor_engine *e) { return e->flops; }
void sscor_engine_set_profiling(sscor_engine *e, int on) { e->profiling = on; }

void sscor_engine_print_profile(const sscor_engine *e, FILE *f) {
  double total = 0;
  fprintf(f, "%-20s %8s %10s %9s\n", "op", "calls", "ms", "GFLOP/s");
  for (int i = 0; i < OP_COUNT; i++) {
    if (!e->st[i].calls) continue;
    total += e->st[i].seconds;
    fprintf(f, "%-20s %8ld %10.2f", op_names[i], e->st[i].calls, e->st[i].seconds * 1e3);
    if (e->st[i].flops > 0 && e->st[i].seconds > 0)
      fprintf(f, " %9.1f", e->st[i].flops / e->st[i].seconds * 1e-9);
    fputc('\n', f);
  }
  fprintf(f, "%-20s %8s %10.2f\n", "total", "", total * 1e3);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Profiling wraps each op body: t0 = begin(e); ...; end(e, op, t0, flops). */
static double begin(sscor_engine *e) {
  if (e->backend != SSCOR_BACKEND_REF) sscor_kernels_apply_threads();
  return e->profiling ? now_s() : 0.0;
}
static void end(sscor_engine *e, int op, double t0, double flops) {
  e->flops += flops;
  e->st[op].calls++;
  e->st[op].flops += flops;
  if (e->profiling) e->st[op].seconds += now_s() - t0;
}

/* ---- argument checks ---- */

static sscor_status check_tensor(const sscor_engine *e, const char *op, const char *name,
                                 const sscor_tensor *t) {
  if (!t || !t->data)
    return sscor_fail(SSCOR_E_INVALID, "%s: tensor %s has no storage", op, name);
  if (t->n <= 0 || t->c <= 0 || t->h <= 0 || t->w <= 0)
    return sscor_fail(SSCOR_E_INVALID, "%s: tensor %s has bad shape %dx%dx%dx%d", op, name,
                      t->n, t->c, t->h, t->w);
  /* The NHWC kernels keep per-channel sums on the stack. */
  if (e->backend == SSCOR_BACKEND_DNNL && t->c > SSCOR_MAX_CHANNELS)
    return sscor_fail(SSCOR_E_UNSUPPORTED, "%s: tensor %s has %d channels, more than the %d supported",
                      op, name, t->c, SSCOR_MAX_CHANNELS);
  if (t->layout != sscor_engine_layout(e))
    return sscor_fail(SSCOR_E_INVALID, "%s: tensor %s is %s but the %s backend needs %s", op,
                      name, t->layout == SSCOR_LAYOUT_NHWC ? "NHWC" : "NCHW",
                      sscor_backend_name(e->backend),
                      sscor_engine_layout(e) == SSCOR_LAYOUT_NHWC ? "NHWC" : "NCHW");
  return SSCOR_OK;
}

static sscor_status check_same(const char *op, const char *an, const sscor_tensor *a,
                               const char *bn, const sscor_tensor *b) {
  if (!sscor_tensor_same_shape(a, b))
    return sscor_fail(SSCOR_E_INVALID, "%s: %s is %dx%dx%dx%d but %s is %dx%dx%dx%d", op, an,
                      a->n, a->c, a->h, a->w, bn, b->n, b->c, b->h, b->w);
  return SSCOR_OK;
}

#define TRY(expr)                 \
  do {                            \
    sscor_status s_ = (expr);     \
    if (s_ != SSCOR_OK) return s_; \
  } while (0)

int sscor_conv2d_out_size(const sscor_conv *p, int in) {
  if (p->k < 1 || p->stride < 1 || p->pad < 0 || in < 1) return 0;
  long span = (long)in + 2L * p->pad - p->k;
  return span < 0 ? 0 : (int)(span / p->stride + 1);
}

int sscor_deconv2d_out_size(const sscor_conv *p, int in) {
  if (p->k < 1 || p->stride < 1 || p->pad < 0 || in < 1 || p->out_pad < 0 ||
      p->out_pad >= p->stride)
    return 0;
  long o = (long)(in - 1) * p->stride - 2L * p->pad + p->k + p->out_pad;
  return o < 1 || o > 1 << 30 ? 0 : (int)o;
}

double sscor_conv2d_flops(const sscor_conv *p, int n, int ho, int wo) {
  return 2.0 * n * ho * wo * (double)p->cout * p->cin * p->k * p->k;
}

double sscor_deconv2d_flops(const sscor_conv *p, int n, int hi, int wi) {
  return 2.0 * n * hi * wi * (double)p->cout * p->cin * p->k * p->k;
}

/* x is the conv input side, y the output side (for deconv: x small, y big). */
static sscor_status check_conv(const sscor_engine *e, const char *op, int deconv,
                               const sscor_conv *p, const sscor_tensor *x, const char *xn,
                               const sscor_tensor *y, const char *yn) {
  TRY(check_tensor(e, op, xn, x));
  TRY(check_tensor(e, op, yn, y));
  if (p->cin < 1 || p->cout < 1 || p->k < 1 || p->stride < 1 || p->pad < 0 ||
      p->out_pad < 0 || (!deconv && p->out_pad) || (deconv && p->out_pad >= p->stride) ||
      p->act < SSCOR_ACT_NONE || p->act > SSCOR_ACT_SIGMOID)
    return sscor_fail(SSCOR_E_INVALID,
                      "%s: bad parameters cin %d cout %d k %d stride %d pad %d out_pad %d",
                      op, p->cin, p->cout, p->k, p->stride, p->pad, p->out_pad);
  int ho = deconv ? sscor_deconv2d_out_size(p, x->h) : sscor_conv2d_out_size(p, x->h);
  int wo = deconv ? sscor_deconv2d_out_size(p, x->w) : sscor_conv2d_out_size(p, x->w);
  if (x->c != p->cin || y->c != p->cout || x->n != y->n || y->h != ho || y->w != wo ||
      ho < 1 || wo < 1)
    return sscor_fail(SSCOR_E_INVALID,
                      "%s: %s %dx%dx%dx%d and %s %dx%dx%dx%d do not fit cin %d cout %d k %d "
                      "stride %d pad %d out_pad %d (expected output %dx%d)",
                      op, xn, x->n, x->c, x->h, x->w, yn, y->n, y->c, y->h, y->w, p->cin,
                      p->cout, p->k, p->stride, p->pad, p->out_pad, ho, wo);
  if (x->data == y->data)
    return sscor_fail(SSCOR_E_INVALID, "%s: %s and %s must not share storage", op, xn, yn);
  return SSCOR_OK;
}

static sscor_status dnnl_result(const char *op, int rc) {
  if (rc) return sscor_fail(SSCOR_E_INTERNAL, "%s: %s", op, sscor_kernels_error());
  return SSCOR_OK;
}

/* ---- convolutions ---- */

/* Engine-owned scratch for the hand-written kernels; grows at the first call
 * of a larger shape only. */
static sscor_status scratch(sscor_engine *e, size_t floats, const char *op) {
  if (floats <= e->pack_cap) return SSCOR_OK;
  void *np = NULL; /* cache-line aligned: the kernels load 64-byte vectors */
  if (posix_memalign(&np, 64, floats * sizeof(float)))
    return sscor_fail(SSCOR_E_NOMEM, "%s: out of memory for %zu floats of scratch", op, floats);
  free(e->pack);
  e->pack = np;
  e->pack_cap = floats;
  return SSCOR_OK;
}

static sscor_status conv_forward(sscor_engine *e, int deconv, const sscor_conv *p,
                                 const sscor_tensor *x, const float *w, const float *b,
                                 sscor_tensor *y) {
  const char *op = deconv ? "deconv2d forward" : "conv2d forward";
  TRY(check_conv(e, op, deconv, p, x, "x", y, "y"));
  if (!w) return sscor_fail(SSCOR_E_INVALID, "%s: no weights", op);
  double flops = deconv ? sscor_deconv2d_flops(p, x->n, x->h, x->w)
                        : sscor_conv2d_flops(p, y->n, y->h, y->w);
  double t0 = begin(e);
  if (e->backend == SSCOR_BACKEND_REF) {
    if (deconv) ref_deconv2d_forward(p, x, w, b, y);
    else ref_conv2d_forward(p, x, w, b, y);
  } else if (!deconv && nhwc_smallconv_fits(p)) {
    TRY(scratch(e, (size_t)p->cout * p->k * p->k * p->cin, op));
    nhwc_smallconv_pack(p, w, e->pack);
    nhwc_smallconv_forward(p, x, e->pack, b, y);
  } else {
    TRY(dnnl_result(op, dnnl_conv_forward(e->dnnl, deconv, p, x, w, b, y)));
  }
  end(e, deconv ? OP_DECONV_FWD : OP_CONV_FWD, t0, flops);
  return SSCOR_OK;
}

static sscor_status conv_backward_data(sscor_engine *e, int deconv, const sscor_conv *p,
                                       const float *w, const sscor_tensor *dy, sscor_tensor *dx) {
  const char *op = deconv ? "deconv2d backward data" : "conv2d backward data";
  TRY(check_conv(e, op, deconv, p, dx, "dx", dy, "dy"));
  if (!w) return sscor_fail(SSCOR_E_INVALID, "%s: no weights", op);
  double flops = deconv ? sscor_deconv2d_flops(p, dx->n, dx->h, dx->w)
                        : sscor_conv2d_flops(p, dy->n, dy->h, dy->w);
  double t0 = begin(e);
  if (e->backend == SSCOR_BACKEND_REF) {
    if (deconv) ref_deconv2d_backward_data(p, w, dy, dx);
    else ref_conv2d_backward_data(p, w, dy, dx);
  } else if (!deconv && nhwc_smallconv_bwd_data_fits(p)) {
    TRY(scratch(e, (size_t)p->cout * p->k * p->k * p->cin, op));
    nhwc_smallconv_bwd_data_pack(p, w, e->pack);
    nhwc_smallconv_backward_data(p, e->pack, dy, dx);
  } else {
    TRY(dnnl_result(op, dnnl_conv_backward_data(e->dnnl, deconv, p, w, dy, dx)));
  }
  end(e, deconv ? OP_DECONV_BWD_DATA : OP_CONV_BWD_DATA, t0, flops);
  return SSCOR_OK;
}

static sscor_status conv_backward_weights(sscor_engine *e, int deconv, const sscor_conv *p,
                                          const sscor_tensor *x, const sscor_tensor *dy,
                                          float *dw, float *db) {
  const char *op = deconv ? "deconv2d backward weights" : "conv2d backward weights";
  TRY(check_conv(e, op, deconv, p, x, "x", dy, "dy"));
  if (!dw) return sscor_fail(SSCOR_E_INVALID, "%s: no weight gradient buffer", op);
  double flops = deconv ? sscor_deconv2d_flops(p, x->n, x->h, x->w)
                        : sscor_conv2d_flops(p, dy->n, dy->h, dy->w);
  double t0 = begin(e);
  if (e->backend == SSCOR_BACKEND_REF) {
    if (deconv) ref_deconv2d_backward_weights(p, x, dy, dw, db);
    else ref_conv2d_backward_weights(p, x, dy, dw, db);
  } else if (!deconv && nhwc_smallconv_fits(p)) {
    int threads = sscor_kernels_threads();
    TRY(scratch(e, nhwc_smallconv_bwdw_scratch(p, threads), op));
    nhwc_smallconv_backward_weights(p, x, dy, e->pack, threads, dw, db);
  } else {
    TRY(dnnl_result(op, dnnl_conv_backward_weights(e->dnnl, deconv, p, x, dy, dw, db)));
  }
  end(e, deconv ? OP_DECONV_BWD_W : OP_CONV_BWD_W, t0, flops);
  return SSCOR_OK;
}

sscor_status sscor_conv2d_forward(sscor_engine *e, const sscor_conv *p, const sscor_tensor *x,
                                  const float *w, const float *b, sscor_tensor *y) {
  return conv_forward(e, 0, p, x, w, b, y);
}
sscor_status sscor_conv2d_backward_data(sscor_engine *e, const sscor_conv *p, const float *w,
                                        const sscor_tensor *dy, sscor_tensor *dx) {
  return conv_backward_data(e, 0, p, w, dy, dx);
}
sscor_status sscor_conv2d_backward_weights(sscor_engine *e, const sscor_conv *p,
                                           const sscor_tensor *x, const sscor_tensor *dy,
                                           float *dw, float *db) {
  return conv_backward_weights(e, 0, p, x, dy, dw, db);
}
sscor_status sscor_deconv2d_forward(sscor_engine *e, const sscor_conv *p, const sscor_tensor *x,
                                    const float *w, const float *b, sscor_tensor *y) {
  return conv_forward(e, 1, p, x, w, b, y);
}
sscor_status sscor_deconv2d_backward_data(sscor_engine *e, const sscor_conv *p, const float *w,
                                          const sscor_tensor *dy, sscor_tensor *dx) {
  return conv_backward_data(e, 1, p, w, dy, dx);
}
sscor_status sscor_deconv2d_backward_weights(sscor_engine *e, const sscor_conv *p,
                                             const sscor_tensor *x, const sscor_tensor *dy,
                                             float *dw, float *db) {
  return conv_backward_weights(e, 1, p, x, dy, dw, db);
}

/* ---- reflection pad ---- */

static sscor_status check_pad(const sscor_engine *e, const char *op, int pad,
                              const sscor_tensor *x, const char *xn, const sscor_tensor *y,
                              const char *yn) {
  TRY(check_tensor(e, op, xn, x));
  TRY(check_tensor(e, op, yn, y));
  if (pad < 0 || pad >= x->h || pad >= x->w)
    return sscor_fail(SSCOR_E_INVALID, "%s: pad %d needs an input larger than %dx%d", op, pad,
                      x->h, x->w);
  if (y->n != x->n || y->c != x->c || y->h != x->h + 2 * pad || y->w != x->w + 2 * pad)
    return sscor_fail(SSCOR_E_INVALID, "%s: %s %dx%dx%dx%d padded by %d is not %s %dx%dx%dx%d",
                      op, xn, x->n, x->c, x->h, x->w, pad, yn, y->n, y->c, y->h, y->w);
  if (x->data == y->data)
    return sscor_fail(SSCOR_E_INVALID, "%s: %s and %s must not share storage", op, xn, yn);
  return SSCOR_OK;
}

sscor_status sscor_reflect_pad_forward(sscor_engine *e, int pad, const sscor_tensor *x,
                                       sscor_tensor *y) {
  TRY(check_pad(e, "reflect pad forward", pad, x, "x", y, "y"));
  double t0 = begin(e);
  if (e->backend == SSCOR_BACKEND_REF) ref_reflect_pad_forward(pad, x, y);
  else nhwc_reflect_pad_forward(pad, x, y);
  end(e, OP_PAD_FWD, t0, 0);
  return SSCOR_OK;
}

sscor_status sscor_reflect_pad_backward(sscor_engine *e, int pad, const sscor_tensor *dy,
                                        sscor_tensor *dx) {
  TRY(check_pad(e, "reflect pad backward", pad, dx, "dx", dy, "dy"));
  double t0 = begin(e);
  if (e->backend == SSCOR_BACKEND_REF) ref_reflect_pad_backward(pad, dy, dx);
  else nhwc_reflect_pad_backward(pad, dy, dx);
  end(e, OP_PAD_BWD, t0, 0);
  return SSCOR_OK;
}

/* ---- instance norm ---- */

static sscor_status check_act(const char *op, sscor_act act) {
  if (act < SSCOR_ACT_NONE || act > SSCOR_ACT_SIGMOID)
    return sscor_fail(SSCOR_E_INVALID, "%s: unknown activation %d", op, (int)act);
  return SSCOR_OK;
}

sscor_status sscor_instnorm_forward(sscor_engine *e, const sscor_tensor *x, sscor_tensor *y,
                                    float *mean, float *rstd, sscor_act act) {
  const char *op = "instnorm forward";
  TRY(check_tensor(e, op, "x", x));
  TRY(check_tensor(e, op, "y", y));
  TRY(check_same(op, "x", x, "y", y));
  TRY(check_act(op, act));
  if (x->data == y->data)
    return sscor_fail(SSCOR_E_INVALID, "%s: x and y must not share storage", op);
  double t0 = begin(e);
  if (e->backend == SSCOR_BACKEND_REF) ref_instnorm_forward(x, y, mean, rstd, act);
  else nhwc_instnorm_forward(x, y, mean, rstd, act);
  end(e, OP_IN_FWD, t0, 0);
  return SSCOR_OK;
}

sscor_status sscor_instnorm_backward(sscor_engine *e, const sscor_tensor *x,
                                     const sscor_tensor *y, const float *mean,
                                     const float *rstd, sscor_act act, const sscor_tensor *dy,
                                     sscor_tensor *dx) {
  const char *op = "instnorm backward";
  TRY(check_tensor(e, op, "x", x));
  TRY(check_tensor(e, op, "y", y));
  TRY(check_tensor(e, op, "dy", dy));
  TRY(check_tensor(e, op, "dx", dx));
  TRY(check_same(op, "x", x, "y", y));
  TRY(check_same(op, "x", x, "dy", dy));
  TRY(check_same(op, "x", x, "dx", dx));
  TRY(check_act(op, act));
  if (!mean || !rstd) return sscor_fail(SSCOR_E_INVALID, "%s: needs the saved mean and rstd", op);
  if (dx->data == x->data || (act != SSCOR_ACT_NONE && dx->data == y->data))
    return sscor_fail(SSCOR_E_INVALID, "%s: dx must not overwrite x or y", op);
  double t0 = begin(e);
  if (e->backend == SSCOR_BACKEND_REF) ref_instnorm_backward(x, y, mean, rstd, act, dy, dx);
  else nhwc_instnorm_backward(x, y, mean, rstd, act, dy, dx);
  end(e, OP_IN_BWD, t0, 0);
  return SSCOR_OK;
}

/* ---- element-wise and losses ---- */

sscor_status sscor_act_forward(sscor_engine *e, sscor_act act, const sscor_tensor *x,
                               sscor_tensor *y) {
  const char *op = "activation forward";
  TRY(check_tensor(e, op, "x", x));
  TRY(check_tensor(e, op, "y", y));
  TRY(check_same(op, "x", x, "y", y));
  TRY(check_act(op, act));
  double t0 = begin(e);
  if (e->backend == SSCOR_BACKEND_REF) ref_act_forward(act, x->data, y->data, sscor_tensor_numel(x));
  else fast_act_forward(act, x->data, y->data, sscor_tensor_numel(x));
  end(e, OP_ACT_FWD, t0, 0);
  return SSCOR_OK;
}

sscor_status sscor_act_backward(sscor_engine *e, sscor_act act, const sscor_tensor *y,
                                const sscor_tensor *dy, sscor_tensor *dx) {
  const char *op = "activation backward";
  TRY(check_tensor(e, op, "y", y));
  TRY(check_tensor(e, op, "dy", dy));
  TRY(check_tensor(e, op, "dx", dx));
  TRY(check_same(op, "y", y, "dy", dy));
  TRY(check_same(op, "y", y, "dx", dx));
  TRY(check_act(op, act));
  double t0 = begin(e);
  size_t count = sscor_tensor_numel(y);
  if (e->backend == SSCOR_BACKEND_REF) ref_act_backward(act, y->data, dy->data, dx->data, count);
  else fast_act_backward(act, y->data, dy->data, dx->data, count);
  end(e, OP_ACT_BWD, t0, 0);
  return SSCOR_OK;
}

sscor_status sscor_add(sscor_engine *e, const sscor_tensor *a, const sscor_tensor *b,
                       sscor_tensor *y) {
  const char *op = "add";
  TRY(check_tensor(e, op, "a", a));
  TRY(check_tensor(e, op, "b", b));
  TRY(check_tensor(e, op, "y", y));
  TRY(check_same(op, "a", a, "b", b));
  TRY(check_same(op, "a", a, "y", y));
  double t0 = begin(e);
  if (e->backend == SSCOR_BACKEND_REF) ref_add(a->data, b->data, y->data, sscor_tensor_numel(a));
  else fast_add(a->data, b->data, y->data, sscor_tensor_numel(a));
  end(e, OP_ADD, t0, 0);
  return SSCOR_OK;
}

static sscor_status loss(sscor_engine *e, int l1, const sscor_tensor *x,
                         const sscor_tensor *target, float tv, float weight, double *value,
                         sscor_tensor *dx) {
  const char *op = l1 ? "l1 loss" : "mse loss";
  TRY(check_tensor(e, op, "x", x));
  if (target) {
    TRY(check_tensor(e, op, "target", target));
    TRY(check_same(op, "x", x, "target", target));
  }
  if (dx) {
    TRY(check_tensor(e, op, "dx", dx));
    TRY(check_same(op, "x", x, "dx", dx));
  }
  double t0 = begin(e);
  size_t count = sscor_tensor_numel(x);
  const float *t = target ? target->data : NULL;
  float *g = dx ? dx->data : NULL;
  double v;
  if (e->backend == SSCOR_BACKEND_REF)
    v = l1 ? ref_l1_loss(x->data, t, tv, weight, g, count) : ref_mse_loss(x->data, t, tv, weight, g, count);
  else
    v = l1 ? fast_l1_loss(x->data, t, tv, weight, g, count) : fast_mse_loss(x->data, t, tv, weight, g, count);
  if (value) *value = v;
  end(e, OP_LOSS, t0, 0);
  return SSCOR_OK;
}

sscor_status sscor_mse_loss(sscor_engine *e, const sscor_tensor *x, const sscor_tensor *target,
                            float target_value, float weight, double *value, sscor_tensor *dx) {
  return loss(e, 0, x, target, target_value, weight, value, dx);
}

sscor_status sscor_l1_loss(sscor_engine *e, const sscor_tensor *x, const sscor_tensor *target,
                           float target_value, float weight, double *value, sscor_tensor *dx) {
  return loss(e, 1, x, target, target_value, weight, value, dx);
}
