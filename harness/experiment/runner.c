// runner.c — executing planned runs (runner.h): the walk over a plan's inputs and, for each,
// over its runs; each run is resumed from the results file, committed from the run cache
// (run_cache.h) or computed (run_compute.h), with its [export] formats (run_export.h).
#include "experiment/runner.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/progress.h"
#include "experiment/data_axes.h"
#include "experiment/export_step.h"
#include "experiment/inputs.h"
#include "experiment/run_cache.h"
#include "experiment/run_compute.h"
#include "experiment/run_export.h"
#include "store/store.h"

// ---- the keys -------------------------------------------------------------------------------

static int print_keys_input(const exp_config *c, const exp_plan *plan, FILE *out, ah_err *e) {
    exp_inputs s;
    exp_plan local = {0};                 // the plan with [export]'s scale dtypes (keys hash them)
    tok_tokenizer *tok = NULL;
    int rc = exp_inputs_load(&s, c, plan, 1, e);
    if (rc == 0 && c->n_exports) {
        rc = exp_export_prepare(c, c->output, s.m, s.tok, &tok, plan, &local, e);
        plan = &local;
    }
    for (int i = 0; rc == 0 && i < plan->n; i++) {
        char key[65], awq[65];
        if ((rc = exp_inputs_use_calib(&s, c, &plan->runs[i].mc, e))) break;
        exp_run_key(c, &plan->runs[i], &s, key);
        exp_run_awq_key(&plan->runs[i], &s, awq);
        fprintf(out, "%-36s run %s awq %s\n", plan->runs[i].id, key, awq);
    }
    tok_free(tok);
    free(local.runs);
    exp_inputs_free(&s);
    return rc;
}

// ---- the table ------------------------------------------------------------------------------

static void print_table(const exp_plan *plan, const exp_run_outcome *res, const int *done, FILE *f) {
    double fp = -1;
    for (int i = 0; i < plan->n; i++)
        if (done[i] && plan->runs[i].mc.kind == METHOD_FP16) fp = res[i].ppl;
    fprintf(f, "\n%-40s %12s %10s %9s %9s  %s\n", "run", "perplexity", "vs fp16", "KLD",
            "seconds", "");
    for (int i = 0; i < plan->n; i++) {
        char delta[32] = "";
        if (!done[i]) {
            fprintf(f, "%-40s %12s\n", plan->runs[i].id,
                    strcmp(res[i].cache, "failed") ? "(not run)" : "(failed)");
            continue;
        }
        if (fp > 0 && plan->runs[i].mc.kind != METHOD_FP16)
            snprintf(delta, sizeof delta, "%+.3f", res[i].ppl - fp);
        const char *how = res[i].how == EXP_DONE_RESUMED ? "already in the results file"
                        : res[i].how == EXP_DONE_CACHED ? "from the run cache"
                        : strcmp(res[i].cache, "awq-cached") == 0 ? "AWQ search from the cache" : "";
        char kld[32] = "";
        if (!isnan(res[i].kld)) snprintf(kld, sizeof kld, "%.5f", res[i].kld);
        fprintf(f, "%-40s %12.4f %10s %9s %9.1f  %s\n", plan->runs[i].id, res[i].ppl, delta, kld,
                res[i].seconds, how);
    }
}

// ---- the experiment ---------------------------------------------------------------------------

// /summary string fields hold STORE_STR_MAX bytes (the run attributes hold the whole text):
// said, not cut silently, and a table telling runs apart by these columns needs them to differ
// within that (issue 19; a variable-length /summary would lift it).
static void warn_summary_cut(const exp_config *c) {
    const char *names[] = {"[model] path", "[evaluation] data", "[calibration] data"};
    const char *texts[] = {c->model_path, c->eval_data, c->calib};
    for (int k = 0; k < 3; k++)
        if (strlen(texts[k]) > STORE_STR_MAX)
            fprintf(stderr, "warning: %s: %s is %zu bytes; /summary keeps its first %d (the run "
                            "attributes model / eval_data / calib keep it whole)\n", c->source,
                    names[k], strlen(texts[k]), STORE_STR_MAX);
}

// What the runs of an input read, said once before them.
static void describe_inputs(const exp_config *c, const exp_inputs *s, const char *output) {
    char desc[256];
    model_describe(s->m, desc, sizeof desc);
    fprintf(stderr, "model: %s (%s)\neval: %s, %zu tokens, %zu windows of %d\n", c->model_path,
            desc, c->eval_data, s->eval.n, ppl_window_count(s->eval.n, s->seqlen), s->seqlen);
    if (s->n_cals == 1)
        fprintf(stderr, "calibration: %s, %d sequences of %d tokens\n", c->calib, s->cs.n, s->cs.len);
    else if (s->n_cals > 1)
        fprintf(stderr, "calibration: %s, %d samples (seeds, sizes, lengths of the sweep)\n",
                c->calib, s->n_cals);
    fprintf(stderr, "results: %s (cache %s)\n", output, c->cache_dir);
}

// The runs of one input (data_axes.h): c is the experiment with that input applied.
static int execute_input(const exp_config *c, const exp_plan *plan, const exp_run_opts *o,
                         ah_err *e) {
    const char *output = o->output ? o->output : c->output;
    if (exp_run_cache_dirs(c, output, o->quiet, e)) return -1;

    exp_inputs s;
    store *st = NULL;
    exp_run_exports xs;
    exp_run_exports_init(&xs);
    int n_export_failed = 0;
    exp_run_outcome *res = calloc((size_t)plan->n + 1, sizeof *res);
    int *done = calloc((size_t)plan->n + 1, sizeof *done);
    int status = -1, n_done = 0, n_failed = 0;
    ah_progress bar;
    int bar_started = 0;
    if (!res || !done) {
        free(res);
        free(done);
        return ah_fail(e, "out of memory");
    }
    warn_summary_cut(c);
    if (exp_inputs_load(&s, c, plan, o->quiet, e)) goto out;
    // [export]: the runs as their formats need them quantized (scale dtype).
    if (exp_run_exports_begin(&xs, c, output, &s, &plan, o->quiet, e)) goto out;
    if (!o->quiet) describe_inputs(c, &s, output);
    store_meta meta = {.experiment = c->name, .experiment_ini = c->ini_text};
    if (!(st = store_open(output, &meta, e))) goto out;

    int tty = isatty(STDERR_FILENO) && !o->quiet;
    // Units: one per block of every run plus one for finishing it. On a terminal a bar; in a
    // batch log a line every 10% and at least every 30 s (a heartbeat while one block takes
    // longer: a 7B model's AWQ search spends minutes in one).
    ah_progress_start(&bar, "run", (long)plan->n * (s.m->cfg.n_layers + 1), o->quiet);
    ah_progress_heartbeat(&bar);
    bar_started = 1;
    status = 0;
    for (int i = 0; i < plan->n; i++) {
        const exp_run *r = &plan->runs[i];
        char key[65], run_path[EXP_PATH_MAX + 128];
        if (exp_inputs_use_calib(&s, c, &r->mc, e)) {
            status = -1;
            break;
        }
        exp_run_key(c, r, &s, key);
        snprintf(run_path, sizeof run_path, "%s/runs/%s.h5", c->cache_dir, key);
        char overlay[EXP_PATH_MAX + 160];
        snprintf(overlay, sizeof overlay, "%s/runs/export-%d-%s.h5", c->cache_dir, (int)getpid(), key);
        xs.overlay = c->n_exports ? overlay : NULL;
        xs.failed = 0;
        if (o->stop && *o->stop) {
            status = 1;
            break;
        }
        if (!tty && !o->quiet)
            fprintf(stderr, "[%d/%d] %s ...\n", i + 1, plan->n, r->id);
        exp_run_outcome *out = &res[i];
        if (o->resume && exp_run_resumable(c, r, st, output, key, o->quiet)) {
            out->how = EXP_DONE_RESUMED;
        } else if (o->use_cache && exp_run_cache_usable(c, r, run_path, key, o->quiet)) {
            if (exp_run_commit_cached(st, c, r, &s, key, run_path, &xs, e)) {
                status = -1;
                break;
            }
            out->how = EXP_DONE_CACHED;
        } else {
            int rc = exp_run_compute_commit(st, c, r, &s, key, run_path, o, &bar, out, &xs, e);
            if (rc == EXP_RUN_FAILED && o->stop && *o->stop) {
                status = 1;
                break;
            }
            if (rc == EXP_RUN_FAILED) {
                // One failed run (NaN perplexity, a bad tensor) does not stop the sweep: it is
                // reported, not committed, and the command exits non-zero at the end.
                if (tty) fputc('\n', stderr);
                fprintf(stderr, "run %s failed: %s\n", r->id, e->msg);
                snprintf(out->cache, sizeof out->cache, "failed");
                n_failed++;
                ah_progress_step(&bar, s.m->cfg.n_layers + 1, r->id);
                continue;
            }
            if (rc) {
                status = -1;
                break;
            }
        }
        if (out->how != EXP_DONE_COMPUTED) {   // the result as committed
            exp_run_committed_outcome(output, r->id, out);
            ah_progress_step(&bar, s.m->cfg.n_layers + 1, r->id);
        }
        if (xs.failed) {   // the run is recorded, with its failed exports said so
            fprintf(stderr, "run %s: %s\n", r->id, xs.err.msg);
            n_export_failed++;
        }
        done[i] = 1;
        n_done++;
        if (!tty && !o->quiet)
            fprintf(stderr, "[%d/%d] %s: ppl %.4f (%s, %.1f s)\n", i + 1, plan->n, r->id, out->ppl,
                    out->how == EXP_DONE_RESUMED ? "already complete" :
                    out->how == EXP_DONE_CACHED ? "run cache" : out->cache, out->seconds);
    }
    if (tty) fputc('\n', stderr);
    if (status == 0 && n_failed) {
        ah_fail(e, "%d of %d runs failed (their errors are above); the others are in %s",
                n_failed, plan->n, output);
        status = -1;
    } else if (status == 0 && n_export_failed) {
        ah_fail(e, "the exports of %d of %d runs failed (their errors are above and in their "
                   "records); the runs are in %s", n_export_failed, plan->n, output);
        status = -1;
    }
    print_table(plan, res, done, stdout);
    printf("\n%d of %d runs complete in %s\n", n_done, plan->n, output);
    if (status == 1)
        fprintf(stderr, "interrupted: %d runs are safely in %s; run the same command again to "
                        "resume\n", n_done, output);
out:
    if (bar_started) ah_progress_end(&bar);
    store_close(st);
    exp_inputs_free(&s);
    exp_run_exports_free(&xs);
    free(res);
    free(done);
    return status;
}

// ---- inputs ------------------------------------------------------------------------------------

// The runs of input k of plan (a copy of their entries, freed with exp_plan_free's free()).
static int input_plan(const exp_plan *plan, int k, exp_plan *sub, ah_err *e) {
    memset(sub, 0, sizeof *sub);
    if (!(sub->runs = malloc((size_t)(plan->n ? plan->n : 1) * sizeof *sub->runs)))
        return ah_fail(e, "out of memory");
    for (int i = 0; i < plan->n; i++)
        if (plan->runs[i].input == k) sub->runs[sub->n++] = plan->runs[i];
    sub->cap = sub->n;
    return 0;
}

// Calls fn on each input of the plan that has runs, with the experiment as that input makes
// it; a plan built without inputs (tests) is one input, c itself. Every input is tried (one
// model missing does not stop the others): the first error is kept, and an interruption (1)
// stops at once.
typedef int (*input_fn)(const exp_config *c, const exp_plan *plan, void *ctx, ah_err *e);
static int each_input(const exp_config *c, const exp_plan *plan, int quiet, input_fn fn,
                      void *ctx, ah_err *e) {
    if (!plan->inputs) return fn(c, plan, ctx, e);
    if (plan->n_inputs == 1) {
        exp_config in;
        exp_input_config(c, &plan->inputs[0], &in);
        return fn(&in, plan, ctx, e);
    }
    int status = 0, failed = 0;
    ah_err first = {{0}};
    for (int k = 0; k < plan->n_inputs; k++) {
        exp_plan sub;
        if (input_plan(plan, k, &sub, e)) return -1;
        if (sub.n == 0) {
            free(sub.runs);
            continue;
        }
        exp_config in;
        exp_input_config(c, &plan->inputs[k], &in);
        if (!quiet) {
            char d[512];
            exp_input_describe(c, &plan->inputs[k], 1, d, sizeof d);
            fprintf(stderr, "\n== input %d of %d: %s (%d runs)\n", k + 1, plan->n_inputs, d, sub.n);
        }
        int rc = fn(&in, &sub, ctx, e);
        free(sub.runs);
        if (rc == 1) return 1;
        if (rc < 0) {
            if (!failed++) first = *e;
            fprintf(stderr, "input %d of %d failed: %s\n", k + 1, plan->n_inputs, e->msg);
            status = -1;
        }
    }
    if (failed) *e = first;
    return status;
}

static int execute_fn(const exp_config *c, const exp_plan *plan, void *ctx, ah_err *e) {
    return execute_input(c, plan, ctx, e);
}

// [export] at plan time: every run of every input checked against every format on its model
// (mapped, nothing computed), so a refused combination fails before any run and writes nothing.
static int export_check_fn(const exp_config *c, const exp_plan *plan, void *ctx, ah_err *e) {
    const exp_run_opts *o = ctx;
    exp_plan copy = {0};
    tok_tokenizer *tok = NULL;
    model *m = model_load(c->model_path, e);
    int rc = -1;
    if (!m) {
        ah_wrap(e, "%s: [export]: checking the formats", c->source);
        goto out;
    }
    rc = exp_export_prepare(c, o->output ? o->output : c->output, m, NULL, &tok, plan, &copy, e);
out:
    free(copy.runs);
    tok_free(tok);
    model_free(m);
    return rc;
}

int exp_execute(const exp_config *c, const exp_plan *plan, const exp_run_opts *o, ah_err *e) {
    if (c->n_exports && each_input(c, plan, 1, export_check_fn, (void *)o, e)) return -1;
    return each_input(c, plan, o->quiet, execute_fn, (void *)o, e);
}

static int keys_fn(const exp_config *c, const exp_plan *plan, void *ctx, ah_err *e) {
    return print_keys_input(c, plan, ctx, e);
}

int exp_print_keys(const exp_config *c, const exp_plan *plan, FILE *out, ah_err *e) {
    return each_input(c, plan, 1, keys_fn, out, e);
}
