// inputs.h — what every run of an experiment shares, loaded once per process: the model, its
// tokenizer, the evaluation ids and the calibration set, with the content hashes the cache keys
// are made of (experiment/keys.h). The runner (runner.c) and the split AWQ search
// (split_search.c) load them the same way, so both compute the same keys.
#ifndef AH_EXP_INPUTS_H
#define AH_EXP_INPUTS_H

#include "calib/calib.h"
#include "eval/kld.h"
#include "experiment/config.h"
#include "experiment/sweep.h"
#include "model/model.h"
#include "text/inputs.h"

typedef struct {
    model *m;
    tok_tokenizer *tok;
    ds_ids eval;
    calib_set cs;                    // empty (n = 0) when no run of the plan calibrates
    char model_hash[65], eval_hash[65], calib_hash[65];
    int seqlen;
    kld_ref ref;                     // the FP reference of the KL divergence
    int have_ref;                    // 1 built, 0 not yet, -1 its FP evaluation failed
} exp_inputs;

// Loads the inputs of experiment c for plan (quiet: no notes on stderr). On failure what was
// loaded is left in s for exp_inputs_free.
int exp_inputs_load(exp_inputs *s, const exp_config *c, const exp_plan *plan, int quiet,
                    ah_err *e);
void exp_inputs_free(exp_inputs *s);

#endif
