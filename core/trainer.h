/* SSCOR's CycleGAN trainer.
 *
 * Two domains: X, patches with the artifact (stripe, seam), and Y, clean
 * patches. G_C corrects X -> Y, G_S synthesises Y -> X, D_Y judges clean
 * patches (real Y vs G_C's output), D_X judges artifact patches. Per
 * iteration (batch 1), exactly as the reference code's optimize_parameters:
 *   generator step (discriminators frozen), one Adam over G_C and G_S:
 *     LSGAN  mean((D_Y(G_C(x)) - 1)^2) + mean((D_X(G_S(y)) - 1)^2)
 *     cycle  lambda * (|G_S(G_C(x)) - x|_1 + |G_C(G_S(y)) - y|_1)   (means)
 *     ident  lambda * lambda_identity * (|G_C(y) - y|_1 + |G_S(x) - x|_1)
 *   discriminator step, one Adam over D_X and D_Y, on the fakes of this
 *   iteration passed through a history pool of 50:
 *     0.5 * (mean((D(real) - 1)^2) + mean(D(pool(fake))^2)) for each D
 * Adam(lr, 0.5, 0.999); the learning rate is constant for `epochs` epochs,
 * then for `epochs_decay` epochs lr * (1 - (e + 1 - epochs) / (epochs_decay
 * + 1)) at 0-based epoch e (the reference's linear rule, reaching
 * lr / (epochs_decay + 1) in the last epoch). Every epoch visits each pair
 * once in a shuffled order; with `flips` each pair is flipped left-right and
 * up-down at random (the same flips for both patches of a pair, so the pair
 * stays aligned).
 *
 * Deterministic: for one seed, config, pair set, backend and thread count,
 * results are bit-identical run to run, and a run resumed from a checkpoint
 * (model_file.h) continues exactly as if never interrupted. */
#ifndef SSCOR_TRAINER_H
#define SSCOR_TRAINER_H

#include <stdint.h>

#include "adam.h"
#include "layers.h"
#include "nets.h"
#include "rng.h"
#include "status.h"

/* Training pairs: n patches of c channels, patch x patch pixels, NCHW per
 * patch (pair i at offset i*c*patch*patch), values scaled to [-1, 1].
 * The trainer reads them in place: they must outlive it, unchanged. */
typedef struct {
  const float *x; /* artifact (stripe) patches, domain X */
  const float *y; /* clean patches, domain Y */
  int n, c, patch;
} sscor_pairs;

typedef struct {
  sscor_net_config gen;  /* G_C and G_S */
  sscor_net_config disc; /* D_X and D_Y */
  int patch;             /* training patch side (multiple of 4) */
  int epochs;            /* at the constant learning rate */
  int epochs_decay;      /* with linear decay */
  float lr, beta1, beta2;
  float lambda_cycle;    /* 10 */
  float lambda_identity; /* 0.5: identity weight = lambda_cycle * lambda_identity */
  int pool_size;         /* 50; 0 disables the pool */
  int flips;             /* random flips */
  uint64_t seed;
  sscor_backend backend;
} sscor_train_config;

/* Fills cfg for a named preset and a channel count:
 *   "paper": ngf 64, 9 blocks, tanh output, ndf 64, 3 layers, patch 256,
 *            100 + 100 epochs — the published configuration, meant for a GPU;
 *   "cpu":   ngf 8, 2 blocks, gain output (identity start), ndf 8, 3 layers,
 *            patch 64, 4 + 4 epochs: chosen by measurement (trainer.c,
 *            bench/bench_preset.c); ~1-1.5 min for 300 pairs on 2 cores.
 * Unknown names are SSCOR_E_INVALID listing the known ones. */
sscor_status sscor_train_preset(const char *name, int channels, sscor_train_config *cfg);
sscor_status sscor_train_config_check(const sscor_train_config *cfg);

typedef struct {
  double g_adv_c; /* LSGAN of G_C against D_Y */
  double g_adv_s; /* LSGAN of G_S against D_X */
  double cycle_x; /* lambda * |G_S(G_C(x)) - x| */
  double cycle_y; /* lambda * |G_C(G_S(y)) - y| */
  double idt_c;   /* lambda * lambda_idt * |G_C(y) - y| */
  double idt_s;   /* lambda * lambda_idt * |G_S(x) - x| */
  double g_total;
  double d_y, d_x; /* discriminator losses (halved) */
} sscor_train_losses;

typedef struct {
  int epoch, epochs;  /* current (0-based) and total */
  int iter, iters;    /* iterations done in this epoch, per epoch */
  int64_t step, steps; /* iterations done overall, total */
  double lr;
  sscor_train_losses last;       /* this iteration */
  sscor_train_losses epoch_mean; /* mean over this epoch so far */
  double elapsed_s;              /* wall time of this run (since run() was called) */
  double eta_s;                  /* estimated remaining wall time */
} sscor_train_progress;

/* Called after every iteration; return non-zero to stop training early
 * (run() then returns SSCOR_OK with sscor_trainer_finished() false, and a
 * checkpoint can be saved to continue later). The trainer is between
 * iterations during the call, so the callback may save a checkpoint
 * (model_file.h) or a model of the current corrector. */
typedef int (*sscor_train_progress_fn)(const sscor_train_progress *p, void *user);

/* History of generated images for the discriminator (the reference's
 * ImagePool): while it holds fewer than `size` images, a query stores the
 * new image and returns it; afterwards, with probability 1/2 it returns a
 * random stored image and keeps the new one in its place, else it returns
 * the new image. Images are kept as plain NCHW floats. */
typedef struct {
  int size, count;
  size_t image_floats;
  float *images; /* size * image_floats */
} sscor_image_pool;

/* The trainer's state is visible so that checkpoints (model_file.c) can
 * store and restore all of it; use the functions, not the fields. */
typedef struct sscor_trainer {
  sscor_train_config cfg;
  sscor_pairs pairs;
  uint32_t pairs_crc; /* CRC-32 of the pair data, checked on resume */
  sscor_engine *engine;
  sscor_net *g_c, *g_s, *d_x, *d_y;
  sscor_net_ws *ws_gc, *ws_gs, *ws_dx, *ws_dy;
  sscor_adam opt_g, opt_d;
  sscor_image_pool pool_x, pool_y;
  sscor_rng rng;
  int epoch, iter;   /* position of the next iteration */
  int64_t step;      /* iterations done */
  uint32_t *perm;    /* this epoch's pair order */
  sscor_train_losses epoch_sum;
  /* buffers */
  sscor_arena arena;
  sscor_tensor real_x, real_y, fake_x, fake_y, query;
  float *host; /* one patch, NCHW, for flips and pool copies */
} sscor_trainer;

/* Creates the four networks (initialised from cfg->seed), the optimisers and
 * every buffer. The pairs' channels and patch size must match cfg. */
sscor_status sscor_trainer_create(const sscor_train_config *cfg, const sscor_pairs *pairs,
                                  sscor_trainer **out);
void sscor_trainer_destroy(sscor_trainer *t);
/* One iteration (G step + D step); losses may be NULL. Fails with
 * SSCOR_E_INVALID once training has finished. */
sscor_status sscor_trainer_step(sscor_trainer *t, sscor_train_losses *losses);
/* Iterates until the schedule ends or the callback asks to stop. */
sscor_status sscor_trainer_run(sscor_trainer *t, sscor_train_progress_fn cb, void *user);
/* Stops after max_steps more iterations at most (for tests and benchmarks). */
sscor_status sscor_trainer_run_steps(sscor_trainer *t, int64_t max_steps, sscor_train_progress_fn cb,
                                     void *user);
int sscor_trainer_finished(const sscor_trainer *t);
int64_t sscor_trainer_total_steps(const sscor_trainer *t);
/* Learning-rate factor of 0-based epoch e. */
double sscor_train_lr_factor(const sscor_train_config *cfg, int epoch);
/* The corrector, ready for sscor_model (model_file.h). */
sscor_net *sscor_trainer_corrector(sscor_trainer *t);

/* Pool primitives (exposed for tests). */
sscor_status sscor_image_pool_init(sscor_image_pool *p, int size, size_t image_floats);
void sscor_image_pool_free(sscor_image_pool *p);
/* img: image_floats values; the result (the new image or a stored one) is
 * written to out (may alias img). */
void sscor_image_pool_query(sscor_image_pool *p, sscor_rng *rng, const float *img, float *out);

#endif
