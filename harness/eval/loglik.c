// loglik.c — log-likelihood of scored spans, layer-major over chunks of requests (loglik.h).
#include "eval/loglik.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/blas.h"
#include "core/mem.h"
#include "core/progress.h"
#include "eval/head_scan.h"
#include "model/forward.h"

#define LL_ROW_BLOCK 1024   // scored rows per logit block: (LL_ROW_BLOCK, HEAD_VOCAB_CHUNK) floats

// Requests sorted longest first (ties by index, so the order is deterministic): requests of
// one length sit side by side and run as one batch of fwd_block.
static const ll_request *sort_base;
static int by_len_desc(const void *a, const void *b) {
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    int ni = sort_base[i].n, nj = sort_base[j].n;
    if (ni != nj) return ni > nj ? -1 : 1;
    return i < j ? -1 : i > j;
}

// Running per-row state of the LM head over vocabulary chunks (head_scan.h).
typedef struct {
    float mx;       // running max logit
    double se;      // sum of exp(logit - mx)
    float target;   // logit of the target token
    float best;     // argmax value and its (first) index
    int32_t arg;
} head_row;

typedef struct {
    const int32_t *tgt;   // (R) the target token of each row
    head_row *st;         // (R)
} ll_head;

// Block b = rows [b * LL_ROW_BLOCK, + its rows) against head rows [v0, v0 + n).
static int ll_head_chunk(void *ctx, size_t b, size_t rows, const float *logits,
                         const float *head, size_t v0, size_t n, ah_err *e) {
    (void)head, (void)e;
    const ll_head *lh = ctx;
    size_t r0 = b * LL_ROW_BLOCK;
    head_row *st = lh->st + r0;
    const int32_t *tgt = lh->tgt + r0;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < rows; i++) {
        const float *l = logits + i * n;
        head_row *h = &st[i];
        float cm;
        double cs;
        fwd_lse_chunk(l, n, &cm, &cs);
        // argmax: the first index of the largest logit (torch.argmax); a later chunk takes
        // over only when strictly larger (read before the merge moves mx).
        if (v0 == 0 || cm > h->best) {
            size_t j = 0;
            while (j < n && !(l[j] == cm)) j++;
            h->best = cm;
            h->arg = (int32_t)(v0 + (j < n ? j : 0));
        }
        head_lse_merge(&h->mx, &h->se, cm, cs, v0 == 0);
        size_t t = (size_t)tgt[i];
        if (t >= v0 && t < v0 + n) h->target = l[t - v0];
    }
    return 0;
}

// Scores R rows x (R, C) (final-normed) against targets tgt (R): out_lp[r] = log p(tgt[r]),
// out_top[r] = argmax id.
static int score_rows(double *out_lp, int32_t *out_top, const model *m, const float *x,
                      const int32_t *tgt, size_t R, ah_err *e) {
    size_t C = (size_t)m->cfg.dim, nb = (R + LL_ROW_BLOCK - 1) / LL_ROW_BLOCK;
    int rc = -1;
    head_row *st = ah_calloc(R, sizeof *st, "log-sum-exp state", e);
    head_block *blocks = ah_calloc(nb ? nb : 1, sizeof *blocks, "LM head blocks", e);
    if (!st || !blocks) goto out;
    for (size_t b = 0; b < nb; b++) {
        size_t r0 = b * LL_ROW_BLOCK;
        blocks[b] = (head_block){x + r0 * C, R - r0 < LL_ROW_BLOCK ? R - r0 : LL_ROW_BLOCK};
    }
    ll_head lh = {.tgt = tgt, .st = st};
    if (head_scan(m, blocks, nb, ll_head_chunk, &lh, e)) goto out;
    for (size_t r = 0; r < R; r++) {
        out_lp[r] = (double)st[r].target - ((double)st[r].mx + log(st[r].se));
        out_top[r] = st[r].arg;
    }
    rc = 0;
out:
    ah_free(blocks);
    ah_free(st);
    return rc;
}

// One chunk: requests ord[i0 .. i1) (sorted longest first), tokens rows in all.
static int score_chunk(ll_result *out, const model *m, const ll_request *req, const size_t *ord,
                       size_t i0, size_t i1, size_t rows, const ll_opts *o,
                       ah_err *e);

int ll_score(ll_result *out, const model *m, const ll_request *req, size_t nreq,
             const ll_opts *o, ah_err *e) {
    const model_config *c = &m->cfg;
    for (size_t i = 0; i < nreq; i++) {
        const ll_request *r = &req[i];
        if (r->n < 1 || r->k < 1 || r->k > r->n)
            return ah_fail(e, "request %zu: %d tokens read, %d scored: need 1 <= scored <= read",
                           i, r->n, r->k);
        if (r->n > c->max_seq)
            return ah_fail(e, "request %zu: %d tokens are more than the model's context (%d)", i,
                           r->n, c->max_seq);
        for (int p = 0; p <= r->n; p++)
            if (r->seq[p] < 0 || r->seq[p] >= c->vocab_size)
                return ah_fail(e, "request %zu: token id %d at position %d is outside the model's "
                               "vocabulary (%d): tokenizer and model do not match", i, r->seq[p],
                               p, c->vocab_size);
        out[i].logprob = 0.0;
        out[i].greedy = 0;
    }
    if (nreq == 0) return 0;
    size_t *ord = malloc(nreq * sizeof *ord);
    if (!ord) return ah_fail(e, "out of memory (request order)");
    for (size_t i = 0; i < nreq; i++) ord[i] = i;
    sort_base = req;
    qsort(ord, nreq, sizeof *ord, by_len_desc);
    int rc = 0;
    for (size_t i0 = 0; i0 < nreq && !rc;) {
        size_t i1 = i0, rows = 0;
        // A block hook (a quantization pass) runs once per block: then one chunk holds all.
        while (i1 < nreq &&
               (i1 == i0 || o->block_fn || rows + (size_t)req[ord[i1]].n <= LL_CHUNK_TOKENS))
            rows += (size_t)req[ord[i1++]].n;
        rc = score_chunk(out, m, req, ord, i0, i1, rows, o, e);
        i0 = i1;
    }
    free(ord);
    return rc;
}

static int score_chunk(ll_result *out, const model *m, const ll_request *req, const size_t *ord,
                       size_t i0, size_t i1, size_t rows, const ll_opts *o,
                       ah_err *e) {
    const model_config *c = &m->cfg;
    size_t C = (size_t)c->dim, nq = i1 - i0;
    int Tmax = req[ord[i0]].n;   // longest first
    int rc = -1;
    float *hidden = NULL, *fnorm = NULL, *fnorm_b = NULL, *x = NULL;
    size_t *off = NULL;
    int32_t *tgt = NULL, *top = NULL;
    double *lp = NULL;
    block_f32 *blk = NULL;
    fwd_state *s = NULL;
    ah_progress prog;
    ah_progress_start(&prog, "loglik", c->n_layers + 2, o->quiet);

    if (!(hidden = ah_calloc(rows, C * sizeof(float), "hidden states", e)) ||
        !(off = ah_calloc(nq + 1, sizeof *off, "request offsets", e)))
        goto out;
    size_t scored = 0;
    for (size_t q = 0; q < nq; q++) {
        const ll_request *r = &req[ord[i0 + q]];
        off[q + 1] = off[q] + (size_t)r->n;
        scored += (size_t)r->k;
        fwd_embed(hidden + off[q] * C, m, r->seq, r->n);
    }
    fwd_embed_release(m);
    ah_progress_step(&prog, 1, "embedding");
    int Bmax = fwd_batch_windows(Tmax, nq);
    if (!(s = fwd_state_new(c, Tmax, Bmax, e)) || !(blk = block_f32_new(m, e))) goto out;
    for (int l = 0; l < c->n_layers; l++) {
        // read in place unless a block_fn rewrites the weights (model.h: block_f32_view)
        if ((o->block_fn ? block_f32_load : block_f32_view)(blk, m, l, e)) goto out;
        if (o->block_fn && o->block_fn(o->block_ctx, l, blk, e)) goto out;
        // Runs of equal length go through fwd_block together, at most what the state holds
        // (B * T rows). The last block computes a run only from its first scored row on
        // (fwd_block_rows; the head reads no row before it).
        for (size_t q = 0; q < nq;) {
            int T = req[ord[i0 + q]].n, first = T;
            int Bcap = (int)(((size_t)Bmax * (size_t)Tmax) / (size_t)T);
            size_t q1 = q;
            for (; q1 < nq && req[ord[i0 + q1]].n == T && (int)(q1 - q) < Bcap; q1++)
                if (T - req[ord[i0 + q1]].k < first) first = T - req[ord[i0 + q1]].k;
            fwd_block_rows(hidden + off[q] * C, s, blk, c, T, (int)(q1 - q),
                           l == c->n_layers - 1 ? first : 0);
            q = q1;
        }
        if (block_f32_view_check(blk, e)) goto out;   // weights a view left as halves
        model_release_layer(m, l);   // the pages a view kept resident
        char stage[48];
        snprintf(stage, sizeof stage, "block %d/%d", l + 1, c->n_layers);
        ah_progress_step(&prog, 1, stage);
    }
    block_f32_free(blk);
    blk = NULL;
    if (model_final_norm_f32(m, &fnorm, &fnorm_b, e)) goto out;
    // The scored rows, final-normed, gathered into x (scored, C) with their targets.
    if (!(x = ah_calloc(scored, C * sizeof(float), "scored states", e)) ||
        !(tgt = ah_calloc(scored, sizeof *tgt, "targets", e)) ||
        !(top = ah_calloc(scored, sizeof *top, "argmax", e)) ||
        !(lp = ah_calloc(scored, sizeof *lp, "log-probabilities", e)))
        goto out;
    size_t g = 0;
    for (size_t q = 0; q < nq; q++) {
        const ll_request *r = &req[ord[i0 + q]];
        float *h = hidden + off[q] * C;
        // the scored rows alone (the last block left earlier rows as they were)
        fwd_final_norm(h + (size_t)(r->n - r->k) * C, s, c, fnorm, fnorm_b, r->k);
        for (int p = r->n - r->k; p < r->n; p++, g++) {
            memcpy(x + g * C, h + (size_t)p * C, C * sizeof(float));
            tgt[g] = r->seq[p + 1];
        }
    }
    if (score_rows(lp, top, m, x, tgt, scored, e)) goto out;
    ah_progress_step(&prog, 1, "LM head");
    g = 0;
    for (size_t q = 0; q < nq; q++) {
        size_t i = ord[i0 + q];
        const ll_request *r = &req[i];
        double sum = 0.0;
        int greedy = 1;
        for (int p = 0; p < r->k; p++, g++) {
            sum += lp[g];
            greedy &= top[g] == tgt[g];
        }
        if (!isfinite(sum)) {
            ah_fail(e, "request %zu: the log-likelihood is not finite (%g): the logits overflow "
                       "float32", i, sum);
            goto out;
        }
        out[i].logprob = sum;
        out[i].greedy = greedy;
    }
    rc = 0;
out:
    ah_progress_end(&prog);
    ah_free(hidden);
    ah_free(off);
    ah_free(fnorm);
    ah_free(fnorm_b);
    ah_free(x);
    ah_free(tgt);
    ah_free(top);
    ah_free(lp);
    block_f32_free(blk);
    fwd_state_free(s);
    return rc;
}
