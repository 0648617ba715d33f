// calib.h — calibration capture: statistics of the input of every linear, gathered block by
// block as the calibration sequences pass through the model (the piece the salient-channel
// baseline, AWQ and GPTQ all stand on).
//
// Layer-major, like evaluation: the calibration hidden states (N, L, C) are held between
// blocks; calib_block() runs them through one block's fp32 weights, recording per input
// channel mean |x|, mean x^2 and max |x| for each linear group (q/k/v, o, gate/up, down) and keeping
// the first CALIB_SAMPLE_TOKENS rows of each input for error metrics and searches.
// The hidden states that reach block l+1 are block l's output with the weights calib_block
// was given: FP weights (the default, no error propagation) when it runs before quantizing.
#ifndef AH_CALIB_H
#define AH_CALIB_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "model/forward.h"
#include "model/model.h"

// Rows of each linear's input kept verbatim by default (error metrics).
#define CALIB_SAMPLE_TOKENS 512
// Rows kept for AWQ's clip search: every stride-th token, stride = max(1, floor(N*L / 512)).
#define CALIB_CLIP_TOKENS 512

// Calibration sequences: N sequences of L tokens cut from one tokenized text.
typedef struct {
    int n;              // N sequences
    int len;            // L tokens each
    int32_t *tokens;    // (N, L)
    size_t source_tokens;   // tokens in the whole source text
    uint64_t seed;
} calib_set;

// Cuts the token stream ids[n_ids] into non-overlapping blocks of len tokens and picks
// `want` of them: at random (seeded, GSL's mt19937, kept in stream order), or the first
// `want` when first_blocks is set (reproducible across implementations). Fewer blocks than
// `want` -> all of them; fewer than one -> an error naming `what` (the source).
int calib_set_make(calib_set *cs, const int32_t *ids, size_t n_ids, int want, int len,
                   uint64_t seed, int first_blocks, const char *what, ah_err *e);
void calib_set_free(calib_set *cs);

// Statistics of one linear group's input over the calibration tokens of one block.
typedef struct {
    int width;          // I: input channels
    long tokens;        // rows seen
    double *abs_sum;    // [I] sum over tokens of |x|  (mean |x| = abs_sum / tokens)
    double *sq_sum;     // [I] sum over tokens of x^2  (imatrix's importance = sq_sum / tokens)
    float *abs_max;     // [I] max over tokens of |x|
    float *abs_p99;     // [I] 99th percentile of |x| over the clip rows (GSL quantile)
    float *sample;      // (sample_rows, I) the first rows seen, verbatim (whole sequences
                        // when the capacity is a multiple of L)
    int sample_rows;
    int sample_cap;
    float *clip;        // (clip_cap, I): clip_rows of them hold every clip_stride-th row
    int clip_rows;
    int clip_cap;       // min(N*L, CALIB_CLIP_TOKENS)
    long clip_stride;
    long nonfinite;     // NaN / inf values seen (never folded into the statistics)
    int hess_oom;       // the accumulation ran out of memory (reported by calib_block)
    double *hess;       // (I, I) GPTQ's H = 2/N sum x x^T over all N rows (calib_run_want_hessian;
                        // NULL when not requested), full and symmetric after calib_block
} calib_input;

// The running capture: hidden states of the calibration set and this block's statistics.
typedef struct {
    const model *m;
    const calib_set *cs;
    float *hidden;                  // (N, L, C)
    fwd_state *s;                   // sized for B sequences of L
    int batch;                      // B
    calib_input in[FWD_IN_COUNT];   // statistics of the block last run
} calib_run;

// sample_rows: rows of each input to keep verbatim (0 = CALIB_SAMPLE_TOKENS); AWQ asks for
// K*L to hold K whole sequences for its module losses.
calib_run *calib_run_new(const model *m, const calib_set *cs, size_t sample_rows, ah_err *e);
void calib_run_free(calib_run *r);   // NULL-safe
// Also accumulate every input's Hessian H = 2/N sum x x^T in double (GPTQ): I*I doubles per
// input group. Call once after calib_run_new.
int calib_run_want_hessian(calib_run *r, ah_err *e);
// (hess.c) Upper triangle of H (width, width) += x^T x for rows x (N, width); -1: out of memory.
int calib_hess_accumulate(double *H, const float *x, int N, int width);

// Runs every calibration sequence through block b (fp32 weights of one layer), replacing the
// hidden states with the block's output and r->in with this block's statistics.
// Fails (naming the layer and input) when an input holds NaN or inf.
int calib_block(calib_run *r, const block_f32 *b, int layer, ah_err *e);

// Runs the calibration hidden states through block b without capturing (propagate =
// quantized: the next block then sees this block's quantization error).
void calib_advance(calib_run *r, const block_f32 *b);

// After AWQ folds scales s into a group, its linears see x / s: divides the statistics and the
// kept rows of `in` by s per channel (and the Hessian: H_ij / (s_i s_j)), so later selections and error metrics use what the
// scaled linears actually receive.
void calib_input_scale(calib_input *in, const float *s);

// mean |x| per channel into out[I].
void calib_input_mean_abs(const calib_input *in, float *out);
// mean x^2 per channel into out[I] (what llama.cpp's llama-imatrix collects).
void calib_input_mean_sq(const calib_input *in, float *out);

#endif
