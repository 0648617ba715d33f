// run_cache.h — the runs of a sweep that need no work: a run's content key (the name of its
// run cache entry, runner.h), the entry checked before it is trusted, the record of a run
// already in the results file (resume), and what the final table shows of either.
#ifndef AH_EXP_RUN_CACHE_H
#define AH_EXP_RUN_CACHE_H

#include "experiment/inputs.h"
#include "experiment/run_compute.h"
#include "experiment/run_export.h"
#include "store/store.h"

// Creates the directory of the results file output and the cache's runs/ and awq/, and removes
// the temporaries killed runs left in the caches.
int exp_run_cache_dirs(const exp_config *c, const char *output, int quiet, ah_err *e);

// The content key of run r (the current calibration sample of s is the run's): SHA-256 hex.
void exp_run_key(const exp_config *c, const exp_run *r, const exp_inputs *s, char hex[65]);
// The AWQ-search key of run r, "-" when its method searches no scales.
void exp_run_awq_key(const exp_run *r, const exp_inputs *s, char hex[65]);

// 1 when the results file output (st) holds run r complete under key, with what this build
// records and, with [export], every export complete on disk: nothing to do.
int exp_run_resumable(const exp_config *c, const exp_run *r, store *st, const char *output,
                      const char *key, int quiet);
// 1 when the run cache entry run_path exists, holds key and what this build records.
int exp_run_cache_usable(const exp_config *c, const exp_run *r, const char *run_path,
                         const char *key, int quiet);
// Commits run r from its run cache entry run_path to st under this experiment's names of its
// model and data, with its exports (written from a new quantization pass, or found complete).
int exp_run_commit_cached(store *st, const exp_config *c, const exp_run *r, const exp_inputs *s,
                          const char *key, const char *run_path, exp_run_exports *x, ah_err *e);
// The outcome of run id as committed to output (resumed and cached runs did no work here).
void exp_run_committed_outcome(const char *output, const char *id, exp_run_outcome *out);

#endif
