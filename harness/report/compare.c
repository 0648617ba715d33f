// compare.c — `report --compare A B`: the paired difference of two runs' perplexities over the
// windows both scored, with its 95% bootstrap interval (report.h, docs/UNCERTAINTY.md). Two
// perplexities each with an interval say little about their difference: the windows they
// share move both, and pairing cancels that.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/ppl_unc.h"
#include "report/report.h"

static int row_of(const store_summary *s, const char *id) {
    for (int r = 0; r < s->n; r++)
        if (!strcmp(s->rows[r].id, id)) return r;
    return -1;
}

int report_compare(ah_buf *out, const char *path, const store_summary *s, const char *a,
                   const char *b, ah_err *e) {
    int ra = row_of(s, a), rb = row_of(s, b);
    if (ra < 0 || rb < 0) return ah_fail(e, "%s: no run '%s'", path, ra < 0 ? a : b);
    report_file_windows f = {.path = path, .s = s, .dataset = "nll_per_window"};
    double *va = NULL, *vb = NULL;
    size_t na = 0, nb = 0;
    char ha[2 * STORE_STR_CAP], hb[2 * STORE_STR_CAP];
    int rc = -1;
    if (report_windows_file(&f, ra, &va, &na, ha, sizeof ha, e) ||
        report_windows_file(&f, rb, &vb, &nb, hb, sizeof hb, e))
        goto done;
    if (strcmp(ha, hb)) {
        ah_fail(e, "%s and %s were evaluated on different data (eval_sha256 %.12s vs %.12s): "
                   "their windows cannot be paired", a, b, ha, hb);
        goto done;
    }
    if (na != nb || na < 2) {
        ah_fail(e, "%s has %zu windows and %s %zu: a paired comparison needs the same windows, "
                   "at least 2", a, na, b, nb);
        goto done;
    }
    ppl_paired d;
    if (ppl_boot_paired(va, vb, na, PPL_BOOT_RESAMPLES, PPL_BOOT_SEED, &d)) {
        ah_fail(e, "out of memory (bootstrap)");
        goto done;
    }
    double pa = 0.0, pb = 0.0;
    for (size_t i = 0; i < na; i++) {
        pa += va[i] / (double)na;
        pb += vb[i] / (double)na;
    }
    const char *verdict = d.nll_lo > 0.0 ? "B is worse than A with 95% confidence"
                        : d.nll_hi < 0.0 ? "B is better than A with 95% confidence"
                        : "the difference is within the noise (the interval holds 0)";
    char text[2048];
    int len = snprintf(text, sizeof text,
                       "A = %s: perplexity %.4f\n"
                       "B = %s: perplexity %.4f\n"
                       "paired over the same %zu evaluation windows (eval_sha256 %.12s), %d "
                       "bootstrap resamples:\n"
                       "  perplexity B - A: %+.4f, 95%% interval [%+.4f, %+.4f]\n"
                       "  mean NLL B - A:   %+.6f nats, 95%% interval [%+.6f, %+.6f]\n"
                       "%s\n",
                       a, exp(pa), b, exp(pb), na, ha, PPL_BOOT_RESAMPLES, d.ppl, d.ppl_lo,
                       d.ppl_hi, d.nll, d.nll_lo, d.nll_hi, verdict);
    rc = len < 0 || ah_buf_put(out, text, (size_t)len) ? ah_fail(e, "out of memory") : 0;
done:
    free(va);
    free(vb);
    return rc;
}
