/* The SSCOR networks: ResNet generator and PatchGAN discriminator.
 *
 * Generator (CycleGAN "resnet_Nblocks", instance norm, no dropout), for an
 * input of h x w (multiples of 4, at least 8):
 *   ReflPad3, Conv7x7 in->ngf, IN, ReLU
 *   Conv3x3 s2 p1 ngf->2ngf, IN, ReLU;  Conv3x3 s2 p1 2ngf->4ngf, IN, ReLU
 *   depth x  r = r + [ReflPad1, Conv3x3, IN, ReLU, ReflPad1, Conv3x3, IN]
 *   ConvT3x3 s2 p1 op1 4ngf->2ngf, IN, ReLU;  ConvT 2ngf->ngf, IN, ReLU
 *   ReflPad3, Conv7x7 ngf->out, then the output stage:
 *     SSCOR_GEN_OUT_TANH      y = tanh(conv)               (the paper's)
 *     SSCOR_GEN_OUT_RESIDUAL  y = x + tanh(conv)            (out == in channels)
 *     SSCOR_GEN_OUT_GAIN      y = (x + 1) * (1 + tanh(conv)) - 1
 *   RESIDUAL and GAIN start as the exact identity: their last conv (weights
 *   and bias) is initialised to zero, so an untrained network returns its
 *   input, and training moves it away only as far as the losses ask. GAIN is
 *   a per-pixel multiplicative correction of the intensity above the scaling's
 *   low point (x = -1), in (0, 2)x: the physics of shading, which cannot
 *   invent texture where the input is dark.
 *
 * Discriminator (CycleGAN NLayerDiscriminator; 70x70 PatchGAN for depth 3):
 *   Conv4x4 s2 p1 in->ndf, LReLU 0.2
 *   for i in 1..depth-1: Conv4x4 s2 p1 -> ndf*min(2^i, 8), IN, LReLU
 *   Conv4x4 s1 p1 -> ndf*min(2^depth, 8), IN, LReLU
 *   Conv4x4 s1 p1 -> 1           (no sigmoid: least-squares GAN)
 *
 * Parameters of a network are one flat float vector in PyTorch's
 * parameters() order: per conv its weight (conv OIHW, transposed conv IOHW),
 * then its bias. Instance norm has no parameters. Model files and the
 * PyTorch fixtures use this vector as is.
 *
 * Running: a network (weights + weight gradients) is shared; a workspace
 * binds it to an engine and an input size and owns every activation and
 * gradient buffer, allocated once at creation. Forward and backward then
 * allocate nothing. Several workspaces may use the same network (e.g. one
 * per thread for inference, each with its own engine). For inference with
 * fixed weights, sscor_engine_freeze_weights(e, 1) lets the engine keep
 * reordered weights and use faster algorithms (Winograd for 3x3 convs). */
#ifndef SSCOR_NETS_H
#define SSCOR_NETS_H

#include <stddef.h>

#include "layers.h"
#include "rng.h"
#include "status.h"
#include "tensor.h"

typedef enum { SSCOR_NET_GENERATOR = 1, SSCOR_NET_DISCRIMINATOR = 2 } sscor_net_kind;

typedef enum {
  SSCOR_GEN_OUT_TANH = 0,
  SSCOR_GEN_OUT_RESIDUAL = 1,
  SSCOR_GEN_OUT_GAIN = 2
} sscor_gen_output;

typedef struct {
  sscor_net_kind kind;
  int in_ch;               /* image channels in */
  int out_ch;              /* generator: channels out; discriminator: 1 */
  int width;               /* ngf / ndf (paper 64) */
  int depth;               /* residual blocks (paper 9) / strided layers (paper 3) */
  sscor_gen_output output; /* generator only */
} sscor_net_config;

/* Paper configurations for c channels. */
sscor_net_config sscor_gen_config(int in_ch, int out_ch, int ngf, int n_blocks, sscor_gen_output out);
sscor_net_config sscor_disc_config(int in_ch, int ndf, int n_layers);
/* SSCOR_E_INVALID with a message when a config cannot be built (channels
 * 1..64, width 1..1024, generator depth 0..64, discriminator depth 1..8,
 * residual/gain output needing out_ch == in_ch). */
sscor_status sscor_net_config_check(const sscor_net_config *c);
const char *sscor_gen_output_name(sscor_gen_output o);
/* Number of parameters of a config (0 if the config is invalid). */
size_t sscor_net_param_count(const sscor_net_config *c);

/* One convolution of a network and where its weights live in params. */
typedef struct {
  sscor_conv conv;
  int transposed;
  size_t w_off, b_off, w_count;
} sscor_net_layer;

typedef struct sscor_net {
  sscor_net_config cfg;
  size_t n_params;
  float *params; /* flat, PyTorch order */
  float *grads;  /* same layout; backward accumulates, sscor_net_zero_grad clears */
  int n_layers;
  sscor_net_layer *layers;
} sscor_net;

/* Allocates a network with zeroed parameters. */
sscor_status sscor_net_create(const sscor_net_config *cfg, sscor_net **out);
void sscor_net_destroy(sscor_net *net);
/* CycleGAN's init: conv weights N(0, 0.02), biases 0; the last conv of a
 * RESIDUAL or GAIN generator all zero (identity start). */
void sscor_net_init(sscor_net *net, sscor_rng *rng);
void sscor_net_zero_grad(sscor_net *net);

/* Output size of the network for an h x w input; SSCOR_E_INVALID with a
 * message when the input does not fit (generator: sides multiples of 4 and
 * >= 8; discriminator: every layer keeps >= 1 pixel). */
sscor_status sscor_net_output_size(const sscor_net_config *cfg, int h, int w, int *ho, int *wo);
/* Multiply-adds x 2 of one forward pass over an n x h x w input. */
double sscor_net_flops(const sscor_net_config *cfg, int n, int h, int w);

typedef struct sscor_net_ws sscor_net_ws;

/* training != 0 keeps what backward needs and allocates gradient buffers;
 * inference workspaces reuse buffers and hold far less. n images per call. */
sscor_status sscor_net_ws_create(sscor_net *net, sscor_engine *e, int n, int h, int w, int training,
                                 sscor_net_ws **out);
void sscor_net_ws_destroy(sscor_net_ws *ws);
sscor_net *sscor_net_ws_net(sscor_net_ws *ws);
/* Bytes held by the workspace's buffers. */
size_t sscor_net_ws_bytes(const sscor_net_ws *ws);
/* A tensor of the input shape (engine layout) owned by the workspace, handy
 * to import an image into; any other tensor of that shape may be passed to
 * forward instead. */
sscor_tensor *sscor_net_ws_input(sscor_net_ws *ws);
/* Forward pass of x (input shape, engine layout). In training workspaces x
 * must stay unchanged until the matching backward. The result is
 * sscor_net_ws_output(), valid until the next forward. */
sscor_status sscor_net_forward(sscor_net_ws *ws, const sscor_tensor *x);
const sscor_tensor *sscor_net_ws_output(const sscor_net_ws *ws);
/* The gradient of the loss with respect to the output goes here before
 * backward (e.g. as the dx of sscor_mse_loss / sscor_l1_loss). */
sscor_tensor *sscor_net_ws_dout(sscor_net_ws *ws);
/* Backward of the last forward. param_grads: accumulate into net->grads
 * (off for a frozen discriminator in the generator step). want_dx: compute
 * dL/dx into sscor_net_ws_dx() (valid until the next backward). */
sscor_status sscor_net_backward(sscor_net_ws *ws, int param_grads, int want_dx);
const sscor_tensor *sscor_net_ws_dx(const sscor_net_ws *ws);

#endif
