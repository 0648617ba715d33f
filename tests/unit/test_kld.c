// test_kld.c — eval/kld (llama.cpp's per-position KL divergence) and eval/kld_stats (its
// statistics): hand-computed rows, the 16-bit base rounding and its -16 cut, first-index ties,
// chunking, and the percentile, median and standard-error rules.
//
// Expected values of the small rows come from tools/ref_kld.py's numpy functions (base_rows,
// kld_rows: llama.cpp's formulas with each operation in float32, the sums in float64) and from
// the exact float64 KL divergence (ref_kld.exact_kld), e.g.
//   lb = np.array([[2, 1, 0]], np.float32); lq = np.array([[1.5, 1.5, -1]], np.float32)
//   ref_kld.kld_rows(ref_kld.base_rows(lb), lq, np.array([1]))
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/kld.h"
#include "eval/kld_stats.h"
#include "testutil.h"

// The FP row statistics of lb[n] as ppl.c gathers them (max, min, sum of exp(l - max)).
static kld_row row_of(const float *lb, size_t n) {
    float mx = lb[0], mn = lb[0];
    for (size_t i = 1; i < n; i++) {
        mx = lb[i] > mx ? lb[i] : mx;
        mn = lb[i] < mn ? lb[i] : mn;
    }
    double se = 0.0;
    for (size_t i = 0; i < n; i++) se += expf(lb[i] - mx);
    return kld_row_make(mx, mn, se);
}

// One position over vocabulary chunks of `chunk` entries, as ppl.c and kld_ref.c do it, with
// the quantized logits lq standing for x_q . head: then x_q . hbar = sum p_b lq, taken here in
// double from the p_b that kld_base_chunk writes.
static kld_pos position(const float *lb, const float *lq, size_t n, int t, size_t chunk) {
    kld_row b = row_of(lb, n);
    kld_base_acc a;
    kld_top q;
    memset(&a, 0, sizeof a);
    memset(&q, 0, sizeof q);
    float *p = malloc(n * sizeof *p);
    assert_non_null(p);
    for (size_t v0 = 0; v0 < n; v0 += chunk) {
        size_t len = n - v0 < chunk ? n - v0 : chunk;
        kld_base_chunk(&a, p + v0, &b, lb + v0, v0, len, t);
        kld_top_chunk(&q, lq + v0, v0, len);
    }
    double hdot = 0.0, qs = 0.0;
    for (size_t i = 0; i < n; i++) hdot += (double)p[i] * lq[i];
    for (size_t i = 0; i < n; i++) qs += expf(lq[i] - q.max);
    free(p);
    kld_base base = {.c0 = a.c0, .s = a.s, .target = a.target, .arg = a.arg};
    kld_pos o;
    kld_finish(&o, &base, hdot, q.arg, q.max, qs, lq[t]);
    return o;
}

// lb = (2, 1, 0): m = 2, lo = 0, lse = log(1 + e^-1 + e^-2) = 0.4076059, scale = 2 / 65535;
// codes 65535, 32768 (32767.5 rounds to even), 0: logp_b = -0.4076059, -1.4075906 (exact
// -1.4076059: the code step moved it by 1.5e-5), -2.4076059.
static void test_three_tokens(void **state) {
    (void)state;
    const float lb[3] = {2, 1, 0}, lq[3] = {1.5f, 1.5f, -1};
    kld_pos o = position(lb, lq, 3, 1, 3);
    assert_true(fabs(o.kld - 0.12605200707912445) < 1e-7);   // llama.cpp's rule (numpy)
    assert_true(fabs(o.kld - 0.12605064591322335) < 3e-6);   // the exact KLD, 16-bit rounding apart
    assert_true(fabs(o.dp - 0.23555554449558258) < 1e-7);
    assert_true(fabs(o.nll_b - 1.4075906f) < 1e-6);
    // Top tokens: q's first maximum is index 0 (1.5 twice), the base's 0: the same.
    assert_int_equal(o.same_top, 1);
}

// A logit more than 16 below the maximum gets code 0, and a base log-prob at or below -16
// is left out of the sum: lb = (0, -20), lq = (0, -10) gives log(1 + e^-10) = 4.5398899e-05
// (the exact KLD, 4.5376227e-05, includes the cut token's -2e-8 and the base lse).
static void test_cut_below_16(void **state) {
    (void)state;
    const float lb[2] = {0, -20}, lq[2] = {0, -10};
    kld_row b = row_of(lb, 2);
    assert_true(b.lo == -16.0f);
    kld_pos o = position(lb, lq, 2, 0, 2);
    assert_true(fabs(o.kld - 4.539889414445497e-05) < 1e-10);
    // Δp is a difference of two float probabilities near 1: one float step there is 6e-8, and
    // numpy's float32 exp and libm's expf may round apart by one.
    assert_true(fabs(o.dp - -4.5359134674072266e-05) < 1.3e-7);
}

// The same logits on both sides: a constant row (scale 0, every code 0) gives exactly 0; an
// ordinary row gives only the 16-bit rounding residual sum p_b(i) d(i), each |d(i)| at most half
// a code step, scale / 2 = (max - lo) / 131070: the bound checked here. Averaged over a real
// model's positions its signs cancel (tinyprose: mean -6.8e-8, against 0.0057 for MinMax INT4
// g128; docs/KLD.md).
static void test_identical(void **state) {
    (void)state;
    const float c[4] = {1, 1, 1, 1};
    kld_pos o = position(c, c, 4, 2, 4);
    assert_true(o.kld == 0.0f);
    assert_true(o.dp == 0.0f);
    assert_int_equal(o.same_top, 1);
    srand(7);
    float l[1000];
    double worst = 0.0;
    for (int rep = 0; rep < 20; rep++) {
        for (int i = 0; i < 1000; i++) l[i] = 6.0f * ((float)rand() / (float)RAND_MAX) - 3.0f;
        kld_row b = row_of(l, 1000);
        double half_step = (b.max - b.lo) / 65535.0 / 2;
        kld_pos s = position(l, l, 1000, rep, 1000);
        worst = fmax(worst, fabs(s.kld) / half_step);
        assert_true(fabs(s.kld) <= 1.01 * half_step);
        assert_int_equal(s.same_top, 1);
        assert_true(fabs(s.dp) < 1e-5);
    }
    if (test_verbose()) fprintf(stderr, "identical rows: |KLD| <= %.3g half code steps\n", worst);
}

// The first index wins ties on both sides, also across chunks: lq's maximum at 2 and 5, lb's
// at 4 and 6, chunks of 3.
static void test_ties_first_index(void **state) {
    (void)state;
    const float lq[8] = {0, 1, 3, 0, 2, 3, 1, 0}, lb[8] = {0, 1, 2, 0, 3, 1, 3, 0};
    kld_row b = row_of(lb, 8);
    kld_base_acc a;
    kld_top q;
    float p[8];
    memset(&a, 0, sizeof a);
    memset(&q, 0, sizeof q);
    for (size_t v0 = 0; v0 < 8; v0 += 3) {
        size_t len = v0 + 3 <= 8 ? 3 : 8 - v0;
        kld_base_chunk(&a, p + v0, &b, lb + v0, v0, len, 0);
        kld_top_chunk(&q, lq + v0, v0, len);
    }
    assert_int_equal(q.arg, 2);
    assert_int_equal(a.arg, 4);
    // Another pair whose tops agree: lq = lb shifted.
    float lq2[8];
    for (int i = 0; i < 8; i++) lq2[i] = lb[i] + 0.5f;
    kld_pos o = position(lb, lq2, 8, 3, 3);
    assert_int_equal(o.same_top, 1);
}

// Chunking the vocabulary changes nothing but the order of double sums.
static void test_chunks(void **state) {
    (void)state;
    enum { V = 4099 };
    static float lb[V], lq[V];
    srand(11);
    for (int i = 0; i < V; i++) {
        lb[i] = 8.0f * ((float)rand() / (float)RAND_MAX) - 4.0f;
        lq[i] = lb[i] + 0.3f * ((float)rand() / (float)RAND_MAX - 0.5f);
    }
    kld_pos one = position(lb, lq, V, 1234, V);
    size_t sizes[] = {1, 7, 256, 1000, 4096};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        kld_pos o = position(lb, lq, V, 1234, sizes[k]);
        assert_true(fabs(o.kld - one.kld) <= 1e-6 * one.kld);
        assert_true(o.dp == one.dp);
        assert_true(o.nll_b == one.nll_b);
        assert_int_equal(o.same_top, one.same_top);
    }
    // lq - lb uniform in +-0.15: KLD ~ var / 2 = 0.3^2 / 12 / 2 = 0.00375 (second order)
    assert_true(one.kld > 0.0030f && one.kld < 0.0045f);
}

// llama.cpp's percentile: x = q (n - 1) in float, linear between the two neighbours.
static void test_percentile_rule(void **state) {
    (void)state;
    const float v5[5] = {1, 2, 3, 4, 5}, v4[4] = {1, 2, 3, 4};
    assert_true(kld_percentile(v5, 5, 0.9f) == 4.6f);   // x = 3.6: 0.4 * 4 + 0.6 * 5
    assert_true(kld_percentile(v5, 5, 0.0f) == 1.0f);
    assert_true(kld_percentile(v5, 5, 1.0f) == 5.0f);
    assert_true(kld_percentile(v5, 5, 0.5f) == 3.0f);
    assert_true(kld_median(v5, 5) == 3.0f);
    assert_true(kld_median(v4, 4) == 2.5f);
    // 99.9% of 1001 values 0..1000: x = 999 exactly.
    static float v[1001];
    for (int i = 0; i <= 1000; i++) v[i] = (float)i;
    assert_true(fabs(kld_percentile(v, 1001, 0.999f) - 999.0f) < 1e-3);
    assert_true(kld_percentile(v, 1001, 0.99f) == 990.0f);
}

// mean +- se as llama.cpp's mean_and_uncertainty (0 for n <= 10), top-1 fraction and its se,
// and the statistics' order in kld_stats_named.
static void test_stats(void **state) {
    (void)state;
    kld_pos p[12];
    memset(p, 0, sizeof p);
    for (int i = 0; i < 12; i++) {
        p[i].kld = (float)(i + 1);   // 1 .. 12
        p[i].dp = i % 2 ? 0.5f : -0.5f;
        p[i].same_top = i < 9;
    }
    kld_stats s;
    ah_err e = {{0}};
    assert_int_equal(kld_stats_compute(&s, p, 12, &e), 0);
    assert_true(fabs(s.mean - 6.5) < 1e-12);
    // sum2 / n - f^2 = 650 / 12 - 42.25 = 11.9167; se = sqrt(11.9167 / 11)
    assert_true(fabs(s.se - sqrt((650.0 / 12 - 42.25) / 11)) < 1e-12);
    assert_true(s.q[0] == 12.0 && s.q[KLD_NQ - 1] == 1.0);
    assert_true(s.q[5] == 6.5);   // median of 12 values
    assert_int_equal(s.same_top, 9);
    assert_true(fabs(s.same_top_frac - 0.75) < 1e-12);
    assert_true(fabs(s.same_top_se - sqrt(0.75 * 0.25 / 11)) < 1e-12);
    assert_true(fabs(s.dp_mean) < 1e-12 && fabs(s.dp_rms - 0.5) < 1e-12);
    assert_true(s.dp_rms_se == 0.0);   // every Δp^2 equal: no variance
    // n <= 10: no standard error (llama.cpp prints 0).
    assert_int_equal(kld_stats_compute(&s, p, 10, &e), 0);
    assert_true(s.se == 0.0 && s.dp_se == 0.0);
    assert_int_equal(kld_stats_compute(&s, p, 0, &e), -1);
    const char *names[KLD_NAMED];
    double vals[KLD_NAMED];
    kld_stats_compute(&s, p, 12, &e);
    int n = kld_stats_named(&s, names, vals);
    assert_int_equal(n, KLD_NAMED);
    assert_string_equal(names[0], "kld_mean");
    assert_string_equal(names[7], "kld_median");
    assert_true(vals[7] == 6.5);
    assert_string_equal(names[n - 1], "kld_positions");
    assert_true(vals[n - 1] == 12.0);
    assert_int_equal(kld_named_is_count("top1_same"), 1);
    assert_int_equal(kld_named_is_count("top1_agree"), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_tokens),   cmocka_unit_test(test_cut_below_16),
        cmocka_unit_test(test_identical),      cmocka_unit_test(test_ties_first_index),
        cmocka_unit_test(test_chunks),         cmocka_unit_test(test_percentile_rule),
        cmocka_unit_test(test_stats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
