// inputs.h — shared input steps of the subcommands (tokenizer resolution, text -> ids).
#ifndef AH_CLI_INPUTS_H
#define AH_CLI_INPUTS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "text/tokenizer.h"

typedef struct {
    char *text;
    size_t text_len;
    int32_t *ids;
    size_t n;
} cli_ids;

// The tokenizer for a model: `given` if set, the model directory for HF checkpoints, or
// tokenizer.bin beside a llama2.c .bin.
int cli_tokenizer_path(char *out, size_t cap, const char *model_path, const char *given,
                       ah_err *e);
// Loads a text source and tokenizes it; "ids:FILE" reads pre-tokenized ids (tok may be NULL). raw_wikitext: read WikiText-2 as the raw file
// (llama.cpp's protocol) instead of rebuilt rows.
int cli_load_ids(cli_ids *out, const tok_tokenizer *tok, const char *spec, const char *wt_dir,
                 int raw_wikitext, int add_special, ah_err *e);
void cli_ids_free(cli_ids *x);

#endif
