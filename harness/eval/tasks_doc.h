// tasks_doc.h — one JSON line of a task file into the strings of its requests (tasks.h).
#ifndef AH_TASKS_DOC_H
#define AH_TASKS_DOC_H

#include <jansson.h>

#include "eval/tasks.h"

// Where a document came from, for errors ("FILE:LINE: field 'goal' is missing").
typedef struct {
    const task_def *def;
    const char *path;
    size_t line;
} task_src;

typedef struct {
    char *ctx;        // TASK_MC, TASK_LAST_WORD: the prompt (lm-eval's doc_to_text)
    char **choice;    // [nchoice] TASK_MC: the choices; TASK_PARTIAL: the contexts
    int nchoice;
    int gold;
    char *cont;       // TASK_PARTIAL: the shared continuation (without delimiter);
                      // TASK_LAST_WORD: " " + last word; TASK_ROLLING: the detokenized page
    long words, bytes;   // TASK_ROLLING: counts of the raw page
} task_doc;

int task_doc_build(task_doc *d, json_t *doc, const task_src *src, ah_err *e);
void task_doc_free(task_doc *d);   // NULL-safe

#endif
