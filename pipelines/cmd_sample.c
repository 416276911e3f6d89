/* sscor sample: the training pairs of an image as PNG files, through
 *     sscorslidesrc location=IN ! sscorsample ... ! videoconvert ! pngenc
 *         ! multifilesink location=OUTDIR/pair_%05d.png
 * (printed, and built from that very text), plus OUTDIR/pairs.tsv listing
 * every file's pair (from the pair metas, read by a pad probe on the
 * sampler's output). On failure the pair files written so far are removed
 * and no pairs.tsv appears. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../elements/gstsscormeta.h"
#include "cli.h"
#include "gst_pipeline.h"
#include "model_file.h"

static const char *USAGE =
    "usage: sscor sample [options] IN OUTDIR\n"
    "Samples SSCOR training pairs of IN (anomaly patch on a seam | nearest clean patch) and\n"
    "writes them as OUTDIR/pair_NNNNN.png, with OUTDIR/pairs.tsv giving each file's\n"
    "positions, through the pipeline\n"
    "  sscorslidesrc location=IN ! sscorsample ... ! videoconvert ! pngenc\n"
    "      ! multifilesink location=OUTDIR/pair_%05d.png\n"
    "OUTDIR is created when missing.\n"
    "  -g, --geometry FILE  use this geometry instead of detecting it\n"
    "  --save-geometry FILE write the geometry used\n"
    "  --patch N            patch side, a multiple of 4 (64)\n"
    "  --step N             step along a seam (patch/2)\n"
    "  --max-pairs N        cap on the pairs (2000; 0 = none)\n"
    "  --seed N             seed of jitter, sides and the subset (1)\n"
    "  --artifacts          anomalies from the geometry's artifact regions/mask (needs -g)\n"
    "  --scale N            reduction of the coarse analysis image (default: auto)\n"
    "  --tile N             tile side of the stream (default: the source's)\n"
    "  -q, --quiet          no progress output\n";

typedef struct {
  GString *tsv;
  int n;
} pairs_out;

static GstPadProbeReturn on_pair(GstPad *pad, GstPadProbeInfo *info, gpointer user) {
  (void)pad;
  pairs_out *o = user;
  GstBuffer *b = GST_PAD_PROBE_INFO_BUFFER(info);
  const GstMetaInfo *mi = gst_meta_get_info("GstSscorPairMeta");
  GstSscorPairMeta *m = mi ? (GstSscorPairMeta *)gst_buffer_get_meta(b, mi->api) : NULL;
  if (m)
    g_string_append_printf(o->tsv, "pair_%05d.png\t%u\t%" G_GINT64_FORMAT "\t%" G_GINT64_FORMAT "\t%" G_GINT64_FORMAT
                           "\t%" G_GINT64_FORMAT "\t%d\t%d\n",
                           o->n, m->index, m->anomaly_x, m->anomaly_y, m->normal_x, m->normal_y, m->seam,
                           m->crossing ? 1 : 0);
  o->n++;
  return GST_PAD_PROBE_OK;
}

static void setup(GstElement *pipeline, void *user) {
  GstElement *s = gst_bin_get_by_name(GST_BIN(pipeline), "sample");
  if (!s) return;
  GstPad *src = gst_element_get_static_pad(s, "src");
  gst_pad_add_probe(src, GST_PAD_PROBE_TYPE_BUFFER, on_pair, user, NULL);
  gst_object_unref(src);
  gst_object_unref(s);
}

int sscor_cmd_sample(int argc, char **argv) {
  const char *cmd = "sample";
  static const struct option lo[] = {
      {"geometry", required_argument, 0, 'g'}, {"save-geometry", required_argument, 0, 'G'},
      {"patch", required_argument, 0, 'p'},    {"step", required_argument, 0, 'S'},
      {"max-pairs", required_argument, 0, 'n'}, {"seed", required_argument, 0, 'r'},
      {"artifacts", no_argument, 0, 'a'},      {"scale", required_argument, 0, 's'},
      {"tile", required_argument, 0, 't'},     {"quiet", no_argument, 0, 'q'},
      {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
  const char *geometry = NULL, *save = NULL;
  long patch = 64, step = 0, max_pairs = 2000, scale = 0, tile = 0;
  unsigned long long seed = 1;
  int artifacts = 0, quiet = 0, c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":g:qh", lo, NULL)) != -1) {
    switch (c) {
    case 'g': geometry = optarg; break;
    case 'G': save = optarg; break;
    case 'a': artifacts = 1; break;
    case 'q': quiet = 1; break;
    case 'p':
      if (sscor_cli_int(optarg, 8, 4096, &patch) || patch % 4)
        return sscor_cli_usage_error(cmd, "--patch '%s' is not a multiple of 4 in 8..4096", optarg);
      break;
    case 'S':
      if (sscor_cli_int(optarg, 0, 4096, &step))
        return sscor_cli_usage_error(cmd, "--step '%s' is not an integer in 0..4096", optarg);
      break;
    case 'n':
      if (sscor_cli_int(optarg, 0, 100000000, &max_pairs))
        return sscor_cli_usage_error(cmd, "--max-pairs '%s' is not an integer >= 0", optarg);
      break;
    case 'r': {
      char *end;
      errno = 0;
      seed = strtoull(optarg, &end, 10);
      if (!*optarg || *end || errno || optarg[0] == '-')
        return sscor_cli_usage_error(cmd, "--seed '%s' is not a non-negative integer", optarg);
      break;
    }
    case 's':
      if (sscor_cli_int(optarg, 1, 256, &scale))
        return sscor_cli_usage_error(cmd, "--scale '%s' is not an integer in 1..256", optarg);
      break;
    case 't':
      if (sscor_cli_int(optarg, 64, 8192, &tile))
        return sscor_cli_usage_error(cmd, "--tile '%s' is not an integer in 64..8192", optarg);
      break;
    case 'h': fputs(USAGE, stdout); return SSCOR_EXIT_OK;
    case ':': return sscor_cli_usage_error(cmd, "option %s needs a value", argv[optind - 1]);
    default: return sscor_cli_usage_error(cmd, "unknown option %s", argv[optind - 1]);
    }
  }
  if (argc - optind != 2)
    return sscor_cli_usage_error(cmd, "expected 2 arguments (IN OUTDIR), got %d", argc - optind);
  if (artifacts && !geometry) return sscor_cli_usage_error(cmd, "--artifacts needs --geometry (the regions)");
  const char *in = argv[optind], *dir = argv[optind + 1];
  if (access(in, R_OK)) {
    fprintf(stderr, "sscor %s: %s: cannot read: %s\n", cmd, in, strerror(errno));
    return SSCOR_EXIT_FAIL;
  }
  struct stat sb;
  if (stat(dir, &sb) ? mkdir(dir, 0777) != 0 : !S_ISDIR(sb.st_mode)) {
    fprintf(stderr, "sscor %s: %s: %s\n", cmd, dir, errno && !stat(dir, &sb) ? "not a folder" : strerror(errno));
    return SSCOR_EXIT_FAIL;
  }
  if (access(dir, W_OK | X_OK)) {
    fprintf(stderr, "sscor %s: %s: cannot write into it: %s\n", cmd, dir, strerror(errno));
    return SSCOR_EXIT_FAIL;
  }

  GString *g = g_string_new("sscorslidesrc location=");
  sscor_gst_quote(g, in);
  if (tile) g_string_append_printf(g, " tile-width=%ld tile-height=%ld", tile, tile);
  g_string_append_printf(g, " ! sscorsample name=sample patch=%ld max-pairs=%ld seed=%llu", patch, max_pairs, seed);
  if (step) g_string_append_printf(g, " step=%ld", step);
  if (scale) g_string_append_printf(g, " scale=%ld", scale);
  if (artifacts) g_string_append(g, " artifacts=true");
  if (geometry) {
    g_string_append(g, " geometry-location=");
    sscor_gst_quote(g, geometry);
  }
  if (save) {
    g_string_append(g, " geometry-output=");
    sscor_gst_quote(g, save);
  }
  g_string_append(g, " ! videoconvert ! pngenc ! multifilesink location=");
  char *pattern = g_strdup_printf("%s/pair_%%05d.png", dir);
  sscor_gst_quote(g, pattern);
  g_free(pattern);
  char *text = g_string_free(g, FALSE);

  pairs_out po = {g_string_new("# file\tindex\tanomaly_x\tanomaly_y\tnormal_x\tnormal_y\tseam\tcrossing\n"), 0};
  double t0 = sscor_cli_now();
  int rc = sscor_gst_run(cmd, text, quiet, "sample", setup, NULL, &po);
  g_free(text);
  char *tsv = g_strdup_printf("%s/pairs.tsv", dir);
  if (rc == SSCOR_EXIT_OK && po.n == 0) {
    fprintf(stderr, "sscor %s: the pipeline finished without pairs\n", cmd);
    rc = SSCOR_EXIT_FAIL;
  }
  if (rc == SSCOR_EXIT_OK && sscor_write_file_atomic(tsv, (const uint8_t *)po.tsv->str, po.tsv->len))
    rc = sscor_cli_fail(cmd);
  if (rc != SSCOR_EXIT_OK) { /* no partial output: remove the pairs written so far */
    for (int i = 0; i < po.n; i++) {
      char *f = g_strdup_printf("%s/pair_%05d.png", dir, i);
      unlink(f);
      g_free(f);
    }
  } else if (!quiet) {
    fprintf(stderr, "done: %d pairs in %s, positions in %s (%.1f s)\n", po.n, dir, tsv, sscor_cli_now() - t0);
  }
  g_free(tsv);
  g_string_free(po.tsv, TRUE);
  return rc;
}
