/* Whole SSCOR networks: forward against PyTorch fixtures (same weights and
 * inputs) on every CPU backend, backward against finite differences, the
 * identity start of the residual and gain outputs, and bad shapes refused. */
#include <string.h>

#include "check.h"
#include "fixture.h"
#include "kernels.h"
#include "layers.h"
#include "nets.h"

static sscor_net_config cfg_from_fixture(const fx_array *c, int gen) {
  if (gen)
    return sscor_gen_config((int)c->data[0], (int)c->data[1], (int)c->data[2], (int)c->data[3],
                            c->data[4] != 0 ? SSCOR_GEN_OUT_RESIDUAL : SSCOR_GEN_OUT_TANH);
  return sscor_disc_config((int)c->data[0], (int)c->data[1], (int)c->data[2]);
}

/* Runs net (params from the fixture) on x in a fresh workspace and compares
 * with y; both inference and training workspaces. */
static void check_forward(sscor_engine *e, const char *what, const sscor_net_config *cfg, const fx_array *params,
                          const fx_array *x, const fx_array *y) {
  if (!params || !x || !y) {
    CHECK_MSG(0, "%s: fixture incomplete", what);
    return;
  }
  sscor_net *net;
  if (sscor_net_create(cfg, &net) != SSCOR_OK) {
    CHECK_MSG(0, "%s: %s", what, sscor_last_error());
    return;
  }
  CHECK_MSG(net->n_params == params->count, "%s: %zu params, fixture %zu", what, net->n_params, params->count);
  if (net->n_params == params->count) memcpy(net->params, params->data, params->count * sizeof(float));
  int n = x->dims[0], h = x->dims[2], w = x->dims[3];
  /* 0: inference, 1: training workspace, 2: inference with frozen weights
   * (the engine may then use other algorithms, e.g. Winograd) */
  for (int mode = 0; mode <= 2; mode++) {
    int training = mode == 1;
    sscor_net_ws *ws;
    sscor_engine_freeze_weights(e, mode == 2);
    sscor_status st = sscor_net_ws_create(net, e, n, h, w, training, &ws);
    CHECK_MSG(st == SSCOR_OK, "%s: %s", what, sscor_last_error());
    if (st != SSCOR_OK) continue;
    sscor_tensor_import(sscor_net_ws_input(ws), x->data);
    st = sscor_net_forward(ws, sscor_net_ws_input(ws));
    CHECK_MSG(st == SSCOR_OK, "%s: %s", what, sscor_last_error());
    const sscor_tensor *out = sscor_net_ws_output(ws);
    CHECK_MSG(sscor_tensor_numel(out) == y->count, "%s: output %zu values, fixture %zu", what,
              sscor_tensor_numel(out), y->count);
    if (st == SSCOR_OK && sscor_tensor_numel(out) == y->count) {
      float *got = malloc(y->count * sizeof(float));
      sscor_tensor_export(out, got);
      double err = fx_rel_err(got, y->data, y->count);
      static const char *modes[3] = {"inference", "training", "frozen"};
      printf("%-6s %-28s %-9s rel err %.2e\n", sscor_backend_name(sscor_engine_backend(e)), what, modes[mode],
             err);
      CHECK_MSG(err < 1e-4, "%s (%s, %s): relative error %.3g vs PyTorch", what,
                sscor_backend_name(sscor_engine_backend(e)), modes[mode], err);
      free(got);
    }
    sscor_net_ws_destroy(ws);
  }
  sscor_engine_freeze_weights(e, 0);
  sscor_net_destroy(net);
}

static void fixture_forward(sscor_engine *e) {
  fx_file f, t;
  if (!fx_load("nets_forward.bin", &f) || !fx_load("train_step.bin", &t)) {
    CHECK_MSG(0, "fixtures missing");
    return;
  }
  sscor_net_config g2 = cfg_from_fixture(fx_get(&f, "g2.config"), 1);
  check_forward(e, "gen 3ch ngf4 1blk residual", &g2, fx_get(&f, "g2.params"), fx_get(&f, "g2.x"),
                fx_get(&f, "g2.y"));
  sscor_net_config d2 = cfg_from_fixture(fx_get(&f, "d2.config"), 0);
  check_forward(e, "disc 3ch ndf4 2 layers", &d2, fx_get(&f, "d2.params"), fx_get(&f, "d2.x"), fx_get(&f, "d2.y"));
  sscor_net_config g = sscor_gen_config(1, 1, 8, 2, SSCOR_GEN_OUT_TANH);
  check_forward(e, "gen 1ch ngf8 2blk tanh", &g, fx_get(&t, "G_C.params"), fx_get(&t, "real_x"),
                fx_get(&t, "fake_y"));
  sscor_net_config d = sscor_disc_config(1, 8, 3);
  check_forward(e, "disc 1ch ndf8 3 layers (D_Y)", &d, fx_get(&t, "D_Y.params"), fx_get(&t, "real_y"),
                fx_get(&t, "dy_real"));
  check_forward(e, "disc 1ch ndf8 3 layers (D_X)", &d, fx_get(&t, "D_X.params"), fx_get(&t, "real_x"),
                fx_get(&t, "dx_real"));
  fx_free(&f);
  fx_free(&t);
}

/* L = sum(out * r): dL/dout = r. */
static double eval_loss(sscor_net_ws *ws, const float *x, const float *r, float *tmp) {
  sscor_tensor_import(sscor_net_ws_input(ws), x);
  if (sscor_net_forward(ws, sscor_net_ws_input(ws)) != SSCOR_OK) return NAN;
  const sscor_tensor *o = sscor_net_ws_output(ws);
  sscor_tensor_export(o, tmp);
  double s = 0;
  for (size_t i = 0; i < sscor_tensor_numel(o); i++) s += (double)tmp[i] * r[i];
  return s;
}

static void finite_differences(sscor_engine *e, const char *what, sscor_net_config cfg, int h, int w,
                               int perturb_last) {
  sscor_net *net;
  sscor_net_ws *ws;
  if (sscor_net_create(&cfg, &net) != SSCOR_OK) {
    CHECK_MSG(0, "%s", sscor_last_error());
    return;
  }
  sscor_rng rng;
  sscor_rng_seed(&rng, 7);
  /* wider init than 0.02 so every layer matters at this tiny width */
  for (size_t i = 0; i < net->n_params; i++) net->params[i] = sscor_rng_normal(&rng, 0, 0.3f);
  if (!perturb_last) {
    /* identity-start outputs: last conv zero, as sscor_net_init does */
    const sscor_net_layer *l = &net->layers[net->n_layers - 1];
    memset(net->params + l->w_off, 0, (l->w_count + (size_t)l->conv.cout) * sizeof(float));
  }
  if (sscor_net_ws_create(net, e, 1, h, w, 1, &ws) != SSCOR_OK) {
    CHECK_MSG(0, "%s", sscor_last_error());
    sscor_net_destroy(net);
    return;
  }
  size_t nin = (size_t)cfg.in_ch * h * w;
  const sscor_tensor *o = sscor_net_ws_output(ws);
  size_t nout = sscor_tensor_numel(o);
  float *x = malloc(nin * sizeof(float)), *r = malloc(nout * sizeof(float)), *tmp = malloc(nout * sizeof(float));
  float *dx = malloc(nin * sizeof(float));
  for (size_t i = 0; i < nin; i++) x[i] = sscor_rng_uniform(&rng) * 1.6f - 0.8f;
  for (size_t i = 0; i < nout; i++) r[i] = sscor_rng_normal(&rng, 0, 1);
  /* analytic */
  eval_loss(ws, x, r, tmp);
  sscor_tensor_import(sscor_net_ws_dout(ws), r);
  sscor_net_zero_grad(net);
  CHECK_MSG(sscor_net_backward(ws, 1, 1) == SSCOR_OK, "%s", sscor_last_error());
  sscor_tensor_export(sscor_net_ws_dx(ws), dx);
  /* numeric, double-sided, on a spread of parameters and inputs */
  const double eps = 1e-3;
  int bad = 0, tried = 0;
  for (int li = 0; li < net->n_layers; li++) {
    const sscor_net_layer *l = &net->layers[li];
    size_t picks[3] = {l->w_off, l->w_off + l->w_count / 2, l->b_off};
    for (int k = 0; k < 3; k++) {
      size_t i = picks[k];
      float keep = net->params[i];
      net->params[i] = keep + (float)eps;
      double lp = eval_loss(ws, x, r, tmp);
      net->params[i] = keep - (float)eps;
      double lm = eval_loss(ws, x, r, tmp);
      net->params[i] = keep;
      double num = (lp - lm) / (2 * eps), ana = net->grads[i];
      tried++;
      if (fabs(num - ana) > 2e-2 * (fabs(num) + fabs(ana)) + 1e-2) {
        bad++;
        fprintf(stderr, "%s: layer %d param %zu: analytic %.6g numeric %.6g\n", what, li, i, ana, num);
      }
    }
  }
  for (size_t i = 0; i < nin; i += nin / 7 + 1) {
    float keep = x[i];
    x[i] = keep + (float)eps;
    double lp = eval_loss(ws, x, r, tmp);
    x[i] = keep - (float)eps;
    double lm = eval_loss(ws, x, r, tmp);
    x[i] = keep;
    double num = (lp - lm) / (2 * eps);
    tried++;
    if (fabs(num - dx[i]) > 2e-2 * (fabs(num) + fabs(dx[i])) + 1e-2) {
      bad++;
      fprintf(stderr, "%s: input %zu: analytic %.6g numeric %.6g\n", what, i, dx[i], num);
    }
  }
  printf("%-6s %-28s finite differences: %d of %d off\n", sscor_backend_name(sscor_engine_backend(e)), what, bad,
         tried);
  /* float32 noise (biases before instance norm have a true gradient of 0 and
   * a numeric one of a few 1e-3) can spoil an odd one; more is a bug */
  CHECK_MSG(bad <= 1, "%s: %d of %d gradients disagree with finite differences", what, bad, tried);
  free(x);
  free(r);
  free(tmp);
  free(dx);
  sscor_net_ws_destroy(ws);
  sscor_net_destroy(net);
}

static void identity_start(sscor_engine *e, sscor_gen_output mode) {
  sscor_net_config cfg = sscor_gen_config(2, 2, 4, 1, mode);
  sscor_net *net;
  sscor_net_ws *ws;
  CHECK(sscor_net_create(&cfg, &net) == SSCOR_OK);
  sscor_rng rng;
  sscor_rng_seed(&rng, 3);
  sscor_net_init(net, &rng);
  CHECK(sscor_net_ws_create(net, e, 1, 16, 12, 0, &ws) == SSCOR_OK);
  float x[2 * 16 * 12], y[2 * 16 * 12];
  for (int i = 0; i < 2 * 16 * 12; i++) x[i] = sscor_rng_uniform(&rng) * 2 - 1;
  sscor_tensor_import(sscor_net_ws_input(ws), x);
  CHECK(sscor_net_forward(ws, sscor_net_ws_input(ws)) == SSCOR_OK);
  sscor_tensor_export(sscor_net_ws_output(ws), y);
  double md = 0;
  for (int i = 0; i < 2 * 16 * 12; i++) md = fmax(md, fabs(x[i] - y[i]));
  CHECK_MSG(md < 1e-6, "%s output starts %.3g away from the identity", sscor_gen_output_name(mode), md);
  sscor_net_ws_destroy(ws);
  sscor_net_destroy(net);
}

static void bad_shapes(sscor_engine *e) {
  sscor_net_config g = sscor_gen_config(1, 1, 4, 1, SSCOR_GEN_OUT_TANH);
  sscor_net *net;
  sscor_net_ws *ws = NULL;
  CHECK(sscor_net_create(&g, &net) == SSCOR_OK);
  CHECK(sscor_net_ws_create(net, e, 1, 30, 32, 0, &ws) == SSCOR_E_INVALID);
  CHECK_MSG(strstr(sscor_last_error(), "multiples of 4") != NULL, "%s", sscor_last_error());
  CHECK(sscor_net_ws_create(net, e, 1, 4, 4, 0, &ws) == SSCOR_E_INVALID);
  CHECK(sscor_net_ws_create(net, e, 1, 16, 16, 0, &ws) == SSCOR_OK);
  sscor_arena A;
  sscor_arena_init(&A, 0);
  sscor_tensor wrong;
  CHECK(sscor_tensor_alloc(&A, &wrong, 1, 2, 16, 16, sscor_engine_layout(e)) == SSCOR_OK);
  CHECK(sscor_net_forward(ws, &wrong) == SSCOR_E_INVALID);
  CHECK(sscor_net_backward(ws, 1, 1) == SSCOR_E_INVALID); /* inference workspace */
  sscor_arena_free(&A);
  sscor_net_ws_destroy(ws);
  sscor_net_destroy(net);
  sscor_net_config d = sscor_disc_config(1, 4, 3);
  CHECK(sscor_net_create(&d, &net) == SSCOR_OK);
  CHECK(sscor_net_ws_create(net, e, 1, 16, 16, 0, &ws) == SSCOR_E_INVALID); /* 16 -> 2 -> 0 */
  CHECK(sscor_net_ws_create(net, e, 1, 24, 24, 0, &ws) == SSCOR_OK);
  sscor_net_ws_destroy(ws);
  sscor_net_destroy(net);
  sscor_net_config bad = sscor_gen_config(3, 1, 8, 2, SSCOR_GEN_OUT_RESIDUAL);
  CHECK(sscor_net_create(&bad, &net) == SSCOR_E_INVALID);
  bad = sscor_disc_config(1, 8, 0);
  CHECK(sscor_net_create(&bad, &net) == SSCOR_E_INVALID);
}

int main(void) {
  sscor_kernels_set_threads(2);
  /* The paper's networks: parameter counts as the reference code prints them. */
  sscor_net_config pg = sscor_gen_config(3, 3, 64, 9, SSCOR_GEN_OUT_TANH);
  sscor_net_config pd = sscor_disc_config(3, 64, 3);
  CHECK(sscor_net_param_count(&pg) == 11378179);
  CHECK(sscor_net_param_count(&pd) == 2764737);
  /* ~49.6 GMAC for a 256x256 RGB patch (ARCHITECTURE.md) */
  double gf = sscor_net_flops(&pg, 1, 256, 256) / 2e9;
  CHECK_MSG(gf > 49 && gf < 50.5, "paper generator %.2f GMAC per 256^2 patch", gf);

  sscor_backend backends[2] = {SSCOR_BACKEND_REF, SSCOR_BACKEND_DNNL};
  for (int b = 0; b < 2; b++) {
    sscor_engine *e;
    if (sscor_engine_create(backends[b], &e) != SSCOR_OK) {
      CHECK_MSG(0, "engine %d: %s", (int)backends[b], sscor_last_error());
      continue;
    }
    fixture_forward(e);
    finite_differences(e, "gen tanh", sscor_gen_config(1, 1, 2, 1, SSCOR_GEN_OUT_TANH), 16, 20, 1);
    finite_differences(e, "gen residual", sscor_gen_config(2, 2, 2, 1, SSCOR_GEN_OUT_RESIDUAL), 8, 8, 1);
    finite_differences(e, "gen gain", sscor_gen_config(1, 1, 2, 2, SSCOR_GEN_OUT_GAIN), 20, 16, 1);
    finite_differences(e, "gen gain at identity", sscor_gen_config(1, 1, 2, 1, SSCOR_GEN_OUT_GAIN), 8, 8, 0);
    finite_differences(e, "disc", sscor_disc_config(2, 2, 2), 24, 28, 1);
    identity_start(e, SSCOR_GEN_OUT_RESIDUAL);
    identity_start(e, SSCOR_GEN_OUT_GAIN);
    bad_shapes(e);
    sscor_engine_destroy(e);
  }
  return CHECK_DONE();
}
