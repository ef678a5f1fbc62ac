/* report: evaluation of a saved checkpoint (--eval PATH). An image
 * classifier's: the test split's loss and accuracy, the accuracy of each
 * class and the confusion matrix, and, with --predict OUT.h5, every test
 * sample's logits and predicted label in an HDF5 file (/logits (N, classes),
 * /predicted and /labels (N)). A language model's (data.format = text,
 * report_text.c): the validation split's loss, bits per byte and next-token
 * accuracy, also by position in the window, and with --predict the
 * evaluated windows' /logits (windows, T, vocab), /inputs and /targets
 * (windows, T). Neither checks the memory a training run would need. */
#ifndef ACCEL_REPORT_H
#define ACCEL_REPORT_H

#include <hdf5.h>
#include <stdio.h>

#include "trainer/config.h"

int report_checkpoint(const config *cfg, const char *ckpt, const char *predict, FILE *out);

/* The language model's report, which report_checkpoint hands text to. */
int report_text_checkpoint(const config *cfg, const char *ckpt, const char *predict, FILE *out);

/* --predict's file is written under a temporary name, renamed once whole.
 * Before any work, report_checkpoint checks that neither name is a file
 * the command reads nor anything but a regular file (trainer/outputs.h).
 * report_tmp_name: tmp = path.tmp, or -1 where that would not fit (cut, it
 * would name another file). report_create: the HDF5 file tmp, new (a stale
 * one removed first), or -1 with the error set. report_commit: with rc 0,
 * tmp renamed to path; otherwise, or where the rename fails, tmp removed.
 * Returns the outcome. */
int report_tmp_name(const char *path, char *tmp, size_t size);
hid_t report_create(const char *tmp, const char *path);
int report_commit(const char *tmp, const char *path, int rc);

#endif
