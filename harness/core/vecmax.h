// vecmax.h — the maximum of a float array and the index of its first occurrence, vectorised.
//
// A scalar running maximum (`if (x[i] > x[best]) best = i`) is a compare-and-move chain that
// serialises on its latency: on a 49152-entry vocabulary the greedy pick of a decoded token took
// 2% of the decoding thread's time while the other threads waited. Here the maximum is a vector
// reduction (AH_VEC_CLONES) and its first index a scan that stops there.
#ifndef AH_VECMAX_H
#define AH_VECMAX_H

#include <stddef.h>

// max of x[0, n); 0 for n = 0. Order-free: the same value in every clone.
float ah_max_f32(const float *x, size_t n);

// The lowest index i with x[i] = max of x[0, n) (n >= 1): ties go to the lowest index, as
// torch.argmax and llama.cpp's strict >. NaNs are passed over; where no entry equals the
// maximum found (NaNs only), 0.
size_t ah_argmax_f32(const float *x, size_t n);

#endif
