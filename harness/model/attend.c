// attend.c — one query's attention over cached keys and values (attend.h).
#include "model/attend.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/avx2.h"
#include "core/expf_vec.h"

void attend_row_portable(float *out, const float *q, const float *k0, const float *v0, size_t ld,
                         int n, int D, float scale, float *S) {
    float mx = -INFINITY;
    for (int j = 0; j < n; j++) {
        const float *kj = k0 + (size_t)j * ld;
        float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
        for (int d = 0; d < D; d++) dot += q[d] * kj[d];
        S[j] = scale * dot;
        mx = S[j] > mx ? S[j] : mx;
    }
    // exp(S - mx) by the vector path (a scalar ah_expf here compiles, in the baseline build, to
    // a libm call per fused multiply-add), then the serial sum in its order
    ah_expf_shift_n(S, S, (size_t)n, mx);
    float sum = 0.0f;
    for (int j = 0; j < n; j++) sum += S[j];
    float inv = 1.0f / sum;
    for (int d = 0; d < D; d++) out[d] = 0.0f;
    for (int j = 0; j < n; j++) {
        const float *vj = v0 + (size_t)j * ld;
        float p = S[j] * inv;
#pragma omp simd
        for (int d = 0; d < D; d++) out[d] += p * vj[d];
    }
}

#if defined(__x86_64__)
#define AVX2 AH_AVX2

// Lane r = the sum of a[r]'s 8 lanes: three rounds of pairwise adds across the 8 vectors
// (hadd within 128-bit halves, then the halves added), instead of 8 separate reductions.
AVX2 static inline __m256 hsum8x8(const __m256 a[8]) {
    __m256 s01 = _mm256_hadd_ps(a[0], a[1]), s23 = _mm256_hadd_ps(a[2], a[3]);
    __m256 s45 = _mm256_hadd_ps(a[4], a[5]), s67 = _mm256_hadd_ps(a[6], a[7]);
    // (a0..a3 over lanes 0-3 | a0..a3 over lanes 4-7), the same for a4..a7
    __m256 s03 = _mm256_hadd_ps(s01, s23), s47 = _mm256_hadd_ps(s45, s67);
    return _mm256_add_ps(_mm256_permute2f128_ps(s03, s47, 0x20),
                         _mm256_permute2f128_ps(s03, s47, 0x31));
}

// S[j] = scale * q . k_j for j in [0, n); returns max_j S[j]. Eight keys a step: one load of
// q serves eight FMAs, and the eight dot products end in one vector.
AVX2 static float scores_avx2(float *S, const float *q, const float *k0, size_t ld, int n, int D,
                              float scale) {
    const __m256 sc = _mm256_set1_ps(scale);
    __m256 mxv = _mm256_set1_ps(-INFINITY);
    int j = 0;
    for (; j + 8 <= n; j += 8) {
        const float *k = k0 + (size_t)j * ld;
        __m256 a[8];
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++) a[r] = _mm256_setzero_ps();
        for (int d = 0; d < D; d += 8) {
            __m256 qd = _mm256_loadu_ps(q + d);
#pragma GCC unroll 8
            for (int r = 0; r < 8; r++)
                a[r] = _mm256_fmadd_ps(qd, _mm256_loadu_ps(k + (size_t)r * ld + d), a[r]);
        }
        __m256 s = _mm256_mul_ps(hsum8x8(a), sc);
        _mm256_storeu_ps(S + j, s);
        mxv = _mm256_max_ps(mxv, s);
    }
    float mx = -INFINITY, m8[8];
    _mm256_storeu_ps(m8, mxv);
    for (int r = 0; r < 8; r++) mx = m8[r] > mx ? m8[r] : mx;
    for (; j < n; j++) {   // the last n % 8 keys one at a time
        const float *k = k0 + (size_t)j * ld;
        __m256 a = _mm256_setzero_ps();
        for (int d = 0; d < D; d += 8)
            a = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), _mm256_loadu_ps(k + d), a);
        S[j] = scale * ah_hsum8(a);
        mx = S[j] > mx ? S[j] : mx;
    }
    return mx;
}

// sum of S[0, n) in 8 lanes.
AVX2 static float sum_avx2(const float *S, int n) {
    __m256 a = _mm256_setzero_ps();
    int j = 0;
    for (; j + 8 <= n; j += 8) a = _mm256_add_ps(a, _mm256_loadu_ps(S + j));
    float s = ah_hsum8(a);
    for (; j < n; j++) s += S[j];
    return s;
}

// out (D) = inv * sum_j S[j] v_j. Columns 64 at a time in eight register accumulators (a head
// of 64 is one pass over the values; 128, two).
AVX2 static void values_avx2(float *out, const float *S, float inv, const float *v0, size_t ld,
                             int n, int D) {
    const __m256 iv = _mm256_set1_ps(inv);
    int d0 = 0;
    for (; d0 + 64 <= D; d0 += 64) {
        __m256 o[8];
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++) o[r] = _mm256_setzero_ps();
        for (int j = 0; j < n; j++) {
            const float *v = v0 + (size_t)j * ld + d0;
            __m256 p = _mm256_set1_ps(S[j]);
#pragma GCC unroll 8
            for (int r = 0; r < 8; r++) o[r] = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + 8 * r), o[r]);
        }
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++) _mm256_storeu_ps(out + d0 + 8 * r, _mm256_mul_ps(o[r], iv));
    }
    for (; d0 < D; d0 += 8) {   // the last D % 64 columns, 8 at a time
        __m256 o = _mm256_setzero_ps();
        for (int j = 0; j < n; j++)
            o = _mm256_fmadd_ps(_mm256_set1_ps(S[j]), _mm256_loadu_ps(v0 + (size_t)j * ld + d0), o);
        _mm256_storeu_ps(out + d0, _mm256_mul_ps(o, iv));
    }
}

AVX2 static void attend_row_avx2(float *out, const float *q, const float *k0, const float *v0,
                                 size_t ld, int n, int D, float scale, float *S) {
    float mx = scores_avx2(S, q, k0, ld, n, D, scale);
    ah_expf_shift_n(S, S, (size_t)n, mx);
    values_avx2(out, S, 1.0f / sum_avx2(S, n), v0, ld, n, D);
}

// 1 where the AVX2 path runs: the CPU has AVX2 + FMA and AH_ATTEND_VEC is not 0. Worked out
// on the first call, as ah_expf_vec_path does (racing threads agree).
static int use_avx2(void) {
    static atomic_int on = -1;
    int v = atomic_load_explicit(&on, memory_order_relaxed);
    if (v < 0) {
        const char *env = getenv("AH_ATTEND_VEC");
        v = ah_cpu_avx2_fma() && !(env && strcmp(env, "0") == 0);
        atomic_store_explicit(&on, v, memory_order_relaxed);
    }
    return v;
}
#endif

void attend_row(float *out, const float *q, const float *k0, const float *v0, size_t ld, int n,
                int D, float scale, float *S) {
#if defined(__x86_64__)
    if (D % 8 == 0 && use_avx2()) {
        attend_row_avx2(out, q, k0, v0, ld, n, D, scale, S);
        return;
    }
#endif
    attend_row_portable(out, q, k0, v0, ld, n, D, scale, S);
}
