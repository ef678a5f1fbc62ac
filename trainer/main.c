/* accel-train: the program. Parses the command line and the configuration,
 * hands them to the trainer, and is the only place that prints an error
 * and decides the exit status. */
#include <stdio.h>
#include <stdlib.h>

#include "comm/comm.h"
#include "trainer/cli.h"
#include "trainer/config.h"
#include "trainer/err.h"
#include "trainer/train.h"

enum { EXIT_ERROR = 1, EXIT_USAGE = 2 };

static int fail(int code)
{
    fflush(stdout);
    fprintf(stderr, "accel-train: error: %s\n", err_msg());
    return code;
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

int main(int argc, char **argv)
{
    cli_args args;
    if (cli_parse(argc, argv, &args) < 0)
        return fail(EXIT_USAGE);
    if (args.help) {
        cli_print_usage(stdout);
        return 0;
    }
    if (args.version) {
        printf("accel-train %s\n", ACCEL_VERSION);
        return 0;
    }
    config *cfg = malloc(sizeof *cfg);
    if (!cfg) {
        fprintf(stderr, "accel-train: error: out of memory\n");
        return EXIT_ERROR;
    }
    comm_info ci;
    int rc = 0;
    if (load_config(cfg, &args) < 0 || comm_init(&argc, &argv, &ci) < 0) {
        rc = fail(EXIT_ERROR);
    } else {
        train_options opt = {.resume = args.resume};
        if (train_run(cfg, &ci, &opt) < 0)
            rc = fail(EXIT_ERROR);
        comm_finalize();
    }
    config_free(cfg);
    free(cfg);
    return rc;
}
