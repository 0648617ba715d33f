// gen_model.h — the resident blocks that `generate`, `bench-generate` and a sweep's efficiency
// measurement (experiment/efficiency.h) run on: fp32 (as loaded, or fake-quantized by a
// method) or packed codes (packed/pmodel.h), built one block at a time so the peak is one fp32
// block beside what stays resident.
#ifndef AH_GEN_MODEL_H
#define AH_GEN_MODEL_H

#include "method/pass.h"
#include "packed/pmodel.h"

typedef struct {
    block_f32 **blocks;     // [n_layers]
    int n_layers;
    size_t weight_bytes;    // resident block weights: fp32 blocks, or codes + scales + zeros +
                            // the fp32 norms and biases (the LM head and embeddings excluded:
                            // they stay in the checkpoint's mapping, in its dtype)
} gen_model;

// qp: quantize each block with it (NULL: as loaded). ps: hold the linears packed in ps (with qp,
// qp's sink must be packed_set_sink into ps; without, ps holds an export's codes already).
int gen_model_build(gen_model *g, const model *m, qpass *qp, packed_set *ps, ah_err *e);
void gen_model_free(gen_model *g);   // NULL-safe contents

// Bytes of the LM head as stored (read per generated token).
size_t gen_head_bytes(const model *m);

#endif
