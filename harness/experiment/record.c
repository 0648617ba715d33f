// record.c — writing one run's record (record.h; schema in results/README.md).
//
// Parameters that do not apply to a run's method are not written (fp16 has no bits), so the
// /summary table shows "" / NaN there rather than a misleading default.
#include "experiment/record.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "awq/fold.h"
#include "core/blas.h"
#include "core/version.h"
#include "method/params.h"
#include "store/store.h"

int exp_salient_log_init(exp_salient_log *s, const model *m, ah_err *e) {
    s->n_slots = m->cfg.n_layers * L_COUNT;
    s->idx = calloc((size_t)s->n_slots, sizeof *s->idx);
    s->n = calloc((size_t)s->n_slots, sizeof *s->n);
    if (!s->idx || !s->n) return ah_fail(e, "out of memory");
    return 0;
}

void exp_salient_log_free(exp_salient_log *s) {
    if (!s->idx) return;
    for (int i = 0; i < s->n_slots; i++) free(s->idx[i]);
    free(s->idx);
    free(s->n);
    s->idx = NULL;
    s->n = NULL;
}

int exp_salient_sink(void *ctx, int layer, arch_layer_role role, const float *W_hat,
                     const float *W_orig, const method_codes *qc, int r0, int n, int rows,
                     int cols, const int *keep_idx, int kept, ah_err *e) {
    exp_salient_log *s = ctx;
    if (kept <= 0 || r0 > 0) return 0;   // the same columns for every chunk
    int slot = layer * L_COUNT + (int)role;
    free(s->idx[slot]);
    if (!(s->idx[slot] = malloc((size_t)kept * sizeof(int)))) return ah_fail(e, "out of memory");
    memcpy(s->idx[slot], keep_idx, (size_t)kept * sizeof(int));
    s->n[slot] = kept;
    return 0;
}

#define TRY(x) do { if (x) goto fail; } while (0)

// Every parameter of the run's method configuration that applies to it, as the parameter
// table names and types it (method/params.c): words as strings, numbers as INT or REAL. A
// searched alpha has no number: its alpha_mode says "search".
static int write_method_params(store_run_writer *w, const method_cfg *mc, ah_err *e) {
    for (int p = 0; p < PARAM_COUNT; p++) {
        const param_def *d = param_of((param_id)p);
        if (!param_applies(mc, (param_id)p) || d->own_record) continue;
        param_value v = param_get(mc, (param_id)p);
        char t[64];
        if (d->type == PT_WORD)
            TRY(store_run_attr_str(w, "", d->name, param_text((param_id)p, v, t, sizeof t), e));
        else if (v.word >= 0) continue;
        else if (d->type == PT_INT) TRY(store_run_attr_int(w, "", d->name, (long long)v.num, e));
        else TRY(store_run_attr_real(w, "", d->name, v.num, e));
    }
    return 0;
fail:
    return -1;
}

const char *exp_weights_dtype(const model *m) {
    for (int role = 0; role < L_COUNT; role++) {
        if (!arch_role_is_linear(role)) continue;
        const model_weight *w = model_lw(m, 0, role);
        if (w && w->data) return st_dtype_name(w->dtype);
    }
    return "?";
}

static int write_params(store_run_writer *w, const exp_record *r, ah_err *e) {
    const exp_config *c = r->cfg;
    const method_cfg *mc = &r->run->mc;
    char now[32];
    time_t t = time(NULL);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    TRY(store_run_attr_str(w, "", "experiment", c->name, e));
    TRY(store_run_attr_int(w, "", "run_index", r->run->index, e));
    TRY(store_run_attr_str(w, "", "key", r->key, e));
    TRY(store_run_attr_str(w, "", "created", now, e));
    TRY(store_run_attr_str(w, "", "git_commit", ah_git_commit(), e));
    TRY(store_run_attr_str(w, "", "harness_version", AH_VERSION, e));
    TRY(store_run_attr_str(w, "", "model", c->model_path, e));
    TRY(store_run_attr_str(w, "", "model_name", c->model_name, e));
    TRY(store_run_attr_str(w, "", "model_sha256", r->model_hash, e));
    TRY(store_run_attr_str(w, "", "arch", r->m->cfg.arch->model_type, e));
    TRY(store_run_attr_str(w, "", "weights_dtype", exp_weights_dtype(r->m), e));
    TRY(write_method_params(w, mc, e));
    if (mc->kind != METHOD_FP16) TRY(store_run_attr_int(w, "", "zero_point", mc->q.kind != QUANT_RTN, e));
    // Scales rounded before the codes (an [export] format that stores 16-bit scales): recorded
    // only then, so records of the default (f32) runs stay as they were.
    if (mc->kind != METHOD_FP16 && mc->q.scale_dtype != QUANT_SCALE_F32)
        TRY(store_run_attr_str(w, "", "scale_dtype", quant_scale_dtype_name(mc->q.scale_dtype), e));
    if (method_uses_awq(mc->kind)) TRY(store_run_attr_real(w, "", "awq_seconds", r->awq_seconds, e));
    if (r->cs && r->cs->n) {
        TRY(store_run_attr_str(w, "", "calib", c->calib, e));
        TRY(store_run_attr_str(w, "", "calib_sha256", r->calib_hash, e));
        // The sample's size and length are parameters of the runs it changes (the table's
        // calib_samples / calib_seqlen rows apply); a method that reads calibration rows only
        // for its output-error metrics takes neither (calib and calib_sha256 name those rows).
        if (param_applies(mc, PARAM_CALIB_SAMPLES)) {
            TRY(store_run_attr_int(w, "", "calib_samples", r->cs->n, e));
            TRY(store_run_attr_int(w, "", "calib_seqlen", r->cs->len, e));
        }
        TRY(store_run_attr_str(w, "", "calib_pick", c->calib_first ? "first" : "random", e));
        TRY(store_run_attr_int(w, "", "calib_eval_overlap", r->calib_overlap, e));
    }
    TRY(store_run_attr_str(w, "", "eval_data", c->eval_data, e));
    TRY(store_run_attr_str(w, "", "eval_sha256", r->eval_hash, e));
    TRY(store_run_attr_int(w, "", "eval_tokens", (long long)r->eval_tokens, e));
    if (r->eval_bytes > 0) {
        TRY(store_run_attr_int(w, "", "eval_bytes", r->eval_bytes, e));
        TRY(store_run_attr_int(w, "", "eval_words", r->eval_words, e));
    }
    TRY(store_run_attr_int(w, "", "scored_tokens", r->ppl->scored, e));
    TRY(store_run_attr_int(w, "", "seqlen", r->seqlen, e));
    TRY(store_run_attr_str(w, "", "protocol", ppl_protocol_name(c->protocol), e));
    TRY(store_run_attr_int(w, "", "max_windows", c->max_windows, e));
    TRY(store_run_attr_int(w, "", "windows", r->ppl->windows, e));
    TRY(store_run_attr_int(w, "", "threads", r->threads, e));
    TRY(store_run_attr_str(w, "", "blas_core", ah_blas_core(), e));
    TRY(store_run_attr_real(w, "", "seconds", r->seconds, e));
    TRY(store_run_attr_real(w, "", "eval_seconds", r->ppl->seconds - r->quant_seconds, e));
    if (r->qp) TRY(store_run_attr_real(w, "", "quant_seconds", r->quant_seconds, e));
    TRY(store_run_attr_str(w, "", "cache", r->cache, e));
    TRY(store_run_attr_real(w, "", "ppl", r->ppl->ppl, e));
    TRY(store_run_attr_real(w, "", "nll", r->ppl->nll_mean, e));
    TRY(store_run_attr_real(w, "", "ppl_se", r->ppl->stderr_ppl, e));
    TRY(store_run_attr_real(w, "", "ppl_lo", r->ppl->ppl_lo, e));
    TRY(store_run_attr_real(w, "", "ppl_hi", r->ppl->ppl_hi, e));
    if (r->qp) {
        int n;
        double wm, om;
        qpass_summary(r->qp, &n, &wm, &om);
        TRY(store_run_attr_real(w, "", "weight_mse", wm, e));
        if (om >= 0) TRY(store_run_attr_real(w, "", "output_mse", om, e));
    }
    size_t W = (size_t)r->ppl->windows;
    TRY(store_run_f64(w, "", "ppl", &r->ppl->ppl, 0, NULL, e));
    TRY(store_run_f64(w, "", "nll_per_window", r->ppl->nll_per_window, 1, &W, e));
    return 0;
fail:
    return -1;
}

// layers/<l>/<linear>/ for every quantized linear.
static int write_layers(store_run_writer *w, const exp_record *r, ah_err *e) {
    const qpass *p = r->qp;
    const model *m = r->m;
    const model_config *c = &m->cfg;
    const arch_desc *ad = c->arch;
    char g[96];
    for (int l = 0; l < c->n_layers; l++)
        for (int role = 0; role < L_COUNT; role++) {
            const method_metrics *mm = &p->metrics[l * L_COUNT + role];
            if (mm->rows == 0) continue;
            int in = arch_role_input((arch_layer_role)role);
            size_t width = (size_t)mm->cols;
            snprintf(g, sizeof g, "layers/%d/%s", l, arch_layer_role_name((arch_layer_role)role));
            TRY(store_run_attr_int(w, g, "rows", mm->rows, e));
            TRY(store_run_attr_int(w, g, "cols", mm->cols, e));
            TRY(store_run_attr_real(w, g, "weight_mse", mm->weight_mse, e));
            if (mm->output_mse >= 0) TRY(store_run_attr_real(w, g, "output_mse", mm->output_mse, e));
            TRY(store_run_attr_int(w, g, "kept", mm->kept, e));
            if (method_uses_gptq(r->run->mc.kind)) {   // the dampening actually used
                TRY(store_run_attr_real(w, g, "gptq_damp", mm->gptq_damp, e));
                TRY(store_run_attr_int(w, g, "gptq_retries", mm->gptq_retries, e));
                TRY(store_run_attr_int(w, g, "gptq_dead", mm->gptq_dead, e));
            }
            // Which linear input this is: qkv (normed block input), o, gate_up, down.
            if (in >= 0) TRY(store_run_attr_str(w, g, "input", arch_input_name((fwd_input)in), e));
            int slot = l * L_COUNT + role;
            if (r->salient && r->salient->idx && r->salient->idx[slot]) {
                size_t k = (size_t)r->salient->n[slot];
                TRY(store_run_i32(w, g, "salient_idx", r->salient->idx[slot], 1, &k, e));
            }
            if (p->act_mean && in >= 0) {
                TRY(store_run_f32(w, g, "act_mean", p->act_mean[l * FWD_IN_COUNT + in], 1, &width, e));
                TRY(store_run_f32(w, g, "act_max", p->act_max[l * FWD_IN_COUNT + in], 1, &width, e));
            }
            if (!p->awq) continue;
            const awq_block_result *ar = &p->awq[l];
            for (int gi = 0; gi < ad->n_groups; gi++) {
                const arch_scale_group *sg = &ad->groups[gi];
                const awq_group_result *gr = &ar->group[gi];
                int member = 0;
                for (int k = 0; k < sg->n_linears; k++) member |= (int)sg->linears[k] == role;
                if (!member || !gr->applied) continue;
                size_t na = (size_t)gr->n_alpha, wd = (size_t)gr->width;
                TRY(store_run_attr_str(w, g, "scale_group", sg->name, e));
                TRY(store_run_attr_real(w, g, "alpha", gr->alpha, e));
                TRY(store_run_f32(w, g, "scales", gr->scales, 1, &wd, e));
                if (na) {
                    TRY(store_run_f32(w, g, "alphas", gr->alphas, 1, &na, e));
                    TRY(store_run_f64(w, g, "loss_vs_alpha", gr->loss, 1, &na, e));
                }
            }
            if (ar->clip[role]) {
                size_t dims[2] = {(size_t)mm->rows, (size_t)ar->clip_groups[role]};
                TRY(store_run_f32(w, g, "clip", ar->clip[role], 2, dims, e));
            }
        }
    return 0;
fail:
    return -1;
}

// The KL divergence from the FP model (quantized runs; eval/kld_stats.h names the values):
// llama.cpp's statistics as attributes, and per window the mean KLD and top-1 agreement.
static int write_kld(store_run_writer *w, const exp_record *r, ah_err *e) {
    const ppl_result *p = r->ppl;
    const char *names[KLD_NAMED];
    double vals[KLD_NAMED];
    int n = kld_stats_named(&p->kld, names, vals);
    for (int i = 0; i < n; i++)
        if (kld_named_is_count(names[i])) TRY(store_run_attr_int(w, "", names[i], (long long)vals[i], e));
        else TRY(store_run_attr_real(w, "", names[i], vals[i], e));
    size_t W = (size_t)p->windows;
    TRY(store_run_f64(w, "", "kld_per_window", p->kld_per_window, 1, &W, e));
    TRY(store_run_f64(w, "", "top1_per_window", p->top1_per_window, 1, &W, e));
    return 0;
fail:
    return -1;
}

// Zero-shot tasks (eval/tasks.h): under tasks/<name>/ the per-item values (ll [items, choices],
// NaN past an item's choices; gold, acc, acc_norm [items]) and the aggregates as attributes;
// the aggregates also as run attributes <metric>_<task> (acc_piqa, acc_stderr_piqa, ...),
// which /summary and `report --metric acc:TASK` read.
static int write_tasks(store_run_writer *w, const exp_record *r, ah_err *e) {
    int rc = -1;
    double *ll = NULL, *acc = NULL, *accn = NULL;
    int32_t *gold = NULL;
    if (store_run_attr_str(w, "", "tasks", r->cfg->tasks, e) ||
        store_run_attr_int(w, "", "task_items", r->cfg->task_items, e))
        return -1;
    for (size_t k = 0; k < r->n_tasks; k++) {
        const task_result *t = &r->tasks[k];
        const char *nm = t->def->name;
        char g[96], a[96];
        snprintf(g, sizeof g, "tasks/%s", nm);
        size_t n = t->n, C = 1;
        for (size_t i = 0; i < n; i++)
            if ((size_t)t->items[i].nchoice > C) C = (size_t)t->items[i].nchoice;
        if (!(ll = calloc(n * C, sizeof *ll)) || !(acc = calloc(n, sizeof *acc)) ||
            !(accn = calloc(n, sizeof *accn)) || !(gold = calloc(n, sizeof *gold))) {
            ah_fail(e, "out of memory (task records)");
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            const task_item *it = &t->items[i];
            for (size_t j = 0; j < C; j++) ll[i * C + j] = (int)j < it->nchoice ? it->ll[j] : NAN;
            acc[i] = it->acc;
            accn[i] = it->acc_norm;
            gold[i] = it->gold;
        }
        size_t dims[2] = {n, C};
        if (store_run_attr_str(w, g, "file", t->path, e) ||
            store_run_attr_str(w, g, "lm_eval_task", t->def->lm_eval, e) ||
            store_run_attr_int(w, g, "items", (long long)n, e) ||
            store_run_attr_int(w, g, "requests", (long long)t->requests, e) ||
            store_run_attr_real(w, g, "seconds", t->seconds, e) ||
            store_run_f64(w, g, "ll", ll, 2, dims, e))
            goto out;
        // name, value pairs of this kind of task
        const char *names[6];
        double vals[6];
        int m = 0;
        if (t->def->kind == TASK_ROLLING) {
            names[m] = "word_perplexity", vals[m++] = t->word_ppl;
            names[m] = "byte_perplexity", vals[m++] = t->byte_ppl;
            names[m] = "bits_per_byte", vals[m++] = t->bits_per_byte;
            if (store_run_attr_int(w, g, "words", t->words, e) ||
                store_run_attr_int(w, g, "bytes", t->bytes, e) ||
                store_run_attr_int(w, g, "tokens", t->tokens, e))
                goto out;
        } else {
            names[m] = "acc", vals[m++] = t->acc;
            names[m] = "acc_stderr", vals[m++] = t->acc_se;
            if (store_run_f64(w, g, "acc", acc, 1, &n, e)) goto out;
            if (t->def->kind == TASK_LAST_WORD) {
                names[m] = "ppl", vals[m++] = t->ppl;
            } else {
                names[m] = "acc_norm", vals[m++] = t->acc_norm;
                names[m] = "acc_norm_stderr", vals[m++] = t->acc_norm_se;
                if (store_run_f64(w, g, "acc_norm", accn, 1, &n, e) ||
                    store_run_i32(w, g, "gold", gold, 1, &n, e))
                    goto out;
            }
        }
        for (int i = 0; i < m; i++) {
            snprintf(a, sizeof a, "%s_%s", names[i], nm);
            if (store_run_attr_real(w, g, names[i], vals[i], e) ||
                store_run_attr_real(w, "", a, vals[i], e))
                goto out;
        }
        free(ll), free(acc), free(accn), free(gold);
        ll = acc = accn = NULL;
        gold = NULL;
    }
    rc = 0;
out:
    free(ll), free(acc), free(accn), free(gold);
    return rc;
}

int exp_record_write(const char *path, const exp_record *r, ah_err *e) {
    store_run_writer *w = store_run_begin(path, e);
    if (!w) return -1;
    if (write_params(w, r, e)) goto fail;
    if (r->ppl->has_kld && write_kld(w, r, e)) goto fail;
    if (r->qp && r->cfg->record_layers && write_layers(w, r, e)) goto fail;
    if (r->n_tasks && write_tasks(w, r, e)) goto fail;
    if (r->eff && exp_efficiency_record(w, r->eff, e)) goto fail;
    return store_run_finish(w, e);
fail:
    store_run_abort(w);
    return ah_wrap(e, "writing run %s", r->run->id);
}
