/* outpath: whether a command may write at a path. An output never replaces
 * a file the same command reads (its inputs: the config, the checkpoint,
 * the data), and a file output never lands on what is not a regular file
 * (a directory, a device such as /dev/full, a FIFO, a socket, or a link to
 * one of those): a rename would swap a device node for a file, a write to
 * a FIFO would block.
 *
 * Files are told apart by device and inode, not by name: another spelling
 * (./ck.h5), a symbolic link or a hard link of an input is that input. The
 * checks are made before the command does any work, so a refusal changes
 * nothing on disk; they guard against mistakes, not against another
 * process changing the paths in between. */
#ifndef ACCEL_OUTPATH_H
#define ACCEL_OUTPATH_H

#include <stddef.h>
#include <sys/types.h>

#include "util/err.h"

typedef struct {
    dev_t dev;
    ino_t ino;
    char *what; /* "the config file this command reads (cfg.ini)" */
} outpath_input;

/* The inputs of one command; zero it before the first outpath_add. */
typedef struct {
    outpath_input *v;
    size_t n, cap;
} outpath_inputs;

/* Adds the file or directory at path (through links) as an input, described
 * by the formatted text (a noun phrase: "the checkpoint this command
 * evaluates (--eval ck.h5)"). A path that cannot be looked at is no input:
 * the command cannot read it either, and its reader says why. Fails only for
 * want of memory. */
int outpath_add(outpath_inputs *in, const char *path, const char *fmt, ...) ERR_PRINTF(3, 4);

/* Whether a file may be written at path, created or replaced: yes when
 * nothing is there (or a link to nothing) or a regular file that is none of
 * the inputs. Otherwise -1, with one line "<label><path>: <why>; <advice>",
 * e.g. "--predict ck.h5: is the checkpoint this command evaluates (--eval
 * ck.h5); choose another output path". */
int outpath_check_file(const outpath_inputs *in, const char *label, const char *path,
                       const char *advice);

/* Whether a directory that the command creates files in may be at path:
 * yes when nothing is there yet or a directory (through links) that is none
 * of the inputs. The message as outpath_check_file's. */
int outpath_check_dir(const outpath_inputs *in, const char *label, const char *path,
                      const char *advice);

void outpath_free(outpath_inputs *in);

#endif
