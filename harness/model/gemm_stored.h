// gemm_stored.h — a block linear's GEMM straight from its weights as the checkpoint stores them
// (F32, F16, BF16), with OpenBLAS's bits.
//
// An evaluation of an F16 / BF16 checkpoint used to widen each block's weights into fp32 (808
// MB a block on Llama-2-7B, written once and read once by OpenBLAS's packing) and then call
// cblas_sgemm, whose own passes zero the output and pack both operands again. Here each
// 16-output panel of the stored weights is widened into the GEMM's packed panels as they are
// needed (a few hundred KB, in the core's L2), its NaN / infinity test made on the way, the
// activations are read where they lie and the output is written once per K block: the same
// products in the same order as OpenBLAS 0.3.21's `SkylakeX` sgemm computes
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
// and thread regime (gemm_stored_usable); a CPU without AVX-512 or another OpenBLAS core keeps
// the widening (F16 / BF16), the scan (F32) and OpenBLAS.
#ifndef AH_GEMM_STORED_H
#define AH_GEMM_STORED_H

#include <stddef.h>
#include <stdint.h>

// F32 weights are packed the same way (bench/gemm_stored measures it; an evaluation leaves
// them to OpenBLAS: model.c, stored_in_place, says why).
typedef enum { GS_F32, GS_F16, GS_BF16 } gs_dtype;

// Floats of scratch gemm_stored needs for `nthreads` threads (a packed panel chunk each).
size_t gemm_stored_scratch_floats(int nthreads);

// 1 when this CPU and OpenBLAS core can run gemm_stored at all (AVX-512F, OpenBLAS's
// `SkylakeX` kernels) and AH_GEMM_STORED is not 0: the condition for leaving a view's linears
// where they lie for it (model.h: block_f32).
int gemm_stored_available(void);

// 1 when gemm_stored gives cblas_sgemm's bits here for a T x O x In product called from
// outside a parallel region with omp_get_max_threads() threads. The first call per inner size
// In and thread regime compares the two on random data (gemm_stored_first_difference).
// AH_GEMM_STORED=0 in the environment: 0 (A/B timing, tests).
int gemm_stored_usable(int T, int In, int O);

// y (T, O) = x (T, In) @ W^T, or += with accumulate; W (O, In) stored as dt (F32 float-aligned,
// F16 / BF16 2-byte aligned), rows In apart, read in place. Returns 1 when a weight is NaN or
// infinite (y is then unspecified), else 0. scratch: gemm_stored_scratch_floats(
// omp_get_max_threads()) floats, 64-byte aligned.
int gemm_stored(float *y, const float *x, const void *W, gs_dtype dt, int T, int In, int O,
                int accumulate, float *scratch);

// The comparison gemm_stored_usable makes (and tests/unit/test_gemm_stored.c repeats at other
// shapes): gemm_stored against cblas_sgemm on the weights as floats, random inputs of mixed
// magnitudes, both with and without accumulate. The first differing output's index, -1 where
// every bit agrees, -2 when out of memory.
long gemm_stored_first_difference(int T, int In, int O, gs_dtype dt);

#endif
