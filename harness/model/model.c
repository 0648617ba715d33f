// model.c — binding checkpoint tensors to roles, shape checks, per-block fp32 conversion.
#include "model/model.h"

#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/finite.h"
#include "core/half.h"
#include "core/mem.h"
#include "export/export_dir.h"
#include "io/gguf_read.h"
#include "model/gemm_stored.h"

int model_llama2c_bind(model *m, ah_err *e);   // llama2c.c

#define MODEL_CONFIG_MAX (16 << 20)   // bytes of config.json


// Expected shape of a layer role under cfg; ndim 0 = role unused.
int model_role_shape(const model_config *c, arch_layer_role r, int64_t shape[2]) {
    int64_t C = c->dim, Q = (int64_t)c->n_heads * c->head_dim,
            KV = (int64_t)c->n_kv_heads * c->head_dim, F = c->hidden_dim;
    switch (r) {
    case L_ATTN_NORM: case L_ATTN_NORM_B: case L_MLP_NORM: case L_MLP_NORM_B:
    case L_O_B: case L_DOWN_B:
        shape[0] = C; return 1;
    case L_Q: shape[0] = Q; shape[1] = C; return 2;
    case L_Q_B: shape[0] = Q; return 1;
    case L_K: case L_V: shape[0] = KV; shape[1] = C; return 2;
    case L_K_B: case L_V_B: shape[0] = KV; return 1;
    case L_O: shape[0] = C; shape[1] = Q; return 2;
    case L_GATE: case L_UP: shape[0] = F; shape[1] = C; return 2;
    case L_GATE_B: case L_UP_B: shape[0] = F; return 1;
    case L_DOWN: shape[0] = C; shape[1] = F; return 2;
    default: return 0;
    }
}

int model_input_width(const model_config *c, fwd_input which) {
    switch (which) {
    case FWD_IN_QKV: case FWD_IN_GATE_UP: return c->dim;
    case FWD_IN_O: return c->n_heads * c->head_dim;
    case FWD_IN_DOWN: return c->hidden_dim;
    default: return 0;
    }
}

int model_global_shape(const model_config *c, arch_global g, int64_t shape[2]) {
    switch (g) {
    case G_EMBED: case G_LM_HEAD: shape[0] = c->vocab_size; shape[1] = c->dim; return 2;
    case G_POS_EMBED: shape[0] = (int64_t)c->max_seq + c->arch->pos_offset; shape[1] = c->dim; return 2;
    case G_FINAL_NORM: case G_FINAL_NORM_B: shape[0] = c->dim; return 1;
    default: return 0;
    }
}

// Binds one named safetensors tensor into w after checking dtype and shape.
// slot: index into m->names (globals first, then layer-major roles).
static int bind_st(model *m, model_weight *w, size_t slot, const char *pattern, int layer,
                   int ndim, const int64_t shape[2], ah_err *e) {
    char *name = m->names + slot * MODEL_NAME_CAP;
    size_t plen = strlen(pattern);
    int optional = plen > 0 && pattern[plen - 1] == '?';
    char pat[MODEL_NAME_CAP];
    snprintf(pat, sizeof pat, "%.*s", (int)(plen - optional), pattern);
    snprintf(name, MODEL_NAME_CAP, pat, layer);
    w->name = name;
    const st_tensor *t = st_find(m->st, name);
    if (!t && m->quant.format != MQ_NONE && ndim == 2 && strlen(name) > 7 &&
        !strcmp(name + strlen(name) - 7, ".weight")) {
        // A quantized checkpoint's linear: NAME.qweight / NAME.weight_packed instead.
        char probe[MODEL_NAME_CAP + 32];
        snprintf(probe, sizeof probe, "%.*s.%s", (int)strlen(name) - 7, name,
                 m->quant.format == MQ_CT ? "weight_packed" : "qweight");
        if (st_find(m->st, probe)) return model_import_linear(m, w, name, shape, e);
    }
    if (!t) {
        if (optional) return 0;
        return ah_fail(e, "%s: tensor '%s' missing", m->path, name);
    }
    if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16)
        return ah_fail(e, "%s: tensor '%s' has dtype %s; expected F32, F16 or BF16", t->file,
                       name, st_dtype_name(t->dtype));
    int ok = t->ndim == ndim && t->shape[0] == shape[0] && (ndim < 2 || t->shape[1] == shape[1]);
    if (!ok) {
        char got[96] = "", *p = got;
        for (int i = 0; i < t->ndim && p < got + sizeof got - 24; i++)
            p += sprintf(p, "%s%lld", i ? "," : "", (long long)t->shape[i]);
        return ah_fail(e, "%s: tensor '%s' has shape [%s]; config.json implies [%lld%s%lld]",
                       t->file, name, got, (long long)shape[0], ndim > 1 ? "," : "",
                       ndim > 1 ? (long long)shape[1] : 0LL);
    }
    w->dtype = t->dtype;
    w->data = t->data;
    w->ndim = ndim;
    w->shape[0] = shape[0];
    w->shape[1] = ndim > 1 ? shape[1] : 1;
    return 0;
}

static int bind_hf(model *m, ah_err *e) {
    const arch_desc *a = m->cfg.arch;
    int64_t shape[2];
    for (int g = 0; g < G_COUNT; g++) {
        if (!a->global_names[g]) continue;
        int nd = model_global_shape(&m->cfg, g, shape);
        if (bind_st(m, &m->global[g], (size_t)g, a->global_names[g], 0, nd, shape, e)) return -1;
    }
    if (!m->global[G_LM_HEAD].data && !m->cfg.tied_embeddings)
        return ah_fail(e, "%s: tensor 'lm_head.weight' missing and tie_word_embeddings is false",
                       m->path);
    for (int l = 0; l < m->cfg.n_layers; l++)
        for (int r = 0; r < L_COUNT; r++) {
            if (!a->layer_names[r]) continue;
            int nd = model_role_shape(&m->cfg, r, shape);
            size_t i = (size_t)l * L_COUNT + r;
            if (bind_st(m, &m->layer[i], G_COUNT + i, a->layer_names[r], l, nd, shape, e))
                return -1;
        }
    return 0;
}

static int load_hf(model *m, ah_err *e) {
    char cfg_path[4200];
    if (ah_path_join(cfg_path, sizeof cfg_path, m->path, "config.json"))
        return ah_fail(e, "%s: path too long", m->path);
    if (!ah_is_file(cfg_path))
        return ah_fail(e, "%s: not a checkpoint directory (no config.json)", m->path);
    // Refused by its size before it is read whole: real ones are a few KiB.
    struct stat st;
    if (stat(cfg_path, &st) == 0 && st.st_size > MODEL_CONFIG_MAX)
        return ah_fail(e, "%s: %lld bytes, larger than the %d MiB a config.json may be", cfg_path,
                       (long long)st.st_size, MODEL_CONFIG_MAX >> 20);
    char *text = ah_read_file(cfg_path, NULL, e);
    if (!text) return -1;
    int rc = model_config_parse(&m->cfg, text, cfg_path, e);
    if (rc) {
        free(text);
        return -1;
    }
    m->st = st_open(m->path, e);
    rc = m->st ? model_import_detect(m, text, cfg_path, e) : -1;
    free(text);
    if (rc) return -1;
    snprintf(m->format, sizeof m->format, "safetensors");
    m->layer = calloc((size_t)m->cfg.n_layers * L_COUNT, sizeof *m->layer);
    m->names = calloc((size_t)m->cfg.n_layers * L_COUNT + G_COUNT, MODEL_NAME_CAP);
    if (!m->layer || !m->names) return ah_fail(e, "%s: out of memory", m->path);
    return bind_hf(m, e);
}

model *model_load(const char *path, ah_err *e) {
    model *m = calloc(1, sizeof *m);
    if (!m) {
        ah_fail(e, "%s: out of memory", path);
        return NULL;
    }
    if (strlen(path) >= sizeof m->path) {
        ah_fail(e, "model path too long");
        free(m);
        return NULL;
    }
    strcpy(m->path, path);
    int rc;
    if (!ah_is_dir(path) && !ah_is_file(path))
        rc = ah_fail(e, "%s: no such file or directory", path);
    else   // an export cut short or mixed with another is refused before any of it is read
        rc = qexport_dir_verify(path, e);
    // (llama2c: sets cfg and the mapping, binds roles by offset; GGUF: by name, from metadata)
    if (rc == 0)
        rc = ah_is_dir(path) ? load_hf(m, e) : model_is_gguf(path) ? model_gguf_bind(m, e)
                                                                   : model_llama2c_bind(m, e);
    if (rc) {
        model_free(m);
        return NULL;
    }
    return m;
}

size_t model_weight_numel(const model_weight *w) {
    return w->data ? (size_t)w->shape[0] * (size_t)(w->ndim > 1 ? w->shape[1] : 1) : 0;
}

int model_weight_f32(float *out, const model_weight *w, ah_err *e) {
    return model_weight_rows_f32(out, w, 0, w->data ? (size_t)w->shape[0] : 0, e);
}

int model_final_norm_f32(const model *m, float **w, float **b, ah_err *e) {
    size_t C = (size_t)m->cfg.dim;
    const model_weight *bias = &m->global[G_FINAL_NORM_B];
    *b = NULL;
    if (!(*w = ah_calloc(C, sizeof(float), "final norm", e)) ||
        model_weight_f32(*w, &m->global[G_FINAL_NORM], e) ||
        (bias->data && (!(*b = ah_calloc(C, sizeof(float), "final norm", e)) ||
                        model_weight_f32(*b, bias, e)))) {
        ah_free(*w);
        ah_free(*b);
        *w = *b = NULL;
        return -1;
    }
    return 0;
}


// The error for x[bad], the first NaN or infinity of w's values from row r0 on.
static int nonfinite_error(const float *x, size_t bad, const model_weight *w, size_t r0,
                           ah_err *e) {
    size_t cols = w->ndim > 1 ? (size_t)w->shape[1] : 1;
    return ah_fail(e, "tensor '%s': non-finite value %g at [%zu, %zu]", w->name, x[bad],
                   r0 + bad / cols, bad % cols);
}

// x (n floats) = w's values from row r0 on: fails on the first NaN or infinity, with the
// tensor's name and its position. Slices over the threads, each a vector scan (core/finite.h).
static int check_finite(const float *x, const model_weight *w, size_t r0, size_t n, ah_err *e) {
    size_t bad = ah_first_nonfinite_f32_par(x, n);
    return bad < n ? nonfinite_error(x, bad, w, r0, e) : 0;
}

static int check_float_dtype(const model_weight *w, ah_err *e) {
    if (w->dtype == ST_F32 || w->dtype == ST_F16 || w->dtype == ST_BF16) return 0;
    return ah_fail(e, "tensor '%s': dtype %s is not a float type", w->name, st_dtype_name(w->dtype));
}

// Rows [r0, r0 + nrows) of w (a float dtype) widened into out (nrows * cols floats); returns the
// index in out of the first NaN or infinity, nrows * cols if none. stream: F16 / BF16 with
// non-temporal stores (an output far larger than the caches, read later: half.h).
static size_t widen_rows(float *out, const model_weight *w, size_t r0, size_t nrows, int stream) {
    size_t cols = w->ndim > 1 ? (size_t)w->shape[1] : 1, n = nrows * cols, off = r0 * cols;
    // Byte arithmetic: the data may sit at any alignment in the mapped file (st_widen). Each
    // slice is scanned right after it is widened, while it is in the cache (a second pass over
    // the whole output cost a 7B evaluation 0.7% of its time), or in registers as it is streamed.
    const uint8_t *src = (const uint8_t *)w->data + off * st_dtype_size(w->dtype);
    size_t bad = n, nslices = (n + AH_FINITE_SLICE - 1) / AH_FINITE_SLICE;
    stream = stream && w->dtype != ST_F32;
#pragma omp parallel for reduction(min : bad) schedule(static) if (nslices > 1)
    for (size_t sl = 0; sl < nslices; sl++) {
        size_t lo = sl * AH_FINITE_SLICE, len = n - lo < AH_FINITE_SLICE ? n - lo : AH_FINITE_SLICE;
        const uint8_t *s = src + lo * st_dtype_size(w->dtype);
        size_t i;
        if (stream) {
            i = ah_half_to_f32_stream(out + lo, s, len, w->dtype == ST_BF16);
        } else {
            (void)st_widen(out + lo, s, len, w->dtype);   // a float type
            i = ah_first_nonfinite_f32(out + lo, len);
        }
        if (i < len && lo + i < bad) bad = lo + i;
    }
    return bad;
}

int model_weight_rows_f32(float *out, const model_weight *w, size_t r0, size_t nrows, ah_err *e) {
    size_t cols = w->ndim > 1 ? (size_t)w->shape[1] : 1, n = nrows * cols;
    if (n == 0 || !w->data) return 0;
    if (check_float_dtype(w, e)) return -1;
    size_t bad = widen_rows(out, w, r0, nrows, 0);
    return bad < n ? nonfinite_error(out, bad, w, r0, e) : 0;
}

// Row r0 of w where it lies in the mapping, if it can be read as floats there: stored as F32
// at a float-aligned address (a file may place a tensor at any byte offset). Else NULL.
static const float *f32_in_place(const model_weight *w, size_t r0) {
    if (!w->data || w->dtype != ST_F32) return NULL;
    size_t cols = w->ndim > 1 ? (size_t)w->shape[1] : 1;
    const uint8_t *p = (const uint8_t *)w->data + r0 * cols * sizeof(float);
    return ((uintptr_t)p & (sizeof(float) - 1)) == 0 ? (const float *)p : NULL;
}

const float *model_weight_rows_view(float *buf, const model_weight *w, size_t r0, size_t nrows,
                                    ah_err *e) {
    size_t cols = w->ndim > 1 ? (size_t)w->shape[1] : 1;
    const float *p = f32_in_place(w, r0);
    if (p) return check_finite(p, w, r0, nrows * cols, e) ? NULL : p;
    return model_weight_rows_f32(buf, w, r0, nrows, e) ? NULL : buf;
}

void model_release_layer(const model *m, int layer) {
    for (int r = 0; r < L_COUNT; r++) {
        const model_weight *w = model_lw(m, layer, r);
        if (w && w->data) model_release(m, w, 0, (size_t)w->shape[0]);
    }
}

void model_release(const model *m, const model_weight *w, size_t r0, size_t nrows) {
    if (!w->data || nrows == 0) return;
    size_t esz = w->dtype == ST_F32 ? 4 : 2, cols = w->ndim > 1 ? (size_t)w->shape[1] : 1;
    const uint8_t *p = (const uint8_t *)w->data + r0 * cols * esz;
    size_t n = nrows * cols * esz;
    if (m->st) {
        st_release(m->st, p, n);
    } else if (m->gguf) {
        gguf_release(m->gguf, p, n);
    } else if (m->map && p >= (const uint8_t *)m->map && n <= m->map_len &&
               (size_t)(p - (const uint8_t *)m->map) <= m->map_len - n) {
        ah_release_mapped(p, n);
    }
}

void model_embed_row(float *out, const model_weight *w, int id, int C) {
    size_t off = (size_t)id * (size_t)C * st_dtype_size(w->dtype);
    (void)st_widen(out, (const uint8_t *)w->data + off, (size_t)C, w->dtype);   // float: bound
}

// What the forward writes into a view that left linears as halves (model.h).
struct block_stored {
    float *scratch;          // gemm_stored's, for scratch_threads threads
    int scratch_threads;
    int bad[L_COUNT];        // a NaN / infinity met in role r by the GEMM or block_f32_as_floats
    int floats[L_COUNT];     // own[r] holds role r widened (and checked): block_f32_as_floats
};

block_f32 *block_f32_new(const model *m, ah_err *e) {
    block_f32 *b = calloc(1, sizeof *b);
    if (b && !(b->sts = calloc(1, sizeof *b->sts))) {
        free(b);
        b = NULL;
    }
    if (!b) {
        ah_fail(e, "out of memory (block)");
        return NULL;
    }
    size_t total = 0;
    for (int r = 0; r < L_COUNT; r++) {
        b->numel[r] = model_weight_numel(model_lw(m, 0, r));
        total += (b->numel[r] + 15) & ~(size_t)15;   // keep each tensor 64-byte aligned
    }
    // Not zeroed: every tensor is written before it is read (block_f32_load / _view), and a
    // view never touches the tensors it reads in place (an F32 7B block is 808 MB).
    b->arena = ah_alloc(total, sizeof(float), "block weights", e);
    if (!b->arena) {
        free(b->sts);
        free(b);
        return NULL;
    }
    float *p = b->arena;
    for (int r = 0; r < L_COUNT; r++) {
        if (b->numel[r] == 0) continue;
        b->w[r] = b->own[r] = p;
        p += (b->numel[r] + 15) & ~(size_t)15;
    }
    return b;
}

void block_f32_free(block_f32 *b) {
    if (!b) return;
    ah_free(b->arena);
    if (b->sts) ah_free(b->sts->scratch);   // NULL in a block packed_block_slim made
    free(b->sts);
    free(b);
}

// Role r of layer `layer` widened into b->own[r], chunk by chunk (ah_chunk_rows: 4 MiB of
// fp32), each chunk's stored pages leaving the resident set right after, so a pass over the
// model holds one block and at most a chunk of mapped pages per thread, not every mapped page
// it has read, nor a whole tensor's (docs: bench/README.md, memory). The threads take the
// chunks in turn in one parallel region (a region per chunk woke the sleeping threads 200
// times per 7B block: half of its widening time); F16 / BF16 with non-temporal stores, as the
// block (808 MB on Llama-2-7B) is far larger than the caches and read after.
static int block_widen_role(block_f32 *b, const model_weight *w, const model *m, int r,
                            ah_err *e) {
    if (check_float_dtype(w, e)) return -1;
    size_t rows = (size_t)w->shape[0], cols = b->numel[r] / (rows ? rows : 1);
    size_t step = ah_chunk_rows(rows, cols * sizeof(float)), nchunks = (rows + step - 1) / step;
    size_t bad = b->numel[r];   // the first NaN or infinity in row order, over the chunks
#pragma omp parallel for schedule(static, 1) reduction(min : bad) if (nchunks > 1)
    for (size_t c = 0; c < nchunks; c++) {
        size_t r0 = c * step, n = rows - r0 < step ? rows - r0 : step;
        size_t i = widen_rows(b->own[r] + r0 * cols, w, r0, n, 1);
        if (i < n * cols && r0 * cols + i < bad) bad = r0 * cols + i;
        model_release(m, w, r0, n);
    }
    return bad < b->numel[r] ? nonfinite_error(b->own[r], bad, w, 0, e) : 0;
}

// A linear a view leaves where it lies for gemm_stored: F16 / BF16 at a 2-byte aligned address
// (a file may place a tensor at any byte offset), where that GEMM runs. Not F32: those are read
// in place by OpenBLAS already, and gemm_stored on them, 3-13% faster than OpenBLAS on mapped
// weights alone (bench/gemm_stored), made whole evaluations no faster (SmolLM2-135M) or 1-3%
// slower (TinyLlama-1.1B): bench/README.md, "Evaluation: F16 linears from the stored halves".
static int stored_in_place(const model_weight *w, arch_layer_role r) {
    return w->data && arch_role_is_linear(r) && w->ndim == 2 &&
           (w->dtype == ST_F16 || w->dtype == ST_BF16) && ((uintptr_t)w->data & 1) == 0 &&
           gemm_stored_available();
}

// The GEMM's scratch for the current thread count (block_stored).
static int stored_scratch(block_stored *h, ah_err *e) {
    int nth = omp_get_max_threads();
    if (h->scratch && h->scratch_threads >= nth) return 0;
    ah_free(h->scratch);
    h->scratch_threads = 0;
    if (!(h->scratch = ah_alloc(gemm_stored_scratch_floats(nth), sizeof(float), "GEMM panels", e)))
        return -1;
    h->scratch_threads = nth;
    return 0;
}

// Layer `layer` into b: each role widened into own[r], or, with in_place, an F32 tensor at a
// float-aligned address read where it lies (the forward takes its weights const; the mapping
// is read-only). An optional tensor (a bias) that layer 0 has and this layer lacks reads as
// zeros. With in_place, a linear stored as halves may also be left where it lies (stored[r]:
// stored_in_place), its NaN / infinity test then made by the forward (block_f32_view_check).
static int block_read(block_f32 *b, const model *m, int layer, int in_place, ah_err *e) {
    for (int r = 0; r < L_COUNT; r++) {
        b->stored[r] = NULL;
        b->src[r] = NULL;
        b->sts->bad[r] = b->sts->floats[r] = 0;
        if (!b->own[r]) continue;
        b->w[r] = b->own[r];
        const model_weight *w = model_lw(m, layer, r);
        const float *p = in_place ? f32_in_place(w, 0) : NULL;
        if (in_place && stored_in_place(w, (arch_layer_role)r)) {
            if (stored_scratch(b->sts, e)) return -1;
            b->stored[r] = w->data;
            b->src[r] = w;
        } else if (!w->data) {
            memset(b->own[r], 0, b->numel[r] * sizeof(float));
        } else if (p) {
            if (check_finite(p, w, 0, b->numel[r], e)) return -1;
            b->w[r] = (float *)(uintptr_t)p;
        } else if (block_widen_role(b, w, m, r, e)) {
            return -1;
        }
    }
    return 0;
}

int block_f32_load(block_f32 *b, const model *m, int layer, ah_err *e) {
    if (block_read(b, m, layer, 0, e)) return -1;
    model_release_layer(m, layer);   // what the widening's faults mapped back (model.h)
    return 0;
}

int block_f32_view(block_f32 *b, const model *m, int layer, ah_err *e) {
    return block_read(b, m, layer, 1, e);
}

float *block_stored_scratch(const block_f32 *b) { return b->sts->scratch; }
void block_stored_flag(const block_f32 *b, int r) { b->sts->bad[r] = 1; }

const float *block_f32_as_floats(const block_f32 *b, int r) {
    block_stored *h = b->sts;
    if (!h->floats[r]) {
        const model_weight *w = b->src[r];
        if (widen_rows(b->own[r], w, 0, (size_t)w->shape[0], 0) < b->numel[r]) h->bad[r] = 1;
        h->floats[r] = 1;
    }
    return b->own[r];
}

int block_f32_view_check(const block_f32 *b, ah_err *e) {
    for (int r = 0; r < L_COUNT && b->sts; r++) {
        if (!b->sts->bad[r]) continue;
        // the first in row order: the widening's scan (own[r] is free for it on this error path)
        const model_weight *w = b->src[r];
        size_t i = widen_rows(b->own[r], w, 0, (size_t)w->shape[0], 0);
        if (i < b->numel[r]) return nonfinite_error(b->own[r], i, w, 0, e);
        return ah_fail(e, "tensor '%s': a non-finite value met in the product is not in the "
                          "stored values (read differently twice)", w->name);
    }
    return 0;
}

int model_own(model *m, void *p, ah_err *e) {
    void **o = realloc(m->owned, (m->n_owned + 1) * sizeof *o);
    if (!o) {
        free(p);
        return ah_fail(e, "out of memory");
    }
    m->owned = o;
    m->owned[m->n_owned++] = p;
    return 0;
}

void model_free(model *m) {
    if (!m) return;
    st_close(m->st);
    gguf_close(m->gguf);
    for (size_t i = 0; i < m->n_owned; i++) free(m->owned[i]);
    free(m->owned);
    if (m->map) munmap(m->map, m->map_len);
    free(m->layer);
    free(m->names);
    free(m);
}

void model_describe(const model *m, char *buf, size_t cap) {
    const model_config *c = &m->cfg;
    snprintf(buf, cap, "%s: %d layers, C=%d, H=%d, G=%d, D=%d, F=%d, V=%d, max_seq=%d%s",
             c->arch->model_type, c->n_layers, c->dim, c->n_heads, c->n_kv_heads, c->head_dim,
             c->hidden_dim, c->vocab_size, c->max_seq, c->tied_embeddings ? ", tied head" : "");
}
