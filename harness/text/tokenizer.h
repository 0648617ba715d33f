// tokenizer.h — tokenizers that match HuggingFace `tokenizers` token for token.
//
// Supported files:
//   - tokenizer.json with model.type "BPE": byte-level BPE (GPT-2, OPT, SmolLM, Qwen2 style;
//     ByteLevel pre-tokenizer, regex split through PCRE2) and SentencePiece-style BPE with
//     byte fallback (Llama-2 / TinyLlama / Mistral: Prepend+Replace normalizer, <0xNN> pieces);
//   - vocab.json + merges.txt (GPT-2 style byte-level BPE);
//   - llama2.c tokenizer.bin (scores + pieces; SentencePiece-style merges by score);
//   - a .gguf file: the tokenizer.ggml.* keys (llama = SentencePiece by score, gpt2 = byte-level
//     BPE with a named pre-tokenizer; tok_gguf.c).
// BOS handling follows the tokenizer's own configuration (post_processor template,
// tokenizer_config.json add_bos_token / bos_token, or the family default: OPT prepends
// "</s>" id 2, Llama "<s>" id 1, GPT-2 adds nothing).
#ifndef AH_TOKENIZER_H
#define AH_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef struct tok_tokenizer tok_tokenizer;

// Loads from `path`: a directory (tokenizer.json preferred, else vocab.json + merges.txt, with
// tokenizer_config.json / config.json consulted for BOS), a tokenizer.json file, or a llama2.c
// tokenizer.bin file. Returns NULL and fills e (naming the file and what was wrong) on error.
tok_tokenizer *tok_load(const char *path, ah_err *e);
void tok_free(tok_tokenizer *t);   // NULL-safe

// Encodes UTF-8 text of len bytes. add_special: 1 = add BOS (and whatever the tokenizer's
// template adds) as HF's encode(text) does by default; 0 = the bare tokens.
// *ids is malloc'd (caller frees), *n its length. Invalid UTF-8 is an error naming the byte
// offset; never a crash.
int tok_encode(const tok_tokenizer *t, const char *text, size_t len, int add_special,
               int32_t **ids, size_t *n, ah_err *e);

int tok_vocab_size(const tok_tokenizer *t);
int tok_bos_id(const tok_tokenizer *t);        // -1 when the tokenizer adds no BOS
int tok_eos_id(const tok_tokenizer *t);        // -1 when unknown
// The text of one token id as the decoder would print it (bytes, UTF-8; may be a partial
// character for byte-fallback pieces). Returns the number of bytes written into buf (cap).
size_t tok_decode_piece(const tok_tokenizer *t, int32_t id, char *buf, size_t cap);
const char *tok_kind(const tok_tokenizer *t);  // "bytelevel-bpe", "sentencepiece-bpe", "llama2c"

#endif
