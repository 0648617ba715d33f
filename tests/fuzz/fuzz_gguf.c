// fuzz_gguf.c — the GGUF reader (harness/io/gguf_read.c) and what reads through it: the model
// binding (harness/model/gguf_model.c via model_load) and the tokenizer (text/tok_gguf.c via
// tok_load).
//
// Input: the bytes of one model.gguf. gguf_open_mem checks the bytes in memory (every tensor
// inside them, typed reads of every key); model_load and tok_load then take the file as the
// CLI does. A loaded model has every weight widened (model_weight_f32: a bound tensor that ran
// past the mapping is an ASan report here) and heads consistent; a loaded tokenizer encodes a
// fixed sample into ids of its vocabulary, each of which decodes within its buffer.
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "io/gguf_read.h"
#include "model/model.h"
#include "text/tokenizer.h"

static void check_reader(const uint8_t *data, size_t size) {
    ah_err e = {{0}};
    gguf_file *f = gguf_open_mem(data, size, "fuzz.gguf", &e);
    if (!f) {
        FUZZ_CHECK(e.msg[0] != '\0');   // a failure always says why
        return;
    }
    for (size_t i = 0; i < gguf_tensor_count(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        const uint8_t *p = t->data;
        FUZZ_CHECK(gguf_find_tensor(f, t->name) == t);
        FUZZ_CHECK(p >= data && t->nbytes <= size && (size_t)(p - data) <= size - t->nbytes);
        // the first row, dequantized (its bytes lie inside the tensor)
        float *row = malloc((size_t)t->ne[0] * sizeof *row + 1);
        if (!row) abort();
        gguf_dequant_row(row, t->data, t->type, (size_t)t->ne[0]);
        free(row);
    }
    for (size_t i = 0; i < gguf_kv_count(f); i++) {
        const gguf_kv *kv = gguf_kv_at(f, i);
        if (kv->type != GGUF_ARRAY) continue;
        if (kv->elem == GGUF_STRING) {   // every element inside the file, as checked at open
            const uint8_t *p = kv->val;
            for (uint64_t j = 0; j < kv->n; j++) {
                const char *s;
                uint64_t n;
                p = gguf_str_next(p, &s, &n);
                FUZZ_CHECK((const uint8_t *)s >= data && p <= data + size);
            }
        } else if (kv->n > 0) {
            (void)gguf_arr_int(kv, kv->n - 1);
            (void)gguf_arr_f32(kv, kv->n - 1);
        }
    }
    gguf_close(f);
}

static void check_weight(const model_weight *w) {
    if (!w->data) return;
    size_t numel = model_weight_numel(w);
    float *out = malloc((numel ? numel : 1) * sizeof *out);
    if (!out) abort();
    ah_err e = {{0}};
    (void)model_weight_f32(out, w, &e);   // non-finite values are an error, not a bug
    free(out);
}

static void check_tokenizer(const char *path) {
    ah_err e = {{0}};
    tok_tokenizer *t = tok_load(path, &e);
    if (!t) {
        FUZZ_CHECK(e.msg[0] != '\0');
        return;
    }
    static const char sample[] = "Hello world, 123 <s> caf\xc3\xa9\n  the end";
    int32_t *ids = NULL;
    size_t n = 0;
    if (tok_encode(t, sample, sizeof sample - 1, 1, &ids, &n, &e) == 0) {
        char buf[64];
        for (size_t i = 0; i < n; i++) {
            FUZZ_CHECK(ids[i] >= 0 && ids[i] < tok_vocab_size(t));
            FUZZ_CHECK(tok_decode_piece(t, ids[i], buf, sizeof buf) <= sizeof buf);
        }
    }
    free(ids);
    tok_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    check_reader(data, size);
    const char *path = fuzz_write_file("model.gguf", data, size);
    ah_err e = {{0}};
    model *m = model_load(path, &e);
    if (!m) {
        FUZZ_CHECK(e.msg[0] != '\0');
    } else {
        const model_config *c = &m->cfg;
        FUZZ_CHECK(c->dim > 0 && c->n_heads > 0 && c->n_kv_heads > 0 && c->head_dim > 0);
        FUZZ_CHECK(c->n_heads % c->n_kv_heads == 0 && c->head_dim % 2 == 0);
        for (int g = 0; g < G_COUNT; g++) check_weight(&m->global[g]);
        for (int l = 0; l < c->n_layers; l++)
            for (int r = 0; r < L_COUNT; r++) check_weight(model_lw(m, l, r));
        model_free(m);
    }
    check_tokenizer(path);
    return 0;
}
