#include "trainer.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model_file.h"

#define TRY(expr)                            \
  do {                                       \
    sscor_status try_st_ = (expr);           \
    if (try_st_ != SSCOR_OK) return try_st_; \
  } while (0)

/* ------------------------------------------------------------ presets */

sscor_status sscor_train_preset(const char *name, int channels, sscor_train_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->lr = 2e-4f;
  cfg->beta1 = 0.5f;
  cfg->beta2 = 0.999f;
  cfg->lambda_cycle = 10.0f;
  cfg->lambda_identity = 0.5f;
  cfg->pool_size = 50;
  cfg->flips = 1;
  cfg->seed = 1;
  cfg->backend = SSCOR_BACKEND_BEST;
  if (name && strcmp(name, "paper") == 0) {
    cfg->gen = sscor_gen_config(channels, channels, 64, 9, SSCOR_GEN_OUT_TANH);
    cfg->disc = sscor_disc_config(channels, 64, 3);
    cfg->patch = 256;
    cfg->epochs = 100;
    cfg->epochs_decay = 100;
  } else if (name && strcmp(name, "cpu") == 0) {
    /* Chosen by measurement (bench/bench_preset.c on bench/preset_data.py:
     * 300 seam pairs of 64 px from real brain tiles with a known synthetic
     * tile shading, judged on held-out seam patches against the truth).
     * Every identity-start variant (residual or gain; ngf 8/2 blocks up to
     * ngf 32/4 blocks; 4+4 or 8+8 epochs) cut the error against the truth
     * from 9.8 % to 6.5-6.9 % with fine-structure change ~2 %, while the
     * paper's tanh pixel output left the error at 8.8 % and invented
     * texture (4.0 %). Size and epochs made no difference beyond noise, so
     * the cheapest: ngf 8, 2 blocks, ndf 8, 4+4 epochs, ~2400 iterations of
     * 17-28 ms for 300 pairs (under 1.5 minutes on 2 cores). The gain output
     * (y = (x+1)(1+tanh(.)) - 1) is multiplicative like shading and keeps
     * the background (x = -1) where it is. */
    cfg->gen = sscor_gen_config(channels, channels, 8, 2, SSCOR_GEN_OUT_GAIN);
    cfg->disc = sscor_disc_config(channels, 8, 3);
    cfg->patch = 64;
    cfg->epochs = 4;
    cfg->epochs_decay = 4;
  } else {
    return sscor_fail(SSCOR_E_INVALID, "unknown training preset '%s' (known: paper, cpu)", name ? name : "(null)");
  }
  return sscor_train_config_check(cfg);
}

sscor_status sscor_train_config_check(const sscor_train_config *c) {
  TRY(sscor_net_config_check(&c->gen));
  TRY(sscor_net_config_check(&c->disc));
  if (c->gen.kind != SSCOR_NET_GENERATOR || c->disc.kind != SSCOR_NET_DISCRIMINATOR)
    return sscor_fail(SSCOR_E_INVALID, "training config: gen must be a generator, disc a discriminator");
  if (c->gen.in_ch != c->gen.out_ch || c->disc.in_ch != c->gen.in_ch)
    return sscor_fail(SSCOR_E_INVALID,
                      "training config: generators map %d -> %d channels and discriminators take %d; all must be equal",
                      c->gen.in_ch, c->gen.out_ch, c->disc.in_ch);
  int ho, wo;
  TRY(sscor_net_output_size(&c->gen, c->patch, c->patch, &ho, &wo));
  TRY(sscor_net_output_size(&c->disc, c->patch, c->patch, &ho, &wo));
  if (c->epochs < 0 || c->epochs_decay < 0 || c->epochs + c->epochs_decay < 1 ||
      c->epochs + c->epochs_decay > 100000)
    return sscor_fail(SSCOR_E_INVALID, "training config: epochs %d + %d must total 1..100000", c->epochs,
                      c->epochs_decay);
  if (!(c->lr > 0 && c->lr < 1) || !(c->beta1 >= 0 && c->beta1 < 1) || !(c->beta2 >= 0 && c->beta2 < 1))
    return sscor_fail(SSCOR_E_INVALID, "training config: lr %g, betas %g %g out of range", c->lr, c->beta1,
                      c->beta2);
  if (!(c->lambda_cycle >= 0) || !(c->lambda_identity >= 0))
    return sscor_fail(SSCOR_E_INVALID, "training config: negative loss weight");
  if (c->pool_size < 0 || c->pool_size > 10000)
    return sscor_fail(SSCOR_E_INVALID, "training config: pool size %d outside 0..10000", c->pool_size);
  return SSCOR_OK;
}

double sscor_train_lr_factor(const sscor_train_config *cfg, int epoch) {
  int over = epoch + 1 - cfg->epochs;
  if (over < 0) over = 0;
  double f = 1.0 - (double)over / (double)(cfg->epochs_decay + 1);
  return f > 0 ? f : 0;
}

/* ------------------------------------------------------------ pool */

sscor_status sscor_image_pool_init(sscor_image_pool *p, int size, size_t image_floats) {
  memset(p, 0, sizeof *p);
  p->size = size;
  p->image_floats = image_floats;
  if (size > 0) {
    p->images = malloc((size_t)size * image_floats * sizeof(float));
    if (!p->images) return sscor_fail(SSCOR_E_NOMEM, "image pool: cannot hold %d images", size);
  }
  return SSCOR_OK;
}

void sscor_image_pool_free(sscor_image_pool *p) {
  free(p->images);
  memset(p, 0, sizeof *p);
}

void sscor_image_pool_query(sscor_image_pool *p, sscor_rng *rng, const float *img, float *out) {
  size_t n = p->image_floats;
  if (p->size == 0) {
    if (out != img) memmove(out, img, n * sizeof(float));
    return;
  }
  if (p->count < p->size) {
    memcpy(p->images + (size_t)p->count * n, img, n * sizeof(float));
    p->count++;
    if (out != img) memmove(out, img, n * sizeof(float));
    return;
  }
  if (sscor_rng_uniform(rng) > 0.5f) {
    float *slot = p->images + (size_t)sscor_rng_below(rng, (uint32_t)p->size) * n;
    /* swap: the caller gets the stored image, the new one takes its place */
    for (size_t i = 0; i < n; i++) {
      float s = slot[i];
      slot[i] = img[i];
      out[i] = s;
    }
  } else if (out != img) {
    memmove(out, img, n * sizeof(float));
  }
}

/* ------------------------------------------------------------ create */

void sscor_trainer_destroy(sscor_trainer *t) {
  if (!t) return;
  sscor_net_ws_destroy(t->ws_gc);
  sscor_net_ws_destroy(t->ws_gs);
  sscor_net_ws_destroy(t->ws_dx);
  sscor_net_ws_destroy(t->ws_dy);
  sscor_net_destroy(t->g_c);
  sscor_net_destroy(t->g_s);
  sscor_net_destroy(t->d_x);
  sscor_net_destroy(t->d_y);
  sscor_adam_free(&t->opt_g);
  sscor_adam_free(&t->opt_d);
  sscor_image_pool_free(&t->pool_x);
  sscor_image_pool_free(&t->pool_y);
  if (t->engine) sscor_engine_destroy(t->engine);
  sscor_arena_free(&t->arena);
  free(t->perm);
  free(t->host);
  free(t);
}

static sscor_status trainer_setup(sscor_trainer *t) {
  const sscor_train_config *c = &t->cfg;
  int P = c->patch, ch = c->gen.in_ch;
  size_t img = (size_t)ch * P * P;
  TRY(sscor_engine_create(c->backend, &t->engine));
  TRY(sscor_net_create(&c->gen, &t->g_c));
  TRY(sscor_net_create(&c->gen, &t->g_s));
  TRY(sscor_net_create(&c->disc, &t->d_x));
  TRY(sscor_net_create(&c->disc, &t->d_y));
  sscor_rng_seed(&t->rng, c->seed);
  /* Initialisation order is part of the seed's meaning: G_C, G_S, D_X, D_Y. */
  sscor_net_init(t->g_c, &t->rng);
  sscor_net_init(t->g_s, &t->rng);
  sscor_net_init(t->d_x, &t->rng);
  sscor_net_init(t->d_y, &t->rng);
  TRY(sscor_net_ws_create(t->g_c, t->engine, 1, P, P, 1, &t->ws_gc));
  TRY(sscor_net_ws_create(t->g_s, t->engine, 1, P, P, 1, &t->ws_gs));
  TRY(sscor_net_ws_create(t->d_x, t->engine, 1, P, P, 1, &t->ws_dx));
  TRY(sscor_net_ws_create(t->d_y, t->engine, 1, P, P, 1, &t->ws_dy));
  TRY(sscor_adam_init(&t->opt_g, t->g_c->n_params + t->g_s->n_params, c->lr, c->beta1, c->beta2, 1e-8f));
  TRY(sscor_adam_init(&t->opt_d, t->d_x->n_params + t->d_y->n_params, c->lr, c->beta1, c->beta2, 1e-8f));
  TRY(sscor_image_pool_init(&t->pool_x, c->pool_size, img));
  TRY(sscor_image_pool_init(&t->pool_y, c->pool_size, img));
  sscor_layout L = sscor_engine_layout(t->engine);
  sscor_arena_init(&t->arena, 0);
  TRY(sscor_tensor_alloc(&t->arena, &t->real_x, 1, ch, P, P, L));
  TRY(sscor_tensor_alloc(&t->arena, &t->real_y, 1, ch, P, P, L));
  TRY(sscor_tensor_alloc(&t->arena, &t->fake_x, 1, ch, P, P, L));
  TRY(sscor_tensor_alloc(&t->arena, &t->fake_y, 1, ch, P, P, L));
  TRY(sscor_tensor_alloc(&t->arena, &t->query, 1, ch, P, P, L));
  t->host = malloc(img * sizeof(float));
  t->perm = malloc((size_t)t->pairs.n * sizeof(uint32_t));
  if (!t->host || !t->perm) return sscor_fail(SSCOR_E_NOMEM, "trainer: out of memory");
  for (int i = 0; i < t->pairs.n; i++) t->perm[i] = (uint32_t)i;
  return SSCOR_OK;
}

sscor_status sscor_trainer_create(const sscor_train_config *cfg, const sscor_pairs *pairs, sscor_trainer **out) {
  *out = NULL;
  TRY(sscor_train_config_check(cfg));
  if (!pairs || !pairs->x || !pairs->y || pairs->n < 1)
    return sscor_fail(SSCOR_E_INVALID, "trainer: no training pairs");
  if (pairs->c != cfg->gen.in_ch || pairs->patch != cfg->patch)
    return sscor_fail(SSCOR_E_INVALID,
                      "trainer: pairs have %d channels of %dx%d, the networks expect %d channels of %dx%d",
                      pairs->c, pairs->patch, pairs->patch, cfg->gen.in_ch, cfg->patch, cfg->patch);
  sscor_trainer *t = calloc(1, sizeof *t);
  if (!t) return sscor_fail(SSCOR_E_NOMEM, "trainer: out of memory");
  t->cfg = *cfg;
  t->pairs = *pairs;
  size_t bytes = (size_t)pairs->n * pairs->c * pairs->patch * pairs->patch * sizeof(float);
  t->pairs_crc = sscor_crc32(sscor_crc32(0, pairs->x, bytes), pairs->y, bytes);
  sscor_status st = trainer_setup(t);
  if (st != SSCOR_OK) {
    sscor_trainer_destroy(t);
    return st;
  }
  *out = t;
  return SSCOR_OK;
}

/* ------------------------------------------------------------ iteration */

int64_t sscor_trainer_total_steps(const sscor_trainer *t) {
  return (int64_t)(t->cfg.epochs + t->cfg.epochs_decay) * t->pairs.n;
}

int sscor_trainer_finished(const sscor_trainer *t) { return t->epoch >= t->cfg.epochs + t->cfg.epochs_decay; }

sscor_net *sscor_trainer_corrector(sscor_trainer *t) { return t->g_c; }

/* Copies patch src (c x P x P) to dst with optional flips. */
static void flip_copy(const float *src, float *dst, int c, int P, int fh, int fv) {
  for (int k = 0; k < c; k++)
    for (int y = 0; y < P; y++) {
      const float *s = src + ((size_t)k * P + (fv ? P - 1 - y : y)) * P;
      float *d = dst + ((size_t)k * P + y) * P;
      if (fh)
        for (int x = 0; x < P; x++) d[x] = s[P - 1 - x];
      else
        memcpy(d, s, (size_t)P * sizeof(float));
    }
}

static void copy_tensor(const sscor_tensor *src, sscor_tensor *dst) {
  memcpy(dst->data, src->data, sscor_tensor_numel(src) * sizeof(float));
}

/* Generator step: all six loss terms, gradients into both generators. */
static sscor_status generator_step(sscor_trainer *t, sscor_train_losses *L) {
  sscor_engine *e = t->engine;
  const float lam = t->cfg.lambda_cycle, lam_idt = t->cfg.lambda_cycle * t->cfg.lambda_identity;
  sscor_net_zero_grad(t->g_c);
  sscor_net_zero_grad(t->g_s);
  /* x -> G_C -> fake_y -> G_S -> rec_x; fake_y also judged by D_Y */
  TRY(sscor_net_forward(t->ws_gc, &t->real_x));
  const sscor_tensor *fy = sscor_net_ws_output(t->ws_gc);
  TRY(sscor_net_forward(t->ws_gs, fy));
  TRY(sscor_l1_loss(e, sscor_net_ws_output(t->ws_gs), &t->real_x, 0, lam, &L->cycle_x,
                    sscor_net_ws_dout(t->ws_gs)));
  TRY(sscor_net_backward(t->ws_gs, 1, 1));
  TRY(sscor_net_forward(t->ws_dy, fy));
  TRY(sscor_mse_loss(e, sscor_net_ws_output(t->ws_dy), NULL, 1.0f, 1.0f, &L->g_adv_c,
                     sscor_net_ws_dout(t->ws_dy)));
  TRY(sscor_net_backward(t->ws_dy, 0, 1));
  TRY(sscor_add(e, sscor_net_ws_dx(t->ws_gs), sscor_net_ws_dx(t->ws_dy), sscor_net_ws_dout(t->ws_gc)));
  TRY(sscor_net_backward(t->ws_gc, 1, 0));
  copy_tensor(fy, &t->fake_y);
  /* y -> G_S -> fake_x -> G_C -> rec_y; fake_x also judged by D_X */
  TRY(sscor_net_forward(t->ws_gs, &t->real_y));
  const sscor_tensor *fx = sscor_net_ws_output(t->ws_gs);
  TRY(sscor_net_forward(t->ws_gc, fx));
  TRY(sscor_l1_loss(e, sscor_net_ws_output(t->ws_gc), &t->real_y, 0, lam, &L->cycle_y,
                    sscor_net_ws_dout(t->ws_gc)));
  TRY(sscor_net_backward(t->ws_gc, 1, 1));
  TRY(sscor_net_forward(t->ws_dx, fx));
  TRY(sscor_mse_loss(e, sscor_net_ws_output(t->ws_dx), NULL, 1.0f, 1.0f, &L->g_adv_s,
                     sscor_net_ws_dout(t->ws_dx)));
  TRY(sscor_net_backward(t->ws_dx, 0, 1));
  TRY(sscor_add(e, sscor_net_ws_dx(t->ws_gc), sscor_net_ws_dx(t->ws_dx), sscor_net_ws_dout(t->ws_gs)));
  TRY(sscor_net_backward(t->ws_gs, 1, 0));
  copy_tensor(fx, &t->fake_x);
  /* identity terms */
  if (lam_idt > 0) {
    TRY(sscor_net_forward(t->ws_gc, &t->real_y));
    TRY(sscor_l1_loss(e, sscor_net_ws_output(t->ws_gc), &t->real_y, 0, lam_idt, &L->idt_c,
                      sscor_net_ws_dout(t->ws_gc)));
    TRY(sscor_net_backward(t->ws_gc, 1, 0));
    TRY(sscor_net_forward(t->ws_gs, &t->real_x));
    TRY(sscor_l1_loss(e, sscor_net_ws_output(t->ws_gs), &t->real_x, 0, lam_idt, &L->idt_s,
                      sscor_net_ws_dout(t->ws_gs)));
    TRY(sscor_net_backward(t->ws_gs, 1, 0));
  } else {
    L->idt_c = L->idt_s = 0;
  }
  L->g_total = L->g_adv_c + L->g_adv_s + L->cycle_x + L->cycle_y + L->idt_c + L->idt_s;
  sscor_adam_segment seg[2] = {{t->g_c->params, t->g_c->grads, t->g_c->n_params},
                               {t->g_s->params, t->g_s->grads, t->g_s->n_params}};
  return sscor_adam_step(&t->opt_g, seg, 2);
}

/* One discriminator's loss and gradients: real vs a fake from the pool. */
static sscor_status disc_half(sscor_trainer *t, sscor_net_ws *ws, const sscor_tensor *real, const sscor_tensor *fake,
                              sscor_image_pool *pool, double *loss) {
  sscor_engine *e = t->engine;
  double lr_, lf;
  TRY(sscor_net_forward(ws, real));
  TRY(sscor_mse_loss(e, sscor_net_ws_output(ws), NULL, 1.0f, 0.5f, &lr_, sscor_net_ws_dout(ws)));
  TRY(sscor_net_backward(ws, 1, 0));
  sscor_tensor_export(fake, t->host);
  sscor_image_pool_query(pool, &t->rng, t->host, t->host);
  sscor_tensor_import(&t->query, t->host);
  TRY(sscor_net_forward(ws, &t->query));
  TRY(sscor_mse_loss(e, sscor_net_ws_output(ws), NULL, 0.0f, 0.5f, &lf, sscor_net_ws_dout(ws)));
  TRY(sscor_net_backward(ws, 1, 0));
  *loss = lr_ + lf;
  return SSCOR_OK;
}

static sscor_status discriminator_step(sscor_trainer *t, sscor_train_losses *L) {
  sscor_net_zero_grad(t->d_x);
  sscor_net_zero_grad(t->d_y);
  TRY(disc_half(t, t->ws_dy, &t->real_y, &t->fake_y, &t->pool_y, &L->d_y));
  TRY(disc_half(t, t->ws_dx, &t->real_x, &t->fake_x, &t->pool_x, &L->d_x));
  sscor_adam_segment seg[2] = {{t->d_x->params, t->d_x->grads, t->d_x->n_params},
                               {t->d_y->params, t->d_y->grads, t->d_y->n_params}};
  return sscor_adam_step(&t->opt_d, seg, 2);
}

static void add_losses(sscor_train_losses *acc, const sscor_train_losses *l, double s) {
  acc->g_adv_c += s * l->g_adv_c;
  acc->g_adv_s += s * l->g_adv_s;
  acc->cycle_x += s * l->cycle_x;
  acc->cycle_y += s * l->cycle_y;
  acc->idt_c += s * l->idt_c;
  acc->idt_s += s * l->idt_s;
  acc->g_total += s * l->g_total;
  acc->d_y += s * l->d_y;
  acc->d_x += s * l->d_x;
}

sscor_status sscor_trainer_step(sscor_trainer *t, sscor_train_losses *losses) {
  if (sscor_trainer_finished(t))
    return sscor_fail(SSCOR_E_INVALID, "trainer: training already finished (%d epochs)", t->epoch);
  const sscor_pairs *p = &t->pairs;
  if (t->iter == 0) {
    sscor_rng_shuffle(&t->rng, t->perm, (uint32_t)p->n);
    memset(&t->epoch_sum, 0, sizeof t->epoch_sum);
  }
  float lr = (float)(t->cfg.lr * sscor_train_lr_factor(&t->cfg, t->epoch));
  t->opt_g.lr = lr;
  t->opt_d.lr = lr;
  size_t img = (size_t)p->c * p->patch * p->patch;
  uint32_t k = t->perm[t->iter];
  int fh = 0, fv = 0;
  if (t->cfg.flips) {
    uint64_t r = sscor_rng_next(&t->rng);
    fh = (int)(r & 1);
    fv = (int)((r >> 1) & 1);
  }
  flip_copy(p->x + k * img, t->host, p->c, p->patch, fh, fv);
  sscor_tensor_import(&t->real_x, t->host);
  flip_copy(p->y + k * img, t->host, p->c, p->patch, fh, fv);
  sscor_tensor_import(&t->real_y, t->host);
  sscor_train_losses L;
  memset(&L, 0, sizeof L);
  TRY(generator_step(t, &L));
  TRY(discriminator_step(t, &L));
  add_losses(&t->epoch_sum, &L, 1.0);
  t->step++;
  if (++t->iter >= p->n) {
    t->iter = 0;
    t->epoch++;
  }
  if (losses) *losses = L;
  return SSCOR_OK;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

sscor_status sscor_trainer_run_steps(sscor_trainer *t, int64_t max_steps, sscor_train_progress_fn cb, void *user) {
  double t0 = now_s();
  int64_t done = 0;
  while (!sscor_trainer_finished(t) && done < max_steps) {
    sscor_train_progress pr;
    memset(&pr, 0, sizeof pr);
    pr.epoch = t->epoch;
    pr.lr = t->cfg.lr * sscor_train_lr_factor(&t->cfg, t->epoch);
    TRY(sscor_trainer_step(t, &pr.last));
    done++;
    if (!cb) continue;
    pr.epochs = t->cfg.epochs + t->cfg.epochs_decay;
    pr.iters = t->pairs.n;
    pr.iter = t->iter == 0 ? t->pairs.n : t->iter;
    pr.step = t->step;
    pr.steps = sscor_trainer_total_steps(t);
    /* epoch_sum is reset when the next epoch starts, so it is complete here */
    add_losses(&pr.epoch_mean, &t->epoch_sum, 1.0 / pr.iter);
    pr.elapsed_s = now_s() - t0;
    int64_t left = pr.steps - pr.step;
    if (max_steps - done < left) left = max_steps - done;
    pr.eta_s = pr.elapsed_s / (double)done * (double)left;
    if (cb(&pr, user)) break;
  }
  return SSCOR_OK;
}

sscor_status sscor_trainer_run(sscor_trainer *t, sscor_train_progress_fn cb, void *user) {
  return sscor_trainer_run_steps(t, INT64_MAX, cb, user);
}
