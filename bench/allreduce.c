/* bench_allreduce: the gradient all-reduce through the trainer's bucketed
 * grad_sync against one bare MPI_Allreduce of the same bytes.
 *
 *   mpirun -np R bench_allreduce FLOATS BUCKET_MB [ITERS]
 *
 * Each iteration starts together (a barrier) and counts the slowest rank's
 * time. Rank 0 prints one line: ranks, bytes, buckets, and the medians of
 * both in milliseconds. The result is checked: the sum of every rank's
 * gradient, which the bench sets to the rank's number. There is no backward
 * to hide behind here: the buckets all start at once. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm.h"
#include "kernels/backend.h"
#include "trainer/config.h"
#include "util/err.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void fill(float *g, size_t n, float v)
{
    for (size_t i = 0; i < n; i++)
        g[i] = v;
}

/* The slowest rank's seconds since t0. */
static int slowest(double t0, double *out)
{
    double t = MPI_Wtime() - t0;
    if (MPI_Allreduce(&t, out, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD) != MPI_SUCCESS)
        return err_set("MPI_Allreduce of the timings failed");
    return 0;
}

/* Hands the buffer to grad_sync as backward would, the end first, in
 * "layers" of one bucket each: every bucket starts at once. */
static int offer(grad_sync *gs, size_t n, size_t bucket)
{
    for (size_t done = bucket; done < n; done += bucket)
        if (gsync_ready(gs, n - done) < 0)
            return -1;
    return 0;
}

static int run(size_t n, double bucket_mb, int iters, const comm_info *ci)
{
    backend *be = backend_cpu_open(1);
    float *g = malloc(sizeof(float) * n);
    double *bare = malloc(sizeof(double) * (size_t)iters);
    double *bucketed = malloc(sizeof(double) * (size_t)iters);
    if (!be || !g || !bare || !bucketed)
        return err_set("out of memory");
    grad_sync *gs = gsync_open(be, ci, g, n, bucket_mb, COMM_MPI, 60.0);
    if (!gs)
        return -1;
    double floats = bucket_mb * (1 << 20) / sizeof(float); /* as grad_sync counts */
    size_t bucket = floats < 1 ? 1 : (size_t)floats, buckets = (n + bucket - 1) / bucket;
    const float sum = (float)(ci->size * (ci->size - 1) / 2); /* of 0, 1, ..., size - 1 */
    for (int i = -3; i < iters; i++) {                        /* three rounds to warm up */
        fill(g, n, (float)ci->rank);
        if (MPI_Barrier(MPI_COMM_WORLD) != MPI_SUCCESS)
            return err_set("MPI_Barrier failed");
        double t0 = MPI_Wtime(), t;
        if (MPI_Allreduce(MPI_IN_PLACE, g, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD) !=
            MPI_SUCCESS)
            return err_set("MPI_Allreduce failed");
        if (slowest(t0, &t) < 0)
            return -1;
        if (i >= 0)
            bare[i] = t;
        fill(g, n, (float)ci->rank);
        if (MPI_Barrier(MPI_COMM_WORLD) != MPI_SUCCESS)
            return err_set("MPI_Barrier failed");
        t0 = MPI_Wtime();
        if (offer(gs, n, bucket) < 0 || gsync_finish(gs) < 0 || slowest(t0, &t) < 0)
            return -1;
        if (i >= 0)
            bucketed[i] = t;
        if (g[0] != sum || g[n - 1] != sum)
            return err_set("wrong result: %g and %g where the sum is %g", g[0], g[n - 1], sum);
    }
    if (ci->rank == 0)
        printf("ranks %d  bytes %zu  buckets %zu  bare %.3f ms  bucketed %.3f ms\n", ci->size,
               sizeof(float) * n, buckets, 1e3 * median(bare, iters),
               1e3 * median(bucketed, iters));
    if (ci->rank == 0 && (fflush(stdout) != 0 || ferror(stdout)))
        return err_errno("cannot write standard output");
    gsync_close(gs);
    backend_close(be);
    free(g), free(bare), free(bucketed);
    return 0;
}

int main(int argc, char **argv)
{
    comm_info ci;
    if (comm_init(&argc, &argv, &ci) < 0) {
        fprintf(stderr, "bench_allreduce: %s\n", err_msg());
        return 1;
    }
    if (argc < 3 || atol(argv[1]) < 1 || atof(argv[2]) <= 0) {
        fprintf(stderr, "usage: mpirun -np R bench_allreduce FLOATS BUCKET_MB [ITERS]\n");
        comm_finalize();
        return 2;
    }
    int iters = argc > 3 ? atoi(argv[3]) : 50;
    if (run((size_t)atol(argv[1]), atof(argv[2]), iters < 1 ? 1 : iters, &ci) < 0) {
        fprintf(stderr, "bench_allreduce: rank %d: %s\n", ci.rank, err_msg());
        comm_abort(1);
    }
    comm_finalize();
    return 0;
}
