/* Model files and training checkpoints.
 *
 * FORMAT (version 1). Every integer is little-endian, every float an IEEE-754
 * binary32 stored little-endian, whatever the host.
 *
 *   header   8 bytes  magic "SSCORMF\n"
 *            u32      format version (1)
 *            u32      content: 1 = model, 2 = training checkpoint
 *   sections, each:
 *            u32      tag (four ASCII characters, e.g. "META" = 0x4154454d)
 *            u32      0 (reserved)
 *            u64      payload length in bytes
 *            ...      payload
 *   trailer  the section "CRC " with a 4-byte payload: CRC-32 (IEEE 802.3,
 *            as zlib's crc32()) of every byte before this section.
 *
 * Sections of a model (content 1), in this order:
 *   META  u32 channels (1..64), u32 patch side (pixels, multiple of 4),
 *         u32 sample format of the training data (0 unknown, 1 uint8,
 *         2 uint16, 3 float32; informational), u32 reserved (0),
 *         f32 low[channels], f32 high[channels]: intensity scaling used in
 *         training, value v maps to 2 * (v - low) / (high - low) - 1, so
 *         low -> -1 and high -> +1 (e.g. robust percentiles per channel),
 *         char preset[32] (NUL-padded name of the preset, informational)
 *   NET   one per network: u32 role (1 G_C corrector, 2 G_S synthesiser,
 *         3 D_X, 4 D_Y), u32 kind (1 generator, 2 discriminator), u32 in_ch,
 *         u32 out_ch, u32 width (ngf/ndf), u32 depth (blocks/layers),
 *         u32 output stage (generator: 0 tanh, 1 residual, 2 gain),
 *         u32 reserved (0), u64 parameter count, f32 params[count] in the
 *         order of core/nets.h (PyTorch parameters() order).
 *         A model holds G_C and may hold G_S.
 *   GEOM  optional: the stripe geometry the model was made for, in the text
 *         format of core/geometry.h (UTF-8, no NUL).
 *   FLAT  optional: the seam-aware flat-field estimated for that geometry
 *         (core/flatfield.h): u32 knots per axis nk, u32 tile count nt,
 *         u32 has tile gains (0/1), u32 flags (bit 0: an overlap factor
 *         follows; other bits 0), f64 dark,
 *         f64 knots u[nk], f64 knots v[nk], f64 log F[nk*nk],
 *         f64 log gain[nt] when has tile gains, f64 log factor of pixels
 *         covered by 2+ tiles when flags bit 0. Needs GEOM. Either one
 *         FLAT for every channel, or one FLAT per channel in channel order
 *         (fluorescence channels shade differently; the geometry is shared).
 *         A model holds G_C, or FLAT, or both (flat-field first, then G_C).
 *         An analysis (what sscorsample sends sscortrain) may hold GEOM
 *         alone: it loads, but corrects nothing (sscor_corrector_new
 *         refuses it).
 *   CRC
 *
 * A checkpoint (content 2) holds META, then the four NET sections (G_C, G_S,
 * D_X, D_Y), then:
 *   TCFG  training config: u32 patch, u32 epochs, u32 epochs_decay,
 *         f32 lr, f32 beta1, f32 beta2, f32 lambda_cycle, f32 lambda_identity,
 *         u32 pool_size, u32 flips, u64 seed
 *   ADAM  twice (generators, then discriminators): u32 which (1 G, 2 D),
 *         u32 reserved, u64 step count t, u64 n, f32 m[n], f32 v[n]
 *   POOL  twice (X, then Y): u32 which (1 X, 2 Y), u32 size, u32 count,
 *         u32 reserved, u64 floats per image, f32 images[count * floats]
 *   STAT  u32 epoch, u32 iteration within the epoch, u64 steps done,
 *         u64 rng state[4], u32 pair count, u32 CRC-32 of the pair data,
 *         f64 epoch loss sums[9], u32 order[pair count] (this epoch's shuffle)
 *   CRC
 *
 * Loading checks the magic, the version, the content kind, every section's
 * length against the file size and against what its fields imply, the
 * network configs (valid, parameter count equal to what the config needs),
 * the channel count against the networks, finite scaling with low < high,
 * and the checksum; any failure is an error that names the file and the
 * problem (e.g. "m.sscor: truncated: section NET needs 1.2 MB, 0.4 MB left";
 * "m.sscor: checksum mismatch (stored 1a2b3c4d, computed ...): file is
 * corrupt"). Files are written through core/fileio.h, so a reader never
 * sees a partial file. */
#ifndef SSCOR_MODEL_FILE_H
#define SSCOR_MODEL_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "fileio.h" /* sscor_read_file, sscor_write_file_atomic */
#include "nets.h"
#include "status.h"
#include "trainer.h"

#define SSCOR_MODEL_VERSION 1
#define SSCOR_MODEL_MAX_CHANNELS 64

typedef enum {
  SSCOR_SAMPLE_UNKNOWN = 0,
  SSCOR_SAMPLE_U8 = 1,
  SSCOR_SAMPLE_U16 = 2,
  SSCOR_SAMPLE_F32 = 3
} sscor_sample_format;

/* A trained corrector with what is needed to apply it. */
typedef struct {
  int channels;
  int patch;
  sscor_sample_format sample_format;
  float low[SSCOR_MODEL_MAX_CHANNELS], high[SSCOR_MODEL_MAX_CHANNELS];
  char preset[32];
  sscor_net *corrector;   /* G_C: owned by the model after load */
  sscor_net *synthesiser; /* G_S or NULL */
  /* Optional sections, owned by the model after load (sscor_model_clear
     frees them); core/correct.h turns them into a geometry and a field. */
  char *geometry;         /* GEOM text (NUL-terminated) or NULL */
  uint8_t *flatfield;     /* FLAT payloads, appended, or NULL */
  size_t flatfield_len;
  int flatfield_count;    /* FLAT payloads in flatfield: 1 for all channels, or one per channel
                             (0 is read as 1 when flatfield is set) */
} sscor_model;

/* Bytes of the FLAT payload starting at p (from its own header), 0 when it
 * is malformed or longer than avail. */
size_t sscor_model_flat_len(const uint8_t *p, size_t avail);

/* CRC-32 (IEEE), continuing from crc (start with 0). */
uint32_t sscor_crc32(uint32_t crc, const void *data, size_t n);

/* Serialise to a malloc'd buffer (free() it), e.g. to push downstream. */
sscor_status sscor_model_to_memory(const sscor_model *m, uint8_t **buf, size_t *len);
/* Parse a buffer; `name` (a path, "model buffer") prefixes error messages.
 * On success m owns new networks (sscor_model_clear frees them). */
sscor_status sscor_model_from_memory(const uint8_t *buf, size_t len, const char *name, sscor_model *m);
sscor_status sscor_model_save(const sscor_model *m, const char *path);
sscor_status sscor_model_load(const char *path, sscor_model *m);
/* Frees the networks and sections a load created. */
void sscor_model_clear(sscor_model *m);

/* Training checkpoints: everything needed to continue a run exactly. The
 * model part (META) carries scaling so a checkpoint is also usable as a model
 * after sscor_checkpoint_load. Load into a trainer created with the same
 * config and the same pairs: a mismatch is an error naming what differs. */
sscor_status sscor_checkpoint_save(const sscor_trainer *t, const sscor_model *meta, const char *path);
sscor_status sscor_checkpoint_load(sscor_trainer *t, const char *path);

#endif
