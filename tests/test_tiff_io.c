/* core/tiff_io: round trips of every sample type and channel layout, the real
 * tiled wsi_brain image, and clear errors on bad files. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "tiff_io.h"

static char dir[] = "/tmp/sscor_tiffio_XXXXXX";

static void fill(sscor_image *img) {
  for (int y = 0; y < img->height; y++)
    for (int x = 0; x < img->width; x++)
      for (int c = 0; c < img->channels; c++)
        sscor_image_set(img, x, y, c,
                        img->type == SSCOR_F32 ? (x - y) * 0.37f + c : (float)((x * 7 + y * 13 + c * 50) % 251));
}

static int same(const sscor_image *a, const sscor_image *b) {
  if (a->width != b->width || a->height != b->height || a->channels != b->channels || a->type != b->type)
    return 0;
  for (int y = 0; y < a->height; y++)
    if (memcmp(sscor_image_row(a, y), sscor_image_row(b, y),
               (size_t)a->width * a->channels * sscor_sample_size(a->type)))
      return 0;
  return 1;
}

static int count_files(void) {
  DIR *d = opendir(dir);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

int main(void) {
  CHECK(mkdtemp(dir) != NULL);
  char path[512];
  const struct {
    int w, h, c;
    sscor_sample_type t;
  } cases[] = {{37, 21, 1, SSCOR_U8}, {300, 1000, 3, SSCOR_U16}, {16, 9, 2, SSCOR_F32},
               {5, 4, 4, SSCOR_U8},   {7, 3, 5, SSCOR_U16}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    sscor_image a, b;
    CHECK(!sscor_image_alloc(&a, cases[i].w, cases[i].h, cases[i].c, cases[i].t));
    fill(&a);
    snprintf(path, sizeof path, "%s/rt%zu.tif", dir, i);
    CHECK_MSG(!sscor_tiff_write(path, &a), "%s", sscor_last_error());
    CHECK_MSG(!sscor_tiff_read(path, &b), "%s", sscor_last_error());
    CHECK_MSG(same(&a, &b), "round trip %zu differs", i);
    sscor_image_free(&a);
    sscor_image_free(&b);
  }
  CHECK(count_files() == 5); /* no temporary files left */

  /* Errors: missing, not a TIFF, truncated. */
  sscor_image img;
  snprintf(path, sizeof path, "%s/missing.tif", dir);
  CHECK(sscor_tiff_read(path, &img) == SSCOR_E_IO);
  CHECK(strstr(sscor_last_error(), "missing.tif") != NULL);
  snprintf(path, sizeof path, "%s/text.tif", dir);
  FILE *f = fopen(path, "w");
  fputs("this is not a tiff\n", f);
  fclose(f);
  CHECK(sscor_tiff_read(path, &img) == SSCOR_E_FORMAT);
  CHECK(img.data == NULL);
  snprintf(path, sizeof path, "%s/rt1.tif", dir);
  struct stat sb;
  CHECK(stat(path, &sb) == 0);
  CHECK(truncate(path, sb.st_size / 2) == 0);
  sscor_status st = sscor_tiff_read(path, &img);
  CHECK_MSG(st == SSCOR_E_CORRUPT || st == SSCOR_E_FORMAT, "truncated file read as %s",
            sscor_status_name(st));
  CHECK(img.data == NULL);
  /* Unwritable destination: error, nothing created. */
  sscor_image a;
  CHECK(!sscor_image_alloc(&a, 4, 4, 1, SSCOR_U8));
  snprintf(path, sizeof path, "%s/nodir/x.tif", dir);
  CHECK(sscor_tiff_write(path, &a) == SSCOR_E_IO);
  sscor_image_free(&a);

  /* The real stitched image: tiled deflate uint16. */
  const char *data = getenv("SSCOR_DATA");
  if (data) {
    snprintf(path, sizeof path, "%s/wsi_brain/stitched.tif", data);
    if (access(path, R_OK) == 0) {
      CHECK_MSG(!sscor_tiff_read(path, &img), "%s", sscor_last_error());
      CHECK(img.width == 4390 && img.height == 2916 && img.channels == 1 && img.type == SSCOR_U16);
      double s = 0;
      for (int x = 0; x < img.width; x++) s += sscor_image_get(&img, x, 1500, 0);
      CHECK(s > 0);
      sscor_image_free(&img);
    }
  }
  /* Clean up. */
  DIR *d = opendir(dir);
  struct dirent *e;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.') {
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
      unlink(path);
    }
  closedir(d);
  rmdir(dir);
  return CHECK_DONE();
}
