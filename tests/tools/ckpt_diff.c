/* ckpt_diff: compares the float datasets under /model and /optimizer of two
 * checkpoints, through the HDF5 API alone (no project code), and prints the
 * largest absolute difference of each tree and its 99.99th percentile.
 *   ckpt_diff A.h5 B.h5 [MAX [Q QTOL]]
 * exits 0 when every difference is <= MAX (default 0: bitwise equal) and,
 * given Q and QTOL, the Q-quantile of each tree's differences is <= QTOL;
 * 1 when not; 2 when the files cannot be compared. Two runs that differ
 * only in the order of float additions agree closely almost everywhere,
 * but a few Adam weights whose gradient is almost always zero get pushed
 * to +-lr by rounding alone: a tight quantile and a looser maximum tell
 * that apart from a real difference. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    hid_t other;
    double worst;
    double *diffs; /* every difference, for the quantile */
    size_t n_diffs, cap;
    char worst_name[512];
    long datasets;
    int error;
} walk;

static int read_all(hid_t file, const char *name, float **out, hssize_t *n)
{
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    if (d < 0)
        return -1;
    hid_t s = H5Dget_space(d);
    *n = H5Sget_simple_extent_npoints(s);
    *out = malloc(sizeof(float) * (size_t)(*n > 0 ? *n : 1));
    int rc = H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) < 0 ? -1 : 0;
    H5Sclose(s);
    H5Dclose(d);
    return rc;
}

static int keep_room(walk *w, size_t more)
{
    if (w->n_diffs + more <= w->cap)
        return 0;
    size_t cap = 2 * (w->n_diffs + more);
    double *d = realloc(w->diffs, sizeof *d * cap);
    if (!d)
        return -1;
    w->diffs = d;
    w->cap = cap;
    return 0;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile of the differences (the value below which a fraction q
 * of them lie). */
static double quantile(walk *w, double q)
{
    if (!w->n_diffs)
        return 0;
    qsort(w->diffs, w->n_diffs, sizeof *w->diffs, by_value);
    size_t i = (size_t)(q * (double)(w->n_diffs - 1));
    return w->diffs[i];
}

static herr_t visit(hid_t obj, const char *name, const H5O_info_t *info, void *data)
{
    walk *w = data;
    if (info->type != H5O_TYPE_DATASET)
        return 0;
    float *a = NULL, *b = NULL;
    hssize_t na, nb;
    if (read_all(obj, name, &a, &na) < 0 || read_all(w->other, name, &b, &nb) < 0 || na != nb) {
        fprintf(stderr, "ckpt_diff: %s is missing or differs in size\n", name);
        w->error = 1;
    } else {
        if (keep_room(w, (size_t)na) < 0)
            w->error = 1;
        for (hssize_t i = 0; i < na && !w->error; i++) {
            double d = fabs((double)a[i] - b[i]);
            w->diffs[w->n_diffs++] = isnan(d) ? INFINITY : d;
            if (!(d <= w->worst)) {
                w->worst = isnan(d) ? INFINITY : d;
                snprintf(w->worst_name, sizeof w->worst_name, "%s[%lld]", name, (long long)i);
            }
        }
        w->datasets++;
    }
    free(a);
    free(b);
    return 0;
}

static int compare(hid_t fa, hid_t fb, const char *root, double tol, double q, double qtol)
{
    hid_t g = H5Gopen2(fa, root, H5P_DEFAULT);
    if (g < 0) {
        fprintf(stderr, "ckpt_diff: no %s\n", root);
        return 2;
    }
    hid_t gb = H5Gopen2(fb, root, H5P_DEFAULT);
    walk w = {.other = gb};
    if (gb < 0 || H5Ovisit(g, H5_INDEX_NAME, H5_ITER_INC, visit, &w) < 0 || w.error) {
        fprintf(stderr, "ckpt_diff: cannot compare %s\n", root);
        return 2;
    }
    double at_q = quantile(&w, q);
    printf("%s: %ld datasets, %zu values, max |diff| %.3g%s%s, %g-quantile %.3g\n", root,
           w.datasets, w.n_diffs, w.worst, w.worst > 0 ? " at " : "",
           w.worst > 0 ? w.worst_name : "", q, at_q);
    free(w.diffs);
    H5Gclose(gb);
    H5Gclose(g);
    return w.worst <= tol && at_q <= qtol ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4 && argc != 6) {
        fprintf(stderr, "usage: ckpt_diff A.h5 B.h5 [MAX [Q QTOL]]\n");
        return 2;
    }
    double tol = argc >= 4 ? atof(argv[3]) : 0.0;
    double q = argc == 6 ? atof(argv[4]) : 0.9999, qtol = argc == 6 ? atof(argv[5]) : tol;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t fa = H5Fopen(argv[1], H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t fb = H5Fopen(argv[2], H5F_ACC_RDONLY, H5P_DEFAULT);
    if (fa < 0 || fb < 0) {
        fprintf(stderr, "ckpt_diff: cannot open %s\n", fa < 0 ? argv[1] : argv[2]);
        return 2;
    }
    int rm = compare(fa, fb, "/model", tol, q, qtol);
    int ro = compare(fa, fb, "/optimizer", tol, q, qtol);
    H5Fclose(fa);
    H5Fclose(fb);
    if (rm == 2 || ro == 2)
        return 2;
    return rm || ro;
}
