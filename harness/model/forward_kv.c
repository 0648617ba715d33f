// forward_kv.c — decoder blocks over a key/value cache (forward_kv.h).
#include "model/forward_kv.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "model/attend.h"

fwd_kv *fwd_kv_new(const model_config *c, int P, ah_err *e) {
    fwd_kv *kv = calloc(1, sizeof *kv);
    if (!kv) {
        ah_fail(e, "out of memory (key/value cache)");
        return NULL;
    }
    kv->n_layers = c->n_layers;
    kv->P = P;
    kv->KV = c->n_kv_heads * c->head_dim;
    size_t n = (size_t)c->n_layers * (size_t)P * (size_t)kv->KV;
    if (!(kv->k = ah_alloc(n, sizeof(float), "key cache", e)) ||
        !(kv->v = ah_alloc(n, sizeof(float), "value cache", e))) {
        fwd_kv_free(kv);
        return NULL;
    }
    return kv;
}

void fwd_kv_free(fwd_kv *kv) {
    if (!kv) return;
    ah_free(kv->k);
    ah_free(kv->v);
    free(kv);
}

size_t fwd_kv_bytes(const fwd_kv *kv) {
    return 2 * (size_t)kv->n_layers * (size_t)kv->P * (size_t)kv->KV * sizeof(float);
}

// s->att (T, H*D) = causal softmax(q k^T / sqrt(D)) v for T queries at positions
// [pos0, pos0 + T) over the cached keys kc and values vc (pos0 + T, G*D). One (query, head)
// pair per task; S: that thread's row of scores (>= pos0 + T floats).
static void attention_kv(fwd_state *s, const float *kc, const float *vc, const model_config *c,
                         int pos0, int T) {
    int H = c->n_heads, G = c->n_kv_heads, D = c->head_dim, group = H / G, KV = G * D;
    float scale = 1.0f / sqrtf((float)D);
    size_t stride = (size_t)(s->T < 128 ? s->T : 128) * (size_t)s->T;   // per-thread scratch
#pragma omp parallel for schedule(dynamic, 1) num_threads(s->nthreads)
    for (int task = 0; task < T * H; task++) {
        int t = task / H, h = task % H, n = pos0 + t + 1;   // keys 0 .. pos0 + t
        float *S = s->scores + (size_t)omp_get_thread_num() * stride;
        const float *q = s->q + ((size_t)t * H + h) * D;
        const float *k0 = kc + (size_t)(h / group) * D, *v0 = vc + (size_t)(h / group) * D;
        attend_row(s->att + ((size_t)t * H + h) * D, q, k0, v0, (size_t)KV, n, D, scale, S);
    }
}

// out (T, C) += o_proj(attention of in (T, C)), the new keys and values going into the cache.
static void attention_block(float *out, const float *in, fwd_state *s, fwd_kv *kv, int layer,
                            const block_f32 *b, const model_config *c, int pos0, int T) {
    int C = c->dim, Q = c->n_heads * c->head_dim, KV = kv->KV;
    float *const *w = b->w;
    float *kc = kv->k + (size_t)layer * kv->P * KV, *vc = kv->v + (size_t)layer * kv->P * KV;
    float *const y[3] = {s->q, kc + (size_t)pos0 * KV, vc + (size_t)pos0 * KV};
    const arch_layer_role r[3] = {L_Q, L_K, L_V};
    const float *const bias[3] = {w[L_Q_B], w[L_K_B], w[L_V_B]};
    const int O[3] = {Q, KV, KV};
    fwd_block_linears(3, y, r, bias, O, in, b, T, C);
    if (c->arch->rope != ROPE_NONE) {
        fwd_rope(s->q, s, T, T, pos0, c->n_heads, c->head_dim, c->arch->rope);
        fwd_rope(kc + (size_t)pos0 * KV, s, T, T, pos0, c->n_kv_heads, c->head_dim, c->arch->rope);
    }
    attention_kv(s, kc, vc, c, pos0, T);
    fwd_block_linear(out, s->att, b, L_O, w[L_O_B], T, Q, C, 1);
}

void fwd_block_kv(float *x, fwd_state *s, fwd_kv *kv, int layer, const block_f32 *b,
                  const model_config *c, int pos0, int T) {
    int C = c->dim;
    float *const *w = b->w;
    // As fwd_block: pre-norm x = x + o(attn(norm(x))); post-norm x = norm(x + o(attn(x))).
    if (c->norm_before) {
        fwd_norm(s->xn, x, w[L_ATTN_NORM], w[L_ATTN_NORM_B], c, T);
        attention_block(x, s->xn, s, kv, layer, b, c, pos0, T);
        fwd_norm(s->xn, x, w[L_MLP_NORM], w[L_MLP_NORM_B], c, T);
        fwd_mlp(x, 1, s->xn, s, b, c, T, 1);
    } else {
        memcpy(s->xn, x, (size_t)T * C * sizeof(float));
        attention_block(s->xn, x, s, kv, layer, b, c, pos0, T);
        fwd_norm(x, s->xn, w[L_ATTN_NORM], w[L_ATTN_NORM_B], c, T);
        memcpy(s->xn, x, (size_t)T * C * sizeof(float));
        fwd_mlp(s->xn, 1, x, s, b, c, T, 1);
        fwd_norm(x, s->xn, w[L_MLP_NORM], w[L_MLP_NORM_B], c, T);
    }
}

void fwd_embed_at(float *x, const model *m, const int32_t *tokens, int pos0, int T) {
    const model_config *c = &m->cfg;
    int C = c->dim;
    const model_weight *pos = &m->global[G_POS_EMBED];
    for (int t = 0; t < T; t++) {
        float *xt = x + (size_t)t * C;
        model_embed_row(xt, &m->global[G_EMBED], tokens[t], C);
        if (pos->data) {
            float row[C];
            model_embed_row(row, pos, pos0 + t + c->arch->pos_offset, C);
            for (int i = 0; i < C; i++) xt[i] += row[i];
        }
    }
}
