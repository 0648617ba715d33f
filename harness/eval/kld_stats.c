// kld_stats.c — llama.cpp's KLD and Δp statistics (kld_stats.h).
#include "eval/kld_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const float kld_quantiles[KLD_NQ] = {1.0f, 0.999f, 0.990f, 0.950f, 0.900f, 0.5f,
                                     0.100f, 0.050f, 0.010f, 0.001f, 0.0f};
const float dp_quantiles[DP_NQ] = {1.0f, 0.999f, 0.990f, 0.950f, 0.900f, 0.750f, 0.5f,
                                   0.250f, 0.100f, 0.050f, 0.010f, 0.001f, 0.0f};
const char *const kld_quantile_names[KLD_NQ] = {"max", "p999", "p99", "p95", "p90", "median",
                                                "p10", "p5", "p1", "p01", "min"};
const char *const dp_quantile_names[DP_NQ] = {"max", "p999", "p99", "p95", "p90", "p75", "median",
                                              "p25", "p10", "p5", "p1", "p01", "min"};

float kld_percentile(const float *v, size_t n, float fraction) {
    if (fraction <= 0) return v[0];
    if (fraction >= 1) return v[n - 1];
    float p = fraction * (float)(n - 1);   // llama.cpp: float p = fraction*(values.size() - 1)
    size_t ip = (size_t)p;
    p -= (float)ip;
    return (1 - p) * v[ip] + p * v[ip + 1 < n ? ip + 1 : n - 1];
}

float kld_median(const float *v, size_t n) {
    return n % 2 == 0 ? 0.5f * (v[n / 2] + v[n / 2 - 1]) : v[n / 2];
}

// llama.cpp's mean_and_uncertainty.
static void mean_se(double sum, double sum2, long n, double *mean, double *se) {
    *mean = *se = 0.0;
    if (n < 1) return;
    double f = sum / n, df = sum2 / n - f * f;
    *mean = f;
    *se = df > 0 && n > 10 ? sqrt(df / (n - 1)) : 0.0;
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

// q[k] = the k-th quantile of v[n] (sorted in place); the 0.5 entry is llama.cpp's median.
static void quantiles(double *q, float *v, size_t n, const float *fr, int nq) {
    qsort(v, n, sizeof *v, cmp_float);
    for (int k = 0; k < nq; k++)
        q[k] = fr[k] == 0.5f ? kld_median(v, n) : kld_percentile(v, n, fr[k]);
}

int kld_stats_compute(kld_stats *s, const kld_pos *pos, size_t n, ah_err *e) {
    memset(s, 0, sizeof *s);
    if (n == 0) return ah_fail(e, "KL divergence: no scored positions");
    float *v = malloc(n * sizeof *v);
    if (!v) return ah_fail(e, "out of memory (KLD statistics)");
    double k1 = 0, k2 = 0, d1 = 0, d2 = 0, d4 = 0;
    long same = 0;
    for (size_t i = 0; i < n; i++) {
        double k = pos[i].kld, d = pos[i].dp;
        k1 += k;
        k2 += k * k;
        d1 += d;
        d2 += d * d;   // (llama.cpp squares the float Δp in float: a last-bit difference)
        d4 += d * d * d * d;
        same += pos[i].same_top;
    }
    s->n = (long)n;
    mean_se(k1, k2, s->n, &s->mean, &s->se);
    mean_se(d1, d2, s->n, &s->dp_mean, &s->dp_se);
    double mse, mse_se;
    mean_se(d2, d4, s->n, &mse, &mse_se);
    s->dp_rms = sqrt(mse);
    s->dp_rms_se = s->dp_rms > 0 ? 0.5 / s->dp_rms * mse_se : 0.0;
    s->same_top = same;
    s->same_top_frac = (double)same / (double)n;
    s->same_top_se = n > 1 ? sqrt(s->same_top_frac * (1 - s->same_top_frac) / (double)(n - 1)) : 0.0;
    for (size_t i = 0; i < n; i++) v[i] = pos[i].kld;
    quantiles(s->q, v, n, kld_quantiles, KLD_NQ);
    for (size_t i = 0; i < n; i++) v[i] = pos[i].dp;
    quantiles(s->dp_q, v, n, dp_quantiles, DP_NQ);
    free(v);
    return 0;
}

int kld_stats_named(const kld_stats *s, const char **names, double *vals) {
    static const char *const KQ[KLD_NQ] = {"kld_max", "kld_p999", "kld_p99", "kld_p95",
                                           "kld_p90", "kld_median", "kld_p10", "kld_p5",
                                           "kld_p1", "kld_p01", "kld_min"};
    static const char *const DQ[DP_NQ] = {"dp_max", "dp_p999", "dp_p99", "dp_p95", "dp_p90",
                                          "dp_p75", "dp_median", "dp_p25", "dp_p10", "dp_p5",
                                          "dp_p1", "dp_p01", "dp_min"};
    int n = 0;
#define PUT(nm, v) (names[n] = (nm), vals[n++] = (v))
    PUT("kld_mean", s->mean);
    PUT("kld_se", s->se);
    for (int k = 0; k < KLD_NQ; k++) PUT(KQ[k], s->q[k]);
    PUT("top1_agree", s->same_top_frac);
    PUT("top1_same", (double)s->same_top);
    PUT("top1_se", s->same_top_se);
    PUT("dp_mean", s->dp_mean);
    PUT("dp_se", s->dp_se);
    PUT("dp_rms", s->dp_rms);
    PUT("dp_rms_se", s->dp_rms_se);
    for (int k = 0; k < DP_NQ; k++) PUT(DQ[k], s->dp_q[k]);
    PUT("kld_positions", (double)s->n);
#undef PUT
    return n;
}

int kld_named_is_count(const char *name) {
    return !strcmp(name, "top1_same") || !strcmp(name, "kld_positions");
}

void kld_stats_print(FILE *f, const kld_stats *s) {
    static const char *const KL[KLD_NQ] = {"Maximum", "99.9%  ", "99.0%  ", "95.0%  ", "90.0%  ",
                                           "Median ", "10.0%  ", " 5.0%  ", " 1.0%  ", " 0.1%  ",
                                           "Minimum"};
    static const char *const DL[DP_NQ] = {"Maximum", "99.9%  ", "99.0%  ", "95.0%  ", "90.0%  ",
                                          "75.0%  ", "Median ", "25.0%  ", "10.0%  ", " 5.0%  ",
                                          " 1.0%  ", " 0.1%  ", "Minimum"};
    fprintf(f, "====== KL divergence statistics ======\n");
    fprintf(f, "Mean    KLD: %10.6f ± %10.6f\n", s->mean, s->se);
    for (int k = 0; k < KLD_NQ; k++) fprintf(f, "%s KLD: %10.6f\n", KL[k], s->q[k]);
    fprintf(f, "\n====== Token probability statistics ======\n");
    fprintf(f, "Mean    Δp: %6.3f ± %5.3f %%\n", 100.0 * s->dp_mean, 100.0 * s->dp_se);
    for (int k = 0; k < DP_NQ; k++) fprintf(f, "%s Δp: %6.3f%%\n", DL[k], 100.0 * s->dp_q[k]);
    fprintf(f, "RMS Δp    : %6.3f ± %5.3f %%\n", 100.0 * s->dp_rms, 100.0 * s->dp_rms_se);
    fprintf(f, "Same top p: %6.3f ± %5.3f %% (%ld of %ld positions)\n", 100.0 * s->same_top_frac,
            100.0 * s->same_top_se, s->same_top, s->n);
}
