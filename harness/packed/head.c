// head.c — LM head GEMV over the stored dtype (head.h).
#include "packed/head.h"

#include <string.h>

#include "core/half.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#define F16C __attribute__((target("avx2,fma,f16c")))

F16C static float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// dot of one stored row (C halves, F16 or BF16) with x, the halves widened in registers.
F16C static float dot_half_avx2(const uint16_t *w, const float *x, int C, int bf16) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= C; i += 16) {
        __m128i h0 = _mm_loadu_si128((const __m128i *)(w + i));
        __m128i h1 = _mm_loadu_si128((const __m128i *)(w + i + 8));
        __m256 w0, w1;
        if (bf16) {
            w0 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h0), 16));
            w1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h1), 16));
        } else {
            w0 = _mm256_cvtph_ps(h0);
            w1 = _mm256_cvtph_ps(h1);
        }
        a0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + i + 8), a1);
    }
    float s = hsum8(_mm256_add_ps(a0, a1));
    for (; i < C; i++) s += (bf16 ? ah_bf16_to_f32(w[i]) : ah_f16_to_f32(w[i])) * x[i];
    return s;
}

F16C static float dot_f32_avx2(const float *w, const float *x, int C) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= C; i += 16) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);
    }
    float s = hsum8(_mm256_add_ps(a0, a1));
    for (; i < C; i++) s += w[i] * x[i];
    return s;
}

// F16C from CPUID leaf 1 (ECX bit 29): clang 14 (make fuzz) has no "f16c" in
// __builtin_cpu_supports, GCC and clang both ship <cpuid.h>.
static int has_f16c(void) {
    __builtin_cpu_init();
    unsigned a, b, c, d;
    int f16c = __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c;
}
#else
static int has_f16c(void) { return 0; }
static float dot_half_avx2(const uint16_t *w, const float *x, int C, int bf16) {
    (void)w; (void)x; (void)C; (void)bf16;
    return 0.0f;
}
static float dot_f32_avx2(const float *w, const float *x, int C) {
    (void)w; (void)x; (void)C;
    return 0.0f;
}
#endif

int packed_head_gemv(float *logits, const float *x, const model_weight *w, int V, int C) {
    st_dtype d = w->dtype;
    if (d != ST_F32 && d != ST_F16 && d != ST_BF16) return -1;
    const uint8_t *base = w->data;
    size_t esz = st_dtype_size(d);
    int vec = has_f16c();
#pragma omp parallel for schedule(static)
    for (int v = 0; v < V; v++) {
        const uint8_t *row = base + (size_t)v * C * esz;
        if (vec && ((uintptr_t)row & (esz - 1)) == 0) {   // element-aligned rows
            logits[v] = d == ST_F32 ? dot_f32_avx2((const float *)row, x, C)
                                    : dot_half_avx2((const uint16_t *)row, x, C, d == ST_BF16);
            continue;
        }
        float buf[256], s = 0.0f;   // widen in pieces of 256 (any alignment)
        for (int i0 = 0; i0 < C; i0 += 256) {
            int n = C - i0 < 256 ? C - i0 : 256;
            st_widen(buf, row + (size_t)i0 * esz, (size_t)n, d);
            for (int i = 0; i < n; i++) s += buf[i] * x[i0 + i];
        }
        logits[v] = s;
    }
    return 0;
}
