/* report: evaluation of a saved checkpoint (--eval PATH): the test split's
 * loss and accuracy, the accuracy of each class and the confusion matrix,
 * and, with --predict OUT.h5, every test sample's logits and predicted
 * label in an HDF5 file (/logits (N, classes), /predicted and /labels (N)). */
#ifndef ACCEL_REPORT_H
#define ACCEL_REPORT_H

#include <stdio.h>

#include "trainer/config.h"

int report_checkpoint(const config *cfg, const char *ckpt, const char *predict, FILE *out);

#endif
