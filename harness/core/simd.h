// simd.h — function multiversioning for the vectorised kernels.
//
// AH_VEC_CLONES compiles a function three times (AVX-512, AVX2 + FMA, x86-64 baseline) and
// picks one at load time, so `#pragma omp simd` loops use the widest vectors the machine has
// while the binary still runs anywhere. Results are the same in every clone wherever the loop
// body is exactly rounded per element (no reassociated sums; -std=c11 turns off FMA
// contraction, so a fused multiply-add happens only where __builtin_fma asks for one).
#ifndef AH_SIMD_H
#define AH_SIMD_H

#if defined(__x86_64__) && !defined(AH_NO_CLONES)
#define AH_VEC_CLONES __attribute__((target_clones("avx512f", "arch=x86-64-v3", "default")))
#else
#define AH_VEC_CLONES
#endif

#endif
