/* checkpoint_model: a checkpoint is read only into the model it holds.
 *
 * Its tensors' shapes tell a model's sizes, not what it computes: attention
 * of 4 heads or of 8, a GELU or a ReLU, a layer norm's eps, a pool's stride
 * have the same tensors or none. The checkpoint's /config records the model
 * as the config that wrote it described it ([layer] sections and their
 * --set overrides), so before any tensor is read the layers of that model
 * are compared with the config's, in order: the same number, each of the
 * same type, and every key the type takes equal but for those its table
 * marks (config_key.h): CK_STARTS keys (init) never, CK_TRAINS keys
 * (dropout rates, batch norm's momentum and sync) only for a resume, where
 * --allow-change LAYER.KEY lets one differ on purpose. */
#ifndef ACCEL_CHECKPOINT_MODEL_H
#define ACCEL_CHECKPOINT_MODEL_H

#include <hdf5.h>

#include "trainer/checkpoint.h"
#include "trainer/model.h"

/* Compares the model of the open checkpoint `file` (at path) with m's
 * config, as rules say (NULL: what any reading needs, the keys that define
 * the function). Returns 0, or CKPT_MISMATCH with one line naming the
 * layer, the key and both values (or an HDF5 failure's -1). */
int ckpt_model_check(hid_t file, const char *path, const model *m, const ckpt_model_rules *rules);

#endif
