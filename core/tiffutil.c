#include "tiffutil.h"

#include <stdio.h>
#include <string.h>

static int on_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
  (void)tif;
  sscor_tiff_errbuf *eb = user;
  if (!eb) return 1;
  char text[400];
  vsnprintf(text, sizeof text, fmt, ap);
  snprintf(eb->msg, sizeof eb->msg, "%s%s%s", module ? module : "", module ? ": " : "", text);
  return 1; /* handled: keep libtiff's global handler quiet */
}

static int on_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
  (void)tif, (void)user, (void)module, (void)fmt, (void)ap;
  return 1; /* unknown private tags and the like are not worth a line on stderr */
}

TIFF *sscor_tiff_open(const char *path, const char *mode, sscor_tiff_errbuf *eb) {
  eb->msg[0] = '\0';
  TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
  if (!opts) return NULL;
  TIFFOpenOptionsSetErrorHandlerExtR(opts, on_error, eb);
  TIFFOpenOptionsSetWarningHandlerExtR(opts, on_warning, eb);
  TIFF *tif = TIFFOpenExt(path, mode, opts);
  TIFFOpenOptionsFree(opts);
  return tif;
}

int sscor_file_is_tiff(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  unsigned char h[4];
  size_t n = fread(h, 1, 4, f);
  fclose(f);
  if (n < 4) return 0;
  if (h[0] == 'I' && h[1] == 'I' && (h[2] == 42 || h[2] == 43) && h[3] == 0) return 1;
  if (h[0] == 'M' && h[1] == 'M' && h[2] == 0 && (h[3] == 42 || h[3] == 43)) return 1;
  return 0;
}
