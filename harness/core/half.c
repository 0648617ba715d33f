#include "half.h"

#include <string.h>

#include "core/simd.h"

static inline float bits_to_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline uint32_t f32_to_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

float ah_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    if (exp == 0) {
        if (man == 0) return bits_to_f32(sign);
        // subnormal: value = man * 2^-24
        float v = (float)man * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    if (exp == 31) return bits_to_f32(sign | 0x7f800000u | (man << 13));   // inf / nan
    return bits_to_f32(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t ah_f32_to_f16(float f) {
    uint32_t u = f32_to_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t absu = u & 0x7fffffffu;
    if (absu >= 0x7f800000u)   // inf or nan (keep nan quiet)
        return sign | 0x7c00 | (absu > 0x7f800000u ? 0x200 : 0);
    if (absu >= 0x477ff000u) return sign | 0x7c00;   // rounds to >= 65520: overflow to inf
    if (absu < 0x38800000u) {                          // below 2^-14: subnormal or zero
        if (absu < 0x33000000u) return sign;           // below half the smallest subnormal
        uint32_t exp = absu >> 23;
        uint32_t man = (absu & 0x7fffff) | 0x800000;
        uint32_t shift = 126 - exp;                    // 14 + (127 - exp) - 10 + ... = value>>shift
        uint32_t half = man >> shift;
        uint32_t rem = man & ((1u << shift) - 1);
        uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return sign | (uint16_t)half;
    }
    uint32_t h = ((absu >> 13) - (112u << 10));
    uint32_t rem = absu & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
    return sign | (uint16_t)h;
}

float ah_bf16_to_f32(uint16_t h) { return bits_to_f32((uint32_t)h << 16); }

uint16_t ah_f32_to_bf16(float f) {
    uint32_t u = f32_to_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);   // quiet nan
    uint32_t lsb = (u >> 16) & 1;
    u += 0x7fff + lsb;
    return (uint16_t)(u >> 16);
}

// Element i of a little-endian 16-bit array at any alignment: widening reads tensors in place
// from mapped files, where a safetensors header of odd length puts them at odd addresses (a
// uint16_t load there is undefined behaviour). The 2-byte memcpy compiles to one unaligned
// load, and the loops below still vectorise (x86 vector loads need no alignment).
static inline uint32_t load_u16(const unsigned char *p, size_t i) {
    uint16_t h;
    memcpy(&h, p + 2 * i, 2);
    return h;
}

// ah_f16_to_f32 without branches, so the loop vectorises (block widening ran the branchy
// scalar form at 2% of an eval): the three cases are computed for every element and one is
// selected. Normal: exponent + 112 (15 -> 127 bias); 31 (inf / nan, payload kept as is):
// exponent + 224 (-> 255); 0 (zero / subnormal): man * 2^-24, exact in float.
AH_VEC_CLONES void ah_f16_to_f32_n(float *out, const void *src, size_t n) {
    const unsigned char *p = src;
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        uint32_t h = load_u16(p, i), em = h & 0x7fffu, exp = em >> 10;
        float sub = (float)(h & 0x3ffu) * (1.0f / 16777216.0f);
        uint32_t bits = exp == 0 ? f32_to_bits(sub) : (em << 13) + (exp == 31 ? 224u << 23 : 112u << 23);
        out[i] = bits_to_f32(bits | (h & 0x8000u) << 16);
    }
}

AH_VEC_CLONES void ah_bf16_to_f32_n(float *out, const void *src, size_t n) {
    const unsigned char *p = src;
#pragma omp simd
    for (size_t i = 0; i < n; i++) out[i] = bits_to_f32(load_u16(p, i) << 16);
}
