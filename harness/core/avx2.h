// avx2.h — what the AVX2 + FMA kernels share (the packed GEMV, the LM head, the cached-key
// attention). Those files compile their kernels for AVX2 + FMA by a target attribute while
// the rest of the build stays baseline x86-64, and call them only where the CPU has both;
// the helpers here carry the same attribute so that they inline into those kernels.
#ifndef AH_AVX2_H
#define AH_AVX2_H

#if defined(__x86_64__)
#include <immintrin.h>

#define AH_AVX2 __attribute__((target("avx2,fma")))

// 1 when this CPU runs AH_AVX2 code (the kernels' run-time dispatch test).
static inline int ah_cpu_avx2_fma(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

// The sum of v's 8 lanes: the halves added, then pairs, then the last two.
AH_AVX2 static inline float ah_hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#endif

#endif
