#define _GNU_SOURCE /* O_TMPFILE, memfd_create */
#include "fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The folder of path ("." when it has none), malloc'd. */
static char *dir_of(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return strdup(".");
  if (slash == path) return strdup("/");
  return strndup(path, (size_t)(slash - path));
}

static const char *base_of(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

/* ".NAME.part-PID" beside path, malloc'd. */
static char *part_name(const char *path, long pid) {
  const char *base = base_of(path);
  size_t n = strlen(path) + 48;
  char *t = malloc(n);
  if (t) snprintf(t, n, "%.*s.%s.part-%ld", (int)(base - path), path, base, pid);
  return t;
}

/* Removes ".NAME.part-PID" files beside path whose process is gone. */
static void sweep_stale(const char *path) {
  char *dir = dir_of(path);
  DIR *d = dir ? opendir(dir) : NULL;
  const char *base = base_of(path);
  size_t blen = strlen(base);
  struct dirent *e;
  while (d && (e = readdir(d))) {
    const char *s = e->d_name;
    if (s[0] != '.' || strncmp(s + 1, base, blen) || strncmp(s + 1 + blen, ".part-", 6)) continue;
    char *end;
    long pid = strtol(s + blen + 7, &end, 10);
    if (*end || pid <= 0 || !(kill((pid_t)pid, 0) != 0 && errno == ESRCH)) continue;
    char *stale = part_name(path, pid);
    if (stale) unlink(stale);
    free(stale);
  }
  if (d) closedir(d);
  free(dir);
}

sscor_status sscor_outfile_open(const char *path, sscor_outfile *f) {
  *f = (sscor_outfile){.fd = -1};
  if (!path || !*path) return sscor_fail(SSCOR_E_INVALID, "no output file given");
  char *dir = dir_of(path);
  if (!(f->path = strdup(path)) || !dir) {
    free(dir);
    sscor_outfile_abort(f);
    return sscor_fail(SSCOR_E_NOMEM, "%s: out of memory", path);
  }
  sweep_stale(path);
  f->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0666);
  int err = errno;
  if (f->fd < 0 && (err == EOPNOTSUPP || err == EISDIR || err == EINVAL)) {
    /* no O_TMPFILE here: a visible name, swept by the next run if we die */
    if ((f->named = part_name(path, (long)getpid())))
      f->fd = open(f->named, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    err = f->named ? errno : ENOMEM;
    if (f->fd < 0) free(f->named), f->named = NULL;
  }
  if (f->fd < 0) {
    sscor_status st = sscor_fail(SSCOR_E_IO, "%s: cannot create a file in %s: %s", path, dir, strerror(err));
    free(dir);
    sscor_outfile_abort(f);
    return st;
  }
  free(dir);
  return SSCOR_OK;
}

/* Gives the unnamed file f->fd the name f->named. */
static int link_unnamed(sscor_outfile *f) {
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", f->fd);
  unlink(f->named); /* one of ours from a process that had our pid */
  if (linkat(AT_FDCWD, proc, AT_FDCWD, f->named, AT_SYMLINK_FOLLOW) == 0) return 0;
  if (errno != ENOENT) return -1;
  return linkat(f->fd, "", AT_FDCWD, f->named, AT_EMPTY_PATH); /* no /proc mounted */
}

static void sync_dir(const char *path) {
  char *dir = dir_of(path);
  int fd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
  if (fd >= 0) {
    fsync(fd); /* best effort: the file is in place whatever this says */
    close(fd);
  }
  free(dir);
}

sscor_status sscor_outfile_commit(sscor_outfile *f) {
  const char *step = "cannot write";
  int err = 0;
  if (fsync(f->fd) != 0 && errno != EINVAL) err = errno;
  if (!err && !f->named) {
    step = "cannot name the finished file";
    if (!(f->named = part_name(f->path, (long)getpid()))) err = ENOMEM;
    else if (link_unnamed(f) != 0) {
      err = errno;
      free(f->named);
      f->named = NULL;
    }
  }
  if (!err) {
    step = "cannot move the finished file into place";
    if (rename(f->named, f->path) != 0) err = errno;
    else free(f->named), f->named = NULL;
  }
  if (!err) {
    step = "cannot write";
    int fd = f->fd;
    f->fd = -1;
    if (close(fd) != 0) err = errno; /* too late to take it back, but say so */
    sync_dir(f->path);
  }
  sscor_status st = SSCOR_OK;
  if (err) st = sscor_fail(SSCOR_E_IO, "%s: %s: %s", f->path, step, strerror(err));
  sscor_outfile_abort(f);
  return st;
}

void sscor_outfile_abort(sscor_outfile *f) {
  if (f->fd >= 0) close(f->fd);
  if (f->named) unlink(f->named);
  free(f->named);
  free(f->path);
  *f = (sscor_outfile){.fd = -1};
}

sscor_status sscor_write_fd(int fd, const void *buf, size_t len, const char *name) {
  const char *p = buf;
  while (len) {
    ssize_t w = write(fd, p, len);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0)
      return sscor_fail(SSCOR_E_IO, "%s: write failed: %s", name, strerror(w < 0 ? errno : ENOSPC));
    p += w, len -= (size_t)w;
  }
  return SSCOR_OK;
}

sscor_status sscor_write_file_atomic(const char *path, const uint8_t *buf, size_t len) {
  sscor_outfile f;
  sscor_status st = sscor_outfile_open(path, &f);
  if (st) return st;
  if ((st = sscor_write_fd(f.fd, buf, len, path))) {
    sscor_outfile_abort(&f);
    return st;
  }
  return sscor_outfile_commit(&f);
}

sscor_status sscor_read_file(const char *path, uint8_t **buf, size_t *len) {
  *buf = NULL;
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return sscor_fail(SSCOR_E_IO, "%s: cannot open: %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
    fclose(f);
    return sscor_fail(SSCOR_E_IO, "%s: not a regular file", path);
  }
  if ((uint64_t)sb.st_size > ((uint64_t)1 << 36)) {
    fclose(f);
    return sscor_fail(SSCOR_E_FORMAT, "%s: %lld bytes is far too large for a model file", path,
                      (long long)sb.st_size);
  }
  size_t n = (size_t)sb.st_size;
  uint8_t *p = malloc(n ? n : 1);
  if (!p) {
    fclose(f);
    return sscor_fail(SSCOR_E_NOMEM, "%s: cannot hold %zu bytes", path, n);
  }
  size_t got = fread(p, 1, n, f);
  int err = ferror(f);
  fclose(f);
  if (got != n || err) {
    free(p);
    return sscor_fail(SSCOR_E_IO, "%s: read failed after %zu of %zu bytes", path, got, n);
  }
  *buf = p;
  *len = n;
  return SSCOR_OK;
}

int sscor_scratch_fd(const char *near) {
  char *dir = dir_of(near);
  if (!dir) return errno = ENOMEM, -1;
  int fd = open(dir, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
    size_t n = strlen(near) + 32;
    char *t = malloc(n);
    const char *base = base_of(near);
    if (t) {
      snprintf(t, n, "%.*s.%s.scratch-XXXXXX", (int)(base - near), near, base);
      if ((fd = mkostemp(t, O_CLOEXEC)) >= 0) unlink(t); /* gone with the process */
      free(t);
    }
  }
  int e = errno;
  free(dir);
  errno = e;
  return fd;
}

int sscor_memory_fd(const char *name) {
  int fd = memfd_create(name, MFD_CLOEXEC);
  if (fd >= 0) return fd;
  const char *tmp = getenv("TMPDIR");
  char near[4096];
  snprintf(near, sizeof near, "%s/%s", tmp && *tmp ? tmp : "/tmp", name);
  return sscor_scratch_fd(near);
}

sscor_status sscor_check_output(const char *path, const char *input) {
  if (!path || !*path) return sscor_fail(SSCOR_E_INVALID, "no output file given");
  struct stat so, si;
  if (stat(path, &so) == 0) {
    if (S_ISDIR(so.st_mode)) return sscor_fail(SSCOR_E_IO, "%s is a folder, not an output file", path);
    if (!S_ISREG(so.st_mode))
      return sscor_fail(SSCOR_E_IO, "%s: exists and is not a regular file: will not replace it", path);
    if (input && stat(input, &si) == 0 && si.st_dev == so.st_dev && si.st_ino == so.st_ino)
      return sscor_fail(SSCOR_E_INVALID, "%s: is the same file as the input %s: write the output elsewhere",
                        path, input);
  }
  int fd = sscor_scratch_fd(path);
  if (fd < 0) {
    int err = errno;
    char *dir = dir_of(path);
    sscor_status st = sscor_fail(SSCOR_E_IO, "%s: cannot write into %s: %s", path, dir ? dir : ".", strerror(err));
    free(dir);
    return st;
  }
  close(fd);
  return SSCOR_OK;
}
