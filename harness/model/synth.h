// synth.h — synthetic checkpoints: seeded random weights at the exact shapes a HF config.json
// implies, so benchmarks and memory tests run at real model sizes without downloads.
//
// The directory written holds config.json (a byte copy of the input), model.safetensors (every
// tensor the family's arch table names, in the chosen dtype) and ids.txt (seeded random token
// ids for `--data ids:DIR/ids.txt` and `--calib`; synthetic models have no tokenizer).
//
// Values, as HuggingFace initialises these families (LlamaConfig/OPTConfig initializer_range
// = init_std = 0.02), which is also the order of magnitude of trained weights:
//   linear weights, token and position embeddings, untied LM head   N(0, std^2), std = 0.02
//   norm weights                                                    1
//   biases (linears, LayerNorm)                                     0
// Each value is a pure function of (seed, tensor name, element index) — a counter-based
// generator, Box-Muller over splitmix64 — so the file is byte-identical for a given seed
// whatever the thread count, and tensors can be produced chunk by chunk: the writer streams,
// holding one 64 MiB chunk, never the model (a Llama-2-7B F16 file is 13.5 GB).
#ifndef AH_SYNTH_H
#define AH_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "io/safetensors.h"

typedef struct {
    st_dtype dtype;     // ST_F16, ST_BF16 or ST_F32
    uint64_t seed;
    double std;         // standard deviation of the random weights (> 0)
    size_t n_ids;       // token ids written to ids.txt (0: no ids.txt)
    int layers;         // 0: the config's layer count; else only the first `layers` blocks
                        // (config.json written with num_hidden_layers = layers)
    int quiet;          // no progress output
} synth_opts;

typedef struct {
    size_t tensors;
    uint64_t params;    // elements over all tensors
    uint64_t bytes;     // model.safetensors data bytes (header excluded)
} synth_summary;

void synth_defaults(synth_opts *o);   // F16, seed 0, std 0.02, 8192 ids

// Reads and validates config_path (model_config_parse: only supported families), checks the
// free disk space, then writes out_dir (created if missing) as described above.
int synth_write(const char *config_path, const char *out_dir, const synth_opts *o,
                synth_summary *sum, ah_err *e);

// The value of element k of the random tensor `name` (before rounding to the dtype);
// exposed for tests.
float synth_normal(uint64_t seed, const char *name, uint64_t k, double std);

#endif
