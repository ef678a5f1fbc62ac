/* cli: the command line.
 *   accel-train CONFIG [--set section.key=value]... [--resume auto|PATH
 *               [--allow-change LAYER.KEY]...] [--dry-run]
 *   accel-train CONFIG --eval CHECKPOINT [--predict OUT.h5]
 *   accel-train CONFIG --generate CHECKPOINT [--prompt TEXT] [--tokens N]
 *               [--temperature T] [--top_k K] [--seed S]
 *   accel-train --help | --version */
#ifndef ACCEL_CLI_H
#define ACCEL_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CLI_MAX_SETS 256

typedef struct {
    const char *config_path;
    const char *sets[CLI_MAX_SETS];
    int n_sets;
    const char *resume;
    const char *allow_change[CLI_MAX_SETS]; /* --allow-change LAYER.KEY, with --resume */
    int n_allow_change;
    const char *eval;     /* --eval PATH: evaluate that checkpoint */
    const char *predict;  /* --predict OUT.h5, with --eval */
    const char *generate; /* --generate CHECKPOINT */
    const char *prompt;
    int tokens, top_k;
    double temperature;
    uint64_t seed;
    bool seed_given;
    /* the last of --prompt, --tokens, --temperature, --top_k, --seed given
     * (NULL: none), which only --generate takes */
    const char *generation_option;
    bool help, help_config, version, dry_run;
} cli_args;

/* Fills args from argv; errors are usage errors. */
int cli_parse(int argc, char **argv, cli_args *args);

void cli_print_usage(FILE *out);

#endif
