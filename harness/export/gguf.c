// gguf.c — the export as a GGUF v3 file for llama.cpp (gguf.h).
#include "export/gguf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/half.h"
#include "io/gguf_read.h"
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

// The model-wide tensors by their GGUF names (output.weight absent: tied to token_embd).
static const char *const GLOBAL_NAMES[G_COUNT] = {
    [G_EMBED] = "token_embd.weight", [G_FINAL_NORM] = "output_norm.weight", [G_LM_HEAD] = "output.weight",
};

const char *qexport_gguf_layer_name(arch_layer_role r) {
    for (int i = 0; i < N_LAYER_NAMES; i++)
        if (LAYER_NAMES[i].role == r) return LAYER_NAMES[i].name;
    return NULL;
}

const char *qexport_gguf_global_name(arch_global g) { return g < G_COUNT ? GLOBAL_NAMES[g] : NULL; }

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

// The GGUF type of a tensor: a quantized linear's blocks when the export writes blocks
// (qtype not F32); else 1-D in F32 and 2-D in the dtype its values are exact in, when GGUF's
// F32/F16 holds it (BF16 widens to F32 without loss).
static gguf_ggml_type tensor_type(const qexport *x, const model_weight *w, gguf_ggml_type qtype) {
    if (qtype != GGML_T_F32 && qexport_is_quantized(x, w)) return qtype;
    return w->ndim == 2 && qexport_value_dtype(x, w) == ST_F16 ? GGML_T_F16 : GGML_T_F32;
}

// ---------------------------------------------------------------------------------------------
// Q4_0 / Q4_1 / Q8_0 blocks from the harness's codes (FORMATS.md section 4.5). Per block of 32
// values of a row, with the run's group of 32 (scale s, zero z, codes q in [0, 2^b)):
//   Q4_0  d = s, nibble = q              (rtn 4-bit: z = 8, so d * (q - 8) = s * (q - z))
//   Q4_1  d = s, m = -s * z, nibble = q  (q * d + m = s * (q - z); s has 7 significant bits,
//                                         quant.h QUANT_SCALE_F16_Q41, so m is an fp16 value)
//   Q8_0  d = s, qs = q - 128            (rtn 8-bit: z = 128)
// Nibbles: byte k holds value k (low) and value k + 16 (high). llama.cpp dequantizes in fp32
// (ggml-quants.c dequantize_row_q4_0 / q4_1 / q8_0), where each product is exact.

int qexport_gguf_check_blocks(const model *m, const method_cfg *mc, gguf_ggml_type qtype,
                              ah_err *e) {
    const char *fn = qtype == GGML_T_Q4_0 ? "gguf-q4_0" : qtype == GGML_T_Q4_1 ? "gguf-q4_1" : "gguf-q8_0";
    int bits = qtype == GGML_T_Q8_0 ? 8 : 4, sym = qtype != GGML_T_Q4_1;
    if (mc->q.bits != bits || mc->q.group != GGML_QK)
        return ah_fail(e, "--format %s holds %d-bit codes in groups of %d, not %d bits, group %d",
                       fn, bits, GGML_QK, mc->q.bits, mc->q.group);
    if (sym != (mc->q.kind == QUANT_RTN))
        return ah_fail(e, "--format %s holds %s codes: use %s (this run's quantizer is %s)", fn,
                       sym ? "symmetric" : "asymmetric", sym ? "--method rtn" : "minmax, awq or gptq",
                       quant_kind_name(mc->q.kind));
    if (mc->kind == METHOD_IMATRIX)
        return ah_fail(e, "--format %s: imatrix fits fp32 scales of its own; its codes would not be "
                       "the file's", fn);
    if (mc->salient_pct > 0)
        return ah_fail(e, "--format %s cannot hold input channels kept in full precision", fn);
    st_dtype d = model_lw(m, 0, L_Q)->dtype;
    if (d != ST_F32)
        return ah_fail(e, "--format %s: llama.cpp dequantizes blocks in fp32, the harness rounds a "
                       "%s checkpoint's quantized weights to %s: they would differ (use an F32 "
                       "checkpoint, or --format gguf)", fn, st_dtype_name(d), st_dtype_name(d));
    for (int r = 0; r < L_COUNT; r++) {
        const model_weight *w = model_lw(m, 0, r);
        if (arch_role_is_linear(r) && w->data && w->shape[1] % GGML_QK)
            return ah_fail(e, "--format %s: '%s' has %lld input channels, not a multiple of %d",
                           fn, w->name, (long long)w->shape[1], GGML_QK);
    }
    return 0;
}

// One row of blocks: out (row_bytes) from codes (C), scales and zeros (C / 32) of that row;
// deq (C) receives llama.cpp's dequantization of the bytes written. -1 when a zero or a
// minimum does not fit the type (the quantizer did not match it: checked before the work).
static int put_blocks(uint8_t *out, float *deq, gguf_ggml_type t, const uint8_t *codes,
                      const float *scales, const uint8_t *zeros, size_t C) {
    for (size_t j = 0; j < C / GGML_QK; j++) {
        const uint8_t *q = codes + j * GGML_QK;
        float *y = deq + j * GGML_QK;
        uint16_t dh = ah_f32_to_f16(scales[j]);
        float d = ah_f16_to_f32(dh);
        memcpy(out, &dh, 2);
        if (t == GGML_T_Q8_0) {
            if (zeros[j] != 128) return -1;
            for (int k = 0; k < GGML_QK; k++) {
                int8_t v = (int8_t)((int)q[k] - 128);
                memcpy(out + 2 + k, &v, 1);
                y[k] = (float)v * d;
            }
            out += 34;
            continue;
        }
        float mf = 0.0f;
        size_t hdr = 2;
        if (t == GGML_T_Q4_1) {
            mf = -d * (float)zeros[j];
            uint16_t mh = ah_f32_to_f16(mf);
            if (ah_f16_to_f32(mh) != mf) return -1;
            memcpy(out + 2, &mh, 2);
            hdr = 4;
        } else if (zeros[j] != 8) {
            return -1;
        }
        for (int k = 0; k < 16; k++) {
            out[hdr + k] = (uint8_t)((q[k] & 0xF) | (q[k + 16] & 0xF) << 4);
            int lo = q[k] & 0xF, hi = q[k + 16] & 0xF;
            y[k] = t == GGML_T_Q4_1 ? (float)lo * d + mf : (float)(lo - 8) * d;
            y[k + 16] = t == GGML_T_Q4_1 ? (float)hi * d + mf : (float)(hi - 8) * d;
        }
        out += hdr + 16;
    }
    return 0;
}

static void add(gg_tensor *t, size_t *n, const qexport *x, gguf_ggml_type qtype,
                const model_weight *w, int perm, const char *fmt, int layer) {
    gg_tensor *g = &t[(*n)++];
    snprintf(g->name, sizeof g->name, fmt, layer);
    g->w = w;
    g->rows = w->ndim == 2 ? (size_t)w->shape[0] : 1;
    g->cols = w->ndim == 2 ? (size_t)w->shape[1] : (size_t)w->shape[0];
    g->perm_heads = perm;
    g->type = tensor_type(x, w, qtype);
}

// The tensor list in llama.cpp's converter order: embedding, blocks, final norm, head.
static size_t list_tensors(gg_tensor *t, const qexport *x, gguf_ggml_type qtype, const model *m,
                           int permute) {
    size_t n = 0;
    add(t, &n, x, qtype, &m->global[G_EMBED], 0, GLOBAL_NAMES[G_EMBED], 0);
    for (int l = 0; l < m->cfg.n_layers; l++)
        for (int i = 0; i < N_LAYER_NAMES; i++) {
            const model_weight *w = model_lw(m, l, LAYER_NAMES[i].role);
            if (!w->data) continue;
            int perm = !permute ? 0 : LAYER_NAMES[i].role == L_Q ? m->cfg.n_heads
                                    : LAYER_NAMES[i].role == L_K ? m->cfg.n_kv_heads : 0;
            char fmt[64];
            snprintf(fmt, sizeof fmt, "blk.%%d.%s", LAYER_NAMES[i].name);
            add(t, &n, x, qtype, w, perm, fmt, l);
        }
    add(t, &n, x, qtype, &m->global[G_FINAL_NORM], 0, GLOBAL_NAMES[G_FINAL_NORM], 0);
    const model_weight *head = &m->global[G_LM_HEAD];
    // Tied: llama.cpp reuses token_embd when output.weight is absent.
    if (head->data && head->data != m->global[G_EMBED].data) add(t, &n, x, qtype, head, 0, GLOBAL_NAMES[G_LM_HEAD], 0);
    return n;
}

// (gguf.h) The source row each GGUF row of a permuted Q/K weight is written from.
size_t qexport_gguf_src_row(size_t r, size_t rows, int nh) {
    if (nh <= 0) return r;
    size_t D = rows / (size_t)nh, h = r / D, k = r % D;
    return h * D + (k % 2) * (D / 2) + k / 2;
}

typedef struct {
    const qexport *x;
    const gg_tensor *t;
    float *rowbuf;            // (cap_rows, max cols) fp32 rows read from the export
    size_t cap_floats;
    // Block types: the integer form of the linear being written (tensor index cur).
    size_t cur;
    uint8_t *codes, *zeros;   // (rows, cols), (rows, cols / 32)
    float *scales;            // (rows, cols / 32)
    double max_diff;          // max |llama.cpp's dequantization - evaluated weight| so far
} fill_ctx;

static int fill_blocks(fill_ctx *c, size_t i, void *buf, uint64_t off, size_t len, ah_err *e) {
    const gg_tensor *g = &c->t[i];
    size_t C = g->cols, G = C / GGML_QK, rb = (size_t)gguf_row_bytes(g->type, C);
    if (c->cur != i) {
        free(c->codes), free(c->zeros), free(c->scales);
        c->codes = malloc(g->rows * C + 1);
        c->zeros = malloc(g->rows * G + 1);
        c->scales = malloc(g->rows * G * sizeof(float) + 1);
        c->cur = (size_t)-1;
        int kept = 0;
        if (!c->codes || !c->zeros || !c->scales) return ah_fail(e, "out of memory (GGUF export)");
        if (qexport_linear_int(c->x, g->w, c->codes, c->scales, c->zeros, &kept, e)) return -1;
        c->cur = i;
    }
    uint8_t *row = malloc(rb + 1);
    float *ref = malloc(2 * C * sizeof(float) + 1), *deq = ref ? ref + C : NULL;
    int rc = row && ref ? 0 : ah_fail(e, "out of memory (GGUF export)");
    for (size_t r = (size_t)(off / rb); !rc && (uint64_t)r * rb < off + len; r++) {
        size_t sr = qexport_gguf_src_row(r, g->rows, g->perm_heads);
        if (put_blocks(row, deq, g->type, c->codes + sr * C, c->scales + sr * G, c->zeros + sr * G, C))
            rc = ah_fail(e, "GGUF export: '%s' row %zu: a zero or minimum does not fit the block type",
                         g->w->name, sr);
        else if (!(rc = qexport_rows_f32(c->x, g->w, ref, sr, 1, e)))
            for (size_t k = 0; k < C; k++) {
                double dd = fabs((double)deq[k] - (double)ref[k]);
                if (!(dd <= c->max_diff)) c->max_diff = isnan(dd) ? INFINITY : dd;
            }
        // the part of row r inside [off, off + len)
        uint64_t a = (uint64_t)r * rb, lo = a > off ? a : off, hi = a + rb < off + len ? a + rb : off + len;
        if (!rc) memcpy((uint8_t *)buf + (lo - off), row + (lo - a), (size_t)(hi - lo));
    }
    free(row);
    free(ref);
    return rc;
}

static int fill(void *vctx, size_t i, void *buf, uint64_t off, size_t len, ah_err *e) {
    fill_ctx *c = vctx;
    const gg_tensor *g = &c->t[i];
    if (g->type != GGML_T_F32 && g->type != GGML_T_F16) return fill_blocks(c, i, buf, off, len, e);
    size_t es = g->type == GGML_T_F32 ? 4 : 2, rb = g->cols * es;
    size_t r0 = (size_t)(off / rb), r1 = (size_t)((off + len + rb - 1) / rb);
    if ((r1 - r0) * g->cols > c->cap_floats) return ah_fail(e, "GGUF export: chunk too large");
    // Permuted tensors are read row by row; the others in one run of rows.
    if (g->perm_heads == 0) {
        if (qexport_rows_f32(c->x, g->w, c->rowbuf, r0, r1 - r0, e)) return -1;
    } else {
        for (size_t r = r0; r < r1; r++)
            if (qexport_rows_f32(c->x, g->w, c->rowbuf + (r - r0) * g->cols,
                                 qexport_gguf_src_row(r, g->rows, g->perm_heads), 1, e))
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

static int put_hparams(gguf_w *w, const model *m, const char *arch, int all_f32,
                       gguf_ggml_type qtype, ah_err *e) {
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
             // ALL_F32 / MOSTLY_F16 / MOSTLY_Q4_0 (2) / MOSTLY_Q4_1 (3) / MOSTLY_Q8_0 (7)
             gguf_w_u32(w, "general.file_type", qtype == GGML_T_Q4_0 ? 2 : qtype == GGML_T_Q4_1 ? 3
                        : qtype == GGML_T_Q8_0 ? 7 : all_f32 ? 0 : 1, e) ||
             (qtype != GGML_T_F32 && gguf_w_u32(w, "general.quantization_version", 2, e)) ||
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

// Reads the written file back (io/gguf_read: the same checks as an import) and compares every
// tensor, dequantized as llama.cpp does (fp32), with the values the harness evaluated: the
// largest |difference| over all of them into *max_diff. A tensor missing, of another type or
// shape is an error. Rows are read one at a time and their pages dropped after use, so a
// large export costs one row of memory, not the file.
static int read_back(const char *path, const gg_tensor *t, size_t n, const qexport *x,
                     size_t max_cols, double *max_diff, ah_err *e) {
    gguf_file *f = gguf_open(path, e);
    if (!f) return ah_wrap(e, "GGUF export: read back");
    float *deq = malloc(2 * max_cols * sizeof(float)), *ref = deq ? deq + max_cols : NULL;
    int rc = deq ? 0 : ah_fail(e, "out of memory (GGUF read back)");
    for (size_t i = 0; i < n && !rc; i++) {
        const gg_tensor *g = &t[i];
        const gguf_tensor *r = gguf_find_tensor(f, g->name);
        if (!r || r->type != g->type || r->ne[0] != g->cols || (g->rows > 1 && r->ne[1] != g->rows)) {
            rc = ah_fail(e, "%s: read back: tensor '%s' missing or of another type or shape", path,
                         g->name);
            break;
        }
        size_t rb = (size_t)gguf_row_bytes(g->type, g->cols);
        for (size_t row = 0; row < g->rows && !rc; row++) {
            const uint8_t *src = (const uint8_t *)r->data + row * rb;
            gguf_dequant_row(deq, src, g->type, g->cols);
            gguf_release(f, src, rb);
            rc = qexport_rows_f32(x, g->w, ref, qexport_gguf_src_row(row, g->rows, g->perm_heads), 1, e);
            for (size_t k = 0; k < g->cols && !rc; k++) {
                double d = fabs((double)deq[k] - (double)ref[k]);
                if (!(d <= *max_diff)) *max_diff = isnan(d) ? INFINITY : d;
            }
        }
    }
    free(deq);
    gguf_close(f);
    return rc;
}

int qexport_gguf_write(const qexport *x, const model *m, const tok_tokenizer *tok,
                       const char *path, const char *method_json, gguf_ggml_type qtype,
                       double *max_diff, ah_err *e) {
    int permute;
    const char *arch = gguf_arch(m, &permute);
    if (!arch) return qexport_gguf_check(m, tok, e);
    size_t cap = 3 + (size_t)m->cfg.n_layers * N_LAYER_NAMES, n, max_cols = 1;
    gg_tensor *t = calloc(cap, sizeof *t);
    gguf_w *w = gguf_w_new(e);
    tok_vocab v = {0};
    fill_ctx fc = {.x = x, .cur = (size_t)-1};
    int rc = -1;
    if (!t || !w) {
        if (!t) ah_fail(e, "out of memory (GGUF export)");
        goto done;
    }
    n = list_tensors(t, x, qtype, m, permute);
    int all_f32 = 1;
    for (size_t i = 0; i < n; i++) {
        all_f32 &= t[i].type == GGML_T_F32;
        if (t[i].cols > max_cols) max_cols = t[i].cols;
    }
    if (tok_vocab_get(&v, tok, m->cfg.vocab_size, e) || put_hparams(w, m, arch, all_f32, qtype, e) ||
        put_vocab(w, &v, e) || gguf_w_str(w, "awq_harness.run", method_json, e) ||
        (!strcmp(arch, "llama") &&
         gguf_w_str(w, GGUF_KEY_ROPE_SOURCE, permute ? "rotate-half" : "interleaved", e)))
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
    if (!rc && fc.max_diff != 0)
        rc = ah_fail(e, "GGUF export: llama.cpp's dequantization of the blocks differs from the "
                     "evaluated weights by up to %g", fc.max_diff);
    // The blocks were checked as they were made; the file itself is checked by reading it.
    double back = 0;
    if (!rc) rc = read_back(path, t, n, x, max_cols, &back, e);
    if (max_diff) *max_diff = back > fc.max_diff ? back : fc.max_diff;
    if (!rc && back != 0)
        rc = ah_fail(e, "GGUF export: %s read back differs from the evaluated weights by up to %g",
                     path, back);
done:
    free(fc.codes), free(fc.zeros), free(fc.scales);
    free(fc.rowbuf);
    tok_vocab_free(&v);
    gguf_w_free(w);
    free(t);
    return rc;
}
