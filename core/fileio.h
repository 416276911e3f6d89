/* File I/O shared by every writer in libsscor: one way to make an output
 * appear complete or not at all, scratch files that vanish with the process,
 * and the checks an output path gets before any work starts.
 *
 * Outputs are written to an unnamed file in the target's folder (O_TMPFILE)
 * and linked into place at the end, so a process killed at any point, even
 * by SIGKILL, leaves nothing behind. Where the file system has no O_TMPFILE
 * the data goes to ".NAME.part-PID" beside NAME; such files of a process
 * that is gone are removed by the next write of the same NAME. Every failure
 * names the file and carries the system's reason ("No space left on device",
 * "File too large"). */
#ifndef SSCOR_FILEIO_H
#define SSCOR_FILEIO_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

typedef struct {
  int fd;      /* open for reading and writing; -1 when closed */
  char *path;  /* the target */
  char *named; /* the visible temporary name (fallback), NULL while unnamed */
} sscor_outfile;

/* Starts writing path; nothing appears under that name until commit. */
sscor_status sscor_outfile_open(const char *path, sscor_outfile *f);
/* Flushes the data to disk, puts the file in place (replacing path), syncs
 * the folder and closes. On failure nothing is left and path is untouched. */
sscor_status sscor_outfile_commit(sscor_outfile *f);
/* Drops the file (nothing is left); a closed or zeroed f is fine. */
void sscor_outfile_abort(sscor_outfile *f);

/* write(2) until all of buf is written; on failure "NAME: write failed: why". */
sscor_status sscor_write_fd(int fd, const void *buf, size_t len, const char *name);
/* Writes buf to path through an sscor_outfile. */
sscor_status sscor_write_file_atomic(const char *path, const uint8_t *buf, size_t len);
/* Reads a whole regular file (at most 64 GiB); *buf is malloc'd. */
sscor_status sscor_read_file(const char *path, uint8_t **buf, size_t *len);

/* A scratch file in the folder of `near` (a file path), already unlinked:
 * it lives as long as the descriptor. -1 with errno set on failure. */
int sscor_scratch_fd(const char *near);
/* An anonymous file in memory (memfd; else a scratch file in $TMPDIR), e.g.
 * to pass data between pipelines as /proc/self/fd/N. -1 with errno. */
int sscor_memory_fd(const char *name);

/* Checks an output path before any work: not a folder or other non-file,
 * not the same file as `input` (another path, a symlink or a hard link to
 * it; input may be NULL), and its folder takes a new file. */
sscor_status sscor_check_output(const char *path, const char *input);

#endif
