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
 * Streaming: tiles arrive in raster order on the grid of step tile - overlap
 * (as sscorslidesrc emits them). When the overlap is at most half a tile,
 * every pixel lies in at most two tiles per direction, and a tile's block up
 * to the start of its right and bottom neighbours is final as soon as the
 * tile arrives: it is computed and handed out at once (per tile, not per row
 * band). Kept between tiles are only the samples those blends still need,
 * in the input's sample type (exact): the right overlap of the previous tile
 * and the bottom overlap of each tile of the row above, i.e. overlap rows of
 * the image width. Without overlap nothing is kept. Larger overlaps (pixels
 * in three or more tiles) fall back to a float band of one tile height:
 * sum(w * v) and sum(w) over the full width, rows handed out as they finish. */
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

/* Receives a finished block: w x h pixels at (x, y), of every channel
 * (channel -1) or of one channel, in the output type, rows `stride` bytes
 * apart. Returns non-zero to fail. */
typedef sscor_status (*sscor_band_emit)(void *user, int x, int y, int w, int h, int channel,
                                        const void *data, size_t stride);

/* Tiles of tile_w x tile_h step by tile - overlap. The step must be at least
 * a quarter of the tile on each axis (overlap <= 3/4 tile): each pixel is
 * then read at most 16 times, while a 1-px step on 256-px tiles reads it
 * 65536 times (minutes for a small slide) and blends no better. Fails with
 * "overlap N must be smaller: at most M on WxH tiles ..." otherwise. The
 * tile source and the blend sink share this rule. */
sscor_status sscor_tile_overlap_check(int tile_w, int tile_h, int overlap);

/* An accumulator for a width x height image of `channels` interleaved samples
 * of `type`, fed tiles of tile_w x tile_h overlapping by `overlap`. */
sscor_status sscor_band_new(int width, int height, int channels, sscor_sample_type type,
                            int tile_w, int tile_h, int overlap, sscor_band_emit emit,
                            void *user, sscor_band **out);
void sscor_band_free(sscor_band *b);
/* Bytes of the buffers kept between tiles (for memory reports). */
size_t sscor_band_buffer_bytes(const sscor_band *b);

typedef struct {
  int x, y;                          /* tile origin in the image */
  int valid_w, valid_h;              /* part of the tile inside the image */
  int lead_x, trail_x, lead_y, trail_y; /* overlap ramps (0 = none) */
  int channel;                       /* -1: tile has all channels; else the one channel it carries */
} sscor_band_tile;

/* Adds a tile (its top-left valid_w x valid_h samples are used) and hands
 * out what it finishes. Fails when the tile is out of raster order, off the
 * grid, of another size, or outside the image. */
sscor_status sscor_band_add(sscor_band *b, const sscor_image *tile, const sscor_band_tile *t);
/* Hands out everything not yet handed out (after the last tile); fails when
 * tiles are missing. */
sscor_status sscor_band_finish(sscor_band *b);

#endif
