#include "nets.h"

#include <stdlib.h>
#include <string.h>

#define TRY(expr)                        \
  do {                                   \
    sscor_status try_st_ = (expr);       \
    if (try_st_ != SSCOR_OK) return try_st_; \
  } while (0)

/* ------------------------------------------------------------ configs */

sscor_net_config sscor_gen_config(int in_ch, int out_ch, int ngf, int n_blocks, sscor_gen_output out) {
  sscor_net_config c = {SSCOR_NET_GENERATOR, in_ch, out_ch, ngf, n_blocks, out};
  return c;
}

sscor_net_config sscor_disc_config(int in_ch, int ndf, int n_layers) {
  sscor_net_config c = {SSCOR_NET_DISCRIMINATOR, in_ch, 1, ndf, n_layers, SSCOR_GEN_OUT_TANH};
  return c;
}

const char *sscor_gen_output_name(sscor_gen_output o) {
  switch (o) {
  case SSCOR_GEN_OUT_TANH: return "tanh";
  case SSCOR_GEN_OUT_RESIDUAL: return "residual";
  case SSCOR_GEN_OUT_GAIN: return "gain";
  }
  return "unknown";
}

sscor_status sscor_net_config_check(const sscor_net_config *c) {
  if (c->kind != SSCOR_NET_GENERATOR && c->kind != SSCOR_NET_DISCRIMINATOR)
    return sscor_fail(SSCOR_E_INVALID, "network kind %d is neither generator (1) nor discriminator (2)",
                      (int)c->kind);
  if (c->in_ch < 1 || c->in_ch > 64)
    return sscor_fail(SSCOR_E_INVALID, "network input channels %d outside 1..64", c->in_ch);
  if (c->width < 1 || c->width > 1024)
    return sscor_fail(SSCOR_E_INVALID, "network width (ngf/ndf) %d outside 1..1024", c->width);
  if (c->kind == SSCOR_NET_GENERATOR) {
    if (c->out_ch < 1 || c->out_ch > 64)
      return sscor_fail(SSCOR_E_INVALID, "generator output channels %d outside 1..64", c->out_ch);
    if (c->depth < 0 || c->depth > 64)
      return sscor_fail(SSCOR_E_INVALID, "generator residual blocks %d outside 0..64", c->depth);
    if (c->output != SSCOR_GEN_OUT_TANH && c->output != SSCOR_GEN_OUT_RESIDUAL &&
        c->output != SSCOR_GEN_OUT_GAIN)
      return sscor_fail(SSCOR_E_INVALID, "generator output mode %d unknown", (int)c->output);
    if (c->output != SSCOR_GEN_OUT_TANH && c->out_ch != c->in_ch)
      return sscor_fail(SSCOR_E_INVALID, "generator output '%s' needs as many output as input channels (%d vs %d)",
                        sscor_gen_output_name(c->output), c->out_ch, c->in_ch);
  } else {
    if (c->out_ch != 1)
      return sscor_fail(SSCOR_E_INVALID, "discriminator output channels must be 1, not %d", c->out_ch);
    if (c->depth < 1 || c->depth > 8)
      return sscor_fail(SSCOR_E_INVALID, "discriminator layers %d outside 1..8", c->depth);
  }
  return SSCOR_OK;
}

static int imin(int a, int b) { return a < b ? a : b; }

/* Fills layers (when not NULL) and returns the layer count; *params gets the
 * parameter total. The order is PyTorch's parameters() order. */
static int build_layers(const sscor_net_config *c, sscor_net_layer *layers, size_t *params) {
  int n = 0;
  size_t off = 0;
#define ADD(CIN, COUT, K, S, P, OP, T, ACT)                                                     \
  do {                                                                                          \
    if (layers) {                                                                               \
      sscor_net_layer *l_ = &layers[n];                                                         \
      memset(l_, 0, sizeof *l_);                                                                \
      l_->conv = (sscor_conv){.cin = (CIN), .cout = (COUT), .k = (K), .stride = (S), .pad = (P), \
                              .out_pad = (OP), .act = (ACT)};                                   \
      l_->transposed = (T);                                                                     \
      l_->w_off = off;                                                                          \
      l_->w_count = (size_t)(CIN) * (COUT) * (K) * (K);                                         \
      l_->b_off = off + l_->w_count;                                                            \
    }                                                                                           \
    off += (size_t)(CIN) * (COUT) * (K) * (K) + (size_t)(COUT);                                 \
    n++;                                                                                        \
  } while (0)
  if (c->kind == SSCOR_NET_GENERATOR) {
    int g = c->width;
    ADD(c->in_ch, g, 7, 1, 0, 0, 0, SSCOR_ACT_NONE);
    ADD(g, 2 * g, 3, 2, 1, 0, 0, SSCOR_ACT_NONE);
    ADD(2 * g, 4 * g, 3, 2, 1, 0, 0, SSCOR_ACT_NONE);
    for (int b = 0; b < c->depth; b++) {
      ADD(4 * g, 4 * g, 3, 1, 0, 0, 0, SSCOR_ACT_NONE);
      ADD(4 * g, 4 * g, 3, 1, 0, 0, 0, SSCOR_ACT_NONE);
    }
    ADD(4 * g, 2 * g, 3, 2, 1, 1, 1, SSCOR_ACT_NONE);
    ADD(2 * g, g, 3, 2, 1, 1, 1, SSCOR_ACT_NONE);
    ADD(g, c->out_ch, 7, 1, 0, 0, 0, SSCOR_ACT_TANH);
  } else {
    int d = c->width, mult = 1, prev;
    ADD(c->in_ch, d, 4, 2, 1, 0, 0, SSCOR_ACT_LRELU);
    for (int i = 1; i < c->depth; i++) {
      prev = mult;
      mult = imin(1 << i, 8);
      ADD(d * prev, d * mult, 4, 2, 1, 0, 0, SSCOR_ACT_NONE);
    }
    prev = mult;
    mult = imin(1 << c->depth, 8);
    ADD(d * prev, d * mult, 4, 1, 1, 0, 0, SSCOR_ACT_NONE);
    ADD(d * mult, 1, 4, 1, 1, 0, 0, SSCOR_ACT_NONE);
  }
#undef ADD
  if (params) *params = off;
  return n;
}

size_t sscor_net_param_count(const sscor_net_config *c) {
  if (sscor_net_config_check(c) != SSCOR_OK) {
    sscor_clear_error();
    return 0;
  }
  size_t p;
  build_layers(c, NULL, &p);
  return p;
}

sscor_status sscor_net_output_size(const sscor_net_config *c, int h, int w, int *ho, int *wo) {
  TRY(sscor_net_config_check(c));
  if (c->kind == SSCOR_NET_GENERATOR) {
    if (h < 8 || w < 8 || h % 4 || w % 4)
      return sscor_fail(SSCOR_E_INVALID,
                        "generator input %dx%d: sides must be multiples of 4 and at least 8", w, h);
    *ho = h;
    *wo = w;
    return SSCOR_OK;
  }
  int hh = h, ww = w;
  for (int i = 0; i < c->depth; i++) {
    hh /= 2;
    ww /= 2;
  }
  hh -= 2;
  ww -= 2;
  if (h < 4 || w < 4 || hh < 1 || ww < 1)
    return sscor_fail(SSCOR_E_INVALID, "discriminator input %dx%d too small for %d layers", w, h, c->depth);
  *ho = hh;
  *wo = ww;
  return SSCOR_OK;
}

double sscor_net_flops(const sscor_net_config *c, int n, int h, int w) {
  if (sscor_net_config_check(c) != SSCOR_OK) {
    sscor_clear_error();
    return 0;
  }
  sscor_net_layer layers[256];
  int nl = build_layers(c, layers, NULL);
  double f = 0;
  int hh = h, ww = w;
  for (int i = 0; i < nl; i++) {
    sscor_conv p = layers[i].conv;
    if (layers[i].transposed) {
      f += sscor_deconv2d_flops(&p, n, hh, ww);
      hh = sscor_deconv2d_out_size(&p, hh);
      ww = sscor_deconv2d_out_size(&p, ww);
    } else {
      /* generator 7x7 and block 3x3 convs see reflection-padded input */
      int ph = hh, pw = ww;
      if (c->kind == SSCOR_NET_GENERATOR && p.pad == 0) {
        int rp = p.k / 2;
        ph += 2 * rp;
        pw += 2 * rp;
      }
      hh = sscor_conv2d_out_size(&p, ph);
      ww = sscor_conv2d_out_size(&p, pw);
      f += sscor_conv2d_flops(&p, n, hh, ww);
    }
  }
  return f;
}

/* ------------------------------------------------------------ networks */

static void *aligned_zalloc(size_t n) {
  void *p = NULL;
  if (posix_memalign(&p, 64, n ? n : 64) != 0) return NULL;
  memset(p, 0, n);
  return p;
}

sscor_status sscor_net_create(const sscor_net_config *cfg, sscor_net **out) {
  *out = NULL;
  TRY(sscor_net_config_check(cfg));
  size_t np;
  int nl = build_layers(cfg, NULL, &np);
  sscor_net *net = calloc(1, sizeof *net);
  if (!net) return sscor_fail(SSCOR_E_NOMEM, "network: out of memory");
  net->cfg = *cfg;
  net->n_params = np;
  net->n_layers = nl;
  net->layers = calloc((size_t)nl, sizeof *net->layers);
  net->params = aligned_zalloc(np * sizeof(float));
  net->grads = aligned_zalloc(np * sizeof(float));
  if (!net->layers || !net->params || !net->grads) {
    sscor_net_destroy(net);
    return sscor_fail(SSCOR_E_NOMEM, "network: cannot allocate %zu parameters", np);
  }
  build_layers(cfg, net->layers, NULL);
  *out = net;
  return SSCOR_OK;
}

void sscor_net_destroy(sscor_net *net) {
  if (!net) return;
  free(net->layers);
  free(net->params);
  free(net->grads);
  free(net);
}

void sscor_net_init(sscor_net *net, sscor_rng *rng) {
  for (int i = 0; i < net->n_layers; i++) {
    sscor_net_layer *l = &net->layers[i];
    int zero_last = net->cfg.kind == SSCOR_NET_GENERATOR && net->cfg.output != SSCOR_GEN_OUT_TANH &&
                    i == net->n_layers - 1;
    if (zero_last)
      memset(net->params + l->w_off, 0, l->w_count * sizeof(float));
    else
      sscor_rng_fill_normal(rng, net->params + l->w_off, (long)l->w_count, 0.0f, 0.02f);
    memset(net->params + l->b_off, 0, (size_t)l->conv.cout * sizeof(float));
  }
}

void sscor_net_zero_grad(sscor_net *net) { memset(net->grads, 0, net->n_params * sizeof(float)); }

/* ------------------------------------------------------------ workspaces */

/* Buffers are declared first (shape + reuse slot), then bound to storage:
 * in training every tensor gets its own storage (backward needs them all);
 * in inference tensors with the same slot share one buffer sized for the
 * largest, the slots chosen so no op reads and writes the same buffer
 * except where the layer API allows it. */
typedef struct {
  sscor_tensor *t;
  int slot; /* -1: always own storage */
} ws_decl;

#define MAX_SLOTS 4

struct sscor_net_ws {
  sscor_net *net;
  sscor_engine *e;
  int n, h, w, training;
  sscor_layout layout;
  sscor_arena arena;
  size_t bytes;
  const sscor_tensor *x; /* input of the last forward */
  sscor_tensor in, out, dout, dx;
  /* generator */
  sscor_tensor p0, c0, a0, c1, a1, c2, a2, u0, ua0, u1, ua1, pf, t;
  sscor_tensor *pa, *ca, *aa, *pb, *cb, *nb, *r; /* per block; r[b] is block b's output */
  /* discriminator: conv outputs and activations per layer */
  sscor_tensor *dc, *da;
  /* instance norm statistics, per norm layer (training only) */
  int n_norm;
  float **mean, **rstd;
  /* gradient scratch (training only): three buffers of gmax floats */
  float *g[3];
  size_t gmax;
  ws_decl *decl;
  int n_decl, cap_decl;
};

static void decl(sscor_net_ws *ws, sscor_tensor *t, int c, int h, int w, int slot) {
  *t = sscor_tensor_wrap(NULL, ws->n, c, h, w, ws->layout);
  ws->decl[ws->n_decl].t = t;
  ws->decl[ws->n_decl].slot = slot;
  ws->n_decl++;
}

static sscor_status ws_alloc(sscor_net_ws *ws, size_t bytes, void **p) {
  sscor_status st = sscor_arena_alloc(&ws->arena, bytes, p);
  if (st == SSCOR_OK) ws->bytes += bytes;
  return st;
}

static sscor_status bind_storage(sscor_net_ws *ws) {
  size_t slot_max[MAX_SLOTS] = {0};
  float *slot_mem[MAX_SLOTS] = {0};
  for (int i = 0; i < ws->n_decl; i++) {
    size_t ne = sscor_tensor_numel(ws->decl[i].t);
    int s = ws->training ? -1 : ws->decl[i].slot;
    if (s >= 0) {
      if (ne > slot_max[s]) slot_max[s] = ne;
    } else {
      void *p;
      TRY(ws_alloc(ws, ne * sizeof(float), &p));
      ws->decl[i].t->data = p;
    }
  }
  for (int s = 0; s < MAX_SLOTS; s++)
    if (slot_max[s]) {
      void *p;
      TRY(ws_alloc(ws, slot_max[s] * sizeof(float), &p));
      slot_mem[s] = p;
    }
  for (int i = 0; i < ws->n_decl; i++) {
    int s = ws->training ? -1 : ws->decl[i].slot;
    if (s >= 0) ws->decl[i].t->data = slot_mem[s];
  }
  return SSCOR_OK;
}

static sscor_status plan_generator(sscor_net_ws *ws) {
  const sscor_net_config *c = &ws->net->cfg;
  int g = c->width, H = ws->h, W = ws->w, nb = c->depth;
  int h2 = H / 2, w2 = W / 2, h4 = H / 4, w4 = W / 4;
  size_t k = nb > 0 ? (size_t)nb : 1;
  ws->pa = calloc(k, sizeof(sscor_tensor));
  ws->ca = calloc(k, sizeof(sscor_tensor));
  ws->aa = calloc(k, sizeof(sscor_tensor));
  ws->pb = calloc(k, sizeof(sscor_tensor));
  ws->cb = calloc(k, sizeof(sscor_tensor));
  ws->nb = calloc(k, sizeof(sscor_tensor));
  ws->r = calloc(k, sizeof(sscor_tensor));
  if (!ws->pa || !ws->ca || !ws->aa || !ws->pb || !ws->cb || !ws->nb || !ws->r)
    return sscor_fail(SSCOR_E_NOMEM, "generator workspace: out of memory");
  /* slots for inference: 0 holds the running residual, 1/3 alternate */
  decl(ws, &ws->p0, c->in_ch, H + 6, W + 6, 0);
  decl(ws, &ws->c0, g, H, W, 1);
  decl(ws, &ws->a0, g, H, W, 0);
  decl(ws, &ws->c1, 2 * g, h2, w2, 1);
  decl(ws, &ws->a1, 2 * g, h2, w2, 0);
  decl(ws, &ws->c2, 4 * g, h4, w4, 1);
  decl(ws, &ws->a2, 4 * g, h4, w4, 0);
  for (int b = 0; b < nb; b++) {
    decl(ws, &ws->pa[b], 4 * g, h4 + 2, w4 + 2, 1);
    decl(ws, &ws->ca[b], 4 * g, h4, w4, 3);
    decl(ws, &ws->aa[b], 4 * g, h4, w4, 1);
    decl(ws, &ws->pb[b], 4 * g, h4 + 2, w4 + 2, 3);
    decl(ws, &ws->cb[b], 4 * g, h4, w4, 1);
    decl(ws, &ws->nb[b], 4 * g, h4, w4, 3);
    decl(ws, &ws->r[b], 4 * g, h4, w4, 0); /* inference: added in place */
  }
  decl(ws, &ws->u0, 2 * g, h2, w2, 1);
  decl(ws, &ws->ua0, 2 * g, h2, w2, 3);
  decl(ws, &ws->u1, g, H, W, 1);
  decl(ws, &ws->ua1, g, H, W, 3);
  decl(ws, &ws->pf, g, H + 6, W + 6, 1);
  if (c->output != SSCOR_GEN_OUT_TANH) decl(ws, &ws->t, c->out_ch, H, W, 3);
  decl(ws, &ws->out, c->out_ch, H, W, -1);
  ws->n_norm = 3 + 2 * nb + 2;
  /* largest gradient tensor: any activation or padded activation */
  size_t m = 0;
  for (int i = 0; i < ws->n_decl; i++) {
    size_t ne = sscor_tensor_numel(ws->decl[i].t);
    if (ne > m) m = ne;
  }
  ws->gmax = m;
  return SSCOR_OK;
}

static sscor_status plan_discriminator(sscor_net_ws *ws) {
  const sscor_net *net = ws->net;
  int nl = net->n_layers; /* depth + 2 */
  ws->dc = calloc((size_t)nl, sizeof(sscor_tensor));
  ws->da = calloc((size_t)nl, sizeof(sscor_tensor));
  if (!ws->dc || !ws->da) return sscor_fail(SSCOR_E_NOMEM, "discriminator workspace: out of memory");
  int h = ws->h, w = ws->w;
  size_t m = 0;
  for (int i = 0; i < nl; i++) {
    const sscor_conv *p = &net->layers[i].conv;
    h = sscor_conv2d_out_size(p, h);
    w = sscor_conv2d_out_size(p, w);
    if (i == nl - 1) {
      decl(ws, &ws->out, 1, h, w, -1);
    } else if (i == 0) {
      decl(ws, &ws->da[0], p->cout, h, w, 0);
    } else {
      decl(ws, &ws->dc[i], p->cout, h, w, 1);
      decl(ws, &ws->da[i], p->cout, h, w, 0);
    }
    size_t ne = (size_t)ws->n * p->cout * h * w;
    if (ne > m) m = ne;
  }
  size_t nin = (size_t)ws->n * net->cfg.in_ch * ws->h * ws->w;
  ws->gmax = m > nin ? m : nin;
  ws->n_norm = nl - 2;
  return SSCOR_OK;
}

sscor_status sscor_net_ws_create(sscor_net *net, sscor_engine *e, int n, int h, int w, int training,
                                 sscor_net_ws **out) {
  *out = NULL;
  int ho, wo;
  if (n < 1 || n > 4096) return sscor_fail(SSCOR_E_INVALID, "network workspace: batch %d outside 1..4096", n);
  TRY(sscor_net_output_size(&net->cfg, h, w, &ho, &wo));
  if ((double)h * w * n * net->cfg.width > 4e10)
    return sscor_fail(SSCOR_E_NOMEM, "network workspace: %d x %dx%d input too large for width %d", n, w, h,
                      net->cfg.width);
  sscor_net_ws *ws = calloc(1, sizeof *ws);
  if (!ws) return sscor_fail(SSCOR_E_NOMEM, "network workspace: out of memory");
  ws->net = net;
  ws->e = e;
  ws->n = n;
  ws->h = h;
  ws->w = w;
  ws->training = training != 0;
  ws->layout = sscor_engine_layout(e);
  sscor_arena_init(&ws->arena, 0);
  ws->cap_decl = 32 + 8 * (net->cfg.depth + 2);
  ws->decl = calloc((size_t)ws->cap_decl, sizeof *ws->decl);
  sscor_status st = ws->decl ? SSCOR_OK : sscor_fail(SSCOR_E_NOMEM, "network workspace: out of memory");
  if (st == SSCOR_OK)
    st = net->cfg.kind == SSCOR_NET_GENERATOR ? plan_generator(ws) : plan_discriminator(ws);
  if (st == SSCOR_OK) {
    decl(ws, &ws->in, net->cfg.in_ch, h, w, -1);
    if (ws->training) {
      decl(ws, &ws->dout, ws->out.c, ws->out.h, ws->out.w, -1);
      decl(ws, &ws->dx, net->cfg.in_ch, h, w, -1);
    }
    st = bind_storage(ws);
  }
  if (st == SSCOR_OK && ws->training) {
    for (int i = 0; i < 3 && st == SSCOR_OK; i++) st = ws_alloc(ws, ws->gmax * sizeof(float), (void **)&ws->g[i]);
    ws->mean = calloc((size_t)ws->n_norm + 1, sizeof(float *));
    ws->rstd = calloc((size_t)ws->n_norm + 1, sizeof(float *));
    if (st == SSCOR_OK && (!ws->mean || !ws->rstd))
      st = sscor_fail(SSCOR_E_NOMEM, "network workspace: out of memory");
    for (int i = 0; i < ws->n_norm && st == SSCOR_OK; i++) {
      /* n * channels of the widest norm layer is enough for any of them */
      size_t cnt = (size_t)n * 8 * (size_t)net->cfg.width;
      st = ws_alloc(ws, cnt * sizeof(float), (void **)&ws->mean[i]);
      if (st == SSCOR_OK) st = ws_alloc(ws, cnt * sizeof(float), (void **)&ws->rstd[i]);
    }
  }
  if (st != SSCOR_OK) {
    sscor_net_ws_destroy(ws);
    return st;
  }
  *out = ws;
  return SSCOR_OK;
}

void sscor_net_ws_destroy(sscor_net_ws *ws) {
  if (!ws) return;
  sscor_arena_free(&ws->arena);
  free(ws->pa);
  free(ws->ca);
  free(ws->aa);
  free(ws->pb);
  free(ws->cb);
  free(ws->nb);
  free(ws->r);
  free(ws->dc);
  free(ws->da);
  free(ws->mean);
  free(ws->rstd);
  free(ws->decl);
  free(ws);
}

sscor_net *sscor_net_ws_net(sscor_net_ws *ws) { return ws->net; }
size_t sscor_net_ws_bytes(const sscor_net_ws *ws) { return ws->bytes; }
sscor_tensor *sscor_net_ws_input(sscor_net_ws *ws) { return &ws->in; }
const sscor_tensor *sscor_net_ws_output(const sscor_net_ws *ws) { return &ws->out; }
sscor_tensor *sscor_net_ws_dout(sscor_net_ws *ws) { return ws->training ? &ws->dout : NULL; }
const sscor_tensor *sscor_net_ws_dx(const sscor_net_ws *ws) { return ws->training ? &ws->dx : NULL; }

/* ------------------------------------------------------------ helpers */

#define MEAN(i) (ws->training ? ws->mean[i] : NULL)
#define RSTD(i) (ws->training ? ws->rstd[i] : NULL)

static sscor_status conv_fwd(sscor_net_ws *ws, int li, const sscor_tensor *x, sscor_tensor *y) {
  const sscor_net_layer *l = &ws->net->layers[li];
  const float *w = ws->net->params + l->w_off, *b = ws->net->params + l->b_off;
  return l->transposed ? sscor_deconv2d_forward(ws->e, &l->conv, x, w, b, y)
                       : sscor_conv2d_forward(ws->e, &l->conv, x, w, b, y);
}

/* Backward of layer li: weight grads (when asked) from its input x, data
 * gradient into dx (when dx is not NULL). */
static sscor_status conv_bwd(sscor_net_ws *ws, int li, const sscor_tensor *x, const sscor_tensor *dy,
                             int param_grads, sscor_tensor *dx) {
  const sscor_net_layer *l = &ws->net->layers[li];
  const float *w = ws->net->params + l->w_off;
  float *dw = ws->net->grads + l->w_off, *db = ws->net->grads + l->b_off;
  if (param_grads)
    TRY(l->transposed ? sscor_deconv2d_backward_weights(ws->e, &l->conv, x, dy, dw, db)
                      : sscor_conv2d_backward_weights(ws->e, &l->conv, x, dy, dw, db));
  if (dx)
    TRY(l->transposed ? sscor_deconv2d_backward_data(ws->e, &l->conv, w, dy, dx)
                      : sscor_conv2d_backward_data(ws->e, &l->conv, w, dy, dx));
  return SSCOR_OK;
}

/* A gradient tensor shaped like `like`, on scratch buffer i. */
static sscor_tensor gbuf(sscor_net_ws *ws, int i, const sscor_tensor *like) {
  return sscor_tensor_wrap(ws->g[i], like->n, like->c, like->h, like->w, ws->layout);
}

static sscor_status check_input(sscor_net_ws *ws, const sscor_tensor *x) {
  if (!x || !x->data || x->n != ws->n || x->c != ws->net->cfg.in_ch || x->h != ws->h || x->w != ws->w ||
      x->layout != ws->layout)
    return sscor_fail(SSCOR_E_INVALID,
                      "network forward: input %dx%dx%dx%d (layout %d) does not match the workspace's %dx%dx%dx%d (layout %d)",
                      x ? x->n : 0, x ? x->c : 0, x ? x->h : 0, x ? x->w : 0, x ? (int)x->layout : -1, ws->n,
                      ws->net->cfg.in_ch, ws->h, ws->w, (int)ws->layout);
  return SSCOR_OK;
}

/* ------------------------------------------------------------ generator */

static sscor_status gen_forward(sscor_net_ws *ws, const sscor_tensor *x) {
  sscor_engine *e = ws->e;
  const sscor_net_config *c = &ws->net->cfg;
  int nb = c->depth, li = 0, ni = 0;
  TRY(sscor_reflect_pad_forward(e, 3, x, &ws->p0));
  TRY(conv_fwd(ws, li++, &ws->p0, &ws->c0));
  TRY(sscor_instnorm_forward(e, &ws->c0, &ws->a0, MEAN(ni), RSTD(ni), SSCOR_ACT_RELU));
  ni++;
  TRY(conv_fwd(ws, li++, &ws->a0, &ws->c1));
  TRY(sscor_instnorm_forward(e, &ws->c1, &ws->a1, MEAN(ni), RSTD(ni), SSCOR_ACT_RELU));
  ni++;
  TRY(conv_fwd(ws, li++, &ws->a1, &ws->c2));
  TRY(sscor_instnorm_forward(e, &ws->c2, &ws->a2, MEAN(ni), RSTD(ni), SSCOR_ACT_RELU));
  ni++;
  const sscor_tensor *r = &ws->a2;
  for (int b = 0; b < nb; b++) {
    TRY(sscor_reflect_pad_forward(e, 1, r, &ws->pa[b]));
    TRY(conv_fwd(ws, li++, &ws->pa[b], &ws->ca[b]));
    TRY(sscor_instnorm_forward(e, &ws->ca[b], &ws->aa[b], MEAN(ni), RSTD(ni), SSCOR_ACT_RELU));
    ni++;
    TRY(sscor_reflect_pad_forward(e, 1, &ws->aa[b], &ws->pb[b]));
    TRY(conv_fwd(ws, li++, &ws->pb[b], &ws->cb[b]));
    TRY(sscor_instnorm_forward(e, &ws->cb[b], &ws->nb[b], MEAN(ni), RSTD(ni), SSCOR_ACT_NONE));
    ni++;
    TRY(sscor_add(e, r, &ws->nb[b], &ws->r[b]));
    r = &ws->r[b];
  }
  TRY(conv_fwd(ws, li++, r, &ws->u0));
  TRY(sscor_instnorm_forward(e, &ws->u0, &ws->ua0, MEAN(ni), RSTD(ni), SSCOR_ACT_RELU));
  ni++;
  TRY(conv_fwd(ws, li++, &ws->ua0, &ws->u1));
  TRY(sscor_instnorm_forward(e, &ws->u1, &ws->ua1, MEAN(ni), RSTD(ni), SSCOR_ACT_RELU));
  ni++;
  TRY(sscor_reflect_pad_forward(e, 3, &ws->ua1, &ws->pf));
  switch (c->output) {
  case SSCOR_GEN_OUT_TANH:
    TRY(conv_fwd(ws, li, &ws->pf, &ws->out));
    break;
  case SSCOR_GEN_OUT_RESIDUAL:
    TRY(conv_fwd(ws, li, &ws->pf, &ws->t));
    TRY(sscor_add(e, x, &ws->t, &ws->out));
    break;
  case SSCOR_GEN_OUT_GAIN: {
    TRY(conv_fwd(ws, li, &ws->pf, &ws->t));
    /* element-wise on equal shapes and layouts: the order does not matter */
    size_t ne = sscor_tensor_numel(&ws->out);
    const float *xs = x->data, *ts = ws->t.data;
    float *o = ws->out.data;
    for (size_t i = 0; i < ne; i++) o[i] = (xs[i] + 1.0f) * (1.0f + ts[i]) - 1.0f;
    break;
  }
  }
  return SSCOR_OK;
}

static sscor_status gen_backward(sscor_net_ws *ws, int pg, int want_dx) {
  sscor_engine *e = ws->e;
  const sscor_net_config *c = &ws->net->cfg;
  int nb = c->depth;
  int li = ws->net->n_layers - 1, ni = ws->n_norm - 1;
  const sscor_tensor *x = ws->x;
  /* output stage -> gradient before the last conv's tanh, in g0 */
  sscor_tensor dpre = gbuf(ws, 0, &ws->out);
  switch (c->output) {
  case SSCOR_GEN_OUT_TANH:
    TRY(sscor_act_backward(e, SSCOR_ACT_TANH, &ws->out, &ws->dout, &dpre));
    break;
  case SSCOR_GEN_OUT_RESIDUAL:
    TRY(sscor_act_backward(e, SSCOR_ACT_TANH, &ws->t, &ws->dout, &dpre));
    break;
  case SSCOR_GEN_OUT_GAIN: {
    size_t ne = sscor_tensor_numel(&ws->out);
    for (size_t i = 0; i < ne; i++) dpre.data[i] = ws->dout.data[i] * (x->data[i] + 1.0f);
    TRY(sscor_act_backward(e, SSCOR_ACT_TANH, &ws->t, &dpre, &dpre));
    break;
  }
  }
  sscor_tensor dpf = gbuf(ws, 1, &ws->pf);
  TRY(conv_bwd(ws, li--, &ws->pf, &dpre, pg, &dpf));
  sscor_tensor d = gbuf(ws, 0, &ws->ua1);
  TRY(sscor_reflect_pad_backward(e, 3, &dpf, &d));
  TRY(sscor_instnorm_backward(e, &ws->u1, &ws->ua1, ws->mean[ni], ws->rstd[ni], SSCOR_ACT_RELU, &d, &d));
  ni--;
  sscor_tensor d1 = gbuf(ws, 1, &ws->ua0);
  TRY(conv_bwd(ws, li--, &ws->ua0, &d, pg, &d1));
  TRY(sscor_instnorm_backward(e, &ws->u0, &ws->ua0, ws->mean[ni], ws->rstd[ni], SSCOR_ACT_RELU, &d1, &d1));
  ni--;
  const sscor_tensor *r_last = nb > 0 ? &ws->r[nb - 1] : &ws->a2;
  sscor_tensor dr = gbuf(ws, 0, r_last);
  TRY(conv_bwd(ws, li--, r_last, &d1, pg, &dr));
  /* residual blocks: dr (buffer 0) carries d(block output) */
  for (int b = nb - 1; b >= 0; b--) {
    sscor_tensor dcb = gbuf(ws, 1, &ws->cb[b]);
    TRY(sscor_instnorm_backward(e, &ws->cb[b], &ws->nb[b], ws->mean[ni], ws->rstd[ni], SSCOR_ACT_NONE, &dr,
                                &dcb));
    ni--;
    sscor_tensor dpb = gbuf(ws, 2, &ws->pb[b]);
    TRY(conv_bwd(ws, li--, &ws->pb[b], &dcb, pg, &dpb));
    sscor_tensor daa = gbuf(ws, 1, &ws->aa[b]);
    TRY(sscor_reflect_pad_backward(e, 1, &dpb, &daa));
    TRY(sscor_instnorm_backward(e, &ws->ca[b], &ws->aa[b], ws->mean[ni], ws->rstd[ni], SSCOR_ACT_RELU, &daa,
                                &daa));
    ni--;
    sscor_tensor dpa = gbuf(ws, 2, &ws->pa[b]);
    TRY(conv_bwd(ws, li--, &ws->pa[b], &daa, pg, &dpa));
    sscor_tensor dbody = gbuf(ws, 1, r_last);
    TRY(sscor_reflect_pad_backward(e, 1, &dpa, &dbody));
    TRY(sscor_add(e, &dr, &dbody, &dr));
  }
  /* dr = d a2 */
  TRY(sscor_instnorm_backward(e, &ws->c2, &ws->a2, ws->mean[ni], ws->rstd[ni], SSCOR_ACT_RELU, &dr, &dr));
  ni--;
  sscor_tensor da1 = gbuf(ws, 1, &ws->a1);
  TRY(conv_bwd(ws, li--, &ws->a1, &dr, pg, &da1));
  TRY(sscor_instnorm_backward(e, &ws->c1, &ws->a1, ws->mean[ni], ws->rstd[ni], SSCOR_ACT_RELU, &da1, &da1));
  ni--;
  sscor_tensor da0 = gbuf(ws, 0, &ws->a0);
  TRY(conv_bwd(ws, li--, &ws->a0, &da1, pg, &da0));
  TRY(sscor_instnorm_backward(e, &ws->c0, &ws->a0, ws->mean[ni], ws->rstd[ni], SSCOR_ACT_RELU, &da0, &da0));
  if (!want_dx) return conv_bwd(ws, li, &ws->p0, &da0, pg, NULL);
  sscor_tensor dp0 = gbuf(ws, 1, &ws->p0);
  TRY(conv_bwd(ws, li, &ws->p0, &da0, pg, &dp0));
  TRY(sscor_reflect_pad_backward(e, 3, &dp0, &ws->dx));
  if (c->output == SSCOR_GEN_OUT_RESIDUAL) {
    TRY(sscor_add(e, &ws->dx, &ws->dout, &ws->dx));
  } else if (c->output == SSCOR_GEN_OUT_GAIN) {
    size_t ne = sscor_tensor_numel(&ws->dx);
    for (size_t i = 0; i < ne; i++) ws->dx.data[i] += ws->dout.data[i] * (1.0f + ws->t.data[i]);
  }
  return SSCOR_OK;
}

/* ------------------------------------------------------------ discriminator */

static sscor_status disc_forward(sscor_net_ws *ws, const sscor_tensor *x) {
  int nl = ws->net->n_layers;
  TRY(conv_fwd(ws, 0, x, &ws->da[0])); /* LReLU fused */
  for (int i = 1; i < nl - 1; i++) {
    TRY(conv_fwd(ws, i, &ws->da[i - 1], &ws->dc[i]));
    TRY(sscor_instnorm_forward(ws->e, &ws->dc[i], &ws->da[i], MEAN(i - 1), RSTD(i - 1), SSCOR_ACT_LRELU));
  }
  return conv_fwd(ws, nl - 1, &ws->da[nl - 2], &ws->out);
}

static sscor_status disc_backward(sscor_net_ws *ws, int pg, int want_dx) {
  int nl = ws->net->n_layers, cur = 0;
  sscor_tensor d = gbuf(ws, cur, &ws->da[nl - 2]);
  TRY(conv_bwd(ws, nl - 1, &ws->da[nl - 2], &ws->dout, pg, &d));
  for (int i = nl - 2; i >= 1; i--) {
    TRY(sscor_instnorm_backward(ws->e, &ws->dc[i], &ws->da[i], ws->mean[i - 1], ws->rstd[i - 1],
                                SSCOR_ACT_LRELU, &d, &d));
    sscor_tensor dn = gbuf(ws, 1 - cur, &ws->da[i - 1]);
    TRY(conv_bwd(ws, i, &ws->da[i - 1], &d, pg, &dn));
    d = dn;
    cur = 1 - cur;
  }
  TRY(sscor_act_backward(ws->e, SSCOR_ACT_LRELU, &ws->da[0], &d, &d));
  return conv_bwd(ws, 0, ws->x, &d, pg, want_dx ? &ws->dx : NULL);
}

/* ------------------------------------------------------------ entry points */

sscor_status sscor_net_forward(sscor_net_ws *ws, const sscor_tensor *x) {
  TRY(check_input(ws, x));
  ws->x = x;
  return ws->net->cfg.kind == SSCOR_NET_GENERATOR ? gen_forward(ws, x) : disc_forward(ws, x);
}

sscor_status sscor_net_backward(sscor_net_ws *ws, int param_grads, int want_dx) {
  if (!ws->training)
    return sscor_fail(SSCOR_E_INVALID, "network backward: the workspace was created for inference");
  if (!ws->x) return sscor_fail(SSCOR_E_INVALID, "network backward: no forward pass to go back through");
  return ws->net->cfg.kind == SSCOR_NET_GENERATOR ? gen_backward(ws, param_grads, want_dx)
                                                  : disc_backward(ws, param_grads, want_dx);
}
