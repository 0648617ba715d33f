// packed_avx512.c — the AVX-512 GEMV kernel of packed linears (packed_internal.h).
//
// Compiled only when the compiler targets AVX-512F (e.g. make OPT="-O2 -march=native" on a
// machine that has it): the default build is x86-64 baseline and has no AVX-512 kernel.
// Two whole chunks (16 bytes) per step: one vpmovzxbd widens the 16 bytes to 16 int32 lanes,
// then plane k of both chunks is a 512-bit shift and mask of the lanes (as packed_avx2.c:
// one widening per step, not per plane), converted to 16 floats, which meet the 8 + 8
// reordered floats of x that the two chunks' plane k uses; an odd last chunk takes the
// 256-bit step.
#include "packed/packed_internal.h"

#if defined(__x86_64__) && defined(__AVX512F__)
#include <immintrin.h>

static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// 8 floats at lo and 8 at hi as one vector.
static inline __m512 load_2x8(const float *lo, const float *hi) {
    __m512d v = _mm512_castpd256_pd512(_mm256_castps_pd(_mm256_loadu_ps(lo)));
    return _mm512_castpd_ps(_mm512_insertf64x4(v, _mm256_castps_pd(_mm256_loadu_ps(hi)), 1));
}

// Plane k (of per) of widened bytes as floats: (w >> k * slot) & (2^slot - 1), the same
// codes as a shift and mask of the bytes before widening.
static inline __m512 plane16(__m512i w, int k, int per) {
    const int slot = 8 / per;
    __m512i v = _mm512_srl_epi32(w, _mm_cvtsi32_si128(k * slot));
    if (k + 1 < per) v = _mm512_and_si512(v, _mm512_set1_epi32((1 << slot) - 1));
    return _mm512_cvtepi32_ps(v);
}

static inline __m256 plane8(__m256i w, int k, int per) {
    const int slot = 8 / per;
    __m256i v = _mm256_srl_epi32(w, _mm_cvtsi32_si128(k * slot));
    if (k + 1 < per) v = _mm256_and_si256(v, _mm256_set1_epi32((1 << slot) - 1));
    return _mm256_cvtepi32_ps(v);
}

static __m256 chunks(const uint8_t *q, const float *xp, int c0, int c1, int per) {
    const int CH = 8 * per;
    __m512 a = _mm512_setzero_ps();
    __m256 a8 = _mm256_setzero_ps();
    int c = c0;
    for (; c + 2 * CH <= c1; c += 2 * CH) {
        // chunks c, c + CH: 16 bytes, one lane each
        __m512i w = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(q + c / per)));
        for (int k = 0; k < per; k++)
            a = _mm512_fmadd_ps(plane16(w, k, per), load_2x8(xp + c + k * 8, xp + c + CH + k * 8), a);
    }
    if (c < c1) {
        __m256i w = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(q + c / per)));
        for (int k = 0; k < per; k++)
            a8 = _mm256_fmadd_ps(plane8(w, k, per), _mm256_loadu_ps(xp + c + k * 8), a8);
    }
    __m256 lo = _mm512_castps512_ps256(a);
    __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1));
    return _mm256_add_ps(_mm256_add_ps(lo, hi), a8);
}

void packed_rows_avx512(float *y, int accumulate, const packed_linear *p, int o0, int o1,
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
            int c0 = (a + CH - 1) / CH * CH, c1 = b / CH * CH;
            float s = sc[g], tail;
            if (c0 >= c1) {
                tail = packed_dot_scalar(q, x, a, b, per);
            } else {
                tail = packed_dot_scalar(q, x, a, c0, per) + packed_dot_scalar(q, x, c1, b, per);
                rowv = _mm256_fmadd_ps(chunks(q, xp, c0, c1, per), _mm256_set1_ps(s), rowv);
            }
            rows += s * (tail - (float)zr[g] * xs[g]);
        }
        float acc = hsum8(rowv) + rows;
        y[o] = accumulate ? y[o] + acc : acc;
    }
}

#else
void packed_rows_avx512(float *y, int accumulate, const packed_linear *p, int o0, int o1,
                        const float *x, const float *xp, const float *xs) {
    (void)y; (void)accumulate; (void)p; (void)o0; (void)o1; (void)x; (void)xp; (void)xs;
}
#endif
