// test_pack.c — export/pack: the int32 packings of AutoAWQ GEMM, GPTQ and compressed-tensors
// against the test vectors of ../shared/design/FORMATS.md (read from the peers' sources) and
// against compressed-tensors 0.19.0's own pack_to_int32 (values below), plus round trips;
// and quant_cfg.scale_dtype (scales rounded to fp16 before the codes).
//
// compressed-tensors vectors, produced in the peers' venv (tools/peers/venv) with
//   from compressed_tensors.compressors.pack_quantized.helpers import pack_to_int32
//   pack_to_int32(torch.tensor([[(k*5+3)%8 - 4 for k in range(35)]], dtype=torch.int8), 3)
//     -> 0x43c67543 0x7543c675 0xc67543c6 0x143   (3 bits: values straddle words)
//   pack_to_int32(torch.tensor([[k % 16 - 8] for k in range(9)], dtype=torch.int8), 4,
//                 packed_dim=0)[:, 0]  -> 0x76543210 0x8
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/half.h"
#include "export/pack.h"
#include "quant/quant.h"

// AutoAWQ GEMM: eight output channels with codes 0..7 in one input row -> 0x75316420
// (nibbles from the lowest: 0, 2, 4, 6, 1, 3, 5, 7).
static void test_awq_vector(void **state) {
    (void)state;
    uint8_t codes[8];   // (O = 8, I = 1)
    for (int o = 0; o < 8; o++) codes[o] = (uint8_t)o;
    uint32_t w = 0;
    qpack_awq(&w, codes, 8, 1);
    assert_int_equal(w, 0x75316420u);
    uint8_t back[8];
    qpack_awq_unpack(back, &w, 8, 1);
    assert_memory_equal(back, codes, 8);
}

// GPTQ: input channels 0..7 with codes 0..7 in one column -> 0x76543210; symmetric zeros 8
// -> v1 0x77777777 (z - 1), v2 0x88888888.
static void test_gptq_vectors(void **state) {
    (void)state;
    uint8_t codes[8], z[8];   // codes (O = 1, I = 8); z (O = 8, G = 1)
    for (int i = 0; i < 8; i++) codes[i] = (uint8_t)i, z[i] = 8;
    uint32_t w = 0;
    qpack_gptq_weight(&w, codes, 1, 8, 4);
    assert_int_equal(w, 0x76543210u);
    qpack_gptq_zeros(&w, z, 8, 1, 4, 1);
    assert_int_equal(w, 0x77777777u);
    uint8_t back[8];
    qpack_gptq_zeros_unpack(back, &w, 8, 1, 4, 1);
    assert_memory_equal(back, z, 8);
    qpack_gptq_zeros(&w, z, 8, 1, 4, 0);
    assert_int_equal(w, 0x88888888u);
    // 8 bits: four codes per word, lowest first.
    uint8_t c8[4] = {1, 0x80, 0xff, 7};
    qpack_gptq_weight(&w, c8, 1, 4, 8);
    assert_int_equal(w, 0x07ff8001u);
}

// compressed-tensors: signed codes -8..-1 (unsigned 0..7) along in -> 0x76543210; the 3-bit
// and packed-along-out vectors of the header, from compressed-tensors itself.
static void test_ct_vectors(void **state) {
    (void)state;
    uint8_t u[35];
    for (int k = 0; k < 8; k++) u[k] = (uint8_t)k;
    uint32_t w[4];
    assert_int_equal(qpack_dense_words(8, 4), 1);
    qpack_dense(w, 1, u, 8, 1, 4);
    assert_int_equal(w[0], 0x76543210u);
    for (int k = 0; k < 35; k++) u[k] = (uint8_t)((k * 5 + 3) % 8);   // signed - 4 + 4
    assert_int_equal(qpack_dense_words(35, 3), 4);
    qpack_dense(w, 1, u, 35, 1, 3);
    const uint32_t want3[4] = {0x43c67543u, 0x7543c675u, 0xc67543c6u, 0x143u};
    assert_memory_equal(w, want3, sizeof want3);
    uint8_t back[35];
    qpack_dense_unpack(back, 1, w, 1, 35, 3);
    assert_memory_equal(back, u, 35);
    // Along out: zeros (O = 9, G = 2), column 0 holds k % 16 (signed k % 16 - 8).
    uint8_t z[18];
    for (int o = 0; o < 9; o++) z[o * 2] = (uint8_t)(o % 16), z[o * 2 + 1] = 3;
    uint32_t zw[4];   // (words = 2, G = 2)
    qpack_dense(zw, 2, z, 9, 2, 4);           // column 0
    qpack_dense(zw + 1, 2, z + 1, 9, 2, 4);   // column 1
    assert_int_equal(zw[0], 0x76543210u);
    assert_int_equal(zw[2], 0x8u);
    uint8_t zb[18];
    qpack_dense_unpack(zb, 2, zw, 2, 9, 4);
    qpack_dense_unpack(zb + 1, 2, zw + 1, 2, 9, 4);
    assert_memory_equal(zb, z, 18);
}

// Random round trips of every packing, at every bit width each format allows.
static void test_round_trips(void **state) {
    (void)state;
    enum { O = 64, I = 96, G = 3 };
    uint8_t *c = malloc(O * I), *back = malloc(O * I);
    uint32_t *w = malloc(O * I * sizeof *w);
    srand(7);
    for (int bits = 2; bits <= 8; bits++) {
        const int mx = 1 << bits;
        for (int k = 0; k < O * I; k++) c[k] = (uint8_t)(rand() % mx);
        if (bits == 4) {
            qpack_awq(w, c, O, I);
            qpack_awq_unpack(back, w, O, I);
            assert_memory_equal(back, c, O * I);
        }
        if (bits == 2 || bits == 4 || bits == 8) {
            qpack_gptq_weight(w, c, O, I, bits);
            qpack_gptq_weight_unpack(back, w, O, I, bits);
            assert_memory_equal(back, c, O * I);
            for (int k = 0; k < O * G; k++) c[k] = (uint8_t)(1 + rand() % (mx - 1));   // v1: z >= 1
            for (int v1 = 0; v1 < 2; v1++) {
                qpack_gptq_zeros(w, c, O, G, bits, v1);
                qpack_gptq_zeros_unpack(back, w, O, G, bits, v1);
                assert_memory_equal(back, c, O * G);
            }
        }
        size_t nw = qpack_dense_words(I, bits);
        for (int o = 0; o < O; o++) qpack_dense(w + o * nw, 1, c + o * I, I, 1, bits);
        for (int o = 0; o < O; o++) qpack_dense_unpack(back + o * I, 1, w + o * nw, 1, I, bits);
        assert_memory_equal(back, c, O * I);
    }
    free(c);
    free(back);
    free(w);
}

// scale_dtype F16: every scale is an fp16 value, the codes are those the rounded scale gives,
// and (code - zero) * scale reproduces quant_fake; F32 leaves the scales as they were.
static void test_scale_f16(void **state) {
    (void)state;
    enum { R = 16, C = 64 };
    float W[R * C], F[R * C], D[R * C], s[R * 2], z[R * 2], s32[R * 2], z32[R * 2];
    uint8_t codes[R * C];
    srand(3);
    for (int k = 0; k < R * C; k++) W[k] = (float)rand() / RAND_MAX * 0.2f - 0.07f;
    quant_kind kinds[] = {QUANT_MINMAX, QUANT_RTN, QUANT_GPTQ_RTN};
    for (int t = 0; t < 3; t++) {
        quant_cfg q = {.kind = kinds[t], .bits = 4, .group = 32, .scale_dtype = QUANT_SCALE_F16};
        quant_codes(codes, s, z, W, R, C, &q);
        int changed = 0;
        quant_cfg q32 = q;
        q32.scale_dtype = QUANT_SCALE_F32;
        quant_codes(codes, s32, z32, W, R, C, &q32);
        quant_codes(codes, s, z, W, R, C, &q);
        for (int k = 0; k < R * 2; k++) {
            assert_true(ah_f16_to_f32(ah_f32_to_f16(s[k])) == s[k]);
            assert_true(s[k] == ah_f16_to_f32(ah_f32_to_f16(s32[k])));
            changed |= s[k] != s32[k];
        }
        assert_true(changed);   // the test data has scales that are not fp16 values
        memcpy(F, W, sizeof W);
        quant_fake(F, R, C, &q);
        quant_dequant(D, codes, s, z, R, C, &q);
        assert_memory_equal(F, D, sizeof F);
    }
    // A positive scale below 2^-25 would round to 0 in fp16 and divide by zero: it becomes the
    // smallest subnormal instead.
    assert_true(quant_round_scale(1e-8f, QUANT_SCALE_F16) == ldexpf(1.0f, -24));
    assert_true(quant_round_scale(0.1f, QUANT_SCALE_F32) == 0.1f);
    assert_true(quant_round_scale(0.0f, QUANT_SCALE_F16) == 0.0f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_awq_vector),  cmocka_unit_test(test_gptq_vectors),
        cmocka_unit_test(test_ct_vectors),  cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_scale_f16),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
