// tasks.h — zero-shot tasks scored as lm-evaluation-harness scores them (docs/TASKS.md).
//
// A task is a row of the table in tasks_table.c: which fields of the dataset's JSON lines
// make the prompt, the choices and the gold answer. A task spec is NAME:FILE (a JSON-lines
// export of the Hugging Face dataset; nothing is downloaded); the kinds:
//   multiple choice   one request per choice, loglikelihood(prompt, " " + choice);
//                     acc = [argmax ll == gold], acc_norm = [argmax ll / len(choice) == gold]
//                     (len: Unicode characters, as lm-eval's completion_len);
//   partial (Winogrande)  one request per option, loglikelihood(sentence up to the blank with
//                     the option filled in, " " + the rest of the sentence); acc;
//   last word (LAMBADA)   loglikelihood(text up to its last space-separated word, " " + that
//                     word); acc = is_greedy, perplexity = exp(-mean ll);
//   rolling (wikitext)    loglikelihood_rolling of each detokenized document; word_perplexity
//                     = exp(-sum ll / words), byte_perplexity = exp(-sum ll / bytes),
//                     bits_per_byte = -sum ll / bytes / ln 2 (words and bytes of the raw page).
// Standard errors are lm-eval's: sample standard deviation / sqrt(n) of the per-item values.
#ifndef AH_TASKS_H
#define AH_TASKS_H

#include <stddef.h>

#include "core/err.h"
#include "eval/loglik.h"
#include "model/model.h"
#include "text/tokenizer.h"

typedef enum { TASK_MC, TASK_PARTIAL, TASK_LAST_WORD, TASK_ROLLING } task_kind;

// How a row names its prompt, choices and gold (tasks_table.c holds the rows).
typedef enum { PREP_NONE, PREP_HELLASWAG } task_prep;
typedef enum {
    GOLD_INT,        // int(doc[gold]) - gold_offset (a number or a string of digits)
    GOLD_INDEX_OF,   // index of doc[gold] in the list at gold_list (ARC's answerKey in labels)
    GOLD_NONE,
} task_gold;

typedef struct {
    const char *name;        // "hellaswag"
    task_kind kind;
    const char *prompt;      // template: {field}, {a.b} nested, {field|cap} = str.capitalize()
    const char *choices;     // list field ("endings", "choices.text") or fields "sol1,sol2"
    task_gold gold;
    const char *gold_field;  // "label", "answerKey"
    const char *gold_list;   // GOLD_INDEX_OF: the list searched ("choices.label")
    int gold_offset;         // GOLD_INT: subtracted (Winogrande's "1"/"2" -> 0/1)
    task_prep prep;          // extra processing of prompt and choices
    const char *fields;      // the JSON fields read, for docs and errors
    const char *lm_eval;     // the lm-eval task it reproduces
} task_def;

extern const task_def task_table[];
extern const size_t task_table_n;
const task_def *task_find(const char *name);

// One item's scores (per document for TASK_ROLLING).
typedef struct {
    int nchoice;
    double *ll;         // [nchoice] log-likelihood of each choice (TASK_LAST_WORD, TASK_ROLLING: 1)
    int *greedy;        // [nchoice]
    int *len;           // [nchoice] the length acc_norm divides by (characters)
    int gold;
    double acc, acc_norm;   // 0/1 (TASK_ROLLING: unused)
    long words, bytes;  // TASK_ROLLING: the raw page's counts
    long tokens;        // tokens scored (TASK_ROLLING)
} task_item;

typedef struct {
    const task_def *def;
    char path[1024];
    size_t n;
    task_item *items;
    // Aggregates (lm-eval's): acc and acc_norm with their standard errors; LAMBADA's ppl;
    // rolling: word/byte perplexity, bits per byte and the counts.
    double acc, acc_se, acc_norm, acc_norm_se;
    double ppl;                       // TASK_LAST_WORD: exp(-mean ll)
    double word_ppl, byte_ppl, bits_per_byte;
    long words, bytes, tokens;
    size_t requests;
    double seconds;
} task_result;

// Runs the task NAME:FILE on the model. max_items > 0 keeps the first items only.
// Errors name the file (and line, field) at fault.
int task_run(task_result *r, const char *spec, const model *m, const tok_tokenizer *tok,
             const ll_opts *o, size_t max_items, ah_err *e);
// Runs n tasks in one pass over the model (one call of o->block_fn per block: a quantization
// pass quantizes once for all of them); r has n entries.
int task_run_many(task_result *r, const char *const *specs, size_t n, const model *m,
                  const tok_tokenizer *tok, const ll_opts *o, size_t max_items, ah_err *e);
// Checks a spec's form (a known task name, a file part); file: also that the file is readable.
int task_check_spec(const char *spec, int file, ah_err *e);
void task_result_free(task_result *r);   // NULL-safe

#endif
