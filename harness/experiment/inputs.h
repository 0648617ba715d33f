// inputs.h — what every run of an experiment shares, loaded once per process: the model, its
// tokenizer, the evaluation ids and the calibration set, with the content hashes the cache keys
// are made of (experiment/keys.h). The runner (runner.c) and the split AWQ search
// (split_search.c) load them the same way, so both compute the same keys.
#ifndef AH_EXP_INPUTS_H
#define AH_EXP_INPUTS_H

#include "calib/calib.h"
#include "eval/kld.h"
#include "experiment/config.h"
#include "experiment/overlap.h"
#include "experiment/sweep.h"
#include "model/model.h"
#include "text/inputs.h"

// One calibration sample of the experiment: the blocks drawn for a (seed, samples, length) of
// the plan's runs (the sweep's calibration axes), with the hash its cache keys use.
typedef struct {
    uint64_t seed;
    int samples, len;
    calib_set cs;
    char hash[65];
    int overlap;                     // sequences sharing a passage with the evaluation text
} calib_entry;

typedef struct {
    model *m;
    tok_tokenizer *tok;
    ds_ids eval;
    ds_ids calib_text;               // the tokenized calibration source (n = 0: none)
    calib_entry *cals;               // the samples the plan's runs draw, n_cals of them
    int n_cals;
    calib_set cs;                    // the current run's sample (a view of a cals entry; n = 0
                                     // when no run of the plan calibrates)
    int cs_overlap;                  // its calib_entry.overlap
    exp_ngrams eval_grams;           // the evaluation text's windows (overlap.h)
    char model_hash[65], eval_hash[65], calib_hash[65];
    char tasks_hash[65];             // [evaluation] tasks: their files (exp_tasks_hash)
    int seqlen;
    kld_ref ref;                     // the FP reference of the KL divergence
    int have_ref;                    // 1 built, 0 not yet, -1 its FP evaluation failed
} exp_inputs;

// Loads the inputs of experiment c for plan (quiet: no notes on stderr). On failure what was
// loaded is left in s for exp_inputs_free.
int exp_inputs_load(exp_inputs *s, const exp_config *c, const exp_plan *plan, int quiet,
                    ah_err *e);
void exp_inputs_free(exp_inputs *s);
// Makes run mc's calibration sample current (s->cs, s->calib_hash, s->cs_overlap), drawing it
// the first time its (seed, samples, length) is asked for; a no-op without calibration text.
int exp_inputs_use_calib(exp_inputs *s, const exp_config *c, const method_cfg *mc, ah_err *e);

#endif
