/* device_share: whether this rank's GPU is another rank's too.
 *
 * Counting GPUs does not tell: under Slurm's --gpus-per-task each rank
 * sees one device (its own, through CUDA_VISIBLE_DEVICES) while eight ranks
 * share the node, and without such binding two ranks can land on one
 * device. The ranks therefore exchange where they run (host name) and the
 * PCI bus id of the GPU they took; two ranks on one host with one bus id
 * share a GPU. NCCL refuses that ("Duplicate GPU detected"), so a job that
 * allows it (run.allow_shared_gpu) reduces gradients through host memory
 * with MPI instead. */
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

/* Gathers every rank's host and `device` (collective), and answers
 * comm_device_pair over them, so every rank reaches the same verdict; *pair
 * gets the shared device and its host when there is one. */
int comm_device_exchange(const comm_info *ci, const char *device, int *found, int *a, int *b,
                         comm_device *pair);

#endif
