// run_tasks.h — the zero-shot tasks of a run ([evaluation] tasks = NAME:FILE,...): scored after
// its perplexity, on the same (quantized) model, recorded under tasks/<name> (record.c).
#ifndef AH_EXP_RUN_TASKS_H
#define AH_EXP_RUN_TASKS_H

#include "eval/tasks.h"
#include "experiment/config.h"
#include "method/pass.h"

#define EXP_MAX_TASKS 32

// The task files' identity for run keys: sha256 over task_items, every task's name and its
// file's bytes. Errors name an unknown task or a file that cannot be read.
int exp_tasks_hash(const exp_config *c, char hex[65], ah_err *e);

// Scores every task of c on m quantized by mc (fp16: the model as it is) in one pass over the
// blocks. done: the run's perplexity pass, whose AWQ scales are reused; may be NULL.
// *out (n_out entries) is freed with exp_tasks_free.
int exp_run_tasks(task_result **out, size_t *n_out, const exp_config *c, const model *m,
                  const tok_tokenizer *tok, const method_cfg *mc, const calib_set *cs,
                  const qpass *done, ah_err *e);
void exp_tasks_free(task_result *r, size_t n);

#endif
