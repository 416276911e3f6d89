#include "tiffutil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

static TIFFOpenOptions *open_options(sscor_tiff_errbuf *eb, int fd) {
  eb->msg[0] = '\0';
  eb->fd = fd;
  eb->write_errno = 0;
  TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
  if (!opts) return NULL;
  TIFFOpenOptionsSetErrorHandlerExtR(opts, on_error, eb);
  TIFFOpenOptionsSetWarningHandlerExtR(opts, on_warning, eb);
  return opts;
}

TIFF *sscor_tiff_open(const char *path, const char *mode, sscor_tiff_errbuf *eb) {
  TIFFOpenOptions *opts = open_options(eb, -1);
  if (!opts) return NULL;
  TIFF *tif = TIFFOpenExt(path, mode, opts);
  TIFFOpenOptionsFree(opts);
  return tif;
}

/* ---- descriptor procs for sscor_tiff_fdopen (the handle is the errbuf) ---- */

static tmsize_t fd_read(thandle_t h, void *buf, tmsize_t n) {
  sscor_tiff_errbuf *eb = h;
  tmsize_t done = 0;
  while (done < n) {
    ssize_t r = read(eb->fd, (char *)buf + done, (size_t)(n - done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return done ? done : -1;
    if (r == 0) break;
    done += r;
  }
  return done;
}

static tmsize_t fd_write(thandle_t h, void *buf, tmsize_t n) {
  sscor_tiff_errbuf *eb = h;
  tmsize_t done = 0;
  while (done < n) {
    ssize_t w = write(eb->fd, (const char *)buf + done, (size_t)(n - done));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      if (!eb->write_errno) eb->write_errno = w < 0 ? errno : ENOSPC;
      return -1;
    }
    done += w;
  }
  return done;
}

static toff_t fd_seek(thandle_t h, toff_t off, int whence) {
  return (toff_t)lseek(((sscor_tiff_errbuf *)h)->fd, (off_t)off, whence);
}

static int fd_close(thandle_t h) {
  (void)h; /* the descriptor is the caller's */
  return 0;
}

static toff_t fd_size(thandle_t h) {
  struct stat sb;
  return fstat(((sscor_tiff_errbuf *)h)->fd, &sb) == 0 ? (toff_t)sb.st_size : 0;
}

static int fd_map(thandle_t h, void **base, toff_t *size) {
  (void)h, (void)base, (void)size;
  return 0; /* no mapping: libtiff reads */
}

static void fd_unmap(thandle_t h, void *base, toff_t size) { (void)h, (void)base, (void)size; }

TIFF *sscor_tiff_fdopen(int fd, const char *name, const char *mode, sscor_tiff_errbuf *eb) {
  TIFFOpenOptions *opts = open_options(eb, fd);
  if (!opts) return NULL;
  TIFF *tif = TIFFClientOpenExt(name, mode, (thandle_t)eb, fd_read, fd_write, fd_seek, fd_close,
                                fd_size, fd_map, fd_unmap, opts);
  TIFFOpenOptionsFree(opts);
  return tif;
}

const char *sscor_tiff_why(const sscor_tiff_errbuf *eb, const char *fallback) {
  if (eb->write_errno) return strerror(eb->write_errno);
  return eb->msg[0] ? eb->msg : fallback;
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
