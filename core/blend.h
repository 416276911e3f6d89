/* Overlap blending of tiles into an image, streamed as a band of rows.
 *
 * Each tile is weighted by a separable raised-cosine ramp across each overlap
 * it shares with a neighbour (weight 1 elsewhere); the band accumulates
 * sum(w * v) and sum(w) per pixel and emits value = sum(w * v) / sum(w).
 * Neighbouring ramps are complementary (w + w' = 1), so corrected tiles meet
 * without a visible seam, and an unmodified stream comes back exactly: for
 * 8- and 16-bit samples the float error (< 1e-6 relative) is far below the
 * half-unit that rounding to nearest removes.
 *
 * Streaming: tiles arrive in raster order (non-decreasing top row). Only the
 * rows from the top of the newest tile down to its bottom can still change;
 * rows above are final and are handed out, so the band holds one tile height
 * of rows whatever the image height. */
#ifndef SSCOR_BLEND_H
#define SSCOR_BLEND_H

#include <stdint.h>

#include "image.h"
#include "status.h"

/* Weight of sample t (0-based) of a tile n samples long whose leading `lead`
 * and trailing `trail` samples overlap a neighbour (0 = no neighbour there):
 * 0.5 - 0.5 cos(pi (t + 0.5) / lead) on the leading ramp, its mirror on the
 * trailing one, 1 in between; the product where the ramps meet. */
float sscor_blend_weight(int t, int n, int lead, int trail);

typedef struct sscor_band sscor_band;

/* Receives finished rows: `rows` holds nrows rows starting at image row y, in
 * the band's output type, `stride` bytes apart. Returns non-zero to fail. */
typedef sscor_status (*sscor_band_emit)(void *user, int y, const void *rows, size_t stride,
                                        int nrows);

/* An accumulator for a width x height image of `channels` interleaved samples
 * of `type`, holding at most band_rows rows at once. With overlapping = 0 the
 * tiles must not overlap (every ramp 0): samples are then copied into a band
 * of the output type, a quarter of the memory of float accumulation and
 * exact by construction. */
sscor_status sscor_band_new(int width, int height, int channels, sscor_sample_type type,
                            int band_rows, int overlapping, sscor_band_emit emit, void *user,
                            sscor_band **out);
void sscor_band_free(sscor_band *b);

typedef struct {
  int x, y;                          /* tile origin in the image */
  int valid_w, valid_h;              /* part of the tile inside the image */
  int lead_x, trail_x, lead_y, trail_y; /* overlap ramps (0 = none) */
  int channel;                       /* -1: tile has all channels; else the one channel it carries */
} sscor_band_tile;

/* Adds a tile (its top-left valid_w x valid_h samples are used). Rows above
 * t->y are finished first. Fails when the tile is out of raster order, taller
 * than the band or outside the image. */
sscor_status sscor_band_add(sscor_band *b, const sscor_image *tile, const sscor_band_tile *t);
/* Emits every row not yet emitted (after the last tile). */
sscor_status sscor_band_finish(sscor_band *b);
/* Rows emitted so far. */
int sscor_band_rows_done(const sscor_band *b);

#endif
