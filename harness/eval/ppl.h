// ppl.h — perplexity, layer-major: every window passes block 0, then block 1, ...
//
// Memory: one block of fp32 weights + the hidden states of all windows (W, T, C) + one
// window's activations, never the whole model in fp32 (ARCHITECTURE.md, "Memory"); with a KL
// divergence reference, its (W, P, C) floats besides (docs/KLD.md).
//
// Protocols (METHODS.md):
//   PPL_GPTQ      W = n / T non-overlapping windows of the token stream (tail dropped); each
//                 window scores its T-1 shifted targets; ppl = exp(mean over windows of the
//                 window's mean NLL). What the GPTQ and AWQ papers report. (Every window
//                 scores T-1 tokens, so this is also exp(mean NLL over all scored tokens).)
//   PPL_LLAMACPP  windows of T with the first token replaced by BOS (when the tokenizer
//                 adds one, as llama.cpp does); only positions
//                 T/2 .. T-2 are scored (predicting T/2+1 .. T-1); ppl = exp(mean NLL over all
//                 scored tokens).
// Both report llama.cpp's standard error over the scored tokens and a 95% bootstrap interval
// over the windows (ppl_unc.h, docs/UNCERTAINTY.md).
#ifndef AH_PPL_H
#define AH_PPL_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "eval/kld.h"
#include "eval/kld_stats.h"
#include "model/forward.h"
#include "model/model.h"

// PPL_LMEVAL: lm-eval's rolling-window perplexity of whole documents, computed by ppl_lmeval
// (ppl_lmeval.h), not by ppl_evaluate.
typedef enum { PPL_GPTQ, PPL_LLAMACPP, PPL_LMEVAL } ppl_protocol;

// Called with each block's fp32 weights after loading and before the windows pass through it:
// the place where a method quantizes the block in place. Return -1 (with e set) to abort.
typedef int (*ppl_block_fn)(void *ctx, int layer, block_f32 *b, ah_err *e);

typedef struct {
    ppl_protocol protocol;
    int seqlen;            // T
    int max_windows;       // 0 = all
    int bos_id;            // PPL_LLAMACPP: first token of each window; -1 = keep it (no BOS)
    int quiet;             // no progress output
    ppl_block_fn block_fn; // optional
    void *block_ctx;
    // 1: block_fn only looks at the block (a progress step, a stop check) and never writes its
    // weights, so the blocks are read in place as with no block_fn (model.h: block_f32_view).
    int block_fn_reads_only;
    // KL divergence (kld.h). ref_out: build the reference of this (FP) evaluation's scored
    // positions, a second pass over the LM head (kld_ref.h; the caller frees it with
    // kld_ref_free). kld_ref: compare every scored position with that reference, which must
    // come from the same windows (same ids, seqlen, protocol, max_windows).
    kld_ref *ref_out;
    const kld_ref *kld_ref;
} ppl_opts;

typedef struct {
    double ppl;
    double nll_mean;       // mean NLL in nats (the log of ppl)
    double stderr_ppl;     // llama.cpp's +- over the scored tokens (ppl_se_llamacpp)
    double ppl_lo, ppl_hi; // 95% bootstrap interval over windows (ppl_boot_interval; with one
                           // window both are ppl)
    int windows;
    long scored;           // NLL terms averaged
    double *nll_per_window;   // [windows] mean NLL of each window (malloc'd)
    double seconds;
    // With ppl_opts.kld_ref: llama.cpp's KLD statistics over the scored positions, and the mean
    // KLD and top-1 agreement of each window (malloc'd); has_kld 0 otherwise.
    int has_kld;
    kld_stats kld;
    double *kld_per_window;   // [windows]
    double *top1_per_window;  // [windows] fraction of the window's positions with the FP top token
} ppl_result;

// Evaluates ids[n] (already tokenized, BOS included as the tokenizer adds it).
int ppl_evaluate(ppl_result *r, const model *m, const int32_t *ids, size_t n,
                 const ppl_opts *o, ah_err *e);
void ppl_result_free(ppl_result *r);

// Number of windows the protocol will use for n tokens (before max_windows).
size_t ppl_window_count(size_t n, int seqlen);

const char *ppl_protocol_name(ppl_protocol p);
int ppl_protocol_parse(const char *s, ppl_protocol *p);

#endif
