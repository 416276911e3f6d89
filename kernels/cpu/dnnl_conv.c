/* oneDNN 2.6 convolutions and transposed convolutions on NHWC activations.
 *
 * One cache entry per (direction, op, shape, activation): the primitive
 * descriptor and primitive are created once and executed many times.
 * Weights arrive in PyTorch order (OIHW / IOHW) and are reordered into the
 * layout the primitive chose ("any"); weight gradients come back through a
 * reorder with a sum post-op, which is exactly the += the API promises.
 * Scratchpads are user-managed: one buffer in the context, grown when a new
 * shape needs more, so executing never allocates. */
#include <dnnl.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_kernels.h"

enum { DIR_FWD, DIR_BWD_DATA, DIR_BWD_W };

typedef struct {
  int dir, deconv, has_bias;
  int threads; /* oneDNN fixes the team size when a primitive is created */
  int wino;    /* forward by Winograd F(4x4, 3x3) on nChw16c (inference only) */
  sscor_conv p;
  int n, hi, wi, ho, wo; /* conv input side (hi, wi) and output side (ho, wo) */
} conv_key;

typedef struct {
  conv_key key;
  dnnl_primitive_t prim;
  dnnl_memory_desc_t scratch_md;
  size_t scratch_bytes;
  /* activations (user NHWC), bias / bias grad (plain) */
  dnnl_memory_t m_src, m_dst, m_bias;
  /* weights: user plain memory, the primitive's layout and the reorder
   * between them (NULL when the layouts match) */
  dnnl_memory_t m_wuser, m_wprim;
  dnnl_primitive_t wreorder;
  void *wbuf;        /* storage of m_wprim when a reorder is needed */
  size_t wbytes;
  float *bias_grad;  /* backward weights: temp diff bias */
  dnnl_memory_t m_scratch;
  /* Winograd entries run on blocked copies of src and dst. */
  dnnl_memory_t m_src_blk, m_dst_blk;
  dnnl_primitive_t src_to_blk, blk_to_dst;
  void *src_blk, *dst_blk;
  int wino; /* really Winograd: key.wino may be set on a direct fallback */
} conv_entry;

typedef struct {
  const float *src;
  const conv_entry *entry;
  void *buf;
} frozen_weight;

struct sscor_dnnl {
  dnnl_engine_t eng;
  dnnl_stream_t stream;
  conv_entry **entries;
  int n_entries, cap_entries;
  void *scratch;
  size_t scratch_bytes;
  int frozen, winograd;
  long winograd_runs; /* forwards that really ran by Winograd */
  frozen_weight *fw;
  int n_fw, cap_fw;
};

static int fail_dnnl(const char *what, dnnl_status_t st) {
  return sscor_kernels_set_error("oneDNN %s failed (status %d)", what, (int)st);
}

#define DN(call, what)                           \
  do {                                           \
    dnnl_status_t st_ = (call);                  \
    if (st_ != dnnl_success) { rc = fail_dnnl(what, st_); goto out; } \
  } while (0)

int dnnl_ctx_create(sscor_dnnl **out) {
  sscor_dnnl *d = calloc(1, sizeof *d);
  if (!d) return sscor_kernels_set_error("out of memory");
  dnnl_status_t st = dnnl_engine_create(&d->eng, dnnl_cpu, 0);
  if (st != dnnl_success) {
    free(d);
    return fail_dnnl("engine creation", st);
  }
  st = dnnl_stream_create(&d->stream, d->eng, dnnl_stream_default_flags);
  if (st != dnnl_success) {
    dnnl_engine_destroy(d->eng);
    free(d);
    return fail_dnnl("stream creation", st);
  }
  *out = d;
  return 0;
}

static void entry_destroy(conv_entry *e) {
  if (!e) return;
  if (e->prim) dnnl_primitive_destroy(e->prim);
  if (e->wreorder) dnnl_primitive_destroy(e->wreorder);
  if (e->src_to_blk) dnnl_primitive_destroy(e->src_to_blk);
  if (e->blk_to_dst) dnnl_primitive_destroy(e->blk_to_dst);
  dnnl_memory_t ms[] = {e->m_src, e->m_dst, e->m_bias, e->m_wuser, e->m_wprim, e->m_scratch,
                        e->m_src_blk, e->m_dst_blk};
  for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++)
    if (ms[i]) dnnl_memory_destroy(ms[i]);
  free(e->wbuf);
  free(e->bias_grad);
  free(e->src_blk);
  free(e->dst_blk);
  free(e);
}

static void clear_frozen(sscor_dnnl *d) {
  for (int i = 0; i < d->n_fw; i++) free(d->fw[i].buf);
  d->n_fw = 0;
}

void dnnl_ctx_destroy(sscor_dnnl *d) {
  if (!d) return;
  for (int i = 0; i < d->n_entries; i++) entry_destroy(d->entries[i]);
  free(d->entries);
  clear_frozen(d);
  free(d->fw);
  free(d->scratch);
  dnnl_stream_destroy(d->stream);
  dnnl_engine_destroy(d->eng);
  free(d);
}

void dnnl_ctx_freeze_weights(sscor_dnnl *d, int frozen) {
  clear_frozen(d);
  d->frozen = frozen;
}

void dnnl_ctx_set_winograd(sscor_dnnl *d, int on) { d->winograd = on; }
long dnnl_ctx_winograd_runs(const sscor_dnnl *d) { return d->winograd_runs; }

static void *aligned(size_t bytes) {
  void *p = NULL;
  if (posix_memalign(&p, 64, bytes ? bytes : 64)) return NULL;
  return p;
}

static dnnl_alg_kind_t act_alg(sscor_act act, float *alpha) {
  *alpha = 0.f;
  switch (act) {
  case SSCOR_ACT_RELU: return dnnl_eltwise_relu;
  case SSCOR_ACT_LRELU: *alpha = SSCOR_LRELU_SLOPE; return dnnl_eltwise_relu;
  case SSCOR_ACT_TANH: return dnnl_eltwise_tanh;
  case SSCOR_ACT_SIGMOID: return dnnl_eltwise_logistic;
  default: return dnnl_alg_kind_undef;
  }
}

/* Operation descriptor for one direction. */
static dnnl_status_t op_desc(const conv_key *k, int dir, void *desc, const dnnl_memory_desc_t *src,
                             const dnnl_memory_desc_t *w, const dnnl_memory_desc_t *b,
                             const dnnl_memory_desc_t *dst) {
  const sscor_conv *p = &k->p;
  dnnl_dims_t strides = {p->stride, p->stride};
  dnnl_dims_t pl = {p->pad, p->pad};
  dnnl_dims_t pr = {p->pad - p->out_pad, p->pad - p->out_pad};
  if (!k->deconv) {
    dnnl_convolution_desc_t *cd = desc;
    if (dir == DIR_FWD && k->wino)
      return dnnl_convolution_forward_desc_init(cd, dnnl_forward_inference,
                                                dnnl_convolution_winograd, src, w, b, dst,
                                                strides, pl, pr);
    if (dir == DIR_FWD)
      return dnnl_convolution_forward_desc_init(cd, dnnl_forward_training, dnnl_convolution_direct,
                                                src, w, b, dst, strides, pl, pr);
    if (dir == DIR_BWD_DATA)
      return dnnl_convolution_backward_data_desc_init(cd, dnnl_convolution_direct, src, w, dst,
                                                      strides, pl, pr);
    return dnnl_convolution_backward_weights_desc_init(cd, dnnl_convolution_direct, src, w, b,
                                                       dst, strides, pl, pr);
  }
  dnnl_deconvolution_desc_t *dd = desc;
  if (dir == DIR_FWD)
    return dnnl_deconvolution_forward_desc_init(dd, dnnl_forward_training,
                                                dnnl_deconvolution_direct, src, w, b, dst,
                                                strides, pl, pr);
  if (dir == DIR_BWD_DATA)
    return dnnl_deconvolution_backward_data_desc_init(dd, dnnl_deconvolution_direct, src, w, dst,
                                                      strides, pl, pr);
  return dnnl_deconvolution_backward_weights_desc_init(dd, dnnl_deconvolution_direct, src, w, b,
                                                       dst, strides, pl, pr);
}

#define MAX_ENTRIES 256

static int key_eq(const conv_key *a, const conv_key *b) {
  return a->dir == b->dir && a->deconv == b->deconv && a->has_bias == b->has_bias &&
         a->threads == b->threads && a->wino == b->wino &&
         a->p.cin == b->p.cin && a->p.cout == b->p.cout && a->p.k == b->p.k &&
         a->p.stride == b->p.stride && a->p.pad == b->p.pad && a->p.out_pad == b->p.out_pad &&
         (a->dir != DIR_FWD || a->p.act == b->p.act) && a->n == b->n && a->hi == b->hi &&
         a->wi == b->wi && a->ho == b->ho && a->wo == b->wo;
}

/* Builds the entry for key k. On failure returns NULL with the error set. */
static conv_entry *entry_create(sscor_dnnl *d, const conv_key *k) {
  int rc = 0;
  const sscor_conv *p = &k->p;
  conv_entry *e = calloc(1, sizeof *e);
  dnnl_primitive_attr_t attr = NULL, rattr = NULL;
  dnnl_post_ops_t po = NULL, rpo = NULL;
  dnnl_primitive_desc_t fwd_pd = NULL, pd = NULL, rpd = NULL;
  if (!e) {
    sscor_kernels_set_error("out of memory");
    return NULL;
  }
  e->key = *k;
  dnnl_memory_desc_t src_md, dst_md, w_any, w_user, b_md;
  dnnl_dims_t sdims = {k->n, p->cin, k->hi, k->wi};
  dnnl_dims_t ddims = {k->n, p->cout, k->ho, k->wo};
  dnnl_dims_t wdims = {p->cout, p->cin, p->k, p->k};
  dnnl_dims_t bdims = {p->cout};
  DN(dnnl_memory_desc_init_by_tag(&src_md, 4, sdims, dnnl_f32, dnnl_nhwc), "src desc");
  DN(dnnl_memory_desc_init_by_tag(&dst_md, 4, ddims, dnnl_f32, dnnl_nhwc), "dst desc");
  dnnl_memory_desc_t src_blk_md, dst_blk_md;
  if (k->wino) {
    DN(dnnl_memory_desc_init_by_tag(&src_blk_md, 4, sdims, dnnl_f32, dnnl_nChw16c), "src desc");
    DN(dnnl_memory_desc_init_by_tag(&dst_blk_md, 4, ddims, dnnl_f32, dnnl_nChw16c), "dst desc");
  }
  DN(dnnl_memory_desc_init_by_tag(&w_any, 4, wdims, dnnl_f32, dnnl_format_tag_any), "w desc");
  /* PyTorch: conv OIHW; ConvTranspose IOHW (oneDNN dims are still o,i,h,w). */
  DN(dnnl_memory_desc_init_by_tag(&w_user, 4, wdims, dnnl_f32, k->deconv ? dnnl_iohw : dnnl_oihw),
     "user w desc");
  DN(dnnl_memory_desc_init_by_tag(&b_md, 1, bdims, dnnl_f32, dnnl_a), "bias desc");
  const dnnl_memory_desc_t *bptr = k->has_bias ? &b_md : NULL;

  DN(dnnl_primitive_attr_create(&attr), "attr");
  DN(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "scratchpad mode");
  union { dnnl_convolution_desc_t c; dnnl_deconvolution_desc_t dc; } desc;
  if (k->dir == DIR_FWD) {
    float alpha;
    dnnl_alg_kind_t alg = act_alg(p->act, &alpha);
    if (alg != dnnl_alg_kind_undef) {
      DN(dnnl_post_ops_create(&po), "post-ops");
      DN(dnnl_post_ops_append_eltwise(po, 1.f, alg, alpha, 0.f), "eltwise post-op");
      DN(dnnl_primitive_attr_set_post_ops(attr, po), "set post-ops");
    }
    if (k->wino) {
      DN(op_desc(k, DIR_FWD, &desc, &src_blk_md, &w_any, bptr, &dst_blk_md), "winograd descriptor");
      DN(dnnl_primitive_desc_create(&pd, &desc, attr, d->eng, NULL), "winograd primitive descriptor");
    } else {
      DN(op_desc(k, DIR_FWD, &desc, &src_md, &w_any, bptr, &dst_md), "forward descriptor");
      DN(dnnl_primitive_desc_create(&pd, &desc, attr, d->eng, NULL), "forward primitive descriptor");
    }
  } else {
    /* Backward primitives need the forward one as a hint. */
    DN(op_desc(k, DIR_FWD, &desc, &src_md, &w_any, bptr, &dst_md), "forward descriptor");
    DN(dnnl_primitive_desc_create(&fwd_pd, &desc, NULL, d->eng, NULL), "forward hint");
    DN(op_desc(k, k->dir, &desc, &src_md, &w_any, bptr, &dst_md), "backward descriptor");
    DN(dnnl_primitive_desc_create(&pd, &desc, attr, d->eng, fwd_pd), "backward primitive descriptor");
  }
  DN(dnnl_primitive_create(&e->prim, pd), "primitive");

  const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(
      pd, k->dir == DIR_BWD_W ? dnnl_query_diff_weights_md : dnnl_query_weights_md, 0);
  const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
  e->scratch_md = *smd;
  e->scratch_bytes = dnnl_memory_desc_get_size(smd);
  DN(dnnl_memory_create(&e->m_scratch, smd, d->eng, DNNL_MEMORY_NONE), "scratch memory");
  DN(dnnl_memory_create(&e->m_src, &src_md, d->eng, DNNL_MEMORY_NONE), "src memory");
  DN(dnnl_memory_create(&e->m_dst, &dst_md, d->eng, DNNL_MEMORY_NONE), "dst memory");
  if (k->wino) {
    e->wino = 1;
    e->src_blk = aligned(dnnl_memory_desc_get_size(&src_blk_md));
    e->dst_blk = aligned(dnnl_memory_desc_get_size(&dst_blk_md));
    if (!e->src_blk || !e->dst_blk) { rc = sscor_kernels_set_error("out of memory"); goto out; }
    DN(dnnl_memory_create(&e->m_src_blk, &src_blk_md, d->eng, e->src_blk), "blocked src memory");
    DN(dnnl_memory_create(&e->m_dst_blk, &dst_blk_md, d->eng, e->dst_blk), "blocked dst memory");
    dnnl_primitive_desc_t r1 = NULL, r2 = NULL;
    DN(dnnl_reorder_primitive_desc_create(&r1, &src_md, d->eng, &src_blk_md, d->eng, NULL), "src reorder");
    dnnl_status_t st1 = dnnl_primitive_create(&e->src_to_blk, r1);
    dnnl_primitive_desc_destroy(r1);
    DN(st1, "src reorder");
    DN(dnnl_reorder_primitive_desc_create(&r2, &dst_blk_md, d->eng, &dst_md, d->eng, NULL), "dst reorder");
    dnnl_status_t st2 = dnnl_primitive_create(&e->blk_to_dst, r2);
    dnnl_primitive_desc_destroy(r2);
    DN(st2, "dst reorder");
  }
  if (k->has_bias) DN(dnnl_memory_create(&e->m_bias, &b_md, d->eng, DNNL_MEMORY_NONE), "bias memory");
  DN(dnnl_memory_create(&e->m_wuser, &w_user, d->eng, DNNL_MEMORY_NONE), "user weights memory");
  e->wbytes = dnnl_memory_desc_get_size(wmd);
  if (k->dir == DIR_BWD_W || !dnnl_memory_desc_equal(wmd, &w_user)) {
    e->wbuf = aligned(e->wbytes);
    if (!e->wbuf) { rc = sscor_kernels_set_error("out of memory"); goto out; }
    DN(dnnl_memory_create(&e->m_wprim, wmd, d->eng, e->wbuf), "weights memory");
    if (k->dir == DIR_BWD_W) {
      /* diff weights (primitive layout) -> user layout, accumulated. */
      DN(dnnl_primitive_attr_create(&rattr), "reorder attr");
      DN(dnnl_post_ops_create(&rpo), "reorder post-ops");
      DN(dnnl_post_ops_append_sum(rpo, 1.f), "sum post-op");
      DN(dnnl_primitive_attr_set_post_ops(rattr, rpo), "reorder set post-ops");
      DN(dnnl_reorder_primitive_desc_create(&rpd, wmd, d->eng, &w_user, d->eng, rattr),
         "gradient reorder descriptor");
      if (k->has_bias) {
        e->bias_grad = aligned(sizeof(float) * p->cout);
        if (!e->bias_grad) { rc = sscor_kernels_set_error("out of memory"); goto out; }
        DN(dnnl_memory_set_data_handle(e->m_bias, e->bias_grad), "bias grad handle");
      }
    } else {
      DN(dnnl_reorder_primitive_desc_create(&rpd, &w_user, d->eng, wmd, d->eng, NULL),
         "weights reorder descriptor");
    }
    DN(dnnl_primitive_create(&e->wreorder, rpd), "weights reorder");
  }
out:
  if (rpd) dnnl_primitive_desc_destroy(rpd);
  if (pd) dnnl_primitive_desc_destroy(pd);
  if (fwd_pd) dnnl_primitive_desc_destroy(fwd_pd);
  if (po) dnnl_post_ops_destroy(po);
  if (rpo) dnnl_post_ops_destroy(rpo);
  if (attr) dnnl_primitive_attr_destroy(attr);
  if (rattr) dnnl_primitive_attr_destroy(rattr);
  if (rc) {
    entry_destroy(e);
    return NULL;
  }
  return e;
}

static conv_entry *get_entry(sscor_dnnl *d, const conv_key *k) {
  for (int i = 0; i < d->n_entries; i++)
    if (key_eq(&d->entries[i]->key, k)) return d->entries[i];
  /* Many distinct shapes (e.g. whole frames of varying size): start over
   * rather than grow without bound. */
  if (d->n_entries >= MAX_ENTRIES) {
    clear_frozen(d);
    for (int i = 0; i < d->n_entries; i++) entry_destroy(d->entries[i]);
    d->n_entries = 0;
  }
  if (d->n_entries == d->cap_entries) {
    int cap = d->cap_entries ? 2 * d->cap_entries : 32;
    conv_entry **ne = realloc(d->entries, cap * sizeof *ne);
    if (!ne) {
      sscor_kernels_set_error("out of memory");
      return NULL;
    }
    d->entries = ne;
    d->cap_entries = cap;
  }
  conv_entry *e = entry_create(d, k);
  if (!e && k->wino) { /* no Winograd for this shape/CPU: direct, under the same key */
    conv_key direct = *k;
    direct.wino = 0;
    e = entry_create(d, &direct);
    if (e) e->key = *k;
  }
  if (!e) return NULL;
  if (e->scratch_bytes > d->scratch_bytes) {
    free(d->scratch);
    d->scratch = aligned(e->scratch_bytes);
    d->scratch_bytes = d->scratch ? e->scratch_bytes : 0;
    if (!d->scratch) {
      entry_destroy(e);
      sscor_kernels_set_error("out of memory for a %zu-byte scratchpad", e->scratch_bytes);
      return NULL;
    }
  }
  d->entries[d->n_entries++] = e;
  return e;
}

static int run(sscor_dnnl *d, dnnl_primitive_t prim, int nargs, const dnnl_exec_arg_t *args,
               const char *what) {
  dnnl_status_t st = dnnl_primitive_execute(prim, d->stream, nargs, args);
  if (st == dnnl_success) st = dnnl_stream_wait(d->stream);
  return st == dnnl_success ? 0 : fail_dnnl(what, st);
}

/* Makes e->m_wprim (or the user memory) hold weights w for this call. */
static int prepare_weights(sscor_dnnl *d, conv_entry *e, const float *w, dnnl_memory_t *out) {
  int rc = 0;
  DN(dnnl_memory_set_data_handle(e->m_wuser, (void *)w), "weights handle");
  if (!e->wreorder) {
    *out = e->m_wuser;
    return 0;
  }
  void *dst = e->wbuf;
  if (d->frozen) {
    for (int i = 0; i < d->n_fw; i++)
      if (d->fw[i].src == w && d->fw[i].entry == e) {
        DN(dnnl_memory_set_data_handle(e->m_wprim, d->fw[i].buf), "weights handle");
        *out = e->m_wprim;
        return 0;
      }
    if (d->n_fw == d->cap_fw) {
      int cap = d->cap_fw ? 2 * d->cap_fw : 32;
      frozen_weight *nf = realloc(d->fw, cap * sizeof *nf);
      if (!nf) return sscor_kernels_set_error("out of memory");
      d->fw = nf;
      d->cap_fw = cap;
    }
    dst = aligned(e->wbytes);
    if (!dst) return sscor_kernels_set_error("out of memory");
    d->fw[d->n_fw++] = (frozen_weight){.src = w, .entry = e, .buf = dst};
  }
  DN(dnnl_memory_set_data_handle(e->m_wprim, dst), "weights handle");
  dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, e->m_wuser}, {DNNL_ARG_TO, e->m_wprim}};
  rc = run(d, e->wreorder, 2, args, "weights reorder");
  *out = e->m_wprim;
out:
  return rc;
}

static conv_key make_key(int dir, int deconv, const sscor_conv *p, int has_bias,
                         const sscor_tensor *in, const sscor_tensor *outside) {
  conv_key k;
  memset(&k, 0, sizeof k);
  k.dir = dir;
  k.deconv = deconv;
  k.has_bias = has_bias;
  k.threads = omp_get_max_threads();
  k.p = *p;
  if (dir != DIR_FWD) k.p.act = SSCOR_ACT_NONE;
  k.n = in->n;
  k.hi = in->h;
  k.wi = in->w;
  k.ho = outside->h;
  k.wo = outside->w;
  return k;
}

/* A transposed convolution is the data-gradient of the convolution that maps
 * its output back to its input, with the same weight array (PyTorch's IOHW
 * deconv weights are that conv's OIHW weights). oneDNN's direct convolution
 * kernels are faster than its deconvolution ones (measured ~1.5-2x here), so
 * every deconv direction runs as the matching conv direction. */
static sscor_conv as_conv(const sscor_conv *p) {
  sscor_conv c = *p;
  c.cin = p->cout;
  c.cout = p->cin;
  c.out_pad = 0;
  c.act = SSCOR_ACT_NONE;
  return c;
}

int dnnl_conv_forward(sscor_dnnl *d, int deconv, const sscor_conv *p, const sscor_tensor *x,
                      const float *w, const float *b, sscor_tensor *y) {
  int rc = 0;
  if (deconv) {
    sscor_conv c = as_conv(p);
    if ((rc = dnnl_conv_backward_data(d, 0, &c, w, x, y))) return rc;
    nhwc_bias_act(y, b, p->act);
    return 0;
  }
  conv_key k = make_key(DIR_FWD, deconv, p, b != NULL, x, y);
  /* Winograd only for frozen (inference) weights: its transformed weights
   * are cached with the frozen reorders, and training keeps exact direct
   * convolutions. */
  k.wino = d->frozen && d->winograd && p->k == 3 && p->stride == 1 && p->cin % 16 == 0 &&
           p->cout % 16 == 0 && p->cin >= 64 && p->cout >= 64;
  conv_entry *e = get_entry(d, &k);
  if (!e) return 1;
  dnnl_memory_t wm;
  if ((rc = prepare_weights(d, e, w, &wm))) return rc;
  DN(dnnl_memory_set_data_handle(e->m_src, x->data), "src handle");
  DN(dnnl_memory_set_data_handle(e->m_dst, y->data), "dst handle");
  DN(dnnl_memory_set_data_handle(e->m_scratch, d->scratch), "scratch handle");
  const int blk = e->src_to_blk != NULL;
  d->winograd_runs += e->wino;
  if (blk) {
    dnnl_exec_arg_t ra[] = {{DNNL_ARG_FROM, e->m_src}, {DNNL_ARG_TO, e->m_src_blk}};
    if ((rc = run(d, e->src_to_blk, 2, ra, "src reorder"))) return rc;
  }
  dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, blk ? e->m_src_blk : e->m_src}, {DNNL_ARG_WEIGHTS, wm},
                             {DNNL_ARG_DST, blk ? e->m_dst_blk : e->m_dst},
                             {DNNL_ARG_SCRATCHPAD, e->m_scratch}};
  int nargs = 4;
  if (b) {
    DN(dnnl_memory_set_data_handle(e->m_bias, (void *)b), "bias handle");
    args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, e->m_bias};
  }
  rc = run(d, e->prim, nargs, args, deconv ? "deconvolution forward" : "convolution forward");
  if (!rc && blk) {
    dnnl_exec_arg_t ra[] = {{DNNL_ARG_FROM, e->m_dst_blk}, {DNNL_ARG_TO, e->m_dst}};
    rc = run(d, e->blk_to_dst, 2, ra, "dst reorder");
  }
out:
  return rc;
}

int dnnl_conv_backward_data(sscor_dnnl *d, int deconv, const sscor_conv *p, const float *w,
                            const sscor_tensor *dy, sscor_tensor *dx) {
  int rc = 0;
  if (deconv) {
    sscor_conv c = as_conv(p);
    return dnnl_conv_forward(d, 0, &c, dy, w, NULL, dx);
  }
  conv_key k = make_key(DIR_BWD_DATA, deconv, p, 0, dx, dy);
  conv_entry *e = get_entry(d, &k);
  if (!e) return 1;
  dnnl_memory_t wm;
  if ((rc = prepare_weights(d, e, w, &wm))) return rc;
  DN(dnnl_memory_set_data_handle(e->m_src, dx->data), "diff src handle");
  DN(dnnl_memory_set_data_handle(e->m_dst, dy->data), "diff dst handle");
  DN(dnnl_memory_set_data_handle(e->m_scratch, d->scratch), "scratch handle");
  dnnl_exec_arg_t args[] = {{DNNL_ARG_DIFF_SRC, e->m_src}, {DNNL_ARG_WEIGHTS, wm},
                            {DNNL_ARG_DIFF_DST, e->m_dst}, {DNNL_ARG_SCRATCHPAD, e->m_scratch}};
  rc = run(d, e->prim, 4, args, deconv ? "deconvolution backward data" : "convolution backward data");
out:
  return rc;
}

int dnnl_conv_backward_weights(sscor_dnnl *d, int deconv, const sscor_conv *p,
                               const sscor_tensor *x, const sscor_tensor *dy, float *dw,
                               float *db) {
  int rc = 0;
  if (deconv) {
    sscor_conv c = as_conv(p);
    if ((rc = dnnl_conv_backward_weights(d, 0, &c, dy, x, dw, NULL))) return rc;
    if (db) nhwc_channel_sums_add(dy, db);
    return 0;
  }
  conv_key k = make_key(DIR_BWD_W, deconv, p, db != NULL, x, dy);
  conv_entry *e = get_entry(d, &k);
  if (!e) return 1;
  DN(dnnl_memory_set_data_handle(e->m_src, x->data), "src handle");
  DN(dnnl_memory_set_data_handle(e->m_dst, dy->data), "diff dst handle");
  DN(dnnl_memory_set_data_handle(e->m_scratch, d->scratch), "scratch handle");
  dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, e->m_src}, {DNNL_ARG_DIFF_WEIGHTS, e->m_wprim},
                             {DNNL_ARG_DIFF_DST, e->m_dst}, {DNNL_ARG_SCRATCHPAD, e->m_scratch}};
  int nargs = 4;
  if (db) args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_BIAS, e->m_bias};
  if ((rc = run(d, e->prim, nargs, args,
                deconv ? "deconvolution backward weights" : "convolution backward weights")))
    return rc;
  DN(dnnl_memory_set_data_handle(e->m_wuser, dw), "weight grad handle");
  dnnl_exec_arg_t rargs[] = {{DNNL_ARG_FROM, e->m_wprim}, {DNNL_ARG_TO, e->m_wuser}};
  if ((rc = run(d, e->wreorder, 2, rargs, "weight gradient reorder"))) return rc;
  if (db)
    for (int c = 0; c < p->cout; c++) db[c] += e->bias_grad[c];
out:
  return rc;
}
