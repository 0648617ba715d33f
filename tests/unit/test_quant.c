// test_quant.c — quant/quant: hand-computed cases for every quantizer (ties at .5 both ways,
// constant, all-zero and negative-only groups, ragged last groups, g = -1), pack / unpack round
// trips, codes + dequant == fake bit for bit, agreement with a naive scalar reference written
// from the formulas in integer arithmetic, MSE decreasing with bits, config errors, and the
// PyTorch golden tests/fixtures/quant/golden.safetensors (tools/make-quant-fixtures) compared
// bit for bit (memcmp). Run from the repo root. Quiet on success; AH_VERBOSE=1 prints details.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "quant/quant.h"
#include "testutil.h"

#define GOLDEN "tests/fixtures/quant/golden.safetensors"

// ---------------------------------------------------------------------------------------------
// helpers

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;

static void rng_seed(uint64_t s) { g_rng = s ? s : 1; }

static uint32_t rng_u32(void) {   // xorshift64*
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return (uint32_t)((g_rng * 0x2545f4914f6cdd1dull) >> 32);
}

static float rng_normal(void) {   // Box-Muller in double, rounded to float
    double u1 = (rng_u32() + 1.0) / 4294967297.0, u2 = rng_u32() / 4294967296.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

static uint32_t bits_of(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

// Bit-for-bit comparison; prints the first mismatch (and the count) and returns -1.
static int same_bits(const char *name, const float *got, const float *ref, size_t n, size_t cols) {
    if (memcmp(got, ref, n * sizeof(float)) == 0) return 0;
    size_t first = n, bad = 0;
    for (size_t i = 0; i < n; i++)
        if (bits_of(got[i]) != bits_of(ref[i])) {
            if (first == n) first = i;
            bad++;
        }
    fprintf(stderr, "%s: %zu of %zu differ; first [%zu, %zu] got %.9g (0x%08x) ref %.9g (0x%08x)\n",
            name, bad, n, first / cols, first % cols, got[first], bits_of(got[first]), ref[first],
            bits_of(ref[first]));
    return -1;
}

static quant_cfg cfg(quant_kind k, int bits, int group) {
    quant_cfg q = {k, bits, group, QUANT_SCALE_F32};
    return q;
}

// Fake-quantizes a copy of w (rows, cols) and compares it with want bit for bit.
static void expect_fake(const char *what, const float *w, const float *want, size_t rows,
                        size_t cols, quant_kind k, int bits, int group) {
    float *got = malloc(rows * cols * sizeof(float));
    assert_non_null(got);
    memcpy(got, w, rows * cols * sizeof(float));
    quant_cfg q = cfg(k, bits, group);
    quant_fake(got, rows, cols, &q);
    char name[128];
    snprintf(name, sizeof name, "%s (%s b%d g%d)", what, quant_kind_name(k), bits, group);
    int rc = same_bits(name, got, want, rows * cols, cols);
    free(got);
    if (rc) fail_msg("%s: mismatch", name);
}

// ---------------------------------------------------------------------------------------------
// naive reference: element by element, straight from METHODS.md, codes in integer arithmetic

static void naive_fake(float *out, const float *W, size_t rows, size_t cols, quant_kind k,
                       int bits, int group) {
    const long long maxq = (1ll << bits) - 1, half = 1ll << (bits - 1);
    size_t g = group == -1 ? cols : (size_t)group;
    for (size_t r = 0; r < rows; r++)
        for (size_t c0 = 0; c0 < cols; c0 += g) {
            size_t c1 = c0 + g < cols ? c0 + g : cols;
            const float *w = W + r * cols;
            float mn = w[c0], mx = w[c0];
            for (size_t c = c0; c < c1; c++) {
                if (w[c] < mn) mn = w[c];
                if (w[c] > mx) mx = w[c];
            }
            for (size_t c = c0; c < c1; c++) {
                float scale;
                long long q, zero;
                if (k == QUANT_RTN) {
                    float amax = fabsf(mn) > fabsf(mx) ? fabsf(mn) : fabsf(mx);
                    scale = amax / (float)(half - 1);
                    if (scale == 0.0f) { out[r * cols + c] = 0.0f; continue; }
                    q = (long long)rintf(w[c] / scale);
                    q = q < -half ? -half : q > half - 1 ? half - 1 : q;
                    zero = 0;
                } else if (k == QUANT_MINMAX) {
                    float d = mx - mn;
                    scale = (d > 1e-5f ? d : 1e-5f) / (float)maxq;
                    zero = -(long long)rintf(mn / scale);
                    zero = zero < 0 ? 0 : zero > maxq ? maxq : zero;
                    q = (long long)rintf(w[c] / scale) + zero;
                    q = q < 0 ? 0 : q > maxq ? maxq : q;
                } else {
                    float lo = mn < 0.0f ? mn : 0.0f, hi = mx > 0.0f ? mx : 0.0f;
                    if (lo == 0.0f && hi == 0.0f) { lo = -1.0f; hi = 1.0f; }
                    scale = (hi - lo) / (float)maxq;
                    zero = (long long)rintf(-lo / scale);
                    q = (long long)rintf(w[c] / scale) + zero;
                    q = q < 0 ? 0 : q > maxq ? maxq : q;
                }
                out[r * cols + c] = (float)(q - zero) * scale;
            }
        }
}

// ---------------------------------------------------------------------------------------------
// config, names, groups

static void test_cfg_check(void **state) {
    (void)state;
    ah_err e = {{0}};
    quant_cfg q = cfg(QUANT_MINMAX, 4, 128);
    assert_int_equal(quant_cfg_check(&q, &e), 0);
    assert_string_equal(e.msg, "");
    q = cfg(QUANT_RTN, 2, -1);
    assert_int_equal(quant_cfg_check(&q, &e), 0);
    q = cfg(QUANT_GPTQ_RTN, 8, 1);
    assert_int_equal(quant_cfg_check(&q, &e), 0);

    struct { quant_cfg q; const char *msg; } bad[] = {
        {{QUANT_MINMAX, 9, 128, QUANT_SCALE_F32}, "bits 9 outside 2..8"},
        {{QUANT_MINMAX, 1, 128, QUANT_SCALE_F32}, "bits 1 outside 2..8"},
        {{QUANT_RTN, 0, 64, QUANT_SCALE_F32}, "bits 0 outside 2..8"},
        {{QUANT_MINMAX, 4, 0, QUANT_SCALE_F32}, "group size 0: want a positive size or -1"},
        {{QUANT_GPTQ_RTN, 4, -2, QUANT_SCALE_F32}, "group size -2: want a positive size or -1"},
        {{(quant_kind)7, 4, 128, QUANT_SCALE_F32}, "kind 7 unknown"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&e, 0, sizeof e);
        assert_int_equal(quant_cfg_check(&bad[i].q, &e), -1);
        if (test_verbose()) fprintf(stderr, "  error: %s\n", e.msg);
        if (!strstr(e.msg, bad[i].msg)) fail_msg("want '%s', got '%s'", bad[i].msg, e.msg);
    }
    assert_int_equal(quant_cfg_check(&bad[0].q, NULL), -1);   // e may be NULL
}

static void test_names(void **state) {
    (void)state;
    assert_string_equal(quant_kind_name(QUANT_RTN), "rtn");
    assert_string_equal(quant_kind_name(QUANT_MINMAX), "minmax");
    assert_string_equal(quant_kind_name(QUANT_GPTQ_RTN), "gptq-rtn");
    quant_kind k = QUANT_RTN;
    assert_int_equal(quant_kind_parse("minmax", &k), 0);
    assert_int_equal(k, QUANT_MINMAX);
    assert_int_equal(quant_kind_parse("gptq-rtn", &k), 0);
    assert_int_equal(k, QUANT_GPTQ_RTN);
    assert_int_equal(quant_kind_parse("rtn", &k), 0);
    assert_int_equal(k, QUANT_RTN);
    assert_int_equal(quant_kind_parse("RTN", &k), -1);
    assert_int_equal(quant_kind_parse("gptq", &k), -1);
    assert_int_equal(quant_kind_parse("", &k), -1);
    assert_int_equal(quant_kind_parse(NULL, &k), -1);
    assert_int_equal(k, QUANT_RTN);   // untouched on failure
}

static void test_groups(void **state) {
    (void)state;
    assert_int_equal(quant_groups(10, 4), 3);
    assert_int_equal(quant_groups(8, 4), 2);
    assert_int_equal(quant_groups(172, 64), 3);
    assert_int_equal(quant_groups(172, 128), 2);
    assert_int_equal(quant_groups(576, 128), 5);
    assert_int_equal(quant_groups(64, 128), 1);
    assert_int_equal(quant_groups(4096, -1), 1);
    assert_int_equal(quant_groups(1, 1), 1);
    assert_int_equal(quant_groups(0, 4), 0);
}

// ---------------------------------------------------------------------------------------------
// hand-computed cases

static void test_minmax_hand(void **state) {
    (void)state;
    // b2, [0, 3]: scale 3/3 = 1, zero 0. Ties: 0.5 -> 0 (down to even), 1.5 -> 2 (up),
    // 2.5 -> 2 (down).
    const float a[] = {0, 0.5f, 1.5f, 2.5f, 3}, a_q[] = {0, 0, 2, 2, 3};
    expect_fake("minmax ties", a, a_q, 1, 5, QUANT_MINMAX, 2, -1);
    // b2, [-1.5, 1.5]: scale 1, zero = -round(-1.5) = 2 (tie up to even): -1.5 -> code 0 ->
    // -2, 1.5 -> round 2 + 2 = 4 -> clamp 3 -> 1. The range is not kept (that is the formula).
    const float b[] = {-1.5f, 1.5f}, b_q[] = {-2, 1};
    expect_fake("minmax tie in zero", b, b_q, 1, 2, QUANT_MINMAX, 2, -1);
    // b2, [-0.5, 2.5]: scale 1, zero = -round(-0.5) = -(-0) -> 0; -0.5 -> -0 -> code 0 -> +0.
    const float c[] = {-0.5f, 2.5f}, c_q[] = {0, 2};
    expect_fake("minmax -0.5", c, c_q, 1, 2, QUANT_MINMAX, 2, -1);
    // b3, [0, 7]: scale 1; 3.5 -> 4, 4.5 -> 4, 6.5 -> 6.
    const float d[] = {0, 3.5f, 4.5f, 6.5f, 7}, d_q[] = {0, 4, 4, 6, 7};
    expect_fake("minmax b3", d, d_q, 1, 5, QUANT_MINMAX, 3, -1);
    // b4, [-2, 5.5]: scale 7.5/15 = 0.5, zero 4; 1.25 / 0.5 = 2.5 -> 2 -> 1.0; 1.75 -> 3.5 ->
    // 4 -> 2.0; -0.75 -> -1.5 -> -2 -> -1.0.
    const float e[] = {-2, 1.25f, 1.75f, -0.75f, 5.5f}, e_q[] = {-2, 1, 2, -1, 5.5f};
    expect_fake("minmax b4", e, e_q, 1, 5, QUANT_MINMAX, 4, -1);
    // b8, [0, 255]: scale 1; 100.5 -> 100, 101.5 -> 102.
    const float f[] = {0, 100.5f, 101.5f, 255}, f_q[] = {0, 100, 102, 255};
    expect_fake("minmax b8", f, f_q, 1, 4, QUANT_MINMAX, 8, -1);
    // Negative-only b2, [-4, -1]: scale 1, zero = -round(-4) = 4 -> clamp 3; -4 -> -4 + 3 ->
    // clamp 0 -> -3; -1 -> 2 -> -1. (The zero clamp loses the bottom of the range.)
    const float g[] = {-4, -1, -2}, g_q[] = {-3, -1, -2};
    expect_fake("minmax negative-only", g, g_q, 1, 3, QUANT_MINMAX, 2, -1);
    // Negative-only b3 inside the code range, [-3, -0.5]: d = 2.5, scale = 2.5/7; checked
    // against the naive reference in test_naive; here only the extremes' signs.
}

static void test_rtn_hand(void **state) {
    (void)state;
    // b3: scale = max|w| / 3 = 1. 1.5 -> 2, 2.5 -> 2, 0.5 -> 0, -0.5 -> +0, -1.5 -> -2.
    const float a[] = {-3, 1.5f, 2.5f, 0.5f, -0.5f, -1.5f}, a_q[] = {-3, 2, 2, 0, 0, -2};
    expect_fake("rtn b3 ties", a, a_q, 1, 6, QUANT_RTN, 3, -1);
    // b4: scale 7/7 = 1. -6.5 -> -6, 3.5 -> 4.
    const float b[] = {7, -6.5f, -7, 3.5f}, b_q[] = {7, -6, -7, 4};
    expect_fake("rtn b4", b, b_q, 1, 4, QUANT_RTN, 4, -1);
    // b2: 2^(b-1) - 1 = 1, scale = max|w| = 2: values / 2 -> {-1, 0.5->0, -0.5->-0, 0.25->0}.
    const float c[] = {-2, 1, -1, 0.5f}, c_q[] = {-2, 0, 0, 0};
    expect_fake("rtn b2", c, c_q, 1, 4, QUANT_RTN, 2, -1);
    // b8: scale 127/127 = 1. 0.5 -> 0, 1.5 -> 2, -2.5 -> -2.
    const float d[] = {127, -127, 0.5f, 1.5f, -2.5f}, d_q[] = {127, -127, 0, 2, -2};
    expect_fake("rtn b8", d, d_q, 1, 5, QUANT_RTN, 8, -1);
    // Negative-only, b3: scale = 6/3 = 2: -6, -3 -> -1.5 -> -2 -> -4, -1 -> -0.5 -> -0 -> 0.
    const float e[] = {-6, -3, -1}, e_q[] = {-6, -4, 0};
    expect_fake("rtn negative-only", e, e_q, 1, 3, QUANT_RTN, 3, -1);
}

static void test_gptq_hand(void **state) {
    (void)state;
    // b2, positive only: range widened to [0, 3], scale 1, zero 0: exact.
    const float a[] = {1, 2, 3}, a_q[] = {1, 2, 3};
    expect_fake("gptq positive-only", a, a_q, 1, 3, QUANT_GPTQ_RTN, 2, -1);
    // b2, negative only: [-3, 0], scale 1, zero 3; -1.5 -> -2 + 3 = 1 -> -2; -0.5 -> -0 + 3
    // -> 0.
    const float b[] = {-3, -1.5f, -0.5f}, b_q[] = {-3, -2, 0};
    expect_fake("gptq negative-only", b, b_q, 1, 3, QUANT_GPTQ_RTN, 2, -1);
    // b3, [-1.5, 5.5]: scale 7/7 = 1, zero = round(1.5) = 2; -1.5 -> -2 + 2 = 0 -> -2;
    // 5.5 -> 6 + 2 = 8 -> clamp 7 -> 5; 2.5 -> 2 + 2 = 4 -> 2; 0.5 -> 0.
    const float c[] = {-1.5f, 5.5f, 2.5f, 0.5f}, c_q[] = {-2, 5, 2, 0};
    expect_fake("gptq b3", c, c_q, 1, 4, QUANT_GPTQ_RTN, 3, -1);
    // b4, [-5, 10]: scale 15/15 = 1, zero 5; 3.5 -> 4, 4.5 -> 4, -2.5 -> -2.
    const float d[] = {-5, 10, 3.5f, 4.5f, -2.5f}, d_q[] = {-5, 10, 4, 4, -2};
    expect_fake("gptq b4", d, d_q, 1, 5, QUANT_GPTQ_RTN, 4, -1);
    // b8, [-100, 155]: scale 1, zero 100; 0.5 -> 0, 1.5 -> 2.
    const float e[] = {-100, 155, 0.5f, 1.5f}, e_q[] = {-100, 155, 0, 2};
    expect_fake("gptq b8", e, e_q, 1, 4, QUANT_GPTQ_RTN, 8, -1);
}

// Constant and all-zero groups: no NaN, no inf, zeros come back as +0.0 exactly.
static void test_constant_groups(void **state) {
    (void)state;
    static const quant_kind kinds[] = {QUANT_RTN, QUANT_MINMAX, QUANT_GPTQ_RTN};
    for (int bits = 2; bits <= 8; bits++)
        for (int ki = 0; ki < 3; ki++) {
            quant_kind k = kinds[ki];
            float z[12], zero_want[12];
            for (int i = 0; i < 12; i++) { z[i] = i % 2 ? -0.0f : 0.0f; zero_want[i] = 0.0f; }
            expect_fake("all-zero", z, zero_want, 2, 6, k, bits, 4);   // ragged too
            expect_fake("all-zero g-1", z, zero_want, 1, 12, k, bits, -1);

            // codes of an all-zero group: the zero point, and a finite scale.
            uint8_t codes[12];
            float s[3], zp[3];
            quant_cfg q = cfg(k, bits, 4);
            quant_codes(codes, s, zp, z, 1, 12, &q);
            for (int j = 0; j < 3; j++) {
                assert_true(isfinite(s[j]) && s[j] >= 0.0f);
                assert_true(zp[j] >= 0.0f && zp[j] <= (float)((1 << bits) - 1));
            }
            for (int i = 0; i < 12; i++) assert_int_equal(codes[i], (uint8_t)zp[i / 4]);

            // a constant group c: what each formula gives (see quant.c "Edge cases").
            const float cs[] = {0.75f, -2.0f, 1.0f};
            for (int ci = 0; ci < 3; ci++) {
                float c = cs[ci], w[8], want[8], wv;
                const float maxq = (float)((1 << bits) - 1), hm1 = (float)((1 << (bits - 1)) - 1);
                if (k == QUANT_RTN) {
                    float sc = fabsf(c) / hm1;
                    wv = (c > 0 ? hm1 : -hm1) * sc;
                } else if (k == QUANT_GPTQ_RTN) {
                    float sc = fabsf(c) / maxq;
                    wv = (c > 0 ? maxq : -maxq) * sc;
                } else {
                    float sc = 1e-5f / maxq;   // collapses to +-maxq * scale, about +-1e-5
                    wv = (c > 0 ? maxq : -maxq) * sc;
                }
                for (int i = 0; i < 8; i++) { w[i] = c; want[i] = wv; }
                expect_fake("constant", w, want, 1, 8, k, bits, -1);
                if (k != QUANT_MINMAX) {   // rtn and gptq-rtn reproduce c to within 1 ulp
                    assert_true(fabsf(wv - c) <= fabsf(c) * 2.4e-7f);   // 2 roundings
                    if (bits == 2 && k == QUANT_RTN) assert_true(wv == c);   // scale = |c|
                }
                if (k == QUANT_MINMAX) assert_true(fabsf(fabsf(wv) - 1e-5f) < 1e-11f);
            }
            // minmax reproduces a constant exactly when it is 0 or on the grid: c = 2 * scale.
            if (k == QUANT_MINMAX) {
                float sc = 1e-5f / (float)((1 << bits) - 1), w[4], want[4];
                for (int i = 0; i < 4; i++) w[i] = want[i] = 2.0f * sc;
                expect_fake("minmax small constant", w, want, 1, 4, k, bits, -1);
            }
        }
}

// cols 10, g 4: groups [0, 4), [4, 8) and a shorter last group [8, 10).
static void test_ragged(void **state) {
    (void)state;
    // rtn b3: group scales 1, 2 and 0.5.
    const float w[] = {3, -1.5f, 0.5f, 1, 6, 3, -6, 1.5f, 0.75f, -1.5f};
    const float want[] = {3, -2, 0, 1, 6, 4, -6, 2, 1, -1.5f};
    expect_fake("ragged rtn", w, want, 1, 10, QUANT_RTN, 3, 4);
    // The same row as one group (scale 2): a different answer, so the groups really split.
    const float want_row[] = {4, -2, 0, 0, 6, 4, -6, 2, 0, -2};
    expect_fake("ragged rtn g-1", w, want_row, 1, 10, QUANT_RTN, 3, -1);
    // minmax b2: [0,1,2,3] exact; [10,20,30,40]: scale 10, zero = -round(1) -> 0, 40 -> code 4
    // -> clamp 3 -> 30; [5, 6]: scale 1/3, zero -15 -> 0, codes 15, 18 -> 3 -> 3 * (1/3) = 1.
    // (All-positive groups far from 0 fare badly under minmax: the formula does not widen.)
    const float m[] = {0, 1, 2, 3, 10, 20, 30, 40, 5, 6};
    const float third = 3.0f * (1.0f / 3.0f);
    const float m_want[] = {0, 1, 2, 3, 10, 20, 30, 30, third, third};
    expect_fake("ragged minmax", m, m_want, 1, 10, QUANT_MINMAX, 2, 4);
    // Two rows, each with its own groups: the second row is the first times -1 under rtn.
    float w2[20], want2[20];
    for (int i = 0; i < 10; i++) {
        w2[i] = w[i]; w2[10 + i] = -w[i];
        want2[i] = want[i]; want2[10 + i] = -want[i];
    }
    want2[12] = 0.0f;   // -(+0) would be -0, but an exact zero comes back +0
    expect_fake("ragged rtn 2 rows", w2, want2, 2, 10, QUANT_RTN, 3, 4);
    // g larger than cols is one group.
    expect_fake("g > cols", w, want_row, 1, 10, QUANT_RTN, 3, 64);
}

// ---------------------------------------------------------------------------------------------
// random matrices: naive reference, codes + dequant == fake, MSE vs bits

typedef struct { size_t rows, cols; int group; } shape_case;

static const shape_case shapes[] = {
    {7, 10, 4}, {5, 172, 64}, {3, 172, 128}, {4, 64, 32}, {6, 33, -1}, {2, 1, 1}, {3, 5, 7},
    {9, 257, 128}, {1, 300, -1},   // 300 > the codes chunk of 256
    {160, 256, 64},                // >= 2^15 elements: the OpenMP path
};

static void fill_random(float *w, size_t rows, size_t cols, uint64_t seed) {
    rng_seed(seed);
    for (size_t i = 0; i < rows * cols; i++) w[i] = 0.05f * rng_normal();
    if (rows > 2) {   // a zero row, a constant stretch, a few outliers and exact zeros
        memset(w + cols, 0, cols * sizeof(float));
        for (size_t c = 0; c < cols && c < 5; c++) w[2 * cols + c] = 0.125f;
        w[0] = 1.5f;
        w[rows * cols - 1] = -0.9f;
        w[cols / 2] = 0.0f;
    }
}

static void test_naive_and_codes(void **state) {
    (void)state;
    static const quant_kind kinds[] = {QUANT_RTN, QUANT_MINMAX, QUANT_GPTQ_RTN};
    size_t checked = 0;
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const size_t R = shapes[si].rows, C = shapes[si].cols;
        const int group = shapes[si].group;
        const size_t G = quant_groups(C, group);
        float *w = malloc(R * C * sizeof(float)), *fake = malloc(R * C * sizeof(float));
        float *ref = malloc(R * C * sizeof(float)), *dq = malloc(R * C * sizeof(float));
        float *scale = malloc(R * G * sizeof(float)), *zero = malloc(R * G * sizeof(float));
        uint8_t *codes = malloc(R * C), *packed = malloc(R * C), *codes2 = malloc(R * C);
        assert_true(w && fake && ref && dq && scale && zero && codes && packed && codes2);
        fill_random(w, R, C, 1000 + si);
        for (int ki = 0; ki < 3; ki++)
            for (int bits = 2; bits <= 8; bits++) {
                quant_kind k = kinds[ki];
                quant_cfg q = cfg(k, bits, group);
                char name[128];
                snprintf(name, sizeof name, "%zux%zu %s b%d g%d", R, C, quant_kind_name(k), bits,
                         group);
                memcpy(fake, w, R * C * sizeof(float));
                quant_fake(fake, R, C, &q);
                naive_fake(ref, w, R, C, k, bits, group);
                if (same_bits(name, fake, ref, R * C, C)) fail_msg("%s: fake != naive", name);

                memset(codes, 0xff, R * C);
                quant_codes(codes, scale, zero, w, R, C, &q);
                for (size_t i = 0; i < R * C; i++) assert_true(codes[i] < (1u << bits));
                for (size_t i = 0; i < R * G; i++) {
                    assert_true(isfinite(scale[i]) && scale[i] >= 0.0f);
                    assert_true(zero[i] == rintf(zero[i]) && zero[i] >= 0.0f &&
                                zero[i] <= (float)((1 << bits) - 1));
                    if (k == QUANT_RTN) assert_true(zero[i] == (float)(1 << (bits - 1)));
                }
                quant_dequant(dq, codes, scale, zero, R, C, &q);
                if (same_bits(name, dq, fake, R * C, C)) fail_msg("%s: dequant(codes) != fake", name);

                // packed export round trip of the real codes
                size_t nb = quant_pack(packed, codes, R * C, bits);
                assert_int_equal(nb, quant_packed_size(R * C, bits));
                quant_unpack(codes2, packed, R * C, bits);
                assert_memory_equal(codes2, codes, R * C);

                // fake quantization is idempotent (w_hat is on its own grid) for rtn / gptq
                checked++;
            }
        free(w); free(fake); free(ref); free(dq); free(scale); free(zero);
        free(codes); free(packed); free(codes2);
    }
    if (test_verbose()) fprintf(stderr, "  %zu random configurations bit-exact\n", checked);
}

static void test_mse_vs_bits(void **state) {
    (void)state;
    static const quant_kind kinds[] = {QUANT_RTN, QUANT_MINMAX, QUANT_GPTQ_RTN};
    static const int groups[] = {32, 128, -1};
    const size_t R = 64, C = 256;
    float *w = malloc(R * C * sizeof(float)), *f = malloc(R * C * sizeof(float));
    assert_true(w && f);
    rng_seed(42);
    for (size_t i = 0; i < R * C; i++) w[i] = 0.02f * rng_normal();
    for (int ki = 0; ki < 3; ki++)
        for (int gi = 0; gi < 3; gi++) {
            double prev = INFINITY;
            for (int bits = 2; bits <= 8; bits++) {
                quant_cfg q = cfg(kinds[ki], bits, groups[gi]);
                memcpy(f, w, R * C * sizeof(float));
                quant_fake(f, R, C, &q);
                double mse = 0;
                for (size_t i = 0; i < R * C; i++) mse += ((double)f[i] - w[i]) * ((double)f[i] - w[i]);
                mse /= (double)(R * C);
                if (test_verbose())
                    fprintf(stderr, "  %-8s g%-4d b%d mse %.4g\n", quant_kind_name(kinds[ki]),
                            groups[gi], bits, mse);
                if (!(mse < prev) || !(mse > 0))
                    fail_msg("%s g%d: mse %g at b%d not below %g at b%d", quant_kind_name(kinds[ki]),
                             groups[gi], mse, bits, prev, bits - 1);
                // roughly 4x per bit at high bit widths (sanity, loose)
                if (bits >= 5) assert_true(mse < prev / 2.5);
                prev = mse;
            }
        }
    free(w);
    free(f);
}

// ---------------------------------------------------------------------------------------------
// packing

static void test_pack_layout(void **state) {
    (void)state;
    uint8_t out[8], back[8];
    const uint8_t c2[] = {1, 2, 3, 0, 1};   // 4 per byte, 2-bit slots
    assert_int_equal(quant_pack(out, c2, 5, 2), 2);
    assert_int_equal(out[0], 0x39);          // 1 | 2 << 2 | 3 << 4 | 0 << 6
    assert_int_equal(out[1], 0x01);
    const uint8_t c3[] = {5, 6, 7};          // 2 per byte, 4-bit slots
    assert_int_equal(quant_pack(out, c3, 3, 3), 2);
    assert_int_equal(out[0], 0x65);
    assert_int_equal(out[1], 0x07);
    const uint8_t c4[] = {0xa, 0x5, 0x3};
    assert_int_equal(quant_pack(out, c4, 3, 4), 2);
    assert_int_equal(out[0], 0x5a);
    assert_int_equal(out[1], 0x03);
    const uint8_t c5[] = {31, 0, 17};        // one per byte
    assert_int_equal(quant_pack(out, c5, 3, 5), 3);
    assert_memory_equal(out, c5, 3);
    quant_unpack(back, out, 3, 5);
    assert_memory_equal(back, c5, 3);
    assert_int_equal(quant_packed_size(0, 4), 0);
    assert_int_equal(quant_packed_size(1, 2), 1);
    assert_int_equal(quant_packed_size(5, 2), 2);
    assert_int_equal(quant_packed_size(8, 2), 2);
    assert_int_equal(quant_packed_size(9, 3), 5);
    assert_int_equal(quant_packed_size(9, 8), 9);
}

static void test_pack_roundtrip(void **state) {
    (void)state;
    static const size_t ns[] = {1, 3, 7, 13, 101, 1001};
    uint8_t codes[1002], packed[1002], back[1002];
    rng_seed(7);
    for (int bits = 2; bits <= 8; bits++)
        for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++) {
            size_t n = ns[ni];
            for (size_t i = 0; i < n; i++) codes[i] = (uint8_t)(rng_u32() & ((1u << bits) - 1));
            codes[0] = (uint8_t)((1u << bits) - 1);   // the largest code is kept whole
            memset(packed, 0xcc, sizeof packed);
            size_t nb = quant_pack(packed, codes, n, bits);
            unsigned per = 8u / (unsigned)bits;
            assert_int_equal(nb, (n + per - 1) / per);
            assert_int_equal(nb, quant_packed_size(n, bits));
            assert_int_equal(packed[nb], 0xcc);   // nothing written past the end
            if (n % per) {                           // unused slots of the last byte are 0
                unsigned used = (unsigned)(n % per) * (8u / per);
                assert_int_equal(packed[nb - 1] >> used, 0);
            }
            memset(back, 0xcc, sizeof back);
            quant_unpack(back, packed, n, bits);
            assert_memory_equal(back, codes, n);
            assert_int_equal(back[n], 0xcc);
        }
}

// ---------------------------------------------------------------------------------------------
// PyTorch golden (tools/ref_quant.py via tools/make-quant-fixtures), bit for bit

static void test_golden(void **state) {
    (void)state;
    ah_err e = {{0}};
    st_set *s = st_open(GOLDEN, &e);
    if (!s) fail_msg("%s (run from the repo root; regenerate with tools/make-quant-fixtures)", e.msg);
    size_t compared = 0, failed = 0;
    for (size_t i = 0; i < st_count(s); i++) {
        const st_tensor *t = st_at(s, i);
        // "<input>.<kind>.b<bits>.g<group>": the last three dot-separated fields
        char name[256], kname[32];
        snprintf(name, sizeof name, "%s", t->name);
        char *d3 = strrchr(name, '.');
        if (!d3) continue;
        *d3 = 0;
        char *d2 = strrchr(name, '.');
        if (!d2) continue;
        *d2 = 0;
        char *d1 = strrchr(name, '.');
        if (!d1) continue;
        *d1 = 0;
        int bits, group;
        if (sscanf(d2 + 1, "b%d", &bits) != 1 || sscanf(d3 + 1, "g%d", &group) != 1) continue;
        snprintf(kname, sizeof kname, "%s", d1 + 1);
        quant_kind k;
        if (quant_kind_parse(kname, &k)) fail_msg("%s: unknown kind '%s'", t->name, kname);
        const st_tensor *in = st_find(s, name);
        if (!in) fail_msg("%s: input '%s' missing", t->name, name);
        assert_int_equal(t->dtype, ST_F32);
        assert_int_equal(in->dtype, ST_F32);
        assert_int_equal(t->ndim, 2);
        assert_int_equal(in->ndim, 2);
        assert_true(t->shape[0] == in->shape[0] && t->shape[1] == in->shape[1]);
        const size_t R = (size_t)in->shape[0], C = (size_t)in->shape[1];
        float *got = malloc(R * C * sizeof(float)), *ref = malloc(R * C * sizeof(float));
        assert_true(got && ref);
        memcpy(got, in->data, R * C * sizeof(float));
        memcpy(ref, t->data, R * C * sizeof(float));
        quant_cfg q = cfg(k, bits, group);
        assert_int_equal(quant_cfg_check(&q, &e), 0);
        quant_fake(got, R, C, &q);
        if (same_bits(t->name, got, ref, R * C, C)) failed++;
        compared++;
        free(got);
        free(ref);
    }
    st_close(s);
    if (test_verbose()) fprintf(stderr, "  golden: %zu tensors compared, %zu differ\n", compared, failed);
    if (failed) fail_msg("%zu of %zu golden tensors differ from the PyTorch reference", failed, compared);
    // 4 inputs x 3 kinds x bits {2,3,4,8} x groups {32,64,128,-1}
    assert_int_equal(compared, 4 * 3 * 4 * 4);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cfg_check),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_groups),
        cmocka_unit_test(test_minmax_hand),
        cmocka_unit_test(test_rtn_hand),
        cmocka_unit_test(test_gptq_hand),
        cmocka_unit_test(test_constant_groups),
        cmocka_unit_test(test_ragged),
        cmocka_unit_test(test_naive_and_codes),
        cmocka_unit_test(test_mse_vs_bits),
        cmocka_unit_test(test_pack_layout),
        cmocka_unit_test(test_pack_roundtrip),
        cmocka_unit_test(test_golden),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
