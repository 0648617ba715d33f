// hess.c — GPTQ's Hessian accumulation for the calibration capture (calib.h). Apart from
// calib.c because GSL's statistics headers and OpenBLAS's cblas.h cannot share a file.
#include <stdlib.h>

#include "calib/calib.h"
#include "core/blas.h"

int calib_hess_accumulate(double *H, const float *x, int N, int width) {
    size_t n = (size_t)N * width;
    double *xd = malloc(n * sizeof *xd);   // (N, width) in double
    if (!xd) return -1;
    for (size_t i = 0; i < n; i++) xd[i] = x[i];
    // Upper triangle of H (width, width) += x^T x.
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, width, N, 1.0, xd, width, 1.0, H, width);
    free(xd);
    return 0;
}
