/* summary: what --dry-run prints. The model layer by layer (type, output
 * shape, parameters, forward FLOPs per sample) with totals, the memory one
 * rank needs, and the configuration in force, without training. */
#ifndef ACCEL_SUMMARY_H
#define ACCEL_SUMMARY_H

#include <stdio.h>

#include "comm/comm.h"
#include "trainer/config.h"

int summary_print(const config *cfg, const comm_info *ci, FILE *out);

#endif
