// tok_llama2c.c — karpathy's llama2.c tokenizer.bin: int32 max_token_length, then per token
// {f32 score, i32 len, len bytes}. The vocab size is not stored (run.c takes it from the model
// config); entries are read until EOF, and a partial entry is an error.
#include "text/tok_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

int tok_load_llama2c(tok_tokenizer *t, const char *path, ah_err *e) {
    size_t len;
    char *d = tok_check_file_size(path, e) ? NULL : ah_read_file(path, &len, e);
    if (!d) return -1;
    int rc = -1;
    int32_t maxlen, n = 0;
    if (len < 4) { ah_fail(e, "%s: truncated (no max_token_length)", path); goto done; }
    memcpy(&maxlen, d, 4);
    if (maxlen <= 0 || maxlen > (1 << 20)) {
        ah_fail(e, "%s: max_token_length %d invalid", path, maxlen);
        goto done;
    }
    // First pass: count entries and check every one is complete.
    for (size_t off = 4; off < len; n++) {
        int32_t l;
        if (len - off < 8) { ah_fail(e, "%s: truncated at token %d (byte %zu)", path, n, off); goto done; }
        memcpy(&l, d + off + 4, 4);
        if (l < 0 || l > maxlen || (size_t)l > len - off - 8) {
            ah_fail(e, "%s: token %d length %d invalid or truncated (byte %zu)", path, n, l, off);
            goto done;
        }
        off += 8 + (size_t)l;
        if (n >= (1 << 24)) { ah_fail(e, "%s: too many tokens", path); goto done; }
    }
    if (n == 0) { ah_fail(e, "%s: no tokens", path); goto done; }
    t->kind = TOK_LLAMA2C;
    t->vocab_size = n;
    t->piece = calloc((size_t)n, sizeof *t->piece);
    t->piece_len = calloc((size_t)n, sizeof *t->piece_len);
    t->score = calloc((size_t)n, sizeof *t->score);
    if (!t->piece || !t->piece_len || !t->score) { ah_fail(e, "%s: out of memory", path); goto done; }
    // Pieces are kept in their own NUL-terminated store; the map points a repeated piece at
    // its first id (run.c's bsearch would pick one of them arbitrarily).
    t->piece_store = malloc(len);
    if (!t->piece_store) { ah_fail(e, "%s: out of memory", path); goto done; }
    size_t off = 4, so = 0;
    for (int32_t i = 0; i < n; i++) {
        int32_t l;
        memcpy(&t->score[i], d + off, 4);
        memcpy(&l, d + off + 4, 4);
        memcpy(t->piece_store + so, d + off + 8, (size_t)l);
        t->piece_store[so + (size_t)l] = 0;
        t->piece[i] = t->piece_store + so;
        t->piece_len[i] = (uint32_t)l;
        if (tok_smap_put(&t->vocab, d + off + 8, (size_t)l, i) < 0) {
            ah_fail(e, "%s: out of memory", path);
            goto done;
        }
        so += (size_t)l + 1;
        off += 8 + (size_t)l;
    }
    tok_build_byte_ids(t);
    t->bos_id = n > 1 ? 1 : -1;
    t->eos_id = n > 2 ? 2 : -1;
    t->prefix[0] = 1;
    t->n_prefix = t->bos_id >= 0;
    rc = 0;
done:
    free(d);
    return rc;
}
