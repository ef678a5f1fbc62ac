#include "trainer/gpumem.h"

#include <errno.h>
#include <stdlib.h>

#include "util/err.h"

#define MIB ((uint64_t)1 << 20)

/* NCCL 2.28's figures (its source; the buffer size is also documented):
 * NCCL_BUFFSIZE's default; LL's buffer, 8 lines a thread x 512 threads x 8
 * steps x 16-byte lines; LL128's, 120 elements a thread x 640 threads x 8
 * steps x 8 bytes; MAXCHANNELS; each side of a connection allocated in
 * units of CUDA_IPC_MIN, with a 4 KiB control structure (MEM_ALIGN) ahead
 * of its buffers; NVLink SHARP's chunk (NCCL_NVLS_CHUNKSIZE) times
 * NCCL_STEPS a buffer, and its channels (NVLS_NCHANNELS_SM90, _SM100). */
enum {
    NCCL_SIMPLE = 4 << 20,
    NCCL_LL = 8 * 512 * 8 * 16,
    NCCL_LL128 = 120 * 640 * 8 * 8,
    NCCL_MAX_CHANNELS = 64,
    NCCL_UNIT = 2 << 20,
    NCCL_CONTROL = 4096,
    NCCL_NVLS_BUFFER = 128 * 1024 * 8,
};

/* An NCCL parameter from the environment, read as NCCL reads it
 * (src/misc/param.cc: strtoll in base 0, what follows the digits ignored,
 * out of range the default): false where unset, empty or out of range. */
static bool env_param(char *(*env)(const char *), const char *name, long long *value)
{
    const char *v = env(name);
    if (!v || !*v)
        return false;
    errno = 0;
    long long n = strtoll(v, NULL, 0);
    if (errno)
        return false;
    *value = n;
    return true;
}

void gpumem_nccl_setup(gpumem_nccl *n, int ranks, int local_ranks, int nodes,
                       int compute_capability, char *(*env)(const char *))
{
    *n = (gpumem_nccl){.ranks = ranks,
                       .local_ranks = local_ranks,
                       .nodes = nodes,
                       .compute_capability = compute_capability,
                       .channels = NCCL_MAX_CHANNELS,
                       .simple = NCCL_SIMPLE,
                       .ll = NCCL_LL,
                       .ll128 = NCCL_LL128,
                       .nvls = true};
    long long v;
    /* a buffer of 0 or less NCCL would take and fail with: the bound keeps
     * the default */
    if (env_param(env, "NCCL_BUFFSIZE", &v) && v > 0)
        n->simple = (uint64_t)v;
    if (env_param(env, "NCCL_MAX_NCHANNELS", &v)) /* NCCL holds it to 1..64 */
        n->channels = v < 1 ? 1 : v > NCCL_MAX_CHANNELS ? NCCL_MAX_CHANNELS : (int)v;
    if (env_param(env, "NCCL_NVLS_ENABLE", &v) && v == 0)
        n->nvls = false;
}

static uint64_t units(uint64_t bytes)
{
    return (bytes + NCCL_UNIT - 1) / NCCL_UNIT * NCCL_UNIT;
}

/* One connection's two sides: the receive side holds every protocol's
 * buffer, or, where the sender reads (P2P over NVLink), the send side
 * holds the Simple protocol's; the larger of the two ways. */
static uint64_t connection_bytes(const gpumem_nccl *n)
{
    uint64_t ctl = NCCL_CONTROL;
    uint64_t write = units(ctl) + units(ctl + n->ll + n->ll128 + n->simple);
    uint64_t read = units(ctl + n->simple) + units(ctl + n->ll + n->ll128);
    return write > read ? write : read;
}

/* The peers a rank has on each channel: the ring's next and previous (one
 * connection's worth: it sends to one and receives from the other), and the
 * tree's parent and children: along the chain of the node's ranks (up to
 * two), and for the rank that heads it, the node's parent and two children
 * in the tree across nodes; NCCL's trees give a rank four at most. */
static int peers(const gpumem_nccl *n)
{
    int chain = n->local_ranks >= 3 ? 2 : n->local_ranks - 1;
    int tree = (chain > 0 ? chain : 0) + (n->nodes > 1 ? 3 : 0);
    return 1 + (tree < 4 ? tree : 4);
}

uint64_t gpumem_nccl_bytes(const gpumem_nccl *n)
{
    if (n->ranks < 2)
        return 0;
    uint64_t bytes = (uint64_t)n->channels * (uint64_t)peers(n) * connection_bytes(n);
    if (n->nvls && n->compute_capability >= 90 && n->local_ranks >= 2) {
        uint64_t channels = n->compute_capability >= 100 ? 32 : 16;
        bytes += channels * 2 * NCCL_NVLS_BUFFER * (uint64_t)n->local_ranks;
    }
    return bytes;
}

void gpumem_of(gpumem_rank *r, const backend *be, const memplan *p, bool nccl, int ranks,
               int local_ranks, int nodes)
{
    *r = (gpumem_rank){
        .buffers = p->model, .cublas = be->blas_workspace, .cudnn = p->conv_workspace};
    if (!nccl)
        return;
    gpumem_nccl n;
    gpumem_nccl_setup(&n, ranks, local_ranks, nodes, be->compute_capability, getenv);
    r->nccl = gpumem_nccl_bytes(&n);
    r->nccl_channels = r->nccl ? n.channels : 0;
}

static uint64_t add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

uint64_t gpumem_rank_bytes(const gpumem_rank *r)
{
    return add(add(r->buffers, r->cublas), add(r->cudnn, r->nccl));
}

const char *gpumem_terms(const gpumem_rank *r, char *buf, size_t size)
{
    const double mib = (double)MIB;
    int n = snprintf(
        buf, size, "its buffers %.1f MiB, cuBLAS's workspace %.1f MiB, cuDNN's workspace %.1f MiB",
        r->buffers / mib, r->cublas / mib, r->cudnn / mib);
    if (r->nccl_channels > 0 && n > 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, ", NCCL's buffers up to %.1f MiB (%d channels)",
                 r->nccl / mib, r->nccl_channels);
    return buf;
}

int gpumem_check(const gpumem_rank *r, int sharers, uint64_t free_bytes, const char *device)
{
    const double gib = (double)(1 << 30);
    uint64_t need = gpumem_rank_bytes(r), n = sharers > 1 ? (uint64_t)sharers : 1;
    uint64_t total = need > UINT64_MAX / n ? UINT64_MAX : need * n;
    if (total <= free_bytes)
        return 0;
    char terms[320], all[96] = "";
    gpumem_terms(r, terms, sizeof terms);
    if (n > 1)
        snprintf(all, sizeof all, ", %.2f GiB for the %llu ranks that share it", total / gib,
                 (unsigned long long)n);
    return err_set("this run needs %.2f GiB%s on the GPU (%s)%s, but %.2f GiB is free on %.150s: "
                   "lower data.batch_size, or raise train.grad_accum for smaller "
                   "micro-batches%s%s (--dry-run shows where the memory goes)",
                   need / gib, n > 1 ? " a rank" : "", terms, all, free_bytes / gib, device,
                   r->nccl_channels > 0 ? ", or set NCCL_MAX_NCHANNELS below "
                                          "the channels counted"
                                        : "",
                   n > 1 ? ", or give each rank a GPU of its own" : "");
}

void gpumem_print(const gpumem_rank *r, uint64_t free_bytes, const char *device, FILE *out)
{
    char terms[320];
    fprintf(out, "GPU memory of one rank: %s; %.1f MiB in all, of %.1f MiB free on %s\n",
            gpumem_terms(r, terms, sizeof terms), gpumem_rank_bytes(r) / (double)MIB,
            free_bytes / (double)MIB, device);
}
