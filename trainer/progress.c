#include "trainer/progress.h"

#include <stdarg.h>
#include <time.h>
#include <unistd.h>

double progress_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void progress_init(progress *p, FILE *out, bool live_ok, long first_step, long total_steps,
                   long epochs)
{
    *p = (progress){.out = out,
                    .live = live_ok && isatty(fileno(out)),
                    .start = progress_now(),
                    .first_step = first_step,
                    .total_steps = total_steps,
                    .epochs = epochs};
}

static void format_eta(double s, char *buf, size_t size)
{
    long t = s > 0 && s < 1e8 ? (long)(s + 0.5) : 0;
    snprintf(buf, size, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
}

static void draw_live(progress *p, long step, long epoch, double loss, double samples_per_s)
{
    enum { WIDTH = 24 };
    double frac = p->total_steps ? (double)step / (double)p->total_steps : 1.0;
    char bar[WIDTH + 1];
    for (int i = 0; i < WIDTH; i++)
        bar[i] = i < (int)(frac * WIDTH) ? '#' : '-';
    bar[WIDTH] = '\0';
    double elapsed = progress_now() - p->start;
    long done = step - p->first_step;
    char eta[32];
    format_eta(done > 0 ? elapsed / (double)done * (double)(p->total_steps - step) : 0, eta,
               sizeof eta);
    fprintf(p->out, "\r[%s] step %ld/%ld  epoch %ld/%ld  loss %.4f  %.0f samples/s  ETA %s\033[K",
            bar, step, p->total_steps, epoch + 1, p->epochs, loss, samples_per_s, eta);
    fflush(p->out);
    p->drawn = true;
}

void progress_step(progress *p, long step, long epoch, double loss, double lr, double samples_per_s,
                   bool logged)
{
    if (!p->live) {
        if (logged) {
            fprintf(p->out, "step %ld/%ld epoch %ld/%ld loss %.4f lr %.3g samples/s %.0f\n", step,
                    p->total_steps, epoch + 1, p->epochs, loss, lr, samples_per_s);
            fflush(p->out);
        }
        return;
    }
    double now = progress_now();
    if (logged || now - p->last_draw >= 0.1 || step == p->total_steps) {
        draw_live(p, step, epoch, loss, samples_per_s);
        p->last_draw = now;
    }
}

void progress_message(progress *p, const char *fmt, ...)
{
    if (p->live && p->drawn)
        fputs("\r\033[K", p->out);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(p->out, fmt, ap);
    va_end(ap);
    fputc('\n', p->out);
    fflush(p->out);
    p->drawn = false;
}

void progress_finish(progress *p)
{
    if (p->live && p->drawn) {
        fputc('\n', p->out);
        fflush(p->out);
    }
    p->drawn = false;
}
