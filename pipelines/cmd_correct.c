/* sscor detect / train / apply / correct / batch: the correction workflow.
 *
 * `train` analyses an image (detect or read the geometry, estimate the
 * seam-aware flat-field) and writes a model; `apply` runs the GStreamer
 * pipeline
 *     sscorslidesrc location=IN ! sscorcorrect model=M ! sscorblendsink location=OUT
 * (printed, and built with gst_parse_launch from that very string, so typing
 * it into gst-launch-1.0 gives the same file); `correct` is train + apply;
 * `batch` runs correct over many files into a folder. */
#include <errno.h>
#include <getopt.h>
#include <gst/gst.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "correct.h"

typedef struct {
  const char *geometry;  /* explicit geometry file */
  const char *save_geom; /* write the geometry used here */
  const char *model;     /* model to use (apply) or keep (correct) */
  int scale;
  int quiet;
  int redo;
  int threads;
  int tile; /* tile side of the stream */
  sscor_flatfield_params flat;
  int learn;          /* 1: learned G_C refinement after the flat-field; 2: G_C alone (plain CycleGAN) */
  const char *preset; /* trainer preset */
  int epochs;
  double budget;      /* training seconds */
} opts_t;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- GStreamer ---------------------------------------------------------- */

static int gst_ready(const char *cmd) {
  static int done;
  if (done) return 0;
  gst_init(NULL, NULL);
  /* find the plugin in the build tree, else where it is installed */
  GstRegistry *reg = gst_registry_get();
  GstPluginFeature *f = gst_registry_lookup_feature(reg, "sscorcorrect");
  if (!f) {
    gst_registry_scan_path(reg, SSCOR_PLUGIN_DIR);
    f = gst_registry_lookup_feature(reg, "sscorcorrect");
  }
  if (!f) {
    fprintf(stderr,
            "sscor %s: the sscor GStreamer plugin is not installed (looked in GST_PLUGIN_PATH, "
            "the system plugin folder and %s)\n",
            cmd, SSCOR_PLUGIN_DIR);
    return -1;
  }
  gst_object_unref(f);
  done = 1;
  return 0;
}

/* Appends s to the pipeline text as a quoted property value. */
static void quote(GString *g, const char *s) {
  g_string_append_c(g, '"');
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') g_string_append_c(g, '\\');
    g_string_append_c(g, *s);
  }
  g_string_append_c(g, '"');
}

static char *apply_pipeline(const char *in, const char *model, const char *out, const opts_t *o) {
  GString *g = g_string_new("sscorslidesrc location=");
  quote(g, in);
  if (o->tile) g_string_append_printf(g, " tile-width=%d tile-height=%d", o->tile, o->tile);
  g_string_append(g, " ! sscorcorrect model=");
  quote(g, model);
  if (o->threads) g_string_append_printf(g, " threads=%d", o->threads);
  g_string_append(g, " ! sscorblendsink location=");
  quote(g, out);
  return g_string_free(g, FALSE);
}

static void show_progress(const opts_t *o, const char *what, double frac, double t0, int *last) {
  if (o->quiet) return;
  int pct = (int)(frac * 100 + 0.5);
  if (isatty(2)) {
    int n = pct * 30 / 100;
    fprintf(stderr, "\r%-10s [%.*s%*s] %3d%% %5.0fs", what, n, "##############################", 30 - n, "",
            pct, now_s() - t0);
    if (pct >= 100) fputc('\n', stderr);
  } else if (pct >= *last + 10 || (pct >= 100 && *last < 100)) {
    fprintf(stderr, "%s: %d%% (%.0f s)\n", what, pct, now_s() - t0);
    *last = pct;
  }
}

/* Runs a pipeline to EOS; prints the element's error on failure. */
static int run_pipeline(const char *cmd, const char *text, const opts_t *o) {
  if (gst_ready(cmd)) return SSCOR_EXIT_FAIL;
  if (!o->quiet) fprintf(stderr, "pipeline: gst-launch-1.0 %s\n", text);
  GError *err = NULL;
  GstElement *p = gst_parse_launch(text, &err);
  if (!p || err) {
    fprintf(stderr, "sscor %s: cannot build the pipeline: %s\n", cmd, err ? err->message : "unknown error");
    g_clear_error(&err);
    if (p) gst_object_unref(p);
    return SSCOR_EXIT_FAIL;
  }
  int rc = SSCOR_EXIT_OK, last = -10;
  double t0 = now_s();
  GstBus *bus = gst_element_get_bus(p);
  if (gst_element_set_state(p, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) rc = SSCOR_EXIT_FAIL;
  for (int done = 0; !done;) {
    GstMessage *m = gst_bus_timed_pop_filtered(bus, GST_CLOCK_TIME_NONE,
                                               GST_MESSAGE_ERROR | GST_MESSAGE_EOS | GST_MESSAGE_ELEMENT);
    if (!m) break;
    switch (GST_MESSAGE_TYPE(m)) {
    case GST_MESSAGE_ERROR: {
      GError *e = NULL;
      gchar *dbg = NULL;
      gst_message_parse_error(m, &e, &dbg);
      if (!o->quiet && isatty(2)) fputc('\n', stderr);
      fprintf(stderr, "sscor %s: %s%s%s\n", cmd, e->message, dbg ? ": " : "", dbg ? dbg : "");
      g_error_free(e);
      g_free(dbg);
      rc = SSCOR_EXIT_FAIL;
      done = 1;
      break;
    }
    case GST_MESSAGE_EOS: done = 1; break;
    default: {
      const GstStructure *s = gst_message_get_structure(m);
      int rows, total;
      if (s && gst_structure_has_name(s, "progress") && gst_structure_get_int(s, "rows", &rows) &&
          gst_structure_get_int(s, "total", &total) && total > 0)
        show_progress(o, "correct", (double)rows / total, t0, &last);
    }
    }
    gst_message_unref(m);
  }
  gst_element_set_state(p, GST_STATE_NULL);
  gst_object_unref(bus);
  gst_object_unref(p);
  if (rc == SSCOR_EXIT_OK) show_progress(o, "correct", 1.0, t0, &last);
  return rc;
}

/* ---- stages ------------------------------------------------------------- */

static int train_progress(const sscor_train_progress *p, void *user) {
  const opts_t *o = user;
  static double last;
  if (o->quiet) return 0;
  if (p->step == 1 || p->elapsed_s - last >= 10 || p->step == p->steps) {
    last = p->elapsed_s;
    fprintf(stderr, "train: epoch %d/%d iteration %d/%d  G %.3f (cycle %.3f, identity %.3f)  D %.3f  %.0f s, ETA %.0f s\n",
            p->epoch + 1, p->epochs, p->iter, p->iters, p->epoch_mean.g_total,
            p->epoch_mean.cycle_x + p->epoch_mean.cycle_y, p->epoch_mean.idt_c + p->epoch_mean.idt_s,
            p->epoch_mean.d_x + p->epoch_mean.d_y, p->elapsed_s, p->eta_s);
  }
  return 0;
}

/* Analyses IN and writes a flat-field model to model_path. */
static int do_train(const char *cmd, const char *in, const char *model_path, const opts_t *o) {
  sscor_analyse_params ap;
  sscor_analyse_params_default(&ap);
  ap.scale = o->scale;
  ap.geometry_file = o->geometry;
  ap.flat = o->flat;
  sscor_geometry g;
  sscor_flatfield *ff;
  sscor_analyse_report rep;
  double t0 = now_s();
  if (!o->quiet) fprintf(stderr, "analyse: %s\n", in);
  sscor_image coarse = {0};
  if (sscor_analyse_slide(in, &ap, &g, &ff, &coarse, &rep)) return sscor_cli_fail(cmd);
  if (!o->quiet) {
    fprintf(stderr, "geometry: %s\n", rep.detect.summary);
    fprintf(stderr,
            "flat-field: %d seam + %d interior observations, seam residual %.4f -> %.4f, field %.3f..%.3f "
            "(%.1f s)\n",
            rep.flat.seam_obs, rep.flat.interior_obs, rep.flat.seam_rms_before, rep.flat.seam_rms_after,
            rep.flat.min_gain, rep.flat.max_gain, now_s() - t0);
  }
  int rc = SSCOR_EXIT_OK;
  if (o->save_geom && sscor_geometry_write(&g, o->save_geom)) rc = sscor_cli_fail(cmd);
  sscor_slide *s = NULL;
  sscor_model m;
  memset(&m, 0, sizeof m);
  if (!rc && sscor_slide_open(in, &s)) rc = sscor_cli_fail(cmd);
  if (!rc) {
    const sscor_slide_info *info = sscor_slide_get_info(s);
    /* a 4-channel OpenSlide stream is RGBA: the model covers the colours */
    m.channels = info->channels == 4 ? 3 : info->channels;
    m.patch = 64;
    m.sample_format = (sscor_sample_format)(info->type + 1);
    for (int c = 0; c < m.channels; c++) {
      m.low[c] = 0;
      m.high[c] = sscor_sample_max(info->type) < 1e30f ? sscor_sample_max(info->type) : 1.0f;
    }
    snprintf(m.preset, sizeof m.preset, "flatfield");
    if (sscor_model_set_flatfield(&m, &g, o->learn == 2 ? NULL : ff)) rc = sscor_cli_fail(cmd);
    if (!rc && o->learn == 2) { /* the plain CycleGAN: no flat-field, no geometry */
      free(m.geometry);
      m.geometry = NULL;
    }
    if (!rc && o->learn) {
      sscor_refine_params rp;
      sscor_refine_params_default(&rp);
      if (o->preset) rp.preset = o->preset;
      rp.epochs = o->epochs;
      rp.budget_s = o->budget;
      rp.threads = o->threads;
      rp.flatfield_first = o->learn == 1;
      int np;
      double t1 = now_s();
      if (sscor_refine_train(in, &g, ff, &coarse, rep.scale, rep.flat.foreground, &rp, train_progress,
                             (void *)o, &m, &np))
        rc = sscor_cli_fail(cmd);
      else if (!o->quiet)
        fprintf(stderr, "train: %d pairs, preset %s, %.0f s\n", np, rp.preset, now_s() - t1);
    }
    if (!rc && sscor_model_save(&m, model_path)) rc = sscor_cli_fail(cmd);
    else if (!rc && !o->quiet) fprintf(stderr, "model: %s\n", model_path);
  }
  sscor_image_free(&coarse);
  if (s) sscor_slide_close(s);
  sscor_model_clear(&m);
  sscor_flatfield_free(ff);
  sscor_geometry_free(&g);
  return rc;
}

static int do_apply(const char *cmd, const char *in, const char *model, const char *out, const opts_t *o) {
  char *text = apply_pipeline(in, model, out, o);
  int rc = run_pipeline(cmd, text, o);
  g_free(text);
  if (rc == SSCOR_EXIT_OK && access(out, F_OK)) {
    fprintf(stderr, "sscor %s: the pipeline finished but wrote no %s\n", cmd, out);
    rc = SSCOR_EXIT_FAIL;
  }
  return rc;
}

/* Fails before any analysis when OUT's folder cannot take the file, so a
 * typo costs seconds, not a whole slide's work. */
static int check_output_dir(const char *cmd, const char *out) {
  char *dir = g_path_get_dirname(out);
  int ok = access(dir, W_OK | X_OK) == 0;
  if (!ok) fprintf(stderr, "sscor %s: %s: cannot write into %s: %s\n", cmd, out, dir, strerror(errno));
  g_free(dir);
  return ok ? SSCOR_EXIT_OK : SSCOR_EXIT_FAIL;
}

static int do_correct(const char *cmd, const char *in, const char *out, const opts_t *o) {
  if (check_output_dir(cmd, out)) return SSCOR_EXIT_FAIL;
  double t0 = now_s();
  char *tmp = NULL;
  const char *model = o->model;
  if (!model) {
    tmp = g_strdup_printf("%s.model.%d.sscor", out, (int)getpid());
    model = tmp;
  }
  int rc = do_train(cmd, in, model, o);
  if (!rc) rc = do_apply(cmd, in, model, out, o);
  if (tmp) {
    unlink(tmp);
    g_free(tmp);
  }
  if (!rc && !o->quiet) fprintf(stderr, "done: %s (%.1f s)\n", out, now_s() - t0);
  return rc;
}

/* ---- options ------------------------------------------------------------ */

static const char *USAGE_DETECT =
    "usage: sscor detect [options] IN\n"
    "Finds the tile/stripe geometry of a stitched image and prints it (text format of\n"
    "core/geometry.h).\n"
    "  -o, --output FILE    also write the geometry to FILE (edit it, pass it with --geometry)\n"
    "  --scale N            reduction of the coarse detection image (default: auto)\n";
/* Options shared by train, correct and batch. */
#define USAGE_MODEL_OPTIONS \
    "learned refinement (train, correct, batch). Off by default: on wsi_brain, 2 minutes\n" \
    "of cpu-preset training left the seam ratio unchanged and raised the fidelity error\n" \
    "(0.35 -> 0.42 %); bench/wsi_brain.sh with LEARN=1 measures it again.\n" \
    "  --learn              train G_C on seam/normal pairs of the flat-fielded image\n" \
    "  --plain-cyclegan     train G_C on the raw image, no flat-field (the reference's way)\n" \
    "  --preset cpu|paper   trainer preset (cpu; paper is meant for a GPU)\n" \
    "  --epochs N           epochs (default: the preset's)\n" \
    "  --budget SECONDS     stop training after this long\n" \
    "flat-field options (train, correct, batch):\n" \
    "  --knots N            knots per tile axis, 5..31 (13)\n" \
    "  --no-gains           no per-tile exposure gains\n" \
    "  --dark D|auto        dark offset in image units (auto: from the darkest data)\n" \
    "  --no-interior        fit seam steps only, not the blocks inside tiles\n"

static const char *USAGE_TRAIN =
    "usage: sscor train [options] IN MODEL.sscor\n"
    "Estimates the correction model of IN: its geometry (detected, or --geometry) and the\n"
    "seam-aware flat-field (gain field smooth within tiles, jumping at seams).\n"
    "  -g, --geometry FILE  use this geometry instead of detecting it\n"
    "  --save-geometry FILE write the geometry used\n"
    "  --scale N            reduction of the coarse analysis image (default: auto)\n"
    USAGE_MODEL_OPTIONS;
static const char *USAGE_APPLY =
    "usage: sscor apply [options] -m MODEL.sscor IN OUT.tif\n"
    "Corrects IN with a model and writes a pyramidal tiled TIFF, through the pipeline\n"
    "  sscorslidesrc location=IN ! sscorcorrect model=MODEL ! sscorblendsink location=OUT\n"
    "  -m, --model FILE     model (required)\n"
    "  --tile N             tile side of the stream (default: the source's)\n"
    "  --threads N          compute threads of the learned corrector\n";
static const char *USAGE_CORRECT =
    "usage: sscor correct [options] IN OUT.tif\n"
    "Detects the seams of IN, estimates its correction model and writes the corrected\n"
    "pyramidal TIFF OUT (train + apply in one go). OUT appears only when complete.\n"
    "  -g, --geometry FILE  explicit geometry instead of detection\n"
    "  --save-geometry FILE write the geometry used\n"
    "  -m, --model FILE     keep the model in FILE (default: a temporary file)\n"
    "  --scale N  --tile N  --threads N   as for train/apply\n"
    "  -q, --quiet          no progress output\n"
    USAGE_MODEL_OPTIONS;
static const char *USAGE_BATCH =
    "usage: sscor batch [options] OUTDIR IN...\n"
    "Runs 'sscor correct' on every IN, writing OUTDIR/NAME.tif; finished outputs are\n"
    "skipped unless --redo. Exit 1 when any file failed (the others are still done).\n"
    "  --redo               redo outputs that already exist\n"
    "  --scale N  --tile N  --threads N  -q   as for correct\n"
    USAGE_MODEL_OPTIONS;

/* Parses the shared options; returns the index of the first operand or -1. */
static int parse(const char *cmd, const char *usage, int argc, char **argv, opts_t *o, int *rc) {
  memset(o, 0, sizeof *o);
  sscor_flatfield_params_default(&o->flat);
  static const struct option lo[] = {
      {"knots", required_argument, 0, 'K'},    {"no-gains", no_argument, 0, 'N'},
      {"dark", required_argument, 0, 'D'},     {"no-interior", no_argument, 0, 'I'},
      {"learn", no_argument, 0, 'L'},          {"plain-cyclegan", no_argument, 0, 'C'},
      {"preset", required_argument, 0, 'P'},   {"epochs", required_argument, 0, 'E'},
      {"budget", required_argument, 0, 'B'},
      {"geometry", required_argument, 0, 'g'}, {"save-geometry", required_argument, 0, 'G'},
      {"model", required_argument, 0, 'm'},    {"output", required_argument, 0, 'o'},
      {"scale", required_argument, 0, 's'},    {"tile", required_argument, 0, 't'},
      {"threads", required_argument, 0, 'j'},  {"quiet", no_argument, 0, 'q'},
      {"redo", no_argument, 0, 'r'},           {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  optind = 1;
  opterr = 0;
  int c;
  long v;
  while ((c = getopt_long(argc, argv, ":g:m:o:qh", lo, NULL)) != -1) {
    switch (c) {
    case 'g': o->geometry = optarg; break;
    case 'G': o->save_geom = optarg; break;
    case 'o': o->save_geom = optarg; break;
    case 'm': o->model = optarg; break;
    case 'q': o->quiet = 1; break;
    case 'N': o->flat.tile_gains = 0; break;
    case 'L': o->learn = 1; break;
    case 'C': o->learn = 2; break;
    case 'P':
      if (strcmp(optarg, "cpu") && strcmp(optarg, "paper")) {
        *rc = sscor_cli_usage_error(cmd, "--preset '%s': known presets are cpu and paper", optarg);
        return -1;
      }
      o->preset = optarg;
      break;
    case 'E':
      if (sscor_cli_int(optarg, 1, 10000, &v)) {
        *rc = sscor_cli_usage_error(cmd, "--epochs '%s' is not an integer in 1..10000", optarg);
        return -1;
      }
      o->epochs = (int)v;
      break;
    case 'B': {
      double d;
      if (sscor_cli_double(optarg, 1, 1e7, &d)) {
        *rc = sscor_cli_usage_error(cmd, "--budget '%s' is not a number of seconds >= 1", optarg);
        return -1;
      }
      o->budget = d;
      break;
    }
    case 'I': o->flat.use_interior = 0; break;
    case 'K':
      if (sscor_cli_int(optarg, 5, 31, &v)) {
        *rc = sscor_cli_usage_error(cmd, "--knots '%s' is not an integer in 5..31", optarg);
        return -1;
      }
      o->flat.knots = (int)v;
      break;
    case 'D': {
      double d;
      if (!strcmp(optarg, "auto")) d = -1;
      else if (sscor_cli_double(optarg, 0, 1e30, &d)) {
        *rc = sscor_cli_usage_error(cmd, "--dark '%s' is not 'auto' or a value >= 0", optarg);
        return -1;
      }
      o->flat.dark = d;
      break;
    }
    case 'r': o->redo = 1; break;
    case 's':
      if (sscor_cli_int(optarg, 1, 256, &v)) {
        *rc = sscor_cli_usage_error(cmd, "--scale '%s' is not an integer in 1..256", optarg);
        return -1;
      }
      o->scale = (int)v;
      break;
    case 't':
      if (sscor_cli_int(optarg, 64, 8192, &v)) {
        *rc = sscor_cli_usage_error(cmd, "--tile '%s' is not an integer in 64..8192", optarg);
        return -1;
      }
      o->tile = (int)v;
      break;
    case 'j':
      if (sscor_cli_int(optarg, 1, 256, &v)) {
        *rc = sscor_cli_usage_error(cmd, "--threads '%s' is not an integer in 1..256", optarg);
        return -1;
      }
      o->threads = (int)v;
      break;
    case 'h':
      fputs(usage, stdout);
      *rc = SSCOR_EXIT_OK;
      return -1;
    case ':': *rc = sscor_cli_usage_error(cmd, "option %s needs a value", argv[optind - 1]); return -1;
    default: *rc = sscor_cli_usage_error(cmd, "unknown option %s", argv[optind - 1]); return -1;
    }
  }
  return optind;
}

static int operands(const char *cmd, int argc, int first, int want, int *rc) {
  if (argc - first != want) {
    *rc = sscor_cli_usage_error(cmd, "expected %d argument%s, got %d", want, want == 1 ? "" : "s", argc - first);
    return -1;
  }
  return 0;
}

int sscor_cmd_detect(int argc, char **argv) {
  const char *cmd = "detect";
  opts_t o;
  int rc, i = parse(cmd, USAGE_DETECT, argc, argv, &o, &rc);
  if (i < 0 || operands(cmd, argc, i, 1, &rc)) return rc;
  sscor_analyse_params ap;
  sscor_analyse_params_default(&ap);
  ap.scale = o.scale;
  sscor_geometry g;
  sscor_flatfield *ff;
  sscor_analyse_report rep;
  if (sscor_analyse_slide(argv[i], &ap, &g, &ff, NULL, &rep)) return sscor_cli_fail(cmd);
  fprintf(stderr, "%s\n", rep.detect.summary);
  char *text = NULL;
  rc = SSCOR_EXIT_OK;
  if (sscor_geometry_format(&g, &text)) rc = sscor_cli_fail(cmd);
  else fputs(text, stdout);
  if (!rc && o.save_geom && sscor_geometry_write(&g, o.save_geom)) rc = sscor_cli_fail(cmd);
  free(text);
  sscor_flatfield_free(ff);
  sscor_geometry_free(&g);
  return rc;
}

int sscor_cmd_train(int argc, char **argv) {
  const char *cmd = "train";
  opts_t o;
  int rc, i = parse(cmd, USAGE_TRAIN, argc, argv, &o, &rc);
  if (i < 0 || operands(cmd, argc, i, 2, &rc)) return rc;
  return do_train(cmd, argv[i], argv[i + 1], &o);
}

int sscor_cmd_apply(int argc, char **argv) {
  const char *cmd = "apply";
  opts_t o;
  int rc, i = parse(cmd, USAGE_APPLY, argc, argv, &o, &rc);
  if (i < 0 || operands(cmd, argc, i, 2, &rc)) return rc;
  if (!o.model) return sscor_cli_usage_error(cmd, "--model is required");
  sscor_model m;
  if (sscor_model_load(o.model, &m)) return sscor_cli_fail(cmd); /* clear message before any pipeline */
  sscor_model_clear(&m);
  return do_apply(cmd, argv[i], o.model, argv[i + 1], &o);
}

int sscor_cmd_correct(int argc, char **argv) {
  const char *cmd = "correct";
  opts_t o;
  int rc, i = parse(cmd, USAGE_CORRECT, argc, argv, &o, &rc);
  if (i < 0 || operands(cmd, argc, i, 2, &rc)) return rc;
  return do_correct(cmd, argv[i], argv[i + 1], &o);
}

int sscor_cmd_batch(int argc, char **argv) {
  const char *cmd = "batch";
  opts_t o;
  int rc, i = parse(cmd, USAGE_BATCH, argc, argv, &o, &rc);
  if (i < 0) return rc;
  if (argc - i < 2) return sscor_cli_usage_error(cmd, "expected OUTDIR and at least one input");
  if (o.model || o.geometry)
    return sscor_cli_usage_error(cmd, "--model/--geometry describe one image; batch estimates each");
  const char *dir = argv[i];
  struct stat st;
  if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
    fprintf(stderr, "sscor %s: %s: not a folder\n", cmd, dir);
    return SSCOR_EXIT_FAIL;
  }
  int failed = 0, done = 0, skipped = 0;
  for (int k = i + 1; k < argc; k++) {
    char *copy = g_strdup(argv[k]);
    char *base = basename(copy);
    char *dot = strrchr(base, '.');
    if (dot && dot != base) *dot = 0;
    char *out = g_strdup_printf("%s/%s.tif", dir, base);
    g_free(copy);
    if (!o.redo && !access(out, F_OK)) {
      if (!o.quiet) fprintf(stderr, "skip: %s exists (use --redo)\n", out);
      skipped++;
    } else {
      if (!o.quiet) fprintf(stderr, "[%d/%d] %s -> %s\n", k - i, argc - i - 1, argv[k], out);
      if (do_correct(cmd, argv[k], out, &o)) failed++;
      else done++;
    }
    g_free(out);
  }
  fprintf(stderr, "batch: %d corrected, %d skipped, %d failed\n", done, skipped, failed);
  return failed ? SSCOR_EXIT_FAIL : SSCOR_EXIT_OK;
}
