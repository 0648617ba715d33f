// imatrix.h — importance-weighted symmetric quantization, as llama.cpp's llama-quantize does it
// with an importance matrix (--imatrix) for Q4_0 (docs/IMATRIX.md).
//
// Per output row of W, in groups of g input channels (quant.h's grouping: g > 0 gives
// ceil(cols / g) groups, the last one shorter when g does not divide cols; g = -1 one group per
// row), each group's (scale, zero) is the one of a small candidate set that minimises the
// squared error weighted by
//   weight[j] = imp[j] * sqrt(sigma2 + w[j]^2),   sigma2 = mean of w^2 over the whole row,
// where imp[j] >= 0 is the importance of input channel j: the calibration mean of x_j^2 (x = the
// linear's input), what llama-imatrix collects. For every kind
//   w_hat = (code - zero) * scale,  code unsigned in [0, 2^b - 1], zero an integer code
// as for the quantizers of quant.h (quant_dequant reproduces quant_imatrix_fake bit for bit).
//   QUANT_RTN     symmetric, llama.cpp's make_qx_quants (Q4_0 with an imatrix): levels
//                 l in [-2^(b-1), 2^(b-1) - 1], code = l + 2^(b-1), zero = 2^(b-1). The scale
//                 may be NEGATIVE: llama.cpp puts the group's largest-|w| value on the extra
//                 level -2^(b-1) (d = max / -2^(b-1)). A group whose scale is 0 (all weights
//                 below 1e-15 in magnitude, or all importances 0) stores codes = zero.
//   QUANT_MINMAX  asymmetric, llama.cpp's make_qkx3_quants (Q4_1 with an imatrix) adapted to an
//                 integer zero point (imatrix_asym.c): scale > 0 (or 0 for an all-zero group),
//                 zero in [0, 2^b - 1], code = clamp(rint(w / scale) + zero, 0, 2^b - 1).
// imp == NULL means all ones (llama.cpp would use its unweighted reference quantizer instead).
// Other kinds (QUANT_GPTQ_RTN) are refused (return -1).
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
