/* Reference kernels: direct loops over NCHW, sums in double. Written to be
 * read and trusted, not to be fast; every other backend is tested against
 * these. Convolution gradients use the gather form (each output element is
 * one sum) so no floating-point order depends on scatter order. */
#include <math.h>
#include <string.h>

#include "cpu_kernels.h"

#define AT(T, N, C, Y, X) ((T)->data[(((size_t)(N) * (T)->c + (C)) * (T)->h + (Y)) * (T)->w + (X)])

void ref_conv2d_forward(const sscor_conv *p, const sscor_tensor *x, const float *w,
                        const float *b, sscor_tensor *y) {
  const int k = p->k, s = p->stride, pad = p->pad;
  for (int n = 0; n < y->n; n++)
    for (int co = 0; co < y->c; co++)
      for (int oy = 0; oy < y->h; oy++)
        for (int ox = 0; ox < y->w; ox++) {
          double acc = b ? b[co] : 0.0;
          for (int ci = 0; ci < x->c; ci++)
            for (int ky = 0; ky < k; ky++) {
              int iy = oy * s - pad + ky;
              if (iy < 0 || iy >= x->h) continue;
              for (int kx = 0; kx < k; kx++) {
                int ix = ox * s - pad + kx;
                if (ix < 0 || ix >= x->w) continue;
                acc += (double)AT(x, n, ci, iy, ix) * w[(((size_t)co * x->c + ci) * k + ky) * k + kx];
              }
            }
          AT(y, n, co, oy, ox) = sscor_act_apply(p->act, (float)acc);
        }
}

void ref_conv2d_backward_data(const sscor_conv *p, const float *w, const sscor_tensor *dy,
                              sscor_tensor *dx) {
  const int k = p->k, s = p->stride, pad = p->pad;
  for (int n = 0; n < dx->n; n++)
    for (int ci = 0; ci < dx->c; ci++)
      for (int iy = 0; iy < dx->h; iy++)
        for (int ix = 0; ix < dx->w; ix++) {
          double acc = 0.0;
          for (int co = 0; co < dy->c; co++)
            for (int ky = 0; ky < k; ky++) {
              int t = iy + pad - ky; /* = oy * s */
              if (t < 0 || t % s) continue;
              int oy = t / s;
              if (oy >= dy->h) continue;
              for (int kx = 0; kx < k; kx++) {
                int u = ix + pad - kx;
                if (u < 0 || u % s) continue;
                int ox = u / s;
                if (ox >= dy->w) continue;
                acc += (double)AT(dy, n, co, oy, ox) * w[(((size_t)co * dx->c + ci) * k + ky) * k + kx];
              }
            }
          AT(dx, n, ci, iy, ix) = (float)acc;
        }
}

void ref_conv2d_backward_weights(const sscor_conv *p, const sscor_tensor *x,
                                 const sscor_tensor *dy, float *dw, float *db) {
  const int k = p->k, s = p->stride, pad = p->pad;
  for (int co = 0; co < dy->c; co++) {
    for (int ci = 0; ci < x->c; ci++)
      for (int ky = 0; ky < k; ky++)
        for (int kx = 0; kx < k; kx++) {
          double acc = 0.0;
          for (int n = 0; n < dy->n; n++)
            for (int oy = 0; oy < dy->h; oy++) {
              int iy = oy * s - pad + ky;
              if (iy < 0 || iy >= x->h) continue;
              for (int ox = 0; ox < dy->w; ox++) {
                int ix = ox * s - pad + kx;
                if (ix < 0 || ix >= x->w) continue;
                acc += (double)AT(dy, n, co, oy, ox) * AT(x, n, ci, iy, ix);
              }
            }
          dw[(((size_t)co * x->c + ci) * k + ky) * k + kx] += (float)acc;
        }
    if (db) {
      double acc = 0.0;
      for (int n = 0; n < dy->n; n++)
        for (int oy = 0; oy < dy->h; oy++)
          for (int ox = 0; ox < dy->w; ox++) acc += AT(dy, n, co, oy, ox);
      db[co] += (float)acc;
    }
  }
}

/* Transposed conv: input pixel (iy, ix) feeds output (iy*s - pad + ky, ...). */
void ref_deconv2d_forward(const sscor_conv *p, const sscor_tensor *x, const float *w,
                          const float *b, sscor_tensor *y) {
  const int k = p->k, s = p->stride, pad = p->pad;
  for (int n = 0; n < y->n; n++)
    for (int co = 0; co < y->c; co++)
      for (int oy = 0; oy < y->h; oy++)
        for (int ox = 0; ox < y->w; ox++) {
          double acc = b ? b[co] : 0.0;
          for (int ci = 0; ci < x->c; ci++)
            for (int ky = 0; ky < k; ky++) {
              int t = oy + pad - ky;
              if (t < 0 || t % s) continue;
              int iy = t / s;
              if (iy >= x->h) continue;
              for (int kx = 0; kx < k; kx++) {
                int u = ox + pad - kx;
                if (u < 0 || u % s) continue;
                int ix = u / s;
                if (ix >= x->w) continue;
                acc += (double)AT(x, n, ci, iy, ix) * w[(((size_t)ci * y->c + co) * k + ky) * k + kx];
              }
            }
          AT(y, n, co, oy, ox) = sscor_act_apply(p->act, (float)acc);
        }
}

void ref_deconv2d_backward_data(const sscor_conv *p, const float *w, const sscor_tensor *dy,
                                sscor_tensor *dx) {
  const int k = p->k, s = p->stride, pad = p->pad;
  for (int n = 0; n < dx->n; n++)
    for (int ci = 0; ci < dx->c; ci++)
      for (int iy = 0; iy < dx->h; iy++)
        for (int ix = 0; ix < dx->w; ix++) {
          double acc = 0.0;
          for (int co = 0; co < dy->c; co++)
            for (int ky = 0; ky < k; ky++) {
              int oy = iy * s - pad + ky;
              if (oy < 0 || oy >= dy->h) continue;
              for (int kx = 0; kx < k; kx++) {
                int ox = ix * s - pad + kx;
                if (ox < 0 || ox >= dy->w) continue;
                acc += (double)AT(dy, n, co, oy, ox) * w[(((size_t)ci * dy->c + co) * k + ky) * k + kx];
              }
            }
          AT(dx, n, ci, iy, ix) = (float)acc;
        }
}

void ref_deconv2d_backward_weights(const sscor_conv *p, const sscor_tensor *x,
                                   const sscor_tensor *dy, float *dw, float *db) {
  const int k = p->k, s = p->stride, pad = p->pad;
  for (int ci = 0; ci < x->c; ci++)
    for (int co = 0; co < dy->c; co++)
      for (int ky = 0; ky < k; ky++)
        for (int kx = 0; kx < k; kx++) {
          double acc = 0.0;
          for (int n = 0; n < x->n; n++)
            for (int iy = 0; iy < x->h; iy++) {
              int oy = iy * s - pad + ky;
              if (oy < 0 || oy >= dy->h) continue;
              for (int ix = 0; ix < x->w; ix++) {
                int ox = ix * s - pad + kx;
                if (ox < 0 || ox >= dy->w) continue;
                acc += (double)AT(x, n, ci, iy, ix) * AT(dy, n, co, oy, ox);
              }
            }
          dw[(((size_t)ci * dy->c + co) * k + ky) * k + kx] += (float)acc;
        }
  if (db)
    for (int co = 0; co < dy->c; co++) {
      double acc = 0.0;
      for (int n = 0; n < dy->n; n++)
        for (int oy = 0; oy < dy->h; oy++)
          for (int ox = 0; ox < dy->w; ox++) acc += AT(dy, n, co, oy, ox);
      db[co] += (float)acc;
    }
}

static int reflect(int i, int size) {
  if (i < 0) return -i;
  if (i >= size) return 2 * size - 2 - i;
  return i;
}

void ref_reflect_pad_forward(int pad, const sscor_tensor *x, sscor_tensor *y) {
  for (int n = 0; n < y->n; n++)
    for (int c = 0; c < y->c; c++)
      for (int i = 0; i < y->h; i++)
        for (int j = 0; j < y->w; j++)
          AT(y, n, c, i, j) = AT(x, n, c, reflect(i - pad, x->h), reflect(j - pad, x->w));
}

void ref_reflect_pad_backward(int pad, const sscor_tensor *dy, sscor_tensor *dx) {
  memset(dx->data, 0, sscor_tensor_numel(dx) * sizeof(float));
  for (int n = 0; n < dy->n; n++)
    for (int c = 0; c < dy->c; c++)
      for (int i = 0; i < dy->h; i++)
        for (int j = 0; j < dy->w; j++)
          AT(dx, n, c, reflect(i - pad, dx->h), reflect(j - pad, dx->w)) += AT(dy, n, c, i, j);
}

void ref_instnorm_forward(const sscor_tensor *x, sscor_tensor *y, float *mean, float *rstd,
                          sscor_act act) {
  const size_t hw = (size_t)x->h * x->w;
  for (int nc = 0; nc < x->n * x->c; nc++) {
    const float *xs = x->data + nc * hw;
    float *ys = y->data + nc * hw;
    double m = 0.0, v = 0.0;
    for (size_t i = 0; i < hw; i++) m += xs[i];
    m /= (double)hw;
    for (size_t i = 0; i < hw; i++) v += (xs[i] - m) * (xs[i] - m);
    v /= (double)hw;
    double r = 1.0 / sqrt(v + SSCOR_INSTNORM_EPS);
    for (size_t i = 0; i < hw; i++) ys[i] = sscor_act_apply(act, (float)((xs[i] - m) * r));
    if (mean) mean[nc] = (float)m;
    if (rstd) rstd[nc] = (float)r;
  }
}

/* dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy through act. */
void ref_instnorm_backward(const sscor_tensor *x, const sscor_tensor *y, const float *mean,
                           const float *rstd, sscor_act act, const sscor_tensor *dy,
                           sscor_tensor *dx) {
  const size_t hw = (size_t)x->h * x->w;
  for (int nc = 0; nc < x->n * x->c; nc++) {
    const float *xs = x->data + nc * hw, *ys = y->data + nc * hw, *dys = dy->data + nc * hw;
    float *dxs = dx->data + nc * hw;
    double sg = 0.0, sgx = 0.0;
    for (size_t i = 0; i < hw; i++) {
      double g = sscor_act_grad(act, ys[i], dys[i]);
      sg += g;
      sgx += g * (xs[i] - mean[nc]) * rstd[nc];
    }
    sg /= (double)hw;
    sgx /= (double)hw;
    for (size_t i = 0; i < hw; i++) {
      double g = sscor_act_grad(act, ys[i], dys[i]);
      double xh = ((double)xs[i] - mean[nc]) * rstd[nc];
      dxs[i] = (float)(rstd[nc] * (g - sg - xh * sgx));
    }
  }
}

void ref_act_forward(sscor_act act, const float *x, float *y, size_t count) {
  for (size_t i = 0; i < count; i++) y[i] = sscor_act_apply(act, x[i]);
}

void ref_act_backward(sscor_act act, const float *y, const float *dy, float *dx, size_t count) {
  for (size_t i = 0; i < count; i++) dx[i] = sscor_act_grad(act, y[i], dy[i]);
}

void ref_add(const float *a, const float *b, float *y, size_t count) {
  for (size_t i = 0; i < count; i++) y[i] = a[i] + b[i];
}

double ref_mse_loss(const float *x, const float *t, float tv, float weight, float *dx,
                    size_t count) {
  double sum = 0.0;
  for (size_t i = 0; i < count; i++) {
    double d = (double)x[i] - (t ? t[i] : tv);
    sum += d * d;
    if (dx) dx[i] = (float)(weight * 2.0 * d / (double)count);
  }
  return weight * sum / (double)count;
}

double ref_l1_loss(const float *x, const float *t, float tv, float weight, float *dx,
                   size_t count) {
  double sum = 0.0;
  for (size_t i = 0; i < count; i++) {
    double d = (double)x[i] - (t ? t[i] : tv);
    sum += fabs(d);
    if (dx) dx[i] = (float)(d > 0 ? weight / (double)count : d < 0 ? -weight / (double)count : 0.0);
  }
  return weight * sum / (double)count;
}
