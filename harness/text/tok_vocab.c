// tok_vocab.c — a tokenizer's vocabulary in llama.cpp's terms (tok_vocab.h).
#include "text/tok_vocab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/tok_internal.h"

#define SPM_SPACE "\xe2\x96\x81"   // U+2581 "▁": SentencePiece's space

void tok_vocab_free(tok_vocab *v) {
    if (!v) return;
    for (int i = 0; v->text && i < v->n; i++) free(v->text[i]);
    for (size_t i = 0; v->merges && i < v->n_merges; i++) free(v->merges[i]);
    free(v->text);
    free(v->len);
    free(v->score);
    free(v->type);
    free(v->merges);
    memset(v, 0, sizeof *v);
}

static int set_text(tok_vocab *v, int id, const char *s, size_t n, ah_err *e) {
    if (!(v->text[id] = malloc(n + 1))) return ah_fail(e, "out of memory (vocabulary)");
    memcpy(v->text[id], s, n);
    v->text[id][n] = 0;
    v->len[id] = (uint32_t)n;
    return 0;
}

// llama2.c pieces hold a space as ' ' and name BOS/EOS "\n<s>\n" / "\n</s>\n" (its
// tokenizer.py export); llama.cpp's SPM wants SentencePiece's own text.
static int llama2c_text(tok_vocab *v, const tok_tokenizer *t, int id, ah_err *e) {
    static const char *const named[] = {"<unk>", "<s>", "</s>"};
    if (id < 3) return set_text(v, id, named[id], strlen(named[id]), e);
    const char *p = t->piece[id];
    size_t n = t->piece_len[id], spaces = 0, o = 0;
    for (size_t i = 0; i < n; i++) spaces += p[i] == ' ';
    char *s = malloc(n + 2 * spaces + 1);
    if (!s) return ah_fail(e, "out of memory (vocabulary)");
    for (size_t i = 0; i < n; i++) {
        if (p[i] == ' ') { memcpy(s + o, SPM_SPACE, 3); o += 3; }
        else s[o++] = p[i];
    }
    int rc = set_text(v, id, s, o, e);
    free(s);
    return rc;
}

static int is_byte_piece(const char *s, size_t n) {   // "<0xNN>"
    return n == 6 && !strncmp(s, "<0x", 3) && s[5] == '>';
}

// llama.cpp's name for the byte-level pre-tokenizer, recognised from the steps the loader
// built: ByteLevel with GPT-2's regex alone ("gpt-2"), single digits split off first
// ("smollm": llama.cpp's regexes \p{N} then GPT-2's), or Qwen2's Split then ByteLevel without
// a regex ("qwen2"). NULL: none of these.
static const char *bpe_pre_name(const tok_tokenizer *t) {
    const tok_pre *last = t->n_pre ? &t->pre[t->n_pre - 1] : NULL;
    int gpt2_last = last && last->type == TOK_PRE_BYTELEVEL && last->pattern &&
                    !strcmp(last->pattern, TOK_GPT2_REGEX) && !last->add_prefix_space;
    const tok_pre *first = &t->pre[0];
    int split_first = t->n_pre == 2 && first->type == TOK_PRE_SPLIT && first->pattern &&
                      first->behavior == TOK_SPLIT_ISOLATED && !first->invert;
    if (t->n_pre == 1 && gpt2_last) return "gpt-2";
    if (split_first && gpt2_last && !strcmp(first->pattern, "\\p{N}")) return "smollm";
    if (split_first && !strcmp(first->pattern, TOK_QWEN2_REGEX) &&
        last->type == TOK_PRE_BYTELEVEL && !last->re && !last->add_prefix_space)
        return "qwen2";
    return NULL;
}

// BPE merges in rank order, each "left right" in the byte-level alphabet. Ranks need not be
// dense (a repeated merge keeps its later rank): the map's entries are sorted by rank.
typedef struct { int32_t rank; size_t slot; } merge_ref;
static int by_rank(const void *a, const void *b) {
    int32_t x = ((const merge_ref *)a)->rank, y = ((const merge_ref *)b)->rank;
    return (x > y) - (x < y);
}

static int bpe_merges(tok_vocab *v, const tok_tokenizer *t, ah_err *e) {
    const tok_pmap *m = &t->merges;
    merge_ref *ref = malloc((m->n ? m->n : 1) * sizeof *ref);
    v->merges = calloc(m->n ? m->n : 1, sizeof *v->merges);
    if (!ref || !v->merges) {
        free(ref);
        return ah_fail(e, "out of memory (merges)");
    }
    size_t k = 0;
    for (size_t s = 0; s < m->cap; s++)
        if (m->key[s] != UINT64_MAX) ref[k++] = (merge_ref){m->rank[s], s};
    qsort(ref, k, sizeof *ref, by_rank);
    int rc = 0;
    for (size_t i = 0; i < k && !rc; i++) {
        uint64_t key = m->key[ref[i].slot];
        int32_t a = (int32_t)(key >> 32), b = (int32_t)(uint32_t)key;
        if (a < 0 || b < 0 || a >= t->vocab_size || b >= t->vocab_size || !t->piece[a] || !t->piece[b]) {
            rc = ah_fail(e, "%s: a merge names an unknown token", t->src);
            break;
        }
        size_t la = t->piece_len[a], lb = t->piece_len[b];
        char *s2 = malloc(la + lb + 2);
        if (!s2) {
            rc = ah_fail(e, "out of memory (merges)");
            break;
        }
        memcpy(s2, t->piece[a], la);
        s2[la] = ' ';
        memcpy(s2 + la + 1, t->piece[b], lb);
        s2[la + lb + 1] = 0;
        v->merges[v->n_merges++] = s2;
    }
    free(ref);
    return rc;
}

int tok_vocab_get(tok_vocab *v, const tok_tokenizer *t, int n_min, ah_err *e) {
    memset(v, 0, sizeof *v);
    if (t->vocab_size > n_min)
        return ah_fail(e, "%s: the tokenizer has %d ids, the model's embedding %d rows",
                       t->src, t->vocab_size, n_min);
    v->n = n_min;
    v->bos = tok_bos_id(t) >= 0 ? tok_bos_id(t) : t->bos_id;
    v->eos = t->eos_id;
    v->unk = t->unk_id;
    v->add_bos = tok_bos_id(t) >= 0;
    if (t->kind == TOK_BYTELEVEL) {
        v->kind = TOK_VOCAB_BPE;
        if (!(v->pre = bpe_pre_name(t)))
            return ah_fail(e, "%s: a byte-level pre-tokenizer llama.cpp has no name for here "
                              "(known: GPT-2's ByteLevel regex, SmolLM's digits + ByteLevel, "
                              "Qwen2's Split)", t->src);
        for (size_t i = 0; i < t->n_norm; i++)   // llama.cpp's BPE applies no normalizer
            if (t->norm[i].type != TOK_NORM_NFC)   // NFC: as convert_hf_to_gguf, ignored
                return ah_fail(e, "%s: a normalizer before byte-level BPE, which llama.cpp "
                                  "does not apply", t->src);
    } else {
        v->kind = TOK_VOCAB_SPM;
        v->add_space_prefix = t->kind == TOK_LLAMA2C && !t->no_dummy_prefix;   // (a GGUF import)
        for (size_t i = 0; i < t->n_norm; i++) v->add_space_prefix |= t->norm[i].type == TOK_NORM_PREPEND;
        for (size_t i = 0; i < t->n_pre; i++)
            v->add_space_prefix |= t->pre[i].type == TOK_PRE_METASPACE &&
                                   t->pre[i].prepend_scheme != TOK_PREPEND_NEVER;
        if (t->kind == TOK_LLAMA2C) v->unk = 0;
    }
    v->text = calloc((size_t)v->n, sizeof *v->text);
    v->len = calloc((size_t)v->n, sizeof *v->len);
    v->score = calloc((size_t)v->n, sizeof *v->score);
    v->type = calloc((size_t)v->n, sizeof *v->type);
    if (!v->text || !v->len || !v->score || !v->type) {
        tok_vocab_free(v);
        return ah_fail(e, "out of memory (vocabulary)");
    }
    int rc = 0;
    for (int id = 0; id < v->n && !rc; id++) {
        if (id >= t->vocab_size || !t->piece[id]) {   // a hole: convert_hf_to_gguf's padding
            char pad[32];
            int n = snprintf(pad, sizeof pad, "[PAD%d]", id);
            rc = set_text(v, id, pad, (size_t)n, e);
            v->type[id] = TOK_TYPE_UNUSED;
            continue;
        }
        rc = t->kind == TOK_LLAMA2C ? llama2c_text(v, t, id, e)
                                    : set_text(v, id, t->piece[id], t->piece_len[id], e);
        // Added tokens are matched before the model in HF; llama.cpp does so for CONTROL ones
        // only when asked to parse special tokens. The harness does not keep HF's "special"
        // flag, so every added token is CONTROL (what convert_hf_to_gguf writes for special
        // ones; a non-special added token would be USER_DEFINED there).
        if (id == v->unk) v->type[id] = TOK_TYPE_UNKNOWN;
        else if (t->added_of_id && t->added_of_id[id] >= 0) v->type[id] = TOK_TYPE_CONTROL;
        else if (t->kind == TOK_LLAMA2C && (id == 1 || id == 2)) v->type[id] = TOK_TYPE_CONTROL;
        else if (v->kind == TOK_VOCAB_SPM && is_byte_piece(t->piece[id], t->piece_len[id]))
            v->type[id] = TOK_TYPE_BYTE;
        else v->type[id] = TOK_TYPE_NORMAL;
        if (t->kind == TOK_LLAMA2C) v->score[id] = t->score[id];
    }
    if (!rc && v->kind == TOK_VOCAB_BPE) rc = bpe_merges(v, t, e);
    if (!rc && t->kind == TOK_SPM) {
        // llama.cpp's SPM merges the adjacent pair whose merged token scores highest (ties:
        // leftmost); HF's BPE merges the pair of lowest rank. Scoring each merged token by
        // minus the rank of the merge that makes it gives the same order.
        const tok_pmap *m = &t->merges;
        for (int id = 0; id < v->n; id++) v->score[id] = v->type[id] == TOK_TYPE_NORMAL ? -1e9f : 0.0f;
        for (size_t s = 0; s < m->cap; s++) {
            if (m->key[s] == UINT64_MAX) continue;
            int32_t id = m->id[s];
            float sc = -(float)m->rank[s];
            if (id >= 0 && id < v->n && (v->score[id] == -1e9f || sc > v->score[id])) v->score[id] = sc;
        }
        for (int id = 0; id < v->n; id++) if (v->score[id] == -1e9f) v->score[id] = 0.0f;
    }
    if (rc) tok_vocab_free(v);
    return rc;
}
