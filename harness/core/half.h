// half.h — IEEE binary16 (F16) and bfloat16 (BF16) <-> fp32 conversion.
//
// Checkpoints keep weights in their stored dtype; a block is widened to fp32 when processed.
// Conversions are exact widenings; narrowing rounds to nearest even (as torch does).
#ifndef AH_HALF_H
#define AH_HALF_H

#include <stddef.h>
#include <stdint.h>

float ah_f16_to_f32(uint16_t h);
uint16_t ah_f32_to_f16(float f);
float ah_bf16_to_f32(uint16_t h);
uint16_t ah_f32_to_bf16(float f);

// Bulk widening: out[i] = src[i], n elements. src: little-endian 16-bit values at any
// alignment (tensors read in place from a mapped file may start at an odd address).
void ah_f16_to_f32_n(float *out, const void *src, size_t n);
void ah_bf16_to_f32_n(float *out, const void *src, size_t n);

#endif
