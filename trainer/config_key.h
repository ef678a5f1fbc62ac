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

typedef struct {
    const char *section;
    const char *key;
    config_key_type type;
    size_t offset; /* into config, or into layer_cfg for layer keys */
    size_t size;   /* for KT_STR: the buffer size */
    const char *def;
    double lo, hi;
    int open;
    const char *choices; /* for KT_ENUM: "a|b|c", the value is the index */
    const char *help;
    bool required; /* layer keys: no default; the layer needs it */
} config_key;

#endif
