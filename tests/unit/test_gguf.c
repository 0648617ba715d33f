// test_gguf.c — io/gguf_write (the GGUF v3 byte layout), io/gguf_read (reading it back, block
// dequantization) and text/tok_vocab (a tokenizer in llama.cpp's terms). The expected bytes are assembled by hand from ggml's docs/gguf.md: magic
// "GGUF", u32 version 3, u64 tensor count, u64 kv count, kv (u64-length key, u32 type, value),
// tensor infos (name, u32 n_dims, u64 ne[], u32 type, u64 offset), zero padding to 32, data
// padded to 32. The real loader's verdict on whole files is tests/cli/test_interop_gguf.sh.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/mem.h"
#include "io/gguf_read.h"
#include "io/gguf_write.h"
#include "text/tok_vocab.h"
#include "testutil.h"

// The data of the two tensors below: t0 F32 ne {3, 2} = rows {1,2,3}, {4,5,6}; t1 F16 {2}.
static int fill(void *ctx, size_t i, void *buf, uint64_t off, size_t len, ah_err *e) {
    (void)ctx, (void)e;
    static const float t0[6] = {1, 2, 3, 4, 5, 6};
    static const uint16_t t1[2] = {0x3c00, 0xc000};   // f16 1.0, -2.0
    memcpy(buf, (i == 0 ? (const uint8_t *)t0 : (const uint8_t *)t1) + off, len);
    return 0;
}

// Appends to a byte vector (the expected file).
typedef struct { uint8_t b[1024]; size_t n; } bytes;
static void put(bytes *v, const void *p, size_t n) { memcpy(v->b + v->n, p, n); v->n += n; }
static void u32(bytes *v, uint32_t x) { put(v, &x, 4); }
static void u64(bytes *v, uint64_t x) { put(v, &x, 8); }
static void str(bytes *v, const char *s) { u64(v, strlen(s)); put(v, s, strlen(s)); }
static void pad(bytes *v) { while (v->n % 32) v->b[v->n++] = 0; }

static void test_layout(void **state) {
    (void)state;
    ah_err e = {{0}};
    gguf_w *w = gguf_w_new(&e);
    assert_non_null(w);
    const char *toks[] = {"a", "bc"};
    const float sc[] = {0.5f, -1.0f};
    assert_int_equal(gguf_w_str(w, "general.architecture", "llama", &e), 0);
    assert_int_equal(gguf_w_u32(w, "llama.block_count", 7, &e), 0);
    assert_int_equal(gguf_w_f32(w, "llama.rope.freq_base", 10000.0f, &e), 0);
    assert_int_equal(gguf_w_bool(w, "tokenizer.ggml.add_bos_token", 1, &e), 0);
    assert_int_equal(gguf_w_arr_str(w, "tokenizer.ggml.tokens", toks, NULL, 2, &e), 0);
    assert_int_equal(gguf_w_arr_f32(w, "tokenizer.ggml.scores", sc, 2, &e), 0);
    uint64_t ne0[2] = {3, 2}, ne1[1] = {2};
    assert_int_equal(gguf_w_tensor(w, "t0", GGML_T_F32, 2, ne0, &e), 0);
    assert_int_equal(gguf_w_tensor(w, "t1", GGML_T_F16, 1, ne1, &e), 0);
    assert_int_equal(gguf_w_tensor_bytes(w, 0), 24);
    assert_int_equal(gguf_w_tensor_bytes(w, 1), 4);
    char path[] = "/tmp/test_gguf_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    int rc = gguf_w_write(w, path, fill, NULL, &e);
    gguf_w_free(w);
    if (rc) fail_msg("%s", e.msg);

    bytes x = {{0}, 0};
    put(&x, "GGUF", 4); u32(&x, 3); u64(&x, 2); u64(&x, 6);
    str(&x, "general.architecture"); u32(&x, 8); str(&x, "llama");
    str(&x, "llama.block_count"); u32(&x, 4); u32(&x, 7);
    str(&x, "llama.rope.freq_base"); u32(&x, 6);
    float f = 10000.0f; put(&x, &f, 4);
    str(&x, "tokenizer.ggml.add_bos_token"); u32(&x, 7); x.b[x.n++] = 1;
    str(&x, "tokenizer.ggml.tokens"); u32(&x, 9); u32(&x, 8); u64(&x, 2); str(&x, "a"); str(&x, "bc");
    str(&x, "tokenizer.ggml.scores"); u32(&x, 9); u32(&x, 6); u64(&x, 2); put(&x, sc, 8);
    str(&x, "t0"); u32(&x, 2); u64(&x, 3); u64(&x, 2); u32(&x, 0); u64(&x, 0);
    str(&x, "t1"); u32(&x, 1); u64(&x, 2); u32(&x, 1); u64(&x, 32);   // 24 bytes padded to 32
    pad(&x);
    const float t0[6] = {1, 2, 3, 4, 5, 6};
    put(&x, t0, 24); pad(&x);
    const uint16_t t1[2] = {0x3c00, 0xc000};
    put(&x, t1, 4); pad(&x);

    size_t len;
    char *got = ah_read_file(path, &len, &e);
    unlink(path);
    assert_non_null(got);
    assert_int_equal(len, x.n);
    for (size_t i = 0; i < len; i++)
        if ((uint8_t)got[i] != x.b[i]) fail_msg("byte %zu: 0x%02x, expected 0x%02x", i, (uint8_t)got[i], x.b[i]);
    free(got);
}

static void test_refusals(void **state) {
    (void)state;
    ah_err e = {{0}};
    gguf_w *w = gguf_w_new(&e);
    uint64_t ne[1] = {4}, zero[1] = {0};
    char longname[70];
    memset(longname, 'a', 64);
    longname[64] = 0;   // 64 bytes: llama.cpp's GGML_MAX_NAME, one too many
    assert_int_equal(gguf_w_tensor(w, longname, GGML_T_F32, 1, ne, &e), -1);
    assert_non_null(strstr(e.msg, "1 to 63 bytes"));
    assert_int_equal(gguf_w_tensor(w, "x", GGML_T_F32, 1, zero, &e), -1);
    assert_int_equal(gguf_w_tensor(w, "x", GGML_T_F32, 5, ne, &e), -1);
    gguf_w_free(w);
    gguf_w_free(NULL);
}

// llama2.c's tok512-style fixture tokenizer: SentencePiece terms.
static void test_vocab_llama2c(void **state) {
    (void)state;
    ah_err e = {{0}};
    tok_tokenizer *t = tok_load("tests/fixtures/llama2c/tokenizer.bin", &e);
    if (!t) fail_msg("%s", e.msg);
    tok_vocab v;
    int n = tok_vocab_size(t);
    if (tok_vocab_get(&v, t, n + 3, &e)) fail_msg("%s", e.msg);
    assert_int_equal(v.kind, TOK_VOCAB_SPM);
    assert_int_equal(v.n, n + 3);
    assert_string_equal(v.text[0], "<unk>");
    assert_string_equal(v.text[1], "<s>");
    assert_string_equal(v.text[2], "</s>");
    assert_int_equal(v.type[0], TOK_TYPE_UNKNOWN);
    assert_int_equal(v.type[1], TOK_TYPE_CONTROL);
    assert_int_equal(v.bos, 1);
    assert_int_equal(v.eos, 2);
    assert_true(v.add_bos);
    assert_true(v.add_space_prefix);
    int bytes = 0, spaces = 0;
    for (int i = 0; i < n; i++) {
        bytes += v.type[i] == TOK_TYPE_BYTE;
        assert_null(strchr(v.text[i], ' '));   // every space is U+2581 now
        spaces += strstr(v.text[i], "\xe2\x96\x81") != NULL;
    }
    assert_int_equal(bytes, 256);
    assert_true(spaces > 0);
    char pad[32];
    snprintf(pad, sizeof pad, "[PAD%d]", n + 2);
    assert_string_equal(v.text[n + 2], pad);
    assert_int_equal(v.type[n + 2], TOK_TYPE_UNUSED);
    tok_vocab_free(&v);
    assert_int_equal(tok_vocab_get(&v, t, n - 1, &e), -1);   // more ids than embedding rows
    assert_non_null(strstr(e.msg, "embedding"));
    tok_free(t);
}

// The bundled model's byte-level BPE: gpt2 with GPT-2's pre-tokenizer, merges in rank order.
static void test_vocab_bpe(void **state) {
    (void)state;
    ah_err e = {{0}};
    tok_tokenizer *t = tok_load("models/tinyprose", &e);
    if (!t) fail_msg("%s", e.msg);
    tok_vocab v;
    if (tok_vocab_get(&v, t, 4096, &e)) fail_msg("%s", e.msg);
    assert_int_equal(v.kind, TOK_VOCAB_BPE);
    assert_string_equal(v.pre, "gpt-2");
    assert_string_equal(v.text[0], "<|endoftext|>");
    assert_int_equal(v.type[0], TOK_TYPE_CONTROL);
    assert_int_equal(v.type[1], TOK_TYPE_NORMAL);
    assert_int_equal(v.n_merges, 4096 - 257);   // every token but the 256 bytes and the special
    assert_string_equal(v.merges[0], "\xc4\xa0 t");   // "Ġ t": tokenizer.json's first merge
    assert_int_equal(v.bos, 0);
    assert_true(v.add_bos);
    tok_vocab_free(&v);
    tok_vocab_free(&v);   // freeing twice is harmless: it zeroes
    tok_free(t);
}

// Blocks built by hand from FORMATS.md 4.1 (d = 0.5, m = -2 as fp16 0x3800 / 0xc000): byte k
// of the nibbles holds value k (low) and value k + 16 (high).
static uint8_t q4_0[18], q4_1[20], q8_0[34];
static void make_blocks(void) {
    const uint16_t d = 0x3800, m = 0xc000;   // 0.5, -2.0
    memcpy(q4_0, &d, 2);
    memcpy(q4_1, &d, 2);
    memcpy(q4_1 + 2, &m, 2);
    memcpy(q8_0, &d, 2);
    for (int k = 0; k < 16; k++) {
        q4_0[2 + k] = (uint8_t)(k | (15 - k) << 4);   // value k: code k, value k + 16: 15 - k
        q4_1[4 + k] = (uint8_t)(k | (15 - k) << 4);
    }
    for (int k = 0; k < 32; k++) q8_0[2 + k] = (uint8_t)(int8_t)(k * 8 - 128);
}

static int fill_blocks(void *ctx, size_t i, void *buf, uint64_t off, size_t len, ah_err *e) {
    (void)ctx, (void)e;
    static const float f32[2] = {1.5f, -3.0f};
    const uint8_t *src[] = {(const uint8_t *)f32, q4_0, q4_1, q8_0};
    memcpy(buf, src[i] + off, len);
    return 0;
}

// The writer's file read back: every key with its type, every tensor's dims, type and bytes,
// and the blocks dequantized as llama.cpp's dequantize_row_* (values worked out by hand).
static void test_read_back(void **state) {
    (void)state;
    ah_err e = {{0}};
    make_blocks();
    gguf_w *w = gguf_w_new(&e);
    const char *toks[] = {"a", "bc", ""};
    const int32_t types[] = {1, 3, 6};
    assert_int_equal(gguf_w_str(w, "general.architecture", "qwen2", &e), 0);
    assert_int_equal(gguf_w_u32(w, "qwen2.block_count", 7, &e), 0);
    assert_int_equal(gguf_w_i32(w, "neg", -5, &e), 0);
    assert_int_equal(gguf_w_f32(w, "qwen2.rope.freq_base", 1e6f, &e), 0);
    assert_int_equal(gguf_w_bool(w, "tokenizer.ggml.add_bos_token", 1, &e), 0);
    assert_int_equal(gguf_w_arr_str(w, "tokenizer.ggml.tokens", toks, NULL, 3, &e), 0);
    assert_int_equal(gguf_w_arr_i32(w, "tokenizer.ggml.token_type", types, 3, &e), 0);
    uint64_t ne_f[1] = {2}, ne_q[2] = {32, 1};
    assert_int_equal(gguf_w_tensor(w, "f", GGML_T_F32, 1, ne_f, &e), 0);
    assert_int_equal(gguf_w_tensor(w, "q4_0", GGML_T_Q4_0, 2, ne_q, &e), 0);
    assert_int_equal(gguf_w_tensor(w, "q4_1", GGML_T_Q4_1, 2, ne_q, &e), 0);
    assert_int_equal(gguf_w_tensor(w, "q8_0", GGML_T_Q8_0, 2, ne_q, &e), 0);
    char path[] = "/tmp/test_gguf_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    int rc = gguf_w_write(w, path, fill_blocks, NULL, &e);
    gguf_w_free(w);
    if (rc) fail_msg("%s", e.msg);
    gguf_file *f = gguf_open(path, &e);
    unlink(path);
    if (!f) fail_msg("%s", e.msg);

    int64_t v = 0;
    float x = 0;
    const char *s;
    size_t n;
    assert_int_equal(gguf_kv_count(f), 7);
    assert_int_equal(gguf_get_str(f, "general.architecture", &s, &n, &e), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(s, "qwen2", 5);
    assert_int_equal(gguf_get_int(f, "qwen2.block_count", 0, 100, &v, &e), 0);
    assert_int_equal(v, 7);
    assert_int_equal(gguf_get_int(f, "qwen2.block_count", 0, 6, &v, &e), -1);   // out of range
    assert_non_null(strstr(e.msg, "'qwen2.block_count' is 7, outside [0, 6]"));
    assert_int_equal(gguf_get_int(f, "neg", -10, 0, &v, &e), 0);
    assert_int_equal(v, -5);
    assert_int_equal(gguf_get_int(f, "tokenizer.ggml.add_bos_token", 0, 1, &v, &e), 0);
    assert_int_equal(v, 1);
    assert_int_equal(gguf_get_f32(f, "qwen2.rope.freq_base", &x, &e), 0);
    assert_true(x == 1e6f);
    assert_int_equal(gguf_get_int(f, "no.such.key", 0, 1, &v, &e), 1);
    assert_int_equal(gguf_get_str(f, "qwen2.block_count", &s, &n, &e), -1);   // a u32, not a string
    const gguf_kv *kv;
    assert_int_equal(gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_STRING, &kv, &e), 0);
    assert_int_equal(kv->n, 3);
    const uint8_t *p = kv->val;
    uint64_t len;
    for (int i = 0; i < 3; i++) {
        p = gguf_str_next(p, &s, &len);
        assert_int_equal(len, strlen(toks[i]));
        assert_memory_equal(s, toks[i], len);
    }
    assert_int_equal(gguf_get_arr(f, "tokenizer.ggml.token_type", GGUF_I32, &kv, &e), 0);
    assert_int_equal(gguf_arr_int(kv, 2), 6);
    assert_int_equal(gguf_get_arr(f, "tokenizer.ggml.token_type", GGUF_F32, &kv, &e), -1);

    assert_int_equal(gguf_tensor_count(f), 4);
    const gguf_tensor *t = gguf_find_tensor(f, "f");
    assert_non_null(t);
    assert_int_equal(t->ndim, 1);
    assert_int_equal(t->ne[0], 2);
    assert_int_equal(t->nbytes, 8);
    float y[32];
    gguf_dequant_row(y, t->data, t->type, 2);
    assert_true(y[0] == 1.5f && y[1] == -3.0f);
    t = gguf_find_tensor(f, "q4_0");
    assert_int_equal(t->type, GGML_T_Q4_0);
    assert_int_equal(t->nbytes, 18);
    assert_int_equal((uintptr_t)((const uint8_t *)t->data - (const uint8_t *)gguf_find_tensor(f, "f")->data) % 32, 0);
    gguf_dequant_row(y, t->data, t->type, 32);
    for (int k = 0; k < 16; k++) {   // (q - 8) * 0.5
        assert_true(y[k] == (float)(k - 8) * 0.5f);
        assert_true(y[k + 16] == (float)(15 - k - 8) * 0.5f);
    }
    gguf_dequant_row(y, gguf_find_tensor(f, "q4_1")->data, GGML_T_Q4_1, 32);
    for (int k = 0; k < 16; k++) {   // q * 0.5 - 2
        assert_true(y[k] == (float)k * 0.5f - 2.0f);
        assert_true(y[k + 16] == (float)(15 - k) * 0.5f - 2.0f);
    }
    gguf_dequant_row(y, gguf_find_tensor(f, "q8_0")->data, GGML_T_Q8_0, 32);
    for (int k = 0; k < 32; k++) assert_true(y[k] == (float)(k * 8 - 128) * 0.5f);
    assert_null(gguf_find_tensor(f, "nope"));
    gguf_close(f);
    gguf_close(NULL);
}

static int fill_zero(void *ctx, size_t i, void *buf, uint64_t off, size_t len, ah_err *e) {
    (void)ctx, (void)i, (void)off, (void)e;
    memset(buf, 0, len);
    return 0;
}

// Damaged headers in memory: each refused with the name given and the reason.
static void test_read_refusals(void **state) {
    (void)state;
    ah_err e = {{0}};
    uint8_t b[64] = {0};
    assert_null(gguf_open_mem(NULL, 0, "empty.gguf", &e));
    assert_non_null(strstr(e.msg, "empty.gguf: not a GGUF file (bad magic"));
    memcpy(b, "GGUF", 4);
    b[4] = 4;   // version 4
    assert_null(gguf_open_mem(b, sizeof b, "v4.gguf", &e));
    assert_non_null(strstr(e.msg, "GGUF version 4"));
    b[4] = 3;
    b[8] = 200;   // 200 tensors in 64 bytes
    assert_null(gguf_open_mem(b, sizeof b, "count.gguf", &e));
    assert_non_null(strstr(e.msg, "tensor count 200 cannot fit"));
    b[8] = 0;
    b[16] = 1;   // one key-value: its key length runs past the end
    memset(b + 24, 0xff, 8);
    assert_null(gguf_open_mem(b, sizeof b, "key.gguf", &e));
    assert_non_null(strstr(e.msg, "key.gguf: truncated: key-value 0 needs"));
    b[16] = 0;
    gguf_file *f = gguf_open_mem(b, 24, "none.gguf", &e);   // an empty but valid file
    assert_non_null(f);
    assert_int_equal(gguf_tensor_count(f), 0);
    gguf_close(f);

    // A repeated key, a repeated tensor name: the writer does not check, the reader refuses.
    const char *what[] = {"key 'k' appears twice", "tensor 't' appears twice"};
    for (int rep = 0; rep < 2; rep++) {
        gguf_w *w = gguf_w_new(&e);
        uint64_t ne[1] = {2};
        assert_int_equal(gguf_w_u32(w, "k", 1, &e), 0);
        assert_int_equal(gguf_w_u32(w, rep ? "k2" : "k", 2, &e), 0);
        assert_int_equal(gguf_w_tensor(w, "t", GGML_T_F32, 1, ne, &e), 0);
        assert_int_equal(gguf_w_tensor(w, rep ? "t" : "u", GGML_T_F32, 1, ne, &e), 0);
        char path[] = "/tmp/test_gguf_XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        close(fd);
        int rc = gguf_w_write(w, path, fill_zero, NULL, &e);
        gguf_w_free(w);
        if (rc) fail_msg("%s", e.msg);
        assert_null(gguf_open(path, &e));
        unlink(path);
        assert_non_null(strstr(e.msg, what[rep]));
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout), cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_vocab_llama2c), cmocka_unit_test(test_vocab_bpe),
        cmocka_unit_test(test_read_back), cmocka_unit_test(test_read_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
