// loglik.h — log-likelihood of scored token spans, the primitive under lm-eval's tasks.
//
// A request is one token sequence seq[0 .. n] (n + 1 tokens): the model reads seq[0 .. n-1]
// (n tokens, at most the model's context) and the last k positions are scored, position p
// predicting seq[p+1] (p = n-k .. n-1). This is lm-eval's `_loglikelihood_tokens` after it
// has cut (context + continuation)[-(max_length+1):][:-1] (docs/TASKS.md): the result is the
// sum of the k log-probabilities (natural log) and whether every scored token is the argmax
// of its position (lm-eval's is_greedy).
//
// Layer-major like ppl.c: every request of a chunk passes block 0, then block 1, ...; each
// request runs at its own length (no padding), so its positions see exactly its own tokens.
// Memory: one block in fp32 + the hidden states of one chunk (LL_CHUNK_TOKENS rows of C floats)
// + one (rows, HEAD_VOCAB_CHUNK) logit block; the LM head is widened in vocabulary chunks.
#ifndef AH_LOGLIK_H
#define AH_LOGLIK_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "eval/ppl.h"
#include "model/model.h"

typedef struct {
    const int32_t *seq;   // (n + 1) tokens, borrowed
    int n;                // tokens the model reads, 1 .. max context
    int k;                // positions scored, 1 .. n
} ll_request;

typedef struct {
    double logprob;   // sum of the k log-probabilities (nats)
    int greedy;       // 1 when every scored target is its position's argmax
} ll_result;

typedef struct {
    int quiet;             // no progress output
    ppl_block_fn block_fn; // optional: quantizes each block in place (as in ppl_opts)
    void *block_ctx;
} ll_opts;

// Rows of hidden states held at once; a larger request set is scored in several chunks, each
// loading the blocks again. With a block_fn (a quantization pass, which runs once per block)
// every request is held at once: memory is then (total tokens, C) floats.
#define LL_CHUNK_TOKENS 65536

// out[i] for every request i. Errors name the request (bad ids, too long, non-finite logits).
int ll_score(ll_result *out, const model *m, const ll_request *req, size_t nreq,
             const ll_opts *o, ah_err *e);

#endif
