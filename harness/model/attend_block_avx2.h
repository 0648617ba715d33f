// attend_block_avx2.h — attend_block.h's kernels in the order of OpenBLAS's `Haswell` sgemm
// (AVX2 + FMA; attend_block_avx2.c says which order). attend_block.c calls them where OpenBLAS
// runs its Haswell or Zen kernel set; same arguments and results as attend_block_scores /
// attend_block_values, for D a multiple of 8.
#ifndef AH_ATTEND_BLOCK_AVX2_H
#define AH_ATTEND_BLOCK_AVX2_H

#include <stddef.h>

#include "model/attend_block.h"

void attend_block_scores_avx2(float *S, float *rowmax, const float *q, size_t ldq,
                              const float *kp, int i0, int D, float scale);
void attend_block_values_avx2(float *out, size_t ldo, const float *P, const float *v,
                              size_t ldv, int i0, int D);

#endif
