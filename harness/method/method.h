// method.h — a quantization method applied to one block's fp32 weights, in place.
//
// Methods: fp16 (nothing: the FP baseline), rtn / minmax / gptq-rtn (the quantizers of
// quant.h on every linear of the block), salient (minmax, then p% of each linear's input
// channels — whole columns of W — restored to full precision: AWQ paper, Table 1), awq
// (scales searched, folded and clipped by awq/awq.h, then minmax: method/pass.c runs it),
// gptq (quant/gptq.h on every linear, with the Hessian of its calibration input; minmax by
// default) and awq+gptq (AWQ's scaling and clipping, then GPTQ on the scaled weights with the
// Hessian of the scaled inputs x / s).
// Only the linears inside decoder blocks are quantized; embeddings and the LM head stay FP.
//
// After quantizing, weights are rounded to the checkpoint's stored dtype (F16 / BF16), as an
// exported checkpoint stores them, so evaluating on the fly and evaluating an exported
// checkpoint give the same numbers.
#ifndef AH_METHOD_H
#define AH_METHOD_H

#include <stdint.h>

#include "awq/awq.h"
#include "calib/calib.h"
#include "core/err.h"
#include "model/model.h"
#include "quant/gptq.h"
#include "quant/quant.h"

typedef enum { METHOD_FP16, METHOD_RTN, METHOD_MINMAX, METHOD_GPTQ_RTN, METHOD_SALIENT,
               METHOD_AWQ, METHOD_GPTQ, METHOD_AWQ_GPTQ } method_kind;
#define METHOD_LAST METHOD_AWQ_GPTQ
typedef enum { SALIENT_ACTIVATION, SALIENT_WEIGHT, SALIENT_RANDOM } salient_by;

typedef struct {
    method_kind kind;
    quant_cfg q;           // quantizer (salient: minmax)
    double salient_pct;    // p in [0, 100]: % of input channels kept in full precision
    salient_by by;
    uint64_t seed;         // random channel choice
    awq_cfg awq;           // METHOD_AWQ(_GPTQ): scale rule, grid, clip (then minmax / GPTQ)
    gptq_cfg gptq;         // METHOD_GPTQ, METHOD_AWQ_GPTQ: damp, block_size, act_order
    int propagate_quantized;   // next block's calibration input from the quantized block
} method_cfg;

const char *method_name(method_kind k);   // "fp16", "rtn", "minmax", "gptq-rtn", "salient", "awq",
                                          // "gptq", "awq+gptq"
int method_parse(const char *s, method_kind *k);
// 1 for the methods that scale and clip with AWQ first (awq, awq+gptq).
int method_uses_awq(method_kind k);
// 1 for the methods that quantize with GPTQ (gptq, awq+gptq): they need the inputs' Hessians.
int method_uses_gptq(method_kind k);
const char *salient_by_name(salient_by b);        // "activation", "weight", "random"
int salient_by_parse(const char *s, salient_by *b);
// Checks the config and fills q.kind from the method. Errors name the option.
int method_cfg_check(method_cfg *mc, ah_err *e);
// 1 when the method needs calibration statistics (salient by activation, AWQ, GPTQ).
int method_needs_calib(const method_cfg *mc);

// Error metrics of one quantized linear.
typedef struct {
    int layer;
    arch_layer_role role;
    int rows, cols;
    int kept;              // input channels kept in full precision
    double weight_mse;     // mean (W - W_hat)^2
    double output_mse;     // mean over calibration rows and outputs of (x W^T - x W_hat^T)^2;
                           // -1 when no calibration inputs were captured
    double gptq_damp;      // GPTQ: the relative dampening finally used (0: not GPTQ)
    int gptq_retries;      // GPTQ: Cholesky attempts that failed (damping x10 each); > 0 warns
    int gptq_dead;         // GPTQ: dead inputs (H_ii == 0)
} method_metrics;

// Which input channels of W (rows, cols) to keep in full precision: sorted column indices
// into keep_idx (at most cols), returns their count. act_mean[cols] is needed for
// SALIENT_ACTIVATION; the random choice is seeded by (seed, layer, role).
int method_salient_columns(int *keep_idx, const float *W, int rows, int cols,
                           const float *act_mean, const method_cfg *mc, int layer,
                           arch_layer_role role);

// A method's own codes for one linear (GPTQ): codes (rows, cols), scale and zero (rows, groups)
// with W_hat = (code - zero) * scale before rounding to the stored dtype.
typedef struct {
    const uint8_t *codes;
    const float *scale, *zero;
} method_codes;

// Callback receiving every quantized linear (for export) in chunks of rows, in row order:
// rows [r0, r0 + n) of the linear's (rows, cols): the fake-quantized W_hat in fp32 and the
// weights it was quantized from (W_orig: quant_codes(W_orig) gives its codes, unless qc is
// given: the method's own codes, GPTQ, for the whole linear, indexed from row 0), both (n, cols),
// and the kept column indices (the same for every chunk). Chunks bound the memory a big
// linear needs beside the block (method_apply_block).
typedef int (*method_sink_fn)(void *ctx, int layer, arch_layer_role role, const float *W_hat,
                              const float *W_orig, const method_codes *qc, int r0, int n,
                              int rows, int cols, const int *keep_idx, int kept, ah_err *e);

// Called with each finished block (after scaling, clipping and quantization): export keeps the
// tensors that are not quantized linears but may have changed (AWQ's folded norms, biases),
// in fp32 so no rounding is added to them.
typedef int (*method_block_sink_fn)(void *ctx, int layer, const block_f32 *b, ah_err *e);

// Quantizes every linear of block b in place. run: calibration capture for this block (may
// be NULL when the method does not need it; then output_mse = -1). metrics: out[L_COUNT]
// (entries for non-linear roles are left untouched). sink may be NULL.
int method_apply_block(const method_cfg *mc, block_f32 *b, const model *m, int layer,
                       const calib_run *run, method_metrics *metrics, method_sink_fn sink,
                       void *sink_ctx, ah_err *e);

#endif
