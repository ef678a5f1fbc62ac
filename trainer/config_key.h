/* config_key: how one configuration key is described: where its value goes,
 * its type, default, bounds and help. config.c holds the table of the
 * sections' keys; each layer type (layer_*.c) holds the table of the keys
 * it takes, so that the parser, --set, the defaults and --help read one
 * description of every key. */
#ifndef ACCEL_CONFIG_KEY_H
#define ACCEL_CONFIG_KEY_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum { KT_INT, KT_LONG, KT_U64, KT_REAL, KT_BOOL, KT_STR, KT_ENUM } config_key_type;

/* Bounds: a value must satisfy lo <= v (or lo < v with CK_LO_OPEN) and
 * likewise for hi; hi = CK_NOLIMIT leaves the top unchecked. */
#define CK_NOLIMIT HUGE_VAL
enum { CK_LO_OPEN = 1, CK_HI_OPEN = 2 };

/* What a layer key is to a trained model, which a checkpoint is read into
 * only when its model's keys are the config's (checkpoint_model.c). A key
 * without either flag defines what the layer computes (units, heads,
 * activation, eps, ...): the checkpoint's weights are those of that
 * function. CK_TRAINS: the key shapes training alone (dropout rates, batch
 * norm's momentum): evaluation does not look at it, and a resume may
 * change it when told to (--allow-change). CK_STARTS: it says where
 * training starts (init), where a checkpoint's weights stand instead. */
enum { CK_TRAINS = 4, CK_STARTS = 8 };

typedef struct {
    const char *section;
    const char *key;
    config_key_type type;
    size_t offset; /* into config, or into layer_cfg for layer keys */
    size_t size;   /* for KT_STR: the buffer size */
    const char *def;
    double lo, hi;
    int flags;           /* CK_LO_OPEN, CK_HI_OPEN; a layer key's CK_TRAINS or CK_STARTS */
    const char *choices; /* for KT_ENUM: "a|b|c", the value is the index */
    const char *help;
    bool required; /* layer keys: no default; the layer needs it */
} config_key;

/* The value of key k in base (a config, or a layer_cfg for a layer key)
 * as a config file writes it, in digits enough to read back the same. */
void config_key_text(const config_key *k, const void *base, char *buf, size_t size);

#endif
