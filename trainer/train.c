#include "trainer/train.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "comm/device_share.h"
#include "comm/placement.h"
#include "data/dataset.h"
#include "data/transform.h"
#include "trainer/checkpoint.h"
#include "trainer/evaluate.h"
#include "trainer/gpumem.h"
#include "trainer/loader.h"
#include "trainer/memplan.h"
#include "trainer/metrics.h"
#include "trainer/model.h"
#include "trainer/optim.h"
#include "trainer/outputs.h"
#include "trainer/progress.h"
#include "trainer/resume.h"
#include "trainer/schedule.h"
#include "trainer/steptime.h"
#include "trainer/stop.h"
#include "util/err.h"
#include "util/fsutil.h"
#include "util/fault.h"
#include "util/membudget.h"

/* Everything one run holds. */
typedef struct {
    const config *cfg;
    const comm_info *ci;
    backend *be;
    dataset *train, *test;
    bool has_test;
    transform tf; /* the test set's (the loader has its own) */
    model *m;
    metrics mt;
    progress pg;
    char run_dir[CFG_STR_MAX], ckpt_dir[CFG_STR_MAX + 16];

    int threads;
    int local_batch;
    float *grad_sum; /* the micro-batches' gradients so far (grad_accum > 1) */
    long steps_per_epoch;
    long horizon;     /* the schedule's length: all epochs, or optimizer.schedule_steps */
    long total_steps; /* where this run stops: the horizon, or max_steps */
    long first_step;  /* where this process started: 0, or the resumed step */
    ckpt_state st;
    resume_point rp;
    grad_sync *gs;   /* the gradient all-reduce, or */
    grad_shard *gsh; /* the reduce-scatter and all-gather of a sharded optimizer */
    steptime times;
    int reporter;               /* who tells of a failure, see train_run */
    char share_note[256];       /* ranks share GPUs: said at start-up */
    int sharers;                /* ranks on this rank's GPU, itself included */
    int comm_kind;              /* comm.backend, or mpi where ranks share GPUs */
    uint64_t gpu_free;          /* what the GPU had free before any rank allocated */
    char placement[1024];       /* which host holds which ranks (comm/placement.h) */
    int hosts;                  /* how many hosts the ranks span */
    long skipped, skips_in_row; /* updates skipped for a non-finite loss */
    int stopped;                /* the signal that stopped the run, or 0 */
    double launched, startup;   /* when main began; seconds from then to the first step */

    /* the training batches: host buffers the loader fills, and for each
     * input slot (see model.h) where the step reads its batch */
    loader *ld;
    float *hx[LOADER_DEPTH];
    int32_t *hy[LOADER_DEPTH];
    float *in_x[2];
    int32_t *in_y[2];

    /* the current logging window */
    double win_loss;
    long win_steps;
    double win_start;
} run;

static bool is_root(const run *r)
{
    return r->ci->rank == 0;
}

static int load_data(run *r)
{
    const config *cfg = r->cfg;
    dataset_options data_opts = config_dataset_options(cfg);
    if (dataset_open_splits(&r->train, &r->test, &data_opts) < 0)
        return -1;
    r->has_test = r->test != NULL;
    const dataset *tr = r->train, *te = r->test;
    if (r->has_test &&
        (te->channels != tr->channels || te->height != tr->height || te->width != tr->width))
        return err_set("data.test has samples of shape %d,%d,%d (C,H,W) but data.train has "
                       "%d,%d,%d",
                       te->channels, te->height, te->width, tr->channels, tr->height, tr->width);
    transform_options tf_opts = config_transform_options(cfg);
    return transform_init(&r->tf, &tf_opts, tr->channels, tr->height, tr->width);
}

/* Checks what needs the data and the configuration together. */
static int check_fit(run *r)
{
    const config *cfg = r->cfg;
    const layer_cfg *last = &cfg->layers[cfg->n_layers - 1];
    int classes = r->train->classes;
    if (r->has_test && r->test->classes > classes)
        classes = r->test->classes;
    if (last->units < classes)
        return err_set("%s:%d: the last layer has %d units, but the data has labels 0..%d "
                       "(%d classes)",
                       cfg->source, last->line, last->units, classes - 1, classes);
    if (cfg->batch_size % r->ci->size != 0)
        return err_set("data.batch_size = %d does not divide evenly over %d ranks", cfg->batch_size,
                       r->ci->size);
    if (cfg->batch_size / r->ci->size % cfg->grad_accum != 0)
        return err_set("data.batch_size = %d over %d ranks is %d rows a rank, which "
                       "train.grad_accum = %d does not divide evenly",
                       cfg->batch_size, r->ci->size, cfg->batch_size / r->ci->size,
                       cfg->grad_accum);
    if (cfg->batch_size > r->train->n)
        return err_set("data.batch_size = %d is larger than the %lld training samples",
                       cfg->batch_size, (long long)r->train->n);
    return 0;
}

static void plan_steps(run *r)
{
    const config *cfg = r->cfg;
    r->local_batch = cfg->batch_size / r->ci->size;
    r->steps_per_epoch = (long)(r->train->n / cfg->batch_size);
    r->horizon = cfg->schedule_steps ? cfg->schedule_steps : r->steps_per_epoch * cfg->epochs;
    r->total_steps = r->horizon;
    if (cfg->max_steps >= 0 && cfg->max_steps < r->total_steps)
        r->total_steps = cfg->max_steps;
    r->st.world_size = r->ci->size;
    r->st.cpu_threads = r->be->stream ? 0 : r->threads;
    r->st.batch_size = cfg->batch_size;
    r->st.seed = cfg->seed;
}

/* What the rank is about to allocate against what it can have: a run that
 * cannot fit is refused here, with the figures, not killed mid-way. The
 * data sets are open already, so the budget has them. A GPU's memory is
 * its own: the host's part is checked against the host's, the GPU's terms
 * (gpumem.h), of every rank on the GPU, against what it had free. */
static int check_memory(run *r, const memplan *p)
{
    bool host_model = r->be->host_memory;
    /* rank 0's checkpoint staging counted once a node: it may be this one */
    if (mem_budget_check(p->host + (host_model ? p->model : 0), p->staging, r->ci->local_size,
                         "this run's buffers",
                         "lower data.batch_size, data.eval_batch_size or the model's size "
                         "(--dry-run shows where the memory goes)") < 0)
        return -1;
    if (host_model || !r->be->mem_free)
        return 0;
    gpumem_rank g;
    gpumem_of(&g, r->be, p, gsync_uses_nccl(true, r->ci->size, r->comm_kind), r->ci->size,
              r->ci->local_size, r->hosts);
    return gpumem_check(&g, r->sharers, r->gpu_free, r->be->description);
}

static int build_model(run *r)
{
    const config *cfg = r->cfg;
    int eval_rows = memplan_eval_rows(cfg, r->has_test ? r->test : NULL);
    memplan plan;
    if (memplan_make(&plan, cfg, r->train, r->local_batch, eval_rows, r->ci->size, r->be) < 0 ||
        check_memory(r, &plan) < 0)
        return -1;
    r->m = memplan_build(cfg, r->be, r->train, r->local_batch, eval_rows, r->ci->size, r->ci->rank);
    if (!r->m || model_init_params(r->m, cfg->seed) < 0)
        return -1;
    if (cfg->grad_accum > 1 &&
        r->be->alloc(r->be, (void **)&r->grad_sum, sizeof(float) * r->m->n_params) < 0)
        return -1;
    r->m->seed = cfg->seed;
    return 0;
}

static int open_loader(run *r)
{
    backend *be = r->be;
    for (int s = 0; s < LOADER_DEPTH; s++)
        if (be->host_alloc(be, (void **)&r->hx[s],
                           sizeof(float) * (size_t)r->local_batch * r->train->features) < 0 ||
            be->host_alloc(be, (void **)&r->hy[s],
                           sizeof(int32_t) * (size_t)r->local_batch * r->train->targets) < 0)
            return -1;
    loader_shape sh = {.rank = r->ci->rank,
                       .world = r->ci->size,
                       .batch = r->cfg->batch_size,
                       .local_batch = r->local_batch,
                       .steps_per_epoch = r->steps_per_epoch};
    r->ld = loader_open(r->cfg, r->train, &sh, r->hx, r->hy);
    return r->ld ? 0 : -1;
}

/* Works out the run and checkpoint directories. */
static int prepare_dirs(run *r)
{
    const config *cfg = r->cfg;
    int n;
    /* Under Slurm the default carries the job id, which a requeued job
     * keeps: its --resume auto finds its own checkpoints. */
    const char *job = getenv("SLURM_JOB_ID");
    if (cfg->run_dir[0])
        n = snprintf(r->run_dir, sizeof r->run_dir, "%s", cfg->run_dir);
    else if (job && *job)
        n = snprintf(r->run_dir, sizeof r->run_dir, "runs/%s-job%s", cfg->run_name, job);
    else
        n = snprintf(r->run_dir, sizeof r->run_dir, "runs/%s", cfg->run_name);
    if (n < 0 || (size_t)n >= sizeof r->run_dir)
        return err_set("run directory name too long");
    if (cfg->ckpt_dir[0])
        snprintf(r->ckpt_dir, sizeof r->ckpt_dir, "%s", cfg->ckpt_dir);
    else
        snprintf(r->ckpt_dir, sizeof r->ckpt_dir, "%s/checkpoints", r->run_dir);
    return 0;
}

/* Rank 0 creates the directories and opens the metrics file (appending
 * when resuming), so a directory that cannot be written is reported before
 * any training. First of all, before anything is written, the outputs are
 * checked against the inputs (outputs.h): a run directory that is the
 * config file, a metrics.jsonl that is a FIFO, is refused with the disk as
 * it was. */
static int prepare_output(run *r)
{
    if (!is_root(r))
        return 0;
    if (outputs_check_run(r->cfg, r->run_dir, r->ckpt_dir, r->rp.found ? r->rp.path : NULL) < 0)
        return -1;
    /* A checkpoint is written beside the previous ones before they are
     * pruned: room for two is what a full disk would otherwise take away
     * mid-run. */
    unsigned long long ckpt_bytes = sizeof(float) * ckpt_host_floats(r->m) + (1u << 20);
    if (fs_mkdirs(r->run_dir) < 0 || fs_mkdirs(r->ckpt_dir) < 0 ||
        fs_check_writable_dir(r->ckpt_dir) < 0 || ckpt_clean_temps(r->ckpt_dir) < 0 ||
        fs_check_space(r->ckpt_dir, 2 * ckpt_bytes, "writing checkpoints") < 0)
        return -1;
    return metrics_open(&r->mt, r->run_dir, r->rp.found);
}

/* The precision of matrix products, and the peak a utilization is shown
 * against (GPUs); nothing for the CPU's float32. On a GPU without TF32
 * and bf16 tensor cores, that those fall back to fp32, and fp32's peak. */
static void describe_precision(run *r)
{
    static const char *const names[] = {"fp32", "tf32", "bf16"};
    const backend *be = r->be;
    char peak[96] = "";
    if (be->peak_flops > 0)
        snprintf(peak, sizeof peak, "; utilization against a peak of %.1f TFLOP/s",
                 be->peak_flops / 1e12);
    if (be->precision_note[0]) { /* a GPU without the tensor cores asked for */
        if (be->peak_flops > 0)
            snprintf(peak, sizeof peak, "; utilization against the fp32 peak of %.1f TFLOP/s",
                     be->peak_flops / 1e12);
        progress_message(&r->pg, "matrix products: fp32, as %s%s", be->precision_note, peak);
        return;
    }
    if (be->precision == PRECISION_FP32) {
        if (*peak)
            progress_message(&r->pg, "matrix products: fp32%s", peak);
        return;
    }
    progress_message(
        &r->pg,
        "matrix products: %s inputs%s, summed in fp32; weights, optimizer state and "
        "checkpoints fp32%s",
        names[be->precision],
        be->host_memory ? " (emulated on the CPU: slower than fp32)" : " on tensor cores", peak);
}

/* How gradients travel, and where the Adam state lives. */
static void describe_sync(run *r)
{
    const model *m = r->m;
    const double mib = 1 << 20;
    if (r->gsh) {
        progress_message(&r->pg,
                         "gradients: reduce-scattered with %s, in buckets of %g MiB or more, "
                         "and the parameters all-gathered; Adam state sharded over %d ranks: "
                         "%.1f MiB a rank (%.1f MiB whole)",
                         gshard_name(r->gsh), r->cfg->bucket_mb, r->ci->size,
                         2 * sizeof(float) * (double)m->n_moments / mib,
                         2 * sizeof(float) * (double)m->n_params / mib);
        return;
    }
    if (strncmp(gsync_name(r->gs), "none", 4)) /* with peers, or NCCL asked for alone */
        progress_message(&r->pg, "gradients: all-reduced with %s, in buckets of %g MiB or more",
                         gsync_name(r->gs), r->cfg->bucket_mb);
    if (r->cfg->shard) /* one rank: the sharded path would be this one */
        progress_message(&r->pg,
                         "optimizer.shard = true: one rank holds the whole Adam state (%.1f "
                         "MiB), as without it",
                         2 * sizeof(float) * (double)m->n_moments / mib);
}

static void describe(run *r)
{
    if (!is_root(r))
        return;
    const model *m = r->m;
    char shape[256];
    model_shape_text(m, shape, sizeof shape);
    progress_message(&r->pg, "accel-train %s: model %s (%zu parameters) on %s (%s), %d rank%s",
                     ACCEL_VERSION, shape, m->n_trained, r->be->name, r->be->description,
                     r->ci->size, r->ci->size == 1 ? "" : "s");
    progress_message(&r->pg, "memory: %.1f MiB of %s buffers, allocated at start-up",
                     (double)r->be->bytes_allocated / (1 << 20), r->be->name);
    describe_precision(r);
    describe_sync(r);
    /* A language model's samples are windows of its data's tokens, and what
     * it evaluates on is its validation split (data.val_fraction, or
     * data.test's shards): the line says so, as --eval's report does. */
    char split[64];
    long long n_test = r->has_test ? (long long)r->test->n : 0LL;
    if (r->train->tokens)
        snprintf(split, sizeof split, "%lld validation windows of %d tokens", n_test,
                 r->train->channels);
    else
        snprintf(split, sizeof split, "%lld test samples", n_test);
    progress_message(&r->pg,
                     "data: %lld train, %s; batch %d; %ld steps/epoch, %ld steps; output in %s",
                     (long long)r->train->n, split, r->cfg->batch_size, r->steps_per_epoch,
                     r->total_steps, r->run_dir);
}

/* A NaN or infinite loss or gradient: skip the update (train.on_nonfinite =
 * skip) up to max_skips times in a row, or stop. Stopping is agreed (every
 * rank gets here at the same step), and writes no checkpoint of the bad
 * state. */
static int nonfinite(run *r, double loss, double norm)
{
    const config *cfg = r->cfg;
    r->skipped++;
    r->skips_in_row++;
    if (cfg->on_nonfinite == NONFINITE_SKIP && r->skips_in_row <= cfg->max_skips) {
        if (is_root(r))
            progress_message(&r->pg, "loss %g, gradient norm %g: update skipped (%ld in a row)",
                             loss, norm, r->skips_in_row);
        return 0;
    }
    r->reporter = 0;
    if (cfg->on_nonfinite == NONFINITE_SKIP)
        return err_set("%ld updates in a row had a non-finite loss or gradient "
                       "(train.max_skips = %d): training diverged; try a lower optimizer.lr",
                       r->skips_in_row, cfg->max_skips);
    return err_set("the loss is %g and the gradient norm %g: training diverged (try a lower "
                   "optimizer.lr or an optimizer.clip_norm, or train.on_nonfinite = skip)",
                   loss, norm);
}

static int grads_ready(void *ctx, size_t from)
{
    run *r = ctx;
    return r->gsh ? gshard_ready(r->gsh, from) : gsync_ready(r->gs, from);
}

/* Takes the loader's batch of `step` into input slot step & 1: an upload on
 * a GPU; on the CPU, whose memory is the host's, the step reads it where the
 * loader made it. Called while step - 1 runs (after its forward pass), so
 * step - 2 is done with its buffers, and its upload too once the slot's
 * host wait returns. */
static int stage_batch(run *r, long step)
{
    backend *be = r->be;
    model *m = r->m;
    int slot = (int)(step & 1);
    float *x;
    int32_t *y;
    if (be->input_host_wait(be, slot) < 0)
        return -1;
    loader_release(r->ld, step - 2);
    if (loader_get(r->ld, step, &x, &y) < 0)
        return -1;
    if (be->host_memory) {
        r->in_x[slot] = x;
        r->in_y[slot] = y;
        return 0;
    }
    size_t xbytes = sizeof(float) * (size_t)r->local_batch * m->in_features;
    if (be->upload_async(be, slot, m->x_slot[slot], x, xbytes) < 0 ||
        be->upload_async(be, slot, m->y_slot[slot], y,
                         sizeof(int32_t) * (size_t)r->local_batch * m->positions) < 0)
        return -1;
    r->in_x[slot] = m->x_slot[slot];
    r->in_y[slot] = m->y_slot[slot];
    return 0;
}

/* Adds micro-batch k's gradients to the sum; after the last, the sum is
 * in m->grads and every bucket can start. */
static int sum_grads(run *r, int k, bool last)
{
    model *m = r->m;
    backend *be = m->be;
    size_t n = m->n_params;
    int rc = k == 0 ? be->copy(be, r->grad_sum, m->grads, sizeof(float) * n)
             : last ? be->add(be, m->grads, r->grad_sum, m->grads, n)
                    : be->add(be, r->grad_sum, r->grad_sum, m->grads, n);
    if (rc == 0 && last)
        rc = grads_ready(r, 0);
    return rc;
}

/* Micro-batch k of global batch `step`: this rank's rows [k micro, (k + 1)
 * micro) of its slice, forward and backward, the loss added to sums. The
 * next batch is staged while the first one's forward pass runs (on a GPU,
 * where kernels run asynchronously). Each rank's gradient is the sum over
 * its rows divided by the global batch; their sum over micro-batches, and
 * over ranks (gsync, started while the last backward runs), is the mean
 * over the global batch. So 1 rank of K micro-batches makes the updates K
 * ranks of one do, up to the order of the float sums. */
static int micro_step(run *r, long step, int slot, int k, double *sums)
{
    model *m = r->m;
    steptime *t = &r->times;
    bool last = k == r->cfg->grad_accum - 1;
    int micro = m->train_rows; /* the model is built for a micro-batch (memplan_build) */
    size_t at = (size_t)k * micro;
    m->x = r->in_x[slot] + at * m->in_features;
    m->y = r->in_y[slot] + at * m->positions;
    m->first_row = (int64_t)r->ci->rank * r->local_batch + (int64_t)at;
    if (model_forward(m, micro, true) < 0 || steptime_lap(t, PHASE_FORWARD) < 0)
        return -1;
    if (k == 0 && step + 1 < r->total_steps && stage_batch(r, step + 1) < 0)
        return -1;
    if (steptime_lap(t, PHASE_DATA) < 0)
        return -1;
    float scale = 1.0f / (float)r->cfg->batch_size;
    if (model_loss(m, micro, scale, true, &sums[0], &sums[1]) < 0 ||
        steptime_lap(t, PHASE_FORWARD) < 0)
        return -1;
    /* the buckets start during the backward pass only when it is the
     * whole gradient: with micro-batches, once their sum is made */
    bool whole = r->cfg->grad_accum == 1;
    if (model_backward_notify(m, micro, whole ? grads_ready : NULL, r) < 0)
        return -1;
    if (!whole && sum_grads(r, k, last) < 0)
        return -1;
    return steptime_lap(t, PHASE_BACKWARD);
}

/* One optimizer step on global batch `step`, in train.grad_accum
 * micro-batches. */
static int train_step(run *r, long step, double *loss, double *grad_norm, double *lr)
{
    model *m = r->m;
    backend *be = r->be;
    int slot = (int)(step & 1);
    steptime *t = &r->times;
    if (steptime_start(t) < 0)
        return -1;
    if (step == (long)r->first_step && stage_batch(r, step) < 0)
        return -1;
    if (be->input_wait(be, slot) < 0)
        return -1;
    if (steptime_lap(t, PHASE_DATA) < 0)
        return -1;
    m->step = (uint32_t)step;
    double sums[2] = {0.0, 0.0};
    for (int k = 0; k < r->cfg->grad_accum; k++)
        if (micro_step(r, step, slot, k, sums) < 0)
            return -1;
    if ((r->gsh ? gshard_finish(r->gsh) : gsync_finish(r->gs)) < 0 ||
        comm_allreduce_sum_f64(sums, 1) < 0)
        return -1;
    if (steptime_lap(t, PHASE_ALLREDUCE) < 0)
        return -1;
    *loss = sums[0] / r->cfg->batch_size;
    *lr = schedule_lr(r->cfg, step, r->horizon);
    if (optim_grad_norm(m, grad_norm) < 0)
        return -1;
    /* Every rank holds the same reduced loss and gradient norm here, so
     * every rank takes the same branch (sharded, the norm is summed over
     * the ranks, and a non-finite piece makes it non-finite on all). */
    if (isfinite(*loss) && isfinite(*grad_norm)) {
        r->skips_in_row = 0;
        if (optim_apply(m, r->cfg, step, *lr, *grad_norm) < 0 ||
            (r->gsh && gshard_gather(r->gsh) < 0))
            return -1;
    } else if (nonfinite(r, *loss, *grad_norm) < 0) {
        return -1;
    }
    if (be->input_done(be, slot) < 0)
        return -1;
    if (steptime_lap(t, PHASE_OPTIMIZER) < 0)
        return -1;
    return 0;
}

static int run_eval(run *r, long epoch)
{
    if (!r->has_test)
        return 0;
    double loss, acc;
    if (evaluate(r->m, r->test, &r->tf, r->ci, r->cfg->eval_batch_size, &loss, &acc) < 0)
        return -1;
    if (!is_root(r))
        return 0;
    bool text = r->test->tokens;
    const char *unit = text ? model_bits_unit(r->m) : NULL;
    if (text)
        progress_message(
            &r->pg, "epoch %ld/%d  step %lld  val loss %.4f  %.4f bits/%s  accuracy %.4f",
            epoch + 1, r->cfg->epochs, (long long)r->st.step, loss, loss / M_LN2, unit, acc);
    else
        progress_message(&r->pg, "epoch %ld/%d  step %lld  test loss %.4f  accuracy %.4f",
                         epoch + 1, r->cfg->epochs, (long long)r->st.step, loss, acc);
    return metrics_eval(&r->mt, text ? "val" : "test", epoch + 1, r->st.step, loss, acc, unit);
}

/* Rank 0 writes the checkpoint; then every rank learns whether that
 * worked, so a failed write (a full disk) ends the job cleanly, told by
 * rank 0, instead of leaving the others waiting. */
static int save_checkpoint(run *r)
{
    int rc = 0;
    model *m = r->m;
    /* rank 0 stages the model's buffers; sharded moments are gathered
     * into its staging from every rank (a failure to stage is voted on
     * inside, before any rank gathers) */
    float *host = is_root(r) ? ckpt_stage(m) : NULL;
    if (is_root(r) && !host)
        rc = -1;
    if (m->shard && optim_gather_moments(m, 0, host ? host + m->n_params : NULL) < 0)
        rc = -1;
    if (is_root(r) && rc == 0) {
        char path[4096];
        rc = ckpt_save_staged(r->ckpt_dir, m, r->cfg, &r->st, host, path, sizeof path);
        if (rc == 0)
            rc = ckpt_prune(r->ckpt_dir, r->cfg->ckpt_keep);
        if (rc == 0)
            progress_message(&r->pg, "checkpoint %s", path);
    }
    free(host);
    int vote, failed = comm_agree(rc == 0, &vote);
    if (vote < 0)
        return -1;
    if (failed >= 0) {
        r->reporter = failed;
        return -1;
    }
    return 0;
}

/* The step-time breakdown of the window (the device's, of its last step,
 * where the device runs on its own), model FLOP utilization on a GPU, and
 * the metrics record. */
static int log_times(run *r, long done, long epoch, double mean, double lr, double rate,
                     double grad_norm)
{
    double ms[N_PHASES], dev[N_PHASES];
    int have_dev;
    steptime_window_ms(&r->times, r->win_steps, ms);
    if (steptime_device_ms(&r->times, dev, &have_dev) < 0)
        return -1;
    const double *use = have_dev ? dev : ms;
    double mfu = 0;
    if (r->be->peak_flops > 0)
        mfu = model_train_flops_per_sample(r->m) * rate / r->be->peak_flops;
    if (!r->pg.live) {
        char extra[64] = "";
        if (mfu > 0)
            snprintf(extra, sizeof extra, "; model FLOP utilization %.1f%%", 100 * mfu);
        progress_message(&r->pg,
                         "  step time%s: data %.2f, forward %.2f, backward %.2f, all-reduce "
                         "%.2f, optimizer %.2f ms%s",
                         have_dev ? " (device, last step)" : "", use[0], use[1], use[2], use[3],
                         use[4], extra);
    }
    return metrics_train(&r->mt, done, epoch + 1, mean, lr, rate, grad_norm, r->skipped, use, mfu);
}

/* Logging after step number `done` (updates so far). */
static int after_step(run *r, long done, double loss, double lr, double grad_norm)
{
    r->win_loss += loss;
    r->win_steps++;
    bool log = done % r->cfg->log_every == 0 || done == r->total_steps;
    double now = progress_now();
    double rate = (double)r->win_steps * r->cfg->batch_size / (now - r->win_start + 1e-12);
    double mean = r->win_loss / (double)r->win_steps;
    long epoch = (done - 1) / r->steps_per_epoch;
    if (is_root(r)) {
        progress_step(&r->pg, done, epoch, mean, lr, rate, log);
        if (log && log_times(r, done, epoch, mean, lr, rate, grad_norm) < 0)
            return -1;
    }
    if (log) {
        r->win_loss = 0.0;
        r->win_steps = 0;
        r->win_start = now;
    }
    return 0;
}

/* Whether a signal asked any rank to stop: every rank learns it at the
 * same step boundary, so all stop there together. The signal is the one
 * the lowest rank that was sent one got, told to all: a launcher passes a
 * signal on to each node's ranks separately (srun through each node's
 * slurmd, mpirun through each node's daemon), so at that boundary some
 * ranks may have it and others not yet, and rank 0, which says why the run
 * stopped, must not name a signal of its own guessing. */
static int stop_agreed(run *r)
{
    int vote, who = comm_agree(!stop_requested(), &vote);
    if (vote < 0)
        return -1;
    if (who >= 0) {
        int sig = stop_requested(); /* never 0 on rank `who` */
        if (comm_broadcast(&sig, sizeof sig, who) < 0)
            return -1;
        r->stopped = sig;
    }
    return 0;
}

static int loop(run *r)
{
    const config *cfg = r->cfg;
    if (loader_start(r->ld, (long)r->st.step, r->total_steps) < 0)
        return -1;
    r->win_start = progress_now();
    r->startup = r->launched > 0 ? r->win_start - r->launched : 0;
    for (long step = (long)r->st.step; step < r->total_steps; step++) {
        double loss, lr, grad_norm;
        if (train_step(r, step, &loss, &grad_norm, &lr) < 0)
            return err_prefix("step %ld", step + 1);
        long done = step + 1;
        r->st.step = done;
        r->st.epoch = done / r->steps_per_epoch;
        r->st.step_in_epoch = done % r->steps_per_epoch;
        r->st.samples_seen += cfg->batch_size;
        if (after_step(r, done, loss, lr, grad_norm) < 0)
            return -1;
        bool epoch_end = r->st.step_in_epoch == 0;
        bool due = r->cfg->eval_every && done % r->cfg->eval_every == 0;
        if ((epoch_end || due || done == r->total_steps) &&
            run_eval(r, epoch_end ? r->st.epoch - 1 : r->st.epoch) < 0)
            return -1;
        if (cfg->ckpt_every_steps && done % cfg->ckpt_every_steps == 0 && done != r->total_steps &&
            save_checkpoint(r) < 0)
            return -1;
        if (stop_agreed(r) < 0)
            return -1;
        if (r->stopped)
            break;
    }
    return 0;
}

static void run_free(run *r)
{
    if (r->mt.f) /* a failed run's: its failure is told already */
        (void)metrics_close(&r->mt);
    loader_close(r->ld); /* before the buffers it fills */
    /* and before them, the copies from them that may still be in flight
     * on a GPU's copy stream (a stop can end the loop between an input's
     * upload and the step that waits for it); errors have no one to tell */
    for (int slot = 0; slot < 2 && r->be && r->be->input_host_wait; slot++)
        r->be->input_host_wait(r->be, slot);
    for (int s = 0; s < LOADER_DEPTH && r->be; s++) {
        r->be->host_release(r->be, r->hx[s]);
        r->be->host_release(r->be, r->hy[s]);
    }
    resume_free(&r->rp);
    gsync_close(r->gs);
    gshard_close(r->gsh);
    model_free(r->m);
    dataset_close(r->train);
    dataset_close(r->test);
    transform_free(&r->tf);
    if (r->grad_sum)
        r->be->release(r->be, r->grad_sum);
    backend_close(r->be);
}

/* Start-up that each rank does on its own before the ranks compare their
 * devices: the backend (on a GPU: its context and handles, which take
 * memory of their own), the data, the run's steps. Nothing here waits for
 * another rank, so a failure cannot leave a peer hanging. */
static int open_device(run *r, const char **note)
{
    const config *cfg = r->cfg;
    r->threads = cfg->threads ? cfg->threads : comm_default_threads(r->ci);
    backend_options bo = {.device = (device_kind)cfg->device,
                          .threads = r->threads,
                          .precision = (precision_kind)cfg->precision,
                          .deterministic = cfg->deterministic,
                          .local_rank = r->ci->local_rank,
                          .local_size = r->ci->local_size,
                          .allow_shared_gpu = cfg->allow_shared_gpu};
    r->be = backend_open(&bo, note);
    if (!r->be)
        return -1;
    if (load_data(r) < 0 || check_fit(r) < 0)
        return -1;
    plan_steps(r);
    return 0;
}

/* Start-up that each rank does on its own once it knows which ranks share
 * its GPU (place_ranks): the model, its memory checked first, the loader;
 * rank 0 also reads the checkpoint to resume from and prepares the output
 * directory. Nothing here waits for another rank. */
static int setup_local(run *r, const train_options *opt)
{
    const config *cfg = r->cfg;
    if (build_model(r) < 0 || open_loader(r) < 0)
        return -1;
    /* The directories are known before the output is created, so that a
     * bad checkpoint is refused before anything is written. */
    if (prepare_dirs(r) < 0)
        return -1;
    if (is_root(r) && resume_find(&r->rp, opt->resume, r->ckpt_dir, r->m, cfg, opt->allow_change,
                                  opt->n_allow_change, r->steps_per_epoch, stderr) < 0)
        return -1;
    return prepare_output(r);
}

/* Ranks sharing a GPU (comm/device_share.h): refused unless
 * run.allow_shared_gpu; allowed, the gradients go through host memory with
 * MPI, since NCCL takes one rank a GPU. Ranks on GPUs and on the CPU at
 * once are refused: their all-reduces would not meet. Every rank sees every
 * rank's device, so all reach the same verdict, and none enters NCCL alone. */
static int check_devices(run *r, int *kind)
{
    const config *cfg = r->cfg;
    comm_device_verdict v;
    *kind = cfg->comm_backend;
    if (comm_device_exchange(r->ci, r->be->device_id, &v) < 0)
        return -1;
    r->sharers = v.sharers;
    if (v.mixed)
        return err_set("rank %d runs on a GPU but rank %d (on %s) on the CPU, where run.device = "
                       "auto found no usable GPU (its start-up line says why): mend that node, or "
                       "set run.device = cuda to insist on GPUs or cpu for all ranks",
                       v.gpu, v.cpu, v.cpu_host);
    if (!v.shared)
        return 0;
    if (!cfg->allow_shared_gpu)
        return err_set("ranks %d and %d both run on the GPU at PCI %s of %s: start one rank per "
                       "GPU (srun --gpus-per-task=1, or as many ranks a node as it has GPUs), or "
                       "set run.allow_shared_gpu = true",
                       v.a, v.b, v.pair.device, v.pair.host);
    if (cfg->comm_backend == COMM_NCCL)
        return err_set("comm.backend = nccl, but ranks %d and %d share the GPU at PCI %s of %s, "
                       "which NCCL refuses: use comm.backend = auto or mpi",
                       v.a, v.b, v.pair.device, v.pair.host);
    *kind = COMM_MPI;
    snprintf(r->share_note, sizeof r->share_note,
             "ranks share GPUs (%d and %d: PCI %s of %s): gradients are all-reduced through host "
             "memory with MPI, as NCCL takes one rank a GPU",
             v.a, v.b, v.pair.device, v.pair.host);
    return 0;
}

/* Where the ranks run, found together (every rank takes part, whatever its
 * own part came to): which share a GPU (check_devices) and so how the
 * gradients travel, and which host holds which. A GPU's free memory is
 * read first: every rank has opened its backend by now (the vote after
 * open_device), and none allocates before all are through the exchange,
 * so ranks that share a GPU all see it as the model's buffers will find
 * it. */
static int place_ranks(run *r)
{
    int mine = 0;
    r->sharers = 1;
    if (!r->be->host_memory && r->be->mem_free)
        mine = r->be->mem_free(r->be, &r->gpu_free);
    if (check_devices(r, &r->comm_kind) < 0) /* the same verdict on every rank */
        return -1;
    r->hosts = comm_placement(r->ci, r->placement, sizeof r->placement);
    if (r->hosts < 0)
        return -1;
    return mine;
}

/* Every rank holds the same parameters (and state, and unsharded moments),
 * or the run would drift apart rank by rank. */
static int check_same_start(run *r)
{
    uint64_t sum = 0;
    int rc =
        fault_at("checksum") ? err_errno("the parameter checksum") : model_checksum(r->m, &sum);
    if (comm_gate(r->ci, rc) < 0)
        return -1;
    int same = comm_all_equal_u64(sum);
    if (same < 0)
        return -1;
    if (!same) {
        return err_set("the ranks start from different parameters (checksums differ): every rank "
                       "must run the same accel-train with the same config");
    }
    return 0;
}

/* Start-up that needs every rank: the resume point goes from rank 0 to all,
 * then all check that they hold the same parameters. Each step ends alike
 * on every rank, a failure on one failing all (comm_gate): a rank that left
 * alone would leave its peers waiting in the step's next collective. */
static int setup_shared(run *r)
{
    if (resume_share(&r->rp, r->m, r->ci) < 0)
        return -1;
    if (r->rp.found) {
        r->first_step = r->rp.st.step;
        r->st.step = r->rp.st.step;
        r->st.epoch = r->rp.st.epoch;
        r->st.step_in_epoch = r->rp.st.step_in_epoch;
        r->st.samples_seen = r->rp.st.samples_seen;
    }
    model *m = r->m;
    if (m->shard)
        r->gsh = gshard_open(r->be, r->ci, m->shard, m->params, m->grads, r->comm_kind,
                             r->cfg->comm_timeout_s);
    else
        r->gs = gsync_open(r->be, r->ci, m->grads, m->n_params, r->cfg->bucket_mb, r->comm_kind,
                           r->cfg->comm_timeout_s);
    if (!r->gs && !r->gsh)
        return -1;
    return check_same_start(r);
}

/* "4 ranks with 1 CPU thread each", "8 ranks on GPUs" */
static void describe_ranks(char *buf, size_t size, int64_t ranks, int64_t threads)
{
    if (threads > 0)
        snprintf(buf, size, "%lld rank%s with %lld CPU thread%s each", (long long)ranks,
                 ranks == 1 ? "" : "s", (long long)threads, threads == 1 ? "" : "s");
    else
        snprintf(buf, size, "%lld rank%s on GPUs", (long long)ranks, ranks == 1 ? "" : "s");
}

/* A resumed run is bitwise the uninterrupted one only with the same ranks
 * (the gradient sums over ranks change the order of float additions); with
 * other thread counts, only where OpenBLAS rounds a share of a product as
 * it does the whole (kernels/cpu/gemm.c), as it did on the machines
 * measured. Otherwise say so. */
static void note_inexact(run *r)
{
    const ckpt_state *was = &r->rp.st, *now = &r->st;
    if (was->world_size == now->world_size && was->cpu_threads == now->cpu_threads)
        return;
    char then[96], here[96];
    describe_ranks(then, sizeof then, was->world_size, was->cpu_threads);
    describe_ranks(here, sizeof here, now->world_size, now->cpu_threads);
    progress_message(&r->pg,
                     "note: the checkpoint was written by %s, this run has %s: it continues "
                     "the same training, but %s as the first run would have",
                     then, here,
                     was->world_size != now->world_size ? "not bitwise" : "perhaps not bitwise");
}

/* Format 3 brought the keyed sample order (checkpoint.h): from an older
 * checkpoint the run goes on from the same state through other batches. */
static void note_old_order(run *r)
{
    int format = r->rp.st.format;
    if (format >= 3)
        return;
    progress_message(&r->pg,
                     "note: the checkpoint was written with the earlier sample order (checkpoint "
                     "format %d): it continues the same training, but not bitwise as the first "
                     "run would have",
                     format);
}

static void announce(run *r, const char *note)
{
    /* On a GPU every rank says which one it took; across hosts every rank
     * says where it runs and its local rank, which picks its GPU. */
    if (r->be->stream || r->hosts > 1) {
        char host[256] = ""; /* the name only informs */
        if (gethostname(host, sizeof host - 1) < 0)
            snprintf(host, sizeof host, "?");
        fprintf(r->pg.out, "rank %d (local %d) on %s: %s%s%s%s\n", r->ci->rank, r->ci->local_rank,
                host, r->be->stream ? "" : r->be->name, r->be->stream ? "" : " (",
                r->be->description, r->be->stream ? "" : ")");
        fflush(r->pg.out);
    }
    if (!is_root(r))
        return;
    if (note)
        progress_message(&r->pg, "%s", note);
    if (r->share_note[0])
        progress_message(&r->pg, "%s", r->share_note);
    if (r->hosts > 1)
        progress_message(&r->pg, "%s", r->placement);
    describe(r);
    if (r->rp.found) {
        progress_message(&r->pg, "resuming from %s: step %lld (epoch %lld, step %lld of it)",
                         r->rp.path, (long long)r->st.step, (long long)r->st.epoch + 1,
                         (long long)r->st.step_in_epoch);
        note_inexact(r);
        note_old_order(r);
    } else if (r->rp.asked)
        progress_message(&r->pg, "--resume auto: no checkpoint in %s, starting fresh", r->ckpt_dir);
}

/* The share of each phase over the whole run. */
static void print_step_times(run *r)
{
    double all = 0;
    long steps = (long)r->st.step - r->first_step;
    for (int p = 0; p < N_PHASES; p++)
        all += r->times.total[p];
    if (steps <= 0 || all <= 0)
        return;
    char text[256];
    int used = 0;
    for (int p = 0; p < N_PHASES; p++)
        used += snprintf(text + used, sizeof text - (size_t)used, "%s%s %.2f ms (%.0f%%)",
                         p ? ", " : "", steptime_name(p), 1e3 * r->times.total[p] / steps,
                         100 * r->times.total[p] / all);
    progress_message(&r->pg, "step time over %ld steps: %s", steps, text);
    if (r->startup > 0)
        progress_message(&r->pg, "start-up: %.3f s from launch to the first step", r->startup);
}

static int train_and_save(run *r)
{
    if (loop(r) < 0)
        return -1;
    if (is_root(r))
        progress_finish(&r->pg);
    if (save_checkpoint(r) < 0)
        return -1;
    if (is_root(r))
        print_step_times(r);
    if (r->stopped && is_root(r))
        progress_message(&r->pg, "stopped by %s at step %lld; continue with --resume auto",
                         strsignal(r->stopped), (long long)r->st.step);
    if (is_root(r) && metrics_close(&r->mt) < 0)
        return -1;
    return r->stopped ? TRAIN_STOPPED : 0;
}

/* Whether every rank's step of the start-up succeeded: 0 when all did;
 * else -1 on every rank, with *reporter the rank whose failure tells why
 * (left alone where the vote itself failed). */
static int all_ready(int rc, int *reporter)
{
    int vote;
    int failed = comm_agree(rc == 0, &vote);
    if (vote < 0)
        return -1;
    if (failed >= 0) {
        *reporter = failed; /* every rank stops here; `failed` says why */
        return -1;
    }
    return 0;
}

static int run_all(run *r, const train_options *opt, int *reporter)
{
    r->reporter = TRAIN_REPORT_ALONE;
    const char *note = NULL;
    *reporter = TRAIN_REPORT_ALONE;
    /* Each step ends alike on every rank. A failure in place_ranks or
     * setup_shared that every rank shares (a config that cannot work,
     * differing parameters) is agreed on too; a collective that failed
     * leaves this rank alone. */
    if (all_ready(open_device(r, &note), reporter) < 0 || all_ready(place_ranks(r), reporter) < 0 ||
        all_ready(setup_local(r, opt), reporter) < 0 || all_ready(setup_shared(r), reporter) < 0)
        return -1;
    r->times.be = r->be;
    progress_init(&r->pg, opt->out ? opt->out : stdout, r->ci->size == 1, (long)r->st.step,
                  r->total_steps, r->cfg->epochs);
    announce(r, note);
    int done = train_and_save(r);
    *reporter = r->reporter;
    return done;
}

int train_run(const config *cfg, const comm_info *ci, const train_options *opt, int *reporter)
{
    run r;
    memset(&r, 0, sizeof r);
    r.cfg = cfg;
    r.ci = ci;
    r.launched = opt->launched;
    int rc = run_all(&r, opt, reporter);
    if (rc < 0 && is_root(&r))
        progress_finish(&r.pg);
    if (rc < 0 && opt->tell)
        opt->tell(ci, *reporter);
    run_free(&r);
    return rc;
}
