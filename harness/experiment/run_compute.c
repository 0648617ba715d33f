// run_compute.c — computing one run and committing it (run_compute.h).
#include "experiment/run_compute.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/mem.h"
#include "experiment/awq_cache.h"
#include "experiment/efficiency.h"
#include "experiment/keys.h"
#include "experiment/record.h"
#include "experiment/run_tasks.h"
#include "text/pytext.h"

// What the evaluation's per-block hook carries: the run's quantization pass and its progress.
typedef struct {
    qpass *qp;                       // NULL for fp16
    volatile sig_atomic_t *stop;
    ah_progress *bar;
    int layers;
    char stage[160];
    double seconds;                  // time inside the hook: calibration + quantization
} block_hook;

// ppl_block_fn: stop check, progress, then the quantization pass.
static int run_block(void *ctx, int layer, block_f32 *b, ah_err *e) {
    block_hook *h = ctx;
    if (h->stop && *h->stop) return ah_fail(e, "interrupted");
    if (h->bar) {
        char s[200];
        snprintf(s, sizeof s, "%s block %d/%d", h->stage, layer + 1, h->layers);
        ah_progress_step(h->bar, layer ? 1 : 0, s);
    }
    if (!h->qp) return 0;
    double t0 = ah_now();
    int rc = qpass_block(h->qp, layer, b, e);
    h->seconds += ah_now() - t0;
    return rc;
}

// The calibration rows run mc reads: the whole sample for methods that use calibration
// statistics; for the others (rtn, minmax, ...) the output-error metrics are measured on the
// first CALIB_SAMPLE_TOKENS rows as for every method: with propagate = fp those rows depend
// only on the first sequences, so a prefix gives the same metrics at a fraction of the cost
// (*prefix holds that view). NULL when the run is not calibrated.
const calib_set *exp_run_calibration(const exp_inputs *s, const method_cfg *mc, calib_set *prefix) {
    if (mc->kind == METHOD_FP16 || s->cs.n == 0) return NULL;
    if (method_needs_calib(mc) || mc->propagate_quantized) return &s->cs;
    *prefix = s->cs;
    int need = (CALIB_SAMPLE_TOKENS + s->cs.len - 1) / s->cs.len;
    if (need < prefix->n) prefix->n = need;
    return prefix;
}

void exp_awq_preset_free(awq_block_result *preset, int n_layers) {
    if (!preset) return;
    for (int l = 0; l < n_layers; l++) awq_result_free(&preset[l]);
    free(preset);
}

awq_block_result *exp_awq_from_cache(const exp_config *c, const exp_inputs *s,
                                     const method_cfg *mc, ah_err *e) {
    char awq_path[EXP_PATH_MAX + 128], awq_key[65];
    exp_awq_key(mc, s->model_hash, s->calib_hash, awq_key);
    snprintf(awq_path, sizeof awq_path, "%s/awq/%s.h5", c->cache_dir, awq_key);
    if (access(awq_path, R_OK) != 0) return NULL;
    awq_block_result *preset = calloc((size_t)s->m->cfg.n_layers, sizeof *preset);
    if (!preset) return NULL;
    if (awq_cache_load(awq_path, awq_key, s->m, preset, e)) {
        fprintf(stderr, "warning: %s; searching again\n", e->msg);
        exp_awq_preset_free(preset, s->m->cfg.n_layers);
        return NULL;
    }
    return preset;
}

// A run's quantization pass and what goes with it (all empty for fp16): the pass, the
// salient-channel log its sink fills, the AWQ search taken from the cache, and the cache
// entry a search done here is saved to.
typedef struct {
    qpass *qp;
    exp_salient_log slog;
    awq_block_result *preset;        // [n_layers] from the cache; NULL: searched here (or none)
    char awq_key[65];                // "" unless the method uses AWQ
    char awq_path[EXP_PATH_MAX + 128];
} run_pass;

// The pass of method mc over the calibration rows cs (NULL: none) into *p (zeroed by the
// caller); its AWQ search from the cache where use_cache allows, cache then "awq-cached".
static int run_pass_open(run_pass *p, const exp_config *c, const exp_inputs *s,
                         const method_cfg *mc, const calib_set *cs, int use_cache,
                         char cache[16], ah_err *e) {
    if (mc->kind == METHOD_FP16) return 0;
    if (!(p->qp = qpass_new(s->m, mc, cs, e))) return -1;
    if (cs == &s->cs && qpass_keep_stats(p->qp, e)) return -1;
    if (exp_salient_log_init(&p->slog, s->m, e)) return -1;
    p->qp->sink = exp_salient_sink;
    p->qp->sink_ctx = &p->slog;
    if (!method_uses_awq(mc->kind)) return 0;
    exp_awq_key(mc, s->model_hash, s->calib_hash, p->awq_key);
    snprintf(p->awq_path, sizeof p->awq_path, "%s/awq/%s.h5", c->cache_dir, p->awq_key);
    // A damaged or misnamed cache entry is not fatal: search again and overwrite it.
    if (use_cache && (p->preset = exp_awq_from_cache(c, s, mc, e))) {
        p->qp->awq_preset = p->preset;
        snprintf(cache, 16, "awq-cached");
    }
    return 0;
}

// The seconds of the AWQ search done here (0 when taken from the cache or none), and its
// cache entry saved. The cache only saves later work: a failed save (full disk, read-only
// cache) is a warning naming run_id, the run itself is still recorded.
static double run_pass_save_awq(run_pass *p, const exp_inputs *s, const char *run_id,
                                int use_cache, ah_err *e) {
    if (!p->qp || !p->qp->awq || p->preset) return 0.0;
    double secs = 0.0;
    for (int l = 0; l < s->m->cfg.n_layers; l++) secs += p->qp->awq[l].seconds;
    if (p->awq_key[0] && use_cache &&
        awq_cache_save(p->awq_path, p->awq_key, s->m, p->qp->awq, e))
        fprintf(stderr, "warning: %s: AWQ search not cached: %s\n", run_id, e->msg);
    return secs;
}

static void run_pass_close(run_pass *p, int n_layers) {
    if (p->qp) p->qp->awq_preset = NULL;
    exp_awq_preset_free(p->preset, n_layers);
    exp_salient_log_free(&p->slog);
    qpass_free(p->qp);
}

// Run r: evaluated with its quantization pass in the evaluation's block hook, its tasks and
// efficiency measured, its record written at run_path, its AWQ search saved to the cache (when
// searched here) and its exports written (x). *out: what the final table shows of it.
static int compute_run(const exp_config *c, const exp_run *r, exp_inputs *s, const char *key,
                       const char *run_path, const exp_run_opts *o, ah_progress *bar,
                       exp_run_outcome *out, exp_run_exports *x, ah_err *e) {
    const method_cfg *mc = &r->mc;
    int quantized = mc->kind != METHOD_FP16;
    int calibrated = quantized && s->cs.n > 0;
    run_pass pass = {0};
    ppl_result pr = {0};
    task_result *tasks = NULL;
    size_t n_tasks = 0;
    int rc = -1;
    double t0 = ah_now();
    snprintf(out->cache, sizeof out->cache, "computed");

    calib_set metric_cs;
    const calib_set *use_cs = exp_run_calibration(s, mc, &metric_cs);
    if (run_pass_open(&pass, c, s, mc, use_cs, o->use_cache, out->cache, e)) goto done;
    qpass *qp = pass.qp;
    block_hook hook = {.qp = qp, .stop = o->stop, .bar = bar, .layers = s->m->cfg.n_layers};
    snprintf(hook.stage, sizeof hook.stage, "%s", r->id);
    // KL divergence: an FP run computed here leaves the reference (no extra forward pass); a
    // quantized run is compared with it (exp_execute built it first).
    ppl_opts po = {
        .protocol = c->protocol, .seqlen = s->seqlen, .max_windows = c->max_windows,
        .bos_id = s->tok ? tok_bos_id(s->tok) : s->m->cfg.bos_id, .quiet = 1,
        .block_fn = run_block, .block_ctx = &hook, .block_fn_reads_only = qp == NULL,
        .ref_out = c->kld && !quantized && s->have_ref == 0 ? &s->ref : NULL,
        .kld_ref = c->kld && quantized && s->have_ref == 1 ? &s->ref : NULL,
    };
    if (ppl_evaluate(&pr, s->m, s->eval.ids, s->eval.n, &po, e)) goto done;
    if (po.ref_out) s->have_ref = 1;
    if (!isfinite(pr.ppl)) {   // never recorded as a result
        ah_fail(e, "perplexity is %g (non-finite): the quantized model overflows", pr.ppl);
        goto done;
    }
    if (c->tasks[0] && exp_run_tasks(&tasks, &n_tasks, c, s->m, s->tok, mc, use_cs, qp, e))
        goto done;
    exp_efficiency eff;
    if (c->efficiency &&
        exp_efficiency_measure(&eff, c, s->m, s->eval.ids, s->eval.n, mc, use_cs, qp, e))
        goto done;
    if (bar) ah_progress_step(bar, 1, hook.stage);

    double awq_secs = run_pass_save_awq(&pass, s, r->id, o->use_cache, e);
    exp_record rec = {
        .cfg = c, .run = r, .m = s->m, .model_hash = s->model_hash, .eval_hash = s->eval_hash,
        .calib_hash = calibrated ? s->calib_hash : "", .key = key, .ppl = &pr, .qp = qp,
        .cs = use_cs, .salient = &pass.slog, .eval_tokens = s->eval.n,
        .eval_bytes = s->eval.text ? (long)s->eval.text_len : 0,
        .eval_words = s->eval.text ? pyt_split_ws_count(s->eval.text) : 0,
        .seqlen = s->seqlen, .threads = omp_get_max_threads(), .seconds = ah_now() - t0,
        .awq_seconds = awq_secs, .quant_seconds = hook.seconds, .cache = out->cache,
        .calib_overlap = s->cs_overlap,
        .tasks = tasks, .n_tasks = n_tasks, .eff = c->efficiency ? &eff : NULL,
    };
    if (exp_record_write(run_path, &rec, e)) goto done;
    // The exports quantize the run again with its own AWQ results (nothing is searched twice);
    // one that fails is recorded as failed, the run's results stand.
    if (x->overlay &&
        exp_export_run(&x->ctx, r, key, use_cs, pass.preset ? pass.preset : qp ? qp->awq : NULL,
                       x->overlay, &x->failed, &x->err)) {
        *e = x->err;
        goto done;
    }
    out->ppl = pr.ppl;
    out->kld = pr.has_kld ? pr.kld.mean : NAN;
    out->seconds = rec.seconds;
    out->how = EXP_DONE_COMPUTED;
    rc = 0;
done:
    run_pass_close(&pass, s->m->cfg.n_layers);
    exp_tasks_free(tasks, n_tasks);
    ppl_result_free(&pr);
    return rc;
}

// The FP reference of the KL divergence when no FP run computed in this process left it: one
// FP evaluation of the same windows, kept for the whole sweep (an FP run taken from the run
// cache or the results file did no work here). Costs one FP evaluation per process and
// W x P x C floats (eval/kld.h: the FP-weighted head rows of the scored positions).
static int ensure_ref(exp_inputs *s, const exp_config *c, int quiet, ah_err *e) {
    if (s->have_ref) return 0;
    ppl_result fr;
    ppl_opts po = {
        .protocol = c->protocol, .seqlen = s->seqlen, .max_windows = c->max_windows,
        .bos_id = s->tok ? tok_bos_id(s->tok) : s->m->cfg.bos_id, .quiet = 1, .ref_out = &s->ref,
    };
    if (ppl_evaluate(&fr, s->m, s->eval.ids, s->eval.n, &po, e))
        return ah_wrap(e, "the FP reference of the KL divergence");
    if (!quiet)
        fprintf(stderr, "FP reference for the KL divergence: perplexity %.4f, %.1f s, %.1f MiB "
                        "of reference\n", fr.ppl, fr.seconds,
                (double)(s->ref.W * s->ref.P * s->ref.C * sizeof(float)) / (1 << 20));
    ppl_result_free(&fr);
    s->have_ref = 1;
    return 0;
}

int exp_run_compute_commit(store *st, const exp_config *c, const exp_run *r, exp_inputs *s,
                           const char *key, const char *run_path, const exp_run_opts *o,
                           ah_progress *bar, exp_run_outcome *out, exp_run_exports *x, ah_err *e) {
    char tmp_path[EXP_PATH_MAX + 160];
    const char *path = run_path;
    if (!o->use_cache) {   // the run file is only a staging area: removed after commit
        snprintf(tmp_path, sizeof tmp_path, "%s/runs/uncached-%d-%s.h5", c->cache_dir,
                 (int)getpid(), key);
        path = tmp_path;
    }
    // An FP model whose evaluation fails (overflowing activations) leaves no reference:
    // said once, and the quantized runs are computed and recorded without the KLD (a
    // later `run` computes them again once the reference can be built).
    // (The stage a batch log's heartbeat names until the run's first block.)
    if (c->kld && r->mc.kind != METHOD_FP16 && !s->have_ref)
        ah_progress_step(bar, 0, "FP reference for the KL divergence");
    if (c->kld && r->mc.kind != METHOD_FP16 && ensure_ref(s, c, o->quiet, e)) {
        fprintf(stderr, "warning: %s; the quantized runs are recorded without it\n", e->msg);
        s->have_ref = -1;
    }
    ah_progress_step(bar, 0, r->id);
    if (compute_run(c, r, s, key, path, o, o->quiet ? NULL : bar, out, x, e)) return EXP_RUN_FAILED;
    int rc = exp_run_commit(st, r->id, path, NULL, 0, x, e);
    if (!o->use_cache) unlink(path);
    return rc ? -1 : 0;
}
