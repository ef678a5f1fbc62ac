#include "util/h5util.h"

#include <hdf5.h>
#include <stdio.h>

#include "util/err.h"

/* Keeps the description of the innermost HDF5 error, which says what went
 * wrong (e.g. "unable to open file"), where the outer ones only say where. */
static herr_t keep_first_desc(unsigned n, const H5E_error2_t *e, void *data)
{
    if (n == 0 && e->desc)
        snprintf(data, 256, "%s", e->desc);
    return 0;
}

int h5util_fail_in(const char *context, const char *call, const char *object)
{
    char desc[256] = "";
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, keep_first_desc, desc);
    H5Eclear2(H5E_DEFAULT);
    return err_set("%s: HDF5 %s(%s) failed%s%s", context, call, object, desc[0] ? ": " : "", desc);
}

int h5util_fail(const char *call, const char *object, const char *path)
{
    char context[4096 + 16];
    snprintf(context, sizeof context, "checkpoint %s", path);
    return h5util_fail_in(context, call, object);
}

void h5util_quiet(void)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void h5util_shape_text(char *buf, size_t size, int rank, const hsize_t *dims)
{
    size_t used = (size_t)snprintf(buf, size, "(");
    for (int i = 0; i < rank && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%llu", i ? ", " : "",
                                 (unsigned long long)dims[i]);
    if (used < size)
        snprintf(buf + used, size - used, ")");
}
