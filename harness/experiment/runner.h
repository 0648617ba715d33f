// runner.h — executing an experiment's planned runs: shared inputs loaded once, caches
// consulted, every run committed to the results file as soon as it completes.
//
// Work shared between runs:
//   - the model, tokenizer, evaluation ids and calibration set are loaded once per process;
//   - a run whose content key (model weights, evaluation ids, calibration ids, every method
//     parameter) has a run file in <cache>/runs/ is committed from it without any work, in
//     this experiment or any other (the FP baseline of a model and eval set is computed once);
//   - an AWQ search is saved under <cache>/awq/<key>.h5 and reused by every run that shares
//     its (model, calibration, bits, group, rule, grid, clip, propagate) key.
#ifndef AH_EXP_RUNNER_H
#define AH_EXP_RUNNER_H

#include <signal.h>
#include <stdio.h>

#include "experiment/config.h"
#include "experiment/sweep.h"

typedef struct {
    int resume;                     // skip runs complete in the results file (default 1)
    int use_cache;                  // content-keyed caches (default 1)
    int threads;                    // > 0 overrides [experiment] threads
    const char *output;             // overrides [experiment] output
    int quiet;                      // no progress (the final table is still printed)
    volatile sig_atomic_t *stop;    // set by SIGINT: abandon the current run, stop cleanly
} exp_run_opts;

typedef enum { EXP_DONE_COMPUTED, EXP_DONE_CACHED, EXP_DONE_RESUMED } exp_done_how;

// Runs plan (already sharded) of experiment c. Returns 0 when every run completed, 1 when
// stopped by *stop (completed runs are committed), -1 on error (completed runs committed).
int exp_execute(const exp_config *c, const exp_plan *plan, const exp_run_opts *o, ah_err *e);

// Prints every planned run's id, run key and AWQ-search key ("-" when none) to out, one line
// each: the model, tokenizer and data are loaded and hashed, nothing is computed or written.
int exp_print_keys(const exp_config *c, const exp_plan *plan, FILE *out, ah_err *e);

#endif
