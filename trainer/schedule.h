/* schedule: the learning rate of each step.
 *
 * Step s (counting from 0) of a run of `total` steps:
 *   warmup (s < warmup_steps): lr * (s + 1) / warmup_steps
 *   constant:                  lr
 *   cosine:                    min_lr + (lr - min_lr) * (1 + cos(pi * p)) / 2,
 *                              p = (s - warmup_steps) / (total - warmup_steps)
 * The rate depends only on the step, so a resumed run continues the curve. */
#ifndef ACCEL_SCHEDULE_H
#define ACCEL_SCHEDULE_H

#include "trainer/config.h"

double schedule_lr(const config *cfg, long step, long total);

#endif
