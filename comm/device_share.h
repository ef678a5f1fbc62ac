/* device_share: whether this rank's GPU is another rank's too.
 *
 * Counting GPUs does not tell: under Slurm's --gpus-per-task each rank
 * sees one device (its own, through CUDA_VISIBLE_DEVICES) while eight ranks
 * share the node, and without such binding two ranks can land on one
 * device. The ranks therefore exchange where they run (host name) and the
 * PCI bus id of the GPU they took; two ranks on one host with one bus id
 * share a GPU. NCCL refuses that ("Duplicate GPU detected"), so a job that
 * allows it (run.allow_shared_gpu) reduces gradients through host memory
 * with MPI instead.
 *
 * The same exchange tells a job whose ranks run on different backends:
 * run.device = auto takes the CPU where no GPU is usable, and a rank on
 * the CPU would then enter MPI's all-reduce while its peers enter NCCL's,
 * and the job would hang. */
#ifndef ACCEL_DEVICE_SHARE_H
#define ACCEL_DEVICE_SHARE_H

#include <stdbool.h>

#include "comm/comm.h"

typedef struct {
    char host[64];
    char device[32]; /* the GPU's PCI bus id; empty on the CPU */
} comm_device;

/* The first two ranks of all[0..n) (lowest a, then lowest b > a) on one
 * host with one device: 1 and *a, *b when there are such, else 0. Ranks
 * without a device (the CPU) share nothing. */
int comm_device_pair(const comm_device *all, int n, int *a, int *b);

/* How many ranks of all[0..n) run on rank me's GPU, me included: 1 for a
 * GPU of its own, and 1 on the CPU (a CPU rank shares no device). The
 * start-up memory check holds these ranks together to that GPU's free
 * memory. */
int comm_device_sharers(const comm_device *all, int n, int me);

/* Whether some ranks of all[0..n) run on a GPU and some on the CPU: 1 and
 * the lowest of each (*gpu, *cpu), else 0. */
int comm_device_mixed(const comm_device *all, int n, int *gpu, int *cpu);

/* What the ranks' devices say, the same on every rank. */
typedef struct {
    bool shared; /* ranks a and b run on one GPU, pair's */
    int a, b;
    comm_device pair;
    int sharers; /* ranks on this rank's GPU, itself included (comm_device_sharers) */
    bool mixed;  /* rank gpu runs on a GPU, rank cpu (on cpu_host) on the CPU */
    int gpu, cpu;
    char cpu_host[64];
} comm_device_verdict;

/* Gathers every rank's host and `device` (collective) and judges them with
 * comm_device_pair and comm_device_mixed, so every rank reaches the same
 * verdict (sharers is this rank's own). */
int comm_device_exchange(const comm_info *ci, const char *device, comm_device_verdict *v);

#endif
