#include "kernels/cpu/workers.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/err.h"

/* A pass's threads meet twice (the helpers learn of it, the caller learns
 * they are done). Each waits first by spinning, for up to SPIN_NS, then
 * asleep on a condition variable: within a step the passes come every few
 * microseconds, and a sleeping thread takes 15-55 us to wake on the VMs
 * measured (tens of passes a step), while between steps, or while a
 * product runs on the caller alone, a helper sleeps and takes no core.
 *
 * Once the mutex and conditions are made (checked), locking, waiting and
 * signalling them fail only when misused (EINVAL, EPERM): no condition of
 * the machine makes them fail, so their results are not looked at. */
enum { SPIN_NS = 50000 };

struct cpu_workers {
    int threads;
    pthread_t *helpers;
    int started; /* helpers running */
    pthread_mutex_t lock;
    pthread_cond_t go, done;
    atomic_ulong generation; /* a new pass each; changed under lock */
    atomic_int pending;      /* helpers not yet done with the pass */
    int sleepers;            /* helpers asleep on go, under lock */
    bool quit;               /* under lock */
    /* the pass, written before its generation is published */
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

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t); /* cannot fail for this clock */
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static inline void pause_cpu(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Spins until *gen is no longer seen (true) or SPIN_NS pass (false). */
static bool spin_for_generation(cpu_workers *w, unsigned long seen)
{
    long long until = now_ns() + SPIN_NS;
    for (int i = 1;; i++) {
        if (atomic_load_explicit(&w->generation, memory_order_acquire) != seen)
            return true;
        pause_cpu();
        if (i % 64 == 0 && now_ns() > until)
            return false;
    }
}

static void *helper_main(void *p)
{
    helper_arg *h = p;
    cpu_workers *w = h->w;
    size_t part = h->part;
    free(h);
    unsigned long seen = 0;
    for (;;) {
        if (!spin_for_generation(w, seen)) {
            pthread_mutex_lock(&w->lock);
            while (atomic_load(&w->generation) == seen && !w->quit) {
                w->sleepers++;
                pthread_cond_wait(&w->go, &w->lock);
                w->sleepers--;
            }
            bool quit = w->quit;
            pthread_mutex_unlock(&w->lock);
            if (quit)
                return NULL;
        }
        seen = atomic_load_explicit(&w->generation, memory_order_acquire);
        if (w->fn == NULL) /* close's last generation */
            return NULL;
        if (part < w->parts) {
            size_t from, to;
            range_of(w->n, w->parts, part, &from, &to);
            w->fn(w->arg, from, to);
        }
        if (atomic_fetch_sub_explicit(&w->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&w->lock);
            pthread_cond_signal(&w->done);
            pthread_mutex_unlock(&w->lock);
        }
    }
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
    atomic_init(&w->generation, 0);
    atomic_init(&w->pending, 0);
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

/* Publishes the pass set in w (fn NULL: end) and wakes the sleepers. */
static void publish(cpu_workers *w)
{
    pthread_mutex_lock(&w->lock);
    atomic_store_explicit(&w->pending, w->started, memory_order_relaxed);
    atomic_fetch_add_explicit(&w->generation, 1, memory_order_release);
    if (w->sleepers > 0)
        pthread_cond_broadcast(&w->go);
    pthread_mutex_unlock(&w->lock);
}

void cpu_workers_close(cpu_workers *w)
{
    if (!w)
        return;
    if (w->helpers) {
        pthread_mutex_lock(&w->lock);
        w->quit = true;
        pthread_mutex_unlock(&w->lock);
        w->fn = NULL;
        publish(w); /* a spinning helper sees the generation, a sleeping one quit */
        for (int i = 0; i < w->started; i++)
            pthread_join(w->helpers[i], NULL); /* fails only for a thread not joinable */
    }
    pthread_cond_destroy(&w->done);
    pthread_cond_destroy(&w->go);
    pthread_mutex_destroy(&w->lock);
    free(w->helpers);
    free(w);
}

int cpu_workers_threads(const cpu_workers *w)
{
    return w ? w->threads : 1;
}

size_t cpu_workers_grain(size_t per_item)
{
    enum { FLOATS = 131072 };
    if (per_item == 0 || per_item >= FLOATS)
        return 1;
    return (FLOATS + per_item - 1) / per_item;
}

/* Waits until every helper is done with the pass: spinning, then asleep. */
static void wait_done(cpu_workers *w)
{
    long long until = now_ns() + SPIN_NS;
    for (int i = 1; atomic_load_explicit(&w->pending, memory_order_acquire) > 0; i++) {
        pause_cpu();
        if (i % 64 == 0 && now_ns() > until) {
            pthread_mutex_lock(&w->lock);
            while (atomic_load_explicit(&w->pending, memory_order_acquire) > 0)
                pthread_cond_wait(&w->done, &w->lock);
            pthread_mutex_unlock(&w->lock);
            return;
        }
    }
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
    w->fn = fn;
    w->arg = arg;
    w->n = n;
    w->parts = parts;
    publish(w);
    size_t from, to;
    range_of(n, parts, 0, &from, &to);
    fn(arg, from, to);
    wait_done(w);
}
