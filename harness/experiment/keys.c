// keys.c — content keys (keys.h). Bump the "v1" strings when a change to the harness changes
// results for the same inputs, so stale cache entries stop matching.
#include "experiment/keys.h"

#include <stdio.h>
#include <string.h>

#include "core/hash.h"

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

void exp_method_canonical(const method_cfg *mc, char *buf, size_t cap) {
    const awq_cfg *a = &mc->awq;
    snprintf(buf, cap,
             "method=%s bits=%d group=%d quant=%d salient_pct=%.9g salient_by=%s seed=%llu "
             "rule=%s grid=%d one=%d alpha=%.9g clip=%d samples=%d sscale=%.9g spct=%.9g prop=%d",
             method_name(mc->kind), mc->q.bits, mc->q.group, (int)mc->q.kind, mc->salient_pct,
             salient_by_name(mc->by), (unsigned long long)mc->seed, awq_rule_name(a->rule),
             a->grid_points, a->grid_include_one, a->alpha, a->clip, a->samples,
             a->salient_scale, a->scale_pct, mc->propagate_quantized);
    size_t o = strlen(buf);
    if (method_uses_gptq(mc->kind) && o < cap)   // only for GPTQ: other keys stay as they were
        snprintf(buf + o, cap - o, " damp=%.9g block=%d act_order=%d", mc->gptq.damp,
                 mc->gptq.block_size, mc->gptq.act_order);
}

void exp_awq_key(const method_cfg *mc, const char *model_hash, const char *calib_hash,
                 char hex[65]) {
    const awq_cfg *a = &mc->awq;
    char s[1024];
    int n = snprintf(s, sizeof s,
                     "awq-search v1|model=%s|calib=%s|bits=%d|group=%d|quant=%d|rule=%s|grid=%d|"
                     "one=%d|alpha=%.9g|clip=%d|samples=%d|sscale=%.9g|spct=%.9g|prop=%d",
                     model_hash, calib_hash, mc->q.bits, mc->q.group, (int)mc->q.kind,
                     awq_rule_name(a->rule), a->grid_points, a->grid_include_one, a->alpha,
                     a->clip, a->samples, a->salient_scale, a->scale_pct, mc->propagate_quantized);
    if (mc->propagate_quantized)   // later blocks' searches see this block's quantized output
        n += snprintf(s + n, sizeof s - (size_t)n, "|salient_pct=%.9g|by=%s|seed=%llu",
                      mc->salient_pct, salient_by_name(mc->by), (unsigned long long)mc->seed);
    // awq+gptq with propagate = quantized: later searches see GPTQ's quantized blocks. (With
    // propagate = fp its search is awq's exactly, so the two share cache entries.)
    if (mc->propagate_quantized && mc->kind == METHOD_AWQ_GPTQ)
        n += snprintf(s + n, sizeof s - (size_t)n, "|then=gptq|damp=%.9g|block=%d|act_order=%d",
                      mc->gptq.damp, mc->gptq.block_size, mc->gptq.act_order);
    ah_sha256_hex(s, (size_t)n, hex);
}
