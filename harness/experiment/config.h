// config.h — an experiment as its INI file describes it (docs/EXPERIMENTS.md is the user guide).
//
//   [experiment]   name, output, seed, threads, cache, record_layers, description, published
//   [model]        path, tokenizer, name, hf_id
//   [model.NAME]   another model (same keys; name defaults to NAME), for [sweep] model
//   [calibration]  data, samples, seqlen, pick, awq_samples
//   [evaluation]   data, seqlen, max_windows, protocol, wikitext_dir, kld, tasks, task_items,
//                  efficiency, efficiency_prompt, efficiency_decode, efficiency_reps
//   [sweep]        method, bits, group_size, alpha, scale_rule, clip, propagate, salient_pct,
//                  salient_by, salient_scale, scale_pct, grid, damp, act_order, block_size:
//                  comma lists, numbers may be
//                  ranges START:STOP:STEP (STOP included)
//                  and the experiment's inputs (issue 19, [sweep] only): model (NAMEs of
//                  [model.NAME] sections, or "main" for [model]), eval_data and calib (data
//                  specs), seqlen (evaluation window lengths): each run has one of each
//   [sweep.NAME]   a named sub-sweep with the same keys; axes it does not write come from
//                  [sweep]. With named sweeps the plan is their union (each crossed on its
//                  own) and [sweep] only holds what they share.
//   [plot.NAME]    a figure the `plot` command draws from the results (kept as key/values)
//   [export]       formats (names of the export format table, export/formats.h), dir: every
//                  run written in each format after it is evaluated (experiment/export_step.h)
//   include = FILE in any section reads FILE there (relative to the including file).
// Values may use ${VAR} and ${VAR:-default} (environment). Other paths are relative to the
// directory the harness runs in.
#ifndef AH_EXP_CONFIG_H
#define AH_EXP_CONFIG_H

#include <stdint.h>

#include "core/err.h"
#include "eval/ppl.h"
#include "method/params.h"

#define EXP_PATH_MAX 1024
#define EXP_MAX_VALUES 64   // values per sweep axis
#define EXP_MAX_PLOTS 32
#define EXP_MAX_PLOT_KEYS 16
#define EXP_MAX_SWEEPS 16   // [sweep.NAME] sections
#define EXP_MAX_MODELS 16   // [model.NAME] sections
#define EXP_MAX_EXPORTS 8   // [export] formats

// A model ([model], or [model.NAME] for the `model` input axis).
typedef struct {
    char key[128];                    // NAME of [model.NAME]: what [sweep] model lists
    char name[128];                   // tables, plots (default NAME)
    char path[EXP_PATH_MAX];
    char tokenizer[EXP_PATH_MAX];     // "" = beside the model
    char hf_id[128];
} exp_model;

// The inputs a [sweep] may list (data axes): unlike the parameter table's axes they are text
// (model names, data specs) or a length, and they select what a run reads, not how it
// quantizes. Written: n values in v (strings; seqlen as digits); not written: n = 0, the
// [model] / [evaluation] / [calibration] value. Each axis is a row of EXP_INPUT_AXES
// (data_axes.h): its key, run-id part and /summary column.
typedef enum {
    EXP_IN_MODEL, EXP_IN_EVAL, EXP_IN_SEQLEN, EXP_IN_CALIB,
    EXP_IN_PROTOCOL,           // gptq | llamacpp: which tokens of each window are scored (issue 20)
    EXP_IN_COUNT
} exp_input_axis;
typedef struct {
    int n;
    char **v;                  // heap: n strings
    char file[EXP_PATH_MAX];
    int line;
} exp_input_values;


// One sweep axis (a [sweep] row of the parameter table, method/params.h): its values in the
// order written, words and numbers alike (alpha = search, 0.5).
typedef struct {
    int n;
    int given;                 // written in the INI (else the table's default)
    param_value v[EXP_MAX_VALUES];
    char file[EXP_PATH_MAX];   // where it was written (errors found later name it)
    int line;
} exp_axis_values;

// [sweep.NAME]: the axes written in that section (given = 0 elsewhere: taken from [sweep]).
typedef struct {
    char name[64];
    exp_axis_values axes[PARAM_AXIS_COUNT];
} exp_sweep;

typedef struct {
    char name[64];
    int n;
    char key[EXP_MAX_PLOT_KEYS][32];
    char value[EXP_MAX_PLOT_KEYS][256];
} exp_plot;

typedef struct {
    char source[EXP_PATH_MAX];        // the INI file given
    // [experiment]
    char name[128];
    char description[256];
    char output[EXP_PATH_MAX];        // default results/<name>.h5
    char cache_dir[EXP_PATH_MAX];     // default <dir of output>/cache
    uint64_t seed;
    int threads;                      // 0 = all cores
    int record_layers;                // per-layer metadata in records (default 1)
    char published[EXP_PATH_MAX];     // published numbers to compare with (`report`), "" = none
    // [model]
    char model_path[EXP_PATH_MAX];
    char tokenizer[EXP_PATH_MAX];     // "" = beside the model
    char model_name[128];             // for tables and plots (default: the path's last part)
    char hf_id[128];                  // HuggingFace id (tools/fetch-model), informational
    // [calibration]
    char calib[EXP_PATH_MAX];         // source spec; "" = no calibration
    int calib_samples;                // default 128
    int calib_seqlen;                 // 0 = min(512, model max)
    int calib_first;                  // pick = first
    int awq_samples;                  // 0 = all
    // [evaluation]
    char eval_data[EXP_PATH_MAX];
    int seqlen;                       // 0 = min(2048, model max)
    int max_windows;                  // 0 = all
    ppl_protocol protocol;
    int kld;                          // KL divergence of quantized runs from FP (default 1)
    char wikitext_dir[EXP_PATH_MAX];
    // [model.NAME] in the order first seen (heap; NULL when none)
    exp_model *models;
    int n_models;
    char tasks[4 * EXP_PATH_MAX];     // zero-shot tasks, "NAME:FILE,NAME:FILE" ("" = none;
                                      // eval/tasks.h, docs/TASKS.md)
    int task_items;                   // the first N items of each task file; 0 = all
    // Per-run memory and generation speed (experiment/efficiency.h, docs/EXPERIMENTS.md)
    int efficiency;                   // 1: measure them (default 0)
    int eff_prompt;                   // prompt tokens (the evaluation data's first; default 32)
    int eff_decode;                   // greedy tokens decoded after it (default 16)
    int eff_reps;                     // repetitions, medians recorded (default 3)
    // [sweep]
    exp_axis_values axes[PARAM_AXIS_COUNT];
    exp_input_values inputs[EXP_IN_COUNT];
    // [sweep.NAME] in the order first seen (heap, n_sweeps entries; NULL when none)
    exp_sweep *sweeps;
    int n_sweeps;
    // [export]
    char export_formats[EXP_MAX_EXPORTS][32];   // format names, in the order written
    int n_exports;                    // 0 = no export step
    char export_dir[EXP_PATH_MAX];    // "" = beside the results file: <output minus .h5>.exports
    // [plot.*]
    exp_plot plots[EXP_MAX_PLOTS];
    int n_plots;
    // Every file read, includes expanded in place ("; --- FILE" markers), so the text parses
    // on its own (exp_config_load_string): stored in results files for plot and report.
    char *ini_text;
} exp_config;


// Parses an experiment file (and its includes). Errors: "FILE:LINE: message".
int exp_config_load(exp_config *c, const char *path, ah_err *e);
// Parses INI text as if read from file `name` (tests).
int exp_config_load_string(exp_config *c, const char *text, const char *name, ah_err *e);
// Parses the INI text a results file stores (plot, report). Written by older harnesses too,
// which let a key outside [sweep] be set again (an includer over its include): the last value
// wins there, as it did when that experiment ran.
int exp_config_load_stored(exp_config *c, const char *text, const char *name, ah_err *e);
// Reads the [plot.NAME] sections of a file written after the run (`plot --ini FILE`): the
// same syntax and errors; [model] and [evaluation] are not required. No [plot.NAME]: an error.
int exp_config_load_plots(exp_config *c, const char *path, ah_err *e);
void exp_config_free(exp_config *c);

#endif
