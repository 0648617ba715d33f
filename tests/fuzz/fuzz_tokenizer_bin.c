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
    return fuzz_tokenizer_file("tokenizer.bin", data, size, SAMPLE, sizeof SAMPLE - 1, 0, 0);
}
