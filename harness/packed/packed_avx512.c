// packed_avx512.c — the AVX-512 GEMV kernel of packed linears (packed_internal.h).
//
// Compiled for AVX-512F by a target attribute, as packed_avx2.c is for AVX2 (the rest of the
// build stays baseline x86-64); packed_gemv runs it where the CPU has AVX-512F and the linear's
// groups are whole steps (packed_avx512_fits), the AVX2 kernel elsewhere. A step is 16 bytes
// of one row: one vpmovzxbd widens them to 16 int32 lanes, then per plane k (per = 1, 2 or 4
// codes a byte) a 512-bit shift and a table permute give that plane's 16 codes as floats
// (plane16; 8-bit codes: one conversion), and one FMA meets them with 16 consecutive floats of
// x reordered for 16 lanes (packed_internal.h, lanes = 16). Against the AVX2 kernel a step
// does twice the codes per instruction: on a 2-core AVX-512 Xeon, where the AVX2 kernel was
// bound by those instructions rather than by memory, TinyLlama-shaped linears took 26.3-28.2
// ms a token against 30.3-33.8 (docs/PACKED.md, "Two paths").
//
// Every group is whole steps (a last partial group too: SmolLM2's 576 = 4.5 x 128 ends in a
// group of 64 codes, 2 steps at 4 bits), so there are no scalar ends: per group, the steps
// alternate between two accumulators, whose sum is scaled into the row's vector; the zero
// points are one dot per row at the end (packed_zero_dot, shared with the AVX2 kernel). A
// row's operations do not depend on its neighbours (rows run two at a time only to overlap
// their memory reads), so a row in a pair gives what it gives alone, bit for bit
// (test_pair_rows).
#include "packed/packed_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx2,fma")))
#define STEP 16   // bytes of a row a step

int packed_avx512_fits(const packed_linear *p) {
    const int per = packed_per_byte(p->bits);
    return p->gsize % (STEP * per) == 0 && p->cols % (STEP * per) == 0;
}

// The 16 bytes at q, each widened to an int32 lane.
AVX512 static inline __m512i widen16(const uint8_t *q) {
    return _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)q));
}

// Plane k (of per) of the widened bytes w as 16 floats: (w >> k * slot) & (2^slot - 1).
// Codes of 4 bits or fewer (per = 2 or 4) are looked up, not converted: vpermps reads only the
// low 4 bits of each lane, so one permute from a table of the floats 0..15 (per = 2; for per
// = 4, index & 3) does the mask and the conversion at once, the same floats bit for bit. One
// instruction fewer a plane: SmolLM2-shaped linears 4.25-4.74 -> 4.01-4.19 ms a token at 2
// threads (bench/packed_gemm --rows 1, 3 alternating rounds).
AVX512 static inline __m512 plane16(__m512i w, int k, int per) {
    const int slot = 8 / per;
    __m512i v = k ? _mm512_srli_epi32(w, (unsigned)(k * slot)) : w;
    if (per == 2)
        return _mm512_permutexvar_ps(
            v, _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    if (per == 4)
        return _mm512_permutexvar_ps(
            v, _mm512_setr_ps(0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3));
    return _mm512_cvtepi32_ps(v);   // 8-bit codes: one plane, the whole byte
}

// acc += the step of 16 bytes at q with x reordered at xq (16 * PER floats).
#define STEP_FMA(acc, q, xq, PER)                                                             \
    do {                                                                                      \
        __m512i w_ = widen16(q);                                                              \
        _Pragma("GCC unroll 4") for (int k_ = 0; k_ < PER; k_++)                              \
            acc = _mm512_fmadd_ps(plane16(w_, k_, PER), _mm512_loadu_ps((xq) + k_ * 16), acc); \
    } while (0)

// One group of one row: n steps from byte q (x reordered at xq), even steps into one
// accumulator and odd ones into the other, their sum returned. NI > 0: n = NI, a constant (the
// loop unrolls); NI = 0: any n.
#define GROUP(PER, NI)                                                                        \
    AVX512 static inline __m512 group_##PER##_##NI(const uint8_t *q, const float *xq, int n) { \
        const int steps = NI ? NI : n;                                                        \
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();                            \
        int j = 0;                                                                            \
        _Pragma("GCC unroll 8") for (; j + 2 <= steps; j += 2) {                              \
            STEP_FMA(a0, q + j * STEP, xq + j * STEP * PER, PER);                             \
            STEP_FMA(a1, q + (j + 1) * STEP, xq + (j + 1) * STEP * PER, PER);                 \
        }                                                                                     \
        if (j < steps) STEP_FMA(a0, q + j * STEP, xq + j * STEP * PER, PER);                  \
        return _mm512_add_ps(a0, a1);                                                         \
    }

// Output row o's sum over its groups, written to y[o] (added with accumulate).
#define ROW_END(o, rowv, sc, zr)                                                              \
    do {                                                                                      \
        float acc_ = _mm512_reduce_add_ps(rowv) - packed_zero_dot(sc, zr, xs, G);           \
        y[o] = accumulate ? y[o] + acc_ : acc_;                                               \
    } while (0)

// Output rows [o0, o1), two at a time (their group loops interleaved), an odd last row alone.
// As this pair reads a group, the same group of the pair packed_prefetch_ahead bytes further
// is prefetched (packed_prefetch_pair, as the AVX2 kernel does).
#define ROWS(PER, NI)                                                                         \
    AVX512 static void rows_##PER##_##NI(float *y, int accumulate, const packed_linear *p,    \
                                         int o0, int o1, const float *xq, const float *xs) {  \
        const int G = p->groups, gbytes = p->gsize / PER, n = gbytes / STEP;                  \
        /* whole groups, then a last partial one of n_last steps (none: n_last = 0) */        \
        const int whole = p->cols / p->gsize, n_last = (p->cols - whole * p->gsize) / PER / STEP; \
        const size_t rb = p->row_bytes;                                                       \
        const size_t ahead = packed_prefetch_ahead(rb);                                       \
        int o = o0;                                                                           \
        for (; o + 1 < o1; o += 2) {                                                          \
            const uint8_t *q = p->q + (size_t)o * rb, *q1 = q + rb;                           \
            const float *sc = p->scale + (size_t)o * G, *sc1 = sc + G;                        \
            const uint8_t *zr = p->zero + (size_t)o * G, *zr1 = zr + G;                       \
            __m512 rowv = _mm512_setzero_ps(), rowv1 = _mm512_setzero_ps();                   \
            for (int g = 0; g < G; g++) {                                                     \
                const size_t off = (size_t)g * gbytes;                                        \
                packed_prefetch_pair(q, ahead, rb, off, gbytes);                              \
                const float *xg = xq + off * PER;                                             \
                __m512 v, v1;                                                                 \
                if (g < whole) {                                                              \
                    v = group_##PER##_##NI(q + off, xg, n);                                   \
                    v1 = group_##PER##_##NI(q1 + off, xg, n);                                 \
                } else {                                                                      \
                    v = group_##PER##_0(q + off, xg, n_last);                                 \
                    v1 = group_##PER##_0(q1 + off, xg, n_last);                               \
                }                                                                             \
                rowv = _mm512_fmadd_ps(v, _mm512_set1_ps(sc[g]), rowv);                       \
                rowv1 = _mm512_fmadd_ps(v1, _mm512_set1_ps(sc1[g]), rowv1);                   \
            }                                                                                 \
            ROW_END(o, rowv, sc, zr);                                                         \
            ROW_END(o + 1, rowv1, sc1, zr1);                                                  \
        }                                                                                     \
        for (; o < o1; o++) {                                                                 \
            const uint8_t *q = p->q + (size_t)o * rb;                                         \
            const float *sc = p->scale + (size_t)o * G;                                       \
            const uint8_t *zr = p->zero + (size_t)o * G;                                      \
            __m512 rowv = _mm512_setzero_ps();                                                \
            for (int g = 0; g < G; g++) {                                                     \
                const size_t off = (size_t)g * gbytes;                                        \
                __m512 v = g < whole ? group_##PER##_##NI(q + off, xq + off * PER, n)         \
                                     : group_##PER##_0(q + off, xq + off * PER, n_last);      \
                rowv = _mm512_fmadd_ps(v, _mm512_set1_ps(sc[g]), rowv);                       \
            }                                                                                 \
            ROW_END(o, rowv, sc, zr);                                                         \
        }                                                                                     \
    }

GROUP(1, 0)
GROUP(1, 2)
GROUP(1, 4)
GROUP(1, 8)
GROUP(2, 0)
GROUP(2, 1)
GROUP(2, 2)
GROUP(2, 4)
GROUP(4, 0)
GROUP(4, 1)
GROUP(4, 2)
ROWS(1, 0)   // 8-bit codes (5..8 bits): groups of 32, 64 or 128 as constants, else any
ROWS(1, 2)
ROWS(1, 4)
ROWS(1, 8)
ROWS(2, 0)   // 3- and 4-bit codes: groups of 32, 64, 128
ROWS(2, 1)
ROWS(2, 2)
ROWS(2, 4)
ROWS(4, 0)   // 2-bit codes: groups of 64, 128
ROWS(4, 1)
ROWS(4, 2)

typedef void (*rows_kernel)(float *, int, const packed_linear *, int, int, const float *,
                            const float *);
// The row kernels by codes a byte (PER) and steps a group (NI; 0: any number of steps).
static const rows_kernel ROWS_KERNELS[5][9] = {
    [1] = {[0] = rows_1_0, [2] = rows_1_2, [4] = rows_1_4, [8] = rows_1_8},
    [2] = {[0] = rows_2_0, [1] = rows_2_1, [2] = rows_2_2, [4] = rows_2_4},
    [4] = {[0] = rows_4_0, [1] = rows_4_1, [2] = rows_4_2},
};

AVX512 void packed_rows_avx512(float *y, int accumulate, const packed_linear *p, int o0, int o1,
                               const float *xq, const float *xs) {
    const int per = packed_per_byte(p->bits), ni = p->gsize / (STEP * per);
    rows_kernel rows = ni <= 8 && ROWS_KERNELS[per][ni] ? ROWS_KERNELS[per][ni]
                                                        : ROWS_KERNELS[per][0];
    rows(y, accumulate, p, o0, o1, xq, xs);
}

// out[0, 16 * per) = (codes of the 16 bytes at q, in order - z) * s: quant_dequant's
// subtraction and multiplication, each rounded, so bit for bit the same. The codes are put in
// order as bytes first (nibbles or 2-bit slots interleaved, as packed_avx2.c's dequant_chunk
// does for 8 bytes), then each 16 of them widened to 16 floats.
AVX512 static inline void dequant_step(float *out, const uint8_t *q, int per, __m512 z, __m512 s) {
    __m128i b = _mm_loadu_si128((const __m128i *)q), in_order[4];
    if (per == 1) {
        in_order[0] = b;
    } else if (per == 2) {
        const __m128i m = _mm_set1_epi8(0x0F);
        __m128i lo = _mm_and_si128(b, m), hi = _mm_and_si128(_mm_srli_epi16(b, 4), m);
        in_order[0] = _mm_unpacklo_epi8(lo, hi);
        in_order[1] = _mm_unpackhi_epi8(lo, hi);
    } else {
        const __m128i m = _mm_set1_epi8(0x03);
        __m128i p0 = _mm_and_si128(b, m), p1 = _mm_and_si128(_mm_srli_epi16(b, 2), m);
        __m128i p2 = _mm_and_si128(_mm_srli_epi16(b, 4), m);
        __m128i p3 = _mm_and_si128(_mm_srli_epi16(b, 6), m);
        __m128i a01 = _mm_unpacklo_epi8(p0, p1), a23 = _mm_unpacklo_epi8(p2, p3);
        __m128i b01 = _mm_unpackhi_epi8(p0, p1), b23 = _mm_unpackhi_epi8(p2, p3);
        in_order[0] = _mm_unpacklo_epi16(a01, a23);
        in_order[1] = _mm_unpackhi_epi16(a01, a23);
        in_order[2] = _mm_unpacklo_epi16(b01, b23);
        in_order[3] = _mm_unpackhi_epi16(b01, b23);
    }
    for (int v = 0; v < per; v++) {
        __m512 c = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(in_order[v]));
        _mm512_storeu_ps(out + 16 * v, _mm512_mul_ps(_mm512_sub_ps(c, z), s));
    }
}

AVX512 void packed_dequant_avx512(float *out, const packed_linear *p, int r0, int n) {
    const int per = packed_per_byte(p->bits), G = p->groups, gbytes = p->gsize / per;
    for (int r = 0; r < n; r++) {
        size_t o = (size_t)(r0 + r);
        const uint8_t *q = p->q + o * p->row_bytes;
        float *w = out + (size_t)r * p->cols;
        for (int g = 0; g < G; g++) {
            __m512 z = _mm512_set1_ps((float)p->zero[o * G + g]);
            __m512 s = _mm512_set1_ps(p->scale[o * G + g]);
            int end = (g + 1) * gbytes < (int)p->row_bytes ? (g + 1) * gbytes : (int)p->row_bytes;
            for (int b = g * gbytes; b < end; b += STEP)   // the last group may be partial
                dequant_step(w + (size_t)b * per, q + b, per, z, s);
        }
    }
}

#else
void packed_dequant_avx512(float *out, const packed_linear *p, int r0, int n) {
    (void)out; (void)p; (void)r0; (void)n;
}
int packed_avx512_fits(const packed_linear *p) {
    (void)p;
    return 0;
}
void packed_rows_avx512(float *y, int accumulate, const packed_linear *p, int o0, int o1,
                        const float *xq, const float *xs) {
    (void)y; (void)accumulate; (void)p; (void)o0; (void)o1; (void)xq; (void)xs;
}
#endif
