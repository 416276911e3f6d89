/* sscor metrics: measure an image (and a correction of it) by the project's
 * metrics (ARCHITECTURE.md "How a correction is judged"); table or JSON, optional profile plot. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "degrade.h"
#include "metrics.h"
#include "plot.h"
#include "slide.h"

static void help(void) {
  printf(
      "usage: sscor metrics [options] INPUT [CORRECTED]\n"
      "Measures INPUT (the image before correction) and, when given, CORRECTED against it.\n\n"
      "  -t, --truth FILE        clean ground truth: adds PSNR, SSIM, MAE, stripe %% and tile %%\n"
      "  -g, --geometry FILE     truth geometry from 'sscor synth' (tile grid, stripe angle)\n"
      "      --tiles FILE        tile positions, 'name x y' per line (e.g. tile_positions.txt)\n"
      "      --tile-size N|WxH   tile size for --tiles (512)\n"
      "  -c, --channel N|mean    channel measured (mean of all channels)\n"
      "      --threshold T       tissue threshold (Otsu of INPUT)\n"
      "      --region X,Y,W,H    region for ICV and the profile (whole image)\n"
      "      --stripe-angle A    stripe direction for stripe %% (geometry, else 0 = horizontal)\n"
      "      --profile-angle A   direction averaged along in the profile (stripe angle; 90 with\n"
      "                          tiles and no stripes: column means across vertical seams)\n"
      "      --shading-sigma S   low-pass sigma (px) of the tile %% residual (8)\n"
      "      --sigma S           fidelity smoothing sigma (6)\n"
      "      --data-range R      PSNR/SSIM data range (the type's: 255, 65535; float: truth's)\n"
      "      --json              JSON instead of a table\n"
      "  -p, --plot FILE.png     plot intensity profiles (input, corrected, truth)\n"
      "  -h, --help\n\n"
      "metrics (see core/metrics.h): icv = mean/std of the region; seam_step = mean |log(a/b)|\n"
      "of 2-px bands across every tile edge in tissue; seam_ratio = seam_step / the same on\n"
      "the tiles' middle lines (1.0 = seams gone); texture = std of a 15-px high-pass in tissue\n"
      "away from seams; tissue_bg = median tissue / median background; fidelity = std of the\n"
      "fine structure of log(CORRECTED/INPUT) in tissue away from seams; stripe_pct and\n"
      "tile_pct = residual striped / low-frequency error vs the truth, %% of INPUT's.\n");
}

typedef struct {
  const char *name;
  double v[2]; /* input, corrected */
} row_t;

static void put(row_t *rows, int *n, const char *name, double a, double b) {
  rows[*n].name = name;
  rows[*n].v[0] = a;
  rows[*n].v[1] = b;
  (*n)++;
}

static void json_str(const char *s) {
  if (!s) {
    printf("null");
    return;
  }
  putchar('"');
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      printf("\\%c", c);
    else if (c < 0x20)
      printf("\\u%04x", c);
    else
      putchar(c);
  }
  putchar('"');
}

static void json_num(double v) {
  if (isfinite(v))
    printf("%.6g", v);
  else
    printf("null");
}


int sscor_cmd_metrics(int argc, char **argv) {
  const char *cmd = "metrics", *truth_path = NULL, *geom_path = NULL, *tiles_path = NULL,
             *plot_path = NULL;
  long tile_w = 512, tile_h = 512;
  int channel = SSCOR_METRIC_MEAN_CHANNELS, json = 0, have_thr = 0, have_region = 0;
  double thr = 0, stripe_angle = NAN, profile_angle = NAN, shading_sigma = 8, sigma = 6,
         data_range = 0;
  sscor_rect region = {0, 0, 0, 0};
  enum { O_TILES = 256, O_TSIZE, O_THR, O_REGION, O_SANG, O_PANG, O_SHS, O_SIG, O_DR, O_JSON };
  static const struct option opts[] = {{"truth", required_argument, 0, 't'},
                                       {"geometry", required_argument, 0, 'g'},
                                       {"tiles", required_argument, 0, O_TILES},
                                       {"tile-size", required_argument, 0, O_TSIZE},
                                       {"channel", required_argument, 0, 'c'},
                                       {"threshold", required_argument, 0, O_THR},
                                       {"region", required_argument, 0, O_REGION},
                                       {"stripe-angle", required_argument, 0, O_SANG},
                                       {"profile-angle", required_argument, 0, O_PANG},
                                       {"shading-sigma", required_argument, 0, O_SHS},
                                       {"sigma", required_argument, 0, O_SIG},
                                       {"data-range", required_argument, 0, O_DR},
                                       {"json", no_argument, 0, O_JSON},
                                       {"plot", required_argument, 0, 'p'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  optind = 1;
  opterr = 0;
  int o;
  while ((o = getopt_long(argc, argv, ":t:g:c:p:h", opts, NULL)) != -1) {
    switch (o) {
    case 't': truth_path = optarg; break;
    case 'g': geom_path = optarg; break;
    case 'p': plot_path = optarg; break;
    case O_TILES: tiles_path = optarg; break;
    case O_TSIZE: {
      char *x = strchr(optarg, 'x');
      if (x) *x = 0;
      if (sscor_cli_int(optarg, 4, SSCOR_IMAGE_MAX_SIDE, &tile_w) ||
          sscor_cli_int(x ? x + 1 : optarg, 4, SSCOR_IMAGE_MAX_SIDE, &tile_h))
        return sscor_cli_usage_error(cmd, "--tile-size must be N or WxH with sides >= 4");
      break;
    }
    case 'c': {
      long c;
      if (!strcmp(optarg, "mean"))
        channel = SSCOR_METRIC_MEAN_CHANNELS;
      else if (sscor_cli_int(optarg, 0, SSCOR_IMAGE_MAX_CHANNELS - 1, &c))
        return sscor_cli_usage_error(cmd, "--channel '%s' must be a channel number or 'mean'", optarg);
      else
        channel = (int)c;
      break;
    }
    case O_THR:
      if (sscor_cli_double(optarg, -1e30, 1e30, &thr))
        return sscor_cli_usage_error(cmd, "--threshold '%s' is not a number", optarg);
      have_thr = 1;
      break;
    case O_REGION:
      if (sscanf(optarg, "%d,%d,%d,%d", &region.x, &region.y, &region.w, &region.h) != 4)
        return sscor_cli_usage_error(cmd, "--region '%s' must be X,Y,W,H", optarg);
      have_region = 1;
      break;
    case O_SANG:
    case O_PANG:
      if (sscor_cli_double(optarg, -90, 90, o == O_SANG ? &stripe_angle : &profile_angle))
        return sscor_cli_usage_error(cmd, "angle '%s' must be in -90..90", optarg);
      break;
    case O_SHS:
    case O_SIG:
      if (sscor_cli_double(optarg, 0.1, 1000, o == O_SHS ? &shading_sigma : &sigma))
        return sscor_cli_usage_error(cmd, "sigma '%s' must be in 0.1..1000", optarg);
      break;
    case O_DR:
      if (sscor_cli_double(optarg, 1e-30, 1e30, &data_range))
        return sscor_cli_usage_error(cmd, "--data-range '%s' must be positive", optarg);
      break;
    case O_JSON: json = 1; break;
    case 'h': help(); return SSCOR_EXIT_OK;
    case ':': return sscor_cli_usage_error(cmd, "option %s needs a value", argv[optind - 1]);
    default: return sscor_cli_usage_error(cmd, "unknown option %s", argv[optind - 1]);
    }
  }
  if (optind != argc - 1 && optind != argc - 2)
    return sscor_cli_usage_error(cmd, "expected INPUT [CORRECTED]");
  if (tiles_path && geom_path)
    return sscor_cli_usage_error(cmd, "give either --tiles or --geometry, not both");
  const char *in_path = argv[optind], *out_path = optind == argc - 2 ? argv[optind + 1] : NULL;
#ifndef SSCOR_HAVE_CAIRO
  if (plot_path) {
    fprintf(stderr, "sscor metrics: this build has no cairo; --plot is unavailable\n");
    return SSCOR_EXIT_USAGE;
  }
#endif

  int rc = SSCOR_EXIT_FAIL;
  sscor_image in = {0}, out = {0}, truth = {0};
  sscor_rect *tiles = NULL;
  int ntiles = 0;
  sscor_truth geo = {0};
  double *prof[3] = {0};
  int nprof = 0;
  row_t rows[24];
  int nrows = 0;
#define TRY(expr)                 \
  do {                            \
    if (expr) {                   \
      rc = sscor_cli_fail(cmd);   \
      goto done;                  \
    }                             \
  } while (0)

  TRY(sscor_image_read(in_path, &in));
  if (out_path) {
    TRY(sscor_image_read(out_path, &out));
    if (out.width != in.width || out.height != in.height || out.channels != in.channels) {
      fprintf(stderr, "sscor metrics: %s is %dx%dx%d but %s is %dx%dx%d\n", out_path, out.width,
              out.height, out.channels, in_path, in.width, in.height, in.channels);
      goto done;
    }
  }
  if (truth_path) {
    TRY(sscor_image_read(truth_path, &truth));
    if (truth.width != in.width || truth.height != in.height || truth.channels != in.channels) {
      fprintf(stderr, "sscor metrics: truth %s is %dx%dx%d but %s is %dx%dx%d\n", truth_path,
              truth.width, truth.height, truth.channels, in_path, in.width, in.height, in.channels);
      goto done;
    }
  }
  if (channel >= in.channels) {
    rc = sscor_cli_usage_error(cmd, "--channel %d: %s has %d channel(s)", channel, in_path,
                               in.channels);
    goto done;
  }
  if (geom_path) {
    TRY(sscor_truth_read(geom_path, &geo));
    if (geo.width != in.width || geo.height != in.height) {
      fprintf(stderr, "sscor metrics: geometry %s is for %dx%d, %s is %dx%d\n", geom_path,
              geo.width, geo.height, in_path, in.width, in.height);
      goto done;
    }
    if (geo.ntiles && sscor_truth_tile_rects(&geo, &tiles, &ntiles)) ntiles = 0; /* rotated grid */
    for (int i = 0; i < geo.ndeg && isnan(stripe_angle); i++)
      for (int k = 0; k < geo.nstripes; k++)
        if (geo.stripes[k].block == i) {
          stripe_angle = geo.stripes[k].a[2];
          break;
        }
    for (int i = 0; i < geo.ndeg && isnan(stripe_angle); i++)
      if (geo.grid[i][0] > 0) stripe_angle = geo.grid[i][4];
  }
  if (tiles_path) TRY(sscor_metric_read_tiles(tiles_path, (int)tile_w, (int)tile_h, &tiles, &ntiles));
  if (isnan(profile_angle))
    profile_angle = !isnan(stripe_angle) && !(geom_path && geo.nstripes == 0 && ntiles) ? stripe_angle
                    : ntiles ? 90.0 : 0.0;
  if (isnan(stripe_angle)) stripe_angle = 0;
  if (!have_region) region = (sscor_rect){0, 0, in.width, in.height};
  sscor_correction_report rep;
  TRY(sscor_metric_correction_report(&in, out_path ? &out : NULL, channel, tiles, ntiles,
                                     have_thr ? thr : NAN, sigma, &rep));
  thr = rep.threshold;
  const sscor_image *imgs[2] = {&in, out_path ? &out : NULL};
  double icv[2] = {NAN, NAN}, ss[2], ns[2], ratio[2], tex[2], tb[2], fid = rep.fidelity,
         psnr[2] = {NAN, NAN}, ssim[2] = {NAN, NAN}, mae[2] = {NAN, NAN}, spct[2] = {NAN, NAN},
         tpct[2] = {NAN, NAN};
  for (int k = 0; k < 2; k++) {
    ss[k] = rep.seams[k].seam_step, ns[k] = rep.seams[k].nonseam_step;
    ratio[k] = rep.seams[k].ratio, tex[k] = rep.texture[k], tb[k] = rep.tissue_bg[k];
    const sscor_image *im = imgs[k];
    if (!im) continue;
    TRY(sscor_metric_icv(im, channel, region, &icv[k], NULL, NULL));
    if (truth_path) {
      double dr = data_range > 0 ? data_range : sscor_metric_data_range(&truth);
      sscor_image one[2] = {{0}}; /* -c N: PSNR, SSIM and MAE of channel N alone */
      const sscor_image *a = im, *b = &truth;
      if (channel >= 0 && in.channels > 1) {
        if (sscor_image_extract_channel(im, channel, &one[0]) || sscor_image_extract_channel(&truth, channel, &one[1])) {
          sscor_image_free(&one[0]);
          rc = sscor_cli_fail(cmd);
          goto done;
        }
        a = &one[0], b = &one[1];
      }
      sscor_status qst = sscor_metric_psnr(a, b, dr, &psnr[k]);
      if (!qst && in.width >= 11 && in.height >= 11) qst = sscor_metric_ssim(a, b, dr, &ssim[k]);
      if (!qst) qst = sscor_metric_mae(a, b, &mae[k]);
      sscor_image_free(&one[0]);
      sscor_image_free(&one[1]);
      TRY(qst);
      TRY(sscor_metric_residual(im, &in, &truth, channel, SSCOR_RESIDUAL_STRIPE, stripe_angle,
                                &spct[k], NULL, NULL));
      TRY(sscor_metric_residual(im, &in, &truth, channel, SSCOR_RESIDUAL_SHADING, shading_sigma,
                                &tpct[k], NULL, NULL));
    }
  }

  put(rows, &nrows, "icv", icv[0], icv[1]);
  if (ntiles) {
    put(rows, &nrows, "seam_step", ss[0], ss[1]);
    put(rows, &nrows, "nonseam_step", ns[0], ns[1]);
    put(rows, &nrows, "seam_ratio", ratio[0], ratio[1]);
  }
  put(rows, &nrows, "texture", tex[0], tex[1]);
  put(rows, &nrows, "tissue_bg", tb[0], tb[1]);
  if (out_path) put(rows, &nrows, "fidelity_pct", 0, 100 * fid);
  if (truth_path) {
    put(rows, &nrows, "psnr", psnr[0], psnr[1]);
    put(rows, &nrows, "ssim", ssim[0], ssim[1]);
    put(rows, &nrows, "mae", mae[0], mae[1]);
    put(rows, &nrows, "stripe_pct", spct[0], spct[1]);
    put(rows, &nrows, "tile_pct", tpct[0], tpct[1]);
  }

  if (plot_path) {
#ifdef SSCOR_HAVE_CAIRO
    const sscor_image *src[3] = {&in, out_path ? &out : NULL, truth_path ? &truth : NULL};
    for (int k = 0; k < 3; k++)
      if (src[k]) TRY(sscor_metric_profile(src[k], channel, region, profile_angle, &prof[k], &nprof));
    char title[256];
    snprintf(title, sizeof title, "profile averaged along %g deg over %dx%d+%d+%d", profile_angle,
             region.w, region.h, region.x, region.y);
    sscor_plot_curve curves[3];
    int nc = 0;
    for (int k = 0; k < 3; k++)
      if (prof[k]) curves[nc++] = (sscor_plot_curve){prof[k], nprof, k};
    sscor_plot_opts po = {.title = title};
    TRY(sscor_plot_profiles(plot_path, curves, nc, &po));
#endif
  }

  if (json) {
    printf("{\n  \"input\": ");
    json_str(in_path);
    printf(",\n  \"corrected\": ");
    json_str(out_path);
    printf(",\n  \"truth\": ");
    json_str(truth_path);
    printf(",\n  \"threshold\": ");
    json_num(thr);
    printf(",\n  \"tiles\": %d,\n  \"stripe_angle\": ", ntiles);
    json_num(stripe_angle);
    for (int k = 0; k < (out_path ? 2 : 1); k++) {
      printf(",\n  \"%s_metrics\": {", k ? "corrected" : "input");
      int first = 1;
      for (int r = 0; r < nrows; r++) {
        if (!k && !strcmp(rows[r].name, "fidelity_pct")) continue;
        printf("%s\n    \"%s\": ", first ? "" : ",", rows[r].name);
        json_num(rows[r].v[k]);
        first = 0;
      }
      printf("\n  }");
    }
    printf("\n}\n");
  } else {
    printf("%-14s %14s", "metric", "input");
    if (out_path) printf(" %14s", "corrected");
    printf("\n");
    for (int r = 0; r < nrows; r++) {
      printf("%-14s", rows[r].name);
      for (int k = 0; k < (out_path ? 2 : 1); k++) {
        if (!k && !strcmp(rows[r].name, "fidelity_pct"))
          printf(" %14s", "-");
        else
          printf(" %14.6g", rows[r].v[k]);
      }
      printf("\n");
    }
  }
  rc = SSCOR_EXIT_OK;
done:
  for (int k = 0; k < 3; k++) free(prof[k]);
  free(tiles);
  sscor_truth_free(&geo);
  sscor_image_free(&in);
  sscor_image_free(&out);
  sscor_image_free(&truth);
  return rc;
#undef TRY
}
