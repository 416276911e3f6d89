#include "slide.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <openslide.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ome.h"
#include "tiffutil.h"

#define MAX_LEVELS 32
/* Channel pages: one TIFF page per channel (OME-TIFF, stacks of gray pages). */
#define MAX_PAGES SSCOR_IMAGE_MAX_CHANNELS
/* Striped files whose strips decode larger than this are read in row chunks. */
#define STRIP_CHUNK_LIMIT (8u << 20)
#define SCANLINE_CHUNK_ROWS 64
/* Most decoded bytes one tile, strip or row chunk may hold: a header can
 * claim any tile size, and the reader allocates a block before decoding it. */
#define BLOCK_LIMIT ((size_t)256 << 20)

typedef struct {
  uint64_t ifd[MAX_PAGES]; /* directory offset per channel page (main chain or SubIFD) */
  uint32_t w, h;
  int tiled;
  uint32_t bw, bh;    /* block (tile, strip or row chunk) size */
  int scanline;       /* striped with huge strips: decode row chunks by scanline */
  uint32_t rps;       /* rows per strip (striped) */
  double downsample;
} tiff_level;

/* Decoded blocks, found through hash chains and kept in least-recently-used
 * order (a doubly linked list): both O(1), however small the blocks are. */
typedef struct {
  int level, plane;
  uint32_t index;
  uint8_t *data;
  size_t bytes;
  int prev, next; /* LRU list: prev towards the most recently used, -1 ends */
  int hnext;      /* next entry in the same hash bucket, -1 ends */
} cache_entry;

struct sscor_slide {
  char *path;
  sscor_slide_info info;
  char vendor[64];
  /* OpenSlide */
  openslide_t *osr;
  uint32_t *argb;
  size_t argb_cap;
  /* libtiff: one handle per channel page (opened on first use), so reading
     the channels of a block never switches directories */
  TIFF *tifs[MAX_PAGES];
  uint64_t cur_ifd[MAX_PAGES];
  int64_t next_scan_row[MAX_PAGES]; /* scanline mode: next row libtiff can give without restarting */
  int npages, ome;
  char channel_names[1024];
  sscor_tiff_errbuf eb;
  int nlevels;
  tiff_level lv[MAX_LEVELS];
  int64_t osw[MAX_LEVELS], osh[MAX_LEVELS];
  double osds[MAX_LEVELS];
  uint16_t spp, bps, planar;
  int ycbcr_jpeg;
  cache_entry *cache;
  int ncache, capcache;
  int *bucket;  /* capcache * 2 heads of hash chains, -1 empty */
  int mru, lru; /* ends of the LRU list, -1 when empty */
  size_t cache_bytes, cache_budget;
};

const sscor_slide_info *sscor_slide_get_info(const sscor_slide *s) { return &s->info; }
const char *sscor_slide_path(const sscor_slide *s) { return s->path; }
void sscor_slide_set_cache_bytes(sscor_slide *s, size_t bytes) { s->cache_budget = bytes; }

static const char *tiff_why(const sscor_slide *s) {
  return s->eb.msg[0] ? s->eb.msg : "libtiff gave no reason";
}

/* ---- libtiff reader -------------------------------------------------- */

static double tiff_mpp(TIFF *tif, int tag) {
  float res = 0;
  uint16_t unit = RESUNIT_INCH;
  if (!TIFFGetField(tif, tag, &res) || !(res > 0)) return 0;
  TIFFGetFieldDefaulted(tif, TIFFTAG_RESOLUTIONUNIT, &unit);
  if (unit == RESUNIT_CENTIMETER) return 10000.0 / res;
  if (unit == RESUNIT_INCH) return 25400.0 / res;
  return 0; /* unitless: no physical size */
}

/* Refuses block layouts the reader cannot hold or address. */
static sscor_status check_blocks(const sscor_slide *s, const tiff_level *l, uint16_t spp,
                                 uint16_t bps, uint16_t planar) {
  int contig = planar == PLANARCONFIG_CONTIG;
  uint64_t bytes = (uint64_t)l->bw * l->bh * (contig ? spp : 1) * (bps / 8);
  if (bytes > BLOCK_LIMIT)
    return sscor_fail(SSCOR_E_UNSUPPORTED,
                      "%s: %s of %ux%u pixels x %u samples decode to %llu MiB each, more than "
                      "this reader holds (%zu MiB)", s->path, l->tiled ? "tiles" : "strips",
                      l->bw, l->bh, contig ? spp : 1, (unsigned long long)(bytes >> 20),
                      BLOCK_LIMIT >> 20);
  uint64_t blocks = (uint64_t)((l->w + l->bw - 1) / l->bw) * ((l->h + l->bh - 1) / l->bh) *
                    (contig ? 1 : spp);
  if (blocks > UINT32_MAX)
    return sscor_fail(SSCOR_E_CORRUPT, "%s: %llu tiles of %ux%u: more than a TIFF can address",
                      s->path, (unsigned long long)blocks, l->bw, l->bh);
  return SSCOR_OK;
}

/* Reads the layout of the current directory into *l; checks it matches the
 * first level's sample layout when `check` is set. */
static sscor_status tiff_describe(sscor_slide *s, tiff_level *l, int first) {
  TIFF *tif = s->tifs[0];
  uint32_t w = 0, h = 0;
  uint16_t spp = 1, bps = 1, fmt = SAMPLEFORMAT_UINT, planar = PLANARCONFIG_CONTIG, photo = 0,
           comp = COMPRESSION_NONE;
  TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w);
  TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h);
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
  TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bps);
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &fmt);
  TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &planar);
  TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photo);
  TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &comp);
  if (w == 0 || h == 0 || w > SSCOR_IMAGE_MAX_SIDE || h > SSCOR_IMAGE_MAX_SIDE)
    return sscor_fail(SSCOR_E_FORMAT, "%s: image size %ux%u is out of range (1..%d per side)",
                      s->path, w, h, SSCOR_IMAGE_MAX_SIDE);
  if (spp < 1 || spp > SSCOR_IMAGE_MAX_CHANNELS)
    return sscor_fail(SSCOR_E_FORMAT, "%s: %u samples per pixel is out of range (1..%d)",
                      s->path, spp, SSCOR_IMAGE_MAX_CHANNELS);
  sscor_sample_type type;
  if (fmt == SAMPLEFORMAT_UINT && bps == 8) type = SSCOR_U8;
  else if (fmt == SAMPLEFORMAT_UINT && bps == 16) type = SSCOR_U16;
  else if (fmt == SAMPLEFORMAT_IEEEFP && bps == 32) type = SSCOR_F32;
  else
    return sscor_fail(SSCOR_E_UNSUPPORTED,
                      "%s: %u-bit samples of format %u are not supported (8/16-bit unsigned "
                      "or 32-bit float)", s->path, bps, fmt);
  if (photo == PHOTOMETRIC_PALETTE)
    return sscor_fail(SSCOR_E_UNSUPPORTED, "%s: palette-colour TIFFs are not supported", s->path);
  int ycbcr_jpeg = 0;
  if (photo == PHOTOMETRIC_YCBCR) {
    if (comp != COMPRESSION_JPEG || type != SSCOR_U8 || spp != 3)
      return sscor_fail(SSCOR_E_UNSUPPORTED,
                        "%s: YCbCr TIFFs are only supported when JPEG-compressed", s->path);
    TIFFSetField(tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
    ycbcr_jpeg = 1;
  }
  if (first) {
    s->spp = spp, s->bps = bps, s->planar = planar;
    s->ycbcr_jpeg = ycbcr_jpeg;
    s->info.channels = spp;
    s->info.type = type;
  } else if (spp != s->spp || bps != s->bps || planar != s->planar || type != s->info.type ||
             ycbcr_jpeg != s->ycbcr_jpeg) {
    return SSCOR_E_FORMAT; /* a label or thumbnail, not a level: caller skips it */
  }
  memset(l, 0, sizeof *l);
  l->ifd[0] = TIFFCurrentDirOffset(tif);
  l->w = w, l->h = h;
  l->tiled = TIFFIsTiled(tif);
  if (l->tiled) {
    uint32_t tw = 0, th = 0;
    TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw);
    TIFFGetField(tif, TIFFTAG_TILELENGTH, &th);
    if (tw == 0 || th == 0 || tw > 65536 || th > 65536)
      return sscor_fail(SSCOR_E_CORRUPT, "%s: tile size %ux%u is invalid", s->path, tw, th);
    l->bw = tw, l->bh = th;
  } else {
    uint32_t rps = h;
    TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &rps);
    if (rps == 0 || rps > h) rps = h;
    l->rps = rps;
    l->bw = w;
    size_t row_bytes = (size_t)w * (planar == PLANARCONFIG_CONTIG ? spp : 1) * (bps / 8);
    if ((size_t)rps * row_bytes > STRIP_CHUNK_LIMIT && planar == PLANARCONFIG_CONTIG) {
      l->scanline = 1;
      l->bh = SCANLINE_CHUNK_ROWS;
      if ((size_t)l->bh * row_bytes > BLOCK_LIMIT) l->bh = (uint32_t)(BLOCK_LIMIT / row_bytes);
      if (l->bh < 1) l->bh = 1;
    } else {
      l->bh = rps;
    }
  }
  return check_blocks(s, l, spp, bps, planar);
}

/* The handle of channel page `page`, on the directory of level `l`. */
static sscor_status tiff_goto(sscor_slide *s, const tiff_level *l, int page, TIFF **out) {
  if (!s->tifs[page]) {
    s->tifs[page] = sscor_tiff_open(s->path, "rm", &s->eb);
    if (!s->tifs[page])
      return sscor_fail(SSCOR_E_IO, "%s: cannot open it again for channel page %d: %s", s->path, page,
                        tiff_why(s));
    s->cur_ifd[page] = (uint64_t)-1;
  }
  *out = s->tifs[page];
  if (s->cur_ifd[page] == l->ifd[page]) return SSCOR_OK;
  s->eb.msg[0] = '\0';
  if (!TIFFSetSubDirectory(*out, l->ifd[page]))
    return sscor_fail(SSCOR_E_CORRUPT, "%s: cannot read directory at offset %llu: %s", s->path,
                      (unsigned long long)l->ifd[page], tiff_why(s));
  if (s->ycbcr_jpeg) TIFFSetField(*out, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
  s->cur_ifd[page] = l->ifd[page];
  s->next_scan_row[page] = 0;
  return SSCOR_OK;
}

static int same_blocks(const tiff_level *a, const tiff_level *b) {
  return a->w == b->w && a->h == b->h && a->tiled == b->tiled && a->bw == b->bw && a->bh == b->bh &&
         a->rps == b->rps && a->scanline == b->scanline;
}

/* How many pages hold the channels (1 = the first page holds them all):
 * SizeC of OME-XML, else the run of gray pages of the first page's size not
 * marked reduced (an ImageJ or tifffile stack of channels). A channel page
 * of another sample layout (or, with OME-XML, size) is an error: skipping
 * it would lose a channel without a word. Leaves the handle on the last
 * channel page. */
static sscor_status count_pages(sscor_slide *s, tiff_level *l0) {
  TIFF *tif = s->tifs[0];
  const char *desc = NULL;
  sscor_ome_info ome;
  int want = 0; /* pages the OME-XML says, 0 = unknown */
  if (TIFFGetField(tif, TIFFTAG_IMAGEDESCRIPTION, &desc) && sscor_ome_parse(desc, &ome)) {
    if (ome.size_z > 1 || ome.size_t > 1)
      return sscor_fail(SSCOR_E_UNSUPPORTED,
                        "%s: OME-TIFF with SizeZ=%d, SizeT=%d: only 2-D images are supported (SizeZ = "
                        "SizeT = 1)", s->path, ome.size_z, ome.size_t);
    if (ome.size_c < 1 || ome.size_c % s->spp || ome.size_c / s->spp > MAX_PAGES)
      return sscor_fail(SSCOR_E_FORMAT, "%s: OME-XML says SizeC=%d, which %u samples per page cannot hold",
                        s->path, ome.size_c, s->spp);
    want = ome.size_c / s->spp;
    s->ome = 1;
    snprintf(s->channel_names, sizeof s->channel_names, "%s", ome.names);
  }
  s->npages = 1;
  if (!want && s->spp != 1) return SSCOR_OK;
  while (s->npages < (want ? want : MAX_PAGES + 1)) {
    uint32_t w = 0, h = 0, sub = 0;
    if (!TIFFReadDirectory(tif)) break;
    TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w);
    TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SUBFILETYPE, &sub);
    int same_size = w == l0->w && h == l0->h;
    if (!want && (!same_size || (sub & FILETYPE_REDUCEDIMAGE))) break; /* a level, a label */
    tiff_level l;
    sscor_status st = same_size ? tiff_describe(s, &l, 0) : SSCOR_E_FORMAT;
    if (st == SSCOR_OK && !same_blocks(&l, l0)) st = SSCOR_E_FORMAT;
    if (st) {
      uint16_t bps = 0, spp = 0;
      TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bps);
      TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
      return sscor_fail(SSCOR_E_FORMAT,
                        "%s: channel page %d is %ux%u with %u %u-bit samples per pixel (tiled %s), page 0 "
                        "is %ux%u with %u %u-bit (tiled %s): channel pages must match",
                        s->path, s->npages, w, h, spp, bps, TIFFIsTiled(tif) ? "yes" : "no", l0->w, l0->h,
                        s->spp, s->bps, l0->tiled ? "yes" : "no");
    }
    if (s->npages == MAX_PAGES)
      return sscor_fail(SSCOR_E_UNSUPPORTED, "%s: more than %d channel pages of %ux%u", s->path, MAX_PAGES, w, h);
    l0->ifd[s->npages++] = l.ifd[0];
  }
  if (want && s->npages < want)
    return sscor_fail(SSCOR_E_FORMAT, "%s: OME-XML says %d channel pages, the file holds %d", s->path, want,
                      s->npages);
  /* back to the last channel page: the main chain's levels follow it */
  if (!TIFFSetSubDirectory(tif, l0->ifd[s->npages - 1]))
    return sscor_fail(SSCOR_E_CORRUPT, "%s: cannot reread directory %d: %s", s->path, s->npages - 1, tiff_why(s));
  return SSCOR_OK;
}

/* Reduced levels in SubIFDs (OME-TIFF style): level i exists when every
 * channel page has a SubIFD i of the same layout. */
static void subifd_levels(sscor_slide *s, int nsub0) {
  TIFF *tif = s->tifs[0];
  for (int i = 0; i < nsub0 && s->nlevels < MAX_LEVELS; i++) {
    tiff_level l;
    int ok = 1;
    for (int p = 0; p < s->npages && ok; p++) {
      uint16_t nsub = 0;
      uint64_t *subs = NULL;
      ok = TIFFSetSubDirectory(tif, s->lv[0].ifd[p]) && TIFFGetField(tif, TIFFTAG_SUBIFD, &nsub, &subs) &&
           nsub > i;
      uint64_t off = ok ? subs[i] : 0;
      tiff_level lp;
      ok = ok && TIFFSetSubDirectory(tif, off) && tiff_describe(s, &lp, 0) == SSCOR_OK;
      if (ok && p == 0) l = lp;
      ok = ok && same_blocks(&lp, &l);
      if (ok) l.ifd[p] = off;
    }
    if (!ok) continue; /* a thumbnail or a page without this level */
    if (l.w >= s->lv[s->nlevels - 1].w || l.h >= s->lv[s->nlevels - 1].h) continue;
    s->lv[s->nlevels++] = l;
  }
}

static sscor_status tiff_open(sscor_slide *s) {
  s->tifs[0] = sscor_tiff_open(s->path, "rm", &s->eb);
  if (!s->tifs[0])
    return sscor_fail(SSCOR_E_FORMAT, "%s: not a readable TIFF: %s", s->path, tiff_why(s));
  TIFF *tif = s->tifs[0];
  sscor_status st = tiff_describe(s, &s->lv[0], 1);
  if (st) return st;
  s->lv[0].downsample = 1.0;
  s->nlevels = 1;
  s->info.mpp_x = tiff_mpp(tif, TIFFTAG_XRESOLUTION);
  s->info.mpp_y = tiff_mpp(tif, TIFFTAG_YRESOLUTION);
  uint16_t nsub = 0;
  uint64_t *subs = NULL;
  if (!TIFFGetField(tif, TIFFTAG_SUBIFD, &nsub, &subs)) nsub = 0;
  if ((st = count_pages(s, &s->lv[0]))) return st;
  if (nsub > 0) {
    subifd_levels(s, nsub);
  } else if (s->npages == 1) {
    /* Main chain: following directories with the same sample layout and a
     * smaller size are levels; labels and macros differ in layout or size. */
    while (s->nlevels < MAX_LEVELS && TIFFReadDirectory(tif)) {
      tiff_level l;
      if (tiff_describe(s, &l, 0) != SSCOR_OK) continue;
      const tiff_level *prev = &s->lv[s->nlevels - 1];
      if (l.w >= prev->w || l.h >= prev->h) continue;
      s->lv[s->nlevels++] = l;
    }
  }
  sscor_clear_error();
  for (int i = 1; i < s->nlevels; i++)
    s->lv[i].downsample = ((double)s->lv[0].w / s->lv[i].w + (double)s->lv[0].h / s->lv[i].h) / 2;
  s->cur_ifd[0] = (uint64_t)-1;
  if ((st = tiff_goto(s, &s->lv[0], 0, &tif))) return st;
  s->info.channels = s->spp * s->npages;
  s->info.pages = s->npages;
  s->info.ome = s->ome && s->npages > 1;
  s->info.channel_names = s->channel_names[0] ? s->channel_names : NULL;
  s->info.levels = s->nlevels;
  s->info.reader = "libtiff";
  s->info.vendor = "tiff";
  return SSCOR_OK;
}

static void cache_clear(sscor_slide *s) {
  for (int i = 0; i < s->ncache; i++) free(s->cache[i].data);
  free(s->cache);
  free(s->bucket);
  s->cache = NULL;
  s->bucket = NULL;
  s->ncache = s->capcache = 0;
  s->mru = s->lru = -1;
  s->cache_bytes = 0;
}

static int *cache_head(sscor_slide *s, int level, int plane, uint32_t index) {
  uint32_t h = (index * 2654435761u) ^ ((uint32_t)level * 40503u) ^ ((uint32_t)plane * 9176u);
  return &s->bucket[(h ^ (h >> 15)) & (uint32_t)(2 * s->capcache - 1)];
}

/* The link pointing at entry i in its hash chain. */
static int *cache_link(sscor_slide *s, int i) {
  const cache_entry *e = &s->cache[i];
  int *p = cache_head(s, e->level, e->plane, e->index);
  while (*p != i) p = &s->cache[*p].hnext;
  return p;
}

static void lru_unlink(sscor_slide *s, int i) {
  cache_entry *e = &s->cache[i];
  *(e->prev >= 0 ? &s->cache[e->prev].next : &s->mru) = e->next;
  *(e->next >= 0 ? &s->cache[e->next].prev : &s->lru) = e->prev;
}

static void lru_push_front(sscor_slide *s, int i) {
  cache_entry *e = &s->cache[i];
  e->prev = -1;
  e->next = s->mru;
  *(s->mru >= 0 ? &s->cache[s->mru].prev : &s->lru) = i;
  s->mru = i;
}

/* Drops entry i; the last entry moves into its slot. */
static void cache_evict(sscor_slide *s, int i) {
  int last = s->ncache - 1;
  lru_unlink(s, i);
  *cache_link(s, i) = s->cache[i].hnext;
  s->cache_bytes -= s->cache[i].bytes;
  free(s->cache[i].data);
  if (i != last) {
    *cache_link(s, last) = i;
    s->cache[i] = s->cache[last];
    cache_entry *e = &s->cache[i];
    *(e->prev >= 0 ? &s->cache[e->prev].next : &s->mru) = i;
    *(e->next >= 0 ? &s->cache[e->next].prev : &s->lru) = i;
  }
  s->ncache--;
}

/* Room for one more entry: doubles the arrays, rehashing every entry. */
static sscor_status cache_grow(sscor_slide *s) {
  int cap = s->capcache ? s->capcache * 2 : 16;
  cache_entry *c = realloc(s->cache, (size_t)cap * sizeof *c);
  if (c) s->cache = c;
  int *b = c ? malloc(2 * (size_t)cap * sizeof *b) : NULL;
  if (!b) return sscor_fail(SSCOR_E_NOMEM, "%s: cannot grow the tile cache", s->path);
  free(s->bucket);
  s->bucket = b;
  s->capcache = cap;
  for (int i = 0; i < 2 * cap; i++) b[i] = -1;
  for (int i = 0; i < s->ncache; i++) {
    cache_entry *e = &s->cache[i];
    int *head = cache_head(s, e->level, e->plane, e->index);
    e->hnext = *head;
    *head = i;
  }
  return SSCOR_OK;
}

static size_t block_bytes(const sscor_slide *s, const tiff_level *l) {
  int spb = s->planar == PLANARCONFIG_CONTIG ? s->spp : 1;
  return (size_t)l->bw * l->bh * spb * (s->bps / 8);
}

/* Planes per channel page: 1 when contiguous, else one per sample. */
static int page_planes(const sscor_slide *s) { return s->planar == PLANARCONFIG_CONTIG ? 1 : s->spp; }

/* Decodes block `index` of `plane` (page * page_planes + plane within the
 * page) into buf (block_bytes). */
static sscor_status tiff_decode(sscor_slide *s, int level, int plane, uint32_t index,
                                uint8_t *buf) {
  const tiff_level *l = &s->lv[level];
  int page = plane / page_planes(s);
  plane %= page_planes(s);
  TIFF *tif;
  sscor_status st = tiff_goto(s, l, page, &tif);
  if (st) return st;
  size_t bytes = block_bytes(s, l);
  s->eb.msg[0] = '\0';
  if (l->tiled) {
    uint32_t per_plane = TIFFNumberOfTiles(tif) / page_planes(s);
    uint32_t t = index + (uint32_t)plane * per_plane;
    if (TIFFReadEncodedTile(tif, t, buf, (tmsize_t)bytes) < 0)
      return sscor_fail(SSCOR_E_CORRUPT, "%s: corrupt or truncated tile %u of level %d: %s",
                        s->path, t, level, tiff_why(s));
    return SSCOR_OK;
  }
  if (!l->scanline) {
    uint32_t per_plane = TIFFNumberOfStrips(tif) / page_planes(s);
    uint32_t strip = index + (uint32_t)plane * per_plane;
    uint32_t rows = l->rps;
    if ((uint64_t)(index + 1) * l->rps > l->h) rows = l->h - index * l->rps;
    size_t want = bytes / l->bh * rows;
    tmsize_t got = TIFFReadEncodedStrip(tif, strip, buf, (tmsize_t)want);
    if (got < 0 || (size_t)got < want)
      return sscor_fail(SSCOR_E_CORRUPT, "%s: corrupt or truncated strip %u of level %d: %s",
                        s->path, strip, level, tiff_why(s));
    return SSCOR_OK;
  }
  /* Row chunk by scanline; libtiff restarts a compressed strip when asked
   * for an earlier row, which raster-order access rarely needs. */
  size_t row_bytes = bytes / l->bh;
  int64_t y0 = (int64_t)index * l->bh;
  for (uint32_t r = 0; r < l->bh && y0 + r < l->h; r++) {
    if (TIFFReadScanline(tif, buf + r * row_bytes, (uint32_t)(y0 + r), 0) < 0)
      return sscor_fail(SSCOR_E_CORRUPT, "%s: corrupt or truncated data at row %lld of level %d: %s",
                        s->path, (long long)(y0 + r), level, tiff_why(s));
  }
  return SSCOR_OK;
}

static sscor_status cache_get(sscor_slide *s, int level, int plane, uint32_t index,
                              const uint8_t **out) {
  if (s->capcache) {
    for (int i = *cache_head(s, level, plane, index); i >= 0; i = s->cache[i].hnext) {
      cache_entry *e = &s->cache[i];
      if (e->level == level && e->plane == plane && e->index == index) {
        lru_unlink(s, i);
        lru_push_front(s, i);
        *out = e->data;
        return SSCOR_OK;
      }
    }
  }
  size_t bytes = block_bytes(s, &s->lv[level]);
  /* Evict least recently used blocks until the new one fits the budget. */
  while (s->ncache > 0 && s->cache_bytes + bytes > s->cache_budget) cache_evict(s, s->lru);
  if (s->ncache == s->capcache) {
    sscor_status st = cache_grow(s);
    if (st) return st;
  }
  uint8_t *data = malloc(bytes);
  if (!data) return sscor_fail(SSCOR_E_NOMEM, "%s: cannot allocate a %zu-byte tile", s->path, bytes);
  sscor_status st = tiff_decode(s, level, plane, index, data);
  if (st) {
    free(data);
    return st;
  }
  int i = s->ncache++;
  int *head = cache_head(s, level, plane, index);
  s->cache[i] = (cache_entry){level, plane, index, data, bytes, -1, -1, *head};
  *head = i;
  lru_push_front(s, i);
  s->cache_bytes += bytes;
  *out = data;
  return SSCOR_OK;
}

static sscor_status tiff_read(sscor_slide *s, int level, int64_t x, int64_t y, int w, int h,
                              uint8_t *dst, size_t stride) {
  const tiff_level *l = &s->lv[level];
  size_t ss = s->bps / 8;
  int spp = s->spp, C = s->info.channels;
  int contig = s->planar == PLANARCONFIG_CONTIG;
  int spb = contig ? spp : 1; /* samples per pixel of a block */
  uint32_t blocks_across = l->tiled ? (l->w + l->bw - 1) / l->bw : 1;
  int64_t bx0 = x / l->bw, bx1 = (x + w - 1) / l->bw;
  int64_t by0 = y / l->bh, by1 = (y + h - 1) / l->bh;
  for (int64_t by = by0; by <= by1; by++) {
    for (int64_t bx = bx0; bx <= bx1; bx++) {
      int64_t ox = bx * l->bw, oy = by * l->bh;
      int64_t cx0 = x > ox ? x : ox, cy0 = y > oy ? y : oy;
      int64_t cx1 = (x + w < ox + l->bw) ? x + w : ox + l->bw;
      int64_t cy1 = (y + h < oy + l->bh) ? y + h : oy + l->bh;
      uint32_t index = (uint32_t)(by * blocks_across + bx);
      for (int p = 0; p < s->npages * page_planes(s); p++) {
        const uint8_t *blk = NULL;
        sscor_status st = cache_get(s, level, p, index, &blk);
        if (st) return st;
        size_t bstride = (size_t)l->bw * spb * ss, run = (size_t)spb * ss;
        size_t c0 = (size_t)(p / page_planes(s)) * spp + (size_t)(p % page_planes(s)); /* first channel */
        for (int64_t yy = cy0; yy < cy1; yy++) {
          const uint8_t *srow = blk + (size_t)(yy - oy) * bstride + (size_t)(cx0 - ox) * run;
          uint8_t *drow = dst + (size_t)(yy - y) * stride + (size_t)(cx0 - x) * C * ss;
          if (spb == C) {
            memcpy(drow, srow, (size_t)(cx1 - cx0) * run);
          } else {
            for (int64_t xx = 0; xx < cx1 - cx0; xx++)
              memcpy(drow + ((size_t)xx * C + c0) * ss, srow + (size_t)xx * run, run);
          }
        }
      }
    }
  }
  return SSCOR_OK;
}

/* ---- OpenSlide reader ------------------------------------------------- */

/* OpenSlide writes its mpp properties with a '.' decimal point whatever the
 * locale, so parse them in the C locale (a host application may have set one
 * with a ',' decimal point). Anything but a finite positive number means the
 * file does not say. */
static double os_mpp(openslide_t *osr, const char *name) {
  const char *v = openslide_get_property_value(osr, name);
  if (!v) return 0;
  locale_t c = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
  locale_t old = c ? uselocale(c) : (locale_t)0;
  char *end = NULL;
  double d = strtod(v, &end);
  if (c) {
    uselocale(old);
    freelocale(c);
  }
  return end != v && isfinite(d) && d > 0 ? d : 0;
}

/* OpenSlide 3.4.1 trusts the directories of TIFF-based slides: a tiled
 * directory larger than the first one (a level with a downsample below 1)
 * makes its Aperio reader divide by zero, and it allocates whole tiles of
 * whatever size a header claims. Such files are refused before it opens them. */
static sscor_status os_check_tiff(sscor_slide *s, const char *vendor) {
  TIFF *tif = sscor_tiff_open(s->path, "rm", &s->eb);
  if (!tif)
    return sscor_fail(SSCOR_E_CORRUPT, "%s: corrupt %s slide: %s", s->path, vendor, tiff_why(s));
  uint32_t w0 = 0, h0 = 0;
  sscor_status st = SSCOR_OK;
  for (int d = 0; d < 4 * MAX_LEVELS && !st; d++) {
    uint32_t w = 0, h = 0, tw = 0, th = 0;
    TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w);
    TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h);
    if (d == 0) w0 = w, h0 = h;
    if (w < 1 || h < 1 || w > SSCOR_IMAGE_MAX_SIDE || h > SSCOR_IMAGE_MAX_SIDE)
      st = sscor_fail(SSCOR_E_CORRUPT, "%s: corrupt %s slide: directory %d is %ux%u pixels",
                      s->path, vendor, d, w, h);
    else if (TIFFIsTiled(tif) && (!TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw) ||
                                     !TIFFGetField(tif, TIFFTAG_TILELENGTH, &th) || tw < 1 ||
                                     th < 1 || (uint64_t)tw * th * 4 > BLOCK_LIMIT))
      st = sscor_fail(SSCOR_E_CORRUPT, "%s: corrupt %s slide: directory %d has %ux%u tiles",
                      s->path, vendor, d, tw, th);
    else if (d > 0 && TIFFIsTiled(tif) && strcmp(vendor, "aperio") == 0 && (w > w0 || h > h0))
      st = sscor_fail(SSCOR_E_CORRUPT,
                      "%s: corrupt %s slide: level directory %d (%ux%u) is larger than the "
                      "full-resolution image (%ux%u)", s->path, vendor, d, w, h, w0, h0);
    if (!TIFFReadDirectory(tif)) break;
  }
  TIFFClose(tif);
  return st;
}

static sscor_status os_open(sscor_slide *s, const char *vendor) {
  if (sscor_file_is_tiff(s->path)) {
    sscor_status st = os_check_tiff(s, vendor);
    if (st) return st;
  }
  s->osr = openslide_open(s->path);
  if (!s->osr)
    return sscor_fail(SSCOR_E_FORMAT, "%s: OpenSlide cannot open this %s slide", s->path, vendor);
  const char *err = openslide_get_error(s->osr);
  if (err) return sscor_fail(SSCOR_E_CORRUPT, "%s: OpenSlide: %s", s->path, err);
  int n = openslide_get_level_count(s->osr);
  if (n < 1) return sscor_fail(SSCOR_E_CORRUPT, "%s: slide has no levels", s->path);
  if (n > MAX_LEVELS) n = MAX_LEVELS;
  for (int i = 0; i < n; i++) {
    openslide_get_level_dimensions(s->osr, i, &s->osw[i], &s->osh[i]);
    s->osds[i] = openslide_get_level_downsample(s->osr, i);
    if (s->osw[i] <= 0 || s->osh[i] <= 0 || s->osw[i] > SSCOR_IMAGE_MAX_SIDE ||
        s->osh[i] > SSCOR_IMAGE_MAX_SIDE)
      return sscor_fail(SSCOR_E_FORMAT, "%s: level %d size %lldx%lld is out of range", s->path,
                        i, (long long)s->osw[i], (long long)s->osh[i]);
  }
  s->nlevels = n;
  s->info.mpp_x = os_mpp(s->osr, OPENSLIDE_PROPERTY_NAME_MPP_X);
  s->info.mpp_y = os_mpp(s->osr, OPENSLIDE_PROPERTY_NAME_MPP_Y);
  s->info.levels = n;
  s->info.channels = 3; /* RGB; transparent areas become white */
  s->info.type = SSCOR_U8;
  s->info.reader = "openslide";
  snprintf(s->vendor, sizeof s->vendor, "%s", vendor);
  s->info.vendor = s->vendor;
  return SSCOR_OK;
}

static sscor_status os_read(sscor_slide *s, int level, int64_t x, int64_t y, int w, int h,
                            uint8_t *dst, size_t stride) {
  size_t n = (size_t)w * h;
  if (n > s->argb_cap) {
    uint32_t *b = realloc(s->argb, n * 4);
    if (!b) return sscor_fail(SSCOR_E_NOMEM, "cannot allocate a %dx%d region buffer", w, h);
    s->argb = b, s->argb_cap = n;
  }
  double ds = s->osds[level];
  openslide_read_region(s->osr, s->argb, (int64_t)llround(x * ds), (int64_t)llround(y * ds),
                        level, w, h);
  const char *err = openslide_get_error(s->osr);
  if (err) return sscor_fail(SSCOR_E_CORRUPT, "%s: OpenSlide: %s", s->path, err);
  for (int r = 0; r < h; r++) {
    uint8_t *d = dst + (size_t)r * stride;
    const uint32_t *p = s->argb + (size_t)r * w;
    for (int c = 0; c < w; c++) {
      uint32_t v = p[c], a = v >> 24;
      uint32_t rgb[3] = {(v >> 16) & 255, (v >> 8) & 255, v & 255};
      for (int k = 0; k < 3; k++) {
        uint32_t o = a == 255 ? rgb[k] : a == 0 ? 255 : (rgb[k] * 255 + a / 2) / a;
        d[3 * c + k] = (uint8_t)(o > 255 ? 255 : o);
      }
    }
  }
  return SSCOR_OK;
}

/* ---- public ----------------------------------------------------------- */

sscor_status sscor_slide_open(const char *path, sscor_slide **out) {
  *out = NULL;
  struct stat sb;
  if (!path || !*path) return sscor_fail(SSCOR_E_INVALID, "no slide file given");
  if (stat(path, &sb) != 0)
    return sscor_fail(SSCOR_E_IO, "%s: cannot open: %s", path, strerror(errno));
  if (!S_ISREG(sb.st_mode)) return sscor_fail(SSCOR_E_IO, "%s: not a regular file", path);
  sscor_slide *s = calloc(1, sizeof *s);
  if (!s) return sscor_fail(SSCOR_E_NOMEM, "out of memory");
  s->path = strdup(path);
  s->cache_budget = SSCOR_SLIDE_CACHE_DEFAULT;
  s->mru = s->lru = -1;
  if (!s->path) {
    free(s);
    return sscor_fail(SSCOR_E_NOMEM, "out of memory");
  }
  int tiff = sscor_file_is_tiff(path);
  char why[256];
  sscor_status st;
  /* before OpenSlide sees it: a few corrupt bytes could make it allocate gigabytes */
  if (tiff && !sscor_tiff_check_extents(path, why, sizeof why)) {
    st = sscor_fail(SSCOR_E_CORRUPT, "%s: corrupt TIFF: %s", path, why);
    sscor_slide_close(s);
    return st;
  }
  const char *vendor = openslide_detect_vendor(path);
  if (tiff && (!vendor || strcmp(vendor, "generic-tiff") == 0))
    st = tiff_open(s);
  else if (vendor)
    st = os_open(s, vendor);
  else
    st = sscor_fail(SSCOR_E_FORMAT, "%s: not a TIFF or a slide format OpenSlide recognises",
                    path);
  if (st) {
    sscor_slide_close(s);
    return st;
  }
  *out = s;
  return SSCOR_OK;
}

void sscor_slide_close(sscor_slide *s) {
  if (!s) return;
  for (int p = 0; p < MAX_PAGES; p++)
    if (s->tifs[p]) TIFFClose(s->tifs[p]);
  if (s->osr) openslide_close(s->osr);
  cache_clear(s);
  free(s->argb);
  free(s->path);
  free(s);
}

sscor_status sscor_slide_level_size(const sscor_slide *s, int level, int64_t *w, int64_t *h) {
  if (level < 0 || level >= s->nlevels)
    return sscor_fail(SSCOR_E_INVALID, "%s: level %d does not exist (the slide has %d)", s->path,
                      level, s->nlevels);
  if (s->osr) {
    *w = s->osw[level], *h = s->osh[level];
  } else {
    *w = s->lv[level].w, *h = s->lv[level].h;
  }
  return SSCOR_OK;
}

double sscor_slide_level_downsample(const sscor_slide *s, int level) {
  if (level < 0 || level >= s->nlevels) return 0;
  return s->osr ? s->osds[level] : s->lv[level].downsample;
}

sscor_status sscor_slide_read_region(sscor_slide *s, int level, int64_t x, int64_t y, int w,
                                     int h, void *dst, size_t stride) {
  int64_t lw, lh;
  sscor_status st = sscor_slide_level_size(s, level, &lw, &lh);
  if (st) return st;
  if (w <= 0 || h <= 0 || x < 0 || y < 0 || x + w > lw || y + h > lh)
    return sscor_fail(SSCOR_E_INVALID,
                      "%s: region %dx%d at (%lld, %lld) is not inside level %d (%lldx%lld)",
                      s->path, w, h, (long long)x, (long long)y, level, (long long)lw,
                      (long long)lh);
  if (s->osr) return os_read(s, level, x, y, w, h, dst, stride);
  return tiff_read(s, level, x, y, w, h, dst, stride);
}

sscor_status sscor_image_read_region(const char *path, int level, int64_t x, int64_t y, int w,
                                     int h, sscor_image *img) {
  memset(img, 0, sizeof *img);
  sscor_slide *s;
  sscor_status st = sscor_slide_open(path, &s);
  if (st) return st;
  st = sscor_image_alloc(img, w, h, s->info.channels, s->info.type);
  if (!st) st = sscor_slide_read_region(s, level, x, y, w, h, img->data, img->stride);
  if (st) sscor_image_free(img);
  sscor_slide_close(s);
  return st;
}

sscor_status sscor_image_read(const char *path, sscor_image *img) {
  memset(img, 0, sizeof *img);
  sscor_slide *s;
  sscor_status st = sscor_slide_open(path, &s);
  if (st) return st;
  int64_t w, h;
  sscor_slide_level_size(s, 0, &w, &h);
  st = sscor_image_alloc(img, (int)w, (int)h, s->info.channels, s->info.type);
  if (!st) st = sscor_slide_read_region(s, 0, 0, 0, (int)w, (int)h, img->data, img->stride);
  if (st) sscor_image_free(img);
  sscor_slide_close(s);
  return st;
}
