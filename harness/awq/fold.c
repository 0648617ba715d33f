#include "awq/fold.h"

int awq_group_applies(const model_config *c, const arch_scale_group *g) {
    return !g->needs_square_attn || c->n_kv_heads == c->n_heads;
}

void awq_fold_group(block_f32 *b, const model_config *c, const arch_scale_group *g,
                    const float *s) {
    int width = awq_group_width(c, g);
    // Linears: W (rows, width), every column j multiplied by s[j] (a group's linears all read
    // its input, so their column count is the group width).
    for (int k = 0; k < g->n_linears; k++) {
        float *W = b->w[g->linears[k]];
        size_t rows = b->numel[g->linears[k]] / (size_t)width;
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
