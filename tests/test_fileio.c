/* core/fileio.h: outputs appear complete or not at all, scratch files leave
 * nothing, stale temporaries of dead processes are swept, output paths are
 * checked up front; write errors carry the system's reason (EFBIG under a
 * file-size limit, also through libtiff in the pyramid writer); the tile
 * step rule of core/blend.h. */
#include "blend.h"
#include "check.h"
#include "fileio.h"
#include "pyramid.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[] = "/tmp/sscor_fileio_XXXXXX";

static void path_in(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", dir, name); }

/* Entries of dir, hidden ones included. */
static int entries(void) {
  DIR *d = opendir(dir);
  int n = 0;
  struct dirent *e;
  while (d && (e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
  if (d) closedir(d);
  return n;
}

static int file_is(const char *path, const char *text) {
  uint8_t *b;
  size_t n;
  if (sscor_read_file(path, &b, &n)) return 0;
  int ok = n == strlen(text) && memcmp(b, text, n) == 0;
  free(b);
  return ok;
}

static void touch(const char *path) {
  FILE *f = fopen(path, "w");
  if (f) fclose(f);
}

static void test_atomic_write(void) {
  char a[512];
  path_in(a, sizeof a, "a.txt");
  CHECK(sscor_write_file_atomic(a, (const uint8_t *)"hello", 5) == SSCOR_OK);
  CHECK(file_is(a, "hello"));
  CHECK(sscor_write_file_atomic(a, (const uint8_t *)"world!", 6) == SSCOR_OK);
  CHECK(file_is(a, "world!"));
  CHECK(entries() == 1); /* no temporary beside it */

  /* while being written the file is invisible; abort leaves nothing */
  char b[512];
  path_in(b, sizeof b, "b.bin");
  sscor_outfile f;
  CHECK(sscor_outfile_open(b, &f) == SSCOR_OK);
  CHECK(sscor_write_fd(f.fd, "data", 4, b) == SSCOR_OK);
  CHECK(entries() == 1);
  sscor_outfile_abort(&f);
  CHECK(entries() == 1 && access(b, F_OK) != 0);
  CHECK(sscor_outfile_open(b, &f) == SSCOR_OK);
  CHECK(sscor_write_fd(f.fd, "data", 4, b) == SSCOR_OK);
  CHECK_MSG(sscor_outfile_commit(&f) == SSCOR_OK, "%s", sscor_last_error());
  CHECK(file_is(b, "data") && entries() == 2);
  unlink(b);
}

/* A .NAME.part-PID of a dead process goes at the next open of NAME; those of
 * live processes, of other names and of other patterns stay. */
static void test_sweep(void) {
  pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, NULL, 0); /* now a pid no process has */
  char dead[512], live[512], other[512], other_name[512], c[512], name[64];
  snprintf(name, sizeof name, ".c.bin.part-%d", (int)child);
  path_in(dead, sizeof dead, name);
  path_in(live, sizeof live, ".c.bin.part-1");
  path_in(other, sizeof other, ".c.bin.partial");
  snprintf(name, sizeof name, ".cc.bin.part-%d", (int)child);
  path_in(other_name, sizeof other_name, name);
  path_in(c, sizeof c, "c.bin");
  touch(dead), touch(live), touch(other), touch(other_name);
  sscor_outfile f;
  CHECK(sscor_outfile_open(c, &f) == SSCOR_OK);
  sscor_outfile_abort(&f);
  CHECK(access(dead, F_OK) != 0);
  CHECK(access(live, F_OK) == 0 && access(other, F_OK) == 0 && access(other_name, F_OK) == 0);
  unlink(live), unlink(other), unlink(other_name);
}

static void test_scratch_and_memory(void) {
  char near[512];
  path_in(near, sizeof near, "out.tif");
  int before = entries();
  int fd = sscor_scratch_fd(near);
  CHECK(fd >= 0 && entries() == before);
  CHECK(fd >= 0 && pwrite(fd, "xyz", 3, 0) == 3);
  char got[3] = {0};
  CHECK(fd >= 0 && pread(fd, got, 3, 0) == 3 && memcmp(got, "xyz", 3) == 0);
  if (fd >= 0) close(fd);
  /* an in-memory file readable by path, as sscor correct passes its model */
  fd = sscor_memory_fd("test");
  CHECK(fd >= 0 && sscor_write_fd(fd, "model", 5, "memory") == SSCOR_OK);
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  CHECK(file_is(proc, "model"));
  if (fd >= 0) close(fd);
}

static void expect_refused(const char *out, const char *in, const char *why) {
  CHECK_MSG(sscor_check_output(out, in) != SSCOR_OK, "%s accepted", out);
  CHECK_MSG(strstr(sscor_last_error(), why) && strstr(sscor_last_error(), out), "%s: %s", out,
            sscor_last_error());
}

static void test_check_output(void) {
  char in[512], sym[512], hard[512], dotted[512], missing[512], fresh[512];
  path_in(in, sizeof in, "in.tif");
  path_in(sym, sizeof sym, "link.tif");
  path_in(hard, sizeof hard, "hard.tif");
  path_in(missing, sizeof missing, "no-such-folder/o.tif");
  path_in(fresh, sizeof fresh, "o.tif");
  snprintf(dotted, sizeof dotted, "%s/./in.tif", dir);
  touch(in);
  CHECK(symlink("in.tif", sym) == 0 && link(in, hard) == 0);
  int before = entries();
  expect_refused(in, in, "same file as the input");
  expect_refused(dotted, in, "same file as the input");
  expect_refused(sym, in, "same file as the input");
  expect_refused(hard, in, "same file as the input");
  expect_refused(dir, in, "is a folder");
  expect_refused(missing, in, "cannot write into");
  expect_refused("/proc/x.tif", in, "cannot write into /proc");
  CHECK_MSG(sscor_check_output(fresh, in) == SSCOR_OK, "%s", sscor_last_error());
  CHECK(sscor_check_output(hard, NULL) == SSCOR_OK); /* replacing another file is fine */
  CHECK(entries() == before && access(fresh, F_OK) != 0); /* checking leaves nothing */
  unlink(in), unlink(sym), unlink(hard);
}

/* Under a file-size limit with SIGXFSZ ignored (as sscor sets it), writes
 * fail with "File too large" and leave nothing; run in a child so the limit
 * stays there. Returns the child's verdict (0 good). */
static int efbig_child(int pyramid) {
  pid_t pid = fork();
  if (pid == 0) {
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {16384, 16384};
    if (setrlimit(RLIMIT_FSIZE, &rl)) _exit(3);
    char out[512];
    path_in(out, sizeof out, pyramid ? "big.tif" : "big.bin");
    sscor_status st;
    if (pyramid) {
      sscor_image img;
      if (sscor_image_alloc(&img, 512, 512, 1, SSCOR_U16)) _exit(3);
      uint32_t x = 1;
      for (size_t i = 0; i < (size_t)512 * 512; i++) /* noise: does not compress */
        ((uint16_t *)img.data)[i] = (uint16_t)((x = x * 1664525u + 1013904223u) >> 16);
      sscor_pyramid_opts o;
      sscor_pyramid_opts_default(&o);
      o.compression = SSCOR_COMPRESS_NONE;
      st = sscor_image_write_pyramid(out, &img, &o);
      sscor_image_free(&img);
    } else {
      static uint8_t buf[65536];
      st = sscor_write_file_atomic(out, buf, sizeof buf);
    }
    if (st == SSCOR_OK) _exit(4);
    fprintf(stderr, "expected failure: %s\n", sscor_last_error());
    if (!strstr(sscor_last_error(), "File too large") || strstr(sscor_last_error(), "scanline")) _exit(5);
    _exit(entries() == 0 ? 0 : 6);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

static void test_write_errors(void) {
  CHECK(entries() == 0);
  int rc = efbig_child(0);
  CHECK_MSG(rc == 0, "atomic write under a size limit: child verdict %d", rc);
  rc = efbig_child(1);
  CHECK_MSG(rc == 0, "pyramid under a size limit: child verdict %d", rc);
  int fd = open("/dev/full", O_WRONLY);
  if (fd >= 0) {
    CHECK(sscor_write_fd(fd, "x", 1, "/dev/full") != SSCOR_OK);
    CHECK_MSG(strstr(sscor_last_error(), "No space left on device"), "%s", sscor_last_error());
    close(fd);
  }
}

static void test_tile_step(void) {
  CHECK(sscor_tile_overlap_check(256, 256, 255) != SSCOR_OK);
  CHECK_MSG(strstr(sscor_last_error(), "overlap 255 must be smaller: at most 192"), "%s", sscor_last_error());
  CHECK(sscor_tile_overlap_check(256, 256, 192) == SSCOR_OK);
  CHECK(sscor_tile_overlap_check(256, 256, 193) != SSCOR_OK);
  CHECK(sscor_tile_overlap_check(50, 50, 37) == SSCOR_OK);
  CHECK(sscor_tile_overlap_check(50, 50, 38) != SSCOR_OK);
  CHECK(sscor_tile_overlap_check(31, 200, 23) == SSCOR_OK); /* the smaller side rules */
  CHECK(sscor_tile_overlap_check(31, 200, 24) != SSCOR_OK);
  CHECK(sscor_tile_overlap_check(64, 64, 64) != SSCOR_OK);
  CHECK(sscor_tile_overlap_check(64, 64, -1) != SSCOR_OK);
  CHECK(sscor_tile_overlap_check(1, 1, 0) == SSCOR_OK);
  /* the blend sink has the same rule */
  sscor_band *b = NULL;
  CHECK(sscor_band_new(1000, 1000, 1, SSCOR_U8, 256, 256, 255, NULL, NULL, &b) != SSCOR_OK && !b);
  CHECK(sscor_band_new(1000, 1000, 1, SSCOR_U8, 256, 256, 192, NULL, NULL, &b) == SSCOR_OK && b);
  sscor_band_free(b);
}

int main(void) {
  CHECK(mkdtemp(dir) != NULL);
  test_write_errors(); /* first: it wants an empty folder */
  test_atomic_write();
  test_sweep();
  test_scratch_and_memory();
  test_check_output();
  test_tile_step();
  char a[512];
  path_in(a, sizeof a, "a.txt");
  unlink(a);
  CHECK(rmdir(dir) == 0); /* nothing else was left */
  return CHECK_DONE();
}
