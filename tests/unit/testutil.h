/* testutil: helpers shared by the unit tests. */
#ifndef ACCEL_TESTUTIL_H
#define ACCEL_TESTUTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "trainer/config.h"

/* Runs a suite (no fork, so sanitizers see one process); returns the exit
 * status: 0 all passed, 1 a failure. */
int tu_run(Suite *s);

/* The configs shipped in configs/. */
enum { TU_SHIPPED_CONFIGS = 3 };

/* Loads shipped config i (0 <= i < TU_SHIPPED_CONFIGS) into cfg (to be
 * config_free'd) and the shape of a sample of its data into shape; returns
 * its name ("fashion_cnn"). */
const char *tu_shipped_config(int i, config *cfg, int shape[3]);

/* Deterministic pseudo-random floats in [lo, hi) for test inputs. */
void tu_fill_uniform(float *x, size_t n, float lo, float hi, uint64_t seed);

/* A fresh empty directory under /tmp; path receives it. */
void tu_tmpdir(char *path, size_t size);

/* Removes a directory made by tu_tmpdir, with what is in it. */
void tu_rmtree(const char *dir);

/* dir/name, in a static buffer (valid until the next call). */
const char *tu_path(const char *dir, const char *name);

/* Writes text to path. */
void tu_write_file(const char *path, const char *text);

/* Writes bytes to path, optionally gzipped. */
void tu_write_bytes(const char *path, const void *data, size_t len, int gzip);

/* max |a - b| / (|b| + atol) style comparison: returns the worst
 * |a[i] - b[i]| - rtol * |b[i]|. Passing means <= atol. */
double tu_max_err(const float *a, const float *b, size_t n, double rtol);

/* The unfused attention's causal softmax, the fused attention's reference
 * (the backends keep no T x T pass): in place over n matrices of t x t
 * scores, row i becomes the softmax of scale * its columns 0..i, the later
 * columns 0. In double, then rounded. */
void tu_causal_softmax(float *att, int n, int t, float scale);

/* Its backward: datt (d loss / d probabilities) becomes d loss / d scores,
 * given the probabilities att. */
void tu_causal_softmax_backward(float *datt, const float *att, int n, int t, float scale);

#endif
