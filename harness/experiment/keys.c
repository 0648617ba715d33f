// keys.c — content keys (keys.h). Bump the "v1" strings when a change to the harness changes
// results for the same inputs, so stale cache entries stop matching.
#include "experiment/keys.h"

#include <stdio.h>
#include <string.h>

#include "core/hash.h"
#include "method/params.h"

static void hash_weight(ah_sha256 *h, const model_weight *w) {
    if (!w->data) return;
    char head[256];
    int n = snprintf(head, sizeof head, "%s|%d|%d|%lld|%lld\n", w->name, (int)w->dtype, w->ndim,
                     (long long)w->shape[0], (long long)(w->ndim > 1 ? w->shape[1] : 0));
    ah_sha256_update(h, head, (size_t)n);
    ah_sha256_update(h, w->data, model_weight_numel(w) * st_dtype_size(w->dtype));
}

void exp_model_hash(const model *m, char hex[65]) {
    ah_sha256 *h = ah_sha256_new();
    const model_config *c = &m->cfg;
    char head[512];
    model_describe(m, head, sizeof head);
    size_t o = strlen(head);
    snprintf(head + o, sizeof head - o, "|eps=%.9g|theta=%.9g|tied=%d|pre=%d|v1\n", c->norm_eps,
             c->rope_theta, c->tied_embeddings, c->norm_before);
    ah_sha256_update(h, head, strlen(head));
    for (int g = 0; g < G_COUNT; g++) hash_weight(h, &m->global[g]);
    for (size_t i = 0; i < (size_t)c->n_layers * L_COUNT; i++) hash_weight(h, &m->layer[i]);
    ah_sha256_final(h, hex);
}

void exp_ids_hash(const int32_t *ids, size_t n, char hex[65]) {
    ah_sha256_hex(ids, n * sizeof *ids, hex);
}

// The parameter part of both keys is written by the parameter table (rows' key names and
// positions: method/params.c), in the formats these keys had before it existed.
// Scales rounded to 16 bits ([export] formats that store them so) change the codes: such
// runs get "|scales=D" appended, so the keys of the default (f32) runs stay what they were.
void exp_method_canonical(const method_cfg *mc, char *buf, size_t cap) {
    param_key_text(mc, buf, cap);
    size_t n = strlen(buf);
    if (mc->kind != METHOD_FP16 && mc->q.scale_dtype != QUANT_SCALE_F32 && n < cap)
        snprintf(buf + n, cap - n, "|scales=%s", quant_scale_dtype_name(mc->q.scale_dtype));
}

void exp_awq_key(const method_cfg *mc, const char *model_hash, const char *calib_hash,
                 char hex[65]) {
    char params[768], s[1024];
    param_awq_key_text(mc, params, sizeof params);
    size_t len = strlen(params);   // the search runs with the rounded scales: its own entry
    if (mc->q.scale_dtype != QUANT_SCALE_F32 && len < sizeof params)
        snprintf(params + len, sizeof params - len, "|scales=%s",
                 quant_scale_dtype_name(mc->q.scale_dtype));
    int n = snprintf(s, sizeof s, "awq-search v1|model=%s|calib=%s|%s", model_hash, calib_hash,
                     params);
    ah_sha256_hex(s, (size_t)n < sizeof s ? (size_t)n : sizeof s - 1, hex);
}
