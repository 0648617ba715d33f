// fuzz_tok_check.h — what every successful tok_encode must satisfy (tokenizer fuzz targets).
#ifndef AH_FUZZ_TOK_CHECK_H
#define AH_FUZZ_TOK_CHECK_H

#include "fuzz_util.h"
#include "text/tokenizer.h"

// Encodes text; on success every id is a token of the vocabulary and decodes without
// overrunning buf. Returns the ids (caller frees) or NULL when tok_encode refused the text.
static inline int32_t *fuzz_encode_checked(const tok_tokenizer *t, const char *text, size_t len,
                                    int add_special, size_t *n) {
    int32_t *ids = NULL;
    ah_err e = {{0}};
    if (tok_encode(t, text, len, add_special, &ids, n, &e)) {
        FUZZ_CHECK(e.msg[0] != '\0' && ids == NULL);
        return NULL;
    }
    FUZZ_CHECK(ids != NULL);
    int V = tok_vocab_size(t);
    char piece[64];
    for (size_t i = 0; i < *n; i++) {
        FUZZ_CHECK(ids[i] >= 0 && ids[i] < V);
        FUZZ_CHECK(tok_decode_piece(t, ids[i], piece, sizeof piece) <= sizeof piece);
    }
    return ids;
}

#endif
