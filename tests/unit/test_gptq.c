// test_gptq.c — quant/gptq: a diagonal Hessian reduces GPTQ to the plain quantizer (codes,
// scales, zeros bit for bit); a hand-computed two-column case; an independent unblocked naive
// GPTQ in the test (explicit inverse by Gauss-Jordan, no lazy batches) agrees with every block
// size; GPTQ beats minmax on the output error for correlated inputs; codes dequantize to W_hat
// bit for bit (with and without act_order, ragged groups); dead inputs; an indefinite Hessian
// is retried with more damping and reported; bad configs. Quiet on success.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant/gptq.h"
#include "quant/quant.h"

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static uint32_t rng_u32(void) {
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return (uint32_t)((g_rng * 0x2545f4914f6cdd1dull) >> 32);
}
static double rng_normal(void) {
    double u1 = (rng_u32() + 1.0) / 4294967297.0, u2 = rng_u32() / 4294967296.0;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

// X (N, C) correlated inputs: x = z A with a random mixing A plus a few large channels; H = 2/N X^T X.
static void make_inputs(double *H, float *X, int N, int C) {
    double *A = malloc((size_t)C * C * sizeof *A);
    for (int i = 0; i < C * C; i++) A[i] = rng_normal() * 0.3;
    for (int i = 0; i < C; i++) A[i * C + i] += 1.0;
    for (int t = 0; t < N; t++) {
        double z[256];
        for (int i = 0; i < C; i++) z[i] = rng_normal() * (i % 7 == 0 ? 4.0 : 1.0);
        for (int j = 0; j < C; j++) {
            double s = 0;
            for (int i = 0; i < C; i++) s += z[i] * A[i * C + j];
            X[(size_t)t * C + j] = (float)s;
        }
    }
    memset(H, 0, (size_t)C * C * sizeof *H);
    for (int t = 0; t < N; t++)
        for (int i = 0; i < C; i++)
            for (int j = 0; j < C; j++)
                H[i * C + j] += 2.0 / N * X[(size_t)t * C + i] * X[(size_t)t * C + j];
    free(A);
}

static void make_weights(float *W, int R, int C) {
    for (int i = 0; i < R * C; i++) W[i] = (float)(rng_normal() * 0.05);
}

static double out_err(const float *X, const float *W, const float *Q, int N, int R, int C) {
    double se = 0;
    for (int t = 0; t < N; t++)
        for (int r = 0; r < R; r++) {
            double d = 0;
            for (int c = 0; c < C; c++) d += (double)X[(size_t)t * C + c] * (W[r * C + c] - Q[r * C + c]);
            se += d * d;
        }
    return se / ((double)N * R);
}

// A diagonal H: no error feedback, so GPTQ is the plain quantizer.
static void test_diagonal_is_plain(void **state) {
    (void)state;
    const int R = 6, C = 40;
    float W[6 * 40], Wq[6 * 40], Wf[6 * 40];
    double H[40 * 40] = {0};
    for (int i = 0; i < C; i++) H[i * C + i] = 0.5 + (i % 5);
    make_weights(W, R, C);
    quant_kind kinds[] = {QUANT_MINMAX, QUANT_RTN, QUANT_GPTQ_RTN};
    int groups[] = {16, -1, 8};
    for (int k = 0; k < 3; k++)
        for (int gi = 0; gi < 3; gi++) {
            quant_cfg q = {kinds[k], 3, groups[gi], QUANT_SCALE_F32};
            gptq_cfg g;
            gptq_defaults(&g);
            g.block_size = 7;
            memcpy(Wq, W, sizeof W);
            memcpy(Wf, W, sizeof W);
            size_t G = quant_groups(C, q.group);
            uint8_t codes[6 * 40], codes2[6 * 40];
            float s[6 * 5], z[6 * 5], s2[6 * 5], z2[6 * 5];
            gptq_info info;
            assert_int_equal(gptq_quantize(Wq, R, C, H, &q, &g, codes, s, z, &info, NULL), 0);
            quant_fake(Wf, R, C, &q);
            quant_codes(codes2, s2, z2, W, R, C, &q);
            assert_memory_equal(Wq, Wf, sizeof W);
            assert_memory_equal(codes, codes2, sizeof codes);
            assert_memory_equal(s, s2, R * G * sizeof(float));
            assert_memory_equal(z, z2, R * G * sizeof(float));
            assert_int_equal(info.retries, 0);
            assert_true(info.damp_used == 0.01);
        }
}

// Two columns, one row, per-row minmax at 2 bits: w1 absorbs (w0 - q0) * b / c... computed
// from the formula with the damped H.
static void test_two_columns(void **state) {
    (void)state;
    float W[2] = {0.30f, 1.00f};
    double H[4] = {2.0, 1.0, 1.0, 3.0};
    quant_cfg q = {QUANT_MINMAX, 2, -1, QUANT_SCALE_F32};
    gptq_cfg g;
    gptq_defaults(&g);
    g.damp = 1e-6;
    // Expected: params from the original row: min 0.3 max 1.0, scale 0.7/3, zero = -rint(0.3/s).
    float s, z;
    quant_group_params(&s, &z, W, 2, &q);
    float c0 = quant_code1(0.30f, s, z, 3.0f), q0 = (c0 - z) * s;
    double d = 1e-6 * 2.5, a = 2.0 + d, b = 1.0, c = 3.0 + d;
    // H^-1 = [[c, -b], [-b, a]] / det; w1 -= (w0 - q0) / Hinv00 * Hinv01 = (w0 - q0) * b / c
    double w1 = 1.0 + (0.30 - (double)q0) * b / c;
    (void)a;
    float c1 = quant_code1((float)w1, s, z, 3.0f), q1 = (c1 - z) * s;
    gptq_info info;
    assert_int_equal(gptq_quantize(W, 1, 2, H, &q, &g, NULL, NULL, NULL, &info, NULL), 0);
    assert_true(W[0] == q0);
    assert_true(W[1] == q1);
}

// Naive GPTQ: unblocked, explicit H^-1 (Gauss-Jordan), the inverse updated after each column
// by the OBS formula Hinv <- Hinv - Hinv[:, j] Hinv[j, :] / Hinv[j, j] (the paper's eq. 3), per
// row parameters. Codes must agree with the Cholesky / blocked implementation.
static void naive_gptq(float *Wout, const float *W, const double *H, int R, int C, double damp,
                       const quant_cfg *q) {
    double *A = malloc((size_t)C * 2 * C * sizeof *A);
    double mean = 0;
    for (int i = 0; i < C; i++) mean += H[i * C + i];
    mean /= C;
    for (int i = 0; i < C; i++)
        for (int j = 0; j < 2 * C; j++)
            A[i * 2 * C + j] = j < C ? H[i * C + j] + (i == j ? damp * mean : 0) : (j - C == i);
    for (int p = 0; p < C; p++) {   // Gauss-Jordan with partial pivoting
        int best = p;
        for (int i = p + 1; i < C; i++)
            if (fabs(A[i * 2 * C + p]) > fabs(A[best * 2 * C + p])) best = i;
        for (int j = 0; j < 2 * C; j++) {
            double t = A[p * 2 * C + j];
            A[p * 2 * C + j] = A[best * 2 * C + j];
            A[best * 2 * C + j] = t;
        }
        double piv = A[p * 2 * C + p];
        for (int j = 0; j < 2 * C; j++) A[p * 2 * C + j] /= piv;
        for (int i = 0; i < C; i++) {
            if (i == p) continue;
            double f = A[i * 2 * C + p];
            for (int j = 0; j < 2 * C; j++) A[i * 2 * C + j] -= f * A[p * 2 * C + j];
        }
    }
    double *Hi = malloc((size_t)C * C * sizeof *Hi);
    for (int i = 0; i < C; i++)
        for (int j = 0; j < C; j++) Hi[i * C + j] = A[i * 2 * C + C + j];
    const float maxq = (float)((1 << q->bits) - 1);
    for (int r = 0; r < R; r++) {
        double *Hr = malloc((size_t)C * C * sizeof *Hr), *w = malloc((size_t)C * sizeof *w);
        memcpy(Hr, Hi, (size_t)C * C * sizeof *Hr);
        for (int c = 0; c < C; c++) w[c] = W[r * C + c];
        float s, z;
        quant_group_params(&s, &z, W + r * C, C, q);
        for (int j = 0; j < C; j++) {
            float cq = quant_code1((float)w[j], s, z, maxq), qv = (cq - z) * s;
            Wout[r * C + j] = qv;
            double f = (w[j] - qv) / Hr[j * C + j];
            for (int k = j + 1; k < C; k++) w[k] -= f * Hr[j * C + k];
            for (int a = j + 1; a < C; a++)
                for (int b = j + 1; b < C; b++) Hr[a * C + b] -= Hr[a * C + j] * Hr[j * C + b] / Hr[j * C + j];
        }
        free(Hr);
        free(w);
    }
    free(A);
    free(Hi);
}

static void test_naive_and_blocks(void **state) {
    (void)state;
    enum { R = 12, C = 48, N = 300 };
    float *X = malloc((size_t)N * C * sizeof *X), W[R * C], Wn[R * C], Wg[R * C], Wm[R * C];
    double *H = malloc((size_t)C * C * sizeof *H);
    g_rng = 12345;
    make_inputs(H, X, N, C);
    make_weights(W, R, C);
    quant_cfg q = {QUANT_MINMAX, 3, -1, QUANT_SCALE_F32};
    naive_gptq(Wn, W, H, R, C, 0.01, &q);
    int blocks[] = {1, 5, 16, 128};
    for (int bi = 0; bi < 4; bi++) {
        gptq_cfg g;
        gptq_defaults(&g);
        g.block_size = blocks[bi];
        memcpy(Wg, W, sizeof W);
        assert_int_equal(gptq_quantize(Wg, R, C, H, &q, &g, NULL, NULL, NULL, NULL, NULL), 0);
        int same = 0;
        for (int i = 0; i < R * C; i++) same += Wg[i] == Wn[i];
        if (same < R * C - 1) fprintf(stderr, "block %d: %d of %d equal\n", blocks[bi], same, R * C);
        assert_true(same >= R * C - 1);   // at most a last-bit rounding-midpoint case
    }
    // GPTQ's output error beats plain minmax, per row and in groups, with and without act_order.
    int groups[] = {-1, 16};
    for (int gi = 0; gi < 2; gi++)
        for (int ao = 0; ao < 2; ao++) {
            quant_cfg qq = {QUANT_MINMAX, 3, groups[gi], QUANT_SCALE_F32};
            gptq_cfg g;
            gptq_defaults(&g);
            g.act_order = ao;
            memcpy(Wg, W, sizeof W);
            memcpy(Wm, W, sizeof W);
            assert_int_equal(gptq_quantize(Wg, R, C, H, &qq, &g, NULL, NULL, NULL, NULL, NULL), 0);
            quant_fake(Wm, R, C, &qq);
            double eg = out_err(X, W, Wg, N, R, C), em = out_err(X, W, Wm, N, R, C);
            if (getenv("AH_VERBOSE")) printf("g%d act_order %d: gptq %g minmax %g\n", groups[gi], ao, eg, em);
            assert_true(eg < 0.8 * em);
        }
    free(X);
    free(H);
}

// codes / scale / zero dequantize to W_hat bit for bit; the ragged last group and act_order.
static void test_codes_dequant(void **state) {
    (void)state;
    enum { R = 7, C = 45, N = 200 };
    float *X = malloc((size_t)N * C * sizeof *X), W[R * C], Wg[R * C], Wd[R * C];
    double *H = malloc((size_t)C * C * sizeof *H);
    g_rng = 777;
    make_inputs(H, X, N, C);
    make_weights(W, R, C);
    quant_kind kinds[] = {QUANT_MINMAX, QUANT_RTN, QUANT_GPTQ_RTN};
    int groups[] = {16, -1, 45, 100};
    for (int k = 0; k < 3; k++)
        for (int gi = 0; gi < 4; gi++)
            for (int ao = 0; ao < 2; ao++)
                for (int bs = 4; bs <= 128; bs *= 32) {
                    quant_cfg q = {kinds[k], 4, groups[gi], QUANT_SCALE_F32};
                    gptq_cfg g = {0.01, bs, ao};
                    size_t G = quant_groups(C, q.group);
                    uint8_t codes[R * C];
                    float s[R * 3], z[R * 3];
                    memcpy(Wg, W, sizeof W);
                    assert_int_equal(gptq_quantize(Wg, R, C, H, &q, &g, codes, s, z, NULL, NULL), 0);
                    quant_dequant(Wd, codes, s, z, R, C, &q);
                    assert_memory_equal(Wd, Wg, sizeof W);
                    for (size_t i = 0; i < R * G; i++) assert_true(isfinite(s[i]));
                }
    free(X);
    free(H);
}

// A dead input (H_ii = 0, its column of X all zero) is quantized as 0 and counted.
static void test_dead_input(void **state) {
    (void)state;
    enum { R = 4, C = 12, N = 50 };
    float X[N * C], W[R * C];
    double H[C * C];
    g_rng = 99;
    make_inputs(H, X, N, C);
    for (int i = 0; i < C; i++) H[3 * C + i] = H[i * C + 3] = 0.0;
    make_weights(W, R, C);
    quant_cfg q = {QUANT_GPTQ_RTN, 4, -1, QUANT_SCALE_F32};   // the range holds 0: a zero column stays 0
    gptq_cfg g;
    gptq_defaults(&g);
    gptq_info info;
    assert_int_equal(gptq_quantize(W, R, C, H, &q, &g, NULL, NULL, NULL, &info, NULL), 0);
    assert_int_equal(info.dead, 1);
    for (int r = 0; r < R; r++) assert_true(W[r * C + 3] == 0.0f);
}

// Indefinite and all-zero Hessians: retried with 10x the damping, finite results, reported.
static void test_indefinite(void **state) {
    (void)state;
    float W[2 * 3] = {0.1f, -0.2f, 0.3f, 0.5f, 0.05f, -0.4f};
    double H[9] = {1.0, 0.0, 0.0, 0.0, -0.5, 0.0, 0.0, 0.0, 1.0};   // mean diag 0.5
    quant_cfg q = {QUANT_MINMAX, 3, -1, QUANT_SCALE_F32};
    gptq_cfg g;
    gptq_defaults(&g);
    gptq_info info;
    // needs damp * 0.5 > 0.5: damp 0.01, 0.1, 1 fail (1 gives exactly 0), 10 works.
    assert_int_equal(gptq_quantize(W, 2, 3, H, &q, &g, NULL, NULL, NULL, &info, NULL), 0);
    assert_int_equal(info.retries, 3);
    assert_true(fabs(info.damp_used - 10.0) < 1e-9);
    for (int i = 0; i < 6; i++) assert_true(isfinite(W[i]));
    // Hopeless: a huge negative diagonal entry; fails cleanly, W untouched.
    double Hb[9] = {1.0, 0.0, 0.0, 0.0, -1e12, 0.0, 0.0, 0.0, 1.0};
    float W2[6];
    memcpy(W2, W, sizeof W);
    ah_err e = {{0}};
    assert_int_equal(gptq_quantize(W2, 2, 3, Hb, &q, &g, NULL, NULL, NULL, &info, &e), -1);
    assert_non_null(strstr(e.msg, "not positive definite"));
    assert_memory_equal(W2, W, sizeof W);
    // All-zero H: every input dead, H = I.
    double Hz[9] = {0};
    assert_int_equal(gptq_quantize(W2, 2, 3, Hz, &q, &g, NULL, NULL, NULL, &info, NULL), 0);
    assert_int_equal(info.dead, 3);
}

static void test_config_errors(void **state) {
    (void)state;
    gptq_cfg g;
    ah_err e = {{0}};
    gptq_defaults(&g);
    assert_int_equal(gptq_cfg_check(&g, &e), 0);
    g.damp = 0;
    assert_int_equal(gptq_cfg_check(&g, &e), -1);
    assert_non_null(strstr(e.msg, "damp"));
    gptq_defaults(&g);
    g.block_size = 0;
    assert_int_equal(gptq_cfg_check(&g, &e), -1);
    assert_non_null(strstr(e.msg, "block size"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_diagonal_is_plain),
        cmocka_unit_test(test_two_columns),
        cmocka_unit_test(test_naive_and_blocks),
        cmocka_unit_test(test_codes_dequant),
        cmocka_unit_test(test_dead_input),
        cmocka_unit_test(test_indefinite),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
