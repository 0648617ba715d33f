// generate.h — text generation from a (possibly quantized) model, so a researcher can read
// what quantization does to the text.
//
// Every block is held in fp32 (quantized once, before generating), and each new token reruns
// the whole prefix (no KV cache): O(n^2) work per sequence, plenty for a few hundred tokens on
// the small models this is meant for. Memory: n_layers fp32 blocks.
#ifndef AH_GENERATE_H
#define AH_GENERATE_H

#include <stdint.h>

#include "model/model.h"

typedef struct {
    int max_new;          // tokens to generate
    int top_k;            // <= 1: greedy
    double temperature;   // top-k sampling temperature (> 0)
    uint64_t seed;
    int stop_id;          // stop after generating this id (-1: never)
} gen_opts;

// Called with each generated token; return non-zero to stop.
typedef int (*gen_token_fn)(void *ctx, int32_t id);

// blocks[n_layers]: the fp32 weights of every block (quantized or not). prompt[n_prompt]
// (n_prompt >= 1) plus the generated tokens must fit the model's max_seq (generation stops
// there). Writes the generated ids into out (capacity max_new), their count into *n_out.
int gen_run(const model *m, block_f32 *const *blocks, const int32_t *prompt, int n_prompt,
            const gen_opts *o, int32_t *out, int *n_out, gen_token_fn cb, void *ctx, ah_err *e);

#endif
