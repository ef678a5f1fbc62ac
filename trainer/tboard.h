/* tboard: TensorBoard event files, written without TensorFlow.
 *
 * A file of TFRecords (length, masked CRC-32C of the length, the bytes, their
 * masked CRC-32C), each an Event protocol buffer encoded here by hand: the
 * first carries file_version "brain.Event:2", each later one a Summary with
 * one scalar (tag, simple_value) at a step. Named events.out.tfevents.<time>.
 * <host> in the run directory, where `tensorboard --logdir` finds it; always
 * a new file (.1, .2, ... added where the name is taken), never one that
 * was there. */
#ifndef ACCEL_TBOARD_H
#define ACCEL_TBOARD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
    FILE *f;
    char path[4096];
} tboard;

int tboard_open(tboard *tb, const char *dir);

/* Appends one scalar; flush makes everything so far visible to readers. */
int tboard_scalar(tboard *tb, const char *tag, int64_t step, float value);
int tboard_flush(tboard *tb);
int tboard_close(tboard *tb);

#endif
