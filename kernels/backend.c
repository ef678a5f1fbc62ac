#include "kernels/backend.h"

#include <stdio.h>

#include "util/err.h"

/* OpenBLAS's description of its build (version, threading, kernel). */
char *openblas_get_config(void);

#ifndef ACCEL_HAVE_CUDA
int backend_cuda_usable(int local_rank, const char **why)
{
    (void)local_rank;
    *why = "this accel-train was built without the CUDA backend";
    return 0;
}

void backend_cuda_versions(char *buf, size_t size)
{
    snprintf(buf, size, "CUDA: not in this build\n");
}

backend *backend_cuda_open(const backend_options *o)
{
    (void)o;
    err_set("run.device = cuda, but this accel-train was built without the CUDA backend "
            "(rebuild with the CUDA toolkit, or use device = cpu or auto)");
    return NULL;
}
#endif

device_kind backend_choose(device_kind asked, int usable)
{
    if (asked == DEVICE_AUTO)
        return usable == 1 ? DEVICE_CUDA : DEVICE_CPU;
    return asked;
}

backend *backend_open(const backend_options *o, const char **note)
{
    static char why_cpu[512];
    *note = NULL;
    if (o->device == DEVICE_CUDA)
        return backend_cuda_open(o);
    if (o->device == DEVICE_AUTO) {
        const char *why;
        if (backend_choose(o->device, backend_cuda_usable(o->local_rank, &why)) == DEVICE_CUDA)
            return backend_cuda_open(o);
#ifdef ACCEL_HAVE_CUDA
        /* Only a CUDA build has a GPU to miss; a CPU build is CPU by design. */
        snprintf(why_cpu, sizeof why_cpu, "run.device = auto: no usable GPU (%s): using the CPU",
                 why);
        *note = why_cpu;
#else
        (void)why_cpu;
#endif
    }
    backend *be = backend_cpu_open(o->threads);
    if (be)
        be->precision = o->precision;
    return be;
}

void backend_versions(char *buf, size_t size)
{
    int n = snprintf(buf, size, "OpenBLAS: %s\n", openblas_get_config());
    if (n > 0 && (size_t)n < size)
        backend_cuda_versions(buf + n, size - (size_t)n);
}

void backend_close(backend *be)
{
    if (be)
        be->destroy(be);
}
