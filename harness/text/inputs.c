// inputs.c — the steps every subcommand shares: resolve the tokenizer of a model, load a
// text source, tokenize it.
#include "text/inputs.h"

#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "text/dataset.h"

int ds_tokenizer_path(char *out, size_t cap, const char *model_path, const char *given,
                       ah_err *e) {
    if (given) {
        if ((size_t)snprintf(out, cap, "%s", given) >= cap) return ah_fail(e, "tokenizer path too long");
        return 0;
    }
    if (ah_is_dir(model_path)) {
        if ((size_t)snprintf(out, cap, "%s", model_path) >= cap) return ah_fail(e, "model path too long");
        return 0;
    }
    // A GGUF file carries its tokenizer (tokenizer.ggml.*: text/tok_gguf.c).
    size_t n = strlen(model_path);
    if (n >= 5 && !strcmp(model_path + n - 5, ".gguf")) {
        if ((size_t)snprintf(out, cap, "%s", model_path) >= cap) return ah_fail(e, "model path too long");
        return 0;
    }
    // llama2.c checkpoints: tokenizer.bin beside the .bin, as llama2.c's own layout has it.
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", model_path);
    if (ah_path_join(out, cap, dirname(tmp), "tokenizer.bin") == 0 && ah_is_file(out)) return 0;
    return ah_fail(e, "%s: a llama2.c checkpoint needs --tokenizer (no tokenizer.bin beside it)",
                   model_path);
}

// ids:FILE — whitespace-separated decimal token ids, already tokenized (BOS included if wanted).
static int read_ids(ds_ids *out, const char *path, ah_err *e) {
    char *text = ah_read_file(path, NULL, e);
    if (!text) return -1;
    size_t cap = 1024, n = 0;
    int32_t *ids = malloc(cap * sizeof *ids);
    char *p = text;
    while (ids) {
        while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') p++;
        if (!*p) break;
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 0 || v > INT32_MAX) {
            ah_fail(e, "%s: token %zu is not a non-negative integer", path, n + 1);
            free(ids);
            free(text);
            return -1;
        }
        if (n == cap) {
            int32_t *grown = realloc(ids, 2 * cap * sizeof *ids);
            if (!grown) break;
            ids = grown;
            cap *= 2;
        }
        ids[n++] = (int32_t)v;
        p = end;
    }
    int oom = !ids || (n == cap && *p);   // realloc failed with ids left (read p before free)
    free(text);
    if (oom) {
        free(ids);
        return ah_fail(e, "%s: out of memory", path);
    }
    if (n == 0) {
        free(ids);
        return ah_fail(e, "%s: no token ids", path);
    }
    out->ids = ids;
    out->n = n;
    return 0;
}

// A trailing "@START:END" selects bytes [START, END) of the text (either may be empty; a
// negative START counts from the end): "text:f.txt@0:100000", "text:f.txt@-300000:".
// Returns 1 and fills lo/hi (hi = -1: to the end) when spec ends with one.
static int byte_range(const char *spec, size_t *cut, long *lo, long *hi) {
    const char *at = strrchr(spec, '@');
    if (!at) return 0;
    char *end;
    const char *p = at + 1;
    *lo = 0;
    *hi = -1;
    if (*p != ':') {
        *lo = strtol(p, &end, 10);
        if (end == p) return 0;
        p = end;
    }
    if (*p++ != ':') return 0;
    if (*p) {
        *hi = strtol(p, &end, 10);
        if (end == p || *end || *hi < 0) return 0;
    }
    *cut = (size_t)(at - spec);
    return 1;
}

static int slice_text(ds_ids *out, const char *spec, long lo, long hi, ah_err *e) {
    long n = (long)out->text_len;
    if (lo < 0) lo = n + lo < 0 ? 0 : n + lo;
    if (hi < 0 || hi > n) hi = n;
    if (lo >= hi) return ah_fail(e, "%s: byte range is empty (the text has %ld bytes)", spec, n);
    memmove(out->text, out->text + lo, (size_t)(hi - lo));
    out->text[hi - lo] = '\0';
    out->text_len = (size_t)(hi - lo);
    return 0;
}

int ds_load_ids(ds_ids *out, const tok_tokenizer *tok, const char *spec_in, const char *wt_dir,
                 int raw_wikitext, int add_special, ah_err *e) {
    memset(out, 0, sizeof *out);
    if (strncmp(spec_in, "ids:", 4) == 0) return read_ids(out, spec_in + 4, e);
    char spec_buf[4200];
    const char *spec = spec_in;
    size_t cut;
    long lo, hi;
    int ranged = byte_range(spec_in, &cut, &lo, &hi);
    if (ranged) {
        snprintf(spec_buf, sizeof spec_buf, "%.*s", (int)cut, spec_in);
        spec = spec_buf;
    }
    char raw_spec[4200];
    const char *use = spec;
    // llama.cpp's protocol tokenizes the raw WikiText file as it is, not the rebuilt rows.
    if (raw_wikitext && strncmp(spec, "wikitext2:", 10) == 0) {
        const char *dir = wt_dir ? wt_dir : getenv("AH_WIKITEXT_DIR");
        if (!dir) dir = DS_DEFAULT_WIKITEXT_DIR;
        snprintf(raw_spec, sizeof raw_spec, "text:%s/wiki.%s.raw", dir, spec + 10);
        use = raw_spec;
    }
    if (ds_load_text(use, wt_dir, &out->text, &out->text_len, e)) return -1;
    if (ranged && slice_text(out, spec_in, lo, hi, e)) {
        ds_ids_free(out);
        return -1;
    }
    if (tok_encode(tok, out->text, out->text_len, add_special, &out->ids, &out->n, e)) {
        free(out->text);
        out->text = NULL;
        return ah_wrap(e, "%s", spec_in);
    }
    return 0;
}

void ds_ids_free(ds_ids *x) {
    free(x->text);
    free(x->ids);
    memset(x, 0, sizeof *x);
}
