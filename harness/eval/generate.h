// generate.h — text generation from a (possibly quantized) model, so a researcher can read
// what quantization does to the text, and measure how fast and in how much memory it runs.
//
// Every block is resident: fp32 (quantized once, before generating), or packed codes
// (packed/pmodel.h: block_f32 with pk[] set). gen_run_kv keeps a key/value cache: the prompt
// in one pass (prefill), then one position per new token. gen_run reruns the whole prefix for
// every token (no cache: O(n^2) work), the reference the cached generation is tested against.
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

// Timings of gen_run_kv. Prefill: the prompt's pass through the model and the first token's
// choice (time to first token). Decode: every later token (one position through the model,
// the LM head, the choice), each timed alone; the token callback is not timed.
typedef struct {
    int prefill_tokens;
    double prefill_s;
    int decode_tokens;
    double decode_s;
    double latency_median_ms, latency_p90_ms;   // per decoded token
    size_t kv_bytes;                            // key/value cache allocated
} gen_stats;

// As gen_run, with a key/value cache sized for prompt + max_new positions (at most max_seq);
// the LM head read in its stored dtype (packed/head.h). st may be NULL.
int gen_run_kv(const model *m, block_f32 *const *blocks, const int32_t *prompt, int n_prompt,
               const gen_opts *o, int32_t *out, int *n_out, gen_token_fn cb, void *ctx,
               gen_stats *st, ah_err *e);

#endif
