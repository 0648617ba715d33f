// packed_internal.h — what the GEMV kernels of packed/ share (not part of the API).
//
// Every kernel computes, for output rows [o0, o1) of one input row x (In):
//   y[o] (+)= sum_g scale[o][g] * (sum_{i in g} code[o][i] * x[i] - zero[o][g] * xs[g])
// where xs[g] = sum_{i in g} x[i] (the zero point folded out of the inner loop: one FMA per
// weight). The vector kernels read whole chunks of 8 bytes (8 * per codes) that start at a
// multiple of 8 bytes in the row; a group's channels before its first whole chunk and after
// its last one go through the scalar loop. xp is x reordered within each whole chunk so that
// "plane" k of a chunk (the k-th code of each of its 8 bytes) meets 8 consecutive floats:
//   xp[c*CH + k*8 + j] = x[c*CH + per*j + k],   CH = 8 * per.
// The AVX-512 kernel reads steps of 16 bytes instead, with x reordered for 16 lanes:
//   xq[c*CH + k*16 + j] = x[c*CH + per*j + k],  CH = 16 * per.
#ifndef AH_PACKED_INTERNAL_H
#define AH_PACKED_INTERNAL_H

#include "packed/packed.h"

#if defined(__x86_64__)
#include "core/avx2.h"

// One row's zero-point term of the vector kernels: the sum over its G groups of
// scale * zero * (group sum of x), eight groups a step. Subtracted once per row instead of a
// scalar multiply-subtract per group in the group loop (whose scalar work, loads and
// conversions took about 5% of the linears' time on TinyLlama's shape); every path of a kernel
// calls it, so a row's result does not depend on which path computed it.
AH_AVX2 static inline float packed_zero_dot(const float *s, const uint8_t *z, const float *xs,
                                            int G) {
    __m256 a = _mm256_setzero_ps();
    int g = 0;
    for (; g + 8 <= G; g += 8) {
        __m256i zi = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(z + g)));
        __m256 sz = _mm256_mul_ps(_mm256_loadu_ps(s + g), _mm256_cvtepi32_ps(zi));
        a = _mm256_fmadd_ps(sz, _mm256_loadu_ps(xs + g), a);
    }
    float r = ah_hsum8(a);
    for (; g < G; g++) r += s[g] * (float)z[g] * xs[g];
    return r;
}

// The prefetch of a row pair's group: its gbytes bytes at offset off in both rows of the pair
// `ahead` bytes (packed_prefetch_ahead) past row q. The hardware prefetcher alone left a core's
// loop waiting on memory (a 4096 x 4096 4-bit linear ran at 2/3 of its cache-resident speed
// when read from DRAM, at the same speed with the prefetch). A prefetch past the last row is
// harmless (it never faults).
static inline void packed_prefetch_pair(const uint8_t *q, size_t ahead, size_t row_bytes,
                                        size_t off, int gbytes) {
    for (int l = 0; l < gbytes; l += 64) {
        _mm_prefetch((const char *)(q + ahead + off + l), _MM_HINT_T0);
        _mm_prefetch((const char *)(q + ahead + row_bytes + off + l), _MM_HINT_T0);
    }
}
#endif

// How far ahead of a row pair the GEMV kernels prefetch, in bytes: the first pair of rows that
// starts at least 2 KiB ahead (the next pair where rows are 1 KiB or longer). The next pair
// alone was too close to hide the memory's latency behind SmolLM2's 288-byte rows, and a
// prefetch that swept the bytes 2 KiB ahead in order cost the longer rows: linears of one
// token at 2 threads (bench/packed_gemm --rows 1 [--dim 2048 --ffn 5632 --kv 256 --layers
// 22], 3 alternating rounds, Intel Xeon, 2026-12-07), next pair / sweep / this: AVX-512
// SmolLM2-shaped 4.23-4.31 / 3.46-3.67 / 3.46-3.57 ms (the first without the table permute of
// packed_avx512.c), TinyLlama-shaped 25.6-27.2 / 26.4-27.5 / 24.4-25.3; AVX2 SmolLM2-shaped
// 4.64-4.72 (next pair) / 4.01-4.23 (this).
static inline size_t packed_prefetch_ahead(size_t row_bytes) {
    size_t pairs = (2048 + 2 * row_bytes - 1) / (2 * row_bytes);
    return 2 * pairs * row_bytes;
}

// Codes per byte and the bits of each slot (quant_pack's layout).
static inline int packed_per_byte(int bits) { return bits <= 2 ? 4 : bits <= 4 ? 2 : 1; }

// Code i of a packed row.
static inline unsigned packed_code(const uint8_t *row, int i, int per) {
    int slot = 8 / per;
    return ((unsigned)row[i / per] >> ((i % per) * slot)) & ((1u << slot) - 1u);
}

// sum_{i in [a, b)} code_i * x_i, serially (the scalar ends of a group).
static inline float packed_dot_scalar(const uint8_t *row, const float *x, int a, int b, int per) {
    float s = 0.0f;
    for (int i = a; i < b; i++) s += (float)packed_code(row, i, per) * x[i];
    return s;
}

void packed_rows_avx2(float *y, int accumulate, const packed_linear *p, int o0, int o1,
                      const float *x, const float *xp, const float *xs);
// The same for GEMV_ROWS consecutive input rows at once: x and xp (GEMV_ROWS, In), xs
// (GEMV_ROWS, groups), y (GEMV_ROWS, ldy). Each chunk's codes are widened once for all rows.
#define GEMV_ROWS 4
void packed_rows_avx2_multi(float *y, int ldy, int accumulate, const packed_linear *p, int o0,
                            int o1, const float *x, const float *xp, const float *xs);
// out (n, cols) = w_hat of rows [r0, r0 + n), vectorised (bit for bit packed_linear_dequant's).
void packed_dequant_avx2(float *out, const packed_linear *p, int r0, int n);
// 1 when the AVX-512 kernel takes p: every group is whole steps of 16 bytes (gsize and cols
// multiples of 16 * per); the AVX2 kernel takes the rest.
int packed_avx512_fits(const packed_linear *p);
// out (n, cols) = w_hat of rows [r0, r0 + n), 16 lanes at a time (bit for bit
// packed_linear_dequant's); only where packed_avx512_fits(p).
void packed_dequant_avx512(float *out, const packed_linear *p, int r0, int n);
// Output rows [o0, o1) of one input row, x reordered for 16 lanes in xq (above), xs its group
// sums; only where packed_avx512_fits(p).
void packed_rows_avx512(float *y, int accumulate, const packed_linear *p, int o0, int o1,
                        const float *xq, const float *xs);

#endif
