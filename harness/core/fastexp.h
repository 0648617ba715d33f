// fastexp.h — exp(x) for float x that vectorises: evaluated in double, rounded once to float.
//
// Why not libm's expf: it is a call per element, and the softmax of the attention and the
// log-sum-exp of the LM head are a third of `eval`'s non-GEMM time. Why not a float
// polynomial: a 1-2 ulp exp moves near-tied AWQ alpha choices (tests/cli/test_awq_reference.sh).
// This one is accurate to about 2^-45 relative before the final rounding, so its result is the
// correctly rounded exp(x) for all but 2 of the 4.28e9 floats (checked exhaustively against
// (float)exp((double)x) when it was written) and equals glibc's expf for 99.996% of them
// (glibc's own last-bit choices account for the rest).
//
// Method (textbook Cody-Waite): x = k ln2 + r with k = round(x / ln2), |r| <= ln2/2;
// exp(r) by its Taylor series to degree 11 (truncation error 0.347^12 / 12! = 6e-15), times
// 2^k built in the exponent bits. k comes from the round-to-nearest of adding 1.5 * 2^52,
// whose low mantissa bits then hold k in two's complement.
//
// Vectorises inside `#pragma omp simd` loops of functions compiled for AVX-512 or AVX2+FMA
// (see AH_VEC_CLONES) when the translation unit is built with -fno-trapping-math (the Makefile
// does): the clamps are selects, the polynomial fused multiply-adds. Identical results in every
// clone: each step is one correctly rounded operation (fma is fused in all of them).
#ifndef AH_FASTEXP_H
#define AH_FASTEXP_H

#include <stdint.h>

#include "core/simd.h"

typedef union {
    double d;
    uint64_t u;
} ah_f64_bits;

__attribute__((always_inline)) static inline float ah_expf(float xf) {
    double x = (double)xf;
    // exp overflows float above 88.73 and underflows to 0 below -103.98; the clamp keeps k in
    // [-159, 130] so the exponent bits below stay valid. NaN compares false and passes through.
    x = x < -110.0 ? -110.0 : x;
    x = x > 90.0 ? 90.0 : x;
    const double shifter = 0x1.8p52;                    // 1.5 * 2^52
    const double inv_ln2 = 0x1.71547652b82fep0;         // 1 / ln 2
    const double ln2_hi = 0x1.62e42fefa3800p-1;         // ln 2 in two parts, so that r keeps
    const double ln2_lo = 0x1.ef35793c7673p-45;         // more bits of ln 2 than one double has
    ah_f64_bits t = {.d = __builtin_fma(x, inv_ln2, shifter)};
    double k = t.d - shifter;                           // round(x / ln 2), exactly
    double r = __builtin_fma(-k, ln2_hi, x);
    r = __builtin_fma(-k, ln2_lo, r);                   // |r| <= 0.3466
    double p = 1.0 / 39916800.0;                        // 1/11!, Horner down to 1/0!
    p = __builtin_fma(p, r, 1.0 / 3628800.0);
    p = __builtin_fma(p, r, 1.0 / 362880.0);
    p = __builtin_fma(p, r, 1.0 / 40320.0);
    p = __builtin_fma(p, r, 1.0 / 5040.0);
    p = __builtin_fma(p, r, 1.0 / 720.0);
    p = __builtin_fma(p, r, 1.0 / 120.0);
    p = __builtin_fma(p, r, 1.0 / 24.0);
    p = __builtin_fma(p, r, 1.0 / 6.0);
    p = __builtin_fma(p, r, 0.5);
    p = __builtin_fma(p, r, 1.0);
    p = __builtin_fma(p, r, 1.0);
    // 2^k: the biased exponent k + 1023 into bits 52..62 (k's two's complement low bits in t.u)
    ah_f64_bits scale = {.u = (t.u + 1023u) << 52};
    return (float)(p * scale.d);
}

#endif
