/* How the `cpu` training preset was chosen: several network sizes and output
 * stages trained on the same seam pairs (bench/preset_data.py: real brain
 * tiles with a known synthetic tile shading), each judged on held-out seam
 * patches against the ground truth, with its training time on this machine.
 *
 *   /usr/bin/python3 bench/preset_data.py /tmp/preset64.bin
 *   build/bench/bench_preset /tmp/preset64.bin [--threads 2] [--only N]
 *
 * Per candidate: wall time of the whole training, seam ratio (mean |log a/b|
 * of 2-px bands either side of the seam over the same measure at non-seam
 * columns; 1.0 = no seam), fidelity (std of the fine structure of
 * log(output/input), sigma 6 px, away from the seam; 0 = only smooth changes)
 * and the error against the ground truth (mean |out - truth| / mean truth). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels.h"
#include "nets.h"
#include "trainer.h"

typedef struct {
  int n_train, n_test, P;
  float low, high;
  float *tx, *ty, *sx, *sg;
} dataset;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int load(const char *path, dataset *d) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  uint32_t h[3];
  float s[2];
  if (fread(h, 4, 3, f) != 3 || fread(s, 4, 2, f) != 2) return fclose(f), 0;
  d->n_train = (int)h[0];
  d->n_test = (int)h[1];
  d->P = (int)h[2];
  d->low = s[0];
  d->high = s[1];
  size_t pp = (size_t)d->P * d->P;
  size_t nt = (size_t)d->n_train * pp, ns = (size_t)d->n_test * pp;
  d->tx = malloc(nt * 4);
  d->ty = malloc(nt * 4);
  d->sx = malloc(ns * 4);
  d->sg = malloc(ns * 4);
  int ok = fread(d->tx, 4, nt, f) == nt && fread(d->ty, 4, nt, f) == nt && fread(d->sx, 4, ns, f) == ns &&
           fread(d->sg, 4, ns, f) == ns;
  fclose(f);
  return ok;
}

static double intensity(const dataset *d, float v) {
  double i = (v + 1.0) * 0.5 * (d->high - d->low) + d->low;
  return i > 1.0 ? i : 1.0;
}

/* mean over rows of |log(a/b)|, 2-px bands either side of column c */
static double step_at(const dataset *d, const float *p, int c) {
  int P = d->P;
  double s = 0;
  for (int r = 0; r < P; r++) {
    double a = 0.5 * (intensity(d, p[r * P + c - 2]) + intensity(d, p[r * P + c - 1]));
    double b = 0.5 * (intensity(d, p[r * P + c]) + intensity(d, p[r * P + c + 1]));
    s += fabs(log(a / b));
  }
  return s / P;
}

static void blur(const double *in, double *out, double *tmp, int P, double sigma) {
  int R = (int)ceil(3 * sigma);
  double k[64], ks = 0;
  for (int i = -R; i <= R; i++) ks += k[i + R] = exp(-0.5 * i * i / (sigma * sigma));
  for (int i = 0; i <= 2 * R; i++) k[i] /= ks;
  for (int pass = 0; pass < 2; pass++) {
    const double *src = pass ? tmp : in;
    double *dst = pass ? out : tmp;
    for (int y = 0; y < P; y++)
      for (int x = 0; x < P; x++) {
        double s = 0;
        for (int i = -R; i <= R; i++) {
          int q = pass ? y + i : x + i;
          q = q < 0 ? -q - 1 : q >= P ? 2 * P - q - 1 : q; /* symmetric */
          q = q < 0 ? 0 : q >= P ? P - 1 : q;
          s += k[i + R] * (pass ? src[q * P + x] : src[y * P + q]);
        }
        dst[y * P + x] = s;
      }
  }
}

typedef struct {
  double seam, ref, fid, err;
} scores;

static scores evaluate(const dataset *d, const float *out_all, const float *in_all) {
  int P = d->P, c = P / 2;
  size_t pp = (size_t)P * P;
  double *lr = malloc(pp * 8), *sm = malloc(pp * 8), *tmp = malloc(pp * 8);
  scores s = {0, 0, 0, 0};
  double fid2 = 0, fidn = 0, err = 0, tru = 0;
  for (int i = 0; i < d->n_test; i++) {
    const float *o = out_all + i * pp, *in = in_all + i * pp, *g = d->sg + i * pp;
    s.seam += step_at(d, o, c);
    s.ref += 0.5 * (step_at(d, o, P / 4) + step_at(d, o, 3 * P / 4));
    for (size_t k = 0; k < pp; k++) lr[k] = log(intensity(d, o[k]) / intensity(d, in[k]));
    blur(lr, sm, tmp, P, 6.0);
    for (int y = 8; y < P - 8; y++)
      for (int x = 8; x < P - 8; x++) {
        if (abs(x - c) < 4) continue;
        double f = lr[y * P + x] - sm[y * P + x];
        fid2 += f * f;
        fidn += 1;
      }
    for (size_t k = 0; k < pp; k++) {
      err += fabs(intensity(d, o[k]) - intensity(d, g[k]));
      tru += intensity(d, g[k]);
    }
  }
  s.fid = sqrt(fid2 / fidn);
  s.err = err / tru;
  free(lr);
  free(sm);
  free(tmp);
  return s;
}

typedef struct {
  const char *name;
  int ngf, blocks, ndf, epochs, decay;
  sscor_gen_output out;
} candidate;

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s DATA.bin [--threads N] [--only I]\n", argv[0]);
    return 2;
  }
  int threads = 2, only = -1;
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = atoi(argv[++i]);
  }
  sscor_kernels_set_threads(threads);
  dataset d;
  if (!load(argv[1], &d)) {
    fprintf(stderr, "%s: cannot read (make it with bench/preset_data.py)\n", argv[1]);
    return 1;
  }
  const candidate cands[] = {
      {"pixel tanh ngf16 3blk", 16, 3, 16, 4, 4, SSCOR_GEN_OUT_TANH},
      {"residual ngf16 3blk", 16, 3, 16, 4, 4, SSCOR_GEN_OUT_RESIDUAL},
      {"gain ngf16 3blk", 16, 3, 16, 4, 4, SSCOR_GEN_OUT_GAIN},
      {"gain ngf8 2blk", 8, 2, 8, 4, 4, SSCOR_GEN_OUT_GAIN},
      {"gain ngf32 4blk", 32, 4, 32, 2, 2, SSCOR_GEN_OUT_GAIN},
      {"gain ngf8 2blk long", 8, 2, 8, 8, 8, SSCOR_GEN_OUT_GAIN},
      {"residual ngf8 2blk long", 8, 2, 8, 8, 8, SSCOR_GEN_OUT_RESIDUAL},
  };
  int nc = (int)(sizeof cands / sizeof cands[0]);
  size_t pp = (size_t)d.P * d.P;
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("%d training pairs, %d test patches, %d px, %d threads\n\n", d.n_train, d.n_test, d.P, threads);
  printf("| candidate | epochs | train s | ms/iter | seam ratio | fidelity %% | error vs truth %% |\n");
  printf("|---|---|---|---|---|---|---|\n");
  scores in = evaluate(&d, d.sx, d.sx);
  printf("| input (no correction) | - | - | - | %.2f | %.2f | %.2f |\n", in.seam / in.ref, 100 * in.fid, 100 * in.err);
  float *out = malloc((size_t)d.n_test * pp * 4);
  for (int ci = 0; ci < nc; ci++) {
    if (only >= 0 && ci != only) continue;
    const candidate *k = &cands[ci];
    sscor_train_config cfg;
    sscor_train_preset("cpu", 1, &cfg);
    cfg.gen = sscor_gen_config(1, 1, k->ngf, k->blocks, k->out);
    cfg.disc = sscor_disc_config(1, k->ndf, 3);
    cfg.patch = d.P;
    cfg.epochs = k->epochs;
    cfg.epochs_decay = k->decay;
    sscor_pairs pairs = {d.tx, d.ty, d.n_train, 1, d.P};
    sscor_trainer *t;
    if (sscor_trainer_create(&cfg, &pairs, &t) != SSCOR_OK) {
      fprintf(stderr, "%s: %s\n", k->name, sscor_last_error());
      return 1;
    }
    double t0 = now_s();
    if (sscor_trainer_run(t, NULL, NULL) != SSCOR_OK) {
      fprintf(stderr, "%s: %s\n", k->name, sscor_last_error());
      return 1;
    }
    double secs = now_s() - t0;
    sscor_engine *e;
    sscor_net_ws *ws;
    sscor_engine_create(SSCOR_BACKEND_BEST, &e);
    if (sscor_net_ws_create(sscor_trainer_corrector(t), e, 1, d.P, d.P, 0, &ws) != SSCOR_OK) {
      fprintf(stderr, "%s\n", sscor_last_error());
      return 1;
    }
    for (int i = 0; i < d.n_test; i++) {
      sscor_tensor_import(sscor_net_ws_input(ws), d.sx + i * pp);
      sscor_net_forward(ws, sscor_net_ws_input(ws));
      sscor_tensor_export(sscor_net_ws_output(ws), out + i * pp);
    }
    scores s = evaluate(&d, out, d.sx);
    printf("| %s | %d+%d | %.0f | %.1f | %.2f | %.2f | %.2f |\n", k->name, k->epochs, k->decay, secs,
           1e3 * secs / (double)t->step, s.seam / s.ref, 100 * s.fid, 100 * s.err);
    fflush(stdout);
    sscor_net_ws_destroy(ws);
    sscor_engine_destroy(e);
    sscor_trainer_destroy(t);
  }
  free(out);
  return 0;
}
