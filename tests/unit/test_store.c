// test_store.c — store/: run files written and committed into a results file, /summary read
// back (values, NaN and "" for missing, sorting, replacement), refusals that must leave files
// untouched (incomplete run, a file that is not a results file, a second writer, a merge
// conflict), merging shards, and the run readers (datasets, child groups, attributes).
// Quiet on success; AH_VERBOSE=1 prints the error messages the refusals produce.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mem.h"
#include "eval/tasks.h"
#include "store/store.h"
#include "testutil.h"

static char g_dir[256];   // per-run temp directory

static const char *tpath(const char *name) {
    static char buf[8][512];
    static int k;
    char *p = buf[k++ & 7];
    snprintf(p, 512, "%s/%s", g_dir, name);
    return p;
}

static void show(const ah_err *e) {
    if (test_verbose()) fprintf(stderr, "  error: %s\n", e->msg);
}

static void expect_msg(const ah_err *e, const char *a, const char *b) {
    show(e);
    if (a && !strstr(e->msg, a)) fail_msg("error does not mention '%s': %s", a, e->msg);
    if (b && !strstr(e->msg, b)) fail_msg("error does not mention '%s': %s", b, e->msg);
}

// Whole file into a malloc'd buffer (compared before and after a refused operation).
static char *slurp(const char *path, size_t *n) {
    ah_err e = {{0}};
    char *b = ah_read_file(path, n, &e);
    if (!b) fail_msg("%s", e.msg);
    return b;
}

static void assert_same_bytes(const char *path, const char *before, size_t nbefore) {
    size_t n;
    char *now = slurp(path, &n);
    assert_int_equal(n, nbefore);
    assert_memory_equal(now, before, n);
    free(now);
}

// ---------------------------------------------------------------------------------------------
// fixtures

typedef struct {
    const char *key, *method;
    double ppl;        // NaN: no ppl attribute (the scalar dataset still carries it)
    long long bits;
    int with_layers;
} run_spec;

// A run file in the shape the experiment driver writes: parameters as attributes (some as
// strings or reals on purpose, which /summary converts), ppl, nll_per_window, per-layer data.
static const char *write_run(const char *name, const run_spec *r) {
    const char *path = tpath(name);
    ah_err e = {{0}};
    store_run_writer *w = store_run_begin(path, &e);
    if (!w) fail_msg("%s", e.msg);
    double ppl_ds = isnan(r->ppl) ? 20.25 : r->ppl, nll[4] = {2.0, 2.5, 3.0, 3.5};
    size_t d4 = 4;
    int rc = store_run_attr_str(w, "", "key", r->key, &e) | store_run_attr_str(w, "", "method", r->method, &e) |
             store_run_attr_int(w, "", "bits", r->bits, &e) | store_run_attr_int(w, "", "group_size", -1, &e) |
             store_run_attr_real(w, "", "alpha", 0.5, &e) | store_run_attr_str(w, "", "seconds", "1.5", &e) |
             store_run_attr_real(w, "", "seqlen", 256.0, &e) | store_run_attr_str(w, "", "scale_rule", "fixed", &e) |
             store_run_f64(w, "", "ppl", &ppl_ds, 0, NULL, &e) | store_run_f64(w, "", "nll_per_window", nll, 1, &d4, &e);
    if (!isnan(r->ppl)) rc |= store_run_attr_real(w, "", "ppl", r->ppl, &e);
    if (r->with_layers) {
        // 64 x 100 > 4096 elements: the chunked + deflated path.
        enum { R = 64, C = 100 };
        static float scales[R * C];
        for (int i = 0; i < R * C; i++) scales[i] = (float)i * 0.25f;
        size_t d2[2] = {R, C};
        int32_t idx[3] = {7, 1, 42};
        size_t d3 = 3;
        rc |= store_run_f32(w, "layers/0/q_proj", "scales", scales, 2, d2, &e);
        rc |= store_run_i32(w, "layers/0/q_proj", "salient_idx", idx, 1, &d3, &e);
        rc |= store_run_attr_real(w, "layers/1/q_proj", "alpha", 0.25, &e);
        rc |= store_run_attr_real(w, "layers/1/q_proj", "alpha", 0.75, &e);   // replaces
        rc |= store_run_attr_int(w, "layers/10/q_proj", "n", 3, &e);
        rc |= store_run_attr_int(w, "layers/2/q_proj", "n", 3, &e);
        rc |= store_run_f64(w, "layers", "loss", nll, 1, &d4, &e);   // a dataset, not listed
    }
    if (rc) fail_msg("%s", e.msg);
    if (store_run_finish(w, &e)) fail_msg("%s", e.msg);
    return path;
}

static store *open_results(const char *name) {
    ah_err e = {{0}};
    store_meta meta = {"exp1", "[sweep]\nbits = 3, 4\n"};
    store *s = store_open(tpath(name), &meta, &e);
    if (!s) fail_msg("%s", e.msg);
    return s;
}

static void commit(store *s, const char *id, const char *run) {
    ah_err e = {{0}};
    if (store_commit(s, id, run, &e)) fail_msg("%s", e.msg);
}

static void read_summary(const char *name, store_summary *sum) {
    ah_err e = {{0}};
    if (store_summary_read(tpath(name), sum, &e)) fail_msg("%s", e.msg);
}

static double num(const store_row *r, const char *col) {
    int c = store_column_index(col);
    assert_true(c >= 0 && store_summary_columns[c].type != STORE_COL_STR);
    return r->num[c];
}

static const char *str(const store_row *r, const char *col) {
    int c = store_column_index(col);
    assert_true(c >= 0 && store_summary_columns[c].type == STORE_COL_STR);
    return r->str[c];
}

static int setup(void **state) {
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/ah_test_store_XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

static int teardown(void **state) {
    (void)state;
    return nftw(g_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

// Open HDF5 files, groups, datasets and attributes (the public API counts no other kinds):
// equal before and after each test, so no path through the store leaves one open.
static long long h5_ids(void) { return (long long)H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL); }

static long long g_ids;

static int ids_before(void **state) {
    (void)state;
    g_ids = h5_ids();
    return 0;
}

static int ids_after(void **state) {
    (void)state;
    long long now = h5_ids();
    if (now != g_ids) fprintf(stderr, "HDF5 identifiers leaked: %lld before, %lld after\n", g_ids, now);
    return now == g_ids ? 0 : -1;
}

// ---------------------------------------------------------------------------------------------
// tests

static void test_empty_results(void **state) {
    (void)state;
    store *s = open_results("empty.h5");
    store_close(s);
    store_summary sum;
    read_summary("empty.h5", &sum);
    assert_int_equal(sum.n, 0);
    assert_string_equal(sum.experiment, "exp1");
    assert_non_null(sum.experiment_ini);
    assert_string_equal(sum.experiment_ini, "[sweep]\nbits = 3, 4\n");
    store_summary_free(&sum);
    store_summary_free(NULL);
    store_close(NULL);
    store_run_abort(NULL);
    store_list_free(NULL, 0);
    // Reopening keeps the file (and its root attributes).
    ah_err e = {{0}};
    store_meta other = {"other", NULL};
    s = store_open(tpath("empty.h5"), &other, &e);
    assert_non_null(s);
    store_close(s);
    read_summary("empty.h5", &sum);
    assert_string_equal(sum.experiment, "exp1");
    store_summary_free(&sum);
}

static void test_commit_summary(void **state) {
    (void)state;
    run_spec a = {"k1", "awq", 12.5, 4, 1}, b = {"k2", "rtn", NAN, 3, 0};
    char ra[512], rb[512];
    snprintf(ra, sizeof ra, "%s", write_run("a.run.h5", &a));
    snprintf(rb, sizeof rb, "%s", write_run("b.run.h5", &b));
    store *s = open_results("r.h5");
    commit(s, "run-b", ra);   // committed first, sorts second
    commit(s, "run-a", rb);
    assert_int_equal(store_has_run(s, "run-b", "k1"), 1);
    assert_int_equal(store_has_run(s, "run-b", "k2"), 0);
    assert_int_equal(store_has_run(s, "nope", "k1"), 0);
    assert_int_equal(store_has_run(s, "a/b", "k1"), 0);
    assert_int_equal(store_has_run(NULL, "run-b", "k1"), 0);
    store_close(s);
    char tmpname[600];
    snprintf(tmpname, sizeof tmpname, "%s.tmp.%ld", tpath("r.h5"), (long)getpid());
    assert_int_equal(access(tmpname, F_OK), -1);

    store_summary sum;
    read_summary("r.h5", &sum);
    assert_int_equal(sum.n, 2);
    const store_row *r0 = &sum.rows[0], *r1 = &sum.rows[1];
    assert_string_equal(r0->id, "run-a");
    assert_string_equal(r1->id, "run-b");
    assert_string_equal(str(r0, "method"), "rtn");
    assert_string_equal(str(r1, "method"), "awq");
    assert_string_equal(str(r1, "key"), "k1");
    assert_string_equal(str(r1, "scale_rule"), "fixed");
    assert_string_equal(str(r1, "clip"), "");                 // missing STR
    assert_true(num(r1, "bits") == 4 && num(r0, "bits") == 3);
    assert_true(num(r1, "group_size") == -1);                 // -1 is a value, not "missing"
    assert_true(num(r1, "alpha") == 0.5);
    assert_true(num(r1, "seconds") == 1.5);                   // string attribute -> REAL
    assert_true(num(r1, "seqlen") == 256);                    // real attribute -> INT
    assert_true(num(r1, "ppl") == 12.5);                      // the attribute
    assert_true(num(r0, "ppl") == 20.25);                     // no attribute: the dataset
    assert_true(isnan(num(r1, "windows")));                   // missing INT
    assert_true(isnan(num(r1, "salient_pct")));               // missing REAL
    assert_true(isnan(num(r1, "nll")));
    assert_int_equal(store_column_index("nope"), -1);
    assert_int_equal(store_column_index("method"), 0);
    store_summary_free(&sum);
}

static void test_replace_and_refuse(void **state) {
    (void)state;
    run_spec a = {"k1", "awq", 12.5, 4, 0}, a2 = {"k9", "awq-v2", 11.0, 4, 0};
    store *s = open_results("rep.h5");
    commit(s, "x", write_run("x1.run.h5", &a));
    commit(s, "x", write_run("x2.run.h5", &a2));
    assert_int_equal(store_has_run(s, "x", "k9"), 1);
    assert_int_equal(store_has_run(s, "x", "k1"), 0);

    // A run file without status = "complete" (a writer killed half way) is refused, and the
    // results file is left byte for byte as it was.
    const char *bad = tpath("bad.run.h5");
    hid_t f = H5Fcreate(bad, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(f >= 0);
    H5Fclose(f);
    size_t n;
    char *before = slurp(tpath("rep.h5"), &n);
    ah_err e = {{0}};
    assert_int_equal(store_commit(s, "y", bad, &e), -1);
    expect_msg(&e, bad, "not complete");
    assert_int_equal(store_commit(s, "y", tpath("missing.run.h5"), &e), -1);
    expect_msg(&e, "missing.run.h5", NULL);
    char longid[80];
    memset(longid, 'i', 70);
    longid[70] = '\0';
    assert_int_equal(store_commit(s, longid, tpath("x1.run.h5"), &e), -1);
    expect_msg(&e, "run id", NULL);
    assert_same_bytes(tpath("rep.h5"), before, n);
    free(before);
    store_close(s);

    store_summary sum;
    read_summary("rep.h5", &sum);
    assert_int_equal(sum.n, 1);
    assert_string_equal(sum.rows[0].id, "x");
    assert_string_equal(str(&sum.rows[0], "method"), "awq-v2");
    assert_string_equal(str(&sum.rows[0], "key"), "k9");
    assert_true(num(&sum.rows[0], "ppl") == 11.0);
    store_summary_free(&sum);
}

static void test_not_results_file(void **state) {
    (void)state;
    ah_err e = {{0}};
    const char *p = tpath("notes.h5");
    FILE *fp = fopen(p, "wb");
    assert_non_null(fp);
    fputs("not an HDF5 file\n", fp);
    fclose(fp);
    size_t n;
    char *before = slurp(p, &n);
    assert_null(store_open(p, NULL, &e));
    expect_msg(&e, p, "not an HDF5");
    assert_same_bytes(p, before, n);
    free(before);
    assert_int_equal(access(tpath("notes.h5.lock"), F_OK), -1);

    // HDF5, but not ours (no schema_version).
    const char *q = tpath("other.h5");
    hid_t f = H5Fcreate(q, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(f >= 0);
    H5Fclose(f);
    before = slurp(q, &n);
    assert_null(store_open(q, NULL, &e));
    expect_msg(&e, q, "schema_version");
    assert_same_bytes(q, before, n);
    free(before);
    store_summary sum;
    assert_int_equal(store_summary_read(q, &sum, &e), -1);
    expect_msg(&e, q, "schema_version");
    assert_int_equal(store_summary_read(tpath("absent.h5"), &sum, &e), -1);
    expect_msg(&e, "absent.h5", NULL);
}

static void test_lock_and_stale(void **state) {
    (void)state;
    store *s = open_results("lk.h5");
    store_close(s);
    // Temporaries of a killed writer go when the lock is next taken; other names stay.
    FILE *fp = fopen(tpath("lk.h5.tmp.999999"), "wb");
    assert_non_null(fp);
    fclose(fp);
    fp = fopen(tpath("lk.h5.tmp.keep"), "wb");
    assert_non_null(fp);
    fclose(fp);
    s = open_results("lk.h5");
    assert_int_equal(access(tpath("lk.h5.tmp.999999"), F_OK), -1);
    assert_int_equal(access(tpath("lk.h5.tmp.keep"), F_OK), 0);
    ah_err e = {{0}};
    assert_null(store_open(tpath("lk.h5"), NULL, &e));
    expect_msg(&e, "another awq-harness process is writing", tpath("lk.h5"));
    store_close(s);
    s = store_open(tpath("lk.h5"), NULL, &e);   // released
    assert_non_null(s);
    store_close(s);
}

static void test_merge(void **state) {
    (void)state;
    run_spec a = {"ka", "awq", 10.0, 4, 0}, b = {"kb", "rtn", 11.0, 3, 0}, c = {"kc", "awq", 9.0, 2, 0},
             b_other = {"kB", "rtn", 99.0, 3, 0};
    char ra[512], rb[512], rc_[512], rbo[512];   // tpath's buffers are reused: keep copies
    snprintf(ra, sizeof ra, "%s", write_run("ma.run.h5", &a));
    snprintf(rb, sizeof rb, "%s", write_run("mb.run.h5", &b));
    snprintf(rc_, sizeof rc_, "%s", write_run("mc.run.h5", &c));
    snprintf(rbo, sizeof rbo, "%s", write_run("mbo.run.h5", &b_other));
    store *s1 = open_results("s1.h5");
    commit(s1, "a", ra);
    commit(s1, "b", rb);
    store_close(s1);
    ah_err e = {{0}};
    store_meta m2 = {"shard2", NULL};
    store *s2 = store_open(tpath("s2.h5"), &m2, &e);
    assert_non_null(s2);
    commit(s2, "b", rb);   // the same run in both shards: taken once
    commit(s2, "c", rc_);
    assert_int_equal(store_has_run(s2, "c", "kc"), 1);
    store_close(s2);
    // A run group without status = "complete" (not something store_commit makes, but a file
    // may come from elsewhere) is neither summarised nor merged.
    hid_t f = H5Fopen(tpath("s2.h5"), H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(f >= 0);
    hid_t g = H5Gcreate2(f, "runs/zz", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(g >= 0);
    H5Gclose(g);
    H5Fclose(f);

    const char *in[2] = {tpath("s1.h5"), tpath("s2.h5")};
    if (store_merge(tpath("m.h5"), in, 2, &e)) fail_msg("%s", e.msg);
    store_summary sum;
    read_summary("m.h5", &sum);
    assert_int_equal(sum.n, 3);
    assert_string_equal(sum.rows[0].id, "a");
    assert_string_equal(sum.rows[1].id, "b");
    assert_string_equal(sum.rows[2].id, "c");
    assert_true(num(&sum.rows[2], "bits") == 2 && num(&sum.rows[1], "ppl") == 11.0);
    assert_string_equal(sum.experiment, "exp1");   // root attributes of the first input
    assert_non_null(sum.experiment_ini);
    store_summary_free(&sum);

    // Conflict: the same id with a different key. Nothing is written: neither a new output
    // nor a change to an existing one.
    store *s3 = open_results("s3.h5");
    commit(s3, "b", rbo);
    store_close(s3);
    const char *in2[2] = {tpath("s1.h5"), tpath("s3.h5")};
    assert_int_equal(store_merge(tpath("m2.h5"), in2, 2, &e), -1);
    expect_msg(&e, "'b'", tpath("s3.h5"));
    expect_msg(&e, tpath("s1.h5"), NULL);
    assert_int_equal(access(tpath("m2.h5"), F_OK), -1);
    size_t n;
    char *before = slurp(tpath("m.h5"), &n);
    const char *in3[3] = {tpath("m.h5"), tpath("s1.h5"), tpath("s3.h5")};
    assert_int_equal(store_merge(tpath("m.h5"), in3, 3, &e), -1);
    assert_same_bytes(tpath("m.h5"), before, n);
    free(before);
    char tmpname[600];
    snprintf(tmpname, sizeof tmpname, "%s.tmp.%ld", tpath("m2.h5"), (long)getpid());
    assert_int_equal(access(tmpname, F_OK), -1);

    // The output may be one of the inputs.
    const char *in4[2] = {tpath("s1.h5"), tpath("s2.h5")};
    if (store_merge(tpath("s1.h5"), in4, 2, &e)) fail_msg("%s", e.msg);
    read_summary("s1.h5", &sum);
    assert_int_equal(sum.n, 3);
    store_summary_free(&sum);
    // A non-results input is refused.
    const char *in5[2] = {tpath("s1.h5"), tpath("ma.run.h5")};
    assert_int_equal(store_merge(tpath("m3.h5"), in5, 2, &e), -1);
    expect_msg(&e, "ma.run.h5", "schema_version");
}

static void test_readers(void **state) {
    (void)state;
    run_spec a = {"k1", "awq", 12.5, 4, 1};
    char ra[512];
    snprintf(ra, sizeof ra, "%s", write_run("rd.run.h5", &a));
    store *s = open_results("rd.h5");
    commit(s, "r1", ra);
    store_close(s);
    char f[512];
    snprintf(f, sizeof f, "%s", tpath("rd.h5"));
    ah_err e = {{0}};
    double *d = NULL;
    size_t n, dims[2];
    assert_int_equal(store_read_f64(f, "r1", "ppl", &d, &n, dims, &e), 0);
    assert_true(n == 1 && dims[0] == 1 && dims[1] == 1 && d[0] == 12.5);
    free(d);
    assert_int_equal(store_read_f64(f, "r1", "nll_per_window", &d, &n, dims, &e), 0);
    assert_true(n == 4 && dims[0] == 4 && dims[1] == 1 && d[3] == 3.5);
    free(d);
    assert_int_equal(store_read_f64(f, "r1", "layers/0/q_proj/scales", &d, &n, dims, &e), 0);
    assert_true(n == 6400 && dims[0] == 64 && dims[1] == 100);
    for (size_t i = 0; i < n; i++)
        if (d[i] != (double)i * 0.25) fail_msg("scales[%zu] = %g", i, d[i]);
    free(d);
    assert_int_equal(store_read_f64(f, "r1", "layers/0/q_proj/salient_idx", &d, &n, dims, &e), 0);
    assert_true(n == 3 && d[2] == 42);
    free(d);
    assert_int_equal(store_read_f64(f, "r1", "layers/0/q_proj/nope", &d, &n, dims, &e), -1);
    expect_msg(&e, f, "layers/0/q_proj/nope");
    assert_null(d);
    // The run file itself (run_id NULL).
    assert_int_equal(store_read_f64(ra, NULL, "nll_per_window", &d, &n, dims, &e), 0);
    assert_true(n == 4 && d[0] == 2.0);
    free(d);

    char **names;
    int k;
    assert_int_equal(store_list(f, "r1", "layers", &names, &k, &e), 0);
    assert_int_equal(k, 4);   // numeric order; the dataset "loss" beside them is not listed
    assert_string_equal(names[0], "0");
    assert_string_equal(names[1], "1");
    assert_string_equal(names[2], "2");
    assert_string_equal(names[3], "10");
    store_list_free(names, k);
    assert_int_equal(store_list(f, "r1", "layers/0", &names, &k, &e), 0);
    assert_int_equal(k, 1);
    assert_string_equal(names[0], "q_proj");
    store_list_free(names, k);
    assert_int_equal(store_list(f, "r1", "layers/0/q_proj", &names, &k, &e), 0);
    assert_int_equal(k, 0);   // only datasets
    store_list_free(names, k);
    assert_int_equal(store_list(f, "r2", "layers", &names, &k, &e), -1);
    expect_msg(&e, f, "/runs/r2/layers");

    double v;
    char buf[64];
    assert_int_equal(store_run_attr_real_get(f, "r1", "layers/1/q_proj", "alpha", &v, &e), 0);
    assert_true(v == 0.75);
    assert_int_equal(store_run_attr_real_get(f, "r1", "", "seconds", &v, &e), 0);   // "1.5"
    assert_true(v == 1.5);
    assert_int_equal(store_run_attr_str_get(f, "r1", "", "method", buf, sizeof buf, &e), 0);
    assert_string_equal(buf, "awq");
    assert_int_equal(store_run_attr_str_get(f, "r1", "layers/1/q_proj", "alpha", buf, sizeof buf, &e), 0);
    assert_string_equal(buf, "0.75");
    assert_int_equal(store_run_attr_str_get(f, "r1", "", "status", buf, sizeof buf, &e), 0);
    assert_string_equal(buf, "complete");
    assert_int_equal(store_run_attr_str_get(ra, NULL, "", "key", buf, sizeof buf, &e), 0);
    assert_string_equal(buf, "k1");
    assert_int_equal(store_run_attr_real_get(f, "r1", "", "method", &v, &e), -1);
    expect_msg(&e, "method", "not a number");
    assert_int_equal(store_run_attr_real_get(f, "r1", "", "nope", &v, &e), -1);
    expect_msg(&e, f, "no attribute 'nope'");
    assert_int_equal(store_run_attr_real_get(f, "r1", "layers/9", "alpha", &v, &e), -1);
    expect_msg(&e, f, "layers/9");
    assert_int_equal(store_run_attr_str_get(f, "r1", "", "method", buf, 3, &e), -1);
    expect_msg(&e, "does not fit", NULL);
}

static void test_writer_edges(void **state) {
    (void)state;
    ah_err e = {{0}};
    const char *p = tpath("w.run.h5");
    store_run_writer *w = store_run_begin(p, &e);
    assert_non_null(w);
    size_t d3[3] = {1, 1, 1}, d0 = 0;
    double x = 1;
    assert_int_equal(store_run_f64(w, "", "cube", &x, 3, d3, &e), -1);
    expect_msg(&e, p, "rank 3");
    assert_int_equal(store_run_f64(w, "", "empty", NULL, 1, &d0, &e), 0);
    assert_int_equal(store_run_f64(w, "", "x", &x, 0, NULL, &e), 0);
    x = 2;
    assert_int_equal(store_run_f64(w, "", "x", &x, 0, NULL, &e), 0);   // replaces
    assert_int_equal(store_run_attr_real(w, "", "", 1.0, &e), -1);
    // 64 hex digits (a SHA-256 key) fit a summary field whole; a longer string is cut at a
    // character boundary (63 'a' + a 2-byte 'é' -> the 63 'a').
    char key[65], method[80];
    memset(key, 'f', 64);
    key[64] = '\0';
    memset(method, 'a', 63);
    strcpy(method + 63, "\xc3\xa9");
    assert_int_equal(store_run_attr_str(w, "", "key", key, &e), 0);
    assert_int_equal(store_run_attr_str(w, "", "method", method, &e), 0);
    assert_int_equal(access(p, F_OK), -1);   // not in place before finish
    assert_int_equal(store_run_finish(w, &e), 0);
    assert_int_equal(access(p, F_OK), 0);
    double *d;
    size_t n, dims[2];
    assert_int_equal(store_read_f64(p, NULL, "x", &d, &n, dims, &e), 0);
    assert_true(n == 1 && d[0] == 2);
    free(d);
    assert_int_equal(store_read_f64(p, NULL, "empty", &d, &n, dims, &e), 0);
    assert_true(n == 0 && dims[0] == 0);
    free(d);
    // A dataset declaring 2^36 doubles over no stored bytes: refused, nothing allocated.
    const char *huge = tpath("huge.h5");
    hid_t hf = H5Fcreate(huge, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t hd[2] = {(hsize_t)1 << 20, (hsize_t)1 << 16};
    hid_t hs = H5Screate_simple(2, hd, NULL);
    hid_t hdset = H5Dcreate2(hf, "big", H5T_IEEE_F64LE, hs, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(hf >= 0 && hs >= 0 && hdset >= 0);
    H5Dclose(hdset);
    H5Sclose(hs);
    H5Fclose(hf);
    assert_int_equal(store_read_f64(huge, NULL, "big", &d, &n, dims, &e), -1);
    expect_msg(&e, huge, "declares 68719476736 values but stores 0 bytes");

    store *s = open_results("w.h5");
    commit(s, "long", p);
    store_close(s);
    store_summary sum;
    read_summary("w.h5", &sum);
    assert_int_equal(sum.n, 1);
    assert_string_equal(str(&sum.rows[0], "key"), key);
    assert_int_equal(strlen(str(&sum.rows[0], "method")), 63);
    store_summary_free(&sum);

    // Aborting leaves nothing behind.
    const char *q = tpath("ab.run.h5");
    w = store_run_begin(q, &e);
    assert_non_null(w);
    store_run_abort(w);
    char tmpname[600];
    snprintf(tmpname, sizeof tmpname, "%s.tmp.%ld", q, (long)getpid());
    assert_int_equal(access(q, F_OK), -1);
    assert_int_equal(access(tmpname, F_OK), -1);
    assert_null(store_run_begin(tpath("no/such/dir/r.h5"), &e));
    expect_msg(&e, "no/such/dir/r.h5", NULL);
}

// Every task of the task table (eval/tasks_table.c) has its /summary columns, named as
// record.c writes the run attributes (<metric>_<task>): a new table row without columns
// would be recorded but never reach /summary, report or the acc_vs_bits plot.
static void test_task_columns(void **state) {
    (void)state;
    static const char *const choice_metrics[] = {"acc", "acc_stderr", "acc_norm"};
    static const char *const last_word_metrics[] = {"acc", "acc_stderr", "ppl"};
    static const char *const rolling_metrics[] = {"word_perplexity", "byte_perplexity",
                                                  "bits_per_byte"};
    for (size_t t = 0; t < task_table_n; t++) {
        const task_def *d = &task_table[t];
        const char *const *m = d->kind == TASK_ROLLING     ? rolling_metrics
                               : d->kind == TASK_LAST_WORD ? last_word_metrics
                                                           : choice_metrics;
        for (int i = 0; i < 3; i++) {
            char col[96];
            snprintf(col, sizeof col, "%s_%s", m[i], d->name);
            if (store_column_index(col) < 0) fail_msg("no /summary column %s (task %s)", col, d->name);
        }
    }
}

#define T(f) cmocka_unit_test_setup_teardown(f, ids_before, ids_after)

int main(void) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    const struct CMUnitTest tests[] = {
        T(test_empty_results),  T(test_commit_summary),
        T(test_replace_and_refuse), T(test_not_results_file),
        T(test_lock_and_stale), T(test_merge),
        T(test_readers),        T(test_writer_edges),
        cmocka_unit_test(test_task_columns),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
