// attend.h — one query's attention over cached keys and values (the decode step of
// forward_kv.c; a query row at a time).
//
//   out (D) = sum_j softmax_j(scale * q . k_j) v_j,   j in [0, n)
//
// with k_j = k0 + j * ld and v_j = v0 + j * ld (rows of the key / value cache, ld floats
// apart). On AVX2 + FMA and D a multiple of 8 the scores take eight keys at a time, the
// softmax sum and the value sum run in vector lanes with fused multiply-adds; elsewhere the
// portable loop (scalar sums in key order). The two differ by float rounding only (tested
// against a double reference in tests/unit/test_forward.c); greedy generation gives the same
// tokens either way (tests/cli/test_packed.sh compares it with the recomputing forward).
#ifndef AH_ATTEND_H
#define AH_ATTEND_H

#include <stddef.h>

// S: scratch of n floats (the scores, then their exponentials).
void attend_row(float *out, const float *q, const float *k0, const float *v0, size_t ld, int n,
                int D, float scale, float *S);

// The portable loop whatever the CPU (the test's second implementation; AH_ATTEND_VEC=0 in the
// environment makes attend_row take it too, for A/B timing).
void attend_row_portable(float *out, const float *q, const float *k0, const float *v0, size_t ld,
                         int n, int D, float scale, float *S);

#endif
