// tok_bpe.c — the BPE merge loops: HF `tokenizers` (merges by rank) and llama2.c run.c (merges
// by score), both as a priority queue over a linked list of symbols so a 1.3 MB word (Llama-2
// has no pre-tokenizer: a whole segment is one word) costs O(n log n), not O(n^2).
#include "text/tok_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct sym { int32_t id, prev, next, alive; } sym;
// Queue entry: lowest key first, then lowest pos (= leftmost, as positions keep their order).
typedef struct qent { double key; int32_t pos, id; } qent;

struct tok_work {
    sym *s; size_t s_cap;            // (n symbols) of the current word
    qent *q; size_t q_n, q_cap;      // binary heap
    char *buf; size_t buf_cap;       // scratch (mapped word, concatenations)
    tok_smap cache_map;              // word -> index into cache
    struct { size_t off; size_t cnt; } *cache; size_t cache_n, cache_cap;  // (cache_n)
    tok_ids cache_ids;               // the cached ids, concatenated
    tok_rx rx;                       // regex limits and budget of the pre-tokenizers
};

// Words longer than this are not cached: they rarely repeat and would bloat the cache.
#define CACHE_MAX_WORD 256

tok_work *tok_work_new(void) {
    tok_work *w = calloc(1, sizeof(tok_work));
    if (w && tok_rx_init(&w->rx)) { free(w); return NULL; }
    return w;
}

tok_rx *tok_work_rx(tok_work *w) { return &w->rx; }

void tok_work_free(tok_work *w) {
    if (!w) return;
    tok_rx_free(&w->rx);
    free(w->s); free(w->q); free(w->buf);
    tok_smap_free(&w->cache_map);
    free(w->cache); free(w->cache_ids.v);
    free(w);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap : 64;
    while (nc < need) nc *= 2;
    void *q = realloc(*p, nc * elem);
    if (!q) return -1;
    *p = q;
    *cap = nc;
    return 0;
}

static int q_push(tok_work *w, double key, int32_t pos, int32_t id) {
    if (grow((void **)&w->q, &w->q_cap, w->q_n + 1, sizeof(qent))) return -1;
    size_t i = w->q_n++;
    qent x = {key, pos, id};
    while (i > 0) {
        size_t p = (i - 1) / 2;
        qent *pp = &w->q[p];
        if (pp->key < x.key || (pp->key == x.key && pp->pos < x.pos)) break;
        w->q[i] = *pp;
        i = p;
    }
    w->q[i] = x;
    return 0;
}

static qent q_pop(tok_work *w) {
    qent top = w->q[0], x = w->q[--w->q_n];
    size_t i = 0, n = w->q_n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && (w->q[c + 1].key < w->q[c].key ||
                          (w->q[c + 1].key == w->q[c].key && w->q[c + 1].pos < w->q[c].pos)))
            c++;
        if (x.key < w->q[c].key || (x.key == w->q[c].key && x.pos < w->q[c].pos)) break;
        w->q[i] = w->q[c];
        i = c;
    }
    if (n) w->q[i] = x;
    return top;
}

static int push_sym(tok_work *w, size_t *n, int32_t id) {
    if (grow((void **)&w->s, &w->s_cap, *n + 1, sizeof(sym))) return -1;
    w->s[*n] = (sym){id, (int32_t)*n - 1, -1, 1};
    if (*n) w->s[*n - 1].next = (int32_t)*n;
    (*n)++;
    return 0;
}

// ---------------------------------------------------------------------------------------------
// HF BPE (models/bpe/word.rs merge_all): pop the lowest (rank, pos); an entry is stale when the
// pair now at pos no longer maps to its merged id — the same test HF applies, kept identical.

static int initial_symbols(const tok_tokenizer *t, tok_work *w, const char *s, size_t len,
                           size_t *n) {
    *n = 0;
    if (t->kind == TOK_BYTELEVEL) {
        for (size_t i = 0; i < len; i++) {
            int32_t id = t->byte_id[(unsigned char)s[i]];
            if (id < 0) id = t->unk_id;       // no unk either: HF drops the char
            if (id >= 0 && push_sym(w, n, id)) return -1;
        }
        return 0;
    }
    int last_unk = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t cl = tok_utf8_get(s + i, len - i, &cp);
        int32_t id = tok_smap_get(&t->vocab, s + i, cl);
        if (id >= 0) {
            if (push_sym(w, n, id)) return -1;
            last_unk = 0;
        } else {
            int all = t->byte_fallback;
            for (size_t k = 0; all && k < cl; k++) all = t->byte_id[(unsigned char)s[i + k]] >= 0;
            if (all) {
                for (size_t k = 0; k < cl; k++)
                    if (push_sym(w, n, t->byte_id[(unsigned char)s[i + k]])) return -1;
                last_unk = 0;
            } else if (t->unk_id >= 0 && !(t->fuse_unk && last_unk)) {
                if (push_sym(w, n, t->unk_id)) return -1;
                last_unk = 1;
            }
        }
        i += cl;
    }
    return 0;
}

static int merge_by_rank(const tok_tokenizer *t, tok_work *w, size_t n) {
    w->q_n = 0;
    int32_t r, id;
    for (size_t i = 0; i + 1 < n; i++)
        if (tok_pmap_get(&t->merges, w->s[i].id, w->s[i + 1].id, &r, &id) &&
            q_push(w, r, (int32_t)i, id))
            return -1;
    while (w->q_n) {
        qent top = q_pop(w);
        sym *a = &w->s[top.pos];
        if (!a->alive || a->next < 0) continue;
        sym *b = &w->s[a->next];
        if (!tok_pmap_get(&t->merges, a->id, b->id, &r, &id) || id != top.id) continue;
        a->id = top.id;
        a->next = b->next;
        if (b->next >= 0) w->s[b->next].prev = top.pos;
        b->alive = 0;
        if (a->prev >= 0 && tok_pmap_get(&t->merges, w->s[a->prev].id, a->id, &r, &id) &&
            q_push(w, r, a->prev, id))
            return -1;
        if (a->next >= 0 && tok_pmap_get(&t->merges, a->id, w->s[a->next].id, &r, &id) &&
            q_push(w, r, top.pos, id))
            return -1;
    }
    return 0;
}

// ignore_merges (Llama-3 style): a word that is itself in the vocab is emitted whole.
static int32_t whole_word_id(const tok_tokenizer *t, tok_work *w, const char *s, size_t len) {
    if (t->kind != TOK_BYTELEVEL) return tok_smap_get(&t->vocab, s, len);
    uint32_t cp[256];
    tok_bytelevel_alphabet(cp);
    if (grow((void **)&w->buf, &w->buf_cap, len * 2 + 1, 1)) return -1;
    size_t m = 0;
    for (size_t i = 0; i < len; i++) m += tok_utf8_put(w->buf + m, cp[(unsigned char)s[i]]);
    return tok_smap_get(&t->vocab, w->buf, m);
}

static int bpe_word(const tok_tokenizer *t, tok_work *w, const char *s, size_t len, tok_ids *out,
                    ah_err *e) {
    if (len == 0) return 0;
    int cacheable = len <= CACHE_MAX_WORD;
    if (cacheable) {
        int32_t c = tok_smap_get(&w->cache_map, s, len);
        if (c >= 0) {
            for (size_t k = 0; k < w->cache[c].cnt; k++)
                if (tok_ids_push(out, w->cache_ids.v[w->cache[c].off + k])) goto oom;
            return 0;
        }
    }
    size_t start = out->n;
    int32_t whole = t->ignore_merges ? whole_word_id(t, w, s, len) : -1;
    if (whole >= 0) {
        if (tok_ids_push(out, whole)) goto oom;
    } else {
        size_t n;
        if (initial_symbols(t, w, s, len, &n) || merge_by_rank(t, w, n)) goto oom;
        for (int32_t i = n ? 0 : -1; i >= 0; i = w->s[i].next)
            if (tok_ids_push(out, w->s[i].id)) goto oom;
    }
    if (cacheable) {
        size_t c = w->cache_n;
        if (grow((void **)&w->cache, &w->cache_cap, c + 1, sizeof *w->cache)) goto oom;
        w->cache[c].off = w->cache_ids.n;
        w->cache[c].cnt = out->n - start;
        for (size_t k = start; k < out->n; k++)
            if (tok_ids_push(&w->cache_ids, out->v[k])) goto oom;
        if (tok_smap_put(&w->cache_map, s, len, (int32_t)c) < 0) goto oom;
        w->cache_n++;
    }
    return 0;
oom:
    return ah_fail(e, "%s: out of memory in BPE", t->src);
}

// A SentencePiece-style tokenizer without a pre-tokenizer (Llama-2, TinyLlama) passes a whole
// text segment, all of WikiText-2's test set, as one word: one queue over 1.3 MB, and no use of
// the word cache. Such a word is merged in parts, cut between two characters a and b where no
// merge joins a token ending in a to one starting with b (t->junctions) and each is a vocab
// entry on its own (so neither becomes byte pieces or an unk that fuse_unk could join to the
// other): before "▁" after a letter, for Llama-2. No merge then crosses the cut, and the
// merges on either side run in the same rank order as in the whole word (the queue's order
// restricted to one side is that side's own), so each side merged alone gives the same ids;
// the parts are words again, and repeat. A ByteLevel tokenizer's pre-tokenizer already
// splits; ignore_merges looks the whole word up first, so neither is cut.
int tok_bpe_word(const tok_tokenizer *t, tok_work *w, const char *s, size_t len, tok_ids *out,
                 ah_err *e) {
    if (len <= CACHE_MAX_WORD || t->kind != TOK_SPM || t->ignore_merges || t->uncut ||
        t->junctions.n == 0)
        return bpe_word(t, w, s, len, out, e);
    size_t start = 0;         // the current part is [start, i)
    uint32_t prev_cp = 0;
    int prev_known = 0;       // the previous char is a vocab entry (0 before the first)
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t cl = tok_utf8_get(s + i, len - i, &cp);
        int32_t r, id;
        int known = tok_smap_get(&t->vocab, s + i, cl) >= 0;
        if (prev_known && known &&
            !tok_pmap_get(&t->junctions, (int32_t)prev_cp, (int32_t)cp, &r, &id)) {
            if (bpe_word(t, w, s + start, i - start, out, e)) return -1;
            start = i;
        }
        prev_cp = cp;
        prev_known = known;
        i += cl;
    }
    return bpe_word(t, w, s + start, len - start, out, e);
}

// ---------------------------------------------------------------------------------------------
// llama2.c run.c encode: dummy-prefix " ", one symbol per codepoint (its bytes' <0xNN> pieces
// when the codepoint is not a piece: byte + 3 in llama2.c's tokenizers), then merge the adjacent pair whose concatenation is a piece with
// the highest score (leftmost on ties, as run.c's strict '>' scan picks), until none.

static int32_t concat_id(const tok_tokenizer *t, tok_work *w, int32_t a, int32_t b) {
    if (!t->piece[a] || !t->piece[b]) return -1;   // an id without text (a GGUF's repeated token)
    size_t la = t->piece_len[a], lb = t->piece_len[b];
    if (grow((void **)&w->buf, &w->buf_cap, la + lb + 1, 1)) return -2;
    memcpy(w->buf, t->piece[a], la);
    memcpy(w->buf + la, t->piece[b], lb);
    return tok_smap_get(&t->vocab, w->buf, la + lb);
}

// run.c starts best_score at -1e10 and needs a strictly higher score to merge.
#define L2C_MIN_SCORE -1e10f

int tok_llama2c_encode(const tok_tokenizer *t, tok_work *w, const char *s, size_t len,
                       tok_ids *out, ah_err *e) {
    size_t n = 0;
    if (len > 0 && !t->no_dummy_prefix) {
        int32_t sp = tok_smap_get(&t->vocab, " ", 1);
        if (sp < 0) return ah_fail(e, "%s: no \" \" piece for the dummy prefix", t->src);
        if (push_sym(w, &n, sp)) goto oom;
    }
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t cl = tok_utf8_get(s + i, len - i, &cp);
        int32_t id = tok_smap_get(&t->vocab, s + i, cl);
        if (id >= 0) {
            if (push_sym(w, &n, id)) goto oom;
        } else {
            for (size_t k = 0; k < cl; k++) {
                // the <0xNN> piece; llama2.c's run.c assumes it at id NN + 3
                int32_t b = t->byte_id[(unsigned char)s[i + k]];
                if (b < 0) b = (int32_t)(unsigned char)s[i + k] + 3;
                if (b >= t->vocab_size)
                    return ah_fail(e, "%s: byte fallback id %d beyond vocab size %d", t->src, b,
                                   t->vocab_size);
                if (push_sym(w, &n, b)) goto oom;
            }
        }
        i += cl;
    }
    w->q_n = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        int32_t id = concat_id(t, w, w->s[i].id, w->s[i + 1].id);
        if (id == -2) goto oom;
        if (id >= 0 && t->score[id] > L2C_MIN_SCORE && q_push(w, -(double)t->score[id], (int32_t)i, id))
            goto oom;
    }
    while (w->q_n) {
        qent top = q_pop(w);
        sym *a = &w->s[top.pos];
        if (!a->alive || a->next < 0) continue;
        sym *b = &w->s[a->next];
        if (concat_id(t, w, a->id, b->id) != top.id) continue;
        a->id = top.id;
        a->next = b->next;
        if (b->next >= 0) w->s[b->next].prev = top.pos;
        b->alive = 0;
        int32_t nb[2][2] = {{a->prev, top.pos}, {top.pos, a->next}};
        for (int k = 0; k < 2; k++) {
            if (nb[k][0] < 0 || nb[k][1] < 0) continue;
            int32_t id = concat_id(t, w, w->s[nb[k][0]].id, w->s[nb[k][1]].id);
            if (id == -2) goto oom;
            if (id >= 0 && t->score[id] > L2C_MIN_SCORE &&
                q_push(w, -(double)t->score[id], nb[k][0], id))
                goto oom;
        }
    }
    for (int32_t i = n ? 0 : -1; i >= 0; i = w->s[i].next)
        if (tok_ids_push(out, w->s[i].id)) goto oom;
    return 0;
oom:
    return ah_fail(e, "%s: out of memory in encode", t->src);
}
