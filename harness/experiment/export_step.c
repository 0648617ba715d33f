// export_step.c — a sweep's [export] step (export_step.h).
#include "experiment/export_step.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/mem.h"
#include "core/progress.h"
#include "export/export_dir.h"
#include "export/formats.h"
#include "export/run.h"
#include "store/store.h"
#include "text/inputs.h"

void exp_export_dir(const exp_config *c, const char *output, char *buf, size_t cap) {
    if (c->export_dir[0]) {
        snprintf(buf, cap, "%s", c->export_dir);
        return;
    }
    size_t n = strlen(output);
    if (n > 3 && strcmp(output + n - 3, ".h5") == 0) n -= 3;
    snprintf(buf, cap, "%.*s.exports", (int)n, output);
}

void exp_export_path(const exp_config *c, const char *output, const char *id, const char *format,
                     char *buf, size_t cap) {
    char dir[EXP_PATH_MAX + 16];
    exp_export_dir(c, output, dir, sizeof dir);
    snprintf(buf, cap, "%s/%s/%s", dir, id, format);
}

// An FP run is written only by formats that take an unquantized model (their row says so).
static int format_takes(const qexport_format *f, const exp_run *r) {
    return r->mc.kind != METHOD_FP16 || f->unquantized_ok;
}

// The scale dtype run r is quantized with so that every format f[n] holds its scales exactly:
// the strictest one some format stores that all the others hold. -1 + e when there is none
// (fp16 and bf16 scales in one run).
static int run_scales(const exp_config *c, const exp_run *r, const model *m,
                      const qexport_format *const *f, int n, quant_scale_dtype *out, ah_err *e) {
    *out = QUANT_SCALE_F32;
    if (r->mc.kind == METHOD_FP16) return 0;
    for (int i = 0; i < n; i++) {
        quant_scale_dtype d = qexport_format_scales(f[i], m);
        int all = 1;
        for (int k = 0; k < n && all; k++) all = quant_scale_dtype_holds(qexport_format_scales(f[k], m), d);
        if (all && (*out == QUANT_SCALE_F32 || d != QUANT_SCALE_F32)) {
            *out = d;
            if (d == QUANT_SCALE_F16_Q41) break;   // the strictest: every other holds it
        }
    }
    for (int i = 0; i < n; i++)
        for (int k = 0; k < n; k++) {
            quant_scale_dtype di = qexport_format_scales(f[i], m), dk = qexport_format_scales(f[k], m);
            if (quant_scale_dtype_holds(di, *out) || quant_scale_dtype_holds(di, dk)) continue;
            return ah_fail(e, "%s: [export] run %s: format %s stores %s scales and %s %s scales "
                              "for this model; no one run's codes suit both: export them from "
                              "two experiments", c->source, r->id, f[i]->name,
                           quant_scale_dtype_name(di), f[k]->name, quant_scale_dtype_name(dk));
        }
    return 0;
}

static int find_formats(const exp_config *c, const qexport_format **f, ah_err *e) {
    for (int i = 0; i < c->n_exports; i++)
        if (!(f[i] = qexport_format_find(c->export_formats[i])))
            return ah_fail(e, "%s: [export] formats: unknown format '%s' (expected %s)", c->source,
                           c->export_formats[i], qexport_format_list());
    return 0;
}

int exp_export_prepare(const exp_config *c, const char *output, const model *m,
                       const tok_tokenizer *tok, tok_tokenizer **tok_owned, const exp_plan *in,
                       exp_plan *plan, ah_err *e) {
    *tok_owned = NULL;
    memset(plan, 0, sizeof *plan);
    if (!c->n_exports) return 0;
    if (!(plan->runs = malloc((size_t)(in->n ? in->n : 1) * sizeof *plan->runs)))
        return ah_fail(e, "out of memory");
    memcpy(plan->runs, in->runs, (size_t)in->n * sizeof *plan->runs);
    plan->n = plan->cap = in->n;
    const qexport_format *f[EXP_MAX_EXPORTS];
    if (find_formats(c, f, e)) return -1;
    int need_tok = 0;
    for (int i = 0; i < c->n_exports; i++) need_tok |= f[i]->needs_tokenizer;
    if (need_tok && !tok) {
        char tpath[EXP_PATH_MAX];
        if (ds_tokenizer_path(tpath, sizeof tpath, c->model_path, c->tokenizer[0] ? c->tokenizer : NULL, e) ||
            !(*tok_owned = tok_load(tpath, e)))
            return ah_wrap(e, "%s: [export]: a format listed embeds the tokenizer", c->source);
        tok = *tok_owned;
    }
    for (int i = 0; i < plan->n; i++) {
        exp_run *r = &plan->runs[i];
        if (run_scales(c, r, m, f, c->n_exports, &r->mc.q.scale_dtype, e)) return -1;
        for (int k = 0; k < c->n_exports; k++) {
            char path[EXP_PATH_MAX + 256];
            if (!format_takes(f[k], r)) continue;
            exp_export_path(c, output, r->id, f[k]->name, path, sizeof path);
            if (f[k]->check(m, &r->mc, f[k]->needs_tokenizer ? tok : NULL, path, e))
                return ah_wrap(e, "%s: [export] run %s cannot be exported as %s", c->source,
                               r->id, f[k]->name);
        }
    }
    return 0;
}

// 1 when path holds a complete export (every file its manifest lists, at its size) of the run
// with this key; *max_abs_diff from its manifest's export_check (NaN: none).
static int export_complete(const char *path, const char *key, double *max_abs_diff) {
    char man[EXP_PATH_MAX + 300];
    snprintf(man, sizeof man, "%s/manifest.json", path);
    *max_abs_diff = NAN;
    json_t *j = access(man, R_OK) == 0 ? json_load_file(man, 0, NULL) : NULL;
    const char *k = json_string_value(json_object_get(json_object_get(j, "experiment_run"), "key"));
    ah_err ignore = {{0}};
    int ok = k && !strcmp(k, key) && qexport_dir_verify(path, &ignore) == 0;
    json_t *d = json_object_get(json_object_get(j, "export_check"), "max_abs_diff");
    if (ok && json_is_number(d)) *max_abs_diff = json_number_value(d);
    json_decref(j);
    return ok;
}

#define TRY(x) do { if (x) goto fail; } while (0)

int exp_export_run(const exp_export_ctx *x, const exp_run *r, const char *key,
                   const calib_set *cs, const awq_block_result *awq_preset,
                   const char *overlay_path, int *n_failed, ah_err *e) {
    const exp_config *c = x->c;
    const qexport_format *f[EXP_MAX_EXPORTS];
    *n_failed = 0;
    if (find_formats(c, f, e)) return -1;
    store_run_writer *w = store_run_begin(overlay_path, e);
    if (!w) return -1;
    qexport_run made = {0};
    int made_state = 0;            // 0 not yet, 1 made, -1 failed (make_err)
    ah_err make_err = {{0}}, first = {{0}};
    char names[EXP_MAX_EXPORTS * 40] = "", label[96];
    double worst = NAN;
    snprintf(label, sizeof label, "export %s", r->id);
    for (int i = 0; i < c->n_exports; i++) {
        char path[EXP_PATH_MAX + 256], grp[64];
        exp_export_path(c, x->output, r->id, f[i]->name, path, sizeof path);
        snprintf(grp, sizeof grp, "export/%s", f[i]->name);
        TRY(store_run_attr_str(w, grp, "format", f[i]->name, e));
        if (!format_takes(f[i], r)) {
            TRY(store_run_attr_str(w, grp, "status", "skipped", e));
            TRY(store_run_attr_str(w, grp, "reason", "an unquantized run: the format holds "
                                   "quantized models only (its row in export/formats.c)", e));
            continue;
        }
        TRY(store_run_attr_str(w, grp, "path", path, e));
        double t0 = ah_now(), diff = NAN;
        const char *status = "existing";
        ah_err fe = {{0}};
        int rc = 0;
        if (!export_complete(path, key, &diff)) {
            status = "written";
            char parent[EXP_PATH_MAX + 256];
            snprintf(parent, sizeof parent, "%s", path);
            *strrchr(parent, '/') = '\0';   // <dir>/<run id>: the path has both parts
            if (made_state == 0 && ah_make_dirs(parent, &make_err)) made_state = -1;
            if (made_state == 0) {
                qexport_job job = {
                    .m = x->m, .mc = &r->mc, .cs = cs, .awq_preset = awq_preset,
                    .seed = r->mc.seed, .calib_source = cs && cs->n ? c->calib : NULL,
                    .run_id = r->id, .run_key = key, .label = label, .quiet = x->quiet,
                };
                made_state = qexport_run_make(&made, &job, &make_err) ? -1 : 1;
            }
            if (made_state < 0) {
                fe = make_err;
                rc = -1;
            } else if (store_test_fail("export-fail")) {   // tests only: store.h
                rc = ah_fail(&fe, "%s: test-only failure (AH_TEST_KILL_AT=export-fail)", path);
            } else {
                rc = qexport_run_write(&made, f[i], x->m, f[i]->needs_tokenizer ? x->tok : NULL,
                                       x->tokenizer_path && *x->tokenizer_path ? x->tokenizer_path : NULL,
                                       path, &diff, &fe);
            }
        }
        double secs = ah_now() - t0;
        if (rc) {
            TRY(store_run_attr_str(w, grp, "status", "failed", e));
            TRY(store_run_attr_str(w, grp, "error", fe.msg, e));
            if (!isnan(diff)) TRY(store_run_attr_real(w, grp, "max_abs_diff", diff, e));
            if (!(*n_failed)++) ah_fail(&first, "export %s of run %s: %s", f[i]->name, r->id, fe.msg);
            fprintf(stderr, "export %s %s: failed: %s\n", r->id, f[i]->name, fe.msg);
            continue;
        }
        long long bytes = qexport_dir_bytes(path);   // as its manifest records them
        TRY(store_run_attr_str(w, grp, "status", status, e));
        TRY(store_run_attr_int(w, grp, "bytes", bytes, e));
        TRY(store_run_attr_real(w, grp, "max_abs_diff", diff, e));
        TRY(store_run_attr_real(w, grp, "seconds", secs, e));
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", names[0] ? " " : "",
                 f[i]->name);
        if (!isnan(diff) && (isnan(worst) || diff > worst)) worst = diff;
        if (!x->quiet) {
            char d[32] = "not read back";
            if (!isnan(diff)) snprintf(d, sizeof d, "max_abs_diff=%g", diff);
            if (*status == 'w')
                fprintf(stderr, "export %s %s: wrote %s (%lld bytes, %s, %.1f s)\n", r->id,
                        f[i]->name, path, bytes, d, secs);
            else
                fprintf(stderr, "export %s %s: %s is complete for this run (its key); kept "
                                "(%lld bytes, %s)\n", r->id, f[i]->name, path, bytes, d);
        }
    }
    if (names[0]) TRY(store_run_attr_str(w, "", "exports", names, e));
    if (!isnan(worst)) TRY(store_run_attr_real(w, "", "export_max_abs_diff", worst, e));
    qexport_run_free(&made);
    if (store_run_finish(w, e)) return -1;
    if (*n_failed) *e = first;
    return 0;
fail:
    qexport_run_free(&made);
    store_run_abort(w);
    return -1;
}

int exp_export_recorded(const exp_config *c, const char *output, const char *id) {
    for (int i = 0; i < c->n_exports; i++) {
        char grp[64], status[32] = "", rec[EXP_PATH_MAX + 256] = "", path[EXP_PATH_MAX + 256];
        ah_err ignore = {{0}};
        snprintf(grp, sizeof grp, "export/%s", c->export_formats[i]);
        if (store_run_attr_str_get(output, id, grp, "status", status, sizeof status, &ignore))
            return 0;
        if (!strcmp(status, "skipped")) continue;
        if (strcmp(status, "written") && strcmp(status, "existing")) return 0;
        exp_export_path(c, output, id, c->export_formats[i], path, sizeof path);
        if (store_run_attr_str_get(output, id, grp, "path", rec, sizeof rec, &ignore) ||
            strcmp(rec, path) || access(path, F_OK) || qexport_dir_verify(path, &ignore))
            return 0;
    }
    return 1;
}
