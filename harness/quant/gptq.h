// gptq.h — GPTQ (Frantar et al., ICLR 2023; reference IST-DASLab/gptq, AutoGPTQ): one linear's
// weights quantized column by column with second-order error feedback. docs/GPTQ.md has the
// algorithm step by step; in short, for W (rows, cols) and H = 2/N sum x x^T (cols, cols) over
// the N calibration rows x of its input:
//   1. dead inputs (H_ii == 0): H_ii = 1, W[:, i] = 0;
//   2. act_order: columns permuted by descending diag H (stable: ties keep index order), and
//      every group's (scale, zero) computed up front from W in the original column order
//      ("static groups", AutoGPTQ);
//   3. H += damp * mean(diag H) * I; U = upper Cholesky factor of H^-1 (H^-1 = U^T U);
//      a failed Cholesky retries with damp * 10 (up to GPTQ_MAX_RETRIES times);
//   4. per block of block_size columns, for each column j: without act_order, when j starts a
//      group, the group's (scale, zero) come from the current weights of its columns (as the
//      reference: updated by every earlier block, not by the earlier columns of this block);
//      q = quant(w_j); err = (w_j - q) / U_jj; the block's later columns -= err * U_j,block;
//      at the end of the block the later columns -= Err (rows, B) @ U[block, after] (GEMM).
// The quantizer (scale / zero / code formulas, ragged last group) is quant.h's, so the codes
// export and dequantize exactly as every other method's: w_hat = (code - zero) * scale.
#ifndef AH_GPTQ_H
#define AH_GPTQ_H

#include <stdint.h>

#include "core/err.h"
#include "quant/quant.h"

#define GPTQ_DEFAULT_DAMP 0.01
#define GPTQ_DEFAULT_BLOCK 128
#define GPTQ_MAX_RETRIES 6   // damp, 10 damp, ..., 10^6 damp

typedef struct {
    double damp;       // relative dampening: damp * mean(diag H) added to the diagonal (> 0)
    int block_size;    // columns per lazy-update block (>= 1)
    int act_order;     // 1: descending diag H order with static groups
} gptq_cfg;

void gptq_defaults(gptq_cfg *g);
int gptq_cfg_check(const gptq_cfg *g, ah_err *e);   // errors name the option

// What one call did.
typedef struct {
    double damp_used;  // the relative dampening finally used (damp * 10^retries)
    int retries;       // failed Cholesky attempts before the one that worked
    int dead;          // dead inputs (H_ii == 0)
} gptq_info;

// W (rows, cols) fp32 in place -> W_hat = (code - zero) * scale. H (cols, cols) row-major,
// symmetric, read only. codes (rows, cols), scale / zero (rows, quant_groups(cols, group)) in
// the original column order receive the quantizer's output (each may be NULL). Never writes a
// non-finite weight: fails (W untouched) if no dampening up to 10^GPTQ_MAX_RETRIES * damp gives
// a positive definite H, or when W or H hold NaN / inf.
int gptq_quantize(float *W, int rows, int cols, const double *H, const quant_cfg *q,
                  const gptq_cfg *g, uint8_t *codes, float *scale, float *zero, gptq_info *info,
                  ah_err *e);

// (gptq_chol.c, GSL) A (n, n) symmetric positive definite in place -> U, the upper Cholesky
// factor of A^-1 (A^-1 = U^T U; the strict lower triangle is zeroed). Returns -1 (A clobbered)
// when A or A^-1 is not numerically positive definite.
int gptq_inverse_cholesky_upper(double *A, int n);

#endif
