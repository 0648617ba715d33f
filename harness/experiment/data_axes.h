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

// How a value of an axis becomes its part of a run id.
typedef enum {
    EXP_LABEL_AS_WRITTEN,      // the value itself: 512, llamacpp
    EXP_LABEL_MODEL,           // NAME of its [model.NAME] section, "main" for [model]
    EXP_LABEL_DATA,            // the data spec's file or split: pile, wikitext2-train (a label
                               // two values share gets the value's position appended: pile2)
} exp_input_label;

// One input axis, a row of EXP_INPUT_AXES (indexed by exp_input_axis, config.h): what the
// parser, the run ids, the plan description and the report read of it.
typedef struct {
    const char *key;           // its [sweep] key (and the name in plan descriptions)
    const char *id_fmt;        // its part of a run id, printf of the value's label: "-ev.%s"
    exp_input_label label;
    const char *column;        // the /summary column recording a run's value (report rows)
    int calibrated_only;       // crossed only with the runs that take calibration (the rest:
                               // planned with the first value, left out of their ids)
} exp_input_axis_def;
extern const exp_input_axis_def EXP_INPUT_AXES[EXP_IN_COUNT];

// The [sweep] keys of the input axes, ", "-separated, into buf (cap bytes): all of them, or
// (swept_in not NULL) those that experiment sweeps ("model, calib"). Returns how many (0 for
// swept_in: one input, nothing swept).
int exp_input_keys_list(const exp_config *swept_in, char *buf, size_t cap);

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
