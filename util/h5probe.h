/* h5probe: a malformed HDF5 file can crash libhdf5 itself. Version 1.10's
 * decoders of object headers, attribute messages and group heaps trust the
 * sizes and addresses they find in the file: fuzzing found reads past a
 * buffer and through a NULL pointer (tests/fuzz/crashes/README.md), inside
 * calls as plain as H5Lexists and H5Aexists, which no check made through
 * the library can come before.
 *
 * So before the program reads an HDF5 file it did not just write (a data
 * split, a checkpoint), a child process walks it first, the way the reader
 * will: it opens the file, looks up the names the reader will look up, and
 * visits every object reachable from the root: its header, each of its
 * attributes (opened and read) and, for a dataset, its type, dataspace,
 * layout and chunk index. The walk touches metadata only, so it costs
 * milliseconds whatever the size of the data. If the child dies (a
 * signal, a sanitizer's report) or takes longer than H5PROBE_SECONDS, the
 * file is refused with one line and the reader never opens it.
 *
 * This guards against the crashes seen, not against every defect of the
 * library: a read past a buffer that does not fault passes in the child as
 * it would in the reader. The checkpoint's CRC-32C (checkpoint_seal.c)
 * already refuses a checkpoint damaged by accident; the probe covers files
 * made or damaged with a valid checksum, and data files, which have none. */
#ifndef ACCEL_H5PROBE_H
#define ACCEL_H5PROBE_H

/* The longest walk allowed: metadata of a sane file takes milliseconds. */
#define H5PROBE_SECONDS 60

/* Walks the HDF5 file at path in a child process, looking up names[]
 * (NULL-terminated; NULL for none) on the way. 0 when the walk ended (even
 * where the library reported errors: the reader will report them better);
 * -1 with "<subject>: ..." when libhdf5 crashed on it or the walk could not
 * be run (subject names the file as the caller's messages do:
 * "checkpoint PATH", "data.train: PATH"). */
int h5probe_file(const char *path, const char *const *names, const char *subject);

#endif
