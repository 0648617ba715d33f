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
        __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();                            \
        int c = c0;                                                                           \
        /* two chunks a step into four accumulators: four FMA chains hide its latency */     \
        for (; c + 2 * CH <= c1; c += 2 * CH) {                                               \
            __m128i b = _mm_loadl_epi64((const __m128i *)(q + c / PER));                      \
            __m128i d = _mm_loadl_epi64((const __m128i *)(q + (c + CH) / PER));               \
            for (int k = 0; k < PER; k += 2) {                                                \
                PLANE(a0, b, k * slot, mask, xp + c + k * 8);                                 \
                PLANE(a2, d, k * slot, mask, xp + c + CH + k * 8);                            \
                if (k + 1 < PER) {                                                            \
                    PLANE(a1, b, (k + 1) * slot, mask, xp + c + (k + 1) * 8);                 \
                    PLANE(a3, d, (k + 1) * slot, mask, xp + c + CH + (k + 1) * 8);            \
                }                                                                             \
            }                                                                                 \
        }                                                                                     \
        for (; c < c1; c += CH) {                                                             \
            __m128i b = _mm_loadl_epi64((const __m128i *)(q + c / PER));                      \
            for (int k = 0; k < PER; k += 2) {                                                \
                PLANE(a0, b, k * slot, mask, xp + c + k * 8);                                 \
                if (k + 1 < PER) PLANE(a1, b, (k + 1) * slot, mask, xp + c + (k + 1) * 8);    \
            }                                                                                 \
        }                                                                                     \
        return _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));                   \
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

// The same sums for GEMV_ROWS input rows at once: a[t] = sum over the whole chunks in [c0, c1)
// of code * xp[t]. Each plane's 8 codes are widened to floats once and multiplied with every
// row, so a short prompt pays the widening once per GEMV_ROWS tokens instead of per token (or
// per weight of a dequantized tile): with few rows that widening, not the FMAs, is the cost.
#define CHUNKS_ROWS(PER)                                                                      \
    AVX2 static void chunks_rows_##PER(__m256 a[GEMV_ROWS], const uint8_t *q,                 \
                                       const float *xp, int ldx, int c0, int c1) {            \
        const int CH = 8 * PER, slot = 8 / PER;                                               \
        const __m128i mask = _mm_set1_epi8((char)((1 << slot) - 1));                          \
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();                            \
        __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();                            \
        const float *x0 = xp, *x1 = xp + ldx, *x2 = xp + 2 * (size_t)ldx, *x3 = xp + 3 * (size_t)ldx; \
        for (int c = c0; c < c1; c += CH) {                                                   \
            __m128i b = _mm_loadl_epi64((const __m128i *)(q + c / PER));                      \
            for (int k = 0; k < PER; k++) {                                                   \
                __m256 w = _mm256_cvtepi32_ps(                                                \
                    _mm256_cvtepu8_epi32(_mm_and_si128(_mm_srli_epi16(b, k * slot), mask)));  \
                int i = c + k * 8;                                                            \
                a0 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x0 + i), a0);                         \
                a1 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x1 + i), a1);                         \
                a2 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x2 + i), a2);                         \
                a3 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x3 + i), a3);                         \
            }                                                                                 \
        }                                                                                     \
        a[0] = a0; a[1] = a1; a[2] = a2; a[3] = a3;                                           \
    }
CHUNKS_ROWS(1)
CHUNKS_ROWS(2)
CHUNKS_ROWS(4)

AVX2 void packed_rows_avx2_multi(float *y, int ldy, int accumulate, const packed_linear *p,
                                 int o0, int o1, const float *x, const float *xp,
                                 const float *xs) {
    const int per = packed_per_byte(p->bits), CH = 8 * per, In = p->cols, G = p->groups;
    for (int o = o0; o < o1; o++) {
        const uint8_t *q = p->q + (size_t)o * p->row_bytes;
        const float *sc = p->scale + (size_t)o * G;
        const uint8_t *zr = p->zero + (size_t)o * G;
        __m256 rowv[GEMV_ROWS];
        float rows[GEMV_ROWS];
        for (int t = 0; t < GEMV_ROWS; t++) {
            rowv[t] = _mm256_setzero_ps();
            rows[t] = 0.0f;
        }
        for (int g = 0; g < G; g++) {
            int a = g * p->gsize, b = a + p->gsize < In ? a + p->gsize : In;
            int c0 = (a + CH - 1) / CH * CH, c1 = b / CH * CH;   // whole chunks [c0, c1)
            float s = sc[g], z = (float)zr[g];
            int whole = c0 < c1;   // else no whole chunk in this group: all scalar
            if (whole) {
                __m256 v[GEMV_ROWS];
                if (per == 1) chunks_rows_1(v, q, xp, In, c0, c1);
                else if (per == 2) chunks_rows_2(v, q, xp, In, c0, c1);
                else chunks_rows_4(v, q, xp, In, c0, c1);
                __m256 sv = _mm256_set1_ps(s);
                for (int t = 0; t < GEMV_ROWS; t++) rowv[t] = _mm256_fmadd_ps(v[t], sv, rowv[t]);
            }
            for (int t = 0; t < GEMV_ROWS; t++) {
                const float *xt = x + (size_t)t * In;
                float tail = whole ? packed_dot_scalar(q, xt, a, c0, per) +
                                         packed_dot_scalar(q, xt, c1, b, per)
                                   : packed_dot_scalar(q, xt, a, b, per);
                rows[t] += s * (tail - z * xs[(size_t)t * G + g]);
            }
        }
        for (int t = 0; t < GEMV_ROWS; t++) {
            float acc = hsum8(rowv[t]) + rows[t];
            float *yo = y + (size_t)t * ldy + o;
            *yo = accumulate ? *yo + acc : acc;
        }
    }
}

// out[0, 8 * PER) = (codes of the 8 bytes at q, in order - z) * s: the dequantization of
// quant_dequant (a subtraction, then a multiplication, each rounded: bit for bit the same).
AVX2 static inline void dequant_chunk(float *out, const uint8_t *q, int per, __m256 z, __m256 s) {
    __m128i b = _mm_loadl_epi64((const __m128i *)q), in_order[2];
    int n16;   // vectors of 16 codes (as bytes) in order
    if (per == 1) {
        in_order[0] = b;
        n16 = 0;   // 8 codes: one half vector
    } else if (per == 2) {
        const __m128i m = _mm_set1_epi8(0x0F);
        in_order[0] = _mm_unpacklo_epi8(_mm_and_si128(b, m), _mm_and_si128(_mm_srli_epi16(b, 4), m));
        n16 = 1;
    } else {
        const __m128i m = _mm_set1_epi8(0x03);
        __m128i p0 = _mm_and_si128(b, m), p1 = _mm_and_si128(_mm_srli_epi16(b, 2), m);
        __m128i p2 = _mm_and_si128(_mm_srli_epi16(b, 4), m), p3 = _mm_and_si128(_mm_srli_epi16(b, 6), m);
        __m128i a01 = _mm_unpacklo_epi8(p0, p1), a23 = _mm_unpacklo_epi8(p2, p3);
        in_order[0] = _mm_unpacklo_epi16(a01, a23);
        in_order[1] = _mm_unpackhi_epi16(a01, a23);
        n16 = 2;
    }
    if (n16 == 0) {
        __m256 c = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(in_order[0]));
        _mm256_storeu_ps(out, _mm256_mul_ps(_mm256_sub_ps(c, z), s));
        return;
    }
    for (int v = 0; v < n16; v++) {
        __m256 c0 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(in_order[v]));
        __m256 c1 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(in_order[v], 8)));
        _mm256_storeu_ps(out + 16 * v, _mm256_mul_ps(_mm256_sub_ps(c0, z), s));
        _mm256_storeu_ps(out + 16 * v + 8, _mm256_mul_ps(_mm256_sub_ps(c1, z), s));
    }
}

AVX2 void packed_dequant_avx2(float *out, const packed_linear *p, int r0, int n) {
    const int per = packed_per_byte(p->bits), CH = 8 * per;
    for (int r = 0; r < n; r++) {
        size_t o = (size_t)(r0 + r);
        const uint8_t *q = p->q + o * p->row_bytes;
        float *w = out + (size_t)r * p->cols;
        for (int g = 0; g < p->groups; g++) {
            int a = g * p->gsize, b = a + p->gsize < p->cols ? a + p->gsize : p->cols;
            int c0 = (a + CH - 1) / CH * CH, c1 = b / CH * CH;
            float sf = p->scale[o * p->groups + g], zf = (float)p->zero[o * p->groups + g];
            if (c0 >= c1) c0 = c1 = b;   // no whole chunk: all scalar
            for (int i = a; i < c0 && i < b; i++) w[i] = ((float)packed_code(q, i, per) - zf) * sf;
            __m256 z = _mm256_set1_ps(zf), s = _mm256_set1_ps(sf);
            for (int c = c0; c < c1; c += CH) dequant_chunk(w + c, q + c / per, per, z, s);
            for (int i = c1 > a ? c1 : a; i < b; i++) w[i] = ((float)packed_code(q, i, per) - zf) * sf;
        }
    }
}

#else
void packed_dequant_avx2(float *out, const packed_linear *p, int r0, int n) {
    (void)out; (void)p; (void)r0; (void)n;
}
void packed_rows_avx2(float *y, int accumulate, const packed_linear *p, int o0, int o1,
                      const float *x, const float *xp, const float *xs) {
    (void)y; (void)accumulate; (void)p; (void)o0; (void)o1; (void)x; (void)xp; (void)xs;
}
void packed_rows_avx2_multi(float *y, int ldy, int accumulate, const packed_linear *p, int o0,
                            int o1, const float *x, const float *xp, const float *xs) {
    (void)y; (void)ldy; (void)accumulate; (void)p; (void)o0; (void)o1; (void)x; (void)xp; (void)xs;
}
#endif
