// tok_added.c — added (special) tokens: the table, a hash index by text, and a byte trie for
// the leftmost-longest scan that splits the input before normalization.
//
// A tokenizer may carry 100k added tokens. A linear search per added token at load and per
// text position at encode time made loading quadratic (14 s for 100k) and a scan of 300 KB of
// '<' with them took minutes. Now adding is O(length) (hash index + trie insert) and the scan
// walks the trie from each candidate position: a hash probe per branch, memcmp in between.
#include "text/tok_internal.h"

#include <stdlib.h>
#include <string.h>

// Trie work allowed per input byte: a step is one probe, or 64 bytes of an edge label compared
// with memcmp. A walk from one position costs about the number of branching nodes on the
// longest added-token prefix there; real added tokens are under 100 bytes (the longest seen
// are runs of 24-31 spaces), so only a file of long added tokens that branch at nearly every
// byte, repeated throughout the text, gets near this. Over it is an error, not minutes of work.
#define ADDED_STEPS_PER_BYTE 256u
#define ADDED_STEPS_FLOOR 65536u

// A radix trie: node 0 is the root; an edge is (node, first byte) -> child in a pair map, and
// the rest of the edge's bytes are the child's label, a slice of one added text. A chain
// without branches is one edge, so a 4000-byte token, or two that share 4000 bytes, cost a few
// probes and one memcmp per position rather than 4000 probes.
static int32_t trie_child(const tok_tokenizer *t, int32_t node, unsigned char c) {
    int32_t rank, child;
    return tok_pmap_get(&t->added_trie, node, c, &rank, &child) ? child : -1;
}

static const char *label(const tok_tokenizer *t, const tok_tnode *nd) {
    return t->added[nd->lab_tok].text + nd->lab_off;
}

// A new node reached from `parent` by byte c (replacing an edge there), its label `lab_len`
// bytes of added[lab_tok] from lab_off. parent -1: the root. Returns the node, or -1.
static int32_t trie_node(tok_tokenizer *t, int32_t parent, unsigned char c, int32_t lab_tok,
                         size_t lab_off, size_t lab_len) {
    if (t->n_nodes == t->nodes_cap) {
        size_t nc = t->nodes_cap ? t->nodes_cap * 2 : 256;
        if (nc > INT32_MAX) return -1;
        tok_tnode *p = realloc(t->trie, nc * sizeof *p);
        if (!p) return -1;
        t->trie = p;
        t->nodes_cap = nc;
    }
    int32_t n = (int32_t)t->n_nodes++;
    t->trie[n] = (tok_tnode){-1, lab_tok, (uint32_t)lab_off, (uint32_t)lab_len};
    if (parent >= 0 && tok_pmap_put(&t->added_trie, parent, c, 0, n) < 0) return -1;
    return n;
}

// Splits the edge parent --c--> child after m bytes of child's label: returns the new middle
// node (which takes the edge), or -1.
static int32_t trie_split(tok_tokenizer *t, int32_t parent, unsigned char c, int32_t child,
                          size_t m) {
    tok_tnode old = t->trie[child];
    int32_t mid = trie_node(t, parent, c, old.lab_tok, old.lab_off, m);
    if (mid < 0) return -1;
    unsigned char next = (unsigned char)label(t, &old)[m];
    t->trie[child].lab_off = old.lab_off + (uint32_t)m + 1;
    t->trie[child].lab_len = old.lab_len - (uint32_t)m - 1;
    return tok_pmap_put(&t->added_trie, mid, next, 0, child) < 0 ? -1 : mid;
}

// Inserts added[index] (a text not in the trie yet; < 4 GiB). 0, or -1 (out of memory).
static int trie_insert(tok_tokenizer *t, int32_t index) {
    const char *text = t->added[index].text;
    size_t len = t->added[index].len, d = 0;   // d bytes of text matched at node
    if (t->n_nodes == 0 && trie_node(t, -1, 0, -1, 0, 0) < 0) return -1;
    int32_t node = 0;
    while (d < len) {
        unsigned char c = (unsigned char)text[d];
        int32_t child = trie_child(t, node, c);
        if (child < 0) {   // a leaf whose label is the rest of the text
            if ((node = trie_node(t, node, c, index, d + 1, len - d - 1)) < 0) return -1;
            break;
        }
        const tok_tnode *nd = &t->trie[child];
        const char *lab = label(t, nd);
        size_t m = 0;
        while (m < nd->lab_len && d + 1 + m < len && lab[m] == text[d + 1 + m]) m++;
        if (m < nd->lab_len && (child = trie_split(t, node, c, child, m)) < 0) return -1;
        node = child;
        d += 1 + m;
    }
    t->trie[node].end = index;
    return 0;
}

int tok_add_added(tok_tokenizer *t, const char *text, size_t len, int32_t id, int lstrip,
                  int rstrip, int single_word, ah_err *e) {
    if (len == 0) return ah_fail(e, "%s: added token %d has empty content", t->src, id);
    if (id < 0) return ah_fail(e, "%s: added token '%.*s' has negative id", t->src, (int)len, text);
    int32_t at = tok_smap_get(&t->added_index, text, len);
    if (at >= 0) {   // later entries of the same text replace earlier
        t->added[at].id = id;
        return 0;
    }
    if (t->n_added >= INT32_MAX) return ah_fail(e, "%s: too many added tokens", t->src);
    if (t->n_added == t->added_cap) {
        size_t nc = t->added_cap ? t->added_cap * 2 : 16;
        tok_added *a = realloc(t->added, nc * sizeof *a);
        if (!a) return ah_fail(e, "%s: out of memory", t->src);
        t->added = a;
        t->added_cap = nc;
    }
    char *c = malloc(len + 1);
    if (!c) return ah_fail(e, "%s: out of memory", t->src);
    memcpy(c, text, len);
    c[len] = 0;
    int32_t index = (int32_t)t->n_added;
    t->added[t->n_added++] = (tok_added){c, len, id, lstrip, rstrip, single_word};
    if (tok_smap_put(&t->added_index, text, len, index) < 0 || trie_insert(t, index))
        return ah_fail(e, "%s: out of memory", t->src);
    t->added_first[(unsigned char)text[0]] = 1;
    return 0;
}

int32_t tok_added_find(const tok_tokenizer *t, const char *text, size_t len) {
    int32_t at = tok_smap_get(&t->added_index, text, len);
    return at >= 0 ? t->added[at].id : -1;
}

void tok_added_free(tok_tokenizer *t) {
    for (size_t i = 0; i < t->n_added; i++) free(t->added[i].text);
    free(t->added);
    tok_smap_free(&t->added_index);
    tok_pmap_free(&t->added_trie);
    free(t->trie);
    free(t->added_of_id);
}

// ---------------------------------------------------------------------------------------------
// Scan

static int is_ws(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
static int is_word(unsigned char c) {
    return c >= 0x80 || c == '_' || (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z');
}

// single_word: the token may not touch a word character on either side of s[i, j).
static int word_ok(const tok_added *a, const char *s, size_t len, size_t i, size_t j) {
    return !a->single_word || !((i > 0 && is_word((unsigned char)s[i - 1])) ||
                                (j < len && is_word((unsigned char)s[j])));
}

// The longest added token at s[i] (single_word respected), or -1. Adds the work done to
// *steps.
static long longest_at(const tok_tokenizer *t, const char *s, size_t len, size_t i,
                       uint64_t *steps) {
    long best = -1;
    int32_t node = 0;
    for (size_t j = i; j < len;) {   // s[i, j) matched at node
        if ((node = trie_child(t, node, (unsigned char)s[j])) < 0) break;
        const tok_tnode *nd = &t->trie[node];
        *steps += 1 + nd->lab_len / 64;
        if (nd->lab_len > len - j - 1 ||
            (nd->lab_len && memcmp(s + j + 1, label(t, nd), nd->lab_len) != 0))
            break;
        j += 1 + nd->lab_len;
        if (nd->end >= 0 && word_ok(&t->added[nd->end], s, len, i, j)) best = nd->end;
    }
    return best;
}

void tok_added_scan_begin(tok_added_scan *sc, size_t len) {
    uint64_t steps = (uint64_t)ADDED_STEPS_PER_BYTE * len;
    sc->budget = steps > UINT64_MAX - ADDED_STEPS_FLOOR ? UINT64_MAX : steps + ADDED_STEPS_FLOOR;
    sc->steps = 0;
}

long tok_added_next(const tok_tokenizer *t, tok_added_scan *sc, const char *s, size_t len,
                    size_t from, size_t *ms, size_t *me, ah_err *e) {
    for (size_t i = from; i < len; i++) {
        if (!t->added_first[(unsigned char)s[i]]) continue;
        long best = longest_at(t, s, len, i, &sc->steps);
        if (sc->steps > sc->budget) {
            ah_fail(e, "%s: added tokens: matching them against the %zu-byte input took over "
                    "%llu trie steps (%u per byte) by byte %zu: added tokens that long and "
                    "repetitive are not supported", t->src, len, (unsigned long long)sc->budget,
                    ADDED_STEPS_PER_BYTE, i);
            return -2;
        }
        if (best < 0) continue;
        const tok_added *a = &t->added[best];
        *ms = i;
        *me = i + a->len;
        if (a->lstrip) while (*ms > from && is_ws((unsigned char)s[*ms - 1])) (*ms)--;
        if (a->rstrip) while (*me < len && is_ws((unsigned char)s[*me])) (*me)++;
        return best;
    }
    return -1;
}
