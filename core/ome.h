/* OME-XML, the image description of OME-TIFF files: just what sscor needs to
 * read channel pages (one TIFF page per channel, as Bio-Formats and stitchers
 * write them) and to write them back. */
#ifndef SSCOR_OME_H
#define SSCOR_OME_H

#include "image.h"

typedef struct {
  int size_c, size_z, size_t; /* of the first image (series 0) */
  char names[1024];           /* channel names, comma-separated; "" when the file names none */
} sscor_ome_info;

/* Reads the first image's Pixels of an OME-XML description. 1 when `xml` is
 * OME-XML with a Pixels element, else 0 (*out zeroed). */
int sscor_ome_parse(const char *xml, sscor_ome_info *out);

/* A minimal OME-XML for a width x height image of `channels` channel pages
 * (DimensionOrder XYCZT, one plane per page from IFD 0), channel names from
 * the comma-separated `names` (NULL or "" = none), physical pixel size when
 * mpp_x, mpp_y > 0. malloc'd; NULL when out of memory. */
char *sscor_ome_xml(int width, int height, int channels, sscor_sample_type type, const char *names,
                    double mpp_x, double mpp_y);

#endif
