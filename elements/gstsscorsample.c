/* sscorsample: training pairs for SSCOR by proximity sampling.
 *
 *   gst-launch-1.0 -m sscorslidesrc location=in.tif ! sscorsample patch=64 \
 *       ! videoconvert ! pngenc ! multifilesink location=p%05d.png
 *   gst-launch-1.0 sscorslidesrc location=in.tif ! sscorsample ! sscortrain ...
 *
 * Every output frame is one pair, 2*patch wide and patch high, in the input's
 * format: the anomaly patch (centred on a seam, a grid crossing, or in an
 * artifact region) on the left, the nearest patch clear of every seam on the
 * right, with a GstSscorPairMeta giving both positions (gstsscormeta.h).
 * Before the first pair of an image goes the sticky "sscor-analysis" event:
 * a model file in memory with META (channels, sample format; RGBA counts as
 * 3 colour channels, as in `sscor train`), GEOM (the geometry sampled) and,
 * with flatfield=true, FLAT (the seam-aware flat-field). The geometry is
 * also posted as an element message "sscor-geometry".
 *
 * The work is core's (core/correct.h analysis, core/sampling.h pairs); this
 * element feeds it:
 *   - whole frames (no tile meta): each frame is analysed in memory on its
 *     own and its pairs follow its own analysis event, so with several
 *     frames the sticky event always describes the frame the next pairs come
 *     from (meta image size and index/count are per frame);
 *   - a tile stream of the whole level 0 of a file (sscorslidesrc tags the
 *     stream with the file's location): the file is analysed in bounded
 *     memory exactly as `sscor train` does, the pairs are sampled, and each
 *     pair is assembled from the valid areas of the tiles streaming by and
 *     pushed as soon as both its patches are complete, so pairs come in
 *     completion (raster) order; memory holds only the pending patches;
 *   - any other tile stream (no location, a region, another level): the tiles
 *     are gathered into the streamed image, up to max-memory MB, and it is
 *     handled at EOS like a whole frame.
 * The same image and seed give the same pairs (same positions, same pixels)
 * in every case. Channel-sequential tile streams (one GRAY frame per channel,
 * as sscorslidesrc sends 16-bit images of 2+ channels) are handled alike,
 * each pair then going out as one GRAY frame per channel. An image of 2+
 * channels gets one flat-field per channel (core/correct.h), on the
 * geometry found on the mean of its channels. */
#include "gstsscorsample.h"

#include <string.h>

#include "gstsscormeta.h"
#include "model_file.h"
#include "slide.h"

GST_DEBUG_CATEGORY_STATIC(sscor_sample_debug);
#define GST_CAT_DEFAULT sscor_sample_debug

enum {
  PROP_0,
  PROP_PATCH,
  PROP_STEP,
  PROP_JITTER,
  PROP_MAX_PAIRS,
  PROP_SEED,
  PROP_FG_FRACTION,
  PROP_SIDE,
  PROP_STRIPES,
  PROP_GEOMETRY_LOCATION,
  PROP_GEOMETRY_OUTPUT,
  PROP_ARTIFACTS,
  PROP_FLATFIELD,
  PROP_SCALE,
  PROP_MAX_MEMORY,
  PROP_KNOTS,
  PROP_TILE_GAINS,
  PROP_DARK,
  PROP_INTERIOR,
};

#define DEFAULT_PATCH 64 /* the cpu trainer preset's patch */
#define DEFAULT_MAX_PAIRS 2000
#define DEFAULT_MAX_MEMORY 2048
#define MIN_PAIRS 8

#define CAPS GST_VIDEO_CAPS_MAKE("{ GRAY8, GRAY16_LE, RGB, RGBA }")
static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(CAPS));
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(CAPS));

#define gst_sscor_sample_parent_class parent_class
G_DEFINE_TYPE(GstSscorSample, gst_sscor_sample, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE(sscorsample, "sscorsample", GST_RANK_NONE, GST_TYPE_SSCOR_SAMPLE);

/* ---- state -------------------------------------------------------------- */

static void free_pairs(GstSscorSample *s) {
  for (int i = 0; s->pending && i < 2 * s->n_pairs; i++) {
    g_free(s->pending[i].px);
    g_free(s->pending[i].seen);
  }
  g_free(s->pending);
  s->pending = NULL;
  free(s->pairs);
  s->pairs = NULL;
  s->n_pairs = s->n_pushed = s->first_open = 0;
}

static void reset(GstSscorSample *s) {
  free_pairs(s);
  sscor_image_free(&s->acc);
  memset(&s->acc, 0, sizeof s->acc);
  g_free(s->location);
  s->location = NULL;
  s->mode = 0;
  s->frames = 0;
  s->have_caps = FALSE;
}

/* Validates the properties before any data; posts the error itself. */
static gboolean check_settings(GstSscorSample *s) {
  if (s->patch % 4) {
    GST_ELEMENT_ERROR(s, RESOURCE, SETTINGS, ("patch=%d: the patch side must be a multiple of 4", s->patch),
                      ("the networks halve the patch twice"));
    return FALSE;
  }
  if (s->step > s->patch) {
    GST_ELEMENT_ERROR(s, RESOURCE, SETTINGS, ("step=%d is larger than the patch (%d)", s->step, s->patch),
                      ("use step <= patch (0 = patch/2)"));
    return FALSE;
  }
  gboolean file = s->geometry_location && *s->geometry_location;
  if (!s->stripes || (strcmp(s->stripes, "auto") && strcmp(s->stripes, "file"))) {
    GST_ELEMENT_ERROR(s, RESOURCE, SETTINGS, ("stripes=\"%s\": use \"auto\" (detect) or \"file\"",
                                              s->stripes ? s->stripes : ""),
                      ("\"file\" reads the geometry from geometry-location"));
    return FALSE;
  }
  if (!strcmp(s->stripes, "file") && !file) {
    GST_ELEMENT_ERROR(s, RESOURCE, SETTINGS, ("stripes=file needs geometry-location"),
                      ("write one with 'sscor detect -o FILE' or geometry-output"));
    return FALSE;
  }
  if (file) { /* fail now, not after the first tile, on a missing or malformed file */
    sscor_geometry g;
    if (sscor_geometry_read(s->geometry_location, &g)) {
      GST_ELEMENT_ERROR(s, RESOURCE, READ, ("%s", sscor_last_error()),
                        ("geometry-location=%s: cannot use it", s->geometry_location));
      return FALSE;
    }
    sscor_geometry_free(&g);
  }
  return TRUE;
}

static GstStateChangeReturn change_state(GstElement *e, GstStateChange t) {
  GstSscorSample *s = GST_SSCOR_SAMPLE(e);
  if (t == GST_STATE_CHANGE_READY_TO_PAUSED) {
    reset(s);
    if (!check_settings(s)) return GST_STATE_CHANGE_FAILURE;
  }
  GstStateChangeReturn r = GST_ELEMENT_CLASS(parent_class)->change_state(e, t);
  if (t == GST_STATE_CHANGE_PAUSED_TO_READY) reset(s);
  return r;
}

/* ---- analysis, sampling, pairs ----------------------------------------- */

static void analyse_params(GstSscorSample *s, sscor_analyse_params *ap) {
  sscor_analyse_params_default(ap);
  ap->scale = s->scale;
  if (s->geometry_location && *s->geometry_location) ap->geometry_file = s->geometry_location;
  ap->no_flatfield = !s->flatfield;
  ap->allow_no_stripes = s->artifacts;
  ap->flat.knots = s->knots;
  ap->flat.tile_gains = s->tile_gains;
  ap->flat.dark = s->dark;
  ap->flat.use_interior = s->interior;
}

static void post_geometry(GstSscorSample *s, const sscor_geometry *g, const sscor_analyse_report *rep,
                          const char *text, int n_seams) {
  GstStructure *st = gst_structure_new(
      "sscor-geometry", "orientation", G_TYPE_STRING, sscor_orientation_name(g->orientation), "width",
      G_TYPE_INT, g->width, "height", G_TYPE_INT, g->height, "tiles", G_TYPE_INT, g->n_tiles, "seams",
      G_TYPE_INT, n_seams, "tile-width", G_TYPE_INT, g->tile_w, "tile-height", G_TYPE_INT, g->tile_h,
      "pitch-x", G_TYPE_DOUBLE, rep->detect.pitch_x, "pitch-y", G_TYPE_DOUBLE, rep->detect.pitch_y, "angle",
      G_TYPE_DOUBLE, g->angle_deg, "regions", G_TYPE_INT, g->n_regions, "detected", G_TYPE_BOOLEAN,
      rep->detected != 0, "summary", G_TYPE_STRING, rep->detect.summary, "geometry", G_TYPE_STRING, text, NULL);
  if (rep->flat.seam_obs > 0) /* the flat-field's fit, for people */
    gst_structure_set(st, "flatfield-seam-obs", G_TYPE_INT, rep->flat.seam_obs, "flatfield-interior-obs", G_TYPE_INT,
                      rep->flat.interior_obs, "flatfield-residual-before", G_TYPE_DOUBLE, rep->flat.seam_rms_before,
                      "flatfield-residual-after", G_TYPE_DOUBLE, rep->flat.seam_rms_after, "flatfield-min",
                      G_TYPE_DOUBLE, rep->flat.min_gain, "flatfield-max", G_TYPE_DOUBLE, rep->flat.max_gain, NULL);
  gst_element_post_message(GST_ELEMENT(s), gst_message_new_element(GST_OBJECT(s), st));
}

/* Channels of the image: those of a frame (RGBA: the 3 colour channels), or
 * of the channel-sequential layout. */
static int image_channels(const GstSscorSample *s) {
  return s->seq_ch ? s->seq_ch : s->pixel_ch == 4 ? 3 : s->pixel_ch;
}

/* After the analysis of an image of 2+ channels: one flat-field per channel
 * (fluorescence channels shade differently), in ff[1..] after the joint one
 * in ff[0], which it replaces; *nff = 1 otherwise. img NULL: the file at
 * s->location. Posts errors itself. */
static gboolean channel_fields(GstSscorSample *s, const sscor_image *img, const char *name,
                               const sscor_analyse_params *ap, const sscor_geometry *g, sscor_flatfield **ff,
                               int *nff, sscor_analyse_report *rep) {
  int C = image_channels(s);
  *nff = ff[0] ? 1 : 0;
  if (C < 2 || !ff[0] || !s->flatfield) return TRUE;
  sscor_flatfield *per[SSCOR_MODEL_MAX_CHANNELS];
  sscor_status st = img ? sscor_analyse_image_channels(img, name, ap, g, rep->scale, C, per, rep)
                        : sscor_analyse_slide_channels(s->location, ap, g, rep->scale, C, per, rep);
  if (st) {
    GST_ELEMENT_ERROR(s, STREAM, FAILED, ("%s", sscor_last_error()), ("while analysing %s channel by channel", name));
    return FALSE;
  }
  sscor_flatfield_free(ff[0]);
  for (int k = 0; k < C; k++) ff[k] = per[k];
  *nff = C;
  return TRUE;
}

static void free_fields(sscor_flatfield **ff, int n) {
  for (int k = 0; k < n; k++) sscor_flatfield_free(ff[k]);
}

/* After an analysis: posts the geometry, writes it when asked, samples the
 * pairs into s->pairs and sends the analysis event. Posts errors itself. */
static gboolean use_analysis(GstSscorSample *s, const sscor_geometry *g, sscor_flatfield *const *ff, int nff,
                             const sscor_image *coarse, const sscor_analyse_report *rep, const char *name) {
  char *text = NULL;
  sscor_seam *seams = NULL;
  int n_seams = 0;
  if (sscor_geometry_format(g, &text) || sscor_geometry_seams(g, &seams, &n_seams)) {
    free(text);
    GST_ELEMENT_ERROR(s, STREAM, FAILED, ("Cannot describe the geometry of %s", name), ("%s", sscor_last_error()));
    return FALSE;
  }
  free(seams);
  post_geometry(s, g, rep, text, n_seams);
  GST_INFO_OBJECT(s, "%s: %s", name, rep->detect.summary);
  free(text);
  if (s->geometry_output && *s->geometry_output && sscor_geometry_write(g, s->geometry_output)) {
    GST_ELEMENT_ERROR(s, RESOURCE, WRITE, ("%s", sscor_last_error()),
                      ("geometry-output=%s: cannot write it", s->geometry_output));
    return FALSE;
  }
  sscor_sample_params sp;
  sscor_sample_params_default(&sp);
  sp.patch = s->patch;
  sp.step = s->step;
  sp.jitter = s->jitter;
  sp.max_pairs = s->max_pairs;
  sp.seed = s->seed;
  sp.side = s->side;
  sp.fg_threshold = rep->flat.foreground;
  sp.fg_fraction = s->fg_fraction;
  sp.artifacts = s->artifacts;
  free_pairs(s);
  if (sscor_sample_pairs(g, coarse, rep->scale, &sp, &s->pairs, &s->n_pairs)) {
    GST_ELEMENT_ERROR(s, STREAM, FAILED, ("%s", sscor_last_error()), ("while sampling pairs from %s", name));
    return FALSE;
  }
  if (s->n_pairs < MIN_PAIRS) {
    GST_ELEMENT_ERROR(s, STREAM, FAILED,
                      ("Too few training pairs in %s: %d, need %d", name, s->n_pairs, MIN_PAIRS),
                      ("too little tissue along the %s (foreground above %.4g in at least %.0f %% of both "
                       "patches): lower fg-fraction or patch, or a smaller step",
                       s->artifacts ? "artifact regions" : "seams", rep->flat.foreground, 100 * s->fg_fraction));
    return FALSE;
  }
  /* the analysis event: a model file with META, GEOM and (estimated) FLAT */
  sscor_model m;
  memset(&m, 0, sizeof m);
  m.channels = image_channels(s);
  m.patch = s->patch;
  m.sample_format = (sscor_sample_format)(s->type + 1);
  for (int c = 0; c < m.channels; c++) m.high[c] = sscor_sample_max(s->type);
  snprintf(m.preset, sizeof m.preset, "analysis");
  uint8_t *buf = NULL;
  size_t len = 0;
  if (sscor_model_set_flatfields(&m, g, ff, s->flatfield ? nff : 0) || sscor_model_to_memory(&m, &buf, &len)) {
    sscor_model_clear(&m);
    GST_ELEMENT_ERROR(s, STREAM, FAILED, ("Cannot serialise the analysis of %s", name), ("%s", sscor_last_error()));
    return FALSE;
  }
  sscor_model_clear(&m);
  GBytes *bytes = g_bytes_new_take(buf, len);
  gst_pad_push_event(s->srcpad, gst_sscor_analysis_event_new(bytes));
  g_bytes_unref(bytes);
  GST_INFO_OBJECT(s, "%s: %d pairs", name, s->n_pairs);
  return TRUE;
}

/* Pushes pair i as one frame, anomaly | normal (rows `a_stride` and
 * `n_stride` bytes apart in their sources, pixels s->pbpp bytes), or as one
 * GRAY frame per channel in the channel-sequential layout. */
static GstFlowReturn push_pair(GstSscorSample *s, int i, const guint8 *a, gsize a_stride, const guint8 *nrm,
                               gsize n_stride, int image_w, int image_h) {
  int P = s->patch, C = s->seq_ch ? s->seq_ch : 1;
  GstFlowReturn ret = GST_FLOW_OK;
  for (int k = 0; k < C && ret == GST_FLOW_OK; k++) {
    GstBuffer *b = gst_buffer_new_allocate(NULL, GST_VIDEO_INFO_SIZE(&s->out_info), NULL);
    GstMapInfo map;
    if (!b || !gst_buffer_map(b, &map, GST_MAP_WRITE)) {
      if (b) gst_buffer_unref(b);
      GST_ELEMENT_ERROR(s, RESOURCE, FAILED, ("Cannot allocate a pair frame"), (NULL));
      return GST_FLOW_ERROR;
    }
    gsize row = (gsize)P * s->bpp, stride = (gsize)GST_VIDEO_INFO_PLANE_STRIDE(&s->out_info, 0);
    for (int y = 0; y < P; y++) {
      guint8 *d = map.data + y * stride;
      if (!s->seq_ch) {
        memcpy(d, a + y * a_stride, row);
        memcpy(d + row, nrm + y * n_stride, row);
        continue;
      }
      for (int x = 0; x < 2 * P; x++) /* channel k of the interleaved patches */
        memcpy(d + (gsize)x * s->bpp, (x < P ? a + y * a_stride + (gsize)x * s->pbpp
                                             : nrm + y * n_stride + (gsize)(x - P) * s->pbpp) + k * s->bpp,
               s->bpp);
    }
    gst_buffer_unmap(b, &map);
    const sscor_pair *p = &s->pairs[i];
    GstSscorPairMeta *m = gst_sscor_buffer_add_pair_meta(b);
    m->anomaly_x = p->ax, m->anomaly_y = p->ay;
    m->normal_x = p->nx, m->normal_y = p->ny;
    m->patch = (guint)P;
    m->seam = p->seam;
    m->crossing = p->crossing != 0;
    m->index = (guint)i, m->count = (guint)s->n_pairs;
    m->image_width = (guint64)image_w, m->image_height = (guint64)image_h;
    m->channel = s->seq_ch ? k : -1;
    m->n_channels = (guint)(s->seq_ch ? s->seq_ch : s->pixel_ch);
    GST_BUFFER_OFFSET(b) = (guint64)i;
    ret = gst_pad_push(s->srcpad, b);
  }
  s->n_pushed++;
  return ret;
}

/* A whole image in memory (a frame, or the gathered tile stream). */
static GstFlowReturn process_image(GstSscorSample *s, const sscor_image *img, const char *name) {
  sscor_analyse_params ap;
  analyse_params(s, &ap);
  sscor_geometry g;
  sscor_flatfield *ff[SSCOR_MODEL_MAX_CHANNELS] = {NULL};
  int nff = 0;
  sscor_image coarse = {0};
  sscor_analyse_report rep;
  if (sscor_analyse_image(img, name, &ap, &g, &ff[0], &coarse, &rep)) {
    GST_ELEMENT_ERROR(s, STREAM, FAILED, ("%s", sscor_last_error()), ("while analysing %s", name));
    return GST_FLOW_ERROR;
  }
  GstFlowReturn ret = GST_FLOW_ERROR;
  if (channel_fields(s, img, name, &ap, &g, ff, &nff, &rep) && use_analysis(s, &g, ff, nff, &coarse, &rep, name)) {
    ret = GST_FLOW_OK;
    for (int i = 0; i < s->n_pairs && ret == GST_FLOW_OK; i++) {
      const sscor_pair *p = &s->pairs[i];
      const guint8 *a = (const guint8 *)sscor_image_row(img, p->ay) + (gsize)p->ax * s->pbpp;
      const guint8 *n = (const guint8 *)sscor_image_row(img, p->ny) + (gsize)p->nx * s->pbpp;
      ret = push_pair(s, i, a, img->stride, n, img->stride, img->width, img->height);
    }
  }
  free_pairs(s);
  free_fields(ff, nff ? nff : 1);
  sscor_geometry_free(&g);
  sscor_image_free(&coarse);
  return ret;
}

/* ---- tile streams ------------------------------------------------------- */

/* Decides how to handle a tile stream at its first tile (see the top). */
static GstFlowReturn start_tiles(GstSscorSample *s, const GstSscorTileMeta *m) {
  guint64 iw = m->image_width, ih = m->image_height;
  if (s->location && m->level == 0 && m->downsample == 1.0 && m->x == m->image_x && m->y == m->image_y) {
    sscor_slide *sl = NULL;
    int64_t w0 = 0, h0 = 0;
    int channels = 0;
    if (!sscor_slide_open(s->location, &sl)) {
      sscor_slide_level_size(sl, 0, &w0, &h0);
      channels = sscor_slide_get_info(sl)->channels;
      sscor_slide_close(sl);
    }
    if ((guint64)w0 == iw && (guint64)h0 == ih && channels == (s->seq_ch ? s->seq_ch : s->pixel_ch)) {
      sscor_analyse_params ap;
      analyse_params(s, &ap);
      sscor_geometry g;
      sscor_flatfield *ff[SSCOR_MODEL_MAX_CHANNELS] = {NULL};
      int nff = 0;
      sscor_image coarse = {0};
      sscor_analyse_report rep;
      if (sscor_analyse_slide(s->location, &ap, &g, &ff[0], &coarse, &rep)) {
        GST_ELEMENT_ERROR(s, STREAM, FAILED, ("%s", sscor_last_error()), ("while analysing %s", s->location));
        return GST_FLOW_ERROR;
      }
      gboolean ok = channel_fields(s, NULL, s->location, &ap, &g, ff, &nff, &rep) &&
                    use_analysis(s, &g, ff, nff, &coarse, &rep, s->location);
      free_fields(ff, nff ? nff : 1);
      sscor_geometry_free(&g);
      sscor_image_free(&coarse);
      if (!ok) return GST_FLOW_ERROR;
      s->pending = g_new0(GstSscorPendingPatch, 2 * (gsize)s->n_pairs);
      s->mode = 1;
      return GST_FLOW_OK;
    }
  }
  double mb = (double)iw * ih * s->pbpp / (1 << 20);
  if (mb > s->max_memory) {
    GST_ELEMENT_ERROR(s, RESOURCE, NO_SPACE_LEFT,
                      ("The %" G_GUINT64_FORMAT "x%" G_GUINT64_FORMAT " tile stream needs %.0f MB in memory, "
                       "more than max-memory=%u",
                       iw, ih, mb, s->max_memory),
                      ("sscorsample reads a whole level 0 streamed by sscorslidesrc from its file in bounded "
                       "memory; other tile streams (a region, another level, no file) are gathered in memory: "
                       "raise max-memory, or stream the whole level 0 of the file"));
    return GST_FLOW_ERROR;
  }
  if (sscor_image_alloc(&s->acc, (int)iw, (int)ih, s->seq_ch ? s->seq_ch : s->pixel_ch, s->type)) {
    GST_ELEMENT_ERROR(s, RESOURCE, NO_SPACE_LEFT, ("Cannot hold the tile stream in memory"),
                      ("%s", sscor_last_error()));
    return GST_FLOW_ERROR;
  }
  s->mode = 2;
  return GST_FLOW_OK;
}

/* Copies the part of the tile (valid area vw x vh at tx,ty; one channel of
 * the channel-sequential layout, or -1: whole pixels) that falls in the
 * patches of the pending pairs; pushes pairs whose two patches are complete. */
static GstFlowReturn assemble(GstSscorSample *s, const guint8 *tile, gsize stride, int tx, int ty, int vw, int vh,
                              int iw, int ih, int channel) {
  int P = s->patch, C = s->seq_ch ? s->seq_ch : 1; /* samples tracked per pixel */
  gsize pbpp = s->pbpp, fbpp = s->bpp, off = channel > 0 ? (gsize)channel * fbpp : 0;
  int slot = channel > 0 ? channel : 0, full = P * P * C;
  GstFlowReturn ret = GST_FLOW_OK;
  for (int i = s->first_open; i < s->n_pairs && ret == GST_FLOW_OK; i++) {
    GstSscorPendingPatch *pp = &s->pending[2 * i];
    if (pp[0].filled < 0) continue; /* pushed */
    for (int k = 0; k < 2; k++) {
      int px = k ? s->pairs[i].nx : s->pairs[i].ax, py = k ? s->pairs[i].ny : s->pairs[i].ay;
      int x0 = MAX(px, tx), x1 = MIN(px + P, tx + vw), y0 = MAX(py, ty), y1 = MIN(py + P, ty + vh);
      if (x0 >= x1 || y0 >= y1 || pp[k].filled == full) continue;
      if (!pp[k].px) {
        pp[k].px = g_malloc((gsize)P * P * pbpp);
        pp[k].seen = g_malloc0((gsize)full);
      }
      for (int y = y0; y < y1; y++) {
        const guint8 *src = tile + (gsize)(y - ty) * stride;
        guint8 *dst = pp[k].px + (gsize)(y - py) * P * pbpp;
        guint8 *seen = pp[k].seen + (gsize)(y - py) * P * C;
        for (int x = x0; x < x1; x++)
          if (!seen[(x - px) * C + slot]) {
            seen[(x - px) * C + slot] = 1;
            memcpy(dst + (gsize)(x - px) * pbpp + off, src + (gsize)(x - tx) * fbpp, fbpp);
            pp[k].filled++;
          }
      }
    }
    if (pp[0].filled == full && pp[1].filled == full) {
      ret = push_pair(s, i, pp[0].px, (gsize)P * pbpp, pp[1].px, (gsize)P * pbpp, iw, ih);
      for (int k = 0; k < 2; k++) {
        g_free(pp[k].px);
        g_free(pp[k].seen);
        pp[k].px = pp[k].seen = NULL;
        pp[k].filled = -1;
      }
    }
  }
  while (s->first_open < s->n_pairs && s->pending[2 * s->first_open].filled < 0) s->first_open++;
  return ret;
}

static GstFlowReturn chain(GstPad *pad, GstObject *parent, GstBuffer *buf) {
  (void)pad;
  GstSscorSample *s = GST_SSCOR_SAMPLE(parent);
  if (!s->have_caps) {
    gst_buffer_unref(buf);
    GST_ELEMENT_ERROR(s, CORE, NEGOTIATION, ("Data before caps"), (NULL));
    return GST_FLOW_NOT_NEGOTIATED;
  }
  GstVideoFrame frame;
  if (!gst_video_frame_map(&frame, &s->in_info, buf, GST_MAP_READ)) {
    gst_buffer_unref(buf);
    GST_ELEMENT_ERROR(s, STREAM, FORMAT, ("Cannot map a frame"), ("the buffer is smaller than its caps say"));
    return GST_FLOW_ERROR;
  }
  const guint8 *data = GST_VIDEO_FRAME_PLANE_DATA(&frame, 0);
  gsize stride = (gsize)GST_VIDEO_FRAME_PLANE_STRIDE(&frame, 0);
  int fw = GST_VIDEO_FRAME_WIDTH(&frame), fh = GST_VIDEO_FRAME_HEIGHT(&frame);
  GstSscorTileMeta *m = gst_sscor_buffer_get_tile_meta(buf);
  GstFlowReturn ret = GST_FLOW_OK;
  if (!m) {
    sscor_image img;
    s->seq_ch = 0;
    s->pbpp = s->bpp;
    sscor_image_wrap(&img, (void *)data, fw, fh, s->pixel_ch, s->type, stride);
    gchar *name = s->location ? g_strdup(s->location) : g_strdup_printf("frame %u", s->frames);
    s->frames++;
    ret = process_image(s, &img, name);
    g_free(name);
  } else if ((m->channel >= 0) != (s->seq_ch > 0) && s->mode != 0) {
    GST_ELEMENT_ERROR(s, STREAM, FORMAT, ("Tiles of %s mix whole pixels and single channels",
                                          s->location ? s->location : "the stream"),
                      ("a tile with channel %d after tiles with%s", m->channel, s->seq_ch ? "" : " every channel"));
    ret = GST_FLOW_ERROR;
  } else {
    if (s->mode == 0) {
      s->seq_ch = m->channel >= 0 ? (gint)m->n_channels : 0;
      s->pbpp = s->seq_ch ? (gsize)s->seq_ch * s->bpp : s->bpp;
      if (m->channel >= 0 && (s->pixel_ch != 1 || m->n_channels < 1 || m->n_channels > SSCOR_MODEL_MAX_CHANNELS ||
                              m->channel >= (gint)m->n_channels)) {
        GST_ELEMENT_ERROR(s, STREAM, FORMAT, ("Bad channel-sequential tile from %s", s->location ? s->location : "the stream"),
                          ("channel %d of %u in a %d-sample frame", m->channel, m->n_channels, s->pixel_ch));
        ret = GST_FLOW_ERROR;
      } else {
        ret = start_tiles(s, m);
      }
    }
    int iw = (int)m->image_width, ih = (int)m->image_height;
    int tx = (int)m->image_x, ty = (int)m->image_y;
    int vw = MIN((int)m->valid_width, fw), vh = MIN((int)m->valid_height, fh);
    vw = MIN(vw, iw - tx), vh = MIN(vh, ih - ty);
    if (ret == GST_FLOW_OK && vw > 0 && vh > 0 && tx >= 0 && ty >= 0) {
      if (s->mode == 1) {
        ret = assemble(s, data, stride, tx, ty, vw, vh, iw, ih, m->channel);
      } else if (iw != s->acc.width || ih != s->acc.height) {
        GST_ELEMENT_ERROR(s, STREAM, FORMAT, ("Tiles of different images in one stream"),
                          ("a tile says %dx%d, the first said %dx%d", iw, ih, s->acc.width, s->acc.height));
        ret = GST_FLOW_ERROR;
      } else {
        gsize off = m->channel > 0 ? (gsize)m->channel * s->bpp : 0;
        for (int y = 0; y < vh; y++) {
          guint8 *dst = (guint8 *)sscor_image_row(&s->acc, ty + y) + (gsize)tx * s->pbpp + off;
          const guint8 *src = data + (gsize)y * stride;
          if (!s->seq_ch) memcpy(dst, src, (gsize)vw * s->bpp);
          else
            for (int x = 0; x < vw; x++) memcpy(dst + (gsize)x * s->pbpp, src + (gsize)x * s->bpp, s->bpp);
        }
      }
    }
  }
  gst_video_frame_unmap(&frame);
  gst_buffer_unref(buf);
  return ret;
}

/* ---- events ------------------------------------------------------------- */

static gboolean set_caps(GstSscorSample *s, GstCaps *caps) {
  GstVideoInfo vi;
  if (!gst_video_info_from_caps(&vi, caps)) return FALSE;
  GstVideoFormat f = GST_VIDEO_INFO_FORMAT(&vi);
  s->pixel_ch = f == GST_VIDEO_FORMAT_RGB ? 3 : f == GST_VIDEO_FORMAT_RGBA ? 4 : 1;
  s->type = f == GST_VIDEO_FORMAT_GRAY16_LE ? SSCOR_U16 : SSCOR_U8;
  s->bpp = (gsize)s->pixel_ch * sscor_sample_size(s->type);
  s->pbpp = s->bpp;
  s->in_info = vi;
  gst_video_info_set_format(&s->out_info, f, (guint)(2 * s->patch), (guint)s->patch);
  GST_VIDEO_INFO_FPS_N(&s->out_info) = 0;
  GST_VIDEO_INFO_FPS_D(&s->out_info) = 1;
  GstCaps *out = gst_video_info_to_caps(&s->out_info);
  gboolean ok = gst_pad_set_caps(s->srcpad, out);
  gst_caps_unref(out);
  s->have_caps = ok;
  return ok;
}

static gboolean sink_event(GstPad *pad, GstObject *parent, GstEvent *e) {
  GstSscorSample *s = GST_SSCOR_SAMPLE(parent);
  switch (GST_EVENT_TYPE(e)) {
  case GST_EVENT_CAPS: {
    GstCaps *caps;
    gst_event_parse_caps(e, &caps);
    gboolean ok = set_caps(s, caps);
    gst_event_unref(e);
    return ok;
  }
  case GST_EVENT_TAG: {
    GstTagList *tags;
    gchar *loc = NULL;
    gst_event_parse_tag(e, &tags);
    if (gst_tag_list_get_string(tags, GST_TAG_LOCATION, &loc) && loc) {
      g_free(s->location);
      s->location = g_str_has_prefix(loc, "file://") ? g_filename_from_uri(loc, NULL, NULL) : g_strdup(loc);
      g_free(loc);
    }
    break;
  }
  case GST_EVENT_EOS: {
    GstFlowReturn ret = GST_FLOW_OK;
    if (s->mode == 2) {
      ret = process_image(s, &s->acc, s->location ? s->location : "the tile stream");
      sscor_image_free(&s->acc);
      memset(&s->acc, 0, sizeof s->acc);
    } else if (s->mode == 1 && s->n_pushed < s->n_pairs) {
      GST_ELEMENT_WARNING(s, STREAM, FAILED, ("The tile stream ended with %d of %d pairs incomplete",
                                              s->n_pairs - s->n_pushed, s->n_pairs),
                          ("some tiles of %s never came", s->location));
    }
    s->mode = 0;
    free_pairs(s);
    if (ret != GST_FLOW_OK && ret != GST_FLOW_FLUSHING && ret != GST_FLOW_EOS) {
      gst_event_unref(e);
      return FALSE;
    }
    break;
  }
  case GST_EVENT_FLUSH_STOP:
  case GST_EVENT_STREAM_START:
    free_pairs(s);
    sscor_image_free(&s->acc);
    memset(&s->acc, 0, sizeof s->acc);
    s->mode = 0;
    break;
  default: break;
  }
  return gst_pad_event_default(pad, parent, e);
}

/* ---- properties --------------------------------------------------------- */

static void set_property(GObject *o, guint id, const GValue *v, GParamSpec *ps) {
  GstSscorSample *s = GST_SSCOR_SAMPLE(o);
  GST_OBJECT_LOCK(s);
  switch (id) {
  case PROP_PATCH: s->patch = g_value_get_int(v); break;
  case PROP_STEP: s->step = g_value_get_int(v); break;
  case PROP_JITTER: s->jitter = g_value_get_int(v); break;
  case PROP_MAX_PAIRS: s->max_pairs = g_value_get_int(v); break;
  case PROP_SEED: s->seed = g_value_get_uint64(v); break;
  case PROP_FG_FRACTION: s->fg_fraction = g_value_get_double(v); break;
  case PROP_SIDE: s->side = g_value_get_int(v); break;
  case PROP_STRIPES:
    g_free(s->stripes);
    s->stripes = g_value_dup_string(v);
    break;
  case PROP_GEOMETRY_LOCATION:
    g_free(s->geometry_location);
    s->geometry_location = g_value_dup_string(v);
    break;
  case PROP_GEOMETRY_OUTPUT:
    g_free(s->geometry_output);
    s->geometry_output = g_value_dup_string(v);
    break;
  case PROP_ARTIFACTS: s->artifacts = g_value_get_boolean(v); break;
  case PROP_FLATFIELD: s->flatfield = g_value_get_boolean(v); break;
  case PROP_SCALE: s->scale = g_value_get_int(v); break;
  case PROP_MAX_MEMORY: s->max_memory = g_value_get_uint(v); break;
  case PROP_KNOTS: s->knots = g_value_get_int(v); break;
  case PROP_TILE_GAINS: s->tile_gains = g_value_get_boolean(v); break;
  case PROP_DARK: s->dark = g_value_get_double(v); break;
  case PROP_INTERIOR: s->interior = g_value_get_boolean(v); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID(o, id, ps);
  }
  GST_OBJECT_UNLOCK(s);
}

static void get_property(GObject *o, guint id, GValue *v, GParamSpec *ps) {
  GstSscorSample *s = GST_SSCOR_SAMPLE(o);
  GST_OBJECT_LOCK(s);
  switch (id) {
  case PROP_PATCH: g_value_set_int(v, s->patch); break;
  case PROP_STEP: g_value_set_int(v, s->step); break;
  case PROP_JITTER: g_value_set_int(v, s->jitter); break;
  case PROP_MAX_PAIRS: g_value_set_int(v, s->max_pairs); break;
  case PROP_SEED: g_value_set_uint64(v, s->seed); break;
  case PROP_FG_FRACTION: g_value_set_double(v, s->fg_fraction); break;
  case PROP_SIDE: g_value_set_int(v, s->side); break;
  case PROP_STRIPES: g_value_set_string(v, s->stripes); break;
  case PROP_GEOMETRY_LOCATION: g_value_set_string(v, s->geometry_location); break;
  case PROP_GEOMETRY_OUTPUT: g_value_set_string(v, s->geometry_output); break;
  case PROP_ARTIFACTS: g_value_set_boolean(v, s->artifacts); break;
  case PROP_FLATFIELD: g_value_set_boolean(v, s->flatfield); break;
  case PROP_SCALE: g_value_set_int(v, s->scale); break;
  case PROP_MAX_MEMORY: g_value_set_uint(v, s->max_memory); break;
  case PROP_KNOTS: g_value_set_int(v, s->knots); break;
  case PROP_TILE_GAINS: g_value_set_boolean(v, s->tile_gains); break;
  case PROP_DARK: g_value_set_double(v, s->dark); break;
  case PROP_INTERIOR: g_value_set_boolean(v, s->interior); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID(o, id, ps);
  }
  GST_OBJECT_UNLOCK(s);
}

static void finalize(GObject *o) {
  GstSscorSample *s = GST_SSCOR_SAMPLE(o);
  reset(s);
  g_free(s->stripes);
  g_free(s->geometry_location);
  g_free(s->geometry_output);
  G_OBJECT_CLASS(parent_class)->finalize(o);
}

static void gst_sscor_sample_class_init(GstSscorSampleClass *klass) {
  GObjectClass *oc = G_OBJECT_CLASS(klass);
  GstElementClass *ec = GST_ELEMENT_CLASS(klass);
  GST_DEBUG_CATEGORY_INIT(sscor_sample_debug, "sscorsample", 0, "sscor pair sampling");
  oc->set_property = set_property;
  oc->get_property = get_property;
  oc->finalize = finalize;
  GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY;
  g_object_class_install_property(
      oc, PROP_PATCH,
      g_param_spec_int("patch", "Patch", "Patch side in px, a multiple of 4 (64 = the cpu trainer preset's, "
                       "256 = the paper's); output frames are 2*patch x patch",
                       8, 4096, DEFAULT_PATCH, rw));
  g_object_class_install_property(
      oc, PROP_STEP,
      g_param_spec_int("step", "Step", "Step between anomaly patches along a seam, px (0 = patch/2, the "
                       "paper's best)", 0, 4096, 0, rw));
  g_object_class_install_property(
      oc, PROP_JITTER,
      g_param_spec_int("jitter", "Jitter", "Largest random offset of an anomaly patch from its seam point, px "
                       "(0 = patch/8, -1 = none)", -1, 4096, 0, rw));
  g_object_class_install_property(
      oc, PROP_MAX_PAIRS,
      g_param_spec_int("max-pairs", "Max pairs", "Cap on the pairs per image: a seeded random subset in seam "
                       "order (0 = no cap)", 0, G_MAXINT, DEFAULT_MAX_PAIRS, rw));
  g_object_class_install_property(
      oc, PROP_SEED,
      g_param_spec_uint64("seed", "Seed", "Seed of jitter, sides and the subset: the same image and seed give "
                          "the same pairs", 0, G_MAXUINT64, 1, rw));
  g_object_class_install_property(
      oc, PROP_FG_FRACTION,
      g_param_spec_double("fg-fraction", "Foreground fraction", "Skip pairs where either patch holds less than "
                          "this fraction of tissue (foreground threshold: Otsu on the reduced image)",
                          0.0, 1.0, 0.3, rw));
  g_object_class_install_property(
      oc, PROP_SIDE,
      g_param_spec_int("side", "Side", "Side of the seam searched first for the normal patch: 1 = right/below, "
                       "-1 = left/above, 0 = random per pair", -1, 1, 0, rw));
  g_object_class_install_property(
      oc, PROP_STRIPES,
      g_param_spec_string("stripes", "Stripes", "Where the stripe geometry comes from: \"auto\" detects it from "
                          "the image (or reads geometry-location when set), \"file\" requires "
                          "geometry-location", "auto", rw));
  g_object_class_install_property(
      oc, PROP_GEOMETRY_LOCATION,
      g_param_spec_string("geometry-location", "Geometry location", "Geometry file to use instead of detection "
                          "(text format of core/geometry.h, e.g. from 'sscor detect -o' or geometry-output); "
                          "it must describe the streamed image's size", NULL, rw));
  g_object_class_install_property(
      oc, PROP_GEOMETRY_OUTPUT,
      g_param_spec_string("geometry-output", "Geometry output", "Write the geometry used to this file (replaced "
                          "atomically) so it can be inspected, edited and passed back", NULL, rw));
  g_object_class_install_property(
      oc, PROP_ARTIFACTS,
      g_param_spec_boolean("artifacts", "Artifacts", "Artifact mode: anomaly patches from the geometry's artifact "
                           "regions/mask (out of focus, bubbles, fringes; needs geometry-location), normals from "
                           "the nearest clean area", FALSE, rw));
  g_object_class_install_property(
      oc, PROP_FLATFIELD,
      g_param_spec_boolean("flatfield", "Flat-field", "Estimate the seam-aware flat-field and send it in the "
                           "sscor-analysis event (FLAT section) with the geometry", TRUE, rw));
  g_object_class_install_property(
      oc, PROP_SCALE,
      g_param_spec_int("scale", "Scale", "Reduction of the coarse analysis image (0 = auto: 4, more for huge "
                       "images)", 0, 256, 0, rw));
  g_object_class_install_property(
      oc, PROP_MAX_MEMORY,
      g_param_spec_uint("max-memory", "Max memory", "MB a tile stream may occupy when it must be gathered in "
                        "memory (a region, another level, no file location); a whole level 0 from "
                        "sscorslidesrc is read from its file in bounded memory instead (0 = never gather)",
                        0, G_MAXUINT, DEFAULT_MAX_MEMORY, rw));
  g_object_class_install_property(
      oc, PROP_KNOTS,
      g_param_spec_int("knots", "Knots", "Flat-field: spline knots per tile axis (smoothness of the field within a "
                       "tile)", 5, 31, 13, rw));
  g_object_class_install_property(
      oc, PROP_TILE_GAINS,
      g_param_spec_boolean("tile-gains", "Tile gains", "Flat-field: also fit one exposure gain per tile", TRUE, rw));
  g_object_class_install_property(
      oc, PROP_DARK,
      g_param_spec_double("dark", "Dark offset", "Flat-field: dark offset subtracted before the gain, in image "
                          "units (-1 = auto, from the darkest data)", -1, G_MAXDOUBLE, -1, rw));
  g_object_class_install_property(
      oc, PROP_INTERIOR,
      g_param_spec_boolean("interior", "Interior", "Flat-field: also fit the reduced image's block differences "
                           "inside tiles (false = seam steps only)", TRUE, rw));
  gst_element_class_add_static_pad_template(ec, &sink_template);
  gst_element_class_add_static_pad_template(ec, &src_template);
  gst_element_class_set_static_metadata(
      ec, "sscor pair sampler", "Filter/Analyzer/Video",
      "Training pairs for SSCOR: patches centred on detected tile seams next to the nearest clean patch, "
      "side by side, with their positions in a pair meta",
      "sscor developers");
  ec->change_state = change_state;
}

static void gst_sscor_sample_init(GstSscorSample *s) {
  s->sinkpad = gst_pad_new_from_static_template(&sink_template, "sink");
  gst_pad_set_chain_function(s->sinkpad, chain);
  gst_pad_set_event_function(s->sinkpad, sink_event);
  gst_element_add_pad(GST_ELEMENT(s), s->sinkpad);
  s->srcpad = gst_pad_new_from_static_template(&src_template, "src");
  gst_pad_use_fixed_caps(s->srcpad);
  gst_element_add_pad(GST_ELEMENT(s), s->srcpad);
  s->patch = DEFAULT_PATCH;
  s->max_pairs = DEFAULT_MAX_PAIRS;
  s->seed = 1;
  s->fg_fraction = 0.3;
  s->stripes = g_strdup("auto");
  s->flatfield = TRUE;
  s->max_memory = DEFAULT_MAX_MEMORY;
  s->knots = 13;
  s->tile_gains = TRUE;
  s->dark = -1;
  s->interior = TRUE;
}
