// blas.h — the one place the CBLAS header is included.
//
// OpenBLAS's cblas.h pulls in <complex.h>, which defines the macro I (the imaginary unit).
// A variable or parameter named I then silently becomes a complex constant that converts to
// 0 in integer context: a GEMM with K = 0 that computes nothing. Undefine it here.
#ifndef AH_BLAS_H
#define AH_BLAS_H

#include <cblas.h>
#undef I

#endif
