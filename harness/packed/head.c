// head.c — LM head GEMV over the stored dtype (head.h).
#include "packed/head.h"

#include <string.h>

#include "core/half.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

#include "core/avx2.h"
#define F16C __attribute__((target("avx2,fma,f16c")))

// 8 stored halves (F16 or BF16) at w widened to floats (exactly).
F16C static inline __m256 widen_half8(const uint16_t *w, int bf16) {
    __m128i h = _mm_loadu_si128((const __m128i *)w);
    return bf16 ? _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16))
                : _mm256_cvtph_ps(h);
}

// dot of one stored row (C halves, F16 or BF16) with x, the halves widened in registers.
F16C static float dot_half_avx2(const uint16_t *w, const float *x, int C, int bf16) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= C; i += 16) {
        a0 = _mm256_fmadd_ps(widen_half8(w + i, bf16), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(widen_half8(w + i + 8, bf16), _mm256_loadu_ps(x + i + 8), a1);
    }
    float s = ah_hsum8(_mm256_add_ps(a0, a1));
    for (; i < C; i++) s += (bf16 ? ah_bf16_to_f32(w[i]) : ah_f16_to_f32(w[i])) * x[i];
    return s;
}

// dot_half_avx2 of two consecutive rows w and w + C at once: each row's FMAs in the same
// order, so each result is dot_half_avx2's bit for bit, with four FMA chains in flight
// instead of two (the two chains' latency, not memory, bounded one row at a time). The next
// pair's halves are prefetched as these are read.
F16C static void dot2_half_avx2(float *s0, float *s1, const uint16_t *w, const float *x, int C,
                                int bf16) {
    const uint16_t *u = w + C;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= C; i += 16) {
        _mm_prefetch((const char *)(u + C + i), _MM_HINT_T0);
        _mm_prefetch((const char *)(u + 2 * (size_t)C + i), _MM_HINT_T0);
        __m256 xa = _mm256_loadu_ps(x + i), xb = _mm256_loadu_ps(x + i + 8);
        a0 = _mm256_fmadd_ps(widen_half8(w + i, bf16), xa, a0);
        a1 = _mm256_fmadd_ps(widen_half8(w + i + 8, bf16), xb, a1);
        b0 = _mm256_fmadd_ps(widen_half8(u + i, bf16), xa, b0);
        b1 = _mm256_fmadd_ps(widen_half8(u + i + 8, bf16), xb, b1);
    }
    float s = ah_hsum8(_mm256_add_ps(a0, a1)), t = ah_hsum8(_mm256_add_ps(b0, b1));
    for (int j = i; j < C; j++) s += (bf16 ? ah_bf16_to_f32(w[j]) : ah_f16_to_f32(w[j])) * x[j];
    for (int j = i; j < C; j++) t += (bf16 ? ah_bf16_to_f32(u[j]) : ah_f16_to_f32(u[j])) * x[j];
    *s0 = s;
    *s1 = t;
}

F16C static float dot_f32_avx2(const float *w, const float *x, int C) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= C; i += 16) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);
    }
    float s = ah_hsum8(_mm256_add_ps(a0, a1));
    for (; i < C; i++) s += w[i] * x[i];
    return s;
}

// F16C from CPUID leaf 1 (ECX bit 29): clang 14 (make fuzz) has no "f16c" in
// __builtin_cpu_supports, GCC and clang both ship <cpuid.h>.
static int has_f16c(void) {
    __builtin_cpu_init();
    unsigned a, b, c, d;
    int f16c = __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
    return ah_cpu_avx2_fma() && f16c;
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
static void dot2_half_avx2(float *s0, float *s1, const uint16_t *w, const float *x, int C,
                           int bf16) {
    (void)w; (void)x; (void)C; (void)bf16;
    *s0 = *s1 = 0.0f;
}
#endif

// logits[v] for one row v: the vector dot where the row is element-aligned, else widened in
// pieces of 256 (any alignment).
static void head_row(float *logits, const uint8_t *base, const float *x, int v, int C, st_dtype d,
                     int vec) {
    size_t esz = st_dtype_size(d);
    const uint8_t *row = base + (size_t)v * C * esz;
    if (vec && ((uintptr_t)row & (esz - 1)) == 0) {   // element-aligned rows
        logits[v] = d == ST_F32 ? dot_f32_avx2((const float *)row, x, C)
                                : dot_half_avx2((const uint16_t *)row, x, C, d == ST_BF16);
        return;
    }
    float buf[256], s = 0.0f;
    for (int i0 = 0; i0 < C; i0 += 256) {
        int n = C - i0 < 256 ? C - i0 : 256;
        st_widen(buf, row + (size_t)i0 * esz, (size_t)n, d);
        for (int i = 0; i < n; i++) s += buf[i] * x[i0 + i];
    }
    logits[v] = s;
}

int packed_head_gemv(float *logits, const float *x, const model_weight *w, int V, int C) {
    st_dtype d = w->dtype;
    if (d != ST_F32 && d != ST_F16 && d != ST_BF16) return -1;
    const uint8_t *base = w->data;
    size_t esz = st_dtype_size(d);
    int vec = has_f16c();
    // F16 / BF16 rows two at a time (dot2_half_avx2: each row's sum as dot_half_avx2 computes
    // it); F32 rows, a pair whose rows are not element-aligned, and an odd last row one at a
    // time. (Two F32 rows at a time measured slower: that loop is bound by memory already.)
#pragma omp parallel for schedule(static)
    for (int pair = 0; pair < (V + 1) / 2; pair++) {
        int v = 2 * pair;
        const uint8_t *row = base + (size_t)v * C * esz;
        if (vec && d != ST_F32 && v + 1 < V && ((uintptr_t)row & (esz - 1)) == 0) {
            dot2_half_avx2(&logits[v], &logits[v + 1], (const uint16_t *)row, x, C, d == ST_BF16);
            continue;
        }
        head_row(logits, base, x, v, C, d, vec);
        if (v + 1 < V) head_row(logits, base, x, v + 1, C, d, vec);
    }
    return 0;
}
