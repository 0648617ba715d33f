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
// a residual: the FP model against itself gives a small positive KLD, not 0 (docs/KLD.md).
//
// Chunked over the vocabulary like the perplexity's LM head (ppl.c): one kld_acc per position
// gathers the sums of every vocabulary chunk; kld_finish turns them into the position's values.
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

// The FP reference a quantized evaluation is compared with (built by ppl_evaluate with
// ppl_opts.ref_out). Why hidden states and not log-probs: the LM head is not quantized, so the
// FP logits of a position are x_b (C) @ head^T, recomputed chunk by chunk beside the quantized
// ones for one more head GEMM per run; the states take C floats per position where the
// log-probs would take V 16-bit values (llama.cpp's base file): V / 2C times the bytes, 8x for
// tinyprose (V = 4096, C = 256), 3.9x for Llama-2-7B (32000, 4096). docs/KLD.md has the table.
typedef struct {
    size_t W, P;        // windows; scored positions per window (T - 1 - first)
    int T, first;       // window length; first scored position (0: gptq, T/2: llamacpp)
    size_t C, V;        // model width, vocabulary
    float *x;           // (W, P, C) FP final-normed hidden states at positions first .. T-2
    kld_row *row;       // (W, P) FP logit row statistics
    int32_t *tokens;    // (W, T) the windows' tokens (BOS substitution included)
} kld_ref;

void kld_ref_free(kld_ref *r);   // NULL-safe; leaves *r zeroed

// Running sums of one position over the vocabulary chunks seen so far. Zero-initialise.
typedef struct {
    double a;       // sum p_b[i] (logp_b[i] - l_q[i]) over the i with logp_b[i] > -16
    double s;       // sum p_b[i] over the same i
    float q_max;    // max l_q so far and its first index
    float b_max;    // max logp_b so far and its first index
    int q_arg, b_arg;
    float b_target; // logp_b[t] once t's chunk was seen
} kld_acc;

// Adds vocabulary entries [v0, v0 + n) of one position: lb (n) FP logits, lq (n) quantized
// logits, b the FP row's statistics, t the token that follows. Chunks must come in order of v0.
void kld_chunk(kld_acc *a, const kld_row *b, const float *lb, const float *lq, size_t v0,
               size_t n, int t);

// One position's results, from its accumulator and the quantized row's max, sum of
// exp(l_q - q_max) and target logit (the perplexity's own log-sum-exp state).
typedef struct {
    float kld;     // as llama.cpp's kld_values
    float dp;      // Δp: p_q(t) - p_b(t)
    float nll_q, nll_b;
    int same_top;  // argmax l_q == argmax logp_b
} kld_pos;
void kld_finish(kld_pos *o, const kld_acc *a, float q_max, double q_sum, float q_target);

// The FP row statistics of one position from its max, min and sum of exp(l - max).
kld_row kld_row_make(float max, float min, double sum_exp);

#endif
