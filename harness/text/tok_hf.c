// tok_hf.c — reading HuggingFace tokenizer files with jansson: tokenizer.json (model BPE,
// added_tokens, normalizer, pre_tokenizer, post_processor) and the vocab.json + merges.txt
// pair (byte-level BPE as transformers' GPT2/Qwen2 tokenizers build it), plus the BOS/EOS
// hints in tokenizer_config.json and config.json.
#include "text/tok_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

static json_t *load_json(const char *path, size_t flags, ah_err *e) {
    json_error_t je;
    if (tok_check_file_size(path, e)) return NULL;
    json_t *j = json_load_file(path, flags, &je);
    if (!j) ah_fail(e, "%s: invalid JSON at line %d column %d: %s", path, je.line, je.column, je.text);
    return j;
}

// Optional JSON file in dir: NULL (no error) when absent; -1 via *bad when present but broken.
static json_t *load_optional(const char *dir, const char *name, int *bad, ah_err *e) {
    char p[4096];
    *bad = 0;
    if (!dir || ah_path_join(p, sizeof p, dir, name) || !ah_is_file(p)) return NULL;
    // Config files hold integers beyond int64 (model_max_length 1e30): read numbers as reals.
    json_t *j = load_json(p, JSON_DECODE_INT_AS_REAL, e);
    if (!j) *bad = 1;
    return j;
}

static int jbool(const json_t *o, const char *key, int dflt) {
    json_t *v = json_object_get(o, key);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

// A token named either as a string or as {"content": ...} (tokenizer_config.json style).
static const char *token_name(const json_t *v) {
    if (json_is_string(v)) return json_string_value(v);
    if (json_is_object(v)) return json_string_value(json_object_get(v, "content"));
    return NULL;
}

static int32_t token_id(const tok_tokenizer *t, const char *s) {
    if (!s) return -1;
    int32_t id = tok_added_find(t, s, strlen(s));
    return id >= 0 ? id : tok_smap_get(&t->vocab, s, strlen(s));
}

// ---------------------------------------------------------------------------------------------
// Model: vocab and merges

static int read_vocab(tok_tokenizer *t, const json_t *vocab, const char *src, ah_err *e) {
    if (!json_is_object(vocab)) return ah_fail(e, "%s: model.vocab missing or not an object", src);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)vocab, k, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= (1 << 24))
            return ah_fail(e, "%s: vocab entry '%s' has no valid id", src, k);
        if (tok_smap_put(&t->vocab, k, strlen(k), (int32_t)json_integer_value(v)) < 0)
            return ah_fail(e, "%s: out of memory", src);
    }
    if (t->vocab.n == 0) return ah_fail(e, "%s: vocab is empty", src);
    return 0;
}

static int add_merge(tok_tokenizer *t, const char *a, size_t al, const char *b, size_t bl,
                     int32_t rank, const char *src, size_t line, ah_err *e) {
    int32_t ia = tok_smap_get(&t->vocab, a, al), ib = tok_smap_get(&t->vocab, b, bl);
    char cat[1024];
    if (al + bl > sizeof cat) return ah_fail(e, "%s: merges line %zu too long", src, line);
    memcpy(cat, a, al);
    memcpy(cat + al, b, bl);
    int32_t ic = tok_smap_get(&t->vocab, cat, al + bl);
    if (ia < 0 || ib < 0 || ic < 0)
        return ah_fail(e, "%s: merges line %zu: token '%.*s' not in vocab", src, line,
                       (int)(ia < 0 ? al : ib < 0 ? bl : al + bl), ia < 0 ? a : ib < 0 ? b : cat);
    if (tok_pmap_put(&t->merges, ia, ib, rank, ic) < 0) return ah_fail(e, "%s: out of memory", src);
    // The characters this merge joins: a's last codepoint (back over UTF-8 continuation bytes)
    // and b's first. A merge with an empty side (the [a, b] form allows "") joins no two
    // characters one can name: long words are then never cut (tok_bpe.c).
    if (al == 0 || bl == 0) {
        t->uncut = 1;
        return 0;
    }
    size_t last = al - 1;
    while (last > 0 && ((unsigned char)a[last] & 0xC0) == 0x80) last--;
    uint32_t ca, cb;
    tok_utf8_get(a + last, al - last, &ca);
    tok_utf8_get(b, bl, &cb);
    if (tok_pmap_put(&t->junctions, (int32_t)ca, (int32_t)cb, 0, 0) < 0)
        return ah_fail(e, "%s: out of memory", src);
    return 0;
}

// "a b" with exactly one space (HF: split(' ') must give 2 parts).
int tok_merge_line(tok_tokenizer *t, const char *s, size_t n, int32_t rank, const char *src,
                      size_t line, ah_err *e) {
    const char *sp = memchr(s, ' ', n);
    if (!sp || sp == s || sp + 1 == s + n || memchr(sp + 1, ' ', (size_t)(s + n - sp - 1)))
        return ah_fail(e, "%s: merges line %zu invalid (want \"a b\"): '%.*s'", src, line,
                       (int)(n > 80 ? 80 : n), s);
    return add_merge(t, s, (size_t)(sp - s), sp + 1, (size_t)(s + n - sp - 1), rank, src, line, e);
}

static int read_merges_json(tok_tokenizer *t, const json_t *m, const char *src, ah_err *e) {
    if (!json_is_array(m)) return ah_fail(e, "%s: model.merges missing or not an array", src);
    size_t i;
    json_t *v;
    json_array_foreach((json_t *)m, i, v) {
        int rc;
        if (json_is_string(v)) {
            rc = tok_merge_line(t, json_string_value(v), json_string_length(v), (int32_t)i, src, i + 1, e);
        } else if (json_is_array(v) && json_array_size(v) == 2 &&
                   json_is_string(json_array_get(v, 0)) && json_is_string(json_array_get(v, 1))) {
            json_t *a = json_array_get(v, 0), *b = json_array_get(v, 1);
            rc = add_merge(t, json_string_value(a), json_string_length(a), json_string_value(b),
                           json_string_length(b), (int32_t)i, src, i + 1, e);
        } else {
            rc = ah_fail(e, "%s: merges entry %zu is neither \"a b\" nor [a, b]", src, i + 1);
        }
        if (rc) return -1;
    }
    return 0;
}

static int read_merges_txt(tok_tokenizer *t, const char *path, ah_err *e) {
    size_t len;
    char *txt = tok_check_file_size(path, e) ? NULL : ah_read_file(path, &len, e);
    if (!txt) return -1;
    int32_t rank = 0;
    size_t line = 0;
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && txt[j] != '\n') j++;
        line++;
        size_t n = j - i;
        if (n && txt[i + n - 1] == '\r') n--;   // CRLF copies of merges.txt
        if (!(n >= 8 && memcmp(txt + i, "#version", 8) == 0) &&
            tok_merge_line(t, txt + i, n, rank++, path, line, e)) {
            free(txt);
            return -1;
        }
        i = j + 1;
    }
    free(txt);
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Normalizer, pre-tokenizer, post-processor

static int add_norm(tok_tokenizer *t, int type, const char *a, const char *b, ah_err *e) {
    tok_norm *n = realloc(t->norm, (t->n_norm + 1) * sizeof *n);
    if (!n) return ah_fail(e, "%s: out of memory", t->src);
    t->norm = n;
    n = &t->norm[t->n_norm++];
    *n = (tok_norm){type, a ? strdup(a) : NULL, b ? strdup(b) : NULL, a ? strlen(a) : 0,
                    b ? strlen(b) : 0, NULL};
    if ((a && !n->a) || (b && !n->b)) return ah_fail(e, "%s: out of memory", t->src);
    if (type == TOK_NORM_NFC && !(n->re = tok_nfc_regex(t->src, e))) return -1;
    return 0;
}

static int read_normalizer(tok_tokenizer *t, const json_t *n, ah_err *e) {
    if (!n || json_is_null(n)) return 0;
    const char *type = json_string_value(json_object_get(n, "type"));
    if (!type) return ah_fail(e, "%s: normalizer without a type", t->src);
    if (!strcmp(type, "Sequence")) {
        json_t *list = json_object_get(n, "normalizers");
        if (!json_is_array(list)) return ah_fail(e, "%s: normalizer Sequence without a list", t->src);
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v) if (read_normalizer(t, v, e)) return -1;
        return 0;
    }
    if (!strcmp(type, "Prepend")) {
        const char *p = json_string_value(json_object_get(n, "prepend"));
        if (!p) return ah_fail(e, "%s: normalizer Prepend without 'prepend'", t->src);
        return add_norm(t, TOK_NORM_PREPEND, p, NULL, e);
    }
    if (!strcmp(type, "Replace")) {
        const char *p = json_string_value(json_object_get(json_object_get(n, "pattern"), "String"));
        const char *c = json_string_value(json_object_get(n, "content"));
        if (!p || !c)
            return ah_fail(e, "%s: normalizer Replace: only a String pattern with content is "
                           "supported", t->src);
        return add_norm(t, TOK_NORM_REPLACE, p, c, e);
    }
    if (!strcmp(type, "NFC")) return add_norm(t, TOK_NORM_NFC, NULL, NULL, e);
    return ah_fail(e, "%s: normalizer type '%s' not supported", t->src, type);
}

tok_pre *tok_new_pre(tok_tokenizer *t, int type, ah_err *e) {
    tok_pre *p = realloc(t->pre, (t->n_pre + 1) * sizeof *p);
    if (!p) { ah_fail(e, "%s: out of memory", t->src); return NULL; }
    t->pre = p;
    p = &t->pre[t->n_pre++];
    memset(p, 0, sizeof *p);
    p->type = type;
    return p;
}

// Compiles q's regex; q->what names it in messages ("pre_tokenizer <kind> regex '...'").
int tok_pre_regex(tok_tokenizer *t, tok_pre *q, const char *kind, const char *rx, size_t len,
                     ah_err *e) {
    if (!(q->re = tok_regex_compile(rx, len, t->src, e))) return -1;
    char what[160];
    snprintf(what, sizeof what, "pre_tokenizer %s regex '%.*s'", kind, (int)(len > 80 ? 80 : len), rx);
    return (q->what = strdup(what)) && (q->pattern = strndup(rx, len))
               ? 0 : ah_fail(e, "%s: out of memory", t->src);
}

// Escapes a literal for PCRE2 (Split with a String pattern).
static int literal_regex(tok_tokenizer *t, tok_pre *q, const char *s, ah_err *e) {
    size_t n = strlen(s);
    char *rx = malloc(2 * n + 1);
    if (!rx) return ah_fail(e, "%s: out of memory", t->src);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (strchr("\\^$.|?*+()[]{}", s[i])) rx[o++] = '\\';
        rx[o++] = s[i];
    }
    int rc = tok_pre_regex(t, q, "Split", rx, o, e);
    free(rx);
    return rc;
}

static int read_pre(tok_tokenizer *t, const json_t *p, int *bytelevel, ah_err *e) {
    if (!p || json_is_null(p)) return 0;
    const char *type = json_string_value(json_object_get(p, "type"));
    if (!type) return ah_fail(e, "%s: pre_tokenizer without a type", t->src);
    size_t index = t->n_pre;
    if (!strcmp(type, "Sequence")) {
        json_t *list = json_object_get(p, "pretokenizers");
        if (!json_is_array(list)) return ah_fail(e, "%s: pre_tokenizer Sequence without a list", t->src);
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v) if (read_pre(t, v, bytelevel, e)) return -1;
        return 0;
    }
    if (!strcmp(type, "ByteLevel")) {
        tok_pre *q = tok_new_pre(t, TOK_PRE_BYTELEVEL, e);
        if (!q) return -1;
        q->add_prefix_space = jbool(p, "add_prefix_space", 1);
        if (q->add_prefix_space && index > 0)
            return ah_fail(e, "%s: ByteLevel add_prefix_space after another pre-tokenizer is not "
                           "supported", t->src);
        if (jbool(p, "use_regex", 1) &&
            tok_pre_regex(t, q, "ByteLevel", TOK_GPT2_REGEX, sizeof TOK_GPT2_REGEX - 1, e))
            return -1;
        *bytelevel = 1;
        return 0;
    }
    if (!strcmp(type, "Split")) {
        tok_pre *q = tok_new_pre(t, TOK_PRE_SPLIT, e);
        if (!q) return -1;
        json_t *pat = json_object_get(p, "pattern");
        const char *rx = json_string_value(json_object_get(pat, "Regex"));
        const char *lit = json_string_value(json_object_get(pat, "String"));
        if (!rx && !lit) return ah_fail(e, "%s: Split pre_tokenizer without a pattern", t->src);
        if (rx ? tok_pre_regex(t, q, "Split", rx, strlen(rx), e) : literal_regex(t, q, lit, e))
            return -1;
        const char *b = json_string_value(json_object_get(p, "behavior"));
        static const char *names[] = {"Isolated", "Removed", "MergedWithPrevious", "MergedWithNext",
                                      "Contiguous"};
        q->behavior = -1;
        for (int i = 0; b && i < 5; i++) if (!strcmp(b, names[i])) q->behavior = i;
        if (q->behavior < 0)
            return ah_fail(e, "%s: Split behavior '%s' not supported", t->src, b ? b : "(none)");
        q->invert = jbool(p, "invert", 0);
        return 0;
    }
    if (!strcmp(type, "Digits")) {
        tok_pre *q = tok_new_pre(t, TOK_PRE_SPLIT, e);
        if (!q) return -1;
        // Rust char::is_numeric = Nd | Nl | No = \p{N} (so "½" is a digit here).
        const char *rx = jbool(p, "individual_digits", 0) ? "\\p{N}" : "\\p{N}+";
        q->behavior = TOK_SPLIT_ISOLATED;
        return tok_pre_regex(t, q, "Digits", rx, strlen(rx), e);
    }
    if (!strcmp(type, "Metaspace")) {
        if (index > 0)
            return ah_fail(e, "%s: Metaspace after another pre-tokenizer is not supported", t->src);
        tok_pre *q = tok_new_pre(t, TOK_PRE_METASPACE, e);
        if (!q) return -1;
        const char *r = json_string_value(json_object_get(p, "replacement"));
        if (!r) r = "\xe2\x96\x81";
        if (!(q->repl = strdup(r))) return ah_fail(e, "%s: out of memory", t->src);
        q->repl_len = strlen(r);
        if (q->repl_len == 0) return ah_fail(e, "%s: Metaspace with an empty replacement", t->src);
        const char *ps = json_string_value(json_object_get(p, "prepend_scheme"));
        if (ps) {
            q->prepend_scheme = !strcmp(ps, "always") ? TOK_PREPEND_ALWAYS
                              : !strcmp(ps, "first") ? TOK_PREPEND_FIRST
                              : !strcmp(ps, "never") ? TOK_PREPEND_NEVER : -1;
            if (q->prepend_scheme < 0)
                return ah_fail(e, "%s: Metaspace prepend_scheme '%s' unknown", t->src, ps);
        } else {   // older files: add_prefix_space
            q->prepend_scheme = jbool(p, "add_prefix_space", 1) ? TOK_PREPEND_ALWAYS
                                                                : TOK_PREPEND_NEVER;
        }
        q->split = jbool(p, "split", 1);
        return 0;
    }
    return ah_fail(e, "%s: pre_tokenizer type '%s' not supported", t->src, type);
}

// id as read from JSON (range-checked here, before narrowing; tok_load_hf_json checks it
// against the vocabulary once that is known).
static int push_special(tok_tokenizer *t, json_int_t id, int before, ah_err *e) {
    size_t *n = before ? &t->n_prefix : &t->n_suffix;
    int32_t *v = before ? t->prefix : t->suffix;
    if (*n >= 4) return ah_fail(e, "%s: post_processor adds too many tokens", t->src);
    if (id < 0 || id >= (1 << 24))
        return ah_fail(e, "%s: post_processor token id %lld out of range", t->src, (long long)id);
    v[(*n)++] = (int32_t)id;
    return 0;
}

static int read_post(tok_tokenizer *t, const json_t *p, ah_err *e) {
    if (!p || json_is_null(p)) return 0;
    const char *type = json_string_value(json_object_get(p, "type"));
    if (!type) return ah_fail(e, "%s: post_processor without a type", t->src);
    if (!strcmp(type, "ByteLevel")) return 0;   // offsets only
    if (!strcmp(type, "Sequence")) {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(p, "processors"), i, v) if (read_post(t, v, e)) return -1;
        return 0;
    }
    if (!strcmp(type, "RobertaProcessing") || !strcmp(type, "BertProcessing")) {
        json_t *cls = json_array_get(json_object_get(p, "cls"), 1);
        json_t *sep = json_array_get(json_object_get(p, "sep"), 1);
        if (!json_is_integer(cls) || !json_is_integer(sep))
            return ah_fail(e, "%s: %s without cls/sep ids", t->src, type);
        return push_special(t, json_integer_value(cls), 1, e) ||
               push_special(t, json_integer_value(sep), 0, e) ? -1 : 0;
    }
    if (!strcmp(type, "TemplateProcessing")) {
        json_t *single = json_object_get(p, "single"), *specials = json_object_get(p, "special_tokens");
        if (!json_is_array(single))
            return ah_fail(e, "%s: TemplateProcessing without 'single'", t->src);
        int seen_seq = 0;
        size_t i;
        json_t *item;
        json_array_foreach(single, i, item) {
            if (json_object_get(item, "Sequence")) { seen_seq = 1; continue; }
            const char *name = json_string_value(
                json_object_get(json_object_get(item, "SpecialToken"), "id"));
            json_t *ids = json_object_get(json_object_get(specials, name ? name : ""), "ids");
            if (!name || !json_is_array(ids))
                return ah_fail(e, "%s: TemplateProcessing item %zu names no known special token",
                               t->src, i);
            size_t k;
            json_t *id;
            json_array_foreach(ids, k, id) {
                if (!json_is_integer(id))
                    return ah_fail(e, "%s: special token '%s' has a bad id", t->src, name);
                if (push_special(t, json_integer_value(id), !seen_seq, e)) return -1;
            }
        }
        return 0;
    }
    return ah_fail(e, "%s: post_processor type '%s' not supported", t->src, type);
}

// EOS: tokenizer_config.json eos_token, else config.json eos_token_id, else a common name.
static void find_eos(tok_tokenizer *t, const json_t *tcfg, const json_t *cfg) {
    t->eos_id = token_id(t, token_name(json_object_get(tcfg, "eos_token")));
    json_t *v = json_object_get(cfg, "eos_token_id");
    if (t->eos_id < 0 && json_is_number(v) && json_number_value(v) >= 0 &&
        json_number_value(v) < t->vocab_size)
        t->eos_id = (int32_t)json_number_value(v);
    // Fallbacks: "</s>" only as a special (added) token — Qwen's vocab has a plain "</s>".
    for (size_t i = 0; i < t->n_added && t->eos_id < 0; i++)
        if (!strcmp(t->added[i].text, "</s>")) t->eos_id = t->added[i].id;
    if (t->eos_id < 0) t->eos_id = token_id(t, "<|endoftext|>");
}

// ---------------------------------------------------------------------------------------------
// tokenizer.json

int tok_load_hf_json(tok_tokenizer *t, const char *path, const char *dir, ah_err *e) {
    json_t *j = load_json(path, JSON_REJECT_DUPLICATES, e), *tcfg = NULL, *cfg = NULL;
    int rc = -1, bad;
    if (!j) return -1;
    if (!json_is_object(j)) { ah_fail(e, "%s: top level is not an object", path); goto done; }
    json_t *model = json_object_get(j, "model");
    if (!json_is_object(model)) { ah_fail(e, "%s: model missing", path); goto done; }
    const char *mtype = json_string_value(json_object_get(model, "type"));
    // Early files have no model.type; HF then recognises BPE by its merges.
    if (mtype ? strcmp(mtype, "BPE") != 0 : !json_object_get(model, "merges")) {
        ah_fail(e, "%s: model.type '%s' not supported (only BPE)", path, mtype ? mtype : "(none)");
        goto done;
    }
    if (read_vocab(t, json_object_get(model, "vocab"), path, e)) goto done;
    if (read_merges_json(t, json_object_get(model, "merges"), path, e)) goto done;
    const char *pfx = json_string_value(json_object_get(model, "continuing_subword_prefix"));
    const char *sfx = json_string_value(json_object_get(model, "end_of_word_suffix"));
    if ((pfx && *pfx) || (sfx && *sfx)) {
        ah_fail(e, "%s: continuing_subword_prefix / end_of_word_suffix not supported", path);
        goto done;
    }
    t->fuse_unk = jbool(model, "fuse_unk", 0);
    t->byte_fallback = jbool(model, "byte_fallback", 0);
    t->ignore_merges = jbool(model, "ignore_merges", 0);
    const char *unk = json_string_value(json_object_get(model, "unk_token"));
    t->unk_id = unk ? tok_smap_get(&t->vocab, unk, strlen(unk)) : -1;

    json_t *added = json_object_get(j, "added_tokens");
    size_t i;
    json_t *a;
    json_array_foreach(added, i, a) {
        json_t *id = json_object_get(a, "id");
        const char *c = json_string_value(json_object_get(a, "content"));
        if (!json_is_integer(id) || !c) { ah_fail(e, "%s: added_tokens[%zu] invalid", path, i); goto done; }
        if (json_integer_value(id) < 0 || json_integer_value(id) >= (1 << 24)) {   // before narrowing
            ah_fail(e, "%s: added_tokens[%zu] '%s': id %lld out of range", path, i, c,
                    (long long)json_integer_value(id));
            goto done;
        }
        if (tok_add_added(t, c, strlen(c), (int32_t)json_integer_value(id), jbool(a, "lstrip", 0),
                          jbool(a, "rstrip", 0), jbool(a, "single_word", 0), e))
            goto done;
    }
    if (read_normalizer(t, json_object_get(j, "normalizer"), e)) goto done;
    int bytelevel = 0;
    if (read_pre(t, json_object_get(j, "pre_tokenizer"), &bytelevel, e)) goto done;
    t->kind = bytelevel ? TOK_BYTELEVEL : TOK_SPM;
    if (read_post(t, json_object_get(j, "post_processor"), e)) goto done;
    if (tok_build_pieces(t, e)) goto done;
    // Post-processor ids go straight into every encoding: each must be a token of this file.
    for (size_t k = 0; k < t->n_prefix + t->n_suffix; k++) {
        int32_t id = k < t->n_prefix ? t->prefix[k] : t->suffix[k - t->n_prefix];
        if (id >= t->vocab_size || !t->piece[id]) {
            ah_fail(e, "%s: post_processor adds token id %d, which is not in the vocabulary (%d "
                       "ids)", path, id, t->vocab_size);
            goto done;
        }
    }
    tok_build_byte_ids(t);
    t->bos_id = t->n_prefix ? t->prefix[0] : -1;
    tcfg = load_optional(dir, "tokenizer_config.json", &bad, e);
    if (bad) goto done;
    cfg = load_optional(dir, "config.json", &bad, e);
    if (bad) goto done;
    find_eos(t, tcfg, cfg);
    rc = 0;
done:
    json_decref(j); json_decref(tcfg); json_decref(cfg);
    return rc;
}

// ---------------------------------------------------------------------------------------------
// vocab.json + merges.txt (+ tokenizer_config.json, config.json)

int tok_load_vocab_merges(tok_tokenizer *t, const char *dir, ah_err *e) {
    char vp[4096], mp[4096];
    int rc = -1, bad;
    json_t *v = NULL, *tcfg = NULL, *cfg = NULL;
    if (ah_path_join(vp, sizeof vp, dir, "vocab.json") || ah_path_join(mp, sizeof mp, dir, "merges.txt"))
        return ah_fail(e, "%s: path too long", dir);
    snprintf(t->src, sizeof t->src, "%s", vp);
    if (!(v = load_json(vp, JSON_REJECT_DUPLICATES, e))) return -1;
    if (read_vocab(t, v, vp, e)) goto done;
    snprintf(t->src, sizeof t->src, "%s", mp);
    if (read_merges_txt(t, mp, e)) goto done;
    snprintf(t->src, sizeof t->src, "%s", dir);
    tcfg = load_optional(dir, "tokenizer_config.json", &bad, e);
    if (bad) goto done;
    cfg = load_optional(dir, "config.json", &bad, e);
    if (bad) goto done;
    const char *cls = json_string_value(json_object_get(tcfg, "tokenizer_class"));
    const char *mt = json_string_value(json_object_get(cfg, "model_type"));
    int qwen = (cls && !strncmp(cls, "Qwen2", 5)) || (mt && (!strncmp(mt, "qwen2", 5) ||
                                                             !strncmp(mt, "qwen3", 5)));
    t->kind = TOK_BYTELEVEL;
    if (qwen) {   // transformers' Qwen2 converter: NFC, Split(regex, Isolated), ByteLevel(no regex)
        if (add_norm(t, TOK_NORM_NFC, NULL, NULL, e)) goto done;
        tok_pre *q = tok_new_pre(t, TOK_PRE_SPLIT, e);
        if (!q || tok_pre_regex(t, q, "Split", TOK_QWEN2_REGEX, sizeof TOK_QWEN2_REGEX - 1, e))
            goto done;
        q->behavior = TOK_SPLIT_ISOLATED;
        if (!tok_new_pre(t, TOK_PRE_BYTELEVEL, e)) goto done;
    } else {      // GPT2TokenizerFast: ByteLevel with the GPT-2 regex
        tok_pre *q = tok_new_pre(t, TOK_PRE_BYTELEVEL, e);
        if (!q || tok_pre_regex(t, q, "ByteLevel", TOK_GPT2_REGEX, sizeof TOK_GPT2_REGEX - 1, e))
            goto done;
        q->add_prefix_space = jbool(tcfg, "add_prefix_space", 0);
    }
    // Added tokens: added_tokens_decoder, then the named special tokens found in the vocab.
    const char *k;
    json_t *a;
    json_object_foreach(json_object_get(tcfg, "added_tokens_decoder"), k, a) {
        const char *c = json_string_value(json_object_get(a, "content"));
        char *end;
        long id = strtol(k, &end, 10);
        if (!c || *end || id < 0 || id >= (1 << 24)) {
            ah_fail(e, "%s/tokenizer_config.json: added_tokens_decoder entry '%s' invalid", dir, k);
            goto done;
        }
        if (tok_add_added(t, c, strlen(c), (int32_t)id, jbool(a, "lstrip", 0), jbool(a, "rstrip", 0),
                          jbool(a, "single_word", 0), e))
            goto done;
    }
    static const char *named[] = {"bos_token", "eos_token", "unk_token", "pad_token"};
    for (int i = 0; i < 4; i++) {
        const char *n = token_name(json_object_get(tcfg, named[i]));
        int32_t id = n ? tok_smap_get(&t->vocab, n, strlen(n)) : -1;
        if (id >= 0 && token_id(t, n) == id && tok_add_added(t, n, strlen(n), id, 0, 0, 0, e))
            goto done;
    }
    // BOS: tokenizer_config's add_bos_token decides when given; else OPT prepends "</s>".
    json_t *addbos = json_object_get(tcfg, "add_bos_token");
    const char *bos = NULL;
    if (json_is_boolean(addbos)) bos = json_is_true(addbos) ? token_name(json_object_get(tcfg, "bos_token")) : NULL;
    else if (mt && !strcmp(mt, "opt")) bos = "</s>";
    if (bos) {
        t->bos_id = token_id(t, bos);
        if (t->bos_id < 0) { ah_fail(e, "%s: BOS token '%s' not in vocab", dir, bos); goto done; }
        if (tok_add_added(t, bos, strlen(bos), t->bos_id, 0, 0, 0, e)) goto done;
        t->prefix[t->n_prefix++] = t->bos_id;
    }
    if (tok_build_pieces(t, e)) goto done;
    tok_build_byte_ids(t);
    find_eos(t, tcfg, cfg);
    rc = 0;
done:
    json_decref(v); json_decref(tcfg); json_decref(cfg);
    return rc;
}
