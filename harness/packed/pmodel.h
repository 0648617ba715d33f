// pmodel.h — a model's quantized linears held as packed codes (packed.h), for the forward.
//
// A packed_set holds one packed_linear per quantized linear of every block, filled either
// (a) while a method quantizes the model (packed_set_sink is a method_sink_fn: it keeps the
// codes the method computed, exactly as the export writes them), or (b) from an export's
// quantized.safetensors (packed_set_load_export). packed_set_attach points a block's pk[] at
// its layer's linears, so fwd_block / fwd_block_kv compute them from codes; packed_block_slim
// makes a block that holds only the small tensors (norms, biases) beside those codes, so a
// whole model stays resident at about its packed size.
//
// The packed linears compute (code - zero) * scale in fp32: the fake-quantized weights of an
// F32 checkpoint bit for bit. For F16 / BF16 checkpoints the fake-quant model rounds those
// weights to the stored dtype (method.h); the packed model does not, so the two differ by that
// rounding (README "Packed inference").
#ifndef AH_PMODEL_H
#define AH_PMODEL_H

#include "method/method.h"
#include "method/pass.h"
#include "model/model.h"
#include "packed/packed.h"

typedef struct {
    const model *m;
    quant_cfg q;              // bits, group (kind: unused by the kernels)
    int n_layers;
    packed_linear **lin;      // [n_layers * L_COUNT]: NULL where a role is no quantized linear
    float *scratch;           // the kernels' work space, shared by all layers
    size_t scratch_n;         // floats
} packed_set;

packed_set *packed_set_new(const model *m, const quant_cfg *q, ah_err *e);
void packed_set_free(packed_set *ps);   // NULL-safe

// method_sink_fn: keeps rows [r0, r0 + n) of one quantized linear as codes (the method's own,
// qc, or quant_codes(W_orig)). A linear with salient full-precision columns (kept > 0) is an
// error: the packed kernels have no full-precision columns.
int packed_set_sink(void *ctx, int layer, arch_layer_role role, const float *W_hat,
                    const float *W_orig, const method_codes *qc, int r0, int n, int rows, int cols,
                    const int *keep_idx, int kept, ah_err *e);

// Reads dir/quantized.safetensors and dir/manifest.json (bits, group_size) of a harness export
// (export/export.h) into a new set; every linear of every block must be there. Errors name
// the file and tensor. NULL when dir holds no quantized.safetensors (*absent = 1, no error).
packed_set *packed_set_load_export(const model *m, const char *dir, int *absent, ah_err *e);

// The directory of an export given as --model: the path itself when it is a directory, else
// the directory holding the file (a llama2.c model.bin). Returns out.
const char *packed_export_dir(char *out, size_t cap, const char *model_path);

// b->pk[r] = the set's linears of `layer`, b->pk_scratch = the set's scratch (grown to fit).
int packed_set_attach(packed_set *ps, int layer, block_f32 *b, ah_err *e);

// A ppl_block_fn (eval/ppl.h) that quantizes block `layer` with qp (when not NULL; its sink must
// be packed_set_sink into ps) and then points the block's linears at ps's codes.
typedef struct {
    packed_set *ps;
    qpass *qp;            // NULL: an export's codes, nothing to quantize
} packed_hook;
int packed_hook_block(void *ctx, int layer, block_f32 *b, ah_err *e);

// A block holding full's non-linear tensors (norms, biases) copied, its linears left NULL
// for packed_set_attach. Free with block_f32_free.
block_f32 *packed_block_slim(const block_f32 *full, ah_err *e);

// Bytes of codes, scales and zeros of all linears in the set.
size_t packed_set_bytes(const packed_set *ps);

#endif
