// expf_vec.c — ah_expf over arrays: a fast path (AVX2 + FMA, or AVX-512F) that falls back to
// ah_expf wherever its rounding could differ (expf_vec.h says why and how it was checked).
#include "core/expf_vec.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/fastexp.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include "core/avx2.h"
#define AH_EXPF_X86 1
#endif

// The reference path: ah_expf per element (vectorised by the compiler where it can).
AH_VEC_CLONES static void expf_shift_ref(float *y, const float *x, size_t n, float shift) {
#pragma omp simd
    for (size_t j = 0; j < n; j++) y[j] = ah_expf(x[j] - shift);
}

#ifdef AH_EXPF_X86

#define CHUNK 64   // elements that fall back together (8 vectors of 8)

// 2^(j/8), j = 0..7, correctly rounded (checked with Python's decimal at 60 digits).
static const double exp2_eighths[8] = {
    0x1.0000000000000p+0, 0x1.172b83c7d517bp+0, 0x1.306fe0a31b715p+0, 0x1.4bfdad5362a27p+0,
    0x1.6a09e667f3bcdp+0, 0x1.8ace5422aa0dbp+0, 0x1.ae89f995ad3adp+0, 0x1.d5818dcfba487p+0,
};

// The constants of both vector widths (exp4, exp8 below): the same values through the same
// operations, so both give the same floats. 1.5 * 2^52 rounds to an integer; 8 / ln 2 and
// ln 2 / 8 in one double each; exp(r)'s Taylor coefficients to degree 6, highest first.
#define EXP_SHIFTER 0x1.8p52
#define EXP_8_OVER_LN2 0x1.71547652b82fep+3
#define EXP_LN2_OVER_8 0x1.62e42fefa39efp-4
static const double exp_taylor6[7] = {1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0,
                                      0.5,         1.0,         1.0};

// Four lanes of x (double, every lane in [-87, 88] or 0) -> exp(x) rounded to float. *near
// gets all ones in each lane whose double result lies within DELTA units of 2^-52 (relative
// to its binade) of a float rounding midpoint: DELTA = 2^12 is 2^-41 relative, 4x the sum of
// this path's error bound (2^-43: Taylor remainder 0.0434^7 / 7! = 2^-44, the one-constant
// reduction 1016 * 2^-57 = 2^-47, the rounding of 9 operations) and ah_expf's (2^-45).
#define DELTA 4096
__attribute__((target("avx2,fma"), always_inline)) static inline __m128 exp4(__m256d x, __m256i *near) {
    const __m256d shifter = _mm256_set1_pd(EXP_SHIFTER);
    // k = round(x * 8 / ln 2); r = x - k ln2/8 with ln2/8 in one double: |k| <= 1016, so the
    // constant's error (2^-57) moves r by at most 2^-47
    __m256d t = _mm256_fmadd_pd(x, _mm256_set1_pd(EXP_8_OVER_LN2), shifter);
    __m256d k = _mm256_sub_pd(t, shifter);
    __m256d r = _mm256_fnmadd_pd(k, _mm256_set1_pd(EXP_LN2_OVER_8), x);
    __m256d p = _mm256_set1_pd(exp_taylor6[0]);   // exp(r) to degree 6, Horner
    for (int i = 1; i < 7; i++) p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(exp_taylor6[i]));
    // t's low mantissa bits hold 2^51 + k: j = k mod 8 picks the table entry, floor(k / 8)
    // goes into its exponent field (mod 2^64, so a negative one lowers it)
    __m256i ti = _mm256_castpd_si256(t);
    __m256d tab = _mm256_i64gather_pd(exp2_eighths, _mm256_and_si256(ti, _mm256_set1_epi64x(7)), 8);
    __m256i e = _mm256_slli_epi64(_mm256_srli_epi64(ti, 3), 52);
    __m256d y = _mm256_mul_pd(p, _mm256_castsi256_pd(_mm256_add_epi64(_mm256_castpd_si256(tab), e)));
    // The 29 mantissa bits a float drops; its midpoint is 2^28. (bits - (2^28 - DELTA)) mod
    // 2^29 < 2 DELTA  <=>  bits in [2^28 - DELTA, 2^28 + DELTA).
    __m256i low = _mm256_and_si256(
        _mm256_sub_epi64(_mm256_castpd_si256(y), _mm256_set1_epi64x((1 << 28) - DELTA)),
        _mm256_set1_epi64x((1 << 29) - 1));
    *near = _mm256_or_si256(*near, _mm256_cmpgt_epi64(_mm256_set1_epi64x(2 * DELTA), low));
    return _mm256_cvtpd_ps(y);
}

// y[0, CHUNK) = ah_expf(x[0, CHUNK) - shift); y may be x. The shifted inputs are kept on the
// side (xs), so a chunk that must fall back still has them when y was x.
__attribute__((target("avx2,fma"))) static void exp_chunk(float *y, const float *x, float shift) {
    const __m256 lo = _mm256_set1_ps(-87.0f), hi = _mm256_set1_ps(88.0f);
    const __m256 zero_below = _mm256_set1_ps(-104.0f), vshift = _mm256_set1_ps(shift);
    __m256i near = _mm256_setzero_si256();
    __m256 bad = _mm256_setzero_ps();
    _Alignas(32) float xs[CHUNK];
    // All inputs first, then the results: a load of x after stores to y (= x) in the same
    // loop made the in-place call 20% slower than out of place (bench/expf_speed.c).
    for (int i = 0; i < CHUNK; i += 8)
        _mm256_store_ps(xs + i, _mm256_sub_ps(_mm256_loadu_ps(x + i), vshift));
    for (int i = 0; i < CHUNK; i += 8) {
        __m256 v = _mm256_load_ps(xs + i);
        // exp(v) < 2^-150 (half the least subnormal) for v < -104 (-150 ln 2 = -103.97):
        // ah_expf returns +0 there, and so does this path (computing on v = 0 meanwhile).
        __m256 zero = _mm256_cmp_ps(v, zero_below, _CMP_LT_OQ);
        // NaN, +-inf, results that are subnormal (v < -87.34) or overflow (v > 88.72): ah_expf
        __m256 ok = _mm256_and_ps(_mm256_cmp_ps(v, lo, _CMP_GE_OQ), _mm256_cmp_ps(v, hi, _CMP_LE_OQ));
        bad = _mm256_or_ps(bad, _mm256_andnot_ps(_mm256_or_ps(ok, zero),
                                                 _mm256_castsi256_ps(_mm256_set1_epi32(-1))));
        v = _mm256_andnot_ps(zero, v);
        __m128 a = exp4(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), &near);
        __m128 b = exp4(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), &near);
        _mm256_storeu_ps(y + i, _mm256_andnot_ps(zero, _mm256_set_m128(b, a)));
    }
    // xs holds x - shift already: shift 0 (d - 0 = d exactly); vectorised, element by element
    if (!_mm256_testz_si256(near, near) || _mm256_movemask_ps(bad) != 0) expf_shift_ref(y, xs, CHUNK, 0.0f);
}

// The same path, 8 doubles a vector (AVX-512F): exp8 is exp4 lane for lane (the same
// operations on the same values, so the same results and the same fallbacks), with the table
// in a register (a permute by k mod 8 instead of a gather).
#define AH_AVX512F __attribute__((target("avx512f")))

AH_AVX512F __attribute__((always_inline)) static inline __m256 exp8(__m512d x, __mmask8 *near) {
    const __m512d shifter = _mm512_set1_pd(EXP_SHIFTER);
    __m512d t = _mm512_fmadd_pd(x, _mm512_set1_pd(EXP_8_OVER_LN2), shifter);
    __m512d k = _mm512_sub_pd(t, shifter);
    __m512d r = _mm512_fnmadd_pd(k, _mm512_set1_pd(EXP_LN2_OVER_8), x);
    __m512d p = _mm512_set1_pd(exp_taylor6[0]);
    for (int i = 1; i < 7; i++) p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(exp_taylor6[i]));
    __m512i ti = _mm512_castpd_si512(t);
    // permutexvar reads only the low 3 bits of each index: k mod 8, as the AVX2 path's mask
    __m512d tab = _mm512_permutexvar_pd(ti, _mm512_loadu_pd(exp2_eighths));
    __m512i e = _mm512_slli_epi64(_mm512_srli_epi64(ti, 3), 52);
    __m512d y = _mm512_mul_pd(p, _mm512_castsi512_pd(_mm512_add_epi64(_mm512_castpd_si512(tab), e)));
    __m512i low = _mm512_and_si512(
        _mm512_sub_epi64(_mm512_castpd_si512(y), _mm512_set1_epi64((1 << 28) - DELTA)),
        _mm512_set1_epi64((1 << 29) - 1));
    *near |= _mm512_cmpgt_epi64_mask(_mm512_set1_epi64(2 * DELTA), low);
    return _mm512_cvtpd_ps(y);
}

// exp_chunk with 16 floats a vector; the same ranges, zeros and fallback.
AH_AVX512F static void exp_chunk512(float *y, const float *x, float shift) {
    const __m512 lo = _mm512_set1_ps(-87.0f), hi = _mm512_set1_ps(88.0f);
    const __m512 zero_below = _mm512_set1_ps(-104.0f), vshift = _mm512_set1_ps(shift);
    __mmask8 near = 0;
    __mmask16 bad = 0;
    _Alignas(64) float xs[CHUNK];
    for (int i = 0; i < CHUNK; i += 16)
        _mm512_store_ps(xs + i, _mm512_sub_ps(_mm512_loadu_ps(x + i), vshift));
    for (int i = 0; i < CHUNK; i += 16) {
        __m512 v = _mm512_load_ps(xs + i);
        __mmask16 zero = _mm512_cmp_ps_mask(v, zero_below, _CMP_LT_OQ);
        __mmask16 ok = _mm512_cmp_ps_mask(v, lo, _CMP_GE_OQ) & _mm512_cmp_ps_mask(v, hi, _CMP_LE_OQ);
        bad |= (__mmask16)~(ok | zero);
        v = _mm512_maskz_mov_ps((__mmask16)~zero, v);
        __m256 a = exp8(_mm512_cvtps_pd(_mm512_castps512_ps256(v)), &near);
        __m256 b = exp8(_mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))), &near);
        __m512 ab = _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(a)),
                                                        _mm256_castps_pd(b), 1));
        _mm512_storeu_ps(y + i, _mm512_maskz_mov_ps((__mmask16)~zero, ab));
    }
    if (near || bad) expf_shift_ref(y, xs, CHUNK, 0.0f);
}

// n values through chunk (exp_chunk or exp_chunk512), CHUNK at a time. The last partial
// chunk goes through a buffer padded with 0 (exp(0) = 1 exactly, never near a midpoint); the
// buffer holds x - shift already, so its shift is 0 (d - 0 = d exactly). Inlined into each
// caller below with its chunk kernel fixed.
__attribute__((always_inline)) static inline void expf_shift_chunks(
    void (*chunk)(float *, const float *, float), float *y, const float *x, size_t n, float shift) {
    size_t j0 = 0;
    for (; j0 + CHUNK <= n; j0 += CHUNK) chunk(y + j0, x + j0, shift);
    if (j0 == n) return;
    _Alignas(64) float buf[CHUNK];
    size_t len = n - j0;
    for (size_t i = 0; i < CHUNK; i++) buf[i] = i < len ? x[j0 + i] - shift : 0.0f;
    chunk(buf, buf, 0.0f);
    for (size_t i = 0; i < len; i++) y[j0 + i] = buf[i];
}

static void expf_shift_avx2(float *y, const float *x, size_t n, float shift) {
    expf_shift_chunks(exp_chunk, y, x, n, shift);
}

static void expf_shift_avx512(float *y, const float *x, size_t n, float shift) {
    expf_shift_chunks(exp_chunk512, y, x, n, shift);
}

#endif

int ah_expf_path_supported(int p) {
#ifdef AH_EXPF_X86
    if (p == AH_EXPF_AVX512) return __builtin_cpu_supports("avx512f");
    if (p == AH_EXPF_AVX2) return ah_cpu_avx2_fma();
#endif
    return p == AH_EXPF_REF;
}

const char *ah_expf_path_name(int p) {
    return p == AH_EXPF_AVX512 ? "AVX-512" : p == AH_EXPF_AVX2 ? "AVX2 + FMA" : "reference";
}

int ah_expf_vec_path(void) {
    static atomic_int path = -1;   // -1: not yet decided; racing deciders agree
    int p = atomic_load_explicit(&path, memory_order_relaxed);
    if (p < 0) {
        const char *env = getenv("AH_EXPF_VEC");
        if (env && strcmp(env, "0") == 0) p = AH_EXPF_REF;
        else if (env && strcmp(env, "avx2") == 0) p = AH_EXPF_AVX2;
        else p = AH_EXPF_AVX512;
        while (p > AH_EXPF_REF && !ah_expf_path_supported(p)) p--;
        atomic_store_explicit(&path, p, memory_order_relaxed);
    }
    return p;
}

void ah_expf_shift_n_path(int p, float *y, const float *x, size_t n, float shift) {
    switch (p) {
#ifdef AH_EXPF_X86
    case AH_EXPF_AVX512: expf_shift_avx512(y, x, n, shift); return;
    case AH_EXPF_AVX2: expf_shift_avx2(y, x, n, shift); return;
#endif
    default: expf_shift_ref(y, x, n, shift); return;
    }
}

void ah_expf_shift_n(float *y, const float *x, size_t n, float shift) {
    ah_expf_shift_n_path(ah_expf_vec_path(), y, x, n, shift);
}
