#include "eval/ppl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/progress.h"

size_t ppl_window_count(size_t n, int seqlen) { return seqlen > 0 ? n / (size_t)seqlen : 0; }

const char *ppl_protocol_name(ppl_protocol p) { return p == PPL_LLAMACPP ? "llamacpp" : "gptq"; }

int ppl_protocol_parse(const char *s, ppl_protocol *p) {
    if (strcmp(s, "gptq") == 0) *p = PPL_GPTQ;
    else if (strcmp(s, "llamacpp") == 0) *p = PPL_LLAMACPP;
    else return -1;
    return 0;
}

void ppl_result_free(ppl_result *r) {
    if (!r) return;
    free(r->nll_per_window);
    r->nll_per_window = NULL;
}

int ppl_evaluate(ppl_result *r, const model *m, const int32_t *ids, size_t n,
                 const ppl_opts *o, ah_err *e) {
    memset(r, 0, sizeof *r);
    const model_config *c = &m->cfg;
    int T = o->seqlen;
    if (T < 2) return ah_fail(e, "window length %d is too short (need at least 2)", T);
    if (T > c->max_seq)
        return ah_fail(e, "window length %d is longer than the model allows (%d)", T, c->max_seq);
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= c->vocab_size)
            return ah_fail(e, "token id %d at position %zu is outside the model's vocabulary "
                           "(%d): tokenizer and model do not match", ids[i], i, c->vocab_size);
    size_t W = ppl_window_count(n, T);
    if (o->max_windows > 0 && W > (size_t)o->max_windows) W = (size_t)o->max_windows;
    if (W == 0)
        return ah_fail(e, "the data has %zu tokens, fewer than one window of %d", n, T);

    double t0 = ah_now();
    int rc = -1;
    size_t C = (size_t)c->dim, WT = W * (size_t)T;
    float *hidden = NULL, *head = NULL, *fnorm = NULL, *fnorm_b = NULL;
    int32_t *tokens = NULL;
    block_f32 *blk = NULL;
    fwd_state *s = NULL;
    double *sum = NULL, *sum_sq = NULL;
    long *count = NULL;

    // Window token arrays (W, T); llama.cpp's protocol puts BOS first in every window when the
    // tokenizer adds one (llama.cpp: only if add_bos).
    if (!(tokens = ah_calloc(WT, sizeof *tokens, "window tokens", e))) goto done;
    memcpy(tokens, ids, WT * sizeof *tokens);
    if (o->protocol == PPL_LLAMACPP && o->bos_id >= 0)
        for (size_t w = 0; w < W; w++) tokens[w * T] = o->bos_id;

    if (!(hidden = ah_calloc(WT, C * sizeof(float), "hidden states", e))) goto done;
    int B = fwd_batch_windows(T, W);
    if (!(s = fwd_state_new(c, T, B, e)) || !(blk = block_f32_new(m, e))) goto done;

    ah_progress prog;
    ah_progress_start(&prog, "eval", c->n_layers + 2, o->quiet);
    for (size_t w = 0; w < W; w++) fwd_embed(hidden + w * T * C, m, tokens + w * T, T);
    ah_progress_step(&prog, 1, "embedding");

    for (int l = 0; l < c->n_layers; l++) {
        if (block_f32_load(blk, m, l, e)) goto done_prog;
        if (o->block_fn && o->block_fn(o->block_ctx, l, blk, e)) goto done_prog;
        for (size_t w = 0; w < W; w += (size_t)B) {
            int nb = W - w < (size_t)B ? (int)(W - w) : B;
            fwd_block(hidden + w * T * C, s, blk, c, T, nb);
        }
        char stage[48];
        snprintf(stage, sizeof stage, "block %d/%d", l + 1, c->n_layers);
        ah_progress_step(&prog, 1, stage);
    }
    // The block weights are done with: free them before widening the LM head.
    block_f32_free(blk);
    blk = NULL;

    const model_weight *hw = m->global[G_LM_HEAD].data ? &m->global[G_LM_HEAD] : &m->global[G_EMBED];
    if (!(head = ah_calloc(model_weight_numel(hw), sizeof(float), "LM head", e)) ||
        model_weight_f32(head, hw, e))
        goto done_prog;
    if (!(fnorm = ah_calloc(C, sizeof(float), "final norm", e)) ||
        model_weight_f32(fnorm, &m->global[G_FINAL_NORM], e))
        goto done_prog;
    if (m->global[G_FINAL_NORM_B].data &&
        (!(fnorm_b = ah_calloc(C, sizeof(float), "final norm", e)) ||
         model_weight_f32(fnorm_b, &m->global[G_FINAL_NORM_B], e)))
        goto done_prog;

    int first = o->protocol == PPL_LLAMACPP ? T / 2 : 0;
    sum = calloc(W, sizeof *sum);
    sum_sq = calloc(W, sizeof *sum_sq);
    count = calloc(W, sizeof *count);
    r->nll_per_window = calloc(W, sizeof *r->nll_per_window);
    if (!sum || !sum_sq || !count || !r->nll_per_window) {
        ah_fail(e, "out of memory (scores)");
        goto done_prog;
    }
    for (size_t w = 0; w < W; w++)
        fwd_score(&sum[w], &sum_sq[w], &count[w], hidden + w * T * C, s, c, head, fnorm,
                  fnorm_b, tokens + w * T, T, first);
    ah_progress_step(&prog, 1, "LM head");

    double mean_of_means = 0.0, tot = 0.0, tot_sq = 0.0;
    long cnt = 0;
    for (size_t w = 0; w < W; w++) {
        r->nll_per_window[w] = sum[w] / count[w];
        mean_of_means += r->nll_per_window[w];
        tot += sum[w];
        tot_sq += sum_sq[w];
        cnt += count[w];
    }
    r->windows = (int)W;
    r->scored = cnt;
    if (o->protocol == PPL_GPTQ) {
        r->nll_mean = mean_of_means / W;
    } else {
        // llama.cpp: ppl = exp(mean), +- ppl * sqrt(var / (count - 1))
        r->nll_mean = tot / cnt;
        double var = tot_sq / cnt - r->nll_mean * r->nll_mean;
        r->stderr_ppl = (var > 0 && cnt > 1) ? exp(r->nll_mean) * sqrt(var / (cnt - 1)) : 0.0;
    }
    r->ppl = exp(r->nll_mean);
    if (!isfinite(r->ppl)) {
        ah_fail(e, "perplexity is not finite (mean NLL %g)", r->nll_mean);
        goto done_prog;
    }
    rc = 0;
done_prog:
    ah_progress_end(&prog);
done:
    r->seconds = ah_now() - t0;
    if (rc) ppl_result_free(r);
    ah_free(tokens);
    ah_free(hidden);
    ah_free(head);
    ah_free(fnorm);
    ah_free(fnorm_b);
    free(sum);
    free(sum_sq);
    free(count);
    block_f32_free(blk);
    fwd_state_free(s);
    return rc;
}
