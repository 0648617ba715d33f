// kld.h — KL divergence of a quantized model's next-token distribution from the FP model's,
// computed as llama.cpp's `llama-perplexity --kl-divergence` computes it
// (tools/perplexity/perplexity.cpp: log_softmax with a base row, kl_divergence), position by
// position over the positions the perplexity protocol scores.
//
// Per scored position, with l_b (V) the FP logits and l_q (V) the quantized model's:
//   base row   llama.cpp stores the FP log-probs in 16 bits per token: m = max l_b,
//              lo = max(min l_b, m - 16), lse_b = log(sum_i exp(l_b[i] - m)),
//              scale = (m - lo) / 65535, code_i = l_b[i] > lo ? rint((l_b[i] - lo) / scale) : 0,
//              logp_b[i] = scale * code_i + (lo - m - lse_b)
//   KLD        sum over the i with logp_b[i] > -16 of exp(logp_b[i]) (logp_b[i] - logp_q[i]),
//              logp_q = l_q - max l_q - log(sum exp(l_q - max l_q))
//   top-1      argmax l_q == argmax logp_b (each the first index on ties)
//   Δp         exp(logp_q[t]) - exp(logp_b[t]) for the token t that follows
// The base side is the 16-bit row, not the exact FP log-probs, so that a top-1 count and a
// mean agree with llama.cpp's own binary: two FP logits within half a code step (<= 1.2e-4) of
// each other at the top share a code, and llama.cpp then takes the first. The rounding leaves
// a residual: the FP model against itself gives a KLD of about 1e-7 (either sign), not 0
// (docs/KLD.md).
//
// Chunked over the vocabulary like the perplexity's LM head (ppl.c).
#ifndef AH_KLD_H
#define AH_KLD_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

// The statistics of one FP logit row that llama.cpp keeps beside its 16 bits per token.
typedef struct {
    float max;   // m: max logit
    float lo;    // max(min logit, m - 16): logits at or below it get code 0
    float lse;   // log(sum exp(l - m)), rounded to float as llama.cpp does
} kld_row;

// The FP row statistics of one position from its max, min and sum of exp(l - max).
kld_row kld_row_make(float max, float min, double sum_exp);

// What a quantized position needs of its FP row, with p_b = exp(logp_b) over the included
// entries (logp_b > -16) and the others 0:
//   KLD = sum p_b (logp_b - l_q + shift) = c0 - sum p_b l_q + shift s,   shift = max l_q + lse_q
// and sum p_b l_q = sum p_b (x_q . head_i) = x_q . hbar with hbar = sum p_b head_i (C): the LM
// head is not quantized, so the FP side of a position reduces to c0, s and the C-vector hbar,
// computed once, and a quantized run needs no FP logits at all (docs/KLD.md). x_q . hbar is
// taken in double from the float states: it is the exact sum, where llama.cpp sums p_b times
// its float logits, each of which carries its GEMM's rounding (about 1e-6 for logits of 5-10):
// over the bundled model's positions the two sums differ by up to 5.6e-6 (measured), which
// matters only for the smallest per-position values (the 0.1 % KLD percentile, ~1e-4: a few %)
// and averages out of the mean.
typedef struct {
    double c0;      // sum p_b logp_b
    double s;       // sum p_b
    float target;   // logp_b[t] for the token t that follows
    int arg;        // first index of the maximum of logp_b
} kld_base;

// The FP reference a quantized evaluation is compared with, built by ppl_evaluate with
// ppl_opts.ref_out (kld_ref.c). Memory: C floats per scored position, as many as the FP
// hidden states would take; the FP log-probs (llama.cpp's base file) would take V 16-bit values:
// V / 2C times the bytes, 8x for tinyprose (V = 4096, C = 256), 3.9x for Llama-2-7B.
typedef struct {
    size_t W, P;        // windows; scored positions per window (T - 1 - first)
    int T, first;       // window length; first scored position (0: gptq, T/2: llamacpp)
    size_t C, V;        // model width, vocabulary
    float *hbar;        // (W, P, C) sum over the included i of p_b(i) head[i]
    kld_base *base;     // (W, P)
    int32_t *tokens;    // (W, T) the windows' tokens (BOS substitution included)
} kld_ref;

void kld_ref_free(kld_ref *r);   // NULL-safe; leaves *r zeroed

// Building a reference: one position's sums over the vocabulary chunks seen so far.
typedef struct {
    double c0, s;
    float max;      // max logp_b so far and its first index
    int arg;
    float target;
} kld_base_acc;

// Adds FP logits lb (n) = entries [v0, v0 + n) of one position with row statistics b, and writes
// p (n): p_b of each entry (0 where excluded), the weights of hbar. t: the token that follows.
// Chunks come in order of v0; zero-initialise the accumulator.
void kld_base_chunk(kld_base_acc *a, float *p, const kld_row *b, const float *lb, size_t v0,
                    size_t n, int t);

// The quantized side: the first index of the maximum logit over chunks in order of v0.
typedef struct {
    float max;
    int arg;
} kld_top;
void kld_top_chunk(kld_top *q, const float *lq, size_t v0, size_t n);

// One position's results.
typedef struct {
    float kld;     // as llama.cpp's kld_values
    float dp;      // Δp: p_q(t) - p_b(t)
    float nll_q, nll_b;
    int same_top;  // argmax l_q == argmax logp_b
} kld_pos;
// From the FP constants b, hdot = x_q . hbar (double), the quantized row's first argmax, its
// max and sum of exp(l_q - q_max) and target logit (the perplexity's own log-sum-exp state).
void kld_finish(kld_pos *o, const kld_base *b, double hdot, int q_arg, float q_max, double q_sum,
                float q_target);

#endif
