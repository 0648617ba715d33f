// sweep.c — expanding [sweep] into runs (the rules are in sweep.h).
#include "experiment/sweep.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiment/plan_ids.h"
#include "method/params.h"

// The values of one axis, or its default (the parameter table's) when the INI does not give it.
typedef struct {
    int n;
    param_value v[EXP_MAX_VALUES];
} axis_view;

// The calibration axes not written in [sweep] take the experiment's one value ([calibration]
// samples / seqlen, [experiment] seed), the others the table's default.
static param_value config_default(const exp_config *c, param_id a) {
    param_value v = {NAN, -1};
    if (a == PARAM_SEED) v.num = (double)c->seed;
    else if (a == PARAM_CALIB_SAMPLES) v.num = c->calib_samples;
    else if (a == PARAM_CALIB_SEQLEN) v.num = c->calib_seqlen;
    else v = param_default(a);
    return v;
}

static void view(axis_view *v, const exp_config *c, param_id a) {
    const exp_axis_values *ax = &c->axes[a];
    v->n = ax->given ? ax->n : 1;
    if (ax->given) memcpy(v->v, ax->v, (size_t)ax->n * sizeof v->v[0]);
    else v->v[0] = config_default(c, a);
}

static int axis_fail(ah_err *e, const exp_config *c, param_id a, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int axis_fail(ah_err *e, const exp_config *c, param_id a, const char *fmt, ...) {
    const exp_axis_values *ax = &c->axes[a];
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (ax->given) return ah_fail(e, "%s:%d: %s: %s", ax->file, ax->line, param_name(a), msg);
    return ah_fail(e, "%s: %s: %s", c->source, param_name(a), msg);
}

// Range checks per value (the table's ranges), so the error names the axis line.
static int check_axes(const exp_config *c, ah_err *e) {
    for (int a = 0; a < PARAM_AXIS_COUNT; a++) {
        axis_view v;
        view(&v, c, (param_id)a);
        char why[256];
        for (int i = 0; i < v.n; i++)
            if (param_check((param_id)a, &v.v[i], why, sizeof why))
                return axis_fail(e, c, (param_id)a, "%s", why);
    }
    return 0;
}

void exp_run_id(const method_cfg *mc, char *id, size_t cap) { param_run_id(mc, id, cap); }

void exp_run_describe(const method_cfg *mc, char *buf, size_t cap) { param_describe(mc, buf, cap); }

// mc got the id of run r: the same run again (a value listed twice, a run two named sweeps
// share) is planned once; a different one is refused, since the results would merge them.
static int same_run(const exp_run *r, const method_cfg *mc, const exp_config *c, ah_err *e) {
    // Ids print numbers with %g (6 significant digits): the only way two different runs get
    // one id is a real parameter that differs beyond them.
    for (int a = 0; a < PARAM_AXIS_COUNT; a++) {
        param_value x = param_get(&r->mc, (param_id)a), y = param_get(mc, (param_id)a);
        if (x.word == y.word && (x.word >= 0 || x.num == y.num)) continue;
        char sa[32], sb[32];
        return axis_fail(e, c, (param_id)a, "%s and %s give the same run id '%s' (ids print 6 "
                         "significant digits): make them differ within those, or keep one",
                         param_exact((param_id)a, x, sa, sizeof sa),
                         param_exact((param_id)a, y, sb, sizeof sb), r->id);
    }
    return 0;
}

// The error for a plan over EXP_MAX_RUNS: its size when counted to the end.
static int plan_too_big(const exp_plan *p, const exp_config *c, ah_err *e) {
    long total = (long)p->n + p->counted;
    if (total > EXP_COUNT_MAX)
        return ah_fail(e, "%s: the sweep plans more than %d runs; the limit is %d: split it into "
                          "several experiments", c->source, EXP_COUNT_MAX, EXP_MAX_RUNS);
    return ah_fail(e, "%s: the sweep plans %ld runs; the limit is %d: split it into several "
                      "experiments", c->source, total, EXP_MAX_RUNS);
}

// A run past EXP_MAX_RUNS: counted (its id kept, so duplicates are not), not planned.
static int count_run(exp_plan *p, uint64_t hash, const exp_config *c, ah_err *e) {
    if (plan_ids_add(p->ids, hash, PLAN_ID_COUNTED)) return ah_fail(e, "out of memory");
    if ((long)p->n + ++p->counted > EXP_COUNT_MAX) return plan_too_big(p, c, e);
    return 0;
}

// Adds mc to the plan unless a run with the same id is already there (same_run).
static int emit(exp_plan *p, method_cfg mc, const exp_config *c, ah_err *e) {
    char id[4 * EXP_ID_MAX];
    exp_run_id(&mc, id, sizeof id);
    // A calibration source other than the first is crossed only with the runs it changes.
    const exp_input *in = &p->inputs[p->cur_input];
    int takes_calib = param_applies(&mc, PARAM_CALIB_SAMPLES);
    for (int k = 0; k < EXP_IN_COUNT; k++)
        if (EXP_INPUT_AXES[k].calibrated_only && in->v[k] > 0 && !takes_calib) return 0;
    size_t L = strlen(id);
    exp_input_suffix(c, in, takes_calib, id + L, sizeof id - L);
    if (strlen(id) > EXP_ID_MAX)
        return ah_fail(e, "%s: run id '%s' is %zu bytes, over the %d a results file holds: use "
                          "shorter [model.NAME] names or data file names", c->source, id,
                       strlen(id), EXP_ID_MAX);
    uint64_t hash = plan_id_hash(id);
    int at = plan_ids_find(p->ids, id, hash, p->runs);
    if (at >= 0) return same_run(&p->runs[at], &mc, c, e);
    if (at == PLAN_ID_COUNTED) return 0;
    if (p->n >= EXP_MAX_RUNS) return count_run(p, hash, c, e);
    if (method_cfg_check(&mc, e)) return ah_wrap(e, "%s: run %s", c->source, id);
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 64;
        exp_run *grown = realloc(p->runs, (size_t)cap * sizeof *grown);
        if (!grown) return ah_fail(e, "out of memory");
        p->runs = grown;
        p->cap = cap;
    }
    if (plan_ids_add(p->ids, hash, p->n)) return ah_fail(e, "out of memory");
    exp_run *r = &p->runs[p->n];
    memset(r, 0, sizeof *r);
    snprintf(r->id, sizeof r->id, "%s", id);
    r->index = p->n;
    r->input = p->cur_input;
    r->mc = mc;
    p->n++;
    return 0;
}

// Crosses the axes from a on, in the table's order (its row order is the plan's nesting):
// an axis is crossed only where it applies to the run built so far (method/params.c), so
// rtn crosses bits x group_size x salient_pct, awq its own axes, gptq damp x block_size x
// act_order (then salient_pct).
static int cross(exp_plan *p, const method_cfg *mc, const exp_config *c, int a, ah_err *e) {
    if (a == PARAM_AXIS_COUNT) return emit(p, *mc, c, e);
    if (!param_applies(mc, (param_id)a)) return cross(p, mc, c, a + 1, e);
    axis_view v;
    view(&v, c, (param_id)a);
    for (int i = 0; i < v.n; i++) {
        method_cfg m = *mc;
        param_set(&m, (param_id)a, v.v[i]);
        if (c->axes[a].given) m.swept |= 1u << a;   // rows printed in ids only when swept
        // The fixed rule never searches: alpha = search is skipped under it (check_plan_axes
        // refuses a fixed rule left without a numeric alpha).
        if (m.awq.rule == AWQ_FIXED && m.awq.alpha_mode == AWQ_ALPHA_SEARCH && a == PARAM_ALPHA) continue;
        // Kept channels make minmax the method salient, and none make salient minmax.
        if (a == PARAM_SALIENT_PCT) m.kind = method_with_kept(m.kind, m.salient_pct > 0);
        if (cross(p, &m, c, a + 1, e)) return -1;
    }
    return 0;
}

static int list_has_word(const exp_config *c, param_id a, const char *word) {
    axis_view v;
    view(&v, c, a);
    char t[64];
    for (int i = 0; i < v.n; i++)
        if (v.v[i].word >= 0 && !strcmp(param_text(a, v.v[i], t, sizeof t), word)) return 1;
    return 0;
}

// What crossing alone would not say: a method or rule the other axes leave without a run.
static int check_plan_axes(const exp_config *c, ah_err *e) {
    axis_view meth, alpha;
    view(&meth, c, PARAM_METHOD);
    view(&alpha, c, PARAM_ALPHA);
    int awq = 0, numeric_alpha = 0;
    for (int i = 0; i < meth.n; i++) awq |= method_takes((method_kind)meth.v[i].word, MP_AWQ);
    for (int i = 0; i < alpha.n; i++) numeric_alpha |= alpha.v[i].word < 0;
    if (list_has_word(c, PARAM_METHOD, "salient") && !c->axes[PARAM_SALIENT_PCT].given)
        return axis_fail(e, c, PARAM_METHOD, "method salient needs a salient_pct list");
    if (awq && list_has_word(c, PARAM_SCALE_RULE, "fixed") && !numeric_alpha)
        return axis_fail(e, c, PARAM_SCALE_RULE, "rule fixed needs numeric alpha values (alpha = 0:1:0.1)");
    return 0;
}

// Appends the runs of one sweep (c's axes) to p.
static int plan_sweep(exp_plan *p, const exp_config *c, ah_err *e) {
    if (check_axes(c, e) || check_plan_axes(c, e)) return -1;
    // Every run starts from the same configuration (the run keys were pinned with it: fp16
    // keeps bits and group 0), then takes the values of the axes that apply to it.
    method_cfg mc;
    memset(&mc, 0, sizeof mc);
    mc.seed = c->seed;
    mc.calib_samples = c->calib_samples;
    mc.calib_seqlen = c->calib_seqlen;
    mc.by = SALIENT_ACTIVATION;
    awq_defaults(&mc.awq);
    gptq_defaults(&mc.gptq);
    mc.awq.samples = c->awq_samples;
    return cross(p, &mc, c, 0, e);
}

// [sweep.NAME] over [sweep]: a copy of c whose axes are the named sweep's where it writes them.
// The copy shares c's pointers and is released with free() alone.
static exp_config *named_sweep(const exp_config *c, const exp_sweep *sw) {
    exp_config *sub = malloc(sizeof *sub);
    if (!sub) return NULL;
    memcpy(sub, c, sizeof *sub);
    for (int a = 0; a < PARAM_AXIS_COUNT; a++)
        if (sw->axes[a].given) sub->axes[a] = sw->axes[a];
    return sub;
}

// The runs of one input: [sweep], or each [sweep.NAME] over it.
static int plan_input(exp_plan *p, const exp_config *c, ah_err *e) {
    if (c->n_sweeps == 0) return plan_sweep(p, c, e);
    for (int k = 0; k < c->n_sweeps; k++) {
        exp_config *sub = named_sweep(c, &c->sweeps[k]);
        if (!sub) return ah_fail(e, "out of memory");
        int rc = plan_sweep(p, sub, e);
        free(sub);
        if (rc) return -1;   // the message names the axis line at fault
    }
    return 0;
}

int exp_plan_build(exp_plan *p, const exp_config *c, ah_err *e) {
    memset(p, 0, sizeof *p);
    if (!(p->ids = calloc(1, sizeof *p->ids))) return ah_fail(e, "out of memory");
    if (exp_inputs_build(c, &p->inputs, &p->n_inputs, e)) goto fail;
    for (int k = 0; k < p->n_inputs; k++) {
        exp_config in;
        exp_input_config(c, &p->inputs[k], &in);
        p->cur_input = k;
        if (plan_input(p, &in, e)) goto fail;
    }
    if (p->counted) {
        plan_too_big(p, c, e);
        goto fail;
    }
    for (int i = 0; i < p->n; i++) {
        exp_config in;
        exp_input_config(c, &p->inputs[p->runs[i].input], &in);
        if (method_needs_calib(&p->runs[i].mc) && !in.calib[0]) {
            ah_fail(e, "%s: run %s needs calibration data: add [calibration] data = SOURCE",
                    c->source, p->runs[i].id);
            goto fail;
        }
    }
    plan_ids_free(p->ids);   // only building needs them
    free(p->ids);
    p->ids = NULL;
    return 0;
fail:
    exp_plan_free(p);
    return -1;
}

void exp_plan_free(exp_plan *p) {
    if (!p) return;
    plan_ids_free(p->ids);
    free(p->ids);
    free(p->runs);
    free(p->inputs);
    memset(p, 0, sizeof *p);
}

void exp_plan_shard(exp_plan *p, int i, int n) {
    int k = 0;
    for (int j = 0; j < p->n; j++)
        if (p->runs[j].index % n == i) p->runs[k++] = p->runs[j];
    p->n = k;
}
