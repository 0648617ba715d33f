// progress.h — progress on long work: a bar with ETA on a terminal, plain lines otherwise.
//
// Output goes to stderr so stdout stays clean for results. A progress with quiet set prints
// nothing (tests, scripts that parse output).
#ifndef AH_PROGRESS_H
#define AH_PROGRESS_H

typedef struct {
    const char *label;    // "eval", "calibrate", ...
    long total;           // units of work
    long done;
    double t_start;       // seconds (ah_now)
    double t_last;        // last redraw
    int tty;              // stderr is a terminal
    int quiet;
    int last_pct;         // last percentage printed in line mode
} ah_progress;

void ah_progress_start(ah_progress *p, const char *label, long total, int quiet);
// Advances by n units; `stage` says what is being done ("block 3/22").
void ah_progress_step(ah_progress *p, long n, const char *stage);
void ah_progress_end(ah_progress *p);

// Wall-clock seconds (monotonic).
double ah_now(void);
// Peak resident set size of this process in MiB.
double ah_peak_rss_mb(void);

#endif
