// fuzz_tokenizer_json.c — the tokenizer.json loader (harness/text/tok_hf.c, tok_map.c,
// tok_pretok.c regex compilation) and then the encoder running on whatever tables it built.
//
// Input: the bytes of one tokenizer.json, loaded with tok_load as the CLI does (alone in its
// directory: no tokenizer_config.json / config.json beside it). On success a fixed sample
// text and a text made of the tokenizer's own first pieces are encoded (with and without
// specials): every id must lie in the vocabulary, every piece decode within its buffer.
#include <string.h>

#include "fuzz_tok_check.h"

static const char SAMPLE[] = "Hello, world! It's 2026.\n  The  caf\xc3\xa9 \xe2\x80\x94 na\xc3\xafve "
                             "\xf0\x9f\x99\x82 <s></s><|endoftext|><unk> \t\r\n x";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write_file("tokenizer.json", data, size);
    ah_err e = {{0}};
    tok_tokenizer *t = tok_load(path, &e);
    if (!t) {
        FUZZ_CHECK(e.msg[0] != '\0');
        return 0;
    }
    FUZZ_CHECK(tok_vocab_size(t) > 0);
    size_t n;
    for (int special = 0; special < 2; special++) {
        free(fuzz_encode_checked(t, SAMPLE, sizeof SAMPLE - 1, special, &n));
        free(fuzz_encode_checked(t, "", 0, special, &n));
    }
    // Text made of the first pieces as the decoder prints them (added tokens included): it
    // reaches the merges and added-token matching that the sample text may miss.
    char text[2048];
    size_t len = 0;
    for (int32_t id = 0; id < tok_vocab_size(t) && id < 64 && len + 64 < sizeof text; id++)
        len += tok_decode_piece(t, id, text + len, 64);
    free(fuzz_encode_checked(t, text, len, 1, &n));   // NULL when not valid UTF-8: fine
    tok_free(t);
    return 0;
}
