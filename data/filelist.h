/* filelist: the files a spec names, for the readers of streams (text,
 * token shards). A spec is files, directories (their regular files, not
 * what links point to, not subdirectories) and glob patterns, separated by
 * commas; files whose name matches a pattern of `exclude` are left out.
 * Anything else that is not a regular file (a FIFO, a device, a socket),
 * named or met in a directory or a glob, is refused in one line naming it,
 * unless `exclude` leaves it out: reading it would block or never end.
 * The list is sorted by path, so a stream does not depend on the order its
 * files were named in. Private to data/. */
#ifndef ACCEL_FILELIST_H
#define ACCEL_FILELIST_H

#include <stddef.h>

typedef struct {
    char **paths;
    size_t n, cap;
} file_list;

/* Fills fl (zeroed) with the files of spec; `key` names the config key in
 * messages ("data.train") and `what` the files ("text files"). At least one
 * file, or an error. fl is freed when it fails. */
int file_list_open(file_list *fl, const char *spec, const char *exclude, const char *key,
                   const char *what);

void file_list_free(file_list *fl);

#endif
