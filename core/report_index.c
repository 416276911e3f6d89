/* DIR/index.html: every slide report of a folder, from the summaries the
 * slide pages wrote (report.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report_priv.h"

#define KEYS 16

/* One slide's summary.tsv: the keys the index shows. */
typedef struct {
  char name[256];
  char *v[KEYS];
} entry_t;

static const char *keys[KEYS] = {"status", "error", "input", "date", "seconds", "tiles", "seam_ratio_in", "seam_ratio_out",
                                 "fidelity_pct", "texture_in", "texture_out", "tissue_bg_in", "tissue_bg_out", "summary",
                                 "width", "height"};
enum { K_STATUS, K_ERROR, K_INPUT, K_DATE, K_SECONDS, K_TILES, K_SR_IN, K_SR_OUT, K_FID, K_TEX_IN, K_TEX_OUT, K_TB_IN,
       K_TB_OUT, K_SUMMARY, K_W, K_H };

static void entry_free(entry_t *e) {
  for (int k = 0; k < KEYS; k++) free(e->v[k]);
}

/* 0 when DIR/NAME_files/summary.tsv and DIR/NAME.html both exist and parse. */
static int read_entry(const char *dir, const char *name, entry_t *e) {
  char path[4096];
  struct stat st;
  memset(e, 0, sizeof *e);
  snprintf(e->name, sizeof e->name, "%s", name);
  snprintf(path, sizeof path, "%s/%s.html", dir, name);
  if (stat(path, &st)) return -1;
  snprintf(path, sizeof path, "%s/%s_files/summary.tsv", dir, name);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  char line[8192];
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    char *tab = strchr(line, '\t');
    if (!tab) continue;
    *tab = 0;
    for (int k = 0; k < KEYS; k++)
      if (!strcmp(line, keys[k]) && !e->v[k]) e->v[k] = strdup(tab + 1);
  }
  fclose(f);
  if (!e->v[K_STATUS]) {
    entry_free(e);
    return -1;
  }
  return 0;
}

static int by_name(const void *a, const void *b) { return strcmp(((const entry_t *)a)->name, ((const entry_t *)b)->name); }

static sscor_status scan(const char *dir, entry_t **out, int *n) {
  DIR *d = opendir(dir);
  if (!d) return sscor_fail(SSCOR_E_IO, "report folder %s: cannot read it: %s", dir, strerror(errno));
  entry_t *v = NULL;
  int k = 0, cap = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    size_t l = strlen(de->d_name);
    if (l <= 6 || l - 6 >= sizeof v->name || strcmp(de->d_name + l - 6, "_files")) continue;
    char name[256];
    memcpy(name, de->d_name, l - 6);
    name[l - 6] = 0;
    if (k == cap) {
      entry_t *nv = realloc(v, sizeof *v * (size_t)(cap = cap ? 2 * cap : 64));
      if (!nv) break;
      v = nv;
    }
    if (!read_entry(dir, name, &v[k])) k++;
  }
  closedir(d);
  if (k) qsort(v, (size_t)k, sizeof *v, by_name);
  *out = v, *n = k;
  return SSCOR_OK;
}

static double val(const entry_t *e, int k) { return e->v[k] ? strtod(e->v[k], NULL) : NAN; }

static void num(sscor_sb *b, double v, const char *fmt, int cls) {
  sscor_sb_printf(b, "<td class=\"n%s\">", cls > 0 ? " pass" : cls < 0 ? " miss" : "");
  if (isfinite(v))
    sscor_sb_printf(b, fmt, v);
  else
    sscor_sb_printf(b, "&ndash;");
  sscor_sb_printf(b, "</td>");
}

static int within(double v, double lo, double hi) { return !isfinite(v) ? 0 : v >= lo && v <= hi ? 1 : -1; }

static void row(sscor_sb *b, const entry_t *e) {
  int failed = strcmp(e->v[K_STATUS], "ok") != 0;
  sscor_sb_printf(b, "<tr%s><td><a href=\"", failed ? " class=\"bad\"" : "");
  for (const unsigned char *c = (const unsigned char *)e->name; *c; c++) /* the page's file name, percent-encoded */
    if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || strchr("-_.~", *c))
      sscor_sb_printf(b, "%c", *c);
    else
      sscor_sb_printf(b, "%%%02X", *c);
  sscor_sb_printf(b, ".html\">");
  sscor_sb_html(b, e->name);
  sscor_sb_printf(b, "</a></td><td><span class=\"badge %s\">%s</span></td>", failed ? "failed" : "ok",
                  failed ? "failed" : "ok");
  if (failed) {
    sscor_sb_printf(b, "<td colspan=\"5\" class=\"msg\">");
    sscor_sb_html(b, e->v[K_ERROR] ? e->v[K_ERROR] : "failed");
    sscor_sb_printf(b, "</td>");
  } else {
    double sr0 = val(e, K_SR_IN), sr1 = val(e, K_SR_OUT), fid = val(e, K_FID);
    double tex = val(e, K_TEX_OUT) / val(e, K_TEX_IN), tb = val(e, K_TB_OUT) / val(e, K_TB_IN);
    num(b, val(e, K_TILES), "%.0f", 0);
    sscor_sb_printf(b, "<td class=\"n\">");
    if (isfinite(sr0) && isfinite(sr1))
      sscor_sb_printf(b, "%.3g &rarr; <span class=\"%s\">%.3g</span>", sr0, sr1 <= 1.15 ? "pass" : "miss", sr1);
    else
      sscor_sb_printf(b, "&ndash;");
    sscor_sb_printf(b, "</td>");
    num(b, fid, "%.3g %%", within(fid, 0, 0.5));
    num(b, tex, "%.3f", within(tex, 0.95, 1.05));
    num(b, tb, "%.3f", within(tb, 0.8, 1.25));
  }
  num(b, val(e, K_SECONDS), "%.1f s", 0);
  sscor_sb_printf(b, "<td>");
  sscor_sb_html(b, e->v[K_DATE]);
  sscor_sb_printf(b, "</td></tr>\n");
}

static void index_page(sscor_sb *b, const char *dir, const entry_t *v, int n) {
  int failed = 0;
  for (int i = 0; i < n; i++) failed += strcmp(v[i].v[K_STATUS], "ok") != 0;
  sscor_sb_printf(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>sscor reports: ");
  sscor_sb_html(b, dir);
  sscor_sb_printf(b, "</title><style>%s</style></head><body><main>\n<h1>Slide reports</h1><p class=\"sub\">%d slide%s: "
                     "%d corrected, %d failed</p>\n<section><table><tr><th>slide</th><th>status</th><th>tiles</th>"
                     "<th style=\"text-align:right\">seam ratio</th><th style=\"text-align:right\">fidelity</th>"
                     "<th style=\"text-align:right\">texture after/before</th>"
                     "<th style=\"text-align:right\">tissue/bg after/before</th><th style=\"text-align:right\">time</th>"
                     "<th>date</th></tr>\n",
                  sscor_report_css, n, n == 1 ? "" : "s", n - failed, failed);
  for (int i = 0; i < n; i++) row(b, &v[i]);
  sscor_sb_printf(b, "</table><p class=\"note\">Targets: seam ratio &le; 1.15 (1 = seams gone), fidelity &le; 0.5 %%, "
                     "texture within 5 %%, tissue/background within 0.8&ndash;1.25. Rebuild this page with "
                     "<code>sscor report-index DIR</code>.</p></section></main></body></html>\n");
}

sscor_status sscor_report_index(const char *dir) {
  char path[4096];
  snprintf(path, sizeof path, "%s/.index.lock", dir);
  int fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0666);
  if (fd < 0) return sscor_fail(SSCOR_E_IO, "%s: cannot create: %s", path, strerror(errno));
  flock(fd, LOCK_EX); /* one index writer at a time: a later one sees every finished page */
  entry_t *v = NULL;
  int n = 0;
  sscor_status st = scan(dir, &v, &n);
  if (!st) {
    sscor_sb b = {0};
    index_page(&b, dir, v, n);
    snprintf(path, sizeof path, "%s/index.html", dir);
    st = sscor_sb_write(&b, path);
  }
  for (int i = 0; i < n; i++) entry_free(&v[i]);
  free(v);
  close(fd);
  return st;
}
