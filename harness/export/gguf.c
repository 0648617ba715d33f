// gguf.c — the export as a GGUF v3 file for llama.cpp (gguf.h).
#include "export/gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/half.h"
#include "io/gguf_write.h"
#include "text/tok_vocab.h"

// One GGUF tensor: which model weight, how its rows are reordered, and its GGUF type.
typedef struct {
    char name[64];
    const model_weight *w;
    size_t rows, cols;        // as stored in the harness: (rows, cols); 1-D: (1, numel)
    int perm_heads;           // > 0: llama.cpp's Q/K row permutation over this many heads
    gguf_ggml_type type;
} gg_tensor;

// The per-layer roles llama.cpp's llama / qwen2 graphs read, by their GGUF names.
static const struct { arch_layer_role role; const char *name; } LAYER_NAMES[] = {
    {L_ATTN_NORM, "attn_norm.weight"}, {L_Q, "attn_q.weight"},   {L_Q_B, "attn_q.bias"},
    {L_K, "attn_k.weight"},            {L_K_B, "attn_k.bias"},   {L_V, "attn_v.weight"},
    {L_V_B, "attn_v.bias"},            {L_O, "attn_output.weight"},
    {L_MLP_NORM, "ffn_norm.weight"},   {L_GATE, "ffn_gate.weight"}, {L_UP, "ffn_up.weight"},
    {L_DOWN, "ffn_down.weight"},
};
enum { N_LAYER_NAMES = sizeof LAYER_NAMES / sizeof LAYER_NAMES[0] };

// llama.cpp's architecture for the family, and whether HF's rotate-half Q/K rows need the
// permutation. NULL: no architecture here.
static const char *gguf_arch(const model *m, int *permute) {
    const char *mt = m->cfg.arch->model_type;
    *permute = m->cfg.arch->rope == ROPE_HALF;
    if (!strcmp(mt, "llama") || !strcmp(mt, "mistral") || !strcmp(mt, "llama2c")) return "llama";
    if (!strcmp(mt, "qwen2")) {
        *permute = 0;   // llama.cpp's qwen2 graph uses NEOX (rotate-half) RoPE
        return "qwen2";
    }
    return NULL;
}

static int layer_role_named(arch_layer_role r) {
    for (int i = 0; i < N_LAYER_NAMES; i++)
        if (LAYER_NAMES[i].role == r) return 1;
    return 0;
}

int qexport_gguf_check(const model *m, const tok_tokenizer *tok, ah_err *e) {
    int permute;
    if (!gguf_arch(m, &permute))
        return ah_fail(e, "--format gguf: llama.cpp architectures are written for llama, mistral, "
                          "qwen2 and llama2.c models, not %s", m->cfg.arch->model_type);
    if (permute && m->cfg.head_dim % 2)
        return ah_fail(e, "--format gguf: head_dim %d is odd: no RoPE pairs", m->cfg.head_dim);
    if (m->global[G_POS_EMBED].data || m->global[G_FINAL_NORM_B].data)
        return ah_fail(e, "--format gguf: learned positions / final norm bias have no place in a "
                          "llama.cpp %s file", m->cfg.arch->model_type);
    for (int l = 0; l < m->cfg.n_layers; l++)
        for (int r = 0; r < L_COUNT; r++)
            if (model_lw(m, l, r)->data && !layer_role_named(r))
                return ah_fail(e, "--format gguf: tensor '%s' has no place in a llama.cpp file",
                               model_lw(m, l, r)->name);
    if (permute && (m->layer[L_Q_B].data || m->layer[L_K_B].data))
        return ah_fail(e, "--format gguf: q/k biases of a rotate-half llama are not written");
    tok_vocab v;
    if (tok_vocab_get(&v, tok, m->cfg.vocab_size, e)) return ah_wrap(e, "--format gguf");
    tok_vocab_free(&v);
    return 0;
}

// The GGUF type of a tensor: 1-D in F32; 2-D in the dtype its values are exact in, when
// GGUF's F32/F16 holds it (BF16 widens to F32 without loss).
static gguf_ggml_type tensor_type(const qexport *x, const model_weight *w) {
    return w->ndim == 2 && qexport_value_dtype(x, w) == ST_F16 ? GGML_T_F16 : GGML_T_F32;
}

static void add(gg_tensor *t, size_t *n, const qexport *x, const model_weight *w, int perm,
                const char *fmt, int layer) {
    gg_tensor *g = &t[(*n)++];
    snprintf(g->name, sizeof g->name, fmt, layer);
    g->w = w;
    g->rows = w->ndim == 2 ? (size_t)w->shape[0] : 1;
    g->cols = w->ndim == 2 ? (size_t)w->shape[1] : (size_t)w->shape[0];
    g->perm_heads = perm;
    g->type = tensor_type(x, w);
}

// The tensor list in llama.cpp's converter order: embedding, blocks, final norm, head.
static size_t list_tensors(gg_tensor *t, const qexport *x, const model *m, int permute) {
    size_t n = 0;
    add(t, &n, x, &m->global[G_EMBED], 0, "token_embd.weight", 0);
    for (int l = 0; l < m->cfg.n_layers; l++)
        for (int i = 0; i < N_LAYER_NAMES; i++) {
            const model_weight *w = model_lw(m, l, LAYER_NAMES[i].role);
            if (!w->data) continue;
            int perm = !permute ? 0 : LAYER_NAMES[i].role == L_Q ? m->cfg.n_heads
                                    : LAYER_NAMES[i].role == L_K ? m->cfg.n_kv_heads : 0;
            char fmt[64];
            snprintf(fmt, sizeof fmt, "blk.%%d.%s", LAYER_NAMES[i].name);
            add(t, &n, x, w, perm, fmt, l);
        }
    add(t, &n, x, &m->global[G_FINAL_NORM], 0, "output_norm.weight", 0);
    const model_weight *head = &m->global[G_LM_HEAD];
    // Tied: llama.cpp reuses token_embd when output.weight is absent.
    if (head->data && head->data != m->global[G_EMBED].data) add(t, &n, x, head, 0, "output.weight", 0);
    return n;
}

// Source row of GGUF row r under the Q/K permutation over nh heads of width D = rows / nh:
// convert_hf_to_gguf's reshape(nh, 2, D/2, cols).swapaxes(1, 2) puts source row
// h*D + t*(D/2) + j at h*D + 2*j + t.
static size_t src_row(size_t r, size_t rows, int nh) {
    if (nh <= 0) return r;
    size_t D = rows / (size_t)nh, h = r / D, k = r % D;
    return h * D + (k % 2) * (D / 2) + k / 2;
}

typedef struct {
    const qexport *x;
    const gg_tensor *t;
    float *rowbuf;            // (cap_rows, max cols) fp32 rows read from the export
    size_t cap_floats;
} fill_ctx;

static int fill(void *vctx, size_t i, void *buf, uint64_t off, size_t len, ah_err *e) {
    fill_ctx *c = vctx;
    const gg_tensor *g = &c->t[i];
    size_t es = g->type == GGML_T_F32 ? 4 : 2, rb = g->cols * es;
    size_t r0 = (size_t)(off / rb), r1 = (size_t)((off + len + rb - 1) / rb);
    if ((r1 - r0) * g->cols > c->cap_floats) return ah_fail(e, "GGUF export: chunk too large");
    // Permuted tensors are read row by row; the others in one run of rows.
    if (g->perm_heads == 0) {
        if (qexport_rows_f32(c->x, g->w, c->rowbuf, r0, r1 - r0, e)) return -1;
    } else {
        for (size_t r = r0; r < r1; r++)
            if (qexport_rows_f32(c->x, g->w, c->rowbuf + (r - r0) * g->cols,
                                 src_row(r, g->rows, g->perm_heads), 1, e))
                return -1;
    }
    size_t skip = (size_t)(off - (uint64_t)r0 * rb);   // bytes of row r0 before off
    uint8_t *out = buf;
    for (size_t b = 0; b < len; b += es) {
        size_t k = (skip + b) / es;   // element index from row r0's start
        if (g->type == GGML_T_F32) memcpy(out + b, &c->rowbuf[k], 4);
        else {
            uint16_t h = ah_f32_to_f16(c->rowbuf[k]);   // exact: the values are F16 values
            memcpy(out + b, &h, 2);
        }
    }
    return 0;
}

static int put_hparams(gguf_w *w, const model *m, const char *arch, int all_f32, ah_err *e) {
    const model_config *c = &m->cfg;
    char k[96], name[256];
    // general.name: the model's last path component (what llama.cpp prints when loading).
    size_t n = strlen(m->path);
    while (n > 1 && m->path[n - 1] == '/') n--;
    size_t b = n;
    while (b > 0 && m->path[b - 1] != '/') b--;
    snprintf(name, sizeof name, "%.*s", (int)(n - b), m->path + b);
#define KEY(s) (snprintf(k, sizeof k, "%s.%s", arch, s), k)
    int rc = gguf_w_str(w, "general.architecture", arch, e) ||
             gguf_w_str(w, "general.name", name, e) ||
             gguf_w_u32(w, "general.file_type", all_f32 ? 0 : 1, e) ||   // ALL_F32 / MOSTLY_F16
             gguf_w_u32(w, KEY("context_length"), (uint32_t)c->max_seq, e) ||
             gguf_w_u32(w, KEY("embedding_length"), (uint32_t)c->dim, e) ||
             gguf_w_u32(w, KEY("block_count"), (uint32_t)c->n_layers, e) ||
             gguf_w_u32(w, KEY("feed_forward_length"), (uint32_t)c->hidden_dim, e) ||
             gguf_w_u32(w, KEY("attention.head_count"), (uint32_t)c->n_heads, e) ||
             gguf_w_u32(w, KEY("attention.head_count_kv"), (uint32_t)c->n_kv_heads, e) ||
             gguf_w_f32(w, KEY("rope.freq_base"), c->rope_theta, e) ||
             gguf_w_f32(w, KEY("attention.layer_norm_rms_epsilon"), c->norm_eps, e) ||
             gguf_w_u32(w, KEY("rope.dimension_count"), (uint32_t)c->head_dim, e) ||
             gguf_w_u32(w, KEY("vocab_size"), (uint32_t)c->vocab_size, e);
    // llama.cpp derives the head width as C/H unless told (Qwen3-style and Mistral-Nemo widths).
    if (!rc && c->head_dim * c->n_heads != c->dim)
        rc = gguf_w_u32(w, KEY("attention.key_length"), (uint32_t)c->head_dim, e) ||
             gguf_w_u32(w, KEY("attention.value_length"), (uint32_t)c->head_dim, e);
#undef KEY
    return rc ? -1 : 0;
}

static int put_vocab(gguf_w *w, const tok_vocab *v, ah_err *e) {
    int spm = v->kind == TOK_VOCAB_SPM;
    int rc = gguf_w_str(w, "tokenizer.ggml.model", spm ? "llama" : "gpt2", e) ||
             (!spm && gguf_w_str(w, "tokenizer.ggml.pre", v->pre, e)) ||
             gguf_w_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)v->text, v->len,
                            (size_t)v->n, e) ||
             (spm && gguf_w_arr_f32(w, "tokenizer.ggml.scores", v->score, (size_t)v->n, e)) ||
             gguf_w_arr_i32(w, "tokenizer.ggml.token_type", v->type, (size_t)v->n, e) ||
             (!spm && gguf_w_arr_str(w, "tokenizer.ggml.merges", (const char *const *)v->merges,
                                     NULL, v->n_merges, e)) ||
             (v->bos >= 0 && gguf_w_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)v->bos, e)) ||
             (v->eos >= 0 && gguf_w_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)v->eos, e)) ||
             (v->unk >= 0 && gguf_w_u32(w, "tokenizer.ggml.unknown_token_id", (uint32_t)v->unk, e)) ||
             gguf_w_bool(w, "tokenizer.ggml.add_bos_token", v->add_bos, e) ||
             gguf_w_bool(w, "tokenizer.ggml.add_eos_token", 0, e) ||
             (spm && gguf_w_bool(w, "tokenizer.ggml.add_space_prefix", v->add_space_prefix, e));
    return rc ? -1 : 0;
}

int qexport_gguf_write(const qexport *x, const model *m, const tok_tokenizer *tok,
                       const char *path, const char *method_json, ah_err *e) {
    int permute;
    const char *arch = gguf_arch(m, &permute);
    if (!arch) return qexport_gguf_check(m, tok, e);
    size_t cap = 3 + (size_t)m->cfg.n_layers * N_LAYER_NAMES, n, max_cols = 1;
    gg_tensor *t = calloc(cap, sizeof *t);
    gguf_w *w = gguf_w_new(e);
    tok_vocab v = {0};
    fill_ctx fc = {.x = x};
    int rc = -1;
    if (!t || !w) {
        if (!t) ah_fail(e, "out of memory (GGUF export)");
        goto done;
    }
    n = list_tensors(t, x, m, permute);
    int all_f32 = 1;
    for (size_t i = 0; i < n; i++) {
        all_f32 &= t[i].type == GGML_T_F32;
        if (t[i].cols > max_cols) max_cols = t[i].cols;
    }
    if (tok_vocab_get(&v, tok, m->cfg.vocab_size, e) || put_hparams(w, m, arch, all_f32, e) ||
        put_vocab(w, &v, e) || gguf_w_str(w, "awq_harness.run", method_json, e))
        goto done;
    for (size_t i = 0; i < n; i++) {
        uint64_t ne[2] = {t[i].cols, t[i].rows};   // ggml order: fastest first
        if (gguf_w_tensor(w, t[i].name, t[i].type, t[i].w->ndim, ne, e)) goto done;
    }
    // A fill chunk (4 MiB) spans at most 4 MiB / 2 bytes of elements plus two partial rows.
    fc.t = t;
    fc.cap_floats = ((size_t)2 << 20) + 2 * max_cols;
    if (!(fc.rowbuf = malloc(fc.cap_floats * sizeof(float)))) {
        ah_fail(e, "out of memory (GGUF export)");
        goto done;
    }
    rc = gguf_w_write(w, path, fill, &fc, e);
done:
    free(fc.rowbuf);
    tok_vocab_free(&v);
    gguf_w_free(w);
    free(t);
    return rc;
}
