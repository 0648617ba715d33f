// keys.h — content keys for caches: a run's result depends only on what is hashed here.
//
// Weights are hashed tensor by tensor (name, dtype, shape, bytes) with the config values the
// forward pass reads, so a re-saved but identical checkpoint keeps its key and any changed
// weight or hyperparameter changes it. Data is hashed after tokenization (token ids), which
// covers the text, the tokenizer and the protocol's preprocessing at once.
#ifndef AH_EXP_KEYS_H
#define AH_EXP_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "method/method.h"

// SHA-256 (hex) of a model's weights and forward-relevant config.
void exp_model_hash(const model *m, char hex[65]);
// SHA-256 (hex) of token ids.
void exp_ids_hash(const int32_t *ids, size_t n, char hex[65]);

// Every method parameter that can change a result, as "k=v k=v ..." (part of the run key).
void exp_method_canonical(const method_cfg *mc, char *buf, size_t cap);
// Key of an AWQ search: model, calibration, quantizer and AWQ parameters; with propagate =
// quantized also what is done after the search (the next block sees it).
void exp_awq_key(const method_cfg *mc, const char *model_hash, const char *calib_hash,
                 char hex[65]);

#endif
