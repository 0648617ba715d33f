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

// The body of the tokenizer-file targets: the bytes as file `name`, loaded with tok_load as the
// CLI does; on success `sample` is encoded with and without specials (and "" when
// empty_too), then a text made of the first 64 pieces as the decoder prints them (added tokens
// included: it reaches merges and added-token matching the sample may miss), with
// `pieces_special`. Every encode goes through fuzz_encode_checked.
static inline int fuzz_tokenizer_file(const char *name, const uint8_t *data, size_t size,
                                      const char *sample, size_t sample_len, int empty_too,
                                      int pieces_special) {
    const char *path = fuzz_write_file(name, data, size);
    ah_err e = {{0}};
    tok_tokenizer *t = tok_load(path, &e);
    if (!t) {
        FUZZ_CHECK(e.msg[0] != '\0');
        return 0;
    }
    FUZZ_CHECK(tok_vocab_size(t) > 0);
    size_t n;
    for (int special = 0; special < 2; special++) {
        free(fuzz_encode_checked(t, sample, sample_len, special, &n));
        if (empty_too) free(fuzz_encode_checked(t, "", 0, special, &n));
    }
    char text[2048];
    size_t len = 0;
    for (int32_t id = 0; id < tok_vocab_size(t) && id < 64 && len + 64 < sizeof text; id++)
        len += tok_decode_piece(t, id, text + len, 64);
    free(fuzz_encode_checked(t, text, len, pieces_special, &n));   // NULL when not valid UTF-8
    tok_free(t);
    return 0;
}

#endif
