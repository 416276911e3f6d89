#include "check.h"
#include "image.h"

int main(void) {
  sscor_image img;
  CHECK(sscor_image_alloc(&img, 0, 5, 1, SSCOR_U8) == SSCOR_E_INVALID);
  CHECK(sscor_image_alloc(&img, 5, SSCOR_IMAGE_MAX_SIDE + 1, 1, SSCOR_U8) == SSCOR_E_INVALID);
  CHECK(sscor_image_alloc(&img, 5, 5, 0, SSCOR_U8) == SSCOR_E_INVALID);

  CHECK(sscor_image_alloc(&img, 7, 3, 2, SSCOR_U16) == SSCOR_OK);
  CHECK(img.stride == 7 * 2 * 2);
  sscor_image_set(&img, 6, 2, 1, 70000.0f); /* clamps */
  sscor_image_set(&img, 0, 0, 0, -3.0f);
  sscor_image_set(&img, 1, 0, 0, 2.6f);
  CHECK(sscor_image_get(&img, 6, 2, 1) == 65535.0f);
  CHECK(sscor_image_get(&img, 0, 0, 0) == 0.0f);
  CHECK(sscor_image_get(&img, 1, 0, 0) == 3.0f);

  sscor_image f;
  CHECK(sscor_image_to_f32(&img, &f) == SSCOR_OK);
  CHECK(f.type == SSCOR_F32 && sscor_image_get(&f, 6, 2, 1) == 65535.0f);
  sscor_image_free(&f);
  sscor_image_free(&img);
  CHECK(img.data == NULL);
  return CHECK_DONE();
}
