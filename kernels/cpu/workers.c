#include "kernels/cpu/workers.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

/* Once the mutex and conditions are made (checked), locking, waiting and
 * signalling them fail only when misused (EINVAL, EPERM): no condition of
 * the machine makes them fail, so their results are not looked at. */
struct cpu_workers {
    int threads;
    pthread_t *helpers;
    int started; /* helpers running */
    pthread_mutex_t lock;
    pthread_cond_t go, done;
    /* the pass, under lock: a new one each generation */
    unsigned long generation;
    int pending; /* helpers not yet done with it */
    bool quit;
    cpu_range_fn fn;
    void *arg;
    size_t n, parts;
};

typedef struct {
    cpu_workers *w;
    size_t part; /* 1 .. threads - 1: the caller takes part 0 */
} helper_arg;

static void range_of(size_t n, size_t parts, size_t part, size_t *from, size_t *to)
{
    *from = n * part / parts;
    *to = n * (part + 1) / parts;
}

static void *helper_main(void *p)
{
    helper_arg *h = p;
    cpu_workers *w = h->w;
    size_t part = h->part;
    free(h);
    unsigned long seen = 0;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (w->generation == seen && !w->quit)
            pthread_cond_wait(&w->go, &w->lock);
        if (w->quit)
            break;
        seen = w->generation;
        cpu_range_fn fn = w->fn;
        void *arg = w->arg;
        size_t n = w->n, parts = w->parts;
        pthread_mutex_unlock(&w->lock);
        if (part < parts) {
            size_t from, to;
            range_of(n, parts, part, &from, &to);
            fn(arg, from, to);
        }
        pthread_mutex_lock(&w->lock);
        if (--w->pending == 0)
            pthread_cond_signal(&w->done);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

static void *out_of_memory(cpu_workers *w)
{
    cpu_workers_close(w);
    err_set("out of host memory for the CPU backend's threads");
    return NULL;
}

cpu_workers *cpu_workers_open(int threads)
{
    cpu_workers *w = calloc(1, sizeof *w);
    if (!w)
        return out_of_memory(NULL);
    w->threads = threads > 1 ? threads : 1;
    int made = 0, rc = pthread_mutex_init(&w->lock, NULL);
    if (rc == 0 && ++made && (rc = pthread_cond_init(&w->go, NULL)) == 0 && ++made)
        rc = pthread_cond_init(&w->done, NULL);
    if (rc) {
        if (made > 1)
            pthread_cond_destroy(&w->go);
        if (made > 0)
            pthread_mutex_destroy(&w->lock);
        free(w);
        err_set("pthread_mutex_init/pthread_cond_init failed for the CPU backend's threads: %s",
                strerror(rc));
        return NULL;
    }
    w->helpers = calloc((size_t)w->threads, sizeof *w->helpers);
    if (!w->helpers)
        return out_of_memory(w);
    for (int i = 1; i < w->threads; i++) {
        helper_arg *h = malloc(sizeof *h);
        if (!h)
            return out_of_memory(w);
        *h = (helper_arg){.w = w, .part = (size_t)i};
        if ((rc = pthread_create(&w->helpers[w->started], NULL, helper_main, h)) != 0) {
            free(h);
            cpu_workers_close(w);
            err_set("pthread_create failed starting the CPU backend's thread %d of %d: %s (lower "
                    "run.threads)",
                    i + 1, threads, strerror(rc));
            return NULL;
        }
        w->started++;
    }
    return w;
}

void cpu_workers_close(cpu_workers *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->quit = true;
    pthread_cond_broadcast(&w->go);
    pthread_mutex_unlock(&w->lock);
    for (int i = 0; i < w->started; i++)
        pthread_join(w->helpers[i], NULL); /* fails only for a thread not joinable */
    pthread_cond_destroy(&w->done);
    pthread_cond_destroy(&w->go);
    pthread_mutex_destroy(&w->lock);
    free(w->helpers);
    free(w);
}

size_t cpu_workers_grain(size_t per_item)
{
    enum { FLOATS = 32768 };
    if (per_item == 0 || per_item >= FLOATS)
        return 1;
    return (FLOATS + per_item - 1) / per_item;
}

void cpu_workers_run(cpu_workers *w, size_t n, size_t grain, cpu_range_fn fn, void *arg)
{
    size_t parts = w ? (size_t)w->threads : 1;
    if (grain < 1)
        grain = 1;
    if (parts > n / grain)
        parts = n / grain;
    if (parts <= 1) {
        if (n > 0)
            fn(arg, 0, n);
        return;
    }
    pthread_mutex_lock(&w->lock);
    w->fn = fn;
    w->arg = arg;
    w->n = n;
    w->parts = parts;
    w->pending = w->started;
    w->generation++;
    pthread_cond_broadcast(&w->go);
    pthread_mutex_unlock(&w->lock);
    size_t from, to;
    range_of(n, parts, 0, &from, &to);
    fn(arg, from, to);
    pthread_mutex_lock(&w->lock);
    while (w->pending > 0)
        pthread_cond_wait(&w->done, &w->lock);
    pthread_mutex_unlock(&w->lock);
}
