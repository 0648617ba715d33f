// forward_kv.h — the decoder blocks with a key/value cache, for generation.
//
// Generation feeds the prompt once (prefill: T = prompt length at position 0), then one token
// at a time (decode: T = 1 at position n). Each block appends the new tokens' keys (after
// rotary embedding) and values to its cache and attends over every cached position, so a new
// token costs one pass over the weights instead of a rerun of the whole prefix. The products
// are the same as fwd_block's over the prefix, summed in another order (scores as dot products,
// not one GEMM): the same tokens as the recomputing generation up to float rounding (tested).
// Dims legend in model.h; P = cache capacity in positions.
#ifndef AH_FORWARD_KV_H
#define AH_FORWARD_KV_H

#include "model/forward.h"

typedef struct {
    int n_layers, P, KV;   // KV = G * D floats per position
    float *k, *v;          // (n_layers, P, KV): keys after rotary embedding, values
} fwd_kv;

fwd_kv *fwd_kv_new(const model_config *c, int P, ah_err *e);
void fwd_kv_free(fwd_kv *kv);   // NULL-safe
size_t fwd_kv_bytes(const fwd_kv *kv);

// x (T, C) <- block `layer`(x) for T tokens at positions [pos0, pos0 + T); positions below pos0
// must be in the cache already, and pos0 + T <= min(kv->P, s->T). s: fwd_state_new(c, P, 1).
void fwd_block_kv(float *x, fwd_state *s, fwd_kv *kv, int layer, const block_f32 *b,
                  const model_config *c, int pos0, int T);

// x (T, C) = embeddings of tokens (T) at positions [pos0, pos0 + T) (learned positions: OPT).
void fwd_embed_at(float *x, const model *m, const int32_t *tokens, int pos0, int T);

#endif
