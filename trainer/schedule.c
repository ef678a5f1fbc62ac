#include "trainer/schedule.h"

#include <math.h>

double schedule_lr(const config *cfg, long step, long total)
{
    long warm = cfg->warmup_steps;
    if (step < warm)
        return cfg->lr * (double)(step + 1) / (double)warm;
    if (cfg->schedule == SCHED_CONSTANT || total <= warm)
        return cfg->lr;
    double p = (double)(step - warm) / (double)(total - warm);
    if (p > 1.0)
        p = 1.0;
    return cfg->min_lr + (cfg->lr - cfg->min_lr) * 0.5 * (1.0 + cos(M_PI * p));
}
