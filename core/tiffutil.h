/* libtiff access shared by the slide reader and the pyramid writer: files are
 * opened with per-handle error handlers, so libtiff's complaints become the
 * sscor error message of the failing call instead of lines on stderr. */
#ifndef SSCOR_TIFFUTIL_H
#define SSCOR_TIFFUTIL_H

#include <stddef.h>
#include <tiffio.h>

#include "status.h"

/* Last libtiff error text for a handle opened here ("" when none), and for
 * sscor_tiff_fdopen the file and why its first failed write failed. */
typedef struct {
  char msg[512];
  int fd;          /* sscor_tiff_fdopen's descriptor, else -1 */
  int write_errno; /* errno of the first failed write (0: none) */
} sscor_tiff_errbuf;

/* Opens path with libtiff in mode ("rm": read without mapping the file, which
 * would count the whole file in the resident set; "w", "w8" for BigTIFF), routing
 * libtiff errors into *eb (which must outlive the handle; warnings dropped).
 * On failure returns NULL; eb->msg says why when libtiff said. */
TIFF *sscor_tiff_open(const char *path, const char *mode, sscor_tiff_errbuf *eb);

/* Opens an open descriptor (read/write as mode says) with libtiff; `name`
 * is for messages. The descriptor stays the caller's: TIFFClose leaves it
 * open. Failed writes record their errno in eb->write_errno, which libtiff's
 * own messages ("Write error at scanline ...") leave out. */
TIFF *sscor_tiff_fdopen(int fd, const char *name, const char *mode, sscor_tiff_errbuf *eb);
/* Why a handle's operation failed, for messages: the failed write's
 * strerror, else libtiff's message, else `fallback`. */
const char *sscor_tiff_why(const sscor_tiff_errbuf *eb, const char *fallback);

/* 1 when the first bytes of path are a TIFF or BigTIFF header. */
int sscor_file_is_tiff(const char *path);

/* Walks the main directory chain (and SubIFDs) of a TIFF/BigTIFF: 1 when every
 * directory and every tag's data lies inside the file; else 0 with the first
 * offender in why. OpenSlide 3.4.1's own TIFF parser allocates what a tag
 * claims before reading it (gigabytes for a few corrupt bytes), so files
 * failing this never reach it. */
int sscor_tiff_check_extents(const char *path, char *why, size_t why_len);

#endif
