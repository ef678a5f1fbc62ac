/* gpumem: what a rank takes of its GPU's memory, worked out before any of
 * it is allocated, and the check, together with every rank that shares
 * the GPU, against what the GPU has free.
 *
 * A rank's terms:
 *   buffers  the model's (memplan.model): parameters, gradients, Adam's
 *            moments, activations, inputs and workspaces;
 *   cublas   cuBLAS's default workspace pool, which its handle takes on the
 *            first product: 32 MiB on Hopper and Blackwell, 4 MiB on the
 *            others, as cuBLAS documents it (kernels/cuda/gpucaps.h);
 *   cudnn    the convolutions' shared workspace: the largest that any of the
 *            model's plans takes, as cuDNN's heuristics choose for it
 *            (backend.h's conv_workspace, which allocates nothing);
 *   nccl     NCCL's buffers, a bound (gpumem_nccl_bytes), where NCCL
 *            carries the gradients.
 * What the GPU has free is read after every rank has opened its backend
 * (CUDA context, cuBLAS and cuDNN handles, the backend's scratch) and
 * before any allocates: those are out of it already.
 *
 * Plain arithmetic over figures given, so the unit tests drive it with
 * made-up GPUs (tests/unit/test_memory.c). */
#ifndef ACCEL_GPUMEM_H
#define ACCEL_GPUMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kernels/backend.h"
#include "trainer/memplan.h"

typedef struct {
    uint64_t buffers, cublas, cudnn, nccl;
    int nccl_channels; /* the channels nccl counts (the knob to lower it); 0 without NCCL */
} gpumem_rank;

/* What NCCL's buffers depend on. Sizes from NCCL 2.28: NCCL_BUFFSIZE's
 * documented default (4 MiB, "the size of the buffer used by NCCL when
 * communicating data between pairs of GPUs"); the LL and LL128 protocols'
 * buffers and the channel cap from its source (src/init.cc,
 * src/include/device.h). */
typedef struct {
    int ranks;              /* in the communicator; 0 or 1: no peer, no buffers */
    int local_ranks;        /* of them on this rank's node */
    int nodes;              /* the nodes they span */
    int compute_capability; /* major * 10 + minor: NVLink SHARP from 9.0 */
    int channels;           /* the most NCCL opens: NCCL_MAX_NCHANNELS, else its cap, 64 */
    uint64_t simple;        /* a connection's buffer of each protocol: NCCL_BUFFSIZE, */
    uint64_t ll, ll128;     /* and 512 KiB and 4.6875 MiB */
    bool nvls;              /* NVLink SHARP allowed (NCCL_NVLS_ENABLE is not 0) */
} gpumem_nccl;

/* NCCL's defaults for a communicator of `ranks` (local_ranks a node, over
 * `nodes`) on GPUs of compute_capability, with the documented knobs
 * NCCL_BUFFSIZE, NCCL_MAX_NCHANNELS and NCCL_NVLS_ENABLE read through
 * `env` (getenv, or a test's) as NCCL reads them (its src/misc/param.cc:
 * strtoll in base 0; channels held to 1..64). NCCL also reads nccl.conf
 * files; these are not. */
void gpumem_nccl_setup(gpumem_nccl *n, int ranks, int local_ranks, int nodes,
                       int compute_capability, char *(*env)(const char *));

/* A bound on the GPU memory of NCCL's buffers for one rank: for each
 * channel, a connection to each peer the ring and tree algorithms may give
 * it (the ring's one; the tree's up to two on the node and, across nodes,
 * three more, four at most), each connection a receive side holding the
 * three protocols' buffers and a send side, each rounded to NCCL's 2 MiB
 * allocation unit (what NCCL's allocation log shows: 10 MiB and 2 MiB
 * a connection, NVIDIA/nccl#1685); and on 9.0 and later with peers on the
 * node, NVLink SHARP's buffers (16 channels, 32 from 10.0, of 2 x 1 MiB a
 * rank of the node; NCCL rounds them to the multicast granularity the
 * driver recommends, not known before, not counted). The transports all
 * fit in it: P2P holds it all in GPU
 * memory, the network's receive side (GPUDirect RDMA) less, shared memory
 * none. 0 with no peer. */
uint64_t gpumem_nccl_bytes(const gpumem_nccl *n);

/* A rank's terms on GPU backend `be`: the model's buffers and the
 * convolutions' workspace of plan p (made with be as its device), cuBLAS's
 * workspace, and where `nccl`, NCCL's buffers for a communicator of
 * `ranks` (local_ranks a node, over `nodes`), its knobs read from the
 * environment. */
void gpumem_of(gpumem_rank *r, const backend *be, const memplan *p, bool nccl, int ranks,
               int local_ranks, int nodes);

/* A rank's terms added up. */
uint64_t gpumem_rank_bytes(const gpumem_rank *r);

/* "its buffers 22528.0 MiB, cuBLAS's workspace 4.0 MiB, cuDNN's workspace
 * 0.0 MiB, NCCL's buffers up to 1536.0 MiB (64 channels)" (NCCL's named
 * only where used). Returns buf. */
const char *gpumem_terms(const gpumem_rank *r, char *buf, size_t size);

/* 0 when `sharers` ranks (at least 1) of r's needs each fit in free_bytes
 * of the GPU described as `device`; else -1 with one line naming each term,
 * the totals, what is free and what to change. */
int gpumem_check(const gpumem_rank *r, int sharers, uint64_t free_bytes, const char *device);

/* --dry-run's line of the GPU's memory: a rank's terms, what they add up
 * to, and what `device` has free now. */
void gpumem_print(const gpumem_rank *r, uint64_t free_bytes, const char *device, FILE *out);

#endif
