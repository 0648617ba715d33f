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
    return fuzz_tokenizer_file("tokenizer.json", data, size, SAMPLE, sizeof SAMPLE - 1, 1, 1);
}
