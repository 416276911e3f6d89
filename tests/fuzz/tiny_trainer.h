/* The smallest trainer the project builds (1-channel 8x8 patches, width-1
 * networks, 8 fixed pairs): the model fuzz target loads checkpoints into it,
 * and make_corpus.c saves the seed checkpoint from it, so both agree on the
 * configuration and the pairs a checkpoint must match. */
#ifndef SSCOR_FUZZ_TINY_TRAINER_H
#define SSCOR_FUZZ_TINY_TRAINER_H

#include <stdlib.h>

#include "trainer.h"

#define TINY_PATCH 8
#define TINY_PAIRS 8

static inline sscor_status tiny_trainer(sscor_trainer **t) {
  static float x[TINY_PAIRS * TINY_PATCH * TINY_PATCH], y[TINY_PAIRS * TINY_PATCH * TINY_PATCH];
  for (int i = 0; i < TINY_PAIRS * TINY_PATCH * TINY_PATCH; i++) {
    x[i] = (float)((i * 37) % 17) / 8.5f - 1.0f;
    y[i] = (float)((i * 11) % 13) / 6.5f - 1.0f;
  }
  sscor_train_config cfg;
  sscor_status st = sscor_train_preset("cpu", 1, &cfg);
  if (st) return st;
  cfg.gen = sscor_gen_config(1, 1, 1, 0, SSCOR_GEN_OUT_GAIN);
  cfg.disc = sscor_disc_config(1, 1, 1);
  cfg.patch = TINY_PATCH;
  cfg.epochs = cfg.epochs_decay = 1;
  cfg.pool_size = 2;
  cfg.backend = SSCOR_BACKEND_REF;
  sscor_pairs pairs = {x, y, TINY_PAIRS, 1, TINY_PATCH};
  return sscor_trainer_create(&cfg, &pairs, t);
}

#endif
