// tok_internal.h — private types shared by the tokenizer source files (not a public API).
//
// One tok_tokenizer holds everything read from the files (read-only after tok_load); every
// tok_encode call owns its own work buffers and word cache, so concurrent encodes on one
// tokenizer are safe.
#ifndef AH_TOK_INTERNAL_H
#define AH_TOK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/err.h"
#include "text/tokenizer.h"

// ---------------------------------------------------------------------------------------------
// Hash maps (tok_map.c): open addressing, linear probing, power-of-two capacities.

// byte string -> int32. Keys are copied into an arena owned by the map.
typedef struct tok_smap {
    char *arena;                 // (arena_len) concatenated keys
    size_t arena_len, arena_cap;
    struct tok_sent { uint64_t hash; size_t off; uint32_t len; int32_t val; } *ent;  // (n)
    size_t n, ent_cap;
    int32_t *slot;               // (slot_cap) entry index or -1
    size_t slot_cap;
} tok_smap;

// 0 inserted, 1 key already present (value kept), -1 out of memory.
int tok_smap_put(tok_smap *m, const char *k, size_t len, int32_t val);
// The value, or -1 when absent.
int32_t tok_smap_get(const tok_smap *m, const char *k, size_t len);
void tok_smap_free(tok_smap *m);

// (left id, right id) -> (merge rank, merged id).
typedef struct tok_pmap {
    uint64_t *key;               // (cap) UINT64_MAX = empty
    int32_t *rank, *id;          // (cap)
    size_t n, cap;
} tok_pmap;

// 0 inserted, 1 replaced (a repeated merge takes the later rank, as HF's HashMap collect does),
// -1 out of memory.
int tok_pmap_put(tok_pmap *m, int32_t a, int32_t b, int32_t rank, int32_t id);
// 1 and fills rank/id when present, else 0.
int tok_pmap_get(const tok_pmap *m, int32_t a, int32_t b, int32_t *rank, int32_t *id);
void tok_pmap_free(tok_pmap *m);

// Growable id list.
typedef struct tok_ids { int32_t *v; size_t n, cap; } tok_ids;
int tok_ids_push(tok_ids *a, int32_t id);   // 0 or -1 (out of memory)

// ---------------------------------------------------------------------------------------------
// The tokenizer.

enum { TOK_BYTELEVEL, TOK_SPM, TOK_LLAMA2C };

// A node of the added-token radix trie (tok_added.c): the token ending here (index into
// added[], or -1), and the label of the edge into it after its first byte: lab_len bytes of
// added[lab_tok].text from lab_off.
typedef struct tok_tnode { int32_t end, lab_tok; uint32_t lab_off, lab_len; } tok_tnode;

typedef struct tok_added {      // an added / special token, matched on the raw text first
    char *text; size_t len;
    int32_t id;
    int lstrip, rstrip, single_word;
} tok_added;

enum { TOK_NORM_PREPEND, TOK_NORM_REPLACE, TOK_NORM_NFC };
typedef struct tok_norm {
    int type;
    char *a, *b; size_t alen, blen;   // PREPEND: a; REPLACE: a -> b
    pcre2_code *re;                   // NFC: the "may change under NFC" check, compiled once
} tok_norm;

// Pre-tokenizer steps. Only the first step may change the text (ByteLevel's prefix space,
// Metaspace); later steps only split pieces further.
enum { TOK_PRE_SPLIT, TOK_PRE_BYTELEVEL, TOK_PRE_METASPACE };
enum { TOK_SPLIT_ISOLATED, TOK_SPLIT_REMOVED, TOK_SPLIT_MERGED_PREV, TOK_SPLIT_MERGED_NEXT,
       TOK_SPLIT_CONTIGUOUS };
enum { TOK_PREPEND_ALWAYS, TOK_PREPEND_FIRST, TOK_PREPEND_NEVER };
typedef struct tok_pre {
    int type;
    pcre2_code *re;              // SPLIT, BYTELEVEL (NULL when use_regex is false)
    char *what;                  // with re: "pre_tokenizer Split regex '...'", for messages
    char *pattern;               // with re: the whole regex (naming it for GGUF: tok_vocab.c)
    int behavior, invert;        // SPLIT
    int add_prefix_space;        // BYTELEVEL
    char *repl; size_t repl_len; // METASPACE replacement (UTF-8)
    int prepend_scheme, split;   // METASPACE
} tok_pre;

struct tok_tokenizer {
    int kind;                    // TOK_BYTELEVEL / TOK_SPM / TOK_LLAMA2C
    char src[4096];              // the file loaded, for messages
    int vocab_size;              // max id + 1
    char **piece;                // (vocab_size) token text as stored (NULL for unused ids)
    uint32_t *piece_len;         // (vocab_size)
    char *piece_store;           // llama2c: the pieces' bytes (others point into vocab's arena)
    float *score;                // (vocab_size) llama2c only
    tok_smap vocab;              // token text -> id
    tok_pmap merges;             // BPE merges by rank (HF)
    tok_pmap junctions;          // (last codepoint of a merge's left token, first of its right
                                 // one) -> present: the only character pairs a merge can join
                                 // across (tok_bpe.c cuts long words elsewhere)
    int uncut;                   // 1: a merge with an empty side; long words are not cut
    int unk_id, fuse_unk, byte_fallback, ignore_merges;
    int32_t byte_id[256];        // BYTELEVEL: id of the alphabet char of each byte;
                                 // SPM/LLAMA2C: id of the <0xNN> piece (-1 when absent)
    tok_added *added; size_t n_added, added_cap;   // (n_added) in file order (tok_added.c)
    tok_smap added_index;        // added text -> index in added[]
    tok_pmap added_trie;         // the added texts as a byte trie: (node, byte) -> child
                                 // node (the pair map's id field); node 0 is the root
    tok_tnode *trie;             // (n_nodes)
    size_t n_nodes, nodes_cap;
    unsigned char added_first[256];  // 1 for each byte that starts an added text
    int32_t *added_of_id;        // (vocab_size) first index in added[] with that id, or -1
    tok_norm *norm; size_t n_norm;
    tok_pre *pre; size_t n_pre;
    int32_t prefix[4], suffix[4];  // post-processor ids around the sequence
    size_t n_prefix, n_suffix;
    int bos_id, eos_id;
    int no_dummy_prefix;         // llama2c kind: no " " before the text (a GGUF SPM vocabulary
                                 // with tokenizer.ggml.add_space_prefix false)
};

// ---------------------------------------------------------------------------------------------
// Pieces of the pipeline.

// GPT-2's byte -> printable-unicode map: codepoint of each byte, and the inverse (-1 if none).
void tok_bytelevel_alphabet(uint32_t cp_of_byte[256]);
// Writes the UTF-8 of cp into out (>= 4 bytes); returns its length.
size_t tok_utf8_put(char *out, uint32_t cp);
// Decodes one UTF-8 char at s (valid input); returns its length, fills *cp.
size_t tok_utf8_get(const char *s, size_t len, uint32_t *cp);

// Per-call work state for BPE (tok_bpe.c).
typedef struct tok_work tok_work;
tok_work *tok_work_new(void);
void tok_work_free(tok_work *w);
// Appends the ids of one pre-tokenized word (raw bytes; BYTELEVEL maps them) to out, using
// and filling the per-call word cache. Returns 0 or -1 (e filled).
int tok_bpe_word(const tok_tokenizer *t, tok_work *w, const char *s, size_t len, tok_ids *out,
                 ah_err *e);
// llama2.c run.c encode of the whole text (no BOS). Returns 0 or -1.
int tok_llama2c_encode(const tok_tokenizer *t, tok_work *w, const char *s, size_t len,
                       tok_ids *out, ah_err *e);

// The NFC normalizer's check: matches text whose NFC form may differ from it (tok_pretok.c).
pcre2_code *tok_nfc_regex(const char *src, ah_err *e);

// Normalizes and pre-tokenizes one segment (text between added tokens) and runs BPE on each
// piece (tok_pretok.c). at_start: the segment starts at offset 0 of the input.
int tok_encode_segment(const tok_tokenizer *t, tok_work *w, const char *s, size_t len,
                       int at_start, tok_ids *out, ah_err *e);

// ---------------------------------------------------------------------------------------------
// Regex with bounded work (tok_regex.c)

// Compiles a regex (UTF + UCP, JIT when available); NULL and e filled on error.
pcre2_code *tok_regex_compile(const char *pattern, size_t len, const char *src, ah_err *e);

// Per-encode matching state: match context (limits, JIT stack) and the work budget of the
// current pre-tokenizer step over the current segment.
typedef struct tok_rx {
    pcre2_match_context *mctx;
    pcre2_jit_stack *jit;        // NULL when PCRE2 has no JIT
    uint64_t budget, left;       // PCRE2 match-limit units for this step, and what is left
    size_t seg_len;              // bytes of the segment the budget was sized for
    const char *src, *what;      // file and pattern, for messages (borrowed)
} tok_rx;
int tok_rx_init(tok_rx *rx);     // 0 or -1 (out of memory)
void tok_rx_free(tok_rx *rx);    // NULL-safe
// Starts a step over a segment of len bytes: budget proportional to len.
void tok_rx_begin(tok_rx *rx, size_t len, const char *src, const char *what);
// Searches s[at, len) from at (md receives the match). 1 match, 0 none, -1 with e filled
// (budget spent, or another PCRE2 error): an error is never taken for "no match".
int tok_rx_match(tok_rx *rx, const pcre2_code *re, pcre2_match_data *md, const char *s,
                 size_t len, size_t at, ah_err *e);
tok_rx *tok_work_rx(tok_work *w);   // the tok_work's matching state (tok_bpe.c)

// Loaders. Each fills a zeroed tokenizer (caller frees with tok_free on error).
int tok_load_hf_json(tok_tokenizer *t, const char *path, const char *dir, ah_err *e);
int tok_load_vocab_merges(tok_tokenizer *t, const char *dir, ah_err *e);
int tok_load_llama2c(tok_tokenizer *t, const char *path, ah_err *e);
int tok_load_gguf(tok_tokenizer *t, const char *path, ah_err *e);   // tok_gguf.c

// Shared by the loaders (tok_hf.c): one BPE merge "a b" (exactly one space) of rank `rank`;
// line numbers the source in messages. A pre-tokenizer step appended to t (zeroed), and its
// regex compiled (kind names it in messages: "Split", "ByteLevel").
int tok_merge_line(tok_tokenizer *t, const char *s, size_t n, int32_t rank, const char *src,
                   size_t line, ah_err *e);
tok_pre *tok_new_pre(tok_tokenizer *t, int type, ah_err *e);
int tok_pre_regex(tok_tokenizer *t, tok_pre *q, const char *kind, const char *rx, size_t len,
                  ah_err *e);

// Shared by the loaders: sets piece[] / vocab_size from the vocab map plus added tokens.
int tok_build_pieces(tok_tokenizer *t, ah_err *e);
// Fills byte_id[] for the tokenizer's kind from the vocab.
void tok_build_byte_ids(tok_tokenizer *t);
// Tokenizer files are read whole: refuses one over the size limit (0 or -1, e names it).
int tok_check_file_size(const char *path, ah_err *e);

// ---------------------------------------------------------------------------------------------
// Added tokens (tok_added.c)

// Adds one added token (copying text); a text added again takes the new id. Returns 0 or -1.
int tok_add_added(tok_tokenizer *t, const char *text, size_t len, int32_t id, int lstrip,
                  int rstrip, int single_word, ah_err *e);
// The id of the added token with this text, or -1.
int32_t tok_added_find(const tok_tokenizer *t, const char *text, size_t len);
void tok_added_free(tok_tokenizer *t);   // the added-token fields only

// Trie work of one encode call: bounded by a budget proportional to the input length.
typedef struct tok_added_scan { uint64_t steps, budget; } tok_added_scan;
void tok_added_scan_begin(tok_added_scan *sc, size_t len);
// Leftmost-longest added token at or after `from` in s[0, len) (HF AddedVocabulary's split;
// single_word respected). Returns its index in added[], -1 when there is none, -2 with e
// filled when the budget is spent. *ms/*me = the matched range with lstrip/rstrip whitespace.
long tok_added_next(const tok_tokenizer *t, tok_added_scan *sc, const char *s, size_t len,
                    size_t from, size_t *ms, size_t *me, ah_err *e);

// The GPT-2 pre-tokenizer regex (ByteLevel use_regex=true).
#define TOK_GPT2_REGEX \
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
// Qwen2's Split regex (transformers' Qwen2Tokenizer PRETOKENIZE_REGEX).
#define TOK_QWEN2_REGEX \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*" \
    "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

#endif
