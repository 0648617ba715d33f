// pack.c — int32 packings of AutoAWQ GEMM, GPTQ and compressed-tensors (pack.h).
#include "export/pack.h"

// Output channel 8c + m sits at nibble AWQ_REVERSE[m] of its word (FORMATS.md 1: AutoAWQ's
// AWQ_ORDER = [0, 2, 4, 6, 1, 3, 5, 7] read the other way).
static const unsigned AWQ_ORDER[8] = {0, 2, 4, 6, 1, 3, 5, 7};

void qpack_awq(uint32_t *out, const uint8_t *src, size_t O, size_t n) {
    const size_t W = O / 8;
    for (size_t r = 0; r < n; r++)
        for (size_t c = 0; c < W; c++) {
            uint32_t v = 0;
            for (unsigned k = 0; k < 8; k++)
                v |= ((uint32_t)src[(8 * c + AWQ_ORDER[k]) * n + r] & 0xFu) << (4 * k);
            out[r * W + c] = v;
        }
}

void qpack_awq_unpack(uint8_t *dst, const uint32_t *packed, size_t O, size_t n) {
    const size_t W = O / 8;
    for (size_t r = 0; r < n; r++)
        for (size_t c = 0; c < W; c++)
            for (unsigned k = 0; k < 8; k++)
                dst[(8 * c + AWQ_ORDER[k]) * n + r] = (uint8_t)((packed[r * W + c] >> (4 * k)) & 0xFu);
}

void qpack_gptq_weight(uint32_t *out, const uint8_t *codes, size_t O, size_t I, int bits) {
    const size_t per = 32 / (size_t)bits;
    const uint32_t mask = (1u << bits) - 1u;
    for (size_t r = 0; r < I / per; r++)
        for (size_t o = 0; o < O; o++) {
            uint32_t v = 0;
            for (size_t j = 0; j < per; j++)
                v |= ((uint32_t)codes[o * I + r * per + j] & mask) << (bits * j);
            out[r * O + o] = v;
        }
}

void qpack_gptq_weight_unpack(uint8_t *codes, const uint32_t *packed, size_t O, size_t I, int bits) {
    const size_t per = 32 / (size_t)bits;
    const uint32_t mask = (1u << bits) - 1u;
    for (size_t r = 0; r < I / per; r++)
        for (size_t o = 0; o < O; o++)
            for (size_t j = 0; j < per; j++)
                codes[o * I + r * per + j] = (uint8_t)((packed[r * O + o] >> (bits * j)) & mask);
}

void qpack_gptq_zeros(uint32_t *out, const uint8_t *zeros, size_t O, size_t G, int bits, int v1) {
    const size_t per = 32 / (size_t)bits, W = O / per;
    const uint32_t mask = (1u << bits) - 1u;
    for (size_t g = 0; g < G; g++)
        for (size_t c = 0; c < W; c++) {
            uint32_t v = 0;
            for (size_t j = 0; j < per; j++)
                v |= (((uint32_t)zeros[(c * per + j) * G + g] - (uint32_t)(v1 != 0)) & mask)
                     << (bits * j);
            out[g * W + c] = v;
        }
}

void qpack_gptq_zeros_unpack(uint8_t *zeros, const uint32_t *packed, size_t O, size_t G, int bits,
                             int v1) {
    const size_t per = 32 / (size_t)bits, W = O / per;
    const uint32_t mask = (1u << bits) - 1u;
    for (size_t g = 0; g < G; g++)
        for (size_t c = 0; c < W; c++)
            for (size_t j = 0; j < per; j++)
                zeros[(c * per + j) * G + g] =
                    (uint8_t)(((packed[g * W + c] >> (bits * j)) & mask) + (uint32_t)(v1 != 0));
}

size_t qpack_dense_words(size_t n, int bits) { return (n * (size_t)bits + 31) / 32; }

void qpack_dense(uint32_t *out, size_t out_stride, const uint8_t *src, size_t n, size_t stride,
                 int bits) {
    const size_t nw = qpack_dense_words(n, bits);
    const uint32_t mask = (1u << bits) - 1u;
    for (size_t w = 0; w < nw; w++) out[w * out_stride] = 0;
    for (size_t k = 0; k < n; k++) {
        uint64_t v = (uint64_t)((uint32_t)src[k * stride] & mask) << ((k * (size_t)bits) % 32);
        size_t w = k * (size_t)bits / 32;
        out[w * out_stride] |= (uint32_t)v;
        if (v >> 32) out[(w + 1) * out_stride] |= (uint32_t)(v >> 32);   // straddles two words
    }
}

void qpack_dense_unpack(uint8_t *dst, size_t stride, const uint32_t *packed, size_t packed_stride,
                        size_t n, int bits) {
    const size_t nw = qpack_dense_words(n, bits);
    const uint64_t mask = (1u << bits) - 1u;
    for (size_t k = 0; k < n; k++) {
        size_t w = k * (size_t)bits / 32, sh = (k * (size_t)bits) % 32;
        uint64_t v = packed[w * packed_stride];
        if (w + 1 < nw) v |= (uint64_t)packed[(w + 1) * packed_stride] << 32;
        dst[k * stride] = (uint8_t)((v >> sh) & mask);
    }
}
