// testutil.h — shared helpers for the cmocka unit tests.
//
// check_tensor: compares got against ref elementwise with |got - ref| <= atol + rtol * |ref|
// (rtol is applied to the reference only, never `tol + |ref|`), fails on any NaN/inf, and on
// failure prints the worst element. Returns 0 when all match.
#ifndef AH_TESTUTIL_H
#define AH_TESTUTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static inline int check_tensor(const char *name, const float *got, const float *ref, size_t n,
                               double atol, double rtol) {
    size_t worst = 0, bad = 0;
    double worst_excess = -1.0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(got[i]) || !isfinite(ref[i])) {
            fprintf(stderr, "%s[%zu]: non-finite got=%g ref=%g\n", name, i, got[i], ref[i]);
            return -1;
        }
        double d = fabs((double)got[i] - ref[i]);
        double lim = atol + rtol * fabs((double)ref[i]);
        if (d > lim) bad++;
        if (d - lim > worst_excess) { worst_excess = d - lim; worst = i; }
    }
    if (bad) {
        fprintf(stderr, "%s: %zu of %zu elements out of tolerance (atol %g rtol %g); worst [%zu] "
                "got %.9g ref %.9g\n", name, bad, n, atol, rtol, worst, got[worst], ref[worst]);
        return -1;
    }
    return 0;
}

// Root of ../shared/data relative to the repo, or $AH_SHARED_DATA. Tests needing it exit 77
// with a message when it is absent.
static inline const char *shared_data_dir(void) {
    const char *d = getenv("AH_SHARED_DATA");
    return d ? d : "../shared/data";
}

static inline int test_verbose(void) { return getenv("AH_VERBOSE") != NULL; }

#endif
