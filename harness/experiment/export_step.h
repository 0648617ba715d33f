// export_step.h — a sweep's [export] step (docs/EXPERIMENTS.md "[export]"): every run written
// in each format [export] formats names, by the code `quantize --format` runs (export/run.h),
// read back, and recorded in the run's HDF5 record (results/README.md, "export/<format>").
//
//   plan time   exp_export_prepare: the scale dtype each quantized run needs for its formats
//               (a format storing fp16 scales gets codes computed with them, as quantize
//               does: the recorded perplexity is then the file's), and each format's own check
//               of each run; any refusal is one error naming the run and the format, before
//               any model work.
//   per run     exp_export_run: after the run is evaluated (or taken from a cache), each
//               export written at <dir>/<run id>/<format> (quantizing the run again: the AWQ
//               search is reused, never redone), or found complete there (its manifest holds
//               this run's key) and recorded as it is.
#ifndef AH_EXP_EXPORT_STEP_H
#define AH_EXP_EXPORT_STEP_H

#include "calib/calib.h"
#include "experiment/config.h"
#include "experiment/sweep.h"
#include "method/method.h"
#include "model/model.h"
#include "text/tokenizer.h"

// The export directory of experiment c writing results file output: [export] dir, by default
// output's path without ".h5" plus ".exports". (A shard's run fixes it from the experiment's
// own output first, so every shard exports where the unsharded run would.)
void exp_export_dir(const exp_config *c, const char *output, char *buf, size_t cap);
// The directory of run id's export in format: <export dir>/<id>/<format>.
void exp_export_path(const exp_config *c, const char *output, const char *id, const char *format,
                     char *buf, size_t cap);

// Plan time, for the runs of plan on model m (tok: its tokenizer, NULL when not loaded; it is
// loaded here when a format embeds one and kept in *tok_owned, which the caller frees):
// *out becomes a copy of plan's runs (the caller frees out->runs) with every quantized run's
// mc.q.scale_dtype set to what its formats store, and each format's check is run on each.
// output: the results file (the default export directory). Without [export]: *out stays empty.
int exp_export_prepare(const exp_config *c, const char *output, const model *m,
                       const tok_tokenizer *tok, tok_tokenizer **tok_owned, const exp_plan *plan,
                       exp_plan *out, ah_err *e);

typedef struct {
    const exp_config *c;
    const char *output;                 // the results file
    const model *m;
    const tok_tokenizer *tok;           // for formats that embed it (may be NULL otherwise)
    const char *tokenizer_path;         // copied beside exports ("" / NULL: none)
    int quiet;
} exp_export_ctx;

// Writes (or finds complete) run r's exports and the overlay run file overlay_path that
// records them (group export/<format>; root attributes exports, export_max_abs_diff), which
// the commit lays over the run (store_commit_overlay). cs: the calibration the run used
// (NULL: none); awq_preset: its AWQ results ([n_layers]) or NULL (searched again).
// Returns -1 when the overlay cannot be written; otherwise 0, with *n_failed exports that
// failed (recorded as failed, the first error in e): the run's own results stand.
int exp_export_run(const exp_export_ctx *x, const exp_run *r, const char *key,
                   const calib_set *cs, const awq_block_result *awq_preset,
                   const char *overlay_path, int *n_failed, ah_err *e);

// 1 when the results file output records every export of run id as complete and each is
// still on disk (a resumed run needs nothing more); 0 otherwise.
int exp_export_recorded(const exp_config *c, const char *output, const char *id);

#endif
