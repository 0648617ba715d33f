// awq.h — activation-aware weight quantization on one block (docs/AWQ.md is the contract).
//
// For each scaling group of the family (model/arch.h): pick per-input-channel scales s from
// the calibration statistics (rule search | duo | fixed), fold them into the block (fold.h),
// then optionally clip the scaled weights (every linear but q and k). The block's linears are
// quantized afterwards by the method (method/method.h) exactly as the baselines are.
#ifndef AH_AWQ_H
#define AH_AWQ_H

#include "calib/calib.h"
#include "model/model.h"
#include "quant/quant.h"

// AWQ_SALIENT: the paper's Tables 2-3 ablation: the top scale_pct % input channels by mean
// |x| get s = salient_scale, every other channel s = 1 (no search, no normalisation).
typedef enum { AWQ_SEARCH, AWQ_DUO, AWQ_FIXED, AWQ_SALIENT } awq_rule;
// Whether alpha is searched over the grid or given: a value of its own, never a number.
typedef enum { AWQ_ALPHA_SEARCH, AWQ_ALPHA_FIXED } awq_alpha_mode;

typedef struct {
    awq_rule rule;
    int grid_points;       // alpha = i / grid_points, i = 0 .. grid_points-1 (default 20)
    int grid_include_one;  // also try alpha = 1.0 (default 0, as llm-awq)
    awq_alpha_mode alpha_mode;   // search the grid (default) or one fixed alpha
    double alpha;          // AWQ_ALPHA_FIXED: the alpha in [0, 1] (required for AWQ_FIXED)
    int clip;              // clip search after scaling
    int samples;           // calibration sequences used for the losses (0 = all)
    double salient_scale;  // AWQ_SALIENT: s of the salient channels (default 2)
    double scale_pct;      // AWQ_SALIENT: % of channels scaled (default 1)
} awq_cfg;

#define AWQ_MAX_GRID 101

// What AWQ chose for one scaling group of one layer.
typedef struct {
    int applied;           // 0 when the group does not apply (v -> o with GQA)
    int width;             // number of scales
    float alpha;           // chosen alpha
    int n_alpha;           // grid points tried
    float alphas[AWQ_MAX_GRID];
    double loss[AWQ_MAX_GRID];   // loss for each alpha tried
    float *scales;         // [width] (malloc'd; awq_result_free)
    float *x_mean, *x_max, *x_p99;   // [width] the input statistics the rules used
} awq_group_result;

typedef struct {
    awq_group_result group[ARCH_MAX_GROUPS];
    float *clip[L_COUNT];  // per linear: thresholds (rows, groups), NULL when not clipped
    int clip_groups[L_COUNT];
    double seconds;        // time spent in awq_block for this layer
} awq_block_result;

const char *awq_rule_name(awq_rule r);   // "search", "duo", "fixed", "salient"
int awq_rule_parse(const char *s, awq_rule *r);
void awq_defaults(awq_cfg *a);
int awq_cfg_check(const awq_cfg *a, ah_err *e);
void awq_result_free(awq_block_result *r);

// Runs AWQ on block b in place (scales folded, weights clipped; not yet quantized).
// run: the FP capture of this block (calib_block) holding at least `samples` whole sequences
// in each input's sample. s: forward scratch sized for (L, batch) of the calibration set.
int awq_block(const awq_cfg *a, const quant_cfg *q, block_f32 *b, const model *m, int layer,
              const calib_run *run, awq_block_result *res, ah_err *e);

// Applies a stored result (a cached search) to the FP block b: folds its scales and clamps the
// clipped linears to its thresholds, which is what awq_block did to the same block. Copies
// pre into res (seconds = 0); fails when pre does not fit this model.
int awq_block_apply(const awq_block_result *pre, const quant_cfg *q, block_f32 *b,
                    const model *m, awq_block_result *res, ah_err *e);

// Clamps W (rows, cols) to [-t, t] per (row, quant group): t (rows, groups). (clip.c)
void awq_clamp_linear(float *W, const float *t, int rows, int cols, int group);

// Clip search for one linear W (rows, cols) given its (already scaled) input rows X (R, cols).
// Writes the chosen thresholds (rows, groups) into t and clamps W. (clip.c)
void awq_clip_linear(float *W, float *t, int rows, int cols, const float *X, int R,
                     const quant_cfg *q);

// Lower Cholesky factor L of G (n, n) = L L^T in place, G given by its upper triangle
// (row-major); the strict upper triangle is zeroed. -1 when G is not positive definite
// (G is then overwritten). awq/gram_chol.c (GSL).
int awq_cholesky_lower(double *G, int n);

#endif
