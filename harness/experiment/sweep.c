// sweep.c — expanding [sweep] into runs (the rules are in sweep.h).
#include "experiment/sweep.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiment/plan_ids.h"

// The values of one axis, or its default when the INI does not give it.
typedef struct {
    int n;
    double num[EXP_MAX_VALUES];
    const char *str[EXP_MAX_VALUES];
} axis_view;

static void view(axis_view *v, const exp_config *c, exp_axis a) {
    const exp_axis_values *ax = &c->axes[a];
    if (ax->given) {
        v->n = ax->n;
        for (int i = 0; i < ax->n; i++) {
            v->num[i] = ax->num[i];
            v->str[i] = ax->str[i];
        }
        return;
    }
    static const char *const DEF_STR[AX_COUNT] = {
        [AX_METHOD] = "fp16", [AX_ALPHA] = "search", [AX_SCALE_RULE] = "search",
        [AX_CLIP] = "on", [AX_PROPAGATE] = "fp", [AX_SALIENT_BY] = "activation",
        [AX_ACT_ORDER] = "off",
    };
    static const double DEF_NUM[AX_COUNT] = {
        [AX_BITS] = 4, [AX_GROUP] = 128, [AX_SALIENT_PCT] = 0, [AX_SALIENT_SCALE] = 2,
        [AX_SCALE_PCT] = 1, [AX_GRID] = 20, [AX_DAMP] = GPTQ_DEFAULT_DAMP,
        [AX_BLOCK_SIZE] = GPTQ_DEFAULT_BLOCK,
    };
    v->n = 1;
    v->str[0] = DEF_STR[a] ? DEF_STR[a] : "";
    v->num[0] = DEF_STR[a] ? NAN : DEF_NUM[a];
}

static int axis_fail(ah_err *e, const exp_config *c, exp_axis a, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int axis_fail(ah_err *e, const exp_config *c, exp_axis a, const char *fmt, ...) {
    const exp_axis_values *ax = &c->axes[a];
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (ax->given) return ah_fail(e, "%s:%d: %s: %s", ax->file, ax->line, exp_axis_name(a), msg);
    return ah_fail(e, "%s: %s: %s", c->source, exp_axis_name(a), msg);
}

// Range checks per value, so the error names the axis line.
static int check_axes(const exp_config *c, ah_err *e) {
    axis_view v;
    view(&v, c, AX_BITS);
    for (int i = 0; i < v.n; i++)
        if (v.num[i] != floor(v.num[i]) || v.num[i] < 2 || v.num[i] > 8)
            return axis_fail(e, c, AX_BITS, "%g is not a whole number of bits in 2..8", v.num[i]);
    view(&v, c, AX_GROUP);
    for (int i = 0; i < v.n; i++)
        if (v.num[i] != floor(v.num[i]) || (v.num[i] < 1 && v.num[i] != -1) || v.num[i] > (1 << 30))
            return axis_fail(e, c, AX_GROUP, "%g is not a group size (a positive whole number, or -1 / row)", v.num[i]);
    view(&v, c, AX_ALPHA);
    for (int i = 0; i < v.n; i++)
        if (!isnan(v.num[i]) && (v.num[i] < 0 || v.num[i] > 1))
            return axis_fail(e, c, AX_ALPHA, "%g is outside [0, 1]", v.num[i]);
    view(&v, c, AX_SALIENT_PCT);
    for (int i = 0; i < v.n; i++)
        if (v.num[i] < 0 || v.num[i] > 100)
            return axis_fail(e, c, AX_SALIENT_PCT, "%g%% is outside [0, 100]", v.num[i]);
    view(&v, c, AX_SCALE_PCT);
    for (int i = 0; i < v.n; i++)
        if (v.num[i] < 0 || v.num[i] > 100)
            return axis_fail(e, c, AX_SCALE_PCT, "%g%% is outside [0, 100]", v.num[i]);
    view(&v, c, AX_SALIENT_SCALE);
    for (int i = 0; i < v.n; i++)
        if (!(v.num[i] > 0 && v.num[i] < 1e6))
            return axis_fail(e, c, AX_SALIENT_SCALE, "%g is not a positive scale", v.num[i]);
    view(&v, c, AX_GRID);
    for (int i = 0; i < v.n; i++)
        if (v.num[i] != floor(v.num[i]) || v.num[i] < 1 || v.num[i] > AWQ_MAX_GRID - 2)
            return axis_fail(e, c, AX_GRID, "%g grid points is outside 1..99", v.num[i]);
    view(&v, c, AX_DAMP);
    for (int i = 0; i < v.n; i++)
        if (!(v.num[i] > 0 && v.num[i] <= 1e3))
            return axis_fail(e, c, AX_DAMP, "%g is not a relative dampening in (0, 1000]", v.num[i]);
    view(&v, c, AX_BLOCK_SIZE);
    for (int i = 0; i < v.n; i++)
        if (v.num[i] != floor(v.num[i]) || v.num[i] < 1 || v.num[i] > (1 << 20))
            return axis_fail(e, c, AX_BLOCK_SIZE, "%g is not a block size (a whole number >= 1)", v.num[i]);
    return 0;
}

static void fmt_num(char *b, size_t cap, double x) { snprintf(b, cap, "%g", x); }

void exp_run_id(const method_cfg *mc, char *id, size_t cap) {
    char g[32], x[32];
    if (mc->kind == METHOD_FP16) {
        snprintf(id, cap, "fp16");
        return;
    }
    if (mc->q.group <= 0) snprintf(g, sizeof g, "row");
    else snprintf(g, sizeof g, "g%d", mc->q.group);
    const char *name = method_traits_of(mc->kind)->id_name;
    size_t o = (size_t)snprintf(id, cap, "%s-w%d-%s", name, mc->q.bits, g);
    if (method_uses_awq(mc->kind)) {
        const awq_cfg *a = &mc->awq;
        if (a->rule == AWQ_SALIENT) {
            fmt_num(x, sizeof x, a->salient_scale);
            char pc[32];
            fmt_num(pc, sizeof pc, a->scale_pct);
            o += (size_t)snprintf(id + o, cap - o, "-s%s-top%s", x, pc);
        } else {
            if (a->rule != AWQ_SEARCH) o += (size_t)snprintf(id + o, cap - o, "-%s", awq_rule_name(a->rule));
            if (a->alpha >= 0) {
                fmt_num(x, sizeof x, a->alpha);
                o += (size_t)snprintf(id + o, cap - o, "-a%s", x);
            } else {
                o += (size_t)snprintf(id + o, cap - o, "-search");
                if (a->grid_points != 20) o += (size_t)snprintf(id + o, cap - o, "%d", a->grid_points);
            }
        }
        if (!a->clip) o += (size_t)snprintf(id + o, cap - o, "-noclip");
        if (mc->propagate_quantized) o += (size_t)snprintf(id + o, cap - o, "-pq");
    }
    if (method_uses_gptq(mc->kind)) {   // only what differs from the defaults
        const gptq_cfg *q = &mc->gptq;
        if (q->act_order) o += (size_t)snprintf(id + o, cap - o, "-actorder");
        if (q->damp != GPTQ_DEFAULT_DAMP) {
            fmt_num(x, sizeof x, q->damp);
            o += (size_t)snprintf(id + o, cap - o, "-damp%s", x);
        }
        if (q->block_size != GPTQ_DEFAULT_BLOCK)
            o += (size_t)snprintf(id + o, cap - o, "-bs%d", q->block_size);
    }
    if (method_takes(mc->kind, MP_SALIENT) && mc->salient_pct > 0) {
        fmt_num(x, sizeof x, mc->salient_pct);
        o += (size_t)snprintf(id + o, cap - o, "-keep%s-%.3s", x, salient_by_name(mc->by));
    }
}

void exp_run_describe(const method_cfg *mc, char *buf, size_t cap) {
    if (mc->kind == METHOD_FP16) {
        snprintf(buf, cap, "fp16");
        return;
    }
    size_t o = (size_t)snprintf(buf, cap, "%-7s w%d g%-4d", method_name(mc->kind), mc->q.bits,
                                mc->q.group);
    if (method_uses_gptq(mc->kind) && o < cap)
        o += (size_t)snprintf(buf + o, cap - o, " damp=%g block=%d act_order=%s", mc->gptq.damp,
                              mc->gptq.block_size, mc->gptq.act_order ? "on" : "off");
    if (method_uses_awq(mc->kind) && o < cap) {
        const awq_cfg *a = &mc->awq;
        o += (size_t)snprintf(buf + o, cap - o, " rule=%s", awq_rule_name(a->rule));
        if (a->rule == AWQ_SALIENT)
            o += (size_t)snprintf(buf + o, cap - o, " s=%g top=%g%%", a->salient_scale, a->scale_pct);
        else if (a->alpha >= 0) o += (size_t)snprintf(buf + o, cap - o, " alpha=%g", a->alpha);
        else o += (size_t)snprintf(buf + o, cap - o, " alpha=search/%d", a->grid_points);
        o += (size_t)snprintf(buf + o, cap - o, " clip=%s propagate=%s", a->clip ? "on" : "off",
                              mc->propagate_quantized ? "quantized" : "fp");
    }
    if (method_takes(mc->kind, MP_SALIENT) && mc->salient_pct > 0 && o < cap)
        snprintf(buf + o, cap - o, " keep=%g%% by %s", mc->salient_pct, salient_by_name(mc->by));
}

// The parameters an id prints with %g ("-a0.5", "-damp0.01", "-keep1"): the only ones by
// which two different runs can get one id (the others print exactly).
static const struct {
    exp_axis axis;
    size_t offset;   // of a double in method_cfg
} ID_ROUNDED[] = {
    {AX_ALPHA, offsetof(method_cfg, awq.alpha)},
    {AX_SALIENT_SCALE, offsetof(method_cfg, awq.salient_scale)},
    {AX_SCALE_PCT, offsetof(method_cfg, awq.scale_pct)},
    {AX_DAMP, offsetof(method_cfg, gptq.damp)},
    {AX_SALIENT_PCT, offsetof(method_cfg, salient_pct)},
};

// x with the fewest digits that read back as x (0.5000001, not 0.50000009999999999).
static void exact(char *b, size_t cap, double x) {
    for (int digits = 6; digits <= 17; digits++) {
        snprintf(b, cap, "%.*g", digits, x);
        if (strtod(b, NULL) == x) return;
    }
}

// mc got the id of run r: the same run again (a value listed twice, a run two named sweeps
// share) is planned once; a different one is refused, since the results would merge them.
static int same_run(const exp_run *r, const method_cfg *mc, const exp_config *c, ah_err *e) {
    for (size_t i = 0; i < sizeof ID_ROUNDED / sizeof ID_ROUNDED[0]; i++) {
        double a, b;
        memcpy(&a, (const char *)&r->mc + ID_ROUNDED[i].offset, sizeof a);
        memcpy(&b, (const char *)mc + ID_ROUNDED[i].offset, sizeof b);
        if (a == b) continue;
        char sa[32], sb[32];
        exact(sa, sizeof sa, a);
        exact(sb, sizeof sb, b);
        return axis_fail(e, c, ID_ROUNDED[i].axis, "%s and %s give the same run id '%s' (ids "
                         "print 6 significant digits): make them differ within those, or keep one",
                         sa, sb, r->id);
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
    char id[64];
    exp_run_id(&mc, id, sizeof id);
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
    r->mc = mc;
    p->n++;
    return 0;
}

// salient_pct (x salient_by when pct > 0) on top of a base configuration.
static int emit_salient(exp_plan *p, method_cfg mc, const exp_config *c, ah_err *e) {
    axis_view pct, by;
    view(&pct, c, AX_SALIENT_PCT);
    view(&by, c, AX_SALIENT_BY);
    for (int i = 0; i < pct.n; i++) {
        method_cfg m = mc;
        m.salient_pct = pct.num[i];
        if (m.salient_pct == 0) {
            if (m.kind == METHOD_SALIENT) m.kind = METHOD_MINMAX;
            if (emit(p, m, c, e)) return -1;
            continue;
        }
        if (m.kind == METHOD_MINMAX) m.kind = METHOD_SALIENT;
        for (int j = 0; j < by.n; j++) {
            salient_by_parse(by.str[j], &m.by);
            if (emit(p, m, c, e)) return -1;
        }
    }
    return 0;
}

// damp x block_size x act_order (gptq, awq+gptq) on top of a base configuration.
static int emit_gptq(exp_plan *p, method_cfg mc, const exp_config *c, ah_err *e) {
    axis_view damp, bs, ao;
    view(&damp, c, AX_DAMP);
    view(&bs, c, AX_BLOCK_SIZE);
    view(&ao, c, AX_ACT_ORDER);
    for (int i = 0; i < damp.n; i++)
        for (int j = 0; j < bs.n; j++)
            for (int k = 0; k < ao.n; k++) {
                method_cfg m = mc;
                m.gptq.damp = damp.num[i];
                m.gptq.block_size = (int)bs.num[j];
                m.gptq.act_order = !strcmp(ao.str[k], "on");
                if (emit(p, m, c, e)) return -1;
            }
    return 0;
}

// The leaf of an AWQ configuration: salient_pct (awq) or the GPTQ axes (awq+gptq).
static int emit_awq_leaf(exp_plan *p, method_cfg mc, const exp_config *c, ah_err *e) {
    return method_takes(mc.kind, MP_GPTQ) ? emit_gptq(p, mc, c, e) : emit_salient(p, mc, c, e);
}

static int emit_awq(exp_plan *p, method_cfg mc, const exp_config *c, ah_err *e) {
    axis_view rule, alpha, grid, clip, prop, sscale, spct;
    view(&rule, c, AX_SCALE_RULE);
    view(&alpha, c, AX_ALPHA);
    view(&grid, c, AX_GRID);
    view(&clip, c, AX_CLIP);
    view(&prop, c, AX_PROPAGATE);
    view(&sscale, c, AX_SALIENT_SCALE);
    view(&spct, c, AX_SCALE_PCT);
    int fixed_runs = 0, fixed_asked = 0;
    for (int r = 0; r < rule.n; r++) {
        awq_rule_parse(rule.str[r], &mc.awq.rule);
        for (int ci = 0; ci < clip.n; ci++) {
            mc.awq.clip = !strcmp(clip.str[ci], "on");
            for (int pi = 0; pi < prop.n; pi++) {
                mc.propagate_quantized = !strcmp(prop.str[pi], "quantized");
                method_cfg m = mc;
                if (m.awq.rule == AWQ_SALIENT) {
                    for (int a = 0; a < sscale.n; a++)
                        for (int b = 0; b < spct.n; b++) {
                            m.awq.salient_scale = sscale.num[a];
                            m.awq.scale_pct = spct.num[b];
                            m.awq.alpha = -1;
                            if (emit_awq_leaf(p, m, c, e)) return -1;
                        }
                    continue;
                }
                if (m.awq.rule == AWQ_FIXED) fixed_asked = 1;
                for (int a = 0; a < alpha.n; a++) {
                    int searched = isnan(alpha.num[a]);
                    if (searched && m.awq.rule == AWQ_FIXED) continue;   // fixed never searches
                    if (m.awq.rule == AWQ_FIXED) fixed_runs++;
                    m.awq.alpha = searched ? -1.0 : alpha.num[a];
                    for (int g = 0; g < (searched ? grid.n : 1); g++) {
                        m.awq.grid_points = searched ? (int)grid.num[g] : 20;
                        if (emit_awq_leaf(p, m, c, e)) return -1;
                    }
                }
            }
        }
    }
    if (fixed_asked && !fixed_runs)
        return axis_fail(e, c, AX_SCALE_RULE, "rule fixed needs numeric alpha values (alpha = 0:1:0.1)");
    return 0;
}

// Appends the runs of one sweep (c's axes) to p.
static int plan_sweep(exp_plan *p, const exp_config *c, ah_err *e) {
    if (check_axes(c, e)) return -1;
    axis_view meth, bits, group, pct;
    view(&meth, c, AX_METHOD);
    view(&bits, c, AX_BITS);
    view(&group, c, AX_GROUP);
    view(&pct, c, AX_SALIENT_PCT);
    for (int mi = 0; mi < meth.n; mi++) {
        method_cfg mc;
        memset(&mc, 0, sizeof mc);
        method_parse(meth.str[mi], &mc.kind);
        mc.seed = c->seed;
        mc.by = SALIENT_ACTIVATION;
        awq_defaults(&mc.awq);
        gptq_defaults(&mc.gptq);
        mc.awq.samples = c->awq_samples;
        if (mc.kind == METHOD_FP16) {
            if (emit(p, mc, c, e)) return -1;
            continue;
        }
        if (mc.kind == METHOD_SALIENT && !c->axes[AX_SALIENT_PCT].given)
            return axis_fail(e, c, AX_METHOD, "method salient needs a salient_pct list");
        for (int b = 0; b < bits.n; b++)
            for (int g = 0; g < group.n; g++) {
                mc.q.bits = (int)bits.num[b];
                mc.q.group = (int)group.num[g];
                // The axes a method takes (method table): AWQ's (then GPTQ's or salient_pct),
                // GPTQ's, salient_pct, or only bits x group_size.
                int rc = 0;
                if (method_takes(mc.kind, MP_AWQ)) rc = emit_awq(p, mc, c, e);
                else if (method_takes(mc.kind, MP_GPTQ)) rc = emit_gptq(p, mc, c, e);
                else if (method_takes(mc.kind, MP_SALIENT)) rc = emit_salient(p, mc, c, e);
                else rc = emit(p, mc, c, e);
                if (rc) return -1;
            }
    }
    return 0;
}

// [sweep.NAME] over [sweep]: a copy of c whose axes are the named sweep's where it writes them.
// The copy shares c's pointers and is released with free() alone.
static exp_config *named_sweep(const exp_config *c, const exp_sweep *sw) {
    exp_config *sub = malloc(sizeof *sub);
    if (!sub) return NULL;
    memcpy(sub, c, sizeof *sub);
    for (int a = 0; a < AX_COUNT; a++)
        if (sw->axes[a].given) sub->axes[a] = sw->axes[a];
    return sub;
}

int exp_plan_build(exp_plan *p, const exp_config *c, ah_err *e) {
    memset(p, 0, sizeof *p);
    if (!(p->ids = calloc(1, sizeof *p->ids))) return ah_fail(e, "out of memory");
    if (c->n_sweeps == 0) {
        if (plan_sweep(p, c, e)) goto fail;
    }
    for (int k = 0; k < c->n_sweeps; k++) {
        exp_config *sub = named_sweep(c, &c->sweeps[k]);
        if (!sub) {
            ah_fail(e, "out of memory");
            goto fail;
        }
        int rc = plan_sweep(p, sub, e);
        free(sub);
        if (rc) goto fail;   // the message names the axis line at fault
    }
    if (p->counted) {
        plan_too_big(p, c, e);
        goto fail;
    }
    for (int i = 0; i < p->n; i++)
        if (method_needs_calib(&p->runs[i].mc) && !c->calib[0]) {
            ah_fail(e, "%s: run %s needs calibration data: add [calibration] data = SOURCE",
                    c->source, p->runs[i].id);
            goto fail;
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
    memset(p, 0, sizeof *p);
}

void exp_plan_shard(exp_plan *p, int i, int n) {
    int k = 0;
    for (int j = 0; j < p->n; j++)
        if (p->runs[j].index % n == i) p->runs[k++] = p->runs[j];
    p->n = k;
}
