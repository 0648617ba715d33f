// salient.c — which input channels to keep in full precision (AWQ paper, Table 1).
// Kept apart from method.c: GSL's random-distribution headers declare the CBLAS enums that
// OpenBLAS's cblas.h declares too, so no file includes both.
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "method/method.h"

// Sort column indices by score, largest first; ties keep the lower index first.
static int by_score_desc(const void *a, const void *b, void *ctx) {
    const float *score = ctx;
    int i = *(const int *)a, j = *(const int *)b;
    if (score[i] != score[j]) return score[i] > score[j] ? -1 : 1;
    return i - j;
}

static int by_index(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

int method_salient_columns(int *keep_idx, const float *W, int rows, int cols,
                           const float *act_mean, const method_cfg *mc, int layer,
                           arch_layer_role role) {
    if (!method_takes(mc->kind, MP_SALIENT) || mc->salient_pct <= 0) return 0;
    // p% of cols, rounded to nearest, at least one channel when p > 0 (small models would
    // otherwise keep none at p = 0.1).
    int k = (int)floor(mc->salient_pct / 100.0 * cols + 0.5);
    if (k < 1) k = 1;
    if (k > cols) k = cols;
    int *order = malloc((size_t)cols * sizeof *order);
    float *score = malloc((size_t)cols * sizeof *score);
    if (!order || !score) {
        free(order);
        free(score);
        return -1;
    }
    for (int j = 0; j < cols; j++) order[j] = j;
    if (mc->by == SALIENT_RANDOM) {
        gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
        gsl_rng_set(rng, (unsigned long)(mc->seed * 1000003u + (uint64_t)layer * L_COUNT + role));
        gsl_ran_choose(rng, keep_idx, (size_t)k, order, (size_t)cols, sizeof *order);
        gsl_rng_free(rng);
    } else {
        if (mc->by == SALIENT_ACTIVATION) {
            memcpy(score, act_mean, (size_t)cols * sizeof *score);
        } else {   // SALIENT_WEIGHT: column L2 norm
            for (int j = 0; j < cols; j++) score[j] = 0.0f;
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < cols; j++) score[j] += W[(size_t)i * cols + j] * W[(size_t)i * cols + j];
        }
        qsort_r(order, (size_t)cols, sizeof *order, by_score_desc, score);
        memcpy(keep_idx, order, (size_t)k * sizeof *keep_idx);
        qsort(keep_idx, (size_t)k, sizeof *keep_idx, by_index);
    }
    free(order);
    free(score);
    return k;
}

