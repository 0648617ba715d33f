// tok_pretok.c — normalizers and pre-tokenizers between the added-token split and BPE, as HF
// `tokenizers` runs them on each segment: normalize (Prepend / Replace / NFC check), then
// split into pieces (regex Split, ByteLevel, Digits, Metaspace), then BPE on every piece.
#include "text/tok_internal.h"

#include "core/buf.h"

#include <stdlib.h>
#include <string.h>

// ---------------------------------------------------------------------------------------------
// UTF-8 and the byte-level alphabet

size_t tok_utf8_put(char *out, uint32_t cp) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) { out[0] = (char)(0xC0 | cp >> 6); out[1] = (char)(0x80 | (cp & 63)); return 2; }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12); out[1] = (char)(0x80 | ((cp >> 6) & 63));
        out[2] = (char)(0x80 | (cp & 63));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18); out[1] = (char)(0x80 | ((cp >> 12) & 63));
    out[2] = (char)(0x80 | ((cp >> 6) & 63)); out[3] = (char)(0x80 | (cp & 63));
    return 4;
}

// Input was validated by tok_encode; a truncated tail is still read safely as single bytes.
size_t tok_utf8_get(const char *s, size_t len, uint32_t *cp) {
    unsigned char c = (unsigned char)s[0];
    size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (n > len) { *cp = c; return 1; }
    uint32_t v = n == 1 ? c : n == 2 ? (c & 31u) : n == 3 ? (c & 15u) : (c & 7u);
    for (size_t i = 1; i < n; i++) v = v << 6 | ((unsigned char)s[i] & 63u);
    *cp = v;
    return n;
}

// GPT-2 bytes_to_unicode(): printable bytes map to themselves, the other 68 to 256, 257, ...
void tok_bytelevel_alphabet(uint32_t cp_of_byte[256]) {
    uint32_t next = 256;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        cp_of_byte[b] = printable ? (uint32_t)b : next++;
    }
}

// ---------------------------------------------------------------------------------------------
// Piece list

typedef struct span { size_t s, e; int m; } span;   // [s, e) in the segment; m = is a match
typedef struct spans { span *v; size_t n, cap; } spans;
static int spans_push(spans *a, size_t s, size_t e, int m) {
    if (a->n == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 64;
        span *q = realloc(a->v, nc * sizeof *q);
        if (!q) return -1;
        a->v = q;
        a->cap = nc;
    }
    a->v[a->n++] = (span){s, e, m};
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Normalizers

// Replaces every occurrence of a by b in *in (HF Replace with a String pattern).
static int replace_all(ah_buf *in, const char *a, size_t al, const char *b, size_t bl) {
    ah_buf o = {0};
    size_t i = 0;
    while (i < in->n) {
        if (i + al <= in->n && memcmp(in->p + i, a, al) == 0) {
            if (ah_buf_put(&o, b, bl)) goto oom;
            i += al;
        } else {
            size_t j = i + 1;
            while (j < in->n && in->p[j] != a[0]) j++;
            if (ah_buf_put(&o, in->p + i, j - i)) goto oom;
            i = j;
        }
    }
    free(in->p);
    *in = o;
    return 0;
oom:
    free(o.p);
    return -1;
}

// Text whose NFC form may differ from itself: a code point with NFC_QC = Maybe (combining
// characters that can compose with what precedes them, Hangul vowel/trailing jamo) or No
// (singleton decompositions, composition exclusions), or two nonspacing marks in a row (which
// canonical reordering may swap). NFC itself is not implemented: such text is refused rather
// than silently tokenized differently from HF. Lone marks that compose with nothing (e.g.
// Devanagari vowel signs, U+030D) pass, so WikiText-2 goes through.
static const char NFC_SUSPECT[] =
    "\\p{Mn}\\p{Mn}|[\\x{0300}-\\x{0304}\\x{0306}-\\x{030C}\\x{030F}\\x{0311}\\x{0313}\\x{0314}"
    "\\x{031B}\\x{0323}-\\x{0328}\\x{032D}\\x{032E}\\x{0330}\\x{0331}\\x{0338}\\x{0340}-\\x{0345}"
    "\\x{0374}\\x{037E}\\x{0387}\\x{0653}-\\x{0655}\\x{093C}\\x{0958}-\\x{095F}\\x{09BE}\\x{09D7}"
    "\\x{09DC}\\x{09DD}\\x{09DF}\\x{0A33}\\x{0A36}\\x{0A59}-\\x{0A5B}\\x{0A5E}\\x{0B3E}\\x{0B56}"
    "\\x{0B57}\\x{0B5C}\\x{0B5D}\\x{0BBE}\\x{0BD7}\\x{0C56}\\x{0CC2}\\x{0CD5}\\x{0CD6}\\x{0D3E}"
    "\\x{0D57}\\x{0DCA}\\x{0DCF}\\x{0DDF}\\x{0F43}\\x{0F4D}\\x{0F52}\\x{0F57}\\x{0F5C}\\x{0F69}"
    "\\x{0F73}\\x{0F75}\\x{0F76}\\x{0F78}\\x{0F81}\\x{0F93}\\x{0F9D}\\x{0FA2}\\x{0FA7}\\x{0FAC}"
    "\\x{0FB9}\\x{102E}\\x{1161}-\\x{1175}\\x{11A8}-\\x{11C2}\\x{1B35}\\x{1F71}\\x{1F73}\\x{1F75}"
    "\\x{1F77}\\x{1F79}\\x{1F7B}\\x{1F7D}\\x{1FBB}\\x{1FBE}\\x{1FC9}\\x{1FCB}\\x{1FD3}\\x{1FDB}"
    "\\x{1FE3}\\x{1FEB}\\x{1FEE}\\x{1FEF}\\x{1FF9}\\x{1FFB}\\x{1FFD}\\x{2000}\\x{2001}\\x{2126}"
    "\\x{212A}\\x{212B}\\x{2329}\\x{232A}\\x{2ADC}\\x{3099}\\x{309A}\\x{F900}-\\x{FAFF}\\x{FB1D}"
    "\\x{FB1F}\\x{FB2A}-\\x{FB4E}\\x{110BA}\\x{11127}\\x{1133E}\\x{11357}\\x{114B0}\\x{114BA}"
    "\\x{114BD}\\x{115AF}\\x{11930}\\x{1D15E}-\\x{1D164}\\x{1D1BB}-\\x{1D1C0}\\x{2F800}-\\x{2FA1D}]";

pcre2_code *tok_nfc_regex(const char *src, ah_err *e) {
    return tok_regex_compile(NFC_SUSPECT, sizeof NFC_SUSPECT - 1, src, e);
}

static int nfc_check(const tok_tokenizer *t, tok_rx *rx, const tok_norm *nm, const char *s,
                     size_t len, ah_err *e) {
    int ascii = 1;
    for (size_t i = 0; i < len && ascii; i++) ascii = (unsigned char)s[i] < 0x80;
    if (ascii) return 0;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(nm->re, NULL);
    if (!md) return ah_fail(e, "%s: out of memory normalizing", t->src);
    tok_rx_begin(rx, len, t->src, "NFC normalizer check");
    int rc = tok_rx_match(rx, nm->re, md, s, len, 0, e);
    size_t at = rc > 0 ? pcre2_get_ovector_pointer(md)[0] : 0;
    pcre2_match_data_free(md);
    if (rc > 0)
        return ah_fail(e, "%s: NFC normalizer: text needs Unicode normalization at segment byte "
                       "%zu (NFC is not implemented; text that NFC would change is refused)",
                       t->src, at);
    return rc;
}

static int normalize(const tok_tokenizer *t, tok_rx *rx, ah_buf *b, ah_err *e) {
    for (size_t k = 0; k < t->n_norm; k++) {
        const tok_norm *nm = &t->norm[k];
        if (nm->type == TOK_NORM_PREPEND && b->n > 0) {
            ah_buf o = {0};
            if (ah_buf_put(&o, nm->a, nm->alen) || ah_buf_put(&o, b->p, b->n)) { free(o.p); goto oom; }
            free(b->p);
            *b = o;
        } else if (nm->type == TOK_NORM_REPLACE && nm->alen > 0) {
            if (replace_all(b, nm->a, nm->alen, nm->b, nm->blen)) goto oom;
        } else if (nm->type == TOK_NORM_NFC) {
            if (nfc_check(t, rx, nm, b->p, b->n, e)) return -1;
        }
    }
    return 0;
oom:
    return ah_fail(e, "%s: out of memory normalizing", t->src);
}

// ---------------------------------------------------------------------------------------------
// Splitting (HF SplitDelimiterBehavior applied to the match / non-match ranges of one piece)

// Match ranges of re in s[ps, pe) (absolute offsets), interleaved with the gaps. The regex
// sees only the piece (lookarounds stop at its ends, as in HF). 0, or -1 with e filled.
static int find_matches(tok_rx *rx, const pcre2_code *re, pcre2_match_data *md, const char *s,
                        size_t ps, size_t pe, spans *out, ah_err *e) {
    size_t prev = ps, at = ps;
    while (at < pe) {
        int rc = tok_rx_match(rx, re, md, s + ps, pe - ps, at - ps, e);
        if (rc < 0) return -1;
        if (rc == 0) break;   // no more matches: the rest is a gap
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t ms = ps + ov[0], me = ps + ov[1];
        if (me == ms) {   // empty match: step over one char and keep looking
            uint32_t cp;
            at = ms + tok_utf8_get(s + ms, pe - ms, &cp);
            continue;
        }
        if ((ms > prev && spans_push(out, prev, ms, 0)) || spans_push(out, ms, me, 1)) goto oom;
        prev = at = me;
    }
    if (pe > prev && spans_push(out, prev, pe, 0)) goto oom;
    return 0;
oom:
    return ah_fail(e, "%s: out of memory pre-tokenizing", rx->src);
}

// Literal-string matches (Metaspace's split on the replacement char).
static int find_literal(const char *s, size_t ps, size_t pe, const char *lit, size_t ll,
                        spans *out) {
    size_t prev = ps;
    for (size_t i = ps; i + ll <= pe;) {
        if (memcmp(s + i, lit, ll) == 0) {
            if (i > prev && spans_push(out, prev, i, 0)) return -1;
            if (spans_push(out, i, i + ll, 1)) return -1;
            i += ll;
            prev = i;
        } else {
            i++;
        }
    }
    if (pe > prev && spans_push(out, prev, pe, 0)) return -1;
    return 0;
}

// Appends the pieces of ranges m (one piece's matches) to out following behavior.
static int apply_behavior(spans *m, int behavior, int invert, spans *out) {
    if (invert)
        for (size_t i = 0; i < m->n; i++) m->v[i].m = !m->v[i].m;
    size_t first = out->n;
    int prev_match = 0;
    switch (behavior) {
    case TOK_SPLIT_ISOLATED:
        for (size_t i = 0; i < m->n; i++)
            if (spans_push(out, m->v[i].s, m->v[i].e, 0)) return -1;
        break;
    case TOK_SPLIT_REMOVED:
        for (size_t i = 0; i < m->n; i++)
            if (!m->v[i].m && spans_push(out, m->v[i].s, m->v[i].e, 0)) return -1;
        break;
    case TOK_SPLIT_MERGED_PREV:
        for (size_t i = 0; i < m->n; i++) {
            if (m->v[i].m && !prev_match && out->n > first) out->v[out->n - 1].e = m->v[i].e;
            else if (spans_push(out, m->v[i].s, m->v[i].e, 0)) return -1;
            prev_match = m->v[i].m;
        }
        break;
    case TOK_SPLIT_MERGED_NEXT:   // HF folds from the right; the mirror image of the above
        for (size_t i = m->n; i-- > 0;) {
            if (m->v[i].m && !prev_match && out->n > first) out->v[out->n - 1].s = m->v[i].s;
            else if (spans_push(out, m->v[i].s, m->v[i].e, 0)) return -1;
            prev_match = m->v[i].m;
        }
        for (size_t i = first, j = out->n; i + 1 < j; i++, j--) {
            span x = out->v[i]; out->v[i] = out->v[j - 1]; out->v[j - 1] = x;
        }
        break;
    case TOK_SPLIT_CONTIGUOUS:
        for (size_t i = 0; i < m->n; i++) {
            if (m->v[i].m && prev_match && out->n > first) out->v[out->n - 1].e = m->v[i].e;
            else if (spans_push(out, m->v[i].s, m->v[i].e, 0)) return -1;
            prev_match = m->v[i].m;
        }
        break;
    }
    return 0;
}

// ---------------------------------------------------------------------------------------------
// One segment

int tok_encode_segment(const tok_tokenizer *t, tok_work *w, const char *s, size_t len,
                       int at_start, tok_ids *out, ah_err *e) {
    if (len == 0) return 0;
    ah_buf b = {0};
    spans cur = {0}, nxt = {0}, m = {0};
    pcre2_match_data *md = NULL;
    int rc = -1;
    tok_rx *rx = tok_work_rx(w);
    if (ah_buf_put(&b, s, len)) goto oom;
    if (normalize(t, rx, &b, e)) goto done;
    if (b.n == 0) { rc = 0; goto done; }

    // The first pre-tokenizer may edit the text (prefix space, Metaspace replacement).
    if (t->n_pre && t->pre[0].type == TOK_PRE_BYTELEVEL && t->pre[0].add_prefix_space &&
        b.p[0] != ' ') {
        ah_buf o = {0};
        if (ah_buf_put(&o, " ", 1) || ah_buf_put(&o, b.p, b.n)) { free(o.p); goto oom; }
        free(b.p);
        b = o;
    }
    if (t->n_pre && t->pre[0].type == TOK_PRE_METASPACE) {
        const tok_pre *p = &t->pre[0];
        if (replace_all(&b, " ", 1, p->repl, p->repl_len)) goto oom;
        int want = p->prepend_scheme == TOK_PREPEND_ALWAYS ||
                   (p->prepend_scheme == TOK_PREPEND_FIRST && at_start);
        if (want && !(b.n >= p->repl_len && memcmp(b.p, p->repl, p->repl_len) == 0)) {
            ah_buf o = {0};
            if (ah_buf_put(&o, p->repl, p->repl_len) || ah_buf_put(&o, b.p, b.n)) { free(o.p); goto oom; }
            free(b.p);
            b = o;
        }
    }

    if (spans_push(&cur, 0, b.n, 0)) goto oom;
    for (size_t k = 0; k < t->n_pre; k++) {
        const tok_pre *p = &t->pre[k];
        int literal = p->type == TOK_PRE_METASPACE;
        if (literal ? !p->split : !p->re) continue;
        int behavior = literal ? TOK_SPLIT_MERGED_NEXT
                     : p->type == TOK_PRE_SPLIT ? p->behavior : TOK_SPLIT_ISOLATED;
        if (!literal) {
            pcre2_match_data_free(md);
            md = pcre2_match_data_create_from_pattern(p->re, NULL);
            if (!md) goto oom;
            tok_rx_begin(rx, b.n, t->src, p->what);   // one budget for the step's pieces
        }
        nxt.n = 0;
        for (size_t i = 0; i < cur.n; i++) {
            m.n = 0;
            if (literal ? find_literal(b.p, cur.v[i].s, cur.v[i].e, p->repl, p->repl_len, &m)
                        : find_matches(rx, p->re, md, b.p, cur.v[i].s, cur.v[i].e, &m, e)) {
                if (literal) goto oom;
                goto done;   // e names the regex
            }
            if (apply_behavior(&m, behavior, p->type == TOK_PRE_SPLIT && p->invert, &nxt))
                goto oom;
        }
        spans x = cur; cur = nxt; nxt = x;
    }
    for (size_t i = 0; i < cur.n; i++)
        if (tok_bpe_word(t, w, b.p + cur.v[i].s, cur.v[i].e - cur.v[i].s, out, e)) goto done;
    rc = 0;
    goto done;
oom:
    rc = ah_fail(e, "%s: out of memory pre-tokenizing", t->src);
done:
    pcre2_match_data_free(md);
    free(b.p); free(cur.v); free(nxt.v); free(m.v);
    return rc;
}
