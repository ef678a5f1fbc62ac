#include "util/fault.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The rank as the launcher gave it (mpirun, or srun with or without PMIx),
 * so that the sites need not be handed one: util/ knows nothing of MPI. */
static long launcher_rank(void)
{
    const char *names[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "SLURM_PROCID"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *v = getenv(names[i]);
        if (v)
            return strtol(v, NULL, 10);
    }
    return 0;
}

bool fault_at(const char *site)
{
    /* read each time: only start-up paths ask */
    const char *want = getenv("ACCEL_FAULT");
    if (!want)
        return false;
    size_t n = strlen(site);
    if (strncmp(want, site, n))
        return false;
    bool hit = want[n] == '\0';
    if (want[n] == '@') {
        char *end;
        long r = strtol(want + n + 1, &end, 10);
        hit = *end == '\0' && end != want + n + 1 && r == launcher_rank();
    }
    if (hit)
        errno = EIO; /* a system call's failure path then reads as one */
    return hit;
}
