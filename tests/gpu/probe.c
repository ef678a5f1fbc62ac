/* gpu_probe: exit 0 when this machine has a GPU the CUDA backend can use;
 * 77 (which ctest counts as SKIPPED) when it has none; 1 when it has one
 * that this build cannot use (an old driver, an architecture not built
 * for): that is a failure to fix, not a machine without a GPU. */
#include <stdio.h>

#include "kernels/backend.h"

int main(void)
{
    const char *why;
    int usable = backend_cuda_usable(0, &why);
    if (usable == 1)
        return 0;
    if (usable < 0) {
        printf("FAILED: there is a GPU, but this build cannot use it: %s\n", why);
        return 1;
    }
    printf("SKIPPED: no usable GPU: %s\n", why);
    return 77;
}
