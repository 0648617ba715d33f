// gptq_chol.c — the GSL part of GPTQ (gptq.h): the upper Cholesky factor of H^-1. Kept apart
// from gptq.c because GSL's linear-algebra headers and OpenBLAS's cblas.h cannot share a file.
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <math.h>

#include "quant/gptq.h"

int gptq_inverse_cholesky_upper(double *A, int n) {
    gsl_matrix_view v = gsl_matrix_view_array(A, (size_t)n, (size_t)n);
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    int rc = -1;
    // A = L L^T (L in the lower triangle; decomp1 leaves the upper triangle as it was).
    if (gsl_linalg_cholesky_decomp1(&v.matrix) != GSL_SUCCESS) goto done;
    // A^-1 from L, written as a full symmetric matrix.
    if (gsl_linalg_cholesky_invert(&v.matrix) != GSL_SUCCESS) goto done;
    // A^-1 = L' L'^T; U = L'^T is the upper factor the reference uses (torch.linalg.cholesky
    // (Hinv, upper=True)).
    if (gsl_linalg_cholesky_decomp1(&v.matrix) != GSL_SUCCESS) goto done;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < i; j++) A[(size_t)i * n + j] = 0.0;
        for (int j = i; j < n; j++) A[(size_t)i * n + j] = A[(size_t)j * n + i];
        // A non-finite or non-positive pivot counts as a failure (retried with more damping).
        if (!(A[(size_t)i * n + i] > 0.0) || !isfinite(A[(size_t)i * n + i])) goto done;
    }
    for (size_t k = 0; k < (size_t)n * n; k++)
        if (!isfinite(A[k])) goto done;
    rc = 0;
done:
    gsl_set_error_handler(old);
    return rc;
}
