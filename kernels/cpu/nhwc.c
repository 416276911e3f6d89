/* Hand-written NHWC kernels for the oneDNN backend: everything between the
 * convolutions (pads, instance norm + activation, element-wise, losses) and
 * the final few-channel conv. OpenMP-parallel; inner loops run along the
 * contiguous channel axis so the compiler vectorises them. */
#include <omp.h>
#include <string.h>

#include "cpu_kernels.h"

/* Hot loops get an AVX-512 and an AVX2 clone picked at load time, so the
 * library stays portable without -march=native. */
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define HOT __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define HOT
#endif

/* Below this many floats (~3 us of work) a parallel region costs about what
 * it saves, and on a busy machine a descheduled team member stalls the op. */
#define PAR_MIN ((size_t)1 << 13)

static inline int reflect(int i, int size) {
  if (i < 0) return -i;
  if (i >= size) return 2 * size - 2 - i;
  return i;
}

void nhwc_reflect_pad_forward(int pad, const sscor_tensor *x, sscor_tensor *y) {
  const int C = x->c, W = x->w, Wp = y->w;
  const size_t rowx = (size_t)W * C, rowy = (size_t)Wp * C;
#pragma omp parallel for collapse(2) schedule(static) if (sscor_tensor_numel(y) >= PAR_MIN)
  for (int n = 0; n < y->n; n++)
    for (int i = 0; i < y->h; i++) {
      const float *src = x->data + ((size_t)n * x->h + reflect(i - pad, x->h)) * rowx;
      float *dst = y->data + ((size_t)n * y->h + i) * rowy;
      memcpy(dst + (size_t)pad * C, src, rowx * sizeof(float));
      for (int j = 0; j < pad; j++) {
        memcpy(dst + (size_t)j * C, src + (size_t)reflect(j - pad, W) * C, C * sizeof(float));
        int jr = Wp - 1 - j;
        memcpy(dst + (size_t)jr * C, src + (size_t)reflect(jr - pad, W) * C, C * sizeof(float));
      }
    }
}

HOT static void add_row_folded(float *dst, const float *src, int pad, int W, int Wp, int C) {
  for (int j = 0; j < Wp; j++) {
    float *d = dst + (size_t)reflect(j - pad, W) * C;
    const float *s = src + (size_t)j * C;
    for (int c = 0; c < C; c++) d[c] += s[c];
  }
}

/* Each dx row gathers the (up to three) dy rows that reflect onto it, so
 * rows are independent and parallel without atomics. */
void nhwc_reflect_pad_backward(int pad, const sscor_tensor *dy, sscor_tensor *dx) {
  const int C = dx->c, H = dx->h, W = dx->w, Wp = dy->w;
  const size_t rowx = (size_t)W * C, rowy = (size_t)Wp * C;
#pragma omp parallel for collapse(2) schedule(static) if (sscor_tensor_numel(dy) >= PAR_MIN)
  for (int n = 0; n < dx->n; n++)
    for (int r = 0; r < H; r++) {
      float *dst = dx->data + ((size_t)n * H + r) * rowx;
      const float *base = dy->data + (size_t)n * dy->h * rowy;
      memset(dst, 0, rowx * sizeof(float));
      add_row_folded(dst, base + (size_t)(r + pad) * rowy, pad, W, Wp, C);
      if (r >= 1 && r <= pad) add_row_folded(dst, base + (size_t)(pad - r) * rowy, pad, W, Wp, C);
      if (r >= H - 1 - pad && r <= H - 2)
        add_row_folded(dst, base + (size_t)(2 * H - 2 - r + pad) * rowy, pad, W, Wp, C);
    }
}

/* Per-channel sums over a block of pixels, in double. */
HOT static void channel_sums(const float *x, size_t pixels, int C, double *s, double *s2) {
  for (size_t p = 0; p < pixels; p++) {
    const float *v = x + p * C;
    for (int c = 0; c < C; c++) {
      double d = v[c];
      s[c] += d;
      s2[c] += d * d;
    }
  }
}

HOT static void normalize_rows(const float *x, float *y, size_t pixels, int C, const float *m,
                               const float *r, sscor_act act) {
  for (size_t p = 0; p < pixels; p++) {
    const float *v = x + p * C;
    float *o = y + p * C;
    switch (act) {
    case SSCOR_ACT_RELU:
      for (int c = 0; c < C; c++) {
        float t = (v[c] - m[c]) * r[c];
        o[c] = t > 0.f ? t : 0.f;
      }
      break;
    case SSCOR_ACT_LRELU:
      for (int c = 0; c < C; c++) {
        float t = (v[c] - m[c]) * r[c];
        o[c] = t > 0.f ? t : SSCOR_LRELU_SLOPE * t;
      }
      break;
    case SSCOR_ACT_NONE:
      for (int c = 0; c < C; c++) o[c] = (v[c] - m[c]) * r[c];
      break;
    default:
      for (int c = 0; c < C; c++) o[c] = sscor_act_apply(act, (v[c] - m[c]) * r[c]);
    }
  }
}

/* Splits [0, total) into the calling thread's share. */
static void thread_range(size_t total, size_t *lo, size_t *hi) {
  int t = omp_get_thread_num(), nt = omp_get_num_threads();
  *lo = total * t / nt;
  *hi = total * (t + 1) / nt;
}

void nhwc_instnorm_forward(const sscor_tensor *x, sscor_tensor *y, float *mean, float *rstd,
                           sscor_act act) {
  const int C = x->c;
  const size_t hw = (size_t)x->h * x->w;
  double s[C], s2[C];
  float m[C], r[C];
  for (int n = 0; n < x->n; n++) {
    const float *xs = x->data + (size_t)n * hw * C;
    float *ys = y->data + (size_t)n * hw * C;
    memset(s, 0, sizeof s);
    memset(s2, 0, sizeof s2);
#pragma omp parallel if (hw * C >= PAR_MIN)
    {
      double ls[C], ls2[C];
      memset(ls, 0, sizeof ls);
      memset(ls2, 0, sizeof ls2);
      size_t lo, hi;
      thread_range(hw, &lo, &hi);
      channel_sums(xs + lo * C, hi - lo, C, ls, ls2);
#pragma omp critical
      for (int c = 0; c < C; c++) {
        s[c] += ls[c];
        s2[c] += ls2[c];
      }
#pragma omp barrier
#pragma omp single
      for (int c = 0; c < C; c++) {
        double mu = s[c] / (double)hw, var = s2[c] / (double)hw - mu * mu;
        if (var < 0) var = 0;
        m[c] = (float)mu;
        r[c] = (float)(1.0 / sqrt(var + SSCOR_INSTNORM_EPS));
      }
      normalize_rows(xs + lo * C, ys + lo * C, hi - lo, C, m, r, act);
    }
    if (mean) memcpy(mean + (size_t)n * C, m, sizeof m);
    if (rstd) memcpy(rstd + (size_t)n * C, r, sizeof r);
  }
}

/* The activation's gradient is specialised outside the loops so each loop
 * body is branch-free and vectorises. */
#define ACT_GRAD_SWITCH(act, BODY)                                   \
  switch (act) {                                                     \
  case SSCOR_ACT_NONE: {                                             \
    _Pragma("GCC unroll 1") for (size_t p = 0; p < pixels; p++) {    \
      const size_t o = p * C;                                        \
      for (int c = 0; c < C; c++) {                                  \
        float g = dy[o + c];                                         \
        BODY;                                                        \
      }                                                              \
    }                                                                \
  } break;                                                           \
  case SSCOR_ACT_RELU: {                                             \
    for (size_t p = 0; p < pixels; p++) {                            \
      const size_t o = p * C;                                        \
      for (int c = 0; c < C; c++) {                                  \
        float g = y[o + c] > 0.f ? dy[o + c] : 0.f;                  \
        BODY;                                                        \
      }                                                              \
    }                                                                \
  } break;                                                           \
  case SSCOR_ACT_LRELU: {                                            \
    for (size_t p = 0; p < pixels; p++) {                            \
      const size_t o = p * C;                                        \
      for (int c = 0; c < C; c++) {                                  \
        float g = y[o + c] > 0.f ? dy[o + c] : SSCOR_LRELU_SLOPE * dy[o + c]; \
        BODY;                                                        \
      }                                                              \
    }                                                                \
  } break;                                                           \
  default: {                                                         \
    for (size_t p = 0; p < pixels; p++) {                            \
      const size_t o = p * C;                                        \
      for (int c = 0; c < C; c++) {                                  \
        float g = sscor_act_grad(act, y[o + c], dy[o + c]);          \
        BODY;                                                        \
      }                                                              \
    }                                                                \
  }                                                                  \
  }

/* Sums in float over blocks of pixels, combined in double: exact enough and
 * twice the vector width of double accumulation. */
#define GRAD_BLOCK 64
HOT static void grad_sums(const float *x, const float *y, const float *dy, size_t n_pixels, int C,
                          const float *m, const float *r, sscor_act act, double *sg,
                          double *sgx) {
  float fg[C], fgx[C];
  for (size_t p0 = 0; p0 < n_pixels; p0 += GRAD_BLOCK) {
    size_t pixels = n_pixels - p0 < GRAD_BLOCK ? n_pixels - p0 : GRAD_BLOCK;
    const float *xb = x + p0 * C;
    for (int c = 0; c < C; c++) fg[c] = 0.f, fgx[c] = 0.f;
    {
      const float *yb = y + p0 * C, *dyb = dy + p0 * C;
#define y yb
#define dy dyb
      ACT_GRAD_SWITCH(act, fg[c] += g; fgx[c] += g * ((xb[o + c] - m[c]) * r[c]))
#undef y
#undef dy
    }
    for (int c = 0; c < C; c++) sg[c] += fg[c], sgx[c] += fgx[c];
  }
}

HOT static void grad_apply(const float *x, const float *y, const float *dy, float *dx,
                           size_t pixels, int C, const float *m, const float *r, sscor_act act,
                           const float *a, const float *b) {
  ACT_GRAD_SWITCH(act, dx[o + c] = r[c] * (g - a[c] - ((x[o + c] - m[c]) * r[c]) * b[c]))
}

void nhwc_instnorm_backward(const sscor_tensor *x, const sscor_tensor *y, const float *mean,
                            const float *rstd, sscor_act act, const sscor_tensor *dy,
                            sscor_tensor *dx) {
  const int C = x->c;
  const size_t hw = (size_t)x->h * x->w;
  double sg[C], sgx[C];
  float a[C], b[C];
  for (int n = 0; n < x->n; n++) {
    const size_t off = (size_t)n * hw * C;
    const float *m = mean + (size_t)n * C, *r = rstd + (size_t)n * C;
    memset(sg, 0, sizeof sg);
    memset(sgx, 0, sizeof sgx);
#pragma omp parallel if (hw * C >= PAR_MIN)
    {
      double lg[C], lgx[C];
      memset(lg, 0, sizeof lg);
      memset(lgx, 0, sizeof lgx);
      size_t lo, hi;
      thread_range(hw, &lo, &hi);
      grad_sums(x->data + off + lo * C, y->data + off + lo * C, dy->data + off + lo * C, hi - lo,
                C, m, r, act, lg, lgx);
#pragma omp critical
      for (int c = 0; c < C; c++) {
        sg[c] += lg[c];
        sgx[c] += lgx[c];
      }
#pragma omp barrier
#pragma omp single
      for (int c = 0; c < C; c++) {
        a[c] = (float)(sg[c] / (double)hw);
        b[c] = (float)(sgx[c] / (double)hw);
      }
      grad_apply(x->data + off + lo * C, y->data + off + lo * C, dy->data + off + lo * C,
                 dx->data + off + lo * C, hi - lo, C, m, r, act, a, b);
    }
  }
}

HOT static void act_forward_block(sscor_act act, const float *x, float *y, size_t count) {
  switch (act) {
  case SSCOR_ACT_RELU:
    for (size_t i = 0; i < count; i++) y[i] = x[i] > 0.f ? x[i] : 0.f;
    break;
  case SSCOR_ACT_LRELU:
    for (size_t i = 0; i < count; i++) y[i] = x[i] > 0.f ? x[i] : SSCOR_LRELU_SLOPE * x[i];
    break;
  default:
    for (size_t i = 0; i < count; i++) y[i] = sscor_act_apply(act, x[i]);
  }
}

HOT static void act_backward_block(sscor_act act, const float *y, const float *dy, float *dx,
                                   size_t count) {
  for (size_t i = 0; i < count; i++) dx[i] = sscor_act_grad(act, y[i], dy[i]);
}

HOT static void add_block(const float *a, const float *b, float *y, size_t count) {
  for (size_t i = 0; i < count; i++) y[i] = a[i] + b[i];
}

/* Element-wise ops: each thread takes one contiguous block of count items;
 * work is the number of floats touched, for the parallel threshold. */
#define PARALLEL_BLOCKS(count, work, body)                    \
  do {                                                        \
    const size_t par_work_ = (work);                          \
    _Pragma("omp parallel if (par_work_ >= PAR_MIN)") {       \
      size_t lo, hi;                                          \
      thread_range((count), &lo, &hi);                        \
      body;                                                   \
    }                                                         \
  } while (0)

void fast_act_forward(sscor_act act, const float *x, float *y, size_t count) {
  PARALLEL_BLOCKS(count, count, act_forward_block(act, x + lo, y + lo, hi - lo));
}

void fast_act_backward(sscor_act act, const float *y, const float *dy, float *dx, size_t count) {
  PARALLEL_BLOCKS(count, count, act_backward_block(act, y + lo, dy + lo, dx + lo, hi - lo));
}

void fast_add(const float *a, const float *b, float *y, size_t count) {
  PARALLEL_BLOCKS(count, count, add_block(a + lo, b + lo, y + lo, hi - lo));
}

double fast_mse_loss(const float *x, const float *t, float tv, float weight, float *dx,
                     size_t count) {
  double sum = 0.0;
  const float g = (float)(2.0 * weight / (double)count);
#pragma omp parallel for simd reduction(+ : sum) schedule(static) if (count >= PAR_MIN)
  for (size_t i = 0; i < count; i++) {
    float d = x[i] - (t ? t[i] : tv);
    sum += (double)d * d;
    if (dx) dx[i] = g * d;
  }
  return weight * sum / (double)count;
}

double fast_l1_loss(const float *x, const float *t, float tv, float weight, float *dx,
                    size_t count) {
  double sum = 0.0;
  const float g = (float)(weight / (double)count);
#pragma omp parallel for simd reduction(+ : sum) schedule(static) if (count >= PAR_MIN)
  for (size_t i = 0; i < count; i++) {
    float d = x[i] - (t ? t[i] : tv);
    sum += d < 0.f ? -(double)d : (double)d;
    if (dx) dx[i] = d > 0.f ? g : d < 0.f ? -g : 0.f;
  }
  return weight * sum / (double)count;
}

HOT static void bias_act_rows(float *y, size_t pixels, int C, const float *b, sscor_act act) {
  float zero[C];
  for (int c = 0; c < C; c++) zero[c] = b ? b[c] : 0.f;
  for (size_t p = 0; p < pixels; p++) {
    float *v = y + p * C;
    switch (act) {
    case SSCOR_ACT_NONE:
      for (int c = 0; c < C; c++) v[c] += zero[c];
      break;
    case SSCOR_ACT_RELU:
      for (int c = 0; c < C; c++) {
        float t = v[c] + zero[c];
        v[c] = t > 0.f ? t : 0.f;
      }
      break;
    default:
      for (int c = 0; c < C; c++) v[c] = sscor_act_apply(act, v[c] + zero[c]);
    }
  }
}

void nhwc_bias_act(sscor_tensor *y, const float *b, sscor_act act) {
  if (!b && act == SSCOR_ACT_NONE) return;
  const size_t pixels = (size_t)y->n * y->h * y->w;
  PARALLEL_BLOCKS(pixels, pixels * y->c, bias_act_rows(y->data + lo * y->c, hi - lo, y->c, b, act));
}

void nhwc_channel_sums_add(const sscor_tensor *t, float *acc) {
  const int C = t->c;
  const size_t pixels = (size_t)t->n * t->h * t->w;
  double s[C];
  memset(s, 0, sizeof s);
#pragma omp parallel if (pixels * C >= PAR_MIN)
  {
    double ls[C], ls2[C]; /* ls2 (squares) unused here */
    memset(ls, 0, sizeof ls);
    memset(ls2, 0, sizeof ls2);
    size_t lo, hi;
    thread_range(pixels, &lo, &hi);
    channel_sums(t->data + lo * C, hi - lo, C, ls, ls2);
#pragma omp critical
    for (int c = 0; c < C; c++) s[c] += ls[c];
  }
  for (int c = 0; c < C; c++) acc[c] += (float)s[c];
}

/* ---- few-channel convolutions (stride 1, no padding) ----
 *
 * The generator's 7x7 convs at full resolution with 1-4 channels on one side
 * (ngf -> out channels; and the data gradient of in channels -> ngf) are slow
 * in oneDNN (~25-50 GFLOP/s here). In NHWC with stride 1 the k pixels under
 * one kernel row are k*cseg contiguous floats (cseg = channels of the wide
 * side), as is the matching packed weight row, so each output value is a sum
 * of k dot products of length k*cseg. Tiles of up to 4 outputs x 4 pixels
 * share every weight and input load. Rows outside the source are NULL and
 * skipped; pixels whose window leaves the row take a scalar path. */

typedef float v16 __attribute__((vector_size(64)));
/* Macros, not functions: passing vectors by value would change the ABI of
 * the portable clone. */
#define ld16(p)               \
  ({                          \
    v16 v_;                   \
    memcpy(&v_, (p), 64);     \
    v_;                       \
  })
#define hsum16(v)                                  \
  ({                                               \
    float s_ = 0.f;                                \
    for (int l_ = 0; l_ < 16; l_++) s_ += (v)[l_]; \
    s_;                                            \
  })

typedef struct {
  int k, cseg, nout; /* window k x k over cseg channels, nout outputs */
  int off;           /* output pixel q reads source pixels q-off .. q-off+k-1 */
  int wsrc;          /* source row width in pixels */
  const float *wt;   /* [nout][k rows][k*cseg] */
  const float *b;
  sscor_act act;
} sc_geom;

/* Adds kernel row r's contribution for NOUT outputs at NP adjacent pixels
 * starting at q0 (window inside the row). One kernel row at a time keeps its
 * weights (NOUT * k*cseg floats) in L1 while the pixels stream past. */
static inline __attribute__((always_inline)) void sc_tile(const float *row, const sc_geom *g,
                                                          int r, int q0, float *out,
                                                          const int NOUT, const int NP) {
  const size_t len = (size_t)g->k * g->cseg;
  v16 acc[8][4] = {{(v16){0}}};
  for (int p = 0; p < NP; p++)
    for (int o = 0; o < NOUT; o++) acc[p][o] = (v16){0};
  const float *src = row + (size_t)(q0 - g->off) * g->cseg;
  const float *w = g->wt + (size_t)r * len;
  for (size_t i = 0; i < len; i += 16) {
    v16 wv[4];
    for (int o = 0; o < NOUT; o++) wv[o] = ld16(w + (size_t)o * g->k * len + i);
    for (int p = 0; p < NP; p++) {
      v16 xv = ld16(src + (size_t)p * g->cseg + i);
      for (int o = 0; o < NOUT; o++) acc[p][o] += xv * wv[o];
    }
  }
  for (int p = 0; p < NP; p++)
    for (int o = 0; o < NOUT; o++) out[(size_t)p * NOUT + o] += hsum16(acc[p][o]);
}

/* Window partly outside the row: plain loops with column checks. */
static void sc_edge(const float *row, const sc_geom *g, int r, int q, float *out) {
  const size_t len = (size_t)g->k * g->cseg;
  for (int o = 0; o < g->nout; o++) {
    float s = 0.f;
    for (int j = 0; j < g->k; j++) {
      int src = q - g->off + j;
      if (src < 0 || src >= g->wsrc) continue;
      const float *xv = row + (size_t)src * g->cseg;
      const float *wv = g->wt + ((size_t)o * g->k + r) * len + (size_t)j * g->cseg;
#pragma omp simd reduction(+ : s)
      for (int c = 0; c < g->cseg; c++) s += xv[c] * wv[c];
    }
    out[o] += s;
  }
}

/* One output channel loads one weight vector per pixel vector: wider tiles
 * keep the loads per multiply-add down. */
#define SC_ROW_FN(NOUT, NP)                                                                 \
  HOT static void sc_row_##NOUT(const float *row, const sc_geom *g, int r, int q_lo,        \
                                int q_hi, float *out) {                                     \
    int q = q_lo;                                                                           \
    for (; q + NP <= q_hi; q += NP) sc_tile(row, g, r, q, out + (size_t)q * NOUT, NOUT, NP); \
    for (; q < q_hi; q++) sc_tile(row, g, r, q, out + (size_t)q * NOUT, NOUT, 1);           \
  }
SC_ROW_FN(1, 8)
SC_ROW_FN(2, 6)
SC_ROW_FN(3, 4)
SC_ROW_FN(4, 4)

/* One output row of width wout; interior pixels take the vector path. */
static void sc_row(const float *const *rows, const sc_geom *g, int wout, float *out) {
  int lo = g->off, hi = g->wsrc - g->k + 1 + g->off; /* full windows: [lo, hi) */
  if (lo > wout) lo = wout;
  if (hi > wout) hi = wout;
  if (hi < lo) hi = lo;
  const int no = g->nout;
  for (int q = 0; q < wout; q++)
    for (int o = 0; o < no; o++) out[(size_t)q * no + o] = g->b ? g->b[o] : 0.f;
  for (int r = 0; r < g->k; r++) {
    if (!rows[r]) continue;
    for (int q = 0; q < lo; q++) sc_edge(rows[r], g, r, q, out + (size_t)q * no);
    switch (no) {
    case 1: sc_row_1(rows[r], g, r, lo, hi, out); break;
    case 2: sc_row_2(rows[r], g, r, lo, hi, out); break;
    case 3: sc_row_3(rows[r], g, r, lo, hi, out); break;
    default: sc_row_4(rows[r], g, r, lo, hi, out); break;
    }
    for (int q = hi; q < wout; q++) sc_edge(rows[r], g, r, q, out + (size_t)q * no);
  }
  if (g->act != SSCOR_ACT_NONE)
    for (size_t i = 0; i < (size_t)wout * no; i++) out[i] = sscor_act_apply(g->act, out[i]);
}

#define SMALLCONV_MAX 4
#define SMALLCONV_MAX_K 15

static int sc_shape_ok(const sscor_conv *p, int wide) {
  return p->stride == 1 && p->pad == 0 && p->k <= SMALLCONV_MAX_K && wide >= 16 &&
         ((size_t)p->k * wide) % 16 == 0;
}
int nhwc_smallconv_fits(const sscor_conv *p) {
  return p->cout <= SMALLCONV_MAX && sc_shape_ok(p, p->cin);
}
int nhwc_smallconv_bwd_data_fits(const sscor_conv *p) {
  return p->cin <= SMALLCONV_MAX && sc_shape_ok(p, p->cout);
}

void nhwc_smallconv_pack(const sscor_conv *p, const float *w, float *wt) {
  const int k = p->k, ci = p->cin;
  for (int co = 0; co < p->cout; co++)
    for (int c = 0; c < ci; c++)
      for (int ky = 0; ky < k; ky++)
        for (int kx = 0; kx < k; kx++)
          wt[(((size_t)co * k + ky) * k + kx) * ci + c] = w[(((size_t)co * ci + c) * k + ky) * k + kx];
}

void nhwc_smallconv_forward(const sscor_conv *p, const sscor_tensor *x, const float *wt,
                            const float *b, sscor_tensor *y) {
  const size_t xrow = (size_t)x->w * x->c;
  const sc_geom g = {p->k, p->cin, p->cout, 0, x->w, wt, b, p->act};
#pragma omp parallel for collapse(2) schedule(static) if (sscor_tensor_numel(x) >= PAR_MIN)
  for (int n = 0; n < y->n; n++)
    for (int oy = 0; oy < y->h; oy++) {
      const float *rows[SMALLCONV_MAX_K];
      for (int r = 0; r < p->k; r++) rows[r] = x->data + ((size_t)n * x->h + oy + r) * xrow;
      sc_row(rows, &g, y->w, y->data + ((size_t)n * y->h + oy) * y->w * y->c);
    }
}

/* Data gradient of a conv with few input channels: dx[i] = sum over window
 * of dy[i - j] * w[j], i.e. the same kernel over dy with the window flipped:
 * packed as wt[ci][ky][j][co] = w[co][ci][ky][k-1-j], rows reversed. */
void nhwc_smallconv_bwd_data_pack(const sscor_conv *p, const float *w, float *wt) {
  const int k = p->k, co_n = p->cout, ci_n = p->cin;
  for (int ci = 0; ci < ci_n; ci++)
    for (int ky = 0; ky < k; ky++)
      for (int j = 0; j < k; j++)
        for (int co = 0; co < co_n; co++)
          wt[(((size_t)ci * k + ky) * k + j) * co_n + co] =
              w[(((size_t)co * ci_n + ci) * k + ky) * k + (k - 1 - j)];
}

void nhwc_smallconv_backward_data(const sscor_conv *p, const float *wt, const sscor_tensor *dy,
                                  sscor_tensor *dx) {
  const size_t dyrow = (size_t)dy->w * dy->c;
  const int k = p->k;
  const sc_geom g = {k, p->cout, p->cin, k - 1, dy->w, wt, NULL, SSCOR_ACT_NONE};
#pragma omp parallel for collapse(2) schedule(static) if (sscor_tensor_numel(dy) >= PAR_MIN)
  for (int n = 0; n < dx->n; n++)
    for (int iy = 0; iy < dx->h; iy++) {
      const float *rows[SMALLCONV_MAX_K];
      for (int r = 0; r < k; r++) { /* r = ky: dy row iy - ky */
        int oy = iy - r;
        rows[r] = oy >= 0 && oy < dy->h ? dy->data + ((size_t)n * dy->h + oy) * dyrow : NULL;
      }
      sc_row(rows, &g, dx->w, dx->data + ((size_t)n * dx->h + iy) * dx->w * dx->c);
    }
}

/* Weight gradient of a conv with few output channels:
 * dwt[co][ky][kx*cin + c] += sum over pixels dy[oy][ox][co] * x[oy+ky][ox+kx][c]:
 * per (pixel, co, ky) an axpy of the k*cin contiguous input floats, four
 * pixels per pass over the accumulator. Each thread owns a partial sum. */
HOT static void sc_bwdw_row(const float *const *xrows, const float *dyrow, int wo, int k,
                            int cin, int cout, float *acc) {
  const size_t len = (size_t)k * cin;
  int ox = 0;
  for (; ox + 4 <= wo; ox += 4)
    for (int co = 0; co < cout; co++) {
      const float g0 = dyrow[(size_t)ox * cout + co], g1 = dyrow[(size_t)(ox + 1) * cout + co];
      const float g2 = dyrow[(size_t)(ox + 2) * cout + co], g3 = dyrow[(size_t)(ox + 3) * cout + co];
      for (int ky = 0; ky < k; ky++) {
        const float *xv = xrows[ky] + (size_t)ox * cin;
        float *a = acc + ((size_t)co * k + ky) * len;
        for (size_t i = 0; i < len; i++)
          a[i] += g0 * xv[i] + g1 * xv[i + cin] + g2 * xv[i + 2 * cin] + g3 * xv[i + 3 * cin];
      }
    }
  for (; ox < wo; ox++)
    for (int co = 0; co < cout; co++) {
      const float g0 = dyrow[(size_t)ox * cout + co];
      for (int ky = 0; ky < k; ky++) {
        const float *xv = xrows[ky] + (size_t)ox * cin;
        float *a = acc + ((size_t)co * k + ky) * len;
        for (size_t i = 0; i < len; i++) a[i] += g0 * xv[i];
      }
    }
}

size_t nhwc_smallconv_bwdw_scratch(const sscor_conv *p, int threads) {
  return (size_t)threads * p->cout * p->k * p->k * p->cin;
}

void nhwc_smallconv_backward_weights(const sscor_conv *p, const sscor_tensor *x,
                                     const sscor_tensor *dy, float *scratch, int threads,
                                     float *dw, float *db) {
  const int k = p->k, cin = p->cin, cout = p->cout;
  const size_t per = (size_t)cout * k * k * cin, xrow = (size_t)x->w * cin;
  memset(scratch, 0, (size_t)threads * per * sizeof(float));
  const int rows_total = dy->n * dy->h;
#pragma omp parallel num_threads(threads) if (sscor_tensor_numel(x) >= PAR_MIN)
  {
    float *acc = scratch + (size_t)omp_get_thread_num() * per;
#pragma omp for schedule(static)
    for (int rr = 0; rr < rows_total; rr++) {
      int n = rr / dy->h, oy = rr % dy->h;
      const float *xrows[SMALLCONV_MAX_K];
      for (int r = 0; r < k; r++) xrows[r] = x->data + ((size_t)n * x->h + oy + r) * xrow;
      sc_bwdw_row(xrows, dy->data + ((size_t)n * dy->h + oy) * dy->w * cout, dy->w, k, cin,
                  cout, acc);
    }
  }
  for (int t = 1; t < threads; t++)
    for (size_t i = 0; i < per; i++) scratch[i] += scratch[(size_t)t * per + i];
  for (int co = 0; co < cout; co++)
    for (int c = 0; c < cin; c++)
      for (int ky = 0; ky < k; ky++)
        for (int kx = 0; kx < k; kx++)
          dw[(((size_t)co * cin + c) * k + ky) * k + kx] +=
              scratch[(((size_t)co * k + ky) * k + kx) * cin + c];
  if (db) nhwc_channel_sums_add(dy, db);
}
