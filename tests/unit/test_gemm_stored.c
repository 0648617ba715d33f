// test_gemm_stored.c — the GEMM over F32 / F16 / BF16 weights read in place
// (model/gemm_stored.h) gives cblas_sgemm's bits on the weights as floats, at the shapes of real
// models and at every K blocking regime of OpenBLAS's drivers, on 1 and 2 threads; and it
// reports NaN / infinity weights without reporting finite extremes.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <omp.h>

#include "core/blas.h"
#include "core/half.h"
#include "model/gemm_stored.h"

// Both thread counts OpenBLAS and the GEMM read: OpenBLAS's OpenMP build follows
// omp_get_max_threads, and openblas_set_num_threads is what the harness calls (cli/common.c).
static void set_threads(int n) {
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}

static int available(const char *what) {
    if (gemm_stored_available()) return 1;
    print_message("%s: gemm_stored not used here (OpenBLAS core %s, or no AVX-512F): the block "
                  "linears keep the widening and OpenBLAS\n", what, ah_blas_core());
    return 0;
}

static void check(int T, int In, int O, gs_dtype dt, int threads) {
    set_threads(threads);
    long d = gemm_stored_first_difference(T, In, O, dt);
    if (d != -1)
        fail_msg("T=%d In=%d O=%d %s threads=%d: first difference at %ld", T, In, O,
                 dt == GS_BF16 ? "bf16" : dt == GS_F16 ? "f16" : "f32", threads, d);
}

// The K blocks: 448 while >= 896 remain; one block up to 448; two halves in between, where
// level3.c (one thread) rounds the first half up to 16 and level3_thread.c (two) rounds it up
// to 1: In = 577 splits 289 + 288 threaded and 288 + 289 on one thread, 897 into 448 + 225 +
// 224 and 448 + 224 + 225. Odd In leaves inputs past the last 16-wide
// packing step; O = 88 and 100 leave a partial last panel; T = 37 a partial row tile.
static void test_blocking_regimes(void **st) {
    (void)st;
    if (!available("blocking regimes")) return;
    static const int ins[] = {448, 449, 577, 895, 896, 897, 1000, 1343, 1344, 1345, 2047};
    for (int threads = 1; threads <= 2; threads++)
        for (size_t i = 0; i < sizeof ins / sizeof ins[0]; i++) {
            check(37, ins[i], 88, GS_F16, threads);
            check(64, ins[i], 100, GS_BF16, threads);
            check(45, ins[i], 96, GS_F32, threads);
        }
    set_threads(2);
}

// The linears of SmolLM2-135M, TinyLlama-1.1B and Llama-2-7B (In x O), at fewer rows than an
// evaluation's 2048 (the order does not depend on T past the small-matrix bound).
static void test_model_shapes(void **st) {
    (void)st;
    if (!available("model shapes")) return;
    static const int shapes[][2] = {{576, 576},   {576, 192},   {576, 1536},  {1536, 576},
                                    {2048, 2048}, {2048, 256},  {2048, 5632}, {5632, 2048},
                                    {4096, 4096}, {4096, 11008}, {11008, 4096}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        check(i < 8 ? 77 : 24, shapes[i][0], shapes[i][1], i % 2 ? GS_F32 : GS_F16, 2);
}

// gemm_stored_usable: only above OpenBLAS's small-matrix bound (100^3 multiply-adds) and only
// outside a parallel region; AH_GEMM_STORED=0 turns it off.
static void test_usable(void **st) {
    (void)st;
    if (!available("usable")) return;
    assert_int_equal(gemm_stored_usable(10, 100, 1000), 0);   // 1e6: OpenBLAS's small kernels
    assert_int_equal(gemm_stored_usable(11, 100, 1000), 1);
    int inside = -1;
#pragma omp parallel num_threads(2)
#pragma omp single
    inside = gemm_stored_usable(64, 576, 576);
    assert_int_equal(inside, 0);
    setenv("AH_GEMM_STORED", "0", 1);
    assert_int_equal(gemm_stored_usable(64, 576, 576), 0);
    assert_int_equal(gemm_stored_available(), 0);
    unsetenv("AH_GEMM_STORED");
}

// Element i of W (stored as dt) gets the bit pattern `bits` (16 or 32 bits); the old one back.
static uint32_t set_bits(void *W, size_t i, uint32_t bits, gs_dtype dt) {
    uint32_t old;
    if (dt == GS_F32) {
        old = ((uint32_t *)W)[i];
        ((uint32_t *)W)[i] = bits;
    } else {
        old = ((uint16_t *)W)[i];
        ((uint16_t *)W)[i] = (uint16_t)bits;
    }
    return old;
}

// A NaN or an infinity anywhere in W (in the vector packing or past it) is reported; the
// largest finite values and subnormals are not. F32, F16, BF16.
static void test_nonfinite(void **st) {
    (void)st;
    if (!available("nonfinite")) return;
    enum { T = 40, In = 600, O = 90 };   // inputs 592..599 and outputs 80..89: the scalar path
    uint32_t *W = malloc((size_t)O * In * sizeof *W);
    float *x = calloc((size_t)T * In, sizeof *x), *y = malloc((size_t)T * O * sizeof *y),
          *scratch = aligned_alloc(64, gemm_stored_scratch_floats(omp_get_max_threads()) * sizeof(float));
    assert_non_null(W);
    static const struct {
        gs_dtype dt;
        const char *name;
        uint32_t one, maxf, sign, inf, nan;
    } types[] = {
        {GS_F32, "f32", 0x3f800000u, 0x7f7fffffu, 0x80000000u, 0x7f800000u, 0x7fc00001u},
        {GS_F16, "f16", 0x3c00, 0x7bff, 0x8000, 0x7c00, 0x7e01},
        {GS_BF16, "bf16", 0x3f80, 0x7f7f, 0x8000, 0x7f80, 0x7fc1},
    };
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        gs_dtype dt = types[t].dt;
        for (size_t i = 0; i < (size_t)O * In; i++) set_bits(W, i, types[t].one, dt);
        set_bits(W, 5, types[t].maxf, dt);
        set_bits(W, (size_t)17 * In + 300, types[t].maxf | types[t].sign, dt);
        set_bits(W, (size_t)89 * In + 599, 1, dt);   // the least subnormal
        assert_int_equal(gemm_stored(y, x, W, dt, T, In, O, 0, scratch), 0);
        static const size_t at[][2] = {{0, 0}, {33, 100}, {79, 591}, {3, 595}, {85, 10}, {89, 599}};
        for (size_t j = 0; j < sizeof at / sizeof at[0]; j++)
            for (int kind = 0; kind < 3; kind++) {
                size_t i = at[j][0] * In + at[j][1];
                uint32_t v = kind == 0 ? types[t].nan
                             : kind == 1 ? types[t].inf : types[t].inf | types[t].sign,
                         keep = set_bits(W, i, v, dt);
                if (gemm_stored(y, x, W, dt, T, In, O, 0, scratch) != 1)
                    fail_msg("%s: %x at [%zu, %zu] not reported", types[t].name, v, at[j][0],
                             at[j][1]);
                set_bits(W, i, keep, dt);
            }
    }
    free(W); free(x); free(y); free(scratch);
}

int main(void) {
    ah_err e = {{0}};
    if (ah_blas_select(&e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocking_regimes), cmocka_unit_test(test_model_shapes),
        cmocka_unit_test(test_usable), cmocka_unit_test(test_nonfinite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
