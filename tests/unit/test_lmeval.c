// test_lmeval.c — lm-eval's scoring rules without lm-eval: the Python string operations of its
// task code (pytext.h), its rolling windows and context/continuation split (lmeval.h), and the
// log-likelihood engine (loglik.h) against the perplexity pass on the bundled model.
// Quiet on success. tests/cli/test_interop_lmeval.sh checks everything against lm-eval itself.
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/lmeval.h"
#include "eval/loglik.h"
#include "eval/ppl.h"
#include "eval/tasks.h"
#include "model/model.h"
#include "text/pytext.h"
#include "text/tokenizer.h"

#define MODEL "models/tinyprose"

static void expect_str(char *got, const char *want) {
    assert_non_null(got);
    if (strcmp(got, want)) fprintf(stderr, "got  [%s]\nwant [%s]\n", got, want);
    assert_string_equal(got, want);
    free(got);
}

// Expected strings are the outputs of lm-eval 0.4.13's own functions (wikitext_detokenizer,
// hellaswag utils.preprocess) and of CPython's str methods on the same inputs, printed with the
// peers venv's python (docs/TASKS.md, "Checking the rules").
static void test_pytext(void **st) {
    (void)st;
    ah_err e = {{0}};
    expect_str(pyt_wikitext_detok(
                   " = Valkyria Chronicles III = \n \n Senj\xc5\x8d no Valkyria 3 : Unrecorded "
                   "Chronicles ( Japanese : x , lit . Valkyria of the Battlefield 3 ) , commonly "
                   "referred to as Valkyria Chronicles III outside Japan , is a tactical role @-@ "
                   "playing video game . \n", &e),
               " = Valkyria Chronicles III =\n\nSenj\xc5\x8d no Valkyria 3: Unrecorded Chronicles "
               "(Japanese: x, lit. Valkyria of the Battlefield 3), commonly referred to as "
               "Valkyria Chronicles III outside Japan, is a tactical role-playing video game.\n");
    expect_str(pyt_wikitext_detok(" = = Gameplay = = \n He said \" hello there \" and ' yes ' ; 1 "
                                  "@,@ 000 @.@ 5 km at 5 \xc2\xb0 C ! N of [ the ] { x } s ' /' "
                                  "5/ The king 's men \n", &e),
               " == Gameplay ==\nHe said \"hello there\" and 'yes'; 1,000.5 km at 5\xc2\xb0" "C! 1 "
               "of [the] {x} s'/'[0-9]/ The king's men\n");
    expect_str(pyt_hellaswag_prep("  Removing ice from car: Then, the man smiles. [title] Then "
                                  "[step] x  [header] y ", &e),
               "Removing ice from car: Then, the man smiles.. Then x  y");
    expect_str(pyt_hellaswag_prep("Home and Garden: [title] How to grow  tomatoes [step] Water.", &e),
               "Home and Garden:. How to grow tomatoes Water.");
    // "éCOLE ïNDIA straße".capitalize()
    expect_str(pyt_capitalize("\xc3\xa9" "COLE \xc3\xafNDIA stra\xc3\x9f" "e", &e),
               "\xc3\x89" "cole \xc3\xafndia stra\xc3\x9f" "e");
    expect_str(pyt_strip(" \t\xc2\xa0 a b \n\xe3\x80\x80", &e), "a b");
    expect_str(pyt_replace("x   y", "  ", " ", &e), "x  y");
    // len(re.split(r"\s+", s)): leading/trailing whitespace makes empty pieces
    assert_int_equal(pyt_split_ws_count(" a  b\n"), 4);
    assert_int_equal(pyt_split_ws_count("a"), 1);
    assert_int_equal(pyt_split_ws_count("a\xc2\xa0" "b\x1c" "c"), 3);
    assert_int_equal(pyt_len("\xc3\xa9t\xc3\xa9"), 3);   // acc_norm divides by characters
}

// utils.get_rolling_token_windows(range(10, 20), prefix 99, max_seq_len 4, context_len 1)
// + make_disjoint_window, then (context + continuation)[-(L+1):]: printed by Python.
static void test_rolling_windows(void **st) {
    (void)st;
    ah_err e = {{0}};
    int32_t t[10];
    for (int i = 0; i < 10; i++) t[i] = 10 + i;
    lme_ctx c = {.tok = NULL, .max_length = 4, .prefix_id = 99};
    lme_set s = {0};
    size_t nw = 0;
    assert_int_equal(lme_add_rolling_tokens(&s, &c, t, 10, 7, &nw, &e), 0);
    assert_int_equal(nw, 3);
    const int32_t want[3][5] = {{99, 10, 11, 12, 13}, {13, 14, 15, 16, 17}, {15, 16, 17, 18, 19}};
    const int want_k[3] = {4, 4, 2};
    const ll_request *r = lme_set_requests(&s, &e);
    assert_non_null(r);
    for (int w = 0; w < 3; w++) {
        assert_int_equal(r[w].n, 4);
        assert_int_equal(r[w].k, want_k[w]);
        assert_memory_equal(r[w].seq, want[w], sizeof want[w]);
        assert_int_equal(s.owner[w], 7);
    }
    // A document shorter than L: one window, every token scored, the prefix first.
    lme_set_free(&s);
    assert_int_equal(lme_add_rolling_tokens(&s, &c, t, 3, 0, &nw, &e), 0);
    assert_int_equal(nw, 1);
    r = lme_set_requests(&s, &e);
    assert_int_equal(r[0].n, 3);
    assert_int_equal(r[0].k, 3);
    lme_set_free(&s);
}

// _encode_pair: whole = enc(ctx + cont), context = enc(ctx) (trailing spaces moved to the
// continuation), continuation = whole[len(context):], BOS first as the tokenizer adds it.
static void test_pair_split(void **st) {
    (void)st;
    ah_err e = {{0}};
    tok_tokenizer *tok = tok_load(MODEL, &e);
    if (!tok) fail_msg("%s", e.msg);
    lme_ctx c;
    assert_int_equal(lme_ctx_init(&c, tok, 512, &e), 0);
    lme_set s = {0};
    const char *ctx = "Question: where is it?\nAnswer: ", *cont = "over there";
    assert_int_equal(lme_add_pair(&s, &c, ctx, strlen(ctx), cont, strlen(cont), 0, &e), 0);
    int32_t *whole, *ce;
    size_t nw, nc;
    char joined[128];
    snprintf(joined, sizeof joined, "%s%s", ctx, cont);
    assert_int_equal(tok_encode(tok, joined, strlen(joined), 1, &whole, &nw, &e), 0);
    assert_int_equal(tok_encode(tok, ctx, strlen(ctx) - 1, 1, &ce, &nc, &e), 0);   // no ' '
    const ll_request *r = lme_set_requests(&s, &e);
    assert_int_equal(r[0].n, (int)nw - 1);
    assert_int_equal(r[0].k, (int)(nw - nc));
    assert_memory_equal(r[0].seq, whole, nw * sizeof *whole);
    assert_int_equal(r[0].seq[0], tok_bos_id(tok));
    // Empty context: the prefix token, the continuation encoded bare.
    assert_int_equal(lme_add_pair(&s, &c, "", 0, " over", 5, 1, &e), 0);
    r = lme_set_requests(&s, &e);
    assert_int_equal(r[1].seq[0], c.prefix_id);
    assert_int_equal(r[1].n, r[1].k);
    free(whole);
    free(ce);
    lme_set_free(&s);
    tok_free(tok);
}

// ll_score of a whole window = -(T-1) x its mean NLL from the perplexity pass; requests of
// different lengths scored together give what each gives alone (no padding leaks), and a
// prefix request's log-likelihood is the partial sum of the longer one's.
static void test_engine(void **st) {
    (void)st;
    ah_err e = {{0}};
    model *m = model_load(MODEL, &e);
    if (!m) fail_msg("%s", e.msg);
    enum { T = 64 };
    int32_t ids[2 * T];
    for (int i = 0; i < 2 * T; i++) ids[i] = (int32_t)((i * 37 + 11) % m->cfg.vocab_size);
    ppl_result pr;
    ppl_opts po = {.protocol = PPL_GPTQ, .seqlen = T, .bos_id = -1, .quiet = 1};
    assert_int_equal(ppl_evaluate(&pr, m, ids, 2 * T, &po, &e), 0);
    ll_request req[4] = {
        {ids, T - 1, T - 1},         // window 0: reads 0..T-2, predicts 1..T-1
        {ids + T, T - 1, T - 1},     // window 1
        {ids, 20, 5},                // a prefix of window 0: its positions 15..19
        {ids, T - 1, 1},             // the last position of window 0
    };
    ll_result res[4], one;
    ll_opts lo = {.quiet = 1};
    assert_int_equal(ll_score(res, m, req, 4, &lo, &e), 0);
    for (int w = 0; w < 2; w++) {
        double want = -(T - 1) * pr.nll_per_window[w];
        if (fabs(res[w].logprob - want) > 1e-4 * fabs(want))
            fail_msg("window %d: ll %.9g, perplexity pass %.9g", w, res[w].logprob, want);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(ll_score(&one, m, &req[i], 1, &lo, &e), 0);
        if (fabs(one.logprob - res[i].logprob) > 1e-4)
            fail_msg("request %d: %.9g alone, %.9g in a batch", i, one.logprob, res[i].logprob);
        assert_int_equal(one.greedy, res[i].greedy);
    }
    // The prefix's 5 positions and the last position are parts of window 0's sum.
    ll_request full = {ids, 20, 20}, head = {ids, 15, 15};
    ll_result a, b;
    assert_int_equal(ll_score(&a, m, &full, 1, &lo, &e), 0);
    assert_int_equal(ll_score(&b, m, &head, 1, &lo, &e), 0);
    assert_true(fabs((a.logprob - b.logprob) - res[2].logprob) < 1e-4);
    // Bad requests are errors naming the request.
    ll_request bad = {ids, T, T + 1};
    assert_int_equal(ll_score(&one, m, &bad, 1, &lo, &e), -1);
    assert_non_null(strstr(e.msg, "request 0"));
    ppl_result_free(&pr);
    model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pytext),
        cmocka_unit_test(test_rolling_windows),
        cmocka_unit_test(test_pair_split),
        cmocka_unit_test(test_engine),
    };
    return cmocka_run_group_tests_name("lmeval", tests, NULL, NULL);
}
