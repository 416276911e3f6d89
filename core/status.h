/* Error reporting shared by every libsscor module.
 *
 * Functions that can fail return an sscor_status; on failure they leave a
 * message a person can act on ("stitched.tif: truncated strip 12 ...") in a
 * thread-local buffer read with sscor_last_error(). Elements forward it with
 * GST_ELEMENT_ERROR, the CLI prints it and exits non-zero. */
#ifndef SSCOR_STATUS_H
#define SSCOR_STATUS_H

typedef enum {
  SSCOR_OK = 0,
  SSCOR_E_INVALID,     /* bad argument or property value */
  SSCOR_E_IO,          /* cannot open, read or write a file */
  SSCOR_E_FORMAT,      /* not a file of the expected kind, or unsupported variant */
  SSCOR_E_CORRUPT,     /* right kind, damaged content (truncated, bad checksum) */
  SSCOR_E_NOMEM,       /* allocation failed or size absurd */
  SSCOR_E_UNSUPPORTED, /* valid request this build cannot do (e.g. no GPU) */
  SSCOR_E_INTERNAL
} sscor_status;

/* Records code and message for this thread and returns code, so a failing
 * path reads `return sscor_fail(SSCOR_E_IO, "%s: %s", path, strerror(errno));` */
sscor_status sscor_fail(sscor_status code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
const char *sscor_last_error(void);
sscor_status sscor_last_status(void);
void sscor_clear_error(void);
const char *sscor_status_name(sscor_status code);

#endif
