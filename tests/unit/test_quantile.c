// test_quantile.c — core/quantile.h against numpy.quantile's default (linear) values.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/quantile.h"

static void test_quantiles(void **state) {
    (void)state;
    double odd[] = {3, 1, 2};
    assert_true(ah_quantile(odd, 3, 0.5) == 2.0);            // np.quantile([3,1,2], .5)
    double even[] = {4, 1, 3, 2};
    assert_true(ah_quantile(even, 4, 0.5) == 2.5);           // the middle two's mean
    double ten[] = {10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
    assert_float_equal(ah_quantile(ten, 10, 0.9), 9.1, 1e-12);   // np.quantile(1..10, .9)
    assert_true(ah_quantile(ten, 10, 0.0) == 1.0 && ah_quantile(ten, 10, 1.0) == 10.0);
    double one[] = {7};
    assert_true(ah_quantile(one, 1, 0.9) == 7.0);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_quantiles)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
