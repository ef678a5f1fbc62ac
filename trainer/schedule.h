/* schedule: the learning rate of each step.
 *
 * Step s (counting from 0), where `total` is train.epochs times the steps of
 * an epoch (train.max_steps stops a run early but does not bend the curve,
 * so a run stopped and resumed follows the curve of one that was not):
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
