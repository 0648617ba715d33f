// linear16.h — a block linear's GEMM straight from its stored 16-bit weights, with OpenBLAS's
// bits.
//
// An evaluation of an F16 / BF16 checkpoint used to widen each block's weights into fp32 (808
// MB a block on Llama-2-7B, written once and read once by OpenBLAS's packing) and then call
// cblas_sgemm, whose own passes zero the output and pack both operands again. Here the weights
// are widened into the GEMM's packed panels as they are needed (a few hundred KB, in the
// core's L2), the activations are read where they lie and the output is written once per K
// block: the same products in the same order as OpenBLAS 0.3.21's `SkylakeX` sgemm computes
// fwd_linear's call (cblas_sgemm RowMajor, NoTrans, Trans, T x O x In):
//   - each output element is one fused multiply-add chain from 0 over the inputs of a K
//     block, the blocks' sums added in order to the zeroed output (to the output itself when
//     accumulating);
//   - the K blocks: GEMM_Q = 448 while at least 896 inputs remain, else, when more than 448
//     remain, half of what remains, rounded up (driver/level3/level3_thread.c, which OpenBLAS
//     takes when it runs on more than one thread and T * O * In > 262144) or rounded up to 16
//     (level3.c, one thread); the rest otherwise.
// Only where that holds: above 100^3 multiply-adds (below, OpenBLAS's small-matrix kernels
// run, in another order) and after a first-use comparison with cblas_sgemm for the inner size
// and thread regime (linear16_usable); a CPU without AVX-512 or another OpenBLAS core keeps the
// widening and OpenBLAS.
#ifndef AH_LINEAR16_H
#define AH_LINEAR16_H

#include <stddef.h>
#include <stdint.h>

typedef enum { LIN16_F16, LIN16_BF16 } lin16_dtype;

// Floats of scratch linear16_gemm needs for `nthreads` threads (a packed panel chunk each).
size_t linear16_scratch_floats(int nthreads);

// 1 when this CPU and OpenBLAS core can run linear16_gemm at all (AVX-512F, OpenBLAS's
// `SkylakeX` kernels) and AH_LINEAR16 is not 0: the condition for leaving weights as halves.
int linear16_available(void);

// 1 when linear16_gemm gives cblas_sgemm's bits here for a T x O x In product called from
// outside a parallel region with omp_get_max_threads() threads. The first call per inner size
// In and thread regime compares the two on random data (linear16_first_difference).
// AH_LINEAR16=0 in the environment: 0 (A/B timing, tests).
int linear16_usable(int T, int In, int O);

// y (T, O) = x (T, In) @ W^T, or += with accumulate; W (O, In) 16-bit floats of type dt, rows
// In apart, read in place. Returns 1 when a weight is NaN or infinite (y is then unspecified),
// else 0. scratch: linear16_scratch_floats(omp_get_max_threads()) floats, 64-byte aligned.
int linear16_gemm(float *y, const float *x, const uint16_t *W, lin16_dtype dt, int T, int In,
                  int O, int accumulate, float *scratch);

// The comparison linear16_usable makes (and tests/unit/test_linear16.c repeats at other
// shapes): linear16_gemm against cblas_sgemm on the widened weights, random inputs of mixed
// magnitudes, both with and without accumulate. The first differing output's index, -1 where
// every bit agrees, -2 when out of memory.
long linear16_first_difference(int T, int In, int O, lin16_dtype dt);

#endif
