// half_stream.c — F16 / BF16 widening with non-temporal stores and the finiteness scan in
// registers (half.h: ah_half_to_f32_stream).
#include "core/half.h"

#include "core/finite.h"

// out[0, n) = the halves at src widened by the bulk kernels, then scanned: the first NaN or
// infinity's index, n if none (the streaming path's head and tail, and the portable path).
static size_t widen_scan(float *out, const void *src, size_t n, int bf16) {
    if (bf16) ah_bf16_to_f32_n(out, src, n);
    else ah_f16_to_f32_n(out, src, n);
    return ah_first_nonfinite_f32(out, n);
}

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

#define AH_F16C __attribute__((target("avx2,f16c")))

// 8 halves at p (any alignment) as floats: F16 through vcvtph2ps (exact for every finite
// value, subnormals included, as ah_f16_to_f32), BF16 by a shift into the high half.
AH_F16C static inline __m256 widen8(const unsigned char *p, int bf16) {
    __m128i h = _mm_loadu_si128((const __m128i *)p);
    if (bf16) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    return _mm256_cvtph_ps(h);
}

// Lanes of x that are NaN or infinite (exponent all ones), as a byte mask of movemask_ps.
AH_F16C static inline int nonfinite8(__m256 x) {
    const __m256i e = _mm256_set1_epi32(0x7f800000);
    return _mm256_movemask_ps(_mm256_castsi256_ps(
        _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_castps_si256(x), e), e)));
}

AH_F16C static size_t stream_avx2(float *out, const unsigned char *p, size_t n, int bf16) {
    size_t i = 0;
    // up to the first 32-byte aligned output (out is at least float-aligned)
    size_t head = (size_t)((32 - ((uintptr_t)out & 31)) & 31) / sizeof(float);
    if (head > n) head = n;
    size_t bad = widen_scan(out, p, head, bf16);
    if (bad < head) return bad;
    for (i = head; i + 8 <= n; i += 8) {
        __m256 x = widen8(p + 2 * i, bf16);
        _mm256_stream_ps(out + i, x);
        int bad8 = nonfinite8(x);
        if (bad8) {   // its index from the lanes; the value is stored for the caller's message
            _mm_sfence();
            return i + (size_t)__builtin_ctz((unsigned)bad8);
        }
    }
    _mm_sfence();   // the streamed lines reach memory before anything after this call reads them
    return i + widen_scan(out + i, p + 2 * i, n - i, bf16);
}
#endif

// 1 when this CPU runs stream_avx2 (decided once; racing deciders agree).
int ah_half_stream_fast(void) {
#if defined(__x86_64__)
    static int known = -1;
    int k = __atomic_load_n(&known, __ATOMIC_RELAXED);
    if (k < 0) {
        // F16C from CPUID leaf 1 (ECX bit 29): clang's __builtin_cpu_supports has no "f16c"
        unsigned a, b, c, d;
        __builtin_cpu_init();
        k = __builtin_cpu_supports("avx2") && __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C);
        __atomic_store_n(&known, k, __ATOMIC_RELAXED);
    }
    return k;
#else
    return 0;
#endif
}

size_t ah_half_to_f32_stream(float *out, const void *src, size_t n, int bf16) {
#if defined(__x86_64__)
    if (ah_half_stream_fast()) return stream_avx2(out, src, n, bf16);
#endif
    return widen_scan(out, src, n, bf16);
}
