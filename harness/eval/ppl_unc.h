// ppl_unc.h — the uncertainty of a perplexity: llama.cpp's standard error and bootstrap
// intervals over evaluation windows (docs/UNCERTAINTY.md).
//
// Windows, not tokens, are resampled: the tokens of one window share their context, so they
// are not independent draws, and a window is the unit both runs of a comparison share.
#ifndef AH_PPL_UNC_H
#define AH_PPL_UNC_H

#include <stddef.h>
#include <stdint.h>

#define PPL_BOOT_RESAMPLES 1000   // resamples of every interval the harness records
#define PPL_BOOT_SEED 19          // fixed: the same windows give the same interval

// llama.cpp's standard error of a perplexity (tools/perplexity/perplexity.cpp): with
// m = sum / count and v = sum_sq / count - m^2 over the per-token NLL, ppl * sqrt(v / (count - 1))
// where ppl = exp(m). 0 when v <= 0 or count < 2 (llama.cpp prints an error then).
double ppl_se_llamacpp(double sum, double sum_sq, long count);

// 95% percentile bootstrap interval of exp(mean of nll[0, n)) over n windows (equal-weight
// window means, so exp of their mean is the perplexity): `resamples` draws of n windows with
// replacement from gsl_rng mt19937 seeded with seed, the 2.5 and 97.5 percentiles of the
// resampled perplexities. Returns -1 when n < 1 or out of memory.
int ppl_boot_interval(const double *nll, size_t n, int resamples, unsigned long seed,
                      double *lo, double *hi);

// The paired difference of run b from run a on the same n windows: the mean over windows of
// b's minus a's mean NLL (nats; b worse when > 0) and the difference of their perplexities,
// each with its 95% percentile bootstrap interval, the same window indices drawn for both runs
// in every resample (so what the windows share cancels).
typedef struct {
    double nll, nll_lo, nll_hi;   // mean NLL of b - a
    double ppl, ppl_lo, ppl_hi;   // perplexity of b - a
} ppl_paired;

// Returns -1 when n < 1 or out of memory.
int ppl_boot_paired(const double *a, const double *b, size_t n, int resamples,
                    unsigned long seed, ppl_paired *out);

#endif
