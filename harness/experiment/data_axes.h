// data_axes.h — the inputs a sweep may cross (issue 19): models ([model.NAME]), evaluation
// sources, evaluation window lengths and calibration sources, listed in [sweep] as
//   model = tinyprose, stories       ; [model.NAME] sections (main = [model])
//   eval_data = wikitext2:test, text:other.txt
//   seqlen = 512, 2048               ; evaluation windows
//   calib = wikitext2:train, text:pile.txt
//   protocol = gptq, llamacpp        ; which tokens of each window are scored (METHODS.md)
// Each combination is one input of the plan: its runs read that model and data, and the
// runner loads them once for all its runs. The crossing nests model, eval_data, seqlen, calib,
// protocol (outermost first). A calibration source applies only to the runs whose weights it changes
// (the calib_samples row applies: AWQ, GPTQ, ...): fp16, rtn, minmax are planned once per
// model, evaluation set and length, with the first calibration source for their metrics.
// Run ids name an input only where its axis is swept: "-m.NAME", "-ev.LABEL", "-ctx512",
// "-cal.LABEL" (LABEL: the source's file or split, "pile", "wikitext2-train"), "-p.llamacpp".
#ifndef AH_EXP_DATA_AXES_H
#define AH_EXP_DATA_AXES_H

#include <stddef.h>

#include "core/err.h"
#include "experiment/config.h"

typedef struct {
    int v[EXP_IN_COUNT];   // value index per input axis; 0 when the axis is not swept
} exp_input;

// The inputs of c (one, all zero, when no input axis is written): *in malloc'd [*n].
int exp_inputs_build(const exp_config *c, exp_input **in, int *n, ah_err *e);
// c with input `in` applied: [model], [evaluation] data and seqlen, [calibration] data
// replaced by the input's values. A shallow copy (shares c's heap parts): not to be freed.
void exp_input_config(const exp_config *c, const exp_input *in, exp_config *out);
// The run-id suffix of input `in` ("" when nothing is swept); takes_calib: whether the run
// takes the calibration source (else its part is left out).
void exp_input_suffix(const exp_config *c, const exp_input *in, int takes_calib, char *buf,
                      size_t cap);
// "model=tinyprose eval_data=wikitext2:test" for the swept axes (plans, --dry-run).
void exp_input_describe(const exp_config *c, const exp_input *in, int takes_calib, char *buf,
                        size_t cap);

#endif
