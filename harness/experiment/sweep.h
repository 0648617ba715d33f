// sweep.h — the planned runs of an experiment: its [sweep] axes crossed per method.
//
// An axis is crossed only with the methods it applies to, so no run is planned twice:
//   fp16                 nothing (one run)
//   rtn, gptq-rtn,       bits x group_size x salient_pct (x salient_by when pct > 0): kept
//   imatrix, minmax,     channels are a modifier of every quantizing method; minmax with
//   salient              pct > 0 is the salient baseline (AWQ paper Table 1)
//   awq                  bits x group_size x scale_rule x clip x propagate, and per rule:
//                          search, duo  alpha ("search" = grid search; a number = that alpha)
//                                       x grid (only when searched)
//                          fixed        alpha (numbers only; "search" skipped)
//                          salient      salient_scale x scale_pct
//                        then salient_pct (x salient_by)
//   gptq                 bits x group_size x damp x block_size x act_order x salient_pct
//   awq+gptq             the awq axes x damp x block_size x act_order x salient_pct
//                        (ids: "gptq-w3-g128", "awq+gptq-w3-g128-search", plus "-actorder",
//                        "-damp0.1", "-bs64" where not the defaults)
// Which axis applies where, the order they nest in, their defaults, ranges and id parts are
// rows of the parameter table (method/params.c); the rules above are what it says.
// Defaults for axes not written: bits 4, group_size 128, alpha search, scale_rule search
// (always search, also when alpha lists numbers: then x_mean^alpha at each), clip on,
// propagate fp, salient_pct 0, salient_by activation, salient_scale 2, scale_pct 1, grid 20,
// damp 0.01, block_size 128, act_order off.
// Runs with the same effective parameters (the same id) are planned once; two different runs
// with one id (ids print numbers with %g: alpha 0.5 and 0.5000001) are an error.
// The inputs ([sweep] model, eval_data, seqlen, calib: data_axes.h) are crossed outside all of
// this, each input's runs planned as above; ids name the swept inputs. An id longer than
// EXP_ID_MAX bytes is an error (never cut: results are keyed by it).
// A plan holds at most EXP_MAX_RUNS runs; a larger one is an error that gives its size.
// Named sweeps ([sweep.NAME], config.h): each is crossed on its own as above, with the axes it
// does not write taken from [sweep]; the plan is their runs in section order, duplicates once.
#ifndef AH_EXP_SWEEP_H
#define AH_EXP_SWEEP_H

#include "experiment/config.h"
#include "experiment/data_axes.h"
#include "method/method.h"

#define EXP_ID_MAX 64   // bytes of a run id: the results file's /summary holds that many

typedef struct {
    char id[EXP_ID_MAX + 1];   // stable name from the effective parameters: "awq-w3-g128-search"
    int index;       // position in the whole plan (0-based), before sharding
    int input;       // its input (data_axes.h): index into the plan's inputs
    method_cfg mc;   // complete and checked
} exp_run;

#define EXP_MAX_RUNS 100000
#define EXP_COUNT_MAX 1000000   // runs counted past EXP_MAX_RUNS before the error is given

typedef struct {
    int n;
    exp_run *runs;
    int cap;                  // room in runs
    exp_input *inputs;        // the inputs the sweep crosses (data_axes.h), n_inputs >= 1
    int n_inputs;
    int cur_input;            // while building: the input being crossed
    // While exp_plan_build runs (NULL and 0 after it): the ids planned, hashed, and the
    // runs past EXP_MAX_RUNS, counted for the error but not kept.
    struct plan_ids *ids;
    int counted;
} exp_plan;

// Expands c's sweep. Errors name the INI file and the line of the axis at fault.
int exp_plan_build(exp_plan *p, const exp_config *c, ah_err *e);
void exp_plan_free(exp_plan *p);

// Keeps every n-th run starting at i (0 <= i < n): the runs of shard i of n.
void exp_plan_shard(exp_plan *p, int i, int n);

// Stable id of a method configuration (also used for runs given on the command line).
void exp_run_id(const method_cfg *mc, char *id, size_t cap);
// "awq  w3 g128  rule=search clip=on" — one line for plans and tables.
void exp_run_describe(const method_cfg *mc, char *buf, size_t cap);

#endif
