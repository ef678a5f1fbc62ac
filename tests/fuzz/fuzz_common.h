/* fuzz_common: what the libFuzzer harnesses of tests/fuzz share.
 *
 * The readers under test take file names, not buffers, so each harness
 * writes its input to a scratch file of its own and hands the reader that
 * path, exactly as the program would. The files are named by process and
 * harness (/tmp/accel-fuzz-<pid>-<name>), so harnesses running side by side
 * (ctest -j, libFuzzer -jobs) never share one; they are rewritten for every
 * input and removed when the process exits normally (a crash leaves them,
 * which is harmless and shows which harness it was).
 *
 * The data harnesses (fuzz_idx, fuzz_cifar, fuzz_hdf5_data) differ only in
 * how they turn their input into files and a data.train spec: fuzz_dataset
 * then opens, reads and closes the split the same way for each. The
 * language-model harnesses (fuzz_text, fuzz_tokens) open both splits with
 * fuzz_splits, as the trainer does for data.format = text and tokens.
 *
 * The HDF5 harnesses also check, after each input, that the reader closed
 * every HDF5 identifier it opened: HDF5 keeps the memory behind a leaked
 * identifier in its own free lists, which LeakSanitizer cannot see (and
 * tests/lsan.supp suppresses libhdf5's stacks anyway). */
#ifndef ACCEL_FUZZ_COMMON_H
#define ACCEL_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "data/dataset.h"
#include "trainer/config.h"

/* The path of this process's scratch file `name` (registered for removal
 * at exit on first use). The string lives as long as the process. */
const char *fuzz_path(const char *name);

/* Writes len bytes to the scratch file `name` (replacing what it held) and
 * returns its path. Aborts when the file cannot be written: that is the
 * machine's failure, not the input's, and must not pass as a clean run. */
const char *fuzz_write(const char *name, const void *data, size_t len);

/* Opens the split `spec` with dataset_open, as the trainer opens
 * data.train (in the format cfg->data_format), and when it opens, reads
 * from it with fuzz_gather and closes it; then clears the error message,
 * opened or not, for the next input. `harness` names the harness in
 * fuzz_gather's abort. */
void fuzz_dataset(const config *cfg, const char *spec, const char *harness);

/* Opens the splits of `o` with dataset_open_splits, as the trainer opens
 * data.train and data.test (or the validation part of data.train), reads
 * from each with fuzz_gather and closes them; then clears the error
 * message for the next input. */
void fuzz_splits(const dataset_options *o, const char *harness);

/* What the trainer's loader asks of an open split: sample 0, then, when
 * that is read, a batch of four (n-1, 0, n-1, n/2: unsorted, with the last
 * sample and a repeat, so a reader that sorts, merges runs or grows a
 * scratch buffer does so); read errors are the input's and pass. What is
 * read must be what the split promised: every label, or token id and
 * target, in [0, classes). Then sample n, which must be refused. Aborts,
 * naming `harness`, when either fails. A split whose samples are over 2^20
 * values is not read (legal, but a few bytes of HDF5 can declare
 * gigabytes of fill value, which the gather would really write). */
void fuzz_gather(dataset *ds, const char *harness);

/* Marks where HDF5's identifiers stand; call before each input. */
void fuzz_h5_begin(void);

/* Aborts, naming it, when an HDF5 identifier opened since fuzz_h5_begin is
 * still open: the reader leaked it (`what` names the harness). */
void fuzz_h5_check(const char *what);

#endif
