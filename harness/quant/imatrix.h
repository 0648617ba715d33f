// imatrix.h — importance-weighted symmetric quantization, as llama.cpp's llama-quantize does it
// with an importance matrix (--imatrix) for Q4_0 (docs/IMATRIX.md).
//
// Per output row of W, in groups of g input channels (quant.h's grouping: g > 0 gives
// ceil(cols / g) groups, the last one shorter when g does not divide cols; g = -1 one group per
// row), each group's scale is the one of a small candidate set that minimises the squared
// error weighted by
//   weight[j] = imp[j] * sqrt(sigma2 + w[j]^2),   sigma2 = mean of w^2 over the whole row,
// where imp[j] is the importance of input channel j: the calibration mean of x_j^2 (x = the
// linear's input), what llama-imatrix collects. Symmetric grid of b bits: levels
// l in [-2^(b-1), 2^(b-1) - 1], stored unsigned as code = l + 2^(b-1) with zero = 2^(b-1), so
//   w_hat = (code - zero) * scale
// as for every quantizer of quant.h (quant_dequant reproduces quant_imatrix_fake bit for bit).
// The scale may be NEGATIVE: llama.cpp puts the group's largest-|w| value on the extra level
// -2^(b-1), so d = max / -2^(b-1) has the opposite sign of that value. A group whose scale is
// 0 (all weights below 1e-15 in magnitude, or all importances 0) stores codes = zero, w_hat
// +0.0. imp == NULL means all ones (not llama.cpp's unweighted reference quantizer).
// Only QUANT_RTN (symmetric) is implemented; other kinds are refused (return -1).
#ifndef AH_QUANT_IMATRIX_H
#define AH_QUANT_IMATRIX_H

#include <stddef.h>
#include <stdint.h>

#include "quant/quant.h"

// codes (R, C) in [0, 2^b), scale (R, G), zero (R, G) = 2^(b-1) <- W (R, C), imp (C) or NULL.
// G = quant_groups(C, g). Returns 0, or -1 (nothing written) for a bad or non-RTN config.
int quant_imatrix_codes(uint8_t *codes, float *scale, float *zero, const float *W, size_t rows,
                        size_t cols, const quant_cfg *q, const float *imp);

// W (R, C) <- dequant(quant_imatrix_codes(W)) in place, bit for bit. Returns 0 or -1 as above.
int quant_imatrix_fake(float *W, size_t rows, size_t cols, const quant_cfg *q, const float *imp);

#endif
