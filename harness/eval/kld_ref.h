// kld_ref.h — building the FP reference of the KL divergence (kld.h) at the end of an FP
// evaluation: a second pass over the LM head's vocabulary chunks, once the rows' statistics
// (max, min, log-sum-exp: the first pass, the perplexity's own) fix the 16-bit codes.
#ifndef AH_KLD_REF_H
#define AH_KLD_REF_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "eval/kld.h"
#include "model/model.h"

// ref (empty) <- the reference of x (W, T, C), the FP model's final-normed hidden states, at
// positions first .. T-2 of each window, tokens (W, T) the windows (position p predicts
// tokens[p + 1]), rows (W, P) the logit rows' statistics. Per window it holds one (P, C) FP
// logit chunk and one (P, chunk) block of probabilities besides the head chunk; cost: two LM
// head GEMMs (logits, then hbar += p @ head) and the codes and exp of every logit, once.
int kld_ref_build(kld_ref *ref, const model *m, const float *x, const int32_t *tokens, size_t W,
                  int T, int first, const kld_row *rows, ah_err *e);

#endif
