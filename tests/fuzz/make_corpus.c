/* Writes the seed corpora of the fuzz targets into DIR/<target>/: tiny
 * TIFFs (8/16-bit, float, 2 channels planar, striped and tiled, compressed,
 * BigTIFF, pyramids in the IFD chain and in SubIFDs, an Aperio-style slide),
 * model files and a checkpoint made by the project's own writers, geometry
 * files in the project's text form, and degradation specs.
 *   fuzz_make_corpus tests/fuzz/corpus */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <tiffio.h>

#include "correct.h"
#include "model_file.h"
#include "pyramid.h"
#include "tiny_trainer.h"

#define TRY(expr)                                                   \
  do {                                                              \
    if ((expr) != SSCOR_OK) {                                       \
      fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, sscor_last_error()); \
      return 1;                                                     \
    }                                                               \
  } while (0)

static char dir[1024];

static const char *at(const char *target, const char *name) {
  static char p[1200];
  snprintf(p, sizeof p, "%s/%s", dir, target);
  mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/%s/%s", dir, target, name);
  return p;
}

static float pixel(int x, int y, int c) { return (float)((x * 7 + y * 13 + c * 29) % 251); }

/* A TIFF written directly with libtiff: the layouts the pyramid writer does
 * not make (striped, planar, float, BigTIFF). tile = 0: strips of rps rows. */
static int write_tiff(const char *path, const char *mode, int w, int h, int spp, int bps, int fmt,
                      int planar, int tile, int rps, int comp) {
  TIFF *t = TIFFOpen(path, mode);
  if (!t) return 1;
  TIFFSetField(t, TIFFTAG_IMAGEWIDTH, w);
  TIFFSetField(t, TIFFTAG_IMAGELENGTH, h);
  TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, spp);
  TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, bps);
  TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, fmt);
  TIFFSetField(t, TIFFTAG_PLANARCONFIG, planar);
  TIFFSetField(t, TIFFTAG_PHOTOMETRIC, spp == 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK);
  TIFFSetField(t, TIFFTAG_COMPRESSION, comp);
  int contig = planar == PLANARCONFIG_CONTIG, spb = contig ? spp : 1, ss = bps / 8;
  int bw = tile ? tile : w, bh = tile ? tile : rps;
  if (tile) {
    TIFFSetField(t, TIFFTAG_TILEWIDTH, tile);
    TIFFSetField(t, TIFFTAG_TILELENGTH, tile);
  } else {
    TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, rps);
  }
  uint8_t buf[64 * 64 * 4 * 4];
  for (int p = 0; p < (contig ? 1 : spp); p++)
    for (int by = 0; by < h; by += bh)
      for (int bx = 0; bx < w; bx += bw) {
        int rows = tile ? bh : (by + bh > h ? h - by : bh);
        for (int y = 0; y < rows; y++)
          for (int x = 0; x < bw; x++)
            for (int k = 0; k < spb; k++) {
              float v = pixel(bx + x, by + y, contig ? k : p);
              uint8_t *d = buf + (((size_t)y * bw + x) * spb + k) * ss;
              if (bps == 8) *d = (uint8_t)v;
              else if (bps == 16) *(uint16_t *)d = (uint16_t)(v * 250);
              else *(float *)d = v / 251.0f;
            }
        size_t n = (size_t)bw * rows * spb * ss;
        tmsize_t r = tile ? TIFFWriteEncodedTile(t, TIFFComputeTile(t, bx, by, 0, p), buf, n)
                          : TIFFWriteEncodedStrip(t, TIFFComputeStrip(t, by, p), buf, n);
        if (r < 0) return 1;
      }
  TIFFClose(t);
  return 0;
}

static int pyramid(const char *path, int w, int h, int c, sscor_sample_type type,
                   sscor_compression comp, int subifds, const char *desc) {
  sscor_image img;
  TRY(sscor_image_alloc(&img, w, h, c, type));
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int k = 0; k < c; k++) sscor_image_set(&img, x, y, k, pixel(x, y, k));
  sscor_pyramid_opts o;
  sscor_pyramid_opts_default(&o);
  o.compression = comp;
  o.tile_size = 16;
  o.subifds = subifds;
  o.description = desc;
  o.mpp_x = o.mpp_y = 0.5;
  TRY(sscor_image_write_pyramid(path, &img, &o));
  sscor_image_free(&img);
  return 0;
}

static int slides(void) {
  int bad = 0;
  bad |= write_tiff(at("slide", "gray8_strips.tif"), "w", 21, 13, 1, 8, SAMPLEFORMAT_UINT,
                    PLANARCONFIG_CONTIG, 0, 4, COMPRESSION_NONE);
  bad |= write_tiff(at("slide", "gray16_tiles_deflate.tif"), "w", 40, 24, 1, 16,
                    SAMPLEFORMAT_UINT, PLANARCONFIG_CONTIG, 16, 0, COMPRESSION_ADOBE_DEFLATE);
  bad |= write_tiff(at("slide", "two16_planar_lzw.tif"), "w", 19, 11, 2, 16, SAMPLEFORMAT_UINT,
                    PLANARCONFIG_SEPARATE, 0, 5, COMPRESSION_LZW);
  bad |= write_tiff(at("slide", "float_tiles.tif"), "w", 20, 18, 1, 32, SAMPLEFORMAT_IEEEFP,
                    PLANARCONFIG_CONTIG, 16, 0, COMPRESSION_NONE);
  bad |= write_tiff(at("slide", "rgb8_bigtiff_strips.tif"), "w8", 17, 9, 3, 8,
                    SAMPLEFORMAT_UINT, PLANARCONFIG_CONTIG, 0, 3, COMPRESSION_PACKBITS);
  bad |= pyramid(at("slide", "gray16_pyramid.tif"), 48, 40, 1, SSCOR_U16, SSCOR_COMPRESS_NONE, 0, NULL);
  bad |= pyramid(at("slide", "rgb8_subifd_zstd.tif"), 40, 36, 3, SSCOR_U8, SSCOR_COMPRESS_ZSTD, 1, NULL);
  bad |= pyramid(at("slide", "rgb8_jpeg.tif"), 32, 32, 3, SSCOR_U8, SSCOR_COMPRESS_JPEG, 0, NULL);
  bad |= pyramid(at("slide", "aperio.svs"), 48, 32, 3, SSCOR_U8, SSCOR_COMPRESS_JPEG, 0,
                 "Aperio Image Library v10.0.0\n48x32 [0,0 48x32] (16x16) JPEG/RGB Q=90|AppMag = 20|MPP = 0.5");
  return bad;
}

/* A 2x2 grid of 20x16 tiles overlapping by 4 px in a 36x28 image. */
static int grid(sscor_geometry *g) {
  TRY(sscor_geometry_init(g, 36, 28));
  TRY(sscor_geometry_set_grid(g, 0, 0, 16, 12, 2, 2, 20, 16));
  return 0;
}

static int models(void) {
  sscor_geometry g;
  if (grid(&g)) return 1;
  double ku[3] = {0, 0.5, 1}, kv[3] = {0, 0.5, 1}, f[9] = {0, .1, 0, -.1, 0, .1, 0, -.1, 0};
  double gain[4] = {0.05, -0.05, 0.02, 0};
  sscor_flatfield *ff;
  TRY(sscor_flatfield_from_params(&g, 3, ku, kv, f, gain, 4, 2.0, &ff));
  TRY(sscor_flatfield_set_log_overlap(ff, 0.03));
  sscor_model m;
  memset(&m, 0, sizeof m);
  m.channels = 1;
  m.patch = 8;
  m.sample_format = SSCOR_SAMPLE_U16;
  m.low[0] = 100;
  m.high[0] = 3000;
  snprintf(m.preset, sizeof m.preset, "cpu");
  TRY(sscor_model_set_flatfield(&m, &g, NULL));
  TRY(sscor_model_save(&m, at("model", "analysis_geometry_only.sscor")));
  TRY(sscor_model_set_flatfield(&m, &g, ff));
  TRY(sscor_model_save(&m, at("model", "flatfield.sscor")));
  sscor_net_config cfg = sscor_gen_config(1, 1, 1, 0, SSCOR_GEN_OUT_GAIN);
  sscor_rng rng;
  sscor_rng_seed(&rng, 3);
  TRY(sscor_net_create(&cfg, &m.corrector));
  sscor_net_init(m.corrector, &rng);
  for (size_t i = 0; i < m.corrector->n_params; i++) m.corrector->params[i] += 0.01f * (float)(i % 5);
  TRY(sscor_model_save(&m, at("model", "flatfield_and_net.sscor")));
  free(m.geometry);
  free(m.flatfield);
  m.geometry = NULL, m.flatfield = NULL, m.flatfield_len = 0;
  TRY(sscor_model_save(&m, at("model", "net_only.sscor")));
  sscor_net_destroy(m.corrector);
  sscor_flatfield_free(ff);
  sscor_geometry_free(&g);

  sscor_trainer *t;
  TRY(tiny_trainer(&t));
  TRY(sscor_trainer_run_steps(t, 3, NULL, NULL));
  TRY(sscor_checkpoint_save(t, NULL, at("model", "checkpoint.sscor")));
  sscor_trainer_destroy(t);
  return 0;
}

static int text(const char *target, const char *name, const char *s) {
  FILE *f = fopen(at(target, name), "w");
  if (!f || fputs(s, f) < 0 || fclose(f)) return 1;
  return 0;
}

static int geometries(void) {
  sscor_geometry g;
  if (grid(&g)) return 1;
  TRY(sscor_geometry_add_region(&g, 3, 4, 5, 6, SSCOR_ARTIFACT_BUBBLE));
  TRY(sscor_geometry_write(&g, at("geometry", "grid.geom")));
  sscor_geometry_free(&g);
  TRY(sscor_geometry_init(&g, 64, 20));
  TRY(sscor_geometry_set_grid(&g, 0, 0, 16, 20, 4, 1, 16, 20));
  g.angle_deg = 2.5;
  TRY(sscor_geometry_add_seam(&g, 1, 30.5, 0, 20));
  TRY(sscor_geometry_write(&g, at("geometry", "vertical_angled.geom")));
  sscor_geometry_free(&g);
  return text("geometry", "handwritten.geom",
              "sscor-geometry 1\n# edited by hand\nimage 100 80\norientation horizontal\n"
              "tile-size 100 30\ntile 0 0\ntile 0 25.5\ntile 0 51 100 29\n"
              "seam h 40 -3 103\nregion 10 10 20 20 focus\nregion 0 0 5 5\nmask mask.tif\n");
}

static int specs(void) {
  static const char *s[][2] = {
      {"regular", "stripes-regular:period=9,width=1.5,strength=0.4,phase=2"},
      {"gaussian", "stripes-gaussian:count=3,width=1,length=20,seed=5"},
      {"angled", "stripes-angled:angle=-20,count=2,additive=0.1,level=500"},
      {"tiles", "tile-uniform:tile=16;tile-varying:tile-w=20,tile-h=12,offset-x=3,offset-y=-2"},
      {"oblique", "oblique:angle=4,tile=24,vary=1"},
      {"seams", "seams:tile=16,width=0.2,strength=-0.3"},
      {"local", "defocus:count=1,radius=9;bubble:radius=6,seed=2;fringe:period=5,strength=0.2"},
  };
  int bad = 0;
  for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) bad |= text("degrade", s[i][0], s[i][1]);
  return bad;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: fuzz_make_corpus DIR\n");
    return 2;
  }
  snprintf(dir, sizeof dir, "%s", argv[1]);
  if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
    perror(dir);
    return 1;
  }
  int bad = slides();
  bad |= models();
  bad |= geometries();
  bad |= specs();
  if (bad) fprintf(stderr, "some seeds could not be written\n");
  return bad;
}
