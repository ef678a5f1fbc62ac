/* gpu_probe: exit 0 when this machine has a GPU the CUDA backend can use;
 * otherwise say why on stdout and exit 77, which ctest counts as SKIPPED. */
#include <stdio.h>

#include "kernels/backend.h"

int main(void)
{
    const char *why;
    if (backend_cuda_usable(&why))
        return 0;
    printf("SKIPPED: no usable GPU: %s\n", why);
    return 77;
}
