/* config: every valid form of a value, and every kind of bad input, with the
 * file:line the message must name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "trainer/config.h"
#include "trainer/layer.h"
#include "util/err.h"

static char dir[256];
static char path[512];
static config cfg;

static void setup(void)
{
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/c.ini", dir);
    config_defaults(&cfg);
}

static void teardown(void)
{
    config_free(&cfg);
    remove(path);
    remove(dir);
}

static const char *MLP = "[layer]\ntype = dense\nunits = 4\nactivation = relu\n"
                         "[layer]\ntype = dropout\nrate = 0.5\n"
                         "[layer]\nname = out\ntype = dense\nunits = 10\n";

/* Loads text (plus the MLP layers when with_layers) and validates. */
static int load(const char *text, int with_layers)
{
    char buf[8192];
    snprintf(buf, sizeof buf, "%s\n%s", text, with_layers ? MLP : "");
    tu_write_file(path, buf);
    config_free(&cfg);
    config_defaults(&cfg);
    if (config_load(&cfg, path) < 0)
        return -1;
    return config_validate(&cfg);
}

/* The error must be "<path>:<line>: ..." and contain `what`. */
static void expect_error(const char *text, int with_layers, int line, const char *what)
{
    ck_assert_int_eq(load(text, with_layers), -1);
    char prefix[600];
    if (line > 0)
        snprintf(prefix, sizeof prefix, "%s:%d: ", path, line);
    else
        snprintf(prefix, sizeof prefix, "%s", path);
    ck_assert_msg(strncmp(err_msg(), prefix, strlen(prefix)) == 0, "message '%s' lacks '%s'",
                  err_msg(), prefix);
    ck_assert_msg(strstr(err_msg(), what), "message '%s' lacks '%s'", err_msg(), what);
    ck_assert_msg(!strchr(err_msg(), '\n'), "message is not one line: '%s'", err_msg());
}

START_TEST(defaults_are_sensible)
{
    ck_assert_int_eq(load("", 1), 0);
    ck_assert_int_eq(cfg.batch_size, 64);
    ck_assert_int_eq(cfg.epochs, 10);
    ck_assert_int_eq(cfg.max_steps, -1);
    ck_assert_int_eq(cfg.device, DEVICE_AUTO);
    ck_assert(cfg.shuffle);
    ck_assert_double_eq_tol(cfg.lr, 1e-3, 1e-12);
    ck_assert_double_eq_tol(cfg.beta2, 0.999, 1e-12);
    ck_assert_int_eq(cfg.ckpt_keep, 3);
    ck_assert_str_eq(cfg.data_train, "/usr/share/datasets/fashion-mnist/train");
}
END_TEST

START_TEST(values_of_every_type)
{
    const char *text = "# a comment\n; another\n"
                       "[run]\nname = my-run.1\nseed = 0x10\ndevice = cpu\nthreads = 2\n"
                       "[data]\nbatch_size = 128 ; inline comment\nshuffle = no\n"
                       "train = /a/b,/c/d\n"
                       "[train]\nepochs = 3\nmax_steps = 0\nlog_every = 7\n"
                       "[optimizer]\ntype = adamw\nlr = 3e-4\nbeta1=0.8\nweight_decay = 0.01\n"
                       "clip_norm = 1.5\nschedule = cosine\nwarmup_steps = 10\n"
                       "[checkpoint]\ndir = /tmp/x\nevery_steps = 50\nkeep = 1\n";
    ck_assert_int_eq(load(text, 1), 0);
    ck_assert_str_eq(cfg.run_name, "my-run.1");
    ck_assert_uint_eq(cfg.seed, 16);
    ck_assert_int_eq(cfg.device, DEVICE_CPU);
    ck_assert_int_eq(cfg.threads, 2);
    ck_assert_int_eq(cfg.batch_size, 128);
    ck_assert(!cfg.shuffle);
    ck_assert_str_eq(cfg.data_train, "/a/b,/c/d");
    ck_assert_int_eq(cfg.epochs, 3);
    ck_assert_int_eq(cfg.max_steps, 0);
    ck_assert_int_eq(cfg.log_every, 7);
    ck_assert_int_eq(cfg.optim_type, OPTIM_ADAMW);
    ck_assert_double_eq_tol(cfg.lr, 3e-4, 1e-15);
    ck_assert_double_eq_tol(cfg.beta1, 0.8, 1e-15);
    ck_assert_double_eq_tol(cfg.clip_norm, 1.5, 1e-15);
    ck_assert_int_eq(cfg.schedule, SCHED_COSINE);
    ck_assert_int_eq(cfg.warmup_steps, 10);
    ck_assert_str_eq(cfg.ckpt_dir, "/tmp/x");
    ck_assert_int_eq(cfg.ckpt_every_steps, 50);
    ck_assert_int_eq(cfg.ckpt_keep, 1);
    ck_assert_ptr_nonnull(strstr(cfg.text, "clip_norm = 1.5"));
}
END_TEST

START_TEST(booleans)
{
    const char *yes[] = {"true", "yes", "1"}, *no[] = {"false", "no", "0"};
    char text[64];
    for (int i = 0; i < 3; i++) {
        snprintf(text, sizeof text, "[data]\nshuffle = %s\n", yes[i]);
        ck_assert_int_eq(load(text, 1), 0);
        ck_assert(cfg.shuffle);
        snprintf(text, sizeof text, "[data]\nshuffle = %s\n", no[i]);
        ck_assert_int_eq(load(text, 1), 0);
        ck_assert(!cfg.shuffle);
    }
}
END_TEST

START_TEST(layers_in_order)
{
    ck_assert_int_eq(load("", 1), 0);
    ck_assert_int_eq(cfg.n_layers, 3);
    ck_assert_int_eq(cfg.layers[0].type, LAYER_DENSE);
    ck_assert_int_eq(cfg.layers[0].units, 4);
    ck_assert_int_eq(cfg.layers[0].activation, ACT_RELU);
    ck_assert_int_eq(cfg.layers[1].type, LAYER_DROPOUT);
    ck_assert_double_eq_tol(cfg.layers[1].rate, 0.5, 1e-15);
    ck_assert_int_eq(cfg.layers[2].activation, ACT_NONE);
    char buf[CFG_NAME_MAX];
    ck_assert_str_eq(config_layer_name(&cfg, 0, buf, sizeof buf), "layer0");
    ck_assert_str_eq(config_layer_name(&cfg, 2, buf, sizeof buf), "out");
    ck_assert_int_eq(cfg.layers[1].line, 6); /* the [layer] header, after a blank line */
}
END_TEST

/* Section headers are found where libinih finds them: after any
 * whitespace it skips (\v and \f too), though not after a key, where an
 * indented line continues the key's value; an indented comment is a
 * comment. Once a "\v[layer]" was a layer to libinih only, and its keys
 * were stored before the first layer (found by fuzz_config). */
START_TEST(headers_where_libinih_finds_them)
{
    ck_assert_int_eq(load("; c\n\v[layer]\ntype = dense\n  ; note\nunits = 3\n\f\n[layer]\n"
                          "type = dense\nunits = 10\n",
                          0),
                     0);
    ck_assert_int_eq(cfg.n_layers, 2);
    ck_assert_int_eq(cfg.layers[0].units, 3);
    ck_assert_int_eq(cfg.layers[1].units, 10);
    expect_error("[layer]\ntype = dense\nunits = 3\n  [layer]\ntype = dense\nunits = 10\n", 0, 4,
                 "units");
    /* libinih does not trim inside the brackets */
    expect_error("[ layer ]\ntype = dense\nunits = 3\n", 0, 1, "unknown section");
}
END_TEST

START_TEST(every_activation)
{
    const char *acts[] = {"none", "relu", "tanh", "sigmoid", "gelu", "gelu_tanh"};
    for (int i = 0; i < 6; i++) {
        char text[128];
        snprintf(text, sizeof text, "[layer]\ntype = dense\nunits = 10\nactivation = %s\n",
                 acts[i]);
        ck_assert_int_eq(load(text, 0), 0);
        ck_assert_int_eq(cfg.layers[0].activation, i);
    }
}
END_TEST

START_TEST(errors_name_file_and_line)
{
    expect_error("[run]\nseed = 1\n[bogus]\n", 1, 3, "unknown section [bogus]");
    expect_error("[run]\nsed = 1\n", 1, 2, "unknown key 'sed' in [run]");
    expect_error("[data]\nbatch_size = abc\n", 1, 2, "expected an integer, got 'abc'");
    expect_error("[data]\nbatch_size = 0\n", 1, 2, "expected an integer >= 1, got '0'");
    expect_error("[data]\nbatch_size = -5\n", 1, 2, "expected an integer >= 1, got '-5'");
    expect_error("[data]\nbatch_size = 12x\n", 1, 2, "expected an integer, got '12x'");
    expect_error("[data]\nbatch_size =\n", 1, 2, "expected an integer, got ''");
    expect_error("[optimizer]\nlr = 0\n", 1, 2, "expected a number > 0, got '0'");
    expect_error("[optimizer]\nlr = -1e-3\n", 1, 2, "expected a number > 0");
    expect_error("[optimizer]\nlr = fast\n", 1, 2, "expected a number, got 'fast'");
    expect_error("[optimizer]\nlr = nan\n", 1, 2, "expected a number, got 'nan'");
    expect_error("[optimizer]\nbeta1 = 1\n", 1, 2, "expected a number in [0, 1), got '1'");
    expect_error("[optimizer]\nschedule = linear\n", 1, 2,
                 "expected one of constant,cosine, got 'linear'");
    expect_error("[data]\nshuffle = maybe\n", 1, 2, "expected true or false");
    expect_error("[train]\nepochs = 0\n", 1, 2, "expected an integer >= 1");
    expect_error("[train]\nmax_steps = -2\n", 1, 2, "expected an integer >= -1");
    expect_error("[train]\nepochs = 99999999999999999999\n", 1, 2, "expected an integer");
    expect_error("[run]\nseed = -1\n", 1, 2, "expected a non-negative integer");
    expect_error("[run]\nseed = 1\nseed = 2\n", 1, 3, "given twice");
    expect_error("[run]\nthis line has no equals sign\n", 1, 2, "expected 'key = value'");
    expect_error("seed = 1\n", 1, 1, "outside any section");
    /* typos get a suggestion */
    expect_error("[data]\nbach_size = 5\n", 1, 2,
                 "unknown key 'bach_size' in [data] (did you mean batch_size?)");
    expect_error("[optimzer]\nlr = 1\n", 1, 1,
                 "unknown section [optimzer] (did you mean [optimizer]?)");
    expect_error("[train]\nepcohs = 3\n", 1, 2, "(did you mean epochs?)");
    expect_error("[layer]\ntype = dense\nunits = 10\nactivaton = relu\n", 0, 4,
                 "(did you mean activation?)");
}
END_TEST

START_TEST(layer_errors)
{
    expect_error(
        "[layer]\ntype = conv9\nunits = 3\n", 0, 2,
        "expected one of dense,dropout,conv2d,maxpool,avgpool,global_avgpool,flatten,batchnorm,"
        "residual,embedding,layernorm,attention, got 'conv9'");
    expect_error("[layer]\nunits = 10\n", 0, 1, "needs a type");
    expect_error("[layer]\ntype = dense\n", 0, 1, "a dense layer needs 'units'");
    expect_error("[layer]\ntype = dropout\n[layer]\ntype=dense\nunits=10\n", 0, 1,
                 "a dropout layer needs 'rate'");
    expect_error("[layer]\ntype = dense\nunits = 10\nrate = 0.1\n", 0, 4,
                 "'rate' does not apply to a dense layer");
    expect_error("[layer]\ntype = dropout\nrate = 1.0\n", 1, 3, "expected a number in [0, 1)");
    expect_error("[layer]\ntype = dense\nunits = 10\nactivation = swish\n", 0, 4,
                 "expected one of none,relu,tanh,sigmoid,gelu,gelu_tanh");
    expect_error("[layer]\ntype = dense\nunits = 10\nwidth = 3\n", 0, 4,
                 "unknown key 'width' in [layer]");
    expect_error(
        "[layer]\ntype=dense\nunits=10\nname=out\n[layer]\ntype=dense\nunits=10\nname=out\n", 0, 5,
        "name 'out' is already used by the layer on line 1");
    expect_error("[layer]\ntype = dense\nunits = 10\nname = a/b\n", 0, 1, "name 'a/b'");
    expect_error("[layer]\ntype = dense\nunits = 10\n[layer]\ntype = dropout\nrate = 0.1\n", 0, 4,
                 "the last layer must be dense");
    expect_error("[run]\nseed = 3\n", 0, 0, "no [layer] sections");
}
END_TEST

START_TEST(long_line_and_missing_file)
{
    char text[400];
    memset(text, 'x', sizeof text);
    memcpy(text, "[run]\nname = ", 13);
    text[sizeof text - 1] = '\0';
    expect_error(text, 1, 2, "line too long");

    config_defaults(&cfg);
    ck_assert_int_eq(config_load(&cfg, "/nonexistent/c.ini"), -1);
    ck_assert_ptr_nonnull(strstr(err_msg(), "cannot open config /nonexistent/c.ini"));
}
END_TEST

START_TEST(set_overrides)
{
    ck_assert_int_eq(load("[train]\nepochs = 3\n", 1), 0);
    ck_assert_int_eq(config_set(&cfg, "train.epochs=5"), 0);
    ck_assert_int_eq(cfg.epochs, 5);
    /* a key the file does not have */
    ck_assert_int_eq(config_set(&cfg, "optimizer.clip_norm=2"), 0);
    ck_assert_double_eq_tol(cfg.clip_norm, 2.0, 1e-15);
    /* layers by default name and by explicit name */
    ck_assert_int_eq(config_set(&cfg, "layer0.units=7"), 0);
    ck_assert_int_eq(cfg.layers[0].units, 7);
    ck_assert_int_eq(config_set(&cfg, "out.activation=tanh"), 0);
    ck_assert_int_eq(cfg.layers[2].activation, ACT_TANH);
    ck_assert_int_eq(config_validate(&cfg), 0);
    /* the overrides are recorded with the config text */
    ck_assert_ptr_nonnull(strstr(cfg.text, "; --set train.epochs=5\n"));
    ck_assert_ptr_nonnull(strstr(cfg.text, "; --set out.activation=tanh\n"));
}
END_TEST

START_TEST(set_errors)
{
    ck_assert_int_eq(load("", 1), 0);
    ck_assert_int_eq(config_set(&cfg, "epochs=5"), -1);
    ck_assert_ptr_nonnull(strstr(err_msg(), "expected section.key=value"));
    ck_assert_int_eq(config_set(&cfg, "train.epochs"), -1);
    ck_assert_ptr_nonnull(strstr(err_msg(), "expected section.key=value"));
    ck_assert_int_eq(config_set(&cfg, "trian.epochs=5"), -1);
    ck_assert_ptr_nonnull(strstr(err_msg(), "no section or layer named 'trian'"));
    ck_assert_int_eq(config_set(&cfg, "train.epoch=5"), -1);
    ck_assert_ptr_nonnull(strstr(err_msg(), "unknown key 'epoch' in [train]"));
    ck_assert_int_eq(config_set(&cfg, "train.epochs=many"), -1);
    ck_assert_str_eq(err_msg(), "--set train.epochs=many: expected an integer, got 'many'");
    ck_assert_int_eq(cfg.epochs, 10);                        /* unchanged by the failed override */
    ck_assert_int_eq(config_set(&cfg, "layer1.units=5"), 0); /* applies only to dense */
    ck_assert_int_eq(config_validate(&cfg), -1);
    ck_assert_ptr_nonnull(strstr(err_msg(), "'units' does not apply to a dropout layer"));
}
END_TEST

START_TEST(help_lists_every_section)
{
    char hp[600];
    snprintf(hp, sizeof hp, "%s/help.txt", dir);
    FILE *f = fopen(hp, "w+");
    ck_assert_ptr_nonnull(f);
    config_print_help(f);
    rewind(f);
    char all[16384];
    size_t n = fread(all, 1, sizeof all - 1, f);
    all[n] = '\0';
    fclose(f);
    remove(hp);
    const char *want[] = {"[run]",        "[data]",      "[train]",    "[optimizer]",
                          "[checkpoint]", "[layer]",     "batch_size", "clip_norm",
                          "warmup_steps", "every_steps", "units",      "rate"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        ck_assert_msg(strstr(all, want[i]), "help lacks %s", want[i]);
}
END_TEST

/* [repeat] ... [end]: the group's layers taken `count` times, named by copy;
 * residual offsets stay relative; --set reaches one copy by its name. */
START_TEST(repeat_groups)
{
    ck_assert_msg(load("[layer]\ntype = dense\nunits = 8\n"
                       "[repeat]\nname = h\ncount = 3\n"
                       "[layer]\nname = fc\ntype = dense\nunits = 8\nactivation = relu\n"
                       "[layer]\ntype = residual\nfrom = -2\n"
                       "[end]\n",
                       1) == 0,
                  "%s", err_msg());
    ck_assert_int_eq(cfg.n_layers, 1 + 6 + 3);
    char buf[CFG_NAME_MAX];
    const char *want[] = {"layer0",     "h.0.fc", "h.0.layer1", "h.1.fc",
                          "h.1.layer1", "h.2.fc", "h.2.layer1"};
    for (int i = 0; i < 7; i++)
        ck_assert_str_eq(config_layer_name(&cfg, i, buf, sizeof buf), want[i]);
    ck_assert_int_eq(cfg.layers[5].activation, ACT_RELU);
    ck_assert_int_eq(cfg.layers[6].from, -2);
    ck_assert_int_eq(cfg.layers[5].line, cfg.layers[1].line); /* messages point at the source */
    ck_assert_int_eq(config_set(&cfg, "h.1.fc.units=5"), 0);
    ck_assert_int_eq(cfg.layers[3].units, 5);
    ck_assert_int_eq(cfg.layers[1].units, 8);
    /* a group of one copy by default, named block */
    ck_assert_int_eq(load("[repeat]\n[layer]\ntype = dense\nunits = 3\n[end]\n", 1), 0);
    ck_assert_str_eq(config_layer_name(&cfg, 0, buf, sizeof buf), "block.0.layer0");
}
END_TEST

START_TEST(repeat_errors)
{
    expect_error("[repeat]\ncount = 2\n[layer]\ntype = dense\nunits = 3\n", 1, 1,
                 "[repeat] without its [end]");
    expect_error("[end]\n", 1, 1, "[end] without a [repeat] to close");
    expect_error("[repeat]\n[repeat]\n[end]\n", 1, 2, "[repeat] inside the [repeat] of line 1");
    expect_error("[repeat]\ncount = 2\n[end]\n", 1, 1, "[repeat] with no [layer] before its [end]");
    expect_error("[repeat]\ncount = 0\n", 1, 2, "[repeat] count: expected an integer in");
    expect_error("[repeat]\ncount = 200\n[layer]\ntype = dense\nunits = 3\n[layer]\ntype = "
                 "dense\nunits = 3\n[end]\n",
                 1, 1, "more than 256 layers");
    expect_error("[repeat]\nname = a/b\n", 1, 2, "[repeat] name: expected letters");
    expect_error("[repeat]\nsize = 2\n", 1, 2, "unknown key 'size' in [repeat]");
    /* as in every other section, a repeated key is refused, not the last one winning */
    expect_error("[repeat]\ncount = 2\ncount = 3\n", 1, 3,
                 "key 'count' given twice in [repeat] (first on line 2)");
    expect_error("[repeat]\nname = a\ncount = 2\nname = b\n", 1, 4,
                 "key 'name' given twice in [repeat] (first on line 2)");
    /* each [repeat] has its own keys */
    ck_assert_int_eq(load("[repeat]\ncount = 2\n[layer]\ntype = dense\nunits = 3\n[end]\n"
                          "[repeat]\ncount = 2\nname = c\n[layer]\ntype = dense\nunits = 3\n"
                          "[end]\n",
                          1),
                     0);
    expect_error("[repeat]\nname = abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz\n"
                 "[layer]\nname = abcdefghijk\ntype = dense\nunits = 3\n[end]\n",
                 1, 3, "is longer than 63 characters");
}
END_TEST

/* A key that several layer types take is one value in layer_cfg: every
 * type must describe it alike, but for its help. And each key has a bit
 * in set_mask. */
START_TEST(layer_keys_agree)
{
    int distinct = 2; /* type and name */
    for (int t = 0; t < LAYER_N_TYPES; t++) {
        ck_assert_ptr_nonnull(layer_types[t]);
        ck_assert_int_eq(layer_type_find(layer_types[t]->name), t);
        for (const config_key *k = layer_types[t]->keys; k->key; k++) {
            const config_key *first = NULL;
            for (int u = 0; u <= t && !first; u++)
                for (const config_key *j = layer_types[u]->keys; j->key && !first; j++)
                    if (!strcmp(j->key, k->key))
                        first = j;
            ck_assert_ptr_nonnull(first);
            distinct += first == k;
            ck_assert_msg(
                first->type == k->type && first->offset == k->offset && first->size == k->size &&
                    first->lo == k->lo && first->hi == k->hi && first->flags == k->flags &&
                    first->required == k->required &&
                    !strcmp(first->def ? first->def : "", k->def ? k->def : "") &&
                    !strcmp(first->choices ? first->choices : "", k->choices ? k->choices : ""),
                "layer key %s of %s differs from its first description", k->key,
                layer_types[t]->name);
            ck_assert_str_eq(k->section, "layer");
            ck_assert(k->required == !k->def);
        }
    }
    ck_assert_int_le(distinct, 64);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, defaults_are_sensible);
    tcase_add_test(tc, values_of_every_type);
    tcase_add_test(tc, booleans);
    tcase_add_test(tc, layers_in_order);
    tcase_add_test(tc, headers_where_libinih_finds_them);
    tcase_add_test(tc, every_activation);
    tcase_add_test(tc, errors_name_file_and_line);
    tcase_add_test(tc, layer_errors);
    tcase_add_test(tc, layer_keys_agree);
    tcase_add_test(tc, repeat_groups);
    tcase_add_test(tc, repeat_errors);
    tcase_add_test(tc, long_line_and_missing_file);
    tcase_add_test(tc, set_overrides);
    tcase_add_test(tc, set_errors);
    tcase_add_test(tc, help_lists_every_section);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
