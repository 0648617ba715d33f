// kld_stats.h — the statistics llama.cpp's perplexity tool prints for --kl-divergence
// ("KL divergence statistics", "Token probability statistics"), from per-position values.
//
// Rules, as llama.cpp has them:
//   mean +- se      f = sum / n, se = sqrt((sum2 / n - f^2) / (n - 1)), 0 when that variance
//                   is not positive or n <= 10 (mean_and_uncertainty)
//   percentile(q)   over the values sorted ascending (float): x = q (n - 1) in float, i = floor x,
//                   (1 - (x - i)) v[i] + (x - i) v[min(i + 1, n - 1)]; q <= 0: v[0], q >= 1: v[n-1]
//   median          the middle value, or 0.5f * (sum of the two middle ones) for even n
//   RMS Δp +- unc   sqrt(mean Δp^2), unc = 0.5 / rms * se(Δp^2) (from sums of Δp^2 and Δp^4)
//   same top p      k / n +- sqrt(p (1 - p) / (n - 1))
// llama.cpp prints the distribution statistics only for n >= 100; here they are computed for
// any n >= 1 (the caller may say so).
#ifndef AH_KLD_STATS_H
#define AH_KLD_STATS_H

#include <stddef.h>
#include <stdio.h>

#include "core/err.h"
#include "eval/kld.h"

// The quantiles printed for KLD and for Δp, as fractions (1 = maximum, 0.5 = median, 0 = minimum).
#define KLD_NQ 11
#define DP_NQ 13
extern const float kld_quantiles[KLD_NQ];   // 1 .999 .99 .95 .9 .5 .1 .05 .01 .001 0
extern const float dp_quantiles[DP_NQ];     // 1 .999 .99 .95 .9 .75 .5 .25 .1 .05 .01 .001 0
// Attribute-name suffixes of those quantiles: "max", "p999", ..., "median", ..., "min".
extern const char *const kld_quantile_names[KLD_NQ];
extern const char *const dp_quantile_names[DP_NQ];

typedef struct {
    long n;                       // scored positions
    double mean, se;              // mean KLD (nats) and its standard error
    double q[KLD_NQ];             // KLD at kld_quantiles
    long same_top;                // positions whose top token is the FP model's
    double same_top_frac, same_top_se;
    double dp_mean, dp_se;        // Δp (a probability, not %) mean and its standard error
    double dp_rms, dp_rms_se;
    double dp_q[DP_NQ];           // Δp at dp_quantiles
} kld_stats;

// Statistics of the n positions in pos. Sums run in position order (reproducible for any
// thread count, where llama.cpp's follow its threads).
int kld_stats_compute(kld_stats *s, const kld_pos *pos, size_t n, ah_err *e);

// The statistics as named values, in one order for records, key=value lines and the summary:
// kld_mean kld_se kld_max kld_p999 .. kld_median .. kld_min top1_agree top1_same top1_se dp_mean
// dp_se dp_rms dp_rms_se dp_max .. dp_min kld_positions. names[i] and vals[i], i < return value
// (KLD_NAMED at most). Δp values are probabilities (llama.cpp prints them x 100, in %).
#define KLD_NAMED (2 + KLD_NQ + 3 + 4 + DP_NQ + 1)
int kld_stats_named(const kld_stats *s, const char **names, double *vals);
// 1 when the named value is a count (top1_same, kld_positions), 0 for reals.
int kld_named_is_count(const char *name);

// llama.cpp's two blocks ("KL divergence statistics", "Token probability statistics"), its
// labels and formats, to f.
void kld_stats_print(FILE *f, const kld_stats *s);

// llama.cpp's percentile of sorted[n] (n >= 1) and its median.
float kld_percentile(const float *sorted, size_t n, float fraction);
float kld_median(const float *sorted, size_t n);

#endif
