// tasks.c — read a task file, build lm-eval's requests, score them, aggregate (tasks.h).
#include "eval/tasks.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/mem.h"
#include "core/progress.h"
#include "eval/lmeval.h"
#include "eval/tasks_doc.h"
#include "text/dataset.h"
#include "text/pytext.h"

void task_result_free(task_result *r) {
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->items[i].ll);
        free(r->items[i].greedy);
        free(r->items[i].len);
    }
    free(r->items);
    r->items = NULL;
    r->n = 0;
}

// lm-eval's mean_stderr: sample standard deviation (n - 1) / sqrt(n).
static double mean_se(const task_item *it, size_t n, int norm) {
    if (n < 2) return 0.0;
    double m = 0.0, ss = 0.0;
    for (size_t i = 0; i < n; i++) m += norm ? it[i].acc_norm : it[i].acc;
    m /= (double)n;
    for (size_t i = 0; i < n; i++) {
        double d = (norm ? it[i].acc_norm : it[i].acc) - m;
        ss += d * d;
    }
    return sqrt(ss / (double)(n - 1)) / sqrt((double)n);
}

// Adds the requests of document d (item index i) to s.
static int add_requests(lme_set *s, const lme_ctx *c, const task_doc *d, const task_def *t,
                        size_t i, task_item *it, ah_err *e) {
    switch (t->kind) {
    case TASK_MC:
        for (int j = 0; j < d->nchoice; j++) {
            size_t n = strlen(d->choice[j]);
            char *cont = malloc(n + 2);
            if (!cont) return ah_fail(e, "out of memory");
            cont[0] = ' ';   // target_delimiter
            memcpy(cont + 1, d->choice[j], n + 1);
            int rc = lme_add_pair(s, c, d->ctx, strlen(d->ctx), cont, n + 1, i, e);
            free(cont);
            if (rc) return -1;
        }
        return 0;
    case TASK_PARTIAL: {
        size_t n = strlen(d->cont);
        char *cont = malloc(n + 2);
        if (!cont) return ah_fail(e, "out of memory");
        cont[0] = ' ';
        memcpy(cont + 1, d->cont, n + 1);
        int rc = 0;
        for (int j = 0; j < d->nchoice && !rc; j++)
            rc = lme_add_pair(s, c, d->choice[j], strlen(d->choice[j]), cont, n + 1, i, e);
        free(cont);
        return rc;
    }
    case TASK_LAST_WORD:
        return lme_add_pair(s, c, d->ctx, strlen(d->ctx), d->cont, strlen(d->cont), i, e);
    case TASK_ROLLING: {
        size_t toks = 0;
        if (lme_add_rolling(s, c, d->cont, strlen(d->cont), i, NULL, &toks, e)) return -1;
        it->tokens = (long)toks;
        return 0;
    }
    }
    return 0;
}

static int missing_file(const task_def *t, const char *path, ah_err *e);

// The task file's documents into items and requests.
static int read_file(task_result *r, lme_set *s, const lme_ctx *c, const char *path,
                     size_t max_items, ah_err *e) {
    const task_def *t = r->def;
    size_t len;
    char *raw = ah_read_file(path, &len, e);
    if (!raw) return missing_file(t, path, e);
    int rc = -1;
    size_t cap = 0, line = 0, i = 0, a, b;
    while ((max_items == 0 || r->n < max_items) && ds_jsonl_next(raw, len, &i, &line, &a, &b)) {
        json_error_t je;
        json_t *doc = json_loadb(raw + a, b - a, 0, &je);
        if (!doc) {
            ah_fail(e, "%s:%zu: not JSON: %s", path, line, je.text);
            goto out;
        }
        task_src src = {t, path, line};
        task_doc d;
        int bad = task_doc_build(&d, doc, &src, e);
        json_decref(doc);
        if (bad) goto out;
        if (r->n == cap) {
            cap = cap ? 2 * cap : 256;
            task_item *it = realloc(r->items, cap * sizeof *it);
            if (!it) {
                task_doc_free(&d);
                ah_fail(e, "out of memory (items)");
                goto out;
            }
            r->items = it;
        }
        task_item *it = &r->items[r->n];
        memset(it, 0, sizeof *it);
        r->n++;
        int nch = t->kind == TASK_MC || t->kind == TASK_PARTIAL ? d.nchoice : 1;
        it->nchoice = nch;
        it->gold = d.gold;
        it->words = d.words;
        it->bytes = d.bytes;
        it->ll = calloc((size_t)nch, sizeof *it->ll);
        it->greedy = calloc((size_t)nch, sizeof *it->greedy);
        it->len = calloc((size_t)nch, sizeof *it->len);
        if (!it->ll || !it->greedy || !it->len) {
            task_doc_free(&d);
            ah_fail(e, "out of memory (items)");
            goto out;
        }
        for (int k = 0; k < nch && d.choice; k++) it->len[k] = (int)pyt_len(d.choice[k]);
        bad = add_requests(s, c, &d, t, r->n - 1, it, e);
        task_doc_free(&d);
        if (bad) {
            ah_wrap(e, "%s:%zu", path, line);
            goto out;
        }
    }
    if (r->n == 0) {
        ah_fail(e, "%s: no documents in the %s task file", path, t->name);
        goto out;
    }
    rc = 0;
out:
    free(raw);
    return rc;
}

// Per-item and task metrics from the scored requests (lm-eval's process_results and
// aggregation).
static void aggregate(task_result *r, const lme_set *s, size_t q0, const ll_result *res) {
    const task_def *t = r->def;
    size_t q = q0;
    for (size_t i = 0; i < r->n; i++) {
        task_item *it = &r->items[i];
        if (t->kind == TASK_ROLLING) {   // every window of the document, summed
            for (; q < s->count && s->owner[q] == i; q++) it->ll[0] += res[q].logprob;
            continue;
        }
        for (int j = 0; j < it->nchoice; j++, q++) {
            it->ll[j] = res[q].logprob;
            it->greedy[j] = res[q].greedy;
        }
        if (t->kind == TASK_LAST_WORD) {
            it->acc = it->greedy[0];
            continue;
        }
        // np.argmax: the first maximum
        int pred = 0, pred_norm = 0;
        for (int j = 1; j < it->nchoice; j++) {
            if (it->ll[j] > it->ll[pred]) pred = j;
            if (it->ll[j] / it->len[j] > it->ll[pred_norm] / it->len[pred_norm]) pred_norm = j;
        }
        it->acc = pred == it->gold;
        it->acc_norm = pred_norm == it->gold;
    }
    double acc = 0, accn = 0, ll = 0;
    long words = 0, bytes = 0, tokens = 0;
    for (size_t i = 0; i < r->n; i++) {
        acc += r->items[i].acc;
        accn += r->items[i].acc_norm;
        ll += r->items[i].ll[0];
        words += r->items[i].words;
        bytes += r->items[i].bytes;
        tokens += r->items[i].tokens;
    }
    r->acc = acc / (double)r->n;
    r->acc_norm = accn / (double)r->n;
    r->acc_se = mean_se(r->items, r->n, 0);
    r->acc_norm_se = mean_se(r->items, r->n, 1);
    if (t->kind == TASK_LAST_WORD) r->ppl = exp(-ll / (double)r->n);
    if (t->kind == TASK_ROLLING) {
        r->words = words;
        r->bytes = bytes;
        r->tokens = tokens;
        r->word_ppl = exp(-ll / (double)words);
        r->byte_ppl = exp(-ll / (double)bytes);
        r->bits_per_byte = -ll / (double)bytes / log(2.0);
    }
}

// Task spec NAME:FILE into r->def and r->path.
static int parse_spec(task_result *r, const char *spec, ah_err *e) {
    while (*spec == ' ' || *spec == '\t') spec++;   // "a:F, b:G" in an INI list
    const char *colon = strchr(spec, ':');
    char name[64];
    size_t nl = colon ? (size_t)(colon - spec) : strlen(spec);
    snprintf(name, sizeof name, "%.*s", (int)(nl < sizeof name ? nl : sizeof name - 1), spec);
    if (!(r->def = task_find(name))) {
        char known[512] = "";
        for (size_t i = 0; i < task_table_n; i++)
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "",
                     task_table[i].name);
        return ah_fail(e, "task '%s': unknown (known: %s)", name, known);
    }
    if (!colon || !colon[1])
        return ah_fail(e, "task '%s': give its file as %s:FILE (JSON lines with %s)", name, name,
                       r->def->fields);
    if (strlen(colon + 1) >= sizeof r->path)
        return ah_fail(e, "task '%s': file name too long", name);
    snprintf(r->path, sizeof r->path, "%s", colon + 1);
    for (size_t n = strlen(r->path); n > 0 && (r->path[n - 1] == ' ' || r->path[n - 1] == '\t');)
        r->path[--n] = 0;
    return 0;
}

// The error of a task file that cannot be read: where to put it; nothing is downloaded.
static int missing_file(const task_def *t, const char *path, ah_err *e) {
    return ah_fail(e, "%s: cannot read the %s task file: export the dataset's rows (%s; "
                      "docs/TASKS.md) as JSON lines to this path; nothing is downloaded",
                   path, t->name, t->lm_eval);
}

int task_check_spec(const char *spec, int file, ah_err *e) {
    task_result r;
    memset(&r, 0, sizeof r);
    if (parse_spec(&r, spec, e)) return -1;
    if (file && access(r.path, R_OK) != 0) return missing_file(r.def, r.path, e);
    return 0;
}

int task_run_many(task_result *r, const char *const *specs, size_t n, const model *m,
                  const tok_tokenizer *tok, const ll_opts *o, size_t max_items, ah_err *e) {
    memset(r, 0, n * sizeof *r);
    double t0 = ah_now();
    lme_ctx c;
    lme_set s = {0};
    ll_result *res = NULL;
    size_t *q0 = calloc(n + 1, sizeof *q0);
    int rc = -1;
    if (!q0) {
        ah_fail(e, "out of memory");
        goto out;
    }
    if (lme_ctx_init(&c, tok, m->cfg.max_seq, e)) goto out;
    // Every task's requests in one set: one pass over the blocks (one quantization) for all.
    for (size_t i = 0; i < n; i++) {
        q0[i] = s.count;
        if (parse_spec(&r[i], specs[i], e) || read_file(&r[i], &s, &c, r[i].path, max_items, e))
            goto out;
        r[i].requests = s.count - q0[i];
    }
    q0[n] = s.count;
    const ll_request *req = lme_set_requests(&s, e);
    if (!req) goto out;
    if (!(res = calloc(s.count ? s.count : 1, sizeof *res))) {
        ah_fail(e, "out of memory (results)");
        goto out;
    }
    if (ll_score(res, m, req, s.count, o, e)) goto out;
    double secs = ah_now() - t0;
    for (size_t i = 0; i < n; i++) {
        aggregate(&r[i], &s, q0[i], res);
        // The pass is shared: each task's share of the time by its requests.
        r[i].seconds = s.count ? secs * (double)r[i].requests / (double)s.count : 0.0;
    }
    rc = 0;
out:
    if (rc)
        for (size_t i = 0; i < n; i++) task_result_free(&r[i]);
    free(res);
    free(q0);
    lme_set_free(&s);
    return rc;
}

int task_run(task_result *r, const char *spec, const model *m, const tok_tokenizer *tok,
             const ll_opts *o, size_t max_items, ah_err *e) {
    return task_run_many(r, &spec, 1, m, tok, o, max_items, e);
}
