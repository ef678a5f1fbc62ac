/* datafiles: the files and directories a config's data keys may read, for
 * the check that no output of a command replaces one (trainer/outputs.c).
 *
 * A superset of what the readers open, since a check against more files
 * than are read only refuses more: each comma-separated entry of data.train
 * and data.test as a path, the files it matches as a glob pattern, a
 * directory and every regular file directly in it, and for format = idx the files an
 * entry names as a prefix (P-images-idx3-ubyte[.gz], P-labels-idx1-ubyte
 * [.gz], dataset_idx.c). data.exclude is not applied. An entry that names
 * nothing is passed over: opening the data reports it. */
#ifndef ACCEL_DATAFILES_H
#define ACCEL_DATAFILES_H

#include <stdbool.h>

#include "data/dataset.h"

/* Called with each path, the key whose spec names it ("data.train") and
 * whether it is a directory; returns 0, or -1 (the error set) to stop. */
typedef int (*datafiles_fn)(void *ctx, const char *path, const char *key, bool dir);

/* Calls fn for every path of o->train and o->test (see above); -1 where a
 * directory or a pattern cannot be listed, or where fn fails. */
int datafiles_each(const dataset_options *o, datafiles_fn fn, void *ctx);

#endif
