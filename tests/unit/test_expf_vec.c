// test_expf_vec.c — ah_expf_shift_n (core/expf_vec.h) equals ah_expf bit for bit, on every
// path this CPU runs (AVX2 + FMA, AVX-512: each checked against the reference).
//
// A fast path may differ from ah_expf only where it falls back, so the check is on inputs:
// by default 1 in 4099 of all 2^32 float bit patterns (a stride prime to every power of two
// hits every exponent and low-bit pattern) plus every float within 2^16 ulps of each edge of
// the fast path's ranges; AH_EXHAUSTIVE=1 checks all 2^32 (2-3 minutes on 2 loaded cores).
// NaN inputs must give NaN (payloads are not compared). Also: shift, in place, lengths that
// are not a multiple of the 64-element chunk. AH_VERBOSE=1 prints the paths checked.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/expf_vec.h"
#include "core/fastexp.h"

static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t to_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

// Number of elements of got (n) that differ from want (NaN matches NaN); prints the first few.
static size_t count_diff(const float *x, const float *got, const float *want, size_t n) {
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        int nan_g = got[i] != got[i], nan_w = want[i] != want[i];
        if (nan_g && nan_w) continue;
        if (nan_g != nan_w || to_bits(got[i]) != to_bits(want[i])) {
            if (bad++ < 5)
                fprintf(stderr, "x = %a (0x%08x): fast %a, ah_expf %a\n", (double)x[i],
                        to_bits(x[i]), (double)got[i], (double)want[i]);
        }
    }
    return bad;
}

// Bit patterns u0, u0 + step, ... (n of them, wrapping mod 2^32) through every fast path the
// CPU has and the reference: the differences summed over the paths.
static size_t check_patterns(uint32_t u0, uint32_t step, size_t n, float *x, float *got, float *want) {
    for (size_t i = 0; i < n; i++) x[i] = from_bits(u0 + (uint32_t)i * step);
    ah_expf_shift_n_path(AH_EXPF_REF, want, x, n, 0.0f);
    size_t bad = 0;
    for (int p = AH_EXPF_AVX2; p <= AH_EXPF_AVX512; p++) {
        if (!ah_expf_path_supported(p)) continue;
        ah_expf_shift_n_path(p, got, x, n, 0.0f);
        bad += count_diff(x, got, want, n);
    }
    return bad;
}

enum { BLOCK = 1 << 16 };

static void test_sampled_and_edges(void **st) {
    (void)st;
    if (getenv("AH_VERBOSE"))
        for (int p = AH_EXPF_AVX2; p <= AH_EXPF_AVX512; p++)
            printf("expf_vec: %s path %s\n", ah_expf_path_name(p),
                   ah_expf_path_supported(p) ? "checked" : "not on this CPU");
    float *x = malloc(BLOCK * sizeof(float)), *got = malloc(BLOCK * sizeof(float)),
          *want = malloc(BLOCK * sizeof(float));
    assert_non_null(x); assert_non_null(got); assert_non_null(want);
    size_t bad = 0;
    // 1 in 4099 of all bit patterns: 2^32 / 4099 = 1047807 values, in blocks
    uint64_t total = (1ull << 32) / 4099u;
    for (uint64_t done = 0; done < total; done += BLOCK) {
        size_t n = total - done < BLOCK ? (size_t)(total - done) : BLOCK;
        bad += check_patterns((uint32_t)(done * 4099u), 4099u, n, x, got, want);
    }
    // Every float near the edges: the zero cut (-104), the fast range [-87, 88], 0, and the
    // largest magnitudes (inf, NaN), 2^15 on each side of each.
    const float edges[] = {-104.0f, -87.0f, 88.0f, 0.0f, -0.0f, 3.4e38f, -3.4e38f};
    for (size_t e = 0; e < sizeof edges / sizeof edges[0]; e++)
        bad += check_patterns(to_bits(edges[e]) - (1u << 15), 1u, 1u << 16, x, got, want);
    free(x); free(got); free(want);
    assert_int_equal(bad, 0);
}

// All 2^32 inputs, when asked for (AH_EXHAUSTIVE=1): the record behind expf_vec.h's claim.
static void test_exhaustive(void **st) {
    (void)st;
    if (!getenv("AH_EXHAUSTIVE") || strcmp(getenv("AH_EXHAUSTIVE"), "1") != 0) skip();
    size_t bad = 0;
#pragma omp parallel reduction(+ : bad)
    {
        float *x = malloc(BLOCK * sizeof(float)), *got = malloc(BLOCK * sizeof(float)),
              *want = malloc(BLOCK * sizeof(float));
        if (!x || !got || !want) {
            bad++;
        } else {
#pragma omp for schedule(dynamic, 16)
            for (long b = 0; b < (1l << 32) / BLOCK; b++)
                bad += check_patterns((uint32_t)(b * BLOCK), 1u, BLOCK, x, got, want);
        }
        free(x); free(got); free(want);
    }
    printf("expf_vec: all 2^32 inputs checked, %zu differ\n", bad);
    assert_int_equal(bad, 0);
}

// The shift is subtracted in float first; y may be x; every length 0..200 (chunk tails).
static void test_shift_inplace_lengths(void **st) {
    (void)st;
    enum { N = 200 };
    float x[N], got[N], want[N], inplace[N];
    unsigned r = 7u;
    for (int i = 0; i < N; i++) {
        r = r * 1103515245u + 12345u;
        x[i] = (float)((r >> 8) & 0xffff) / 65536.0f * 120.0f - 100.0f;   // [-100, 20)
    }
    x[3] = -200.0f;             // below the zero cut
    x[5] = from_bits(0x7fc00000u);   // NaN
    for (int p = AH_EXPF_REF; p <= AH_EXPF_AVX512; p++) {
        if (!ah_expf_path_supported(p)) continue;
        for (int n = 0; n <= N; n++) {
            const float shift = 13.25f;
            ah_expf_shift_n_path(p, got, x, (size_t)n, shift);
            for (int i = 0; i < n; i++) want[i] = ah_expf(x[i] - shift);
            memcpy(inplace, x, sizeof x);
            ah_expf_shift_n_path(p, inplace, inplace, (size_t)n, shift);
            assert_int_equal(count_diff(x, got, want, (size_t)n), 0);
            assert_int_equal(count_diff(x, inplace, want, (size_t)n), 0);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sampled_and_edges),
        cmocka_unit_test(test_shift_inplace_lengths),
        cmocka_unit_test(test_exhaustive),
    };
    return cmocka_run_group_tests_name("expf_vec", tests, NULL, NULL);
}
