#include "trainer/steptime.h"

#include "trainer/progress.h"

void steptime_start(steptime *t)
{
    t->mark = progress_now();
}

void steptime_lap(steptime *t, int phase)
{
    double now = progress_now();
    t->window[phase] += now - t->mark;
    t->total[phase] += now - t->mark;
    t->mark = now;
}

void steptime_window_ms(steptime *t, long steps, double ms[N_PHASES])
{
    for (int p = 0; p < N_PHASES; p++) {
        ms[p] = steps > 0 ? 1e3 * t->window[p] / (double)steps : 0.0;
        t->window[p] = 0.0;
    }
}

const char *steptime_name(int phase)
{
    static const char *const names[N_PHASES] = {"data", "forward", "backward", "allreduce",
                                                "optimizer"};
    return names[phase];
}
