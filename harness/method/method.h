// method.h — a quantization method applied to one block's fp32 weights, in place.
//
// Methods are rows of one table (method/table.c, in the spirit of ggml's type_traits): name,
// label, colour, the parameters it takes, the calibration statistics it needs, and, for a
// method with codes of its own, the function that quantizes one linear. Everything that lists
// or tells methods apart (INI and CLI parsing, sweep plans, run ids, records, report labels and
// row order, plot colours, export) reads the table. docs/ARCHITECTURE.md, "Adding a method".
//
// Methods: fp16 (nothing: the FP baseline), rtn / minmax / gptq-rtn (the quantizers of
// quant.h on every linear of the block), salient (minmax, then p% of each linear's input
// channels — whole columns of W — restored to full precision: AWQ paper, Table 1), awq
// (scales searched, folded and clipped by awq/awq.h, then minmax: method/pass.c runs it),
// gptq (quant/gptq.h on every linear, with the Hessian of its calibration input; minmax by
// default), awq+gptq (AWQ's scaling and clipping, then GPTQ on the scaled weights with the
// Hessian of the scaled inputs x / s) and imatrix (llama.cpp's importance-weighted rounding,
// quant/imatrix.h, with the calibration mean of x^2 as the importance; docs/IMATRIX.md).
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

// One value per row of the method table (new methods go at the end: nothing stores the number).
typedef enum { METHOD_FP16, METHOD_RTN, METHOD_MINMAX, METHOD_GPTQ_RTN, METHOD_SALIENT,
               METHOD_AWQ, METHOD_GPTQ, METHOD_AWQ_GPTQ, METHOD_IMATRIX, METHOD_COUNT } method_kind;
typedef enum { SALIENT_ACTIVATION, SALIENT_WEIGHT, SALIENT_RANDOM } salient_by;

struct method_cfg {
    method_kind kind;
    quant_cfg q;           // quantizer (salient: minmax)
    double salient_pct;    // p in [0, 100]: % of input channels kept in full precision
    salient_by by;
    uint64_t seed;         // draws the calibration sample; random channel choice
    int calib_samples;     // calibration sequences drawn (the sample; awq.samples uses a prefix)
    int calib_seqlen;      // tokens per calibration sequence; 0 = min(512, model max)
    unsigned swept;        // bit p: parameter p was listed in the [sweep] (ids; params.h)
    awq_cfg awq;           // METHOD_AWQ(_GPTQ): scale rule, grid, clip (then minmax / GPTQ)
    gptq_cfg gptq;         // METHOD_GPTQ, METHOD_AWQ_GPTQ: damp, block_size, act_order
    int propagate_quantized;   // next block's calibration input from the quantized block
};

// The parameters a method takes beyond the quantizer's bits and group size (which every method
// but fp16 takes): they enter its run id, run key, record and sweep, and the CLI refuses them
// for methods that do not take them.
enum {
    MP_QUANT = 1 << 0,     // bits, group_size
    MP_SALIENT = 1 << 1,   // salient_pct, salient_by: input channels kept in full precision
                           // (a modifier: every quantizing method takes it)
    MP_AWQ = 1 << 2,       // scale_rule, alpha, grid, clip, propagate, salient_scale, scale_pct
    MP_GPTQ = 1 << 3,      // damp, block_size, act_order
};
// The calibration statistics a method needs (method_needs_calib; calib/calib.h).
enum {
    MS_MEAN_ABS = 1 << 0,  // mean |x| per input channel (salient by activation)
    MS_SEQUENCES = 1 << 1, // whole calibration sequences of every input (AWQ's module losses)
    MS_HESSIAN = 1 << 2,   // H = 2/N sum x x^T per input (GPTQ)
    MS_MEAN_SQ = 1 << 3,   // mean x^2 per input channel (imatrix)
};

typedef struct method_cfg method_cfg;
typedef struct method_metrics method_metrics;
// A method's own codes for one whole linear (GPTQ, imatrix): codes (rows, cols), scale and zero
// (rows, groups) with W_hat = (code - zero) * scale before rounding to the stored dtype.
typedef struct {
    uint8_t *codes;
    float *scale, *zero;
} method_codes;
// A method with codes of its own quantizes a whole linear W (rows, cols) in place to W_hat and
// fills out; in = the calibration statistics of the linear's input (NULL without calibration),
// mm receives method-specific metrics. Errors name what is missing.
typedef int (*method_linear_fn)(float *W, int rows, int cols, const calib_input *in,
                                const method_cfg *mc, method_codes *out, method_metrics *mm,
                                ah_err *e);

// A row of the method table.
typedef struct {
    const char *name;          // INI / CLI word and the `method` of records ("awq+gptq")
    const char *id_name;       // how its run ids start ("salient" runs are "minmax-...-keepP")
    const char *label;         // report row label ("MinMax"; salient and AWQ refine theirs)
    const char *colour;        // plot colour
    int rank;                  // report row order (smaller first)
    quant_kind quantizer;      // its quantizer (q.kind)
    unsigned params;           // MP_*
    unsigned stats;            // MS_* (MS_MEAN_ABS only when salient_by = activation)
    method_linear_fn quantize_linear;   // NULL: the quantizer row chunk by row chunk
    // The method its runs are when they keep salient channels in full precision: minmax's
    // are `salient` (AWQ paper, Table 1); every other row stays itself.
    method_kind kept_as;
} method_traits;

// The row of method k (NULL for a value outside the table), or of the method named `name` as
// records store it (NULL when no row has that name).
const method_traits *method_traits_of(method_kind k);
const method_traits *method_traits_named(const char *name);
const char *method_name(method_kind k);   // the table's name, "?" outside it
int method_parse(const char *s, method_kind *k);
// The names of the methods taking all of `params` (0: every method), comma-separated, into buf
// (messages: "--alpha applies to awq, awq+gptq"). Returns buf.
const char *method_names(char *buf, size_t cap, unsigned params);
// 1 when method k takes all the parameters in `params` (MP_*).
int method_takes(method_kind k, unsigned params);
// The method of a run of k that keeps salient channels (keeps = 1: minmax -> salient) or keeps
// none (keeps = 0: salient -> minmax): the table's kept_as, read both ways.
method_kind method_with_kept(method_kind k, int keeps);
// 1 for the methods that scale and clip with AWQ first (awq, awq+gptq).
int method_uses_awq(method_kind k);
// 1 for the methods that quantize with GPTQ (gptq, awq+gptq): they need the inputs' Hessians.
int method_uses_gptq(method_kind k);
const char *salient_by_name(salient_by b);        // "activation", "weight", "random"
int salient_by_parse(const char *s, salient_by *b);
// Checks the config and fills q.kind from the method. Errors name the option.
int method_cfg_check(method_cfg *mc, ah_err *e);
// The calibration statistics (MS_*) this configuration needs: the table's, with MS_MEAN_ABS
// only for salient channels chosen by activation. 0: no calibration needed.
unsigned method_stats(const method_cfg *mc);
// 1 when the method needs calibration statistics (method_stats != 0).
int method_needs_calib(const method_cfg *mc);

// The own-codes quantizers of the table (method/gptq_linear.c, method/imatrix.c).
int method_gptq_linear(float *W, int rows, int cols, const calib_input *in, const method_cfg *mc,
                       method_codes *out, method_metrics *mm, ah_err *e);
int method_imatrix_linear(float *W, int rows, int cols, const calib_input *in,
                          const method_cfg *mc, method_codes *out, method_metrics *mm,
                          ah_err *e);

// Error metrics of one quantized linear.
struct method_metrics {
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
};

// Which input channels of W (rows, cols) to keep in full precision: sorted column indices
// into keep_idx (at most cols), returns their count. act_mean[cols] is needed for
// SALIENT_ACTIVATION; the random choice is seeded by (seed, layer, role).
int method_salient_columns(int *keep_idx, const float *W, int rows, int cols,
                           const float *act_mean, const method_cfg *mc, int layer,
                           arch_layer_role role);


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
