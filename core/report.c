/* The slide page and its summary; see report.h. Pictures: report_pictures.c,
 * the index: report_index.c. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "model_file.h"
#include "report_priv.h"

/* ---- text ---------------------------------------------------------------- */

void sscor_sb_printf(sscor_sb *b, const char *fmt, ...) {
  if (b->oom) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (b->len + (size_t)n + 1 > b->cap) {
    size_t cap = (b->cap ? b->cap * 2 : 4096) + (size_t)n;
    char *p = realloc(b->p, cap);
    if (!p) {
      b->oom = 1;
      return;
    }
    b->p = p, b->cap = cap;
  }
  va_start(ap, fmt);
  vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

void sscor_sb_html(sscor_sb *b, const char *s) {
  for (; s && *s; s++) {
    switch (*s) {
    case '&': sscor_sb_printf(b, "&amp;"); break;
    case '<': sscor_sb_printf(b, "&lt;"); break;
    case '>': sscor_sb_printf(b, "&gt;"); break;
    case '"': sscor_sb_printf(b, "&quot;"); break;
    case '\'': sscor_sb_printf(b, "&#39;"); break;
    default: sscor_sb_printf(b, "%c", *s);
    }
  }
}

sscor_status sscor_sb_write(sscor_sb *b, const char *path) {
  sscor_status st = b->oom ? sscor_fail(SSCOR_E_NOMEM, "%s: out of memory", path)
                           : sscor_write_file_atomic(path, (const uint8_t *)(b->p ? b->p : ""), b->len);
  free(b->p);
  memset(b, 0, sizeof *b);
  return st;
}

const char sscor_report_css[] =
    "body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;color:#1d2330;"
    "background:#f4f5f7;margin:0;padding:24px 32px 48px}"
    "main{max-width:1100px;margin:0 auto}"
    "h1{font-size:26px;margin:4px 0 2px}h2{font-size:18px;margin:0 0 10px;color:#2a3a55}"
    "section{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:16px 20px;margin:16px 0}"
    ".sub{color:#5a6475;margin:0;word-break:break-all}a{color:#1a5fb4}"
    ".badge{display:inline-block;font-size:13px;font-weight:600;padding:2px 10px;border-radius:12px;"
    "vertical-align:middle;margin-left:8px}.ok{background:#dff3e4;color:#17692e}.failed{background:#fbe3e1;color:#a4221a}"
    ".error{background:#fbe3e1;border:1px solid #eeb4ae;color:#7d1a12;padding:12px 16px;border-radius:8px;"
    "white-space:pre-wrap;word-break:break-word}"
    "table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #e8ebf0}"
    "th{background:#f0f2f6;font-weight:600;font-size:13px;color:#3b4658}"
    "td.n{font-variant-numeric:tabular-nums;text-align:right;white-space:nowrap}"
    ".pass{color:#17692e;font-weight:600}.miss{color:#b3261e;font-weight:600}"
    ".pics{display:flex;flex-wrap:wrap;gap:16px}figure{margin:0}"
    "figure img{display:block;border:1px solid #cfd4dc;background:#000;max-width:100%;height:auto}"
    "figcaption{font-size:13px;color:#5a6475;margin-top:4px;max-width:520px}"
    "img.zoom{image-rendering:pixelated;width:384px;height:384px}"
    ".note{font-size:13px;color:#5a6475;margin:8px 0 0}"
    "dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0}dt{color:#5a6475}"
    "dd{margin:0;word-break:break-word}code{font-size:13px;background:#f0f2f6;padding:1px 4px;border-radius:3px}"
    "tr.bad td{background:#fdf1f0}td.msg{color:#7d1a12;font-size:13px;word-break:break-word}";

/* ---- names and folders --------------------------------------------------- */

sscor_status sscor_report_name(const char *output, char *buf, size_t size) {
  const char *base = strrchr(output, '/');
  base = base ? base + 1 : output;
  size_t n = strlen(base);
  const char *dot = strrchr(base, '.');
  if (dot && dot != base) n = (size_t)(dot - base);
  if (n > 4 && !strncmp(base + n - 4, ".ome", 4)) n -= 4;
  if (!n || n + 1 > size) return sscor_fail(SSCOR_E_INVALID, "%s: no usable report name in it", output);
  memcpy(buf, base, n);
  buf[n] = 0;
  if (!strcmp(buf, "index"))
    return sscor_fail(SSCOR_E_INVALID, "%s: a slide named 'index' would overwrite the report index; rename the output",
                      output);
  return SSCOR_OK;
}

sscor_status sscor_report_prepare(const char *dir) {
  struct stat st;
  if (stat(dir, &st) && (errno != ENOENT || mkdir(dir, 0777)))
    return sscor_fail(SSCOR_E_IO, "report folder %s: cannot create it: %s", dir, strerror(errno));
  if ((!stat(dir, &st) && !S_ISDIR(st.st_mode)) || access(dir, W_OK | X_OK))
    return sscor_fail(SSCOR_E_IO, "report folder %s: not a folder this user can write into", dir);
  return SSCOR_OK;
}

/* ---- summary for the index ----------------------------------------------- */

/* A value on one line: tabs and line breaks become spaces. */
static void tsv(sscor_sb *b, const char *key, const char *v) {
  sscor_sb_printf(b, "%s\t", key);
  for (; v && *v; v++) sscor_sb_printf(b, "%c", *v == '\t' || *v == '\n' || *v == '\r' ? ' ' : *v);
  sscor_sb_printf(b, "\n");
}

static void tsv_num(sscor_sb *b, const char *key, double v) {
  if (isfinite(v)) sscor_sb_printf(b, "%s\t%.6g\n", key, v);
}

static void iso_date(time_t t, char *buf, size_t n) {
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, n, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

static double total_seconds(const sscor_report_info *r, double report_s) {
  return fmax(0, r->seconds_analysis) + fmax(0, r->seconds_apply) + report_s;
}

static sscor_status write_summary(const char *path, const sscor_report_info *r, const sscor_report_pictures *p,
                                  double report_s) {
  sscor_sb b = {0};
  char date[64];
  iso_date(r->started, date, sizeof date);
  tsv(&b, "name", r->name);
  tsv(&b, "status", r->failed ? "failed" : "ok");
  if (r->failed) tsv(&b, "error", r->error ? r->error : "failed");
  tsv(&b, "input", r->input);
  tsv(&b, "output", r->output);
  tsv(&b, "date", date);
  tsv(&b, "version", r->version);
  tsv_num(&b, "seconds", total_seconds(r, report_s));
  tsv_num(&b, "seconds_report", report_s);
  if (p->width) sscor_sb_printf(&b, "width\t%d\nheight\t%d\n", p->width, p->height);
  if (p->have_metrics) {
    const sscor_correction_report *m = &p->metrics;
    sscor_sb_printf(&b, "tiles\t%d\nmetric_factor\t%d\n", p->metric_tiles, p->metric_factor);
    tsv_num(&b, "seam_ratio_in", m->seams[0].ratio), tsv_num(&b, "seam_ratio_out", m->seams[1].ratio);
    tsv_num(&b, "seam_step_in", m->seams[0].seam_step), tsv_num(&b, "seam_step_out", m->seams[1].seam_step);
    tsv_num(&b, "fidelity_pct", 100 * m->fidelity);
    tsv_num(&b, "texture_in", m->texture[0]), tsv_num(&b, "texture_out", m->texture[1]);
    tsv_num(&b, "tissue_bg_in", m->tissue_bg[0]), tsv_num(&b, "tissue_bg_out", m->tissue_bg[1]);
  }
  tsv(&b, "summary", r->summary);
  tsv(&b, "applied", r->applied);
  return sscor_sb_write(&b, path);
}

/* ---- the page ------------------------------------------------------------ */

/* A relative link target: dir/file percent-encoded, then HTML-escaped. */
static void url(sscor_sb *b, const char *dir, const char *file) {
  char buf[8192];
  size_t k = 0;
  for (const char *parts[2] = {dir, file}, **q = parts; q < parts + 2 && *q; q++) {
    if (q > parts && k < sizeof buf - 1) buf[k++] = '/';
    for (const unsigned char *c = (const unsigned char *)*q; *c && k < sizeof buf - 4; c++) {
      if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || strchr("-_.~", *c))
        buf[k++] = (char)*c;
      else
        k += (size_t)snprintf(buf + k, 4, "%%%02X", *c);
    }
  }
  buf[k] = 0;
  sscor_sb_html(b, buf);
}

/* <a href="dir/file">file</a> */
static void href(sscor_sb *b, const char *dir, const char *file) {
  sscor_sb_printf(b, "<a href=\"");
  url(b, dir, file);
  sscor_sb_printf(b, "\">");
  sscor_sb_html(b, file);
  sscor_sb_printf(b, "</a>");
}

static void num_cell(sscor_sb *b, const char *id, double v, int cls) {
  sscor_sb_printf(b, "<td class=\"n%s\" id=\"%s\">", cls > 0 ? " pass" : cls < 0 ? " miss" : "", id);
  if (isfinite(v))
    sscor_sb_printf(b, "%.4g", v);
  else
    sscor_sb_printf(b, "&ndash;");
  sscor_sb_printf(b, "</td>");
}

/* +1 inside [lo, hi], -1 outside, 0 unknown. */
static int judge(double v, double lo, double hi) { return !isfinite(v) ? 0 : v >= lo && v <= hi ? 1 : -1; }

static void figure_row(sscor_sb *b, const char *label, const char *key, double in, double out, int cls,
                       const char *target) {
  char id[64];
  sscor_sb_printf(b, "<tr><td>%s</td>", label);
  snprintf(id, sizeof id, "m-%s-in", key);
  num_cell(b, id, in, 0);
  snprintf(id, sizeof id, "m-%s-out", key);
  num_cell(b, id, out, cls);
  sscor_sb_printf(b, "<td>%s</td></tr>\n", target);
}

static void key_figures(sscor_sb *b, const sscor_report_pictures *p, const char *files) {
  const sscor_correction_report *m = &p->metrics;
  sscor_sb_printf(b, "<section><h2>Key figures</h2><table><tr><th>figure</th><th style=\"text-align:right\">before"
                     "</th><th style=\"text-align:right\">after</th><th>target</th></tr>\n");
  figure_row(b, "seam ratio: seam step / step on lines inside the tiles (1 = seams gone)", "seam_ratio",
             m->seams[0].ratio, m->seams[1].ratio, judge(m->seams[1].ratio, 0, 1.15), "&le; 1.15");
  figure_row(b, "seam step: mean |log(a/b)| across the tile edges in tissue", "seam_step", m->seams[0].seam_step,
             m->seams[1].seam_step, 0, "");
  figure_row(b, "fidelity: fine structure of log(after/before), % (0 = only a smooth gain)", "fidelity_pct", NAN,
             100 * m->fidelity, judge(100 * m->fidelity, 0, 0.5), "&le; 0.5 %");
  figure_row(b, "texture contrast (15-px high-pass in tissue)", "texture", m->texture[0], m->texture[1],
             judge(m->texture[1] / m->texture[0], 0.95, 1.05), "after/before 0.95&ndash;1.05");
  figure_row(b, "tissue / background median ratio", "tissue_bg", m->tissue_bg[0], m->tissue_bg[1],
             judge(m->tissue_bg[1] / m->tissue_bg[0], 0.8, 1.25), "after/before 0.8&ndash;1.25");
  sscor_sb_printf(b, "</table><p class=\"note\">Measured ");
  if (p->metric_factor > 1)
    sscor_sb_printf(b, "on the image reduced %d times (the slide is too large to measure whole)", p->metric_factor);
  else
    sscor_sb_printf(b, "at full resolution");
  sscor_sb_printf(b, " over %d tiles of the detected geometry, tissue above %.6g", p->metric_tiles, m->threshold);
  if (p->metric_tiles) {
    sscor_sb_printf(b, " (<code>sscor metrics IN OUT --tiles ");
    href(b, files, "tiles.txt");
    sscor_sb_printf(b, "</code> gives the same figures)");
  } else {
    sscor_sb_printf(b, "; no seam figures: they need an axis-aligned tile grid");
  }
  sscor_sb_printf(b, ".</p></section>\n");
}

static void picture(sscor_sb *b, const char *files, const char *file, const char *cls, const char *caption) {
  sscor_sb_printf(b, "<figure><img src=\"");
  url(b, files, file);
  sscor_sb_printf(b, "\" alt=\"");
  sscor_sb_html(b, caption);
  sscor_sb_printf(b, "\"%s%s%s><figcaption>", cls ? " class=\"" : "", cls ? cls : "", cls ? "\"" : "");
  sscor_sb_html(b, caption);
  sscor_sb_printf(b, "</figcaption></figure>\n");
}

static void pictures(sscor_sb *b, const sscor_report_pictures *p, const char *files) {
  if (p->have_before) {
    sscor_sb_printf(b, "<section><h2>Before and after</h2><div class=\"pics\">\n");
    picture(b, files, "before.png", NULL, "before: the input (display range: its 0.5-99.7 percentiles)");
    if (p->have_after) picture(b, files, "after.png", NULL, "after: the corrected output, same display range");
    sscor_sb_printf(b, "</div></section>\n");
  }
  if (p->have_crop) {
    char cap[256];
    snprintf(cap, sizeof cap, "%dx%d px at full resolution, at x %d, y %d, on a seam %s in tissue; yellow ticks on the "
             "border mark the detected seams", p->crop_size, p->crop_size, p->crop_x, p->crop_y,
             p->crop_crossing ? "crossing" : "");
    sscor_sb_printf(b, "<section><h2>Zoom across the seams</h2><div class=\"pics\">\n");
    picture(b, files, "crop_before.png", "zoom", "before");
    picture(b, files, "crop_after.png", "zoom", "after (same display range)");
    sscor_sb_printf(b, "</div><p class=\"note\">");
    sscor_sb_html(b, cap);
    sscor_sb_printf(b, "</p></section>\n");
  }
  if (p->have_profile_v || p->have_profile_h) {
    sscor_sb_printf(b, "<section><h2>Intensity profiles across the seams</h2>\n");
    if (p->have_profile_v) picture(b, files, "profile_v.png", NULL, "across the vertical seams, through the zoom");
    if (p->have_profile_h) picture(b, files, "profile_h.png", NULL, "across the horizontal seams, through the zoom");
    sscor_sb_printf(b, "</section>\n");
  }
}

static void geometry_section(sscor_sb *b, const sscor_report_info *r, const sscor_geometry *g,
                             const sscor_report_pictures *p, const char *files) {
  if (!g && !r->summary) return;
  sscor_sb_printf(b, "<section><h2>What was detected</h2><div class=\"pics\">\n");
  if (p->have_geometry)
    picture(b, files, "geometry.png", NULL, "tile edges (yellow), explicit seams (cyan), artifact regions (magenta), "
                                            "the zoom (red)");
  sscor_sb_printf(b, "<dl>");
  if (r->summary) {
    sscor_sb_printf(b, "<dt>analysis</dt><dd>");
    sscor_sb_html(b, r->summary);
    sscor_sb_printf(b, "</dd>");
  }
  if (g) {
    sscor_sb_printf(b, "<dt>orientation</dt><dd>%s</dd><dt>tiles</dt><dd>%d", sscor_orientation_name(g->orientation),
                    g->n_tiles);
    if (g->tile_w) sscor_sb_printf(b, " of %dx%d px", g->tile_w, g->tile_h);
    sscor_sb_printf(b, "</dd><dt>angle</dt><dd>%.2f&deg;</dd><dt>image</dt><dd>%dx%d px</dd>", g->angle_deg, g->width,
                    g->height);
    if (g->n_regions) sscor_sb_printf(b, "<dt>artifact regions</dt><dd>%d</dd>", g->n_regions);
    sscor_sb_printf(b, "<dt>geometry file</dt><dd>");
    href(b, files, "geometry.txt");
    sscor_sb_printf(b, " (edit it, pass it with <code>--geometry</code>)</dd>");
  }
  sscor_sb_printf(b, "</dl></div></section>\n");
}

static void dl_text(sscor_sb *b, const char *term, const char *v, int code) {
  if (!v) return;
  sscor_sb_printf(b, "<dt>%s</dt><dd>%s", term, code ? "<code>" : "");
  sscor_sb_html(b, v);
  sscor_sb_printf(b, "%s</dd>", code ? "</code>" : "");
}

static void done_section(sscor_sb *b, const sscor_report_info *r, double report_s) {
  char date[64], buf[512];
  iso_date(r->started, date, sizeof date);
  sscor_sb_printf(b, "<section><h2>What was done</h2><dl>");
  dl_text(b, "applied", r->applied, 0);
  if (r->have_flat) {
    snprintf(buf, sizeof buf, "%d seam + %d interior observations; seam residual %.4f -> %.4f; field %.3f..%.3f",
             r->flat_seam_obs, r->flat_interior_obs, r->flat_rms_before, r->flat_rms_after, r->flat_min, r->flat_max);
    dl_text(b, "flat-field", buf, 0);
  }
  dl_text(b, "input", r->input, 1);
  dl_text(b, "output", r->failed ? NULL : r->output, 1);
  dl_text(b, "command", r->command, 1);
  dl_text(b, "version", r->version, 0);
  dl_text(b, "started", date, 0);
  snprintf(buf, sizeof buf, "%.1f s in all", total_seconds(r, report_s));
  size_t l = strlen(buf);
  if (r->seconds_analysis >= 0) l += (size_t)snprintf(buf + l, sizeof buf - l, "; analysis %.1f s", r->seconds_analysis);
  if (r->seconds_apply >= 0 && l < sizeof buf) l += (size_t)snprintf(buf + l, sizeof buf - l, ", correction %.1f s", r->seconds_apply);
  if (l < sizeof buf) snprintf(buf + l, sizeof buf - l, ", this report %.1f s", report_s);
  dl_text(b, "time", buf, 0);
  sscor_sb_printf(b, "</dl></section>\n");
}

static void page(sscor_sb *b, const sscor_report_info *r, const sscor_geometry *g, const sscor_report_pictures *p,
                 const char *files, double report_s) {
  sscor_sb_printf(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>sscor report: ");
  sscor_sb_html(b, r->name);
  sscor_sb_printf(b, "</title><style>%s</style></head><body><main>\n<p><a href=\"index.html\">&larr; all slides</a></p>"
                     "<h1>", sscor_report_css);
  sscor_sb_html(b, r->name);
  sscor_sb_printf(b, "<span class=\"badge %s\">%s</span></h1><p class=\"sub\">", r->failed ? "failed" : "ok",
                  r->failed ? "failed" : "corrected");
  sscor_sb_html(b, r->input);
  if (!r->failed) {
    sscor_sb_printf(b, " &rarr; ");
    sscor_sb_html(b, r->output);
  }
  sscor_sb_printf(b, "</p>\n");
  if (r->failed) {
    sscor_sb_printf(b, "<section><h2>The correction failed</h2><div class=\"error\" id=\"error\">");
    sscor_sb_html(b, r->error ? r->error : "failed");
    sscor_sb_printf(b, "</div><p class=\"note\">No output was written.</p></section>\n");
  }
  if (p->have_metrics) key_figures(b, p, files);
  pictures(b, p, files);
  geometry_section(b, r, g, p, files);
  done_section(b, r, report_s);
  sscor_sb_printf(b, "</main></body></html>\n");
}

/* ---- writing it all -------------------------------------------------------- */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Pictures (a failed run: the input alone, when it can be read) and the
 * geometry file into DIR/NAME_files. */
static sscor_status contents(const char *files_dir, const sscor_report_info *r, const sscor_geometry *g,
                             sscor_report_pictures *p) {
  sscor_status st = SSCOR_OK;
  if (r->geometry) {
    char path[8192];
    snprintf(path, sizeof path, "%s/geometry.txt", files_dir);
    if ((st = sscor_write_file_atomic(path, (const uint8_t *)r->geometry, strlen(r->geometry)))) return st;
  }
  st = sscor_report_make_pictures(files_dir, r->input, r->failed ? NULL : r->output, g, p);
  if (st && r->failed) { /* the input may be what failed: the page says so, without pictures */
    memset(p, 0, sizeof *p);
    st = SSCOR_OK;
  }
  return st;
}

sscor_status sscor_report_write(const char *dir, const sscor_report_info *r, double *seconds) {
  double t0 = now_s();
  char files[3100], files_dir[6200], path[8192];
  if (strlen(dir) + strlen(r->name) > 3000) return sscor_fail(SSCOR_E_INVALID, "%s: report path too long", dir);
  snprintf(files, sizeof files, "%s_files", r->name);
  snprintf(files_dir, sizeof files_dir, "%s/%s", dir, files);
  if (mkdir(files_dir, 0777) && errno != EEXIST)
    return sscor_fail(SSCOR_E_IO, "%s: cannot create: %s", files_dir, strerror(errno));
  sscor_geometry g, *gp = NULL;
  if (r->geometry && !sscor_geometry_parse(r->geometry, "geometry", &g)) gp = &g;
  sscor_report_pictures p;
  sscor_status st = contents(files_dir, r, gp, &p);
  double report_s = now_s() - t0;
  snprintf(path, sizeof path, "%s/summary.tsv", files_dir);
  if (!st) st = write_summary(path, r, &p, report_s);
  if (!st) {
    sscor_sb b = {0};
    page(&b, r, gp, &p, files, report_s);
    snprintf(path, sizeof path, "%s/%s.html", dir, r->name);
    st = sscor_sb_write(&b, path); /* last: the page appears when all it shows is there */
  }
  if (gp) sscor_geometry_free(gp);
  if (!st) st = sscor_report_index(dir);
  if (seconds) *seconds = now_s() - t0;
  return st;
}
