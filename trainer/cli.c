#include "trainer/cli.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trainer/config.h"
#include "util/err.h"

/* Takes the value of --opt VALUE or --opt=VALUE. */
static int option_value(int argc, char **argv, int *i, const char *opt, const char **value)
{
    size_t n = strlen(opt);
    if (argv[*i][n] == '=') {
        *value = argv[*i] + n + 1;
        return 0;
    }
    if (*i + 1 >= argc)
        return err_set("%s needs a value (see --help)", opt);
    *value = argv[++*i];
    return 0;
}

/* A number option's value, within [lo, hi]. A value too small for a
 * double's normal range is still that value (strtod says ERANGE for a
 * subnormal too); only an overflow is out of range by itself. */
static int number_value(int argc, char **argv, int *i, const char *opt, double lo, double hi,
                        double *out)
{
    const char *v = "";
    if (option_value(argc, argv, i, opt, &v) < 0)
        return -1;
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    bool overflow = errno == ERANGE && isinf(d);
    if (end == v || *end || overflow || isnan(d) || !(d >= lo && d <= hi))
        return err_set("%s %s: expected a number from %.15g to %.15g", opt, v, lo, hi);
    *out = d;
    return 0;
}

/* A whole-number option's value, within [lo, hi]: "2.9" or "1e3" is not
 * one, rather than quietly 2 or 1000. */
static int integer_value(int argc, char **argv, int *i, const char *opt, uint64_t lo, uint64_t hi,
                         uint64_t *out)
{
    const char *v = "";
    if (option_value(argc, argv, i, opt, &v) < 0)
        return -1;
    const char *p = v;
    while (*p == ' ' || *p == '\t')
        p++;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(p, &end, 10);
    /* strtoull takes "-1" as the largest value: a digit must come first */
    if (!(*p >= '0' && *p <= '9') || *end || errno || n < lo || n > hi)
        return err_set("%s %s: expected a whole number from %llu to %llu", opt, v,
                       (unsigned long long)lo, (unsigned long long)hi);
    *out = n;
    return 0;
}

/* The length of an argument's option name: "--seed" of "--seed=3". */
static int option_name(const char *arg)
{
    return (int)strcspn(arg, "=");
}

static bool is_option(const char *arg, const char *opt)
{
    size_t n = strlen(opt);
    return strncmp(arg, opt, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

/* --tokens, --top_k, --seed or --temperature. */
static int generation_number(int argc, char **argv, int *i, cli_args *args)
{
    const char *a = argv[*i];
    uint64_t n;
    if (is_option(a, "--tokens")) {
        if (integer_value(argc, argv, i, "--tokens", 1, 1 << 24, &n) < 0)
            return -1;
        args->tokens = (int)n;
    } else if (is_option(a, "--top_k")) {
        if (integer_value(argc, argv, i, "--top_k", 0, 1 << 24, &n) < 0)
            return -1;
        args->top_k = (int)n;
    } else if (is_option(a, "--seed")) {
        if (integer_value(argc, argv, i, "--seed", 0, UINT64_MAX, &args->seed) < 0)
            return -1;
        args->seed_given = true;
    } else {
        if (number_value(argc, argv, i, "--temperature", 0, 100, &args->temperature) < 0)
            return -1;
    }
    args->generation_option = a;
    return 0;
}

int cli_parse(int argc, char **argv, cli_args *args)
{
    memset(args, 0, sizeof *args);
    args->tokens = 256;
    args->temperature = 1.0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            args->help = true;
        } else if (!strcmp(a, "--help-config")) {
            args->help_config = true;
        } else if (!strcmp(a, "--version")) {
            args->version = true;
        } else if (!strcmp(a, "--dry-run")) {
            args->dry_run = true;
        } else if (is_option(a, "--set")) {
            if (args->n_sets == CLI_MAX_SETS)
                return err_set("too many --set options (at most %d)", CLI_MAX_SETS);
            if (option_value(argc, argv, &i, "--set", &args->sets[args->n_sets++]) < 0)
                return -1;
        } else if (is_option(a, "--eval")) {
            if (option_value(argc, argv, &i, "--eval", &args->eval) < 0)
                return -1;
        } else if (is_option(a, "--predict")) {
            if (option_value(argc, argv, &i, "--predict", &args->predict) < 0)
                return -1;
        } else if (is_option(a, "--generate")) {
            if (option_value(argc, argv, &i, "--generate", &args->generate) < 0)
                return -1;
        } else if (is_option(a, "--prompt")) {
            if (option_value(argc, argv, &i, "--prompt", &args->prompt) < 0)
                return -1;
            args->generation_option = a;
        } else if (is_option(a, "--tokens") || is_option(a, "--top_k") || is_option(a, "--seed") ||
                   is_option(a, "--temperature")) {
            if (generation_number(argc, argv, &i, args) < 0)
                return -1;
        } else if (is_option(a, "--allow-change")) {
            if (args->n_allow_change == CLI_MAX_SETS)
                return err_set("too many --allow-change options (at most %d)", CLI_MAX_SETS);
            if (option_value(argc, argv, &i, "--allow-change",
                             &args->allow_change[args->n_allow_change++]) < 0)
                return -1;
        } else if (is_option(a, "--resume")) {
            if (option_value(argc, argv, &i, "--resume", &args->resume) < 0)
                return -1;
            if (!args->resume[0])
                return err_set("--resume needs 'auto' or a checkpoint path");
        } else if (a[0] == '-' && a[1] != '\0') {
            return err_set("unknown option '%s' (see --help)", a);
        } else if (args->config_path) {
            return err_set("more than one config file given ('%s' and '%s')", args->config_path, a);
        } else {
            args->config_path = a;
        }
    }
    if (args->predict && !args->eval)
        return err_set("--predict goes with --eval CHECKPOINT");
    if (args->n_allow_change && !args->resume)
        return err_set("--allow-change goes with --resume");
    if (args->generation_option && !args->generate)
        return err_set("%.*s goes with --generate CHECKPOINT", option_name(args->generation_option),
                       args->generation_option);
    if (args->generate && (args->eval || args->resume || args->dry_run))
        return err_set("--generate does not go with --eval, --resume or --dry-run");
    if (args->eval && (args->resume || args->dry_run))
        return err_set("--eval does not go with --resume or --dry-run");
    if (!args->help && !args->help_config && !args->version && !args->config_path)
        return err_set("no config file given (usage: accel-train CONFIG [options]; see --help)");
    return 0;
}

void cli_print_usage(FILE *out)
{
    fputs("usage: accel-train CONFIG [--set section.key=value]... [--resume auto|PATH "
          "[--allow-change LAYER.KEY]...] [--dry-run]\n"
          "       accel-train CONFIG [--set ...]... --eval CHECKPOINT [--predict OUT.h5]\n"
          "       accel-train CONFIG [--set ...]... --generate CHECKPOINT [--prompt TEXT] ...\n"
          "       accel-train --help | --version\n"
          "\n"
          "Trains the model that CONFIG (an INI file) describes.\n"
          "\n"
          "options:\n"
          "  --set section.key=value  override a config key, whether or not the file sets it\n"
          "                           (repeatable; a layer key is addressed by the layer's\n"
          "                           name, e.g. --set layer0.units=512)\n"
          "  --resume auto|PATH       continue from the newest checkpoint, or from PATH: its\n"
          "                           model must be the config's, trained alike\n"
          "  --allow-change LAYER.KEY with --resume: the config's value of a key that shapes\n"
          "                           training alone (a dropout rate, batch norm's momentum\n"
          "                           or sync) may differ from the checkpoint's (repeatable)\n"
          "  --eval CHECKPOINT        evaluate a checkpoint on the test split: loss, accuracy,\n"
          "                           per-class accuracy and the confusion matrix; a language\n"
          "                           model's on its validation split: loss, bits per byte,\n"
          "                           next-token accuracy, and both by position\n"
          "  --predict OUT.h5         with --eval: write the logits and predicted labels (a\n"
          "                           language model's: logits, inputs and targets); never\n"
          "                           over an input of the command or a non-regular file\n"
          "  --generate CHECKPOINT    a language model's text: --prompt TEXT (default a\n"
          "                           newline; cut to its last block_size bytes, with a\n"
          "                           note), --tokens N (256), --temperature T (1; 0: the\n"
          "                           likeliest), --top_k K (0: all), --seed S (run.seed)\n"
          "  --dry-run                build the model and print its summary (layers, shapes,\n"
          "                           parameters, FLOPs, memory) and the configuration in\n"
          "                           force, then exit without training\n"
          "  --help                   this text, then every config key\n"
          "  --help-config            every config key, as Markdown (docs/config.md)\n"
          "  --version                the version\n"
          "\n"
          "exit status: 0 done; 1 an error (one line on stderr says which); 2 a bad command "
          "line\n"
          "\n"
          "config keys (section, key, meaning, default):\n",
          out);
    config_print_help(out);
}
