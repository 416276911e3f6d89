/* Whole-image TIFF reading and writing on sscor_image (libtiff), for the CLI
 * and tests: uint8, uint16 or float32 samples, 1..SSCOR_IMAGE_MAX_CHANNELS
 * interleaved channels, strips or tiles, any compression libtiff decodes.
 * Slides too large for memory go through the streaming reader instead. */
#ifndef SSCOR_TIFF_IO_H
#define SSCOR_TIFF_IO_H

#include "image.h"
#include "status.h"

/* Reads the first image of path into a newly allocated img. Refuses (with
 * the file named and the reason) planar-separate layouts, bit depths other
 * than 8/16 unsigned or 32 float, palette images, and truncated or corrupt
 * data; libtiff's own message is appended. */
sscor_status sscor_tiff_read(const char *path, sscor_image *img);

/* Writes img as a deflate-compressed striped TIFF (BigTIFF when over 2 GiB).
 * 3 or 4 channels are marked RGB (4th as extra sample), others min-is-black.
 * The file appears only when complete: written to a temporary name beside
 * path and renamed; on error nothing is left behind. */
sscor_status sscor_tiff_write(const char *path, const sscor_image *img);

#endif
