/* checkpoint: HDF5 files that hold a training run's whole state.
 *
 * Layout (float32 unless noted), readable by h5dump or h5py alone:
 *   /model/<layer>/<tensor>                         parameters (weight, bias)
 *                                                   and kept state (running_mean,
 *                                                   running_var), shaped as in PyTorch
 *   /optimizer/m/<layer>/<param>, /optimizer/v/...  Adam moments of the parameters
 *   /config                                         the config text (string), and
 *       its --set overrides: the model's description, which a reader
 *       compares with the config's (checkpoint_model.h)
 *   /tokenizer (uint8)                              the bytes of the run's
 *       tokenizer.json (data.tokenizer), verbatim; absent without one
 *   /state/rng_seed (uint64), /state/rng (string)   the random state: every
 *       random number is Philox4x32-10 of (seed, stream, step, index), so
 *       the seed and the step counters are the whole of it
 *   root attributes (int64): format_version, step, epoch, step_in_epoch,
 *                            samples_seen, world_size, batch_size,
 *                            cpu_threads; seed (uint64)
 * <layer> is the layer's name (layer<i> by default); layers without
 * tensors have no group.
 *
 * In front of the HDF5 bytes, which HDF5 tools find on their own, a header
 * of CKPT_HEADER_BYTES holds the format and a CRC-32C of the rest, checked
 * before HDF5 reads anything (see checkpoint_seal.c).
 *
 * A checkpoint is built in memory, written to a temporary name in the same
 * directory, flushed, and renamed to ckpt-<step>.h5, so a crash at any
 * moment leaves the previous checkpoints whole, and a failed write (a full
 * disk) is our own write() failing, reported with its path and errno. */
#ifndef ACCEL_CHECKPOINT_H
#define ACCEL_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trainer/config.h"
#include "trainer/model.h"

/* The format written: 3 since the sample order became a keyed permutation
 * computed per position (data/sampler.c). Format 2 is laid out the same
 * and is read too; only the sample order of the run that wrote it was
 * another (a Fisher-Yates shuffle), so a resume from it continues the same
 * training but not bitwise, and says so. */
#define CKPT_FORMAT_VERSION 3
#define CKPT_FORMAT_OLDEST  2

/* The file's first bytes: an HDF5 user block holding accel-train's header,
 * the format and a CRC-32C of the rest (checkpoint_seal.c). */
#define CKPT_HEADER_BYTES 512

typedef struct {
    int64_t step;          /* optimizer updates done */
    int64_t epoch;         /* the epoch the next step belongs to */
    int64_t step_in_epoch; /* the next step's position in it */
    int64_t samples_seen;
    int64_t world_size; /* of the run that wrote it (any may resume it) */
    int64_t batch_size; /* global */
    /* OpenBLAS threads of each rank of the run that wrote it; 0 on GPUs (or
     * unknown). With the world size, what a bitwise continuation needs: the
     * thread count changes how OpenBLAS splits a product's inner dimension. */
    int64_t cpu_threads;
    uint64_t seed;
    /* The format_version ckpt_read found; ckpt_save writes
     * CKPT_FORMAT_VERSION whatever this holds. */
    int format;
    /* What ckpt_save writes as /tokenizer (borrowed; NULL: none). ckpt_read
     * leaves it NULL: ckpt_read_tokenizer reads it. */
    const char *tokenizer;
    size_t tokenizer_len;
} ckpt_state;

/* Writes dir/ckpt-<step>.h5; its path goes into path (size bytes). */
int ckpt_save(const char *dir, const model *m, const config *cfg, const ckpt_state *st, char *path,
              size_t size);

/* ckpt_save in two halves, for a sharded run (m->shard), whose moments
 * the ranks gather into the staged buffer between them: the model's
 * buffers brought to the host as ckpt_read lays them out (ckpt_host_floats:
 * parameters, m, v, state), the moments left unset when sharded; then the
 * file written from that buffer, the same file as ckpt_save's. */
float *ckpt_stage(const model *m);
int ckpt_save_staged(const char *dir, const model *m, const config *cfg, const ckpt_state *st,
                     const float *host, char *path, size_t size);

/* Where a layer's tensor lives in a checkpoint: its dataset's name under
 * root ("<root>/<layer>/<tensor>") and its dimensions. Shared by the writer
 * and the reader so that the two cannot disagree. */
void ckpt_tensor_place(const char *root, const layer *l, const layer_tensor *x, char *name,
                       size_t size, unsigned long long *dims);

/* What ckpt_read says of a checkpoint it cannot use. */
enum {
    CKPT_DAMAGED = -1,  /* unreadable: truncated, corrupt, not HDF5 */
    CKPT_MISMATCH = -2, /* readable, but of another model or format */
};

/* Writes the header into the first CKPT_HEADER_BYTES of a checkpoint's
 * image of size bytes, the room left in front of the HDF5 bytes. */
void ckpt_seal(void *image, size_t size);

/* Checks a checkpoint's header, length and CRC. Returns 0 or a CKPT_
 * code. */
int ckpt_verify(const char *path);

/* 0 for a format this accel-train reads (CKPT_FORMAT_OLDEST to
 * CKPT_FORMAT_VERSION), else CKPT_MISMATCH with a message naming path. */
int ckpt_check_format(int64_t format, const char *path);

/* What a checkpoint's model must share with the config's beyond its
 * tensors (checkpoint_model.h). */
typedef struct {
    /* training goes on from it: the keys that shape training alone must be
     * the config's too */
    bool resume;
    /* "LAYER.KEY" each: such a key that may differ, on purpose */
    const char *const *allowed;
    int n_allowed;
} ckpt_model_rules;

/* Checks that each of rules' allowances names a layer of cfg and a key of
 * its type that shapes training alone (not what it computes). */
int ckpt_model_rules_check(const ckpt_model_rules *rules, const config *cfg);

/* Reads a checkpoint into host memory: the parameters, m, v and the state
 * one after another in `host` (ckpt_host_floats(m) floats), after checking
 * that its model is m's as rules say (NULL: the keys that define what each
 * layer computes; checkpoint_model.h) and that it holds exactly m's layers
 * with tensors, each tensor of m's shape. Returns 0 or a CKPT_ code; *st
 * is changed only on success. */
int ckpt_read(const char *path, const model *m, const ckpt_model_rules *rules, ckpt_state *st,
              float *host);

/* The checkpoint's /tokenizer (checkpoint_tokenizer.c): its bytes in a
 * malloc'ed *json (*len of them, and a NUL after them), or *json NULL
 * where it has none (a byte-level model's, an older checkpoint). Returns
 * 0 or a CKPT_ code. */
int ckpt_read_tokenizer(const char *path, char **json, size_t *len);

/* Refuses, in one line, a run whose tokenizer (json, len; NULL: none,
 * `name` the config's data.tokenizer) is not the one checkpoint path
 * holds: its model's ids would mean other text. */
int ckpt_check_tokenizer(const char *path, const char *json, size_t len, const char *name);

/* The size of ckpt_read's host buffer, in floats. */
size_t ckpt_host_floats(const model *m);

/* Reads the checkpoint at path (ckpt_read) and puts its parameters and
 * kept state into m, for evaluation or generation. */
int ckpt_load_params(const char *path, model *m);

/* The steps of the ckpt-<step>.h5 files in dir, newest first (*steps is
 * malloc'ed). */
int ckpt_list(const char *dir, int64_t **steps, size_t *count);

/* dir/ckpt-<step>.h5 */
void ckpt_path(const char *dir, int64_t step, char *path, size_t size);

/* Deletes the temporary files that writers killed mid-write left in dir
 * (those whose process is gone). */
int ckpt_clean_temps(const char *dir);

/* Deletes all but the newest `keep` ckpt-<step>.h5 files in dir. */
int ckpt_prune(const char *dir, int keep);

#endif
