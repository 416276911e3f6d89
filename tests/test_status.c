#include "check.h"
#include "status.h"

#include <string.h>

int main(void) {
  CHECK(strcmp(sscor_last_error(), "no error") == 0);
  CHECK(sscor_fail(SSCOR_E_IO, "%s: cannot open", "x.tif") == SSCOR_E_IO);
  CHECK(strcmp(sscor_last_error(), "x.tif: cannot open") == 0);
  CHECK(sscor_last_status() == SSCOR_E_IO);
  sscor_clear_error();
  CHECK(sscor_last_status() == SSCOR_OK);
  return CHECK_DONE();
}
