/* The CUDA backend: cuBLAS for matrix products, cuDNN for convolutions
 * and poolings, the kernels of kernels/cuda for the rest, all on one
 * compute stream; input batches are copied on a stream of their own (see
 * backend.h's input staging). This file holds its memory, streams, events
 * and table; each operation is gpu_<name> in the file of kernels/cuda named
 * for its concept (cuda_impl.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nccl.h>

#include "kernels/backend.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_impl.h"
#include "kernels/cuda/gpucaps.h"
#include "util/err.h"

/* ---- memory ---------------------------------------------------------------- */

static int gpu_alloc(backend *be, void **out, size_t bytes)
{
    cuda_impl *c = impl_of(be);
    *out = NULL;
    CUDA_TRY(cudaMalloc(out, bytes ? bytes : 1));
    CUDA_TRY(cudaMemsetAsync(*out, 0, bytes, c->compute));
    /* zero for every stream, not only the compute stream: the copy stream
     * may write it next (start-up only, so the wait costs nothing) */
    CUDA_TRY(cudaStreamSynchronize(c->compute));
    be->bytes_allocated += bytes;
    return 0;
}

static void gpu_release(backend *be, void *p)
{
    (void)be;
    if (p)
        cudaFree(p); /* at shutdown: a failure here has no one to tell */
}

static int gpu_host_alloc(backend *be, void **out, size_t bytes)
{
    (void)be;
    *out = NULL;
    CUDA_TRY(cudaMallocHost(out, bytes ? bytes : 1));
    return 0;
}

static void gpu_host_release(backend *be, void *p)
{
    (void)be;
    if (p)
        cudaFreeHost(p);
}

static int gpu_upload(backend *be, void *dst, const void *src, size_t bytes)
{
    cuda_impl *c = impl_of(be);
    CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, c->compute));
    /* src may be pageable memory the caller reuses at once */
    CUDA_TRY(cudaStreamSynchronize(c->compute));
    return 0;
}

static int gpu_download(backend *be, void *dst, const void *src, size_t bytes)
{
    cuda_impl *c = impl_of(be);
    CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, c->compute));
    CUDA_TRY(cudaStreamSynchronize(c->compute));
    return 0;
}

static int gpu_mem_free(backend *be, uint64_t *bytes)
{
    (void)be;
    size_t avail = 0, total = 0;
    CUDA_TRY(cudaMemGetInfo(&avail, &total));
    *bytes = avail;
    return 0;
}

static int gpu_copy(backend *be, void *dst, const void *src, size_t bytes)
{
    CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, impl_of(be)->compute));
    return 0;
}

/* ---- input staging ----------------------------------------------------------- */

static int gpu_upload_async(backend *be, int slot, void *dst, const void *src, size_t bytes)
{
    cuda_impl *c = impl_of(be);
    CUDA_TRY(cudaStreamWaitEvent(c->copy, c->consumed[slot], 0));
    CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, c->copy));
    CUDA_TRY(cudaEventRecord(c->ready[slot], c->copy));
    return 0;
}

static int gpu_input_wait(backend *be, int slot)
{
    cuda_impl *c = impl_of(be);
    CUDA_TRY(cudaStreamWaitEvent(c->compute, c->ready[slot], 0));
    return 0;
}

static int gpu_input_done(backend *be, int slot)
{
    cuda_impl *c = impl_of(be);
    CUDA_TRY(cudaEventRecord(c->consumed[slot], c->compute));
    return 0;
}

static int gpu_input_host_wait(backend *be, int slot)
{
    CUDA_TRY(cudaEventSynchronize(impl_of(be)->ready[slot]));
    return 0;
}

/* ---- timing ------------------------------------------------------------------ */

static int gpu_mark_event(backend *be, int i)
{
    CUDA_TRY(cudaEventRecord(impl_of(be)->timing[i], impl_of(be)->compute));
    return 0;
}

static int gpu_event_ms(backend *be, int from, int to, double *ms)
{
    cuda_impl *c = impl_of(be);
    float f = 0;
    CUDA_TRY(cudaEventSynchronize(c->timing[to]));
    CUDA_TRY(cudaEventElapsedTime(&f, c->timing[from], c->timing[to]));
    *ms = f;
    return 0;
}

/* What the GPU offers (gpucaps.h): the precision products run at, a
 * clause for the start-up line where that is not train.precision, the peak
 * rate at that precision, and cuBLAS's own workspace. */
static int describe_caps(backend *be, int device, const backend_options *o)
{
    struct cudaDeviceProp prop;
    int sms = 0, khz = 0;
    CUDA_TRY(cudaGetDeviceProperties(&prop, device));
    /* the peak only informs (utilization): unknown, 0, where these fail */
    if (cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess ||
        cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, device) != cudaSuccess) {
        sms = khz = 0;
        (void)cudaGetLastError(); /* or the next launch's check would report it */
    }
    be->compute_capability = 10 * prop.major + prop.minor;
    be->precision = gpucaps_precision(o->precision, prop.major, prop.minor);
    gpucaps_fallback(be->precision_note, sizeof be->precision_note, o->precision, prop.name,
                     prop.major, prop.minor);
    be->peak_flops = gpucaps_peak_flops(be->precision, prop.major, prop.minor, sms, khz);
    be->blas_workspace = gpucaps_cublas_workspace(prop.major, prop.minor);
    return 0;
}

/* ---- operations the GPU lacks ------------------------------------------------ */

int gpu_lacks(const char *layer, const char *op)
{
    return err_set("%s does not run on the cuda backend yet (%s has no GPU kernel): use "
                   "run.device = cpu",
                   layer, op);
}

/* ---- opening and closing -------------------------------------------------------- */

static void gpu_destroy(backend *be)
{
    cuda_impl *c = impl_of(be);
    if (c) {
        if (c->device >= 0) /* none picked: creating a context on GPU 0 helps no one */
            cudaSetDevice(c->device);
        if (c->compute)
            cudaStreamSynchronize(c->compute);
        cudaFree(c->workspace);
        cudaFree(c->sumsq_partials);
        cudaFree(c->sumsq_result);
        cudaFree(c->colsum_partials);
        for (int s = 0; s < 2; s++) {
            if (c->ready[s])
                cudaEventDestroy(c->ready[s]);
            if (c->consumed[s])
                cudaEventDestroy(c->consumed[s]);
        }
        for (int i = 0; i < BACKEND_EVENTS; i++)
            if (c->timing[i])
                cudaEventDestroy(c->timing[i]);
        if (c->blas)
            cublasDestroy(c->blas);
        if (c->dnn)
            cudnnDestroy(c->dnn);
        if (c->copy)
            cudaStreamDestroy(c->copy);
        if (c->compute)
            cudaStreamDestroy(c->compute);
        free(c);
    }
    free(be);
}

void backend_cuda_versions(char *buf, size_t size)
{
    int runtime = 0, driver = 0;
    cudaRuntimeGetVersion(&runtime);
    cudaDriverGetVersion(&driver); /* 0 when there is no driver */
    int nccl = 0;
    ncclGetVersion(&nccl);
    size_t cudnn = cudnnGetVersion();
    snprintf(buf, size,
             "CUDA runtime: %d.%d\nCUDA driver: %d.%d\ncuDNN: %zu.%zu.%zu\nNCCL: %d.%d.%d\n",
             runtime / 1000, runtime % 1000 / 10, driver / 1000, driver % 1000 / 10, cudnn / 10000,
             cudnn / 100 % 100, cudnn % 100, nccl / 10000, nccl / 100 % 100, nccl % 100);
}

#ifndef ACCEL_CUDA_ARCHS
#define ACCEL_CUDA_ARCHS "?"
#endif

/* Launches the probe kernel on `device`: 1 when it ran, else -1 and why. */
static int probe_device(int device, char *why, size_t size)
{
    cudaError_t e = cudaSetDevice(device);
    if (e == cudaSuccess)
        e = cuk_probe();
    if (e == cudaSuccess)
        return 1;
    struct cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, device) != cudaSuccess) {
        memset(&prop, 0, sizeof prop);
        snprintf(prop.name, sizeof prop.name, "?");
    }
    if (e == cudaErrorNoKernelImageForDevice || e == cudaErrorUnsupportedPtxVersion ||
        e == cudaErrorInvalidKernelImage)
        snprintf(why, size,
                 "GPU %d (%.100s, compute capability %d.%d) is not among the architectures this "
                 "accel-train was built for (%s): rebuild with -DCMAKE_CUDA_ARCHITECTURES=%d%d",
                 device, prop.name, prop.major, prop.minor, ACCEL_CUDA_ARCHS, prop.major,
                 prop.minor);
    else
        snprintf(why, size, "GPU %d (%.100s): a test kernel failed: %s", device, prop.name,
                 cudaGetErrorString(e));
    return -1;
}

int backend_cuda_usable(int local_rank, const char **why)
{
    static char reason[512];
    *why = reason;
    int driver = 0, runtime = 0, count = 0;
    cudaDriverGetVersion(&driver); /* 0: no driver installed */
    cudaRuntimeGetVersion(&runtime);
    if (driver == 0) {
        snprintf(reason, sizeof reason, "no NVIDIA driver is installed");
        return 0;
    }
    /* a driver of the runtime's major version runs it (CUDA's minor
     * version compatibility); an older one cannot */
    if (driver / 1000 < runtime / 1000) {
        snprintf(reason, sizeof reason,
                 "the NVIDIA driver supports CUDA %d.%d, older than this build's CUDA %d.%d "
                 "runtime: update the driver (or build with an older CUDA toolkit)",
                 driver / 1000, driver % 1000 / 10, runtime / 1000, runtime % 1000 / 10);
        return -1;
    }
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e == cudaErrorNoDevice || (e == cudaSuccess && count == 0)) {
        snprintf(reason, sizeof reason, "no CUDA device is visible (CUDA_VISIBLE_DEVICES = %s)",
                 getenv("CUDA_VISIBLE_DEVICES") ? getenv("CUDA_VISIBLE_DEVICES") : "unset");
        return 0;
    }
    if (e != cudaSuccess) {
        snprintf(reason, sizeof reason, "cudaGetDeviceCount: %s", cudaGetErrorString(e));
        return -1;
    }
    return probe_device(local_rank % count, reason, sizeof reason);
}

/* local_rank % visible GPUs. Whether ranks then share one is decided
 * across them by the GPUs' PCI bus ids (comm/device_share.h), not here:
 * how many GPUs this rank sees says nothing of the others' (Slurm's
 * --gpus-per-task shows each rank its own one). */
static int pick_device(const backend_options *o, int *device)
{
    int count = 0;
    CUDA_TRY(cudaGetDeviceCount(&count));
    if (count == 0)
        return err_set("run.device = cuda, but no CUDA device is visible (CUDA_VISIBLE_DEVICES "
                       "= %s)",
                       getenv("CUDA_VISIBLE_DEVICES") ? getenv("CUDA_VISIBLE_DEVICES") : "unset");
    *device = o->local_rank % count;
    return 0;
}

static int describe_device(backend *be, int device)
{
    struct cudaDeviceProp prop;
    char bus[32] = "?";
    CUDA_TRY(cudaGetDeviceProperties(&prop, device));
    CUDA_TRY(cudaDeviceGetPCIBusId(bus, sizeof bus, device));
    snprintf(be->description, sizeof be->description, "GPU %d: %.120s, PCI %.31s, %.1f GiB", device,
             prop.name, bus, (double)prop.totalGlobalMem / (1 << 30));
    snprintf(be->device_id, sizeof be->device_id, "%s", bus);
    return 0;
}

static int open_impl(backend *be, const backend_options *o)
{
    cuda_impl *c = impl_of(be);
    if (pick_device(o, &c->device) < 0)
        return -1;
    CUDA_TRY(cudaSetDevice(c->device));
    if (describe_device(be, c->device) < 0)
        return -1;
    CUDA_TRY(cudaStreamCreateWithFlags(&c->compute, cudaStreamNonBlocking));
    CUDA_TRY(cudaStreamCreateWithFlags(&c->copy, cudaStreamNonBlocking));
    for (int s = 0; s < 2; s++) {
        CUDA_TRY(cudaEventCreateWithFlags(&c->ready[s], cudaEventDisableTiming));
        CUDA_TRY(cudaEventCreateWithFlags(&c->consumed[s], cudaEventDisableTiming));
    }
    for (int i = 0; i < BACKEND_EVENTS; i++)
        CUDA_TRY(cudaEventCreate(&c->timing[i]));
    if (describe_caps(be, c->device, o) < 0)
        return -1;
    CUBLAS_TRY(cublasCreate(&c->blas));
    CUBLAS_TRY(cublasSetStream(c->blas, c->compute));
    CUDNN_TRY(cudnnCreate(&c->dnn));
    CUDNN_TRY(cudnnSetStream(c->dnn, c->compute));
    c->precision = be->precision; /* what runs: gemm.c and dnn.c take it */
    c->deterministic = o->deterministic;
    CUDA_TRY(cudaMalloc((void **)&c->sumsq_partials, sizeof(double) * CUK_SUMSQ_BLOCKS));
    CUDA_TRY(cudaMalloc((void **)&c->sumsq_result, sizeof(double)));
    CUDA_TRY(cudaMalloc((void **)&c->colsum_partials, sizeof(float) * CUK_COLSUM_FLOATS));
    be->stream = c->compute;
    return 0;
}

static void set_ops(backend *be)
{
    be->name = "cuda";
    be->mem_free = gpu_mem_free;
    be->conv_workspace = gpu_conv_workspace;
    be->alloc = gpu_alloc;
    be->release = gpu_release;
    be->upload = gpu_upload;
    be->download = gpu_download;
    be->copy = gpu_copy;
    be->host_alloc = gpu_host_alloc;
    be->host_release = gpu_host_release;
    be->upload_async = gpu_upload_async;
    be->input_wait = gpu_input_wait;
    be->input_done = gpu_input_done;
    be->input_host_wait = gpu_input_host_wait;
    be->mark_event = gpu_mark_event;
    be->event_ms = gpu_event_ms;
    /* every operation of backend.h's list: gpu_<name> */
#define GPU_OP_SET(ret, name, params) be->name = gpu_##name;
    BACKEND_OPS(GPU_OP_SET)
#undef GPU_OP_SET
    be->destroy = gpu_destroy;
}

backend *backend_cuda_open(const backend_options *o)
{
    const char *why;
    if (backend_cuda_usable(o->local_rank, &why) != 1) {
        err_set("run.device = cuda, but there is no usable GPU: %s (use run.device = auto or cpu)",
                why);
        return NULL;
    }
    backend *be = calloc(1, sizeof *be);
    cuda_impl *c = calloc(1, sizeof *c);
    if (!be || !c) {
        free(be);
        free(c);
        err_set("out of host memory opening the CUDA backend");
        return NULL;
    }
    be->impl = c;
    c->device = -1;
    set_ops(be);
    if (open_impl(be, o) < 0) {
        err_prefix("opening the CUDA backend");
        gpu_destroy(be);
        return NULL;
    }
    return be;
}
