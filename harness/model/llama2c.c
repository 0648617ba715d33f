// llama2c.c — karpathy's llama2.c legacy checkpoint (.bin): 7 x int32 header, fp32 weights.
//
// Header: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size (negative: the classifier
// is stored separately at the end, else it shares the token embedding), seq_len.
// Then, all fp32: tok_emb (V, C), rms_att (L, C), wq (L, C, C), wk (L, KV, C), wv (L, KV, C),
// wo (L, C, C), rms_ffn (L, C), w1 (L, F, C), w2 (L, C, F), w3 (L, F, C), rms_final (C),
// freq_cis_real (S, D/2), freq_cis_imag (S, D/2) [unused: rotary is recomputed], wcls (V, C)?.
// Rotary is interleaved (pairs 2i, 2i+1), theta 10000, RMSNorm eps 1e-5 (llama2.c's run.c).
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mem.h"
#include "model/model.h"

// Bind a role to `count` floats at *off, advancing *off; shape (rows, cols) or (rows).
static void take(model *m, model_weight *w, size_t slot, const char *name_fmt, int layer,
                 const float *base, size_t *off, int64_t rows, int64_t cols) {
    char *name = m->names + slot * MODEL_NAME_CAP;
    snprintf(name, MODEL_NAME_CAP, name_fmt, layer);
    w->name = name;
    w->dtype = ST_F32;
    w->data = base + *off;
    w->ndim = cols > 0 ? 2 : 1;
    w->shape[0] = rows;
    w->shape[1] = cols > 0 ? cols : 1;
    *off += (size_t)rows * (size_t)(cols > 0 ? cols : 1);
}

// Per-layer tensors in file order: each array holds all layers back to back.
static const struct {
    arch_layer_role role;
    int rows, cols;   // 'C' dim, 'K' kv_dim, 'F' hidden, 0 = vector
} FILE_ORDER[] = {
    {L_ATTN_NORM, 'C', 0}, {L_Q, 'C', 'C'}, {L_K, 'K', 'C'}, {L_V, 'K', 'C'}, {L_O, 'C', 'C'},
    {L_MLP_NORM, 'C', 0},  {L_GATE, 'F', 'C'}, {L_DOWN, 'C', 'F'}, {L_UP, 'F', 'C'},
};

static int64_t dim_of(const model_config *c, int code) {
    switch (code) {
    case 'C': return c->dim;
    case 'K': return (int64_t)c->n_kv_heads * c->head_dim;
    case 'F': return c->hidden_dim;
    default: return 0;
    }
}

int model_llama2c_bind(model *m, ah_err *e) {
    int fd = open(m->path, O_RDONLY);
    if (fd < 0) return ah_fail(e, "%s: cannot open: %s", m->path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return ah_fail(e, "%s: cannot stat: %s", m->path, strerror(errno));
    }
    size_t len = (size_t)st.st_size;
    if (len < 7 * sizeof(int32_t)) {
        close(fd);
        return ah_fail(e, "%s: not a checkpoint: %zu bytes is shorter than a llama2.c header",
                       m->path, len);
    }
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return ah_fail(e, "%s: mmap failed: %s", m->path, strerror(errno));
    m->map = map;
    m->map_len = len;

    int32_t h[7];
    memcpy(h, map, sizeof h);
    model_config *c = &m->cfg;
    c->arch = arch_llama2c();
    c->dim = h[0];
    c->hidden_dim = h[1];
    c->n_layers = h[2];
    c->n_heads = h[3];
    c->n_kv_heads = h[4];
    c->tied_embeddings = h[5] > 0;
    c->vocab_size = h[5] > 0 ? h[5] : (h[5] == INT32_MIN ? 0 : -h[5]);
    c->max_seq = h[6];
    c->norm_eps = 1e-5f;
    c->rope_theta = 10000.0f;
    c->norm_before = 1;
    c->bos_id = 1;
    c->eos_id = 2;
    // Sanity limits first: a text file or another format read as a header gives nonsense here.
    if (c->dim <= 0 || c->dim > (1 << 16) || c->hidden_dim <= 0 || c->hidden_dim > (1 << 18) ||
        c->n_layers <= 0 || c->n_layers > 1024 || c->n_heads <= 0 || c->n_heads > c->dim ||
        c->n_kv_heads <= 0 || c->n_kv_heads > c->n_heads || c->vocab_size <= 0 ||
        c->vocab_size > (1 << 22) || c->max_seq <= 0 || c->max_seq > (1 << 20))
        return ah_fail(e, "%s: not a llama2.c checkpoint (header dim=%d hidden=%d layers=%d "
                       "heads=%d kv_heads=%d vocab=%d seq_len=%d)", m->path, h[0], h[1], h[2],
                       h[3], h[4], h[5], h[6]);
    if (c->dim % c->n_heads || c->n_heads % c->n_kv_heads || (c->dim / c->n_heads) % 2)
        return ah_fail(e, "%s: inconsistent heads: dim %d, n_heads %d, n_kv_heads %d", m->path,
                       c->dim, c->n_heads, c->n_kv_heads);
    c->head_dim = c->dim / c->n_heads;

    // Expected size, computed in size_t from bounded ints (no overflow at these limits).
    size_t C = (size_t)c->dim, L = (size_t)c->n_layers, F = (size_t)c->hidden_dim,
           KV = (size_t)c->n_kv_heads * c->head_dim, V = (size_t)c->vocab_size,
           S = (size_t)c->max_seq, D = (size_t)c->head_dim;
    size_t floats = V * C + L * (C + C * C + 2 * KV * C + C * C + C + 3 * F * C) + C + S * D;
    if (!c->tied_embeddings) floats += V * C;
    size_t need = 7 * sizeof(int32_t) + floats * sizeof(float);
    if (len < need)
        return ah_fail(e, "%s: truncated llama2.c checkpoint: %zu bytes, the header implies %zu",
                       m->path, len, need);

    m->layer = calloc(L * L_COUNT, sizeof *m->layer);
    m->names = calloc(L * L_COUNT + G_COUNT, MODEL_NAME_CAP);
    if (!m->layer || !m->names) return ah_fail(e, "%s: out of memory", m->path);

    // The weights start at byte 28 of a page-aligned mapping, so every fp32 value is 4-byte
    // aligned; they are read through st_widen (memcpy) all the same, like safetensors data.
    const float *base = (const float *)((const char *)map + 7 * sizeof(int32_t));
    size_t off = 0;
    const arch_desc *a = c->arch;
    take(m, &m->global[G_EMBED], G_EMBED, a->global_names[G_EMBED], 0, base, &off,
         c->vocab_size, c->dim);
    for (size_t i = 0; i < sizeof FILE_ORDER / sizeof FILE_ORDER[0]; i++) {
        arch_layer_role r = FILE_ORDER[i].role;
        int64_t rows = dim_of(c, FILE_ORDER[i].rows), cols = dim_of(c, FILE_ORDER[i].cols);
        for (int l = 0; l < c->n_layers; l++) {
            size_t slot = (size_t)l * L_COUNT + r;
            take(m, &m->layer[slot], G_COUNT + slot, a->layer_names[r], l, base, &off, rows, cols);
        }
    }
    take(m, &m->global[G_FINAL_NORM], G_FINAL_NORM, a->global_names[G_FINAL_NORM], 0, base,
         &off, c->dim, 0);
    off += S * D;   // freq_cis_real and freq_cis_imag: S x D/2 each
    if (!c->tied_embeddings)
        take(m, &m->global[G_LM_HEAD], G_LM_HEAD, "lm_head.weight", 0, base, &off,
             c->vocab_size, c->dim);
    snprintf(m->format, sizeof m->format, "llama2c");
    return 0;
}
