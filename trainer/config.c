/* config: the key table, the INI reader on top of libinih, and --set. */
#include "trainer/config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "trainer/config_key.h"
#include "trainer/layer.h"
#include "util/err.h"

#define C(field) offsetof(config, field), sizeof(((config *)0)->field)

static const config_key cfg_keys[] = {
    {"run", "name", KT_STR, C(run_name), "run", 0, 0, 0, NULL,
     "name of the run (letters, digits, '-', '_', '.')", false},
    {"run", "seed", KT_U64, C(seed), "42", 0, CK_NOLIMIT, 0, NULL,
     "seed of every random choice: initialization, shuffle, dropout", false},
    {"run", "dir", KT_STR, C(run_dir), "", 0, 0, 0, NULL,
     "where metrics.jsonl, event files and checkpoints go (empty: runs/<name>, or "
     "runs/<name>-job<SLURM_JOB_ID> under Slurm)",
     false},
    {"run", "device", KT_ENUM, C(device), "auto", 0, 0, 0, "auto|cpu|cuda",
     "compute device: auto uses a GPU when there is one", false},
    {"run", "threads", KT_INT, C(threads), "0", 0, 4096, 0, NULL,
     "CPU threads for the math (0: this rank's share of the node's cores)", false},
    {"run", "allow_shared_gpu", KT_BOOL, C(allow_shared_gpu), "false", 0, 0, 0, NULL,
     "let more ranks than GPUs on a node share them", false},
    {"run", "deterministic", KT_BOOL, C(deterministic), "true", 0, 0, 0, NULL,
     "GPU: only deterministic cuDNN algorithms, so repeated runs are bitwise equal (false "
     "allows the fastest)",
     false},

    {"data", "format", KT_ENUM, C(data_format), "idx", 0, 0, 0, "idx|cifar10|hdf5|text|tokens",
     "dataset format: idx (MNIST, Fashion-MNIST), cifar10 (binary batches), hdf5, text (bytes "
     "as tokens, for a language model), tokens (llm.c's token shards, for a language model)",
     false},
    {"data", "train", KT_STR, C(data_train), "/usr/share/datasets/fashion-mnist/train", 0, 0, 0,
     NULL,
     "training split: idx: a prefix P (P-images-idx3-ubyte[.gz], P-labels-idx1-ubyte[.gz]) or "
     "IMAGES,LABELS; cifar10: FILE[,FILE...] or a directory (data_batch_*.bin); hdf5: a file; "
     "text: files, directories and globs, comma-separated; tokens: shards, in the forms of text",
     false},
    {"data", "test", KT_STR, C(data_test), "/usr/share/datasets/fashion-mnist/t10k", 0, 0, 0, NULL,
     "test split, in the forms of train (a cifar10 directory: test_batch.bin); empty: no "
     "evaluation (text: must be empty; tokens: the validation shards, and empty: the end of "
     "train's tokens, val_fraction)",
     false},
    {"data", "batch_size", KT_INT, C(batch_size), "64", 1, 1 << 24, 0, NULL,
     "global batch size, over all ranks", false},
    {"data", "shuffle", KT_BOOL, C(shuffle), "true", 0, 0, 0, NULL,
     "shuffle the training order every epoch (seeded)", false},
    {"data", "eval_batch_size", KT_INT, C(eval_batch_size), "1000", 1, 1 << 24, 0, NULL,
     "batch size for evaluation", false},
    {"data", "shape", KT_STR, C(data_shape), "", 0, 0, 0, NULL,
     "C,H,W of a sample, checked against the data (empty: as the data says)", false},
    {"data", "images_key", KT_STR, C(images_key), "/images", 0, 0, 0, NULL,
     "hdf5: the images dataset, (N,C,H,W) or (N,H,W,C), uint8 or float32", false},
    {"data", "labels_key", KT_STR, C(labels_key), "/labels", 0, 0, 0, NULL,
     "hdf5: the labels dataset, (N), integers", false},
    {"data", "layout", KT_ENUM, C(data_layout), "auto", 0, 0, 0, "auto|nchw|nhwc",
     "hdf5: axis order of the images (auto: NHWC when the last axis is 1 or 3 and the second "
     "is not)",
     false},
    {"data", "mean", KT_STR, C(data_mean), "", 0, 0, 0, NULL,
     "per-channel mean subtracted after scaling to [0, 1], e.g. 0.4914,0.4822,0.4465", false},
    {"data", "std", KT_STR, C(data_std), "", 0, 0, 0, NULL,
     "per-channel standard deviation divided by, e.g. 0.2470,0.2435,0.2616", false},
    {"data", "augment_crop", KT_INT, C(augment_crop), "0", 0, 1024, 0, NULL,
     "training: pad by this many pixels and crop back at a random offset (0: off)", false},
    {"data", "augment_flip", KT_BOOL, C(augment_flip), "false", 0, 0, 0, NULL,
     "training: flip half the images left to right", false},
    {"data", "val_fraction", KT_REAL, C(val_fraction), "0.1", 0, 1, CK_HI_OPEN, NULL,
     "text, tokens with test empty: the last fraction of the stream that is the validation "
     "split (0: none)",
     false},
    {"data", "exclude", KT_STR, C(data_exclude), "", 0, 0, 0, NULL,
     "text, tokens: file names to leave out of data.train's directories and globs, as "
     "comma-separated "
     "patterns (e.g. *.dat,*.u8)",
     false},
    {"data", "tokenizer", KT_STR, C(data_tokenizer), "", 0, 0, 0, NULL,
     "text: a tokenizer.json (byte-level BPE, as GPT-2's or train_tokenizer.py's) whose ids the "
     "text becomes at start-up, the training and validation parts encoded apart (their cut "
     "moved back to a character's start); tokens: the tokenizer that made the shards' ids, "
     "which must be below its size; either way the checkpoints carry it (for --generate and "
     "the exporters) and the embedding's vocab must hold its ids (empty: text's bytes are the "
     "tokens; tokens' ids are the embedding's)",
     false},
    {"data", "eval_tokens", KT_LONG, C(eval_tokens), "0", 0, CK_NOLIMIT, 0, NULL,
     "text, tokens: evaluate only the validation split's first this many tokens, rounded down "
     "to whole "
     "windows of block_size, at least one (0, or more than the split holds: the whole split)",
     false},

    {"train", "epochs", KT_INT, C(epochs), "10", 1, 1 << 30, 0, NULL, "passes over the data",
     false},
    {"train", "max_steps", KT_LONG, C(max_steps), "-1", -1, CK_NOLIMIT, 0, NULL,
     "stop after this many steps (-1: no limit; 0: initialize, checkpoint, stop); the "
     "schedule still spans all epochs",
     false},
    {"train", "grad_accum", KT_INT, C(grad_accum), "1", 1, 4096, 0, NULL,
     "micro-batches an optimizer step: each rank runs its share of the batch in this many "
     "parts and adds their gradients (1 rank with 4 makes the updates 4 ranks with 1 do)",
     false},
    {"train", "eval_every", KT_INT, C(eval_every), "0", 0, 1 << 30, 0, NULL,
     "steps between evaluations of the test (or validation) split (0: at each epoch's end); "
     "training's end evaluates too",
     false},
    {"train", "log_every", KT_INT, C(log_every), "100", 1, 1 << 30, 0, NULL,
     "steps between log lines and metrics records", false},
    {"train", "precision", KT_ENUM, C(precision), "fp32", 0, 0, 0, "fp32|tf32|bf16",
     "matrix products' inputs: fp32, or rounded to tf32 or bf16 for tensor cores (GPU; the CPU "
     "emulates them, slower), summed in fp32; weights, optimizer state and checkpoints stay "
     "fp32 (convolutions take tf32 at bf16: cuDNN has no bf16 for fp32 tensors)",
     false},
    {"train", "on_nonfinite", KT_ENUM, C(on_nonfinite), "stop", 0, 0, 0, "stop|skip",
     "a NaN or infinite loss or gradient: stop (exit non-zero, no checkpoint of the bad state) "
     "or skip the update",
     false},
    {"train", "max_skips", KT_INT, C(max_skips), "10", 1, 1 << 30, 0, NULL,
     "with on_nonfinite = skip: stop after this many skipped updates in a row", false},

    {"optimizer", "type", KT_ENUM, C(optim_type), "adam", 0, 0, 0, "adam|adamw",
     "adam (weight decay as L2 in the gradient) or adamw (decoupled weight decay)", false},
    {"optimizer", "lr", KT_REAL, C(lr), "0.001", 0, CK_NOLIMIT, CK_LO_OPEN, NULL,
     "peak learning rate", false},
    {"optimizer", "beta1", KT_REAL, C(beta1), "0.9", 0, 1, CK_HI_OPEN, NULL,
     "decay of the first moment", false},
    {"optimizer", "beta2", KT_REAL, C(beta2), "0.999", 0, 1, CK_HI_OPEN, NULL,
     "decay of the second moment", false},
    {"optimizer", "eps", KT_REAL, C(eps), "1e-8", 0, CK_NOLIMIT, CK_LO_OPEN, NULL,
     "added to the denominator", false},
    {"optimizer", "weight_decay", KT_REAL, C(weight_decay), "0", 0, CK_NOLIMIT, 0, NULL,
     "weight decay (0: none)", false},
    {"optimizer", "clip_norm", KT_REAL, C(clip_norm), "0", 0, CK_NOLIMIT, 0, NULL,
     "clip gradients to this global L2 norm (0: off)", false},
    {"optimizer", "schedule", KT_ENUM, C(schedule), "constant", 0, 0, 0, "constant|cosine",
     "learning-rate schedule after warmup", false},
    {"optimizer", "warmup_steps", KT_INT, C(warmup_steps), "0", 0, 1 << 30, 0, NULL,
     "linear warmup from lr/warmup_steps to lr over this many steps", false},
    {"optimizer", "schedule_steps", KT_LONG, C(schedule_steps), "0", 0, CK_NOLIMIT, 0, NULL,
     "the steps the schedule spans, and training stops after (0: every epoch's; language "
     "models count steps, not passes over a corpus)",
     false},
    {"optimizer", "decay", KT_ENUM, C(decay), "all", 0, 0, 0, "all|matrices",
     "which parameters weight_decay applies to: all, or matrices and embeddings only (not "
     "biases and norm gains, as nanoGPT and llm.c)",
     false},
    {"optimizer", "shard", KT_BOOL, C(shard), "false", 0, 0, 0, NULL,
     "shard the optimizer state over the ranks (ZeRO stage 1): each rank keeps the Adam "
     "moments of, and updates, 1/N of the parameters; gradients are reduce-scattered and the "
     "parameters all-gathered; the same updates and checkpoints as without (one rank: no "
     "effect)",
     false},
    {"optimizer", "min_lr", KT_REAL, C(min_lr), "0", 0, CK_NOLIMIT, 0, NULL,
     "where the cosine schedule ends", false},

    {"comm", "backend", KT_ENUM, C(comm_backend), "auto", 0, 0, 0, "auto|nccl|mpi",
     "gradient all-reduce: auto (NCCL on GPUs, MPI on the CPU), nccl (even on one rank), or "
     "mpi",
     false},
    {"comm", "bucket_mb", KT_REAL, C(bucket_mb), "1", 0, 1 << 20, CK_LO_OPEN, NULL,
     "all-reduce bucket size in MiB (whole layers, at least this much): each starts when "
     "backward has produced it",
     false},
    {"comm", "timeout_s", KT_REAL, C(comm_timeout_s), "300", 0, CK_NOLIMIT, CK_LO_OPEN, NULL,
     "seconds an all-reduce may take before the job is ended as stuck", false},

    {"checkpoint", "dir", KT_STR, C(ckpt_dir), "", 0, 0, 0, NULL,
     "checkpoint directory (empty: <run.dir>/checkpoints)", false},
    {"checkpoint", "every_steps", KT_INT, C(ckpt_every_steps), "0", 0, 1 << 30, 0, NULL,
     "steps between checkpoints (0: only the final one)", false},
    {"checkpoint", "keep", KT_INT, C(ckpt_keep), "3", 1, 1 << 20, 0, NULL,
     "how many of the newest checkpoints to keep", false},
};

#define N_KEYS (sizeof cfg_keys / sizeof cfg_keys[0])
static const char *const sections[] = {"run",  "data",  "train",  "optimizer", "checkpoint",
                                       "comm", "layer", "repeat", "end"};

/* ---- values ------------------------------------------------------------ */

/* The index of `value` in a "a|b|c" list, or -1. */
static int choice_index(const char *choices, const char *value)
{
    size_t n = strlen(value);
    int i = 0;
    for (const char *p = choices; *p; i++) {
        const char *end = strchr(p, '|');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, value, n) == 0)
            return i;
        if (!end)
            break;
        p = end + 1;
    }
    return -1;
}

/* Checks v against the key's bounds; the message quotes the raw value. A
 * range is shown whole when it is a natural one, like [0, 1); the sanity
 * caps on sizes are large, and then only the side that was crossed is. */
static int check_bounds(const config_key *k, double v, const char *value)
{
    bool lo_bad = (k->flags & CK_LO_OPEN) ? !(v > k->lo) : !(v >= k->lo);
    bool hi_bad = k->hi != CK_NOLIMIT && ((k->flags & CK_HI_OPEN) ? !(v < k->hi) : !(v <= k->hi));
    if (!lo_bad && !hi_bad)
        return 0;
    const char *kind = (k->type == KT_REAL) ? "a number" : "an integer";
    if (k->hi <= 1e6)
        return err_set("expected %s in %c%.10g, %.10g%c, got '%s'", kind,
                       (k->flags & CK_LO_OPEN) ? '(' : '[', k->lo, k->hi,
                       (k->flags & CK_HI_OPEN) ? ')' : ']', value);
    if (lo_bad)
        return err_set("expected %s %s %.10g, got '%s'", kind,
                       (k->flags & CK_LO_OPEN) ? ">" : ">=", k->lo, value);
    return err_set("expected %s %s %.10g, got '%s'", kind,
                   (k->flags & CK_HI_OPEN) ? "<" : "<=", k->hi, value);
}

static int parse_integer(const config_key *k, const char *value, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    if (end == value || *end != '\0' || errno == ERANGE)
        return err_set("expected an integer, got '%s'", value);
    if (check_bounds(k, (double)v, value) < 0)
        return -1;
    *out = v;
    return 0;
}

static int parse_value(const config_key *k, void *base, const char *value)
{
    char *field = (char *)base + k->offset;
    switch (k->type) {
    case KT_INT:
    case KT_LONG: {
        long long v = 0;
        if (parse_integer(k, value, &v) < 0)
            return -1;
        if (k->type == KT_INT)
            *(int *)field = (int)v;
        else
            *(long *)field = (long)v;
        return 0;
    }
    case KT_U64: {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(value, &end, 0);
        if (end == value || *end != '\0' || errno == ERANGE || value[0] == '-')
            return err_set("expected a non-negative integer, got '%s'", value);
        *(uint64_t *)field = v;
        return 0;
    }
    case KT_REAL: {
        char *end;
        errno = 0;
        double v = strtod(value, &end);
        if (end == value || *end != '\0' || errno == ERANGE || !isfinite(v))
            return err_set("expected a number, got '%s'", value);
        if (check_bounds(k, v, value) < 0)
            return -1;
        *(double *)field = v;
        return 0;
    }
    case KT_BOOL:
        if (!strcmp(value, "true") || !strcmp(value, "yes") || !strcmp(value, "1"))
            *(bool *)field = true;
        else if (!strcmp(value, "false") || !strcmp(value, "no") || !strcmp(value, "0"))
            *(bool *)field = false;
        else
            return err_set("expected true or false, got '%s'", value);
        return 0;
    case KT_STR:
        if (strlen(value) >= k->size)
            return err_set("expected at most %zu characters, got %zu", k->size - 1, strlen(value));
        memcpy(field, value, strlen(value) + 1);
        return 0;
    case KT_ENUM: {
        int i = choice_index(k->choices, value);
        if (i < 0) {
            char list[256];
            snprintf(list, sizeof list, "%s", k->choices);
            for (char *p = list; *p; p++)
                if (*p == '|')
                    *p = ',';
            return err_set("expected one of %s, got '%s'", list, value);
        }
        *(int *)field = i;
        return 0;
    }
    }
    return err_set("internal error: bad key type");
}

/* ---- lookups ------------------------------------------------------------ */

static int find_key(const char *section, const char *key)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (!strcmp(cfg_keys[i].section, section) && !strcmp(cfg_keys[i].key, key))
            return (int)i;
    return -1;
}

/* ---- layer keys ---------------------------------------------------------
 * Every [layer] section takes `type` and `name`; the other keys are its
 * type's (layer_ops.keys). A key is numbered by its first appearance over
 * the types in order, which is its bit in layer_cfg.set_mask. */

enum { LK_TYPE, LK_NAME, LK_FIRST };

static const config_key name_key = {"layer",
                                    "name",
                                    KT_STR,
                                    LAYER_FIELD(name),
                                    "",
                                    0,
                                    0,
                                    0,
                                    NULL,
                                    "name in checkpoints and --set (default layer<i>, counting "
                                    "from 0)",
                                    false};

/* The type's description of key, or NULL when the type does not take it. */
static const config_key *type_key(int type, const char *key)
{
    for (const config_key *k = layer_types[type]->keys; k->key; k++)
        if (!strcmp(k->key, key))
            return k;
    return NULL;
}

/* Calls fn on every distinct layer key after type and name, with its
 * number, until fn returns non-zero; returns that. */
static int each_layer_key(int (*fn)(const config_key *k, int index, void *arg), void *arg)
{
    int index = LK_FIRST;
    for (int t = 0; t < LAYER_N_TYPES; t++)
        for (const config_key *k = layer_types[t]->keys; k->key; k++) {
            bool earlier = false;
            for (int u = 0; u < t && !earlier; u++)
                earlier = type_key(u, k->key) != NULL;
            for (const config_key *j = layer_types[t]->keys; j < k && !earlier; j++)
                earlier = !strcmp(j->key, k->key);
            if (earlier)
                continue;
            int rc = fn(k, index++, arg);
            if (rc)
                return rc;
        }
    return 0;
}

typedef struct {
    const char *name;
    const config_key *k;
    int index;
} key_query;

static int match_key(const config_key *k, int index, void *arg)
{
    key_query *q = arg;
    if (strcmp(k->key, q->name) != 0)
        return 0;
    q->k = k;
    q->index = index;
    return 1;
}

/* A layer key by name, as some type describes it, and its number: -1 for
 * none. `type` is not among them (it is read on its own). */
static int find_layer_key(const char *key, const config_key **k)
{
    if (!strcmp(key, "name")) {
        *k = &name_key;
        return LK_NAME;
    }
    key_query q = {.name = key};
    if (!each_layer_key(match_key, &q))
        return -1;
    *k = q.k;
    return q.index;
}

/* "dense, dropout, ..." or "dense|dropout|...": the types' names. */
static void type_names(char *buf, size_t size, const char *sep)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int t = 0; t < LAYER_N_TYPES && used < size; t++)
        used +=
            (size_t)snprintf(buf + used, size - used, "%s%s", t ? sep : "", layer_types[t]->name);
}

/* The `type` key's value: a type's name. */
static int parse_type(layer_cfg *l, const char *value)
{
    int t = layer_type_find(value);
    if (t < 0) {
        char names[512];
        type_names(names, sizeof names, ",");
        return err_set("expected one of %s, got '%s'", names, value);
    }
    l->type = t;
    return 0;
}

static bool is_section(const char *name)
{
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
        if (!strcmp(sections[i], name))
            return true;
    return false;
}

/* The edit distance between a and b (insertions, deletions, substitutions,
 * and swaps of neighbours: the usual typos), for names up to 63 chars. */
static int edit_distance(const char *a, const char *b)
{
    int n = (int)strlen(a), m = (int)strlen(b);
    if (n > 63 || m > 63)
        return 99;
    int d[64][64];
    for (int i = 0; i <= n; i++)
        d[i][0] = i;
    for (int j = 0; j <= m; j++)
        d[0][j] = j;
    for (int i = 1; i <= n; i++)
        for (int j = 1; j <= m; j++) {
            int best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[n][m];
}

/* The closest of the candidates to name, when it is close enough to be a
 * typo (at most 2 edits, and at most a third of the longer name), else NULL. */
static const char *closest(const char *name, const char *const *cands, size_t n)
{
    const char *best = NULL;
    int best_d = 3;
    for (size_t i = 0; i < n; i++) {
        int d = edit_distance(name, cands[i]);
        int len = (int)(strlen(cands[i]) > strlen(name) ? strlen(cands[i]) : strlen(name));
        if (d < best_d && d * 3 <= len) {
            best = cands[i];
            best_d = d;
        }
    }
    return best;
}

typedef struct {
    char known[512];
    const char *names[64];
    size_t used, count;
} key_list;

static void list_key(key_list *kl, const char *key)
{
    if (kl->count < 64)
        kl->names[kl->count++] = key;
    if (kl->used < sizeof kl->known)
        kl->used += (size_t)snprintf(kl->known + kl->used, sizeof kl->known - kl->used, "%s%s",
                                     kl->used ? ", " : "", key);
}

static int list_layer_key(const config_key *k, int index, void *arg)
{
    (void)index;
    list_key(arg, k->key);
    return 0;
}

/* Keys that have moved, so that an older config says where to. */
static const struct {
    const char *section, *key, *now;
} moved_keys[] = {
    {"optimizer", "tf32", "train.precision = tf32"},
};

static int unknown_key(const char *section, const char *key)
{
    for (size_t i = 0; i < sizeof moved_keys / sizeof moved_keys[0]; i++)
        if (!strcmp(moved_keys[i].section, section) && !strcmp(moved_keys[i].key, key))
            return err_set("%s.%s is now %s", section, key, moved_keys[i].now);
    key_list kl = {.used = 0};
    if (!strcmp(section, "layer")) {
        list_key(&kl, "type");
        list_key(&kl, "name");
        each_layer_key(list_layer_key, &kl);
    }
    for (size_t i = 0; i < N_KEYS; i++)
        if (!strcmp(cfg_keys[i].section, section))
            list_key(&kl, cfg_keys[i].key);
    const char *known = kl.known, *const *names = kl.names;
    size_t count = kl.count;
    const char *guess = closest(key, names, count);
    if (guess)
        return err_set("unknown key '%s' in [%s] (did you mean %s?)", key, section, guess);
    return err_set("unknown key '%s' in [%s] (known: %s)", key, section, known);
}

/* A section name for messages about an unknown one. */
static void unknown_section_text(const char *name, char *buf, size_t size)
{
    const char *guess = closest(name, sections, sizeof sections / sizeof sections[0]);
    if (guess)
        snprintf(buf, size, "unknown section [%s] (did you mean [%s]?)", name, guess);
    else
        snprintf(buf, size,
                 "unknown section [%s] (expected run, data, train, optimizer, checkpoint, comm, "
                 "layer, repeat or end)",
                 name);
}

/* ---- defaults ----------------------------------------------------------- */

static int default_layer_key(const config_key *k, int index, void *arg)
{
    (void)index;
    if (k->def && parse_value(k, arg, k->def) < 0)
        abort(); /* a bad default in a table is a programming error */
    return 0;
}

static void layer_defaults(layer_cfg *l, int line)
{
    memset(l, 0, sizeof *l);
    l->type = -1;
    l->line = line;
    each_layer_key(default_layer_key, l);
}

void config_defaults(config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < N_KEYS; i++)
        if (parse_value(&cfg_keys[i], cfg, cfg_keys[i].def) < 0)
            abort(); /* a bad default in the table is a programming error */
}

/* ---- the INI file ------------------------------------------------------- */

typedef struct {
    config *cfg;
    const char *path;
    const char *text; /* the whole file */
    size_t pos;
    int line;         /* the line libinih is working on */
    bool failed;      /* an error is recorded; keep the first */
    char section[64]; /* the current section, as the reader saw it */
    bool after_key;   /* a key line since the section's header (libinih's prev_name) */
    bool layers_only; /* the model alone: other sections, known or not, are passed over */
    /* the open [repeat]: its first layer (-1: none), count, name, line */
    int group_first, group_count, group_line;
    char group_name[CFG_NAME_MAX];
    int group_key_line[2]; /* where the open [repeat]'s count and name were given (0: not) */
    unsigned char seen[N_KEYS];
    int seen_line[N_KEYS];
} ini_state;

static int fail_at(ini_state *st, int line, const char *what)
{
    if (!st->failed) {
        char msg[ERR_MSG_MAX];
        snprintf(msg, sizeof msg, "%s", what);
        err_set("%s:%d: %s", st->path, line, msg);
        st->failed = true;
    }
    return 0; /* tells libinih this line failed */
}

static bool valid_name(const char *s);

/* ---- [repeat] groups ------------------------------------------------------
 * The [layer] sections between [repeat] and [end] are taken `count` times,
 * each copy's layers named <name>.<i>.<their name, or layer<j>>, so that a
 * transformer's blocks are written once (h.0.attn, h.1.attn, ...). */

static void open_group(ini_state *st)
{
    if (st->group_first >= 0) {
        char what[128];
        snprintf(what, sizeof what, "[repeat] inside the [repeat] of line %d: close it with [end]",
                 st->group_line);
        fail_at(st, st->line, what);
        return;
    }
    st->group_first = st->cfg->n_layers;
    st->group_count = 1;
    st->group_line = st->line;
    st->group_key_line[0] = st->group_key_line[1] = 0;
    snprintf(st->group_name, sizeof st->group_name, "block");
}

/* Names l, copy i of layer j of the group. */
static int name_copy(ini_state *st, layer_cfg *l, int i, int j)
{
    char own[CFG_NAME_MAX];
    snprintf(own, sizeof own, "%s", l->name);
    if (!own[0])
        snprintf(own, sizeof own, "layer%d", j);
    int n = snprintf(l->name, sizeof l->name, "%s.%d.%s", st->group_name, i, own);
    if (n < 0 || (size_t)n >= sizeof l->name) {
        char what[256];
        snprintf(what, sizeof what, "the name %s.%d.%s is longer than %d characters",
                 st->group_name, i, own, CFG_NAME_MAX - 1);
        fail_at(st, l->line, what);
        return -1;
    }
    l->set_mask |= 1ull << LK_NAME;
    return 0;
}

static void close_group(ini_state *st)
{
    config *cfg = st->cfg;
    int first = st->group_first, k = cfg->n_layers - first, count = st->group_count;
    st->group_first = -1;
    if (first < 0) {
        fail_at(st, st->line, "[end] without a [repeat] to close");
        return;
    }
    if (k == 0) {
        fail_at(st, st->group_line, "[repeat] with no [layer] before its [end]");
        return;
    }
    if ((int64_t)k * count > CFG_MAX_LAYERS - first) {
        char what[160];
        snprintf(what, sizeof what, "[repeat] of %d layers %d times: more than %d layers", k, count,
                 CFG_MAX_LAYERS);
        fail_at(st, st->group_line, what);
        return;
    }
    for (int i = count - 1; i >= 0; i--)
        for (int j = 0; j < k; j++) {
            layer_cfg *l = &cfg->layers[first + i * k + j];
            if (i > 0)
                *l = cfg->layers[first + j];
            if (name_copy(st, l, i, j) < 0)
                return;
        }
    cfg->n_layers = first + k * count;
}

static const config_key repeat_keys[] = {
    {"repeat", "count", KT_INT, 0, 0, "1", 1, CFG_MAX_LAYERS, 0, NULL,
     "how many times the [layer] sections up to [end] are taken", false},
    {"repeat", "name", KT_STR, 0, CFG_NAME_MAX, "block", 0, 0, 0, NULL,
     "the copies' layers are named <name>.<i>.<layer's name>", false},
};

static int handle_group_key(ini_state *st, const char *key, const char *value)
{
    int i = !strcmp(key, "count") ? 0 : !strcmp(key, "name") ? 1 : -1;
    if (i < 0 || st->group_first < 0) {
        char what[128];
        snprintf(what, sizeof what, "unknown key '%s' in [%s] (known: count, name)", key,
                 st->group_first < 0 ? "end" : "repeat");
        return fail_at(st, st->line, what);
    }
    if (st->group_key_line[i]) { /* as in every other section: not the last one winning */
        char what[128];
        snprintf(what, sizeof what, "key '%s' given twice in [repeat] (first on line %d)", key,
                 st->group_key_line[i]);
        return fail_at(st, st->line, what);
    }
    st->group_key_line[i] = st->line;
    void *field = i == 0 ? (void *)&st->group_count : (void *)st->group_name;
    config_key k = repeat_keys[i];
    k.offset = 0;
    if (parse_value(&k, field, value) < 0 ||
        (i == 1 && !valid_name(st->group_name) &&
         err_set("expected letters, digits, '-', '_' or '.'") < 0)) {
        char what[ERR_MSG_MAX];
        snprintf(what, sizeof what, "[repeat] %s: %s", key, err_msg());
        return fail_at(st, st->line, what);
    }
    return 1;
}

/* Looks at a line the way libinih will, to learn of section headers: libinih
 * reports a section only with its keys, so a repeated [layer] would
 * otherwise be invisible, and a misspelled empty section silently accepted. */
static void see_line(ini_state *st, const char *line)
{
    /* As libinih reads the line: it skips what isspace() calls space (\v
     * and \f too), or a "\v[layer]" would start a layer for libinih only;
     * comments and blank lines change nothing; and an indented line after
     * a key continues that key's value, even one that reads "[layer]". */
    const char *start = line;
    while (isspace((unsigned char)*start))
        start++;
    if (*start == '\0' || *start == ';' || *start == '#' || (start > line && st->after_key))
        return;
    st->after_key = *start != '[';
    line = start;
    if (*line != '[')
        return;
    const char *end = strchr(line, ']');
    if (!end)
        return; /* libinih reports the malformed header */
    size_t len = (size_t)(end - line - 1);
    char name[64];
    if (len >= sizeof name)
        len = sizeof name - 1;
    memcpy(name, line + 1, len);
    name[len] = '\0';
    /* as libinih: what is inside the brackets, untrimmed */
    snprintf(st->section, sizeof st->section, "%s", name);
    if (!is_section(st->section) && !st->layers_only) {
        char what[256];
        unknown_section_text(st->section, what, sizeof what);
        fail_at(st, st->line, what);
        return;
    }
    if (!strcmp(st->section, "layer")) {
        config *cfg = st->cfg;
        if (cfg->n_layers == CFG_MAX_LAYERS) {
            fail_at(st, st->line, "too many [layer] sections (at most 256)");
            return;
        }
        layer_defaults(&cfg->layers[cfg->n_layers++], st->line);
    } else if (!strcmp(st->section, "repeat")) {
        open_group(st);
    } else if (!strcmp(st->section, "end")) {
        close_group(st);
    }
}

/* libinih's line source: hands out the file one line at a time, counting. */
static char *ini_reader_fn(char *buf, int size, void *stream)
{
    ini_state *st = stream;
    if (st->text[st->pos] == '\0' || st->failed)
        return NULL;
    const char *start = st->text + st->pos;
    const char *nl = strchr(start, '\n');
    size_t len = nl ? (size_t)(nl - start + 1) : strlen(start);
    st->line++;
    if (len >= (size_t)size) {
        fail_at(st, st->line, "line too long (at most 198 characters)");
        return NULL;
    }
    memcpy(buf, start, len);
    buf[len] = '\0';
    st->pos += len;
    see_line(st, buf);
    return buf;
}

/* Sets a [layer] key from the file (line > 0) or from --set (line 0).
 * Whether the layer's type takes it is checked once the type is sure
 * (config_validate), since `type` may come after it. */
static int set_layer_value(layer_cfg *l, const char *key, const char *value, int line)
{
    const config_key *k = NULL;
    int i = !strcmp(key, "type") ? LK_TYPE : find_layer_key(key, &k);
    if (i < 0)
        return unknown_key("layer", key);
    if ((k ? parse_value(k, l, value) : parse_type(l, value)) < 0)
        return -1;
    l->set_mask |= 1ull << i;
    l->key_line[i] = line;
    return 0;
}

static int handle_layer_key(ini_state *st, const char *key, const char *value)
{
    config *cfg = st->cfg;
    if (cfg->n_layers < 1) /* see_line saw no [layer] where libinih did */
        return fail_at(st, st->line, "a key of a [layer] section that was not seen to start");
    layer_cfg *l = &cfg->layers[cfg->n_layers - 1];
    const config_key *k;
    int i = !strcmp(key, "type") ? LK_TYPE : find_layer_key(key, &k);
    if (i >= 0 && (l->set_mask & (1ull << i))) {
        char what[256];
        snprintf(what, sizeof what, "key '%s' given twice in this [layer] (first on line %d)", key,
                 l->key_line[i]);
        return fail_at(st, st->line, what);
    }
    if (set_layer_value(l, key, value, st->line) < 0) {
        char what[ERR_MSG_MAX]; /* a known key's bad value says which key */
        snprintf(what, sizeof what, "%s%s%s%s", i >= 0 ? "[layer] " : "", i >= 0 ? key : "",
                 i >= 0 ? ": " : "", err_msg());
        return fail_at(st, st->line, what);
    }
    return 1;
}

static int ini_handler_fn(void *user, const char *section, const char *key, const char *value)
{
    ini_state *st = user;
    if (st->failed)
        return 0;
    if (!strcmp(section, "layer"))
        return handle_layer_key(st, key, value);
    if (!strcmp(section, "repeat") || !strcmp(section, "end"))
        return handle_group_key(st, key, value);
    if (st->layers_only)
        return 1;
    if (!is_section(section)) {
        char what[128];
        snprintf(what, sizeof what, "key '%s' outside any section", key);
        return fail_at(st, st->line, section[0] ? "unknown section" : what);
    }
    int i = find_key(section, key);
    if (i < 0) {
        unknown_key(section, key);
        char what[ERR_MSG_MAX];
        snprintf(what, sizeof what, "%s", err_msg());
        return fail_at(st, st->line, what);
    }
    if (st->seen[i]) {
        char what[256];
        snprintf(what, sizeof what, "key '%s' given twice in [%s] (first on line %d)", key, section,
                 st->seen_line[i]);
        return fail_at(st, st->line, what);
    }
    if (parse_value(&cfg_keys[i], st->cfg, value) < 0) {
        char what[ERR_MSG_MAX];
        snprintf(what, sizeof what, "[%s] %s: %s", section, key, err_msg());
        return fail_at(st, st->line, what);
    }
    st->seen[i] = 1;
    st->seen_line[i] = st->line;
    return 1;
}

/* Reads a whole (small) text file. */
static char *read_text_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        err_errno("cannot open config %s", path);
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0)
            break;
        if (len + 1 == cap) {
            if (cap >= (1u << 20)) {
                err_set("%s: config file larger than 1 MiB", path);
                free(buf);
                buf = NULL;
                break;
            }
            char *nb = realloc(buf, cap *= 2);
            if (!nb)
                free(buf);
            buf = nb;
        }
    }
    if (!buf && !err_msg()[0])
        err_set("out of memory reading %s", path);
    if (buf && ferror(f)) {
        err_errno("cannot read config %s", path);
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[len] = '\0';
        if (strlen(buf) != len) {
            err_set("%s: not a text file (contains a NUL byte)", path);
            free(buf);
            buf = NULL;
        }
    }
    return buf;
}

/* Parses text as the INI file `path`: cfg owns it when that succeeds, and
 * it is freed when not. */
static int parse_text(config *cfg, char *text, const char *path, bool layers_only)
{
    snprintf(cfg->source, sizeof cfg->source, "%s", path);
    ini_state st = {
        .cfg = cfg, .path = path, .text = text, .group_first = -1, .layers_only = layers_only};
    int rc = ini_parse_stream(ini_reader_fn, &st, ini_handler_fn, &st);
    if (rc == 0 && st.group_first >= 0)
        fail_at(&st, st.group_line, "[repeat] without its [end]");
    if (!st.failed && rc < 0)
        err_set("%s: cannot parse (out of memory)", path);
    else if (!st.failed && rc > 0)
        err_set("%s:%d: expected 'key = value', '[section]' or a comment", path, rc);
    if (st.failed || rc != 0) {
        free(text);
        return -1;
    }
    free(cfg->text);
    cfg->text = text;
    return 0;
}

int config_load(config *cfg, const char *path)
{
    err_clear();
    char *text = read_text_file(path);
    if (!text)
        return -1;
    return parse_text(cfg, text, path, false);
}

/* ---- --set -------------------------------------------------------------- */

static int find_layer_by_name(const config *cfg, const char *name)
{
    for (int i = 0; i < cfg->n_layers; i++)
        if (!strcmp(cfg->layers[i].name, name))
            return i;
    char buf[CFG_NAME_MAX];
    for (int i = 0; i < cfg->n_layers; i++)
        if (!cfg->layers[i].name[0] && !strcmp(config_layer_name(cfg, i, buf, sizeof buf), name))
            return i;
    return -1;
}

static int append_text(config *cfg, const char *line)
{
    size_t old = cfg->text ? strlen(cfg->text) : 0;
    char *nt = realloc(cfg->text, old + strlen(line) + 10);
    if (!nt)
        return err_set("out of memory");
    strcpy(nt + old, old && nt[old - 1] != '\n' ? "\n; --set " : "; --set ");
    strcat(nt, line);
    strcat(nt, "\n");
    cfg->text = nt;
    return 0;
}

int config_set(config *cfg, const char *assignment)
{
    char buf[CFG_STR_MAX + 128];
    if (strlen(assignment) >= sizeof buf)
        return err_set("--set %.40s...: too long", assignment);
    strcpy(buf, assignment);
    char *eq = strchr(buf, '=');
    /* the key follows the last dot before '=': layer names may hold dots */
    char *dot = NULL;
    for (char *p = buf; eq && p < eq; p++)
        if (*p == '.')
            dot = p;
    if (!eq || !dot)
        return err_set("--set %s: expected section.key=value", assignment);
    *eq = '\0';
    *dot = '\0';
    const char *section = buf, *key = dot + 1, *value = eq + 1;
    int rc;
    if (is_section(section) && strcmp(section, "layer") != 0) {
        int i = find_key(section, key);
        rc = i < 0 ? unknown_key(section, key) : parse_value(&cfg_keys[i], cfg, value);
    } else {
        int li = find_layer_by_name(cfg, section);
        if (li < 0)
            return err_set("--set %s: no section or layer named '%s' (sections: run, data, "
                           "train, optimizer, checkpoint, comm; layers by name, e.g. layer0)",
                           assignment, section);
        rc = set_layer_value(&cfg->layers[li], key, value, 0);
    }
    if (rc < 0)
        return err_prefix("--set %s", assignment);
    return append_text(cfg, assignment);
}

/* The overrides config_set recorded in a text ("; --set section.key=value"
 * lines), those of layers alone applied. */
static int apply_layer_sets(config *cfg, const char *text)
{
    static const char mark[] = "; --set ";
    for (const char *p = text; *p; p += strcspn(p, "\n"), p += *p == '\n') {
        if (strncmp(p, mark, sizeof mark - 1) != 0)
            continue;
        char line[CFG_STR_MAX + 128];
        const char *a = p + sizeof mark - 1;
        size_t n = strcspn(a, "\n");
        if (n >= sizeof line)
            return err_set("%s: --set line too long", cfg->source);
        memcpy(line, a, n);
        line[n] = '\0';
        /* the section is what comes before the key's dot, as config_set reads it */
        char *eq = strchr(line, '='), *dot = NULL;
        for (char *q = line; eq && q < eq; q++)
            dot = *q == '.' ? q : dot;
        if (dot) {
            *dot = '\0';
            bool section = is_section(line);
            *dot = '.';
            if (section)
                continue;
        }
        if (config_set(cfg, line) < 0)
            return err_prefix("%s", cfg->source);
    }
    return 0;
}

int config_load_layers(config *cfg, const char *text, const char *source)
{
    err_clear();
    char *own = strdup(text);
    if (!own)
        return err_set("out of memory reading %s", source);
    if (parse_text(cfg, own, source, true) < 0)
        return -1;
    for (int i = 0; i < cfg->n_layers; i++) /* what the model's reader needs of each */
        if (cfg->layers[i].type < 0)
            return err_set("%s:%d: [layer] without a type", source, cfg->layers[i].line);
    /* config_set appends to cfg->text, which own now is: walk a copy */
    char *sets = strdup(own);
    if (!sets)
        return err_set("out of memory reading %s", source);
    int rc = apply_layer_sets(cfg, sets);
    free(sets);
    return rc;
}

/* ---- validation --------------------------------------------------------- */

static bool valid_name(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-' || *s == '.'))
            return false;
    return true;
}

typedef struct {
    const config *cfg;
    const layer_cfg *l;
} layer_check;

/* A key given to a type that does not take it, or one the type needs and
 * was not given. */
static int check_layer_key(const config_key *k, int index, void *arg)
{
    const layer_check *c = arg;
    const layer_cfg *l = c->l;
    const char *src = c->cfg->source, *tname = layer_types[l->type]->name;
    bool given = l->set_mask & (1ull << index);
    const config_key *own = type_key(l->type, k->key);
    int line = given && l->key_line[index] ? l->key_line[index] : l->line;
    if (given && !own)
        return err_set("%s:%d: [layer] key '%s' does not apply to a %s layer", src, line, k->key,
                       tname);
    if (!given && own && own->required)
        return err_set("%s:%d: [layer] a %s layer needs '%s'", src, l->line, tname, k->key);
    return 0;
}

static int validate_layer(const config *cfg, int li)
{
    const layer_cfg *l = &cfg->layers[li];
    const char *src = cfg->source;
    if (l->type < 0) {
        char names[512];
        type_names(names, sizeof names, ", ");
        return err_set("%s:%d: [layer] needs a type (one of %s)", src, l->line, names);
    }
    layer_check check = {cfg, l};
    if (each_layer_key(check_layer_key, &check))
        return -1;
    if ((l->set_mask & (1ull << LK_NAME)) && !valid_name(l->name))
        return err_set("%s:%d: [layer] name '%s': expected letters, digits, '-', '_' or '.'", src,
                       l->line, l->name);
    for (int j = 0; j < li; j++) {
        char a[CFG_NAME_MAX], b[CFG_NAME_MAX];
        if (!strcmp(config_layer_name(cfg, j, a, sizeof a),
                    config_layer_name(cfg, li, b, sizeof b)))
            return err_set("%s:%d: [layer] name '%s' is already used by the layer on line %d", src,
                           l->line, b, cfg->layers[j].line);
    }
    return 0;
}

int config_validate(const config *cfg)
{
    if (cfg->n_layers == 0)
        return err_set("%s: no [layer] sections: the model needs at least one layer", cfg->source);
    for (int i = 0; i < cfg->n_layers; i++)
        if (validate_layer(cfg, i) < 0)
            return -1;
    const layer_cfg *last = &cfg->layers[cfg->n_layers - 1];
    if (last->type != LAYER_DENSE)
        return err_set("%s:%d: the last layer must be dense: its outputs are the class logits",
                       cfg->source, last->line);
    if (!valid_name(cfg->run_name))
        return err_set("%s: [run] name '%s': expected letters, digits, '-', '_' or '.'",
                       cfg->source, cfg->run_name);
    if (cfg->min_lr > cfg->lr)
        return err_set("%s: [optimizer] min_lr (%g) is above lr (%g)", cfg->source, cfg->min_lr,
                       cfg->lr);
    return 0;
}

/* data/'s readers take the config's strings whole. */
_Static_assert(CFG_STR_MAX <= DATASET_SPEC_MAX, "data.* strings longer than the readers take");

dataset_options config_dataset_options(const config *cfg)
{
    const layer_cfg *first = &cfg->layers[0];
    bool embedding = cfg->n_layers >= 1 && first->type == LAYER_EMBEDDING;
    return (dataset_options){
        .format = (data_format_kind)cfg->data_format,
        .train = cfg->data_train,
        .test = cfg->data_test,
        .shape = cfg->data_shape,
        .images_key = cfg->images_key,
        .labels_key = cfg->labels_key,
        .layout = (data_layout_kind)cfg->data_layout,
        .val_fraction = cfg->val_fraction,
        .exclude = cfg->data_exclude,
        .eval_tokens = cfg->eval_tokens,
        .tokenizer = cfg->data_tokenizer,
        .window = embedding ? first->block_size : 0,
        .vocab = embedding ? first->vocab : 0,
        .image_transforms =
            cfg->data_mean[0] || cfg->data_std[0] || cfg->augment_crop || cfg->augment_flip,
    };
}

transform_options config_transform_options(const config *cfg)
{
    return (transform_options){.mean = cfg->data_mean,
                               .std = cfg->data_std,
                               .crop = cfg->augment_crop,
                               .flip = cfg->augment_flip,
                               .seed = cfg->seed};
}

void layer_type_name(int type, char *buf, size_t size)
{
    snprintf(buf, size, "%s", type >= 0 && type < LAYER_N_TYPES ? layer_types[type]->name : "");
}

const char *config_layer_name(const config *cfg, int i, char *buf, size_t size)
{
    if (cfg->layers[i].name[0])
        snprintf(buf, size, "%s", cfg->layers[i].name);
    else
        snprintf(buf, size, "layer%d", i);
    return buf;
}

/* ---- help ---------------------------------------------------------------- */

static void print_key(FILE *out, const config_key *k, bool required)
{
    char def[96];
    if (k->type == KT_ENUM)
        snprintf(def, sizeof def, "%s%s%s", k->choices, k->def ? ", default " : "",
                 k->def ? k->def : "");
    else
        snprintf(def, sizeof def, "%s", required ? "required" : k->def[0] ? k->def : "\"\"");
    fprintf(out, "  %-16s %s\n  %-16s   (%s)\n", k->key, k->help, "", def);
}

/* The `type` key, as --help and docs/config.md describe it: its choices
 * (written into buf) are the layer types'. */
static config_key type_key_desc(char *buf, size_t size)
{
    type_names(buf, size, "|");
    return (config_key){"layer", "type", KT_ENUM, 0, 0, NULL, 0, 0, 0, buf, "the layer's kind",
                        true};
}

void config_print_help(FILE *out)
{
    const char *last = "";
    for (size_t i = 0; i < N_KEYS; i++) {
        if (strcmp(last, cfg_keys[i].section) != 0)
            fprintf(out, "\n[%s]\n", last = cfg_keys[i].section);
        print_key(out, &cfg_keys[i], false);
    }
    fprintf(out, "\n[layer]  (repeated, in order; the last one must be dense)\n");
    char choices[512];
    config_key type = type_key_desc(choices, sizeof choices);
    print_key(out, &type, true);
    print_key(out, &name_key, false);
    for (int t = 0; t < LAYER_N_TYPES; t++) {
        fprintf(out, "\n  type = %s: %s\n", layer_types[t]->name, layer_types[t]->summary);
        for (const config_key *k = layer_types[t]->keys; k->key; k++)
            print_key(out, k, k->required);
    }
    fprintf(out, "\n[repeat] ... [end]  (the [layer] sections between, taken count times)\n");
    for (size_t i = 0; i < sizeof repeat_keys / sizeof repeat_keys[0]; i++)
        print_key(out, &repeat_keys[i], false);
}

/* Markdown table cells cannot hold a bare '|'. */
static void md_cell(FILE *out, const char *text)
{
    for (const char *p = text; *p; p++) {
        if (*p == '|')
            fputs(" \\| ", out);
        else
            fputc(*p, out);
    }
}

static void md_key(FILE *out, const config_key *k, bool required)
{
    fprintf(out, "| `%s` | ", k->key);
    if (required)
        fputs("required", out);
    else if (k->def && k->def[0])
        fprintf(out, "`%s`", k->def);
    else
        fputs("(empty)", out);
    fputs(" | ", out);
    md_cell(out, k->help);
    if (k->type == KT_ENUM) {
        fputs(" (one of ", out);
        md_cell(out, k->choices);
        fputs(")", out);
    }
    fputs(" |\n", out);
}

void config_print_markdown(FILE *out)
{
    fputs("# Configuration reference\n\n"
          "Every section and key of an accel-train config file, with its default. Generated by\n"
          "`accel-train --help-config` from the table the parser reads (trainer/config.c);\n"
          "a test checks that this file is current.\n",
          out);
    const char *last = "";
    for (size_t i = 0; i < N_KEYS; i++) {
        if (strcmp(last, cfg_keys[i].section) != 0) {
            last = cfg_keys[i].section;
            fprintf(out, "\n## [%s]\n\n| key | default | meaning |\n|---|---|---|\n", last);
        }
        md_key(out, &cfg_keys[i], false);
    }
    fputs("\n## [layer]\n\nRepeated, in order; the last one must be dense. Every layer has a "
          "type and a name; its other keys are its type's.\n\n| key | default | meaning "
          "|\n|---|---|---|\n",
          out);
    char choices[512];
    config_key type = type_key_desc(choices, sizeof choices);
    md_key(out, &type, true);
    md_key(out, &name_key, false);
    for (int t = 0; t < LAYER_N_TYPES; t++) {
        const layer_ops *o = layer_types[t];
        fprintf(out, "\n### %s\n\n%c%s.\n", o->name, toupper((unsigned char)o->summary[0]),
                o->summary + 1);
        if (!o->keys->key)
            continue;
        fputs("\n| key | default | meaning |\n|---|---|---|\n", out);
        for (const config_key *k = o->keys; k->key; k++)
            md_key(out, k, k->required);
    }
    fputs("\n## [repeat] ... [end]\n\nThe [layer] sections between `[repeat]` and `[end]` are "
          "taken `count` times, each copy's layers named `<name>.<i>.<layer's name>` (or "
          "`layer<j>`, its place in the group), as `h.0.attn`; `--set h.0.attn.heads=8` reaches "
          "one copy.\n\n| key | default | meaning |\n|---|---|---|\n",
          out);
    for (size_t i = 0; i < sizeof repeat_keys / sizeof repeat_keys[0]; i++)
        md_key(out, &repeat_keys[i], false);
}

/* The value of a key as the config file would write it. */
void config_key_text(const config_key *k, const void *base, char *buf, size_t size)
{
    const char *field = (const char *)base + k->offset;
    switch (k->type) {
    case KT_INT:
        snprintf(buf, size, "%d", *(const int *)field);
        break;
    case KT_LONG:
        snprintf(buf, size, "%ld", *(const long *)field);
        break;
    case KT_U64:
        snprintf(buf, size, "%llu", (unsigned long long)*(const uint64_t *)field);
        break;
    case KT_REAL: /* 10 digits where they tell the value, up to 17 where they do not */
        for (int digits = 10; digits <= 17; digits++) {
            snprintf(buf, size, "%.*g", digits, *(const double *)field);
            if (strtod(buf, NULL) == *(const double *)field)
                break;
        }
        break;
    case KT_BOOL:
        snprintf(buf, size, "%s", *(const bool *)field ? "true" : "false");
        break;
    case KT_STR:
        snprintf(buf, size, "%s", field);
        break;
    case KT_ENUM: {
        const char *p = k->choices;
        for (int i = 0; i < *(const int *)field && p; i++) {
            p = strchr(p, '|');
            p = p ? p + 1 : NULL;
        }
        snprintf(buf, size, "%.*s", p ? (int)strcspn(p, "|") : 0, p ? p : "");
        break;
    }
    }
}

void config_write(const config *cfg, FILE *out)
{
    const char *last = "";
    char value[CFG_STR_MAX + 16];
    for (size_t i = 0; i < N_KEYS; i++) {
        if (strcmp(last, cfg_keys[i].section) != 0) {
            fprintf(out, "%s[%s]\n", last[0] ? "\n" : "", cfg_keys[i].section);
            last = cfg_keys[i].section;
        }
        config_key_text(&cfg_keys[i], cfg, value, sizeof value);
        fprintf(out, "%s = %s\n", cfg_keys[i].key, value);
    }
    for (int l = 0; l < cfg->n_layers; l++) {
        const layer_cfg *lc = &cfg->layers[l];
        fprintf(out, "\n[layer]\ntype = %s\nname = %s\n", layer_types[lc->type]->name,
                config_layer_name(cfg, l, value, sizeof value));
        for (const config_key *k = layer_types[lc->type]->keys; k->key; k++) {
            config_key_text(k, lc, value, sizeof value);
            fprintf(out, "%s = %s\n", k->key, value);
        }
    }
}

void config_free(config *cfg)
{
    free(cfg->text);
    cfg->text = NULL;
}
