/* Applying an sscor correction model to an image, region by region.
 *
 * A model (core/model_file.h) carries up to two stages, applied in order:
 *   1. the seam-aware flat-field (sections GEOM + FLAT, core/flatfield.h):
 *      right by construction, smooth within tiles, jumping at seams;
 *   2. the learned corrector G_C (section NET), run on windows of the
 *      model's patch size with a step of at most patch/2; the windows'
 *      outputs are blended with smooth (raised-cosine) weights that fall
 *      towards the window borders, so no window edge shows and overlaps are
 *      not simply averaged. The reference's max(original, corrected) rule
 *      (which can only brighten) is an option, off by default.
 * Regions are given with their place in the whole image, so a tile stream
 * and a whole frame are corrected identically.
 *
 * Also here: building a model's flat-field part from a slide (detection on
 * a reduced image, refinement and seam bands read at full resolution, in
 * bounded memory), which is what `sscor correct`, sscorsample and sscortrain
 * use. report->flat.foreground is the foreground threshold in every case. */
#ifndef SSCOR_CORRECT_H
#define SSCOR_CORRECT_H

#include "flatfield.h"
#include "geometry.h"
#include "image.h"
#include "model_file.h"
#include "slide.h"

typedef struct {
  int step;      /* window step for G_C, px; 0 = patch/2; clamped to <= patch/2 */
  int max_rule;  /* 1: keep max(original, corrected) per sample (reference rule) */
  int threads;   /* compute threads for G_C (0 = keep the engine's default) */
} sscor_correct_params;

void sscor_correct_params_default(sscor_correct_params *p);

typedef struct sscor_corrector sscor_corrector;

/* Builds a corrector from a loaded model; the model stays the caller's and
 * must outlive the corrector. Fails on an unreadable FLAT/GEOM section. */
sscor_status sscor_corrector_new(const sscor_model *m, const sscor_correct_params *p,
                                 sscor_corrector **out);
void sscor_corrector_free(sscor_corrector *c);
/* Refuses a stream the model does not fit: channel count, image size (for a
 * model with a geometry), or a sample type whose range cannot hold the
 * model's intensity scaling. `what` names the stream in the message. */
sscor_status sscor_corrector_check(const sscor_corrector *c, int channels, sscor_sample_type type,
                                   int image_w, int image_h, const char *what);
/* Corrects `region` in place; its pixel (0,0) is image pixel (x0,y0). A
 * model with one flat-field per channel corrects channel k with field k. */
sscor_status sscor_corrector_apply(sscor_corrector *c, sscor_image *region, int x0, int y0);
/* Corrects a one-channel region holding channel `channel` of the image (a
 * channel-sequential frame). Flat-field models only: a learned corrector
 * needs every channel at once (SSCOR_E_UNSUPPORTED). */
sscor_status sscor_corrector_apply_channel(sscor_corrector *c, sscor_image *region, int x0, int y0,
                                           int channel);
/* 1 when the model has a flat-field / a learned corrector. */
int sscor_corrector_has_flatfield(const sscor_corrector *c);
int sscor_corrector_has_network(const sscor_corrector *c);
const sscor_geometry *sscor_corrector_geometry(const sscor_corrector *c);

/* ---- model composition -------------------------------------------------- */

/* Stores geometry g and field ff (may be NULL: geometry only) in m's GEOM and
 * FLAT sections, replacing what was there. */
sscor_status sscor_model_set_flatfield(sscor_model *m, const sscor_geometry *g,
                                       const sscor_flatfield *ff);
/* The same with one field per channel (n = m->channels) or one for all (n = 1). */
sscor_status sscor_model_set_flatfields(sscor_model *m, const sscor_geometry *g, sscor_flatfield *const *ff,
                                        int n);
/* Parses m's GEOM (and FLAT when present) sections; *ff may come back NULL
 * (the first field of a model with one per channel). */
sscor_status sscor_model_get_flatfield(const sscor_model *m, sscor_geometry *g, sscor_flatfield **ff);
/* Every field: ff[0..*n) (n = 0, 1 for all channels, or one per channel). */
sscor_status sscor_model_get_flatfields(const sscor_model *m, sscor_geometry *g, sscor_flatfield **ff, int *n);

/* ---- analysis of a slide ---------------------------------------------- */

typedef struct {
  int scale;                 /* reduction of the coarse image (0 = auto: 4, more for huge slides) */
  const char *geometry_file; /* explicit geometry instead of detection (NULL = detect) */
  sscor_detect_params detect;
  sscor_flatfield_params flat;
  int no_flatfield;          /* 1: geometry and foreground threshold only (*ff comes back NULL) */
  int allow_no_stripes;      /* 1: a geometry file with artifact regions or a mask but no seams is
                                fine (artifact sampling; no flat-field then) */
} sscor_analyse_params;

void sscor_analyse_params_default(sscor_analyse_params *p);

typedef struct {
  sscor_detect_report detect;
  sscor_flatfield_report flat;
  int scale;
  int detected; /* 0 when the geometry came from a file */
} sscor_analyse_report;

/* Reads `path` level 0 in bands, builds the reduced image (reduction 4 on
 * slides, 1-2 on images under 1024-2048 px), detects (or reads) the
 * geometry (loading the artifact mask a geometry file names) and estimates
 * the flat-field. Detection runs both detectors (by
 * periodicity and by seam lines, sscor_detect_params.lines forces the
 * latter); each geometry's flat-field must pass its held-out check
 * (flatfield.h) and of two that pass, the one leaving less step energy
 * along the image's lines is kept. Fails with SSCOR_E_INVALID "no stripes
 * found" when no seams are found and "no reliable correction found: ..."
 * when no flat-field passes (the message names both detectors' reasons).
 * The caller frees g and ff. coarse (optional) receives the reduced image. */
sscor_status sscor_analyse_slide(const char *path, const sscor_analyse_params *p,
                                 sscor_geometry *g, sscor_flatfield **ff, sscor_image *coarse,
                                 sscor_analyse_report *report);
/* The same analysis of an image held in memory (a whole video frame): the
 * same reduced image, detection and flat-field as sscor_analyse_slide gives
 * for that image stored in a file. `name` names it in messages. */
sscor_status sscor_analyse_image(const sscor_image *img, const char *name, const sscor_analyse_params *p,
                                 sscor_geometry *g, sscor_flatfield **ff, sscor_image *coarse,
                                 sscor_analyse_report *report);

/* One flat-field per channel for geometry g (from the analysis above, on the
 * mean of the channels: the tiles are the same for every channel), each
 * estimated from its channel alone, since fluorescence channels shade with
 * different strengths: ff[0..channels) (the first `channels` of the image;
 * RGBA passes 3). A channel whose own field fails the held-out check gets
 * the identity (left as is, said in rep->detect.summary); all refused is
 * SSCOR_E_INVALID. scale: rep->scale of the analysis. */
sscor_status sscor_analyse_slide_channels(const char *path, const sscor_analyse_params *p, const sscor_geometry *g,
                                          int scale, int channels, sscor_flatfield **ff, sscor_analyse_report *rep);
sscor_status sscor_analyse_image_channels(const sscor_image *img, const char *name, const sscor_analyse_params *p,
                                          const sscor_geometry *g, int scale, int channels, sscor_flatfield **ff,
                                          sscor_analyse_report *rep);

/* ---- learned refinement ------------------------------------------------- */

typedef struct {
  const char *preset;  /* trainer preset ("cpu" default, "paper") */
  int epochs;          /* 0 = the preset's (constant + decay split in half) */
  double budget_s;     /* stop training after this many seconds (0 = none) */
  int max_pairs;       /* cap on sampled pairs (0 = 2000) */
  uint64_t seed;
  int threads;         /* 0 = kernels' default */
  int flatfield_first; /* 1: pairs are cut from the flat-fielded image (refinement);
                          0: from the raw image (the plain CycleGAN) */
  int joint_channels;  /* 1 (default): one intensity range for all channels (keeps
                          colour balance); 0: one range per channel */
  const char *checkpoint;       /* training state file (NULL = none): written every
                                   checkpoint_interval_s and when training stops early */
  double checkpoint_interval_s; /* 0 = only when training stops early */
  int resume;                   /* 1: continue from `checkpoint` (same pairs and settings) */
} sscor_refine_params;

void sscor_refine_params_default(sscor_refine_params *p);

/* Progress of sscor_refine_train: forwarded trainer progress. */
typedef int (*sscor_refine_progress_fn)(const sscor_train_progress *p, void *user);

/* A training patch: the first `channels` channels of src (any sample type) as
 * a new F32 image, divided by the flat-fields ff[0..nff) (nff 0: none, 1: one
 * for all channels, else one per channel) at its image position (x, y) —
 * flat-field first, as the refinement trains. */
sscor_status sscor_training_patch(const sscor_image *src, int channels, sscor_flatfield *const *ff, int nff,
                                  int x, int y, sscor_image *out);

/* Trains G_C on n cut pairs (anomaly i | normal i; every patch P x P with
 * m->channels channels, one sample type; P is the training patch side,
 * overriding the preset's, and must suit the networks): sets m's intensity
 * scaling from robust percentiles of all patches (0.5 / 99.5; joint over
 * channels or per channel, p->joint_channels), scales them to [-1, 1], runs
 * the trainer (p: preset, epochs, seed, threads, budget, checkpoints, resume;
 * cb may stop it by returning non-zero) and stores G_C, the patch side and
 * the preset in m. Stopped early (budget, cb), m holds the corrector as
 * trained so far; *finished (may be NULL) tells which. Fails with
 * "too few training pairs" below 8. */
sscor_status sscor_train_patches(const sscor_image *anomalies, const sscor_image *normals, int n,
                                 const sscor_refine_params *p, sscor_refine_progress_fn cb, void *user,
                                 sscor_model *m, int *finished);

/* Samples seam/normal pairs of the slide at `path` for geometry g (coarse:
 * the analysis image reduced by `scale`, for the foreground test with
 * threshold fg), cuts them at full resolution (through ff when
 * flatfield_first) and trains G_C on them (sscor_train_patches). Fails with
 * "too few pairs" below 8. */
sscor_status sscor_refine_train(const char *path, const sscor_geometry *g, const sscor_flatfield *ff,
                                const sscor_image *coarse, int scale, double fg,
                                const sscor_refine_params *p, sscor_refine_progress_fn cb, void *user,
                                sscor_model *m, int *n_pairs);

#endif
