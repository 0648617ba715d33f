// ppl_unc.c — llama.cpp's standard error and the window bootstrap (ppl_unc.h).
#include "eval/ppl_unc.h"

#include <math.h>
#include <stdlib.h>

#include <gsl/gsl_rng.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

double ppl_se_llamacpp(double sum, double sum_sq, long count) {
    if (count < 2) return 0.0;
    // The same operations in the same order as llama.cpp, so the numbers agree to the last bit
    // where the sums do.
    double nll2 = sum_sq / count, nll = sum / count;
    double ppl = exp(nll);
    nll2 -= nll * nll;
    if (!(nll2 > 0)) return 0.0;
    return sqrt(nll2 / (count - 1)) * ppl;
}

// The resampled statistic of every draw into stat[resamples]: the mean of x over n windows
// drawn with replacement (x = b - a for a paired difference), all draws from one seeded stream.
static int boot_means(const double *x, size_t n, int resamples, unsigned long seed, double *stat) {
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r) return -1;
    gsl_rng_set(r, seed);
    for (int k = 0; k < resamples; k++) {
        double s = 0.0;
        for (size_t i = 0; i < n; i++) s += x[gsl_rng_uniform_int(r, n)];
        stat[k] = s / (double)n;
    }
    gsl_rng_free(r);
    gsl_sort(stat, 1, (size_t)resamples);
    return 0;
}

int ppl_boot_interval(const double *nll, size_t n, int resamples, unsigned long seed,
                      double *lo, double *hi) {
    if (n < 1 || resamples < 2) return -1;
    double *stat = malloc((size_t)resamples * sizeof *stat);
    if (!stat || boot_means(nll, n, resamples, seed, stat)) {
        free(stat);
        return -1;
    }
    // exp is monotone: the percentiles of the mean NLL are those of the perplexity.
    *lo = exp(gsl_stats_quantile_from_sorted_data(stat, 1, (size_t)resamples, 0.025));
    *hi = exp(gsl_stats_quantile_from_sorted_data(stat, 1, (size_t)resamples, 0.975));
    free(stat);
    return 0;
}

int ppl_boot_paired(const double *a, const double *b, size_t n, int resamples,
                    unsigned long seed, ppl_paired *out) {
    if (n < 1 || resamples < 2) return -1;
    size_t R = (size_t)resamples;
    double *dn = malloc(R * sizeof *dn), *dp = malloc(R * sizeof *dp);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    int rc = -1;
    if (!dn || !dp || !r) goto out;
    gsl_rng_set(r, seed);
    double sa = 0.0, sb = 0.0;
    for (size_t i = 0; i < n; i++) {
        sa += a[i];
        sb += b[i];
    }
    out->nll = (sb - sa) / (double)n;
    out->ppl = exp(sb / (double)n) - exp(sa / (double)n);
    for (size_t k = 0; k < R; k++) {
        double ra = 0.0, rb = 0.0;
        for (size_t i = 0; i < n; i++) {
            size_t w = gsl_rng_uniform_int(r, n);
            ra += a[w];
            rb += b[w];
        }
        dn[k] = (rb - ra) / (double)n;
        dp[k] = exp(rb / (double)n) - exp(ra / (double)n);
    }
    gsl_sort(dn, 1, R);
    gsl_sort(dp, 1, R);
    out->nll_lo = gsl_stats_quantile_from_sorted_data(dn, 1, R, 0.025);
    out->nll_hi = gsl_stats_quantile_from_sorted_data(dn, 1, R, 0.975);
    out->ppl_lo = gsl_stats_quantile_from_sorted_data(dp, 1, R, 0.025);
    out->ppl_hi = gsl_stats_quantile_from_sorted_data(dp, 1, R, 0.975);
    rc = 0;
out:
    if (r) gsl_rng_free(r);
    free(dn);
    free(dp);
    return rc;
}
