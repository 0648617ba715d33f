// progress.h — progress on long work: a bar with ETA on a terminal, plain lines otherwise.
//
// Output goes to stderr so stdout stays clean for results. A progress with quiet set prints
// nothing (tests, scripts that parse output). Off a terminal (a batch job's log) a line is
// printed at every 10% and whenever AH_PROGRESS_SECONDS (default 30) have passed since the
// last one; with ah_progress_heartbeat, also while no step comes (one long block), from a
// thread that ah_progress_end stops.
#ifndef AH_PROGRESS_H
#define AH_PROGRESS_H

#include <pthread.h>

typedef struct {
    const char *label;    // "eval", "calibrate", ...
    long total;           // units of work
    long done;
    double t_start;       // seconds (ah_now)
    double t_last;        // last redraw
    int tty;              // stderr is a terminal
    int quiet;
    int last_pct;         // last percentage printed in line mode
    double t_line;        // line mode: when the last line was printed
    double every;         // line mode: seconds between lines at the most
    char stage[160];      // the last step's stage (the heartbeat repeats it)
    // heartbeat (line mode only)
    int beating, stop;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} ah_progress;

void ah_progress_start(ah_progress *p, const char *label, long total, int quiet);
// Advances by n units; `stage` says what is being done ("block 3/22").
void ah_progress_step(ah_progress *p, long n, const char *stage);
// Off a terminal: also print a line when `every` seconds pass without one, while work goes on
// inside a step. Nothing on a terminal (the bar shows elapsed time) or when quiet.
void ah_progress_heartbeat(ah_progress *p);
void ah_progress_end(ah_progress *p);

// Wall-clock seconds (monotonic).
double ah_now(void);
// Peak resident set size of this process in MiB.
double ah_peak_rss_mb(void);

#endif
