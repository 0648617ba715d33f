// finite.h — the first NaN or infinity of a float array, by a vector scan.
//
// Every weight read from a checkpoint is checked for non-finite values (model.c), so the scan
// runs over the whole model on each evaluation: as a scalar `isfinite` loop it took 3.8% of
// a TinyLlama-1.1B evaluation (perf, bench/README.md "Evaluation"). Here blocks are tested
// by a vector OR of an exponent test, and only a block that holds one is scanned for its index.
#ifndef AH_FINITE_H
#define AH_FINITE_H

#include <stddef.h>

// The lowest i with x[i] NaN or +-inf; n when x[0, n) is all finite.
size_t ah_first_nonfinite_f32(const float *x, size_t n);

// The same over the OpenMP threads, in slices of AH_FINITE_SLICE values (a whole block's
// tensor or output).
#define AH_FINITE_SLICE ((size_t)1 << 16)
size_t ah_first_nonfinite_f32_par(const float *x, size_t n);

#endif
