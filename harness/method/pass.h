// pass.h — one layer-major quantization pass: for each block, (1) run the calibration
// sequences through the FP block, capturing its linears' inputs, then (2) quantize the block
// in place with the method. Plugs into ppl_evaluate as its block hook, so calibration,
// quantization and evaluation all share one fp32 conversion of each block.
#ifndef AH_PASS_H
#define AH_PASS_H

#include "calib/calib.h"
#include "method/method.h"

typedef struct {
    const model *m;
    method_cfg mc;
    calib_run *run;              // NULL when no calibration set was given
    method_metrics *metrics;     // [n_layers][L_COUNT]
    method_sink_fn sink;         // optional (export): every quantized linear
    method_block_sink_fn block_sink;   // optional (export): every finished block
    void *sink_ctx;
    awq_block_result *awq;       // [n_layers] (METHOD_AWQ, METHOD_AWQ_GPTQ), else NULL
    float *saved_hidden;         // propagate = quantized: calibration input of the block
    // Optional (experiment records, AWQ cache):
    const awq_block_result *awq_preset;   // [n_layers] AWQ results to apply instead of
                                          // searching (a cached search); NULL = search
    float **act_mean, **act_max; // [n_layers * FWD_IN_COUNT] FP input statistics of every
                                 // block (qpass_keep_stats), [width] each; NULL = not kept
    double seconds;              // wall time in qpass_block: calibration forward + captures,
                                 // AWQ, quantization (the scope of tools/ref_awq.py's timing)
} qpass;

// cs may be NULL (then output-error metrics are not computed); required when the method
// needs activation statistics.
qpass *qpass_new(const model *m, const method_cfg *mc, const calib_set *cs, ah_err *e);
void qpass_free(qpass *p);   // NULL-safe

// ppl_block_fn-compatible: calibrate, (AWQ: search, fold, clip), then quantize block `layer`
// in place. With propagate = quantized the calibration states are then rerun through the
// quantized block.
int qpass_block(void *ctx, int layer, block_f32 *b, ah_err *e);

// Keeps each block's FP input statistics (mean |x|, max |x| per channel of every linear
// input) in p->act_mean / p->act_max. Needs a calibration set.
int qpass_keep_stats(qpass *p, ah_err *e);

// After the last block: frees the calibration states and captures (the export that follows
// needs only the metrics and AWQ results). qpass_block must not be called again.
void qpass_release_calibration(qpass *p);

// Mean weight and output MSE over all quantized linears (output: -1 without calibration).
void qpass_summary(const qpass *p, int *n_linears, double *weight_mse, double *output_mse);

#endif
