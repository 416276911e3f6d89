/* Per-op speed of the compute core: the paper generator's convolution
 * shapes at a given patch size (default 256, ngf 64), each direction, on the
 * oneDNN backend and (with --ref) on the plain-C reference, plus a whole
 * generator forward and forward+backward built from the layer API with
 * random weights. Prints tables; medians of --reps runs.
 *
 *   build/bench/bench_layers [--size 256] [--ngf 64] [--blocks 9]
 *                                   [--reps 5] [--threads 2] [--ref]
 *                                   [--ops-only | --generator-only] */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels.h"
#include "layers.h"
#include "tensor.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}
static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}
static double median(double *v, int n) {
  qsort(v, n, sizeof *v, cmp_d);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}
static void die(const char *what) {
  fprintf(stderr, "%s: %s\n", what, sscor_last_error());
  exit(1);
}
#define TRY(x) \
  do {         \
    if ((x) != SSCOR_OK) die(#x); \
  } while (0)

static float *randw(size_t n, float scale) {
  float *p = malloc(n * sizeof *p);
  unsigned s = 12345;
  for (size_t i = 0; i < n; i++) {
    s = s * 1103515245u + 12345u;
    p[i] = scale * (((s >> 8) & 0xffff) / 32768.f - 1.f);
  }
  return p;
}

typedef struct {
  const char *name;
  int deconv, hin, win;
  sscor_conv p;
} shape;

/* Times fwd, bwd data, bwd weights of one shape on engine e; ms into t[3]. */
static void time_shape(sscor_engine *e, const shape *s, int reps, double t[3]) {
  sscor_arena a;
  sscor_arena_init(&a, 0);
  sscor_layout L = sscor_engine_layout(e);
  int ho = s->deconv ? sscor_deconv2d_out_size(&s->p, s->hin) : sscor_conv2d_out_size(&s->p, s->hin);
  int wo = s->deconv ? sscor_deconv2d_out_size(&s->p, s->win) : sscor_conv2d_out_size(&s->p, s->win);
  sscor_tensor x, y, dx, dy;
  TRY(sscor_tensor_alloc(&a, &x, 1, s->p.cin, s->hin, s->win, L));
  TRY(sscor_tensor_alloc(&a, &dx, 1, s->p.cin, s->hin, s->win, L));
  TRY(sscor_tensor_alloc(&a, &y, 1, s->p.cout, ho, wo, L));
  TRY(sscor_tensor_alloc(&a, &dy, 1, s->p.cout, ho, wo, L));
  size_t nw = (size_t)s->p.cin * s->p.cout * s->p.k * s->p.k;
  float *w = randw(nw, 0.05f), *b = randw(s->p.cout, 0.1f), *dw = calloc(nw, 4), *db = calloc(s->p.cout, 4);
  float *xin = randw(sscor_tensor_numel(&x), 1.f), *dyin = randw(sscor_tensor_numel(&dy), 1.f);
  sscor_tensor_import(&x, xin);
  sscor_tensor_import(&dy, dyin);
  double v[3][64];
  for (int r = 0; r < reps + 1; r++) { /* first run builds primitives */
    double t0 = now_s();
    if (s->deconv) TRY(sscor_deconv2d_forward(e, &s->p, &x, w, b, &y));
    else TRY(sscor_conv2d_forward(e, &s->p, &x, w, b, &y));
    double t1 = now_s();
    if (s->deconv) TRY(sscor_deconv2d_backward_data(e, &s->p, w, &dy, &dx));
    else TRY(sscor_conv2d_backward_data(e, &s->p, w, &dy, &dx));
    double t2 = now_s();
    if (s->deconv) TRY(sscor_deconv2d_backward_weights(e, &s->p, &x, &dy, dw, db));
    else TRY(sscor_conv2d_backward_weights(e, &s->p, &x, &dy, dw, db));
    double t3 = now_s();
    if (r > 0 || reps == 1) {
      int i = r > 0 ? r - 1 : 0;
      v[0][i] = t1 - t0, v[1][i] = t2 - t1, v[2][i] = t3 - t2;
    }
  }
  for (int d = 0; d < 3; d++) t[d] = median(v[d], reps) * 1e3;
  free(w), free(b), free(dw), free(db), free(xin), free(dyin);
  sscor_arena_free(&a);
}

/* ---- a ResNet generator from the layer API (benchmark only) ---- */

typedef struct {
  sscor_conv p;
  int deconv, pad; /* reflect pad before, 0 none */
  int norm;        /* instance norm + act after (else act fused in conv) */
  sscor_act act;
  int res_begin, res_end; /* residual block boundaries */
  float *w, *b, *dw, *db;
  sscor_tensor in, padded, out, act_out, dact, dout, dpadded, din;
  float *mean, *rstd;
} glayer;

typedef struct {
  int nl;
  glayer l[64];
} gen;

static void gen_add(gen *g, int cin, int cout, int k, int s, int pad, int refl, int deconv,
                    int norm, sscor_act act) {
  glayer *l = &g->l[g->nl++];
  memset(l, 0, sizeof *l);
  l->p = (sscor_conv){cin, cout, k, s, pad, deconv ? 1 : 0, norm ? SSCOR_ACT_NONE : act};
  l->deconv = deconv, l->pad = refl, l->norm = norm, l->act = act;
}

static void gen_build(gen *g, sscor_engine *e, sscor_arena *a, int ngf, int blocks, int size) {
  g->nl = 0;
  gen_add(g, 3, ngf, 7, 1, 0, 3, 0, 1, SSCOR_ACT_RELU);
  gen_add(g, ngf, 2 * ngf, 3, 2, 1, 0, 0, 1, SSCOR_ACT_RELU);
  gen_add(g, 2 * ngf, 4 * ngf, 3, 2, 1, 0, 0, 1, SSCOR_ACT_RELU);
  for (int i = 0; i < blocks; i++) {
    gen_add(g, 4 * ngf, 4 * ngf, 3, 1, 0, 1, 0, 1, SSCOR_ACT_RELU);
    g->l[g->nl - 1].res_begin = 1;
    gen_add(g, 4 * ngf, 4 * ngf, 3, 1, 0, 1, 0, 1, SSCOR_ACT_NONE);
    g->l[g->nl - 1].res_end = 1;
  }
  gen_add(g, 4 * ngf, 2 * ngf, 3, 2, 1, 0, 1, 1, SSCOR_ACT_RELU);
  gen_add(g, 2 * ngf, ngf, 3, 2, 1, 0, 1, 1, SSCOR_ACT_RELU);
  gen_add(g, ngf, 3, 7, 1, 0, 3, 0, 0, SSCOR_ACT_TANH);
  sscor_layout L = sscor_engine_layout(e);
  int h = size;
  for (int i = 0; i < g->nl; i++) {
    glayer *l = &g->l[i];
    int hp = h + 2 * l->pad;
    int ho = l->deconv ? sscor_deconv2d_out_size(&l->p, hp) : sscor_conv2d_out_size(&l->p, hp);
    TRY(sscor_tensor_alloc(a, &l->in, 1, l->p.cin, h, h, L));
    TRY(sscor_tensor_alloc(a, &l->din, 1, l->p.cin, h, h, L));
    if (l->pad) {
      TRY(sscor_tensor_alloc(a, &l->padded, 1, l->p.cin, hp, hp, L));
      TRY(sscor_tensor_alloc(a, &l->dpadded, 1, l->p.cin, hp, hp, L));
    }
    TRY(sscor_tensor_alloc(a, &l->out, 1, l->p.cout, ho, ho, L));
    TRY(sscor_tensor_alloc(a, &l->dout, 1, l->p.cout, ho, ho, L));
    TRY(sscor_tensor_alloc(a, &l->act_out, 1, l->p.cout, ho, ho, L));
    TRY(sscor_tensor_alloc(a, &l->dact, 1, l->p.cout, ho, ho, L));
    TRY(sscor_arena_alloc(a, 4 * l->p.cout, (void **)&l->mean));
    TRY(sscor_arena_alloc(a, 4 * l->p.cout, (void **)&l->rstd));
    size_t nw = (size_t)l->p.cin * l->p.cout * l->p.k * l->p.k;
    l->w = randw(nw, 0.02f), l->b = randw(l->p.cout, 0.01f);
    TRY(sscor_arena_alloc(a, 4 * nw, (void **)&l->dw));
    TRY(sscor_arena_alloc(a, 4 * l->p.cout, (void **)&l->db));
    h = ho;
  }
}

/* Forward; layer i's input is layer i-1's act_out (+ the residual add). */
static void gen_forward(gen *g, sscor_engine *e, const sscor_tensor *x) {
  const sscor_tensor *cur = x;
  const sscor_tensor *res_in = NULL;
  for (int i = 0; i < g->nl; i++) {
    glayer *l = &g->l[i];
    if (l->res_begin) res_in = cur;
    sscor_tensor_convert(cur, &l->in);
    const sscor_tensor *cin = &l->in;
    if (l->pad) {
      TRY(sscor_reflect_pad_forward(e, l->pad, &l->in, &l->padded));
      cin = &l->padded;
    }
    if (l->deconv) TRY(sscor_deconv2d_forward(e, &l->p, cin, l->w, l->b, &l->out));
    else TRY(sscor_conv2d_forward(e, &l->p, cin, l->w, l->b, &l->out));
    if (l->norm) TRY(sscor_instnorm_forward(e, &l->out, &l->act_out, l->mean, l->rstd, l->act));
    else sscor_tensor_convert(&l->out, &l->act_out);
    if (l->res_end) TRY(sscor_add(e, &l->act_out, res_in, &l->act_out));
    cur = &l->act_out;
  }
}

static void gen_backward(gen *g, sscor_engine *e, const sscor_tensor *dy) {
  sscor_tensor_convert(dy, &g->l[g->nl - 1].dact);
  const sscor_tensor *res_grad = NULL;
  for (int i = g->nl - 1; i >= 0; i--) {
    glayer *l = &g->l[i];
    if (l->norm)
      TRY(sscor_instnorm_backward(e, &l->out, &l->act_out, l->mean, l->rstd, l->act, &l->dact, &l->dout));
    else
      TRY(sscor_act_backward(e, l->p.act, &l->out, &l->dact, &l->dout));
    if (l->res_end) res_grad = &l->dact;
    const sscor_tensor *cin = l->pad ? &l->padded : &l->in;
    sscor_tensor *dcin = l->pad ? &l->dpadded : &l->din;
    sscor_conv pb = l->p;
    pb.act = SSCOR_ACT_NONE;
    if (l->deconv) {
      TRY(sscor_deconv2d_backward_weights(e, &pb, cin, &l->dout, l->dw, l->db));
      TRY(sscor_deconv2d_backward_data(e, &pb, l->w, &l->dout, dcin));
    } else {
      TRY(sscor_conv2d_backward_weights(e, &pb, cin, &l->dout, l->dw, l->db));
      if (i > 0) TRY(sscor_conv2d_backward_data(e, &pb, l->w, &l->dout, dcin));
    }
    if (i == 0) break;
    if (l->pad) TRY(sscor_reflect_pad_backward(e, l->pad, &l->dpadded, &l->din));
    if (l->res_begin) TRY(sscor_add(e, &l->din, res_grad, &l->din));
    sscor_tensor_convert(&l->din, &g->l[i - 1].dact);
  }
}

int main(int argc, char **argv) {
  int size = 256, ngf = 64, blocks = 9, reps = 5, threads = 0, ref = 0, ops = 1, whole = 1;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--size") && i + 1 < argc) size = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--ngf") && i + 1 < argc) ngf = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--blocks") && i + 1 < argc) blocks = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--ref")) ref = 1;
    else if (!strcmp(argv[i], "--ops-only")) whole = 0;
    else if (!strcmp(argv[i], "--generator-only")) ops = 0;
    else {
      fprintf(stderr, "usage: %s [--size N] [--ngf N] [--blocks N] [--reps N] [--threads N] [--ref] [--ops-only | --generator-only]\n", argv[0]);
      return 2;
    }
  }
  if (size < 8 || size % 4 || ngf < 1 || blocks < 0 || blocks > 20 || reps < 1 || reps > 64) {
    fprintf(stderr, "bad arguments\n");
    return 2;
  }
  sscor_kernels_set_threads(threads);
  printf("threads %d, patch %d, ngf %d, %d blocks, median of %d\n", sscor_kernels_threads(), size,
         ngf, blocks, reps);
  sscor_engine *dn, *rf = NULL;
  TRY(sscor_engine_create(SSCOR_BACKEND_DNNL, &dn));
  if (ref) TRY(sscor_engine_create(SSCOR_BACKEND_REF, &rf));
  const int q = size / 4;
  shape shapes[] = {
      {"c7 in (3->ngf)", 0, size + 6, size + 6, {3, ngf, 7, 1, 0, 0, SSCOR_ACT_NONE}},
      {"down1 s2", 0, size, size, {ngf, 2 * ngf, 3, 2, 1, 0, SSCOR_ACT_NONE}},
      {"down2 s2", 0, size / 2, size / 2, {2 * ngf, 4 * ngf, 3, 2, 1, 0, SSCOR_ACT_NONE}},
      {"res 3x3", 0, q + 2, q + 2, {4 * ngf, 4 * ngf, 3, 1, 0, 0, SSCOR_ACT_NONE}},
      {"up1 deconv", 1, q, q, {4 * ngf, 2 * ngf, 3, 2, 1, 1, SSCOR_ACT_NONE}},
      {"up2 deconv", 1, size / 2, size / 2, {2 * ngf, ngf, 3, 2, 1, 1, SSCOR_ACT_NONE}},
      {"c7 out (ngf->3)", 0, size + 6, size + 6, {ngf, 3, 7, 1, 0, 0, SSCOR_ACT_TANH}},
      {"c7 out (ngf->1)", 0, size + 6, size + 6, {ngf, 1, 7, 1, 0, 0, SSCOR_ACT_TANH}},
      /* PatchGAN discriminator (ndf = ngf) */
      {"D c4 s2 (3->ndf)", 0, size, size, {3, ngf, 4, 2, 1, 0, SSCOR_ACT_LRELU}},
      {"D c4 s2 (ndf->2)", 0, size / 2, size / 2, {ngf, 2 * ngf, 4, 2, 1, 0, SSCOR_ACT_NONE}},
      {"D c4 s2 (2->4)", 0, size / 4, size / 4, {2 * ngf, 4 * ngf, 4, 2, 1, 0, SSCOR_ACT_NONE}},
      {"D c4 s1 (4->8)", 0, size / 8, size / 8, {4 * ngf, 8 * ngf, 4, 1, 1, 0, SSCOR_ACT_NONE}},
      {"D c4 s1 (8->1)", 0, size / 8 - 1, size / 8 - 1, {8 * ngf, 1, 4, 1, 1, 0, SSCOR_ACT_NONE}},
  };
  if (ops) printf("\n%-17s %7s | %-26s | %-26s\n", "layer", "GFLOP", "oneDNN ms (GFLOP/s)", ref ? "reference ms (GFLOP/s)" : "");
  if (ops) printf("%-17s %7s | %8s %8s %8s | %8s %8s %8s\n", "", "", "fwd", "bwd-d", "bwd-w", ref ? "fwd" : "",
         ref ? "bwd-d" : "", ref ? "bwd-w" : "");
  for (size_t i = 0; ops && i < sizeof shapes / sizeof shapes[0]; i++) {
    shape *s = &shapes[i];
    double gf = (s->deconv ? sscor_deconv2d_flops(&s->p, 1, s->hin, s->win)
                           : sscor_conv2d_flops(&s->p, 1, sscor_conv2d_out_size(&s->p, s->hin),
                                                sscor_conv2d_out_size(&s->p, s->win))) * 1e-9;
    double t[3], tr[3];
    time_shape(dn, s, reps, t);
    printf("%-17s %7.3f | %8.2f %8.2f %8.2f |", s->name, gf, t[0], t[1], t[2]);
    if (ref) {
      time_shape(rf, s, 1, tr);
      printf(" %8.0f %8.0f %8.0f", tr[0], tr[1], tr[2]);
    }
    printf("\n%-17s %7s | %8.0f %8.0f %8.0f |", "", "GFLOP/s", gf / t[0] * 1e3, gf / t[1] * 1e3,
           gf / t[2] * 1e3);
    if (ref) printf(" %8.2f %8.2f %8.2f", gf / tr[0] * 1e3, gf / tr[1] * 1e3, gf / tr[2] * 1e3);
    printf("\n");
  }

  if (!whole) {
    sscor_engine_destroy(dn);
    if (rf) sscor_engine_destroy(rf);
    return 0;
  }
  /* whole generator */
  sscor_arena a;
  sscor_arena_init(&a, 0);
  static gen g;
  gen_build(&g, dn, &a, ngf, blocks, size);
  sscor_tensor x, dy;
  TRY(sscor_tensor_alloc(&a, &x, 1, 3, size, size, sscor_engine_layout(dn)));
  TRY(sscor_tensor_alloc(&a, &dy, 1, 3, size, size, sscor_engine_layout(dn)));
  float *xin = randw(sscor_tensor_numel(&x), 1.f);
  sscor_tensor_import(&x, xin);
  sscor_tensor_import(&dy, xin);
  double tf[64], tb[64], tfz[64];
  gen_forward(&g, dn, &x);
  gen_backward(&g, dn, &dy);
  sscor_engine_reset_stats(dn);
  sscor_engine_set_profiling(dn, 1);
  for (int r = 0; r < reps; r++) {
    double t0 = now_s();
    gen_forward(&g, dn, &x);
    double t1 = now_s();
    gen_backward(&g, dn, &dy);
    double t2 = now_s();
    tf[r] = t1 - t0, tb[r] = t2 - t0;
  }
  printf("\nper-op profile, %d x (generator forward + backward):\n", reps);
  sscor_engine_print_profile(dn, stdout);
  sscor_engine_set_profiling(dn, 0);
  sscor_engine_reset_stats(dn);
  sscor_engine_freeze_weights(dn, 1);
  gen_forward(&g, dn, &x);
  sscor_engine_reset_stats(dn);
  for (int r = 0; r < reps; r++) {
    double t0 = now_s();
    gen_forward(&g, dn, &x);
    tfz[r] = now_s() - t0;
  }
  double fwd_flops = sscor_engine_flops(dn) / reps;
  double tfd[64];
  sscor_engine_set_winograd(dn, 0);
  sscor_engine_freeze_weights(dn, 1);
  gen_forward(&g, dn, &x);
  for (int r = 0; r < reps; r++) {
    double t0 = now_s();
    gen_forward(&g, dn, &x);
    tfd[r] = now_s() - t0;
  }
  sscor_engine_freeze_weights(dn, 0);
  double mfd = median(tfd, reps);
  double mf = median(tf, reps), mb = median(tb, reps), mfz = median(tfz, reps);
  printf("\ngenerator %dx%d ngf %d, %d blocks: %.2f GFLOP forward\n", size, size, ngf, blocks, fwd_flops * 1e-9);
  printf("  forward (inference: frozen, Winograd) %6.1f ms  %6.1f GFLOP/s  %6.3f Mpx/s\n", mfz * 1e3,
         fwd_flops / mfz * 1e-9, (double)size * size / mfz * 1e-6);
  printf("  forward (inference: frozen, direct)   %6.1f ms  %6.1f GFLOP/s  %6.3f Mpx/s\n", mfd * 1e3,
         fwd_flops / mfd * 1e-9, (double)size * size / mfd * 1e-6);
  printf("  forward (training)                    %6.1f ms  %6.1f GFLOP/s\n", mf * 1e3, fwd_flops / mf * 1e-9);
  printf("  forward + backward                    %6.1f ms  %6.1f GFLOP/s\n", mb * 1e3, 3 * fwd_flops / mb * 1e-9);
  printf("  (GFLOP/s: direct-convolution FLOPs over wall time, so Winograd shows above peak)\n");
  free(xin);
  for (int i = 0; i < g.nl; i++) free(g.l[i].w), free(g.l[i].b);
  sscor_arena_free(&a);
  sscor_engine_destroy(dn);
  if (rf) sscor_engine_destroy(rf);
  return 0;
}
