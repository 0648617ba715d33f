// record.h — one run's HDF5 record (results/README.md documents every field).
#ifndef AH_EXP_RECORD_H
#define AH_EXP_RECORD_H

#include "calib/calib.h"
#include "eval/ppl.h"
#include "eval/tasks.h"
#include "experiment/config.h"
#include "experiment/efficiency.h"
#include "experiment/sweep.h"
#include "method/pass.h"

// Kept input-channel indices of every quantized linear (salient retention), gathered by
// exp_salient_sink during the pass.
typedef struct {
    int n_slots;     // n_layers * L_COUNT
    int **idx;       // [n_slots] sorted column indices, NULL when none kept
    int *n;          // [n_slots]
} exp_salient_log;

int exp_salient_log_init(exp_salient_log *s, const model *m, ah_err *e);
void exp_salient_log_free(exp_salient_log *s);
// method_sink_fn: records keep_idx of each linear.
int exp_salient_sink(void *ctx, int layer, arch_layer_role role, const float *W_hat,
                     const float *W_orig, const method_codes *qc, int r0, int n, int rows,
                     int cols, const int *keep_idx, int kept, ah_err *e);

typedef struct {
    const exp_config *cfg;
    const exp_run *run;
    const model *m;
    const char *model_hash, *eval_hash, *calib_hash;   // calib_hash "" when not calibrated
    const char *key;             // the run key
    const ppl_result *ppl;
    const qpass *qp;             // NULL for fp16
    const calib_set *cs;         // NULL when not calibrated
    const exp_salient_log *salient;
    size_t eval_tokens;
    // The evaluation text's UTF-8 bytes and lm-eval-style words (len(re.split(r"\s+", text))),
    // so a reader can turn the token perplexity into a word or byte one (0: not known).
    long eval_bytes, eval_words;
    int seqlen;
    int threads;
    double seconds, awq_seconds;
    double quant_seconds;        // calibration + AWQ + quantization, inside the evaluation pass
    const char *cache;           // "computed" or "awq-cached"
    int calib_overlap;           // calibration sequences overlapping the evaluation text
    const task_result *tasks;    // [n_tasks] zero-shot tasks ([evaluation] tasks), may be NULL
    size_t n_tasks;
    const exp_efficiency *eff;   // memory and speed ([evaluation] efficiency), NULL when off
} exp_record;

// The checkpoint's weight type, from its first linear as stored ("F16", "BF16", "F32"): the
// unquantized run of an F32 checkpoint is an FP32 baseline, not FP16 (report labels).
const char *exp_weights_dtype(const model *m);

// Writes the run file at path (atomically, through store_run_*).
int exp_record_write(const char *path, const exp_record *r, ah_err *e);

#endif
