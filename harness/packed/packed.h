// packed.h — linears computed from their packed integer codes, per-group scales and zeros.
//
// A packed linear holds W (O, In) as the quantizer's codes, never as fp32:
//   w_hat[o][i] = (code[o][i] - zero[o][g]) * scale[o][g],   g = i / group
// (quant.h; every quantizer kind, symmetric RTN included, is unsigned codes with a zero code),
// which is exactly the fake-quantized fp32 weight the rest of the harness evaluates.
// Codes are packed as quant_pack lays them out (the export's NAME.qweight, row by row):
// floor(8 / b) codes per byte, first code in the lowest bits, slots of 8 / per bits:
//   b = 2: 4 codes a byte (2-bit slots)   b = 3, 4: 2 codes a byte (4-bit slots)
//   b = 5..8: 1 code a byte.
// So a 3-bit linear takes as many bytes as a 4-bit one (the export's layout, loaded as is).
//
// Two paths compute y (N, O) = x (N, In) @ w_hat^T:
//   GEMV (N small: decoding): each output row's codes are read once per input row, expanded
//     to floats in registers and multiplied by x; per group, sum_i (code_i - zero) * x_i is
//     accumulated, then scaled. Meant to be bound by reading the codes; on the project's
//     2-core machine converting them to floats and the FMAs bound it (docs/PACKED.md).
//     Kernels: portable C, AVX2 + FMA and AVX-512F (both chosen at run time; the AVX-512 one
//     takes linears whose groups are whole 16-byte steps, the AVX2 one the rest). The vector
//     kernels widen each 8 (16) bytes of codes to int32 lanes once and take each code plane
//     from them by a shift, then a mask and conversion (AVX2) or one table permute (AVX-512,
//     codes of 4 bits or fewer). The AVX2 kernel takes 4 input rows at a time where there
//     are 4 (a prompt of 4 to 7 tokens): converting the codes to floats, not reading them,
//     is then the cost, paid once for 4 rows.
//   GEMM (N large: prefill, perplexity): a tile of rows of w_hat is dequantized into a
//     cache-resident fp32 buffer (the same values the fake-quant model holds, bit for bit),
//     then OpenBLAS multiplies it, one tile per thread; from PACKED_WHOLE_ROWS rows on, the
//     whole w_hat and one sgemm on OpenBLAS's threads.
// The GEMV sums in another order than the fp32 GEMM, so results agree to float rounding; the
// GEMM path's products are those of fp32 GEMMs over the same weights.
#ifndef AH_PACKED_H
#define AH_PACKED_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef struct packed_linear {
    int rows, cols;        // O, In
    int bits;              // 2..8
    int group;             // > 0, or -1 (QUANT_GROUP_ROW): one group per row
    int groups;            // groups per row: ceil(cols / group), 1 for per-row
    int gsize;             // channels per group (cols for per-row)
    size_t row_bytes;      // quant_packed_size(cols, bits)
    uint8_t *q;            // (rows, row_bytes) packed codes
    float *scale;          // (rows, groups)
    uint8_t *zero;         // (rows, groups) the code that represents 0.0
} packed_linear;

// Storage for a rows x cols linear of `bits` bits and group size `group`, codes zeroed.
packed_linear *packed_linear_new(int rows, int cols, int bits, int group, ah_err *e);
void packed_linear_free(packed_linear *p);   // NULL-safe
// Bytes held: codes + scales + zeros (what a model's resident weights are compared with).
size_t packed_linear_bytes(const packed_linear *p);

// Rows [r0, r0 + n) from unpacked codes (n, cols) (one byte per code, < 2^bits), scale and
// zero (n, groups) as quant_codes gives them (zero: an exact integer code, as a float).
void packed_linear_set_rows(packed_linear *p, int r0, int n, const uint8_t *codes,
                            const float *scale, const float *zero);

// out (n, cols) = w_hat of rows [r0, r0 + n) in fp32: (code - zero) * scale, rounded after
// the subtraction and after the multiplication (quant_dequant's values, bit for bit), with the
// best kernel (AVX-512 where the CPU has it and the linear fits it, else AVX2 when the CPU
// has it), or with kernel k (PACKED_PORTABLE: scalar C).
typedef enum { PACKED_AUTO, PACKED_PORTABLE, PACKED_AVX2, PACKED_AVX512 } packed_kernel;
void packed_linear_dequant(float *out, const packed_linear *p, int r0, int n);
void packed_linear_dequant_with(float *out, const packed_linear *p, int r0, int n,
                                packed_kernel k);

// The GEMV kernel PACKED_AUTO picks on this machine (AH_PACKED_KERNEL=portable|avx2|avx512
// forces one; an unavailable one falls back to portable).
packed_kernel packed_kernel_auto(void);
// 1 when kernel k was compiled in and the CPU runs it.
int packed_kernel_available(packed_kernel k);
const char *packed_kernel_name(packed_kernel k);

// y (N, O) (+)= x (N, In) @ w_hat^T (O, In): the GEMV path, N rows one after the other (the
// AVX2 kernel: 4 at a time, then the rest one by one), OpenMP over output rows. accumulate:
// y += instead of y =. scratch: packed_gemv_scratch(p) floats (x of 4 rows reordered to the
// codes' order within a byte, and their sums of x per group).
size_t packed_gemv_scratch(const packed_linear *p);
void packed_gemv(float *y, const float *x, const packed_linear *p, int N, int accumulate,
                 packed_kernel k, float *scratch);
// y[j] (N, O_j) (+)= x (N, In) @ w_hat_j^T for n linears p[j] that read the same x (q, k, v;
// gate, up): each row exactly as packed_gemv computes it, but x is reordered and summed per
// group once for all n, and one OpenMP loop covers the rows of all n (one parallel region
// per input row instead of n, no serial preparation between them). Linears whose input
// layouts differ (width, codes a byte, groups) are computed one after the other.
// scratch: the largest packed_gemv_scratch of p.
void packed_gemv_shared(float *const *y, const float *x, const packed_linear *const *p, int n,
                        int N, int accumulate, packed_kernel k, float *scratch);

// The GEMM path: tiles of w_hat dequantized into scratch, then cblas_sgemm per tile, OpenMP
// over tiles; from PACKED_WHOLE_ROWS input rows on, the whole w_hat (rows x cols floats of
// scratch) and one cblas_sgemm. scratch holds packed_scratch(p) floats (packed_gemm_scratch(p)
// per thread, omp_get_max_threads, for the tiles).
#define PACKED_WHOLE_ROWS 256
size_t packed_gemm_scratch(const packed_linear *p);
void packed_gemm(float *y, const float *x, const packed_linear *p, int N, int accumulate,
                 float *scratch);

// Picks the path: GEMV below PACKED_GEMM_ROWS input rows, else GEMM. scratch holds
// packed_scratch(p) floats: enough for either path (and the whole-linear GEMM, whose pages are
// touched only by PACKED_WHOLE_ROWS input rows or more). AH_PACKED_PATH=gemv|gemm forces one.
#define PACKED_GEMM_ROWS 8
size_t packed_scratch(const packed_linear *p);
void packed_linear_apply(float *y, const float *x, const packed_linear *p, int N,
                         int accumulate, float *scratch);
// packed_linear_apply of n linears that read the same x: packed_gemv_shared on the GEMV path,
// else packed_gemm of each. scratch: the largest packed_scratch of p.
void packed_linear_apply_shared(float *const *y, const float *x, const packed_linear *const *p,
                                int n, int N, int accumulate, float *scratch);

// The naive reference of both paths: w_hat row by row, dot products in double, for tests.
// -1 when out of memory.
int packed_reference(float *y, const float *x, const packed_linear *p, int N);

#endif
