// imatrix.c — importance-weighted quantization (contract: imatrix.h; docs/IMATRIX.md): the row
// driver (both kinds) and the symmetric fit; the asymmetric fit is imatrix_asym.c.
//
// Dims legend: R = rows (output channels), C = cols (input channels), g = group size (g = -1:
// one group of C), G = quant_groups(C, g), n = channels of one group (the last may be shorter),
// b = bits, nmax = 2^(b-1) (levels l in [-nmax, nmax - 1], code = l + nmax, zero = nmax).
//
// What llama.cpp does (ggml/src/ggml-quants.c), and where it lives here:
//   quantize_row_q4_0_impl   sigma2 = sum of w^2 over the WHOLE row / row length (row_sigma2);
//                            per block, weight[j] = qw[j] * sqrtf(sigma2 + w[j]^2) with qw the
//                            imatrix entries of the block's columns (imx_weight); one
//                            make_qx_quants(32, 8, block, L, 1, weight) per block of 32 — here
//                            per group of g with nmax = 2^(b-1) (quant_row).
//   make_qx_quants, rmse_type 1 with quant weights (fit_sym):
//     max = the value of largest |w| (first one wins); amax < 1e-15: all zero, scale 0;
//     iscale = -nmax / max; levels l = clamp(nearest_int(iscale * w), -nmax, nmax - 1);
//     weighted least squares: scale = sumlx / suml2 (sumlx = sum weight w l, suml2 = sum
//     weight l^2), best = scale * sumlx; then iscale = -(nmax + 0.1 is) / max for is = -9..9,
//     is != 0, each refitted the same way and kept when suml2 > 0 and sumlx^2 > best * suml2
//     (its weighted error sum weight w^2 - sumlx^2 / suml2 is smaller).
// Adapted: any group size instead of 32, any b in 2..8 instead of nmax = 8 (Q4_0) / 16 (Q5_0);
// the scale stays fp32 (llama.cpp rounds d to fp16 when it stores the block); a group whose
// scale is 0 stores the zero point (llama.cpp leaves L as rounded, which d = 0 ignores), so
// w_hat is +0.0; imp == NULL means all ones (llama.cpp would use its unweighted reference
// quantizer instead); the best candidate is remembered by its inverse scale and the levels
// are recomputed from it (llama.cpp copies them into L), so no buffer of n levels is needed.
//
// Exactness: every operation is fp32 in llama.cpp's order (products left to right, sums left to
// right, no fused multiply-add: -std=c11 turns contraction off, and no loop here has an
// `omp simd` reduction), so tools/ref_imatrix.py reproduces codes and scales bit for bit.
// rintf under the default rounding mode is nearest_int (which adds 1.5 * 2^23: round half to
// even) for |v| < 2^22; here |iscale * w| <= nmax + 0.9. Levels are +0.0, never -0.0 (llama.cpp
// rounds to an int), so the sums see the same signed zeros as llama.cpp's.
// Edge cases: imp entries 0 give weight 0; a group whose weights are all 0 has suml2 == 0
// and scale 0 (llama.cpp's `suml2 ? .. : 0` and `suml2 > 0` guards: no division by zero).
// Non-finite weights or negative importances are outside the contract.
#include "quant/imatrix.h"
#include "quant/imatrix_internal.h"

#include <math.h>

#include "core/simd.h"

#define GROUP_MAX_EPS 1e-15f          // llama.cpp: a group with max |w| below this is all zero
#define PAR_MIN_ELEMS ((size_t)1 << 12)

// Level of w under iscale: clamp(rint(iscale * w), -nmax, nmax - 1), an exact integer float;
// + 0.0f turns rint's -0.0 into +0.0 like llama.cpp's int levels.
IMX_INLINE float level(float w, float iscale, float nmax) {
    float l = rintf(iscale * w) + 0.0f;
    l = l > -nmax ? l : -nmax;
    return l < nmax - 1.0f ? l : nmax - 1.0f;
}

// sigma2 of quantize_row_q4_0_impl: mean of w^2 over the row (C), summed left to right.
IMX_INLINE float row_sigma2(const float *row, size_t cols) {
    float s = 0.0f;
    for (size_t i = 0; i < cols; i++) s += row[i] * row[i];
    return s / (float)cols;
}

// Weighted sums of one candidate inverse scale over a group x (n):
// sumlx = sum weight x l, suml2 = sum weight l^2.
IMX_INLINE void cand_sums(float *sumlx, float *suml2, const float *x, const float *imp, size_t n,
                          float sigma2, float iscale, float nmax) {
    float slx = 0.0f, sl2 = 0.0f;
    for (size_t i = 0; i < n; i++) {
        const float wt = imx_weight(x, imp, i, sigma2), l = level(x[i], iscale, nmax);
        slx += wt * x[i] * l;
        sl2 += wt * l * l;
    }
    *sumlx = slx;
    *suml2 = sl2;
}

// make_qx_quants (rmse_type 1, quant weights) on one group x (n), imp (n) or NULL.
IMX_INLINE imx_fit fit_sym(const float *x, const float *imp, size_t n, float sigma2, int bits) {
    const float nmax = (float)(1 << (bits - 1));
    imx_fit f = {0.0f, nmax, 0.0f};
    float amax = 0.0f, max = 0.0f;
    for (size_t i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    if (amax < GROUP_MAX_EPS) return f;
    float sumlx, suml2;
    f.iscale = -nmax / max;
    cand_sums(&sumlx, &suml2, x, imp, n, sigma2, f.iscale, nmax);
    f.scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
    float best = f.scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        const float iscale = -(nmax + 0.1f * (float)is) / max;
        cand_sums(&sumlx, &suml2, x, imp, n, sigma2, iscale, nmax);
        if (suml2 > 0.0f && sumlx * sumlx > best * suml2) {
            f.scale = sumlx / suml2;
            best = f.scale * sumlx;
            f.iscale = iscale;
        }
    }
    return f;
}

// Code of w under a group's fit: the zero point when the scale is 0; symmetric: the level of
// iscale + nmax (nmax == zero); asymmetric: clamp(rint(w / scale) + zero, 0, 2^b - 1).
IMX_INLINE float fit_code(float w, const imx_fit *f, int sym, float maxq) {
    if (f->scale == 0.0f) return f->zero;
    return sym ? level(w, f->iscale, f->zero) + f->zero : quant_code1(w, f->scale, f->zero, maxq);
}

// What a row is quantized with, and where results go.
typedef struct {
    size_t cols, G, gl;     // C, groups, channels of a full group
    int bits, sym;
    const float *imp;       // (C) or NULL
} imx_shape;

// One row (C), compiled per instruction set (AH_VEC_CLONES: rintf and sqrtf become single
// instructions; the helpers above are inlined into each clone). The sums stay sequential and
// nothing is contracted into an FMA, so every clone gives the same bits.
// codes != NULL: codes (C), scale (G), zero (G) written. Otherwise out (C) gets
// w_hat = (code - zero) * scale; out may be row itself (fake quantization in place): sigma2 is
// taken from the whole row first, and group j is overwritten only after it was fitted.
AH_VEC_CLONES static void quant_row(float *out, uint8_t *codes, float *scale, float *zero,
                                   const float *row, const imx_shape *sh) {
    const float sigma2 = row_sigma2(row, sh->cols), maxq = (float)((1 << sh->bits) - 1);
    for (size_t j = 0; j < sh->G; j++) {
        const size_t c0 = j * sh->gl, n = sh->cols - c0 < sh->gl ? sh->cols - c0 : sh->gl;
        const float *imp = sh->imp ? sh->imp + c0 : NULL;
        const imx_fit f = sh->sym ? fit_sym(row + c0, imp, n, sigma2, sh->bits)
                                  : quant_imatrix_fit_asym(row + c0, imp, n, sigma2, sh->bits);
        for (size_t i = c0; i < c0 + n; i++) {
            const float c = fit_code(row[i], &f, sh->sym, maxq);
            if (codes) codes[i] = (uint8_t)c;
            else out[i] = (c - f.zero) * f.scale;
        }
        if (codes) {
            scale[j] = f.scale;
            zero[j] = f.zero;
        }
    }
}

static int cfg_ok(const quant_cfg *q) {
    return q && (q->kind == QUANT_RTN || q->kind == QUANT_MINMAX) &&
           quant_cfg_check(q, NULL) == 0;
}

// Shared driver: rows in parallel (independent; small matrices stay single-threaded).
static int quant_rows(float *W_out, uint8_t *codes, float *scale, float *zero, const float *W,
                      size_t rows, size_t cols, const quant_cfg *q, const float *imp) {
    if (!cfg_ok(q)) return -1;
    if (!rows || !cols) return 0;
    const size_t G = quant_groups(cols, q->group);
    const imx_shape sh = {cols, G, q->group == QUANT_GROUP_ROW ? cols : (size_t)q->group, q->bits,
                          q->kind == QUANT_RTN, imp};
#pragma omp parallel for schedule(static) if (rows * cols >= PAR_MIN_ELEMS)
    for (size_t r = 0; r < rows; r++) {
        if (codes)
            quant_row(NULL, codes + r * cols, scale + r * G, zero + r * G, W + r * cols, &sh);
        else
            quant_row(W_out + r * cols, NULL, NULL, NULL, W + r * cols, &sh);
    }
    return 0;
}

// codes (R, C), scale (R, G), zero (R, G) <- W (R, C), imp (C).
int quant_imatrix_codes(uint8_t *codes, float *scale, float *zero, const float *W, size_t rows,
                        size_t cols, const quant_cfg *q, const float *imp) {
    if (!codes || !scale || !zero) return -1;
    return quant_rows(NULL, codes, scale, zero, W, rows, cols, q, imp);
}

// W (R, C) <- w_hat in place.
int quant_imatrix_fake(float *W, size_t rows, size_t cols, const quant_cfg *q, const float *imp) {
    return quant_rows(W, NULL, NULL, NULL, W, rows, cols, q, imp);
}
