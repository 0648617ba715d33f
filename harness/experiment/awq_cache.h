// awq_cache.h — AWQ search results saved by content key, so runs that differ only after the
// search (salient retention with propagate = fp, evaluation data or length) reuse it.
//
// File (HDF5, written through store/ run files, atomically):
//   /  attrs: kind = "awq-search", key, n_layers
//   /layers/<l>/<group>/   attrs applied, width, alpha, n_alpha, seconds (group 0 only)
//                          scales [width] f32, alphas [n_alpha] f32, loss [n_alpha] f64,
//                          x_mean / x_max / x_p99 [width] f32
//   /layers/<l>/clip/<linear>   [rows, groups] f32 clamp thresholds
//
// A part of a search split across processes (exp/split_search.h) is the same file holding only
// layers [first_layer, end_layer): kind = "awq-search-part", attrs first_layer, end_layer.
#ifndef AH_EXP_AWQ_CACHE_H
#define AH_EXP_AWQ_CACHE_H

#include "awq/awq.h"
#include "model/model.h"

int awq_cache_save(const char *path, const char *key, const model *m,
                   const awq_block_result *res, ah_err *e);
// Loads into res[n_layers] (zeroed first; free each with awq_result_free). Checks the key and
// the shapes against the model.
int awq_cache_load(const char *path, const char *key, const model *m, awq_block_result *res,
                   ah_err *e);

// Layers [l0, l1) of res as a part file (kind awq-search-part).
int awq_cache_save_part(const char *path, const char *key, const model *m,
                        const awq_block_result *res, int l0, int l1, ah_err *e);
// Loads a part into res[*l0 .. *l1) (the other layers untouched) and returns its range.
// Checks the kind, key, layer count and range.
int awq_cache_load_part(const char *path, const char *key, const model *m, awq_block_result *res,
                        int *l0, int *l1, ah_err *e);

#endif
