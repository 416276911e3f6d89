/* sscor synth: apply seeded degradations to an image or to generated
 * tissue-like content; write the degraded image, the clean truth image and the
 * truth geometry. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "degrade.h"
#include "image.h"
#include "pyramid.h"
#include "slide.h"

#define MAX_DEGS 16

static void help(void) {
  printf(
      "usage: sscor synth [options] -d SPEC OUT.tif\n"
      "Degrades an input image, or generated tissue-like content, with known artifacts.\n"
      "Writes OUT.tif (degraded), the clean image and the truth geometry.\n\n"
      "  -d, --degrade SPEC   degradations, KIND[:key=value,...][;KIND...] (repeatable)\n"
      "                       kinds: stripes-regular stripes-gaussian stripes-angled\n"
      "                       tile-uniform tile-varying oblique seams defocus bubble fringe\n"
      "                       keys: strength additive level period width length phase\n"
      "                       angle radius count tile tile-w tile-h offset-x offset-y vary seed\n"
      "                       (meanings and defaults: core/degrade.h)\n"
      "  -i, --input FILE     TIFF to degrade (default: generated content); repeated, the\n"
      "                       inputs' channels are stacked (one size and type)\n"
      "  -s, --size WxH       generated content size (512x512)\n"
      "  -c, --channels N     generated content channels (1)\n"
      "  -T, --type TYPE      generated content sample type: u8, u16, f32 (u16)\n"
      "      --channel-strength A,B,...  channel c gets the degradation to the power A..\n"
      "                       (one value per channel; 0.5 = half the log-shading)\n"
      "      --ome            write OUT as OME-TIFF, one page per channel\n"
      "      --seed N         generated content seed (1)\n"
      "  -t, --truth FILE     clean image output (OUT.truth.tif)\n"
      "  -g, --geometry FILE  truth geometry output (OUT.truth.txt)\n"
      "  -h, --help\n\n"
      "example: sscor synth -d 'tile-varying:tile=128;bubble:seed=3' -s 1024x768 out.tif\n");
}

/* OUT minus a .tif/.tiff suffix plus suffix. */
static char *derived(const char *out, const char *suffix) {
  size_t n = strlen(out);
  const char *dot = strrchr(out, '.');
  if (dot && (!strcmp(dot, ".tif") || !strcmp(dot, ".tiff"))) n = (size_t)(dot - out);
  char *s = malloc(n + strlen(suffix) + 1);
  if (!s) return NULL;
  memcpy(s, out, n);
  strcpy(s + n, suffix);
  return s;
}

/* The inputs' channels stacked into one image (one size and sample type). */
static sscor_status read_inputs(const char *const *paths, int n, sscor_image *out) {
  sscor_image one[SSCOR_IMAGE_MAX_CHANNELS];
  int C = 0, k = 0;
  sscor_status st = SSCOR_OK;
  for (; k < n && !st; k++) {
    if ((st = sscor_image_read(paths[k], &one[k]))) break;
    if (k && (one[k].width != one[0].width || one[k].height != one[0].height || one[k].type != one[0].type))
      st = sscor_fail(SSCOR_E_INVALID, "%s: %dx%d %s, %s is %dx%d %s: stacked inputs must match", paths[k],
                      one[k].width, one[k].height, sscor_sample_type_name(one[k].type), paths[0], one[0].width,
                      one[0].height, sscor_sample_type_name(one[0].type));
    else if ((C += one[k].channels) > SSCOR_IMAGE_MAX_CHANNELS)
      st = sscor_fail(SSCOR_E_INVALID, "%s: more than %d channels in all", paths[k], SSCOR_IMAGE_MAX_CHANNELS);
    if (st) k++;
  }
  if (!st && n == 1) {
    *out = one[0];
    return SSCOR_OK;
  }
  if (!st) st = sscor_image_alloc(out, one[0].width, one[0].height, C, one[0].type);
  for (int i = 0, c0 = 0; !st && i < n; c0 += one[i++].channels)
    for (int y = 0; y < out->height; y++)
      for (int x = 0; x < out->width; x++)
        for (int c = 0; c < one[i].channels; c++) sscor_image_set(out, x, y, c0 + c, sscor_image_get(&one[i], x, y, c));
  for (int i = 0; i < k; i++) sscor_image_free(&one[i]);
  return st;
}

int sscor_cmd_synth(int argc, char **argv) {
  const char *cmd = "synth", *inputs[SSCOR_IMAGE_MAX_CHANNELS], *truth_path = NULL, *geom_path = NULL;
  int ninputs = 0;
  sscor_degradation degs[MAX_DEGS];
  int ndeg = 0;
  long w = 512, h = 512, channels = 1, seed = 1;
  sscor_sample_type type = SSCOR_U16;
  double strength[SSCOR_IMAGE_MAX_CHANNELS];
  int nstrength = 0, ome = 0;
  static const struct option opts[] = {
      {"channel-strength", required_argument, 0, 'A'}, {"ome", no_argument, 0, 'O'},
      {"degrade", required_argument, 0, 'd'}, {"input", required_argument, 0, 'i'},
      {"size", required_argument, 0, 's'},    {"channels", required_argument, 0, 'c'},
      {"type", required_argument, 0, 'T'},    {"seed", required_argument, 0, 'S'},
      {"truth", required_argument, 0, 't'},   {"geometry", required_argument, 0, 'g'},
      {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
  optind = 1;
  opterr = 0;
  int o;
  while ((o = getopt_long(argc, argv, ":d:i:s:c:T:t:g:h", opts, NULL)) != -1) {
    switch (o) {
    case 'd': {
      int n = 0;
      if (sscor_degrade_parse(optarg, degs + ndeg, MAX_DEGS - ndeg, &n))
        return sscor_cli_usage_error(cmd, "--degrade: %s", sscor_last_error());
      ndeg += n;
      break;
    }
    case 'i':
      if (ninputs == SSCOR_IMAGE_MAX_CHANNELS) return sscor_cli_usage_error(cmd, "too many --input files");
      inputs[ninputs++] = optarg;
      break;
    case 's': {
      char *x = strchr(optarg, 'x');
      if (!x) return sscor_cli_usage_error(cmd, "--size '%s' is not WxH", optarg);
      *x = 0;
      if (sscor_cli_int(optarg, 16, 65536, &w) || sscor_cli_int(x + 1, 16, 65536, &h))
        return sscor_cli_usage_error(cmd, "--size: sides must be integers in 16..65536");
      if ((long long)w * h > (1LL << 28))
        return sscor_cli_usage_error(cmd, "--size %ldx%ld: more than 2^28 pixels", w, h);
      break;
    }
    case 'c':
      if (sscor_cli_int(optarg, 1, SSCOR_IMAGE_MAX_CHANNELS, &channels))
        return sscor_cli_usage_error(cmd, "--channels '%s' must be in 1..%d", optarg,
                                     SSCOR_IMAGE_MAX_CHANNELS);
      break;
    case 'T':
      if (!strcmp(optarg, "u8")) type = SSCOR_U8;
      else if (!strcmp(optarg, "u16")) type = SSCOR_U16;
      else if (!strcmp(optarg, "f32")) type = SSCOR_F32;
      else return sscor_cli_usage_error(cmd, "--type '%s' must be u8, u16 or f32", optarg);
      break;
    case 'S':
      if (sscor_cli_int(optarg, 0, 0x7fffffffL, &seed))
        return sscor_cli_usage_error(cmd, "--seed '%s' must be a non-negative integer", optarg);
      break;
    case 'A': {
      nstrength = 0;
      for (char *tok = strtok(optarg, ","); tok; tok = strtok(NULL, ","))
        if (nstrength == SSCOR_IMAGE_MAX_CHANNELS || sscor_cli_double(tok, 0, 10, &strength[nstrength++]))
          return sscor_cli_usage_error(cmd, "--channel-strength: '%s' is not a number in 0..10", tok);
      break;
    }
    case 'O': ome = 1; break;
    case 't': truth_path = optarg; break;
    case 'g': geom_path = optarg; break;
    case 'h': help(); return SSCOR_EXIT_OK;
    case ':': return sscor_cli_usage_error(cmd, "option %s needs a value", argv[optind - 1]);
    default: return sscor_cli_usage_error(cmd, "unknown option %s", argv[optind - 1]);
    }
  }
  if (optind != argc - 1) return sscor_cli_usage_error(cmd, "expected exactly one output file");
  if (ndeg == 0) return sscor_cli_usage_error(cmd, "no degradation given (-d SPEC)");
  const char *out = argv[optind];
  char *tp = truth_path ? strdup(truth_path) : derived(out, ".truth.tif");
  char *gp = geom_path ? strdup(geom_path) : derived(out, ".truth.txt");
  int rc = SSCOR_EXIT_FAIL;
  sscor_image img = {0}, clean = {0};
  sscor_degrade_plan *plan = NULL;
  if (!tp || !gp) {
    fprintf(stderr, "sscor synth: out of memory\n");
    goto done;
  }
  if (!strcmp(tp, out) || !strcmp(gp, out) || !strcmp(tp, gp)) {
    rc = sscor_cli_usage_error(cmd, "output, truth and geometry files must differ");
    goto done;
  }
  if (ninputs) {
    if (read_inputs(inputs, ninputs, &img)) {
      rc = sscor_cli_fail(cmd);
      goto done;
    }
  } else if (sscor_image_alloc(&img, (int)w, (int)h, (int)channels, type) ||
             sscor_synth_content(&img, (uint64_t)seed)) {
    rc = sscor_cli_fail(cmd);
    goto done;
  }
  if (sscor_image_alloc(&clean, img.width, img.height, img.channels, img.type) ||
      sscor_image_convert(&img, &clean) ||
      sscor_degrade_plan_new(degs, ndeg, img.width, img.height, &plan) ||
      sscor_degrade_plan_apply(plan, &img) ||
      (nstrength && sscor_degrade_channel_strengths(&clean, &img, strength, nstrength))) {
    rc = sscor_cli_fail(cmd);
    goto done;
  }
  sscor_pyramid_opts po;
  sscor_pyramid_opts_default(&po);
  po.channel_pages = ome;
  /* Three files; if a later one fails, the earlier ones are removed. */
  if (sscor_image_write_pyramid(out, &img, &po)) {
    rc = sscor_cli_fail(cmd);
    goto done;
  }
  if (sscor_image_write_pyramid(tp, &clean, NULL)) {
    rc = sscor_cli_fail(cmd);
    unlink(out);
    goto done;
  }
  if (sscor_degrade_plan_write_truth(plan, gp)) {
    rc = sscor_cli_fail(cmd);
    unlink(out);
    unlink(tp);
    goto done;
  }
  printf("%s: %dx%d %d-channel %s, %d degradation%s; truth %s, geometry %s\n", out, img.width,
         img.height, img.channels, sscor_sample_type_name(img.type), ndeg, ndeg > 1 ? "s" : "", tp,
         gp);
  rc = SSCOR_EXIT_OK;
done:
  sscor_degrade_plan_free(plan);
  sscor_image_free(&img);
  sscor_image_free(&clean);
  free(tp);
  free(gp);
  return rc;
}
