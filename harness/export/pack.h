// pack.h — the int32 packings of the quantized checkpoint formats other runtimes load (facts
// and test vectors: ../shared/design/FORMATS.md sections 1-3). Pure functions on codes, no
// files: the writers (export/hf_quant.c), the importer (model/import.c) and the unit tests
// share them. Words are built with uint32 arithmetic and stored as the same bits in I32
// tensors (a nibble >= 8 in the top slot makes the int32 negative: that is the format).
//
// Dims legend: O = out_features (rows of W), I = in_features (cols of W), G = groups per row,
// b = bits, per = 32 / b codes per word. codes (O, I) and zeros (O, G) are the harness's
// unsigned codes (quant.h): W[o, i] = s[o, g] * (codes[o, i] - zeros[o, g]).
#ifndef AH_EXPORT_PACK_H
#define AH_EXPORT_PACK_H

#include <stddef.h>
#include <stdint.h>

// AutoAWQ GEMM (4 bits only): out (R, O/8) where R = I for qweight (src = codes, n = I) and
// R = G for qzeros (src = zeros, n = G): out[r, c] = sum_k src[8c + AWQ_ORDER[k], r] << 4k,
// AWQ_ORDER = {0, 2, 4, 6, 1, 3, 5, 7}. src is (O, n). O % 8 == 0.
void qpack_awq(uint32_t *out, const uint8_t *src, size_t O, size_t n);
// The inverse: dst (O, n) from packed (n, O/8).
void qpack_awq_unpack(uint8_t *dst, const uint32_t *packed, size_t O, size_t n);

// GPTQ qweight (b = 2, 4, 8): out (I/per, O): out[r, o] = sum_j codes[o, r*per + j] << b*j.
// I % per == 0.
void qpack_gptq_weight(uint32_t *out, const uint8_t *codes, size_t O, size_t I, int bits);
void qpack_gptq_weight_unpack(uint8_t *codes, const uint32_t *packed, size_t O, size_t I, int bits);
// GPTQ qzeros: out (G, O/per): out[g, c] = sum_j (zeros[c*per + j, g] - v1) << b*j, where
// v1 = 1 for checkpoint_format "gptq" (v1 stores z - 1; every z must be >= 1) and 0 for
// "gptq_v2". O % per == 0.
void qpack_gptq_zeros(uint32_t *out, const uint8_t *zeros, size_t O, size_t G, int bits, int v1);
void qpack_gptq_zeros_unpack(uint8_t *zeros, const uint32_t *packed, size_t O, size_t G, int bits,
                             int v1);

// compressed-tensors pack-quantized (pack_to_int32, b = 1..8): the n values src[0], src[stride],
// ... src[(n-1)*stride] as one dense bit stream, value k at bits [k*b, k*b + b) counted from the
// lowest bit of out[0] (a value may straddle two words); out gets ceil(n*b/32) words, zero
// padded. weight_packed row o: src = codes + o*I, n = I, stride 1; weight_zero_point column g
// (packed along O): src = zeros + g, n = O, stride G, written with out stride (the caller
// transposes: qpack_dense_words gives the count).
size_t qpack_dense_words(size_t n, int bits);
void qpack_dense(uint32_t *out, size_t out_stride, const uint8_t *src, size_t n, size_t stride,
                 int bits);
void qpack_dense_unpack(uint8_t *dst, size_t stride, const uint32_t *packed, size_t packed_stride,
                        size_t n, int bits);

#endif
