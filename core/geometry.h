/* Stripe and tile geometry of a stitched image: where the tiles lie, hence
 * where the seams are, plus regions holding other artifacts.
 *
 * Model. A stitched image is a union of tile rectangles placed at registered
 * positions (irregular: every tile has its own origin). Tiles are axis-aligned
 * in a "frame" that may be rotated by `angle_deg` about the image centre
 * (oblique scans); with angle 0 frame and image coordinates coincide. Every
 * tile edge is a seam (an overlap band has two edges). Stripe images (1-D
 * stitching, light-sheet stripes) are tiles spanning the whole frame height
 * (orientation vertical) or width (horizontal). Extra seams can be listed
 * explicitly, and artifact regions (out of focus, bubbles, scan fringes) are
 * rectangles in image coordinates and/or a mask image.
 *
 * Text format (human-editable; `#` starts a comment; one record per line):
 *
 *   sscor-geometry 1                    first record, format version
 *   image W H                           image size in pixels (required)
 *   orientation grid|vertical|horizontal|none
 *   angle DEG                           frame rotation about the image centre
 *   tile-size W H                       default size of the tiles below
 *   tile X Y [W H]                      one tile: top-left corner in the frame
 *   seam v|h POS FROM TO                explicit seam: v = line x=POS for
 *                                       y in [FROM,TO) (frame coordinates)
 *   region X Y W H [focus|bubble|fringe|other]   artifact rectangle (image)
 *   mask PATH                           artifact mask image (non-zero = artifact)
 *
 * Reading refuses a malformed file with "PATH:LINE: what is wrong", and
 * counts beyond what the image can hold: tiles of SSCOR_GEOMETRY_MIN_TILE px
 * at least, at most sscor_geometry_max_tiles() tiles (and regions),
 * sscor_geometry_max_seams() explicit seams. */
#ifndef SSCOR_GEOMETRY_H
#define SSCOR_GEOMETRY_H

#include "image.h"

typedef enum {
  SSCOR_ORIENT_NONE = 0,   /* no stripes */
  SSCOR_ORIENT_VERTICAL,   /* vertical seams only (tiles are full-height stripes) */
  SSCOR_ORIENT_HORIZONTAL, /* horizontal seams only */
  SSCOR_ORIENT_GRID        /* both */
} sscor_orientation;

typedef enum {
  SSCOR_ARTIFACT_OTHER = 0,
  SSCOR_ARTIFACT_FOCUS,  /* out of focus */
  SSCOR_ARTIFACT_BUBBLE,
  SSCOR_ARTIFACT_FRINGE  /* scan fringe */
} sscor_artifact_kind;

typedef struct {
  double x, y; /* top-left corner in frame coordinates */
  int w, h;
} sscor_tile;

typedef struct {
  int vertical;    /* 1: line x = pos (frame), 0: line y = pos */
  double pos;      /* frame coordinate of the line */
  double from, to; /* extent along the line, frame coordinates */
} sscor_seam;

typedef struct {
  int x, y, w, h; /* image coordinates */
  sscor_artifact_kind kind;
} sscor_region;

typedef struct {
  int width, height; /* image size */
  sscor_orientation orientation;
  double angle_deg; /* frame rotation about the image centre */
  int tile_w, tile_h; /* nominal tile size (stripe width); 0 = unknown */
  int n_tiles, cap_tiles;
  sscor_tile *tiles;
  int n_seams, cap_seams; /* explicit seams, beyond the tile edges */
  sscor_seam *seams;
  int n_regions, cap_regions;
  sscor_region *regions;
  char *mask_path;   /* as written in the file; loading it is the caller's job */
  sscor_image mask;  /* optional, same size as the image, non-zero = artifact */
} sscor_geometry;

#define SSCOR_GEOMETRY_MIN_TILE 16 /* smallest tile side a geometry file may give */
/* Most tiles a W x H image can hold (SSCOR_GEOMETRY_MIN_TILE px, 4 deep), and
 * explicit seams (4 per pixel line). */
int sscor_geometry_max_tiles(int width, int height);
int sscor_geometry_max_seams(int width, int height);

/* Empty geometry (no stripes) for a W x H image. */
sscor_status sscor_geometry_init(sscor_geometry *g, int width, int height);
void sscor_geometry_free(sscor_geometry *g);
sscor_status sscor_geometry_copy(const sscor_geometry *src, sscor_geometry *dst);
sscor_status sscor_geometry_add_tile(sscor_geometry *g, double x, double y, int w, int h);
sscor_status sscor_geometry_add_seam(sscor_geometry *g, int vertical, double pos, double from,
                                     double to);
sscor_status sscor_geometry_add_region(sscor_geometry *g, int x, int y, int w, int h,
                                       sscor_artifact_kind kind);
/* Explicit regular grid: nx x ny tiles of tw x th at origin (x0,y0), pitch
 * (px,py); orientation follows (nx>1, ny>1). Stripes: ny = 1 and th = height. */
sscor_status sscor_geometry_set_grid(sscor_geometry *g, double x0, double y0, double px,
                                     double py, int nx, int ny, int tw, int th);

/* Frame <-> image coordinates. */
void sscor_geometry_to_image(const sscor_geometry *g, double u, double v, double *x, double *y);
void sscor_geometry_to_frame(const sscor_geometry *g, double x, double y, double *u, double *v);

/* All seams: the explicit ones and every tile edge that lies inside the image
 * (edges on the image border are not seams). Caller frees *out. */
sscor_status sscor_geometry_seams(const sscor_geometry *g, sscor_seam **out, int *n);
/* Distance (pixels) from image point (x,y) to the nearest seam in `seams`;
 * a large value when there is none. Scans every seam: for many points, use
 * the index below. */
double sscor_seam_distance(const sscor_geometry *g, const sscor_seam *seams, int n, double x,
                           double y, int *nearest);
/* The same lookup indexed: seams bucketed on a grid of about one seam per
 * cell, searched ring by ring from the point's cell, so a query reads a few
 * cells on tiled geometries instead of every seam. Same distance and same
 * nearest seam (ties: the lowest index) as sscor_seam_distance. g and seams
 * must outlive the index. */
typedef struct sscor_seam_index sscor_seam_index;
sscor_status sscor_seam_index_build(const sscor_geometry *g, const sscor_seam *seams, int n,
                                    sscor_seam_index **out);
double sscor_seam_index_distance(const sscor_seam_index *ix, double x, double y, int *nearest);
void sscor_seam_index_free(sscor_seam_index *ix);
/* Indices of the tiles covering image point (x,y) (at most max), returns count. */
int sscor_geometry_tiles_at(const sscor_geometry *g, double x, double y, int *idx, int max);
/* 1 when (x,y) lies in an artifact region or the mask. */
int sscor_geometry_in_artifact(const sscor_geometry *g, int x, int y);

const char *sscor_orientation_name(sscor_orientation o);

/* Text form (element messages, files). *text is malloc'd. */
sscor_status sscor_geometry_format(const sscor_geometry *g, char **text);
/* Parses text; `name` names the source in errors ("geom.txt:12: ..."). */
sscor_status sscor_geometry_parse(const char *text, const char *name, sscor_geometry *g);
/* Writes through a temporary name renamed at the end. */
sscor_status sscor_geometry_write(const sscor_geometry *g, const char *path);
sscor_status sscor_geometry_read(const char *path, sscor_geometry *g);

/* ---- Automatic detection ------------------------------------------------ */

/* Supplies pixels of the full-resolution image lazily: fills dst (w*h floats,
 * row-major) with the mean over channels of region (x,y,w,h), which the caller
 * guarantees lies inside the image. Pixels equal to 0 in every channel are
 * taken as "no data" (outside all tiles) by detection. */
typedef sscor_status (*sscor_region_reader)(void *user, int x, int y, int w, int h, float *dst);

/* A reader over an in-memory image (user = const sscor_image *). */
sscor_status sscor_image_region_reader(void *user, int x, int y, int w, int h, float *dst);

/* Block-mean downsample by an integer factor (mean over channels, one float
 * channel); for callers that hold the image but no pyramid. */
sscor_status sscor_downsample(const sscor_image *src, int factor, sscor_image *dst);

typedef struct {
  int min_tile, max_tile; /* tile/stripe size search bounds, full-res px (0 = 64, side/2) */
  double max_angle_deg;   /* angles searched in [-max, max] (default 10; 0 = axis-aligned) */
  int refine_radius;      /* full-res search radius around coarse edges (0 = 2*scale+2) */
  double min_significance; /* periodicity z-score below which no stripes are reported (0 = 5) */
  int lines;              /* 1: find seams as individual straight lines that stand out of
                             the texture, not by periodicity: works with 2 tiles per axis
                             (one seam line) and few tiles, where periodicity has too few
                             pairs; tiles are the cells between the lines (0 = periodicity) */
  int angle_known;        /* 1: take `angle` instead of searching: a second call on the same
                             coarse image (the other detector) reuses report->angle_searched */
  double angle;
} sscor_detect_params;

void sscor_detect_params_default(sscor_detect_params *p);

typedef struct {
  double significance_x, significance_y; /* periodicity z-scores of vertical/horizontal seams */
  double pitch_x, pitch_y;               /* tile pitch found (full-res px), 0 if none */
  double mean_step;                      /* mean |log step| across detected tile edges */
  int edges_refined;                     /* edges refined at full resolution */
  double angle_searched;                 /* the frame angle the search chose (kept when no
                                            stripes are found; see angle_known) */
  size_t work_cells;                     /* elements of the largest working array (angle
                                            bins, frame, tile candidates): a small multiple of
                                            the coarse image's pixels whatever its shape */
  char summary[256];                     /* one line for people: what was found or why not */
} sscor_detect_report;

/* Detects the geometry of a full_w x full_h image from `coarse` (the image
 * reduced by `scale`, one float channel, e.g. sscor_downsample or a pyramid
 * level) and refines every tile edge at full resolution through `reader`
 * (may be NULL: coarse positions scaled up). On success g holds the tiles
 * (orientation NONE and no tiles when no stripes were found: see
 * report->summary). Setting SSCOR_DETECT_DEBUG in the environment prints the
 * periodicity, angle scores and tile candidates to stderr. Limits: by
 * periodicity (the default) at least three tiles per seamed axis; with
 * params->lines one seam line per axis suffices, but overlaps (two lines
 * per grid line) and tiles of differing sizes are not modelled. The reader
 * sees only thin strips around each edge. */
sscor_status sscor_detect_geometry(const sscor_image *coarse, int scale, int full_w, int full_h,
                                   sscor_region_reader reader, void *reader_user,
                                   const sscor_detect_params *params, sscor_geometry *g,
                                   sscor_detect_report *report);

#endif
