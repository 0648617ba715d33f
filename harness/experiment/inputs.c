// inputs.c — what every run of an experiment shares, loaded once (inputs.h): the model, its
// tokenizer, the evaluation ids, the calibration samples and their content hashes.
#include "experiment/inputs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eval/ppl.h"
#include "experiment/efficiency.h"
#include "experiment/keys.h"
#include "experiment/run_tasks.h"

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
