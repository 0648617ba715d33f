// test_fold.c — folding AWQ scales into a block leaves the model's function unchanged: for
// every family fixture, logits of window 0 after folding random positive scales (log-uniform
// in [1/4, 4]) into every scaling group of every block equal the original logits (relative
// 1e-5 with a small absolute floor), before any quantization.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <cmocka.h>

#include "awq/fold.h"
#include "model/forward.h"
#include "testutil.h"

#define SEQ 64

static float *logits(const model *m, const int32_t *tok, int fold, int *groups_folded) {
    ah_err e = {{0}};
    const model_config *c = &m->cfg;
    fwd_state *s = fwd_state_new(c, SEQ, 1, &e);
    block_f32 *b = block_f32_new(m, &e);
    float *x = calloc((size_t)SEQ * c->dim, sizeof(float));
    float *scale = calloc((size_t)(c->hidden_dim > c->dim ? c->hidden_dim : c->dim) * 2, sizeof(float));
    assert_non_null(s);
    assert_non_null(b);
    srand(12345);
    fwd_embed(x, m, tok, SEQ);
    for (int l = 0; l < c->n_layers; l++) {
        assert_int_equal(block_f32_load(b, m, l, &e), 0);
        for (int g = 0; fold && g < c->arch->n_groups; g++) {
            const arch_scale_group *grp = &c->arch->groups[g];
            if (!awq_group_applies(c, grp)) continue;
            int w = awq_group_width(c, grp);
            for (int j = 0; j < w; j++) scale[j] = powf(4.0f, 2.0f * rand() / (float)RAND_MAX - 1.0f);
            awq_fold_group(b, c, grp, scale);
            (*groups_folded)++;
        }
        fwd_block(x, s, b, c, SEQ, 1);
    }
    const model_weight *hw = m->global[G_LM_HEAD].data ? &m->global[G_LM_HEAD] : &m->global[G_EMBED];
    float *head = calloc(model_weight_numel(hw), sizeof(float)), *nw = calloc(c->dim, sizeof(float));
    float *nb = calloc(c->dim, sizeof(float));
    assert_int_equal(model_weight_f32(head, hw, &e), 0);
    assert_int_equal(model_weight_f32(nw, &m->global[G_FINAL_NORM], &e), 0);
    int has_b = m->global[G_FINAL_NORM_B].data != NULL;
    if (has_b) assert_int_equal(model_weight_f32(nb, &m->global[G_FINAL_NORM_B], &e), 0);
    float *out = calloc((size_t)SEQ * c->vocab_size, sizeof(float));
    fwd_logits(out, x, s, c, head, nw, has_b ? nb : NULL, SEQ, SEQ);
    free(head); free(nw); free(nb); free(x); free(scale);
    block_f32_free(b);
    fwd_state_free(s);
    return out;
}

static void check(const char *path, int want_groups_per_layer) {
    ah_err e = {{0}};
    model *m = model_load(path, &e);
    if (!m) fail_msg("%s", e.msg);
    int32_t tok[SEQ];
    for (int i = 0; i < SEQ; i++) tok[i] = (i * 37 + 11) % m->cfg.vocab_size;
    int folded = 0;
    float *ref = logits(m, tok, 0, &folded);
    float *got = logits(m, tok, 1, &folded);
    assert_int_equal(folded, want_groups_per_layer * m->cfg.n_layers);
    int rc = check_tensor(path, got, ref, (size_t)SEQ * m->cfg.vocab_size, 1e-5, 1e-5);
    free(ref);
    free(got);
    model_free(m);
    assert_int_equal(rc, 0);
}

// GQA fixtures (llama-gqa, qwen2, llama2c) skip the v -> o group (3 groups per layer); MHA
// ones (llama-mha-f16, opt) fold all 4.
static void test_llama_gqa(void **st) { (void)st; check("tests/fixtures/llama-gqa", 3); }
static void test_llama_mha(void **st) { (void)st; check("tests/fixtures/llama-mha-f16", 4); }
static void test_qwen2(void **st) { (void)st; check("tests/fixtures/qwen2", 3); }
static void test_opt(void **st) { (void)st; check("tests/fixtures/opt", 4); }
static void test_llama2c(void **st) { (void)st; check("tests/fixtures/llama2c/model.bin", 3); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama_gqa), cmocka_unit_test(test_llama_mha),
        cmocka_unit_test(test_qwen2),     cmocka_unit_test(test_opt),
        cmocka_unit_test(test_llama2c),
    };
    return cmocka_run_group_tests_name("fold", tests, NULL, NULL);
}
