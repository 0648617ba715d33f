// fuzz_tokenizer_bin.c — the llama2.c tokenizer.bin loader (harness/text/tok_llama2c.c) and
// the llama2.c encoder (tok_bpe.c, score-ordered merges) on the tables it built.
//
// Input: the bytes of one tokenizer.bin (int32 max_token_length, then {f32 score, i32 len,
// bytes} per token), loaded with tok_load as the CLI does. On success a fixed sample text and
// a text made of the first pieces are encoded; ids must be in the vocabulary.
#include <string.h>

#include "fuzz_tok_check.h"

static const char SAMPLE[] = "Once upon a time, Lily found 3 red balls.\n  \xc3\xa9\xf0\x9f\x99\x82 x";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write_file("tokenizer.bin", data, size);
    ah_err e = {{0}};
    tok_tokenizer *t = tok_load(path, &e);
    if (!t) {
        FUZZ_CHECK(e.msg[0] != '\0');
        return 0;
    }
    FUZZ_CHECK(tok_vocab_size(t) > 0);
    size_t n;
    for (int special = 0; special < 2; special++)
        free(fuzz_encode_checked(t, SAMPLE, sizeof SAMPLE - 1, special, &n));
    char text[2048];
    size_t len = 0;
    for (int32_t id = 0; id < tok_vocab_size(t) && id < 64 && len + 64 < sizeof text; id++)
        len += tok_decode_piece(t, id, text + len, 64);
    free(fuzz_encode_checked(t, text, len, 0, &n));
    tok_free(t);
    return 0;
}
