#include "model_file.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TRY(expr)                            \
  do {                                       \
    sscor_status try_st_ = (expr);           \
    if (try_st_ != SSCOR_OK) return try_st_; \
  } while (0)

static const uint8_t MAGIC[8] = {'S', 'S', 'C', 'O', 'R', 'M', 'F', '\n'};
enum { CONTENT_MODEL = 1, CONTENT_CHECKPOINT = 2 };
enum { ROLE_GC = 1, ROLE_GS = 2, ROLE_DX = 3, ROLE_DY = 4 };
#define TAG(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
#define TAG_META TAG('M', 'E', 'T', 'A')
#define TAG_NET TAG('N', 'E', 'T', ' ')
#define TAG_TCFG TAG('T', 'C', 'F', 'G')
#define TAG_ADAM TAG('A', 'D', 'A', 'M')
#define TAG_POOL TAG('P', 'O', 'O', 'L')
#define TAG_STAT TAG('S', 'T', 'A', 'T')
#define TAG_CRC TAG('C', 'R', 'C', ' ')
#define TAG_GEOM TAG('G', 'E', 'O', 'M')
#define TAG_FLAT TAG('F', 'L', 'A', 'T')
#define META_FIXED 16u
#define PRESET_LEN 32u
#define NET_FIXED 40u

/* Re-reports the last error with a new code and an optional prefix (the
 * message buffer cannot be its own format argument). */
static sscor_status refail(sscor_status code, const char *prefix) {
  char msg[1024];
  snprintf(msg, sizeof msg, "%s", sscor_last_error());
  return prefix ? sscor_fail(code, "%s: %s", prefix, msg) : sscor_fail(code, "%s", msg);
}

/* ------------------------------------------------------------ CRC-32 */

static uint32_t crc_table[256];

static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
    crc_table[i] = c;
  }
}

uint32_t sscor_crc32(uint32_t crc, const void *data, size_t n) {
  static int ready;
  if (!ready) { /* idempotent: concurrent first calls compute the same table */
    crc_init();
    ready = 1;
  }
  const uint8_t *p = data;
  crc = ~crc;
  for (size_t i = 0; i < n; i++) crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

static const char *tag_str(uint32_t tag, char out[5]) {
  for (int i = 0; i < 4; i++) {
    char c = (char)((tag >> (8 * i)) & 0xff);
    out[i] = (c >= 32 && c < 127) ? c : '?';
  }
  out[4] = 0;
  return out;
}

static const char *role_name(uint32_t r) {
  switch (r) {
  case ROLE_GC: return "G_C";
  case ROLE_GS: return "G_S";
  case ROLE_DX: return "D_X";
  case ROLE_DY: return "D_Y";
  }
  return "?";
}

/* ------------------------------------------------------------ writing */

typedef struct {
  uint8_t *p;
  size_t len, cap;
  int oom;
  size_t section; /* offset of the open section's length field */
} wbuf;

static void w_bytes(wbuf *w, const void *src, size_t n) {
  if (w->oom) return;
  if (w->len + n > w->cap) {
    size_t cap = w->cap ? w->cap : 4096;
    while (cap < w->len + n) cap *= 2;
    uint8_t *q = realloc(w->p, cap);
    if (!q) {
      w->oom = 1;
      return;
    }
    w->p = q;
    w->cap = cap;
  }
  memcpy(w->p + w->len, src, n);
  w->len += n;
}

static void w_u32(wbuf *w, uint32_t v) {
  uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
  w_bytes(w, b, 4);
}

static void w_u64(wbuf *w, uint64_t v) {
  w_u32(w, (uint32_t)v);
  w_u32(w, (uint32_t)(v >> 32));
}

static void w_f32(wbuf *w, float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  w_u32(w, u);
}

static void w_f64(wbuf *w, double d) {
  uint64_t u;
  memcpy(&u, &d, 8);
  w_u64(w, u);
}

static void w_f32s(wbuf *w, const float *f, size_t n) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  w_bytes(w, f, n * sizeof(float));
#else
  for (size_t i = 0; i < n; i++) w_f32(w, f[i]);
#endif
}

static void w_begin(wbuf *w, uint32_t tag) {
  w_u32(w, tag);
  w_u32(w, 0);
  w->section = w->len;
  w_u64(w, 0);
}

static void w_end(wbuf *w) {
  if (w->oom) return;
  uint64_t n = w->len - w->section - 8;
  for (int i = 0; i < 8; i++) w->p[w->section + i] = (uint8_t)(n >> (8 * i));
}

static void w_header(wbuf *w, uint32_t content) {
  w_bytes(w, MAGIC, 8);
  w_u32(w, SSCOR_MODEL_VERSION);
  w_u32(w, content);
}

static void w_crc(wbuf *w) {
  uint32_t crc = w->oom ? 0 : sscor_crc32(0, w->p, w->len);
  w_begin(w, TAG_CRC);
  w_u32(w, crc);
  w_end(w);
}

static void w_meta(wbuf *w, const sscor_model *m) {
  w_begin(w, TAG_META);
  w_u32(w, (uint32_t)m->channels);
  w_u32(w, (uint32_t)m->patch);
  w_u32(w, (uint32_t)m->sample_format);
  w_u32(w, 0);
  for (int c = 0; c < m->channels; c++) w_f32(w, m->low[c]);
  for (int c = 0; c < m->channels; c++) w_f32(w, m->high[c]);
  char preset[PRESET_LEN] = {0};
  size_t pl = strnlen(m->preset, PRESET_LEN - 1);
  memcpy(preset, m->preset, pl);
  w_bytes(w, preset, PRESET_LEN);
  w_end(w);
}

static void w_net(wbuf *w, uint32_t role, const sscor_net *n) {
  w_begin(w, TAG_NET);
  w_u32(w, role);
  w_u32(w, (uint32_t)n->cfg.kind);
  w_u32(w, (uint32_t)n->cfg.in_ch);
  w_u32(w, (uint32_t)n->cfg.out_ch);
  w_u32(w, (uint32_t)n->cfg.width);
  w_u32(w, (uint32_t)n->cfg.depth);
  w_u32(w, (uint32_t)n->cfg.output);
  w_u32(w, 0);
  w_u64(w, n->n_params);
  w_f32s(w, n->params, n->n_params);
  w_end(w);
}

static sscor_status check_meta(const sscor_model *m, const char *what) {
  if (m->channels < 1 || m->channels > SSCOR_MODEL_MAX_CHANNELS)
    return sscor_fail(SSCOR_E_INVALID, "%s: channel count %d outside 1..%d", what, m->channels,
                      SSCOR_MODEL_MAX_CHANNELS);
  if (m->patch < 8 || m->patch % 4 || m->patch > 65536)
    return sscor_fail(SSCOR_E_INVALID, "%s: patch size %d is not a multiple of 4 in 8..65536", what, m->patch);
  for (int c = 0; c < m->channels; c++)
    if (!isfinite(m->low[c]) || !isfinite(m->high[c]) || !(m->low[c] < m->high[c]))
      return sscor_fail(SSCOR_E_INVALID, "%s: channel %d scaling low %g, high %g (needs finite low < high)", what,
                        c, m->low[c], m->high[c]);
  if ((int)m->sample_format < 0 || (int)m->sample_format > SSCOR_SAMPLE_F32)
    return sscor_fail(SSCOR_E_INVALID, "%s: sample format %d unknown", what, (int)m->sample_format);
  return SSCOR_OK;
}

sscor_status sscor_model_to_memory(const sscor_model *m, uint8_t **buf, size_t *len) {
  *buf = NULL;
  *len = 0;
  TRY(check_meta(m, "model"));
  if (m->flatfield && !m->geometry)
    return sscor_fail(SSCOR_E_INVALID, "model: a flat-field needs its geometry");
  int nflat = m->flatfield ? (m->flatfield_count > 0 ? m->flatfield_count : 1) : 0;
  if (nflat > 1 && nflat != m->channels)
    return sscor_fail(SSCOR_E_INVALID, "model: %d flat-fields for %d channels (one for all, or one each)", nflat,
                      m->channels);
  if (!m->corrector && !m->flatfield && !m->geometry)
    return sscor_fail(SSCOR_E_INVALID, "model: neither a corrector network nor a flat-field nor a geometry");
  if (m->corrector && m->corrector->cfg.kind != SSCOR_NET_GENERATOR)
    return sscor_fail(SSCOR_E_INVALID, "model: no corrector network");
  if (m->corrector && (m->corrector->cfg.in_ch != m->channels || m->corrector->cfg.out_ch != m->channels))
    return sscor_fail(SSCOR_E_INVALID, "model: corrector maps %d -> %d channels, the model has %d",
                      m->corrector->cfg.in_ch, m->corrector->cfg.out_ch, m->channels);
  wbuf w = {0};
  w_header(&w, CONTENT_MODEL);
  w_meta(&w, m);
  if (m->corrector) w_net(&w, ROLE_GC, m->corrector);
  if (m->synthesiser) w_net(&w, ROLE_GS, m->synthesiser);
  if (m->geometry) {
    w_begin(&w, TAG_GEOM);
    w_bytes(&w, m->geometry, strlen(m->geometry));
    w_end(&w);
  }
  for (size_t off = 0; m->flatfield && off < m->flatfield_len;) { /* one FLAT section per field */
    size_t n = sscor_model_flat_len(m->flatfield + off, m->flatfield_len - off);
    if (!n) {
      free(w.p);
      return sscor_fail(SSCOR_E_INVALID, "model: flat-field %zu bytes in is malformed", off);
    }
    w_begin(&w, TAG_FLAT);
    w_bytes(&w, m->flatfield + off, n);
    w_end(&w);
    off += n;
  }
  w_crc(&w);
  if (w.oom) {
    free(w.p);
    return sscor_fail(SSCOR_E_NOMEM, "model: out of memory serialising");
  }
  *buf = w.p;
  *len = w.len;
  return SSCOR_OK;
}

sscor_status sscor_model_save(const sscor_model *m, const char *path) {
  uint8_t *buf;
  size_t len;
  sscor_status st = sscor_model_to_memory(m, &buf, &len);
  if (st != SSCOR_OK) return refail(st, path);
  st = sscor_write_file_atomic(path, buf, len);
  free(buf);
  return st;
}

/* ------------------------------------------------------------ reading */

typedef struct {
  const uint8_t *p;
  size_t len, pos;
} rbuf;

static uint32_t r_u32(rbuf *r) {
  const uint8_t *b = r->p + r->pos;
  r->pos += 4;
  return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t r_u64(rbuf *r) {
  uint64_t lo = r_u32(r);
  return lo | (uint64_t)r_u32(r) << 32;
}

static float r_f32(rbuf *r) {
  uint32_t u = r_u32(r);
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static double r_f64(rbuf *r) {
  uint64_t u = r_u64(r);
  double d;
  memcpy(&d, &u, 8);
  return d;
}

static void r_f32s(rbuf *r, float *dst, size_t n) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  if (dst) memcpy(dst, r->p + r->pos, n * sizeof(float));
  r->pos += n * sizeof(float);
#else
  for (size_t i = 0; i < n; i++) {
    float f = r_f32(r);
    if (dst) dst[i] = f;
  }
#endif
}

typedef struct {
  uint32_t tag;
  size_t off, len; /* payload */
} section;

#define MAX_SECTIONS 16

/* Checks header, structure and checksum; lists the sections. */
static sscor_status scan(const uint8_t *buf, size_t len, const char *name, uint32_t want_content, section *secs,
                         int *nsec) {
  static const char *contents[] = {"?", "model", "training checkpoint"};
  if (len < 16)
    return sscor_fail(SSCOR_E_CORRUPT, "%s: truncated: %zu bytes, shorter than the 16-byte header", name, len);
  if (memcmp(buf, MAGIC, 8) != 0)
    return sscor_fail(SSCOR_E_FORMAT, "%s: not an sscor model or checkpoint file (bad magic)", name);
  rbuf r = {buf, len, 8};
  uint32_t version = r_u32(&r), content = r_u32(&r);
  if (version != SSCOR_MODEL_VERSION)
    return sscor_fail(SSCOR_E_FORMAT, "%s: format version %u, this build reads version %d", name, version,
                      SSCOR_MODEL_VERSION);
  if (content != want_content)
    return sscor_fail(SSCOR_E_FORMAT, "%s: is a %s, expected a %s", name,
                      content <= 2 ? contents[content] : "file of unknown content", contents[want_content]);
  *nsec = 0;
  for (;;) {
    if (len - r.pos < 16)
      return sscor_fail(SSCOR_E_CORRUPT, "%s: truncated at byte %zu: no checksum section (file cut short?)", name,
                        r.pos);
    size_t start = r.pos;
    uint32_t tag = r_u32(&r);
    uint32_t reserved = r_u32(&r);
    uint64_t plen = r_u64(&r);
    char ts[5];
    if (plen > len - r.pos)
      return sscor_fail(SSCOR_E_CORRUPT, "%s: truncated or corrupt: section '%s' at byte %zu claims %llu bytes, %zu left",
                        name, tag_str(tag, ts), start, (unsigned long long)plen, len - r.pos);
    if (tag == TAG_CRC) {
      if (plen != 4 || reserved != 0)
        return sscor_fail(SSCOR_E_CORRUPT, "%s: malformed checksum section", name);
      uint32_t stored = r_u32(&r), computed = sscor_crc32(0, buf, start);
      if (stored != computed)
        return sscor_fail(SSCOR_E_CORRUPT, "%s: checksum mismatch (stored %08x, computed %08x): the file is corrupt",
                          name, stored, computed);
      if (r.pos != len)
        return sscor_fail(SSCOR_E_CORRUPT, "%s: %zu unexpected bytes after the checksum", name, len - r.pos);
      return SSCOR_OK;
    }
    if (reserved != 0)
      return sscor_fail(SSCOR_E_CORRUPT, "%s: section '%s' at byte %zu has a non-zero reserved field", name,
                        tag_str(tag, ts), start);
    if (*nsec >= MAX_SECTIONS)
      return sscor_fail(SSCOR_E_FORMAT, "%s: more than %d sections", name, MAX_SECTIONS);
    secs[*nsec].tag = tag;
    secs[*nsec].off = r.pos;
    secs[*nsec].len = (size_t)plen;
    (*nsec)++;
    r.pos += (size_t)plen;
  }
}

static sscor_status parse_meta(const uint8_t *buf, const section *s, const char *name, sscor_model *m) {
  rbuf r = {buf, s->off + s->len, s->off};
  if (s->len < META_FIXED) return sscor_fail(SSCOR_E_CORRUPT, "%s: META section too short", name);
  m->channels = (int)r_u32(&r);
  m->patch = (int)r_u32(&r);
  m->sample_format = (sscor_sample_format)r_u32(&r);
  (void)r_u32(&r);
  if (m->channels < 1 || m->channels > SSCOR_MODEL_MAX_CHANNELS)
    return sscor_fail(SSCOR_E_FORMAT, "%s: channel count %d outside 1..%d", name, m->channels,
                      SSCOR_MODEL_MAX_CHANNELS);
  size_t want = META_FIXED + 8u * (size_t)m->channels + PRESET_LEN;
  if (s->len != want)
    return sscor_fail(SSCOR_E_CORRUPT, "%s: META section has %zu bytes, %d channels need %zu", name, s->len,
                      m->channels, want);
  for (int c = 0; c < m->channels; c++) m->low[c] = r_f32(&r);
  for (int c = 0; c < m->channels; c++) m->high[c] = r_f32(&r);
  memcpy(m->preset, buf + r.pos, PRESET_LEN);
  m->preset[PRESET_LEN - 1] = 0;
  return check_meta(m, name) == SSCOR_OK ? SSCOR_OK : refail(SSCOR_E_FORMAT, NULL);
}

/* Parses a NET section's header; *params_at is where its floats start. */
static sscor_status parse_net_header(const uint8_t *buf, const section *s, const char *name, uint32_t *role,
                                     sscor_net_config *cfg, size_t *count, size_t *params_at) {
  if (s->len < NET_FIXED) return sscor_fail(SSCOR_E_CORRUPT, "%s: NET section too short", name);
  rbuf r = {buf, s->off + s->len, s->off};
  *role = r_u32(&r);
  cfg->kind = (sscor_net_kind)r_u32(&r);
  cfg->in_ch = (int)r_u32(&r);
  cfg->out_ch = (int)r_u32(&r);
  cfg->width = (int)r_u32(&r);
  cfg->depth = (int)r_u32(&r);
  cfg->output = (sscor_gen_output)r_u32(&r);
  (void)r_u32(&r);
  uint64_t n = r_u64(&r);
  if (*role < ROLE_GC || *role > ROLE_DY) return sscor_fail(SSCOR_E_FORMAT, "%s: network role %u unknown", name, *role);
  if (sscor_net_config_check(cfg) != SSCOR_OK) {
    char pre[600];
    snprintf(pre, sizeof pre, "%s: network %s", name, role_name(*role));
    return refail(SSCOR_E_FORMAT, pre);
  }
  int is_gen = *role == ROLE_GC || *role == ROLE_GS;
  if (is_gen != (cfg->kind == SSCOR_NET_GENERATOR))
    return sscor_fail(SSCOR_E_FORMAT, "%s: network %s has the wrong kind", name, role_name(*role));
  size_t need = sscor_net_param_count(cfg);
  if (n != need)
    return sscor_fail(SSCOR_E_FORMAT,
                      "%s: wrong shape: network %s (width %d, depth %d, %d -> %d channels) needs %zu parameters, the file has %llu",
                      name, role_name(*role), cfg->width, cfg->depth, cfg->in_ch, cfg->out_ch, need,
                      (unsigned long long)n);
  if (s->len != NET_FIXED + 4 * need)
    return sscor_fail(SSCOR_E_CORRUPT, "%s: network %s section has %zu bytes, %zu parameters need %zu", name,
                      role_name(*role), s->len, need, (size_t)(NET_FIXED + 4 * need));
  *count = need;
  *params_at = r.pos;
  return SSCOR_OK;
}

static sscor_status load_net(const uint8_t *buf, const section *s, const char *name, uint32_t *role,
                             sscor_net **out) {
  sscor_net_config cfg;
  size_t count, at;
  TRY(parse_net_header(buf, s, name, role, &cfg, &count, &at));
  TRY(sscor_net_create(&cfg, out));
  rbuf r = {buf, s->off + s->len, at};
  r_f32s(&r, (*out)->params, count);
  for (size_t i = 0; i < count; i++)
    if (!isfinite((*out)->params[i])) {
      sscor_net_destroy(*out);
      *out = NULL;
      return sscor_fail(SSCOR_E_CORRUPT, "%s: network %s parameter %zu is not finite", name, role_name(*role), i);
    }
  return SSCOR_OK;
}

void sscor_model_clear(sscor_model *m) {
  sscor_net_destroy(m->corrector);
  sscor_net_destroy(m->synthesiser);
  m->corrector = m->synthesiser = NULL;
  free(m->geometry);
  free(m->flatfield);
  m->geometry = NULL;
  m->flatfield = NULL;
  m->flatfield_len = 0;
  m->flatfield_count = 0;
}

size_t sscor_model_flat_len(const uint8_t *p, size_t avail) {
  if (avail < 24) return 0;
  uint32_t v[4];
  for (int i = 0; i < 4; i++) v[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
                                     (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
  uint32_t nk = v[0], nt = v[1], has_gain = v[2], flags = v[3];
  if (nk < 2 || nk > 64 || nt > (1u << 24) || has_gain > 1 || flags > 1) return 0;
  size_t need = 24 + 16 * (size_t)nk + 8 * (size_t)nk * nk + (has_gain ? 8 * (size_t)nt : 0) + (flags & 1 ? 8 : 0);
  return need <= avail ? need : 0;
}

static sscor_status model_parse(const uint8_t *buf, size_t len, const char *name, sscor_model *m) {
  section secs[MAX_SECTIONS];
  int ns;
  TRY(scan(buf, len, name, CONTENT_MODEL, secs, &ns));
  if (ns < 1 || secs[0].tag != TAG_META) return sscor_fail(SSCOR_E_FORMAT, "%s: the first section is not META", name);
  TRY(parse_meta(buf, &secs[0], name, m));
  for (int i = 1; i < ns; i++) {
    char ts[5];
    if (secs[i].tag == TAG_FLAT) { /* one for all channels, or one per channel, appended */
      size_t n = secs[i].len;
      if (sscor_model_flat_len(buf + secs[i].off, n) != n)
        return sscor_fail(SSCOR_E_CORRUPT, "%s: FLAT section %d of %zu bytes is malformed", name,
                          m->flatfield_count, n);
      if (m->flatfield_count >= SSCOR_MODEL_MAX_CHANNELS)
        return sscor_fail(SSCOR_E_FORMAT, "%s: more FLAT sections than channels", name);
      uint8_t *p = realloc(m->flatfield, m->flatfield_len + n);
      if (!p) return sscor_fail(SSCOR_E_NOMEM, "%s: out of memory reading section FLAT", name);
      memcpy(p + m->flatfield_len, buf + secs[i].off, n);
      m->flatfield = p;
      m->flatfield_len += n;
      m->flatfield_count++;
      continue;
    }
    if (secs[i].tag == TAG_GEOM) {
      if (m->geometry) return sscor_fail(SSCOR_E_FORMAT, "%s: a second GEOM section", name);
      uint8_t *p = malloc(secs[i].len + 1);
      if (!p) return sscor_fail(SSCOR_E_NOMEM, "%s: out of memory reading section GEOM", name);
      memcpy(p, buf + secs[i].off, secs[i].len);
      p[secs[i].len] = 0;
      if (memchr(p, 0, secs[i].len)) {
        free(p);
        return sscor_fail(SSCOR_E_CORRUPT, "%s: GEOM section holds a NUL byte", name);
      }
      m->geometry = (char *)p;
      continue;
    }
    if (secs[i].tag != TAG_NET)
      return sscor_fail(SSCOR_E_FORMAT, "%s: unexpected section '%s' in a model", name, tag_str(secs[i].tag, ts));
    uint32_t role;
    sscor_net *net;
    TRY(load_net(buf, &secs[i], name, &role, &net));
    sscor_net **slot = role == ROLE_GC ? &m->corrector : role == ROLE_GS ? &m->synthesiser : NULL;
    if (!slot || *slot) {
      sscor_net_destroy(net);
      return sscor_fail(SSCOR_E_FORMAT, "%s: %s network %s in a model", name, slot ? "a second" : "unexpected",
                        role_name(role));
    }
    *slot = net;
  }
  if (m->flatfield && !m->geometry)
    return sscor_fail(SSCOR_E_FORMAT, "%s: the model holds a flat-field (FLAT) but no geometry (GEOM)", name);
  if (m->flatfield_count > 1 && m->flatfield_count != m->channels)
    return sscor_fail(SSCOR_E_FORMAT, "%s: %d FLAT sections for %d channels (one for all, or one each)", name,
                      m->flatfield_count, m->channels);
  if (!m->corrector && !m->flatfield && !m->geometry)
    return sscor_fail(SSCOR_E_FORMAT, "%s: the model holds no corrector network (G_C), no flat-field and no geometry",
                      name);
  if (!m->corrector) return SSCOR_OK;
  const sscor_net_config *c = &m->corrector->cfg;
  if (c->in_ch != m->channels || c->out_ch != m->channels)
    return sscor_fail(SSCOR_E_FORMAT, "%s: wrong shape: corrector maps %d -> %d channels, the model declares %d", name,
                      c->in_ch, c->out_ch, m->channels);
  int ho, wo;
  if (sscor_net_output_size(c, m->patch, m->patch, &ho, &wo) != SSCOR_OK) return refail(SSCOR_E_FORMAT, name);
  return SSCOR_OK;
}

sscor_status sscor_model_from_memory(const uint8_t *buf, size_t len, const char *name, sscor_model *m) {
  memset(m, 0, sizeof *m);
  sscor_status st = model_parse(buf, len, name ? name : "model buffer", m);
  if (st != SSCOR_OK) sscor_model_clear(m);
  return st;
}

sscor_status sscor_model_load(const char *path, sscor_model *m) {
  memset(m, 0, sizeof *m);
  uint8_t *buf;
  size_t len;
  TRY(sscor_read_file(path, &buf, &len));
  sscor_status st = sscor_model_from_memory(buf, len, path, m);
  free(buf);
  return st;
}

/* ------------------------------------------------------------ checkpoints */

static void w_adam(wbuf *w, uint32_t which, const sscor_adam *a) {
  w_begin(w, TAG_ADAM);
  w_u32(w, which);
  w_u32(w, 0);
  w_u64(w, (uint64_t)a->t);
  w_u64(w, a->n);
  w_f32s(w, a->m, a->n);
  w_f32s(w, a->v, a->n);
  w_end(w);
}

static void w_pool(wbuf *w, uint32_t which, const sscor_image_pool *p) {
  w_begin(w, TAG_POOL);
  w_u32(w, which);
  w_u32(w, (uint32_t)p->size);
  w_u32(w, (uint32_t)p->count);
  w_u32(w, 0);
  w_u64(w, p->image_floats);
  w_f32s(w, p->images, (size_t)p->count * p->image_floats);
  w_end(w);
}

static void loss_array(const sscor_train_losses *l, double *a) {
  a[0] = l->g_adv_c;
  a[1] = l->g_adv_s;
  a[2] = l->cycle_x;
  a[3] = l->cycle_y;
  a[4] = l->idt_c;
  a[5] = l->idt_s;
  a[6] = l->g_total;
  a[7] = l->d_y;
  a[8] = l->d_x;
}

sscor_status sscor_checkpoint_save(const sscor_trainer *t, const sscor_model *meta, const char *path) {
  sscor_model m;
  memset(&m, 0, sizeof m);
  if (meta) {
    m = *meta;
  } else {
    m.channels = t->cfg.gen.in_ch;
    m.patch = t->cfg.patch;
    for (int c = 0; c < m.channels; c++) {
      m.low[c] = -1.0f;
      m.high[c] = 1.0f;
    }
  }
  if (check_meta(&m, path) != SSCOR_OK) return sscor_last_status();
  if (m.channels != t->cfg.gen.in_ch || m.patch != t->cfg.patch)
    return sscor_fail(SSCOR_E_INVALID, "%s: scaling is for %d channels / patch %d, the trainer has %d / %d", path,
                      m.channels, m.patch, t->cfg.gen.in_ch, t->cfg.patch);
  const sscor_train_config *c = &t->cfg;
  wbuf w = {0};
  w_header(&w, CONTENT_CHECKPOINT);
  w_meta(&w, &m);
  w_net(&w, ROLE_GC, t->g_c);
  w_net(&w, ROLE_GS, t->g_s);
  w_net(&w, ROLE_DX, t->d_x);
  w_net(&w, ROLE_DY, t->d_y);
  w_begin(&w, TAG_TCFG);
  w_u32(&w, (uint32_t)c->patch);
  w_u32(&w, (uint32_t)c->epochs);
  w_u32(&w, (uint32_t)c->epochs_decay);
  w_f32(&w, c->lr);
  w_f32(&w, c->beta1);
  w_f32(&w, c->beta2);
  w_f32(&w, c->lambda_cycle);
  w_f32(&w, c->lambda_identity);
  w_u32(&w, (uint32_t)c->pool_size);
  w_u32(&w, (uint32_t)c->flips);
  w_u64(&w, c->seed);
  w_end(&w);
  w_adam(&w, 1, &t->opt_g);
  w_adam(&w, 2, &t->opt_d);
  w_pool(&w, 1, &t->pool_x);
  w_pool(&w, 2, &t->pool_y);
  w_begin(&w, TAG_STAT);
  w_u32(&w, (uint32_t)t->epoch);
  w_u32(&w, (uint32_t)t->iter);
  w_u64(&w, (uint64_t)t->step);
  for (int i = 0; i < 4; i++) w_u64(&w, t->rng.s[i]);
  w_u32(&w, (uint32_t)t->pairs.n);
  w_u32(&w, t->pairs_crc);
  double la[9];
  loss_array(&t->epoch_sum, la);
  for (int i = 0; i < 9; i++) w_f64(&w, la[i]);
  for (int i = 0; i < t->pairs.n; i++) w_u32(&w, t->perm[i]);
  w_end(&w);
  w_crc(&w);
  if (w.oom) {
    free(w.p);
    return sscor_fail(SSCOR_E_NOMEM, "%s: out of memory serialising the checkpoint", path);
  }
  sscor_status st = sscor_write_file_atomic(path, w.p, w.len);
  free(w.p);
  return st;
}

static int same_net_config(const sscor_net_config *a, const sscor_net_config *b) {
  return a->kind == b->kind && a->in_ch == b->in_ch && a->out_ch == b->out_ch && a->width == b->width &&
         a->depth == b->depth && (a->kind != SSCOR_NET_GENERATOR || a->output == b->output);
}

/* Validates (apply 0) or restores (apply 1) a checkpoint into t. Pass 1
 * checks everything so pass 2 cannot fail half way. */
static sscor_status checkpoint_apply(sscor_trainer *t, const uint8_t *buf, const section *secs, int ns,
                                     const char *name, int apply) {
  const sscor_train_config *c = &t->cfg;
  sscor_net *nets[5] = {NULL, t->g_c, t->g_s, t->d_x, t->d_y};
  int seen_net = 0, seen_adam = 0, seen_pool = 0, seen_tcfg = 0, seen_stat = 0, seen_meta = 0;
  for (int i = 0; i < ns; i++) {
    const section *s = &secs[i];
    rbuf r = {buf, s->off + s->len, s->off};
    char ts[5];
    switch (s->tag) {
    case TAG_META: {
      sscor_model m;
      memset(&m, 0, sizeof m);
      TRY(parse_meta(buf, s, name, &m));
      if (m.channels != c->gen.in_ch)
        return sscor_fail(SSCOR_E_FORMAT, "%s: checkpoint is for %d channels, the trainer has %d", name, m.channels,
                          c->gen.in_ch);
      seen_meta = 1;
      break;
    }
    case TAG_NET: {
      uint32_t role;
      sscor_net_config cfg;
      size_t count, at;
      TRY(parse_net_header(buf, s, name, &role, &cfg, &count, &at));
      if (!same_net_config(&cfg, &nets[role]->cfg))
        return sscor_fail(SSCOR_E_FORMAT,
                          "%s: wrong shape: checkpoint network %s (width %d, depth %d) differs from the trainer's (width %d, depth %d)",
                          name, role_name(role), cfg.width, cfg.depth, nets[role]->cfg.width, nets[role]->cfg.depth);
      if (seen_net & (1 << role)) return sscor_fail(SSCOR_E_FORMAT, "%s: network %s twice", name, role_name(role));
      seen_net |= 1 << role;
      r.pos = at;
      r_f32s(&r, apply ? nets[role]->params : NULL, count);
      break;
    }
    case TAG_TCFG: {
      if (s->len != 48) return sscor_fail(SSCOR_E_CORRUPT, "%s: TCFG section has %zu bytes, not 48", name, s->len);
      uint32_t patch = r_u32(&r), ep = r_u32(&r), ed = r_u32(&r);
      float lr = r_f32(&r), b1 = r_f32(&r), b2 = r_f32(&r), lc = r_f32(&r), li = r_f32(&r);
      uint32_t pool = r_u32(&r), flips = r_u32(&r);
      uint64_t seed = r_u64(&r);
      if ((int)patch != c->patch || (int)ep != c->epochs || (int)ed != c->epochs_decay || lr != c->lr ||
          b1 != c->beta1 || b2 != c->beta2 || lc != c->lambda_cycle || li != c->lambda_identity ||
          (int)pool != c->pool_size || (int)flips != c->flips || seed != c->seed)
        return sscor_fail(SSCOR_E_FORMAT,
                          "%s: checkpoint training settings (patch %u, epochs %u+%u, lr %g, pool %u, seed %llu) differ from the trainer's (patch %d, epochs %d+%d, lr %g, pool %d, seed %llu)",
                          name, patch, ep, ed, lr, pool, (unsigned long long)seed, c->patch, c->epochs,
                          c->epochs_decay, c->lr, c->pool_size, (unsigned long long)c->seed);
      seen_tcfg = 1;
      break;
    }
    case TAG_ADAM: {
      if (s->len < 24) return sscor_fail(SSCOR_E_CORRUPT, "%s: ADAM section too short", name);
      uint32_t which = r_u32(&r);
      (void)r_u32(&r);
      uint64_t step = r_u64(&r), n = r_u64(&r);
      sscor_adam *a = which == 1 ? &t->opt_g : which == 2 ? &t->opt_d : NULL;
      if (!a || (seen_adam & (1 << which)))
        return sscor_fail(SSCOR_E_FORMAT, "%s: unexpected optimiser state %u", name, which);
      if (n != a->n || s->len != 24 + 8 * n)
        return sscor_fail(SSCOR_E_FORMAT, "%s: wrong shape: optimiser state %u has %llu values, the trainer needs %zu",
                          name, which, (unsigned long long)n, a->n);
      seen_adam |= 1 << which;
      if (apply) {
        a->t = (int64_t)step;
        r_f32s(&r, a->m, a->n);
        r_f32s(&r, a->v, a->n);
      }
      break;
    }
    case TAG_POOL: {
      if (s->len < 24) return sscor_fail(SSCOR_E_CORRUPT, "%s: POOL section too short", name);
      uint32_t which = r_u32(&r), size = r_u32(&r), count = r_u32(&r);
      (void)r_u32(&r);
      uint64_t fl = r_u64(&r);
      sscor_image_pool *p = which == 1 ? &t->pool_x : which == 2 ? &t->pool_y : NULL;
      if (!p || (seen_pool & (1 << which)))
        return sscor_fail(SSCOR_E_FORMAT, "%s: unexpected image pool %u", name, which);
      if ((int)size != p->size || fl != p->image_floats || count > size ||
          s->len != 24 + 4 * (size_t)count * (size_t)fl)
        return sscor_fail(SSCOR_E_FORMAT, "%s: wrong shape: image pool %u (%u of %u images of %llu values) does not fit the trainer (%d of %zu)",
                          name, which, count, size, (unsigned long long)fl, p->size, p->image_floats);
      seen_pool |= 1 << which;
      if (apply) {
        p->count = (int)count;
        r_f32s(&r, p->images, (size_t)count * p->image_floats);
      }
      break;
    }
    case TAG_STAT: {
      if (s->len < 128) return sscor_fail(SSCOR_E_CORRUPT, "%s: STAT section too short", name);
      uint32_t epoch = r_u32(&r), iter = r_u32(&r);
      uint64_t step = r_u64(&r), rs[4];
      for (int k = 0; k < 4; k++) rs[k] = r_u64(&r);
      uint32_t npairs = r_u32(&r), crc = r_u32(&r);
      double la[9];
      for (int k = 0; k < 9; k++) la[k] = r_f64(&r);
      if ((int)npairs != t->pairs.n || crc != t->pairs_crc)
        return sscor_fail(SSCOR_E_FORMAT, "%s: checkpoint was made with other training pairs (%u pairs, CRC %08x; now %d, %08x)",
                          name, npairs, crc, t->pairs.n, t->pairs_crc);
      if (s->len != 128 + 4 * (size_t)npairs) return sscor_fail(SSCOR_E_CORRUPT, "%s: STAT section length wrong", name);
      if (epoch > (uint32_t)(c->epochs + c->epochs_decay) || iter >= npairs ||
          step != (uint64_t)epoch * npairs + iter)
        return sscor_fail(SSCOR_E_CORRUPT, "%s: training position (epoch %u, iteration %u, step %llu) inconsistent",
                          name, epoch, iter, (unsigned long long)step);
      /* the order must be a permutation */
      uint8_t *seen = calloc(npairs, 1);
      if (!seen) return sscor_fail(SSCOR_E_NOMEM, "%s: out of memory", name);
      size_t at = r.pos;
      for (uint32_t k = 0; k < npairs; k++) {
        uint32_t v = r_u32(&r);
        if (v >= npairs || seen[v]) {
          free(seen);
          return sscor_fail(SSCOR_E_CORRUPT, "%s: pair order is not a permutation", name);
        }
        seen[v] = 1;
      }
      free(seen);
      seen_stat = 1;
      if (apply) {
        t->epoch = (int)epoch;
        t->iter = (int)iter;
        t->step = (int64_t)step;
        for (int k = 0; k < 4; k++) t->rng.s[k] = rs[k];
        sscor_train_losses *L = &t->epoch_sum;
        L->g_adv_c = la[0];
        L->g_adv_s = la[1];
        L->cycle_x = la[2];
        L->cycle_y = la[3];
        L->idt_c = la[4];
        L->idt_s = la[5];
        L->g_total = la[6];
        L->d_y = la[7];
        L->d_x = la[8];
        r.pos = at;
        for (uint32_t k = 0; k < npairs; k++) t->perm[k] = r_u32(&r);
      }
      break;
    }
    default:
      return sscor_fail(SSCOR_E_FORMAT, "%s: unexpected section '%s' in a checkpoint", name, tag_str(s->tag, ts));
    }
  }
  if (!seen_meta || seen_net != 0x1e || seen_adam != 0x6 || seen_pool != 0x6 || !seen_tcfg || !seen_stat)
    return sscor_fail(SSCOR_E_FORMAT, "%s: incomplete checkpoint (a required section is missing)", name);
  return SSCOR_OK;
}

sscor_status sscor_checkpoint_load(sscor_trainer *t, const char *path) {
  uint8_t *buf;
  size_t len;
  TRY(sscor_read_file(path, &buf, &len));
  section secs[MAX_SECTIONS];
  int ns;
  sscor_status st = scan(buf, len, path, CONTENT_CHECKPOINT, secs, &ns);
  if (st == SSCOR_OK) st = checkpoint_apply(t, buf, secs, ns, path, 0);
  if (st == SSCOR_OK) st = checkpoint_apply(t, buf, secs, ns, path, 1);
  free(buf);
  return st;
}
