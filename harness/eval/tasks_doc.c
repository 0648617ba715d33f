// tasks_doc.c — one JSON line of a task file into its requests' strings (tasks.h), as
// lm-eval's task config builds them (doc_to_text, doc_to_choice, doc_to_target).
#include "eval/tasks_doc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "text/pytext.h"

// doc at a dotted path ("choices.text"), or NULL.
static json_t *get_path(json_t *doc, const char *path, size_t n) {
    json_t *v = doc;
    while (n > 0 && v) {
        const char *dot = memchr(path, '.', n);
        size_t k = dot ? (size_t)(dot - path) : n;
        char key[128];
        if (k >= sizeof key) return NULL;
        memcpy(key, path, k);
        key[k] = 0;
        v = json_is_object(v) ? json_object_get(v, key) : NULL;
        path += k + (dot ? 1 : 0);
        n -= k + (dot ? 1 : 0);
    }
    return v;
}

static int need_str(const char **out, json_t *doc, const char *path, size_t n, const task_src *src,
                    ah_err *e) {
    json_t *v = get_path(doc, path, n);
    if (!json_is_string(v))
        return ah_fail(e, "%s:%zu: field '%.*s' %s (the %s task reads %s)", src->path, src->line,
                       (int)n, path, v ? "is not a string" : "is missing", src->def->name,
                       src->def->fields);
    *out = json_string_value(v);
    return 0;
}

// The prompt template with {field} and {field|cap} filled in.
static char *render(json_t *doc, const char *tpl, const task_src *src, ah_err *e) {
    ah_buf b = {0};
    for (const char *p = tpl; *p;) {
        const char *open = strchr(p, '{');
        if (!open) {
            if (ah_buf_put(&b, p, strlen(p))) goto oom;
            break;
        }
        if (ah_buf_put(&b, p, (size_t)(open - p))) goto oom;
        const char *close = strchr(open, '}');
        const char *bar = memchr(open, '|', (size_t)(close - open));
        size_t n = (size_t)((bar ? bar : close) - open - 1);
        const char *v;
        if (need_str(&v, doc, open + 1, n, src, e)) goto fail;
        if (bar) {   // the only filter: "cap" = str.capitalize()
            char *c = pyt_capitalize(v, e);
            if (!c) goto fail;
            int rc = ah_buf_put(&b, c, strlen(c));
            free(c);
            if (rc) goto oom;
        } else if (ah_buf_put(&b, v, strlen(v))) {
            goto oom;
        }
        p = close + 1;
    }
    if (ah_buf_put(&b, "", 1)) goto oom;
    return b.p;
oom:
    ah_fail(e, "out of memory (prompt)");
fail:
    free(b.p);
    return NULL;
}

static char *dup(const char *s, ah_err *e) {
    char *r = strdup(s);
    if (!r) ah_fail(e, "out of memory (prompt)");
    return r;
}

void task_doc_free(task_doc *d) {
    if (!d) return;
    free(d->ctx);
    free(d->cont);
    for (int i = 0; i < d->nchoice; i++) free(d->choice[i]);
    free(d->choice);
    memset(d, 0, sizeof *d);
}

// The choices: a list field, or a comma-separated list of string fields.
static int choices(task_doc *d, json_t *doc, const task_def *t, const task_src *src, ah_err *e) {
    const char *spec = t->choices;
    if (strchr(spec, ',')) {
        int n = 1;
        for (const char *p = spec; *p; p++) n += *p == ',';
        if (!(d->choice = calloc((size_t)n, sizeof *d->choice))) return ah_fail(e, "out of memory");
        for (const char *p = spec; *p;) {
            const char *c = strchr(p, ',');
            size_t k = c ? (size_t)(c - p) : strlen(p);
            const char *v;
            if (need_str(&v, doc, p, k, src, e) || !(d->choice[d->nchoice] = dup(v, e))) return -1;
            d->nchoice++;
            p += k + (c ? 1 : 0);
        }
        return 0;
    }
    json_t *list = get_path(doc, spec, strlen(spec));
    if (!json_is_array(list) || json_array_size(list) == 0)
        return ah_fail(e, "%s:%zu: field '%s' is not a non-empty list (the %s task reads %s)",
                       src->path, src->line, spec, t->name, t->fields);
    size_t n = json_array_size(list);
    if (!(d->choice = calloc(n, sizeof *d->choice))) return ah_fail(e, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(list, i);
        if (!json_is_string(v))
            return ah_fail(e, "%s:%zu: %s[%zu] is not a string", src->path, src->line, spec, i);
        if (!(d->choice[i] = t->prep == PREP_HELLASWAG ? pyt_hellaswag_prep(json_string_value(v), e)
                                                       : dup(json_string_value(v), e)))
            return -1;
        d->nchoice++;
    }
    return 0;
}

// The gold index of a choice.
static int gold(task_doc *d, json_t *doc, const task_def *t, const task_src *src, ah_err *e) {
    json_t *g = get_path(doc, t->gold_field, strlen(t->gold_field));
    long v = -1;
    if (t->gold == GOLD_INT) {
        if (json_is_integer(g)) {
            v = (long)json_integer_value(g);
        } else if (json_is_string(g) && *json_string_value(g)) {
            const char *s = json_string_value(g);
            for (const char *p = s; *p; p++)
                if (!isdigit((unsigned char)*p)) goto bad;
            v = strtol(s, NULL, 10);
        } else {
            goto bad;
        }
        v -= t->gold_offset;
    } else {   // GOLD_INDEX_OF
        json_t *list = get_path(doc, t->gold_list, strlen(t->gold_list));
        if (!json_is_string(g) || !json_is_array(list)) goto bad;
        for (size_t i = 0; i < json_array_size(list); i++) {
            json_t *x = json_array_get(list, i);
            if (json_is_string(x) && !strcmp(json_string_value(x), json_string_value(g))) {
                v = (long)i;
                break;
            }
        }
        if (v < 0)
            return ah_fail(e, "%s:%zu: %s '%s' is not one of %s", src->path, src->line,
                           t->gold_field, json_string_value(g), t->gold_list);
    }
    if (v < 0 || v >= d->nchoice)
        return ah_fail(e, "%s:%zu: the gold answer %ld is outside the %d choices", src->path,
                       src->line, v, d->nchoice);
    d->gold = (int)v;
    return 0;
bad:
    return ah_fail(e, "%s:%zu: field '%s' %s (the %s task reads %s)", src->path, src->line,
                   t->gold_field, g ? "is not a whole number" : "is missing", t->name, t->fields);
}

int task_doc_build(task_doc *d, json_t *doc, const task_src *src, ah_err *e) {
    const task_def *t = src->def;
    memset(d, 0, sizeof *d);
    if (!json_is_object(doc))
        return ah_fail(e, "%s:%zu: not a JSON object", src->path, src->line);
    switch (t->kind) {
    case TASK_MC:
        if (!(d->ctx = render(doc, t->prompt, src, e))) goto fail;
        if (t->prep == PREP_HELLASWAG) {
            char *p = pyt_hellaswag_prep(d->ctx, e);
            free(d->ctx);
            if (!(d->ctx = p)) goto fail;
        }
        if (choices(d, doc, t, src, e) || gold(d, doc, t, src, e)) goto fail;
        return 0;
    case TASK_PARTIAL: {
        // Winogrande: contexts sentence[:blank] + option, continuation sentence[blank+1:].strip()
        const char *s;
        if (need_str(&s, doc, t->prompt, strlen(t->prompt), src, e)) goto fail;
        const char *blank = strchr(s, '_');
        if (!blank) {
            ah_fail(e, "%s:%zu: the sentence has no '_' blank", src->path, src->line);
            goto fail;
        }
        if (choices(d, doc, t, src, e) || gold(d, doc, t, src, e)) goto fail;
        for (int i = 0; i < d->nchoice; i++) {   // each option becomes its context
            size_t a = (size_t)(blank - s), b = strlen(d->choice[i]);
            char *c = malloc(a + b + 1);
            if (!c) {
                ah_fail(e, "out of memory (prompt)");
                goto fail;
            }
            memcpy(c, s, a);
            memcpy(c + a, d->choice[i], b + 1);
            free(d->choice[i]);
            d->choice[i] = c;
        }
        if (!(d->cont = pyt_strip(blank + 1, e))) goto fail;
        return 0;
    }
    case TASK_LAST_WORD: {
        // text.split(' ')[:-1] joined by ' ', and ' ' + the last piece
        const char *s;
        if (need_str(&s, doc, t->prompt, strlen(t->prompt), src, e)) goto fail;
        const char *sp = strrchr(s, ' ');
        if (!sp) {
            ah_fail(e, "%s:%zu: the text has no space before its last word", src->path, src->line);
            goto fail;
        }
        size_t a = (size_t)(sp - s);
        if (!(d->ctx = malloc(a + 1)) || !(d->cont = dup(sp, e))) {
            ah_fail(e, "out of memory (prompt)");
            goto fail;
        }
        memcpy(d->ctx, s, a);
        d->ctx[a] = 0;
        return 0;
    }
    case TASK_ROLLING: {
        const char *s;
        if (need_str(&s, doc, t->prompt, strlen(t->prompt), src, e)) goto fail;
        if (!(d->cont = pyt_wikitext_detok(s, e))) goto fail;
        d->words = pyt_split_ws_count(s);
        d->bytes = (long)strlen(s);
        return 0;
    }
    }
fail:
    task_doc_free(d);
    return -1;
}
