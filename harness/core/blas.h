// blas.h — the one place the CBLAS header is included, and the choice of OpenBLAS kernels.
//
// OpenBLAS's cblas.h pulls in <complex.h>, which defines the macro I (the imaginary unit).
// A variable or parameter named I then silently becomes a complex constant that converts to
// 0 in integer context: a GEMM with K = 0 that computes nothing. Undefine it here.
#ifndef AH_BLAS_H
#define AH_BLAS_H

#include <cblas.h>
#undef I

#include "core/err.h"

// Chooses the kernel set OpenBLAS runs, from AH_BLAS_CORE (blas.c says why):
//   auto (default)  the widest the CPU runs: SkylakeX with AVX-512 (F CD BW DQ VL), Haswell
//                   with AVX2 + FMA; overrides OPENBLAS_CORETYPE and OpenBLAS's detection
//   openblas        whatever OpenBLAS chose (its detection, or OPENBLAS_CORETYPE)
//   NAME            that OpenBLAS kernel set (SkylakeX, Haswell, Zen, ...)
// Call once, before any BLAS call. -1 when a named set cannot be had.
int ah_blas_select(ah_err *e);

// The kernel set OpenBLAS runs now ("SkylakeX", "Haswell", ...).
const char *ah_blas_core(void);

// 1 when OpenBLAS's sgemm gives a row of x the same output bits wherever the row sits in
// x (rows 7.. of a 29-row product against the same rows as a 22-row product of their own);
// 0 where the kernel's order depends on the row's place. SkylakeX: 1 (its kernel sums each
// output along K alone). Haswell and Zen: 0 (the 8x4 kernel of 0.3.21 splits K over two
// accumulators at the edges of its 12-row panels and in its 4-row tail). Asked once per
// kernel set (blas.c); fwd_block_rows computes only some rows of a GEMM where this is 1.
int ah_blas_rows_independent(void);

#endif
