/* The sharded Adam moments (optimizer.shard) to and from their whole flat
 * layout, for checkpoints: a checkpoint holds them whole, so that any run,
 * sharded or not, on any number of ranks, resumes from it. */
#include <stdlib.h>

#include "comm/comm.h"
#include "trainer/optim.h"
#include "util/err.h"

/* One moment buffer: each bucket's pieces from every rank straight into
 * their places in root's flat copy, one MPI_Gatherv a bucket. */
static int gather_one(const model *m, const float *dev, float *mine, int *counts, int *displs,
                      float *flat, int root)
{
    backend *be = m->be;
    const shard_plan *p = m->shard;
    /* gathered even when the download failed, so that no peer waits */
    int rc = be->download(be, mine, dev, sizeof(float) * p->shard_floats);
    for (int b = 0; b < p->n_buckets; b++) {
        const shard_bucket *k = &p->buckets[b];
        for (int r = 0; r < p->world; r++) {
            counts[r] = (int)shard_plan_count(p, b, r);
            displs[r] = (int)(k->start + (size_t)r * k->piece);
        }
        if (comm_gatherv_floats(mine + k->shard_at, counts[m->shard_rank], flat, counts, displs,
                                root) < 0)
            return -1;
    }
    return rc;
}

int optim_gather_moments(const model *m, int root, float *flat)
{
    const shard_plan *p = m->shard;
    bool here = m->shard_rank == root;
    size_t n = m->n_params;
    float *mine = malloc(sizeof(float) * (p->shard_floats + 1));
    int *counts = malloc(sizeof(int) * (size_t)p->world);
    int *displs = malloc(sizeof(int) * (size_t)p->world);
    /* the ranks agree that all have their buffers before any gathers, so
     * that none waits in a gather a peer skipped */
    int ok = mine && counts && displs && (!here || flat), vote;
    if (!(mine && counts && displs)) /* else the caller's staging failed, and said why */
        err_set("out of host memory gathering the Adam moments for a checkpoint");
    int failed = comm_agree(ok, &vote);
    int rc = vote < 0 || failed >= 0 ? -1 : 0;
    if (rc < 0 && ok && vote == 0)
        err_set("rank %d is out of host memory gathering the Adam moments", failed);
    if (rc == 0) { /* both, whatever the first came to: a peer waits in each */
        int rm = gather_one(m, m->adam_m, mine, counts, displs, flat, root);
        int rv = gather_one(m, m->adam_v, mine, counts, displs, flat ? flat + n : NULL, root);
        rc = rm < 0 || rv < 0 ? -1 : 0;
    }
    free(mine);
    free(counts);
    free(displs);
    return rc;
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
