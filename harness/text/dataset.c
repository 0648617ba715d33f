// dataset.c — text sources: WikiText-2 rebuilt into HF rows, whole text files, JSON lines.
#include "text/dataset.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF — the
// same set Rust's str and the reference tokenizers accept.
int ds_utf8_valid(const char *s, size_t len, size_t *bad_offset) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned char c = p[i];
        if (c < 0x80) { i++; continue; }
        size_t n;
        unsigned char lo = 0x80, hi = 0xBF;   // allowed range of the second byte
        if (c >= 0xC2 && c <= 0xDF) n = 2;
        else if (c == 0xE0) { n = 3; lo = 0xA0; }
        else if (c == 0xED) { n = 3; hi = 0x9F; }
        else if (c >= 0xE1 && c <= 0xEF) n = 3;
        else if (c == 0xF0) { n = 4; lo = 0x90; }
        else if (c == 0xF4) { n = 4; hi = 0x8F; }
        else if (c >= 0xF1 && c <= 0xF3) n = 4;
        else goto bad;
        if (len - i < n || p[i + 1] < lo || p[i + 1] > hi) goto bad;
        for (size_t k = 2; k < n; k++)
            if ((p[i + k] & 0xC0) != 0x80) goto bad;
        i += n;
    }
    return 1;
bad:
    if (bad_offset) *bad_offset = i;
    return 0;
}

// HF wikitext-2-raw-v1 rows: every line of the raw file is a row keeping its "\n"; a line that
// is a single space is the empty row. The evaluation code joins rows with "\n\n".
static int wikitext_rows(const char *raw, size_t len, ah_buf *out) {
    size_t i = 0, row = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && raw[j] != '\n') j++;
        if (row++ && ah_buf_put(out, "\n\n", 2)) return -1;
        if (!(j - i == 1 && raw[i] == ' ') && (ah_buf_put(out, raw + i, j - i) || ah_buf_put(out, "\n", 1)))
            return -1;
        i = j + 1;
    }
    if (!out->p && ah_buf_put(out, "", 0)) return -1;
    return 0;
}

int ds_jsonl_next(const char *raw, size_t len, size_t *i, size_t *line, size_t *a, size_t *b) {
    while (*i < len) {
        size_t j = *i, k = *i;
        while (j < len && raw[j] != '\n') j++;
        ++*line;
        *i = j + 1;
        while (k < j && (raw[k] == ' ' || raw[k] == '\t' || raw[k] == '\r')) k++;
        if (k < j) {
            *a = k;
            *b = j;
            return 1;
        }
    }
    return 0;
}

static int jsonl_rows(const char *path, const char *raw, size_t len, ah_buf *out, ah_err *e) {
    size_t i = 0, line = 0, rows = 0, a, b;
    while (ds_jsonl_next(raw, len, &i, &line, &a, &b)) {
        json_error_t je;
        json_t *o = json_loadb(raw + a, b - a, JSON_ALLOW_NUL, &je);
        json_t *txt = json_object_get(o, "text");
        if (!o || !json_is_string(txt)) {
            json_decref(o);
            return ah_fail(e, "%s: line %zu: %s", path, line,
                           o ? "no string field \"text\"" : je.text);
        }
        int rc = (rows++ && ah_buf_put(out, "\n\n", 2)) ||
                 ah_buf_put(out, json_string_value(txt), json_string_length(txt));
        json_decref(o);
        if (rc) return ah_fail(e, "%s: out of memory", path);
    }
    if (!out->p && ah_buf_put(out, "", 0)) return ah_fail(e, "%s: out of memory", path);
    return 0;
}

int ds_resolve(const char *spec, const char *wikitext_dir, char *path, size_t cap, ds_kind *kind,
               ah_err *e) {
    if (!spec) return ah_fail(e, "dataset: no source given");
    if (!strcmp(spec, "wikitext2:test") || !strcmp(spec, "wikitext2:valid")) {
        const char *dir = wikitext_dir ? wikitext_dir : getenv("AH_WIKITEXT_DIR");
        if (!dir || !*dir) dir = DS_DEFAULT_WIKITEXT_DIR;
        const char *name = !strcmp(spec + 10, "test") ? "wiki.test.raw" : "wiki.valid.raw";
        if (ah_path_join(path, cap, dir, name)) return ah_fail(e, "%s: path too long", dir);
        *kind = DS_WIKITEXT;
    } else if (!strncmp(spec, "text:", 5) || !strncmp(spec, "jsonl:", 6)) {
        *kind = spec[0] == 't' ? DS_TEXT : DS_JSONL;
        const char *f = spec + (*kind == DS_TEXT ? 5 : 6);
        if (!*f) return ah_fail(e, "dataset '%s': no file named", spec);
        if (snprintf(path, cap, "%s", f) >= (int)cap)
            return ah_fail(e, "dataset '%s': path too long", spec);
    } else {
        return ah_fail(e, "dataset '%s': unknown source (want wikitext2:test|wikitext2:valid, "
                       "text:FILE or jsonl:FILE)", spec);
    }
    return 0;
}

int ds_load_text(const char *spec, const char *wikitext_dir, char **text, size_t *len,
                 ah_err *e) {
    *text = NULL;
    *len = 0;
    char path[4096];
    ds_kind kind;
    if (ds_resolve(spec, wikitext_dir, path, sizeof path, &kind, e)) return -1;
    size_t rawlen, bad;
    char *raw = ah_read_file(path, &rawlen, e);
    if (!raw) return -1;
    if (!ds_utf8_valid(raw, rawlen, &bad)) {
        free(raw);
        return ah_fail(e, "%s: not valid UTF-8 at byte offset %zu", path, bad);
    }
    if (kind == DS_TEXT) {
        if (rawlen == 0) { free(raw); return ah_fail(e, "%s: empty data (no text)", path); }
        *text = raw;
        *len = rawlen;
        return 0;
    }
    ah_buf out = {0};
    int rc = kind == DS_WIKITEXT ? (wikitext_rows(raw, rawlen, &out) ? ah_fail(e, "%s: out of memory", path) : 0)
                       : jsonl_rows(path, raw, rawlen, &out, e);
    free(raw);
    if (rc) { free(out.p); return -1; }
    if (!ds_utf8_valid(out.p, out.n, &bad)) {   // jsonl "\ud800"-style escapes
        free(out.p);
        return ah_fail(e, "%s: text not valid UTF-8 at byte offset %zu of the joined text", path, bad);
    }
    if (out.n == 0) { free(out.p); return ah_fail(e, "%s: empty data (no text)", path); }
    *text = out.p;
    *len = out.n;
    return 0;
}

const char *ds_spec_kind(const char *spec) {
    static _Thread_local char name[256];
    if (!spec) return "none";
    if (!strncmp(spec, "wikitext2:", 10)) return spec;
    const char *colon = strchr(spec, ':');
    if (!colon) return spec;
    const char *base = strrchr(colon + 1, '/');
    base = base ? base + 1 : colon + 1;
    snprintf(name, sizeof name, "%.*s:%s", (int)(colon - spec), spec, base);
    return name;
}
