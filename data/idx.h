/* idx: the IDX file format of MNIST and Fashion-MNIST (LeCun et al.), read
 * gzipped or raw (zlib reads both transparently).
 *
 * Only the two shapes those datasets use are accepted: unsigned-byte images
 * (magic 0x00000803, N x rows x cols) and unsigned-byte labels (0x00000801,
 * N). Anything else, a short file or trailing bytes, is an error, as is
 * a path that is not a regular file (a FIFO, a device: never opened). */
#ifndef ACCEL_IDX_H
#define ACCEL_IDX_H

#include <stdint.h>

typedef struct {
    int64_t n;
    int rows, cols;
    uint8_t *pixels; /* n * rows * cols */
} idx_images;

typedef struct {
    int64_t n;
    uint8_t *labels;
} idx_labels;

int idx_read_images(const char *path, idx_images *out);
int idx_read_labels(const char *path, idx_labels *out);
void idx_images_free(idx_images *im);
void idx_labels_free(idx_labels *lb);

#endif
