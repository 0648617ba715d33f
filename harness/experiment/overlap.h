// overlap.h — does a calibration sample contain evaluation text? A run calibrated on the text
// it is scored on measures memorisation, not quantization error (issue 19), so the runner warns
// and the record says so (calib_eval_overlap, results/README.md).
//
// Token-level: a calibration sequence overlaps when any OVERLAP_TOKENS consecutive tokens of it
// occur anywhere in the evaluation ids. Works across specs that name the same text differently
// (text:FILE@0:100000 vs text:FILE, wikitext2:test vs text:wiki.test.raw) and is blind to
// passages shorter than OVERLAP_TOKENS (common phrases).
#ifndef AH_EXP_OVERLAP_H
#define AH_EXP_OVERLAP_H

#include <stddef.h>
#include <stdint.h>

#include "calib/calib.h"
#include "core/err.h"

#define OVERLAP_TOKENS 32

// The sorted hashes of every OVERLAP_TOKENS-token window of the evaluation ids.
typedef struct {
    uint64_t *h;   // [n] ascending
    size_t n;
} exp_ngrams;

int exp_ngrams_build(exp_ngrams *g, const int32_t *ids, size_t n, ah_err *e);
void exp_ngrams_free(exp_ngrams *g);   // NULL-safe
// Calibration sequences of cs with a window in g (0..cs->n).
int exp_overlap_count(const exp_ngrams *g, const calib_set *cs);

#endif
