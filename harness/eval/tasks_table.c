// tasks_table.c — the zero-shot tasks, one row each, transcribed from lm-eval 0.4.13's task
// YAMLs (lm_eval/tasks/<task>/*.yaml and their utils.py); docs/TASKS.md lists the fields.
#include <string.h>

#include "eval/tasks.h"

const task_def task_table[] = {
    // hellaswag.yaml + utils.process_docs: query = preprocess(activity_label + ": " + ctx_a +
    // " " + ctx_b.capitalize()), choices = [preprocess(e) for e in endings], gold = int(label).
    {"hellaswag", TASK_MC, "{activity_label}: {ctx_a} {ctx_b|cap}", "endings", GOLD_INT, "label",
     NULL, 0, PREP_HELLASWAG, "activity_label, ctx_a, ctx_b, endings[], label", "hellaswag"},
    // piqa.yaml: "Question: {{goal}}\nAnswer:", choices [sol1, sol2], target label.
    {"piqa", TASK_MC, "Question: {goal}\nAnswer:", "sol1,sol2", GOLD_INT, "label", NULL, 0,
     PREP_NONE, "goal, sol1, sol2, label", "piqa"},
    // arc_easy.yaml / arc_challenge.yaml: choices.text, target choices.label.index(answerKey).
    {"arc_easy", TASK_MC, "Question: {question}\nAnswer:", "choices.text", GOLD_INDEX_OF,
     "answerKey", "choices.label", 0, PREP_NONE,
     "question, choices.text[], choices.label[], answerKey", "arc_easy"},
    {"arc_challenge", TASK_MC, "Question: {question}\nAnswer:", "choices.text", GOLD_INDEX_OF,
     "answerKey", "choices.label", 0, PREP_NONE,
     "question, choices.text[], choices.label[], answerKey", "arc_challenge"},
    // winogrande/preprocess_winogrande.py: contexts sentence[:blank] + option1/option2, the
    // continuation sentence[blank+1:].strip(); gold = {"1": 0, "2": 1}[answer].
    {"winogrande", TASK_PARTIAL, "sentence", "option1,option2", GOLD_INT, "answer", NULL, 1,
     PREP_NONE, "sentence (one '_'), option1, option2, answer (\"1\"/\"2\")", "winogrande"},
    // lambada_openai.yaml: context = all but the last ' '-separated word, target ' ' + it.
    {"lambada", TASK_LAST_WORD, "text", NULL, GOLD_NONE, NULL, NULL, 0, PREP_NONE, "text",
     "lambada_openai"},
    // wikitext.yaml: loglikelihood_rolling of wikitext_detokenizer(page); words and bytes of
    // the raw page (EleutherAI/wikitext_document_level rows).
    {"wikitext", TASK_ROLLING, "page", NULL, GOLD_NONE, NULL, NULL, 0, PREP_NONE, "page",
     "wikitext"},
    // Custom multiple choice (this project's schema): the prompt, the choices, the gold index.
    {"mc", TASK_MC, "{query}", "choices", GOLD_INT, "gold", NULL, 0, PREP_NONE,
     "query, choices[], gold", "(custom; hellaswag's processed form)"},
};
const size_t task_table_n = sizeof task_table / sizeof task_table[0];

const task_def *task_find(const char *name) {
    for (size_t i = 0; i < task_table_n; i++)
        if (!strcmp(task_table[i].name, name)) return &task_table[i];
    return NULL;
}
