#include "data/transform.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/rng.h"

/* Random numbers per sample, at index sample * 4 + k of the augment stream. */
enum { AUG_DY = 0, AUG_DX = 1, AUG_FLIP = 2, AUG_PER_SAMPLE = 4 };

/* Parses `want` comma-separated numbers from text into out. */
static int parse_floats(const char *text, const char *key, int want, float *out)
{
    const char *p = text;
    int found = 0;
    for (;;) {
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        while (end != p && (*end == ' ' || *end == '\t'))
            end++;
        if (end == p || errno || !isfinite(v) || (*end != ',' && *end != '\0'))
            return err_set("%s = %s: expected %d comma-separated numbers, one per channel", key,
                           text, want);
        if (found < want)
            out[found] = (float)v;
        found++;
        if (*end == '\0')
            break;
        p = end + 1;
    }
    if (found != want)
        return err_set("%s = %s: expected %d comma-separated numbers, one per channel, found %d",
                       key, text, want, found);
    return 0;
}

static int init_normalization(transform *t, const transform_options *o)
{
    bool has_mean = o->mean[0] != '\0', has_std = o->std[0] != '\0';
    if (!has_mean && !has_std)
        return 0;
    if (has_mean != has_std)
        return err_set("%s is set but %s is not: give both or neither",
                       has_mean ? "data.mean" : "data.std", has_mean ? "data.std" : "data.mean");
    t->mean = malloc(sizeof *t->mean * (size_t)t->channels);
    t->std = malloc(sizeof *t->std * (size_t)t->channels);
    if (!t->mean || !t->std)
        return err_set("out of memory for data.mean and data.std");
    if (parse_floats(o->mean, "data.mean", t->channels, t->mean) < 0 ||
        parse_floats(o->std, "data.std", t->channels, t->std) < 0)
        return -1;
    for (int c = 0; c < t->channels; c++)
        if (!(t->std[c] > 0.0f))
            return err_set("data.std = %s: value %d is %g, expected a number > 0", o->std, c + 1,
                           (double)t->std[c]);
    return 0;
}

int transform_init(transform *t, const transform_options *o, int channels, int height, int width)
{
    memset(t, 0, sizeof *t);
    t->channels = channels;
    t->height = height;
    t->width = width;
    t->pad = o->crop;
    t->flip = o->flip;
    t->seed = o->seed;
    if (init_normalization(t, o) < 0) {
        transform_free(t);
        return -1;
    }
    if ((t->pad || t->flip) &&
        !(t->scratch = malloc(sizeof *t->scratch * (size_t)channels * height * width))) {
        transform_free(t);
        return err_set("out of memory for the augmentation");
    }
    return 0;
}

/* Crops the zero-padded sample back to size at offset (dy, dx) in
 * [0, 2 * pad], then mirrors it left to right when flip, in one pass. */
static void crop_flip(const transform *t, float *x, int dy, int dx, bool flip)
{
    const int h = t->height, w = t->width, pad = t->pad;
    float *out = t->scratch;
    for (int c = 0; c < t->channels; c++) {
        const float *in = x + (size_t)c * h * w;
        for (int y = 0; y < h; y++) {
            int sy = y + dy - pad;
            for (int i = 0; i < w; i++) {
                int sx = (flip ? w - 1 - i : i) + dx - pad;
                bool inside = sy >= 0 && sy < h && sx >= 0 && sx < w;
                *out++ = inside ? in[(size_t)sy * w + sx] : 0.0f;
            }
        }
    }
    memcpy(x, t->scratch, sizeof *x * (size_t)t->channels * h * w);
}

static void augment(const transform *t, float *x, int64_t sample, int64_t epoch)
{
    uint64_t at = (uint64_t)sample * AUG_PER_SAMPLE;
    uint32_t step = (uint32_t)epoch;
    uint32_t span = 2u * (uint32_t)t->pad + 1u;
    int dy = t->pad, dx = t->pad; /* the uncropped position */
    if (t->pad) {
        dy = (int)(rng_u32(t->seed, RNG_STREAM_AUGMENT, step, at + AUG_DY) % span);
        dx = (int)(rng_u32(t->seed, RNG_STREAM_AUGMENT, step, at + AUG_DX) % span);
    }
    bool flip = t->flip && (rng_u32(t->seed, RNG_STREAM_AUGMENT, step, at + AUG_FLIP) >> 31);
    if (dy != t->pad || dx != t->pad || flip)
        crop_flip(t, x, dy, dx, flip);
}

static void normalize(const transform *t, float *x)
{
    const size_t hw = (size_t)t->height * t->width;
    for (int c = 0; c < t->channels; c++) {
        float m = t->mean[c], s = t->std[c];
        float *p = x + (size_t)c * hw;
        for (size_t i = 0; i < hw; i++)
            p[i] = (p[i] - m) / s;
    }
}

void transform_apply(const transform *t, float *x, int count, const int64_t *sample_idx,
                     int64_t epoch, bool train)
{
    const size_t f = (size_t)t->channels * t->height * t->width;
    bool aug = train && (t->pad || t->flip);
    for (int i = 0; i < count; i++) {
        float *s = x + (size_t)i * f;
        if (aug)
            augment(t, s, sample_idx[i], epoch);
        if (t->mean)
            normalize(t, s);
    }
}

void transform_free(transform *t)
{
    free(t->mean);
    free(t->std);
    free(t->scratch);
    memset(t, 0, sizeof *t);
}
