// test_imatrix.c — quant/imatrix: a hand-computed symmetric group, all-zero and zero-importance
// groups, asymmetric groups kept exactly (on-grid, constant), imp = NULL equals imp = ones,
// fake == dequant(codes) bit for bit, refused configs, and the numpy reference
// tests/fixtures/imatrix/<fixture>.safetensors (tools/make-imatrix-fixtures, ref_imatrix.py):
// every linear of layers 0 and 1 of llama-gqa, opt and llama2c (40 linears) at rtn (3, 32),
// (4, 32), (4, -1) and minmax (4, 32), (3, -1) (200 entries), quantized from the checkpoint's
// weights with the stored importances; codes and zero points must be identical and scales
// within a relative 1e-6 (they are bit-exact today).
// Run from the repo root. Quiet on success; AH_VERBOSE=1 prints details.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "model/model.h"
#include "quant/imatrix.h"
#include "testutil.h"

static const quant_cfg SYM3 = {QUANT_RTN, 3, -1, QUANT_SCALE_F32};

// Pseudo-random weights in [-1, 1) with a few larger ones (a fixed LCG: reproducible).
static void fill(float *w, size_t n, uint32_t seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        w[i] = (float)(seed >> 8) / 8388608.0f - 1.0f;
        if (i % 17 == 5) w[i] *= 4.0f;
    }
}

// codes, scales and zeros of W (rows, cols) under q with imp; the caller frees the three.
typedef struct {
    uint8_t *codes;
    float *scale, *zero;
} qres;

static qres run_codes(const float *W, size_t rows, size_t cols, const quant_cfg *q,
                      const float *imp) {
    const size_t G = quant_groups(cols, q->group);
    qres r = {malloc(rows * cols), malloc(rows * G * sizeof(float)),
              malloc(rows * G * sizeof(float))};
    assert_true(r.codes && r.scale && r.zero);
    assert_int_equal(quant_imatrix_codes(r.codes, r.scale, r.zero, W, rows, cols, q, imp), 0);
    return r;
}

static void qres_free(qres *r) {
    free(r->codes);
    free(r->scale);
    free(r->zero);
}

// ---------------------------------------------------------------------------------------------
// hand-computed cases (tools/ref_imatrix.py selftest walks through the same numbers)

// Row [1, -2, 0.5, 4], b = 3 (nmax 4), one group, imp = 1. sigma2 = 21.25 / 4; max = 4 so the
// first candidate iscale = -1 gives levels [-1, 2, 0, -4]; is = -9..-1 give the same levels or
// round 4 to -3 (worse); is = +1 (iscale -1.025) rounds 0.5 to -1 and lowers the weighted error
// (sumlx^2 / suml2 88.60 > 88.58); is = 2..9 give its levels again and do not replace it. scale = sum wt x l / sum wt l^2 with those levels.
static void test_hand(void **state) {
    (void)state;
    const float W[4] = {1.0f, -2.0f, 0.5f, 4.0f};
    const int lev[4] = {-1, 2, -1, -4};
    double slx = 0, sl2 = 0;
    for (int i = 0; i < 4; i++) {
        double wt = sqrt(21.25 / 4 + (double)W[i] * W[i]);
        slx += wt * W[i] * lev[i];
        sl2 += wt * lev[i] * lev[i];
    }
    qres r = run_codes(W, 1, 4, &SYM3, NULL);
    const uint8_t want[4] = {3, 6, 3, 0};
    assert_memory_equal(r.codes, want, 4);
    assert_true(fabs(r.scale[0] - slx / sl2) <= 1e-6 * fabs(slx / sl2));
    assert_true(r.scale[0] < 0.0f);      // the largest |w| is positive: d = max / -nmax side
    assert_true(r.zero[0] == 4.0f);
    qres_free(&r);
}

// All-zero group: scale 0, codes at the zero point, w_hat +0.0. Zero importances everywhere in
// a group: suml2 == 0, scale 0, no NaN; the other group of the row is unaffected.
static void test_zero_cases(void **state) {
    (void)state;
    float W[2 * 8] = {0};
    fill(W + 8, 8, 7);
    float imp[8] = {0, 0, 0, 0, 1, 2, 3, 4};
    const quant_cfg q = {QUANT_RTN, 4, 4, QUANT_SCALE_F32};
    qres r = run_codes(W, 2, 8, &q, imp);
    for (int i = 0; i < 8; i++) assert_int_equal(r.codes[i], 8);
    assert_true(r.scale[0] == 0.0f && r.scale[1] == 0.0f);   // all-zero row: both groups
    assert_true(r.scale[2] == 0.0f);                         // row 1, importances 0
    assert_true(r.scale[3] != 0.0f && isfinite(r.scale[3]));
    for (int i = 8; i < 12; i++) assert_int_equal(r.codes[i], 8);
    float F[16];
    memcpy(F, W, sizeof F);
    assert_int_equal(quant_imatrix_fake(F, 2, 8, &q, imp), 0);
    for (int i = 0; i < 12; i++) assert_true(F[i] == 0.0f && !signbit(F[i]));
    qres_free(&r);
}

// Asymmetric (minmax kind): a group on the integer grid is kept exactly (error 0: no candidate
// is strictly better), [-1, 0, 1, 2] with zero 1; a constant negative group c is kept exactly
// as scale -c, zero 1, code 0; a constant zero group is scale 0, zero 0, w_hat +0.0.
static void test_asym_hand(void **state) {
    (void)state;
    const float W[4 * 4] = {0, 1, 2, 3, -1, 0, 1, 2, -3, -3, -3, -3, 0, 0, 0, 0};
    const quant_cfg q = {QUANT_MINMAX, 2, -1, QUANT_SCALE_F32};
    qres r = run_codes(W, 4, 4, &q, NULL);
    const uint8_t want[16] = {0, 1, 2, 3, 0, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0};
    const float scale[4] = {1, 1, 3, 0}, zero[4] = {0, 1, 1, 0};
    assert_memory_equal(r.codes, want, 16);
    assert_memory_equal(r.scale, scale, sizeof scale);
    assert_memory_equal(r.zero, zero, sizeof zero);
    float F[16];
    memcpy(F, W, sizeof F);
    assert_int_equal(quant_imatrix_fake(F, 4, 4, &q, NULL), 0);
    assert_memory_equal(F, W, sizeof F);          // every row exact (the zeros as +0.0)
    qres_free(&r);
}

// ---------------------------------------------------------------------------------------------
// properties on random matrices

// imp = NULL is imp = ones, codes and scales bit for bit.
static void test_null_is_ones(void **state) {
    (void)state;
    enum { R = 5, C = 70 };
    float W[R * C], ones[C];
    fill(W, R * C, 11);
    for (int i = 0; i < C; i++) ones[i] = 1.0f;
    for (int k = 0; k < 2; k++) {
        const quant_cfg q = {k ? QUANT_MINMAX : QUANT_RTN, 4, 32, QUANT_SCALE_F32};   // 32 + 32 + a group of 6
        qres a = run_codes(W, R, C, &q, NULL), b = run_codes(W, R, C, &q, ones);
        assert_memory_equal(a.codes, b.codes, R * C);
        assert_memory_equal(a.scale, b.scale, R * 3 * sizeof(float));
        assert_memory_equal(a.zero, b.zero, R * 3 * sizeof(float));
        qres_free(&a);
        qres_free(&b);
    }
}

// quant_imatrix_fake == quant_dequant(quant_imatrix_codes) bit for bit, both kinds, bits 2..8,
// ragged and whole-row groups, non-uniform importances (some 0); codes stay below 2^b.
static void test_fake_is_dequant(void **state) {
    (void)state;
    enum { R = 9, C = 100 };
    float W[R * C], F[R * C], D[R * C], imp[C];
    fill(W, R * C, 3);
    fill(imp, C, 5);
    for (int i = 0; i < C; i++) imp[i] = i % 13 == 0 ? 0.0f : imp[i] * imp[i];
    const int groups[3] = {32, 7, -1};
    for (int bits = 2; bits <= 8; bits++)
        for (int k = 0; k < 6; k++) {
            const quant_cfg q = {k < 3 ? QUANT_RTN : QUANT_MINMAX, bits, groups[k % 3], QUANT_SCALE_F32};
            qres r = run_codes(W, R, C, &q, imp);
            for (size_t i = 0; i < R * C; i++) assert_true(r.codes[i] < (1u << bits));
            quant_dequant(D, r.codes, r.scale, r.zero, R, C, &q);
            memcpy(F, W, sizeof F);
            assert_int_equal(quant_imatrix_fake(F, R, C, &q, imp), 0);
            if (memcmp(F, D, sizeof F))
                fail_msg("fake != dequant: %s b%d g%d", quant_kind_name(q.kind), bits, q.group);
            qres_free(&r);
        }
}

static void test_refused(void **state) {
    (void)state;
    float W[4] = {1, 2, 3, 4}, s[1], z[1];
    uint8_t c[4];
    const quant_cfg bad[3] = {{QUANT_GPTQ_RTN, 4, 32, QUANT_SCALE_F32}, {QUANT_RTN, 9, 32, QUANT_SCALE_F32}, {QUANT_MINMAX, 4, 0, QUANT_SCALE_F32}};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(quant_imatrix_codes(c, s, z, W, 1, 4, &bad[i], NULL), -1);
        assert_int_equal(quant_imatrix_fake(W, 1, 4, &bad[i], NULL), -1);
    }
    assert_int_equal(quant_imatrix_fake(W, 1, 4, NULL, NULL), -1);
    assert_true(W[0] == 1 && W[3] == 4);
}

// ---------------------------------------------------------------------------------------------
// numpy reference fixtures

typedef struct {
    const char *fixture, *model;
} fixture_desc;

static const fixture_desc FIXTURES[] = {
    {"tests/fixtures/imatrix/llama-gqa.safetensors", "tests/fixtures/llama-gqa"},
    {"tests/fixtures/imatrix/opt.safetensors", "tests/fixtures/opt"},
    {"tests/fixtures/imatrix/llama2c.safetensors", "tests/fixtures/llama2c/model.bin"},
};
static const quant_cfg CONFIGS[] = {{QUANT_RTN, 3, 32, QUANT_SCALE_F32}, {QUANT_RTN, 4, 32, QUANT_SCALE_F32}, {QUANT_RTN, 4, -1, QUANT_SCALE_F32},
                                     {QUANT_MINMAX, 4, 32, QUANT_SCALE_F32}, {QUANT_MINMAX, 3, -1, QUANT_SCALE_F32}};

// The fixture tensor "<prefix>.<kind>.b<bits>g<group>.<what>" (fails when absent).
static const st_tensor *entry_tensor(const st_set *s, const char *prefix, const quant_cfg *q,
                                     const char *what) {
    char name[192];
    snprintf(name, sizeof name, "%s.%s.b%dg%d.%s", prefix, quant_kind_name(q->kind), q->bits,
             q->group, what);
    const st_tensor *t = st_find(s, name);
    if (!t) fail_msg("%s missing", name);
    return t;
}

// First differing code of got vs want (n), printed; 0 when identical.
static int same_codes(const char *prefix, const uint8_t *got, const uint8_t *want, size_t n,
                      size_t C) {
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i]) {
            fprintf(stderr, "%s: code [%zu, %zu] = %u, reference %u\n", prefix, i / C, i % C,
                    got[i], want[i]);
            return -1;
        }
    return 0;
}

// One (linear, config) entry: 0 when codes and zero points are identical and the scales
// within a relative 1e-6. rtn's zero point is 2^(bits-1); minmax's is stored.
static int check_entry(const st_set *s, const char *prefix, const float *W, size_t R, size_t C,
                       const float *imp, const quant_cfg *q) {
    const st_tensor *tc = entry_tensor(s, prefix, q, "codes");
    const st_tensor *ts = entry_tensor(s, prefix, q, "scale");
    const size_t G = quant_groups(C, q->group);
    assert_true(tc->dtype == ST_U8 && tc->numel == quant_packed_size(R * C, q->bits));
    assert_true(ts->dtype == ST_F32 && ts->numel == R * G);
    uint8_t *want = malloc(R * C), *zwant = malloc(R * G);
    assert_true(want && zwant);
    quant_unpack(want, tc->data, R * C, q->bits);
    if (q->kind == QUANT_MINMAX) {
        const st_tensor *tz = entry_tensor(s, prefix, q, "zero");
        assert_true(tz->dtype == ST_U8 && tz->numel == R * G);
        memcpy(zwant, tz->data, R * G);
    } else {
        memset(zwant, 1 << (q->bits - 1), R * G);
    }
    qres r = run_codes(W, R, C, q, imp);
    int bad = check_tensor(prefix, r.scale, ts->data, R * G, 0.0, 1e-6);
    bad |= same_codes(prefix, r.codes, want, R * C, C);
    for (size_t j = 0; j < R * G; j++)
        if (r.zero[j] != (float)zwant[j]) {
            fprintf(stderr, "%s: zero [%zu] = %g, reference %u\n", prefix, j, r.zero[j], zwant[j]);
            bad = -1;
            break;
        }
    qres_free(&r);
    free(want);
    free(zwant);
    return bad;
}

// Every quantized entry of one fixture file; returns how many (linear, config) were checked.
static size_t check_fixture(const fixture_desc *f, size_t *failed) {
    ah_err e = {{0}};
    st_set *s = st_open(f->fixture, &e);
    if (!s) fail_msg("%s (regenerate with tools/make-imatrix-fixtures)", e.msg);
    model *m = model_load(f->model, &e);
    if (!m) fail_msg("%s", e.msg);
    size_t checked = 0, stored = 0;
    for (size_t i = 0; i < st_count(s); i++) stored += strstr(st_at(s, i)->name, ".codes") != NULL;
    for (int layer = 0; layer < m->cfg.n_layers; layer++)
        for (int role = 0; role < L_COUNT; role++) {
            char prefix[96], name[112];
            snprintf(prefix, sizeof prefix, "%d.%s", layer, arch_layer_role_name(role));
            snprintf(name, sizeof name, "%s.imp", prefix);
            const st_tensor *ti = st_find(s, name);
            if (!ti || !arch_role_is_linear(role)) continue;
            const model_weight *w = model_lw(m, layer, role);
            assert_non_null(w->data);
            const size_t R = (size_t)w->shape[0], C = (size_t)w->shape[1];
            assert_true(ti->dtype == ST_F32 && ti->numel == C);
            float *W = malloc(R * C * sizeof(float));
            assert_non_null(W);
            assert_int_equal(model_weight_f32(W, w, &e), 0);
            for (size_t k = 0; k < sizeof CONFIGS / sizeof CONFIGS[0]; k++) {
                *failed += check_entry(s, prefix, W, R, C, ti->data, &CONFIGS[k]) != 0;
                checked++;
            }
            free(W);
        }
    if (test_verbose())
        fprintf(stderr, "  %s: %zu of %zu entries checked\n", f->fixture, checked, stored);
    assert_int_equal(checked, stored);      // nothing in the file went unchecked
    model_free(m);
    st_close(s);
    return checked;
}

static void test_reference(void **state) {
    (void)state;
    size_t checked = 0, failed = 0;
    for (size_t i = 0; i < sizeof FIXTURES / sizeof FIXTURES[0]; i++)
        checked += check_fixture(&FIXTURES[i], &failed);
    if (test_verbose())
        fprintf(stderr, "  reference: %zu (linear, config) entries = %zu linears, %zu differ\n",
                checked, checked / 5, failed);
    if (failed) fail_msg("%zu of %zu entries differ from tools/ref_imatrix.py", failed, checked);
    // 2 layers x (7 llama-gqa + 6 opt + 7 llama2c linears) x 5 configs
    assert_int_equal(checked, 2 * (7 + 6 + 7) * 5);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand),
        cmocka_unit_test(test_zero_cases),
        cmocka_unit_test(test_asym_hand),
        cmocka_unit_test(test_null_is_ones),
        cmocka_unit_test(test_fake_is_dequant),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
