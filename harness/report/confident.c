// confident.c — which best values a table may mark: only those that beat the runner-up with
// 95% confidence, by a paired bootstrap over the evaluation windows both runs share (report.h,
// docs/UNCERTAINTY.md). A best by a margin inside the evaluation noise is not a finding.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

#include "eval/ppl_unc.h"
#include "report/report.h"

const char *report_window_dataset(const char *metric) {
    if (!strcmp(metric, "ppl") || !strcmp(metric, "nll")) return "nll_per_window";
    if (!strcmp(metric, "kld") || !strcmp(metric, "kld_mean")) return "kld_per_window";
    return NULL;
}

// The column of the standard error that says a run was recorded with its interval.
static const char *se_column(const char *metric) {
    return !strcmp(metric, "kld") || !strcmp(metric, "kld_mean") ? "kld_se" : "ppl_se";
}

typedef struct {
    double *v;
    size_t n;
    char hash[STORE_STR_CAP * 2];
} windows;

// 1 when best beats runner-up with 95% confidence on the same windows; 0 when not (or when the
// two cannot be paired); -1 on a read error.
static int beats(const windows *b, const windows *r, int better, int *W, ah_err *e) {
    if (b->n != r->n || b->n < 2 || strcmp(b->hash, r->hash)) return 0;
    ppl_paired d;
    if (ppl_boot_paired(b->v, r->v, b->n, PPL_BOOT_RESAMPLES, PPL_BOOT_SEED, &d))
        return ah_fail(e, "out of memory (bootstrap)");
    *W = *W == 0 || *W == (int)b->n ? (int)b->n : -1;
    // d = runner-up minus best: lower is better wants it above 0 with confidence.
    return better < 0 ? d.nll_lo > 0.0 : d.nll_hi < 0.0;
}

// The 95% interval of a cell's value: over seed replicates the t interval of their mean,
// mean +- t(0.975, n-1) sd / sqrt(n); for one run value +- 1.96 se (its evaluation noise).
// 0 when the cell has neither.
static int interval(const report_cell *c, double *lo, double *hi) {
    double h;
    if (c->n_rep > 1 && isfinite(c->sd))
        h = gsl_cdf_tdist_Pinv(0.975, c->n_rep - 1) * c->sd / sqrt(c->n_rep);
    else if (isfinite(c->se))
        h = 1.959964 * c->se;
    else
        return 0;
    *lo = c->value - h;
    *hi = c->value + h;
    return 1;
}

// REPORT_RULE_REPLICATES: in each column the best is marked only when its interval and the
// runner-up's do not overlap (the best's upper end below the runner-up's lower end when lower
// is better). Seeds change the calibration sample, so their spread is the noise a method
// comparison has to clear; the windows' paired bootstrap does not see it.
static void mark_replicates(report_table *t) {
    t->rule = REPORT_RULE_REPLICATES;
    for (int j = 0; j < t->n_cols; j++) {
        int bi = -1, ri = -1;
        for (int i = 0; i < t->n_rows; i++) {
            const report_cell *cl = &t->cell[(size_t)i * t->n_cols + j];
            if (t->row_ref[i] || cl->run < 0 || !isfinite(cl->value)) continue;
            double v = t->better * cl->value;
            if (bi < 0 || v > t->better * t->cell[(size_t)bi * t->n_cols + j].value) ri = bi, bi = i;
            else if (ri < 0 || v > t->better * t->cell[(size_t)ri * t->n_cols + j].value) ri = i;
        }
        if (bi < 0 || ri < 0) continue;
        report_cell *best = &t->cell[(size_t)bi * t->n_cols + j];
        const report_cell *run = &t->cell[(size_t)ri * t->n_cols + j];
        double blo, bhi, rlo, rhi;
        if (!interval(best, &blo, &bhi) || !interval(run, &rlo, &rhi)) continue;
        best->sure = t->better < 0 ? bhi < rlo : blo > rhi;
    }
}

int report_mark_confident(report_table *t, const store_summary *s, const char *metric,
                          report_windows_fn load, void *ctx, ah_err *e) {
    if (!metric) metric = "ppl";
    if (!t->better) return 0;   // REPORT_RULE_PRINTED
    if (t->replicates > 1) {
        mark_replicates(t);
        return 0;
    }
    if (!report_window_dataset(metric)) return 0;   // REPORT_RULE_PRINTED
    int fse = store_column_index(se_column(metric));
    for (size_t i = 0; i < (size_t)t->n_rows * t->n_cols; i++) {
        const report_cell *cl = &t->cell[i];
        if (cl->run >= 0 && !t->row_ref[i / t->n_cols] && isnan(s->rows[cl->run].num[fse])) {
            t->rule = REPORT_RULE_UNAVAILABLE;
            return 0;
        }
    }
    t->rule = REPORT_RULE_PAIRED;
    int W = 0, rc = -1;
    windows wb = {0}, wr = {0};
    for (int j = 0; j < t->n_cols; j++) {
        // The best and the runner-up among the quantized rows, by exact value.
        int bi = -1, ri = -1;
        for (int i = 0; i < t->n_rows; i++) {
            const report_cell *cl = &t->cell[(size_t)i * t->n_cols + j];
            if (t->row_ref[i] || cl->run < 0 || !isfinite(cl->value)) continue;
            double v = t->better * cl->value;   // higher is better after the sign
            if (bi < 0 || v > t->better * t->cell[(size_t)bi * t->n_cols + j].value) {
                ri = bi;
                bi = i;
            } else if (ri < 0 || v > t->better * t->cell[(size_t)ri * t->n_cols + j].value) {
                ri = i;
            }
        }
        if (bi < 0 || ri < 0) continue;   // no runner-up: nothing to beat
        report_cell *best = &t->cell[(size_t)bi * t->n_cols + j];
        const report_cell *run = &t->cell[(size_t)ri * t->n_cols + j];
        if (best->value == run->value) continue;
        if (load(ctx, best->run, &wb.v, &wb.n, wb.hash, sizeof wb.hash, e) ||
            load(ctx, run->run, &wr.v, &wr.n, wr.hash, sizeof wr.hash, e))
            goto done;
        int sure = beats(&wb, &wr, t->better, &W, e);
        if (sure < 0) goto done;
        best->sure = sure;
        free(wb.v);
        free(wr.v);
        wb.v = wr.v = NULL;
    }
    t->windows = W > 0 ? W : 0;
    rc = 0;
done:
    free(wb.v);
    free(wr.v);
    return rc;
}
