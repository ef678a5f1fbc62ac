#include "comm/device_share.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trainer/err.h"

int comm_device_pair(const comm_device *all, int n, int *a, int *b)
{
    for (int i = 0; i < n; i++)
        for (int j = i + 1; all[i].device[0] && j < n; j++)
            if (!strcmp(all[i].host, all[j].host) && !strcmp(all[i].device, all[j].device)) {
                *a = i;
                *b = j;
                return 1;
            }
    return 0;
}

int comm_device_exchange(const comm_info *ci, const char *device, int *found, int *a, int *b,
                         comm_device *pair)
{
    comm_device mine;
    memset(&mine, 0, sizeof mine);
    if (gethostname(mine.host, sizeof mine.host - 1) < 0)
        return err_errno("gethostname");
    snprintf(mine.device, sizeof mine.device, "%s", device);
    comm_device *all = calloc((size_t)ci->size, sizeof *all);
    if (!all)
        return err_set("out of host memory for the ranks' devices");
    int rc = comm_allgather(&mine, all, sizeof mine);
    *found = rc == 0 && comm_device_pair(all, ci->size, a, b);
    if (*found)
        *pair = all[*a];
    free(all);
    return rc;
}
