// test_tokenizer.c — the C tokenizers against the HF `tokenizers` reference (goldens made by
// tools/make-token-goldens), llama2.c tokenizer.bin against run.c's algorithm, and bad inputs.
// Quiet on success; AH_VERBOSE=1 prints timings and, on a WikiText mismatch, writes the ids
// to build/tests/tok_<name>.ids (one per line) to diff with `node tools/tokref.js ... --format ids`.
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/hash.h"
#include "core/mem.h"
#include "testutil.h"
#include "text/dataset.h"
#include "text/tokenizer.h"

static char g_tmp[256];      // scratch folder for bad-input files and the OPT folder
static char g_optdir[300];   // opt-125m vocab/merges + config.json {"model_type": "opt"}

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static const char *tmp_path(const char *name) {
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", g_tmp, name);
    return p;
}

// The tokenizer folder for a golden name (opt-125m goes through the folder that adds config.json).
static void tok_dir(const char *name, char *out, size_t cap) {
    if (!strcmp(name, "opt-125m")) snprintf(out, cap, "%s", g_optdir);
    else snprintf(out, cap, "%s/tokenizers/%s", shared_data_dir(), name);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

// ---------------------------------------------------------------------------------------------
// Tricky strings vs HF

static void check_golden_strings(const char *name) {
    char dir[512], gpath[512];
    tok_dir(name, dir, sizeof dir);
    snprintf(gpath, sizeof gpath, "tests/golden/tokens_%s.jsonl", name);
    ah_err e = {0};
    tok_tokenizer *t = tok_load(dir, &e);
    if (!t) fail_msg("%s: %s", name, e.msg);
    FILE *f = fopen(gpath, "r");
    if (!f) fail_msg("%s missing (run node tools/make-token-goldens)", gpath);
    char line[65536];
    int fails = 0, n = 0;
    while (fgets(line, sizeof line, f)) {
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        if (!o) fail_msg("%s: bad line: %s", gpath, je.text);
        json_t *txt = json_object_get(o, "text"), *ref = json_object_get(o, "ids");
        int32_t *ids;
        size_t nids;
        if (tok_encode(t, json_string_value(txt), json_string_length(txt), 1, &ids, &nids, &e))
            fail_msg("%s: encode failed: %s", name, e.msg);
        int same = nids == json_array_size(ref);
        for (size_t i = 0; same && i < nids; i++)
            same = ids[i] == json_integer_value(json_array_get(ref, i));
        if (!same) {
            fails++;
            char *want = json_dumps(ref, JSON_COMPACT), *s = json_dumps(txt, JSON_ENCODE_ANY);
            fprintf(stderr, "%s: text %s\n  want %s\n  got  [", name, s, want);
            for (size_t i = 0; i < nids; i++) fprintf(stderr, "%s%d", i ? "," : "", ids[i]);
            fprintf(stderr, "]\n");
            free(want);
            free(s);
        }
        free(ids);
        json_decref(o);
        n++;
    }
    fclose(f);
    tok_free(t);
    if (test_verbose()) fprintf(stderr, "%s: %d strings, %d mismatches\n", name, n, fails);
    assert_true(n > 20);
    assert_int_equal(fails, 0);
}

static void test_strings_gpt2(void **s) { (void)s; check_golden_strings("gpt2"); }
static void test_strings_llama2(void **s) { (void)s; check_golden_strings("llama2"); }
static void test_strings_opt(void **s) { (void)s; check_golden_strings("opt-125m"); }
static void test_strings_qwen2(void **s) { (void)s; check_golden_strings("qwen2"); }
static void test_strings_smollm(void **s) { (void)s; check_golden_strings("smollm"); }

// ---------------------------------------------------------------------------------------------
// Full WikiText-2 test text vs HF (count + sha256 of the ids as little-endian int32)

static void test_wikitext2_full(void **state) {
    (void)state;
    char wdir[512];
    snprintf(wdir, sizeof wdir, "%s/wikitext-2-raw", shared_data_dir());
    ah_err e = {0};
    char *text;
    size_t len;
    if (ds_load_text("wikitext2:test", wdir, &text, &len, &e)) fail_msg("%s", e.msg);
    FILE *g = fopen("tests/golden/wikitext2_test.txt", "r");
    assert_non_null(g);
    char name[64], want_count[64], want_sha[128];
    int fails = 0, n = 0;
    while (fscanf(g, "%63s count=%63s sha256=%127s", name, want_count, want_sha) == 3) {
        char dir[512];
        tok_dir(name, dir, sizeof dir);
        double t0 = now();
        tok_tokenizer *t = tok_load(dir, &e);
        if (!t) fail_msg("%s: %s", name, e.msg);
        double t1 = now();
        int32_t *ids;
        size_t nids;
        if (tok_encode(t, text, len, 1, &ids, &nids, &e)) fail_msg("%s: %s", name, e.msg);
        double t2 = now();
        char hex[65], cnt[32];
        ah_sha256_hex(ids, nids * sizeof *ids, hex);   // x86-64: int32 already little-endian
        snprintf(cnt, sizeof cnt, "%zu", nids);
        if (test_verbose())
            fprintf(stderr, "%s: %zu ids, load %.2f s, encode %.2f s\n", name, nids, t1 - t0, t2 - t1);
        if (strcmp(cnt, want_count) || strcmp(hex, want_sha)) {
            fails++;
            fprintf(stderr, "%s: WikiText-2 test: got count=%s sha256=%s, want count=%s sha256=%s\n",
                    name, cnt, hex, want_count, want_sha);
            if (test_verbose()) {
                char p[256];
                snprintf(p, sizeof p, "build/tests/tok_%s.ids", name);
                FILE *f = fopen(p, "w");
                for (size_t i = 0; f && i < nids; i++) fprintf(f, "%d\n", ids[i]);
                if (f) fclose(f);
                fprintf(stderr, "  ids written to %s; diff with tools/tokref.js --format ids\n", p);
            }
        }
        free(ids);
        tok_free(t);
        n++;
    }
    fclose(g);
    free(text);
    assert_true(n >= 3);
    assert_int_equal(fails, 0);
}

// ---------------------------------------------------------------------------------------------
// llama2.c tokenizer.bin (stories260K tok512.bin) against run.c's encode

static tok_tokenizer *load_tok512(void) {
    char p[512];
    snprintf(p, sizeof p, "%s/stories260K/tok512.bin", shared_data_dir());
    ah_err e = {0};
    tok_tokenizer *t = tok_load(p, &e);
    if (!t) fail_msg("%s", e.msg);
    return t;
}

static void expect_ids(tok_tokenizer *t, const char *s, int special, const int32_t *want, size_t n) {
    ah_err e = {0};
    int32_t *ids;
    size_t got;
    if (tok_encode(t, s, strlen(s), special, &ids, &got, &e)) fail_msg("%s", e.msg);
    if (got != n || (n > 0 && memcmp(ids, want, n * sizeof *ids) != 0)) {
        fprintf(stderr, "'%s': got [", s);
        for (size_t i = 0; i < got; i++) fprintf(stderr, "%s%d", i ? "," : "", ids[i]);
        fprintf(stderr, "]\n");
        free(ids);
        fail_msg("ids differ for '%s'", s);
    }
    free(ids);
}

static void test_llama2c(void **state) {
    (void)state;
    tok_tokenizer *t = load_tok512();
    assert_string_equal(tok_kind(t), "llama2c");
    assert_int_equal(tok_vocab_size(t), 512);
    assert_int_equal(tok_bos_id(t), 1);
    assert_int_equal(tok_eos_id(t), 2);
    char buf[64];
    // Byte pieces: ids 3..258 are <0x00>..<0xFF>, decoded to the raw byte.
    assert_int_equal(tok_decode_piece(t, 3 + 'A', buf, sizeof buf), 1);
    assert_int_equal(buf[0], 'A');
    // Empty text: only BOS (run.c adds the dummy prefix only for non-empty text).
    expect_ids(t, "", 1, (const int32_t[]){1}, 1);
    expect_ids(t, "", 0, NULL, 0);
    // "a": dummy prefix " " + "a" merge into the piece " a".
    int32_t sp_a[1];
    {
        ah_err e = {0};
        int32_t *ids;
        size_t n;
        assert_int_equal(tok_encode(t, "a", 1, 0, &ids, &n, &e), 0);
        assert_int_equal(n, 1);
        size_t k = tok_decode_piece(t, ids[0], buf, sizeof buf);
        assert_int_equal(k, 2);
        assert_memory_equal(buf, " a", 2);
        sp_a[0] = ids[0];
        free(ids);
    }
    expect_ids(t, "a", 0, sp_a, 1);
    // Ids from karpathy's run.c encode (transcribed naive O(n^2) loop) for the same strings.
    expect_ids(t, "Once upon a time, there was a little girl.", 1,
               (const int32_t[]){1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 426}, 14);
    expect_ids(t, "Hello  world", 1, (const int32_t[]){1, 346, 306, 414, 410, 263, 304, 341}, 8);
    // Code points not in the 512 vocab fall back to byte + 3: U+1F642 = F0 9F 99 82.
    expect_ids(t, "\xf0\x9f\x99\x82", 0, (const int32_t[]){410, 0xF0 + 3, 0x9F + 3, 0x99 + 3, 0x82 + 3}, 5);
    tok_free(t);
}

// ---------------------------------------------------------------------------------------------
// Bad inputs: clean errors naming the file, no crash (need no shared data)

static void expect_load_error(const char *path, const char *needle) {
    ah_err e = {0};
    tok_tokenizer *t = tok_load(path, &e);
    if (t) { tok_free(t); fail_msg("%s: loaded, expected an error with '%s'", path, needle); }
    if (!strstr(e.msg, needle)) fail_msg("error '%s' lacks '%s'", e.msg, needle);
}

static const char MINI_JSON[] =
    "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2, \"\xc4\xa0\": 3},"
    " \"merges\": [\"a b\"]}, \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false}}";

// A word over 256 bytes with no pre-tokenizer is merged in parts (tok_bpe.c): cut between
// "b" and "\u2581" (no merge joins them), never between two unknown chars, which fuse_unk
// joins into one <unk>. The ids are those of HF tokenizers 0.23.2 (tools/tokref.js) for this
// tokenizer.json: 5 5 0, 40 times.
static const char FUSE_UNK_JSON[] =
    "{\"model\": {\"type\": \"BPE\", \"unk_token\": \"<unk>\", \"fuse_unk\": true,"
    " \"byte_fallback\": false, \"vocab\": {\"<unk>\": 0, \"a\": 1, \"b\": 2,"
    " \"\xe2\x96\x81\": 3, \"ab\": 4, \"\xe2\x96\x81" "ab\": 5},"
    " \"merges\": [\"a b\", \"\xe2\x96\x81" " ab\"]}}";

static void test_long_word_cuts(void **state) {
    (void)state;
    write_file(tmp_path("fuse.json"), FUSE_UNK_JSON, sizeof FUSE_UNK_JSON - 1);
    ah_err e = {0};
    tok_tokenizer *t = tok_load(tmp_path("fuse.json"), &e);
    if (!t) fail_msg("%s", e.msg);
    static const char unit[] = "\xe2\x96\x81" "ab" "\xe2\x96\x81" "ab" "\xe4\xb8\xad\xe4\xb8\xad\xe4\xb8\xad";
    char text[40 * sizeof unit];
    int32_t want[40 * 3];
    text[0] = '\0';
    for (int i = 0; i < 40; i++) {   // 17 bytes each: 680 in all
        strcat(text, unit);
        want[3 * i] = 5, want[3 * i + 1] = 5, want[3 * i + 2] = 0;
    }
    expect_ids(t, text, 1, want, 40 * 3);
    tok_free(t);
    // A merge with an empty side (the [a, b] form) names no junction: loads, no cut, no read
    // before the string (ASan).
    static const char empty_side[] =
        "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"\": 0, \"a\": 1, \"b\": 2, \"ab\": 3},"
        " \"merges\": [[\"\", \"a\"], [\"a\", \"b\"]]}}";
    write_file(tmp_path("empty-side.json"), empty_side, sizeof empty_side - 1);
    if (!(t = tok_load(tmp_path("empty-side.json"), &e))) fail_msg("%s", e.msg);
    char ab[401];
    for (int i = 0; i < 400; i++) ab[i] = i % 2 ? 'b' : 'a';
    ab[400] = '\0';
    int32_t want_ab[200];
    for (int i = 0; i < 200; i++) want_ab[i] = 3;
    expect_ids(t, ab, 1, want_ab, 200);
    tok_free(t);
}

static void test_bad_inputs(void **state) {
    (void)state;
    char p[512];
    // A minimal valid file first, so the failures below are about the damage only.
    snprintf(p, sizeof p, "%s", tmp_path("ok.json"));
    write_file(p, MINI_JSON, sizeof MINI_JSON - 1);
    ah_err e = {0};
    tok_tokenizer *t = tok_load(p, &e);
    if (!t) fail_msg("%s", e.msg);
    int32_t *ids;
    size_t n;
    assert_int_equal(tok_encode(t, "ab a", 4, 1, &ids, &n, &e), 0);
    assert_int_equal(n, 3);
    assert_int_equal(ids[0], 2);
    assert_int_equal(ids[1], 3);
    assert_int_equal(ids[2], 0);
    free(ids);
    // Invalid UTF-8 text: error naming the byte offset.
    assert_int_equal(tok_encode(t, "ab\xff", 3, 1, &ids, &n, &e), -1);
    assert_non_null(strstr(e.msg, "byte offset 2"));
    assert_int_equal(tok_encode(t, "a\xe2\x82", 3, 1, &ids, &n, &e), -1);   // truncated char
    assert_non_null(strstr(e.msg, "byte offset 1"));
    tok_free(t);

    write_file(tmp_path("trunc.json"), MINI_JSON, 40);
    expect_load_error(tmp_path("trunc.json"), "trunc.json: invalid JSON");
    const char novocab[] = "{\"model\": {\"type\": \"BPE\", \"merges\": []}}";
    write_file(tmp_path("novocab.json"), novocab, sizeof novocab - 1);
    expect_load_error(tmp_path("novocab.json"), "model.vocab missing");
    const char badmerge[] = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2},"
                            " \"merges\": [\"a b\", \"a b c\"]}}";
    write_file(tmp_path("badmerge.json"), badmerge, sizeof badmerge - 1);
    expect_load_error(tmp_path("badmerge.json"), "merges line 2 invalid");
    const char oov[] = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1},"
                       " \"merges\": [\"a b\"]}}";
    write_file(tmp_path("oov.json"), oov, sizeof oov - 1);
    expect_load_error(tmp_path("oov.json"), "not in vocab");
    const char wordpiece[] = "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}}}";
    write_file(tmp_path("wp.json"), wordpiece, sizeof wordpiece - 1);
    expect_load_error(tmp_path("wp.json"), "not supported");
    write_file(tmp_path("notobj.json"), "[1, 2]", 6);
    expect_load_error(tmp_path("notobj.json"), "top level");

    // vocab.json + merges.txt folder with a bad merges line.
    snprintf(p, sizeof p, "%s/vm", g_tmp);
    mkdir(p, 0700);
    write_file(tmp_path("vm/vocab.json"), "{\"a\": 0, \"b\": 1, \"ab\": 2}", 25);
    write_file(tmp_path("vm/merges.txt"), "#version: 0.2\na b\nab\n", 21);
    expect_load_error(p, "merges line 3 invalid");
    write_file(tmp_path("vm/merges.txt"), "#version: 0.2\na b\n", 18);
    t = tok_load(p, &e);
    if (!t) fail_msg("%s", e.msg);
    tok_free(t);
    expect_load_error(tmp_path("missing-dir"), "missing-dir");
    snprintf(p, sizeof p, "%s/empty", g_tmp);
    mkdir(p, 0700);
    expect_load_error(p, "no tokenizer.json");

    // Truncated / malformed llama2.c tokenizer.bin.
    unsigned char bin[64];
    int32_t maxlen = 4, l = 1;
    float sc = 0.0f;
    memcpy(bin, &maxlen, 4);
    memcpy(bin + 4, &sc, 4);
    memcpy(bin + 8, &l, 4);
    bin[12] = 'a';
    memcpy(bin + 13, &sc, 4);
    l = 3;
    memcpy(bin + 17, &l, 4);
    memcpy(bin + 21, "bcd", 3);
    write_file(tmp_path("ok.bin"), bin, 24);
    t = tok_load(tmp_path("ok.bin"), &e);
    if (!t) fail_msg("%s", e.msg);
    assert_int_equal(tok_vocab_size(t), 2);
    tok_free(t);
    write_file(tmp_path("trunc.bin"), bin, 22);
    expect_load_error(tmp_path("trunc.bin"), "trunc.bin: token 1");
    write_file(tmp_path("trunc2.bin"), bin, 15);
    expect_load_error(tmp_path("trunc2.bin"), "truncated");
    write_file(tmp_path("tiny.bin"), bin, 2);
    expect_load_error(tmp_path("tiny.bin"), "truncated");
    l = -5;
    memcpy(bin + 8, &l, 4);
    write_file(tmp_path("neg.bin"), bin, 24);
    expect_load_error(tmp_path("neg.bin"), "invalid");
    assert_int_equal(tok_vocab_size(NULL), 0);
    tok_free(NULL);
}

// ---------------------------------------------------------------------------------------------
// Added tokens and regex limits (issue 23 items 5 and 6)

// Loads a tokenizer.json written from text; fails the test when it does not load.
static tok_tokenizer *load_json_text(const char *name, const char *json) {
    write_file(tmp_path(name), json, strlen(json));
    ah_err e = {0};
    tok_tokenizer *t = tok_load(tmp_path(name), &e);
    if (!t) fail_msg("%s", e.msg);
    return t;
}

// Leftmost-longest, single_word, lstrip/rstrip, a repeated text taking the later id, two texts
// with one id, and the decoder printing added content (the first text of an id). Expected ids are those of the linear-search matcher this
// trie replaced (same outputs from the binary of the starting commit).
static const char ADDED_JSON[] =
    "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2, \"\xc4\xa0\": 3},"
    " \"merges\": [\"a b\"]}, \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false},"
    " \"added_tokens\": [{\"id\": 4, \"content\": \"aa\"}, {\"id\": 5, \"content\": \"aab\"},"
    " {\"id\": 6, \"content\": \"bb\", \"single_word\": true},"
    " {\"id\": 7, \"content\": \"ba\", \"lstrip\": true, \"rstrip\": true},"
    " {\"id\": 8, \"content\": \"aa\"}, {\"id\": 5, \"content\": \"bab\"}]}";

static void test_added_tokens(void **state) {
    (void)state;
    tok_tokenizer *t = load_json_text("added.json", ADDED_JSON);
    expect_ids(t, "aab", 0, (const int32_t[]){5}, 1);
    expect_ids(t, "aa a", 0, (const int32_t[]){8, 3, 0}, 3);
    expect_ids(t, "a bb a", 0, (const int32_t[]){0, 3, 6, 3, 0}, 5);
    expect_ids(t, "abba", 0, (const int32_t[]){2, 7}, 2);
    expect_ids(t, "a  ba  b", 0, (const int32_t[]){0, 7, 1}, 3);
    expect_ids(t, "aaab", 0, (const int32_t[]){8, 2}, 2);
    expect_ids(t, "baab", 0, (const int32_t[]){7, 2}, 2);
    char buf[16];
    assert_int_equal(tok_decode_piece(t, 8, buf, sizeof buf), 2);
    assert_memory_equal(buf, "aa", 2);
    assert_int_equal(tok_decode_piece(t, 4, buf, sizeof buf), 0);   // "aa" moved to id 8
    assert_int_equal(tok_decode_piece(t, 2, buf, sizeof buf), 2);
    assert_int_equal(tok_decode_piece(t, 5, buf, sizeof buf), 3);   // the first text of id 5
    assert_memory_equal(buf, "aab", 3);
    expect_ids(t, "abab", 0, (const int32_t[]){0, 5}, 2);
    tok_free(t);
}

// A PCRE2 match-limit error is an error naming the file and the pattern, not "no more
// matches" (which left the rest of the text as one piece and tokenized it differently).
static const char REDOS_JSON[] = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"!\": 1}, "
    "\"merges\": []}, \"pre_tokenizer\": {\"type\": \"Split\", \"behavior\": \"Isolated\", "
    "\"pattern\": {\"Regex\": \"(a+)+b|[\\\\s\\\\S]\"}}}";

static void test_regex_limit(void **state) {
    (void)state;
    tok_tokenizer *t = load_json_text("redos.json", REDOS_JSON);
    expect_ids(t, "a!a", 0, (const int32_t[]){0, 1, 0}, 3);
    char text[64];
    memset(text, 'a', 40);   // (a+)+b on 40 a's: 2^40 steps, over any limit
    strcpy(text + 40, "!");
    int32_t *ids = NULL;
    size_t n;
    ah_err e = {0};
    assert_int_equal(tok_encode(t, text, strlen(text), 0, &ids, &n, &e), -1);
    assert_null(ids);
    if (!strstr(e.msg, "redos.json: pre_tokenizer Split regex '(a+)+b|[\\s\\S]'") ||
        !strstr(e.msg, "work budget"))
        fail_msg("unexpected message: %s", e.msg);
    tok_free(t);
}

// ---------------------------------------------------------------------------------------------

static int make_opt_dir(void) {
    char src[PATH_MAX], real[PATH_MAX], dst[512];
    snprintf(g_optdir, sizeof g_optdir, "%s/opt-125m", g_tmp);
    if (mkdir(g_optdir, 0700)) return -1;
    const char *files[] = {"vocab.json", "merges.txt"};
    for (int i = 0; i < 2; i++) {
        snprintf(src, sizeof src, "%s/tokenizers/opt-125m/%s", shared_data_dir(), files[i]);
        if (!realpath(src, real)) return -1;
        snprintf(dst, sizeof dst, "%s/%s", g_optdir, files[i]);
        if (symlink(real, dst)) return -1;
    }
    snprintf(dst, sizeof dst, "%s/config.json", g_optdir);
    FILE *f = fopen(dst, "w");
    if (!f) return -1;
    fputs("{\"model_type\": \"opt\"}\n", f);
    fclose(f);
    return 0;
}

int main(void) {
    snprintf(g_tmp, sizeof g_tmp, "/tmp/ah_test_tok_XXXXXX");
    if (!mkdtemp(g_tmp)) { perror("mkdtemp"); return 1; }
    const struct CMUnitTest offline[] = {cmocka_unit_test(test_bad_inputs),
                                         cmocka_unit_test(test_long_word_cuts),
                                         cmocka_unit_test(test_added_tokens),
                                         cmocka_unit_test(test_regex_limit)};
    int rc = cmocka_run_group_tests_name("tokenizer (no data)", offline, NULL, NULL);
    char probe[512];
    snprintf(probe, sizeof probe, "%s/tokenizers/gpt2/vocab.json", shared_data_dir());
    if (!rc && !ah_is_file(probe)) {
        printf("skipped: %s absent (set AH_SHARED_DATA); reference-data tests not run\n",
               shared_data_dir());
        rc = 77;
    } else if (!rc) {
        if (make_opt_dir()) { perror("opt folder"); return 1; }
        const struct CMUnitTest data[] = {
            cmocka_unit_test(test_strings_gpt2),   cmocka_unit_test(test_strings_llama2),
            cmocka_unit_test(test_strings_opt),    cmocka_unit_test(test_strings_qwen2),
            cmocka_unit_test(test_strings_smollm), cmocka_unit_test(test_llama2c),
            cmocka_unit_test(test_wikitext2_full),
        };
        rc = cmocka_run_group_tests_name("tokenizer (reference data)", data, NULL, NULL);
    }
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    if (system(cmd)) {}
    return rc;
}
