// lmeval.c — lm-eval's loglikelihood and loglikelihood_rolling requests (lmeval.h).
#include "eval/lmeval.h"

#include <stdlib.h>
#include <string.h>

int lme_ctx_init(lme_ctx *c, const tok_tokenizer *tok, int max_length, ah_err *e) {
    c->tok = tok;
    c->max_length = max_length;
    // HFLM.prefix_token_id: the tokenizer's BOS, else its EOS.
    c->prefix_id = tok_bos_id(tok) >= 0 ? tok_bos_id(tok) : tok_eos_id(tok);
    if (c->prefix_id < 0)
        return ah_fail(e, "the tokenizer has neither a BOS nor an EOS token: lm-eval's requests "
                          "need one as the prefix of an empty context");
    if (max_length < 1) return ah_fail(e, "max_length %d: need at least 1", max_length);
    return 0;
}

// HFLM.tok_encode(string): the tokenizer's default special tokens, except when the string
// already starts with the prefix token's text (utils.has_bos_prefix).
static int encode(const lme_ctx *c, const char *s, size_t len, int add_special, int32_t **ids,
                  size_t *n, ah_err *e) {
    if (add_special) {
        char pre[256];
        size_t pl = tok_decode_piece(c->tok, c->prefix_id, pre, sizeof pre);
        if (pl > 0 && pl <= len && memcmp(s, pre, pl) == 0) add_special = 0;
    }
    return tok_encode(c->tok, s, len, add_special, ids, n, e);
}

// Room for one more request of m tokens.
static int reserve(lme_set *s, size_t m, ah_err *e) {
    if (s->count == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 256;
        size_t *st = realloc(s->start, cap * sizeof *st);
        if (st) s->start = st;
        int *n = st ? realloc(s->n, cap * sizeof *n) : NULL;
        if (n) s->n = n;
        int *k = n ? realloc(s->k, cap * sizeof *k) : NULL;
        if (k) s->k = k;
        size_t *ow = k ? realloc(s->owner, cap * sizeof *ow) : NULL;
        if (!ow) return ah_fail(e, "out of memory (%zu requests)", cap);
        s->owner = ow;
        s->cap = cap;
    }
    if (s->ntok + m > s->tok_cap) {
        size_t cap = s->tok_cap ? 2 * s->tok_cap : 4096;
        while (cap < s->ntok + m) cap *= 2;
        int32_t *t = realloc(s->tok, cap * sizeof *t);
        if (!t) return ah_fail(e, "out of memory (%zu request tokens)", cap);
        s->tok = t;
        s->tok_cap = cap;
    }
    return 0;
}

// Appends a request reading seq[0 .. m-2] and scoring its last k positions (m = n + 1 tokens
// given as two parts a then b).
static int push(lme_set *s, const int32_t *a, size_t na, const int32_t *b, size_t nb, size_t k,
                size_t owner, ah_err *e) {
    size_t m = na + nb;
    if (reserve(s, m, e)) return -1;
    if (na) memcpy(s->tok + s->ntok, a, na * sizeof *a);   // (a part may be empty and NULL)
    if (nb) memcpy(s->tok + s->ntok + na, b, nb * sizeof *b);
    s->start[s->count] = s->ntok;
    s->n[s->count] = (int)(m - 1);
    s->k[s->count] = (int)k;
    s->owner[s->count] = owner;
    s->ntok += m;
    s->count++;
    return 0;
}

// Python's str.isspace() for the ASCII range (what str.rstrip() strips there).
static int py_space(unsigned char ch) {
    return ch == ' ' || (ch >= '\t' && ch <= '\r') || (ch >= 0x1c && ch <= 0x1f);
}

int lme_add_pair(lme_set *s, const lme_ctx *c, const char *ctx, size_t ctx_len,
                 const char *cont, size_t cont_len, size_t owner, ah_err *e) {
    int32_t *whole = NULL, *ce = NULL;
    size_t nw = 0, nc = 0;
    char *joined = NULL;
    int rc = -1;
    const int32_t *ctx_tok, *cont_tok;
    size_t nctx, ncont;
    int32_t prefix = c->prefix_id;
    if (ctx_len == 0) {
        // Empty context: the prefix token, unless the continuation itself starts with it.
        if (encode(c, cont, cont_len, 0, &whole, &nw, e)) goto out;
        if (nw == 0) {
            ah_fail(e, "the continuation encodes to no tokens");
            goto out;
        }
        if (whole[0] != prefix) {
            ctx_tok = &prefix, nctx = 1, cont_tok = whole, ncont = nw;
        } else {
            ctx_tok = whole, nctx = 1, cont_tok = whole + 1, ncont = nw - 1;
        }
    } else {
        // _encode_pair: the context's trailing whitespace goes to the continuation.
        size_t cl = ctx_len;
        while (cl > 0 && py_space((unsigned char)ctx[cl - 1])) cl--;
        size_t tot = ctx_len + cont_len;
        if (!(joined = malloc(tot + 1))) {
            ah_fail(e, "out of memory (request text)");
            goto out;
        }
        memcpy(joined, ctx, ctx_len);
        memcpy(joined + ctx_len, cont, cont_len);
        joined[tot] = 0;
        if (encode(c, joined, tot, 1, &whole, &nw, e) || encode(c, joined, cl, 1, &ce, &nc, e))
            goto out;
        if (nc > nw) nc = nw;   // whole_enc[len(context_enc):] is empty then
        ctx_tok = whole, nctx = nc, cont_tok = whole + nc, ncont = nw - nc;
    }
    if (ncont == 0) {
        ah_fail(e, "the continuation adds no tokens after the context (lm-eval would fail too)");
        goto out;
    }
    if (ncont > (size_t)c->max_length) {
        ah_fail(e, "the continuation has %zu tokens, more than the model's context %d", ncont,
                c->max_length);
        goto out;
    }
    // (context + continuation)[-(L+1):]
    size_t keep = (size_t)c->max_length + 1, all = nctx + ncont;
    if (all > keep) {
        size_t drop = all - keep;   // from the left, all inside the context
        ctx_tok += drop;
        nctx -= drop;
    }
    if (nctx + ncont < 2) {
        ah_fail(e, "the request has fewer than 2 tokens");
        goto out;
    }
    rc = push(s, ctx_tok, nctx, cont_tok, ncont, ncont, owner, e);
out:
    free(whole);
    free(ce);
    free(joined);
    return rc;
}

int lme_add_rolling_tokens(lme_set *s, const lme_ctx *c, const int32_t *t, size_t nt,
                           size_t owner, size_t *windows, ah_err *e) {
    size_t L = (size_t)c->max_length, nw = 0;
    int rc = 0;
    if (nt > 0) {
        // First window: prefix + t[0 : first-1] read, t[0 : first] scored (first = min(L, nt)).
        size_t first = nt < L ? nt : L;
        int32_t prefix = c->prefix_id;
        rc = push(s, &prefix, 1, t, first, first, owner, e);
        nw++;
        // Later windows (make_disjoint_window): read t[end-L-1 : end-1], score the last
        // pred tokens, i.e. seq = t[end-L-1 : end].
        for (size_t done = first; !rc && done < nt;) {
            size_t pred = nt - done < L ? nt - done : L;
            size_t end = done + pred;
            rc = push(s, t + (end - L - 1), L + 1, NULL, 0, pred, owner, e);
            nw++;
            done = end;
        }
    }
    if (windows) *windows = nw;
    return rc;
}

int lme_add_rolling(lme_set *s, const lme_ctx *c, const char *text, size_t len, size_t owner,
                    size_t *windows, size_t *tokens, ah_err *e) {
    int32_t *t = NULL;
    size_t nt = 0;
    if (encode(c, text, len, 1, &t, &nt, e)) return -1;
    int rc = lme_add_rolling_tokens(s, c, t, nt, owner, windows, e);
    free(t);
    if (tokens) *tokens = nt;
    return rc;
}

const ll_request *lme_set_requests(lme_set *s, ah_err *e) {
    free(s->view);
    if (!(s->view = calloc(s->count ? s->count : 1, sizeof *s->view))) {
        ah_fail(e, "out of memory (requests)");
        return NULL;
    }
    for (size_t i = 0; i < s->count; i++)
        s->view[i] = (ll_request){.seq = s->tok + s->start[i], .n = s->n[i], .k = s->k[i]};
    return s->view;
}

void lme_set_free(lme_set *s) {
    if (!s) return;
    free(s->tok);
    free(s->start);
    free(s->n);
    free(s->k);
    free(s->owner);
    free(s->view);
    memset(s, 0, sizeof *s);
}
