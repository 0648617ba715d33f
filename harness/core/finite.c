// finite.c — the first NaN or infinity of a float array (finite.h).
#include "core/finite.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/simd.h"

// 1 when x[0, n) holds a NaN or an infinity: all exponent bits set (a vector compare on the
// bits, the same in every clone).
AH_VEC_CLONES static int block_has_nonfinite(const float *x, size_t n) {
    int any = 0;
#pragma omp simd reduction(| : any)
    for (size_t j = 0; j < n; j++) {
        uint32_t u;
        memcpy(&u, x + j, sizeof u);
        any |= (u & 0x7f800000u) == 0x7f800000u;
    }
    return any;
}

size_t ah_first_nonfinite_f32(const float *x, size_t n) {
    enum { BLOCK = 1024 };
    for (size_t b = 0; b < n; b += BLOCK) {
        size_t len = n - b < BLOCK ? n - b : BLOCK;
        if (!block_has_nonfinite(x + b, len)) continue;
        for (size_t j = b; j < b + len; j++)
            if (!isfinite(x[j])) return j;
    }
    return n;
}

size_t ah_first_nonfinite_f32_par(const float *x, size_t n) {
    size_t bad = n, nslices = (n + AH_FINITE_SLICE - 1) / AH_FINITE_SLICE;
#pragma omp parallel for reduction(min : bad) schedule(static) if (nslices > 1)
    for (size_t sl = 0; sl < nslices; sl++) {
        size_t lo = sl * AH_FINITE_SLICE, len = n - lo < AH_FINITE_SLICE ? n - lo : AH_FINITE_SLICE;
        size_t i = ah_first_nonfinite_f32(x + lo, len);
        if (i < len && lo + i < bad) bad = lo + i;
    }
    return bad;
}
