#include "status.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_message[1024];
static _Thread_local sscor_status last_code;

sscor_status sscor_fail(sscor_status code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_message, sizeof last_message, fmt, ap);
  va_end(ap);
  last_code = code;
  return code;
}

const char *sscor_last_error(void) { return last_message[0] ? last_message : "no error"; }

sscor_status sscor_last_status(void) { return last_code; }

void sscor_clear_error(void) {
  last_message[0] = '\0';
  last_code = SSCOR_OK;
}

const char *sscor_status_name(sscor_status code) {
  switch (code) {
  case SSCOR_OK: return "ok";
  case SSCOR_E_INVALID: return "invalid argument";
  case SSCOR_E_IO: return "i/o error";
  case SSCOR_E_FORMAT: return "unsupported or unrecognised format";
  case SSCOR_E_CORRUPT: return "corrupt data";
  case SSCOR_E_NOMEM: return "out of memory";
  case SSCOR_E_UNSUPPORTED: return "unsupported";
  case SSCOR_E_INTERNAL: return "internal error";
  }
  return "unknown";
}
