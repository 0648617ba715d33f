// plot_layers.c — the kinds drawn from the per-layer AWQ records of searched runs
// (layers/<l>/<linear>/: attrs scale_group, alpha; datasets scales, alphas, loss_vs_alpha):
// layer_alpha, scale_hist, loss_vs_alpha.
#include "plot/plot_internal.h"

#include "core/buf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// printf onto a growable buffer (keys and inline data of any length). -1 when out of memory.
static int bput(ah_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bput(ah_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *t = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!t) return -1;
    va_start(ap, fmt);
    vsnprintf(t, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = ah_buf_put(b, t, (size_t)n);
    free(t);
    return rc;
}

#define MAX_GROUPS 8
#define MAX_RUNS 24

// One scale group of one layer, read from its first member linear (members share the scales,
// the alpha and the loss curve).
typedef struct {
    int layer;
    int g;              // index into run_layers.group
    char where[96];     // "layers/3/k_proj"
    double alpha;       // NaN when absent
} lg_entry;

typedef struct {
    char group[MAX_GROUPS][32];
    int ng;
    int n_layers;       // 1 + the largest layer number
    lg_entry *v;
    int n;
} run_layers;

static void run_layers_free(run_layers *rl) {
    free(rl->v);
    memset(rl, 0, sizeof *rl);
}

static const char *group_label(const char *g) {
    static const struct { const char *g, *label; } L[] = {
        {"qkv", "qkv: norm -> q,k,v"}, {"o", "o: v -> o"},         {"gate_up", "gate_up: norm -> gate,up"},
        {"down", "down: up -> down"},  {"fc1", "fc1: norm -> fc1"}, {"fc2", "fc2: fc1 -> fc2"},
    };
    for (size_t i = 0; i < sizeof L / sizeof L[0]; i++)
        if (!strcmp(L[i].g, g)) return L[i].label;
    return g;
}

static int group_rank(const char *g) {
    static const char *const ORDER[] = {"qkv", "o", "gate_up", "fc1", "down", "fc2"};
    for (int i = 0; i < 6; i++)
        if (!strcmp(ORDER[i], g)) return i;
    return 6;
}

// Reads the scale groups of every layer of run `run`. 1 (why filled) when it has none.
static int read_run_layers(const pl_ctx *c, const char *run, run_layers *rl, char *why, size_t wcap, ah_err *e) {
    memset(rl, 0, sizeof *rl);
    char **layers = NULL;
    int nl = 0;
    ah_err le;
    if (store_list(c->file, run, "layers", &layers, &nl, &le) || nl == 0) {
        snprintf(why, wcap, "run %s has no per-layer records (experiment ran with record_layers = no?)", run);
        store_list_free(layers, nl);
        return 1;
    }
    int rc = 0;
    for (int i = 0; i < nl && rc == 0; i++) {
        char grp[64], **lin = NULL;
        int nlin = 0;
        snprintf(grp, sizeof grp, "layers/%s", layers[i]);
        if (store_list(c->file, run, grp, &lin, &nlin, &le)) continue;
        int layer = atoi(layers[i]);
        for (int k = 0; k < nlin; k++) {
            char where[96], g[32];
            snprintf(where, sizeof where, "layers/%s/%s", layers[i], lin[k]);
            if (store_run_attr_str_get(c->file, run, where, "scale_group", g, sizeof g, &le)) continue;
            int gi = -1;
            for (int j = 0; j < rl->ng; j++)
                if (!strcmp(rl->group[j], g)) gi = j;
            if (gi < 0 && rl->ng < MAX_GROUPS) snprintf(rl->group[gi = rl->ng++], sizeof rl->group[0], "%s", g);
            int seen = gi < 0;
            for (int j = 0; j < rl->n; j++) seen |= rl->v[j].layer == layer && rl->v[j].g == gi;
            if (seen) continue;
            lg_entry *ne = realloc(rl->v, (size_t)(rl->n + 1) * sizeof *ne);
            if (!ne) {
                rc = ah_fail(e, "out of memory");
                break;
            }
            rl->v = ne;
            lg_entry *t = &rl->v[rl->n++];
            t->layer = layer;
            t->g = gi;
            snprintf(t->where, sizeof t->where, "%s", where);
            if (store_run_attr_real_get(c->file, run, where, "alpha", &t->alpha, &le)) t->alpha = NAN;
            if (layer + 1 > rl->n_layers) rl->n_layers = layer + 1;
        }
        store_list_free(lin, nlin);
    }
    store_list_free(layers, nl);
    if (rc) {
        run_layers_free(rl);
        return -1;
    }
    if (!rl->n) {
        snprintf(why, wcap, "run %s has no AWQ scale groups in its per-layer records", run);
        run_layers_free(rl);
        return 1;
    }
    // canonical group order (qkv, o, gate_up, down), entries renumbered
    int perm[MAX_GROUPS], inv[MAX_GROUPS];
    for (int i = 0; i < rl->ng; i++) perm[i] = i;
    for (int i = 1; i < rl->ng; i++)
        for (int j = i; j > 0 && group_rank(rl->group[perm[j - 1]]) > group_rank(rl->group[perm[j]]); j--) {
            int t = perm[j];
            perm[j] = perm[j - 1];
            perm[j - 1] = t;
        }
    char names[MAX_GROUPS][32];
    for (int i = 0; i < rl->ng; i++) {
        snprintf(names[i], sizeof names[i], "%s", rl->group[perm[i]]);
        inv[perm[i]] = i;
    }
    memcpy(rl->group, names, sizeof names);
    for (int j = 0; j < rl->n; j++) rl->v[j].g = inv[rl->v[j].g];
    return 0;
}

// A grid of n panels (multiplot) under the figure's title: 1 x 2, 2 x 2, 2 x 3 ... The key of
// the first panel goes into the grid's empty cell when there is one, else right of the grid;
// one x label and one y label for the whole grid.
typedef struct {
    int n, rows, cols, key_cell;
    double L, R, B, T, sx, sy, w, h;
} panels;

static void begin_panels(gp *g, const pl_spec *p, const char *xlabel, const char *ylabel, int n, int n_key,
                         size_t longest, panels *pn) {
    pn->n = n;
    pn->cols = n <= 2 ? n : n <= 4 ? 2 : 3;
    pn->rows = (n + pn->cols - 1) / pn->cols;
    // an empty cell holds a short key; a long one goes right of the grid, as wide as its text
    pn->key_cell = n < pn->rows * pn->cols && n_key * 2 <= 9 * (pn->rows - 1) + 5 ? n : -1;
    pn->L = 0.09;
    pn->R = pn->key_cell >= 0 ? 0.97 : fmax(0.5, 0.93 - 0.0085 * (double)longest - 0.06);
    pn->B = 0.12;
    pn->T = 0.82;
    pn->sx = 0.07;
    pn->sy = 0.15;
    pn->w = (pn->R - pn->L - (pn->cols - 1) * pn->sx) / pn->cols;
    pn->h = (pn->T - pn->B - (pn->rows - 1) * pn->sy) / pn->rows;
    gp_printf(g, "unset xlabel\nunset ylabel\n");
    gp_printf(g, "set label 903 %s at screen 0.022, screen %g center rotate by 90 font ',13'\n",
              gp_q(g, p->ylabel[0] ? p->ylabel : ylabel), (pn->B + pn->T) / 2);
    gp_printf(g, "set label 904 %s at screen %g, screen 0.035 center font ',13'\n",
              gp_q(g, p->xlabel[0] ? p->xlabel : xlabel), (pn->L + pn->R) / 2);
    gp_printf(g, "set title font ',13'\nunset key\nset multiplot\n");
}

static void panel(gp *g, const panels *pn, int i, const char *title) {
    int r = i / pn->cols, col = i % pn->cols;
    double x0 = pn->L + col * (pn->w + pn->sx), y1 = pn->T - r * (pn->h + pn->sy);
    gp_printf(g, "set lmargin at screen %g\nset rmargin at screen %g\nset tmargin at screen %g\n"
                 "set bmargin at screen %g\nset title %s\n",
              x0, x0 + pn->w, y1, y1 - pn->h, gp_q(g, title));
}

// After the first panel is drawn: the figure's labels are not drawn again.
static void after_first_panel(gp *g) {
    gp_printf(g, "unset label 901\nunset label 902\nunset label 903\nunset label 904\n");
}

// The grid's key as a panel of its own (the empty cell, else right of the grid): `entries` are
// keyentry clauses. Ends the multiplot.
static void key_panel(gp *g, const panels *pn, const char *entries) {
    double x0, x1, y1;
    if (pn->key_cell >= 0) {
        int kr = pn->key_cell / pn->cols, kc = pn->key_cell % pn->cols;
        x0 = pn->L + kc * (pn->w + pn->sx);
        x1 = x0 + pn->w;
        y1 = pn->T - kr * (pn->h + pn->sy);
    } else {
        x0 = pn->R + 0.01;
        x1 = 0.995;
        y1 = pn->T;
    }
    // keyentry alone trips an assertion in gnuplot 5.4: one invisible point comes along
    gp_printf(g, "unset title\nunset border\nunset tics\nunset grid\nunset logscale\nunset arrow\n"
                 "set xrange [0:1]\nset yrange [0:1]\nset lmargin at screen %g\nset rmargin at screen %g\n"
                 "set tmargin at screen %g\nset bmargin at screen %g\nset key inside left top Left reverse\n"
                 "$nokey << EOD\n-1 -1\nEOD\nplot $nokey using 1:2 with points notitle, %s\nunset multiplot\n",
              x0, x1, y1, pn->B, entries);
}

// ---------------------------------------------------------------------------------------------

int pl_layer_alpha(const pl_ctx *c, const pl_spec *p, char *why, size_t wcap, ah_err *e) {
    const store_row *runs[MAX_RUNS];
    run_layers rl[MAX_RUNS];
    int nr = 0, rc = -1, skipped = 0;
    for (int i = 0; i < c->s->n && nr < MAX_RUNS; i++) {
        const store_row *r = &c->s->rows[i];
        if (p->run[0] ? strcmp(r->id, p->run) : !pl_is_searched_awq(r) || !pl_keep(p, r)) continue;
        int k = read_run_layers(c, r->id, &rl[nr], why, wcap, e);
        if (k < 0) goto done;
        if (k == 1) {
            skipped++;
            continue;
        }
        runs[nr++] = r;
    }
    if (!nr) {
        if (!skipped) {
            const store_row *dummy;
            pl_pick_run(c, p, &dummy, why, wcap);
        }
        rc = 1;
        goto done;
    }
    // panels: the union of the runs' groups
    char groups[MAX_GROUPS][32];
    int ng = 0, nlayers = 0;
    for (int k = 0; k < nr; k++) {
        nlayers = rl[k].n_layers > nlayers ? rl[k].n_layers : nlayers;
        for (int j = 0; j < rl[k].ng; j++) {
            int seen = 0;
            for (int q = 0; q < ng; q++) seen |= !strcmp(groups[q], rl[k].group[j]);
            if (!seen && ng < MAX_GROUPS) memcpy(groups[ng++], rl[k].group[j], sizeof groups[0]);
        }
    }
    char path[4096], title[256];
    if (pl_out_path(c, p->name, path, sizeof path, e)) goto done;
    if (nr == 1) snprintf(title, sizeof title, "AWQ: alpha chosen in each layer (%s)", runs[0]->id);
    else snprintf(title, sizeof title, "AWQ: alpha chosen in each layer, %d searched runs", nr);
    gp *g = pl_begin(c, p, path, title, "decoder layer", "chosen alpha (s = mean|x|^alpha)", e);
    if (!g) goto done;
    gp_printf(g, "set yrange [-0.04:1.04]\nset ytics 0.2\nset xrange [-0.5:%g]\n", nlayers - 0.5);
    if (nlayers <= 32) gp_printf(g, "set xtics 1\n");
    if (nr == 1) {   // one panel, one line per group
        gp_printf(g, "set key outside right top\n");
        for (int j = 0; j < rl[0].ng; j++) {
            gp_printf(g, "$g%d << EOD\n", j);
            for (int l = 0; l < nlayers; l++)
                for (int q = 0; q < rl[0].n; q++)
                    if (rl[0].v[q].g == j && rl[0].v[q].layer == l && !isnan(rl[0].v[q].alpha))
                        gp_printf(g, "%d %.6g\n", l, rl[0].v[q].alpha);
            gp_printf(g, "EOD\n");
        }
        gp_printf(g, "plot \\\n");
        for (int j = 0; j < rl[0].ng; j++)
            gp_printf(g, "  $g%d using 1:2 with linespoints lw 2 pt 7 ps 1.4 lc rgb '%s' title %s%s", j,
                      GP_COLORS[j % GP_NCOLORS], gp_q(g, group_label(rl[0].group[j])), j + 1 < rl[0].ng ? ", \\\n" : "\n");
    } else {         // a panel per group, one line per run (shifted a little so equal alphas stay visible)
        panels pn;
        size_t longest = 0;
        for (int k = 0; k < nr; k++) longest = strlen(runs[k]->id) > longest ? strlen(runs[k]->id) : longest;
        begin_panels(g, p, "decoder layer", "chosen alpha (s = mean|x|^alpha)", ng, nr, longest, &pn);
        double w = fmin(0.3 / nr, 0.08);
        for (int gi = 0; gi < ng; gi++) {
            panel(g, &pn, gi, group_label(groups[gi]));
            gp_printf(g, "plot \\\n");
            for (int k = 0; k < nr; k++)
                gp_printf(g, "  '-' using 1:2 with linespoints lw 1.5 pt %d ps 1.1 lc rgb '%s' notitle%s",
                          k / GP_NCOLORS % 2 ? 5 : 7, GP_COLORS[k % GP_NCOLORS], k + 1 < nr ? ", \\\n" : "\n");
            for (int k = 0; k < nr; k++) {
                int gk = -1;
                for (int j = 0; j < rl[k].ng; j++)
                    if (!strcmp(rl[k].group[j], groups[gi])) gk = j;
                for (int l = 0; gk >= 0 && l < nlayers; l++)
                    for (int q = 0; q < rl[k].n; q++)
                        if (rl[k].v[q].g == gk && rl[k].v[q].layer == l && !isnan(rl[k].v[q].alpha))
                            gp_printf(g, "%.4f %.6g\n", l + (k - (nr - 1) / 2.0) * w, rl[k].v[q].alpha);
                gp_printf(g, "e\n");
            }
            if (gi == 0) after_first_panel(g);
        }
        ah_buf keys = {0};
        int oom = 0;
        for (int k = 0; k < nr; k++)
            oom |= bput(&keys, "%skeyentry with linespoints lw 1.5 pt %d ps 1.1 lc rgb '%s' title %s", k ? ", " : "",
                        k / GP_NCOLORS % 2 ? 5 : 7, GP_COLORS[k % GP_NCOLORS], gp_q(g, runs[k]->id));
        if (oom) {
            free(keys.p);
            gp_close(g, NULL);
            ah_fail(e, "out of memory");
            goto done;
        }
        key_panel(g, &pn, keys.p);
        free(keys.p);
    }
    if (gp_close(g, e)) goto done;
    pl_drawn(c, p->name, path);
    rc = 0;
done:
    for (int k = 0; k < nr; k++) run_layers_free(&rl[k]);
    return rc;
}

// ---------------------------------------------------------------------------------------------

#define NBINS 40

int pl_scale_hist(const pl_ctx *c, const pl_spec *p, char *why, size_t wcap, ah_err *e) {
    const store_row *run;
    if (pl_pick_run(c, p, &run, why, wcap)) return 1;
    run_layers rl;
    int k = read_run_layers(c, run->id, &rl, why, wcap, e);
    if (k) return k;
    int rc = -1;
    double *vals[MAX_GROUPS] = {0};
    size_t nv[MAX_GROUPS] = {0};
    double lo = INFINITY, hi = -INFINITY;
    for (int q = 0; q < rl.n; q++) {
        double *d;
        size_t n, dims[2];
        char ds[128];
        ah_err le;
        snprintf(ds, sizeof ds, "%s/scales", rl.v[q].where);
        if (store_read_f64(c->file, run->id, ds, &d, &n, dims, &le)) continue;
        int gi = rl.v[q].g;
        double *grown = realloc(vals[gi], (nv[gi] + n) * sizeof *grown + 1);
        if (!grown) {
            free(d);
            ah_fail(e, "out of memory");
            goto done;
        }
        vals[gi] = grown;
        for (size_t i = 0; i < n; i++)
            if (d[i] > 0 && isfinite(d[i])) {
                vals[gi][nv[gi]++] = d[i];
                lo = fmin(lo, d[i]);
                hi = fmax(hi, d[i]);
            }
        free(d);
    }
    if (!(hi > 0)) {
        snprintf(why, wcap, "run %s has no AWQ scales in its per-layer records", run->id);
        rc = 1;
        goto done;
    }
    if (hi / lo < 1.5) {
        lo /= 1.25;
        hi *= 1.25;
    }
    double l0 = log(lo), step = (log(hi) - l0) / NBINS * (1 + 1e-9);
    char path[4096], title[256];
    if (pl_out_path(c, p->name, path, sizeof path, e)) goto done;
    snprintf(title, sizeof title, "AWQ scales of %s, per scale group", run->id);
    gp *g = pl_begin(c, p, path, title, "AWQ scale s of an input channel (log scale)",
                     "input channels (all layers)", e);
    if (!g) goto done;
    double xlo = fmin(lo, 1) / 1.15, xhi = fmax(hi, 1) * 1.15;   // s = 1 always in view
    gp_printf(g, "set logscale x\nset xrange [%.8g:%.8g]\nset yrange [0:*]\nset offsets 0, 0, graph 0.05, 0\n", xlo, xhi);
    pl_log_tics(g, 'x', xlo, xhi);
    int ng = 0, cmax = 0;
    for (int gi = 0; gi < rl.ng; gi++) {
        if (!nv[gi]) continue;
        int cnt[NBINS] = {0};
        for (size_t i = 0; i < nv[gi]; i++) {
            int b = (int)((log(vals[gi][i]) - l0) / step);
            cnt[b < 0 ? 0 : b >= NBINS ? NBINS - 1 : b]++;
        }
        for (int b = 0; b < NBINS; b++) cmax = cnt[b] > cmax ? cnt[b] : cmax;
        gp_printf(g, "$h%d << EOD\n%.8g 0\n", gi, lo);
        for (int b = 0; b < NBINS; b++)
            gp_printf(g, "%.8g %d\n%.8g %d\n", exp(l0 + b * step), cnt[b], exp(l0 + (b + 1) * step), cnt[b]);
        gp_printf(g, "%.8g 0\nEOD\n", exp(l0 + NBINS * step));
        ng++;
    }
    gp_printf(g, "$one << EOD\n1 0\n1 %d\nEOD\nplot \\\n", cmax);
    for (int gi = 0, done_g = 0; gi < rl.ng; gi++) {
        if (!nv[gi]) continue;
        const char *col = GP_COLORS[gi % GP_NCOLORS];
        char label[128];
        snprintf(label, sizeof label, "%s", group_label(rl.group[gi]));
        gp_printf(g, "  $h%d using 1:2 with filledcurves y=0 fs transparent solid 0.18 noborder lc rgb '%s' notitle, \\\n"
                     "  $h%d using 1:2 with lines lw 2 lc rgb '%s' title %s%s",
                  gi, col, gi, col, gp_q(g, label), ", \\\n");
        done_g++;
    }
    gp_printf(g, "  $one using 1:2 with lines lw 1.5 dt 2 lc rgb '#555555' title 's = 1 (no scaling)'\n");
    if (gp_close(g, e)) goto done;
    pl_drawn(c, p->name, path);
    rc = 0;
done:
    for (int gi = 0; gi < MAX_GROUPS; gi++) free(vals[gi]);
    run_layers_free(&rl);
    return rc;
}

// ---------------------------------------------------------------------------------------------

#define CHOSEN_KEY "keyentry with points pt 6 ps 3 lw 2.5 lc rgb '#333333' title 'chosen alpha (lowest loss)'"

int pl_loss_vs_alpha(const pl_ctx *c, const pl_spec *p, char *why, size_t wcap, ah_err *e) {
    const store_row *run;
    if (pl_pick_run(c, p, &run, why, wcap)) return 1;
    run_layers rl;
    int k = read_run_layers(c, run->id, &rl, why, wcap, e);
    if (k) return k;
    int rc = -1, layers[PL_MAX_LAYERS], nl = 0;
    if (p->n_layers) {
        for (int i = 0; i < p->n_layers; i++) {
            if (p->layers[i] >= rl.n_layers) {
                snprintf(why, wcap, "layer %d not in run %s (layers 0..%d)", p->layers[i], run->id, rl.n_layers - 1);
                rc = 1;
                goto done;
            }
            layers[nl++] = p->layers[i];
        }
    } else {   // first, middle, last
        int cand[3] = {0, rl.n_layers / 2, rl.n_layers - 1};
        for (int i = 0; i < 3; i++)
            if (!nl || cand[i] != layers[nl - 1]) layers[nl++] = cand[i];
    }
    // one panel per group that has curves
    int have[MAX_GROUPS] = {0}, np = 0;
    for (int q = 0; q < rl.n; q++) {
        double *d;
        size_t n, dims[2];
        char ds[128];
        ah_err le;
        snprintf(ds, sizeof ds, "%s/loss_vs_alpha", rl.v[q].where);
        if (store_read_f64(c->file, run->id, ds, &d, &n, dims, &le)) continue;
        free(d);
        if (n >= 2 && !have[rl.v[q].g]++) np++;
    }
    if (!np) {
        snprintf(why, wcap, "run %s has no loss-vs-alpha curves (they are recorded for searched alphas)", run->id);
        rc = 1;
        goto done;
    }
    char path[4096], title[256];
    if (pl_out_path(c, p->name, path, sizeof path, e)) goto done;
    snprintf(title, sizeof title, "AWQ search: loss vs alpha in chosen layers of %s", run->id);
    const char *yl = "output loss / loss at the first alpha (lower is better)";
    gp *g = pl_begin(c, p, path, title, "alpha (AWQ scales s = mean|x|^alpha)", yl, e);
    if (!g) goto done;
    gp_printf(g, "set xrange [-0.02:1.0]\nset xtics 0.2\nset offsets 0, 0, graph 0.08, graph 0.08\n");
    panels pn;
    if (np > 1) begin_panels(g, p, "alpha (AWQ scales s = mean|x|^alpha)", yl, np, nl + 1, 28, &pn);
    else gp_printf(g, "set key outside right top\n");
    int npanel = 0;
    for (int gi = 0; gi < rl.ng; gi++) {
        if (!have[gi]) continue;
        if (np > 1) panel(g, &pn, npanel, group_label(rl.group[gi]));
        // curves and chosen points: data inline per series
        int ns = 0, oom = 0;
        ah_buf cmd = {0}, data = {0};
        for (int li = 0; li < nl; li++) {
            const lg_entry *t = NULL;
            for (int q = 0; q < rl.n; q++)
                if (rl.v[q].g == gi && rl.v[q].layer == layers[li]) t = &rl.v[q];
            if (!t) continue;
            double *a = NULL, *l = NULL;
            size_t na, nl2, dims[2];
            char ds[128];
            ah_err le;
            snprintf(ds, sizeof ds, "%s/alphas", t->where);
            int ok = !store_read_f64(c->file, run->id, ds, &a, &na, dims, &le);
            snprintf(ds, sizeof ds, "%s/loss_vs_alpha", t->where);
            ok = ok && !store_read_f64(c->file, run->id, ds, &l, &nl2, dims, &le) && na == nl2 && na >= 2 && l[0] > 0;
            if (ok) {
                const char *col = GP_COLORS[li % GP_NCOLORS];
                int best = 0;
                for (size_t i = 1; i < na; i++)
                    if (fabs(a[i] - t->alpha) < fabs(a[best] - t->alpha)) best = (int)i;
                char lab[64];
                snprintf(lab, sizeof lab, "layer %d", layers[li]);
                oom |= bput(&cmd, "%s'-' using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '%s' title %s, "
                                  "'-' using 1:2 with points pt 6 ps 3 lw 2.5 lc rgb '%s' notitle",
                            ns ? ", " : "", col, np > 1 ? "''" : gp_q(g, lab), col);
                for (size_t i = 0; i < na; i++) oom |= bput(&data, "%.6g %.8g\n", a[i], l[i] / l[0]);
                oom |= bput(&data, "e\n%.6g %.8g\ne\n", a[best], l[best] / l[0]);
                ns++;
            }
            free(a);
            free(l);
        }
        if (ns && np == 1) oom |= bput(&cmd, ", " CHOSEN_KEY);
        if (ns && !oom) gp_printf(g, "plot %s\n%s", cmd.p, data.p);
        free(cmd.p);
        free(data.p);
        if (oom) {
            gp_close(g, NULL);
            ah_fail(e, "out of memory");
            goto done;
        }
        if (!ns) continue;
        if (np > 1 && npanel == 0) after_first_panel(g);
        npanel++;
    }
    if (np > 1) {
        ah_buf keys = {0};
        int oom = 0;
        for (int li = 0; li < nl; li++)
            oom |= bput(&keys, "keyentry with linespoints lw 2 pt 7 ps 0.8 lc rgb '%s' title 'layer %d', ",
                        GP_COLORS[li % GP_NCOLORS], layers[li]);
        oom |= bput(&keys, CHOSEN_KEY);
        if (!oom) key_panel(g, &pn, keys.p);
        free(keys.p);
        if (oom) {
            gp_close(g, NULL);
            ah_fail(e, "out of memory");
            goto done;
        }
    }
    if (gp_close(g, e)) goto done;
    pl_drawn(c, p->name, path);
    rc = 0;
done:
    run_layers_free(&rl);
    return rc;
}
