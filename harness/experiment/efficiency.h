// efficiency.h — what a run's quantization buys, measured per run when [evaluation]
// efficiency = yes (docs/EXPERIMENTS.md): the bytes its block linears take in memory, the
// process's peak resident memory, and prefill and decode tokens/s of a KV-cached greedy
// generation (bench-generate's measurement) on a fixed prompt: the first efficiency_prompt ids
// of the evaluation data, then efficiency_decode tokens that never stop early.
//
// A quantized run is measured on its packed model (packed/pmodel.h: the codes its method
// computed, held as codes); an FP run on its fp32 blocks. Timings depend on the machine and its
// load: the thread count and the GEMV kernel are recorded beside them.
#ifndef AH_EXP_EFFICIENCY_H
#define AH_EXP_EFFICIENCY_H

#include <stddef.h>

#include "calib/calib.h"
#include "experiment/config.h"
#include "experiment/sweep.h"
#include "method/pass.h"
#include "model/model.h"
#include "store/store.h"

typedef struct {
    size_t weight_bytes;       // the block linears as held: codes + scales + zeros (quantized),
                               // parameters x the checkpoint's dtype size (FP); norms, biases,
                               // embeddings and the head are the same in every run: not counted
    double peak_rss_mb;        // peak resident memory of the measurement (MiB)
    int rss_reset;             // 1: the peak was reset before it; 0: the process's peak so far
    double prefill_tok_s;      // prompt tokens / time to first token, median over reps
    double decode_tok_s;       // decoded tokens / their time, median over reps
    int prompt_tokens, decode_tokens, reps, threads;
    char kernel[16];           // the packed GEMV kernel ("avx2", ...), "blas" for FP runs
    char omp_wait[16];         // OMP_WAIT_POLICY ("passive", the harness's default; "active"):
                               // decoding spins 3x faster than it sleeps (README "Batch jobs")
} exp_efficiency;

// Before any run: every run of the plan must be one the packed kernels hold (no salient
// full-precision columns); the evaluation data must hold efficiency_prompt ids and the model
// fit the prompt and the decoded tokens. One error naming the run or the key.
int exp_efficiency_check(const exp_config *c, const exp_plan *plan, const model *m,
                         size_t eval_ids, ah_err *e);

// Measures run mc on m: quantizes every block again with mc (cs: its calibration sample; done:
// the run's perplexity pass, whose AWQ scales are reused rather than searched again, may be
// NULL) into packed codes, or keeps the fp32 blocks of an FP run, then generates.
int exp_efficiency_measure(exp_efficiency *out, const exp_config *c, const model *m,
                           const int32_t *ids, size_t n_ids, const method_cfg *mc,
                           const calib_set *cs, const qpass *done, ah_err *e);

// The run record's attributes (results/README.md): weight_bytes, peak_rss_mb, prefill_tok_s,
// decode_tok_s, eff_prompt_tokens, eff_decode_tokens, eff_reps, eff_threads, eff_kernel,
// eff_rss_reset.
int exp_efficiency_record(store_run_writer *w, const exp_efficiency *x, ah_err *e);

#endif
