// kld.c — llama.cpp's per-position KL divergence, chunked over the vocabulary (kld.h).
#include "eval/kld.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fastexp.h"
#include "core/mem.h"
#include "core/simd.h"

void kld_ref_free(kld_ref *r) {
    if (!r) return;
    ah_free(r->x);
    ah_free(r->row);
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

// *a += sum p (logp - lq), *s += sum p over the entries with logp > -16 (p = exp(logp));
// llama.cpp skips the rest: they are the ones its 16 bits cannot tell apart from 0. The double
// sums are reassociated by the vector lanes, so clones differ in the last bits of a double
// (about 1e-16 relative), which the float KLD of a position almost never shows.
AH_VEC_CLONES static void base_sums(double *a, double *s, const float *logp, const float *lq,
                                    size_t n) {
    double sa = 0.0, ss = 0.0;
#pragma omp simd reduction(+ : sa, ss)
    for (size_t j = 0; j < n; j++) {
        float p = logp[j] > -16.0f ? ah_expf(logp[j]) : 0.0f;
        sa += (double)p * ((double)logp[j] - (double)lq[j]);
        ss += (double)p;
    }
    *a += sa;
    *s += ss;
}

// max of x[0, n), n >= 1
AH_VEC_CLONES static float tile_max(const float *x, size_t n) {
    float m = x[0];
#pragma omp simd reduction(max : m)
    for (size_t j = 1; j < n; j++) m = x[j] > m ? x[j] : m;
    return m;
}

// Folds tile x[0, n) (vocabulary index i0 onwards) into a running (max, first index): the
// tile's maximum replaces it only when strictly larger, and then at its first index, so the
// first index of the overall maximum wins (llama.cpp: strict > from index 0). A vector max
// and a short scan instead of a branch per entry: the scalar loop cost as much as the rest.
static void first_argmax(float *max, int *arg, const float *x, size_t n, size_t i0) {
    float m = tile_max(x, n);
    if (i0 != 0 && !(m > *max)) return;
    size_t j = 0;
    while (x[j] != m) j++;
    *max = m;
    *arg = (int)(i0 + j);
}

void kld_chunk(kld_acc *a, const kld_row *b, const float *lb, const float *lq, size_t v0,
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
        base_sums(&a->a, &a->s, logp, lq + j0, len);
        first_argmax(&a->b_max, &a->b_arg, logp, len, v0 + j0);
        first_argmax(&a->q_max, &a->q_arg, lq + j0, len, v0 + j0);
        if ((size_t)t >= v0 + j0 && (size_t)t < v0 + j0 + len) a->b_target = logp[t - v0 - j0];
    }
}

void kld_finish(kld_pos *o, const kld_acc *a, float q_max, double q_sum, float q_target) {
    // llama.cpp: log_sum_exp = log(sum_exp) as float; nll = max_logit + log_sum_exp - logit[t];
    // each term p_b (logp_b - (l_q - max_logit - log_sum_exp)), here summed as
    // sum p_b (logp_b - l_q) + (max_logit + log_sum_exp) sum p_b in double.
    float lse = (float)log(q_sum);
    float shift = q_max + lse;
    o->nll_q = shift - q_target;
    o->nll_b = -a->b_target;
    o->kld = (float)(a->a + (double)shift * a->s);
    o->dp = expf(-o->nll_q) - expf(-o->nll_b);
    o->same_top = a->q_arg == a->b_arg;
}
