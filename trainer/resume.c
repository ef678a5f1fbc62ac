#include "trainer/resume.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "comm/comm.h"
#include "trainer/optim.h"
#include "util/err.h"
#include "util/fault.h"

static int alloc_host(resume_point *rp, const model *m)
{
    if (!rp->host && !fault_at("resume.alloc"))
        rp->host = malloc(sizeof(float) * (ckpt_host_floats(m) + 1));
    return rp->host ? 0 : err_set("out of host memory for a checkpoint");
}

/* A checkpoint continues this run only with the same seed (the data order
 * and dropout masks derive from it) and the same batches. */
static int check_continues(const resume_point *rp, const config *cfg, long steps_per_epoch)
{
    const ckpt_state *st = &rp->st;
    if (st->seed != cfg->seed)
        return err_set("checkpoint %s was written with run.seed = %llu, the config has %llu "
                       "(--set run.seed=%llu to continue it)",
                       rp->path, (unsigned long long)st->seed, (unsigned long long)cfg->seed,
                       (unsigned long long)st->seed);
    if (st->batch_size != cfg->batch_size)
        return err_set("checkpoint %s was written with data.batch_size = %lld, the config has "
                       "%d (--set data.batch_size=%lld to continue it)",
                       rp->path, (long long)st->batch_size, cfg->batch_size,
                       (long long)st->batch_size);
    int64_t at;
    if (__builtin_mul_overflow(st->epoch, (int64_t)steps_per_epoch, &at) ||
        __builtin_add_overflow(at, st->step_in_epoch, &at) || at != st->step ||
        st->step_in_epoch >= steps_per_epoch)
        return err_set("checkpoint %s is at step %lld (epoch %lld, step %lld in it), which does "
                       "not fit %ld steps per epoch: was the training data changed?",
                       rp->path, (long long)st->step, (long long)st->epoch,
                       (long long)st->step_in_epoch, steps_per_epoch);
    return 0;
}

static int read_one(resume_point *rp, const model *m, const config *cfg,
                    const ckpt_model_rules *rules, long steps_per_epoch)
{
    if (ckpt_read(rp->path, m, rules, &rp->st, rp->host) < 0)
        return -1;
    return check_continues(rp, cfg, steps_per_epoch);
}

/* --resume auto: the newest checkpoint that reads cleanly. A damaged one is
 * skipped with a warning; one that reads but belongs to another model or
 * does not continue this config is an error, not a reason to start over. */
static int find_auto(resume_point *rp, const char *dir, const model *m, const config *cfg,
                     const ckpt_model_rules *rules, long steps_per_epoch, FILE *warn)
{
    struct stat sb;
    if (stat(dir, &sb) < 0 && errno == ENOENT)
        return 0;
    int64_t *steps;
    size_t n;
    if (ckpt_list(dir, &steps, &n) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n && !rp->found; i++) {
        ckpt_path(dir, steps[i], rp->path, sizeof rp->path);
        rc = ckpt_read(rp->path, m, rules, &rp->st, rp->host);
        if (rc == CKPT_DAMAGED) {
            fprintf(warn, "accel-train: warning: skipping damaged %s: %s\n", rp->path, err_msg());
            rc = 0;
            continue;
        }
        if (rc == 0)
            rc = check_continues(rp, cfg, steps_per_epoch);
        rp->found = rc == 0;
        if (rc < 0)
            break;
    }
    free(steps);
    return rc;
}

int resume_find(resume_point *rp, const char *how, const char *dir, const model *m,
                const config *cfg, const char *const *allowed, int n_allowed, long steps_per_epoch,
                FILE *warn)
{
    rp->found = false;
    rp->asked = how != NULL;
    if (!how)
        return 0;
    /* a continuation is of the same model, trained as the config says */
    ckpt_model_rules rules = {.resume = true, .allowed = allowed, .n_allowed = n_allowed};
    if (ckpt_model_rules_check(&rules, cfg) < 0 || alloc_host(rp, m) < 0)
        return -1;
    if (!strcmp(how, "auto"))
        return find_auto(rp, dir, m, cfg, &rules, steps_per_epoch, warn);
    int n = snprintf(rp->path, sizeof rp->path, "%s", how);
    if (n < 0 || (size_t)n >= sizeof rp->path) /* cut, it would name another file */
        return err_set("--resume: a path of %zu characters, over the %zu a path may have",
                       strlen(how), sizeof rp->path - 1);
    if (access(rp->path, R_OK) < 0)
        return err_errno("--resume %s", rp->path);
    if (read_one(rp, m, cfg, &rules, steps_per_epoch) < 0)
        return err_prefix("--resume");
    rp->found = true;
    return 0;
}

/* The uploads: this rank's own work, which may fail alone. */
static int load(resume_point *rp, model *m)
{
    backend *be = m->be;
    size_t n = m->n_params;
    if (fault_at("resume.load"))
        return err_errno("loading the checkpoint into the model");
    if (be->upload(be, m->state, rp->host + 3 * n, sizeof(float) * m->n_state) < 0 ||
        be->upload(be, m->params, rp->host, sizeof(float) * n) < 0 ||
        optim_load_moments(m, rp->host + n, rp->host + 2 * n) < 0)
        return -1;
    return 0;
}

int resume_share(resume_point *rp, model *m, const comm_info *ci)
{
    struct {
        int found;
        ckpt_state st;
    } head = {rp->found, rp->st};
    if (comm_broadcast(&head, sizeof head, 0) < 0)
        return -1;
    rp->found = head.found;
    rp->st = head.st;
    int rc = 0;
    if (rp->found) {
        rc = ci->rank == 0 ? 0 : alloc_host(rp, m);
        if (comm_gate(ci, rc) < 0 ||
            comm_broadcast(rp->host, sizeof(float) * ckpt_host_floats(m), 0) < 0)
            rc = -1;
        else
            rc = comm_gate(ci, load(rp, m));
    }
    /* the copy is in the model now: kept, it would be a whole checkpoint's
     * host memory held through the run (measured: a 20 M-parameter MLP's
     * resumed run peaked 236 MiB above a fresh one) */
    resume_free(rp);
    return rc;
}

void resume_free(resume_point *rp)
{
    free(rp->host);
    rp->host = NULL;
}
