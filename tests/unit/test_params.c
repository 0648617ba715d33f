// test_params.c — the parameter table (method/params.c) is complete and consistent: every row
// is a /summary column of its type, its default parses and is in its range, names, options
// and key positions are unique, values round-trip through text, and "search" / "per row" are
// one value each. (Run ids and keys are pinned end to end by cli/test_pinned_plans.)
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "method/params.h"
#include "store/store.h"
#include "testutil.h"

static void test_rows_are_summary_columns(void **state) {
    (void)state;
    for (int p = 0; p < PARAM_COUNT; p++) {
        const param_def *d = param_of((param_id)p);
        int c = store_column_index(d->name);
        if (c < 0) fail_msg("parameter %s has no /summary column", d->name);
        store_col_type want = d->type == PT_WORD ? STORE_COL_STR
                            : d->type == PT_INT ? STORE_COL_INT : STORE_COL_REAL;
        if (store_summary_columns[c].type != want)
            fail_msg("parameter %s: /summary column of another type", d->name);
        assert_non_null(d->label);
    }
}

static void test_defaults_and_uniqueness(void **state) {
    (void)state;
    char why[256];
    for (int p = 0; p < PARAM_COUNT; p++) {
        const param_def *d = param_of((param_id)p);
        param_value v;
        if (param_parse((param_id)p, d->def, &v, why, sizeof why) || param_check((param_id)p, &v, why, sizeof why))
            fail_msg("default of %s: %s", d->name, why);
        for (int q = 0; q < p; q++) {
            const param_def *o = param_of((param_id)q);
            assert_string_not_equal(d->name, o->name);
            if (d->cli && o->cli) assert_string_not_equal(d->cli, o->cli);
            if (d->key && o->key) assert_int_not_equal(d->key_pos, o->key_pos);
            if (d->id_pos && o->id_pos) assert_int_not_equal(d->id_pos, o->id_pos);
        }
        if (d->type != PT_WORD) assert_non_null(d->range_msg);
    }
    assert_ptr_equal(param_named("group_size"), param_of(PARAM_GROUP));
    assert_null(param_named("no_such"));
}

static void test_values(void **state) {
    (void)state;
    char why[256], t[64];
    param_value v;
    // "search" is a word of alpha, a number is fixed; neither stands for the other.
    assert_int_equal(param_parse(PARAM_ALPHA, "search", &v, why, sizeof why), 0);
    assert_int_equal(v.word, 0);
    assert_int_equal(param_parse(PARAM_ALPHA, "0.25", &v, why, sizeof why), 0);
    assert_true(v.word < 0 && v.num == 0.25);
    assert_int_equal(param_parse(PARAM_ALPHA, "1.5", &v, why, sizeof why), 0);
    assert_int_equal(param_check(PARAM_ALPHA, &v, why, sizeof why), -1);
    assert_string_equal(why, "1.5 is outside [0, 1]");
    // "row" is the group size -1, shown "per-row" to people and "row" in INI text.
    assert_int_equal(param_parse(PARAM_GROUP, "row", &v, why, sizeof why), 0);
    assert_true(v.word < 0 && v.num == QUANT_GROUP_ROW);
    assert_int_equal(param_check(PARAM_GROUP, &v, why, sizeof why), 0);
    assert_string_equal(param_label(PARAM_GROUP, v, t, sizeof t), "per-row");
    assert_string_equal(param_text(PARAM_GROUP, v, t, sizeof t), "row");
    assert_int_equal(param_parse(PARAM_GROUP, "0", &v, why, sizeof why), 0);
    assert_int_equal(param_check(PARAM_GROUP, &v, why, sizeof why), -1);
    assert_int_equal(param_parse(PARAM_CLIP, "maybe", &v, why, sizeof why), -1);
    assert_string_equal(why, "unknown value 'maybe' (expected off, on)");
    assert_int_equal(param_parse(PARAM_BITS, "3.5", &v, why, sizeof why), 0);
    assert_int_equal(param_check(PARAM_BITS, &v, why, sizeof why), -1);
    // set / get round trip on every row's default and one other value
    method_cfg mc;
    param_defaults(&mc);
    assert_int_equal(mc.awq.alpha_mode, AWQ_ALPHA_SEARCH);
    assert_int_equal(mc.q.group, 128);
    assert_true(mc.gptq.damp == GPTQ_DEFAULT_DAMP && mc.gptq.block_size == GPTQ_DEFAULT_BLOCK);
    for (int p = 0; p < PARAM_COUNT; p++) assert_true(param_is_default(&mc, (param_id)p));
    param_parse(PARAM_ALPHA, "0.5", &v, why, sizeof why);
    param_set(&mc, PARAM_ALPHA, v);
    assert_int_equal(mc.awq.alpha_mode, AWQ_ALPHA_FIXED);
    assert_false(param_is_default(&mc, PARAM_ALPHA));
    param_parse(PARAM_SALIENT_BY, "random", &v, why, sizeof why);
    param_set(&mc, PARAM_SALIENT_BY, v);
    assert_int_equal(mc.by, SALIENT_RANDOM);
    assert_string_equal(param_text(PARAM_SALIENT_BY, param_get(&mc, PARAM_SALIENT_BY), t, sizeof t), "random");
}

// Which rows apply: alpha not under the salient rule, grid only when searched, salient_by
// only with kept channels, nothing but the method for fp16.
static void test_applies(void **state) {
    (void)state;
    method_cfg mc;
    param_defaults(&mc);
    for (int p = 1; p < PARAM_COUNT; p++)
        if (param_applies(&mc, (param_id)p) && p != PARAM_SEED)
            fail_msg("fp16 has parameter %s", param_name((param_id)p));
    mc.kind = METHOD_AWQ;
    assert_true(param_applies(&mc, PARAM_ALPHA) && param_applies(&mc, PARAM_GRID));
    assert_false(param_applies(&mc, PARAM_SALIENT_SCALE) || param_applies(&mc, PARAM_DAMP));
    assert_false(param_applies(&mc, PARAM_SALIENT_BY));
    mc.salient_pct = 1;
    assert_true(param_applies(&mc, PARAM_SALIENT_BY));
    mc.awq.rule = AWQ_SALIENT;
    assert_false(param_applies(&mc, PARAM_ALPHA) || param_applies(&mc, PARAM_GRID));
    assert_true(param_applies(&mc, PARAM_SALIENT_SCALE));
    char id[64];
    param_run_id(&mc, id, sizeof id);
    assert_string_equal(id, "awq-w4-g128-s2-top1-keep1-act");
    mc.kind = METHOD_GPTQ;
    assert_true(param_applies(&mc, PARAM_DAMP));
    assert_false(param_applies(&mc, PARAM_SCALE_RULE) || param_applies(&mc, PARAM_ALPHA));
    assert_true(param_applies(&mc, PARAM_SALIENT_PCT));   // kept channels: a modifier of any method
    param_run_id(&mc, id, sizeof id);
    assert_string_equal(id, "gptq-w4-g128-keep1-act");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_are_summary_columns),
        cmocka_unit_test(test_defaults_and_uniqueness),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_applies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
