// test_packed.c — packed/packed: linears computed from packed codes.
//
// For bits {2, 3, 4, 5, 8} x groups {32, 128, 7, 100, per-row} x {minmax (asymmetric), rtn
// (symmetric)} x odd and even shapes: (1) the packed linear dequantizes (portable and AVX2) to quant_fake's
// weights bit for bit; (2) every GEMV kernel this machine runs (portable, AVX2, AVX-512 when
// compiled and present) and the tiled GEMM path agree with the naive reference (w_hat in
// fp32, dot products in double) to |got - ref| <= 1e-5 * sum_i |w_hat_i x_i| + 1e-30, the
// float rounding of a sum of that many terms (tolerance on the sum of magnitudes, not on
// |ref|, which cancellation can make small); (3) accumulate adds to y; (4) linears that share
// an input (packed_gemv_shared) get exactly their own packed_gemv's results; (5) the LM head
// read as stored (packed/head.c) is right and row-order independent; (6) a row gives the
// same bits in a row pair as alone. Quiet on success;
// AH_VERBOSE=1 prints each kernel's worst relative error.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/half.h"
#include "packed/head.h"
#include "packed/packed.h"
#include "quant/quant.h"
#include "testutil.h"

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;

static uint32_t rng_u32(void) {   // xorshift64*
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return (uint32_t)((g_rng * 0x2545f4914f6cdd1dull) >> 32);
}

static float rng_normal(void) {
    double u1 = (rng_u32() + 1.0) / 4294967297.0, u2 = rng_u32() / 4294967296.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

// A quantized (rows, cols) linear: W random, codes from quant_codes; also returns the fake
// weights quant_fake gives (rows, cols) in *fake.
static packed_linear *make(int rows, int cols, int bits, int group, quant_kind kind, float **fake) {
    quant_cfg q = {.kind = kind, .bits = bits, .group = group};
    size_t n = (size_t)rows * cols, ng = (size_t)rows * quant_groups((size_t)cols, group);
    float *W = malloc(n * sizeof *W), *sc = malloc(ng * sizeof *sc), *z = malloc(ng * sizeof *z);
    uint8_t *codes = malloc(n);
    assert_non_null(W);
    assert_non_null(sc);
    assert_non_null(z);
    assert_non_null(codes);
    for (size_t i = 0; i < n; i++) W[i] = 0.05f * rng_normal() + (i % 5 == 0 ? 0.02f : 0.0f);
    quant_codes(codes, sc, z, W, (size_t)rows, (size_t)cols, &q);
    ah_err e = {{0}};
    packed_linear *p = packed_linear_new(rows, cols, bits, group, &e);
    assert_non_null(p);
    packed_linear_set_rows(p, 0, rows, codes, sc, z);
    quant_fake(W, (size_t)rows, (size_t)cols, &q);
    *fake = W;
    free(sc);
    free(z);
    free(codes);
    return p;
}

// Fails unless y (N, O) is within the tolerance of the header of the reference; returns the
// worst |got - ref| / sum |w x|.
static double check(const char *what, const float *y, const float *ref, const float *x,
                    const float *fake, int N, int O, int In) {
    double worst = 0.0;
    for (int t = 0; t < N; t++)
        for (int o = 0; o < O; o++) {
            double mag = 0.0;
            for (int i = 0; i < In; i++) mag += fabs((double)fake[(size_t)o * In + i] * x[(size_t)t * In + i]);
            double got = y[(size_t)t * O + o], d = fabs(got - ref[(size_t)t * O + o]);
            if (!isfinite(got) || d > 1e-5 * mag + 1e-30)
                fail_msg("%s: y[%d][%d] = %.9g, reference %.9g (sum |w x| %.3g)", what, t, o, got,
                         ref[(size_t)t * O + o], mag);
            if (mag > 0 && d / mag > worst) worst = d / mag;
        }
    return worst;
}

static void one_case(int rows, int cols, int bits, int group, quant_kind kind, int N) {
    float *fake;
    packed_linear *p = make(rows, cols, bits, group, kind, &fake);
    char what[160];
    snprintf(what, sizeof what, "(%d, %d) %s b%d g%d N=%d", rows, cols, quant_kind_name(kind), bits,
             group, N);
    // (1) dequantization == quant_fake, bit for bit
    float *deq = malloc((size_t)rows * cols * sizeof *deq);
    assert_non_null(deq);
    const packed_kernel dk[] = {PACKED_PORTABLE, PACKED_AVX2, PACKED_AVX512};
    for (size_t k = 0; k < 3; k++) {
        if (!packed_kernel_available(dk[k])) continue;
        memset(deq, 0xff, (size_t)rows * cols * sizeof *deq);
        packed_linear_dequant_with(deq, p, 0, rows, dk[k]);
        if (memcmp(deq, fake, (size_t)rows * cols * sizeof *deq))
            fail_msg("%s: %s dequantization differs from quant_fake", what, packed_kernel_name(dk[k]));
    }
    // (2) kernels against the reference
    float *x = malloc((size_t)N * cols * sizeof *x), *ref = malloc((size_t)N * rows * sizeof *ref),
          *y = malloc((size_t)N * rows * sizeof *y);
    size_t ns = packed_scratch(p);
    float *scratch = malloc(ns * sizeof *scratch);
    assert_non_null(x);
    assert_non_null(ref);
    assert_non_null(y);
    assert_non_null(scratch);
    for (size_t i = 0; i < (size_t)N * cols; i++) x[i] = rng_normal();
    assert_int_equal(packed_reference(ref, x, p, N), 0);
    const packed_kernel ks[] = {PACKED_PORTABLE, PACKED_AVX2, PACKED_AVX512};
    for (size_t k = 0; k < sizeof ks / sizeof ks[0]; k++) {
        if (!packed_kernel_available(ks[k])) continue;
        char w2[200];
        snprintf(w2, sizeof w2, "%s gemv %s", what, packed_kernel_name(ks[k]));
        for (size_t i = 0; i < (size_t)N * rows; i++) y[i] = NAN;
        packed_gemv(y, x, p, N, 0, ks[k], scratch);
        double worst = check(w2, y, ref, x, fake, N, rows, cols);
        // accumulate: y += the same product again = 2 * ref
        packed_gemv(y, x, p, N, 1, ks[k], scratch);
        for (size_t i = 0; i < (size_t)N * rows; i++) y[i] *= 0.5f;
        check(w2, y, ref, x, fake, N, rows, cols);
        if (test_verbose()) fprintf(stderr, "  %-50s worst %.2e\n", w2, worst);
    }
    snprintf(what + strlen(what), sizeof what - strlen(what), " gemm");
    for (size_t i = 0; i < (size_t)N * rows; i++) y[i] = NAN;
    packed_gemm(y, x, p, N, 0, scratch);
    double worst = check(what, y, ref, x, fake, N, rows, cols);
    if (test_verbose()) fprintf(stderr, "  %-50s worst %.2e\n", what, worst);
    free(scratch);
    free(y);
    free(ref);
    free(x);
    free(deq);
    free(fake);
    packed_linear_free(p);
}

static void test_kernels(void **state) {
    (void)state;
    const int bits[] = {2, 3, 4, 5, 8}, groups[] = {32, 128, 7, 100, QUANT_GROUP_ROW};
    const int shapes[][2] = {{37, 203}, {48, 256}, {9, 1000}};
    const quant_kind kinds[] = {QUANT_MINMAX, QUANT_RTN};
    for (size_t b = 0; b < 5; b++)
        for (size_t g = 0; g < 5; g++)
            for (size_t s = 0; s < 3; s++)
                for (size_t k = 0; k < 2; k++)
                    one_case(shapes[s][0], shapes[s][1], bits[b], groups[g], kinds[k],
                             s == 2 ? 11 : 2);
}

// A group size larger than the row (one group), a single column, 4 input rows.
static void test_edges(void **state) {
    (void)state;
    one_case(5, 64, 4, 128, QUANT_MINMAX, 1);
    one_case(3, 1, 4, 32, QUANT_MINMAX, 1);
    one_case(17, 16, 2, 16, QUANT_RTN, 9);
    // exactly one block of 4 input rows (the AVX2 GEMV's multi-row kernel alone), with ragged
    // groups and a 3-bit tail
    one_case(37, 203, 3, 100, QUANT_MINMAX, 4);
    // SmolLM2's row width, 576 = 4.5 x 128: a last group of 64 codes, whole 16-byte steps at
    // 2, 4 and 8 bits (the AVX-512 kernel's partial last group)
    one_case(19, 576, 4, 128, QUANT_MINMAX, 1);
    one_case(19, 576, 2, 128, QUANT_RTN, 1);
    one_case(19, 576, 8, 128, QUANT_MINMAX, 2);
    // the GEMM path's whole-linear dequantization and single sgemm
    one_case(37, 203, 3, 100, QUANT_MINMAX, PACKED_WHOLE_ROWS + 3);
    one_case(19, 576, 4, 128, QUANT_RTN, PACKED_WHOLE_ROWS);
}

// packed_gemv_shared (q, k, v or gate, up sharing one input) gives each linear exactly what
// packed_gemv gives it alone, bit for bit: the same kernel on the same reordered x. Linears
// of the same input layout (3 and 4 bits: two codes a byte) share it; an 8-bit one among
// 4-bit ones does not and takes its own. N = 1, 4 (the 4-row kernel), 6 (4 + 2), 9 (GEMM in
// packed_linear_apply_shared), also accumulating.
static void shared_case(const int *rows, const int *bits, int n, int cols, int group, int N) {
    packed_linear *p[3];
    float *fake, *y[3], *y1[3];
    size_t ns = 0;
    for (int j = 0; j < n; j++) {
        p[j] = make(rows[j], cols, bits[j], group, QUANT_MINMAX, &fake);
        free(fake);
        size_t k = packed_scratch(p[j]);
        ns = k > ns ? k : ns;
        y[j] = malloc((size_t)N * rows[j] * sizeof(float));
        y1[j] = malloc((size_t)N * rows[j] * sizeof(float));
        assert_non_null(y[j]);
        assert_non_null(y1[j]);
    }
    float *x = malloc((size_t)N * cols * sizeof *x), *scratch = malloc(ns * sizeof *scratch);
    assert_non_null(x);
    assert_non_null(scratch);
    for (size_t i = 0; i < (size_t)N * cols; i++) x[i] = rng_normal();
    const packed_kernel ks[] = {PACKED_PORTABLE, PACKED_AVX2, PACKED_AVX512};
    for (size_t k = 0; k < sizeof ks / sizeof ks[0]; k++) {
        if (!packed_kernel_available(ks[k])) continue;
        for (int acc = 0; acc < 2; acc++) {
            for (int j = 0; j < n; j++)
                for (size_t i = 0; i < (size_t)N * rows[j]; i++) y[j][i] = y1[j][i] = 0.5f * (float)i;
            if (N < PACKED_GEMM_ROWS) {
                packed_gemv_shared(y, x, (const packed_linear *const *)p, n, N, acc, ks[k], scratch);
                for (int j = 0; j < n; j++) packed_gemv(y1[j], x, p[j], N, acc, ks[k], scratch);
            } else {
                packed_linear_apply_shared(y, x, (const packed_linear *const *)p, n, N, acc, scratch);
                for (int j = 0; j < n; j++) packed_linear_apply(y1[j], x, p[j], N, acc, scratch);
            }
            for (int j = 0; j < n; j++)
                if (memcmp(y[j], y1[j], (size_t)N * rows[j] * sizeof(float)))
                    fail_msg("shared GEMV, %s, N=%d, accumulate %d: linear %d (b%d, %d rows) "
                             "differs from its own packed_gemv", packed_kernel_name(ks[k]), N, acc,
                             j, bits[j], rows[j]);
        }
        if (N >= PACKED_GEMM_ROWS) break;   // the GEMM path has no kernel choice
    }
    for (int j = 0; j < n; j++) {
        packed_linear_free(p[j]);
        free(y[j]);
        free(y1[j]);
    }
    free(x);
    free(scratch);
}

static void test_shared(void **state) {
    (void)state;
    const int rows[] = {37, 16, 9}, same[] = {4, 3, 4}, mixed[] = {4, 8, 4}, two_bit[] = {2, 2};
    const int Ns[] = {1, 4, 6, 9};
    for (size_t t = 0; t < 4; t++) {
        shared_case(rows, same, 3, 203, 100, Ns[t]);
        shared_case(rows, mixed, 3, 256, 128, Ns[t]);
        shared_case(rows, two_bit, 2, 96, QUANT_GROUP_ROW, Ns[t]);
    }
}

// The LM head read as stored (packed/head.c): F32, F16, BF16, rows aligned and not, an odd
// row count. Each logit is within float rounding of the double dot of the stored values with
// x, and equals bit for bit what the head gives for that row alone (V = 1: the one-row dot),
// so reading two rows at a time changes no logit.
static void test_head(void **state) {
    (void)state;
    const st_dtype dts[] = {ST_F32, ST_F16, ST_BF16};
    const int V = 37, Cs[] = {576, 203};
    for (size_t d = 0; d < 3; d++)
        for (size_t c = 0; c < 2; c++)
            for (int misalign = 0; misalign < 2; misalign++) {
                int C = Cs[c];
                size_t esz = st_dtype_size(dts[d]);
                uint8_t *buf = malloc((size_t)V * C * esz + 8);
                float *x = malloc((size_t)C * sizeof *x), *lg = malloc(V * sizeof *lg), one;
                assert_non_null(buf);
                assert_non_null(x);
                assert_non_null(lg);
                uint8_t *data = buf + misalign;   // misaligned rows take the widening loop
                for (size_t i = 0; i < (size_t)V * C; i++) {
                    float f = 0.05f * rng_normal();
                    uint16_t h = dts[d] == ST_F16 ? ah_f32_to_f16(f) : ah_f32_to_bf16(f);
                    if (dts[d] == ST_F32) memcpy(data + 4 * i, &f, 4);
                    else memcpy(data + 2 * i, &h, 2);
                }
                for (int i = 0; i < C; i++) x[i] = rng_normal();
                model_weight w = {.name = "lm_head", .dtype = dts[d], .data = data, .ndim = 2,
                                  .shape = {V, C}};
                assert_int_equal(packed_head_gemv(lg, x, &w, V, C), 0);
                for (int v = 0; v < V; v++) {
                    double ref = 0.0, mag = 0.0;
                    for (int i = 0; i < C; i++) {
                        float wi;
                        st_widen(&wi, data + ((size_t)v * C + i) * esz, 1, dts[d]);
                        ref += (double)wi * x[i];
                        mag += fabs((double)wi * x[i]);
                    }
                    if (!(fabs(lg[v] - ref) <= 1e-5 * mag))
                        fail_msg("head %s C=%d misaligned %d: logit %d = %.9g, reference %.9g",
                                 st_dtype_name(dts[d]), C, misalign, v, lg[v], ref);
                    model_weight row = w;
                    row.data = data + (size_t)v * C * esz;
                    row.shape[0] = 1;
                    assert_int_equal(packed_head_gemv(&one, x, &row, 1, C), 0);
                    if (memcmp(&one, &lg[v], sizeof one))
                        fail_msg("head %s C=%d misaligned %d: logit %d = %.9g, alone %.9g",
                                 st_dtype_name(dts[d]), C, misalign, v, lg[v], one);
                }
                free(buf);
                free(x);
                free(lg);
            }
}

// The GEMV kernels take output rows two at a time and an odd last row alone; with whole
// groups of 32, 64 or 128 the pairs run a constant, unrolled chunk loop (packed_avx2.c) and
// the last row the general one. A linear of 5 rows whose row 4 repeats row 0 (codes, scales,
// zeros) must give y[4] == y[0] bit for bit, on one thread (so the rows stay in one block):
// the two paths sum in the same order. Row widths with and without a partial last group.
static void test_pair_rows(void **state) {
    (void)state;
    const int bits[] = {2, 4, 3, 8, 5}, groups[] = {32, 64, 128}, cols[] = {256, 576, 1000};
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    for (size_t b = 0; b < 5; b++)
        for (size_t g = 0; g < 3; g++)
            for (size_t c = 0; c < 3; c++) {
                const int O = 5, In = cols[c], G = (In + groups[g] - 1) / groups[g];
                uint8_t *codes = malloc((size_t)O * In);
                float *sc = malloc((size_t)O * G * sizeof *sc), *z = malloc((size_t)O * G * sizeof *z);
                float *x = malloc((size_t)In * sizeof *x), y[5];
                assert_non_null(codes);
                assert_non_null(sc);
                assert_non_null(z);
                assert_non_null(x);
                for (int i = 0; i < O * In; i++) codes[i] = (uint8_t)(rng_u32() % (1u << bits[b]));
                for (int i = 0; i < O * G; i++) {
                    sc[i] = 0.01f + 0.001f * (float)(rng_u32() % 100);
                    z[i] = (float)(rng_u32() % (1u << bits[b]));
                }
                memcpy(codes + 4 * (size_t)In, codes, (size_t)In);
                memcpy(sc + 4 * (size_t)G, sc, (size_t)G * sizeof *sc);
                memcpy(z + 4 * (size_t)G, z, (size_t)G * sizeof *z);
                for (int i = 0; i < In; i++) x[i] = rng_normal();
                ah_err e = {{0}};
                packed_linear *p = packed_linear_new(O, In, bits[b], groups[g], &e);
                assert_non_null(p);
                packed_linear_set_rows(p, 0, O, codes, sc, z);
                float *scratch = malloc(packed_scratch(p) * sizeof *scratch);
                assert_non_null(scratch);
                const packed_kernel ks[] = {PACKED_PORTABLE, PACKED_AVX2, PACKED_AVX512};
                for (size_t k = 0; k < 3; k++) {
                    if (!packed_kernel_available(ks[k])) continue;
                    packed_gemv(y, x, p, 1, 0, ks[k], scratch);
                    if (memcmp(&y[0], &y[4], sizeof y[0]))
                        fail_msg("%s b%d g%d cols %d: row 0 (pair) %.9g, the same row alone %.9g",
                                 packed_kernel_name(ks[k]), bits[b], groups[g], In, y[0], y[4]);
                }
                packed_linear_free(p);
                free(scratch);
                free(codes);
                free(sc);
                free(z);
                free(x);
            }
    omp_set_num_threads(threads);
}

static void test_bad_shape(void **state) {
    (void)state;
    ah_err e = {{0}};
    assert_null(packed_linear_new(4, 8, 9, 32, &e));
    assert_non_null(strstr(e.msg, "bits 9"));
    assert_null(packed_linear_new(4, 8, 4, 0, &e));
}

// The packed form is what the export's qweight holds: bytes = rows * packed cols + scales + zeros.
static void test_bytes(void **state) {
    (void)state;
    ah_err e = {{0}};
    packed_linear *p = packed_linear_new(10, 256, 4, 128, &e);
    assert_non_null(p);
    assert_int_equal(packed_linear_bytes(p), 10 * 128 + 10 * 2 * 5);
    packed_linear_free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernels),
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_shared),
        cmocka_unit_test(test_head),
        cmocka_unit_test(test_pair_rows),
        cmocka_unit_test(test_bad_shape),
        cmocka_unit_test(test_bytes),
    };
    if (test_verbose())
        fprintf(stderr, "auto kernel: %s, %d threads\n", packed_kernel_name(packed_kernel_auto()),
                omp_get_max_threads());
    return cmocka_run_group_tests(tests, NULL, NULL);
}
