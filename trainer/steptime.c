#include "trainer/steptime.h"

#include "trainer/progress.h"

int steptime_start(steptime *t)
{
    t->mark = progress_now();
    t->n_events = 0;
    if (t->be && t->be->mark_event) {
        if (t->be->mark_event(t->be, 0) < 0)
            return -1;
        t->n_events = 1;
    }
    return 0;
}

int steptime_lap(steptime *t, int phase)
{
    double now = progress_now();
    t->window[phase] += now - t->mark;
    t->total[phase] += now - t->mark;
    t->mark = now;
    if (t->n_events > 0 && t->n_events < BACKEND_EVENTS) {
        if (t->be->mark_event(t->be, t->n_events) < 0)
            return -1;
        t->event_phase[t->n_events++] = phase;
    }
    return 0;
}

int steptime_device_ms(steptime *t, double ms[N_PHASES], int *have)
{
    for (int p = 0; p < N_PHASES; p++)
        ms[p] = 0.0;
    *have = t->n_events > 1;
    for (int k = 1; k < t->n_events; k++) {
        double d;
        if (t->be->event_ms(t->be, k - 1, k, &d) < 0)
            return -1;
        ms[t->event_phase[k]] += d;
    }
    return 0;
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
