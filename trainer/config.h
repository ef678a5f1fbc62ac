/* config: the training configuration, read from an INI file (libinih) and
 * overridden by --set.
 *
 * Every key lives in one table (config.c) that gives its section, type,
 * default, bounds and help text; parsing, --set, the defaults and --help all
 * read that table, so they cannot drift apart. The model is a list of
 * repeated [layer] sections, in file order (Darknet-style). */
#ifndef ACCEL_CONFIG_H
#define ACCEL_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "comm/comm.h"
#include "data/dataset.h"
#include "data/transform.h"
#include "kernels/backend.h"

#define CFG_STR_MAX    512
#define CFG_NAME_MAX   64
#define CFG_MAX_LAYERS 256

typedef enum {
    LAYER_DENSE = 0,
    LAYER_DROPOUT,
    LAYER_CONV2D,
    LAYER_MAXPOOL,
    LAYER_AVGPOOL,
    LAYER_GLOBAL_AVGPOOL,
    LAYER_FLATTEN,
    LAYER_BATCHNORM,
    LAYER_RESIDUAL,
    LAYER_EMBEDDING,
    LAYER_LAYERNORM,
    LAYER_ATTENTION,
    LAYER_N_TYPES
} layer_type;
typedef enum { INIT_AUTO = 0, INIT_HE_UNIFORM, INIT_GLOROT_UNIFORM, INIT_GPT2 } init_kind;
typedef enum { DECAY_ALL = 0, DECAY_MATRICES } decay_kind;
typedef enum { SCHED_CONSTANT = 0, SCHED_COSINE } schedule_kind;
typedef enum { OPTIM_ADAM = 0, OPTIM_ADAMW } optim_kind;
typedef enum { NONFINITE_STOP = 0, NONFINITE_SKIP } nonfinite_kind;

typedef struct {
    int type;                /* layer_type; -1 until `type` is read */
    char name[CFG_NAME_MAX]; /* "" means the default, layer<i> */
    int units;
    int filters, size, stride, padding; /* stride 0: the type's default */
    bool bias;
    int activation; /* act_kind */
    int init;       /* init_kind */
    double rate;
    double momentum, eps; /* batchnorm */
    bool sync;
    int from;              /* residual */
    int vocab, block_size; /* embedding */
    bool tie;              /* embedding: the last layer's weight is wte */
    int heads;             /* attention */
    double dropout;        /* attention: on its weights */
    int line;              /* line of the [layer] header, for messages */
    uint64_t set_mask;     /* which layer keys were given, a bit per key (config.c) */
    int key_line[64];      /* where each given key was */
} layer_cfg;

typedef struct {
    char source[CFG_STR_MAX]; /* the file name, for messages */

    /* [run] */
    char run_name[CFG_NAME_MAX];
    uint64_t seed;
    char run_dir[CFG_STR_MAX];
    int device; /* device_kind */
    int threads;
    bool allow_shared_gpu;
    bool deterministic; /* GPU: deterministic cuDNN algorithms only */

    /* [data] */
    int data_format; /* data_format_kind */
    char data_train[CFG_STR_MAX];
    char data_test[CFG_STR_MAX];
    int batch_size; /* global, over all ranks */
    bool shuffle;
    int eval_batch_size;
    char data_shape[64];
    char images_key[128], labels_key[128];
    int data_layout; /* data_layout_kind */
    char data_mean[256], data_std[256];
    int augment_crop;
    bool augment_flip;
    double val_fraction;              /* text */
    char data_exclude[CFG_STR_MAX];   /* text */
    long eval_tokens;                 /* text: the validation split's first tokens (0: all) */
    char data_tokenizer[CFG_STR_MAX]; /* text, tokens: a tokenizer.json ("": none) */

    /* [train] */
    int epochs;
    long max_steps; /* -1: no limit; 0: initialize, checkpoint, stop */
    int log_every;
    int eval_every;   /* steps; 0: at the end of each epoch and of training */
    int grad_accum;   /* micro-batches an optimizer step */
    int precision;    /* precision_kind (kernels/backend.h) */
    int on_nonfinite; /* nonfinite_kind */
    int max_skips;

    /* [optimizer] */
    int optim_type; /* optim_kind */
    double lr, beta1, beta2, eps, weight_decay, clip_norm;
    int schedule; /* schedule_kind */
    int warmup_steps;
    long schedule_steps; /* the schedule's length; 0: every epoch's steps */
    double min_lr;
    int decay;  /* decay_kind */
    bool shard; /* each rank keeps and updates 1/N of the Adam state (ZeRO stage 1) */

    /* [comm] */
    int comm_backend; /* comm_backend_kind */
    double bucket_mb;
    double comm_timeout_s;

    /* [checkpoint] */
    char ckpt_dir[CFG_STR_MAX]; /* "" means <run.dir>/checkpoints */
    int ckpt_every_steps;
    int ckpt_keep;

    layer_cfg layers[CFG_MAX_LAYERS];
    int n_layers;

    /* The text that produced this configuration: the file, then one
     * "; --set ..." line per override. Stored in checkpoints. */
    char *text;
} config;

/* Fills cfg with every default. */
void config_defaults(config *cfg);

/* Reads an INI file into cfg (after config_defaults). Errors name the file
 * and line: "<file>:<line>: <what was expected>". */
int config_load(config *cfg, const char *path);

/* Applies one "section.key=value" override. A layer key is addressed by the
 * layer's name (its `name` key, or layer<i> counting from 0). */
int config_set(config *cfg, const char *assignment);

/* Reads the model a config text describes, as config_load and config_set
 * would read it (the text's "; --set" lines of layers included): its
 * [layer], [repeat] and [end] sections. Every other section, known or not,
 * is passed over, so that a checkpoint's /config, which an accel-train of
 * other sections' keys may have written, still gives its model. Errors
 * name `source`. */
int config_load_layers(config *cfg, const char *text, const char *source);

/* Checks what only the whole configuration can tell (e.g. a layer type's
 * required keys). Run after every override is applied. */
int config_validate(const config *cfg);

/* What data/ takes of the configuration: the options of dataset_open and
 * dataset_open_splits, and of transform_init. Their strings point into
 * cfg. */
dataset_options config_dataset_options(const config *cfg);
transform_options config_transform_options(const config *cfg);

/* The name of a layer_type, as the config writes it. */
void layer_type_name(int type, char *buf, size_t size);

/* The name of layer i: its `name` key, or layer<i>. */
const char *config_layer_name(const config *cfg, int i, char *buf, size_t size);

/* Writes the whole configuration as an INI file: every key with the value
 * in force (defaults, the file and --set overrides together). */
void config_write(const config *cfg, FILE *out);

/* The same, as the Markdown of docs/config.md. */
void config_print_markdown(FILE *out);

/* Prints every section and key with its default and meaning. */
void config_print_help(FILE *out);

void config_free(config *cfg);

#endif
