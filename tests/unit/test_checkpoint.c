/* checkpoint: the HDF5 layout read back through the HDF5 API, atomic
 * replacement, pruning, and failures that leave older files alone. */
#include <dirent.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "trainer/checkpoint.h"
#include "util/err.h"

static char dir[256];
static config cfg;
static backend *be;
static model *m;

/* The fixture's model as a config file writes it: a checkpoint's /config,
 * which the reader compares with the model it reads into. */
static const char fixture_text[] = "[run]\nseed = 42\n[layer]\ntype = dense\nunits = 5\n"
                                   "activation = relu\n[layer]\ntype = dropout\nrate = 0.5\n"
                                   "[layer]\nname = head\ntype = dense\nunits = 3\n";

static void setup(void)
{
    tu_tmpdir(dir, sizeof dir);
    config_defaults(&cfg);
    cfg.n_layers = 3;
    cfg.layers[0] =
        (layer_cfg){.type = LAYER_DENSE, .bias = true, .units = 5, .activation = ACT_RELU};
    cfg.layers[1] = (layer_cfg){.type = LAYER_DROPOUT, .rate = 0.5};
    cfg.layers[2] = (layer_cfg){.type = LAYER_DENSE, .bias = true, .units = 3, .name = "head"};
    cfg.text = strdup(fixture_text);
    be = backend_cpu_open(1);
    ck_assert_ptr_nonnull(be);
    m = model_build(&cfg, be, (int[3]){4, 1, 1}, 8);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(model_init_params(m, 42), 0);
    /* distinct values in every tensor; the padding between them stays
     * zero, as training keeps it (model.h) */
    for (int k = 0; k < m->n_layers; k++)
        for (int t = 0; t < m->layers[k].n_tensors; t++) {
            const layer_tensor *x = &m->layers[k].tensors[t];
            for (size_t i = x->offset; !x->state && i < x->offset + x->count; i++) {
                m->adam_m[i] = (float)i;
                m->adam_v[i] = (float)i * 0.5f;
            }
        }
}

static void teardown(void)
{
    model_free(m);
    backend_close(be);
    config_free(&cfg);
    tu_rmtree(dir);
}

static void read_floats(hid_t f, const char *name, float *out, size_t n, hsize_t d0, hsize_t d1)
{
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    ck_assert_msg(d >= 0, "no dataset %s", name);
    hid_t s = H5Dget_space(d);
    hsize_t dims[2] = {0, 0};
    int rank = H5Sget_simple_extent_dims(s, dims, NULL);
    ck_assert_int_eq(rank, d1 ? 2 : 1);
    ck_assert_uint_eq(dims[0], d0);
    if (d1)
        ck_assert_uint_eq(dims[1], d1);
    hid_t t = H5Dget_type(d);
    ck_assert(H5Tequal(t, H5T_IEEE_F32LE) > 0);
    ck_assert_uint_eq((size_t)H5Sget_simple_extent_npoints(s), n);
    ck_assert_int_ge(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out), 0);
    H5Tclose(t);
    H5Sclose(s);
    H5Dclose(d);
}

static int64_t read_attr(hid_t f, const char *name)
{
    int64_t v = -1;
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    ck_assert_msg(a >= 0, "no attribute %s", name);
    ck_assert_int_ge(H5Aread(a, H5T_NATIVE_INT64, &v), 0);
    H5Aclose(a);
    return v;
}

START_TEST(layout_and_values)
{
    ckpt_state st = {.step = 12,
                     .epoch = 1,
                     .step_in_epoch = 2,
                     .samples_seen = 768,
                     .world_size = 1,
                     .batch_size = 64,
                     .seed = 42};
    char path[4096];
    ck_assert_int_eq(ckpt_save(dir, m, &cfg, &st, path, sizeof path), 0);
    char want[512];
    snprintf(want, sizeof want, "%s/ckpt-12.h5", dir);
    ck_assert_str_eq(path, want);

    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert_int_ge(f, 0);
    float w[20], b[5], hw[15], mv[15];
    read_floats(f, "/model/layer0/weight", w, 20, 5, 4);
    read_floats(f, "/model/layer0/bias", b, 5, 5, 0);
    read_floats(f, "/model/head/weight", hw, 15, 3, 5);
    ck_assert_mem_eq(w, m->layers[0].w, sizeof w);
    ck_assert_mem_eq(b, m->layers[0].b, sizeof b);
    ck_assert_mem_eq(hw, m->layers[2].w, sizeof hw);
    read_floats(f, "/optimizer/m/head/weight", mv, 15, 3, 5);
    ck_assert_float_eq(mv[0], (float)m->layers[2].param_offset);
    read_floats(f, "/optimizer/v/head/weight", mv, 15, 3, 5);
    ck_assert_float_eq(mv[2], 0.5f * (float)(m->layers[2].param_offset + 2));
    ck_assert(H5Lexists(f, "/model/layer1", H5P_DEFAULT) == 0); /* dropout: no params */

    ck_assert_int_eq(read_attr(f, "format_version"), CKPT_FORMAT_VERSION);
    ck_assert_int_eq(read_attr(f, "step"), 12);
    ck_assert_int_eq(read_attr(f, "epoch"), 1);
    ck_assert_int_eq(read_attr(f, "step_in_epoch"), 2);
    ck_assert_int_eq(read_attr(f, "samples_seen"), 768);
    ck_assert_int_eq(read_attr(f, "world_size"), 1);
    ck_assert_int_eq(read_attr(f, "seed"), 42);
    ck_assert_int_eq(read_attr(f, "batch_size"), 64);
    ck_assert(H5Lexists(f, "/state/rng_seed", H5P_DEFAULT) > 0);

    hid_t d = H5Dopen2(f, "/config", H5P_DEFAULT);
    ck_assert_int_ge(d, 0);
    hid_t t = H5Dget_type(d);
    char text[256] = "";
    ck_assert_uint_lt(H5Tget_size(t), sizeof text);
    ck_assert_int_ge(H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, text), 0);
    ck_assert_str_eq(text, cfg.text);
    H5Tclose(t);
    H5Dclose(d);
    H5Fclose(f);
}
END_TEST

/* How many entries of dir start with prefix. */
static int count_files(const char *prefix)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
            !strncmp(e->d_name, prefix, strlen(prefix)))
            n++;
    closedir(d);
    return n;
}

START_TEST(prune_keeps_newest)
{
    char path[4096];
    for (int s = 1; s <= 5; s++) {
        ckpt_state st = {.step = s * 10, .world_size = 1};
        ck_assert_int_eq(ckpt_save(dir, m, &cfg, &st, path, sizeof path), 0);
    }
    ck_assert_int_eq(ckpt_prune(dir, 2), 0);
    char p[512];
    snprintf(p, sizeof p, "%s/ckpt-50.h5", dir);
    ck_assert_int_eq(access(p, F_OK), 0);
    snprintf(p, sizeof p, "%s/ckpt-40.h5", dir);
    ck_assert_int_eq(access(p, F_OK), 0);
    snprintf(p, sizeof p, "%s/ckpt-30.h5", dir);
    ck_assert_int_ne(access(p, F_OK), 0);
    ck_assert_int_eq(count_files("ckpt-"), 2);
    ck_assert_int_eq(count_files(".ckpt"), 0); /* no temporary file left behind */
}
END_TEST

START_TEST(failed_write_leaves_old_files)
{
    char path[4096], old[4096];
    ckpt_state st = {.step = 1, .world_size = 1};
    ck_assert_int_eq(ckpt_save(dir, m, &cfg, &st, path, sizeof path), 0);
    snprintf(old, sizeof old, "%s", path);
    struct stat before;
    ck_assert_int_eq(stat(old, &before), 0);

    char missing[512];
    snprintf(missing, sizeof missing, "%s/no/such/dir", dir);
    st.step = 2;
    ck_assert_int_eq(ckpt_save(missing, m, &cfg, &st, path, sizeof path), -1);
    ck_assert_ptr_nonnull(strstr(err_msg(), "cannot create"));
    ck_assert_ptr_nonnull(strstr(err_msg(), "No such file or directory"));
    ck_assert_ptr_nonnull(strstr(err_msg(), missing));

    struct stat after;
    ck_assert_int_eq(stat(old, &after), 0);
    ck_assert_int_eq(after.st_size, before.st_size);
    ck_assert_int_eq(after.st_mtime, before.st_mtime);
}
END_TEST

/* Saves the fixture's model at step 7 and returns the path. */
static void save7(char *path, size_t size)
{
    ckpt_state st = {
        .step = 7, .epoch = 0, .step_in_epoch = 7, .world_size = 4, .batch_size = 32, .seed = 42};
    ck_assert_int_eq(ckpt_save(dir, m, &cfg, &st, path, size), 0);
}

START_TEST(read_back)
{
    char path[4096];
    save7(path, sizeof path);
    size_t n = m->n_params;
    float *host = malloc(sizeof(float) * 3 * n);
    ckpt_state st;
    ck_assert_int_eq(ckpt_read(path, m, NULL, &st, host), 0);
    ck_assert_mem_eq(host, m->params, sizeof(float) * n);
    ck_assert_mem_eq(host + n, m->adam_m, sizeof(float) * n);
    ck_assert_mem_eq(host + 2 * n, m->adam_v, sizeof(float) * n);
    ck_assert_int_eq(st.step, 7);
    ck_assert_int_eq(st.step_in_epoch, 7);
    ck_assert_int_eq(st.world_size, 4);
    ck_assert_int_eq(st.batch_size, 32);
    ck_assert_uint_eq(st.seed, 42);
    ck_assert_int_eq(st.format, CKPT_FORMAT_VERSION);
    free(host);
}
END_TEST

/* Builds a model from cfg with layer 0 changed, and reads the checkpoint
 * into it: it must be refused as a mismatch with `what` in the message. */
static void expect_mismatch(const char *path, layer_cfg l0, int n_layers, const char *what)
{
    config c = cfg;
    c.layers[0] = l0;
    c.n_layers = n_layers;
    model *other = model_build(&c, be, (int[3]){4, 1, 1}, 8);
    ck_assert_ptr_nonnull(other);
    float *host = malloc(sizeof(float) * 3 * other->n_params);
    ckpt_state st = {.step = -5};
    ck_assert_int_eq(ckpt_read(path, other, NULL, &st, host), CKPT_MISMATCH);
    ck_assert_msg(strstr(err_msg(), what), "'%s' lacks '%s'", err_msg(), what);
    ck_assert_int_eq(st.step, -5); /* untouched */
    free(host);
    model_free(other);
}

START_TEST(read_refuses_another_model)
{
    char path[4096];
    save7(path, sizeof path);
    layer_cfg wider = {.type = LAYER_DENSE, .bias = true, .units = 6, .activation = ACT_RELU};
    expect_mismatch(path, wider, 3,
                    "layer 'layer0' (dense): units is 5 in the checkpoint, 6 in the config; a "
                    "checkpoint is read only into the model it holds");
    /* names are not keys: the tensors' places tell */
    layer_cfg renamed = {
        .type = LAYER_DENSE, .bias = true, .units = 5, .activation = ACT_RELU, .name = "first"};
    expect_mismatch(path, renamed, 3, "has no /model/first/weight: the config's layer 'first'");
    /* the same tensors, another function */
    layer_cfg tanh = {.type = LAYER_DENSE, .bias = true, .units = 5, .activation = ACT_TANH};
    expect_mismatch(path, tanh, 3,
                    "layer 'layer0' (dense): activation is relu in the checkpoint, tanh in the "
                    "config; a checkpoint is read only into the model it holds");
    layer_cfg no_bias = {.type = LAYER_DENSE, .units = 5, .activation = ACT_RELU};
    expect_mismatch(path, no_bias, 3, "bias is true in the checkpoint, false in the config");
    layer_cfg drop = {.type = LAYER_DROPOUT, .rate = 0.5};
    expect_mismatch(path, drop, 3,
                    "layer 0 is 'layer0' (dense) in the checkpoint, 'layer0' (dropout) in "
                    "the config");
}
END_TEST

/* The model's keys as the checkpoint's /config gives them: those that
 * shape training alone count for a resume only, and there only where not
 * allowed to differ; the /config's --set lines count; a model of more or
 * fewer layers is another. */
START_TEST(read_compares_the_models_keys)
{
    char path[4096];
    save7(path, sizeof path);
    float *host = malloc(sizeof(float) * 3 * m->n_params);
    config c = cfg;
    c.layers[1].rate = 0.25;
    model *other = model_build(&c, be, (int[3]){4, 1, 1}, 8);
    ck_assert_ptr_nonnull(other);
    ckpt_state st;
    ck_assert_int_eq(ckpt_read(path, other, NULL, &st, host), 0); /* evaluation */
    ckpt_model_rules resume = {.resume = true};
    ck_assert_int_eq(ckpt_read(path, other, &resume, &st, host), CKPT_MISMATCH);
    ck_assert_msg(strstr(err_msg(), "layer 'layer1' (dropout): rate is 0.5 in the checkpoint, "
                                    "0.25 in the config; to resume with the config's: "
                                    "--allow-change layer1.rate"),
                  "'%s'", err_msg());
    const char *ok[] = {"head.units", "layer1.rate"};
    resume.allowed = ok;
    resume.n_allowed = 2;
    ck_assert_int_eq(ckpt_read(path, other, &resume, &st, host), 0);
    model_free(other);

    /* a checkpoint whose config was overridden with --set */
    c = cfg;
    c.text = NULL;
    ck_assert_int_eq(config_load_layers(&c, fixture_text, "fixture"), 0);
    ck_assert_int_eq(config_set(&c, "layer0.activation=tanh"), 0);
    ck_assert_ptr_nonnull(strstr(c.text, "\n; --set layer0.activation=tanh\n"));
    ckpt_state s7 = {.step = 7, .step_in_epoch = 7, .world_size = 1, .batch_size = 32};
    ck_assert_int_eq(ckpt_save(dir, m, &c, &s7, path, sizeof path), 0);
    ck_assert_int_eq(ckpt_read(path, m, NULL, &st, host), CKPT_MISMATCH);
    ck_assert_msg(strstr(err_msg(), "activation is tanh in the checkpoint, relu in the config"),
                  "'%s'", err_msg());
    config_free(&c);

    /* one layer fewer in the config */
    c = cfg;
    c.n_layers = 2;
    c.layers[1] = cfg.layers[2];
    other = model_build(&c, be, (int[3]){4, 1, 1}, 8);
    ck_assert_ptr_nonnull(other);
    save7(path, sizeof path);
    ck_assert_int_eq(ckpt_read(path, other, NULL, &st, host), CKPT_MISMATCH);
    ck_assert_msg(strstr(err_msg(), "layer 1 is 'layer1' (dropout) in the checkpoint, 'head' "
                                    "(dense) in the config"),
                  "'%s'", err_msg());
    model_free(other);
    free(host);
}
END_TEST

/* --allow-change names a layer of the config and a key of its type that
 * shapes training alone. */
START_TEST(allowances_are_checked)
{
    static const struct {
        const char *a, *says;
    } cases[] = {
        {"layer1.rate", NULL},
        {"layer1", "--allow-change layer1: expected LAYER.KEY"},
        {".rate", "expected LAYER.KEY"},
        {"layer1.", "expected LAYER.KEY"},
        {"nosuch.rate", "the config has no layer 'nosuch'"},
        {"layer1.units", "layer 'layer1' (dropout) has no key 'units'"},
        {"head.units", "units defines what layer 'head' (dense) computes; a checkpoint is read "
                       "only into the model it holds"},
        {"head.init", "init only says where training starts"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ckpt_model_rules r = {.resume = true, .allowed = &cases[i].a, .n_allowed = 1};
        int rc = ckpt_model_rules_check(&r, &cfg);
        if (!cases[i].says) {
            ck_assert_msg(rc == 0, "%s: %s", cases[i].a, err_msg());
            continue;
        }
        ck_assert_int_eq(rc, -1);
        ck_assert_msg(strstr(err_msg(), cases[i].says), "'%s' lacks '%s'", err_msg(),
                      cases[i].says);
    }
}
END_TEST

START_TEST(read_refuses_extra_layers)
{
    /* A checkpoint of layer0, mid, head read into the fixture's layer0, head */
    config big = cfg;
    big.layers[1] = (layer_cfg){.type = LAYER_DENSE, .bias = true, .units = 5, .name = "mid"};
    model *bm = model_build(&big, be, (int[3]){4, 1, 1}, 8);
    ck_assert_ptr_nonnull(bm);
    ckpt_state st = {.step = 3, .step_in_epoch = 3, .world_size = 1, .batch_size = 8, .seed = 1};
    char path[4096];
    ck_assert_int_eq(ckpt_save(dir, bm, &big, &st, path, sizeof path), 0);
    model_free(bm);
    float *host = malloc(sizeof(float) * 3 * m->n_params);
    ck_assert_int_eq(ckpt_read(path, m, NULL, &st, host), CKPT_MISMATCH);
    ck_assert_ptr_nonnull(strstr(err_msg(), "has a layer 'mid' that the config's model does not"));
    free(host);
}
END_TEST

/* The file at path, whole, into a malloc'ed buffer. */
static unsigned char *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*size);
    ck_assert_uint_eq(fread(b, 1, *size, f), *size);
    fclose(f);
    return b;
}

static void spill(const char *path, const void *b, size_t size)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, size, f), size);
    fclose(f);
}

START_TEST(read_reports_damage)
{
    char path[4096], cmd[8300];
    float *host = malloc(sizeof(float) * 3 * m->n_params);
    ckpt_state st;
    save7(path, sizeof path);
    size_t size;
    unsigned char *whole = slurp(path, &size);
    snprintf(cmd, sizeof cmd, "truncate -s 1000 '%s'", path);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(ckpt_read(path, m, NULL, &st, host), CKPT_DAMAGED);
    ck_assert_ptr_nonnull(strstr(err_msg(), "is truncated: 488 bytes after its header"));
    /* one bit flipped anywhere after the header: HDF5 never sees it */
    whole[size / 2] ^= 0x10;
    spill(path, whole, size);
    ck_assert_int_eq(ckpt_read(path, m, NULL, &st, host), CKPT_DAMAGED);
    ck_assert_ptr_nonnull(strstr(err_msg(), "is damaged: its CRC-32C is"));
    whole[size / 2] ^= 0x10;
    /* the HDF5 file alone, as another program would write it */
    spill(path, whole + CKPT_HEADER_BYTES, size - CKPT_HEADER_BYTES);
    ck_assert_int_eq(ckpt_read(path, m, NULL, &st, host), CKPT_MISMATCH);
    ck_assert_ptr_nonnull(strstr(err_msg(), "has no accel-train header"));
    tu_write_file(path, "not an HDF5 file at all\n");
    ck_assert_int_eq(ckpt_read(path, m, NULL, &st, host), CKPT_DAMAGED);
    snprintf(cmd, sizeof cmd, "%s/missing.h5", dir);
    ck_assert_int_eq(ckpt_read(cmd, m, NULL, &st, host), CKPT_DAMAGED);
    free(whole);
    free(host);
}
END_TEST

/* Ways a checkpoint's HDF5 content can be wrong while its header and CRC
 * are right (a file edited by hand, or by another program, and sealed). */
static void put_attr(hid_t f, const char *name, hid_t type, hid_t space, const void *v)
{
    if (H5Aexists(f, name) > 0)
        ck_assert_int_ge(H5Adelete(f, name), 0);
    hid_t a = H5Acreate2(f, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(a, 0);
    if (v)
        ck_assert_int_ge(H5Awrite(a, type, v), 0);
    H5Aclose(a);
    H5Sclose(space);
}

static void put_i64(hid_t f, const char *name, int64_t v)
{
    put_attr(f, name, H5T_NATIVE_INT64, H5Screate(H5S_SCALAR), &v);
}

static void put_value(hid_t f, const char *name, size_t at, float v)
{
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    ck_assert_int_ge(d, 0);
    hid_t s = H5Dget_space(d);
    hssize_t n = H5Sget_simple_extent_npoints(s);
    float *x = malloc(sizeof(float) * (size_t)n);
    ck_assert_int_ge(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x), 0);
    x[at] = v;
    ck_assert_int_ge(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x), 0);
    free(x);
    H5Sclose(s);
    H5Dclose(d);
}

static void step_as_array(hid_t f)
{
    int64_t v[4] = {7, 7, 7, 7};
    put_attr(f, "step", H5T_NATIVE_INT64, H5Screate_simple(1, (hsize_t[]){4}, NULL), v);
}
static void epoch_null(hid_t f)
{
    put_attr(f, "epoch", H5T_NATIVE_INT64, H5Screate(H5S_NULL), NULL);
}
static void seed_as_double(hid_t f)
{
    double v = 42;
    put_attr(f, "seed", H5T_NATIVE_DOUBLE, H5Screate(H5S_SCALAR), &v);
}
static void no_world_size(hid_t f)
{
    ck_assert_int_ge(H5Adelete(f, "world_size"), 0);
}
static void samples_wrap(hid_t f)
{
    put_i64(f, "step", INT64_MAX / 2);
    put_i64(f, "step_in_epoch", INT64_MAX / 2);
}
static void past_its_epoch(hid_t f)
{
    put_i64(f, "step_in_epoch", 9);
}
static void huge_batch(hid_t f)
{
    put_i64(f, "batch_size", (int64_t)1 << 40);
}
static void nan_weight(hid_t f)
{
    put_value(f, "/model/layer0/weight", 3, NAN);
}
static void inf_moment(hid_t f)
{
    put_value(f, "/optimizer/m/head/weight", 0, INFINITY);
}
static void negative_second_moment(hid_t f)
{
    put_value(f, "/optimizer/v/head/bias", 2, -1.0f);
}

/* Saves the fixture's model at step 7, lets mutate edit its HDF5 content,
 * and seals it again as a forgery would, its header saying header_format
 * (the CRC covers only what follows the header). */
static void forge(char *path, size_t size, void (*mutate)(hid_t f), int header_format)
{
    char bare[4200];
    snprintf(bare, sizeof bare, "%s/bare.h5", dir);
    save7(path, size);
    size_t bytes;
    unsigned char *b = slurp(path, &bytes);
    spill(bare, b + CKPT_HEADER_BYTES, bytes - CKPT_HEADER_BYTES);
    free(b);
    hid_t f = H5Fopen(bare, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert_int_ge(f, 0);
    mutate(f);
    ck_assert_int_ge(H5Fclose(f), 0);
    unsigned char *h5 = slurp(bare, &bytes);
    b = calloc(1, CKPT_HEADER_BYTES + bytes);
    memcpy(b + CKPT_HEADER_BYTES, h5, bytes);
    ckpt_seal(b, CKPT_HEADER_BYTES + bytes);
    static const char magic[] = "accel-train checkpoint ";
    ck_assert_int_eq(memcmp(b, magic, sizeof magic - 1), 0);
    ck_assert_int_eq(b[sizeof magic - 1], '0' + CKPT_FORMAT_VERSION);
    ck_assert_int_eq(b[sizeof magic], '\n');
    b[sizeof magic - 1] = (unsigned char)('0' + header_format);
    spill(path, b, CKPT_HEADER_BYTES + bytes);
    free(h5);
    free(b);
}

START_TEST(read_refuses_malformed_content)
{
    static const struct {
        void (*mutate)(hid_t f);
        const char *says;
    } cases[] = {
        {step_as_array, "attribute step is not one integer"},
        {epoch_null, "attribute epoch is not one integer"},
        {seed_as_double, "attribute seed is not one integer"},
        {no_world_size, "has no attribute world_size"},
        {samples_wrap, "samples_seen 0 does not fit step"},
        {past_its_epoch, "implausible state (step 7, epoch 0, step 9 in it)"},
        {huge_batch, "implausible batch_size 1099511627776"},
        {nan_weight, "/model/layer0/weight holds nan at [3]"},
        {inf_moment, "/optimizer/m/head/weight holds inf at [0]"},
        {negative_second_moment, "/optimizer/v/head/bias holds -1 at [2]"},
    };
    float *host = malloc(sizeof(float) * 3 * m->n_params);
    char path[4096];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        forge(path, sizeof path, cases[i].mutate, CKPT_FORMAT_VERSION);
        ckpt_state st = {.step = -5};
        ck_assert_int_eq(ckpt_read(path, m, NULL, &st, host), CKPT_DAMAGED);
        ck_assert_msg(strstr(err_msg(), cases[i].says), "case %zu: '%s' does not say '%s'", i,
                      err_msg(), cases[i].says);
        ck_assert_int_eq(st.step, -5); /* untouched */
    }
    free(host);
}
END_TEST

/* /config replaced by forged_config (NULL: removed). */
static const char *forged_config;
static void set_config(hid_t f)
{
    ck_assert_int_ge(H5Ldelete(f, "/config", H5P_DEFAULT), 0);
    if (!forged_config)
        return;
    hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR);
    ck_assert_int_ge(H5Tset_size(t, strlen(forged_config) + 1), 0);
    hid_t d = H5Dcreate2(f, "/config", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(d, 0);
    ck_assert_int_ge(H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, forged_config), 0);
    H5Dclose(d);
    H5Sclose(sp);
    H5Tclose(t);
}

/* A /config that gives no model this reader knows is not taken on trust;
 * sections it does not know are not the model's and are passed over. */
START_TEST(read_needs_the_model_of_config)
{
    static const struct {
        const char *text, *says;
    } cases[] = {
        {NULL, "has no /config: its model cannot be compared with the config's"},
        {"[layer]\ntype = dense\nwidth = 3\n",
         "its /config does not describe a model this accel-train reads, so the config's cannot "
         "be checked against it: "},
        {"[layer]\nunits = 3\n", ":/config:1: [layer] without a type"},
        {"[run]\nseed = 1\n", "holds a model of 0 layers, the config's has 3"},
        {"[future]\nanything = 1\n[optimizer]\ntf32 = true\n", "holds a model of 0 layers"},
    };
    float *host = malloc(sizeof(float) * 3 * m->n_params);
    char path[4096];
    ckpt_state st;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        forged_config = cases[i].text;
        forge(path, sizeof path, set_config, CKPT_FORMAT_VERSION);
        ck_assert_int_eq(ckpt_read(path, m, NULL, &st, host), CKPT_MISMATCH);
        ck_assert_msg(strstr(err_msg(), cases[i].says), "case %zu: '%s' does not say '%s'", i,
                      err_msg(), cases[i].says);
    }
    char text[1024];
    snprintf(text, sizeof text, "[future]\nanything = 1\n[optimizer]\ntf32 = true\n%s",
             fixture_text);
    forged_config = text;
    forge(path, sizeof path, set_config, CKPT_FORMAT_VERSION);
    ck_assert_msg(ckpt_read(path, m, NULL, &st, host) == 0, "%s", err_msg());
    free(host);
}
END_TEST

static int64_t forged_version;
static void set_version(hid_t f)
{
    put_i64(f, "format_version", forged_version);
}

/* Format 2 differs only in the sample order of the run that wrote it: it
 * is read, and says so in the state. Formats before and after are refused,
 * in the header or in the attribute, whichever says so first. */
START_TEST(reads_format_2_refuses_others)
{
    float *host = malloc(sizeof(float) * 3 * m->n_params);
    char path[4096];
    ckpt_state st;
    forged_version = 2;
    forge(path, sizeof path, set_version, 2);
    ck_assert_int_eq(ckpt_read(path, m, NULL, &st, host), 0);
    ck_assert_int_eq(st.format, 2);
    ck_assert_int_eq(st.step, 7);
    ck_assert_mem_eq(host, m->params, sizeof(float) * m->n_params);
    static const struct {
        int attr, header, says;
    } bad[] = {{1, 1, 1}, {4, 4, 4}, {3, 4, 4}, {4, 3, 4}, {1, 3, 1}, {2, 1, 1}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        forged_version = bad[i].attr;
        forge(path, sizeof path, set_version, bad[i].header);
        st.step = -5;
        ck_assert_int_eq(ckpt_read(path, m, NULL, &st, host), CKPT_MISMATCH);
        char want[128];
        snprintf(want, sizeof want, "has format_version %d; this accel-train reads 2 to 3",
                 bad[i].says);
        ck_assert_msg(strstr(err_msg(), want), "case %zu: '%s' does not say '%s'", i, err_msg(),
                      want);
        ck_assert_int_eq(st.step, -5);
    }
    free(host);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("checkpoint");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, layout_and_values);
    tcase_add_test(tc, prune_keeps_newest);
    tcase_add_test(tc, failed_write_leaves_old_files);
    tcase_add_test(tc, read_back);
    tcase_add_test(tc, read_refuses_another_model);
    tcase_add_test(tc, read_refuses_extra_layers);
    tcase_add_test(tc, read_compares_the_models_keys);
    tcase_add_test(tc, allowances_are_checked);
    tcase_add_test(tc, read_needs_the_model_of_config);
    tcase_add_test(tc, read_reports_damage);
    tcase_add_test(tc, read_refuses_malformed_content);
    tcase_add_test(tc, reads_format_2_refuses_others);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
