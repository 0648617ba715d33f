// runner.c — executing planned runs (runner.h).
#include "experiment/runner.h"

#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "text/inputs.h"
#include "core/hash.h"
#include "core/progress.h"
#include "core/mem.h"
#include "experiment/awq_cache.h"
#include "experiment/export_step.h"
#include "experiment/inputs.h"
#include "experiment/keys.h"
#include "experiment/overlap.h"
#include "experiment/record.h"
#include "experiment/run_tasks.h"
#include "experiment/efficiency.h"
#include "text/pytext.h"
#include "store/store.h"

static int file_exists(const char *p) { return access(p, R_OK) == 0; }

typedef exp_inputs shared_inputs;   // inputs every run shares, loaded once (inputs.h)

void exp_inputs_free(exp_inputs *s) {
    kld_ref_free(&s->ref);
    for (int i = 0; i < s->n_cals; i++) calib_set_free(&s->cals[i].cs);
    exp_ngrams_free(&s->eval_grams);
    free(s->cals);
    ds_ids_free(&s->calib_text);
    ds_ids_free(&s->eval);
    tok_free(s->tok);
    model_free(s->m);
}

static int needs_calibration(const exp_config *c, const exp_plan *plan) {
    if (!c->calib[0]) return 0;
    for (int i = 0; i < plan->n; i++)
        if (plan->runs[i].mc.kind != METHOD_FP16) return 1;   // metrics for every method
    return 0;
}

// A group size that does not divide a linear's input width leaves a shorter last group in each
// row (docs/AWQ.md); legal, but rarely what a sweep meant, so say so once per size.
static void warn_groups(const exp_config *c, const exp_plan *plan, const model *m, int quiet) {
    int warned[64] = {0}, n_warned = 0;
    for (int i = 0; i < plan->n && !quiet; i++) {
        const method_cfg *mc = &plan->runs[i].mc;
        if (mc->kind == METHOD_FP16 || mc->q.group <= 0) continue;
        int seen = 0;
        for (int j = 0; j < n_warned; j++) seen |= warned[j] == mc->q.group;
        if (seen || n_warned == 64) continue;
        warned[n_warned++] = mc->q.group;
        for (int k = 0; k < FWD_IN_COUNT; k++) {
            int w = model_input_width(&m->cfg, (fwd_input)k);
            if (w % mc->q.group == 0) continue;
            fprintf(stderr, "note: %s: group_size %d does not divide the %s linears' input width "
                            "%d; each row ends with a group of %d\n", c->source, mc->q.group,
                    arch_input_linears((fwd_input)k),
                    w, w % mc->q.group);
        }
    }
}

// Makes run mc's calibration sample current (s->cs, s->calib_hash): the one drawn with its
// seed, number of sequences and length, drawn once per experiment and shared by every run
// that names the same three (so by their AWQ-search and run cache keys, which hash its tokens).
int exp_inputs_use_calib(exp_inputs *s, const exp_config *c, const method_cfg *mc, ah_err *e) {
    if (!s->calib_text.ids) return 0;
    int max = s->m->cfg.max_seq;
    int len = mc->calib_seqlen ? mc->calib_seqlen : (max < 512 ? max : 512);
    if (len > max)
        return ah_fail(e, "%s: [calibration] seqlen %d is longer than the model allows (%d)",
                       c->source, len, max);
    calib_entry *en = NULL;
    for (int i = 0; i < s->n_cals && !en; i++)
        if (s->cals[i].seed == mc->seed && s->cals[i].samples == mc->calib_samples &&
            s->cals[i].len == len)
            en = &s->cals[i];
    if (!en) {
        calib_entry *grown = realloc(s->cals, (size_t)(s->n_cals + 1) * sizeof *grown);
        if (!grown) return ah_fail(e, "out of memory");
        s->cals = grown;
        en = &s->cals[s->n_cals];
        memset(en, 0, sizeof *en);
        en->seed = mc->seed;
        en->samples = mc->calib_samples;
        en->len = len;
        if (calib_set_make(&en->cs, s->calib_text.ids, s->calib_text.n, mc->calib_samples, len,
                           mc->seed, c->calib_first, c->calib, e))
            return -1;
        exp_ids_hash(en->cs.tokens, (size_t)en->cs.n * en->cs.len, en->hash);
        s->n_cals++;
        en->overlap = exp_overlap_count(&s->eval_grams, &en->cs);
        if (en->overlap)
            fprintf(stderr, "warning: %s: %d of %d calibration sequences (seed %llu) share "
                            "passages of %d tokens with the evaluation data %s: its "
                            "perplexities are measured on text the calibration saw "
                            "(recorded as calib_eval_overlap)\n", c->calib, en->overlap,
                    en->cs.n, (unsigned long long)en->seed, OVERLAP_TOKENS, c->eval_data);
    }
    s->cs = en->cs;
    s->cs_overlap = en->overlap;
    memcpy(s->calib_hash, en->hash, sizeof s->calib_hash);
    return 0;
}

int exp_inputs_load(exp_inputs *s, const exp_config *c, const exp_plan *plan, int quiet,
                    ah_err *e) {
    memset(s, 0, sizeof *s);
    char tpath[EXP_PATH_MAX];
    const char *wt = c->wikitext_dir[0] ? c->wikitext_dir : NULL;
    if (access(c->model_path, F_OK) != 0) {   // say how to get it, not only that it is missing
        const char *base = strrchr(c->model_path, '/');
        base = base ? base + 1 : c->model_path;
        if (c->hf_id[0])
            return ah_fail(e, "%s: [model] path %s does not exist: it is HuggingFace %s; fetch it "
                              "with `tools/fetch-model %s --name %s` (or set AH_MODELS)",
                           c->source, c->model_path, c->hf_id, c->hf_id, base);
        return ah_fail(e, "%s: [model] path %s does not exist", c->source, c->model_path);
    }
    if (!(s->m = model_load(c->model_path, e))) return -1;
    warn_groups(c, plan, s->m, quiet);
    if (ds_tokenizer_path(tpath, sizeof tpath, c->model_path, c->tokenizer[0] ? c->tokenizer : NULL, e))
        return -1;
    if (strncmp(c->eval_data, "ids:", 4) || c->calib[0] || c->tasks[0])
        if (!(s->tok = tok_load(tpath, e))) return -1;
    if (ds_load_ids(&s->eval, s->tok, c->eval_data, wt, c->protocol == PPL_LLAMACPP, 1, e))
        return ah_wrap(e, "[evaluation] data");
    s->seqlen = c->seqlen ? c->seqlen : (s->m->cfg.max_seq < 2048 ? s->m->cfg.max_seq : 2048);
    if (s->seqlen > s->m->cfg.max_seq)
        return ah_fail(e, "%s: [evaluation] seqlen %d is longer than the model allows (%d)",
                       c->source, s->seqlen, s->m->cfg.max_seq);
    if (ppl_window_count(s->eval.n, s->seqlen) == 0)
        return ah_fail(e, "%s: %zu tokens make no window of %d", c->eval_data, s->eval.n, s->seqlen);
    if (exp_efficiency_check(c, plan, s->m, s->eval.n, e)) return -1;
    if (!quiet) fprintf(stderr, "hashing weights and data (cache keys)...\n");
    exp_model_hash(s->m, s->model_hash);
    exp_ids_hash(s->eval.ids, s->eval.n, s->eval_hash);
    if (c->tasks[0] && exp_tasks_hash(c, s->tasks_hash, e)) return -1;
    snprintf(s->calib_hash, sizeof s->calib_hash, "-");
    if (needs_calibration(c, plan)) {
        if (ds_load_ids(&s->calib_text, s->tok, c->calib, wt, 0, 1, e))
            return ah_wrap(e, "[calibration] data");
        if (exp_ngrams_build(&s->eval_grams, s->eval.ids, s->eval.n, e)) return -1;
        // Every sample the plan draws, made here: a bad length fails before any run, and
        // --keys prints every run's key.
        for (int i = 0; i < plan->n; i++)
            if (exp_inputs_use_calib(s, c, &plan->runs[i].mc, e)) return -1;
        if (exp_inputs_use_calib(s, c, &plan->runs[0].mc, e)) return -1;
    }
    return 0;
}

// ---- one run ----------------------------------------------------------------------------------

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

typedef struct {
    double ppl, seconds;
    double kld;                      // mean KLD from the FP model; NaN: none (fp16, kld = no)
    exp_done_how how;
    char cache[16];
} run_outcome;

// The calibration rows run mc reads: the whole sample for methods that use calibration
// statistics; for the others (rtn, minmax, ...) the output-error metrics are measured on the
// first CALIB_SAMPLE_TOKENS rows as for every method: with propagate = fp those rows depend
// only on the first sequences, so a prefix gives the same metrics at a fraction of the cost
// (*prefix holds that view). NULL when the run is not calibrated.
static const calib_set *run_calibration(const shared_inputs *s, const method_cfg *mc,
                                        calib_set *prefix) {
    if (mc->kind == METHOD_FP16 || s->cs.n == 0) return NULL;
    if (method_needs_calib(mc) || mc->propagate_quantized) return &s->cs;
    *prefix = s->cs;
    int need = (CALIB_SAMPLE_TOKENS + s->cs.len - 1) / s->cs.len;
    if (need < prefix->n) prefix->n = need;
    return prefix;
}

static void awq_preset_free(awq_block_result *preset, int n_layers) {
    if (!preset) return;
    for (int l = 0; l < n_layers; l++) awq_result_free(&preset[l]);
    free(preset);
}

// Run mc's AWQ search from <cache>/awq/ ([n_layers], awq_preset_free), or NULL: none there, or
// a damaged or misnamed entry (not fatal: a warning, and the caller searches again).
static awq_block_result *awq_from_cache(const exp_config *c, const shared_inputs *s,
                                        const method_cfg *mc, ah_err *e) {
    char awq_path[EXP_PATH_MAX + 128], awq_key[65];
    exp_awq_key(mc, s->model_hash, s->calib_hash, awq_key);
    snprintf(awq_path, sizeof awq_path, "%s/awq/%s.h5", c->cache_dir, awq_key);
    if (!file_exists(awq_path)) return NULL;
    awq_block_result *preset = calloc((size_t)s->m->cfg.n_layers, sizeof *preset);
    if (!preset) return NULL;
    if (awq_cache_load(awq_path, awq_key, s->m, preset, e)) {
        fprintf(stderr, "warning: %s; searching again\n", e->msg);
        awq_preset_free(preset, s->m->cfg.n_layers);
        return NULL;
    }
    return preset;
}

// The run attributes an export overlay sets (results/README.md; /summary columns).
static const char *const EXPORT_ATTRS[] = {"exports", "export_max_abs_diff"};

// What a sweep with [export] carries into each run (export_step.h).
typedef struct {
    exp_export_ctx ctx;
    const char *overlay;             // the run's overlay file (NULL: no [export])
    int failed;                      // exports of the run that failed
    ah_err err;                      // the first one's error
} run_exports;

// The exports of run r (key), not computed here (taken from a cache or resumed): written from
// a new quantization pass with the AWQ search from the cache, or found complete on disk.
static int export_uncomputed(const exp_config *c, const exp_run *r, const shared_inputs *s,
                             const char *key, run_exports *x, ah_err *e) {
    calib_set prefix;
    const calib_set *cs = run_calibration(s, &r->mc, &prefix);
    awq_block_result *preset = method_uses_awq(r->mc.kind) ? awq_from_cache(c, s, &r->mc, e) : NULL;
    int rc = exp_export_run(&x->ctx, r, key, cs, preset, x->overlay, &x->failed, &x->err);
    if (rc) *e = x->err;
    awq_preset_free(preset, s->m->cfg.n_layers);
    return rc;
}

static int compute_run(const exp_config *c, const exp_run *r, shared_inputs *s, const char *key,
                       const char *run_path, const exp_run_opts *o, ah_progress *bar,
                       run_outcome *out, run_exports *x, ah_err *e) {
    const method_cfg *mc = &r->mc;
    int quantized = mc->kind != METHOD_FP16;
    int calibrated = quantized && s->cs.n > 0;
    qpass *qp = NULL;
    ppl_result pr = {0};
    exp_salient_log slog = {0};
    awq_block_result *preset = NULL;
    task_result *tasks = NULL;
    size_t n_tasks = 0;
    char awq_path[EXP_PATH_MAX + 128] = "", awq_key[65];
    int rc = -1;
    double t0 = ah_now();
    snprintf(out->cache, sizeof out->cache, "computed");

    calib_set metric_cs;
    const calib_set *use_cs = run_calibration(s, mc, &metric_cs);
    if (quantized) {
        if (!(qp = qpass_new(s->m, mc, use_cs, e))) goto done;
        if (use_cs == &s->cs && qpass_keep_stats(qp, e)) goto done;
        if (exp_salient_log_init(&slog, s->m, e)) goto done;
        qp->sink = exp_salient_sink;
        qp->sink_ctx = &slog;
    }
    if (method_uses_awq(mc->kind)) {
        exp_awq_key(mc, s->model_hash, s->calib_hash, awq_key);
        snprintf(awq_path, sizeof awq_path, "%s/awq/%s.h5", c->cache_dir, awq_key);
        // A damaged or misnamed cache entry is not fatal: search again and overwrite it.
        if (o->use_cache && (preset = awq_from_cache(c, s, mc, e))) {
            qp->awq_preset = preset;
            snprintf(out->cache, sizeof out->cache, "awq-cached");
        }
    }
    block_hook hook = {.qp = qp, .stop = o->stop, .bar = bar, .layers = s->m->cfg.n_layers};
    snprintf(hook.stage, sizeof hook.stage, "%s", r->id);
    // KL divergence: an FP run computed here leaves the reference (no extra forward pass); a
    // quantized run is compared with it (exp_execute built it first).
    ppl_opts po = {
        .protocol = c->protocol, .seqlen = s->seqlen, .max_windows = c->max_windows,
        .bos_id = s->tok ? tok_bos_id(s->tok) : s->m->cfg.bos_id, .quiet = 1,
        .block_fn = run_block, .block_ctx = &hook,
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

    double awq_secs = 0.0;
    if (qp && qp->awq && !preset)
        for (int l = 0; l < s->m->cfg.n_layers; l++) awq_secs += qp->awq[l].seconds;
    // The AWQ cache only saves later work: a failed save (full disk, read-only cache) is a
    // warning, the run itself is still recorded.
    if (method_uses_awq(mc->kind) && !preset && o->use_cache &&
        awq_cache_save(awq_path, awq_key, s->m, qp->awq, e))
        fprintf(stderr, "warning: %s: AWQ search not cached: %s\n", r->id, e->msg);
    exp_record rec = {
        .cfg = c, .run = r, .m = s->m, .model_hash = s->model_hash, .eval_hash = s->eval_hash,
        .calib_hash = calibrated ? s->calib_hash : "", .key = key, .ppl = &pr, .qp = qp,
        .cs = use_cs, .salient = &slog, .eval_tokens = s->eval.n,
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
        exp_export_run(&x->ctx, r, key, use_cs, preset ? preset : qp ? qp->awq : NULL, x->overlay,
                       &x->failed, &x->err)) {
        *e = x->err;
        goto done;
    }
    out->ppl = pr.ppl;
    out->kld = pr.has_kld ? pr.kld.mean : NAN;
    out->seconds = rec.seconds;
    out->how = EXP_DONE_COMPUTED;
    rc = 0;
done:
    if (qp) qp->awq_preset = NULL;
    awq_preset_free(preset, s->m->cfg.n_layers);
    exp_salient_log_free(&slog);
    exp_tasks_free(tasks, n_tasks);
    ppl_result_free(&pr);
    qpass_free(qp);
    return rc;
}

// The FP reference of the KL divergence when no FP run computed in this process left it: one
// FP evaluation of the same windows, kept for the whole sweep (an FP run taken from the run
// cache or the results file did no work here). Costs one FP evaluation per process and
// W x P x C floats (eval/kld.h: the FP-weighted head rows of the scored positions).
static int ensure_ref(shared_inputs *s, const exp_config *c, int quiet, ah_err *e) {
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

// Whether the record of run r at path (run group id; NULL: a run cache file) has what this
// build records: a quantized run recorded before the KL divergence existed lacks kld_mean and
// is computed again. Its key and id stay the same: KLD is a metric, not a parameter.
static int record_current(const exp_config *c, const exp_run *r, const char *path,
                          const char *id, int quiet) {
    if (!c->kld || r->mc.kind == METHOD_FP16) return 1;
    double v;
    ah_err ignore;
    if (store_run_attr_real_get(path, id, "", "kld_mean", &v, &ignore) == 0) return 1;
    if (!quiet)
        fprintf(stderr, "note: %s: %s was recorded without the KL divergence; computing it "
                        "again\n", path, r->id);
    return 0;
}

// A run cache entry is named after its key, but the name proves nothing: an entry copied or
// renamed under another key would commit another run's results under this run's id. Trusted
// only when the key stored inside it is the one asked for; otherwise a warning names the file
// and the run is computed again (its new entry replaces the wrong one).
static int cache_entry_trusted(const char *path, const char *key) {
    char stored[STORE_STR_CAP] = "";
    ah_err e = {{0}};
    if (store_run_attr_str_get(path, NULL, "", "key", stored, sizeof stored, &e)) {
        fprintf(stderr, "warning: %s; a run cache entry without a readable key: computing the "
                        "run again\n", e.msg);   // (e.msg starts with the file)
        return 0;
    }
    if (strcmp(stored, key) == 0) return 1;
    fprintf(stderr, "warning: %s: run cache entry holds key %.12s..., not %.12s... (copied under "
                    "another name?); computing the run again\n", path, stored, key);
    return 0;
}

static void run_key(const exp_config *c, const exp_run *r, const shared_inputs *s, char hex[65]) {
    char canon[512], buf[2048];
    exp_method_canonical(&r->mc, canon, sizeof canon);
    int calibrated = r->mc.kind != METHOD_FP16 && s->cs.n > 0;
    int n = snprintf(buf, sizeof buf, "run v2|model=%s|eval=%s|seqlen=%d|protocol=%s|max_windows=%d|"
                     "calib=%s|layers=%d|%s", s->model_hash, s->eval_hash, s->seqlen,
                     ppl_protocol_name(c->protocol), c->max_windows,
                     calibrated ? s->calib_hash : "-", c->record_layers && r->mc.kind != METHOD_FP16,
                     canon);
    // Zero-shot tasks join the key only when set, so the keys of runs without them stay.
    if (c->tasks[0] && n > 0 && (size_t)n < sizeof buf)
        n += snprintf(buf + n, sizeof buf - (size_t)n, "|tasks=%s", s->tasks_hash);
    // So do the efficiency measurement's lengths: a cached run then carries its numbers.
    if (c->efficiency && n > 0 && (size_t)n < sizeof buf)
        n += snprintf(buf + n, sizeof buf - (size_t)n, "|eff=pp%d,tg%d,reps%d", c->eff_prompt,
                      c->eff_decode, c->eff_reps);
    ah_sha256_hex(buf, (size_t)n, hex);
}

// The AWQ-search key of run r, "-" when its method searches no scales.
static void awq_key_of(const exp_run *r, const shared_inputs *s, char hex[65]) {
    if (method_uses_awq(r->mc.kind)) exp_awq_key(&r->mc, s->model_hash, s->calib_hash, hex);
    else snprintf(hex, 65, "-");
}

static int print_keys_input(const exp_config *c, const exp_plan *plan, FILE *out, ah_err *e) {
    shared_inputs s;
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
        run_key(c, &plan->runs[i], &s, key);
        awq_key_of(&plan->runs[i], &s, awq);
        fprintf(out, "%-36s run %s awq %s\n", plan->runs[i].id, key, awq);
    }
    tok_free(tok);
    free(local.runs);
    exp_inputs_free(&s);
    return rc;
}

// ---- the table ------------------------------------------------------------------------------

static void print_table(const exp_plan *plan, const run_outcome *res, const int *done, FILE *f) {
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

// The runs of one input (data_axes.h): c is the experiment with that input applied.
static int execute_input(const exp_config *c, const exp_plan *plan, const exp_run_opts *o,
                         ah_err *e) {
    const char *output = o->output ? o->output : c->output;
    char dir[EXP_PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s", output);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        if (ah_make_dirs(dir, e)) return -1;
    }
    snprintf(dir, sizeof dir, "%s/runs", c->cache_dir);
    if (ah_make_dirs(dir, e)) return -1;
    snprintf(dir, sizeof dir, "%s/awq", c->cache_dir);
    if (ah_make_dirs(dir, e)) return -1;
    // Temporaries of killed runs (the results file's own are removed by store_open, under its
    // lock; the caches may be shared by live processes, whose files stay).
    int stale = store_clean_stale(dir);
    snprintf(dir, sizeof dir, "%s/runs", c->cache_dir);
    stale += store_clean_stale(dir);
    if (stale && !o->quiet)
        fprintf(stderr, "removed %d temporary files of killed runs from %s\n", stale, c->cache_dir);

    shared_inputs s;
    store *st = NULL;
    exp_plan local = {0};                 // the plan with [export]'s scale dtypes
    tok_tokenizer *export_tok = NULL;     // loaded for formats that embed it, when no run needs it
    char export_tpath[EXP_PATH_MAX] = "", export_where[EXP_PATH_MAX + 300];
    run_exports xs = {.ctx = {0}, .overlay = NULL, .failed = 0, .err = {{0}}};
    int n_export_failed = 0;
    exp_export_path(c, output, "<run id>", "<format>", export_where, sizeof export_where);
    run_outcome *res = calloc((size_t)plan->n + 1, sizeof *res);
    int *done = calloc((size_t)plan->n + 1, sizeof *done);
    int status = -1, n_done = 0, n_failed = 0;
    ah_progress bar;
    int bar_started = 0;
    if (!res || !done) {
        free(res);
        free(done);
        return ah_fail(e, "out of memory");
    }
    // /summary string fields hold STORE_STR_MAX bytes (the run attributes hold the whole
    // text): said, not cut silently, and a table telling runs apart by these columns needs
    // them to differ within that (issue 19; a variable-length /summary would lift it).
    const char *names[] = {"[model] path", "[evaluation] data", "[calibration] data"};
    const char *texts[] = {c->model_path, c->eval_data, c->calib};
    for (int k = 0; k < 3; k++)
        if (strlen(texts[k]) > STORE_STR_MAX)
            fprintf(stderr, "warning: %s: %s is %zu bytes; /summary keeps its first %d (the run "
                            "attributes model / eval_data / calib keep it whole)\n", c->source,
                    names[k], strlen(texts[k]), STORE_STR_MAX);
    if (exp_inputs_load(&s, c, plan, o->quiet, e)) goto out;
    // [export]: the runs as their formats need them quantized (scale dtype), checked again on
    // this input's model (exp_execute checked every input before any work).
    if (c->n_exports) {
        int prepared = exp_export_prepare(c, output, s.m, s.tok, &export_tok, plan, &local, e);
        plan = &local;
        if (prepared) goto out;
        if (ds_tokenizer_path(export_tpath, sizeof export_tpath, c->model_path,
                              c->tokenizer[0] ? c->tokenizer : NULL, e))
            export_tpath[0] = '\0';   // none: formats that embed one were refused above
        xs.ctx = (exp_export_ctx){
            .c = c, .output = output, .m = s.m, .tok = s.tok ? s.tok : export_tok,
            .tokenizer_path = export_tpath, .quiet = o->quiet,
        };
        if (!o->quiet)
            fprintf(stderr, "export: %d format%s per run into %s\n", c->n_exports,
                    c->n_exports > 1 ? "s" : "", export_where);
    }
    if (!o->quiet) {
        char desc[256];
        model_describe(s.m, desc, sizeof desc);
        fprintf(stderr, "model: %s (%s)\neval: %s, %zu tokens, %zu windows of %d\n", c->model_path,
                desc, c->eval_data, s.eval.n, ppl_window_count(s.eval.n, s.seqlen), s.seqlen);
        if (s.n_cals == 1)
            fprintf(stderr, "calibration: %s, %d sequences of %d tokens\n", c->calib, s.cs.n, s.cs.len);
        else if (s.n_cals > 1)
            fprintf(stderr, "calibration: %s, %d samples (seeds, sizes, lengths of the sweep)\n",
                    c->calib, s.n_cals);
        fprintf(stderr, "results: %s (cache %s)\n", output, c->cache_dir);
    }
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
        run_key(c, r, &s, key);
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
        run_outcome *out = &res[i];
        if (o->resume && store_has_run(st, r->id, key) &&
            record_current(c, r, output, r->id, o->quiet) &&
            (!c->n_exports || exp_export_recorded(c, output, r->id))) {
            out->how = EXP_DONE_RESUMED;
        } else if (o->use_cache && file_exists(run_path) && cache_entry_trusted(run_path, key) &&
                   record_current(c, r, run_path, NULL, o->quiet)) {
            // The entry holds the names the computing experiment gave its model and data (the
            // content is the same: the key hashes it); this record gets this experiment's.
            // Entries written before issue 19 lack weights_dtype and calib_eval_overlap.
            int calibrated = r->mc.kind != METHOD_FP16 && s.cs.n > 0;
            store_attr_set set[] = {
                {"experiment", c->name, 0}, {"model", c->model_path, 0},
                {"model_name", c->model_name, 0}, {"eval_data", c->eval_data, 0},
                {"weights_dtype", exp_weights_dtype(s.m), 0},
                {"calib", c->calib, 0}, {"calib_eval_overlap", NULL, s.cs_overlap},
            };
            // Its exports: found complete, or written from a new quantization pass.
            if (xs.overlay && export_uncomputed(c, r, &s, key, &xs, e)) {
                status = -1;
                break;
            }
            int rc = store_commit_overlay(st, r->id, run_path, set, calibrated ? 7 : 5, xs.overlay,
                                          "export", EXPORT_ATTRS, 2, e);
            if (xs.overlay) unlink(xs.overlay);
            if (rc) {
                status = -1;
                break;
            }
            out->how = EXP_DONE_CACHED;
        } else {
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
            if (c->kld && r->mc.kind != METHOD_FP16 && !s.have_ref)
                ah_progress_step(&bar, 0, "FP reference for the KL divergence");
            if (c->kld && r->mc.kind != METHOD_FP16 && ensure_ref(&s, c, o->quiet, e)) {
                fprintf(stderr, "warning: %s; the quantized runs are recorded without it\n", e->msg);
                s.have_ref = -1;
            }
            ah_progress_step(&bar, 0, r->id);
            if (compute_run(c, r, &s, key, path, o, o->quiet ? NULL : &bar, out, &xs, e)) {
                if (o->stop && *o->stop) {
                    status = 1;
                    break;
                }
                // One failed run (NaN perplexity, a bad tensor) does not stop the sweep: it is
                // reported, not committed, and the command exits non-zero at the end.
                if (tty) fputc('\n', stderr);
                fprintf(stderr, "run %s failed: %s\n", r->id, e->msg);
                snprintf(out->cache, sizeof out->cache, "failed");
                n_failed++;
                ah_progress_step(&bar, s.m->cfg.n_layers + 1, r->id);
                continue;
            }
            int rc = store_commit_overlay(st, r->id, path, NULL, 0, xs.overlay, "export",
                                          EXPORT_ATTRS, 2, e);
            if (xs.overlay) unlink(xs.overlay);
            if (!o->use_cache) unlink(path);
            if (rc) {
                status = -1;
                break;
            }
        }
        if (out->how != EXP_DONE_COMPUTED) {
            // The result as committed (resumed and cached runs did no work here).
            ah_err ignore;
            if (store_run_attr_real_get(output, r->id, "", "ppl", &out->ppl, &ignore)) out->ppl = NAN;
            if (store_run_attr_real_get(output, r->id, "", "kld_mean", &out->kld, &ignore))
                out->kld = NAN;
            if (store_run_attr_real_get(output, r->id, "", "seconds", &out->seconds, &ignore))
                out->seconds = 0;
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
    tok_free(export_tok);
    free(local.runs);
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
