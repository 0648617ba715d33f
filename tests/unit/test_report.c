// test_report.c — report/: tables built from hand-made /summary rows (labels of every method
// and rule, FP16 filling every column, column order, best marked on printed values, two runs
// in one cell refused), the paired rule that marks a best only with 95% confidence, --ci
// cells, published-number files (CSV with quotes, TSV, labels, errors naming
// the line) matched to cells, and the md / tex / csv text. Quiet on success; AH_VERBOSE=1
// prints the tables and the error messages.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report/report.h"
#include "testutil.h"

// ---- a summary made by hand ---------------------------------------------------------------

// One run: "key=value ..." for any /summary column; numbers for numeric columns.
typedef struct {
    const char *id;
    const char *kv;
} run_spec;

static void make_summary(store_summary *s, const run_spec *runs, int n) {
    memset(s, 0, sizeof *s);
    snprintf(s->experiment, sizeof s->experiment, "unit");
    int nc = store_summary_ncolumns;
    s->n = n;
    s->rows = calloc((size_t)n, sizeof *s->rows);
    char (*str)[STORE_STR_CAP] = calloc((size_t)n * nc, STORE_STR_CAP);
    double *num = malloc((size_t)n * nc * sizeof *num);
    assert_non_null(s->rows);
    assert_non_null(str);
    assert_non_null(num);
    for (int i = 0; i < n * nc; i++) num[i] = NAN;
    for (int r = 0; r < n; r++) {
        store_row *row = &s->rows[r];
        snprintf(row->id, sizeof row->id, "%s", runs[r].id);
        row->str = str + (size_t)r * nc;
        row->num = num + (size_t)r * nc;
        char buf[512];
        snprintf(buf, sizeof buf, "%s", runs[r].kv);
        char *save = NULL;
        for (char *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
            char *eq = strchr(t, '=');
            assert_non_null(eq);
            *eq = '\0';
            int c = store_column_index(t);
            if (c < 0) fail_msg("no column %s", t);
            if (store_summary_columns[c].type == STORE_COL_STR) snprintf(row->str[c], STORE_STR_CAP, "%s", eq + 1);
            else row->num[c] = strtod(eq + 1, NULL);
        }
    }
}

static void free_summary(store_summary *s) {
    if (s->n > 0) {
        free(s->rows[0].str);
        free(s->rows[0].num);
    }
    free(s->rows);
    memset(s, 0, sizeof *s);
}

static const char *render(const report_table *t, report_format f, int digits) {
    static ah_buf b;
    free(b.p);
    memset(&b, 0, sizeof b);
    ah_err e = {{0}};
    assert_int_equal(report_render(&b, t, f, digits, &e), 0);
    if (test_verbose()) fprintf(stderr, "%s\n", b.p);
    return b.p;
}

static int row_of(const report_table *t, const char *label) {
    for (int i = 0; i < t->n_rows; i++)
        if (!strcmp(t->row_label[i], label)) return i;
    fprintf(stderr, "no row '%s'; rows:", label);
    for (int i = 0; i < t->n_rows; i++) fprintf(stderr, " '%s'", t->row_label[i]);
    fprintf(stderr, "\n");
    return -1;
}

static int col_of(const report_table *t, const char *label) {
    for (int j = 0; j < t->n_cols; j++)
        if (!strcmp(t->col_label[j], label)) return j;
    fprintf(stderr, "no column '%s'\n", label);
    return -1;
}

static const report_cell *cell(const report_table *t, const char *row, const char *col) {
    int i = row_of(t, row), j = col_of(t, col);
    assert_true(i >= 0 && j >= 0);
    return &t->cell[(size_t)i * t->n_cols + j];
}

#define AWQ "method=awq bits=3 group_size=128 clip=on propagate=fp salient_pct=0 "
static const run_spec PAPER[] = {
    {"fp16", "method=fp16 ppl=14.62"},
    {"rtn-w3-g128", "method=rtn bits=3 group_size=128 ppl=150"},
    {"minmax-w3-g128", "method=minmax bits=3 group_size=128 salient_pct=0 ppl=119"},
    {"minmax-w4-g128", "method=minmax bits=4 group_size=128 salient_pct=0 ppl=16"},
    {"minmax-w3-g128-keep1-act", "method=salient bits=3 group_size=128 salient_pct=1 salient_by=activation ppl=16.91"},
    {"minmax-w3-g128-keep1-wei", "method=salient bits=3 group_size=128 salient_pct=1 salient_by=weight ppl=98.55"},
    {"awq-w3-g128-search", AWQ "scale_rule=search ppl=16.32"},
    {"awq-w3-g128-duo-search", AWQ "scale_rule=duo ppl=16.4"},
    {"awq-w3-g128-fixed-a0.5", AWQ "scale_rule=fixed alpha=0.5 ppl=17"},
    {"awq-w3-g128-s2-top1", AWQ "scale_rule=salient salient_scale=2 scale_pct=1 ppl=18.63"},
    {"awq-w3-g128-search-keep1-act", "method=awq bits=3 group_size=128 clip=on propagate=fp scale_rule=search salient_pct=1 salient_by=activation ppl=16.2"},
    {"gptq-rtn-w3-row", "method=gptq-rtn bits=3 group_size=-1 ppl=1300"},
};
#define N_PAPER ((int)(sizeof PAPER / sizeof PAPER[0]))

static void test_labels_and_layout(void **state) {
    (void)state;
    store_summary s;
    make_summary(&s, PAPER, N_PAPER);
    report_table t;
    ah_err e = {{0}};
    report_opts o = {0};
    assert_int_equal(report_build(&t, &s, &o, &e), 0);
    // Columns sorted by bits, then group size with per-row (-1) after the groups.
    assert_int_equal(t.n_cols, 3);
    assert_string_equal(t.col_label[0], "INT3 g128");
    assert_string_equal(t.col_label[1], "W3 per-row");
    assert_string_equal(t.col_label[2], "INT4 g128");
    // Rows in paper order, with paper labels.
    const char *want[] = {"FP16", "RTN", "RTN (GPTQ)", "MinMax", "1% FP16 (act.)", "1% FP16 (weight)",
                          "s=2", "AWQ (fixed) alpha=0.5", "AWQ", "AWQ + 1% FP16 (act.)", "AWQ (duo)"};
    assert_int_equal(t.n_rows, (int)(sizeof want / sizeof want[0]));
    for (int i = 0; i < t.n_rows; i++) {
        if (strcmp(t.row_label[i], want[i])) fail_msg("row %d: '%s', want '%s'", i, t.row_label[i], want[i]);
    }
    assert_true(t.row_ref[0]);
    assert_false(t.row_ref[1]);
    // FP16 fills every column; others only their own.
    for (int j = 0; j < t.n_cols; j++) assert_true(t.cell[j].value == 14.62);
    assert_true(cell(&t, "MinMax", "INT4 g128")->value == 16);
    assert_int_equal(cell(&t, "AWQ", "INT4 g128")->run, -1);
    assert_true(cell(&t, "RTN (GPTQ)", "W3 per-row")->value == 1300);
    // Best: the lowest non-FP16 value.
    assert_true(cell(&t, "AWQ + 1% FP16 (act.)", "INT3 g128")->best);
    assert_false(cell(&t, "AWQ", "INT3 g128")->best);
    assert_false(cell(&t, "FP16", "INT3 g128")->best);
    assert_true(cell(&t, "MinMax", "INT4 g128")->best);
    assert_non_null(strstr(t.caption, "perplexity"));
    report_table_free(&t);
    free_summary(&s);
}

static void test_varying_parameter_in_label(void **state) {
    (void)state;
    const run_spec runs[] = {
        {"rtn-w3-g128", "method=rtn bits=3 group_size=128 ppl=9"},
        {"awq-w3-g128-search", AWQ "scale_rule=search ppl=7"},
        {"awq-w3-g128-search-noclip", "method=awq bits=3 group_size=128 clip=off propagate=fp salient_pct=0 scale_rule=search ppl=8"},
        {"awq-w3-g128-s2-top3", AWQ "scale_rule=salient salient_scale=2 scale_pct=3 ppl=8.5"},
    };
    store_summary s;
    make_summary(&s, runs, 4);
    report_table t;
    ah_err e = {{0}};
    report_opts o = {0};
    assert_int_equal(report_build(&t, &s, &o, &e), 0);
    // clip varies among the AWQ runs (RTN lacks it, which does not count); scale_pct 3 != 1.
    assert_int_equal(row_of(&t, "RTN"), 0);
    assert_true(row_of(&t, "AWQ clip=on") >= 0);
    assert_true(row_of(&t, "AWQ clip=off") >= 0);
    assert_true(row_of(&t, "s=2 top 3% clip=on") >= 0);
    report_table_free(&t);
    free_summary(&s);
}

static void test_pivot_and_clash(void **state) {
    (void)state;
    store_summary s;
    make_summary(&s, PAPER, 5);   // fp16, rtn w3, minmax w3/w4, 1% act
    report_table t;
    ah_err e = {{0}};
    report_opts o = {.rows = "bits", .cols = "method"};
    // minmax-w3 and the 1% FP16 run differ in method (minmax / salient), so this pivots
    // cleanly; FP16 gets a column of its own.
    assert_int_equal(report_build(&t, &s, &o, &e), 0);
    assert_string_equal(t.row_header, "bits");
    assert_string_equal(t.col_label[0], "FP16");
    assert_true(cell(&t, "INT3", "MinMax")->value == 119);
    assert_true(cell(&t, "FP16", "FP16")->value == 14.62);
    report_table_free(&t);
    free_summary(&s);
    // Two runs in one cell: an error naming both and what tells them apart.
    make_summary(&s, PAPER, 6);   // adds 1% by weight
    o = (report_opts){.rows = "method"};
    assert_int_equal(report_build(&t, &s, &o, &e), -1);
    if (test_verbose()) fprintf(stderr, "  error: %s\n", e.msg);
    assert_non_null(strstr(e.msg, "minmax-w3-g128-keep1-act"));
    assert_non_null(strstr(e.msg, "minmax-w3-g128-keep1-wei"));
    assert_non_null(strstr(e.msg, "differ in salient_by"));
    // Not a parameter; in both; unknown metric.
    o = (report_opts){.rows = "ppl"};
    assert_int_equal(report_build(&t, &s, &o, &e), -1);
    o = (report_opts){.rows = "bits", .cols = "bits"};
    assert_int_equal(report_build(&t, &s, &o, &e), -1);
    o = (report_opts){.metric = "method"};
    assert_int_equal(report_build(&t, &s, &o, &e), -1);
    free_summary(&s);
}

// Writes text to a temporary file; returns its path.
static const char *tmpfile_with(const char *text) {
    static char path[64];
    snprintf(path, sizeof path, "/tmp/test_report_%d.csv", (int)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_published(void **state) {
    (void)state;
    store_summary s;
    make_summary(&s, PAPER, N_PAPER);
    report_table t;
    ah_err e = {{0}};
    report_opts o = {0};
    assert_int_equal(report_build(&t, &s, &o, &e), 0);
    report_published p;
    const char *path = tmpfile_with(
        "# comment\n\n"
        "Run,Value,Source,Note\n"
        "fp16,14.62,\"Lin et al., Table 1\",\n"
        "awq-w3-g128-search, 16.32 ,\"Lin et al., Table 3\",\"says \"\"AWQ\"\"\"\r\n"
        "gptq-w3-row,53.85,Frantar et al. Table 3,not run\n");
    assert_int_equal(report_published_load(&p, path, &e), 0);
    assert_int_equal(p.n, 3);
    assert_string_equal(p.e[1].source, "Lin et al., Table 3");
    assert_string_equal(p.e[1].note, "says \"AWQ\"");
    assert_true(p.e[1].value == 16.32);
    assert_int_equal(report_attach_published(&t, &s, &p, &e), 0);
    assert_int_equal(p.e[0].matched, 3);   // FP16: every column
    assert_int_equal(p.e[1].matched, 1);
    assert_int_equal(p.e[2].matched, 0);
    assert_true(cell(&t, "AWQ", "INT3 g128")->has_pub);
    assert_true(t.col_pub[0] && t.col_pub[1] && t.col_pub[2]);
    assert_int_equal(t.n_sources, 2);
    assert_non_null(strstr(t.notes.p, "published, not in these results: run gptq-w3-row = 53.85"));
    const char *md = render(&t, REPORT_MD, 2);
    assert_non_null(strstr(md, "|     paper |     Δ |"));
    assert_non_null(strstr(md, "| 16.32 [2] | +0.00 |"));
    const char *csv = render(&t, REPORT_CSV, 2);
    assert_non_null(strstr(csv, "method,INT3 g128,INT3 g128 (paper),INT3 g128 (diff),W3 per-row,"));
    assert_non_null(strstr(csv, "\nAWQ,16.32,16.32,+0.00,"));
    assert_non_null(strstr(csv, "\nAWQ + 1% FP16 (act.),16.20*,"));
    const char *tex = render(&t, REPORT_TEX, 2);
    assert_non_null(strstr(tex, "\\multicolumn{3}{c}{INT3 g128}"));
    assert_non_null(strstr(tex, "AWQ + 1\\% FP16 (act.) & \\textbf{16.20}"));
    report_published_free(&p);

    // By labels, TSV; a second, different number for one cell is refused.
    path = tmpfile_with("row\tcolumn\tvalue\tsource\nMinMax\tINT4 g128\t15.5\tX, Table 9\n"
                        " minmax \tint4 G128\t15.75\tY\n");
    assert_int_equal(report_published_load(&p, path, &e), 0);
    assert_int_equal(report_attach_published(&t, &s, &p, &e), -1);
    if (test_verbose()) fprintf(stderr, "  error: %s\n", e.msg);
    assert_non_null(strstr(e.msg, ":3: a second published number"));
    report_published_free(&p);

    // Errors name the file and line.
    static const struct {
        const char *text, *want;
    } bad[] = {
        {"run,value\nfp16,1\n", ":1: the header needs value, source"},
        {"run,value,source,colour\n", ":1: not a published-numbers file: header field 4 is not one of"},
        {"run,value,source\nfp16,abc,x\n", ":2: the value field is not a finite number"},
        {"run,value,source\nfp16,1,\n", ":2: no source"},
        {"run,value,source\nfp16,1,x,y\n", ":2: 4 fields, the header has 3"},
        {"run,value,source\nfp16,1,\"x\n", ":2: unterminated quoted field"},
        {"run,row,column,value,source\n,RTN,,1,x\n", ":2: give a run id, or both a row and a column"},
        {"# only a comment\n", "no header line"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        path = tmpfile_with(bad[i].text);
        assert_int_equal(report_published_load(&p, path, &e), -1);
        if (test_verbose()) fprintf(stderr, "  error: %s\n", e.msg);
        if (!strstr(e.msg, bad[i].want)) fail_msg("case %zu: '%s' lacks '%s'", i, e.msg, bad[i].want);
        assert_null(p.e);
    }
    unlink(path);
    report_table_free(&t);
    free_summary(&s);
}

static void test_best_on_printed_values(void **state) {
    (void)state;
    const run_spec runs[] = {
        {"fp16", "method=fp16 ppl=3.5"},
        {"minmax-w4-g32", "method=minmax bits=4 group_size=32 salient_pct=0 ppl=3.9725"},
        {"rtn-w4-g32", "method=rtn bits=4 group_size=32 ppl=3.9724"},
        {"gptq-rtn-w4-g32", "method=gptq-rtn bits=4 group_size=32 ppl=4.5"},
    };
    store_summary s;
    make_summary(&s, runs, 4);
    report_table t;
    ah_err e = {{0}};
    report_opts o = {0};
    assert_int_equal(report_build(&t, &s, &o, &e), 0);
    const char *md = render(&t, REPORT_MD, 2);   // 3.97 and 3.97: both bold
    assert_non_null(strstr(md, "| RTN        | **3.97** |"));
    assert_non_null(strstr(md, "| MinMax     | **3.97** |"));
    assert_non_null(strstr(md, "| FP16       |     3.50 |"));
    const char *csv = render(&t, REPORT_CSV, 4);   // 3.9724 < 3.9725: one
    assert_non_null(strstr(csv, "RTN,3.9724*\n"));
    assert_non_null(strstr(csv, "MinMax,3.9725\n"));
    report_table_free(&t);
    free_summary(&s);
}

// ---- the paired rule (confident.c) --------------------------------------------------------

// Per-window mean NLL of each summary row, in memory: what report_windows_file reads from a
// results file. Row 1 (RTN) is worse than row 2 (MinMax) by 0.3 +- 0.01 on every window; row 3
// (GPTQ) is within the noise of row 2 (+-0.2 alternating); row 4 on other data.
static const double WIN[5][6] = {
    {1.0, 1.1, 0.9, 1.2, 1.0, 0.8},
    {1.6, 1.71, 1.5, 1.81, 1.6, 1.41},
    {1.3, 1.4, 1.2, 1.5, 1.3, 1.1},
    {1.5, 1.2, 1.4, 1.3, 1.5, 0.9},
    {1.0, 1.0, 1.0, 1.0, 1.0, 1.0},
};

static int mem_windows(void *ctx, int run, double **v, size_t *n, char *hash, size_t cap,
                       ah_err *e) {
    (void)ctx;
    (void)e;
    *v = malloc(sizeof WIN[run]);
    assert_non_null(*v);
    memcpy(*v, WIN[run], sizeof WIN[run]);
    *n = 6;
    snprintf(hash, cap, "%s", run == 4 ? "other-data" : "same-data");
    return 0;
}

static void test_confident_rule(void **state) {
    (void)state;
    // ppl = exp(mean of the windows above); ppl_se any finite value (it says "recorded with
    // intervals"). INT3: MinMax beats RTN clearly; INT4: GPTQ (lowest) is within the noise of
    // MinMax; W2: the lowest was evaluated on other data (no pairing, no bold).
    const run_spec runs[] = {
        {"fp16", "method=fp16 ppl=2.75 ppl_se=0.1"},
        {"rtn-w3-g32", "method=rtn bits=3 group_size=32 ppl=5.0 ppl_se=0.2"},
        {"minmax-w3-g32", "method=minmax bits=3 group_size=32 salient_pct=0 ppl=3.7 ppl_se=0.2"},
        {"gptq-rtn-w4-g32", "method=gptq-rtn bits=4 group_size=32 ppl=3.6 ppl_se=0.2"},
        {"rtn-w2-g32", "method=rtn bits=2 group_size=32 ppl=2.7 ppl_se=0.1"},
    };
    const run_spec more[] = {   // INT4 MinMax pairs with GPTQ; W2 needs a runner-up
        {"minmax-w4-g32", "method=minmax bits=4 group_size=32 salient_pct=0 ppl=3.7 ppl_se=0.2"},
        {"minmax-w2-g32", "method=minmax bits=2 group_size=32 salient_pct=0 ppl=3.7 ppl_se=0.2"},
    };
    run_spec all[7];
    memcpy(all, runs, sizeof runs);
    memcpy(all + 5, more, sizeof more);
    store_summary s;
    make_summary(&s, all, 7);
    report_table t;
    ah_err e = {{0}};
    report_opts o = {.ci = 1};
    assert_int_equal(report_build(&t, &s, &o, &e), 0);
    // Summary rows 5 and 6 read row 2's windows (the same MinMax losses at 4 and 2 bits).
    static const int MAP[7] = {0, 1, 2, 3, 4, 2, 2};
    for (size_t i = 0; i < (size_t)t.n_rows * t.n_cols; i++)
        if (t.cell[i].run >= 0) t.cell[i].run = MAP[t.cell[i].run];
    assert_int_equal(report_mark_confident(&t, &s, "ppl", mem_windows, NULL, &e), 0);
    assert_int_equal(t.rule, REPORT_RULE_PAIRED);
    assert_int_equal(t.windows, 6);
    assert_true(cell(&t, "MinMax", "INT3 g32")->sure);
    assert_false(cell(&t, "RTN", "INT3 g32")->sure);
    assert_true(cell(&t, "RTN (GPTQ)", "INT4 g32")->best);   // lowest ...
    assert_false(cell(&t, "RTN (GPTQ)", "INT4 g32")->sure);  // ... but within the noise
    assert_true(cell(&t, "RTN", "INT2 g32")->best);
    assert_false(cell(&t, "RTN", "INT2 g32")->sure);         // other data: not paired
    const char *md = render(&t, REPORT_MD, 2);
    assert_non_null(strstr(md, "**3.70 \xc2\xb1 0.20**"));   // --ci and bold
    assert_non_null(strstr(md, " 5.00 \xc2\xb1 0.20 |"));
    assert_null(strstr(strstr(strstr(md, "**") + 2, "**") + 2, "**"));   // one bold cell
    assert_non_null(strstr(md, "beats the runner-up with 95% confidence (paired bootstrap over "
                               "the same 6 evaluation windows, 1000 resamples)"));
    report_table_free(&t);
    free_summary(&s);

    // A run recorded before ppl_se existed: no bold anywhere, and the caption says why.
    const run_spec old[] = {
        {"rtn-w3-g32", "method=rtn bits=3 group_size=32 ppl=5.0"},
        {"minmax-w3-g32", "method=minmax bits=3 group_size=32 salient_pct=0 ppl=3.7 ppl_se=0.2"},
    };
    make_summary(&s, old, 2);
    o.ci = 0;
    assert_int_equal(report_build(&t, &s, &o, &e), 0);
    assert_int_equal(report_mark_confident(&t, &s, "ppl", mem_windows, NULL, &e), 0);
    assert_int_equal(t.rule, REPORT_RULE_UNAVAILABLE);
    md = render(&t, REPORT_MD, 2);
    assert_null(strstr(md, "**"));
    assert_non_null(strstr(md, "Intervals unavailable"));
    report_table_free(&t);
    // A metric without per-window values keeps the printed rule.
    o.metric = "seconds";
    assert_int_equal(report_build(&t, &s, &o, &e), 0);
    assert_int_equal(report_mark_confident(&t, &s, "seconds", mem_windows, NULL, &e), 0);
    assert_int_equal(t.rule, REPORT_RULE_PRINTED);
    report_table_free(&t);
    free_summary(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_labels_and_layout),
        cmocka_unit_test(test_varying_parameter_in_label),
        cmocka_unit_test(test_pivot_and_clash),
        cmocka_unit_test(test_published),
        cmocka_unit_test(test_best_on_printed_values),
        cmocka_unit_test(test_confident_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
