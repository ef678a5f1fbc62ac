/* accel-train: the program. Parses the command line and the configuration,
 * hands them to the trainer, and is the only place that prints an error
 * and decides how the job ends.
 *
 * With several ranks, a failure that every rank knows of (a bad config,
 * missing data) is told once, by the lowest rank that hit it, and every rank
 * exits normally with status 1. A failure of one rank alone (mid-run) is told
 * by that rank, which then aborts the whole job, since its peers may be
 * waiting for it. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "comm/comm.h"
#include "kernels/backend.h"
#include "trainer/cli.h"
#include "trainer/config.h"
#include "trainer/generate.h"
#include "trainer/progress.h"
#include "trainer/report.h"
#include "trainer/stop.h"
#include "trainer/summary.h"
#include "trainer/train.h"
#include "util/err.h"

enum { EXIT_ERROR = 1, EXIT_USAGE = 2 };

static double launched; /* when main began, for the start-up time */

static void report(const comm_info *ci)
{
    fflush(stdout); /* what came before, first; it failing is not the news */
    if (ci && ci->rank != 0)
        fprintf(stderr, "accel-train: error: rank %d: %s\n", ci->rank, err_msg());
    else
        fprintf(stderr, "accel-train: error: %s\n", err_msg());
}

/* What --help, --help-config, --version, --dry-run, --eval and --generate
 * print is the product (docs/config.md is --help-config's output): a write
 * of it that failed, say to a full disk, fails the run. Training's progress
 * lines only inform (progress.h). */
static int stdout_written(void)
{
    if (fflush(stdout) != 0)
        return err_errno("cannot write standard output");
    if (ferror(stdout))
        return err_set("cannot write standard output (a write to it failed: is its disk full?)");
    return 0;
}

/* The exit status of a command that only prints. */
static int printed(void)
{
    if (stdout_written() < 0) {
        report(NULL);
        return EXIT_ERROR;
    }
    return 0;
}

static int load_config(config *cfg, const cli_args *args)
{
    config_defaults(cfg);
    if (config_load(cfg, args->config_path) < 0)
        return -1;
    for (int i = 0; i < args->n_sets; i++)
        if (config_set(cfg, args->sets[i]) < 0)
            return -1;
    return config_validate(cfg);
}

static bool told; /* tell_failure has run */

/* Tells a failure (see the top of this file): a rank that failed alone
 * prints and, with peers, aborts the job (no return); otherwise the rank
 * chosen to tell prints. */
static void tell_failure(const comm_info *ci, int reporter)
{
    told = true;
    if (reporter == TRAIN_REPORT_ALONE) {
        report(ci);
        if (ci->size > 1)
            comm_abort(EXIT_ERROR);
    } else if (reporter == ci->rank) {
        report(ci);
    }
}

/* Ends a failed job, telling it unless train_run already has. */
static int end_failed(const comm_info *ci, int reporter)
{
    if (!told)
        tell_failure(ci, reporter);
    comm_finalize();
    return EXIT_ERROR;
}

static int run(const cli_args *args)
{
    comm_info ci;
    if (stop_install() < 0 || comm_init(NULL, NULL, &ci) < 0) {
        report(NULL);
        return EXIT_ERROR;
    }
    config *cfg = calloc(1, sizeof *cfg);
    int rc = cfg ? load_config(cfg, args) : err_set("out of memory");
    int vote, failed = comm_agree(rc == 0, &vote);
    int reporter = vote < 0 ? TRAIN_REPORT_ALONE : failed;
    if (vote == 0 && failed < 0 && args->dry_run) {
        rc = ci.rank == 0 ? summary_print(cfg, &ci, stdout) : 0;
        reporter = TRAIN_REPORT_ALONE;
    } else if (vote == 0 && failed < 0 && args->eval) {
        /* one rank does it; under a launcher the others have nothing to do */
        rc = ci.rank == 0 ? report_checkpoint(cfg, args->eval, args->predict, stdout) : 0;
        reporter = TRAIN_REPORT_ALONE;
    } else if (vote == 0 && failed < 0 && args->generate) {
        generate_options g = {.checkpoint = args->generate,
                              .prompt = args->prompt,
                              .tokens = args->tokens,
                              .temperature = args->temperature,
                              .top_k = args->top_k,
                              .seed = args->seed_given ? args->seed : cfg->seed};
        rc = ci.rank == 0 ? generate_run(cfg, &g, stdout, stderr) : 0;
        reporter = TRAIN_REPORT_ALONE;
    } else if (vote == 0 && failed < 0) {
        train_options opt = {.resume = args->resume,
                             .allow_change = args->allow_change,
                             .n_allow_change = args->n_allow_change,
                             .launched = launched,
                             .tell = tell_failure};
        rc = train_run(cfg, &ci, &opt, &reporter);
    } else {
        rc = -1;
    }
    if (rc == 0 && (args->dry_run || args->eval || args->generate))
        rc = stdout_written();
    if (cfg)
        config_free(cfg);
    free(cfg);
    if (rc < 0)
        return end_failed(&ci, reporter);
    comm_finalize();
    return rc == TRAIN_STOPPED ? EXIT_STOPPED : 0;
}

int main(int argc, char **argv)
{
    launched = progress_now();
    cli_args args;
    if (cli_parse(argc, argv, &args) < 0) {
        report(NULL);
        return EXIT_USAGE;
    }
    if (args.help) {
        cli_print_usage(stdout);
        return printed();
    }
    if (args.help_config) {
        config_print_markdown(stdout);
        return printed();
    }
    if (args.version) {
        char versions[1024];
        backend_versions(versions, sizeof versions);
        printf("accel-train %s\n%s", ACCEL_VERSION, versions);
        return printed();
    }
    return run(&args);
}
