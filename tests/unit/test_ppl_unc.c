// test_ppl_unc.c — eval/ppl_unc: llama.cpp's standard error of a perplexity on a hand-computed
// vector, and the window bootstrap (deterministic for a seed, brackets the point estimate,
// a paired difference of a run with itself is exactly 0).
//
// Per-token NLL {1, 2, 3, 4}: sum 10, sum of squares 30, count 4; llama.cpp
// (tools/perplexity/perplexity.cpp) computes nll = 2.5, nll2 = 30/4 - 2.5^2 = 1.25,
// PPL = e^2.5 = 12.182494, +/- sqrt(1.25 / 3) * e^2.5 = 7.863766037512831 (python3:
// math.exp(2.5) * math.sqrt(1.25 / 3)).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "eval/ppl_unc.h"

static void test_se_matches_llamacpp(void **state) {
    (void)state;
    assert_true(fabs(ppl_se_llamacpp(10.0, 30.0, 4) - 7.863766037512831) < 1e-12);
    // No spread (every token the same NLL) and a single token: llama.cpp prints no +/-; 0 here.
    assert_true(ppl_se_llamacpp(3.0, 3.0, 3) == 0.0);
    assert_true(ppl_se_llamacpp(2.0, 4.0, 1) == 0.0);
}

static const double win[8] = {1.9, 2.3, 2.0, 2.6, 2.2, 1.8, 2.4, 2.1};

static void test_bootstrap_deterministic_and_brackets(void **state) {
    (void)state;
    double lo, hi, lo2, hi2, lo3, hi3, mean = 0.0;
    for (int i = 0; i < 8; i++) mean += win[i] / 8;
    assert_int_equal(ppl_boot_interval(win, 8, 1000, 7, &lo, &hi), 0);
    assert_int_equal(ppl_boot_interval(win, 8, 1000, 7, &lo2, &hi2), 0);
    assert_true(lo == lo2 && hi == hi2);   // same seed: the same interval, bit for bit
    assert_true(lo < exp(mean) && exp(mean) < hi);
    // Within the range of the windows' own perplexities, and not degenerate.
    assert_true(lo > exp(1.8) && hi < exp(2.6) && hi - lo > 0.1);
    assert_int_equal(ppl_boot_interval(win, 8, 1000, 8, &lo3, &hi3), 0);
    assert_true(lo3 != lo || hi3 != hi);   // the seed is used
    // One window: every resample is that window.
    assert_int_equal(ppl_boot_interval(win, 1, 100, 7, &lo, &hi), 0);
    assert_true(lo == exp(win[0]) && hi == exp(win[0]));
    assert_int_equal(ppl_boot_interval(win, 0, 100, 7, &lo, &hi), -1);
}

static void test_paired(void **state) {
    (void)state;
    double b[8];
    ppl_paired d, d2;
    // A run against itself: difference 0, interval [0, 0].
    assert_int_equal(ppl_boot_paired(win, win, 8, 1000, 3, &d), 0);
    assert_true(d.nll == 0.0 && d.nll_lo == 0.0 && d.nll_hi == 0.0);
    assert_true(d.ppl == 0.0 && d.ppl_lo == 0.0 && d.ppl_hi == 0.0);
    // Worse by 0.1 +- 0.01 on every window: the interval excludes 0 although the windows' own
    // spread (0.8) dwarfs the difference — what pairing buys.
    for (int i = 0; i < 8; i++) b[i] = win[i] + 0.1 + (i % 2 ? 0.01 : -0.01);
    assert_int_equal(ppl_boot_paired(win, b, 8, 1000, 3, &d), 0);
    assert_true(fabs(d.nll - 0.1) < 1e-12 && d.nll_lo > 0.08 && d.nll_hi < 0.12);
    assert_true(d.nll_lo <= d.nll && d.nll <= d.nll_hi);
    assert_true(d.ppl_lo > 0.0 && d.ppl_lo <= d.ppl && d.ppl <= d.ppl_hi);
    assert_int_equal(ppl_boot_paired(win, b, 8, 1000, 3, &d2), 0);
    assert_memory_equal(&d, &d2, sizeof d);   // deterministic for a seed
    // Worse on some windows, better on others: the interval holds 0.
    for (int i = 0; i < 8; i++) b[i] = win[i] + (i % 2 ? 0.3 : -0.29);
    assert_int_equal(ppl_boot_paired(win, b, 8, 1000, 3, &d), 0);
    assert_true(d.nll_lo < 0.0 && d.nll_hi > 0.0 && d.ppl_lo < 0.0 && d.ppl_hi > 0.0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_se_matches_llamacpp),
        cmocka_unit_test(test_bootstrap_deterministic_and_brackets),
        cmocka_unit_test(test_paired),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
