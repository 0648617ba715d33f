// method_opts.h — the quantization options `eval` and `quantize` share, and the steps they
// share: calibration set from a text source, the quantization pass, the key=value fields.
#ifndef AH_CLI_METHOD_OPTS_H
#define AH_CLI_METHOD_OPTS_H

#include <getopt.h>
#include <stdio.h>

#include "calib/calib.h"
#include "method/pass.h"
#include "text/tokenizer.h"

typedef struct {
    method_cfg mc;
    unsigned given;           // bit p: the option of parameter table row p was given
    const char *calib;        // calibration source spec, NULL = none
    int calib_samples;        // default 128
    int calib_seqlen;         // default min(512, model max)
    unsigned long seed;       // --seed, as mc.seed (default 0)
    int calib_first;          // --calib-pick first: the first blocks, not a seeded random choice
} cli_method_opts;

// getopt_long entries: one per parameter-table row with an option, and the calibration ones.
#define CLI_METHOD_OPTION_COUNT 22
void cli_method_defaults(cli_method_opts *o);
// out = own[0..n_own) followed by the method options and a zero entry; out must hold
// n_own + CLI_METHOD_OPTION_COUNT + 1 entries.
void cli_method_merge_options(struct option *out, const struct option *own, size_t n_own);
// Handles one option code; returns 1 if it was a method option, 0 if not, -1 on a bad value
// (error printed).
int cli_method_option(cli_method_opts *o, int code, const char *arg);
// Validates after parsing (bits/group/pct ranges). Prints and returns -1 on error.
int cli_method_finish(cli_method_opts *o);
void cli_method_usage(FILE *f);

// Tokenizes the calibration source and picks the calibration sequences. Does nothing (and
// returns 0 with cs->n = 0) when no --calib was given.
int cli_calib_set(calib_set *cs, const cli_method_opts *o, const tok_tokenizer *tok,
                  const model *m, const char *wt_dir, ah_err *e);

// " method=minmax bits=4 group=64 ..." fields for the machine-readable line.
void cli_method_kv(FILE *f, const cli_method_opts *o, const calib_set *cs, const qpass *p);

#endif
