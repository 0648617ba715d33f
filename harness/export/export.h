// export.h — writing a quantized checkpoint.
//
// An output directory holds:
//   model.safetensors     (HF input) every tensor of the source, quantized linears replaced by
//                         their fake-quantized values in the source dtype; config.json and the
//                         tokenizer files copied: HuggingFace and the harness load it as is.
//   model.bin             (llama2.c input) the same, in llama2.c's layout, with tokenizer.bin.
//   quantized.safetensors the integer form, per quantized linear NAME (its tensor name):
//       NAME.qweight   U8  (rows, packed_cols)  codes packed by quant_pack, row by row
//                                                 (packed_cols = quant_packed_size(cols, bits))
//       NAME.scales    F32 (rows, groups)
//       NAME.zeros     U8  (rows, groups)       the code that represents 0.0
//       NAME.fp_columns I32 (k)                 salient input channels kept in full precision
//       NAME.fp_values  F32 (rows, k)           their values (as stored in the checkpoint)
//     Dequantization: w = (code - zero) * scale per (row, group), rounded to the source dtype,
//     then columns fp_columns replaced by fp_values. This reproduces model.safetensors bit for
//     bit (qexport_dequant; tested).
//   awq.safetensors       (--method awq) per layer l and scaling group G (qkv, o, gate_up,
//                         down; OPT: qkv, o, fc1, fc2):
//       layers.l.G.scales  F32 (width)   the chosen per-input-channel scales s
//       layers.l.G.alpha   F32 (1)       the chosen alpha
//       layers.l.G.alphas  F32 (n)       the alphas tried;  layers.l.G.loss F64 (n): their losses
//                                        (-1 when a fixed alpha was not searched)
//       layers.l.G.x_mean / x_max / x_p99  F32 (width)  input statistics (mean |x|, max |x|,
//                                        99th percentile of |x| over the clip rows)
//       NAME.clip          F32 (rows, groups)  clip thresholds of linear NAME (clip on)
//   manifest.json         what was done: method, bits, group, quantizer, salient settings,
//                         calibration, per-linear error metrics, the layout above; written
//                         last, with "export_format": 2 and "files": {name: bytes} of every
//                         other file, which readers check (export/export_dir.h).
#ifndef AH_EXPORT_H
#define AH_EXPORT_H

#include "io/safetensors.h"
#include "method/method.h"

typedef struct qexport qexport;

qexport *qexport_new(const model *m, const method_cfg *mc, ah_err *e);
void qexport_free(qexport *x);   // NULL-safe

// method_sink_fn: keeps one quantized linear, chunk by chunk (fake values in the source dtype and the
// integer form computed from W_orig).
int qexport_sink(void *ctx, int layer, arch_layer_role role, const float *W_hat,
                 const float *W_orig, const method_codes *qc, int r0, int n, int rows, int cols,
                 const int *keep_idx, int kept, ah_err *e);

// method_block_sink_fn: keeps the block's other tensors (norm weights, biases) as they are
// after AWQ folding, in the source dtype.
int qexport_block(void *ctx, int layer, const block_f32 *b, ah_err *e);

// Writes everything as out_dir: into out_dir.tmp.<pid>, manifest last, then swapped in place
// of out_dir (export/export_dir.h; an existing out_dir must hold export files only).
// manifest_json is the manifest text (a JSON object; the list of files is added).
// tokenizer_path: the tokenizer in use (file or directory) to copy beside the weights.
// awq: the per-layer AWQ results for awq.safetensors (layout above), or NULL.
int qexport_write(qexport *x, const char *out_dir, const char *tokenizer_path,
                  const char *manifest_json, const awq_block_result *awq, ah_err *e);

// The values an export writes for the model tensor w (one of the model's bound weights):
// rows [r0, r0 + n) of its (rows, cols) (a 1-D tensor is one row) as fp32: a quantized
// linear's fake-quantized values, a norm or bias that AWQ folding changed, or else the source
// tensor as stored. Other writers of the same model (export/gguf.c) read through this.
int qexport_rows_f32(const qexport *x, const model_weight *w, float *out, size_t r0, size_t n,
                     ah_err *e);
// The dtype in which those values are exact: the source dtype, F32 for a changed norm/bias.
st_dtype qexport_value_dtype(const qexport *x, const model_weight *w);

// The integer form of the quantized linear w (one of the model's bound weights): codes
// (rows, cols) unsigned, scales F32 and zeros (rows, groups), as quantized.safetensors holds
// them; *kept receives the number of input channels kept in full precision (their values
// are in the fake values, not in the codes). -1 + e when w is not a quantized linear.
// Other writers of the same run (export/hf_quant.c, export/gguf.c) read through this.
int qexport_linear_int(const qexport *x, const model_weight *w, uint8_t *codes, float *scales,
                       uint8_t *zeros, int *kept, ah_err *e);
// 1 when w is a linear this export quantized.
int qexport_is_quantized(const qexport *x, const model_weight *w);
// The method configuration the export was made with.
const method_cfg *qexport_method(const qexport *x);

// Rebuilds one linear's weights from quantized.safetensors: out (rows, cols).
int qexport_dequant(float *out, const st_set *packed, const char *name, int rows, int cols,
                    int bits, int group, st_dtype source_dtype, ah_err *e);

#endif
