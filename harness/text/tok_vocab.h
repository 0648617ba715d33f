// tok_vocab.h — a loaded tokenizer's vocabulary as llama.cpp describes one (the
// tokenizer.ggml.* keys of a GGUF file: export/gguf.c writes them).
//
// llama.cpp has two tokenizer models that the harness's tokenizers map onto:
//   TOK_VOCAB_BPE ("gpt2"): byte-level BPE: tokens in the byte-level alphabet ("Ġthe"),
//       merges "left right" in rank order, a named pre-tokenizer regex ("gpt-2", "qwen2");
//   TOK_VOCAB_SPM ("llama"): SentencePiece-style merges by score, "▁" for a space, <0xNN>
//       byte pieces: llama2.c tokenizer.bin (its own scores) and HF tokenizer.json BPE with
//       byte fallback (scores derived from the merge ranks, below).
// Token types are llama.cpp's (llama.h enum llama_token_type values as gguf-py writes them).
#ifndef AH_TOK_VOCAB_H
#define AH_TOK_VOCAB_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "text/tokenizer.h"

typedef enum { TOK_VOCAB_BPE, TOK_VOCAB_SPM } tok_vocab_kind;
enum { TOK_TYPE_NORMAL = 1, TOK_TYPE_UNKNOWN = 2, TOK_TYPE_CONTROL = 3, TOK_TYPE_USER_DEFINED = 4,
       TOK_TYPE_UNUSED = 5, TOK_TYPE_BYTE = 6 };

typedef struct {
    tok_vocab_kind kind;
    const char *pre;         // BPE: llama.cpp's name of the pre-tokenizer; SPM: NULL
    int n;                   // tokens: the tokenizer's ids, padded up to n_min
    char **text;             // (n) token text (owned; NUL-terminated, length in len)
    uint32_t *len;           // (n)
    float *score;            // (n)
    int32_t *type;           // (n) TOK_TYPE_*
    char **merges;           // (n_merges) BPE: "left right", rank order (owned)
    size_t n_merges;
    int bos, eos, unk;       // ids, -1 when none
    int add_bos;             // the tokenizer puts BOS first (tok_encode with add_special)
    int add_space_prefix;    // SPM: a "▁" goes before the text (llama2.c's dummy prefix,
                             // HF's Prepend normalizer or Metaspace prepend_scheme)
} tok_vocab;

// Fills v from t; ids the tokenizer does not use, and ids up to n_min (the model's embedding
// rows), become "[PADi]" tokens of type UNUSED, as convert_hf_to_gguf.py pads them. Fails,
// naming what, for a tokenizer llama.cpp cannot reproduce (an unknown pre-tokenizer, a
// normalizer other than NFC on a byte-level BPE, more ids than n_min).
int tok_vocab_get(tok_vocab *v, const tok_tokenizer *t, int n_min, ah_err *e);
void tok_vocab_free(tok_vocab *v);   // NULL-safe; leaves v zeroed

#endif
