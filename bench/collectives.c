/* bench_collectives: the times of the three collectives data-parallel
 * training uses, over message sizes, for the scaling model (scaling.py).
 *
 *   mpirun -np R [transport options] bench_collectives [MAX_BYTES [ITERS]]
 *
 * For each size from 4 KiB up to MAX_BYTES (default 64 MiB), by factors of
 * 4: MPI_Allreduce (the gradient sum), MPI_Reduce_scatter_block (a sharded
 * optimizer's reduced slices) and MPI_Allgather (its parameters gathered
 * back) of that many bytes of floats in all, each ITERS times (default: as
 * many as fit in about 0.2 s, at least 5). Each time starts together (a
 * barrier) and counts the slowest rank. Rank 0 prints a CSV line a
 * collective and size: op,ranks,bytes,median_ms,min_ms. The sums are
 * checked (every rank contributes its number).
 *
 *   mpirun -np R bench_collectives --shard [MAX_BYTES [ITERS]]
 *
 * The choices for a sharded optimizer's gradient bucket on the CPU
 * (comm/grad_shard.c), from 64 KiB up by factors of 2, every one in place
 * in the bucket as the trainer runs them: allreduce; reduce_scatter_block
 * (equal parts); reduce_scatter_uneven (MPI_Reduce_scatter with the parts
 * comm/shard_plan.c cuts, ceil(n / R) each, the last short: n is one float
 * less than the size, so that they are uneven); and the non-blocking forms
 * the trainer starts during backward, iallreduce and ireduce_scatter_uneven
 * (started, then waited for at once). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    OP_ALLREDUCE,
    OP_REDUCE_SCATTER,
    OP_ALLGATHER,
    /* --shard: in place, as a sharded optimizer's bucket */
    OP_RS_BLOCK,
    OP_RS_UNEVEN,
    OP_IALLREDUCE,
    OP_IRS_UNEVEN,
} op_kind;
static const char *const op_names[] = {"allreduce",
                                       "reduce_scatter",
                                       "allgather",
                                       "reduce_scatter_block",
                                       "reduce_scatter_uneven",
                                       "iallreduce",
                                       "ireduce_scatter_uneven"};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Fails the job with the call that failed: a benchmark has no one to
 * return an error to. */
static void check(int rc, const char *call)
{
    if (rc != MPI_SUCCESS) {
        char what[MPI_MAX_ERROR_STRING];
        int len = 0;
        if (MPI_Error_string(rc, what, &len) != MPI_SUCCESS)
            snprintf(what, sizeof what, "error code %d", rc);
        fprintf(stderr, "bench_collectives: %s failed: %s\n", call, what);
        MPI_Abort(MPI_COMM_WORLD, 1);
        exit(1); /* MPI_Abort returned: this rank at least must not go on */
    }
}

/* The parts of a bucket of n floats as comm/shard_plan.c cuts it:
 * ceil(n / size) each, the last ones short. */
static void uneven_counts(int n, int size, int *counts)
{
    int piece = (n + size - 1) / size;
    for (int r = 0; r < size; r++) {
        long lo = (long)r * piece, hi = lo + piece;
        counts[r] = (int)((hi < n ? hi : n) - (lo < n ? lo : n));
    }
}

static int *counts; /* --shard: a count a rank */

/* The in-place forms (--shard), each of which leaves this rank's part at
 * the buffer's start, or the whole sum there. */
static int once_in_place(op_kind op, float *buf, int floats, int size, int rank, float sum)
{
    uneven_counts(floats - 1, size, counts);
    int slice = floats / size;
    MPI_Request req;
    switch (op) {
    case OP_RS_BLOCK:
        check(
            MPI_Reduce_scatter_block(MPI_IN_PLACE, buf, slice, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD),
            "MPI_Reduce_scatter_block (in place)");
        return buf[0] == sum && buf[slice - 1] == sum ? 0 : -1;
    case OP_RS_UNEVEN:
        check(MPI_Reduce_scatter(MPI_IN_PLACE, buf, counts, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD),
              "MPI_Reduce_scatter (in place)");
        return buf[0] == sum && buf[counts[rank] - 1] == sum ? 0 : -1;
    case OP_IRS_UNEVEN:
        check(MPI_Ireduce_scatter(MPI_IN_PLACE, buf, counts, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD,
                                  &req),
              "MPI_Ireduce_scatter (in place)");
        check(MPI_Wait(&req, MPI_STATUS_IGNORE), "MPI_Wait");
        return buf[0] == sum && buf[counts[rank] - 1] == sum ? 0 : -1;
    case OP_IALLREDUCE:
        check(MPI_Iallreduce(MPI_IN_PLACE, buf, floats, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &req),
              "MPI_Iallreduce");
        check(MPI_Wait(&req, MPI_STATUS_IGNORE), "MPI_Wait");
        return buf[0] == sum && buf[floats - 1] == sum ? 0 : -1;
    default:
        return -1;
    }
}

/* One collective over `floats` floats in all (each rank's slice is
 * floats / size for the scatter and the gather); returns 0 when its result
 * is the sum (or the gathered ranks) it should be. */
static int once(op_kind op, float *buf, float *out, int floats, int size, int rank)
{
    int slice = floats / size;
    float sum = (float)(size * (size - 1) / 2);
    switch (op) {
    case OP_ALLREDUCE:
        check(MPI_Allreduce(MPI_IN_PLACE, buf, floats, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD),
              "MPI_Allreduce");
        return buf[0] == sum && buf[floats - 1] == sum ? 0 : -1;
    case OP_REDUCE_SCATTER:
        check(MPI_Reduce_scatter_block(buf, out, slice, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD),
              "MPI_Reduce_scatter_block");
        return out[0] == sum && out[slice - 1] == sum ? 0 : -1;
    case OP_ALLGATHER:
        check(MPI_Allgather(buf, slice, MPI_FLOAT, out, slice, MPI_FLOAT, MPI_COMM_WORLD),
              "MPI_Allgather");
        return out[0] == 0.0f && out[(size_t)slice * size - 1] == (float)(size - 1) ? 0 : -1;
    default:
        return once_in_place(op, buf, floats, size, rank, sum);
    }
}

/* The median and the least of `iters` timed runs of op, the slowest rank's
 * time each. */
static void time_op(op_kind op, float *buf, float *out, int floats, int iters, int rank, int size,
                    double *median, double *least)
{
    double *t = malloc(sizeof(double) * (size_t)iters);
    if (!t)
        check(MPI_ERR_NO_MEM, "malloc");
    for (int i = -2; i < iters; i++) { /* two rounds to warm up */
        for (int j = 0; j < floats; j++)
            buf[j] = (float)rank;
        check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
        double t0 = MPI_Wtime();
        int bad = once(op, buf, out, floats, size, rank);
        double mine = MPI_Wtime() - t0, slowest;
        check(MPI_Allreduce(&mine, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD),
              "MPI_Allreduce (timing)");
        if (bad) {
            fprintf(stderr, "bench_collectives: %s of %d floats: wrong result\n", op_names[op],
                    floats);
            MPI_Abort(MPI_COMM_WORLD, 1);
            exit(1);
        }
        if (i >= 0)
            t[i] = slowest;
    }
    qsort(t, (size_t)iters, sizeof *t, cmp_double);
    *median = iters % 2 ? t[iters / 2] : (t[iters / 2 - 1] + t[iters / 2]) / 2;
    *least = t[0];
    free(t);
}

int main(int argc, char **argv)
{
    check(MPI_Init(&argc, &argv), "MPI_Init");
    check(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
    int rank, size;
    check(MPI_Comm_rank(MPI_COMM_WORLD, &rank), "MPI_Comm_rank");
    check(MPI_Comm_size(MPI_COMM_WORLD, &size), "MPI_Comm_size");
    int shard = argc > 1 && strcmp(argv[1], "--shard") == 0;
    argc -= shard, argv += shard;
    long max_bytes = argc > 1 ? atol(argv[1]) : 64L << 20;
    int fixed_iters = argc > 2 ? atoi(argv[2]) : 0;
    if (max_bytes < 4096 || max_bytes > (1L << 30)) {
        if (rank == 0)
            fprintf(stderr, "usage: mpirun -np R bench_collectives [--shard] [MAX_BYTES (4096 "
                            "to 2^30) [ITERS]]\n");
        MPI_Finalize();
        return 2;
    }
    size_t cap = (size_t)max_bytes / sizeof(float) + (size_t)size;
    float *buf = malloc(sizeof(float) * cap), *out = malloc(sizeof(float) * cap);
    counts = malloc(sizeof(int) * (size_t)size);
    if (!buf || !out || !counts)
        check(MPI_ERR_NO_MEM, "malloc");
    static const op_kind plain[] = {OP_ALLREDUCE, OP_REDUCE_SCATTER, OP_ALLGATHER};
    static const op_kind sharded[] = {OP_ALLREDUCE, OP_RS_BLOCK, OP_RS_UNEVEN, OP_IALLREDUCE,
                                      OP_IRS_UNEVEN};
    const op_kind *ops = shard ? sharded : plain;
    int n_ops = shard ? 5 : 3;
    if (rank == 0)
        printf("op,ranks,bytes,median_ms,min_ms\n");
    for (long bytes = shard ? 65536 : 4096; bytes <= max_bytes; bytes *= shard ? 2 : 4) {
        /* whole slices: the total rounded down to a multiple of the ranks */
        int floats = (int)(bytes / (long)sizeof(float) / size * size);
        for (int i = 0; i < n_ops; i++) {
            op_kind op = ops[i];
            double median, least;
            int iters = fixed_iters;
            if (iters < 1) { /* about 0.2 s of it, judged from one run */
                time_op(op, buf, out, floats, 1, rank, size, &median, &least);
                iters = median > 0 ? (int)(0.2 / median) : 100;
                iters = iters < 5 ? 5 : iters > 200 ? 200 : iters;
                check(MPI_Bcast(&iters, 1, MPI_INT, 0, MPI_COMM_WORLD), "MPI_Bcast");
            }
            time_op(op, buf, out, floats, iters, rank, size, &median, &least);
            if (rank == 0)
                printf("%s,%d,%zu,%.4f,%.4f\n", op_names[op], size, sizeof(float) * floats,
                       1e3 * median, 1e3 * least);
        }
    }
    free(buf), free(out), free(counts);
    /* the table is the product: a write of it that failed fails the run */
    if (rank == 0 && (fflush(stdout) != 0 || ferror(stdout))) {
        perror("bench_collectives: cannot write standard output");
        MPI_Abort(MPI_COMM_WORLD, 1);
        exit(1);
    }
    check(MPI_Finalize(), "MPI_Finalize");
    return 0;
}
