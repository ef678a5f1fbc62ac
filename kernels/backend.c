#include "kernels/backend.h"

#include <stdio.h>

#include "trainer/err.h"

#ifndef ACCEL_HAVE_CUDA
bool backend_cuda_usable(const char **why)
{
    *why = "this accel-train was built without the CUDA backend";
    return false;
}

backend *backend_cuda_open(const backend_options *o)
{
    (void)o;
    err_set("run.device = cuda, but this accel-train was built without the CUDA backend "
            "(rebuild with the CUDA toolkit, or use device = cpu or auto)");
    return NULL;
}
#endif

backend *backend_open(const backend_options *o, const char **note)
{
    static char why_cpu[512];
    *note = NULL;
    if (o->device == DEVICE_CUDA)
        return backend_cuda_open(o);
    if (o->device == DEVICE_AUTO) {
        const char *why;
        if (backend_cuda_usable(&why))
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
    return backend_cpu_open(o->threads);
}

void backend_close(backend *be)
{
    if (be)
        be->destroy(be);
}
