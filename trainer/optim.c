#include "trainer/optim.h"

#include <math.h>
#include <stdlib.h>

#include "comm/comm.h"
#include "util/err.h"

adam_hyper optim_hyper(const config *cfg, long step, double lr, double grad_norm)
{
    double t = (double)step + 1.0;
    adam_hyper h = {
        .lr = (float)lr,
        .beta1 = (float)cfg->beta1,
        .beta2 = (float)cfg->beta2,
        .eps = (float)cfg->eps,
        .one_minus_beta1 = (float)(1.0 - cfg->beta1),
        .one_minus_beta2 = (float)(1.0 - cfg->beta2),
        .weight_decay = cfg->optim_type == OPTIM_ADAMW ? (float)cfg->weight_decay : 0.0f,
        .l2 = cfg->optim_type == OPTIM_ADAM ? (float)cfg->weight_decay : 0.0f,
        .grad_scale = 1.0f,
        .bias_corr1 = (float)(1.0 - pow(cfg->beta1, t)),
        .bias_corr2_sqrt = (float)sqrt(1.0 - pow(cfg->beta2, t)),
    };
    /* As torch.nn.utils.clip_grad_norm_: scale by clip / (norm + 1e-6). */
    if (cfg->clip_norm > 0.0 && grad_norm > cfg->clip_norm)
        h.grad_scale = (float)(cfg->clip_norm / (grad_norm + 1e-6));
    return h;
}

/* Elements [from, to) of the flat buffers that one Adam pass updates: the
 * whole, or a piece that this rank owns (optimizer.shard). The gradient of
 * element `from` is at g, its moments at mo and ve. */
typedef struct {
    size_t from, to;
    const float *g;
    float *mo, *ve;
} optim_window;

static optim_window whole_window(const model *m)
{
    return (optim_window){0, m->n_params, m->grads, m->adam_m, m->adam_v};
}

/* Rank m->shard_rank's piece of bucket b: its gradient summed over the
 * ranks in its place in the flat buffer (gshard_finish), its moments in
 * the bucket's place in the rank's shard (comm/shard_plan.h). */
static optim_window owned_window(const model *m, int b)
{
    optim_window w;
    shard_plan_owned(m->shard, b, m->shard_rank, &w.from, &w.to);
    size_t at = m->shard->buckets[b].shard_at;
    w.g = m->grads + w.from;
    w.mo = m->adam_m + at;
    w.ve = m->adam_v + at;
    return w;
}

/* A sharded rank reads and updates only the trained tensors in its pieces,
 * never the padding between them: MPI's reduce-scatter in place leaves the
 * rest of the gradient buffer undefined (a rank's sum lands at its bucket's
 * start before it moves to its place, and the library may use the rest as
 * scratch), so what backward does not overwrite, the padding, does not
 * stay zero there. Each tensor's part within the window, with whether it
 * is a matrix (rank 2 or more), goes to fn. */
typedef int (*part_fn)(model *m, const optim_window *w, size_t from, size_t to, bool matrix,
                       void *ctx);

static int each_tensor_part(model *m, const optim_window *w, part_fn fn, void *ctx)
{
    for (int i = 0; i < m->n_layers; i++)
        for (int t = 0; t < m->layers[i].n_tensors; t++) {
            const layer_tensor *x = &m->layers[i].tensors[t];
            size_t from = x->offset > w->from ? x->offset : w->from;
            size_t to = x->offset + x->count < w->to ? x->offset + x->count : w->to;
            if (!x->state && from < to && fn(m, w, from, to, x->rank >= 2, ctx) < 0)
                return -1;
        }
    return 0;
}

/* The places in the gradient buffer of a rank's tensor parts, [from, to)
 * pairs in order; NULL ranges counts them. */
typedef struct {
    size_t *ranges;
    int n;
} part_list;

static int list_part(model *m, const optim_window *w, size_t from, size_t to, bool matrix,
                     void *ctx)
{
    (void)m, (void)w, (void)matrix;
    part_list *l = ctx;
    if (l->ranges) {
        l->ranges[2 * l->n] = from;
        l->ranges[2 * l->n + 1] = to;
    }
    l->n++;
    return 0;
}

static int each_owned_part(model *m, part_list *l)
{
    l->n = 0;
    for (int b = 0; b < m->shard->n_buckets; b++) {
        optim_window w = owned_window(m, b);
        if (each_tensor_part(m, &w, list_part, l) < 0)
            return -1;
    }
    return 0;
}

/* The squares of this rank's tensor parts, in one pass of the backend
 * (one wait for a GPU, not one a part). */
static int owned_sumsq(model *m, double *sumsq)
{
    part_list l = {0};
    if (each_owned_part(m, &l) < 0)
        return -1;
    *sumsq = 0.0;
    if (l.n == 0)
        return 0;
    if (!(l.ranges = malloc(sizeof *l.ranges * 2 * (size_t)l.n)))
        return err_set("out of host memory for the gradient norm's %d ranges", l.n);
    int rc = each_owned_part(m, &l);
    if (rc == 0)
        rc = m->be->sumsq_ranges(m->be, m->grads, l.ranges, l.n, sumsq);
    free(l.ranges);
    return rc;
}

int optim_grad_norm(model *m, double *grad_norm)
{
    double sumsq = 0;
    if (!m->shard) {
        if (m->be->sumsq(m->be, m->grads, m->n_params, &sumsq) < 0)
            return -1;
        *grad_norm = sqrt(sumsq);
        return 0;
    }
    /* each rank holds the sums of its own pieces: the squares of all of
     * them, summed over the ranks, are the whole gradient's (a NaN or an
     * infinity anywhere reaches every rank, so all skip or stop alike) */
    if (owned_sumsq(m, &sumsq) < 0 || comm_allreduce_sum_f64(&sumsq, 1) < 0)
        return -1;
    *grad_norm = sqrt(sumsq);
    return 0;
}

/* Adam over [from, to) of the flat buffers, cut to the window. */
static int adam_range(model *m, const optim_window *w, size_t from, size_t to, const adam_hyper *h)
{
    if (from < w->from)
        from = w->from;
    if (to > w->to)
        to = w->to;
    if (to <= from)
        return 0;
    size_t k = from - w->from;
    return m->be->adam(m->be, m->params + from, w->g + k, w->mo + k, w->ve + k, to - from, h);
}

/* decay = matrices: weight decay for the tensors of rank 2 or more (weights
 * and embeddings), none for biases and norm gains. Neighbouring tensors
 * alike go in one call; the zeros between tensors stay zero either way. */
static int apply_by_rank(model *m, const adam_hyper *h)
{
    optim_window w = whole_window(m);
    adam_hyper plain = *h;
    plain.weight_decay = plain.l2 = 0.0f;
    size_t from = 0;
    int decayed = -1; /* of the run from `from` */
    for (int i = 0; i < m->n_layers; i++)
        for (int t = 0; t < m->layers[i].n_tensors; t++) {
            const layer_tensor *x = &m->layers[i].tensors[t];
            int d = x->rank >= 2;
            if (x->state || d == decayed)
                continue;
            if (decayed >= 0 && adam_range(m, &w, from, x->offset, decayed ? h : &plain) < 0)
                return -1;
            from = decayed >= 0 ? x->offset : 0;
            decayed = d;
        }
    return decayed < 0 ? 0 : adam_range(m, &w, from, m->n_params, decayed ? h : &plain);
}

/* The hyper-parameters of a sharded update: plain is h without decay. */
typedef struct {
    const adam_hyper *h, *plain;
    bool by_rank; /* decay = matrices */
} part_hyper;

static int adam_part(model *m, const optim_window *w, size_t from, size_t to, bool matrix,
                     void *ctx)
{
    const part_hyper *ph = ctx;
    return adam_range(m, w, from, to, ph->by_rank && !matrix ? ph->plain : ph->h);
}

int optim_apply(model *m, const config *cfg, long step, double lr, double grad_norm)
{
    adam_hyper h = optim_hyper(cfg, step, lr, grad_norm);
    if (!m->shard) {
        if (cfg->decay == DECAY_MATRICES)
            return apply_by_rank(m, &h);
        optim_window w = whole_window(m);
        return adam_range(m, &w, 0, m->n_params, &h);
    }
    /* each tensor's part in each owned piece, decayed or not by its rank:
     * element by element the update of the whole buffer */
    adam_hyper plain = h;
    plain.weight_decay = plain.l2 = 0.0f;
    part_hyper ph = {&h, &plain, cfg->decay == DECAY_MATRICES};
    for (int b = 0; b < m->shard->n_buckets; b++) {
        optim_window w = owned_window(m, b);
        if (each_tensor_part(m, &w, adam_part, &ph) < 0)
            return -1;
    }
    return 0;
}

int optim_step(model *m, const config *cfg, long step, double lr, double *grad_norm)
{
    if (optim_grad_norm(m, grad_norm) < 0)
        return -1;
    return optim_apply(m, cfg, step, lr, *grad_norm);
}
