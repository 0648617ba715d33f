// tok_gguf.c — a tokenizer from a GGUF file's tokenizer.ggml.* keys: the reverse of
// tok_vocab.c, which writes them (tok_vocab.h has llama.cpp's two models).
//
//   "llama" (SentencePiece): tokens + scores, merged by score as llama.cpp's SPM tokenizer
//       does, which is the llama2.c encoder (TOK_LLAMA2C: best-scoring adjacent pair first,
//       <0xNN> byte fallback). "▁" in a token is a space there, so pieces are stored with ' '
//       (llama2.c's convention); add_space_prefix false drops the " " put before the text.
//   "gpt2" (byte-level BPE): tokens + merges in rank order, and the pre-tokenizer llama.cpp
//       names in tokenizer.ggml.pre: the names tok_vocab.c writes are rebuilt as the HF steps
//       they stand for (PRE_TOKENIZERS below); any other name is refused.
// CONTROL and USER_DEFINED tokens are matched on the raw text first (HF's added tokens; the
// writer marks every added token CONTROL). BOS goes first when tokenizer.ggml.add_bos_token
// says so (llama.cpp's default: yes for "llama", no for "gpt2").
#include <stdlib.h>
#include <string.h>

#include "io/gguf_read.h"
#include "text/tok_internal.h"
#include "text/tok_vocab.h"

#define SPM_SPACE "\xe2\x96\x81"   // U+2581 "▁"

// llama.cpp pre-tokenizer names (tokenizer.ggml.pre) and the HF steps each stands for: an
// optional Split (Isolated) regex, then ByteLevel with or without GPT-2's regex (no prefix
// space). tok_vocab.c bpe_pre_name recognises the same three.
static const struct {
    const char *name;
    const char *split;        // NULL: no Split step
    int bytelevel_regex;      // ByteLevel use_regex (GPT-2's regex)
} PRE_TOKENIZERS[] = {
    {"gpt-2", NULL, 1},
    {"smollm", "\\p{N}", 1},
    {"qwen2", TOK_QWEN2_REGEX, 0},
};

static int set_pre(tok_tokenizer *t, const char *pre, size_t n, ah_err *e) {
    for (size_t i = 0; i < sizeof PRE_TOKENIZERS / sizeof PRE_TOKENIZERS[0]; i++) {
        if (strlen(PRE_TOKENIZERS[i].name) != n || memcmp(PRE_TOKENIZERS[i].name, pre, n)) continue;
        const char *sp = PRE_TOKENIZERS[i].split;
        if (sp) {
            tok_pre *q = tok_new_pre(t, TOK_PRE_SPLIT, e);
            if (!q || tok_pre_regex(t, q, "Split", sp, strlen(sp), e)) return -1;
            q->behavior = TOK_SPLIT_ISOLATED;
        }
        tok_pre *q = tok_new_pre(t, TOK_PRE_BYTELEVEL, e);
        if (!q) return -1;
        if (PRE_TOKENIZERS[i].bytelevel_regex &&
            tok_pre_regex(t, q, "ByteLevel", TOK_GPT2_REGEX, sizeof TOK_GPT2_REGEX - 1, e))
            return -1;
        return 0;
    }
    return ah_fail(e, "%s: tokenizer.ggml.pre '%.*s' is not read here (gpt-2, smollm and qwen2 are)",
                   t->src, (int)(n > 40 ? 40 : n), pre);
}

// Token text as the harness keeps it: "▁" -> " " for SentencePiece (llama2.c pieces).
static char *piece_text(const char *s, uint64_t n, int spm, size_t *out_len) {
    char *p = malloc((size_t)n + 1);
    size_t o = 0;
    if (!p) return NULL;
    for (uint64_t i = 0; i < n;) {
        if (spm && i + 3 <= n && !memcmp(s + i, SPM_SPACE, 3)) {
            p[o++] = ' ';
            i += 3;
        } else {
            p[o++] = s[i++];
        }
    }
    p[o] = 0;
    *out_len = o;
    return p;
}

static int load(tok_tokenizer *t, const gguf_file *f, ah_err *e) {
    const char *model, *pre = NULL;
    size_t model_n, pre_n = 0;
    int r = gguf_get_str(f, "tokenizer.ggml.model", &model, &model_n, e);
    if (r) return r < 0 ? -1 : ah_fail(e, "%s: key 'tokenizer.ggml.model' missing (no tokenizer in the file)", t->src);
    int spm = model_n == 5 && !memcmp(model, "llama", 5), bpe = model_n == 4 && !memcmp(model, "gpt2", 4);
    if (!spm && !bpe)
        return ah_fail(e, "%s: tokenizer.ggml.model '%.*s': llama (SentencePiece) and gpt2 (byte-level "
                       "BPE) are read", t->src, (int)(model_n > 40 ? 40 : model_n), model);
    const gguf_kv *tokens = NULL, *scores = NULL, *types = NULL, *merges = NULL;
    if ((r = gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_STRING, &tokens, e)) < 0) return -1;
    if (r || tokens->n == 0 || tokens->n > (1 << 24))
        return ah_fail(e, "%s: tokenizer.ggml.tokens %s", t->src, r ? "missing" : "has no or too many tokens");
    const int n = (int)tokens->n;
    if (gguf_get_arr(f, "tokenizer.ggml.scores", GGUF_F32, &scores, e) < 0 ||
        gguf_get_arr(f, "tokenizer.ggml.token_type", GGUF_I32, &types, e) < 0 ||
        gguf_get_arr(f, "tokenizer.ggml.merges", GGUF_STRING, &merges, e) < 0)
        return -1;
    if ((scores && scores->n != tokens->n) || (types && types->n != tokens->n))
        return ah_fail(e, "%s: tokenizer.ggml.scores / token_type do not have %d entries", t->src, n);
    if (spm && !scores) return ah_fail(e, "%s: a llama (SentencePiece) vocabulary without tokenizer.ggml.scores", t->src);
    if (bpe && !merges) return ah_fail(e, "%s: a gpt2 (BPE) vocabulary without tokenizer.ggml.merges", t->src);
    if (bpe && ((r = gguf_get_str(f, "tokenizer.ggml.pre", &pre, &pre_n, e)) < 0 ||
                (r == 1 && ah_fail(e, "%s: key 'tokenizer.ggml.pre' missing (the pre-tokenizer)", t->src))))
        return -1;
    t->kind = spm ? TOK_LLAMA2C : TOK_BYTELEVEL;
    if (bpe && set_pre(t, pre, pre_n, e)) return -1;

    // Vocabulary: text -> id (a repeated text keeps its first id), then pieces by id.
    const uint8_t *p = tokens->val;
    for (int id = 0; id < n; id++) {
        const char *s;
        uint64_t len;
        size_t pl;
        p = gguf_str_next(p, &s, &len);
        char *txt = piece_text(s, len, spm, &pl);
        if (!txt || tok_smap_put(&t->vocab, txt, pl, id) < 0) {
            free(txt);
            return ah_fail(e, "%s: out of memory", t->src);
        }
        int ty = types ? (int)gguf_arr_int(types, (uint64_t)id) : TOK_TYPE_NORMAL;
        if (bpe && (ty == TOK_TYPE_CONTROL || ty == TOK_TYPE_USER_DEFINED) &&
            tok_add_added(t, txt, pl, id, 0, 0, 0, e)) {
            free(txt);
            return -1;
        }
        free(txt);
    }
    if (tok_build_pieces(t, e)) return -1;
    if (bpe) {
        p = merges->val;
        for (uint64_t i = 0; i < merges->n; i++) {
            const char *s;
            uint64_t len;
            p = gguf_str_next(p, &s, &len);
            if (i >= (1u << 24) || tok_merge_line(t, s, (size_t)len, (int32_t)i, t->src, (size_t)i + 1, e))
                return i >= (1u << 24) ? ah_fail(e, "%s: too many merges", t->src)
                                       : ah_wrap(e, "tokenizer.ggml.merges");
        }
    } else {
        if (!(t->score = calloc((size_t)t->vocab_size, sizeof *t->score)))
            return ah_fail(e, "%s: out of memory", t->src);
        for (int id = 0; id < t->vocab_size; id++) t->score[id] = gguf_arr_f32(scores, (uint64_t)id);
    }
    tok_build_byte_ids(t);

    int64_t v;
    t->unk_id = gguf_get_int(f, "tokenizer.ggml.unknown_token_id", 0, t->vocab_size - 1, &v, e) == 0 ? (int)v : -1;
    t->bos_id = gguf_get_int(f, "tokenizer.ggml.bos_token_id", 0, t->vocab_size - 1, &v, e) == 0 ? (int)v : -1;
    t->eos_id = gguf_get_int(f, "tokenizer.ggml.eos_token_id", 0, t->vocab_size - 1, &v, e) == 0 ? (int)v : -1;
    int64_t add_bos = spm, add_space = 1;
    if (gguf_get_int(f, "tokenizer.ggml.add_bos_token", 0, 1, &add_bos, e) < 0 ||
        gguf_get_int(f, "tokenizer.ggml.add_space_prefix", 0, 1, &add_space, e) < 0)
        return -1;
    if (add_bos && t->bos_id < 0)
        return ah_fail(e, "%s: tokenizer.ggml.add_bos_token without a valid bos_token_id", t->src);
    t->prefix[0] = t->bos_id;
    t->n_prefix = add_bos ? 1 : 0;
    if (!add_bos) t->bos_id = -1;   // tok_bos_id: -1 when no BOS is added
    t->no_dummy_prefix = spm && !add_space;
    return 0;
}

int tok_load_gguf(tok_tokenizer *t, const char *path, ah_err *e) {
    gguf_file *f = gguf_open(path, e);
    if (!f) return -1;
    int rc = load(t, f, e);
    gguf_close(f);
    return rc;
}
