#include "eval/ppl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/blas.h"
#include "core/finite.h"
#include "core/mem.h"
#include "core/progress.h"
#include "core/simd.h"
#include "eval/head_scan.h"
#include "eval/kld_ref.h"
#include "eval/ppl_unc.h"

size_t ppl_window_count(size_t n, int seqlen) { return seqlen > 0 ? n / (size_t)seqlen : 0; }

const char *ppl_protocol_name(ppl_protocol p) {
    return p == PPL_LLAMACPP ? "llamacpp" : p == PPL_LMEVAL ? "lmeval" : "gptq";
}

int ppl_protocol_parse(const char *s, ppl_protocol *p) {
    if (strcmp(s, "gptq") == 0) *p = PPL_GPTQ;
    else if (strcmp(s, "llamacpp") == 0) *p = PPL_LLAMACPP;
    else if (strcmp(s, "lmeval") == 0) *p = PPL_LMEVAL;
    else return -1;
    return 0;
}

void ppl_result_free(ppl_result *r) {
    if (!r) return;
    free(r->nll_per_window);
    free(r->kld_per_window);
    free(r->top1_per_window);
    r->nll_per_window = r->kld_per_window = r->top1_per_window = NULL;
}

// A KLD reference must come from the same windows: the comparison is position by position.
static int check_ref(const kld_ref *ref, const int32_t *tokens, size_t W, int T, int first,
                     const model_config *c, ah_err *e) {
    if (ref->W != W || ref->T != T || ref->first != first)
        return ah_fail(e, "KL divergence: the FP reference has %zu windows of %d scored from %d, "
                          "this evaluation %zu of %d from %d", ref->W, ref->T, ref->first, W, T, first);
    if (ref->C != (size_t)c->dim || ref->V != (size_t)c->vocab_size)
        return ah_fail(e, "KL divergence: the FP reference is of a model of width %zu and "
                          "vocabulary %zu, not %d and %d", ref->C, ref->V, c->dim, c->vocab_size);
    if (memcmp(ref->tokens, tokens, W * (size_t)T * sizeof *tokens))
        return ah_fail(e, "KL divergence: the FP reference was computed on other tokens");
    return 0;
}

// r's KLD statistics and per-window means from the (W, P) positions.
static int kld_summarise(ppl_result *r, const kld_pos *pos, size_t W, size_t P, ah_err *e) {
    if (kld_stats_compute(&r->kld, pos, W * P, e)) return -1;
    r->kld_per_window = calloc(W, sizeof *r->kld_per_window);
    r->top1_per_window = calloc(W, sizeof *r->top1_per_window);
    if (!r->kld_per_window || !r->top1_per_window) return ah_fail(e, "out of memory (KLD)");
    for (size_t w = 0; w < W; w++) {
        double k = 0.0;
        long same = 0;
        for (size_t p = 0; p < P; p++) {
            k += pos[w * P + p].kld;
            same += pos[w * P + p].same_top;
        }
        r->kld_per_window[w] = k / (double)P;
        r->top1_per_window[w] = (double)same / (double)P;
    }
    r->has_kld = 1;
    return 0;
}

// First non-finite value of a block's output x (nb windows of T x C, the first being window
// w0) as an error naming the layer: huge-but-finite weights (or a quantized block gone bad)
// overflow float32 inside the block, and the NaN would otherwise surface only as a non-finite
// perplexity with no hint of where it came from.
static int check_block_output(const float *x, size_t nb, int T, size_t C, size_t w0, int layer,
                              const model *m, ah_err *e) {
    size_t n = nb * (size_t)T * C, bad = ah_first_nonfinite_f32_par(x, n);
    if (bad == n) return 0;
    // The block's tensor prefix ("model.layers.3") from one of its names, for the message.
    char block[MODEL_NAME_CAP] = "?", mark[24];
    const char *nm = model_lw(m, layer, L_ATTN_NORM)->name;
    snprintf(mark, sizeof mark, ".%d.", layer);
    const char *cut = nm ? strstr(nm, mark) : NULL;
    if (cut) snprintf(block, sizeof block, "%.*s", (int)(cut - nm) + (int)strlen(mark) - 1, nm);
    size_t row = bad / C;
    return ah_fail(e, "layer %d (%s.*): non-finite activation %g in the block output at window "
                   "%zu, position %zu, channel %zu: the weights overflow float32", layer, block,
                   x[bad], w0 + row / (size_t)T, row % (size_t)T, bad % C);
}

// The LM head over every window, in vocabulary chunks (head_scan.h), with a running
// log-sum-exp per position. x (W, T, C) holds the final-normed states. For p in [first, T-2]
// of window w it adds nll = max + log(sum exp(logit - max)) - logit[tokens[p+1]] to sum[w]
// (its square to sum_sq[w]).

// KL divergence work done in the same vocabulary chunks (kld.h); NULL members: none of it.
typedef struct {
    const kld_ref *ref;   // compare with: per position only the top token is tracked here
    kld_pos *pos;         // (W, P) out, with ref
    kld_row *row_out;     // (W, P) out: this evaluation's own row statistics (a new reference)
} head_kld;

// x (C) . h (C) in double: the sum of the FP-weighted logits of one position (kld.h).
static double dot_f64(const float *x, const float *h, size_t C) {
    double d = 0.0;
    for (size_t c = 0; c < C; c++) d += (double)x[c] * (double)h[c];
    return d;
}

// min of l[0, n)
AH_VEC_CLONES static float row_min(const float *l, size_t n) {
    float m = l[0];
#pragma omp simd reduction(min : m)
    for (size_t j = 1; j < n; j++) m = l[j] < m ? l[j] : m;
    return m;
}

// Running state of every scored position i = w * P + p, over the vocabulary chunks.
typedef struct {
    const int32_t *tokens;   // (W, T)
    size_t P, T, first;
    float *mx, *target;      // (W * P) running max logit; the target token's logit
    double *se;              // (W * P) sum of exp(logit - mx)
    float *mn;               // (W * P) running min logit (building a KLD reference), or NULL
    kld_top *top;            // (W * P) the quantized top token (comparing), or NULL
} ppl_head;

// Block w = window w's P positions against head rows [v0, v0 + n).
static int ppl_head_chunk(void *ctx, size_t w, size_t rows, const float *logits,
                          const float *head, size_t v0, size_t n, ah_err *e) {
    (void)head, (void)e, (void)rows;   // rows == P
    const ppl_head *h = ctx;
    const int32_t *next = h->tokens + w * h->T + h->first + 1;   // the token each row predicts
#pragma omp parallel for schedule(static)
    for (size_t p = 0; p < h->P; p++) {
        const float *l = logits + p * n;
        size_t i = w * h->P + p;
        float cm;
        double cs;
        fwd_lse_chunk(l, n, &cm, &cs);   // max and sum of exp(l - cm)
        head_lse_merge(&h->mx[i], &h->se[i], cm, cs, v0 == 0);
        size_t t = (size_t)next[p];
        if (t >= v0 && t < v0 + n) h->target[i] = l[t - v0];
        if (h->mn) {
            float cmin = row_min(l, n);
            h->mn[i] = v0 == 0 || cmin < h->mn[i] ? cmin : h->mn[i];
        }
        if (h->top) kld_top_chunk(&h->top[i], l, v0, n);
    }
    return 0;
}

static int score_head(double *sum, double *sum_sq, long *count, const model *m, const float *x,
                      const int32_t *tokens, size_t W, int T, int first, const head_kld *k,
                      ah_err *e) {
    size_t C = (size_t)m->cfg.dim, P = (size_t)(T - 1 - first);
    int rc = -1;
    ppl_head h = {.tokens = tokens, .P = P, .T = (size_t)T, .first = (size_t)first};
    h.mx = ah_calloc(W * P, sizeof(float), "log-sum-exp state", e);
    h.target = ah_calloc(W * P, sizeof(float), "log-sum-exp state", e);
    h.se = ah_calloc(W * P, sizeof(double), "log-sum-exp state", e);
    // KLD: the quantized top token of each position; building a reference: the running
    // minimum of each row (its codes need max, min and log-sum-exp).
    const kld_ref *ref = k->ref;
    h.top = ref ? ah_calloc(W * P, sizeof *h.top, "KLD state", e) : NULL;
    h.mn = k->row_out ? ah_calloc(W * P, sizeof(float), "log-sum-exp state", e) : NULL;
    head_block *blocks = ah_calloc(W, sizeof *blocks, "LM head blocks", e);
    if (!h.mx || !h.target || !h.se || (ref && !h.top) || (k->row_out && !h.mn) || !blocks)
        goto out;
    for (size_t w = 0; w < W; w++) blocks[w] = (head_block){x + (w * T + first) * C, P};
    if (head_scan(m, blocks, W, ppl_head_chunk, &h, e)) goto out;
    for (size_t w = 0; w < W; w++) {
        double total = 0.0, total_sq = 0.0;
        for (size_t p = 0; p < P; p++) {
            size_t i = w * P + p;
            double nll = (double)h.mx[i] + log(h.se[i]) - (double)h.target[i];
            total += nll;
            total_sq += nll * nll;
        }
        sum[w] += total;
        sum_sq[w] += total_sq;
        count[w] += (long)P;
    }
    for (size_t i = 0; k->row_out && i < W * P; i++)
        k->row_out[i] = kld_row_make(h.mx[i], h.mn[i], h.se[i]);
    if (ref) {
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < W * P; i++) {
            const float *xq = x + ((i / P) * T + first + i % P) * C;   // window i / P, position i % P
            kld_finish(&k->pos[i], &ref->base[i], dot_f64(xq, ref->hbar + i * C, C), h.top[i].arg,
                       h.mx[i], h.se[i], h.target[i]);
        }
    }
    rc = 0;
out:
    ah_free(blocks);
    ah_free(h.top);
    ah_free(h.mn);
    ah_free(h.mx);
    ah_free(h.target);
    ah_free(h.se);
    return rc;
}

int ppl_evaluate(ppl_result *r, const model *m, const int32_t *ids, size_t n,
                 const ppl_opts *o, ah_err *e) {
    memset(r, 0, sizeof *r);
    const model_config *c = &m->cfg;
    int T = o->seqlen;
    if (o->protocol == PPL_LMEVAL)
        return ah_fail(e, "internal: the lmeval protocol scores documents (ppl_lmeval), not windows");
    if (T < 2) return ah_fail(e, "window length %d is too short (need at least 2)", T);
    if (T > c->max_seq)
        return ah_fail(e, "window length %d is longer than the model allows (%d)", T, c->max_seq);
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= c->vocab_size)
            return ah_fail(e, "token id %d at position %zu is outside the model's vocabulary "
                           "(%d): tokenizer and model do not match", ids[i], i, c->vocab_size);
    if (o->protocol == PPL_LLAMACPP && o->bos_id >= c->vocab_size)
        return ah_fail(e, "BOS id %d is outside the model's vocabulary (%d): tokenizer and model "
                       "do not match", o->bos_id, c->vocab_size);
    size_t W = ppl_window_count(n, T);
    if (o->max_windows > 0 && W > (size_t)o->max_windows) W = (size_t)o->max_windows;
    if (W == 0)
        return ah_fail(e, "the data has %zu tokens, fewer than one window of %d", n, T);

    double t0 = ah_now();
    int rc = -1;
    size_t C = (size_t)c->dim, WT = W * (size_t)T;
    float *hidden = NULL, *fnorm = NULL, *fnorm_b = NULL;
    int32_t *tokens = NULL;
    block_f32 *blk = NULL;
    fwd_state *s = NULL;
    double *sum = NULL, *sum_sq = NULL;
    long *count = NULL;
    kld_pos *kld_pos_buf = NULL;   // (W, P) with o->kld_ref
    kld_row *kld_rows = NULL;      // (W, P) with o->ref_out: the FP rows' statistics (kld_ref.h)

    // Window token arrays (W, T); llama.cpp's protocol puts BOS first in every window when the
    // tokenizer adds one (llama.cpp: only if add_bos).
    if (!(tokens = ah_calloc(WT, sizeof *tokens, "window tokens", e))) goto done;
    memcpy(tokens, ids, WT * sizeof *tokens);
    if (o->protocol == PPL_LLAMACPP && o->bos_id >= 0)
        for (size_t w = 0; w < W; w++) tokens[w * T] = o->bos_id;
    int first = o->protocol == PPL_LLAMACPP ? T / 2 : 0;
    if (o->kld_ref && check_ref(o->kld_ref, tokens, W, T, first, c, e)) goto done;

    if (!(hidden = ah_calloc(WT, C * sizeof(float), "hidden states", e))) goto done;
    int B = fwd_batch_windows(T, W);

    ah_progress prog;
    ah_progress_start(&prog, "eval", c->n_layers + 2, o->quiet);
    for (size_t w = 0; w < W; w++) fwd_embed(hidden + w * T * C, m, tokens + w * T, T);
    fwd_embed_release(m);
    ah_progress_step(&prog, 1, "embedding");
    // The block and the activations come after the embedding: its mapped rows (up to the whole
    // table, 250 MiB F16 for Llama-2-7B) are resident until released, and would add to them.
    if (!(s = fwd_state_new(c, T, B, e)) || !(blk = block_f32_new(m, e))) goto done_prog;

    for (int l = 0; l < c->n_layers; l++) {
        // read in place unless a block_fn rewrites the weights (model.h: block_f32_view)
        int rewrites = o->block_fn && !o->block_fn_reads_only;
        if ((rewrites ? block_f32_load : block_f32_view)(blk, m, l, e)) goto done_prog;
        if (o->block_fn && o->block_fn(o->block_ctx, l, blk, e)) goto done_prog;
        // the last block only for the rows the head reads (rows from `first` on; model/forward.h)
        int rows_from = l == c->n_layers - 1 ? first : 0;
        for (size_t w = 0; w < W; w += (size_t)B) {
            int nb = W - w < (size_t)B ? (int)(W - w) : B;
            fwd_block_rows(hidden + w * T * C, s, blk, c, T, nb, rows_from);
            // a NaN / infinity in weights a view left as halves is named before its effect
            if (block_f32_view_check(blk, e)) goto done_prog;
            if (check_block_output(hidden + w * T * C, (size_t)nb, T, C, w, l, m, e))
                goto done_prog;
        }
        model_release_layer(m, l);   // the pages a view kept resident
        char stage[48];
        snprintf(stage, sizeof stage, "block %d/%d", l + 1, c->n_layers);
        ah_progress_step(&prog, 1, stage);
    }
    // The block weights are done with: free them before the LM head.
    block_f32_free(blk);
    blk = NULL;

    if (model_final_norm_f32(m, &fnorm, &fnorm_b, e)) goto done_prog;

    sum = calloc(W, sizeof *sum);
    sum_sq = calloc(W, sizeof *sum_sq);
    count = calloc(W, sizeof *count);
    r->nll_per_window = calloc(W, sizeof *r->nll_per_window);
    if (!sum || !sum_sq || !count || !r->nll_per_window) {
        ah_fail(e, "out of memory (scores)");
        goto done_prog;
    }
    // the rows the head reads (the last block left the ones before `first` as they were)
    for (size_t w = 0; w < W; w++)
        fwd_final_norm(hidden + (w * T + first) * C, s, c, fnorm, fnorm_b, T - first);
    size_t P = (size_t)(T - 1 - first);
    head_kld hk = {.ref = o->kld_ref};
    if ((o->kld_ref && !(hk.pos = ah_alloc(W * P, sizeof *hk.pos, "KLD positions", e))) ||
        (o->ref_out && !(hk.row_out = ah_alloc(W * P, sizeof *hk.row_out, "KLD reference", e))))
        goto done_prog;
    kld_pos_buf = hk.pos;
    kld_rows = hk.row_out;
    if (score_head(sum, sum_sq, count, m, hidden, tokens, W, T, first, &hk, e)) goto done_prog;
    ah_progress_step(&prog, 1, "LM head");

    const model_weight *hw = m->global[G_LM_HEAD].data ? &m->global[G_LM_HEAD] : &m->global[G_EMBED];
    double mean_of_means = 0.0, tot = 0.0, tot_sq = 0.0;
    long cnt = 0;
    for (size_t w = 0; w < W; w++) {
        r->nll_per_window[w] = sum[w] / count[w];
        if (!isfinite(r->nll_per_window[w])) {   // block outputs were finite: the head overflowed
            ah_fail(e, "perplexity is not finite: window %zu has mean NLL %g; the logits of '%s' "
                       "(after '%s') overflow float32", w, r->nll_per_window[w], hw->name,
                    m->global[G_FINAL_NORM].name);
            goto done_prog;
        }
        mean_of_means += r->nll_per_window[w];
        tot += sum[w];
        tot_sq += sum_sq[w];
        cnt += count[w];
    }
    r->windows = (int)W;
    r->scored = cnt;
    r->nll_mean = o->protocol == PPL_GPTQ ? mean_of_means / W : tot / cnt;
    // Equal windows make both protocols exp(mean NLL over the scored tokens), so llama.cpp's
    // per-token standard error applies to either.
    r->stderr_ppl = ppl_se_llamacpp(tot, tot_sq, cnt);
    r->ppl = exp(r->nll_mean);
    if (ppl_boot_interval(r->nll_per_window, W, PPL_BOOT_RESAMPLES, PPL_BOOT_SEED, &r->ppl_lo,
                          &r->ppl_hi)) {
        ah_fail(e, "out of memory (bootstrap)");
        goto done_prog;
    }
    if (!isfinite(r->ppl)) {
        ah_fail(e, "perplexity is not finite (mean NLL %g)", r->nll_mean);
        goto done_prog;
    }
    if (o->kld_ref && kld_summarise(r, kld_pos_buf, W, P, e)) goto done_prog;
    if (o->ref_out && kld_ref_build(o->ref_out, m, hidden, tokens, W, T, first, kld_rows, e))
        goto done_prog;
    rc = 0;
done_prog:
    ah_progress_end(&prog);
done:
    r->seconds = ah_now() - t0;
    if (rc) ppl_result_free(r);
    ah_free(tokens);
    ah_free(hidden);
    ah_free(fnorm);
    ah_free(fnorm_b);
    free(sum);
    free(sum_sq);
    free(count);
    ah_free(kld_pos_buf);
    ah_free(kld_rows);
    block_f32_free(blk);
    fwd_state_free(s);
    return rc;
}
