// test_export.c — quantized export: the packed integer form in quantized.safetensors,
// dequantized, equals the fake-quantized weights written to model.safetensors bit for bit
// (F32, F16 and BF16 sources; with and without full-precision salient columns; bit widths
// that pack 1, 2 and 4 codes per byte).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "io/safetensors.h"
#include "export/export.h"
#include "method/pass.h"
#include "testutil.h"

static void check_export(const char *fixture, method_kind kind, int bits, int group, double pct) {
    char src[256], dir[] = "/tmp/ah-export-XXXXXX";
    snprintf(src, sizeof src, "tests/fixtures/%s", fixture);
    assert_non_null(mkdtemp(dir));
    ah_err e = {{0}};
    model *m = model_load(src, &e);
    if (!m) fail_msg("%s", e.msg);
    method_cfg mc = {.kind = kind, .q = {.bits = bits, .group = group}, .salient_pct = pct,
                     .by = SALIENT_RANDOM, .seed = 7};
    assert_int_equal(method_cfg_check(&mc, &e), 0);
    qpass *p = qpass_new(m, &mc, NULL, &e);
    qexport *x = qexport_new(m, &mc, &e);
    block_f32 *b = block_f32_new(m, &e);
    assert_non_null(p);
    assert_non_null(x);
    assert_non_null(b);
    p->sink = qexport_sink;
    p->block_sink = qexport_block;
    p->sink_ctx = x;
    for (int l = 0; l < m->cfg.n_layers; l++) {
        assert_int_equal(block_f32_load(b, m, l, &e), 0);
        if (qpass_block(p, l, b, &e)) fail_msg("%s", e.msg);
    }
    if (qexport_write(x, dir, NULL, "{}", NULL, &e)) fail_msg("%s", e.msg);

    char path[512];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    st_set *fake = st_open(path, &e);
    snprintf(path, sizeof path, "%s/quantized.safetensors", dir);
    st_set *packed = st_open(path, &e);
    if (!fake || !packed) fail_msg("%s", e.msg);
    int checked = 0;
    for (int l = 0; l < m->cfg.n_layers; l++)
        for (int r = 0; r < L_COUNT; r++) {
            const model_weight *w = model_lw(m, l, r);
            if (!arch_role_is_linear(r) || !w->data) continue;
            int rows = (int)w->shape[0], cols = (int)w->shape[1];
            const st_tensor *t = st_find(fake, w->name);
            assert_non_null(t);
            float *want = calloc(t->numel, sizeof(float)), *got = calloc(t->numel, sizeof(float));
            assert_int_equal(st_to_f32(want, t, &e), 0);
            if (qexport_dequant(got, packed, w->name, rows, cols, bits, group, w->dtype, &e))
                fail_msg("%s", e.msg);
            if (memcmp(want, got, t->numel * sizeof(float)) != 0) {
                for (size_t i = 0; i < t->numel; i++)
                    if (memcmp(&want[i], &got[i], sizeof(float)) != 0) {
                        fail_msg("%s %s: element %zu: model.safetensors %.9g, dequantized %.9g",
                                 fixture, w->name, i, want[i], got[i]);
                    }
            }
            free(want);
            free(got);
            checked++;
        }
    assert_int_equal(checked, 7 * m->cfg.n_layers - (m->cfg.arch->mlp == MLP_SWIGLU ? 0 : m->cfg.n_layers));
    st_close(fake);
    st_close(packed);
    block_f32_free(b);
    qexport_free(x);
    qpass_free(p);
    model_free(m);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_f32_minmax_b3(void **st) { (void)st; check_export("llama-gqa", METHOD_MINMAX, 3, 32, 0); }
static void test_f16_rtn_b4(void **st) { (void)st; check_export("llama-mha-f16", METHOD_RTN, 4, -1, 0); }
static void test_bf16_salient_b2(void **st) { (void)st; check_export("qwen2", METHOD_SALIENT, 2, 24, 5); }
static void test_opt_gptq_rtn_b8(void **st) { (void)st; check_export("opt", METHOD_GPTQ_RTN, 8, 64, 0); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f32_minmax_b3),
        cmocka_unit_test(test_f16_rtn_b4),
        cmocka_unit_test(test_bf16_salient_b2),
        cmocka_unit_test(test_opt_gptq_rtn_b8),
    };
    return cmocka_run_group_tests_name("export", tests, NULL, NULL);
}
