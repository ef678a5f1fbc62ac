/* The sharded Adam moments (optimizer.shard) to and from their whole flat
 * layout, for checkpoints: a checkpoint holds them whole, so that any run,
 * sharded or not, on any number of ranks, resumes from it. */
#include <stdlib.h>

#include "comm/comm.h"
#include "trainer/optim.h"
#include "util/err.h"

/* One moment buffer: every rank's shard to root, put in place there. */
static int gather_one(const model *m, const float *dev, float *mine, float *all, float *flat,
                      int root)
{
    backend *be = m->be;
    const shard_plan *p = m->shard;
    /* gathered even when the download failed, so that no peer waits */
    int rc = be->download(be, mine, dev, sizeof(float) * p->shard_floats);
    if (comm_gather_floats(mine, all, p->shard_floats, root) < 0)
        return -1;
    if (rc == 0 && flat)
        shard_plan_unpack(p, all, flat);
    return rc;
}

int optim_gather_moments(const model *m, int root, float **moments)
{
    *moments = NULL;
    const shard_plan *p = m->shard;
    bool here = m->shard_rank == root;
    size_t n = m->n_params, s = p->shard_floats;
    float *mine = malloc(sizeof(float) * (s + 1));
    float *all = here ? malloc(sizeof(float) * ((size_t)p->world * s + 1)) : NULL;
    float *flat = here ? malloc(sizeof(float) * (2 * n + 1)) : NULL;
    /* the ranks agree that all have their buffers before any gathers, so
     * that none waits in a gather a peer skipped */
    int ok = mine && (!here || (all && flat)), vote;
    if (!ok)
        err_set("out of host memory gathering the Adam moments for a checkpoint");
    int failed = comm_agree(ok, &vote);
    int rc = vote < 0 || failed >= 0 ? -1 : 0;
    if (rc < 0 && ok && vote == 0)
        err_set("rank %d is out of host memory gathering the Adam moments", failed);
    if (rc == 0) { /* both, whatever the first came to: a peer waits in each */
        int rm = gather_one(m, m->adam_m, mine, all, flat, root);
        int rv = gather_one(m, m->adam_v, mine, all, flat ? flat + n : NULL, root);
        rc = rm < 0 || rv < 0 ? -1 : 0;
    }
    free(mine);
    free(all);
    if (rc < 0 || !here) {
        free(flat);
        return rc;
    }
    *moments = flat;
    return 0;
}

int optim_load_moments(model *m, const float *adam_m, const float *adam_v)
{
    backend *be = m->be;
    if (!m->shard)
        return be->upload(be, m->adam_m, adam_m, sizeof(float) * m->n_params) < 0 ||
                       be->upload(be, m->adam_v, adam_v, sizeof(float) * m->n_params) < 0
                   ? -1
                   : 0;
    size_t s = m->shard->shard_floats;
    float *mine = malloc(sizeof(float) * (s + 1));
    if (!mine)
        return err_set("out of host memory loading the Adam moments");
    shard_plan_pack(m->shard, m->shard_rank, adam_m, mine);
    int rc = be->upload(be, m->adam_m, mine, sizeof(float) * s);
    if (rc == 0) {
        shard_plan_pack(m->shard, m->shard_rank, adam_v, mine);
        rc = be->upload(be, m->adam_v, mine, sizeof(float) * s);
    }
    free(mine);
    return rc;
}
