// gen_model.c — resident blocks for generation (gen_model.h).
#include "eval/gen_model.h"

#include <stdlib.h>

int gen_model_build(gen_model *g, const model *m, qpass *qp, packed_set *ps, ah_err *e) {
    g->n_layers = m->cfg.n_layers;
    g->weight_bytes = 0;
    if (!(g->blocks = calloc((size_t)g->n_layers, sizeof *g->blocks)))
        return ah_fail(e, "out of memory (blocks)");
    for (int l = 0; l < g->n_layers; l++) {
        block_f32 *full = block_f32_new(m, e);
        if (!full || block_f32_load(full, m, l, e) || (qp && qpass_block(qp, l, full, e))) {
            block_f32_free(full);
            return -1;
        }
        size_t full_bytes = 0, slim_bytes = 0;
        for (int r = 0; r < L_COUNT; r++) {
            full_bytes += full->numel[r] * sizeof(float);
            if (!arch_role_is_linear(r)) slim_bytes += full->numel[r] * sizeof(float);
        }
        if (!ps) {
            g->blocks[l] = full;
            g->weight_bytes += full_bytes;
            continue;
        }
        g->blocks[l] = packed_block_slim(full, e);
        block_f32_free(full);
        if (!g->blocks[l] || packed_set_attach(ps, l, g->blocks[l], e)) return -1;
        g->weight_bytes += slim_bytes;
    }
    if (ps) g->weight_bytes += packed_set_bytes(ps);
    return 0;
}

void gen_model_free(gen_model *g) {
    if (!g || !g->blocks) return;
    for (int l = 0; l < g->n_layers; l++) block_f32_free(g->blocks[l]);
    free(g->blocks);
    g->blocks = NULL;
}

size_t gen_head_bytes(const model *m) {
    const model_weight *hw = m->global[G_LM_HEAD].data ? &m->global[G_LM_HEAD] : &m->global[G_EMBED];
    return model_weight_numel(hw) * st_dtype_size(hw->dtype);
}
