#include "trainer/loader.h"

#include <hdf5.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/sampler.h"
#include "data/transform.h"
#include "util/err.h"
#include "util/h5util.h"

/* The mutex and condition variable are default ones used as POSIX allows,
 * so their lock, unlock, wait and signal cannot fail, nor can destroying
 * them once the thread is joined; those calls go unchecked. Creating and
 * joining the thread are checked. */
struct loader {
    dataset *ds;
    loader_shape sh;
    transform tf; /* its own: a transform's scratch is not for two threads */
    sampler smp;
    int64_t *idx;
    float *x[LOADER_DEPTH];
    int32_t *y[LOADER_DEPTH];
    bool threaded, running;

    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* any change below */
    long first, end;   /* the steps to make */
    long ready;        /* steps before this one are made */
    long released;     /* buffers of steps before this one may be refilled */
    bool asleep;       /* the thread waits for buffers */
    bool stop, failed;
    char err[ERR_MSG_MAX]; /* the thread's message when failed */
};

/* Makes the batch of `step` in its buffer. */
static int fill(loader *ld, long step)
{
    const loader_shape *sh = &ld->sh;
    int b = (int)(step % LOADER_DEPTH);
    long epoch = step / sh->steps_per_epoch, in_epoch = step % sh->steps_per_epoch;
    sampler_batch(&ld->smp, epoch, in_epoch, sh->batch, sh->rank, sh->world, ld->idx);
    if (dataset_gather(ld->ds, ld->idx, sh->local_batch, ld->x[b], ld->y[b]) < 0)
        return -1;
    transform_apply(&ld->tf, ld->x[b], sh->local_batch, ld->idx, epoch, true);
    return 0;
}

static void *worker(void *arg)
{
    loader *ld = arg;
    h5util_quiet(); /* HDF5 keeps its error-printing setting per thread */
    pthread_mutex_lock(&ld->mu);
    for (long s = ld->first; s < ld->end; s++) {
        while (!ld->stop && s - ld->released >= LOADER_DEPTH) {
            ld->asleep = true;
            pthread_cond_wait(&ld->cv, &ld->mu);
        }
        ld->asleep = false;
        if (ld->stop)
            break;
        pthread_mutex_unlock(&ld->mu);
        int rc = fill(ld, s);
        pthread_mutex_lock(&ld->mu);
        if (rc < 0) {
            ld->failed = true;
            snprintf(ld->err, sizeof ld->err, "%s", err_msg());
            pthread_cond_broadcast(&ld->cv);
            break;
        }
        ld->ready = s + 1;
        pthread_cond_broadcast(&ld->cv);
    }
    pthread_mutex_unlock(&ld->mu);
    return NULL;
}

/* HDF5 reads may run beside the main thread's checkpoint writes only when
 * the library serializes its calls (Debian's does). */
static int can_thread(const config *cfg, bool *yes)
{
    *yes = true;
    if (cfg->data_format != DATA_HDF5)
        return 0;
    hbool_t ts = 0;
    if (H5is_library_threadsafe(&ts) < 0)
        return err_set("HDF5 H5is_library_threadsafe failed");
    *yes = ts;
    return 0;
}

loader *loader_open(const config *cfg, dataset *ds, const loader_shape *sh,
                    float *const x[LOADER_DEPTH], int32_t *const y[LOADER_DEPTH])
{
    loader *ld = calloc(1, sizeof *ld);
    if (!ld) {
        err_set("out of host memory for the data loader");
        return NULL;
    }
    ld->ds = ds;
    ld->sh = *sh;
    memcpy(ld->x, x, sizeof ld->x);
    memcpy(ld->y, y, sizeof ld->y);
    ld->idx = malloc(sizeof *ld->idx * (size_t)sh->local_batch);
    if (!ld->idx) {
        err_set("out of host memory for the batch indices");
        goto fail;
    }
    transform_options tf_opts = config_transform_options(cfg);
    if (transform_init(&ld->tf, &tf_opts, ds->channels, ds->height, ds->width) < 0 ||
        sampler_init(&ld->smp, ds->n, cfg->seed, cfg->shuffle) < 0 ||
        can_thread(cfg, &ld->threaded) < 0)
        goto fail;
    int rc = pthread_mutex_init(&ld->mu, NULL);
    if (rc == 0 && (rc = pthread_cond_init(&ld->cv, NULL)) != 0)
        pthread_mutex_destroy(&ld->mu);
    if (rc != 0) {
        err_set("pthread_mutex_init/pthread_cond_init for the data loader: %s", strerror(rc));
        goto fail;
    }
    return ld;
fail:
    transform_free(&ld->tf);
    free(ld->idx);
    free(ld);
    return NULL;
}

int loader_start(loader *ld, long first, long end)
{
    ld->first = ld->ready = ld->released = first;
    ld->end = end;
    if (!ld->threaded || first >= end)
        return 0;
    /* The thread starts with every signal blocked, so that SIGUSR1, SIGTERM
     * and SIGINT reach the main thread, whose handler asks for the stop. */
    sigset_t all, old;
    sigfillset(&all);
    int rc = pthread_sigmask(SIG_SETMASK, &all, &old);
    if (rc != 0)
        return err_set("pthread_sigmask before starting the data loader: %s", strerror(rc));
    rc = pthread_create(&ld->thread, NULL, worker, ld);
    int rc2 = pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return err_set("pthread_create for the data loader thread: %s (run with fewer "
                       "processes or threads)",
                       strerror(rc));
    ld->running = true;
    if (rc2 != 0)
        return err_set("pthread_sigmask after starting the data loader: %s", strerror(rc2));
    return 0;
}

int loader_get(loader *ld, long step, float **x, int32_t **y)
{
    int b = (int)(step % LOADER_DEPTH);
    *x = ld->x[b];
    *y = ld->y[b];
    if (!ld->running)
        return fill(ld, step);
    pthread_mutex_lock(&ld->mu);
    if (ld->ready <= step && ld->asleep)
        pthread_cond_broadcast(&ld->cv);
    while (ld->ready <= step && !ld->failed)
        pthread_cond_wait(&ld->cv, &ld->mu);
    int rc = ld->ready > step ? 0 : err_set("%s", ld->err);
    pthread_mutex_unlock(&ld->mu);
    return rc;
}

void loader_release(loader *ld, long step)
{
    pthread_mutex_lock(&ld->mu);
    if (step + 1 > ld->released) {
        ld->released = step + 1;
        /* wake the thread once half the buffers are free, not for each */
        if (ld->asleep && ld->released + LOADER_DEPTH - ld->ready >= LOADER_DEPTH / 2)
            pthread_cond_broadcast(&ld->cv);
    }
    pthread_mutex_unlock(&ld->mu);
}

bool loader_threaded(const loader *ld)
{
    return ld->threaded;
}

void loader_close(loader *ld)
{
    if (!ld)
        return;
    if (ld->running) {
        pthread_mutex_lock(&ld->mu);
        ld->stop = true;
        pthread_cond_broadcast(&ld->cv);
        pthread_mutex_unlock(&ld->mu);
        /* fails only for a thread not joinable or joined before: this one
         * was started joinable and is joined here once */
        (void)pthread_join(ld->thread, NULL);
    }
    pthread_cond_destroy(&ld->cv);
    pthread_mutex_destroy(&ld->mu);
    transform_free(&ld->tf);
    free(ld->idx);
    free(ld);
}
