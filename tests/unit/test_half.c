// test_half.c — core/half: fp32 <-> F16 / BF16 against numpy and torch, bit for bit.
//
// Expected values were produced with Debian's /usr/bin/python3 (numpy 1.24.2, torch 1.13):
//   f32 -> f16:   np.array([bits], np.uint32).view(np.float32).astype(np.float16).view(np.uint16)
//   f32 -> bf16:  torch.from_numpy(np.array([bits], np.uint32).view(np.int32)).view(torch.float32)
//                     .to(torch.bfloat16).view(torch.int16)            (as uint16)
//   f16 -> f32:   np.array([h], np.uint16).view(np.float16).astype(np.float32).view(np.uint32)
//   bf16 -> f32:  torch.from_numpy(np.array([h], np.uint16).view(np.int16)).view(torch.bfloat16)
//                     .float().numpy().view(np.uint32)
// The comment beside each row is the fp32 value as Python prints it.
// NaN payloads differ between libraries (numpy keeps the top mantissa bits, torch 1.13 CPU gives
// 0xffff for every NaN); the contract is only "a NaN with the input's sign", checked separately.
// During development half.c was also compared with numpy/torch on ~280M inputs (every f32 with
// an exponent in the f16 subnormal range, every rounding tie pattern, a stride-97 sweep of all
// 2^32 bit patterns, and all 65536 widenings): no mismatch.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/half.h"
#include "testutil.h"

static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint32_t to_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

typedef struct {
    uint32_t in;
    uint16_t out;
} narrow_case;

typedef struct {
    uint16_t in;
    uint32_t out;
} widen_case;

static const narrow_case f16_narrow[] = {
    {0x3f800000u, 0x3c00},   // 1.0
    {0x3f801000u, 0x3c00},   // 1.0004883   1 + 2^-11: tie, mantissa even -> down
    {0x3f803000u, 0x3c02},   // 1.0014648   1 + 3*2^-11: tie, mantissa odd -> up to even
    {0x3f801001u, 0x3c01},   // 1.0004884   just above the tie -> up
    {0x3f7ff000u, 0x3c00},   // 0.99975586  tie that carries into the exponent
    {0x3dcccccdu, 0x2e66},   // 0.1
    {0xbeaaaaabu, 0xb555},   // -0.33333334
    {0x477fe000u, 0x7bff},   // 65504.0     largest finite f16
    {0x477fefffu, 0x7bff},   // 65519.996   just below the overflow tie
    {0x477ff000u, 0x7c00},   // 65520.0     tie between 65504 and 2^16 -> even -> inf
    {0x49742400u, 0x7c00},   // 1000000.0   overflow -> inf
    {0xc9742400u, 0xfc00},   // -1000000.0  overflow -> -inf
    {0x33800000u, 0x0001},   // 5.9604645e-08  2^-24, smallest subnormal
    {0x33000000u, 0x0000},   // 2.9802322e-08  2^-25: tie between 0 and 2^-24 -> 0
    {0x33000001u, 0x0001},   // 2.9802326e-08  just above -> smallest subnormal
    {0x34400000u, 0x0003},   // 1.7881393e-07  3*2^-24 exactly
    {0x34a00000u, 0x0005},   // 2.9802322e-07  5*2^-24 exactly
    {0x38000000u, 0x0200},   // 3.0517578e-05  2^-15, a subnormal
    {0x387fc000u, 0x03ff},   // 6.097555e-05   largest subnormal
    {0x387fe000u, 0x0400},   // 6.1005354e-05  1023.5*2^-24: tie -> even -> smallest normal
    {0x38800000u, 0x0400},   // 6.1035156e-05  2^-14, smallest normal
    {0x7f800000u, 0x7c00},   // inf
    {0xff800000u, 0xfc00},   // -inf
    {0x80000000u, 0x8000},   // -0.0
    {0x00000001u, 0x0000},   // 1e-45         f32 subnormal -> 0
};

// Subnormal ties in units of 2^-24 (x.5 -> even), extra rows computed the same way:
// 0x33c00000 (1.5*2^-24) -> 0x0002, 0x34200000 (2.5*2^-24) -> 0x0002.
static const narrow_case f16_subnormal_ties[] = {
    {0x33c00000u, 0x0002},   // 8.940697e-08
    {0x34200000u, 0x0002},   // 1.4901161e-07
};

static const narrow_case bf16_narrow[] = {
    {0x3f800000u, 0x3f80},   // 1.0
    {0x3f808000u, 0x3f80},   // 1.00390625          tie, even -> down
    {0x3f818000u, 0x3f82},   // 1.01171875          tie, odd -> up
    {0x3f808001u, 0x3f81},   // 1.0039063692092896  above the tie -> up
    {0x40490fdbu, 0x4049},   // 3.1415927410125732
    {0x3dcccccdu, 0x3dcd},   // 0.10000000149011612
    {0x7f7fffffu, 0x7f80},   // 3.4028234663852886e+38  FLT_MAX rounds to inf
    {0x7f7f8000u, 0x7f80},   // 3.39617752923046e+38    tie, odd -> up -> inf
    {0x7f7f7fffu, 0x7f7f},   // 3.396177326406364e+38   below the tie stays finite
    {0xff7fffffu, 0xff80},   // -3.4028234663852886e+38 -> -inf
    {0x00000001u, 0x0000},   // 1.401298464324817e-45   f32 subnormals round too
    {0x00008000u, 0x0000},   // 4.591774807899561e-41   tie -> even (0)
    {0x00018000u, 0x0002},   // 1.3775324423698682e-40  tie -> even (2)
    {0x007fffffu, 0x0080},   // 1.1754942106924411e-38  largest f32 subnormal -> smallest normal
    {0x7f800000u, 0x7f80},   // inf
    {0xff800000u, 0xff80},   // -inf
    {0x80000000u, 0x8000},   // -0.0
};

static const widen_case f16_widen[] = {
    {0x0000, 0x00000000u},   // 0.0
    {0x8000, 0x80000000u},   // -0.0
    {0x0001, 0x33800000u},   // 5.9604645e-08
    {0x03ff, 0x387fc000u},   // 6.097555e-05
    {0x0400, 0x38800000u},   // 6.1035156e-05
    {0x3c00, 0x3f800000u},   // 1.0
    {0x3555, 0x3eaaa000u},   // 0.33325195
    {0x2e66, 0x3dccc000u},   // 0.099975586
    {0xc000, 0xc0000000u},   // -2.0
    {0x7bff, 0x477fe000u},   // 65504.0
    {0xfbff, 0xc77fe000u},   // -65504.0
    {0x7c00, 0x7f800000u},   // inf
    {0xfc00, 0xff800000u},   // -inf
    {0x7e00, 0x7fc00000u},   // nan   (numpy: payload kept, shifted left 13)
    {0xfe00, 0xffc00000u},   // -nan
    {0x7c01, 0x7f802000u},   // nan (signalling pattern, widened exactly)
};

static const widen_case bf16_widen[] = {
    {0x3f80, 0x3f800000u},   // 1.0
    {0xbf80, 0xbf800000u},   // -1.0
    {0x4049, 0x40490000u},   // 3.140625
    {0x0001, 0x00010000u},   // 9.1835e-41 (f32 subnormal)
    {0x8001, 0x80010000u},   // -9.1835e-41
    {0x7f7f, 0x7f7f0000u},   // 3.3895314e+38
    {0xff80, 0xff800000u},   // -inf
};

static void test_f16_narrow(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof f16_narrow / sizeof f16_narrow[0]; i++) {
        uint16_t got = ah_f32_to_f16(from_bits(f16_narrow[i].in));
        if (got != f16_narrow[i].out)
            fail_msg("f32 0x%08x (%.9g) -> f16 0x%04x, numpy 0x%04x", f16_narrow[i].in,
                     from_bits(f16_narrow[i].in), got, f16_narrow[i].out);
    }
    for (size_t i = 0; i < sizeof f16_subnormal_ties / sizeof f16_subnormal_ties[0]; i++)
        assert_int_equal(ah_f32_to_f16(from_bits(f16_subnormal_ties[i].in)), f16_subnormal_ties[i].out);
}

static void test_bf16_narrow(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof bf16_narrow / sizeof bf16_narrow[0]; i++) {
        uint16_t got = ah_f32_to_bf16(from_bits(bf16_narrow[i].in));
        if (got != bf16_narrow[i].out)
            fail_msg("f32 0x%08x (%.9g) -> bf16 0x%04x, torch 0x%04x", bf16_narrow[i].in,
                     from_bits(bf16_narrow[i].in), got, bf16_narrow[i].out);
    }
}

static void test_widen(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof f16_widen / sizeof f16_widen[0]; i++) {
        uint32_t got = to_bits(ah_f16_to_f32(f16_widen[i].in));
        if (got != f16_widen[i].out)
            fail_msg("f16 0x%04x -> f32 0x%08x, numpy 0x%08x", f16_widen[i].in, got, f16_widen[i].out);
    }
    for (size_t i = 0; i < sizeof bf16_widen / sizeof bf16_widen[0]; i++) {
        uint32_t got = to_bits(ah_bf16_to_f32(bf16_widen[i].in));
        if (got != bf16_widen[i].out)
            fail_msg("bf16 0x%04x -> f32 0x%08x, torch 0x%08x", bf16_widen[i].in, got, bf16_widen[i].out);
    }
}

// NaN in -> quiet NaN out, sign kept (payload is library-specific, see the header comment).
static void test_nan(void **state) {
    (void)state;
    static const uint32_t nans[] = {0x7fc00000u, 0xffc00000u, 0x7f800001u, 0xff800001u, 0x7fffffffu,
                                    0x7fa00000u};
    for (size_t i = 0; i < sizeof nans / sizeof nans[0]; i++) {
        float x = from_bits(nans[i]);
        uint16_t h = ah_f32_to_f16(x), b = ah_f32_to_bf16(x);
        assert_true((h & 0x7c00) == 0x7c00 && (h & 0x03ff) != 0);   // f16 NaN
        assert_true((b & 0x7f80) == 0x7f80 && (b & 0x007f) != 0);   // bf16 NaN
        assert_int_equal(h >> 15, nans[i] >> 31);
        assert_int_equal(b >> 15, nans[i] >> 31);
        assert_true(isnan(ah_f16_to_f32(h)) && isnan(ah_bf16_to_f32(b)));
    }
}

// Every f16 and bf16 value survives widen -> narrow unchanged (NaNs excepted: quieted).
static void test_roundtrip_all(void **state) {
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        int f16nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
        int bf16nan = (h & 0x7f80) == 0x7f80 && (h & 0x7f);
        if (!f16nan && ah_f32_to_f16(ah_f16_to_f32((uint16_t)h)) != h)
            fail_msg("f16 0x%04x does not round-trip", h);
        if (!bf16nan && ah_f32_to_bf16(ah_bf16_to_f32((uint16_t)h)) != h)
            fail_msg("bf16 0x%04x does not round-trip", h);
    }
}

// Bulk widening (vectorised, branch-free) matches the scalar functions bit for bit on every
// 16-bit pattern (zeros, subnormals, inf, signalling and quiet NaNs with their payloads), at
// an odd start and length too (the vector loop's head and tail).
static void test_bulk(void **state) {
    (void)state;
    enum { N = 65536 };
    static uint16_t src[N + 1];
    static float a[N + 1], b[N + 1];
    for (int i = 0; i < N; i++) src[i] = (uint16_t)i;
    for (int off = 0; off < 2; off++) {
        size_t n = (size_t)N - (size_t)off * 3;
        ah_f16_to_f32_n(a + off, src + off, n);
        ah_bf16_to_f32_n(b + off, src + off, n);
        for (size_t i = (size_t)off; i < (size_t)off + n; i++) {
            if (to_bits(a[i]) != to_bits(ah_f16_to_f32(src[i])))
                fail_msg("f16 0x%04x: bulk 0x%08x, scalar 0x%08x", src[i], to_bits(a[i]),
                         to_bits(ah_f16_to_f32(src[i])));
            if (to_bits(b[i]) != to_bits(ah_bf16_to_f32(src[i])))
                fail_msg("bf16 0x%04x differs in bulk", src[i]);
        }
    }
}

// The streaming widening (non-temporal stores, scan in registers) gives the bulk widening's
// bits on every finite 16-bit pattern, F16 and BF16, at every output alignment (its scalar head
// before the first 32-byte line), from an odd source address, with a tail; and returns the index
// of the first NaN or infinity, in the head, the vector body or the tail, that value stored.
static void test_stream(void **state) {
    (void)state;
    enum { N = 65536 };
    static unsigned char bytes[2 * N + 2];
    static uint16_t finite[N];
    static _Alignas(64) float out[N + 16], ref[N + 16];
#if defined(__x86_64__)
    // every AVX2 CPU has F16C: the streaming path must be the one tested there
    if (__builtin_cpu_supports("avx2")) assert_true(ah_half_stream_fast());
#endif
    if (!ah_half_stream_fast()) print_message("streaming widening: no AVX2 + F16C here; its portable path tested\n");
    for (int bf16 = 0; bf16 < 2; bf16++) {
        size_t n = 0;
        for (int h = 0; h < N; h++) {
            int exp_all_ones = bf16 ? (h & 0x7f80) == 0x7f80 : (h & 0x7c00) == 0x7c00;
            if (!exp_all_ones) finite[n++] = (uint16_t)h;
        }
        for (int odd = 0; odd < 2; odd++)
            for (int align = 0; align < 8; align++) {
                size_t len = n - (size_t)align;   // with align 1..7, a tail shorter than a vector
                unsigned char *src = bytes + odd;
                for (size_t i = 0; i < len; i++) memcpy(src + 2 * i, &finite[i], 2);
                if (bf16) ah_bf16_to_f32_n(ref, src, len);
                else ah_f16_to_f32_n(ref, src, len);
                size_t got = ah_half_to_f32_stream(out + align, src, len, bf16);
                assert_int_equal(got, len);
                if (memcmp(out + align, ref, len * sizeof(float)) != 0)
                    fail_msg("%s stream, output offset %d floats, source +%d: differs from the "
                             "bulk widening", bf16 ? "bf16" : "f16", align, odd);
                // a NaN (then an infinity) at an index in the head, the body and the tail
                uint16_t specials[2] = {bf16 ? 0x7fc1 : 0x7e01, bf16 ? 0xff80 : 0xfc00};
                size_t at[3] = {1, 1000, len - 2};
                for (int k = 0; k < 3; k++)
                    for (int sp = 0; sp < 2; sp++) {
                        memcpy(src + 2 * at[k], &specials[sp], 2);
                        memcpy(src + 2 * (at[k] + 1), &specials[1 - sp], 2);   // not the first
                        size_t bad = ah_half_to_f32_stream(out + align, src, len, bf16);
                        assert_int_equal(bad, at[k]);
                        assert_true(sp == 0 ? isnan(out[align + at[k]]) : isinf(out[align + at[k]]));
                        memcpy(src + 2 * at[k], &finite[at[k]], 2);
                        memcpy(src + 2 * (at[k] + 1), &finite[at[k] + 1], 2);
                    }
            }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f16_narrow), cmocka_unit_test(test_bf16_narrow),
        cmocka_unit_test(test_widen),      cmocka_unit_test(test_nan),
        cmocka_unit_test(test_roundtrip_all), cmocka_unit_test(test_bulk),
        cmocka_unit_test(test_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
