/* Layers: one forward and one backward per op, on explicit buffers.
 *
 * Usage (a generator's first block, oneDNN backend):
 *
 *   sscor_engine *e;  sscor_engine_create(SSCOR_BACKEND_DNNL, &e);
 *   sscor_layout L = sscor_engine_layout(e);       // NHWC for oneDNN, NCHW for ref
 *   sscor_arena A;    sscor_arena_init(&A, 0);
 *   sscor_tensor x, xp, y, a;                      // allocate once, reuse every step
 *   sscor_tensor_alloc(&A, &x,  1, 3, 256, 256, L);
 *   sscor_tensor_alloc(&A, &xp, 1, 3, 262, 262, L);
 *   sscor_tensor_alloc(&A, &y,  1, 64, 256, 256, L);
 *   sscor_tensor_alloc(&A, &a,  1, 64, 256, 256, L);
 *   float *mean, *rstd;  (n*c floats each, from the arena)
 *   sscor_conv c7 = {.cin = 3, .cout = 64, .k = 7, .stride = 1, .pad = 0};
 *   sscor_tensor_import(&x, image_nchw);
 *   sscor_reflect_pad_forward(e, 3, &x, &xp);
 *   sscor_conv2d_forward(e, &c7, &xp, w, b, &y);    // w OIHW [64][3][7][7], b [64]
 *   sscor_instnorm_forward(e, &y, &a, mean, rstd, SSCOR_ACT_RELU);
 *   ... backward in reverse order:
 *   sscor_instnorm_backward(e, &y, &a, mean, rstd, SSCOR_ACT_RELU, &da, &dy);
 *   sscor_conv2d_backward_weights(e, &c7, &xp, &dy, dw, db);   // dw += , db +=
 *   sscor_conv2d_backward_data(e, &c7, w, &dy, &dxp);          // dxp =
 *   sscor_reflect_pad_backward(e, 3, &dxp, &dx);               // dx =
 *
 * Memory ownership: the engine owns nothing the caller sees. The caller
 * allocates every activation, every saved value needed by a backward (the
 * op's input x, output y, instance-norm mean/rstd: n*c floats each) and
 * every gradient buffer, once, from an arena, and passes them in. The engine
 * owns only private scratch (oneDNN primitives per shape, their scratchpads,
 * reordered weights), created on first use of a shape and reused after; it
 * never allocates in steady state. Weights and weight gradients are plain
 * host float arrays in PyTorch's order, owned by the network.
 *
 * Gradient conventions (the same on every backend):
 *   - data gradients (dx) are OVERWRITTEN; merge branches with sscor_add;
 *   - weight and bias gradients are ACCUMULATED (+=), so a network used
 *     several times in one step (cycle loss) sums its gradients; zero them
 *     before the step.
 *   - every tensor argument must have the engine's layout
 *     (sscor_engine_layout), checked: SSCOR_E_INVALID otherwise.
 *   - shapes are checked against each other; a mismatch is SSCOR_E_INVALID
 *     with a message naming the op and both shapes.
 *
 * Aliasing: activations (sscor_act_forward/backward), sscor_add and
 * instance-norm backward (dx == dy) may work in place; convolutions, pads and
 * instance-norm forward may not (they need their input afterwards anyway).
 *
 * Backends: REF runs plain loops on NCHW (slow, trusted by the tests).
 * DNNL keeps activations NHWC end to end (no reorder between layers): oneDNN
 * convolutions (primitives cached per shape and thread count, bias and a
 * following activation fused as a post-op), transposed convolutions run as
 * the matching convolution directions (faster kernels than oneDNN's
 * deconvolution), hand-written kernels for the full-resolution 7x7 convs
 * with <= 4 channels on one side, and instance norm with the activation
 * fused into its normalising pass. In these networks instance norm sits
 * between every conv and its activation, so the conv+act post-op fusion
 * applies only where there is no norm (the discriminator's first layer, the
 * generator's tanh output). With frozen weights (inference) 3x3 stride-1
 * convs run by Winograd (sscor_engine_freeze_weights).
 * CUDA (kernels/cuda, later): the same op set on device-resident tensors;
 * tensor data then lives on the device and import/export copy across.
 *
 * Room for later ops (seed-2 attention U-Net, channel/spatial attention):
 * sigmoid is already an activation; the attention block will add global
 * pooling over h*w, a per-channel / per-pixel broadcast multiply, max-pool
 * and upsampling as further forward/backward pairs in the same style. */
#ifndef SSCOR_LAYERS_H
#define SSCOR_LAYERS_H

#include <stdio.h>

#include "status.h"
#include "tensor.h"

typedef enum {
  SSCOR_BACKEND_REF = 0,  /* plain C loops, NCHW: what the tests trust */
  SSCOR_BACKEND_DNNL = 1, /* oneDNN CPU (+ hand-written kernels), NHWC */
  SSCOR_BACKEND_CUDA = 2, /* cuDNN; not built yet: create() says unsupported */
  SSCOR_BACKEND_BEST = 3  /* the fastest available (DNNL on CPU builds) */
} sscor_backend;

typedef enum {
  SSCOR_ACT_NONE = 0,
  SSCOR_ACT_RELU,
  SSCOR_ACT_LRELU, /* negative slope SSCOR_LRELU_SLOPE */
  SSCOR_ACT_TANH,
  SSCOR_ACT_SIGMOID
} sscor_act;
#define SSCOR_LRELU_SLOPE 0.2f
#define SSCOR_MAX_CHANNELS 16384 /* per tensor, oneDNN backend */

typedef struct sscor_engine sscor_engine;

/* Thread count comes from sscor_kernels_set_threads (kernels.h), read at
 * every call, default one per online core. An engine is used by one thread
 * at a time; give each streaming thread its own. */
sscor_status sscor_engine_create(sscor_backend backend, sscor_engine **out);
void sscor_engine_destroy(sscor_engine *e);
sscor_backend sscor_engine_backend(const sscor_engine *e);
sscor_layout sscor_engine_layout(const sscor_engine *e);
const char *sscor_backend_name(sscor_backend b);

/* Inference speed-up: while frozen, the engine may keep weights reordered
 * into its own layout across calls (keyed by the weight pointer) instead of
 * reordering them at every call, and (oneDNN) runs 3x3 stride-1 convs with
 * >= 64 channels by Winograd F(4x4, 3x3), ~2x faster than direct here.
 * Winograd rounds differently: outputs differ from the direct conv by
 * about 1e-5 of their scale (bounded at 1e-4 in test_layers). Unfreeze (or
 * freeze again) after changing any weight in place; training never freezes.
 * sscor_engine_set_winograd(e, 0) keeps frozen inference on direct convs. */
void sscor_engine_freeze_weights(sscor_engine *e, int frozen);
void sscor_engine_set_winograd(sscor_engine *e, int on);
/* Convolutions run by Winograd so far: oneDNN has no Winograd on some CPUs
 * (AVX2 without AVX-512), where frozen inference stays direct. */
long sscor_engine_winograd_runs(const sscor_engine *e);

/* Counters for benchmarks: floating-point operations of convolutions (2 per
 * multiply-add, bias excluded) and wall time per op kind since the last
 * reset. Timing adds no cost unless enabled. */
void sscor_engine_reset_stats(sscor_engine *e);
double sscor_engine_flops(const sscor_engine *e);
void sscor_engine_set_profiling(sscor_engine *e, int on);
/* Table of op kind, calls, ms, GFLOP/s (convolutions) to f. */
void sscor_engine_print_profile(const sscor_engine *e, FILE *f);

/* ---- convolution and transposed convolution ------------------------------
 * Square kernel k, equal stride and zero padding on both axes.
 * conv2d:  ho = (h + 2*pad - k) / stride + 1           (must be >= 1)
 *          w: OIHW [cout][cin][k][k]
 * deconv2d (PyTorch ConvTranspose2d):
 *          ho = (h - 1)*stride - 2*pad + k + out_pad    (out_pad < stride)
 *          w: IOHW [cin][cout][k][k]
 * b: [cout] or NULL for no bias. act is applied after the bias in forward
 * only (fused where the backend can); run sscor_act_backward on dy first. */
typedef struct sscor_conv {
  int cin, cout, k, stride, pad;
  int out_pad;   /* deconv2d only, else 0 */
  sscor_act act; /* fused output activation, forward only */
} sscor_conv;

/* Output size along one axis, or 0 when the parameters do not fit. */
int sscor_conv2d_out_size(const sscor_conv *p, int in);
int sscor_deconv2d_out_size(const sscor_conv *p, int in);
double sscor_conv2d_flops(const sscor_conv *p, int n, int ho, int wo);
double sscor_deconv2d_flops(const sscor_conv *p, int n, int hi, int wi);

sscor_status sscor_conv2d_forward(sscor_engine *e, const sscor_conv *p, const sscor_tensor *x,
                                  const float *w, const float *b, sscor_tensor *y);
sscor_status sscor_conv2d_backward_data(sscor_engine *e, const sscor_conv *p, const float *w,
                                        const sscor_tensor *dy, sscor_tensor *dx);
/* dw += dL/dw, db += dL/db (db may be NULL). */
sscor_status sscor_conv2d_backward_weights(sscor_engine *e, const sscor_conv *p,
                                           const sscor_tensor *x, const sscor_tensor *dy,
                                           float *dw, float *db);

sscor_status sscor_deconv2d_forward(sscor_engine *e, const sscor_conv *p, const sscor_tensor *x,
                                    const float *w, const float *b, sscor_tensor *y);
sscor_status sscor_deconv2d_backward_data(sscor_engine *e, const sscor_conv *p, const float *w,
                                          const sscor_tensor *dy, sscor_tensor *dx);
sscor_status sscor_deconv2d_backward_weights(sscor_engine *e, const sscor_conv *p,
                                             const sscor_tensor *x, const sscor_tensor *dy,
                                             float *dw, float *db);

/* ---- reflection padding (PyTorch ReflectionPad2d) ------------------------
 * y is (h + 2*pad) x (w + 2*pad); pad < h and pad < w. Backward folds the
 * reflected border gradients back onto dx (overwritten). */
sscor_status sscor_reflect_pad_forward(sscor_engine *e, int pad, const sscor_tensor *x,
                                       sscor_tensor *y);
sscor_status sscor_reflect_pad_backward(sscor_engine *e, int pad, const sscor_tensor *dy,
                                        sscor_tensor *dx);

/* ---- instance norm (no affine, eps 1e-5, biased variance) + activation ----
 * y = act((x - mean) * rstd) per (image, channel). mean/rstd: n*c floats
 * saved for backward, or NULL in inference. Backward takes the forward's
 * input x and output y (y for the activation's mask; unused for NONE). */
#define SSCOR_INSTNORM_EPS 1e-5f
sscor_status sscor_instnorm_forward(sscor_engine *e, const sscor_tensor *x, sscor_tensor *y,
                                    float *mean, float *rstd, sscor_act act);
sscor_status sscor_instnorm_backward(sscor_engine *e, const sscor_tensor *x,
                                     const sscor_tensor *y, const float *mean,
                                     const float *rstd, sscor_act act, const sscor_tensor *dy,
                                     sscor_tensor *dx);

/* ---- element-wise --------------------------------------------------------
 * Activation backward uses the forward OUTPUT y (enough for every act here):
 * dx = dy * act'(y). y may alias x; dx may alias dy. */
sscor_status sscor_act_forward(sscor_engine *e, sscor_act act, const sscor_tensor *x,
                               sscor_tensor *y);
sscor_status sscor_act_backward(sscor_engine *e, sscor_act act, const sscor_tensor *y,
                                const sscor_tensor *dy, sscor_tensor *dx);
/* y = a + b (residual add; also merges gradient branches). y may alias. */
sscor_status sscor_add(sscor_engine *e, const sscor_tensor *a, const sscor_tensor *b,
                       sscor_tensor *y);

/* ---- losses (mean over all n*c*h*w elements, as PyTorch's default) -------
 * target NULL means every target element is target_value (LSGAN's 0 / 1).
 * *loss = weight * mean((x-t)^2)  resp.  weight * mean(|x-t|), summed in
 * double. dx (may be NULL) is overwritten with weight * dloss/dx; for L1 the
 * gradient at x == t is 0, as PyTorch. */
sscor_status sscor_mse_loss(sscor_engine *e, const sscor_tensor *x, const sscor_tensor *target,
                            float target_value, float weight, double *loss, sscor_tensor *dx);
sscor_status sscor_l1_loss(sscor_engine *e, const sscor_tensor *x, const sscor_tensor *target,
                           float target_value, float weight, double *loss, sscor_tensor *dx);

#endif
