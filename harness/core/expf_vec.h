// expf_vec.h — ah_expf (core/fastexp.h) over arrays, bit for bit, faster on AVX2 + FMA and
// on AVX-512.
//
// ah_expf evaluates a degree-11 polynomial in double for every element: the softmax of the
// attention spends most of its time there (bench/README.md, "Faster evaluation"). Its results
// must not change by a bit (the AWQ reference tests compare near-tied alphas), so the fast
// path here is a cheaper approximation that knows when it may round differently:
//
//   x = (8k + j) ln2/8 + r, |r| <= ln2/16;  exp(x) ~ 2^k * 2^(j/8) * P6(r)
//
// (a table of 8 doubles, a degree-6 Taylor polynomial: relative error below 2^-43 before the
// final rounding to float; ah_expf's own is below 2^-45). Two values that close round to the
// same float unless a float rounding midpoint lies between them, so a lane whose double
// result lies within 2^-41 (relative) of a midpoint, or outside the range where the result is
// a normal float, sends its chunk of 64 elements to ah_expf itself (the window is 2^-16 of
// the 29 dropped bits' range: about one value in 65536 of the fast range). Checked against
// ah_expf on all 2^32 float inputs (`AH_EXHAUSTIVE=1 build/tests/test_expf_vec`; the default
// run checks 1 in 4099 of them and the edges of every range; with the midpoint window cut to
// 1 unit the exhaustive run finds 21 inputs that differ, so the window is needed and the
// check sees it).
#ifndef AH_EXPF_VEC_H
#define AH_EXPF_VEC_H

#include <stddef.h>

// y[j] = ah_expf(x[j] - shift) for j in [0, n), the difference rounded to float first, as
// `ah_expf(x[j] - shift)` does. y may be x (in place).
void ah_expf_shift_n(float *y, const float *x, size_t n, float shift);

// The paths: the reference (ah_expf per element, compiled for the widest vectors the CPU
// has), the fast path on AVX2 + FMA (4 doubles a vector), the same on AVX-512F (8).
enum { AH_EXPF_REF, AH_EXPF_AVX2, AH_EXPF_AVX512 };

// The path ah_expf_shift_n runs: the widest fast one this CPU has; AH_EXPF_VEC=0 in the
// environment forces the reference, AH_EXPF_VEC=avx2 the AVX2 one where the CPU has it (A/B
// timing, bench/expf_speed.c).
int ah_expf_vec_path(void);

// 1 when this CPU can run path p; its name for messages ("reference", "AVX2 + FMA", "AVX-512").
int ah_expf_path_supported(int p);
const char *ah_expf_path_name(int p);

// ah_expf_shift_n on path p (supported by the CPU): what tests/unit/test_expf_vec.c checks
// every path with, against AH_EXPF_REF.
void ah_expf_shift_n_path(int p, float *y, const float *x, size_t n, float shift);

#endif
