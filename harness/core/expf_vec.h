// expf_vec.h — ah_expf (core/fastexp.h) over arrays, bit for bit, faster on AVX2 + FMA.
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

// 1 when ah_expf_shift_n runs its AVX2 + FMA path on this CPU (AVX2 + FMA without AVX-512F),
// 0 when it runs ah_expf per element (compiled for the widest vectors the CPU has);
// AH_EXPF_VEC=0 in the environment forces the latter (A/B timing).
int ah_expf_vec_fast(void);

// The reference path alone (ah_expf per element), whatever the CPU: what the fast path is
// checked against (tests/unit/test_expf_vec.c).
void ah_expf_shift_n_ref(float *y, const float *x, size_t n, float shift);

#endif
