/* dataset: a labelled split of images, or a split of text windows for a
 * language model, whatever its file format, and the gather of a batch.
 *
 * A dataset is opened by format (data.format): IDX and CIFAR-10 splits are
 * held in memory as bytes (a quarter of the memory of floats); an HDF5 split
 * keeps only its labels in memory and reads the images of each batch from the
 * file, so it need not fit in memory. Every format gathers the same thing:
 * samples as NCHW floats, bytes scaled to [0, 1], floats as stored. */
#ifndef ACCEL_DATASET_H
#define ACCEL_DATASET_H

/* Limits every reader enforces on what a file declares, before it
 * allocates for it: samples (the IDX format's own limit), and classes (as
 * many as a dense layer may have outputs). */
#define DATASET_MAX_SAMPLES ((int64_t)1 << 28)
#define DATASET_MAX_CLASSES ((int64_t)1 << 24)

/* The longest path, or list of paths, the readers take (a split's spec,
 * data.exclude), the terminating zero included; the config's strings fit
 * (config.c checks it). */
#define DATASET_SPEC_MAX 512

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* data.format, and data.layout: how an HDF5 file stores its images. */
typedef enum { DATA_IDX = 0, DATA_CIFAR10, DATA_HDF5, DATA_TEXT, DATA_TOKENS } data_format_kind;
typedef enum { LAYOUT_AUTO = 0, LAYOUT_NCHW, LAYOUT_NHWC } data_layout_kind;

/* What opening splits takes of the configuration (the data.* keys; the
 * trainer makes it from its config, config_dataset_options). The strings
 * are borrowed for the call: "" where unset, never NULL. */
typedef struct {
    data_format_kind format;             /* data.format */
    const char *train, *test;            /* data.train, data.test */
    const char *shape;                   /* data.shape: "C,H,W" the samples must have */
    const char *images_key, *labels_key; /* hdf5: the datasets' names */
    data_layout_kind layout;             /* hdf5: data.layout */
    /* text and tokens */
    double val_fraction;   /* data.val_fraction: the end of data.train that validates */
    const char *exclude;   /* data.exclude: patterns of file names left out */
    long eval_tokens;      /* data.eval_tokens: the validation split's first tokens (0: all) */
    int window;            /* tokens a sample: the first layer's block_size, 0 when it is
                            * not an embedding */
    int vocab;             /* tokens: the embedding's vocab, which every token must be below */
    const char *tokenizer; /* text, tokens: data.tokenizer, a tokenizer.json ("": none) */
    /* its bytes, where the caller has read them already (the trainer, whose
     * checkpoints carry them): loaded from here, not the file; or NULL */
    const char *tokenizer_json;
    size_t tokenizer_len;
    bool image_transforms; /* data.mean, data.std or data.augment_* set (not for text) */
} dataset_options;

typedef struct dataset dataset;

struct dataset {
    int64_t n;                   /* samples */
    int channels, height, width; /* the shape of one sample: (T, 1, 1) for tokens */
    int features;                /* channels * height * width */
    int classes;                 /* the largest label + 1; the vocabulary of tokens */
    bool tokens;                 /* samples are T token ids, each with the next as target */
    int targets;                 /* labels a sample: 1, or T for tokens */
    uint64_t bytes;              /* what the open split holds in memory */
    /* a validation split of text tokenized by data.tokenizer: the mean bytes
     * of text a target of its windows stands for (bits per byte are bits
     * per token over it); 0 where it is not known (tokens are bytes) */
    double bytes_per_token;

    /* Copies samples idx[0..count) (any order, repeats allowed) into x
     * (count x features floats, each sample NCHW; or as many int32 token
     * ids where tokens) and y (count x targets labels). Returns -1 with
     * err_set() on a read error or an index out of range. */
    int (*gather)(dataset *ds, const int64_t *idx, int count, float *x, int32_t *y);
    void (*close)(dataset *ds); /* releases impl */
    void *impl;
};

/* Opens the split `spec` in the format o->format:
 *   idx      an IDX prefix P (P-images-idx3-ubyte[.gz], P-labels-idx1-ubyte[.gz])
 *            or "IMAGES,LABELS"
 *   cifar10  "FILE[,FILE...]" of CIFAR-10 binary batches, or a directory: its
 *            data_batch_*.bin for data.train, its test_batch.bin otherwise
 *   hdf5     a file with o->images_key and o->labels_key
 * and checks the samples' shape against o->shape when that is set.
 * `key` names the config key in messages ("data.train"). */
int dataset_open(dataset **out, const dataset_options *o, const char *spec, const char *key);

/* The splits a config trains and evaluates on: data.train and data.test
 * (*test NULL when data.test is empty); for format = text, the two parts of
 * data.train's stream (val_fraction; data.eval_tokens keeps the
 * validation's first windows), windows of o->window tokens; for format =
 * tokens, data.train's shards and data.test's, or when data.test is empty
 * the two parts of data.train's tokens, as text's. */
int dataset_open_splits(dataset **train, dataset **test, const dataset_options *o);

/* What the config alone says of data.train's samples, for --dry-run where
 * the data cannot be read: text and tokens, windows of o->window tokens
 * (the embedding's block_size); images, data.shape, or the format's usual
 * shape where it is empty (idx: 1,28,28 as (Fashion-)MNIST's; cifar10:
 * 3,32,32; *assumed is then true); hdf5 keeps its shape in the file, so
 * it needs data.shape. Fills *ds with the shape and no samples (nothing to
 * gather or close) and *has_test with whether a test or validation split
 * is configured. The config's own faults are told as dataset_open_splits
 * tells them. */
int dataset_describe(dataset *ds, bool *has_test, bool *assumed, const dataset_options *o);

/* Closes ds (NULL is fine). */
void dataset_close(dataset *ds);

/* Gathers as ds->gather does. */
static inline int dataset_gather(dataset *ds, const int64_t *idx, int count, float *x, int32_t *y)
{
    return ds->gather(ds, idx, count, x, y);
}

#endif
