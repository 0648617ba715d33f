// run_tasks.c — the zero-shot tasks of a run ([evaluation] tasks; eval/tasks.h).
#include "experiment/run_tasks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/mem.h"

// Splits c->tasks at commas into specs (pointers into buf).
static size_t split(const exp_config *c, char *buf, size_t cap, const char **specs, size_t max) {
    snprintf(buf, cap, "%s", c->tasks);
    size_t n = 0;
    for (char *save = NULL, *s = strtok_r(buf, ",", &save); s && n < max;
         s = strtok_r(NULL, ",", &save))
        specs[n++] = s;
    return n;
}

int exp_tasks_hash(const exp_config *c, char hex[65], ah_err *e) {
    char buf[sizeof c->tasks];
    const char *specs[EXP_MAX_TASKS];
    size_t n = split(c, buf, sizeof buf, specs, EXP_MAX_TASKS);
    ah_sha256 *h = ah_sha256_new();
    if (!h) return ah_fail(e, "out of memory (hash)");
    char items[32];
    snprintf(items, sizeof items, "items=%d", c->task_items);
    ah_sha256_update(h, items, strlen(items) + 1);
    for (size_t i = 0; i < n; i++) {
        if (task_check_spec(specs[i], 1, e)) {
            ah_sha256_final(h, hex);
            return ah_wrap(e, "%s: [evaluation] tasks", c->source);
        }
        while (*specs[i] == ' ' || *specs[i] == '\t') specs[i]++;
        const char *colon = strchr(specs[i], ':');
        char path[EXP_PATH_MAX];
        snprintf(path, sizeof path, "%s", colon + 1);
        for (size_t k = strlen(path); k > 0 && (path[k - 1] == ' ' || path[k - 1] == '\t');)
            path[--k] = 0;
        size_t len;
        char *raw = ah_read_file(path, &len, e);
        if (!raw) {
            ah_sha256_final(h, hex);
            return -1;
        }
        // the task name and the file's bytes: the same file under another name is another task
        ah_sha256_update(h, specs[i], (size_t)(colon - specs[i]) + 1);
        ah_sha256_update(h, raw, len);
        free(raw);
    }
    ah_sha256_final(h, hex);
    return 0;
}

int exp_run_tasks(task_result **out, size_t *n_out, const exp_config *c, const model *m,
                  const tok_tokenizer *tok, const method_cfg *mc, const calib_set *cs,
                  const qpass *done, ah_err *e) {
    *out = NULL;
    *n_out = 0;
    char buf[sizeof c->tasks];
    const char *specs[EXP_MAX_TASKS];
    size_t n = split(c, buf, sizeof buf, specs, EXP_MAX_TASKS);
    task_result *r = calloc(n ? n : 1, sizeof *r);
    if (!r) return ah_fail(e, "out of memory (tasks)");
    // A second pass over the blocks quantizes them again; AWQ applies the scales the
    // perplexity pass searched (qpass awq_preset) instead of searching again.
    qpass *qp = NULL;
    if (mc->kind != METHOD_FP16) {
        if (!(qp = qpass_new(m, mc, cs, e))) goto fail;
        if (done && done->awq) qp->awq_preset = done->awq;
    }
    ll_opts lo = {.quiet = 1, .block_fn = qp ? qpass_block : NULL, .block_ctx = qp};
    if (task_run_many(r, specs, n, m, tok, &lo, (size_t)c->task_items, e)) goto fail;
    if (qp) qp->awq_preset = NULL;
    qpass_free(qp);
    *out = r;
    *n_out = n;
    return 0;
fail:
    if (qp) qp->awq_preset = NULL;
    qpass_free(qp);
    free(r);
    return ah_wrap(e, "zero-shot tasks");
}

void exp_tasks_free(task_result *r, size_t n) {
    for (size_t i = 0; r && i < n; i++) task_result_free(&r[i]);
    free(r);
}
