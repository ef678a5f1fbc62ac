/* outputs: what a command writes, checked against what it reads before it
 * does any work, so that a refusal leaves the disk as it was (the rules are
 * util/outpath.h's). The inputs: the config file, the data (every path the
 * data keys name, data/datafiles.h), and the checkpoint evaluated or
 * resumed from. The outputs checked:
 *   --eval CK --predict OUT
 *       OUT and its temporary OUT.tmp: files, none of the inputs (CK
 *       included); OUT's directory must be there and writable.
 *   training (rank 0)
 *       the run directory and the checkpoint directory: directories, none
 *       of them a data directory (its files would join the data); the run
 *       directory's metrics.jsonl: a file, no input; and the ckpt-<step>.h5
 *       files already in the checkpoint directory, which a new checkpoint
 *       replaces or pruning deletes: none of them the config or data. The
 *       checkpoint resumed from is exempt from that last check alone: it is
 *       one of the directory's own, never rewritten (a new step has a new
 *       name) and pruned in its turn (checkpoint.keep).
 * Written elsewhere, and safe by construction: the TensorBoard event file,
 * created under a name of its own (tboard.c), and a checkpoint's temporary
 * file, created exclusively (checkpoint.c). */
#ifndef ACCEL_OUTPUTS_H
#define ACCEL_OUTPUTS_H

#include "trainer/config.h"

int outputs_check_predict(const config *cfg, const char *ckpt, const char *predict);

/* resumed: the checkpoint the run continues from, or NULL. */
int outputs_check_run(const config *cfg, const char *run_dir, const char *ckpt_dir,
                      const char *resumed);

#endif
