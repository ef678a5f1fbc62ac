#include "comm/device_share.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/err.h"
#include "util/fault.h"

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

int comm_device_sharers(const comm_device *all, int n, int me)
{
    int count = 0;
    if (!all[me].device[0])
        return 1;
    for (int i = 0; i < n; i++)
        count += !strcmp(all[i].host, all[me].host) && !strcmp(all[i].device, all[me].device);
    return count;
}

int comm_device_mixed(const comm_device *all, int n, int *gpu, int *cpu)
{
    *gpu = *cpu = -1;
    for (int i = 0; i < n; i++) {
        int *first = all[i].device[0] ? gpu : cpu;
        if (*first < 0)
            *first = i;
    }
    return *gpu >= 0 && *cpu >= 0;
}

int comm_device_exchange(const comm_info *ci, const char *device, comm_device_verdict *v)
{
    comm_device mine;
    memset(&mine, 0, sizeof mine);
    memset(v, 0, sizeof *v);
    v->sharers = 1;
    snprintf(mine.device, sizeof mine.device, "%s", device);
    comm_device *all = calloc((size_t)ci->size, sizeof *all);
    int rc = 0;
    if (fault_at("devices") || gethostname(mine.host, sizeof mine.host - 1) < 0)
        rc = err_errno("gethostname (naming this rank's node, to see which ranks share a GPU)");
    else if (!all)
        rc = err_set("out of host memory for the ranks' devices");
    /* a rank that failed still votes, or its peers would wait in the gather */
    if (comm_gate(ci, rc) == 0 && (rc = comm_allgather(&mine, all, sizeof mine)) == 0) {
        v->shared = comm_device_pair(all, ci->size, &v->a, &v->b);
        if (v->shared)
            v->pair = all[v->a];
        v->sharers = comm_device_sharers(all, ci->size, ci->rank);
        v->mixed = comm_device_mixed(all, ci->size, &v->gpu, &v->cpu);
        if (v->mixed)
            memcpy(v->cpu_host, all[v->cpu].host, sizeof v->cpu_host);
    } else {
        rc = -1;
    }
    free(all);
    return rc;
}
