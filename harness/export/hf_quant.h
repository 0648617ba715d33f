// hf_quant.h — quantized HuggingFace model directories that other runtimes load unchanged:
// AutoAWQ GEMM (`awq`), GPTQ (`gptq`: v1 for symmetric codes, gptq_v2 for asymmetric) and
// compressed-tensors pack-quantized (`compressed-tensors`, W4A16 / W8A16). Facts:
// ../shared/design/FORMATS.md sections 1-3; packings: export/pack.h; docs/EXPORT.md.
//
// A directory holds config.json (the source's, with "quantization_config"), model.safetensors
// (every source tensor, each quantized linear NAME.weight replaced by the format's tensors
// under NAME), the tokenizer files, quantize_config.json (gptq) and manifest.json. After
// writing, model.safetensors is read back, every quantized linear is dequantized from it and
// compared with the weights the harness evaluated; the largest difference goes into the
// manifest ("export_check") and must be 0, else the export fails.
#ifndef AH_EXPORT_HF_QUANT_H
#define AH_EXPORT_HF_QUANT_H

#include "export/export.h"

typedef enum { HQ_AWQ, HQ_GPTQ, HQ_CT } hq_format;

// The scale dtype the format stores for model m: F16 (awq, gptq) or m's linear dtype (ct).
// The quantizer must round its scales to it first (quant_cfg.scale_dtype).
quant_scale_dtype qexport_hq_scale_dtype(hq_format f, const model *m);

// Before any work: 0 when format f can hold this model and method exactly, else one message
// naming what does not fit (3-bit AWQ, a group size that does not divide a linear's width,
// kept FP16 columns, a llama2.c source, ...).
int qexport_hq_check(hq_format f, const model *m, const method_cfg *mc, ah_err *e);

// Writes the directory out (atomically, export/export_dir.h). *max_diff receives the largest
// |dequantized file weight - evaluated weight| over every quantized linear (0 on success).
int qexport_hq_write(hq_format f, qexport *x, const model *m, const char *out,
                     const char *manifest_json, double *max_diff, ah_err *e);

#endif
