// head.h — the LM head of one position read as stored (F32, F16, BF16), for generation.
//
// The head is the largest matrix a small model reads per generated token (SmolLM2-135M: 49152
// x 576, 28 M of its 135 M parameters) and no method quantizes it. Widening it to fp32 would
// double the bytes read per token of an F16 / BF16 checkpoint; reading the stored values and
// widening them in registers (exactly: every F16 / BF16 value is an fp32 value) gives the same
// products as the widened head, summed in another order.
#ifndef AH_PACKED_HEAD_H
#define AH_PACKED_HEAD_H

#include "model/model.h"

// logits (V) = W (V, C) @ x (C); W is w's data (F32, F16 or BF16, any alignment). OpenMP over
// rows. Returns -1 for another dtype.
int packed_head_gemv(float *logits, const float *x, const model_weight *w, int V, int C);

#endif
