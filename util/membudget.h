/* membudget: the memory this process can have, and the check, made before
 * allocating, that what it is about to take fits in it.
 *
 * Linux overcommits: an allocation far larger than the machine succeeds,
 * and the process is killed later, while touching it, with no word of why
 * (or, under a cgroup limit, the whole job is). So the trainer works out
 * what a rank needs (memplan) and asks here first, and the data readers
 * ask before they read a file into memory. */
#ifndef ACCEL_MEMBUDGET_H
#define ACCEL_MEMBUDGET_H

#include <stdint.h>

/* The memory available, the tightest of: MemAvailable in /proc/meminfo;
 * the limits of this process's cgroups (v2 memory.max, v1
 * memory.limit_in_bytes) less what they already use; RLIMIT_AS less the
 * address space in use; and ACCEL_MEM_BUDGET in the environment (512M,
 * 4G: K, M, G, T are powers of 1024), a figure set by hand that can only
 * lower the one found: to leave room for other work on the node, and for
 * tests of what does not fit without filling a machine. It is fixed, not
 * less what the process holds already (each check holds what it is about
 * to take to it). A value that is not such a size is a budget of 0 whose
 * source says so, so the first check tells it. `shared` says whether the
 * figure is shared by the node's processes (all but RLIMIT_AS and
 * ACCEL_MEM_BUDGET), `source` names where it came from. Nothing is known
 * (bytes = UINT64_MAX) where none can be read. */
typedef struct {
    uint64_t bytes;
    int shared;
    char source[256];
} mem_budget;

void mem_budget_read(mem_budget *b);

/* 0 when `need` bytes for each of `sharers` processes of this node, and
 * `once` bytes more for one of them (rank 0's checkpoint writing: the
 * message says "in rank 0"; it may be on this node), fit in
 * the budget; else -1 with one line saying what needs it (`what`, plural:
 * "this run's buffers"), the figures, where the limit comes from, and
 * `hint` (what to do; may be NULL). sharers < 1 counts as 1. A budget of
 * this process alone (RLIMIT_AS) is held to need + once: which process of
 * the node takes `once` is not known here. */
int mem_budget_check(uint64_t need, uint64_t once, int sharers, const char *what, const char *hint);

/* The same with a budget at hand, for tests. */
int mem_budget_fits(const mem_budget *b, uint64_t need, uint64_t once, int sharers,
                    const char *what, const char *hint);

#endif
