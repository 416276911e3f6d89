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
#include "trainer.h"
#include "gst_pipeline.h"
#include "cli_report.h"

typedef struct {
  const char *geometry;  /* explicit geometry file */
  const char *save_geom; /* write the geometry used here */
  const char *model;     /* model to use (apply) or keep (correct) */
  int scale;
  int quiet;
  int redo;
  int threads;
  int tile; /* tile side of the stream */
  const char *channels; /* sscorslidesrc channels=, e.g. "0,2" (NULL = all) */
  sscor_flatfield_params flat;
  int learn;          /* 1: learned G_C refinement after the flat-field; 2: G_C alone (plain CycleGAN) */
  const char *preset; /* trainer preset */
  int epochs;
  double budget;      /* training seconds */
  const char *report; /* --report DIR */
  sscor_cli_report *rep; /* what the report collects, during do_correct */
} opts_t;

/* ---- GStreamer ---------------------------------------------------------- */

/* sscorslidesrc location=IN with the stream options: both pipelines read alike. */
static GString *source(const char *in, const opts_t *o) {
  GString *g = g_string_new("sscorslidesrc location=");
  sscor_gst_quote(g, in);
  if (o->tile) g_string_append_printf(g, " tile-width=%d tile-height=%d", o->tile, o->tile);
  if (o->channels) g_string_append_printf(g, " channels=%s", o->channels);
  return g;
}

static char *apply_pipeline(const char *in, const char *model, const char *out, const opts_t *o) {
  GString *g = source(in, o);
  g_string_append(g, " ! sscorcorrect model=");
  sscor_gst_quote(g, model);
  if (o->threads) g_string_append_printf(g, " threads=%d", o->threads);
  g_string_append(g, " ! sscorblendsink location=");
  sscor_gst_quote(g, out);
  return g_string_free(g, FALSE);
}

/* ---- stages ------------------------------------------------------------- */

/* sscorslidesrc ! sscorsample ! sscortrain: what `train` runs. Learning
 * off: the model is sscorsample's analysis (geometry + seam-aware
 * flat-field). */
static char *train_pipeline(const char *in, const char *model, const opts_t *o) {
  GString *g = source(in, o);
  g_string_append(g, " ! sscorsample");
  if (o->scale) g_string_append_printf(g, " scale=%d", o->scale);
  if (o->geometry) {
    g_string_append(g, " geometry-location=");
    sscor_gst_quote(g, o->geometry);
  }
  if (o->save_geom) {
    g_string_append(g, " geometry-output=");
    sscor_gst_quote(g, o->save_geom);
  }
  sscor_flatfield_params fd;
  sscor_flatfield_params_default(&fd);
  if (o->flat.knots != fd.knots) g_string_append_printf(g, " knots=%d", o->flat.knots);
  if (!o->flat.tile_gains) g_string_append(g, " tile-gains=false");
  if (o->flat.dark != fd.dark) g_string_append_printf(g, " dark=%.17g", o->flat.dark);
  if (!o->flat.use_interior) g_string_append(g, " interior=false");
  const char *preset = o->preset ? o->preset : "cpu";
  if (o->learn) {
    sscor_train_config cfg; /* the patch the preset trains on */
    if (!sscor_train_preset(preset, 1, &cfg)) g_string_append_printf(g, " patch=%d", cfg.patch);
  }
  g_string_append(g, " ! sscortrain location=");
  sscor_gst_quote(g, model);
  g_string_append_printf(g, " preset=%s", o->learn ? preset : "flatfield");
  if (o->learn == 2) g_string_append(g, " flatfield-first=false");
  if (o->epochs) g_string_append_printf(g, " epochs=%d", o->epochs);
  if (o->budget > 0) g_string_append_printf(g, " budget=%g", o->budget);
  if (o->threads) g_string_append_printf(g, " threads=%d", o->threads);
  if (o->learn) g_string_append(g, " progress-interval=10");
  return g_string_free(g, FALSE);
}

/* What sscorsample and sscortrain report, as progress lines. */
static void train_message(const GstStructure *s, void *user) {
  const opts_t *o = user;
  if (o->rep) sscor_cli_report_message(o->rep, s);
  if (o->quiet) return;
  if (gst_structure_has_name(s, "sscor-geometry")) {
    const char *summary = gst_structure_get_string(s, "summary");
    fprintf(stderr, "geometry: %s\n", summary ? summary : "");
    int seam_obs, interior_obs;
    double before, after, lo, hi;
    if (gst_structure_get(s, "flatfield-seam-obs", G_TYPE_INT, &seam_obs, "flatfield-interior-obs", G_TYPE_INT,
                          &interior_obs, "flatfield-residual-before", G_TYPE_DOUBLE, &before,
                          "flatfield-residual-after", G_TYPE_DOUBLE, &after, "flatfield-min", G_TYPE_DOUBLE, &lo,
                          "flatfield-max", G_TYPE_DOUBLE, &hi, NULL))
      fprintf(stderr, "flat-field: %d seam + %d interior observations, seam residual %.4f -> %.4f, field %.3f..%.3f\n",
              seam_obs, interior_obs, before, after, lo, hi);
  } else if (gst_structure_has_name(s, "sscor-train-progress")) {
    int epoch, epochs, iter, iters;
    double gl, dl, cyc, idt, el, eta;
    if (gst_structure_get(s, "epoch", G_TYPE_INT, &epoch, "epochs", G_TYPE_INT, &epochs, "iteration", G_TYPE_INT,
                          &iter, "iterations", G_TYPE_INT, &iters, "g", G_TYPE_DOUBLE, &gl, "d", G_TYPE_DOUBLE, &dl,
                          "cycle", G_TYPE_DOUBLE, &cyc, "identity", G_TYPE_DOUBLE, &idt, "elapsed", G_TYPE_DOUBLE,
                          &el, "eta", G_TYPE_DOUBLE, &eta, NULL)) {
      int pairs, patch;
      const char *preset = gst_structure_get_string(s, "preset");
      if (iter == 1 && epoch == 1 && gst_structure_get_int(s, "pairs", &pairs) &&
          gst_structure_get_int(s, "patch", &patch))
        fprintf(stderr, "train: %d pairs of %d px, preset %s\n", pairs, patch, preset ? preset : "?");
      fprintf(stderr, "train: epoch %d/%d iteration %d/%d  G %.3f (cycle %.3f, identity %.3f)  D %.3f  %.0f s, ETA %.0f s\n",
              epoch, epochs, iter, iters, gl, cyc, idt, dl, el, eta);
    }
  }
}

/* Analyses IN (and trains G_C with --learn) into model_path, through the
 * pipeline train_pipeline prints. */
static int do_train(const char *cmd, const char *in, const char *model_path, const opts_t *o) {
  char *text = train_pipeline(in, model_path, o);
  double t0 = sscor_cli_now();
  int rc = sscor_gst_run(cmd, text, o->quiet, "train", NULL, train_message, (void *)o);
  g_free(text);
  if (rc == SSCOR_EXIT_OK && access(model_path, F_OK)) {
    fprintf(stderr, "sscor %s: the pipeline finished but wrote no %s\n", cmd, model_path);
    rc = SSCOR_EXIT_FAIL;
  }
  if (rc == SSCOR_EXIT_OK && !o->quiet) fprintf(stderr, "model: %s (%.1f s)\n", model_path, sscor_cli_now() - t0);
  return rc;
}

static int do_apply(const char *cmd, const char *in, const char *model, const char *out, const opts_t *o) {
  char *text = apply_pipeline(in, model, out, o);
  int rc = sscor_gst_run(cmd, text, o->quiet, "correct", NULL, NULL, NULL);
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

static int do_correct_run(const char *cmd, const char *in, const char *out, const opts_t *o) {
  if (check_output_dir(cmd, out)) return SSCOR_EXIT_FAIL;
  double t0 = sscor_cli_now();
  char *tmp = NULL;
  const char *model = o->model;
  if (!model) {
    tmp = g_strdup_printf("%s.model.%d.sscor", out, (int)getpid());
    model = tmp;
  }
  int rc = do_train(cmd, in, model, o);
  double t1 = sscor_cli_now();
  if (o->rep) o->rep->t_analysis = t1 - t0;
  if (!rc) rc = do_apply(cmd, in, model, out, o);
  if (!rc && o->rep) o->rep->t_apply = sscor_cli_now() - t1;
  if (tmp) {
    unlink(tmp);
    g_free(tmp);
  }
  if (!rc && !o->quiet) fprintf(stderr, "done: %s (%.1f s)\n", out, sscor_cli_now() - t0);
  return rc;
}

/* do_correct_run, then (--report) the slide's page, failed or not. */
static int do_correct(const char *cmd, const char *in, const char *out, const opts_t *o) {
  if (!o->report) return do_correct_run(cmd, in, out, o);
  sscor_cli_report rep;
  if (sscor_cli_report_begin(cmd, &rep, o->report, out)) return SSCOR_EXIT_FAIL;
  opts_t ro = *o;
  ro.rep = &rep;
  sscor_clear_error();
  int rc = do_correct_run(cmd, in, out, &ro);
  const char *applied = o->learn == 2   ? "learned G_C alone (plain CycleGAN, no flat-field)"
                        : o->learn == 1 ? "seam-aware flat-field, then the learned G_C refinement"
                                        : "seam-aware flat-field (gain smooth within tiles, free to jump at seams)";
  return sscor_cli_report_end(cmd, &rep, in, out, rc, applied, o->quiet);
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
    "  --channels LIST      channels to analyse, e.g. 0,2 (default: all)\n"
    USAGE_MODEL_OPTIONS;
static const char *USAGE_APPLY =
    "usage: sscor apply [options] -m MODEL.sscor IN OUT.tif\n"
    "Corrects IN with a model and writes a pyramidal tiled TIFF, through the pipeline\n"
    "  sscorslidesrc location=IN ! sscorcorrect model=MODEL ! sscorblendsink location=OUT\n"
    "  -m, --model FILE     model (required)\n"
    "  --tile N             tile side of the stream (default: the source's)\n"
    "  --threads N          compute threads of the learned corrector\n"
    "  --channels LIST      channels to correct and write, e.g. 0,2 (default: all)\n";
static const char *USAGE_CORRECT =
    "usage: sscor correct [options] IN OUT.tif\n"
    "Detects the seams of IN, estimates its correction model and writes the corrected\n"
    "pyramidal TIFF OUT (train + apply in one go). OUT appears only when complete.\n"
    "  -g, --geometry FILE  explicit geometry instead of detection\n"
    "  --save-geometry FILE write the geometry used\n"
    "  -m, --model FILE     keep the model in FILE (default: a temporary file)\n"
    "  --scale N  --tile N  --threads N   as for train/apply\n"
    "  --channels LIST      channels to correct and write, e.g. 0,2 (default: all; every\n"
    "                       channel gets its own flat-field on the shared tile geometry)\n"
    "  -q, --quiet          no progress output\n"
    "  --report DIR         also write a report a person looks at: DIR/NAME.html (NAME: OUT's\n"
    "                       file name) with thumbnails, a zoom across the seams, profiles,\n"
    "                       the detected geometry and the metrics, and DIR/index.html listing\n"
    "                       every slide of DIR; a failed run writes its page with the error\n"
    USAGE_MODEL_OPTIONS;
static const char *USAGE_BATCH =
    "usage: sscor batch [options] OUTDIR IN...\n"
    "Runs 'sscor correct' on every IN, writing OUTDIR/NAME.tif; finished outputs are\n"
    "skipped unless --redo. Exit 1 when any file failed (the others are still done).\n"
    "  --redo               redo outputs that already exist\n"
    "  --scale N  --tile N  --threads N  -q  --report DIR   as for correct\n"
    USAGE_MODEL_OPTIONS;

/* 0 when s is a list of channel numbers in increasing order ("0,2"); the
 * source checks them against the file. */
static int check_channels(const char *s) {
  long prev = -1, v;
  gchar **parts = g_strsplit(s, ",", -1);
  int bad = !parts[0];
  for (gchar **p = parts; *p && !bad; p++, prev = v)
    bad = sscor_cli_int(*p, 0, SSCOR_IMAGE_MAX_CHANNELS - 1, &v) || v <= prev;
  g_strfreev(parts);
  return bad;
}

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
      {"channels", required_argument, 0, 'c'},  {"report", required_argument, 0, 'R'},
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
    case 'R': o->report = optarg; break;
    case 'c':
      if (check_channels(optarg)) {
        *rc = sscor_cli_usage_error(cmd, "--channels '%s': give channel numbers in increasing order, e.g. 0,2",
                                    optarg);
        return -1;
      }
      o->channels = optarg;
      break;
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
  sscor_cli_report_set_command(argc, argv);
  int rc, i = parse(cmd, USAGE_CORRECT, argc, argv, &o, &rc);
  if (i < 0 || operands(cmd, argc, i, 2, &rc)) return rc;
  return do_correct(cmd, argv[i], argv[i + 1], &o);
}

int sscor_cmd_batch(int argc, char **argv) {
  const char *cmd = "batch";
  opts_t o;
  sscor_cli_report_set_command(argc, argv);
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
