// plot_draw.c — series and the common line figure (plot_internal.h).
#include "plot/plot_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pl_series_add(pl_series *s, double x, double y, ah_err *e) {
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 16;
        double *nx = realloc(s->x, (size_t)cap * sizeof *nx);
        if (!nx) return ah_fail(e, "out of memory");
        s->x = nx;
        double *ny = realloc(s->y, (size_t)cap * sizeof *ny);
        if (!ny) return ah_fail(e, "out of memory");
        s->y = ny;
        double *nl = realloc(s->lo, (size_t)cap * sizeof *nl);
        if (!nl) return ah_fail(e, "out of memory");
        s->lo = nl;
        double *nh = realloc(s->hi, (size_t)cap * sizeof *nh);
        if (!nh) return ah_fail(e, "out of memory");
        s->hi = nh;
        s->cap = cap;
    }
    s->x[s->n] = x;
    s->y[s->n] = s->lo[s->n] = s->hi[s->n] = y;
    s->n++;
    return 0;
}

void pl_series_err(pl_series *s, double lo, double hi) {
    if (!s->n || !isfinite(lo) || !isfinite(hi)) return;
    s->lo[s->n - 1] = lo;
    s->hi[s->n - 1] = hi;
    s->n_err++;
}

void pl_series_ppl_err(pl_series *s, const store_row *r, const char *ycol) {
    if (!strcmp(ycol, "ppl")) pl_series_err(s, pl_num(r, "ppl_lo"), pl_num(r, "ppl_hi"));
    if (!strncmp(ycol, "acc_", 4) && strncmp(ycol, "acc_norm_", 9)) {   // acc_TASK: +-1.96 se
        char se[64];
        snprintf(se, sizeof se, "acc_stderr_%s", ycol + 4);
        double a = pl_num(r, ycol), d = 1.96 * pl_num(r, se);
        pl_series_err(s, a - d, a + d);
    }
}

void pl_series_sort(pl_series *s) {   // insertion sort: a handful of points
    for (int i = 1; i < s->n; i++)
        for (int j = i; j > 0 && s->x[j - 1] > s->x[j]; j--) {
            double tx = s->x[j], ty = s->y[j], tl = s->lo[j], th = s->hi[j];
            s->x[j] = s->x[j - 1];
            s->y[j] = s->y[j - 1];
            s->lo[j] = s->lo[j - 1];
            s->hi[j] = s->hi[j - 1];
            s->x[j - 1] = tx;
            s->y[j - 1] = ty;
            s->lo[j - 1] = tl;
            s->hi[j - 1] = th;
        }
}

void pl_series_free(pl_series *s, int n) {
    for (int i = 0; i < n; i++) {
        free(s[i].x);
        free(s[i].y);
        free(s[i].lo);
        free(s[i].hi);
        s[i].x = s[i].y = s[i].lo = s[i].hi = NULL;
        s[i].n = s[i].cap = s[i].n_err = 0;
    }
}

int pl_series_find(pl_series *s, int *n, int max, const char *label) {
    for (int i = 0; i < *n; i++)
        if (!strcmp(s[i].label, label)) return i;
    if (*n >= max) return -1;
    pl_series *t = &s[(*n)++];
    memset(t, 0, sizeof *t);
    snprintf(t->label, sizeof t->label, "%s", label);
    t->dash = 1;
    t->point = 7;
    return *n - 1;
}

gp *pl_begin(const pl_ctx *c, const pl_spec *p, const char *path, const char *title,
             const char *xlabel, const char *ylabel, ah_err *e) {
    gp *g = gp_open(c->gnuplot, c->fmt, path, e);
    if (!g) return NULL;
    // title and subtitle centred on the figure (a gnuplot title centres on the plot area, which
    // the key shifts left), the plot area below them
    const char *t = p->title[0] ? p->title : title;
    gp_printf(g, "set label 901 %s at screen 0.5, screen 0.957 center font ',16'\n", gp_q(g, t));
    if (c->subtitle[0])
        gp_printf(g, "set label 902 %s at screen 0.5, screen 0.913 center font ',11' tc rgb '#555555'\n",
                  gp_q(g, c->subtitle));
    gp_printf(g, "set tmargin at screen 0.86\n");
    gp_printf(g, "set xlabel %s\nset ylabel %s\n", gp_q(g, p->xlabel[0] ? p->xlabel : xlabel),
              gp_q(g, p->ylabel[0] ? p->ylabel : ylabel));
    if (p->logx == 1) gp_printf(g, "set logscale x\n");
    return g;
}

void pl_plot_lines(gp *g, const pl_series *s, int n, const pl_ref *r, int nr, int logy) {
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < n; i++) {
        gp_printf(g, "$s%d << EOD\n", i);
        for (int k = 0; k < s[i].n; k++) {
            gp_printf(g, "%.10g %.10g %.10g %.10g\n", s[i].x[k], s[i].y[k], s[i].lo[k], s[i].hi[k]);
            lo = fmin(lo, s[i].lo[k]);
            hi = fmax(hi, s[i].hi[k]);
        }
        gp_printf(g, "EOD\n");
    }
    for (int i = 0; i < nr; i++) {
        lo = fmin(lo, r[i].y);
        hi = fmax(hi, r[i].y);
    }
    size_t longest = 0;
    for (int i = 0; i < n; i++) longest = strlen(s[i].label) > longest ? strlen(s[i].label) : longest;
    for (int i = 0; i < nr; i++) longest = strlen(r[i].label) > longest ? strlen(r[i].label) : longest;
    pl_key_place(g, longest, n + nr);
    if (logy < 0) logy = lo > 0 && hi / lo > 10;
    if (logy && lo > 0) {   // labelled tics also when the range spans less than a decade
        gp_printf(g, "set logscale y\n");
        pl_log_tics(g, 'y', lo / 1.25, hi * 1.25);
    }
    gp_printf(g, "set autoscale fix\nset offsets graph 0.03, graph 0.03, graph 0.06, graph 0.06\n");
    // Reference lines are arrows across the whole plot (a constant function would only span the
    // data's x range), listed in the key by keyentry, and kept in the y range by invisible points.
    for (int i = 0; i < nr; i++)
        gp_printf(g, "set arrow from graph 0, first %.10g to graph 1, first %.10g nohead lw 1.5 lc rgb '%s' dt %d\n",
                  r[i].y, r[i].y, r[i].color ? r[i].color : "#000000", r[i].dash);
    double x0 = NAN;
    for (int i = 0; i < n && isnan(x0); i++)
        if (s[i].n) x0 = s[i].x[0];
    if (nr && !isnan(x0)) {
        gp_printf(g, "$refs << EOD\n");
        for (int i = 0; i < nr; i++) gp_printf(g, "%.10g %.10g\n", x0, r[i].y);
        gp_printf(g, "EOD\n");
    }
    gp_printf(g, "plot \\\n");
    for (int i = 0; i < n; i++) {
        const char *col = s[i].color ? s[i].color : GP_COLORS[i % GP_NCOLORS];
        if (s[i].n_err)   // the 95% interval of each point as an error bar (docs/PLOTS.md)
            gp_printf(g, "  $s%d using 1:2:3:4 with yerrorlines lw 2 lc rgb '%s' dt %d pt %d ps 1.3 title %s",
                      i, col, s[i].dash, s[i].point ? s[i].point : 7, gp_q(g, s[i].label));
        else if (s[i].point)
            gp_printf(g, "  $s%d using 1:2 with linespoints lw 2 lc rgb '%s' dt %d pt %d ps 1.3 title %s",
                      i, col, s[i].dash, s[i].point, gp_q(g, s[i].label));
        else
            gp_printf(g, "  $s%d using 1:2 with lines lw 2 lc rgb '%s' dt %d title %s", i, col, s[i].dash,
                      gp_q(g, s[i].label));
        gp_printf(g, "%s", i + 1 < n || nr ? ", \\\n" : "\n");
    }
    for (int i = 0; i < nr; i++)
        gp_printf(g, "  keyentry with lines lw 1.5 lc rgb '%s' dt %d title %s%s",
                  r[i].color ? r[i].color : "#000000", r[i].dash, gp_q(g, r[i].label),
                  i + 1 < nr || !isnan(x0) ? ", \\\n" : "\n");
    if (nr && !isnan(x0)) gp_printf(g, "  $refs using 1:2 with points pt 7 ps 0 lc rgb '#ffffffff' notitle\n");
}

void pl_group_axis(gp *g, pl_series *s, int n) {
    double vals[64];
    int nv = 0, has_row = 0;
    double mx = 0, mn = INFINITY;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < s[i].n; k++) {
            double x = s[i].x[k];
            if (x == -1) {
                has_row = 1;
                continue;
            }
            int seen = 0;
            for (int j = 0; j < nv; j++) seen |= vals[j] == x;
            if (!seen && nv < 64) vals[nv++] = x;
            mx = fmax(mx, x);
            mn = fmin(mn, x);
        }
    // per-row sits one octave right of the largest group (at 2 when there is none)
    double rowx = nv ? exp2(ceil(log2(mx)) + 1) : 2;
    if (!nv) mn = mx = rowx;
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < s[i].n; k++)
            if (s[i].x[k] == -1) s[i].x[k] = rowx;
        pl_series_sort(&s[i]);
    }
    gp_printf(g, "set logscale x 2\nset xtics (");
    for (int j = 0; j < nv; j++) gp_printf(g, "%s'%g' %g", j ? ", " : "", vals[j], vals[j]);
    if (has_row) gp_printf(g, "%s'per-row' %g", nv ? ", " : "", rowx);
    gp_printf(g, ")\n");
    double right = has_row ? rowx : mx;
    gp_printf(g, "set xrange [%g:%g]\n", mn / 1.35, right * 1.35);
}

void pl_log_tics(gp *g, char axis, double lo, double hi) {
    static const double UFINE[] = {1, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.8, 2, 2.2, 2.5, 2.8, 3, 3.5, 4, 4.5, 5,
                                   5.5, 6, 7, 8, 9},
                        VFINE[] = {1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8, 9}, FINE[] = {1, 1.5, 2, 3, 5, 7},
                        MID[] = {1, 2, 5}, COARSE[] = {1};
    double dec = log10(hi / lo);
    const double *m = dec < 0.35 ? UFINE : dec < 0.7 ? VFINE : dec < 1.5 ? FINE : dec < 4 ? MID : COARSE;
    int nm = dec < 0.35 ? 22 : dec < 0.7 ? 12 : dec < 1.5 ? 6 : dec < 4 ? 3 : 1, n = 0;
    gp_printf(g, "set %ctics (", axis);
    for (int k = (int)floor(log10(lo)); k <= (int)ceil(log10(hi)); k++)
        for (int i = 0; i < nm; i++) {
            double v = m[i] * pow(10, k);
            if (v < lo || v > hi) continue;
            gp_printf(g, "%s'%g' %.10g", n++ ? ", " : "", v, v);
        }
    gp_printf(g, ")\n");
}

// A key right of the plot takes its longest entry's width from the plot: past 24 characters,
// or with more than 6 entries (a tall column of long labels took up to half the figure), it
// goes below the plot in columns, and the plot keeps the figure's width.
void pl_key_place(gp *g, size_t longest, int entries) {
    if (longest > 24 || entries > 6)
        gp_printf(g, "set key below center horizontal Left reverse spacing 1.1 width 2 height 0.5 "
                     "samplen 3\n");
}
