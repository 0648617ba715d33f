// split_search.h — one AWQ search split across processes (the tasks of a Slurm job array).
//
// With propagate = fp (the reference implementation's default) the search of block l depends
// only on block l's weights and its full-precision calibration inputs, which are the FP forward
// of blocks 0 .. l-1. So a process searching blocks [l0, l1) runs the calibration set through
// the FP blocks before l0 (no capture, no search) and searches its own range; the parts are
// saved as <cache>/awq/parts/<key>.blocks-<l0>-<l1>.h5 (awq_cache.h) and joined into the cache
// entry <cache>/awq/<key>.h5 that every run of that key loads. The joined entry equals the one
// a single process writes bit for bit (tests/cli/test_split_search.sh), as long as both use the
// same number of threads (a BLAS product's summation order may depend on it).
// With propagate = quantized block l sees the quantized blocks before it: refused.
#ifndef AH_EXP_SPLIT_SEARCH_H
#define AH_EXP_SPLIT_SEARCH_H

#include "experiment/config.h"
#include "experiment/sweep.h"

// Blocks of part i of k of a model of n_layers blocks: [i*n/k, (i+1)*n/k).
void exp_search_range(int n_layers, int i, int k, int *l0, int *l1);

// Searches blocks [l0, l1) (l1 < 0: to the last block) of every distinct AWQ search of plan
// and saves each as a part. A search whose joined entry, or whose part of this range, already
// exists is skipped (a resubmitted task redoes only what is missing). k_parts > 0: the range
// is part l0 of k_parts instead (exp_search_range; the model's block count is known only
// once it is loaded). Errors: no AWQ run in plan, propagate = quantized, a range outside the
// model.
int exp_search_blocks(const exp_config *c, const exp_plan *plan, int l0, int l1, int k_parts,
                      int quiet, ah_err *e);

// Joins the parts of every distinct AWQ search of plan into its cache entry (then removes the
// parts). An entry that exists is left as it is; blocks that no part covers are an error
// naming them.
int exp_search_join(const exp_config *c, const exp_plan *plan, int quiet, ah_err *e);

#endif
