// gguf_model.c — a GGUF file as a model (model.h model_gguf_bind): llama.cpp's "llama" and
// "qwen2" architectures, tensors F32 / F16 / BF16 / Q4_0 / Q4_1 / Q8_0 (io/gguf_read.h).
//
// Hyper-parameters come from the {arch}.* keys export/gguf.c writes (the ones llama.cpp
// reads); tensors are bound by their GGUF names (export/gguf.h qexport_gguf_*_name) and
// checked against the shapes those keys imply. Dtypes follow the safetensors loader: F32, F16
// and BF16 tensors stay in their dtype, borrowed from the mapping (an F16 file is an F16
// checkpoint); block types are dequantized at load into fp32 (m->owned), as llama.cpp
// dequantizes them in fp32 (ggml-quants.c dequantize_row_*).
//
// RoPE. llama.cpp's llama graph rotates interleaved pairs (2i, 2i+1) of the stored Q/K rows;
// convert_hf_to_gguf.py permutes HF's rotate-half rows into that order, llama2.c's own
// checkpoints are interleaved already and written as they are. Both readings below compute
// llama.cpp's function; the choice only decides which checkpoint comes back bit for bit:
//   - GGUF_KEY_ROPE_SOURCE "interleaved" (the harness's export of a llama2.c model): rows as
//     stored, interleaved RoPE (the llama2.c family);
//   - otherwise (the harness's HF exports, llama.cpp's converter, any other llama file): the
//     rows permuted back (qexport_gguf_src_row, the writer's own map), rotate-half RoPE (the
//     HF llama family).
// qwen2 is never permuted (llama.cpp runs NEOX = rotate-half RoPE on it).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "export/gguf.h"
#include "io/gguf_read.h"
#include "model/model.h"

int model_is_gguf(const char *path) {
    size_t n = strlen(path);
    if (n >= 5 && !strcmp(path + n - 5, ".gguf")) return 1;
    FILE *f = fopen(path, "rb");
    char magic[4] = {0};
    int yes = f && fread(magic, 1, 4, f) == 4 && !memcmp(magic, "GGUF", 4);
    if (f) fclose(f);
    return yes;
}

// A required integer key {arch}.name into *out, within [lo, hi]; def when absent (def < 0:
// required).
static int hparam(const gguf_file *f, const char *arch, const char *name, int64_t lo, int64_t hi,
                  int64_t def, int *out, ah_err *e) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, name);
    int64_t v = def;
    int r = gguf_get_int(f, key, lo, hi, &v, e);
    if (r < 0) return -1;
    if (r == 1 && def < 0) return ah_fail(e, "%s: key '%s' missing", gguf_path(f), key);
    *out = (int)v;
    return 0;
}

// A float key {arch}.name into *out (def when absent), refused outside [lo, hi] (NaN too).
static int hparam_f32(const gguf_file *f, const char *arch, const char *name, float def,
                      double lo, double hi, float *out, ah_err *e) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, name);
    *out = def;
    if (gguf_get_f32(f, key, out, e) < 0) return -1;
    if (!(*out >= lo && *out <= hi))
        return ah_fail(e, "%s: key '%s' = %g out of range [%g, %g]", gguf_path(f), key, *out, lo, hi);
    return 0;
}

static int read_config(model *m, const gguf_file *f, const char *arch, ah_err *e) {
    model_config *c = &m->cfg;
    const gguf_tensor *emb = gguf_find_tensor(f, "token_embd.weight");
    if (!emb || emb->ndim != 2)
        return ah_fail(e, "%s: tensor 'token_embd.weight' %s", gguf_path(f), emb ? "is not 2-D" : "missing");
    int key_len = 0, rope_dims = 0;
    if (hparam(f, arch, "embedding_length", 1, MODEL_MAX_DIM, -1, &c->dim, e) ||
        hparam(f, arch, "block_count", 1, MODEL_MAX_LAYERS, -1, &c->n_layers, e) ||
        hparam(f, arch, "feed_forward_length", 1, MODEL_MAX_DIM, -1, &c->hidden_dim, e) ||
        hparam(f, arch, "attention.head_count", 1, MODEL_MAX_DIM, -1, &c->n_heads, e) ||
        hparam(f, arch, "attention.head_count_kv", 1, MODEL_MAX_DIM, 0, &c->n_kv_heads, e) ||
        hparam(f, arch, "attention.key_length", 2, MODEL_MAX_DIM, 0, &key_len, e) ||
        hparam(f, arch, "rope.dimension_count", 1, MODEL_MAX_DIM, 0, &rope_dims, e) ||
        hparam(f, arch, "context_length", 1, 1 << 24, -1, &c->max_seq, e) ||
        hparam_f32(f, arch, "attention.layer_norm_rms_epsilon", 1e-5f, MODEL_MIN_EPS, MODEL_MAX_EPS,
                   &c->norm_eps, e) ||
        hparam_f32(f, arch, "rope.freq_base", 10000.0f, MODEL_MIN_THETA, MODEL_MAX_THETA,
                   &c->rope_theta, e))
        return -1;
    if ((int64_t)c->n_heads * (key_len ? key_len : 1) > MODEL_MAX_DIM)
        return ah_fail(e, "%s: %d heads of width %d", gguf_path(f), c->n_heads, key_len);
    if (!c->n_kv_heads) c->n_kv_heads = c->n_heads;
    c->head_dim = key_len ? key_len : c->dim / c->n_heads;
    if (c->n_heads % c->n_kv_heads || (!key_len && c->dim % c->n_heads) || c->head_dim % 2)
        return ah_fail(e, "%s: inconsistent heads: embedding_length %d, head_count %d, head_count_kv "
                       "%d, head width %d", gguf_path(f), c->dim, c->n_heads, c->n_kv_heads, c->head_dim);
    if (rope_dims && rope_dims != c->head_dim)
        return ah_fail(e, "%s: %s.rope.dimension_count %d: partial rotary (head width %d) is not run "
                       "here", gguf_path(f), arch, rope_dims, c->head_dim);
    const char *s;
    size_t n;
    char key[128];
    snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
    int r = gguf_get_str(f, key, &s, &n, e);
    if (r < 0) return -1;
    if (r == 0 && !(n == 4 && !memcmp(s, "none", 4)))
        return ah_fail(e, "%s: %s '%.*s': RoPE scaling is not run here", gguf_path(f), key,
                       (int)(n > 40 ? 40 : n), s);
    if (emb->ne[1] > MODEL_MAX_VOCAB)
        return ah_fail(e, "%s: token_embd.weight has %llu rows", gguf_path(f), (unsigned long long)emb->ne[1]);
    c->vocab_size = (int)emb->ne[1];
    c->tied_embeddings = !gguf_find_tensor(f, "output.weight");
    c->norm_before = 1;
    int64_t id = -1;
    c->bos_id = gguf_get_int(f, "tokenizer.ggml.bos_token_id", 0, c->vocab_size - 1, &id, e) == 0 ? (int)id : -1;
    id = -1;
    c->eos_id = gguf_get_int(f, "tokenizer.ggml.eos_token_id", 0, c->vocab_size - 1, &id, e) == 0 ? (int)id : -1;
    return 0;
}

// Binds GGUF tensor `gname` to w with the harness shape (rows, cols) (1-D: ndim 1). perm_heads
// > 0: rows permuted back over that many heads. Absent: an error unless optional.
static int bind(model *m, model_weight *w, size_t slot, const char *gname, int ndim,
                const int64_t shape[2], int perm_heads, int optional, ah_err *e) {
    char *name = m->names + slot * MODEL_NAME_CAP;
    snprintf(name, MODEL_NAME_CAP, "%s", gname);
    w->name = name;
    const gguf_tensor *t = gguf_find_tensor(m->gguf, gname);
    if (!t) return optional ? 0 : ah_fail(e, "%s: tensor '%s' missing", m->path, gname);
    uint64_t rows = ndim == 2 ? (uint64_t)shape[0] : 1, cols = ndim == 2 ? (uint64_t)shape[1] : (uint64_t)shape[0];
    if (t->ndim != ndim || t->ne[0] != cols || (ndim == 2 && t->ne[1] != rows)) {
        char got[96] = "", want[48];
        for (int d = 0, o = 0; d < t->ndim; d++)   // 4 dims of 20 digits at most: fits
            o += snprintf(got + o, sizeof got - (size_t)o, "%s%llu", d ? ", " : "", (unsigned long long)t->ne[d]);
        if (ndim == 2) snprintf(want, sizeof want, "%llu, %llu", (unsigned long long)cols, (unsigned long long)rows);
        else snprintf(want, sizeof want, "%llu", (unsigned long long)cols);
        return ah_fail(e, "%s: tensor '%s' has ggml dims [%s]; the metadata implies [%s]", m->path,
                       gname, got, want);
    }
    w->ndim = ndim;
    w->shape[0] = shape[0];
    w->shape[1] = ndim == 2 ? shape[1] : 1;
    int plain = t->type == GGML_T_F32 || t->type == GGML_T_F16 || t->type == GGML_T_BF16;
    st_dtype d = t->type == GGML_T_F16 ? ST_F16 : t->type == GGML_T_BF16 ? ST_BF16 : ST_F32;
    w->dtype = d;
    if (plain && perm_heads <= 0) {
        w->data = t->data;
        return 0;
    }
    // Owned: rows permuted back, block types dequantized (row r of the file is source row
    // qexport_gguf_src_row(r) of the checkpoint that was written).
    size_t es = st_dtype_size(d), rb = (size_t)gguf_row_bytes(t->type, cols);
    uint8_t *out = ah_calloc((size_t)rows * (size_t)cols + 1, es, gname, e);
    if (!out) return -1;
    for (size_t r = 0; r < rows; r++) {
        size_t sr = perm_heads > 0 ? qexport_gguf_src_row(r, (size_t)rows, perm_heads) : r;
        const uint8_t *src = (const uint8_t *)t->data + r * rb;
        if (plain) memcpy(out + sr * cols * es, src, rb);
        else gguf_dequant_row((float *)(void *)(out + sr * cols * es), src, t->type, (size_t)cols);
    }
    w->data = out;
    return model_own(m, out, e);
}

// Every tensor of the file must have a role: a tensor the forward would ignore (attention
// norms of other families, rope_freqs of a scaled RoPE) means another model.
static int check_unused(const model *m, ah_err *e) {
    for (size_t i = 0; i < gguf_tensor_count(m->gguf); i++) {
        const char *nm = gguf_tensor_at(m->gguf, i)->name;
        int used = 0;
        for (int g = 0; g < G_COUNT && !used; g++) used = m->global[g].name && !strcmp(m->global[g].name, nm) && m->global[g].data;
        for (size_t k = 0; k < (size_t)m->cfg.n_layers * L_COUNT && !used; k++)
            used = m->layer[k].data && !strcmp(m->layer[k].name, nm);
        if (!used)
            return ah_fail(e, "%s: tensor '%s' has no role in a %s model as the harness runs it",
                           m->path, nm, m->cfg.arch->model_type);
    }
    return 0;
}

int model_gguf_bind(model *m, ah_err *e) {
    if (!(m->gguf = gguf_open(m->path, e))) return -1;
    const gguf_file *f = m->gguf;
    const char *arch_s, *rs;
    size_t arch_n, rn;
    int r = gguf_get_str(f, "general.architecture", &arch_s, &arch_n, e);
    if (r < 0) return -1;
    if (r == 1) return ah_fail(e, "%s: key 'general.architecture' missing", m->path);
    char arch[32];
    snprintf(arch, sizeof arch, "%.*s", (int)(arch_n < sizeof arch ? arch_n : sizeof arch - 1), arch_s);
    if (strlen(arch) != arch_n || (strcmp(arch, "llama") && strcmp(arch, "qwen2")))
        return ah_fail(e, "%s: general.architecture '%.*s': llama and qwen2 files are read", m->path,
                       (int)(arch_n > 40 ? 40 : arch_n), arch_s);
    int interleaved = 0;
    if (!strcmp(arch, "llama")) {
        r = gguf_get_str(f, GGUF_KEY_ROPE_SOURCE, &rs, &rn, e);
        if (r < 0) return -1;
        interleaved = r == 0 && rn == 11 && !memcmp(rs, "interleaved", 11);
    }
    m->cfg.arch = interleaved ? arch_llama2c() : arch_find(arch);
    if (read_config(m, f, arch, e)) return -1;
    snprintf(m->format, sizeof m->format, "gguf");
    model_config *c = &m->cfg;
    const arch_desc *a = c->arch;
    m->layer = calloc((size_t)c->n_layers * L_COUNT, sizeof *m->layer);
    m->names = calloc((size_t)c->n_layers * L_COUNT + G_COUNT, MODEL_NAME_CAP);
    if (!m->layer || !m->names) return ah_fail(e, "%s: out of memory", m->path);
    int64_t shape[2];
    for (int g = 0; g < G_COUNT; g++) {
        const char *gn = qexport_gguf_global_name(g);
        int nd = model_global_shape(c, g, shape);
        if (!gn || !nd || !a->global_names[g]) continue;
        if (bind(m, &m->global[g], (size_t)g, gn, nd, shape, 0, g == G_LM_HEAD, e)) return -1;
    }
    int permute = !strcmp(arch, "llama") && !interleaved;
    for (int l = 0; l < c->n_layers; l++)
        for (int rl = 0; rl < L_COUNT; rl++) {
            const char *ln = qexport_gguf_layer_name(rl);
            int nd = model_role_shape(c, rl, shape);
            if (!a->layer_names[rl]) continue;
            size_t i = (size_t)l * L_COUNT + rl, plen = strlen(a->layer_names[rl]);
            int optional = a->layer_names[rl][plen - 1] == '?';
            if (!ln) {
                if (optional) continue;
                return ah_fail(e, "%s: the %s family's %s has no GGUF name", m->path, a->model_type,
                               arch_layer_role_name(rl));
            }
            char gname[MODEL_NAME_CAP];
            snprintf(gname, sizeof gname, "blk.%d.%s", l, ln);
            int ph = !permute ? 0 : rl == L_Q ? c->n_heads : rl == L_K ? c->n_kv_heads : 0;
            if (bind(m, &m->layer[i], G_COUNT + i, gname, nd, shape, ph, optional, e)) return -1;
        }
    return check_unused(m, e);
}
