// test_vecmax.c — core/vecmax.h against the scalar first-maximum loop it replaced
// (`if (x[i] > x[best]) best = i`): every length 1..600 (vector blocks and tails), the maximum
// placed at every kind of position, ties (the lowest index wins), negative-only rows, and a
// NaN passed over.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/vecmax.h"

static size_t scalar_argmax(const float *x, size_t n) {
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

static void test_argmax_lengths(void **state) {
    (void)state;
    enum { N = 600 };
    static float x[N];
    unsigned s = 99u;
    for (size_t n = 1; n <= N; n++) {
        for (size_t i = 0; i < n; i++) {
            s = s * 1103515245u + 12345u;
            x[i] = -100.0f + (float)((s >> 10) % 5000) * 0.01f;   // negative, with many ties
        }
        size_t want = scalar_argmax(x, n), got = ah_argmax_f32(x, n);
        if (got != want) fail_msg("n=%zu: argmax %zu, scalar loop %zu", n, got, want);
        float mx = ah_max_f32(x, n);
        if (mx != x[want]) fail_msg("n=%zu: max %g, want %g", n, mx, x[want]);
    }
}

static void test_argmax_ties_and_nan(void **state) {
    (void)state;
    float x[300];
    for (int i = 0; i < 300; i++) x[i] = 1.0f;
    assert_int_equal(ah_argmax_f32(x, 300), 0);          // all equal: the first
    x[257] = 2.0f;
    x[299] = 2.0f;
    assert_int_equal(ah_argmax_f32(x, 300), 257);        // two maxima past the first block
    x[3] = NAN;
    assert_int_equal(ah_argmax_f32(x, 300), 257);        // a NaN is passed over
    assert_true(ah_max_f32(x, 0) == 0.0f);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_argmax_lengths),
                                       cmocka_unit_test(test_argmax_ties_and_nan)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
