// test_safetensors.c — io/safetensors: write -> open round trips (F32/F16/BF16, 0-d and
// 0-element tensors, metadata), sharded index directories, and malformed files that must each
// give an error naming the file (never a crash). Quiet on success; AH_VERBOSE=1 prints the
// error messages the malformed cases produce.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/half.h"
#include "core/mem.h"
#include "io/safetensors.h"
#include "testutil.h"

static char g_dir[256];   // per-run temp directory

// ---------------------------------------------------------------------------------------------
// helpers

static const char *tpath(const char *name) {
    static char buf[8][512];
    static int k;
    char *p = buf[k++ & 7];
    snprintf(p, 512, "%s/%s", g_dir, name);
    return p;
}

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (n) assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

// A safetensors file with header text hdr (length field = strlen(hdr)) and ndata data bytes.
static void write_st(const char *path, const char *hdr, size_t ndata) {
    size_t hl = strlen(hdr);
    uint8_t *b = calloc(1, 8 + hl + ndata + 1);
    assert_non_null(b);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, hdr, hl);
    for (size_t i = 0; i < ndata; i++) b[8 + hl + i] = (uint8_t)i;
    write_bytes(path, b, 8 + hl + ndata);
    free(b);
}

// st_open(path) must fail, with a message naming `must_name` (and containing `also` if set).
static void expect_open_error(const char *path, const char *must_name, const char *also) {
    ah_err e = {{0}};
    st_set *s = st_open(path, &e);
    if (test_verbose()) fprintf(stderr, "  error: %s\n", e.msg);
    if (s) {
        st_close(s);
        fail_msg("%s: opened, expected an error", path);
    }
    if (!strstr(e.msg, must_name)) fail_msg("error does not name '%s': %s", must_name, e.msg);
    if (also && !strstr(e.msg, also)) fail_msg("error does not mention '%s': %s", also, e.msg);
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

static int setup(void **state) {
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/ah_test_st_XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    return nftw(g_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

// ---------------------------------------------------------------------------------------------
// round trips

static void test_dtype_table(void **state) {
    (void)state;
    assert_string_equal(st_dtype_name(ST_BF16), "BF16");
    assert_int_equal(st_dtype_size(ST_F32), 4);
    assert_int_equal(st_dtype_size(ST_F16), 2);
    assert_int_equal(st_dtype_size(ST_BF16), 2);
    assert_int_equal(st_dtype_size(ST_I64), 8);
    assert_int_equal(st_dtype_size(ST_U8), 1);
}

static void test_roundtrip(void **state) {
    (void)state;
    // Values exactly representable in F16 and BF16 so widening must give them back bit for bit.
    enum { N = 2 * 3 * 4 };
    float ref[N];
    uint16_t f16[N], bf16[N];
    for (int i = 0; i < N; i++) {
        ref[i] = (float)(i - 11) * 0.5f;
        f16[i] = ah_f32_to_f16(ref[i]);
        bf16[i] = ah_f32_to_bf16(ref[i]);
    }
    float scalar = 3.25f;
    int32_t ints[5] = {-2, -1, 0, 1, 2};
    st_write_tensor w[] = {
        {"a.f32", ST_F32, 3, {2, 3, 4}, ref},
        {"b.f16", ST_F16, 2, {6, 4}, f16},
        {"c.bf16", ST_BF16, 1, {N}, bf16},
        {"d.scalar", ST_F32, 0, {0}, &scalar},
        {"e.empty", ST_F16, 2, {0, 7}, NULL},
        {"f.i32", ST_I32, 1, {5}, ints},
        {"g.4d", ST_BF16, 4, {1, 2, 3, 4}, bf16},
    };
    size_t nw = sizeof w / sizeof w[0];
    const char *path = tpath("rt.safetensors");
    ah_err e = {{0}};
    assert_int_equal(st_write(path, w, nw, "{\"format\": \"pt\", \"note\": \"unit test\"}", &e), 0);
    assert_int_equal(access(tpath("rt.safetensors.tmp"), F_OK), -1);   // temp file renamed away

    // The header is padded with spaces to a multiple of 8 and starts with __metadata__.
    size_t flen;
    char *raw = ah_read_file(path, &flen, &e);
    assert_non_null(raw);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = (hl << 8) | (uint8_t)raw[i];
    assert_int_equal(hl % 8, 0);
    assert_true(strncmp(raw + 8, "{\"__metadata__\":", 16) == 0);
    assert_int_equal(flen, 8 + hl + (N * 4 + N * 2 + N * 2 + 4 + 0 + 20 + N * 2));
    free(raw);

    st_set *s = st_open(path, &e);
    if (!s) fail_msg("%s", e.msg);
    assert_int_equal(st_count(s), nw);
    for (size_t i = 0; i < nw; i++) {   // header order is kept
        const st_tensor *t = st_at(s, i);
        assert_string_equal(t->name, w[i].name);
        assert_int_equal(t->dtype, w[i].dtype);
        assert_int_equal(t->ndim, w[i].ndim);
        for (int d = 0; d < t->ndim; d++) assert_int_equal(t->shape[d], w[i].shape[d]);
        assert_string_equal(t->file, path);
        assert_ptr_equal(st_find(s, w[i].name), t);
    }
    assert_null(st_at(s, nw));
    assert_null(st_find(s, "nope"));
    assert_null(st_find(s, "__metadata__"));

    float got[N];
    const char *fl[] = {"a.f32", "b.f16", "c.bf16", "g.4d"};
    for (int k = 0; k < 4; k++) {
        const st_tensor *t = st_find(s, fl[k]);
        assert_non_null(t);
        assert_int_equal(t->numel, N);
        memset(got, 0xff, sizeof got);
        assert_int_equal(st_to_f32(got, t, &e), 0);
        assert_int_equal(check_tensor(fl[k], got, ref, N, 0.0, 0.0), 0);
    }
    const st_tensor *t = st_find(s, "d.scalar");
    assert_int_equal(t->ndim, 0);
    assert_int_equal(t->numel, 1);
    assert_int_equal(st_to_f32(got, t, &e), 0);
    assert_true(got[0] == 3.25f);

    t = st_find(s, "e.empty");
    assert_int_equal(t->numel, 0);
    assert_int_equal(t->nbytes, 0);
    assert_int_equal(st_to_f32(got, t, &e), 0);

    t = st_find(s, "f.i32");
    assert_memory_equal(t->data, ints, sizeof ints);
    assert_int_equal(st_to_f32(got, t, &e), -1);   // not a float dtype
    assert_non_null(strstr(e.msg, "f.i32"));
    assert_non_null(strstr(e.msg, path));
    st_close(s);
    st_close(NULL);
}

// A tensor big enough to take the OpenMP path, stored at an odd (unaligned) data offset.
static void test_large_unaligned(void **state) {
    (void)state;
    size_t n = ((size_t)1 << 18) + 12345;
    uint16_t *h = malloc(n * 2);
    float *ref = malloc(n * 4), *got = malloc(n * 4);
    assert_true(h && ref && got);
    for (size_t i = 0; i < n; i++) {
        h[i] = (uint16_t)(i * 2654435761u >> 7);
        if ((h[i] & 0x7c00) == 0x7c00) h[i] &= 0xbfff;   // keep inf/nan out: check_tensor rejects them
        ref[i] = ah_f16_to_f32(h[i]);
    }
    uint8_t one = 7;
    st_write_tensor w[] = {{"pad", ST_U8, 1, {1}, &one}, {"big", ST_F16, 1, {(int64_t)n}, h}};
    const char *path = tpath("big.safetensors");
    ah_err e = {{0}};
    assert_int_equal(st_write(path, w, 2, NULL, &e), 0);
    st_set *s = st_open(path, &e);
    if (!s) fail_msg("%s", e.msg);
    const st_tensor *t = st_find(s, "big");
    assert_true(((uintptr_t)t->data & 1) == 1);
    assert_int_equal(st_to_f32(got, t, &e), 0);
    assert_int_equal(check_tensor("big f16", got, ref, n, 0.0, 0.0), 0);
    st_close(s);

    // Same data as BF16, aligned this time.
    for (size_t i = 0; i < n; i++) ref[i] = ah_bf16_to_f32(h[i]);
    w[1].dtype = ST_BF16;
    assert_int_equal(st_write(path, &w[1], 1, NULL, &e), 0);   // overwrites in place
    s = st_open(path, &e);
    if (!s) fail_msg("%s", e.msg);
    assert_int_equal(st_count(s), 1);
    assert_int_equal(st_to_f32(got, st_find(s, "big"), &e), 0);
    assert_int_equal(check_tensor("big bf16", got, ref, n, 0.0, 0.0), 0);
    st_close(s);
    free(h);
    free(ref);
    free(got);
}

// Directory holding model.safetensors.
static void test_dir_single(void **state) {
    (void)state;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/single", g_dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    char path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    float x[2] = {1, 2};
    st_write_tensor w = {"x", ST_F32, 1, {2}, x};
    ah_err e = {{0}};
    assert_int_equal(st_write(path, &w, 1, NULL, &e), 0);
    st_set *s = st_open(dir, &e);
    if (!s) fail_msg("%s", e.msg);
    assert_int_equal(st_count(s), 1);
    st_close(s);

    snprintf(dir, sizeof dir, "%s/emptydir", g_dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    expect_open_error(dir, dir, "model.safetensors");
    expect_open_error(tpath("does-not-exist.safetensors"), "does-not-exist.safetensors", NULL);
}

// Builds dir with two shards and an index; returns nothing, asserts on failure.
static void make_sharded(const char *dir, const char *index_json) {
    mkdir(dir, 0755);
    float a[4] = {1, 2, 3, 4}, b[2] = {5, 6}, c[3] = {7, 8, 9};
    st_write_tensor s1[] = {{"layer.0.a", ST_F32, 2, {2, 2}, a}, {"layer.0.b", ST_F32, 1, {2}, b}};
    st_write_tensor s2[] = {{"layer.1.c", ST_F32, 1, {3}, c}};
    char p[600];
    ah_err e = {{0}};
    snprintf(p, sizeof p, "%s/model-00001-of-00002.safetensors", dir);
    assert_int_equal(st_write(p, s1, 2, NULL, &e), 0);
    snprintf(p, sizeof p, "%s/model-00002-of-00002.safetensors", dir);
    assert_int_equal(st_write(p, s2, 1, NULL, &e), 0);
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
    write_bytes(p, index_json, strlen(index_json));
}

static void test_sharded(void **state) {
    (void)state;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/sharded", g_dir);
    make_sharded(dir, "{\"metadata\": {\"total_size\": 36}, \"weight_map\": {"
                      "\"layer.0.a\": \"model-00001-of-00002.safetensors\","
                      "\"layer.1.c\": \"model-00002-of-00002.safetensors\","
                      "\"layer.0.b\": \"model-00001-of-00002.safetensors\"}}");
    ah_err e = {{0}};
    st_set *s = st_open(dir, &e);
    if (!s) fail_msg("%s", e.msg);
    assert_int_equal(st_count(s), 3);
    const st_tensor *t = st_find(s, "layer.1.c");
    assert_non_null(t);
    assert_non_null(strstr(t->file, "model-00002-of-00002.safetensors"));
    float got[4];
    assert_int_equal(st_to_f32(got, t, &e), 0);
    assert_true(got[0] == 7 && got[2] == 9);
    t = st_find(s, "layer.0.a");
    assert_non_null(strstr(t->file, "model-00001-of-00002.safetensors"));
    assert_int_equal(st_to_f32(got, t, &e), 0);
    assert_true(got[3] == 4);
    st_close(s);

    // The index file itself may be given as the path.
    char idx[600];
    snprintf(idx, sizeof idx, "%s/model.safetensors.index.json", dir);
    s = st_open(idx, &e);
    if (!s) fail_msg("%s", e.msg);
    assert_int_equal(st_count(s), 3);
    st_close(s);
}

// ---------------------------------------------------------------------------------------------
// malformed inputs: each an error that names the file, never a crash

static void test_bad_sizes(void **state) {
    (void)state;
    const char *p = tpath("empty.safetensors");
    write_bytes(p, "", 0);
    expect_open_error(p, p, "empty");

    p = tpath("seven.safetensors");
    write_bytes(p, "\x10\0\0\0\0\0\0", 7);
    expect_open_error(p, p, NULL);

    p = tpath("eight.safetensors");   // header length 0
    write_bytes(p, "\0\0\0\0\0\0\0\0", 8);
    expect_open_error(p, p, NULL);

    p = tpath("beyond.safetensors");   // header length 1000, 10 bytes follow
    uint8_t b[18] = {0xe8, 0x03, 0, 0, 0, 0, 0, 0, '{', '}'};
    write_bytes(p, b, sizeof b);
    expect_open_error(p, p, "exceeds");

    p = tpath("huge.safetensors");   // header length 2^64 - 1
    memset(b, 0xff, 8);
    write_bytes(p, b, sizeof b);
    expect_open_error(p, p, "exceeds");

    p = tpath("bighdr.safetensors");   // header length over the 100 MB cap, in a sparse file
    uint64_t big = 100000001;
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(big >> (8 * i));
    b[8] = '{';
    write_bytes(p, b, 9);
    assert_int_equal(truncate(p, (off_t)(8 + big + 8)), 0);
    expect_open_error(p, p, "limit");

    p = tpath("README.txt");   // a text file is not a checkpoint
    const char *txt = "This is a plain text file, not a checkpoint at all.\n";
    write_bytes(p, txt, strlen(txt));
    expect_open_error(p, p, "not a safetensors file");
}

static void test_bad_json(void **state) {
    (void)state;
    const char *p = tpath("notjson.safetensors");
    write_st(p, "{\"a\": {\"dtype\": \"F32\", ", 16);
    expect_open_error(p, p, "JSON");

    p = tpath("array.safetensors");
    write_st(p, "[1, 2, 3]", 0);
    expect_open_error(p, p, NULL);

    p = tpath("string.safetensors");
    write_st(p, "\"{just a string\"", 0);
    expect_open_error(p, p, NULL);

    p = tpath("deep.safetensors");   // 100k nested arrays inside the object: must not blow the stack
    size_t depth = 100000;
    char *deep = malloc(2 * depth + 16);
    assert_non_null(deep);
    size_t k = 0;
    k += (size_t)sprintf(deep, "{\"x\":");
    for (size_t i = 0; i < depth; i++) deep[k++] = '[';
    for (size_t i = 0; i < depth; i++) deep[k++] = ']';
    deep[k++] = '}';
    deep[k] = '\0';
    write_st(p, deep, 0);
    free(deep);
    expect_open_error(p, p, NULL);

    p = tpath("dup.safetensors");
    write_st(p, "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
                " \"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}", 8);
    expect_open_error(p, p, "duplicate tensor name");

    p = tpath("entry-not-object.safetensors");
    write_st(p, "{\"w\": [1, 2]}", 0);
    expect_open_error(p, p, "'w'");
}

// One bad tensor entry per file; each error names the file and the tensor.
static void test_bad_entries(void **state) {
    (void)state;
    static const struct {
        const char *file, *hdr, *also;
        size_t ndata;
    } cases[] = {
        {"dtype.safetensors", "{\"w\": {\"dtype\": \"F8_E4M3\", \"shape\": [2], \"data_offsets\": [0, 2]}}",
         "unknown dtype 'F8_E4M3'", 2},
        {"nodtype.safetensors", "{\"w\": {\"shape\": [2], \"data_offsets\": [0, 8]}}", "dtype", 8},
        {"range.safetensors", "{\"w\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}}",
         "past", 12},
        {"endlt.safetensors", "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [8, 4]}}",
         "begin", 16},
        {"mismatch.safetensors", "{\"w\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 8]}}",
         "needs 12", 16},
        {"negdim.safetensors", "{\"w\": {\"dtype\": \"F32\", \"shape\": [2, -1], \"data_offsets\": [0, 0]}}",
         "shape", 8},
        {"floatdim.safetensors", "{\"w\": {\"dtype\": \"F32\", \"shape\": [2.0], \"data_offsets\": [0, 8]}}",
         "shape", 8},
        {"overflow.safetensors",
         "{\"w\": {\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296, 16], \"data_offsets\": [0, 0]}}",
         "overflow", 8},
        {"bytesoverflow.safetensors",
         "{\"w\": {\"dtype\": \"F64\", \"shape\": [4294967296, 1073741824], \"data_offsets\": [0, 0]}}",
         "byte size overflows", 8},
        {"toomanydims.safetensors",
         "{\"w\": {\"dtype\": \"U8\", \"shape\": [1,1,1,1,1,1,1,1,1], \"data_offsets\": [0, 1]}}",
         "dimensions", 8},
        {"negoff.safetensors", "{\"w\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [-1, 0]}}",
         "data_offsets", 8},
        {"offs3.safetensors", "{\"w\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1, 2]}}",
         "data_offsets", 8},
        {"bigoff.safetensors",
         "{\"w\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [18446744073709551615, 0]}}", NULL, 8},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *p = tpath(cases[i].file);
        write_st(p, cases[i].hdr, cases[i].ndata);
        expect_open_error(p, p, cases[i].also);
        if (i < sizeof cases / sizeof cases[0] - 1) expect_open_error(p, "'w'", NULL);
    }

    // A good entry before a bad one: the partly built set is freed (ASan/valgrind would notice).
    const char *p = tpath("goodthenbad.safetensors");
    write_st(p, "{\"__metadata__\": {\"format\": \"pt\"}, \"ok\": {\"dtype\": \"F32\", \"shape\": [2], "
                "\"data_offsets\": [0, 8]}, \"bad\": {\"dtype\": \"Q4\", \"shape\": [1], "
                "\"data_offsets\": [8, 9]}}", 9);
    expect_open_error(p, p, "unknown dtype 'Q4'");
}

static void test_bad_index(void **state) {
    (void)state;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/missing-shard", g_dir);
    make_sharded(dir, "{\"weight_map\": {\"layer.0.a\": \"model-00001-of-00002.safetensors\","
                      "\"layer.1.c\": \"model-00009-of-00009.safetensors\"}}");
    expect_open_error(dir, "model.safetensors.index.json", "model-00009-of-00009.safetensors");

    snprintf(dir, sizeof dir, "%s/absent-tensor", g_dir);
    make_sharded(dir, "{\"weight_map\": {\"layer.0.a\": \"model-00001-of-00002.safetensors\","
                      "\"layer.1.zzz\": \"model-00002-of-00002.safetensors\"}}");
    expect_open_error(dir, "model.safetensors.index.json", "layer.1.zzz");
    expect_open_error(dir, "model-00002-of-00002.safetensors", NULL);

    snprintf(dir, sizeof dir, "%s/wrong-shard", g_dir);
    make_sharded(dir, "{\"weight_map\": {\"layer.0.a\": \"model-00002-of-00002.safetensors\","
                      "\"layer.1.c\": \"model-00002-of-00002.safetensors\"}}");
    expect_open_error(dir, "model.safetensors.index.json", "layer.0.a");
    snprintf(dir, sizeof dir, "%s/misplaced", g_dir);   // present, but in another shard
    make_sharded(dir, "{\"weight_map\": {\"layer.0.b\": \"model-00001-of-00002.safetensors\","
                      "\"layer.0.a\": \"model-00002-of-00002.safetensors\","
                      "\"layer.1.c\": \"model-00002-of-00002.safetensors\"}}");
    expect_open_error(dir, "model.safetensors.index.json", "found in");

    snprintf(dir, sizeof dir, "%s/no-weight-map", g_dir);
    make_sharded(dir, "{\"metadata\": {}}");
    expect_open_error(dir, "model.safetensors.index.json", "weight_map");

    snprintf(dir, sizeof dir, "%s/escape", g_dir);
    make_sharded(dir, "{\"weight_map\": {\"x\": \"../../etc/passwd\"}}");
    expect_open_error(dir, "model.safetensors.index.json", NULL);

    snprintf(dir, sizeof dir, "%s/bad-shard", g_dir);   // a shard that is itself malformed
    make_sharded(dir, "{\"weight_map\": {\"layer.0.a\": \"model-00001-of-00002.safetensors\","
                      "\"t\": \"junk.safetensors\"}}");
    char p[600];
    snprintf(p, sizeof p, "%s/junk.safetensors", dir);
    write_bytes(p, "junk junk junk", 14);
    expect_open_error(dir, p, "not a safetensors file");

    snprintf(dir, sizeof dir, "%s/dup-across-shards", g_dir);   // one name in two shards
    make_sharded(dir, "{\"weight_map\": {\"layer.0.a\": \"model-00001-of-00002.safetensors\","
                      "\"layer.1.c\": \"dup.safetensors\"}}");
    float c[3] = {0};
    st_write_tensor w[] = {{"layer.1.c", ST_F32, 1, {3}, c}, {"layer.0.a", ST_F32, 1, {3}, c}};
    snprintf(p, sizeof p, "%s/dup.safetensors", dir);
    ah_err e = {{0}};
    assert_int_equal(st_write(p, w, 2, NULL, &e), 0);
    expect_open_error(dir, "dup.safetensors", "duplicate");
}

// ---------------------------------------------------------------------------------------------
// writer errors

static void test_write_errors(void **state) {
    (void)state;
    float x[4] = {0};
    ah_err e = {{0}};
    const char *p = tpath("nodir/sub/x.safetensors");
    st_write_tensor w = {"x", ST_F32, 1, {4}, x};
    assert_int_equal(st_write(p, &w, 1, NULL, &e), -1);
    assert_non_null(strstr(e.msg, p));

    p = tpath("w.safetensors");
    st_write_tensor dup[] = {{"x", ST_F32, 1, {4}, x}, {"x", ST_F32, 1, {4}, x}};
    assert_int_equal(st_write(p, dup, 2, NULL, &e), -1);
    assert_non_null(strstr(e.msg, "duplicate"));
    assert_non_null(strstr(e.msg, p));

    st_write_tensor neg = {"n", ST_F32, 2, {4, -1}, x};
    assert_int_equal(st_write(p, &neg, 1, NULL, &e), -1);
    assert_non_null(strstr(e.msg, "'n'"));

    assert_int_equal(st_write(p, &w, 1, "[1]", &e), -1);         // metadata not an object
    assert_int_equal(st_write(p, &w, 1, "{\"a\": 1}", &e), -1);  // non-string value
    assert_int_equal(st_write(p, &w, 1, "{bad", &e), -1);
    assert_non_null(strstr(e.msg, p));
    assert_int_equal(access(p, F_OK), -1);   // none of these left a file behind
    assert_int_equal(access(tpath("w.safetensors.tmp"), F_OK), -1);

    // "Disk full": a file-size limit makes write() come up short and then fail with EFBIG.
    // Runs in a child so the limit cannot leak into the other tests.
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {4096, 4096};
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(3);
        static float big[8192];
        st_write_tensor bw = {"big", ST_F32, 1, {8192}, big};
        ah_err ce = {{0}};
        const char *bp = tpath("full.safetensors");
        int rc = st_write(bp, &bw, 1, NULL, &ce);
        if (test_verbose()) fprintf(stderr, "  error: %s\n", ce.msg);
        if (rc != -1 || !strstr(ce.msg, bp)) _exit(1);
        if (access(bp, F_OK) == 0 || access(tpath("full.safetensors.tmp"), F_OK) == 0) _exit(2);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dtype_table),   cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_large_unaligned), cmocka_unit_test(test_dir_single),
        cmocka_unit_test(test_sharded),       cmocka_unit_test(test_bad_sizes),
        cmocka_unit_test(test_bad_json),      cmocka_unit_test(test_bad_entries),
        cmocka_unit_test(test_bad_index),     cmocka_unit_test(test_write_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
