// packed_avx2.c — the AVX2 + FMA GEMV kernel of packed linears (packed_internal.h).
//
// Compiled for AVX2 + FMA by a target attribute (the rest of the build is x86-64 baseline);
// packed_gemv calls it only when the CPU has both. Per whole chunk of 8 bytes: one 64-bit
// load, then per plane k (per = 1, 2 or 4 planes) a shift and mask of the bytes, widening of
// 8 codes to int32 and float, and one FMA with 8 reordered floats of x.
#include "packed/packed_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))

AVX2 static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// acc += codes of plane k of the 8 bytes in b (as floats) * xp (8).
#define PLANE(acc, b, shift, mask, xp)                                                        \
    acc = _mm256_fmadd_ps(                                                                    \
        _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_and_si128(_mm_srli_epi16(b, shift), mask))), \
        _mm256_loadu_ps(xp), acc)

// sum over the whole chunks in [c0, c1) (multiples of CH) of code * x, in one vector.
// PER codes a byte: a compile-time constant in each instantiation, so the planes unroll.
#define CHUNKS(PER)                                                                           \
    AVX2 static __m256 chunks_##PER(const uint8_t *q, const float *xp, int c0, int c1) {      \
        const int CH = 8 * PER, slot = 8 / PER;                                               \
        const __m128i mask = _mm_set1_epi8((char)((1 << slot) - 1));                          \
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();                            \
        for (int c = c0; c < c1; c += CH) {                                                   \
            __m128i b = _mm_loadl_epi64((const __m128i *)(q + c / PER));                      \
            for (int k = 0; k < PER; k += 2) {                                                \
                PLANE(a0, b, k * slot, mask, xp + c + k * 8);                                 \
                if (k + 1 < PER) PLANE(a1, b, (k + 1) * slot, mask, xp + c + (k + 1) * 8);    \
            }                                                                                 \
        }                                                                                     \
        return _mm256_add_ps(a0, a1);                                                         \
    }
CHUNKS(1)
CHUNKS(2)
CHUNKS(4)

AVX2 void packed_rows_avx2(float *y, int accumulate, const packed_linear *p, int o0, int o1,
                           const float *x, const float *xp, const float *xs) {
    const int per = packed_per_byte(p->bits), CH = 8 * per;
    for (int o = o0; o < o1; o++) {
        const uint8_t *q = p->q + (size_t)o * p->row_bytes;
        const float *sc = p->scale + (size_t)o * p->groups;
        const uint8_t *zr = p->zero + (size_t)o * p->groups;
        __m256 rowv = _mm256_setzero_ps();
        float rows = 0.0f;
        for (int g = 0; g < p->groups; g++) {
            int a = g * p->gsize, b = a + p->gsize < p->cols ? a + p->gsize : p->cols;
            int c0 = (a + CH - 1) / CH * CH, c1 = b / CH * CH;   // whole chunks [c0, c1)
            float s = sc[g], tail;
            if (c0 >= c1) {   // no whole chunk in this group
                tail = packed_dot_scalar(q, x, a, b, per);
            } else {
                tail = packed_dot_scalar(q, x, a, c0, per) + packed_dot_scalar(q, x, c1, b, per);
                __m256 v = per == 1   ? chunks_1(q, xp, c0, c1)
                           : per == 2 ? chunks_2(q, xp, c0, c1)
                                      : chunks_4(q, xp, c0, c1);
                rowv = _mm256_fmadd_ps(v, _mm256_set1_ps(s), rowv);
            }
            rows += s * (tail - (float)zr[g] * xs[g]);
        }
        float acc = hsum8(rowv) + rows;
        y[o] = accumulate ? y[o] + acc : acc;
    }
}

#else
void packed_rows_avx2(float *y, int accumulate, const packed_linear *p, int o0, int o1,
                      const float *x, const float *xp, const float *xs) {
    (void)y; (void)accumulate; (void)p; (void)o0; (void)o1; (void)x; (void)xp; (void)xs;
}
#endif
