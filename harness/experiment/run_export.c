// run_export.c — the [export] step met run by run (run_export.h).
#include "experiment/run_export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "experiment/run_compute.h"
#include "text/inputs.h"

// The run attributes an export overlay sets (results/README.md; /summary columns).
static const char *const EXPORT_ATTRS[] = {"exports", "export_max_abs_diff"};

void exp_run_exports_init(exp_run_exports *x) {
    memset(x, 0, sizeof *x);
}

void exp_run_exports_free(exp_run_exports *x) {
    tok_free(x->tok_owned);
    free(x->plan.runs);
    exp_run_exports_init(x);
}

int exp_run_exports_begin(exp_run_exports *x, const exp_config *c, const char *output,
                          const exp_inputs *s, const exp_plan **plan, int quiet, ah_err *e) {
    if (!c->n_exports) return 0;
    char where[EXP_PATH_MAX + 300];
    exp_export_path(c, output, "<run id>", "<format>", where, sizeof where);
    int prepared = exp_export_prepare(c, output, s->m, s->tok, &x->tok_owned, *plan, &x->plan, e);
    *plan = &x->plan;
    if (prepared) return -1;
    if (ds_tokenizer_path(x->tokenizer_path, sizeof x->tokenizer_path, c->model_path,
                          c->tokenizer[0] ? c->tokenizer : NULL, e))
        x->tokenizer_path[0] = '\0';   // none: formats that embed one were refused above
    x->ctx = (exp_export_ctx){
        .c = c, .output = output, .m = s->m, .tok = s->tok ? s->tok : x->tok_owned,
        .tokenizer_path = x->tokenizer_path, .quiet = quiet,
    };
    if (!quiet)
        fprintf(stderr, "export: %d format%s per run into %s\n", c->n_exports,
                c->n_exports > 1 ? "s" : "", where);
    return 0;
}

int exp_run_export_uncomputed(const exp_config *c, const exp_run *r, const exp_inputs *s,
                              const char *key, exp_run_exports *x, ah_err *e) {
    calib_set prefix;
    const calib_set *cs = exp_run_calibration(s, &r->mc, &prefix);
    awq_block_result *preset = method_uses_awq(r->mc.kind) ? exp_awq_from_cache(c, s, &r->mc, e) : NULL;
    int rc = exp_export_run(&x->ctx, r, key, cs, preset, x->overlay, &x->failed, &x->err);
    if (rc) *e = x->err;
    exp_awq_preset_free(preset, s->m->cfg.n_layers);
    return rc;
}

int exp_run_commit(store *st, const char *id, const char *path, const store_attr_set *set,
                   int n_set, exp_run_exports *x, ah_err *e) {
    int rc = store_commit_overlay(st, id, path, set, n_set, x->overlay, "export", EXPORT_ATTRS, 2, e);
    if (x->overlay) unlink(x->overlay);
    return rc;
}
