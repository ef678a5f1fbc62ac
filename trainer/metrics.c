#include "trainer/metrics.h"

#include <math.h>
#include <string.h>

#include "trainer/err.h"

int metrics_open(metrics *mt, const char *dir, int append)
{
    snprintf(mt->path, sizeof mt->path, "%s/metrics.jsonl", dir);
    mt->f = fopen(mt->path, append ? "a" : "w");
    if (!mt->f)
        return err_errno("cannot open %s", mt->path);
    return 0;
}

/* JSON has no NaN or infinity; a diverged loss is written as null. */
static void put_num(FILE *f, const char *key, double v)
{
    if (isfinite(v))
        fprintf(f, ",\"%s\":%.9g", key, v);
    else
        fprintf(f, ",\"%s\":null", key);
}

static int finish_line(metrics *mt)
{
    fputs("}\n", mt->f);
    if (fflush(mt->f) != 0 || ferror(mt->f))
        return err_errno("cannot write %s", mt->path);
    return 0;
}

int metrics_train(metrics *mt, long step, long epoch, double loss, double lr, double samples_per_s,
                  double grad_norm, long skipped)
{
    fprintf(mt->f, "{\"step\":%ld,\"epoch\":%ld", step, epoch);
    put_num(mt->f, "loss", loss);
    put_num(mt->f, "lr", lr);
    put_num(mt->f, "samples_per_s", samples_per_s);
    put_num(mt->f, "grad_norm", grad_norm);
    if (skipped)
        fprintf(mt->f, ",\"skipped\":%ld", skipped);
    return finish_line(mt);
}

int metrics_eval(metrics *mt, const char *split, long epoch, long step, double loss,
                 double accuracy)
{
    fprintf(mt->f, "{\"split\":\"%s\",\"epoch\":%ld,\"step\":%ld", split, epoch, step);
    put_num(mt->f, "loss", loss);
    put_num(mt->f, "accuracy", accuracy);
    return finish_line(mt);
}

int metrics_close(metrics *mt)
{
    if (!mt->f)
        return 0;
    int rc = fclose(mt->f) == 0 ? 0 : err_errno("cannot close %s", mt->path);
    mt->f = NULL;
    return rc;
}
