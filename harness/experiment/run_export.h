// run_export.h — the [export] step as each run of one input meets it (export_step.h does the
// writing): the input's plan with the scale dtypes its formats need, the overlay run file each
// run's exports are recorded in, and the commit that lays that overlay over the run's record.
#ifndef AH_EXP_RUN_EXPORT_H
#define AH_EXP_RUN_EXPORT_H

#include "experiment/export_step.h"
#include "experiment/inputs.h"
#include "store/store.h"

// What a sweep with [export] carries into each run of one input.
typedef struct {
    exp_export_ctx ctx;
    exp_plan plan;                       // the input's plan with [export]'s scale dtypes (owned)
    tok_tokenizer *tok_owned;            // loaded for formats that embed it, when no run needs it
    char tokenizer_path[EXP_PATH_MAX];   // copied beside exports ("": none)
    const char *overlay;                 // the current run's overlay file (NULL: no [export])
    int failed;                          // exports of the current run that failed
    ah_err err;                          // the first one's error
} exp_run_exports;

// x with no [export] state (what exp_run_exports_free accepts).
void exp_run_exports_init(exp_run_exports *x);
void exp_run_exports_free(exp_run_exports *x);

// Without [export]: nothing. With it: x->plan becomes *plan with its runs as their formats need
// them quantized (checked again on this input's model s->m; exp_execute checked every input
// before any work), *plan is pointed at it, and the export context is set up for output.
int exp_run_exports_begin(exp_run_exports *x, const exp_config *c, const char *output,
                          const exp_inputs *s, const exp_plan **plan, int quiet, ah_err *e);

// The exports of run r (key), not computed here (taken from a cache or resumed): written from
// a new quantization pass with the AWQ search from the cache, or found complete on disk.
int exp_run_export_uncomputed(const exp_config *c, const exp_run *r, const exp_inputs *s,
                              const char *key, exp_run_exports *x, ah_err *e);

// Commits run id from the run file path (set[n_set]: root attributes set on the way) to st,
// with the current run's export overlay when there is one (then removed).
int exp_run_commit(store *st, const char *id, const char *path, const store_attr_set *set,
                   int n_set, exp_run_exports *x, ah_err *e);

#endif
