#include "progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    p->t_line = p->t_start;
    const char *env = getenv("AH_PROGRESS_SECONDS");
    p->every = env && atof(env) > 0 ? atof(env) : 30.0;
    p->stage[0] = '\0';
    p->beating = p->stop = 0;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
}

static void fmt_secs(char *buf, size_t cap, double s) {
    if (s < 0) s = 0;
    if (s < 60) snprintf(buf, cap, "%.0fs", s);
    else if (s < 3600) snprintf(buf, cap, "%dm%02ds", (int)s / 60, (int)s % 60);
    else snprintf(buf, cap, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

// One line of line mode (caller holds p->mu).
static void print_line(ah_progress *p, double now) {
    double frac = (double)p->done / p->total;
    double elapsed = now - p->t_start, eta = frac > 0 ? elapsed / frac - elapsed : 0;
    char e1[32], e2[32];
    fmt_secs(e1, sizeof e1, elapsed);
    fmt_secs(e2, sizeof e2, eta);
    p->last_pct = (int)(100 * frac);
    p->t_line = now;
    fprintf(stderr, "%s: %3d%% %s (%s elapsed, ETA %s)\n", p->label, p->last_pct, p->stage, e1,
            frac > 0 ? e2 : "?");
    fflush(stderr);
}

void ah_progress_step(ah_progress *p, long n, const char *stage) {
    if (p->quiet) {
        p->done += n;
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->done += n;
    snprintf(p->stage, sizeof p->stage, "%s", stage ? stage : "");
    double now = ah_now(), frac = (double)p->done / p->total;
    if (p->tty) {
        if (now - p->t_last >= 0.1 || p->done >= p->total) {   // redraw at most 10/s
            p->t_last = now;
            double elapsed = now - p->t_start, eta = frac > 0 ? elapsed / frac - elapsed : 0;
            char e1[32], e2[32];
            fmt_secs(e1, sizeof e1, elapsed);
            fmt_secs(e2, sizeof e2, eta);
            int width = 30, fill = (int)(frac * width);
            char bar[64];
            for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
            bar[width] = '\0';
            fprintf(stderr, "\r%s [%s] %3.0f%% %s | %s elapsed, ETA %s   ", p->label, bar,
                    100 * frac, p->stage, e1, e2);
            fflush(stderr);
        }
    } else if ((int)(100 * frac) / 10 != p->last_pct / 10 || p->done >= p->total ||
               now - p->t_line >= p->every) {   // every 10%, and every `every` seconds
        print_line(p, now);
    }
    pthread_mutex_unlock(&p->mu);
}

static void *heartbeat(void *arg) {
    ah_progress *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        double wait = p->every < 1.0 ? p->every : 1.0;   // look at least once a second
        long ns = ts.tv_nsec + (long)(wait * 1e9);
        ts.tv_sec += ns / 1000000000L;
        ts.tv_nsec = ns % 1000000000L;
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
        double now = ah_now();
        if (!p->stop && now - p->t_line >= p->every) print_line(p, now);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

void ah_progress_heartbeat(ah_progress *p) {
    if (p->quiet || p->tty || p->beating) return;
    p->stop = 0;
    p->beating = pthread_create(&p->thread, NULL, heartbeat, p) == 0;   // none: steps only
}

void ah_progress_end(ah_progress *p) {
    if (p->beating) {
        pthread_mutex_lock(&p->mu);
        p->stop = 1;
        pthread_cond_signal(&p->cv);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->thread, NULL);
        p->beating = 0;
    }
    if (!p->quiet && p->tty) fprintf(stderr, "\n");
}
