#include "kernels/backend.h"

#include "trainer/err.h"

backend *backend_open(device_kind device, int threads, const char **note)
{
    *note = NULL;
    if (device == DEVICE_CUDA) {
        err_set("run.device = cuda, but this build of accel-train has no CUDA backend; "
                "use device = cpu or auto");
        return NULL;
    }
    return backend_cpu_open(threads);
}

void backend_close(backend *be)
{
    if (be)
        be->destroy(be);
}
