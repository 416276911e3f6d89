/* CycleGAN trainer: one full iteration against PyTorch (losses, gradients,
 * weights after Adam), the schedule and presets, the history pool, a short
 * toy stripe training that lowers the losses and corrects, and a resumed run
 * bit-identical to an uninterrupted one. */
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "fixture.h"
#include "kernels.h"
#include "model_file.h"
#include "trainer.h"

/* Compares net slices in the fixture: gradients (grads_for_filter NULL) to
 * tol of the largest gradient, or weights after Adam (before: the weights
 * before the step; tol_grad: the tolerance the gradients were held to). */
static void compare_slices(const fx_file *f, const char *net_name, const sscor_net *net, const char *kind,
                           const float *values, const float *grads_for_filter, const float *before,
                           double tol, double tol_grad) {
  char prefix[64];
  snprintf(prefix, sizeof prefix, "%s.%s@", net_name, kind);
  int found = 0;
  size_t compared = 0, entries = 0;
  for (int i = 0; i < f->n; i++) {
    const fx_array *a = &f->a[i];
    if (strncmp(a->name, prefix, strlen(prefix)) != 0) continue;
    size_t off = (size_t)strtoul(a->name + strlen(prefix), NULL, 10);
    found++;
    if (off + a->count > net->n_params) {
      CHECK_MSG(0, "%s out of range", a->name);
      continue;
    }
    if (!grads_for_filter) {
      /* relative to the network's largest gradient: a bias before instance
       * norm has a true gradient of 0, and both sides compute rounding noise
       * (~1e-5) for it, which no per-slice relative figure can judge */
      double md = 0, mb = 0;
      for (size_t k = 0; k < a->count; k++) md = fmax(md, fabs((double)values[off + k] - a->data[k]));
      for (size_t k = 0; k < net->n_params; k++) mb = fmax(mb, fabs(values[k]));
      CHECK_MSG(md <= tol * mb, "%s: max abs difference %.3g, largest gradient %.3g", a->name, md, mb);
      continue;
    }
    /* weights after one Adam step: p - lr * m/(sqrt(v)+eps) ~ p -/+ lr where
     * |g| >> eps. The step's sign is the gradient's: where |g| is within the
     * gradient's own error bound (tol_grad * largest, checked above) rounding
     * on either side may flip it, a difference of 2 lr that says nothing, so
     * those entries only have to stay within one step of where they were. */
    double mb = 0, md = 0, lr = 2e-4; /* the paper preset's, used by the fixture */
    for (size_t k = 0; k < net->n_params; k++) mb = fmax(mb, fabs(grads_for_filter[k]));
    for (size_t k = 0; k < a->count; k++) {
      double g = grads_for_filter[off + k];
      if (fabs(g) > fmax(1e-5, 2 * tol_grad * mb)) {
        md = fmax(md, fabs(values[off + k] - a->data[k]));
        compared++;
      } else {
        double step = fabs(values[off + k] - before[off + k]);
        CHECK_MSG(step <= lr * (1 + 1e-3), "%s[%zu]: moved %.3g, more than one Adam step", a->name, k, step);
      }
    }
    CHECK_MSG(md < 2e-6, "%s: max abs difference %.3g vs PyTorch", a->name, md);
    entries += a->count;
  }
  /* a bias before instance norm has only undecided entries; most do not */
  if (grads_for_filter)
    CHECK_MSG(compared * 2 >= entries, "%s: only %zu of %zu entries have a decided sign", prefix,
              compared, entries);
  CHECK_MSG(found >= 4, "%s: %d fixture slices", prefix, found);
}

static void one_step_vs_pytorch(sscor_backend backend) {
  fx_file f;
  if (!fx_load("train_step.bin", &f)) {
    CHECK_MSG(0, "fixture missing");
    return;
  }
  const fx_array *rx = fx_get(&f, "real_x"), *ry = fx_get(&f, "real_y"), *lo = fx_get(&f, "losses");
  if (!rx || !ry || !lo) {
    CHECK(0);
    return;
  }
  sscor_train_config cfg;
  CHECK(sscor_train_preset("paper", 1, &cfg) == SSCOR_OK);
  cfg.gen = sscor_gen_config(1, 1, 8, 2, SSCOR_GEN_OUT_TANH);
  cfg.disc = sscor_disc_config(1, 8, 3);
  cfg.patch = 32;
  cfg.flips = 0;
  cfg.backend = backend;
  sscor_pairs pairs = {rx->data, ry->data, 1, 1, 32};
  sscor_trainer *t;
  if (sscor_trainer_create(&cfg, &pairs, &t) != SSCOR_OK) {
    CHECK_MSG(0, "%s", sscor_last_error());
    fx_free(&f);
    return;
  }
  sscor_net *nets[4] = {t->g_c, t->g_s, t->d_x, t->d_y};
  const char *names[4] = {"G_C", "G_S", "D_X", "D_Y"};
  float *before[4];
  for (int i = 0; i < 4; i++) {
    char key[32];
    snprintf(key, sizeof key, "%s.params", names[i]);
    const fx_array *p = fx_get(&f, key);
    CHECK(p && p->count == nets[i]->n_params);
    if (p && p->count == nets[i]->n_params) memcpy(nets[i]->params, p->data, p->count * sizeof(float));
    before[i] = malloc(nets[i]->n_params * sizeof(float));
    memcpy(before[i], nets[i]->params, nets[i]->n_params * sizeof(float));
  }
  sscor_train_losses L;
  CHECK_MSG(sscor_trainer_step(t, &L) == SSCOR_OK, "%s", sscor_last_error());
  double got[8] = {L.g_adv_c, L.g_adv_s, L.cycle_x, L.cycle_y, L.idt_c, L.idt_s, L.d_y, L.d_x};
  const char *ln[8] = {"G_C adv", "G_S adv", "cycle x", "cycle y", "idt G_C", "idt G_S", "D_Y", "D_X"};
  for (int i = 0; i < 8; i++) {
    printf("%-10s %-8s ours %.7f  pytorch %.7f\n", sscor_backend_name(backend), ln[i], got[i], lo->data[i]);
    CHECK_MSG(fabs(got[i] - lo->data[i]) <= 1e-4 * fabs(lo->data[i]) + 1e-7, "%s loss %s: %.8g vs %.8g",
              sscor_backend_name(backend), ln[i], got[i], lo->data[i]);
  }
  for (int i = 0; i < 4; i++) {
    const double tol_grad = 1e-4;
    compare_slices(&f, names[i], nets[i], "grad", nets[i]->grads, NULL, NULL, tol_grad, 0);
    compare_slices(&f, names[i], nets[i], "after", nets[i]->params, nets[i]->grads, before[i], 0, tol_grad);
    char key[32];
    snprintf(key, sizeof key, "%s.grad_abs_sum", names[i]);
    const fx_array *s = fx_get(&f, key);
    double sum = 0;
    for (size_t k = 0; k < nets[i]->n_params; k++) sum += fabs(nets[i]->grads[k]);
    CHECK_MSG(s && fabs(sum - s->data[0]) < 1e-4 * s->data[0], "%s: sum |grad| %.7g vs %.7g", names[i], sum,
              s ? s->data[0] : 0);
    free(before[i]);
  }
  sscor_trainer_destroy(t);
  fx_free(&f);
}

static void schedule_and_presets(void) {
  sscor_train_config c;
  CHECK(sscor_train_preset("paper", 3, &c) == SSCOR_OK);
  CHECK(c.gen.width == 64 && c.gen.depth == 9 && c.patch == 256 && c.epochs == 100 && c.epochs_decay == 100);
  CHECK(c.disc.width == 64 && c.disc.depth == 3 && c.pool_size == 50 && c.lambda_cycle == 10.0f);
  CHECK_CLOSE(sscor_train_lr_factor(&c, 0), 1.0, 0, 0);
  CHECK_CLOSE(sscor_train_lr_factor(&c, 99), 1.0, 0, 0);
  CHECK_CLOSE(sscor_train_lr_factor(&c, 100), 1.0 - 1.0 / 101, 1e-12, 0);
  CHECK_CLOSE(sscor_train_lr_factor(&c, 199), 1.0 / 101, 1e-12, 0);
  CHECK(sscor_train_preset("cpu", 1, &c) == SSCOR_OK);
  CHECK(c.gen.output != SSCOR_GEN_OUT_TANH); /* identity start */
  CHECK(sscor_train_preset("fast", 1, &c) == SSCOR_E_INVALID);
  CHECK_MSG(strstr(sscor_last_error(), "paper") != NULL, "%s", sscor_last_error());
  CHECK(sscor_train_preset("paper", 1, &c) == SSCOR_OK);
  c.patch = 30;
  CHECK(sscor_train_config_check(&c) == SSCOR_E_INVALID);
  /* pairs that do not fit */
  float dummy[16 * 16];
  sscor_pairs p = {dummy, dummy, 1, 1, 16};
  sscor_trainer *t;
  CHECK(sscor_train_preset("paper", 1, &c) == SSCOR_OK);
  CHECK(sscor_trainer_create(&c, &p, &t) == SSCOR_E_INVALID);
}

static void pool_rule(void) {
  sscor_image_pool p;
  sscor_rng rng;
  sscor_rng_seed(&rng, 5);
  CHECK(sscor_image_pool_init(&p, 3, 2) == SSCOR_OK);
  float img[2], out[2];
  for (int i = 0; i < 3; i++) {
    img[0] = img[1] = (float)i;
    sscor_image_pool_query(&p, &rng, img, out);
    CHECK(out[0] == (float)i && p.count == i + 1); /* filling: the new image */
  }
  int old = 0, fresh = 0;
  for (int i = 3; i < 403; i++) {
    img[0] = img[1] = (float)i;
    sscor_image_pool_query(&p, &rng, img, out);
    if (out[0] == (float)i) fresh++;
    else old++;
    CHECK(out[0] == out[1] && out[0] <= (float)i && p.count == 3);
  }
  CHECK_MSG(old > 150 && fresh > 150, "pool returned %d stored and %d new images", old, fresh);
  sscor_image_pool_free(&p);
}

/* Toy stripe problem: clean smooth texture, and the same kind of texture
 * with a dark vertical band (a seam with gain 0.6). */
static void make_toy_pairs(int n, int P, float *x, float *y, uint64_t seed) {
  sscor_rng r;
  sscor_rng_seed(&r, seed);
  float *tmp = malloc((size_t)P * P * sizeof(float));
  for (int i = 0; i < 2 * n; i++) {
    float *dst = (i < n ? x : y) + (size_t)(i % n) * P * P;
    float fx = 0.2f + 0.3f * sscor_rng_uniform(&r), fy = 0.2f + 0.3f * sscor_rng_uniform(&r);
    float ph = 6.28f * sscor_rng_uniform(&r);
    for (int yy = 0; yy < P; yy++)
      for (int xx = 0; xx < P; xx++)
        tmp[yy * P + xx] = 0.5f + 0.25f * sinf(fx * xx + ph) * cosf(fy * yy) + 0.05f * sscor_rng_normal(&r, 0, 1);
    int s0 = P / 2 - 3 + (int)sscor_rng_below(&r, 3);
    for (int yy = 0; yy < P; yy++)
      for (int xx = 0; xx < P; xx++) {
        float v = tmp[yy * P + xx];
        if (i < n && xx >= s0 && xx < s0 + 4) v *= 0.6f;
        dst[yy * P + xx] = 2.0f * v - 1.0f;
      }
  }
  free(tmp);
}

static sscor_train_config toy_config(sscor_backend backend) {
  sscor_train_config c;
  sscor_train_preset("cpu", 1, &c);
  c.gen = sscor_gen_config(1, 1, 4, 1, SSCOR_GEN_OUT_GAIN);
  c.disc = sscor_disc_config(1, 4, 2);
  c.patch = 24;
  c.backend = backend;
  c.seed = 11;
  return c;
}

typedef struct {
  int calls;
  double first_epoch, last_epoch;
  int last_epoch_index;
} progress_log;

static int on_progress(const sscor_train_progress *p, void *user) {
  progress_log *l = user;
  l->calls++;
  if (p->iter == p->iters) { /* end of an epoch */
    double cyc = p->epoch_mean.cycle_x + p->epoch_mean.cycle_y + p->epoch_mean.idt_c + p->epoch_mean.idt_s;
    if (p->epoch == 0) l->first_epoch = cyc;
    l->last_epoch = cyc;
    l->last_epoch_index = p->epoch;
  }
  return 0;
}

static void toy_training(void) {
  const int n = 6, P = 24;
  float *x = malloc((size_t)n * P * P * sizeof(float)), *y = malloc((size_t)n * P * P * sizeof(float));
  make_toy_pairs(n, P, x, y, 99);
  sscor_train_config c = toy_config(SSCOR_BACKEND_DNNL);
  c.epochs = 10;
  c.epochs_decay = 6;
  c.lr = 1e-3f;
  /* pairs carry their own seam: x_i and y_i share texture statistics only */
  sscor_pairs p = {x, y, n, 1, P};
  sscor_trainer *t;
  if (sscor_trainer_create(&c, &p, &t) != SSCOR_OK) {
    CHECK_MSG(0, "%s", sscor_last_error());
    return;
  }
  progress_log log = {0};
  CHECK(sscor_trainer_run(t, on_progress, &log) == SSCOR_OK);
  CHECK(sscor_trainer_finished(t));
  CHECK(log.calls == (c.epochs + c.epochs_decay) * n);
  CHECK(log.last_epoch_index == c.epochs + c.epochs_decay - 1);
  printf("toy: content losses (cycle + identity) first epoch %.4f, last epoch %.4f\n", log.first_epoch,
         log.last_epoch);
  CHECK_MSG(log.last_epoch < 0.75 * log.first_epoch, "content losses %.4f -> %.4f did not fall", log.first_epoch,
            log.last_epoch);
  CHECK(sscor_trainer_step(t, NULL) == SSCOR_E_INVALID); /* finished */
  sscor_trainer_destroy(t);
  free(x);
  free(y);
}

static int same_state(const sscor_trainer *a, const sscor_trainer *b) {
  const sscor_net *na[4] = {a->g_c, a->g_s, a->d_x, a->d_y}, *nb[4] = {b->g_c, b->g_s, b->d_x, b->d_y};
  for (int i = 0; i < 4; i++)
    if (memcmp(na[i]->params, nb[i]->params, na[i]->n_params * sizeof(float))) return 0;
  if (memcmp(a->opt_g.m, b->opt_g.m, a->opt_g.n * sizeof(float)) ||
      memcmp(a->opt_d.v, b->opt_d.v, a->opt_d.n * sizeof(float)) || a->opt_g.t != b->opt_g.t)
    return 0;
  if (a->pool_x.count != b->pool_x.count ||
      memcmp(a->pool_x.images, b->pool_x.images, (size_t)a->pool_x.count * a->pool_x.image_floats * 4))
    return 0;
  return a->step == b->step && memcmp(&a->rng, &b->rng, sizeof a->rng) == 0;
}

static void resume_equals_uninterrupted(sscor_backend backend) {
  const int n = 4, P = 24;
  float *x = malloc((size_t)n * P * P * sizeof(float)), *y = malloc((size_t)n * P * P * sizeof(float));
  make_toy_pairs(n, P, x, y, 5);
  sscor_train_config c = toy_config(backend);
  c.epochs = 1;
  c.epochs_decay = 2;
  c.pool_size = 2; /* full after 2 steps: the random branch of the pool is exercised */
  sscor_pairs p = {x, y, n, 1, P};
  sscor_trainer *a, *b;
  CHECK(sscor_trainer_create(&c, &p, &a) == SSCOR_OK);
  CHECK(sscor_trainer_run(a, NULL, NULL) == SSCOR_OK);
  CHECK(sscor_trainer_finished(a));

  char path[256];
  snprintf(path, sizeof path, "%s/sscor_test_ckpt_%d.sscor", P_tmpdir, (int)getpid());
  CHECK(sscor_trainer_create(&c, &p, &b) == SSCOR_OK);
  CHECK(sscor_trainer_run_steps(b, 6, NULL, NULL) == SSCOR_OK); /* mid-epoch 2 */
  CHECK(b->step == 6 && b->epoch == 1 && b->iter == 2);
  CHECK_MSG(sscor_checkpoint_save(b, NULL, path) == SSCOR_OK, "%s", sscor_last_error());
  sscor_trainer_destroy(b);

  CHECK(sscor_trainer_create(&c, &p, &b) == SSCOR_OK);
  CHECK_MSG(sscor_checkpoint_load(b, path) == SSCOR_OK, "%s", sscor_last_error());
  CHECK(b->step == 6);
  CHECK(sscor_trainer_run(b, NULL, NULL) == SSCOR_OK);
  CHECK_MSG(same_state(a, b), "%s: resumed run differs from the uninterrupted one", sscor_backend_name(backend));
  sscor_trainer_destroy(b);

  /* a checkpoint refuses other pairs and other settings, and leaves the trainer as it was */
  x[3] += 0.5f;
  CHECK(sscor_trainer_create(&c, &p, &b) == SSCOR_OK);
  CHECK(sscor_checkpoint_load(b, path) == SSCOR_E_FORMAT);
  CHECK_MSG(strstr(sscor_last_error(), "other training pairs") && strstr(sscor_last_error(), path), "%s",
            sscor_last_error());
  CHECK(b->step == 0);
  sscor_trainer_destroy(b);
  x[3] -= 0.5f;
  sscor_train_config c2 = c;
  c2.gen.width = 6;
  CHECK(sscor_trainer_create(&c2, &p, &b) == SSCOR_OK);
  CHECK(sscor_checkpoint_load(b, path) == SSCOR_E_FORMAT);
  CHECK_MSG(strstr(sscor_last_error(), "wrong shape") != NULL, "%s", sscor_last_error());
  sscor_trainer_destroy(b);
  c2 = c;
  c2.seed = 12;
  CHECK(sscor_trainer_create(&c2, &p, &b) == SSCOR_OK);
  CHECK(sscor_checkpoint_load(b, path) == SSCOR_E_FORMAT);
  sscor_trainer_destroy(b);
  /* a checkpoint is not a model and vice versa */
  sscor_model m;
  CHECK(sscor_model_load(path, &m) == SSCOR_E_FORMAT);
  CHECK_MSG(strstr(sscor_last_error(), "checkpoint") != NULL, "%s", sscor_last_error());
  unlink(path);
  sscor_trainer_destroy(a);
  free(x);
  free(y);
}

int main(void) {
  sscor_kernels_set_threads(2);
  schedule_and_presets();
  pool_rule();
  one_step_vs_pytorch(SSCOR_BACKEND_REF);
  one_step_vs_pytorch(SSCOR_BACKEND_DNNL);
  toy_training();
  /* the multi-threaded backend is where run-to-run differences could hide;
   * the reference backend is single-threaded plain loops (and slow under
   * the sanitizer build) */
  resume_equals_uninterrupted(SSCOR_BACKEND_DNNL);
  return CHECK_DONE();
}
