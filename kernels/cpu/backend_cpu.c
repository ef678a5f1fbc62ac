/* The CPU backend: OpenBLAS for matrix products, plain loops over the shared
 * formulas of kernels/math.h for everything elementwise. This file holds its
 * memory and its table; each operation is cpu_<name> in the file of
 * kernels/cpu named for its concept (cpu_ops.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "kernels/cpu/cpu_ops.h"
#include "util/err.h"

/* OpenBLAS's own thread-count control; declared here because not every
 * packaging of cblas.h declares it. */
void openblas_set_num_threads(int num_threads);

static int cpu_host_alloc(backend *be, void **out, size_t bytes)
{
    (void)be;
    /* 64-byte alignment for vector loads; aligned_alloc wants a multiple. */
    size_t rounded = (bytes + 63) / 64 * 64;
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (!p)
        return err_set("out of host memory allocating %zu bytes", bytes);
    memset(p, 0, rounded);
    *out = p;
    return 0;
}

static int cpu_alloc(backend *be, void **out, size_t bytes)
{
    if (cpu_host_alloc(be, out, bytes) < 0)
        return -1;
    be->bytes_allocated += bytes;
    return 0;
}

static int count_alloc(backend *be, void **out, size_t bytes)
{
    be->bytes_allocated += bytes;
    *out = NULL;
    return 0;
}

static void cpu_release(backend *be, void *p)
{
    (void)be;
    free(p);
}

static int cpu_copy(backend *be, void *dst, const void *src, size_t bytes)
{
    (void)be;
    if (bytes)
        memmove(dst, src, bytes);
    return 0;
}

/* The CPU's memory is the host's: input staging is a plain copy. */
static int cpu_upload_async(backend *be, int slot, void *dst, const void *src, size_t bytes)
{
    (void)slot;
    return cpu_copy(be, dst, src, bytes);
}

static int cpu_input_fence(backend *be, int slot)
{
    (void)be, (void)slot;
    return 0;
}

static void cpu_destroy(backend *be)
{
    cpu_impl *c = be->impl;
    if (c) {
        cpu_workers_close(c->workers);
        free(c->rounded[0]);
        free(c->rounded[1]);
        free(c->attn_scratch);
        free(c);
    }
    free(be);
}

backend *backend_cpu_open(int threads)
{
    backend *be = calloc(1, sizeof *be);
    cpu_impl *c = calloc(1, sizeof *c);
    if (!be || !c) {
        free(be);
        free(c);
        err_set("out of host memory opening the CPU backend");
        return NULL;
    }
    be->impl = c;
    if (threads > 1 && !(c->workers = cpu_workers_open(threads))) {
        cpu_destroy(be);
        return NULL;
    }
    /* with threads of its own, the backend shares each product out among
     * them (gemm.c), each range on one OpenBLAS thread */
    if (threads > 0)
        openblas_set_num_threads(c->workers ? 1 : threads);
    be->name = "cpu";
    be->host_memory = true;
    snprintf(be->description, sizeof be->description, "OpenBLAS, %d thread%s", threads,
             threads == 1 ? "" : "s");
    be->alloc = cpu_alloc;
    be->release = cpu_release;
    be->upload = cpu_copy;
    be->download = cpu_copy;
    be->copy = cpu_copy;
    be->host_alloc = cpu_host_alloc;
    be->host_release = cpu_release;
    be->upload_async = cpu_upload_async;
    be->input_wait = cpu_input_fence;
    be->input_done = cpu_input_fence;
    be->input_host_wait = cpu_input_fence;
    /* every operation of backend.h's list: cpu_<name> */
#define CPU_OP_SET(ret, name, params) be->name = cpu_##name;
    BACKEND_OPS(CPU_OP_SET)
#undef CPU_OP_SET
    be->destroy = cpu_destroy;
    return be;
}

backend *backend_cpu_counting_open(void)
{
    backend *be = backend_cpu_open(0);
    if (be) {
        be->counting = true;
        be->alloc = count_alloc;
    }
    return be;
}
