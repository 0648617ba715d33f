// plot_summary.c — the kinds drawn from /summary alone: ppl_vs_alpha, ppl_vs_group,
// ppl_vs_bits, kld_vs_bits, salient_bars and the declared kind = line.
#include "plot/plot_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/tasks.h"
#include "method/params.h"

#define MAX_SERIES 32

static const int POINTS[] = {7, 5, 9, 11, 13, 15};   // filled circle, square, triangles, ...
static const int DASHES[] = {1, 2, 4, 5, 3};

static int index_of(const double *v, int n, double x) {
    for (int i = 0; i < n; i++)
        if (v[i] == x) return i;
    return -1;
}

static int add_distinct(double *v, int *n, int max, double x) {
    int i = index_of(v, *n, x);
    if (i >= 0 || *n >= max) return i;
    v[(*n)++] = x;
    return *n - 1;
}

static void sort_doubles(double *v, int n) {
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
}

static int most_points(const pl_series *s, int n) {
    int m = 0;
    for (int i = 0; i < n; i++) m = s[i].n > m ? s[i].n : m;
    return m;
}

static void fp16_ref(const pl_ctx *c, pl_ref *r, int *nr) {
    if (isnan(c->fp16)) return;
    pl_ref *f = &r[(*nr)++];
    snprintf(f->label, sizeof f->label, "%s (%.3f)", c->fp_label, c->fp16);
    f->y = c->fp16;
    f->color = "#000000";
    f->dash = 4;
}

// Draws the line figure of series s (and refs) as p->name; closes and notes it.
static int finish_lines(const pl_ctx *c, const pl_spec *p, pl_series *s, int ns, const pl_ref *r,
                        int nr, const char *title, const char *xlabel, const char *ylabel,
                        const char *extra, int group_axis, ah_err *e) {
    char path[4096];
    if (pl_out_path(c, p->name, path, sizeof path, e)) return -1;
    gp *g = pl_begin(c, p, path, title, xlabel, ylabel, e);
    if (!g) return -1;
    if (extra) gp_printf(g, "%s", extra);
    if (group_axis) pl_group_axis(g, s, ns);
    else
        for (int i = 0; i < ns; i++) pl_series_sort(&s[i]);
    pl_plot_lines(g, s, ns, r, nr, p->logy);
    if (gp_close(g, e)) return -1;
    pl_drawn(c, p->name, path);
    return 0;
}

// ---------------------------------------------------------------------------------------------

int pl_ppl_vs_alpha(const pl_ctx *c, const pl_spec *p, char *why, size_t wcap, ah_err *e) {
    pl_series s[MAX_SERIES];
    char base[MAX_SERIES][128];   // the series' variant without the rule, to match searched runs
    double sb[MAX_SERIES], sg[MAX_SERIES];
    int ns = 0, rc = -1;
    for (int i = 0; i < c->s->n; i++) {
        const store_row *r = &c->s->rows[i];
        double a = pl_num(r, "alpha"), y = pl_num(r, "ppl");
        if (!pl_keep(p, r) || !pl_is_awq(r) || isnan(a) || isnan(y)) continue;
        char v[128], bg[64], label[200];
        pl_variant(r, 0, v, sizeof v);
        pl_bits_group(r, bg, sizeof bg);
        // "w3 g128, duo" for awq (its name left out), "w3 g128, awq+gptq duo" for the others
        const char *rest = !strcmp(pl_str(r, "method"), "awq") ? v + 3 : v;
        snprintf(label, sizeof label, "%s%s%s", bg, !*rest ? "" : *rest == ' ' ? "," : ", ", rest);
        int k = pl_series_find(s, &ns, MAX_SERIES, label);
        if (k < 0) continue;
        if (s[k].n == 0) {
            pl_variant(r, PL_V_NORULE, base[k], sizeof base[k]);
            sb[k] = pl_num(r, "bits");
            sg[k] = pl_num(r, "group_size");
            s[k].color = GP_COLORS[k % GP_NCOLORS];
        }
        if (pl_series_add(&s[k], a, y, e)) goto done;
        pl_series_ppl_err(&s[k], r, "ppl");
    }
    if (!ns) {
        snprintf(why, wcap, "no AWQ runs with a fixed alpha%s (sweep method = awq, alpha = search, 0:1:0.1)",
                 p->n_cond ? " passing the filter" : "");
        rc = 1;
        goto done;
    }
    if (most_points(s, ns) < 2) {
        snprintf(why, wcap, "each (bits, group) has AWQ runs at one fixed alpha only; a curve needs 2 or more");
        rc = 1;
        goto done;
    }
    pl_ref refs[MAX_SERIES + 1];
    int nr = 0;
    for (int k = 0; k < ns; k++)
        for (int i = 0; i < c->s->n; i++) {
            const store_row *r = &c->s->rows[i];
            char v[128];
            if (!pl_is_searched_awq(r) || strcmp(pl_str(r, "scale_rule"), "search") || isnan(pl_num(r, "ppl")) ||
                pl_num(r, "bits") != sb[k] || pl_num(r, "group_size") != sg[k])
                continue;
            pl_variant(r, PL_V_NORULE, v, sizeof v);
            if (strcmp(v, base[k])) continue;
            pl_ref *f = &refs[nr++];
            char bg[64];
            pl_bits_group(r, bg, sizeof bg);
            snprintf(f->label, sizeof f->label, "%s searched per layer (%.3f)", bg, pl_num(r, "ppl"));
            f->y = pl_num(r, "ppl");
            f->color = s[k].color;
            f->dash = 2;
            break;
        }
    fp16_ref(c, refs, &nr);
    char yl[256];
    pl_ppl_label(c, yl, sizeof yl);
    rc = finish_lines(c, p, s, ns, refs, nr, "AWQ: perplexity vs a fixed scaling exponent alpha",
                      "alpha (AWQ scales s = mean|x|^alpha, one alpha for every layer)", yl,
                      "set xrange [-0.03:1.03]\nset xtics 0.2\nset mxtics 2\n", 0, e);
done:
    pl_series_free(s, ns);
    return rc;
}

// Runs of the plain methods for the bits and group plots: no fixed alpha (ppl_vs_alpha) and
// no salient channels kept (salient_bars), with a value of ycol.
static int plain_run(const pl_spec *p, const store_row *r, const char *ycol) {
    return pl_keep(p, r) && strcmp(pl_str(r, "method"), "fp16") && isnan(pl_num(r, "alpha")) &&
           !(pl_num(r, "salient_pct") > 0) && !isnan(pl_num(r, ycol)) && !isnan(pl_num(r, "bits"));
}

// Series of y = `ycol` over x = `xcol` of the plain runs, one per variant and value of `other`
// (bits or group_size, named only when it takes more than one value). Colours by variant,
// dashes and points by `other`.
static int plain_series(const pl_ctx *c, const pl_spec *p, const char *xcol, const char *other,
                        const char *ycol,
                        pl_series *s, int *ns, double *xs, int *nx, double *only_other, ah_err *e) {
    char vars[MAX_SERIES][128];
    double ov[16];
    int nv = 0, no = 0;
    *only_other = NAN;
    *nx = 0;
    for (int i = 0; i < c->s->n; i++) {
        const store_row *r = &c->s->rows[i];
        if (!plain_run(p, r, ycol)) continue;
        add_distinct(ov, &no, 16, pl_num(r, other));
        add_distinct(xs, nx, 64, pl_num(r, xcol));
    }
    sort_doubles(ov, no);
    if (no == 1) *only_other = ov[0];
    for (int i = 0; i < c->s->n; i++) {
        const store_row *r = &c->s->rows[i];
        if (!plain_run(p, r, ycol)) continue;
        char v[128], label[200];
        pl_variant(r, 0, v, sizeof v);
        double o = pl_num(r, other);
        int oi = index_of(ov, no, o);
        if (oi < 0) continue;
        if (no > 1) {
            if (!strcmp(other, "bits")) snprintf(label, sizeof label, "%s w%g", v, o);
            else if (o == -1) snprintf(label, sizeof label, "%s per-row", v);
            else snprintf(label, sizeof label, "%s g%g", v, o);
        } else {
            snprintf(label, sizeof label, "%s", v);
        }
        int vi = -1;
        for (int j = 0; j < nv; j++)
            if (!strcmp(vars[j], v)) vi = j;
        if (vi < 0 && nv < MAX_SERIES) snprintf(vars[vi = nv++], sizeof vars[0], "%s", v);
        int k = pl_series_find(s, ns, MAX_SERIES, label);
        if (k < 0 || vi < 0) continue;
        if (s[k].n == 0) {
            const char *mc = gp_method_color(v);
            s[k].color = mc ? mc : GP_COLORS[(vi + 4) % GP_NCOLORS];
            s[k].dash = DASHES[oi % 5];
            s[k].point = POINTS[oi % 6];
        }
        if (pl_series_add(&s[k], pl_num(r, xcol), pl_num(r, ycol), e)) return -1;
        pl_series_ppl_err(&s[k], r, ycol);
    }
    return 0;
}

int pl_ppl_vs_group(const pl_ctx *c, const pl_spec *p, char *why, size_t wcap, ah_err *e) {
    pl_series s[MAX_SERIES];
    double xs[64];
    int ns = 0, nx = 0, rc = -1;
    double one;
    if (plain_series(c, p, "group_size", "bits", "ppl", s, &ns, xs, &nx, &one, e)) goto done;
    if (nx < 2 || most_points(s, ns) < 2) {
        char g[32];
        if (nx == 1 && xs[0] == -1) snprintf(g, sizeof g, "per-row");
        else snprintf(g, sizeof g, "%g", nx == 1 ? xs[0] : 0.0);
        if (nx == 1) snprintf(why, wcap, "every quantized run uses group size %s; a curve needs 2 or more "
                                         "(sweep group_size = 32, 64, 128, row)", g);
        else snprintf(why, wcap, "needs quantized runs at 2 or more group sizes of one method (sweep "
                                 "group_size = 32, 64, 128, row)");
        rc = 1;
        goto done;
    }
    pl_ref refs[1];
    int nr = 0;
    fp16_ref(c, refs, &nr);
    char yl[256];
    pl_ppl_label(c, yl, sizeof yl);
    char title[128] = "Perplexity vs quantization group size";
    if (!isnan(one)) snprintf(title, sizeof title, "Perplexity vs quantization group size, %g-bit weights", one);
    rc = finish_lines(c, p, s, ns, refs, nr, title,
                      "group size (weights sharing one scale and zero point; log2 scale)", yl, NULL, 1, e);
done:
    pl_series_free(s, ns);
    return rc;
}

// One line per method (per group when there are several) of column y against bits: the shared
// part of ppl_vs_bits and kld_vs_bits. what names y in the titles; refs are drawn as well.
static int vs_bits(const pl_ctx *c, const pl_spec *p, const char *y, const char *what,
                   const char *yl, const pl_ref *refs, int nr, char *why, size_t wcap, ah_err *e) {
    pl_series s[MAX_SERIES];
    double xs[64];
    int ns = 0, nx = 0, rc = -1;
    double one;
    if (plain_series(c, p, "bits", "group_size", y, s, &ns, xs, &nx, &one, e)) goto done;
    if (nx < 2 || most_points(s, ns) < 2) {
        if (nx == 0 && strcmp(y, "ppl"))
            snprintf(why, wcap, "no quantized runs with %s (runs recorded with kld = no, or before "
                                "it existed: run the sweep again)", y);
        else if (nx == 1) snprintf(why, wcap, "every quantized run uses %g bits; a curve needs 2 or "
                                              "more (sweep bits = 2, 3, 4)", xs[0]);
        else snprintf(why, wcap, "needs quantized runs at 2 or more bit widths of one method (sweep bits = 2, 3, 4)");
        rc = 1;
        goto done;
    }
    sort_doubles(xs, nx);
    char extra[128];
    snprintf(extra, sizeof extra, "set xtics 1\nset xrange [%g:%g]\n", xs[0] - 0.3, xs[nx - 1] + 0.3);
    // Series side by side around each bit width (0.04 bits apart), so that their error bars,
    // which overlap at one bit width, can be told apart.
    for (int i = 0; i < ns; i++)
        for (int k = 0; k < s[i].n; k++) s[i].x[k] += 0.04 * (i - (ns - 1) / 2.0);
    char title[160];
    if (one == -1) snprintf(title, sizeof title, "%s vs weight bits, per-row quantization", what);
    else if (!isnan(one)) snprintf(title, sizeof title, "%s vs weight bits, group size %g", what, one);
    else snprintf(title, sizeof title, "%s vs weight bits", what);
    rc = finish_lines(c, p, s, ns, refs, nr, title, "weight bits (integer, per group)", yl, extra, 0, e);
done:
    pl_series_free(s, ns);
    return rc;
}

int pl_ppl_vs_bits(const pl_ctx *c, const pl_spec *p, char *why, size_t wcap, ah_err *e) {
    pl_ref refs[1];
    int nr = 0;
    fp16_ref(c, refs, &nr);
    char yl[256];
    pl_ppl_label(c, yl, sizeof yl);
    return vs_bits(c, p, "ppl", "Perplexity", yl, refs, nr, why, wcap, e);
}

// The mean KL divergence from FP16 against bits, drawn as ppl_vs_bits is (one line per method,
// per group when there are several). Log y by default: KLD shrinks by about 4x per added bit
// (tinyprose MinMax g128: 0.025 at 3 bits, 0.0057 at 4), so a linear axis flattens the 4-bit
// points onto 0. No FP16 line: it is the reference, KLD 0 (not drawable on a log axis).
int pl_kld_vs_bits(const pl_ctx *c, const pl_spec *p, char *why, size_t wcap, ah_err *e) {
    pl_spec q = *p;
    if (q.logy < 0) q.logy = 1;
    char yl[256];
    snprintf(yl, sizeof yl, "mean KL divergence from the unquantized model (nats, %s; lower is better)",
             c->dataset[0] ? c->dataset : "evaluation text");
    return vs_bits(c, &q, "kld_mean", "KL divergence from the unquantized model", yl, NULL, 0, why, wcap, e);
}

// lm-eval's accuracy of each zero-shot task ([evaluation] tasks, docs/TASKS.md) against bits:
// one figure per task that has results, named acc_vs_bits-TASK, drawn as ppl_vs_bits is, with
// error bars of +-1.96 standard errors (acc_stderr_TASK, lm-eval's) and the unquantized run's
// accuracy as the reference line. The tasks are the rows of the task table
// (eval/tasks_table.c) that have an acc_TASK column in /summary (store.c; rolling tasks have
// no accuracy).

int pl_acc_vs_bits(const pl_ctx *c, const pl_spec *p, char *why, size_t wcap, ah_err *e) {
    int drawn = 0;
    why[0] = '\0';
    for (size_t t = 0; t < task_table_n; t++) {
        const char *task = task_table[t].name;
        char col[48];
        snprintf(col, sizeof col, "acc_%s", task);
        if (store_column_index(col) < 0) continue;
        pl_ref refs[1];
        int nr = 0, any = 0;
        for (int i = 0; i < c->s->n; i++) {
            const store_row *r = &c->s->rows[i];
            double a = pl_num(r, col);
            if (isnan(a)) continue;
            any = 1;
            if (!strcmp(pl_str(r, "method"), "fp16") && pl_keep(p, r) && !nr) {
                snprintf(refs[0].label, sizeof refs[0].label, "%s (%.3f)", c->fp_label, a);
                refs[0].y = a;
                refs[0].color = "#000000";
                refs[0].dash = 4;
                nr = 1;
            }
        }
        if (!any) continue;
        pl_spec q = *p;
        snprintf(q.name, sizeof q.name, "%.40s-%s", p->name, task);
        char what[64], yl[256], w[256];
        snprintf(what, sizeof what, "%s accuracy", task);
        snprintf(yl, sizeof yl, "%s accuracy (lm-eval acc, 95%% bars; higher is better)",
                 task);
        int rc = vs_bits(c, &q, col, what, yl, refs, nr, w, sizeof w, e);
        if (rc < 0) return -1;
        if (rc == 0) drawn++;
        else snprintf(why, wcap, "%s: %s", task, w);
    }
    if (drawn) return 0;
    if (!why[0])
        snprintf(why, wcap, "no run has zero-shot task accuracies ([evaluation] tasks = "
                            "piqa:FILE, ...; docs/TASKS.md)");
    return 1;
}

// ---------------------------------------------------------------------------------------------
// salient_bars

#define MAX_PCT 16
#define MAX_BY 8

static int salient_row(const pl_spec *p, const store_row *r) {
    const char *m = pl_str(r, "method");
    return pl_keep(p, r) && (!strcmp(m, "minmax") || !strcmp(m, "salient")) && !isnan(pl_num(r, "ppl"));
}

static const char *by_label(const char *by) {
    if (!strcmp(by, "activation")) return "chosen by activation magnitude (AWQ)";
    if (!strcmp(by, "weight")) return "chosen by weight magnitude";
    if (!strcmp(by, "random")) return "chosen at random";
    return by;
}

static const char *by_color(const char *by, int j) {
    if (!strcmp(by, "activation")) return "#1f77b4";
    if (!strcmp(by, "weight")) return "#2ca02c";
    if (!strcmp(by, "random")) return "#8c8c8c";
    return GP_COLORS[(j + 4) % GP_NCOLORS];
}

static int salient_figure(const pl_ctx *c, const pl_spec *p, double bits, double group, int multi, ah_err *e) {
    double pct[MAX_PCT], val[MAX_PCT][MAX_BY], ref0 = NAN;
    char by[MAX_BY][32];
    int np = 0, nb = 0;
    static const char *const ORDER[] = {"activation", "weight", "random"};
    for (int pass = 0; pass < 2; pass++)   // the known criteria first, in paper order
        for (int i = 0; i < c->s->n; i++) {
            const store_row *r = &c->s->rows[i];
            if (!salient_row(p, r) || pl_num(r, "bits") != bits || pl_num(r, "group_size") != group) continue;
            double q = pl_num(r, "salient_pct");
            if (!(q > 0)) {
                if (q == 0 && !strcmp(pl_str(r, "method"), "minmax")) ref0 = pl_num(r, "ppl");
                continue;
            }
            const char *b = pl_str(r, "salient_by");
            int known = 0;
            for (int k = 0; k < 3; k++) known |= !strcmp(ORDER[k], b);
            if (pass == 0 && known) continue;
            add_distinct(pct, &np, MAX_PCT, q);
            int seen = 0;
            for (int j = 0; j < nb; j++) seen |= !strcmp(by[j], b);
            if (!seen && nb < MAX_BY) snprintf(by[nb++], sizeof by[0], "%s", b);
        }
    // order the criteria: activation, weight, random, then the rest as found
    char sorted[MAX_BY][32];
    int ns = 0;
    for (int k = 0; k < 3; k++)
        for (int j = 0; j < nb; j++)
            if (!strcmp(by[j], ORDER[k])) memcpy(sorted[ns++], by[j], sizeof sorted[0]);
    for (int j = 0; j < nb; j++) {
        int known = 0;
        for (int k = 0; k < 3; k++) known |= !strcmp(by[j], ORDER[k]);
        if (!known) memcpy(sorted[ns++], by[j], sizeof sorted[0]);
    }
    sort_doubles(pct, np);
    double top = fmax(isnan(ref0) ? 0 : ref0, isnan(c->fp16) ? 0 : c->fp16);
    for (int a = 0; a < np; a++)
        for (int j = 0; j < ns; j++) val[a][j] = NAN;
    for (int i = 0; i < c->s->n; i++) {
        const store_row *r = &c->s->rows[i];
        if (!salient_row(p, r) || pl_num(r, "bits") != bits || pl_num(r, "group_size") != group) continue;
        int a = index_of(pct, np, pl_num(r, "salient_pct"));
        for (int j = 0; a >= 0 && j < ns; j++)
            if (!strcmp(sorted[j], pl_str(r, "salient_by"))) {
                val[a][j] = pl_num(r, "ppl");
                top = fmax(top, val[a][j]);
            }
    }
    char name[128], path[4096], bg[64], title[256];
    const store_row *any = NULL;
    for (int i = 0; i < c->s->n && !any; i++)
        if (pl_num(&c->s->rows[i], "bits") == bits && pl_num(&c->s->rows[i], "group_size") == group) any = &c->s->rows[i];
    pl_bits_group(any, bg, sizeof bg);
    snprintf(name, sizeof name, "%s", p->name);
    if (multi) {
        snprintf(name, sizeof name, "%s-%s", p->name, bg);
        for (char *q = name; *q; q++)
            if (*q == ' ') *q = '-';
    }
    snprintf(title, sizeof title, "Keeping salient weight channels in FP16, %s (AWQ Table 1 style)", bg);
    if (pl_out_path(c, name, path, sizeof path, e)) return -1;
    char yl[256];
    pl_ppl_label(c, yl, sizeof yl);
    gp *g = pl_begin(c, p, path, title, "salient input channels kept in FP16 (% of each linear's inputs)", yl, e);
    if (!g) return -1;
    // Bars from 0 hide differences of a few percent (a small model at 3 bits, where keeping 1%
    // moves perplexity by 0.2%): when every value lies within 1.5x of the smallest, the axis
    // starts just below it (its tics say where); otherwise at 0, as in the paper's table.
    double lo = top;
    for (int a = 0; a < np; a++)
        for (int j = 0; j < ns; j++)
            if (!isnan(val[a][j])) lo = fmin(lo, val[a][j]);
    if (!isnan(ref0)) lo = fmin(lo, ref0);
    if (!isnan(c->fp16)) lo = fmin(lo, c->fp16);
    double y0 = 0, y1 = top * 1.15;
    if (lo > 0 && top / lo < 1.5) {
        double span = top > lo ? top - lo : 0.05 * top;
        y0 = lo - 0.6 * span;
        y1 = top + 0.4 * span;
    }
    double w = 0.8 / ns;
    gp_printf(g, "set style fill solid 0.85 noborder\nset boxwidth %g absolute\n", w * 0.92);
    gp_printf(g, "set xrange [-0.6:%g]\nset yrange [%.10g:%.10g]\nset grid noxtics\nset xtics (", np - 0.4,
              y0, y1);
    for (int a = 0; a < np; a++) gp_printf(g, "%s'%g%%%%' %d", a ? ", " : "", pct[a], a);   // tic labels are formats
    gp_printf(g, ")\n");
    for (int j = 0; j < ns; j++) {
        gp_printf(g, "$b%d << EOD\n", j);
        for (int a = 0; a < np; a++)
            if (!isnan(val[a][j])) gp_printf(g, "%.10g %.10g\n", a + (j - (ns - 1) / 2.0) * w, val[a][j]);
        gp_printf(g, "EOD\n");
    }
    // reference lines first (behind the bars, their key entries after them); value labels on
    // an opaque box so a line through them does not hide them
    char l0[128], lf[128];
    snprintf(l0, sizeof l0, "none kept: plain minmax (%.3f)", ref0);
    snprintf(lf, sizeof lf, "%s (%.3f)", c->fp_label, c->fp16);
    size_t longest = strlen(l0);
    for (int j = 0; j < ns; j++) longest = strlen(by_label(sorted[j])) > longest ? strlen(by_label(sorted[j])) : longest;
    pl_key_place(g, longest, ns + 2);
    gp_printf(g, "set style textbox opaque noborder margins 1,1\nplot \\\n");
    if (!isnan(ref0)) gp_printf(g, "  %.10g with lines lw 2 lc rgb '#ff7f0e' dt 2 notitle, \\\n", ref0);
    if (!isnan(c->fp16)) gp_printf(g, "  %.10g with lines lw 1.5 lc rgb '#000000' dt 4 notitle, \\\n", c->fp16);
    for (int j = 0; j < ns; j++)
        gp_printf(g, "  $b%d using 1:2 with boxes lc rgb '%s' title %s, \\\n"
                     "  $b%d using 1:2:(sprintf('%%.2f', $2)) with labels boxed offset 0,0.8 font ',10' notitle, \\\n",
                  j, by_color(sorted[j], j), gp_q(g, by_label(sorted[j])), j);
    if (!isnan(ref0)) gp_printf(g, "  keyentry with lines lw 2 lc rgb '#ff7f0e' dt 2 title %s, \\\n", gp_q(g, l0));
    if (!isnan(c->fp16)) gp_printf(g, "  keyentry with lines lw 1.5 lc rgb '#000000' dt 4 title %s, \\\n", gp_q(g, lf));
    gp_printf(g, "  keyentry notitle\n");
    if (gp_close(g, e)) return -1;
    pl_drawn(c, name, path);
    return 0;
}

int pl_salient_bars(const pl_ctx *c, const pl_spec *p, char *why, size_t wcap, ah_err *e) {
    double cb[16], cg[16];
    int nc = 0;
    for (int i = 0; i < c->s->n; i++) {
        const store_row *r = &c->s->rows[i];
        if (!salient_row(p, r) || !(pl_num(r, "salient_pct") > 0)) continue;
        int seen = 0;
        for (int k = 0; k < nc; k++) seen |= cb[k] == pl_num(r, "bits") && cg[k] == pl_num(r, "group_size");
        if (!seen && nc < 16) {
            cb[nc] = pl_num(r, "bits");
            cg[nc++] = pl_num(r, "group_size");
        }
    }
    if (!nc) {
        snprintf(why, wcap, "no minmax runs keeping salient channels%s (sweep method = minmax, salient_pct = "
                            "0, 1, 3, salient_by = activation, weight, random)", p->n_cond ? " passing the filter" : "");
        return 1;
    }
    for (int k = 0; k < nc; k++)
        if (salient_figure(c, p, cb[k], cg[k], nc > 1, e)) return -1;
    return 0;
}

// ---------------------------------------------------------------------------------------------
// kind = line

static const char *col_label(const pl_ctx *c, const char *col, char *buf, size_t cap) {
    static const struct { const char *col, *label; } L[] = {   // outcomes; parameters: their row
        {"nll", "mean negative log-likelihood (nats per token)"},
        {"seconds", "run time (s)"},
        {"awq_seconds", "AWQ search time (s)"},
        {"seqlen", "sequence length (tokens)"},
        {"windows", "evaluation windows"},
    };
    if (!strcmp(col, "ppl")) {
        pl_ppl_label(c, buf, cap);
        return buf;
    }
    const param_def *d = param_named(col);
    if (d) return d->label;
    for (size_t i = 0; i < sizeof L / sizeof L[0]; i++)
        if (!strcmp(L[i].col, col)) return L[i].label;
    return col;
}

int pl_line(const pl_ctx *c, const pl_spec *p, char *why, size_t wcap, ah_err *e) {
    pl_series s[MAX_SERIES];
    int ns = 0, rc = -1, method_only = p->n_series == 1 && !strcmp(store_summary_columns[p->series[0]].name, "method");
    for (int i = 0; i < c->s->n; i++) {
        const store_row *r = &c->s->rows[i];
        double x = pl_num(r, p->x), y = pl_num(r, p->y);
        if (!pl_keep(p, r) || isnan(x) || isnan(y)) continue;
        char label[128] = "";
        size_t o = 0;
        for (int k = 0; k < p->n_series && o < sizeof label; k++) {
            int ci = p->series[k];
            const store_column *col = &store_summary_columns[ci];
            const char *sep = k ? ", " : "";
            if (col->type == STORE_COL_STR)
                o += (size_t)snprintf(label + o, sizeof label - o, "%s%s", sep, r->str[ci][0] ? r->str[ci] : "(none)");
            else if (param_named(col->name)) {   // the table's label of the value ("per-row")
                char t[64];
                param_id pid = param_index(param_named(col->name));
                param_value pv = {r->num[ci], -1};
                const char *lab = param_label(pid, pv, t, sizeof t);
                if (pid == PARAM_GROUP) o += (size_t)snprintf(label + o, sizeof label - o, "%s%s", sep, lab);
                else o += (size_t)snprintf(label + o, sizeof label - o, "%s%s=%s", sep, col->name, lab);
            } else
                o += (size_t)snprintf(label + o, sizeof label - o, "%s%s=%g", sep, col->name, r->num[ci]);
        }
        if (!p->n_series) snprintf(label, sizeof label, "%s", p->y);
        int k = pl_series_find(s, &ns, MAX_SERIES, label);
        if (k < 0) continue;
        if (!s[k].n && method_only) s[k].color = gp_method_color(label);
        if (pl_series_add(&s[k], x, y, e)) goto done;
    }
    if (!ns) {
        snprintf(why, wcap, "no runs with both %s and %s%s", p->x, p->y, p->n_cond ? " passing the filter" : "");
        rc = 1;
        goto done;
    }
    pl_ref refs[1];
    int nr = 0;
    if (!strcmp(p->y, "ppl")) fp16_ref(c, refs, &nr);
    char title[128], xb[256], yb[256];
    snprintf(title, sizeof title, "%s vs %s", p->y, p->x);
    const char *xl = col_label(c, p->x, xb, sizeof xb), *yl = col_label(c, p->y, yb, sizeof yb);
    rc = finish_lines(c, p, s, ns, refs, nr, title, xl, yl, NULL, !strcmp(p->x, "group_size") && p->logx != 0, e);
done:
    pl_series_free(s, ns);
    return rc;
}
