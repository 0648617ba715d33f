// kld.c — llama.cpp's per-position KL divergence, chunked over the vocabulary (kld.h).
#include "eval/kld.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fastexp.h"
#include "core/mem.h"
#include "core/simd.h"
#include "core/vecmax.h"

void kld_ref_free(kld_ref *r) {
    if (!r) return;
    ah_free(r->hbar);
    ah_free(r->base);
    ah_free(r->tokens);
    memset(r, 0, sizeof *r);
}

kld_row kld_row_make(float max, float min, double sum_exp) {
    // llama.cpp: min_logit = std::max(min_logit, max_logit - 16); log_sum_exp = log(sum_exp)
    kld_row r = {.max = max, .lo = fmaxf(min, max - 16), .lse = (float)log(sum_exp)};
    return r;
}

#define KLD_TILE 256

// logp (n) <- the 16-bit base log-probs of FP logits lb (n): llama.cpp's code
// nearest_int(inv_scale * (l - lo)) (round half to even, as rintf in the default mode) for
// l > lo, else 0, read back as scale * code + min_log_prob.
AH_VEC_CLONES static void base_logp(float *logp, const float *lb, size_t n, float lo, float scale,
                                    float inv, float min_log_prob) {
#pragma omp simd
    for (size_t j = 0; j < n; j++) {
        float code = lb[j] > lo ? rintf(inv * (lb[j] - lo)) : 0.0f;
        logp[j] = scale * code + min_log_prob;
    }
}

// p (n) <- exp(logp) where logp > -16, else 0 (llama.cpp skips those: the entries its 16 bits
// cannot tell from 0); *c0 += sum p logp, *s += sum p. The double sums are reassociated by the
// vector lanes, so clones differ in the last bits of a double (about 1e-16 relative).
AH_VEC_CLONES static void base_probs(float *p, double *c0, double *s, const float *logp, size_t n) {
    double sc = 0.0, ss = 0.0;
#pragma omp simd reduction(+ : sc, ss)
    for (size_t j = 0; j < n; j++) {
        float pj = logp[j] > -16.0f ? ah_expf(logp[j]) : 0.0f;
        p[j] = pj;
        sc += (double)pj * (double)logp[j];
        ss += (double)pj;
    }
    *c0 += sc;
    *s += ss;
}

// Folds tile x[0, n) (vocabulary index i0 onwards) into a running (max, first index): the
// tile's maximum replaces it only when strictly larger, and then at its first index, so the
// first index of the overall maximum wins (llama.cpp: strict > from index 0). A vector max
// and a short scan (ah_argmax_f32) instead of a branch per entry (which cost as much as the
// rest).
static void first_argmax(float *max, int *arg, const float *x, size_t n, size_t i0) {
    size_t j = ah_argmax_f32(x, n);
    if (i0 != 0 && !(x[j] > *max)) return;
    *max = x[j];
    *arg = (int)(i0 + j);
}

void kld_base_chunk(kld_base_acc *a, float *p, const kld_row *b, const float *lb, size_t v0,
                    size_t n, int t) {
    // llama.cpp: scale = (max_logit - min_logit) / 65535.f; min_log_prob = min_logit -
    // max_logit - log_sum_exp; scale 0 (a constant row) stores every code as 0.
    const float scale = (b->max - b->lo) / 65535.f;
    const float inv = scale != 0.0f ? 1 / scale : 0.0f;
    const float min_log_prob = b->lo - b->max - b->lse;
    float logp[KLD_TILE];
    for (size_t j0 = 0; j0 < n; j0 += KLD_TILE) {
        size_t len = n - j0 < KLD_TILE ? n - j0 : KLD_TILE;
        base_logp(logp, lb + j0, len, b->lo, scale, inv, min_log_prob);
        base_probs(p + j0, &a->c0, &a->s, logp, len);
        first_argmax(&a->max, &a->arg, logp, len, v0 + j0);
        if ((size_t)t >= v0 + j0 && (size_t)t < v0 + j0 + len) a->target = logp[t - v0 - j0];
    }
}

void kld_top_chunk(kld_top *q, const float *lq, size_t v0, size_t n) {
    for (size_t j0 = 0; j0 < n; j0 += KLD_TILE)
        first_argmax(&q->max, &q->arg, lq + j0, n - j0 < KLD_TILE ? n - j0 : KLD_TILE, v0 + j0);
}

void kld_finish(kld_pos *o, const kld_base *b, double hdot, int q_arg, float q_max, double q_sum,
                float q_target) {
    // llama.cpp: log_sum_exp = log(sum_exp) as float; max_logit += log_sum_exp (float);
    // nll = max_logit - logit[t]; KLD = sum p_b (logp_b - logit + max_logit), here
    // c0 - sum p_b logit + max_logit s with sum p_b logit = x_q . hbar = hdot (kld.h).
    float lse = (float)log(q_sum);
    float shift = q_max + lse;
    o->nll_q = shift - q_target;
    o->nll_b = -b->target;
    o->kld = (float)(b->c0 - hdot + (double)shift * b->s);
    o->dp = expf(-o->nll_q) - expf(-o->nll_b);
    o->same_top = q_arg == b->arg;
}
