#include "calib/calib.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_sort_float.h>
#include <gsl/gsl_statistics_float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/simd.h"

// ----------------------------------------------------------------------------
// calibration sequences

int calib_set_make(calib_set *cs, const int32_t *ids, size_t n_ids, int want, int len,
                   uint64_t seed, int first_blocks, const char *what, ah_err *e) {
    memset(cs, 0, sizeof *cs);
    if (len < 2) return ah_fail(e, "calibration sequence length %d too short", len);
    if (want < 1) return ah_fail(e, "calibration needs at least one sequence (asked for %d)", want);
    size_t blocks = n_ids / (size_t)len;
    if (blocks == 0)
        return ah_fail(e, "%s: %zu tokens is less than one calibration sequence of %d", what,
                       n_ids, len);
    int n = blocks < (size_t)want ? (int)blocks : want;
    size_t *all = malloc(blocks * sizeof *all), *pick = malloc((size_t)n * sizeof *pick);
    cs->tokens = ah_calloc((size_t)n * len, sizeof *cs->tokens, "calibration tokens", e);
    if (!all || !pick || !cs->tokens) {
        free(all);
        free(pick);
        ah_free(cs->tokens);
        cs->tokens = NULL;
        return ah_fail(e, "out of memory (calibration)");
    }
    for (size_t i = 0; i < blocks; i++) all[i] = i;
    // gsl_ran_choose keeps the chosen blocks in stream order; same seed, same choice.
    if (first_blocks) {
        memcpy(pick, all, (size_t)n * sizeof *pick);
    } else {
        gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
        gsl_rng_set(rng, (unsigned long)seed);
        gsl_ran_choose(rng, pick, (size_t)n, all, blocks, sizeof *all);
        gsl_rng_free(rng);
    }
    for (int i = 0; i < n; i++)
        memcpy(cs->tokens + (size_t)i * len, ids + pick[i] * len, (size_t)len * sizeof *ids);
    free(all);
    free(pick);
    cs->n = n;
    cs->len = len;
    cs->source_tokens = n_ids;
    cs->seed = seed;
    return 0;
}

void calib_set_free(calib_set *cs) {
    if (!cs) return;
    ah_free(cs->tokens);
    memset(cs, 0, sizeof *cs);
}

// ----------------------------------------------------------------------------
// capture

calib_run *calib_run_new(const model *m, const calib_set *cs, size_t sample_rows, ah_err *e) {
    calib_run *r = calloc(1, sizeof *r);
    if (!r) {
        ah_fail(e, "out of memory (calibration)");
        return NULL;
    }
    const model_config *c = &m->cfg;
    if (cs->len > c->max_seq) {
        ah_fail(e, "calibration sequence length %d is longer than the model allows (%d)",
                cs->len, c->max_seq);
        free(r);
        return NULL;
    }
    // fwd_embed indexes the embedding by id unchecked: an ids: file or a tokenizer larger than
    // the model would read past the tensor (eval checks the same in ppl_evaluate).
    for (size_t i = 0, nt = (size_t)cs->n * (size_t)cs->len; i < nt; i++)
        if (cs->tokens[i] < 0 || cs->tokens[i] >= c->vocab_size) {
            ah_fail(e, "calibration token id %d (sequence %zu, position %zu) is outside the "
                       "model's vocabulary (%d): tokenizer and model do not match", cs->tokens[i],
                    i / (size_t)cs->len, i % (size_t)cs->len, c->vocab_size);
            free(r);
            return NULL;
        }
    r->m = m;
    r->cs = cs;
    r->batch = fwd_batch_windows(cs->len, (size_t)cs->n);
    size_t NL = (size_t)cs->n * cs->len;
    if (sample_rows == 0) sample_rows = CALIB_SAMPLE_TOKENS;
    if (sample_rows > NL) sample_rows = NL;
    long stride = (long)(NL / CALIB_CLIP_TOKENS);
    // Every stride-th row up to CALIB_CLIP_TOKENS: all NL rows when there are fewer.
    int clip_cap = NL < CALIB_CLIP_TOKENS ? (int)NL : CALIB_CLIP_TOKENS;
    if (!(r->hidden = ah_calloc(NL * (size_t)c->dim, sizeof(float), "calibration hidden states", e)) ||
        !(r->s = fwd_state_new(c, cs->len, r->batch, e)))
        goto fail;
    for (int k = 0; k < FWD_IN_COUNT; k++) {
        calib_input *in = &r->in[k];
        in->width = model_input_width(c, k);
        size_t I = (size_t)in->width;
        in->sample_cap = (int)sample_rows;
        in->clip_stride = stride > 1 ? stride : 1;
        in->clip_cap = clip_cap;
        if (!(in->abs_sum = ah_calloc(I, sizeof(double), "calibration statistics", e)) ||
            !(in->sq_sum = ah_calloc(I, sizeof(double), "calibration statistics", e)) ||
            !(in->abs_max = ah_calloc(I, sizeof(float), "calibration statistics", e)) ||
            !(in->abs_p99 = ah_calloc(I, sizeof(float), "calibration statistics", e)) ||
            !(in->sample = ah_calloc(sample_rows * I, sizeof(float), "calibration sample", e)) ||
            !(in->clip = ah_calloc((size_t)clip_cap * I, sizeof(float),
                                   "calibration clip sample", e)))
            goto fail;
    }
    for (int i = 0; i < cs->n; i++)
        fwd_embed(r->hidden + (size_t)i * cs->len * c->dim, m, cs->tokens + (size_t)i * cs->len,
                  cs->len);
    fwd_embed_release(m);
    return r;
fail:
    calib_run_free(r);
    return NULL;
}

void calib_run_free(calib_run *r) {
    if (!r) return;
    for (int k = 0; k < FWD_IN_COUNT; k++) {
        ah_free(r->in[k].abs_sum);
        ah_free(r->in[k].sq_sum);
        ah_free(r->in[k].abs_max);
        ah_free(r->in[k].abs_p99);
        ah_free(r->in[k].sample);
        ah_free(r->in[k].clip);
        ah_free(r->in[k].hess);
    }
    ah_free(r->hidden);
    fwd_state_free(r->s);
    free(r);
}

int calib_run_want_hessian(calib_run *r, ah_err *e) {
    for (int k = 0; k < FWD_IN_COUNT; k++) {
        calib_input *in = &r->in[k];
        size_t I = (size_t)in->width;
        if (!in->hess && !(in->hess = ah_calloc(I * I, sizeof(double), "GPTQ Hessian", e))) return -1;
    }
    return 0;
}

#define CAPTURE_TILE 64   // channels per task: rows are walked once per tile, not per channel

// Sums of |x| and x^2 and maxima of |x| over rows [0, N) for channels [j0, j0 + n) of x (N, I),
// each channel summed over rows in order (deterministic); returns the number of NaN/inf values
// skipped.
AH_VEC_CLONES static long channel_stats_tile(calib_input *in, const float *x, int N, int I, int j0,
                                             int n) {
    double sum[CAPTURE_TILE], sq[CAPTURE_TILE];
    float mx[CAPTURE_TILE];
    long bad = 0;
    for (int j = 0; j < n; j++) {
        sum[j] = sq[j] = 0.0;
        mx[j] = in->abs_max[j0 + j];
    }
    for (int t = 0; t < N; t++) {
        const float *row = x + (size_t)t * I + j0;
#pragma omp simd reduction(+ : bad)
        for (int j = 0; j < n; j++) {
            float a = fabsf(row[j]);
            int ok = isfinite(a);
            bad += !ok;
            sum[j] += ok ? (double)a : 0.0;   // + 0.0 leaves a non-negative sum's bits unchanged
            sq[j] += ok ? (double)a * a : 0.0;   // exact: a float squared fits a double
            mx[j] = ok && a > mx[j] ? a : mx[j];
        }
    }
    for (int j = 0; j < n; j++) {
        in->abs_sum[j0 + j] += sum[j];
        in->sq_sum[j0 + j] += sq[j];
        in->abs_max[j0 + j] = mx[j];
    }
    return bad;
}

// The forward pass's capture hook: fold rows x (N, I) into the statistics of `which`.
static void capture(void *ctx, fwd_input which, const float *x, int N, int I) {
    calib_input *in = &((calib_run *)ctx)->in[which];
    long bad = 0;
    // Channels are independent: parallel over tiles of channels.
#pragma omp parallel for schedule(static) reduction(+ : bad)
    for (int j0 = 0; j0 < I; j0 += CAPTURE_TILE)
        bad += channel_stats_tile(in, x, N, I, j0,
                                  I - j0 < CAPTURE_TILE ? I - j0 : CAPTURE_TILE);
    int room = in->sample_cap - in->sample_rows;
    int take = N < room ? N : room;
    if (take > 0) {
        memcpy(in->sample + (size_t)in->sample_rows * I, x, (size_t)take * I * sizeof(float));
        in->sample_rows += take;
    }
    // Strided clip rows: global row index r = tokens seen before this batch + t.
    for (long r = ((in->tokens + in->clip_stride - 1) / in->clip_stride) * in->clip_stride;
         r < in->tokens + N && in->clip_rows < in->clip_cap; r += in->clip_stride) {
        memcpy(in->clip + (size_t)in->clip_rows * I, x + (size_t)(r - in->tokens) * I,
               (size_t)I * sizeof(float));
        in->clip_rows++;
    }
    in->tokens += N;
    in->nonfinite += bad;
    if (in->hess && !bad && calib_hess_accumulate(in->hess, x, N, I)) in->hess_oom = 1;
}

int calib_block(calib_run *r, const block_f32 *b, int layer, ah_err *e) {
    const model_config *c = &r->m->cfg;
    for (int k = 0; k < FWD_IN_COUNT; k++) {
        calib_input *in = &r->in[k];
        memset(in->abs_sum, 0, (size_t)in->width * sizeof(double));
        memset(in->sq_sum, 0, (size_t)in->width * sizeof(double));
        memset(in->abs_max, 0, (size_t)in->width * sizeof(float));
        in->tokens = 0;
        in->sample_rows = 0;
        in->clip_rows = 0;
        in->nonfinite = 0;
        in->hess_oom = 0;
        if (in->hess) memset(in->hess, 0, (size_t)in->width * in->width * sizeof(double));
    }
    r->s->capture = capture;
    r->s->capture_ctx = r;
    int L = r->cs->len, N = r->cs->n;
    for (int i = 0; i < N; i += r->batch) {
        int nb = N - i < r->batch ? N - i : r->batch;
        fwd_block(r->hidden + (size_t)i * L * c->dim, r->s, b, c, L, nb);
    }
    r->s->capture = NULL;
    // 99th percentile of |x| per channel over the strided clip rows (up to 512 tokens).
    for (int k = 0; k < FWD_IN_COUNT; k++) {
        calib_input *in = &r->in[k];
        int R = in->clip_rows, I = in->width;
        if (R == 0) continue;
#pragma omp parallel
        {
            float *col = malloc((size_t)R * sizeof *col);
#pragma omp for schedule(static)
            for (int j = 0; j < I; j++) {
                if (!col) continue;
                for (int t = 0; t < R; t++) col[t] = fabsf(in->clip[(size_t)t * I + j]);
                gsl_sort_float(col, 1, (size_t)R);
                in->abs_p99[j] = (float)gsl_stats_float_quantile_from_sorted_data(col, 1, (size_t)R, 0.99);
            }
            free(col);
        }
    }
    static const char *NAMES[FWD_IN_COUNT] = {"q/k/v input", "o_proj input", "gate/up input",
                                              "down_proj input"};
    // Hessians: mirror the upper triangle and scale by 2 / N.
    for (int k = 0; k < FWD_IN_COUNT; k++) {
        calib_input *in = &r->in[k];
        if (!in->hess) continue;
        if (in->hess_oom) return ah_fail(e, "out of memory (GPTQ Hessian, layer %d)", layer);
        size_t I = (size_t)in->width;
        double f = in->tokens > 0 ? 2.0 / (double)in->tokens : 0.0;
        for (size_t i = 0; i < I; i++)
            for (size_t j = i; j < I; j++) in->hess[j * I + i] = in->hess[i * I + j] *= f;
    }
    for (int k = 0; k < FWD_IN_COUNT; k++)
        if (r->in[k].nonfinite)
            return ah_fail(e, "calibration: layer %d %s holds %ld NaN/inf values", layer,
                           NAMES[k], r->in[k].nonfinite);
    return 0;
}

void calib_advance(calib_run *r, const block_f32 *b) {
    const model_config *c = &r->m->cfg;
    int L = r->cs->len, N = r->cs->n;
    for (int i = 0; i < N; i += r->batch) {
        int nb = N - i < r->batch ? N - i : r->batch;
        fwd_block(r->hidden + (size_t)i * L * c->dim, r->s, b, c, L, nb);
    }
}

void calib_input_scale(calib_input *in, const float *s) {
    int I = in->width;
    for (int j = 0; j < I; j++) {
        in->abs_sum[j] /= s[j];
        in->sq_sum[j] /= (double)s[j] * s[j];
        in->abs_max[j] /= s[j];
        in->abs_p99[j] /= s[j];
    }
#pragma omp parallel for schedule(static)
    for (int t = 0; t < in->sample_rows; t++)
        for (int j = 0; j < I; j++) in->sample[(size_t)t * I + j] /= s[j];
    for (int t = 0; t < in->clip_rows; t++)
        for (int j = 0; j < I; j++) in->clip[(size_t)t * I + j] /= s[j];
    if (in->hess)
        for (int i = 0; i < I; i++)
            for (int j = 0; j < I; j++) in->hess[(size_t)i * I + j] /= (double)s[i] * s[j];
}

void calib_input_mean_abs(const calib_input *in, float *out) {
    double n = in->tokens > 0 ? (double)in->tokens : 1.0;
    for (int j = 0; j < in->width; j++) out[j] = (float)(in->abs_sum[j] / n);
}

void calib_input_mean_sq(const calib_input *in, float *out) {
    double n = in->tokens > 0 ? (double)in->tokens : 1.0;
    for (int j = 0; j < in->width; j++) out[j] = (float)(in->sq_sum[j] / n);
}
