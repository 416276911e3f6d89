/* Model files: save -> load round trip (file and memory), identical outputs
 * after loading, and refusal with a clear message of truncated, bit-flipped,
 * wrong-version, wrong-magic, wrong-shape and missing files. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "kernels.h"
#include "model_file.h"

static char dir[256];

static void path_in(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", dir, name); }

static int write_bytes(const char *path, const uint8_t *b, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) return 0;
  size_t w = fwrite(b, 1, n, f);
  fclose(f);
  return w == n;
}

static void fix_crc(uint8_t *b, size_t n) {
  uint32_t c = sscor_crc32(0, b, n - 20);
  for (int i = 0; i < 4; i++) b[n - 4 + i] = (uint8_t)(c >> (8 * i));
}

/* Loads path expecting failure with code and every needle in the message. */
static void expect_refused(const char *path, sscor_status code, const char *needle) {
  sscor_model m;
  sscor_status st = sscor_model_load(path, &m);
  CHECK_MSG(st == code, "%s: status %s, expected %s (%s)", path, sscor_status_name(st), sscor_status_name(code),
            sscor_last_error());
  CHECK_MSG(strstr(sscor_last_error(), path) != NULL, "message does not name the file: %s", sscor_last_error());
  CHECK_MSG(!needle || strstr(sscor_last_error(), needle) != NULL, "message lacks '%s': %s", needle,
            sscor_last_error());
  CHECK(m.corrector == NULL && m.synthesiser == NULL);
  if (st == SSCOR_OK) sscor_model_clear(&m);
}

static void make_model(sscor_model *m, int channels, sscor_gen_output out, int width, int blocks, uint64_t seed) {
  memset(m, 0, sizeof *m);
  m->channels = channels;
  m->patch = 64;
  m->sample_format = SSCOR_SAMPLE_U16;
  for (int c = 0; c < channels; c++) {
    m->low[c] = 100.0f + (float)c;
    m->high[c] = 4000.5f + (float)c;
  }
  strcpy(m->preset, "cpu");
  sscor_net_config cfg = sscor_gen_config(channels, channels, width, blocks, out);
  sscor_net_create(&cfg, &m->corrector);
  sscor_rng r;
  sscor_rng_seed(&r, seed);
  /* not sscor_net_init: the identity start would leave the last conv zero */
  for (size_t i = 0; i < m->corrector->n_params; i++) m->corrector->params[i] = sscor_rng_normal(&r, 0, 0.1f);
}

static void round_trip(void) {
  sscor_model m, l;
  make_model(&m, 2, SSCOR_GEN_OUT_GAIN, 4, 2, 1);
  sscor_net_config sc = sscor_gen_config(2, 2, 4, 1, SSCOR_GEN_OUT_TANH);
  CHECK(sscor_net_create(&sc, &m.synthesiser) == SSCOR_OK);
  char p[512];
  path_in(p, sizeof p, "model.sscor");
  CHECK_MSG(sscor_model_save(&m, p) == SSCOR_OK, "%s", sscor_last_error());
  CHECK_MSG(sscor_model_load(p, &l) == SSCOR_OK, "%s", sscor_last_error());
  CHECK(l.channels == 2 && l.patch == 64 && l.sample_format == SSCOR_SAMPLE_U16 && strcmp(l.preset, "cpu") == 0);
  CHECK(l.low[1] == 101.0f && l.high[0] == 4000.5f);
  CHECK(l.corrector && l.corrector->cfg.output == SSCOR_GEN_OUT_GAIN && l.corrector->cfg.width == 4 &&
        l.corrector->cfg.depth == 2);
  CHECK(l.corrector && memcmp(l.corrector->params, m.corrector->params, m.corrector->n_params * 4) == 0);
  CHECK(l.synthesiser && l.synthesiser->cfg.depth == 1);
  /* no temporary left behind */
  char tmp[600];
  path_in(tmp, sizeof tmp, ".model.sscor.part-");
  snprintf(tmp + strlen(tmp), sizeof tmp - strlen(tmp), "%d", (int)getpid());
  CHECK(access(tmp, F_OK) != 0);

  /* same output from the loaded network */
  sscor_engine *e;
  CHECK(sscor_engine_create(SSCOR_BACKEND_BEST, &e) == SSCOR_OK);
  sscor_net_ws *w1, *w2;
  CHECK(sscor_net_ws_create(m.corrector, e, 1, 16, 16, 0, &w1) == SSCOR_OK);
  CHECK(sscor_net_ws_create(l.corrector, e, 1, 16, 16, 0, &w2) == SSCOR_OK);
  float x[2 * 256], y1[2 * 256], y2[2 * 256];
  for (int i = 0; i < 512; i++) x[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
  sscor_tensor_import(sscor_net_ws_input(w1), x);
  sscor_tensor_import(sscor_net_ws_input(w2), x);
  CHECK(sscor_net_forward(w1, sscor_net_ws_input(w1)) == SSCOR_OK);
  CHECK(sscor_net_forward(w2, sscor_net_ws_input(w2)) == SSCOR_OK);
  sscor_tensor_export(sscor_net_ws_output(w1), y1);
  sscor_tensor_export(sscor_net_ws_output(w2), y2);
  CHECK(memcmp(y1, y2, sizeof y1) == 0);
  sscor_net_ws_destroy(w1);
  sscor_net_ws_destroy(w2);
  sscor_engine_destroy(e);
  sscor_model_clear(&l);

  /* memory round trip gives the same bytes as the file */
  uint8_t *buf, *fbuf;
  size_t len, flen;
  CHECK(sscor_model_to_memory(&m, &buf, &len) == SSCOR_OK);
  CHECK(sscor_read_file(p, &fbuf, &flen) == SSCOR_OK);
  CHECK(len == flen && memcmp(buf, fbuf, len) == 0);
  CHECK(sscor_model_from_memory(buf, len, "model buffer", &l) == SSCOR_OK);
  sscor_model_clear(&l);
  free(buf);
  free(fbuf);
  sscor_model_clear(&m);
}

static void refused(void) {
  sscor_model m;
  make_model(&m, 1, SSCOR_GEN_OUT_TANH, 2, 1, 2);
  uint8_t *buf;
  size_t len;
  CHECK(sscor_model_to_memory(&m, &buf, &len) == SSCOR_OK);
  char p[512];
  path_in(p, sizeof p, "bad.sscor");
  uint8_t *b = malloc(len);

  /* missing */
  char missing[512];
  path_in(missing, sizeof missing, "nope.sscor");
  expect_refused(missing, SSCOR_E_IO, "cannot open");
  /* a directory */
  expect_refused(dir, SSCOR_E_IO, "not a regular file");
  /* truncated at every length */
  int ok_trunc = 1;
  for (size_t n = 0; n < len; n++) {
    write_bytes(p, buf, n);
    sscor_model t;
    sscor_status st = sscor_model_load(p, &t);
    if (st == SSCOR_OK) sscor_model_clear(&t);
    if (st != SSCOR_E_CORRUPT || !strstr(sscor_last_error(), "truncated")) {
      ok_trunc = 0;
      fprintf(stderr, "cut at %zu: %s\n", n, sscor_last_error());
      break;
    }
  }
  CHECK_MSG(ok_trunc, "every truncation refused as truncated");
  write_bytes(p, buf, len / 2);
  expect_refused(p, SSCOR_E_CORRUPT, "truncated");
  /* every single bit flip refused (bad magic, version, structure or checksum) */
  int accepted = 0;
  for (size_t i = 0; i < len; i++)
    for (int bit = 0; bit < 8; bit += 3) {
      memcpy(b, buf, len);
      b[i] ^= (uint8_t)(1u << bit);
      sscor_model t;
      if (sscor_model_from_memory(b, len, "flipped", &t) == SSCOR_OK) {
        accepted++;
        sscor_model_clear(&t);
      }
    }
  CHECK_MSG(accepted == 0, "%d bit flips went unnoticed", accepted);
  memcpy(b, buf, len);
  b[len / 2] ^= 0x10; /* inside the weights */
  write_bytes(p, b, len);
  expect_refused(p, SSCOR_E_CORRUPT, "checksum mismatch");
  /* trailing garbage */
  uint8_t *longer = malloc(len + 3);
  memcpy(longer, buf, len);
  memset(longer + len, 0, 3);
  write_bytes(p, longer, len + 3);
  expect_refused(p, SSCOR_E_CORRUPT, NULL);
  free(longer);
  /* wrong magic */
  memcpy(b, buf, len);
  memcpy(b, "GGUF\0\0\0\0", 8);
  write_bytes(p, b, len);
  expect_refused(p, SSCOR_E_FORMAT, "bad magic");
  /* wrong version (checksum made valid so only the version is wrong) */
  memcpy(b, buf, len);
  b[8] = 2;
  fix_crc(b, len);
  write_bytes(p, b, len);
  expect_refused(p, SSCOR_E_FORMAT, "version 2");
  /* wrong shape: NET says width 3 while holding width-2 weights (valid checksum) */
  memcpy(b, buf, len);
  size_t meta_len = 16 + 8 + 32;               /* 1 channel */
  size_t net_payload = 16 + 16 + meta_len + 16; /* header + META section + NET header */
  b[net_payload + 16] = 3;                      /* width field */
  fix_crc(b, len);
  write_bytes(p, b, len);
  expect_refused(p, SSCOR_E_FORMAT, "wrong shape");
  /* scaling that cannot be used */
  memcpy(b, buf, len);
  float bad_high = -5.0f;
  memcpy(b + 16 + 16 + 16 + 4, &bad_high, 4); /* high[0] below low[0] */
  fix_crc(b, len);
  write_bytes(p, b, len);
  expect_refused(p, SSCOR_E_FORMAT, "scaling");
  /* a model that does not fit together is not saved */
  sscor_model w = m;
  w.channels = 3;
  for (int c = 0; c < 3; c++) {
    w.low[c] = 0;
    w.high[c] = 1;
  }
  path_in(p, sizeof p, "never.sscor");
  CHECK(sscor_model_save(&w, p) == SSCOR_E_INVALID);
  CHECK(access(p, F_OK) != 0);
  /* unwritable destination: error, nothing written */
  CHECK(sscor_model_save(&m, "/proc/sscor-no-such-dir/m.sscor") == SSCOR_E_IO);
  CHECK_MSG(strstr(sscor_last_error(), "/proc/sscor-no-such-dir") != NULL, "%s", sscor_last_error());
  free(b);
  free(buf);
  sscor_model_clear(&m);
}

int main(void) {
  sscor_kernels_set_threads(2);
  snprintf(dir, sizeof dir, "%s/sscor_test_model_%d", P_tmpdir, (int)getpid());
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
    perror(dir);
    return 1;
  }
  /* CRC-32 check value of the standard ("123456789" -> cbf43926) */
  CHECK(sscor_crc32(0, "123456789", 9) == 0xcbf43926u);
  round_trip();
  refused();
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  return CHECK_DONE();
}
