#include "awq/fold.h"

int awq_group_applies(const model_config *c, const arch_scale_group *g) {
    return !g->needs_square_attn || c->n_kv_heads == c->n_heads;
}

int awq_group_width(const model_config *c, const arch_scale_group *g) {
    switch (g->input) {
    case FWD_IN_QKV: case FWD_IN_GATE_UP: return c->dim;
    case FWD_IN_O: return c->n_heads * c->head_dim;
    case FWD_IN_DOWN: return c->hidden_dim;
    default: return 0;
    }
}

// Number of input columns of a linear role.
static int cols_of(const model_config *c, arch_layer_role r) {
    switch (r) {
    case L_O: return c->n_heads * c->head_dim;
    case L_DOWN: return c->hidden_dim;
    default: return c->dim;
    }
}

void awq_fold_group(block_f32 *b, const model_config *c, const arch_scale_group *g,
                    const float *s) {
    int width = awq_group_width(c, g);
    // Linears: W (rows, width), every column j multiplied by s[j].
    for (int k = 0; k < g->n_linears; k++) {
        float *W = b->w[g->linears[k]];
        int cols = cols_of(c, g->linears[k]);
        size_t rows = b->numel[g->linears[k]] / (size_t)cols;
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < rows; i++)
            for (int j = 0; j < width; j++) W[i * (size_t)width + j] *= s[j];
    }
    // Previous op: a norm's weight (C) and bias, or a linear's rows (width, in) and bias.
    float *P = b->w[g->prev], *pb = b->w[g->prev_bias];
    size_t per_row = b->numel[g->prev] / (size_t)width;   // 1 for a norm weight
#pragma omp parallel for schedule(static)
    for (int j = 0; j < width; j++) {   // division, not * (1/s): as the reference does
        for (size_t i = 0; i < per_row; i++) P[(size_t)j * per_row + i] /= s[j];
        if (pb) pb[j] /= s[j];
    }
}
