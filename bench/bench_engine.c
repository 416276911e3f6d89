/* Engine speed: generator inference and one CycleGAN training iteration for
 * the paper network (256^2 and 128^2, RGB) and the cpu preset (gray), plus
 * the machine's fp32 peak from a oneDNN sgemm. Medians of several runs.
 *
 *   bench_engine [--threads N] [--reps N] [--train-reps N] [--out results.tsv]
 *                [--dump DIR] [--profile] [--no-train]
 *
 * --out writes the rows as TSV for bench/bench_torch.py, which runs the same
 * networks in PyTorch and prints both side by side (bench/run_engine.sh runs
 * the two in one go). --dump DIR writes the paper generator's weights, input
 * and output at 256^2 so the PyTorch side can check it computes the same.
 * --profile prints the engine's per-op table for each forward pass. */
#include <dnnl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cpu/cpu_kernels.h"
#include "kernels.h"
#include "layers.h"
#include "nets.h"
#include "trainer.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_d);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void die(const char *what) {
  fprintf(stderr, "bench_engine: %s: %s\n", what, sscor_last_error());
  exit(1);
}

static FILE *tsv;
static int profile;

static void row(const char *name, const char *what, double seconds, double mpix, double gflop) {
  printf("%-22s %-10s %10.1f ms %8.3f MP/s %8.1f GFLOP/s\n", name, what, seconds * 1e3,
         mpix > 0 ? mpix / seconds : 0, gflop / seconds);
  if (tsv) fprintf(tsv, "%s\t%s\t%.6f\t%.6f\t%.3f\n", name, what, seconds, mpix, gflop);
  fflush(stdout);
}

static double sgemm_peak(int reps) {
  const int n = 2048;
  float *a = malloc((size_t)n * n * 4), *b = malloc((size_t)n * n * 4), *c = malloc((size_t)n * n * 4);
  for (size_t i = 0; i < (size_t)n * n; i++) {
    a[i] = (float)(i % 7) * 0.1f;
    b[i] = (float)(i % 5) * 0.1f;
    c[i] = 0;
  }
  sscor_kernels_apply_threads();
  double t[32];
  dnnl_sgemm('N', 'N', n, n, n, 1.0f, a, n, b, n, 0.0f, c, n); /* warm-up */
  for (int r = 0; r < reps; r++) {
    double t0 = now_s();
    dnnl_sgemm('N', 'N', n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    t[r] = now_s() - t0;
  }
  free(a);
  free(b);
  free(c);
  double s = median(t, reps);
  double gf = 2.0 * n * n * (double)n / 1e9;
  printf("%-22s %-10s %10.1f ms %17s %8.1f GFLOP/s\n", "sgemm 2048^3", "peak", s * 1e3, "", gf / s);
  if (tsv) fprintf(tsv, "sgemm 2048^3\tpeak\t%.6f\t0\t%.3f\n", s, gf);
  return gf / s;
}

static void write_f32(const char *dir, const char *name, const float *v, size_t n) {
  char p[1024];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "wb");
  if (!f || fwrite(v, 4, n, f) != n) {
    fprintf(stderr, "bench_engine: cannot write %s\n", p);
    exit(1);
  }
  fclose(f);
}

/* Generator inference: median time of reps forward passes. */
static void bench_forward(sscor_engine *e, const char *name, const sscor_net_config *cfg, int P, int reps,
                          const char *dump) {
  sscor_net *net;
  sscor_net_ws *ws;
  if (sscor_net_create(cfg, &net) != SSCOR_OK) die(name);
  sscor_rng rng;
  sscor_rng_seed(&rng, 42);
  sscor_net_init(net, &rng);
  if (cfg->output != SSCOR_GEN_OUT_TANH) /* a trained net, not the identity start */
    for (size_t i = 0; i < net->n_params; i++)
      if (net->params[i] == 0) net->params[i] = sscor_rng_normal(&rng, 0, 0.02f);
  if (sscor_net_ws_create(net, e, 1, P, P, 0, &ws) != SSCOR_OK) die(name);
  size_t nin = (size_t)cfg->in_ch * P * P;
  float *x = malloc(nin * 4);
  for (size_t i = 0; i < nin; i++) x[i] = sscor_rng_uniform(&rng) * 2 - 1;
  sscor_tensor_import(sscor_net_ws_input(ws), x);
  sscor_engine_freeze_weights(e, 1);
  double t[64];
  if (sscor_net_forward(ws, sscor_net_ws_input(ws)) != SSCOR_OK) die(name); /* warm-up: primitives, pages */
  for (int r = 0; r < reps; r++) {
    double t0 = now_s();
    if (sscor_net_forward(ws, sscor_net_ws_input(ws)) != SSCOR_OK) die(name);
    t[r] = now_s() - t0;
  }
  if (profile) {
    sscor_engine_reset_stats(e);
    sscor_engine_set_profiling(e, 1);
    if (sscor_net_forward(ws, sscor_net_ws_input(ws)) != SSCOR_OK) die(name);
    sscor_engine_set_profiling(e, 0);
    printf("profile of one forward pass, %s:\n", name);
    sscor_engine_print_profile(e, stdout);
  }
  sscor_engine_freeze_weights(e, 0);
  row(name, "forward", median(t, reps), (double)P * P / 1e6, sscor_net_flops(cfg, 1, P, P) / 1e9);
  printf("%-22s %-10s %10.1f MB of activations (inference workspace)\n", name, "memory",
         (double)sscor_net_ws_bytes(ws) / 1048576.0);
  if (dump) {
    size_t nout = sscor_tensor_numel(sscor_net_ws_output(ws));
    float *y = malloc(nout * 4);
    sscor_tensor_export(sscor_net_ws_output(ws), y);
    write_f32(dump, "gen_params.f32", net->params, net->n_params);
    write_f32(dump, "gen_x.f32", x, nin);
    write_f32(dump, "gen_y.f32", y, nout);
    char p[1024];
    snprintf(p, sizeof p, "%s/gen_config.txt", dump);
    FILE *f = fopen(p, "w");
    if (f) {
      fprintf(f, "%d %d %d %d %d %d\n", cfg->in_ch, cfg->out_ch, cfg->width, cfg->depth, (int)cfg->output, P);
      fclose(f);
    }
    free(y);
  }
  free(x);
  sscor_net_ws_destroy(ws);
  sscor_net_destroy(net);
}

/* One CycleGAN iteration (G step + D step, batch 1), median of reps. */
static void bench_train(const char *name, sscor_train_config cfg, int reps) {
  int P = cfg.patch, c = cfg.gen.in_ch;
  size_t n = (size_t)c * P * P;
  float *x = malloc(2 * n * 4), *y = malloc(2 * n * 4);
  sscor_rng rng;
  sscor_rng_seed(&rng, 9);
  for (size_t i = 0; i < 2 * n; i++) {
    x[i] = sscor_rng_uniform(&rng) * 2 - 1;
    y[i] = sscor_rng_uniform(&rng) * 2 - 1;
  }
  sscor_pairs pairs = {x, y, 2, c, P};
  cfg.epochs = 1000;
  sscor_trainer *t;
  if (sscor_trainer_create(&cfg, &pairs, &t) != SSCOR_OK) die(name);
  double ts[64];
  if (sscor_trainer_step(t, NULL) != SSCOR_OK) die(name); /* warm-up */
  for (int r = 0; r < reps; r++) {
    double t0 = now_s();
    if (sscor_trainer_step(t, NULL) != SSCOR_OK) die(name);
    ts[r] = now_s() - t0;
  }
  if (profile) {
    sscor_engine_reset_stats(t->engine);
    sscor_engine_set_profiling(t->engine, 1);
    double t0 = now_s();
    if (sscor_trainer_step(t, NULL) != SSCOR_OK) die(name);
    printf("profile of one training iteration, %s (%.1f ms):\n", name, (now_s() - t0) * 1e3);
    sscor_engine_set_profiling(t->engine, 0);
    sscor_engine_print_profile(t->engine, stdout);
  }
  /* convolution FLOPs of one iteration, as the engine counts them */
  sscor_engine_reset_stats(t->engine);
  if (sscor_trainer_step(t, NULL) != SSCOR_OK) die(name);
  double gf = sscor_engine_flops(t->engine) / 1e9;
  row(name, "train iter", median(ts, reps), 0, gf);
  sscor_trainer_destroy(t);
  free(x);
  free(y);
}

int main(int argc, char **argv) {
  int threads = 2, reps = 5, train_reps = 3, no_train = 0;
  const char *out = NULL, *dump = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--train-reps") && i + 1 < argc) train_reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
    else if (!strcmp(argv[i], "--dump") && i + 1 < argc) dump = argv[++i];
    else if (!strcmp(argv[i], "--profile")) profile = 1;
    else if (!strcmp(argv[i], "--no-train")) no_train = 1;
    else {
      fprintf(stderr, "usage: %s [--threads N] [--reps N] [--train-reps N] [--out results.tsv] [--dump DIR] [--profile] [--no-train]\n",
              argv[0]);
      return 2;
    }
  }
  if (reps < 1 || reps > 64 || train_reps < 1 || train_reps > 64) {
    fprintf(stderr, "bench_engine: reps must be 1..64\n");
    return 2;
  }
  if (dump && mkdir(dump, 0755) != 0 && errno != EEXIST) {
    perror(dump);
    return 1;
  }
  sscor_kernels_set_threads(threads);
  if (out && !(tsv = fopen(out, "w"))) {
    perror(out);
    return 1;
  }
  printf("engine: oneDNN backend, %d threads, median of %d (inference) / %d (training) runs\n", threads, reps,
         train_reps);
  sgemm_peak(reps);
  sscor_engine *e;
  if (sscor_engine_create(SSCOR_BACKEND_BEST, &e) != SSCOR_OK) die("engine");
  sscor_train_config paper, cpu;
  if (sscor_train_preset("paper", 3, &paper) != SSCOR_OK || sscor_train_preset("cpu", 1, &cpu) != SSCOR_OK)
    die("presets");
  bench_forward(e, "paper G 3ch 256", &paper.gen, 256, reps, dump);
  bench_forward(e, "paper G 3ch 128", &paper.gen, 128, reps, NULL);
  char name[64];
  snprintf(name, sizeof name, "cpu G 1ch %d", cpu.patch);
  bench_forward(e, name, &cpu.gen, cpu.patch, reps, NULL);
  snprintf(name, sizeof name, "cpu G 1ch 256");
  bench_forward(e, name, &cpu.gen, 256, reps, NULL);
  sscor_engine_destroy(e);
  if (no_train) return 0;
  paper.backend = cpu.backend = SSCOR_BACKEND_BEST;
  if (!getenv("BENCH_SKIP256")) bench_train("paper G 3ch 256", paper, train_reps);
  paper.patch = 128;
  bench_train("paper G 3ch 128", paper, train_reps);
  snprintf(name, sizeof name, "cpu G 1ch %d", cpu.patch);
  bench_train(name, cpu, train_reps);
  if (tsv) fclose(tsv);
  return 0;
}
