// gram_chol.c — the GSL part of the AWQ search's Gram loss (awq.h): the lower Cholesky factor
// of a Gram matrix. Kept apart from awq.c because GSL's linear-algebra headers and
// OpenBLAS's cblas.h cannot share a file.
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <math.h>

#include "awq/awq.h"

int awq_cholesky_lower(double *G, int n) {
    // G holds its upper triangle (row-major); GSL reads the lower one: mirror it first.
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++) G[(size_t)i * n + j] = G[(size_t)j * n + i];
    gsl_matrix_view v = gsl_matrix_view_array(G, (size_t)n, (size_t)n);
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    int rc = gsl_linalg_cholesky_decomp1(&v.matrix) == GSL_SUCCESS ? 0 : -1;
    gsl_set_error_handler(old);
    for (int i = 0; i < n && rc == 0; i++) {
        if (!(G[(size_t)i * n + i] > 0.0) || !isfinite(G[(size_t)i * n + i])) rc = -1;
        for (int j = i + 1; j < n; j++) G[(size_t)i * n + j] = 0.0;   // L alone, as trmm reads it
    }
    return rc;
}
