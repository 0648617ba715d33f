// docs.c — a text source as documents (docs.h).
#include "text/docs.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "text/dataset.h"
#include "text/pytext.h"

void ds_docs_free(ds_docs *d) {
    if (!d) return;
    for (size_t i = 0; i < d->n; i++) free(d->text[i]);
    free(d->text);
    free(d->words);
    free(d->bytes);
    memset(d, 0, sizeof *d);
}

// Appends one document: raw counts, scored text detokenized when detok.
static int add(ds_docs *d, size_t *cap, const char *raw, size_t len, int detok, ah_err *e) {
    if (d->n == *cap) {
        size_t c = *cap ? 2 * *cap : 64;
        char **t = realloc(d->text, c * sizeof *t);
        if (t) d->text = t;
        long *w = t ? realloc(d->words, c * sizeof *w) : NULL;
        if (w) d->words = w;
        long *b = w ? realloc(d->bytes, c * sizeof *b) : NULL;
        if (!b) return ah_fail(e, "out of memory (documents)");
        d->bytes = b;
        *cap = c;
    }
    char *s = malloc(len + 1);
    if (!s) return ah_fail(e, "out of memory (documents)");
    memcpy(s, raw, len);
    s[len] = 0;
    d->words[d->n] = pyt_split_ws_count(s);
    d->bytes[d->n] = (long)len;
    if (detok) {
        char *t = pyt_wikitext_detok(s, e);
        free(s);
        if (!(s = t)) return -1;
    }
    d->text[d->n++] = s;
    return 0;
}

// Whether a raw line is a top-level heading (" = Title = "), as the document-level builder
// tests it after folding "= = =" and "= =".
static int top_heading(const char *line, size_t len, ah_err *e) {
    char *s = malloc(len + 1);
    if (!s) return ah_fail(e, "out of memory");
    memcpy(s, line, len);
    s[len] = 0;
    char *a = pyt_replace(s, "= = =", "===", e), *b = a ? pyt_replace(a, "= =", "==", e) : NULL;
    char *c = b ? pyt_strip(b, e) : NULL;
    free(s), free(a), free(b);
    if (!c) return -1;
    size_t n = strlen(c);
    int r = n >= 2 && !strncmp(c, "= ", 2) && n >= 2 && !strcmp(c + n - 2, " =");
    free(c);
    return r;
}

static int wikitext_pages(ds_docs *d, const char *raw, size_t len, ah_err *e) {
    size_t cap = 0, page = 0;   // page: start of the current page's first line
    int have = 0;               // lines in the current page
    for (size_t i = 0; i <= len;) {
        size_t j = i;
        while (j < len && raw[j] != '\n') j++;
        int h = top_heading(raw + i, j - i, e);
        if (h < 0) return -1;
        if (h && have) {
            // "\n".join(lines) of the page: raw[page, i - 1) (without the "\n" before i)
            size_t plen = i - 1 - page;
            int blank = 1;
            for (size_t k = page; k < page + plen && blank; k++)
                blank = raw[k] == ' ' || raw[k] == '\n' || raw[k] == '\t' || raw[k] == '\r';
            if (!blank && add(d, &cap, raw + page, plen, 1, e)) return -1;
            page = i;
            have = 0;
        }
        have++;
        i = j + 1;
    }
    // the last page, always (it ends where the file does)
    return add(d, &cap, raw + page, len - page, 1, e);
}

static int jsonl_docs(ds_docs *d, const char *path, const char *raw, size_t len, ah_err *e) {
    size_t cap = 0, line = 0, i = 0, a, b;
    while (ds_jsonl_next(raw, len, &i, &line, &a, &b)) {
        json_error_t je;
        json_t *o = json_loadb(raw + a, b - a, 0, &je);
        if (!o) return ah_fail(e, "%s:%zu: not JSON: %s", path, line, je.text);
        json_t *page = json_object_get(o, "page"), *text = json_object_get(o, "text");
        json_t *v = json_is_string(page) ? page : text;
        int rc = 0;
        if (!json_is_string(v))
            rc = ah_fail(e, "%s:%zu: no string field \"page\" or \"text\"", path, line);
        else
            rc = add(d, &cap, json_string_value(v), json_string_length(v), v == page, e);
        json_decref(o);
        if (rc) return -1;
    }
    return 0;
}

int ds_load_docs(ds_docs *d, const char *spec, const char *wikitext_dir, ah_err *e) {
    memset(d, 0, sizeof *d);
    char path[4096];
    ds_kind kind;
    if (ds_resolve(spec, wikitext_dir, path, sizeof path, &kind, e)) return -1;
    size_t len, bad;
    char *raw = ah_read_file(path, &len, e);
    if (!raw) return -1;
    int rc = 0;
    size_t cap = 0;
    if (!ds_utf8_valid(raw, len, &bad)) rc = ah_fail(e, "%s: not valid UTF-8 at byte offset %zu", path, bad);
    else if (kind == DS_WIKITEXT) rc = wikitext_pages(d, raw, len, e);
    else if (kind == DS_TEXT) rc = add(d, &cap, raw, len, 0, e);
    else rc = jsonl_docs(d, path, raw, len, e);
    free(raw);
    if (!rc && d->n == 0) rc = ah_fail(e, "%s: no documents", path);
    if (rc) ds_docs_free(d);
    return rc;
}
