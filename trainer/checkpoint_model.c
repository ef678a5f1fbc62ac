/* checkpoint_model: the checkpoint's model description against the
 * config's (checkpoint_model.h). */
#include "trainer/checkpoint_model.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trainer/config_key.h"
#include "trainer/layer.h"
#include "util/err.h"
#include "util/h5util.h"

/* A config file is at most 1 MiB (config.c) and --set adds at most 256
 * lines: anything longer is not one of ours. */
enum { CONFIG_TEXT_MAX = 2 << 20 };

/* Reads the scalar string dataset /config (fixed or variable length) into
 * a malloc'ed text. */
static int read_text(hid_t file, const char *path, char **text)
{
    *text = NULL;
    if (H5Lexists(file, "/config", H5P_DEFAULT) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        err_set("checkpoint %s has no /config: its model cannot be compared with the config's",
                path);
        return CKPT_MISMATCH;
    }
    hid_t d = H5Dopen2(file, "/config", H5P_DEFAULT);
    if (d < 0)
        return h5util_fail("H5Dopen2", "/config", path);
    hid_t type = H5Dget_type(d), space = H5Dget_space(d);
    int rc = 0;
    if (type < 0 || space < 0) {
        rc = h5util_fail("H5Dget_type", "/config", path);
    } else if (H5Tget_class(type) != H5T_STRING || H5Sget_simple_extent_type(space) != H5S_SCALAR) {
        err_set("checkpoint %s: /config is not one string", path);
        rc = CKPT_MISMATCH;
    } else if (H5Tis_variable_str(type) > 0) { /* as h5py writes a str */
        hid_t mem = H5Tcopy(H5T_C_S1);
        char *vl = NULL;
        if (mem < 0 || H5Tset_size(mem, H5T_VARIABLE) < 0 ||
            H5Dread(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, &vl) < 0)
            rc = h5util_fail("H5Dread", "/config", path);
        else if (!vl || strlen(vl) > CONFIG_TEXT_MAX)
            rc = err_set("checkpoint %s: /config is empty or too long", path);
        else if (!(*text = strdup(vl)))
            rc = err_set("out of memory reading /config of %s", path);
        if (vl)
            H5free_memory(vl);
        if (mem >= 0)
            H5Tclose(mem);
    } else {
        size_t n = H5Tget_size(type);
        if (n == 0 || n > CONFIG_TEXT_MAX)
            rc = err_set("checkpoint %s: /config is empty or too long", path);
        else if (!(*text = calloc(n + 1, 1)))
            rc = err_set("out of memory reading /config of %s", path);
        else if (H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, *text) < 0)
            rc = h5util_fail("H5Dread", "/config", path);
    }
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    H5Dclose(d);
    if (rc < 0) {
        free(*text);
        *text = NULL;
    }
    return rc;
}

/* The checkpoint's model: the layers of its /config. */
static int read_model(hid_t file, const char *path, config *was)
{
    char *text;
    int rc = read_text(file, path, &text);
    if (rc < 0)
        return rc;
    char source[64 + 4096];
    snprintf(source, sizeof source, "%s:/config", path);
    config_defaults(was);
    rc = config_load_layers(was, text, source);
    free(text);
    if (rc < 0) {
        err_prefix("checkpoint %s: its /config does not describe a model this accel-train "
                   "reads, so the config's cannot be checked against it",
                   path);
        return CKPT_MISMATCH;
    }
    return 0;
}

/* Whether rules let key of the layer named `layer` differ. */
static bool allowed(const ckpt_model_rules *rules, const char *layer, const char *key)
{
    for (int i = 0; i < rules->n_allowed; i++) {
        const char *a = rules->allowed[i], *dot = strrchr(a, '.');
        if (dot && (size_t)(dot - a) == strlen(layer) && !strncmp(a, layer, strlen(layer)) &&
            !strcmp(dot + 1, key))
            return true;
    }
    return false;
}

/* Whether key k is compared: never where training starts (init), where it
 * shapes training alone only for a resume, and not when allowed to differ. */
static bool compared(const config_key *k, const ckpt_model_rules *rules, const char *layer)
{
    if (k->flags & CK_STARTS)
        return false;
    if (!(k->flags & CK_TRAINS))
        return true;
    return rules && rules->resume && !allowed(rules, layer, k->key);
}

/* The value of key k of layer c as it works: a stride of 0 is the type's. */
static void value_text(const config_key *k, const layer_cfg *c, char *buf, size_t size)
{
    layer_cfg v = *c;
    v.stride = layer_stride(c);
    config_key_text(k, &v, buf, size);
}

static int key_differs(const char *path, const layer *l, const config_key *k, const char *was,
                       const char *now)
{
    const char *what = l->ops->name;
    if (k->flags & CK_TRAINS)
        err_set("checkpoint %s: layer '%s' (%s): %s is %s in the checkpoint, %s in the config; "
                "to resume with the config's: --allow-change %s.%s",
                path, l->name, what, k->key, was, now, l->name, k->key);
    else
        err_set("checkpoint %s: layer '%s' (%s): %s is %s in the checkpoint, %s in the config; "
                "a checkpoint is read only into the model it holds",
                path, l->name, what, k->key, was, now);
    return CKPT_MISMATCH;
}

/* Layer i of both models: the type, then every key the type takes. */
static int compare_layer(const char *path, const config *was, int i, const layer *l,
                         const ckpt_model_rules *rules)
{
    const layer_cfg *a = &was->layers[i], *b = l->cfg;
    if (a->type != (int)l->type) {
        char name[CFG_NAME_MAX];
        err_set("checkpoint %s: layer %d is '%s' (%s) in the checkpoint, '%s' (%s) in the "
                "config; a checkpoint is read only into the model it holds",
                path, i, config_layer_name(was, i, name, sizeof name), layer_types[a->type]->name,
                l->name, l->ops->name);
        return CKPT_MISMATCH;
    }
    for (const config_key *k = l->ops->keys; k->key; k++) {
        if (!compared(k, rules, l->name))
            continue;
        char va[CFG_STR_MAX + 16], vb[CFG_STR_MAX + 16];
        value_text(k, a, va, sizeof va);
        value_text(k, b, vb, sizeof vb);
        if (strcmp(va, vb) != 0)
            return key_differs(path, l, k, va, vb);
    }
    return 0;
}

static int compare(const char *path, const config *was, const model *m,
                   const ckpt_model_rules *rules)
{
    int common = was->n_layers < m->n_layers ? was->n_layers : m->n_layers;
    for (int i = 0; i < common; i++) {
        int rc = compare_layer(path, was, i, &m->layers[i], rules);
        if (rc < 0)
            return rc;
    }
    if (was->n_layers == m->n_layers)
        return 0;
    char name[CFG_NAME_MAX];
    if (was->n_layers > m->n_layers)
        err_set("checkpoint %s holds a model of %d layers, the config's has %d: the checkpoint's "
                "layer '%s' (%s) is not in the config",
                path, was->n_layers, m->n_layers, config_layer_name(was, common, name, sizeof name),
                layer_types[was->layers[common].type]->name);
    else
        err_set("checkpoint %s holds a model of %d layers, the config's has %d: the config's "
                "layer '%s' (%s) is not in the checkpoint",
                path, was->n_layers, m->n_layers, m->layers[common].name,
                m->layers[common].ops->name);
    return CKPT_MISMATCH;
}

int ckpt_model_check(hid_t file, const char *path, const model *m, const ckpt_model_rules *rules)
{
    config *was = calloc(1, sizeof *was);
    if (!was)
        return err_set("out of memory reading the model of %s", path);
    int rc = read_model(file, path, was);
    if (rc == 0)
        rc = compare(path, was, m, rules);
    config_free(was);
    free(was);
    return rc;
}

/* Allowance a ("LAYER.KEY") against the config: a layer of it, and a key
 * of the layer's type that shapes training alone. */
static int check_allowance(const char *a, const config *cfg)
{
    const char *dot = strrchr(a, '.');
    if (!dot || dot == a || !dot[1])
        return err_set("--allow-change %s: expected LAYER.KEY (e.g. drop1.rate)", a);
    char name[CFG_NAME_MAX];
    for (int i = 0; i < cfg->n_layers; i++) {
        config_layer_name(cfg, i, name, sizeof name);
        if (strlen(name) != (size_t)(dot - a) || strncmp(name, a, strlen(name)) != 0)
            continue;
        const char *type = layer_types[cfg->layers[i].type]->name;
        const config_key *keys = layer_types[cfg->layers[i].type]->keys;
        for (const config_key *k = keys; k->key; k++) {
            if (strcmp(k->key, dot + 1) != 0)
                continue;
            if (k->flags & CK_TRAINS)
                return 0;
            if (k->flags & CK_STARTS)
                return err_set("--allow-change %s: %s only says where training starts; a "
                               "resume takes the checkpoint's weights whatever it is",
                               a, k->key);
            return err_set("--allow-change %s: %s defines what layer '%s' (%s) computes; a "
                           "checkpoint is read only into the model it holds",
                           a, k->key, name, type);
        }
        return err_set("--allow-change %s: layer '%s' (%s) has no key '%s'", a, name, type,
                       dot + 1);
    }
    return err_set("--allow-change %s: the config has no layer '%.*s'", a, (int)(dot - a), a);
}

int ckpt_model_rules_check(const ckpt_model_rules *rules, const config *cfg)
{
    for (int i = 0; i < rules->n_allowed; i++)
        if (check_allowance(rules->allowed[i], cfg) < 0)
            return -1;
    return 0;
}
