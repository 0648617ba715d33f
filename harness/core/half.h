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

// The same widening (F16, or BF16 where bf16 is 1) with non-temporal stores, scanning each
// value as it is written: returns the index of the first NaN or infinity (out written up to and
// including it, the rest not), n where every value is finite. For outputs much larger than the
// caches that are read later, a block's weights: the stores skip reading each output line
// into the cache first (widening an F16 Llama-2-7B block, 404 MB in, took 0.18 s with ordinary
// stores and 0.05 s with these; bench/README.md). AVX2 + F16C (half_stream.c); elsewhere
// ah_f16_to_f32_n / ah_bf16_to_f32_n and a scan.
size_t ah_half_to_f32_stream(float *out, const void *src, size_t n, int bf16);
// 1 where ah_half_to_f32_stream takes its AVX2 + F16C path (the tests say which they checked).
int ah_half_stream_fast(void);

#endif
