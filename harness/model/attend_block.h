// attend_block.h — the causal attention's two products for one block of 128 query rows,
// with OpenBLAS's bits, without OpenBLAS's packing of the score block.
//
// forward.c's attention multiplies, per (window, head) and block of 128 query rows [i0, i1),
//   S (128, i1)  = scale * q[i0:i1] (128, D) @ k[0:i1]^T      (K = D: the scores)
//   out (128, D) = P (128, i1) @ v[0:i1] (i1, D)              (K = i1: the softmax times values)
// through cblas_sgemm, which packs the score block, zeroes it, and runs its kernel at about a
// quarter of the GEMM peak at these shapes (one dimension of 64). The kernels here compute
// the same elements in the same order as OpenBLAS 0.3.21's `SkylakeX` kernels do at these
// shapes (found by comparing cblas_sgemm's outputs with candidate orders at every key count
// 10..2048 for D = 64 and 128: bench/README.md, "Evaluation: the attention's products without
// OpenBLAS's packing"; tests/unit/test_forward.c repeats the comparison):
//   - a score is one fused multiply-add chain over d = 0..D-1 from 0, then fma(acc, scale, 0);
//   - an output element is a fused chain over keys inside each K block of the GEMM driver
//     (driver/level3/level3.c: blocks of GEMM_Q = 448 while 896 or more keys remain, then two
//     halves rounded up to 16 when more than 448 remain), the blocks' sums added in order to
//     the zeroed output.
// Where OpenBLAS runs its `Haswell` or `Zen` kernels (AVX2-only CPUs) the same products run in
// attend_block_avx2.c, in the order of that kernel (K split over two chains at some places of
// its tiles; that file says which). Only where the order holds: the first use for a head size
// runs the kernels on random data over row blocks up to 1024 keys (every blocking regime above)
// and compares the bits with cblas_sgemm; another OpenBLAS core or version whose order differs
// keeps the OpenBLAS calls.
// Causal: keys past a row's position are never computed (their softmax weights are zeros; a
// zero product leaves a chain's sum as it was).
#ifndef AH_ATTEND_BLOCK_H
#define AH_ATTEND_BLOCK_H

#include <stddef.h>

#define ATTEND_BLOCK_ROWS 128   // query rows per block (forward.c's ATT_ROWS)

// 1 when attend_block_scores / _values give OpenBLAS's bits for head size D here, as the
// attention calls OpenBLAS (inside a parallel region of `nthreads` threads; OpenBLAS on one
// thread when nthreads is 1). Checked once per (kernel set, D, nthreads > 1). D a multiple of
// 16 (AVX-512) or 8 (AVX2). AH_ATTEND_BLOCK=0 in the environment: 0 (A/B timing, tests).
int attend_block_usable(int D, int nthreads);

// The comparison attend_block_usable runs (at n = 1024) and tests/unit/test_forward.c repeats
// past it: both kernels and the row maxima against cblas_sgemm / ah_max_f32 on random data, for
// every 128-row block of n keys (n a multiple of 128), called as the attention calls OpenBLAS
// (from one thread of a team of nthreads; query rows 3 heads wide, keys and values 2 kv heads
// wide, the last head of each: the attention's strides), the value product on causal softmax
// numerators. Returns the first differing block's first row, -1 where every bit agrees, -2
// when out of memory.
int attend_block_first_difference(int D, int nthreads, int n);

// Keys 0..n-1 of one head (row j at k + j * ldk, D floats) in panels of 16 keys:
// kp[(p * D + d) * 16 + l] = k_(16p + l)[d], zero past n. kp holds attend_block_kp_floats(n, D).
size_t attend_block_kp_floats(int n, int D);
void attend_block_pack_keys(float *kp, const float *k, size_t ldk, int n, int D);
// Values 0..n-1 of one head (row j at v + j * ldv) into rows of D: vp[j * D + d]. Read in place,
// a 7B shape's value rows (16 KiB apart) fell into one cache set.
void attend_block_pack_values(float *vp, const float *v, size_t ldv, int n, int D);

// S (128, ldS = i0 + 128): row r, keys [0, i0 + r + 1) = scale * q_(i0+r) . k_j, OpenBLAS's
// bits (entries past a row's last key: unspecified); rowmax[r] = the max of those, taken from
// the registers as they are stored (the softmax's first pass over the row). q: row i0 of the
// head, rows ldq apart. i0 a multiple of 16.
void attend_block_scores(float *S, float rowmax[ATTEND_BLOCK_ROWS], const float *q, size_t ldq,
                         const float *kp, int i0, int D, float scale);

// out (128, D), rows ldo apart = P (128, i0 + 128) @ v[0 : i0 + 128], P a causal softmax block
// (row r zero past key i0 + r), OpenBLAS's bits. D a multiple of 16 (8 on the AVX2 path).
void attend_block_values(float *out, size_t ldo, const float *P, const float *v, size_t ldv,
                         int i0, int D);

#endif
