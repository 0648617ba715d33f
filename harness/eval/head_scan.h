// head_scan.h — the LM head applied in vocabulary chunks, shared by every scorer that needs a
// log-sum-exp (or more) over the whole vocabulary: the perplexity (ppl.c), the KL divergence
// reference (kld_ref.c) and the log-likelihood of task requests (loglik.c).
//
// Head rows [v0, v0 + n) are widened to fp32 once per chunk (HEAD_VOCAB_CHUNK rows, fp32;
// an F32 head is read where it lies in the mapped file, model_weight_rows_view) and multiplied
// with every block of hidden states: logits (rows, n) = x (rows, C) @ head^T.
// Memory is one (HEAD_VOCAB_CHUNK, C) head chunk and one (max rows, HEAD_VOCAB_CHUNK) logit
// block, never the whole fp32 head (V, C) nor the (rows, V) logits (Llama-2-7B: 512 MiB and
// 250 MiB). The caller's callback sees each (block, chunk) pair in order: chunks outermost,
// then blocks, so a running state per row is merged chunk by chunk.
#ifndef AH_HEAD_SCAN_H
#define AH_HEAD_SCAN_H

#include <math.h>
#include <stddef.h>

#include "core/err.h"
#include "model/model.h"

#define HEAD_VOCAB_CHUNK 4096

// A block of final-normed hidden states: rows x C floats, contiguous.
typedef struct {
    const float *x;
    size_t rows;
} head_block;

// One (block, chunk) pair: logits (rows, n) of block b (rows = blocks[b].rows) against head
// rows [v0, v0 + n), with the fp32 head chunk (n, C) itself (the KL reference multiplies
// probabilities back with it). Returns 0, or -1 with e set to stop the scan.
typedef int (*head_fn)(void *ctx, size_t b, size_t rows, const float *logits, const float *head,
                       size_t v0, size_t n, ah_err *e);

// Runs fn over every chunk of m's LM head (the tied embedding when the model has none) and
// every block. 0, or -1 with e set (allocation, a weight that cannot be widened, fn's error).
int head_scan(const model *m, const head_block *blocks, size_t nblocks, head_fn fn, void *ctx,
              ah_err *e);

// Merges a chunk's (max cm, sum of exp(l - cm) cs) into a row's running pair (mx, se): the
// first chunk sets it; later ones rescale whichever sum has the smaller max.
static inline void head_lse_merge(float *mx, double *se, float cm, double cs, int first_chunk) {
    if (first_chunk) {
        *mx = cm;
        *se = cs;
    } else if (cm > *mx) {
        *se = *se * exp((double)*mx - cm) + cs;
        *mx = cm;
    } else {
        *se += cs * exp((double)cm - *mx);
    }
}

#endif
