// run.h — quantizing a model for export and writing it in formats of the table (formats.h):
// the one path `quantize --format F` and a sweep's [export] step both take, so an export a
// sweep writes is byte for byte what quantize writes for the same run.
//
//   qexport_run_make    one quantization pass (block by block, as quantize always did), the
//                       quantized linears and changed norms kept by a qexport (export.h), and
//                       the manifest (what was done: method, bits, calibration, metrics)
//   qexport_run_write   one format's writer on that result, then its read-back check
#ifndef AH_EXPORT_RUN_H
#define AH_EXPORT_RUN_H

#include <stdint.h>

#include "calib/calib.h"
#include "export/export.h"
#include "export/formats.h"
#include "method/pass.h"

typedef struct {
    const model *m;
    const method_cfg *mc;               // q.scale_dtype set for the formats to write
    const calib_set *cs;                // calibration (NULL: none)
    const awq_block_result *awq_preset; // [n_layers] AWQ results to apply (a sweep's cached
                                        // search), NULL: search as the method says
    uint64_t seed;                      // the calibration sample's seed (manifest)
    const char *calib_source;           // its source spec (manifest), NULL: none
    const char *run_id, *run_key;       // a sweep's run (manifest; its reuse check), or NULL
    const char *label;                  // progress bar label
    int quiet;
} qexport_job;

typedef struct {
    qpass *qp;           // the finished pass: metrics, AWQ results (calibration released)
    qexport *x;          // the quantized weights
    char *manifest;      // JSON object text
} qexport_run;

// Quantizes j->m with j->mc. On failure r is left empty (nothing to free).
int qexport_run_make(qexport_run *r, const qexport_job *j, ah_err *e);

// Writes r in format f at out (f->check passed before the work) and checks it: *max_abs_diff
// as formats.h's write gives it (0 or NaN: a format not read back; anything else is an error).
// tok: the tokenizer (needed by formats that embed one), tokenizer_path: its file or directory.
int qexport_run_write(const qexport_run *r, const qexport_format *f, const model *m,
                      const tok_tokenizer *tok, const char *tokenizer_path, const char *out,
                      double *max_abs_diff, ah_err *e);

void qexport_run_free(qexport_run *r);   // NULL-safe, also on an empty r

#endif
