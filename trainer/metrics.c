#include "trainer/metrics.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "util/err.h"

int metrics_open(metrics *mt, const char *dir, int append)
{
    snprintf(mt->path, sizeof mt->path, "%s/metrics.jsonl", dir);
    mt->f = fopen(mt->path, append ? "a" : "w");
    if (!mt->f)
        return err_errno("cannot open %s", mt->path);
    return tboard_open(&mt->tb, dir);
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
                  double grad_norm, long skipped, const double *phase_ms, double mfu)
{
    fprintf(mt->f, "{\"step\":%ld,\"epoch\":%ld", step, epoch);
    put_num(mt->f, "loss", loss);
    put_num(mt->f, "lr", lr);
    put_num(mt->f, "samples_per_s", samples_per_s);
    put_num(mt->f, "grad_norm", grad_norm);
    for (int p = 0; p < N_PHASES; p++) {
        char key[32];
        snprintf(key, sizeof key, "%s_ms", steptime_name(p));
        put_num(mt->f, key, phase_ms[p]);
    }
    if (skipped)
        fprintf(mt->f, ",\"skipped\":%ld", skipped);
    if (mfu > 0)
        put_num(mt->f, "mfu", mfu);
    if (finish_line(mt) < 0)
        return -1;
    const char *tags[4] = {"train/loss", "train/lr", "train/samples_per_s", "train/grad_norm"};
    const double values[4] = {loss, lr, samples_per_s, grad_norm};
    for (int i = 0; i < 4; i++)
        if (tboard_scalar(&mt->tb, tags[i], step, (float)values[i]) < 0)
            return -1;
    return tboard_flush(&mt->tb);
}

int metrics_eval(metrics *mt, const char *split, long epoch, long step, double loss,
                 double accuracy, const char *unit, double bytes_per_token)
{
    bool per_byte = unit && bytes_per_token > 0 && strcmp(unit, "byte") != 0;
    double bpb = per_byte ? loss / M_LN2 / bytes_per_token : 0.0;
    char bits[32] = "";
    if (unit)
        snprintf(bits, sizeof bits, "bits_per_%s", unit);
    fprintf(mt->f, "{\"split\":\"%s\",\"epoch\":%ld,\"step\":%ld", split, epoch, step);
    put_num(mt->f, "loss", loss);
    put_num(mt->f, "accuracy", accuracy);
    if (unit)
        put_num(mt->f, bits, loss / M_LN2);
    if (per_byte)
        put_num(mt->f, "bits_per_byte", bpb);
    if (finish_line(mt) < 0)
        return -1;
    char tag[64];
    snprintf(tag, sizeof tag, "%s/loss", split);
    if (tboard_scalar(&mt->tb, tag, step, (float)loss) < 0)
        return -1;
    snprintf(tag, sizeof tag, "%s/accuracy", split);
    if (tboard_scalar(&mt->tb, tag, step, (float)accuracy) < 0)
        return -1;
    snprintf(tag, sizeof tag, "%s/%s", split, bits);
    if (unit && tboard_scalar(&mt->tb, tag, step, (float)(loss / M_LN2)) < 0)
        return -1;
    snprintf(tag, sizeof tag, "%s/bits_per_byte", split);
    if (per_byte && tboard_scalar(&mt->tb, tag, step, (float)bpb) < 0)
        return -1;
    return tboard_flush(&mt->tb);
}

int metrics_close(metrics *mt)
{
    if (!mt->f)
        return 0;
    int rc = fclose(mt->f) == 0 ? 0 : err_errno("cannot close %s", mt->path);
    mt->f = NULL;
    if (tboard_close(&mt->tb) < 0 && rc == 0)
        rc = -1;
    return rc;
}
