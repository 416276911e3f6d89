#include "tiffutil.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

/* ---- directory extents ------------------------------------------------- */

#define EXT_MAX_DIRS 1024

typedef struct {
  FILE *f;
  uint64_t size;
  int big, be; /* BigTIFF, big-endian */
} tiff_walk;

static int rd(const tiff_walk *w, uint64_t off, int n, uint64_t *v) {
  unsigned char b[8];
  if (off > w->size || (uint64_t)n > w->size - off || fseeko(w->f, (off_t)off, SEEK_SET) != 0 ||
      fread(b, 1, (size_t)n, w->f) != (size_t)n)
    return 0;
  *v = 0;
  for (int i = 0; i < n; i++) *v |= (uint64_t)b[w->be ? i : n - 1 - i] << (8 * (n - 1 - i));
  return 1;
}

static int type_size(uint64_t type) {
  static const int sz[19] = {0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8, 4, 0, 0, 8, 8, 8};
  return type < 19 ? sz[type] : 0;
}

/* Checks the directory at off and its tags; queues SubIFD offsets. */
static int check_dir(const tiff_walk *w, uint64_t off, int d, uint64_t *queue, int *nq,
                     uint64_t *next, char *why, size_t n) {
  int esz = w->big ? 20 : 12, csz = w->big ? 8 : 2, vsz = w->big ? 8 : 4;
  uint64_t count;
  *next = 0;
  if (!rd(w, off, csz, &count) || count > (w->size - off - csz) / esz) {
    snprintf(why, n, "directory %d at offset %llu does not fit in the file (%llu bytes)", d,
             (unsigned long long)off, (unsigned long long)w->size);
    return 0;
  }
  for (uint64_t i = 0; i < count; i++) {
    uint64_t e = off + csz + i * esz, tag, type, cnt, val;
    rd(w, e, 2, &tag), rd(w, e + 2, 2, &type), rd(w, e + 4, vsz, &cnt), rd(w, e + 4 + vsz, vsz, &val);
    int ts = type_size(type);
    if (!ts) continue; /* unknown type: readers skip it */
    int inline_ = cnt * ts <= (uint64_t)vsz;
    if (cnt > w->size / ts || (!inline_ && (val > w->size || cnt * ts > w->size - val))) {
      snprintf(why, n, "tag %llu of directory %d claims %llu values of %d bytes at offset %llu, "
               "beyond the end of the file (%llu bytes)", (unsigned long long)tag, d,
               (unsigned long long)cnt, ts, (unsigned long long)val, (unsigned long long)w->size);
      return 0;
    }
    if (tag == 330 && (ts == 4 || ts == 8)) { /* SubIFDs: more chains to walk */
      uint64_t at = inline_ ? e + 4 + vsz : val;
      for (uint64_t k = 0; k < cnt && *nq < EXT_MAX_DIRS; k++) {
        uint64_t sub;
        if (rd(w, at + k * ts, ts, &sub) && sub) queue[(*nq)++] = sub;
      }
    }
  }
  rd(w, off + csz + count * esz, vsz, next); /* a missing link ends the chain */
  return 1;
}

int sscor_tiff_check_extents(const char *path, char *why, size_t why_len) {
  tiff_walk w = {fopen(path, "rb"), 0, 0, 0};
  if (!w.f) {
    snprintf(why, why_len, "cannot open");
    return 0;
  }
  uint64_t *queue = malloc(2 * EXT_MAX_DIRS * sizeof *queue), *seen = queue + EXT_MAX_DIRS;
  uint64_t magic = 0, first = 0;
  int ok = queue && fseeko(w.f, 0, SEEK_END) == 0;
  w.size = ok ? (uint64_t)ftello(w.f) : 0;
  w.be = ok && rd(&w, 0, 1, &magic) && magic == 'M';
  ok = ok && rd(&w, 2, 2, &magic) && (magic == 42 || magic == 43);
  w.big = ok && magic == 43;
  ok = ok && rd(&w, w.big ? 8 : 4, w.big ? 8 : 4, &first);
  if (!ok) snprintf(why, why_len, "not a TIFF header");
  int nq = 0, nseen = 0;
  if (ok && first) queue[nq++] = first;
  /* every chain (the main one, then SubIFDs as found); each directory once */
  for (int qi = 0; ok && qi < nq; qi++) {
    uint64_t off = queue[qi];
    while (ok && off && nseen < EXT_MAX_DIRS) {
      int again = 0;
      for (int k = 0; k < nseen && !again; k++) again = seen[k] == off;
      if (again) break; /* a loop: libtiff refuses it itself */
      seen[nseen++] = off;
      ok = check_dir(&w, off, nseen - 1, queue, &nq, &off, why, why_len);
    }
  }
  free(queue);
  fclose(w.f);
  return ok;
}
