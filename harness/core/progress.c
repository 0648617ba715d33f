#include "progress.h"

#include <stdio.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

double ah_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

double ah_peak_rss_mb(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0.0;
    return ru.ru_maxrss / 1024.0;   // Linux reports KiB
}

void ah_progress_start(ah_progress *p, const char *label, long total, int quiet) {
    p->label = label;
    p->total = total > 0 ? total : 1;
    p->done = 0;
    p->t_start = p->t_last = ah_now();
    p->tty = isatty(STDERR_FILENO);
    p->quiet = quiet;
    p->last_pct = -1;
}

static void fmt_secs(char *buf, size_t cap, double s) {
    if (s < 0) s = 0;
    if (s < 60) snprintf(buf, cap, "%.0fs", s);
    else if (s < 3600) snprintf(buf, cap, "%dm%02ds", (int)s / 60, (int)s % 60);
    else snprintf(buf, cap, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

void ah_progress_step(ah_progress *p, long n, const char *stage) {
    p->done += n;
    if (p->quiet) return;
    double now = ah_now(), frac = (double)p->done / p->total;
    double elapsed = now - p->t_start, eta = frac > 0 ? elapsed / frac - elapsed : 0;
    char e1[32], e2[32];
    fmt_secs(e1, sizeof e1, elapsed);
    fmt_secs(e2, sizeof e2, eta);
    if (p->tty) {
        if (now - p->t_last < 0.1 && p->done < p->total) return;   // redraw at most 10/s
        p->t_last = now;
        int width = 30, fill = (int)(frac * width);
        char bar[64];
        for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
        bar[width] = '\0';
        fprintf(stderr, "\r%s [%s] %3.0f%% %s | %s elapsed, ETA %s   ", p->label, bar,
                100 * frac, stage ? stage : "", e1, e2);
    } else {
        int pct = (int)(100 * frac);
        if (pct / 10 == p->last_pct / 10 && p->done < p->total) return;   // every 10%
        p->last_pct = pct;
        fprintf(stderr, "%s: %3d%% %s (%s elapsed, ETA %s)\n", p->label, pct,
                stage ? stage : "", e1, e2);
    }
    fflush(stderr);
}

void ah_progress_end(ah_progress *p) {
    if (!p->quiet && p->tty) fprintf(stderr, "\n");
}
