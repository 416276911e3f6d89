/* CPU kernels behind core/layers.c, which checks every shape and layout
 * before calling them, so kernels trust their arguments.
 *
 * ref_*:  plain C loops on NCHW tensors, sums in double. Slow and obviously
 *         correct: what every test compares against.
 * nhwc_*: hand-written, OpenMP-parallel kernels on NHWC tensors for the
 *         oneDNN backend (pads, instance norm, element-wise, losses, and the
 *         final conv down to a few channels where oneDNN is slow).
 * dnnl_*: oneDNN 2.6 primitives (convolutions, transposed convolutions),
 *         cached per shape in a sscor_dnnl context.
 * Functions returning int give 0 on success, else non-zero with a message in
 * sscor_kernels_error(). */
#ifndef SSCOR_CPU_KERNELS_H
#define SSCOR_CPU_KERNELS_H

#include <math.h>
#include <stddef.h>

#include "layers.h"
#include "tensor.h"

const char *sscor_kernels_error(void);
int sscor_kernels_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Makes this thread's OpenMP team size follow sscor_kernels_threads(). */
void sscor_kernels_apply_threads(void);

/* ---- reference (NCHW) ---- */
void ref_conv2d_forward(const sscor_conv *p, const sscor_tensor *x, const float *w,
                        const float *b, sscor_tensor *y);
void ref_conv2d_backward_data(const sscor_conv *p, const float *w, const sscor_tensor *dy,
                              sscor_tensor *dx);
void ref_conv2d_backward_weights(const sscor_conv *p, const sscor_tensor *x,
                                 const sscor_tensor *dy, float *dw, float *db);
void ref_deconv2d_forward(const sscor_conv *p, const sscor_tensor *x, const float *w,
                          const float *b, sscor_tensor *y);
void ref_deconv2d_backward_data(const sscor_conv *p, const float *w, const sscor_tensor *dy,
                                sscor_tensor *dx);
void ref_deconv2d_backward_weights(const sscor_conv *p, const sscor_tensor *x,
                                   const sscor_tensor *dy, float *dw, float *db);
void ref_reflect_pad_forward(int pad, const sscor_tensor *x, sscor_tensor *y);
void ref_reflect_pad_backward(int pad, const sscor_tensor *dy, sscor_tensor *dx);
void ref_instnorm_forward(const sscor_tensor *x, sscor_tensor *y, float *mean, float *rstd,
                          sscor_act act);
void ref_instnorm_backward(const sscor_tensor *x, const sscor_tensor *y, const float *mean,
                           const float *rstd, sscor_act act, const sscor_tensor *dy,
                           sscor_tensor *dx);
/* Element-wise ops are layout-free (dense buffers of count floats). */
void ref_act_forward(sscor_act act, const float *x, float *y, size_t count);
void ref_act_backward(sscor_act act, const float *y, const float *dy, float *dx, size_t count);
void ref_add(const float *a, const float *b, float *y, size_t count);
double ref_mse_loss(const float *x, const float *t, float tv, float weight, float *dx,
                    size_t count);
double ref_l1_loss(const float *x, const float *t, float tv, float weight, float *dx,
                   size_t count);
/* Scalar activation and its derivative from the output, shared by all CPU code. */
static inline float sscor_act_apply(sscor_act act, float v) {
  switch (act) {
  case SSCOR_ACT_RELU: return v > 0.f ? v : 0.f;
  case SSCOR_ACT_LRELU: return v > 0.f ? v : SSCOR_LRELU_SLOPE * v;
  case SSCOR_ACT_TANH: return tanhf(v);
  case SSCOR_ACT_SIGMOID: return 1.f / (1.f + expf(-v));
  default: return v;
  }
}
static inline float sscor_act_grad(sscor_act act, float y, float dy) {
  switch (act) {
  case SSCOR_ACT_RELU: return y > 0.f ? dy : 0.f;
  case SSCOR_ACT_LRELU: return y > 0.f ? dy : SSCOR_LRELU_SLOPE * dy;
  case SSCOR_ACT_TANH: return dy * (1.f - y * y);
  case SSCOR_ACT_SIGMOID: return dy * y * (1.f - y);
  default: return dy;
  }
}

/* ---- fast NHWC kernels (oneDNN backend) ---- */
void nhwc_reflect_pad_forward(int pad, const sscor_tensor *x, sscor_tensor *y);
void nhwc_reflect_pad_backward(int pad, const sscor_tensor *dy, sscor_tensor *dx);
void nhwc_instnorm_forward(const sscor_tensor *x, sscor_tensor *y, float *mean, float *rstd,
                           sscor_act act);
void nhwc_instnorm_backward(const sscor_tensor *x, const sscor_tensor *y, const float *mean,
                            const float *rstd, sscor_act act, const sscor_tensor *dy,
                            sscor_tensor *dx);
void fast_act_forward(sscor_act act, const float *x, float *y, size_t count);
void fast_act_backward(sscor_act act, const float *y, const float *dy, float *dx, size_t count);
void fast_add(const float *a, const float *b, float *y, size_t count);
double fast_mse_loss(const float *x, const float *t, float tv, float weight, float *dx,
                     size_t count);
double fast_l1_loss(const float *x, const float *t, float tv, float weight, float *dx,
                    size_t count);
/* y = act(y + b) per channel (b may be NULL). */
void nhwc_bias_act(sscor_tensor *y, const float *b, sscor_act act);
/* acc[c] += sum of channel c over all images and pixels. */
void nhwc_channel_sums_add(const sscor_tensor *t, float *acc);
/* Stride-1, unpadded convs with at most 4 channels on one side and a wide
 * other side (the generator's full-resolution 7x7 convs), where oneDNN
 * falls to ~25-50 GFLOP/s. Weights are repacked by the *_pack functions
 * (cout*k*k*cin floats); backward weights needs scratch of
 * nhwc_smallconv_bwdw_scratch floats and accumulates into dw, db. */
int nhwc_smallconv_fits(const sscor_conv *p);          /* forward, bwd weights */
int nhwc_smallconv_bwd_data_fits(const sscor_conv *p); /* backward data */
void nhwc_smallconv_pack(const sscor_conv *p, const float *w_oihw, float *wt);
void nhwc_smallconv_forward(const sscor_conv *p, const sscor_tensor *x, const float *wt,
                            const float *b, sscor_tensor *y);
void nhwc_smallconv_bwd_data_pack(const sscor_conv *p, const float *w_oihw, float *wt);
void nhwc_smallconv_backward_data(const sscor_conv *p, const float *wt, const sscor_tensor *dy,
                                  sscor_tensor *dx);
size_t nhwc_smallconv_bwdw_scratch(const sscor_conv *p, int threads);
void nhwc_smallconv_backward_weights(const sscor_conv *p, const sscor_tensor *x,
                                     const sscor_tensor *dy, float *scratch, int threads,
                                     float *dw, float *db);

/* ---- oneDNN (NHWC activations, PyTorch-order weights) ---- */
typedef struct sscor_dnnl sscor_dnnl;
int dnnl_ctx_create(sscor_dnnl **out);
void dnnl_ctx_destroy(sscor_dnnl *d);
/* While frozen, reordered weights are kept per weight pointer. */
void dnnl_ctx_freeze_weights(sscor_dnnl *d, int frozen);
/* While frozen, 3x3 stride-1 convs with >= 64 channels (multiples of 16) use
 * Winograd F(4x4, 3x3) when on (the default). */
void dnnl_ctx_set_winograd(sscor_dnnl *d, int on);
/* How many forwards really ran by Winograd (oneDNN has none on some CPUs:
 * those fall back to direct). */
long dnnl_ctx_winograd_runs(const sscor_dnnl *d);
/* deconv selects transposed convolution (weights IOHW). */
int dnnl_conv_forward(sscor_dnnl *d, int deconv, const sscor_conv *p, const sscor_tensor *x,
                      const float *w, const float *b, sscor_tensor *y);
int dnnl_conv_backward_data(sscor_dnnl *d, int deconv, const sscor_conv *p, const float *w,
                            const sscor_tensor *dy, sscor_tensor *dx);
int dnnl_conv_backward_weights(sscor_dnnl *d, int deconv, const sscor_conv *p,
                               const sscor_tensor *x, const sscor_tensor *dy, float *dw,
                               float *db);

#endif
