// tokenizer.c — tok_load dispatch, tok_encode (added-token split, segments, post-processor)
// and the accessors. The file formats are read in tok_hf.c and tok_llama2c.c; BPE lives in
// tok_bpe.c, normalizers and pre-tokenizers in tok_pretok.c.
#include "text/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/mem.h"
#include "text/dataset.h"
#include "text/tok_internal.h"

// ---------------------------------------------------------------------------------------------
// Helpers shared by the loaders

// Tokenizer files are read whole (jansson builds a tree of all of tokenizer.json; merges.txt
// and tokenizer.bin are read into memory), so their size is checked before anything is read.
// The largest real tokenizers are 20-35 MB (Gemma's tokenizer.json ~33 MB, 250k-token
// multilingual vocabularies ~17-20 MB); 256 MiB leaves 8x room and keeps jansson's tree
// (several times the text) to a few GB.
#define TOK_MAX_FILE_BYTES (256ull << 20)

int tok_check_file_size(const char *path, ah_err *e) {
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return 0;   // the reader says what is wrong
    if ((unsigned long long)st.st_size > TOK_MAX_FILE_BYTES)
        return ah_fail(e, "%s: %lld bytes, over the %llu-byte (%llu MiB) limit for tokenizer files",
                       path, (long long)st.st_size, TOK_MAX_FILE_BYTES, TOK_MAX_FILE_BYTES >> 20);
    return 0;
}

// piece[id] for every vocab entry, then added tokens not in the vocab. vocab_size = max id + 1.
int tok_build_pieces(tok_tokenizer *t, ah_err *e) {
    int32_t maxid = -1;
    for (size_t i = 0; i < t->vocab.n; i++)
        if (t->vocab.ent[i].val > maxid) maxid = t->vocab.ent[i].val;
    for (size_t i = 0; i < t->n_added; i++)
        if (t->added[i].id > maxid) maxid = t->added[i].id;
    if (maxid < 0) return ah_fail(e, "%s: empty vocabulary", t->src);
    if (maxid >= (1 << 24)) return ah_fail(e, "%s: token id %d too large", t->src, maxid);
    t->vocab_size = maxid + 1;
    t->piece = calloc((size_t)t->vocab_size, sizeof *t->piece);
    t->piece_len = calloc((size_t)t->vocab_size, sizeof *t->piece_len);
    if (!t->piece || !t->piece_len) return ah_fail(e, "%s: out of memory", t->src);
    for (size_t i = 0; i < t->vocab.n; i++) {
        const struct tok_sent *en = &t->vocab.ent[i];
        if (en->val < 0) return ah_fail(e, "%s: negative token id %d", t->src, en->val);
        // Two strings with one id make decoding ambiguous and the id count wrong; no real
        // tokenizer checked has one (gpt2, llama2, smollm, qwen2, opt), a damaged file may.
        if (t->piece[en->val])
            return ah_fail(e, "%s: tokens '%.*s' and '%.*s' share id %d", t->src,
                           (int)(t->piece_len[en->val] > 40 ? 40 : t->piece_len[en->val]),
                           t->piece[en->val], (int)(en->len > 40 ? 40 : en->len),
                           t->vocab.arena + en->off, en->val);
        t->piece[en->val] = t->vocab.arena + en->off;
        t->piece_len[en->val] = en->len;
    }
    // Decoding prints an added token's own text: index the first added token of each id.
    t->added_of_id = malloc((size_t)t->vocab_size * sizeof *t->added_of_id);
    if (!t->added_of_id) return ah_fail(e, "%s: out of memory", t->src);
    memset(t->added_of_id, 0xff, (size_t)t->vocab_size * sizeof *t->added_of_id);
    for (size_t i = 0; i < t->n_added; i++) {
        const tok_added *a = &t->added[i];
        if (t->added_of_id[a->id] < 0) t->added_of_id[a->id] = (int32_t)i;
        if (!t->piece[a->id]) {
            t->piece[a->id] = a->text;
            t->piece_len[a->id] = (uint32_t)a->len;
        }
    }
    return 0;
}

void tok_build_byte_ids(tok_tokenizer *t) {
    uint32_t cp[256];
    tok_bytelevel_alphabet(cp);
    for (int b = 0; b < 256; b++) {
        char s[8];
        size_t n;
        if (t->kind == TOK_BYTELEVEL) n = tok_utf8_put(s, cp[b]);
        else n = (size_t)snprintf(s, sizeof s, "<0x%02X>", b);
        t->byte_id[b] = tok_smap_get(&t->vocab, s, n);
    }
}

// ---------------------------------------------------------------------------------------------
// Load / free

tok_tokenizer *tok_load(const char *path, ah_err *e) {
    if (!path) { ah_fail(e, "tokenizer: no path given"); return NULL; }
    tok_tokenizer *t = calloc(1, sizeof *t);
    if (!t) { ah_fail(e, "%s: out of memory", path); return NULL; }
    t->unk_id = t->bos_id = t->eos_id = -1;
    snprintf(t->src, sizeof t->src, "%s", path);
    int rc;
    char p1[4096], p2[4096];
    if (ah_is_dir(path)) {
        if (ah_path_join(p1, sizeof p1, path, "tokenizer.json")) {
            ah_fail(e, "%s: path too long", path);
            rc = -1;
        } else if (ah_is_file(p1)) {
            snprintf(t->src, sizeof t->src, "%s", p1);
            rc = tok_load_hf_json(t, p1, path, e);
        } else if (!ah_path_join(p1, sizeof p1, path, "vocab.json") && ah_is_file(p1) &&
                   !ah_path_join(p2, sizeof p2, path, "merges.txt") && ah_is_file(p2)) {
            rc = tok_load_vocab_merges(t, path, e);
        } else {
            rc = ah_fail(e, "%s: no tokenizer.json, nor vocab.json + merges.txt", path);
        }
    } else if (!ah_is_file(path)) {
        rc = ah_fail(e, "%s: no such tokenizer file or directory", path);
    } else {
        size_t n = strlen(path);
        if (n >= 4 && strcmp(path + n - 4, ".bin") == 0) {
            rc = tok_load_llama2c(t, path, e);
        } else if (n >= 5 && strcmp(path + n - 5, ".gguf") == 0) {
            rc = tok_load_gguf(t, path, e);   // the vocabulary in its tokenizer.ggml.* keys
        } else {
            // A tokenizer.json file: its folder may hold tokenizer_config.json / config.json.
            snprintf(p2, sizeof p2, "%s", path);
            char *slash = strrchr(p2, '/');
            if (slash) *slash = 0; else snprintf(p2, sizeof p2, ".");
            rc = tok_load_hf_json(t, path, p2, e);
        }
    }
    if (rc) { tok_free(t); return NULL; }
    return t;
}

void tok_free(tok_tokenizer *t) {
    if (!t) return;
    free(t->piece); free(t->piece_len); free(t->score); free(t->piece_store);
    tok_smap_free(&t->vocab);
    tok_pmap_free(&t->merges);
    tok_pmap_free(&t->junctions);
    tok_added_free(t);
    for (size_t i = 0; i < t->n_norm; i++) {
        free(t->norm[i].a); free(t->norm[i].b); pcre2_code_free(t->norm[i].re);
    }
    free(t->norm);
    for (size_t i = 0; i < t->n_pre; i++) {
        pcre2_code_free(t->pre[i].re); free(t->pre[i].repl); free(t->pre[i].what);
        free(t->pre[i].pattern);
    }
    free(t->pre);
    free(t);
}

// ---------------------------------------------------------------------------------------------
// Encode

int tok_encode(const tok_tokenizer *t, const char *text, size_t len, int add_special,
               int32_t **ids, size_t *n, ah_err *e) {
    *ids = NULL;
    *n = 0;
    if (!t) return ah_fail(e, "tok_encode: no tokenizer");
    if (!text && len) return ah_fail(e, "%s: tok_encode: NULL text", t->src);
    size_t bad;
    if (len && !ds_utf8_valid(text, len, &bad))
        return ah_fail(e, "%s: input text is not valid UTF-8 at byte offset %zu", t->src, bad);
    tok_ids out = {0};
    tok_work *w = tok_work_new();
    if (!w) return ah_fail(e, "%s: out of memory", t->src);
    int rc = 0;
    if (add_special)
        for (size_t i = 0; i < t->n_prefix && !rc; i++) rc = tok_ids_push(&out, t->prefix[i]);
    if (rc) { rc = ah_fail(e, "%s: out of memory", t->src); goto done; }
    if (t->kind == TOK_LLAMA2C) {
        rc = tok_llama2c_encode(t, w, text, len, &out, e);
    } else {
        tok_added_scan sc;
        tok_added_scan_begin(&sc, len);
        size_t pos = 0;
        while (!rc && pos <= len) {
            size_t ms = len, me = len;
            long k = t->n_added ? tok_added_next(t, &sc, text, len, pos, &ms, &me, e) : -1;
            if (k < -1) { rc = -1; break; }
            rc = tok_encode_segment(t, w, text + pos, (k < 0 ? len : ms) - pos, pos == 0, &out, e);
            if (rc || k < 0) break;
            if (tok_ids_push(&out, t->added[k].id)) rc = ah_fail(e, "%s: out of memory", t->src);
            pos = me;
        }
    }
    if (!rc && add_special)
        for (size_t i = 0; i < t->n_suffix && !rc; i++)
            if (tok_ids_push(&out, t->suffix[i])) rc = ah_fail(e, "%s: out of memory", t->src);
done:
    tok_work_free(w);
    if (rc) { free(out.v); return -1; }
    if (!out.v) out.v = malloc(sizeof(int32_t));   // a valid pointer even for zero ids
    if (!out.v) return ah_fail(e, "%s: out of memory", t->src);
    *ids = out.v;
    *n = out.n;
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Accessors

int tok_vocab_size(const tok_tokenizer *t) { return t ? t->vocab_size : 0; }
int tok_bos_id(const tok_tokenizer *t) { return t ? t->bos_id : -1; }
int tok_eos_id(const tok_tokenizer *t) { return t ? t->eos_id : -1; }

const char *tok_kind(const tok_tokenizer *t) {
    if (!t) return "none";
    return t->kind == TOK_BYTELEVEL ? "bytelevel-bpe"
         : t->kind == TOK_SPM ? "sentencepiece-bpe" : "llama2c";
}

// "<0xNN>" -> NN, else -1.
static int hex_piece(const char *p, size_t n) {
    if (n != 6 || memcmp(p, "<0x", 3) != 0 || p[5] != '>') return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
              : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

size_t tok_decode_piece(const tok_tokenizer *t, int32_t id, char *buf, size_t cap) {
    if (!t || id < 0 || id >= t->vocab_size || !t->piece[id] || cap == 0) return 0;
    const char *p = t->piece[id];
    size_t n = t->piece_len[id], o = 0;
    int32_t k = t->added_of_id ? t->added_of_id[id] : -1;
    if (k >= 0) {   // added tokens print as their content, in its own length: the vocab may
        const tok_added *a = &t->added[k];   // hold another piece at that id
        o = a->len < cap ? a->len : cap;
        memcpy(buf, a->text, o);
        return o;
    }
    if (t->kind == TOK_BYTELEVEL) {
        uint32_t cp[256];
        int16_t inv[512];
        tok_bytelevel_alphabet(cp);
        memset(inv, 0xff, sizeof inv);
        for (int b = 0; b < 256; b++) inv[cp[b]] = (int16_t)b;
        for (size_t i = 0; i < n && o < cap;) {
            uint32_t c;
            i += tok_utf8_get(p + i, n - i, &c);
            if (c < 512 && inv[c] >= 0) buf[o++] = (char)inv[c];
        }
        return o;
    }
    int hb = hex_piece(p, n);
    if (hb >= 0) { buf[0] = (char)hb; return 1; }
    if (t->kind == TOK_LLAMA2C) {
        o = n < cap ? n : cap;
        memcpy(buf, p, o);
        return o;
    }
    for (size_t i = 0; i < n && o < cap;) {   // SentencePiece: U+2581 prints as a space
        if (i + 3 <= n && memcmp(p + i, "\xe2\x96\x81", 3) == 0) { buf[o++] = ' '; i += 3; }
        else buf[o++] = p[i++];
    }
    return o;
}
