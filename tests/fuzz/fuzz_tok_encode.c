// fuzz_tok_encode.c — the encoder (harness/text/tokenizer.c, tok_pretok.c, tok_bpe.c) on
// arbitrary text with the project's real tokenizers.
//
// Input: byte 0 picks the tokenizer (and bit 7 add_special), the rest is the text. The
// tokenizers are loaded once, as the CLI loads them (directory or .bin), from the fixtures
// and the bundled model; paths are relative to the repository root (the working directory of
// `make fuzz` and of the replay test), or to $AH_FUZZ_ROOT.
// Checks: invalid UTF-8 is an error, never a crash; ids lie in the vocabulary; for byte-level
// tokenizers (no normalizer) the pieces decode back to exactly the input text.
#include <string.h>

#include "fuzz_tok_check.h"

static const char *const TOKENIZERS[] = {
    "tests/fixtures/llama-gqa",          // SentencePiece-style BPE, byte fallback, <s>
    "tests/fixtures/qwen2",              // byte-level BPE, Qwen2 split regex
    "tests/fixtures/opt",                // byte-level BPE, GPT-2 regex, </s> as BOS
    "tests/fixtures/llama2c/tokenizer.bin",   // llama2.c score merges
    "models/tinyprose",                  // byte-level BPE, 4096 tokens (tokenizer_config.json)
};
#define N_TOK (sizeof TOKENIZERS / sizeof TOKENIZERS[0])
static tok_tokenizer *tok[N_TOK];

static void load_all(void) {
    const char *root = getenv("AH_FUZZ_ROOT");
    for (size_t i = 0; i < N_TOK; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s%s%s", root ? root : "", root ? "/" : "", TOKENIZERS[i]);
        ah_err e = {{0}};
        tok[i] = tok_load(path, &e);
        if (!tok[i]) {
            fprintf(stderr, "fuzz_tok_encode: cannot load %s (run from the repository root): %s\n",
                    path, e.msg);
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!tok[0]) load_all();
    if (size == 0) return 0;
    const tok_tokenizer *t = tok[(data[0] & 0x7f) % N_TOK];
    int add_special = data[0] >> 7;
    const char *text = (const char *)data + 1;
    size_t len = size - 1, n;
    int32_t *ids = fuzz_encode_checked(t, text, len, add_special, &n);
    if (ids && !add_special && strcmp(tok_kind(t), "bytelevel-bpe") == 0) {
        char *back = malloc(len + 64);
        size_t o = 0;
        if (!back) abort();
        for (size_t i = 0; i < n; i++) {
            size_t k = tok_decode_piece(t, ids[i], back + o, len + 64 - o);
            FUZZ_CHECK(o + k <= len);   // never longer than the input
            o += k;
        }
        FUZZ_CHECK(o == len && memcmp(back, text, len) == 0);
        free(back);
    }
    free(ids);
    return 0;
}
