// imatrix_internal.h — shared between imatrix.c (driver, symmetric fit: make_qx_quants) and
// imatrix_asym.c (asymmetric fit: make_qkx3_quants adapted to an integer zero point).
#ifndef AH_QUANT_IMATRIX_INTERNAL_H
#define AH_QUANT_IMATRIX_INTERNAL_H

#include <math.h>
#include <stddef.h>

// Helpers of the per-instruction-set clones (AH_VEC_CLONES) are forced inline so that each
// clone compiles them for its own instruction set.
#define IMX_INLINE __attribute__((always_inline)) static inline

// One group's result. w_hat = (code - zero) * scale; the symmetric fit also keeps the inverse
// scale whose rounding gives its levels (llama.cpp keeps the levels; recomputing them from
// iscale gives the same ones without a buffer of n).
typedef struct {
    float scale;
    float zero;      // integer code in [0, 2^b - 1], as a float
    float iscale;    // symmetric only
} imx_fit;

// Error weight of channel i of a group x (n), as quantize_row_q4_0_impl / q4_1_impl form it:
// imp[i] * sqrt(sigma2 + x[i]^2); imp (n) or NULL for ones; sigma2 = mean of w^2 over the row.
static inline float imx_weight(const float *x, const float *imp, size_t i, float sigma2) {
    return (imp ? imp[i] : 1.0f) * sqrtf(sigma2 + x[i] * x[i]);
}

// Asymmetric fit of one group x (n), imp (n) or NULL, b bits (imatrix_asym.c).
imx_fit quant_imatrix_fit_asym(const float *x, const float *imp, size_t n, float sigma2, int bits);

#endif
