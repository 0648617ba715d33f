// inputs.h — the input steps every command and the experiment runner share: which tokenizer
// belongs to a model, and a data spec (text:, jsonl:, wikitext2:, ids:) -> token ids.
#ifndef AH_TEXT_INPUTS_H
#define AH_TEXT_INPUTS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "text/tokenizer.h"

typedef struct {
    char *text;
    size_t text_len;
    int32_t *ids;
    size_t n;
} ds_ids;

// The tokenizer for a model: `given` if set, the model directory for HF checkpoints, or
// tokenizer.bin beside a llama2.c .bin, or the file itself for a .gguf (its tokenizer.ggml.* keys).
int ds_tokenizer_path(char *out, size_t cap, const char *model_path, const char *given,
                       ah_err *e);
// Loads a text source and tokenizes it; "ids:FILE" reads pre-tokenized ids (tok may be NULL). raw_wikitext: read WikiText-2 as the raw file
// (llama.cpp's protocol) instead of rebuilt rows.
int ds_load_ids(ds_ids *out, const tok_tokenizer *tok, const char *spec, const char *wt_dir,
                 int raw_wikitext, int add_special, ah_err *e);
void ds_ids_free(ds_ids *x);

#endif
