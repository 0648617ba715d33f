// vecmax.c — vectorised maximum and first argmax (vecmax.h).
#include "core/vecmax.h"

#include "core/simd.h"

AH_VEC_CLONES float ah_max_f32(const float *x, size_t n) {
    float mx = n ? x[0] : 0.0f;
#pragma omp simd reduction(max : mx)
    for (size_t j = 0; j < n; j++) mx = x[j] > mx ? x[j] : mx;
    return mx;
}

// 1 when v occurs in x[0, n) (a vector compare; no early exit inside a block).
AH_VEC_CLONES static int holds(const float *x, size_t n, float v) {
    int any = 0;
#pragma omp simd reduction(| : any)
    for (size_t j = 0; j < n; j++) any |= x[j] == v;
    return any;
}

size_t ah_argmax_f32(const float *x, size_t n) {
    enum { BLOCK = 256 };   // the scan for the maximum: blocks by vector compare, then in one
    float mx = ah_max_f32(x, n);
    for (size_t b = 0; b < n; b += BLOCK) {
        size_t len = n - b < BLOCK ? n - b : BLOCK;
        if (!holds(x + b, len, mx)) continue;
        for (size_t j = b; j < b + len; j++)
            if (x[j] == mx) return j;
    }
    return 0;
}
