// test_dataset.c — text sources: WikiText-2 row rebuild, text:, jsonl:, UTF-8 checks, errors.
// Quiet on success. The WikiText-2 part exits 77 when ../shared/data is absent.
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "testutil.h"
#include "text/dataset.h"

static char g_tmp[256];

static const char *put(const char *name, const char *data, size_t n) {
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", g_tmp, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
    return p;
}

static void expect_error(const char *spec, const char *dir, const char *needle) {
    ah_err e = {0};
    char *t;
    size_t n;
    if (ds_load_text(spec, dir, &t, &n, &e) == 0) { free(t); fail_msg("%s: loaded", spec); }
    if (!strstr(e.msg, needle)) fail_msg("error '%s' lacks '%s'", e.msg, needle);
    assert_null(t);
}

static void test_utf8(void **s) {
    (void)s;
    size_t bad = 99;
    const char ok[] = "plain \xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x99\x82";
    assert_true(ds_utf8_valid(ok, sizeof ok - 1, &bad));
    assert_false(ds_utf8_valid("ab\x80", 3, &bad));
    assert_int_equal(bad, 2);
    assert_false(ds_utf8_valid("\xc0\xaf", 2, &bad));           // overlong
    assert_int_equal(bad, 0);
    assert_false(ds_utf8_valid("x\xed\xa0\x80", 4, &bad));      // surrogate
    assert_int_equal(bad, 1);
    assert_false(ds_utf8_valid("\xf4\x90\x80\x80", 4, &bad));   // > U+10FFFF
    assert_false(ds_utf8_valid("ok\xe2\x82", 4, &bad));         // truncated
    assert_int_equal(bad, 2);
    assert_true(ds_utf8_valid("", 0, &bad));
}

static void test_text_and_jsonl(void **s) {
    (void)s;
    ah_err e = {0};
    char spec[600], *t;
    size_t n;
    snprintf(spec, sizeof spec, "text:%s", put("a.txt", "hello\nworld\n", 12));
    assert_int_equal(ds_load_text(spec, NULL, &t, &n, &e), 0);
    assert_int_equal(n, 12);
    assert_string_equal(t, "hello\nworld\n");
    free(t);
    assert_string_equal(ds_spec_kind(spec), "text:a.txt");
    assert_string_equal(ds_spec_kind("wikitext2:test"), "wikitext2:test");

    const char jl[] = "{\"text\": \"first\\nrow\", \"id\": 1}\n\n{\"text\": \"caf\\u00e9\"}\n{\"text\": \"\"}\n";
    snprintf(spec, sizeof spec, "jsonl:%s", put("a.jsonl", jl, sizeof jl - 1));
    assert_int_equal(ds_load_text(spec, NULL, &t, &n, &e), 0);
    assert_string_equal(t, "first\nrow\n\ncaf\xc3\xa9\n\n");
    assert_int_equal(n, strlen(t));
    free(t);
    assert_string_equal(ds_spec_kind(spec), "jsonl:a.jsonl");

    snprintf(spec, sizeof spec, "jsonl:%s", put("bad.jsonl", "{\"text\": \"a\"}\n{\"txt\": 1}\n", 26));
    expect_error(spec, NULL, "bad.jsonl: line 2");
    snprintf(spec, sizeof spec, "jsonl:%s", put("broken.jsonl", "{\"text\": \"a\n", 12));
    expect_error(spec, NULL, "broken.jsonl: line 1");
    snprintf(spec, sizeof spec, "text:%s", put("empty.txt", "", 0));
    expect_error(spec, NULL, "empty.txt: empty data");
    snprintf(spec, sizeof spec, "jsonl:%s", put("empty.jsonl", "\n\n", 2));
    expect_error(spec, NULL, "empty.jsonl: empty data");
    snprintf(spec, sizeof spec, "text:%s", put("bad.txt", "abc\xff\xfe", 5));
    expect_error(spec, NULL, "bad.txt: not valid UTF-8 at byte offset 3");
    expect_error("text:/nonexistent/file.txt", NULL, "/nonexistent/file.txt");
    expect_error("csv:whatever", NULL, "unknown source");
    expect_error("text:", NULL, "no file");
}

// A tiny raw split checks the row rules without the real data.
static void test_wikitext_rows_small(void **s) {
    (void)s;
    ah_err e = {0};
    char *t;
    size_t n;
    const char raw[] = " \n = Title = \n \n Body text .\n";
    put("wiki.valid.raw", raw, sizeof raw - 1);
    assert_int_equal(ds_load_text("wikitext2:valid", g_tmp, &t, &n, &e), 0);
    assert_string_equal(t, "\n\n = Title = \n\n\n\n\n Body text .\n");
    free(t);
    // AH_WIKITEXT_DIR is used when no folder is passed.
    setenv("AH_WIKITEXT_DIR", g_tmp, 1);
    assert_int_equal(ds_load_text("wikitext2:valid", NULL, &t, &n, &e), 0);
    free(t);
    unsetenv("AH_WIKITEXT_DIR");
    expect_error("wikitext2:test", g_tmp, "wiki.test.raw");   // absent file named
    put("wiki.test.raw", "", 0);
    expect_error("wikitext2:test", g_tmp, "wiki.test.raw: empty data");
}

static void test_wikitext2_real(void **s) {
    (void)s;
    char dir[512], raw_path[600];
    snprintf(dir, sizeof dir, "%s/wikitext-2-raw", shared_data_dir());
    snprintf(raw_path, sizeof raw_path, "%s/wiki.test.raw", dir);
    ah_err e = {0};
    size_t rawlen, n;
    char *raw = ah_read_file(raw_path, &rawlen, &e), *t;
    assert_non_null(raw);
    assert_int_equal(ds_load_text("wikitext2:test", dir, &t, &n, &e), 0);
    // Rows = lines of the raw file; every row but the empty " " ones keeps its "\n".
    size_t rows = 0, blank = 0;
    for (size_t i = 0, st = 0; i < rawlen; i++)
        if (raw[i] == '\n') { rows++; blank += i - st == 1 && raw[st] == ' '; st = i + 1; }
    assert_int_equal(rows, 4358);
    // Joined length: raw bytes, minus one space per blank row, minus the blank rows' "\n",
    // plus the "\n\n" separators.
    assert_int_equal(n, rawlen - 2 * blank + 2 * (rows - 1));
    const char prefix[] = "\n\n = Robert Boulter = \n\n\n\n\n Robert Boulter is an English film";
    assert_memory_equal(t, prefix, sizeof prefix - 1);
    free(t);
    free(raw);
}

int main(void) {
    snprintf(g_tmp, sizeof g_tmp, "/tmp/ah_test_ds_XXXXXX");
    if (!mkdtemp(g_tmp)) { perror("mkdtemp"); return 1; }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_text_and_jsonl),
        cmocka_unit_test(test_wikitext_rows_small),
    };
    int rc = cmocka_run_group_tests_name("dataset", tests, NULL, NULL);
    char probe[600];
    snprintf(probe, sizeof probe, "%s/wikitext-2-raw/wiki.test.raw", shared_data_dir());
    if (!rc && !ah_is_file(probe)) {
        printf("skipped: %s absent (set AH_SHARED_DATA); WikiText-2 check not run\n", probe);
        rc = 77;
    } else if (!rc) {
        const struct CMUnitTest real[] = {cmocka_unit_test(test_wikitext2_real)};
        rc = cmocka_run_group_tests_name("dataset (WikiText-2)", real, NULL, NULL);
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    if (system(cmd)) {}
    return rc;
}
