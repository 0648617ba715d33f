// fold.h — applying AWQ scales without changing what a block computes.
//
// Y = W X = (W diag(s)) (diag(s)^-1 X): the linears of a scaling group get their input columns
// multiplied by s, and the op that produces their input absorbs 1/s — a norm's weight (and
// bias), or the rows (and bias) of the previous linear. Which ops those are is table data
// (arch_scale_group in model/arch.h), not per-family code.
#ifndef AH_FOLD_H
#define AH_FOLD_H

#include "model/model.h"

// 1 when group g applies to this model (the v -> o group needs v and o shapes to match: no GQA).
int awq_group_applies(const model_config *c, const arch_scale_group *g);
// Input width of the group's linears (= number of scales).
static inline int awq_group_width(const model_config *c, const arch_scale_group *g) {
    return model_input_width(c, g->input);
}

// Folds s[width] into block b: linears' columns *= s, previous op /= s. s must be finite and
// positive (the scale rules guarantee it).
void awq_fold_group(block_f32 *b, const model_config *c, const arch_scale_group *g,
                    const float *s);

#endif
