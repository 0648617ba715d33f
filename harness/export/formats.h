// formats.h — the export formats `quantize --format F --out PATH` writes: a table, one row per
// format (as the method table), so adding a format (awq, gptq, compressed-tensors) is a row and
// its writer. `harness` is the harness's own layout (export.h), the default.
#ifndef AH_EXPORT_FORMATS_H
#define AH_EXPORT_FORMATS_H

#include <stdio.h>

#include "export/export.h"
#include "text/tokenizer.h"

typedef struct {
    const char *name;          // --format value
    const char *what;          // one line for --help
    int needs_tokenizer;       // the writer embeds the tokenizer: no tokenizer, no export
    int unquantized_ok;        // --method fp16 (a plain conversion) makes sense in this format
    // The dtype the format stores scales in, for model m (NULL: exact F32 values, nothing to
    // round). quantize rounds the quantizer's scales to it before any code is computed, so the
    // harness evaluates exactly what the file holds (quant_cfg.scale_dtype).
    quant_scale_dtype (*scale_dtype)(const model *m);
    // Before any work: 0 when the format can hold this model, tokenizer (NULL when the format
    // does not need one) and method; else one message. out: the --out the user gave.
    int (*check)(const model *m, const method_cfg *mc, const tok_tokenizer *tok,
                 const char *out, ah_err *e);
    // Writes the export at out (atomically: a kill leaves the old output or the new one).
    // tokenizer_path: the tokenizer file or directory in use (NULL: none); manifest_json:
    // what was done (a JSON object). *max_abs_diff: the largest |difference| between the
    // export read back (dequantized as its runtime does) and the weights the harness
    // evaluated (export_check, in manifest.json too); NaN for a format that is not read back
    // (harness, gguf: they hold the evaluated values themselves, not codes).
    int (*write)(qexport *x, const model *m, const tok_tokenizer *tok, const char *out,
                 const char *tokenizer_path, const char *manifest_json,
                 const awq_block_result *awq, double *max_abs_diff, ah_err *e);
} qexport_format;

// The row named name, or NULL.
const qexport_format *qexport_format_find(const char *name);
// "harness, gguf": for messages.
const char *qexport_format_list(void);
// One line per format for --help.
void qexport_format_usage(FILE *f);
// The dtype format f stores scales in for model m (QUANT_SCALE_F32 when it stores no rounded
// scales): the run must be quantized with it (method_cfg q.scale_dtype) to be exported in f.
quant_scale_dtype qexport_format_scales(const qexport_format *f, const model *m);

#endif
