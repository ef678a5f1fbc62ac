#include "trainer/outputs.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "data/datafiles.h"
#include "trainer/checkpoint.h"
#include "trainer/report.h"
#include "util/err.h"
#include "util/fsutil.h"
#include "util/outpath.h"

static int add_data(void *ctx, const char *path, const char *key, bool dir)
{
    return outpath_add(ctx, path, "a data %s of %s (%s)", dir ? "directory" : "file", key, path);
}

/* What every command reads: the config file and the data. */
static int add_config_and_data(outpath_inputs *in, const config *cfg)
{
    dataset_options o = config_dataset_options(cfg);
    if (outpath_add(in, cfg->source, "the config file this command reads (%s)", cfg->source) < 0 ||
        datafiles_each(&o, add_data, in) < 0)
        return -1;
    return 0;
}

int outputs_check_predict(const config *cfg, const char *ckpt, const char *predict)
{
    static const char advice[] = "choose another output path";
    outpath_inputs in = {0};
    char tmp[4096], dir[4096];
    int rc = report_tmp_name(predict, tmp, sizeof tmp);
    if (rc == 0)
        rc = add_config_and_data(&in, cfg);
    if (rc == 0)
        rc = outpath_add(&in, ckpt, "the checkpoint this command evaluates (--eval %s)", ckpt);
    if (rc == 0)
        rc = outpath_check_file(&in, "--predict ", predict, advice);
    if (rc == 0)
        rc = outpath_check_file(&in, "--predict's temporary file ", tmp, advice);
    /* the file is made once the evaluation is done: a directory that is
     * not there is told now, not after it */
    fs_dirname(predict, dir, sizeof dir);
    if (rc == 0 && fs_check_writable_dir(dir) < 0)
        rc = err_prefix("--predict %s", predict);
    outpath_free(&in);
    return rc;
}

/* The checkpoints already in dir: a new one of the same step replaces its
 * file, pruning deletes the old ones. */
static int check_checkpoints(const outpath_inputs *in, const char *dir)
{
    struct stat st;
    if (stat(dir, &st) < 0)
        return 0; /* not made yet (outpath_check_dir told any other failure) */
    int64_t *steps;
    size_t n;
    if (ckpt_list(dir, &steps, &n) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char path[4096];
        ckpt_path(dir, steps[i], path, sizeof path);
        rc = outpath_check_file(in, "", path,
                                "checkpoints there are replaced and pruned; choose another "
                                "checkpoint.dir");
    }
    free(steps);
    return rc;
}

int outputs_check_run(const config *cfg, const char *run_dir, const char *ckpt_dir,
                      const char *resumed)
{
    outpath_inputs in = {0};
    char metrics[4096];
    int rc = add_config_and_data(&in, cfg);
    if (rc == 0)
        rc = outpath_check_dir(&in, "the run directory ", run_dir, "choose another run.dir");
    if (rc == 0)
        rc = outpath_check_dir(&in, "the checkpoint directory ", ckpt_dir,
                               "choose another checkpoint.dir");
    if (rc == 0)
        rc = check_checkpoints(&in, ckpt_dir);
    if (rc == 0 && resumed)
        rc = outpath_add(&in, resumed, "the checkpoint this command resumes from (%s)", resumed);
    int n = snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", run_dir);
    if (rc == 0 && (n < 0 || (size_t)n >= sizeof metrics))
        rc = err_set("the run directory %s: a path too long", run_dir);
    if (rc == 0)
        rc = outpath_check_file(&in, "", metrics, "choose another run.dir");
    outpath_free(&in);
    return rc;
}
