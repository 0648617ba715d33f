// run_compute.h — computing one run of a sweep: its quantization pass block by block inside the
// evaluation (calibration statistics, the AWQ search or its cache entry), the zero-shot tasks
// and the efficiency measurement, the run's HDF5 record (record.h) in its run cache entry, the
// AWQ search saved for later runs, its [export] formats written (run_export.h), then the commit
// to the results file.
#ifndef AH_EXP_RUN_COMPUTE_H
#define AH_EXP_RUN_COMPUTE_H

#include "core/progress.h"
#include "experiment/inputs.h"
#include "experiment/run_export.h"
#include "experiment/runner.h"
#include "store/store.h"

// What the final table shows of a run (runner.c).
typedef struct {
    double ppl, seconds;
    double kld;                      // mean KLD from the FP model; NaN: none (fp16, kld = no)
    exp_done_how how;
    char cache[16];                  // "computed", "awq-cached", "failed"
} exp_run_outcome;

// exp_run_compute_commit's status when the run itself failed (NaN perplexity, a bad tensor):
// reported, not committed; the sweep goes on.
enum { EXP_RUN_FAILED = 1 };

// Computes run r (content key `key`) on the shared inputs s into its run cache entry run_path
// (with o->use_cache = 0 a staging file, removed after the commit), then commits it to st with
// its exports (x). bar: the sweep's progress (one unit per block, one to finish). Returns 0
// when committed, EXP_RUN_FAILED (e) when the run failed, -1 (e) when the commit failed.
int exp_run_compute_commit(store *st, const exp_config *c, const exp_run *r, exp_inputs *s,
                           const char *key, const char *run_path, const exp_run_opts *o,
                           ah_progress *bar, exp_run_outcome *out, exp_run_exports *x, ah_err *e);

// The calibration rows run mc reads (NULL: not calibrated); *prefix holds the view when it is
// a prefix of the sample (run_compute.c says when).
const calib_set *exp_run_calibration(const exp_inputs *s, const method_cfg *mc, calib_set *prefix);

// Run mc's AWQ search from <cache>/awq/ ([n_layers], exp_awq_preset_free), or NULL: none
// there, or a damaged or misnamed entry (not fatal: a warning, and the caller searches again).
awq_block_result *exp_awq_from_cache(const exp_config *c, const exp_inputs *s,
                                     const method_cfg *mc, ah_err *e);
void exp_awq_preset_free(awq_block_result *preset, int n_layers);   // NULL-safe

#endif
