// quantile.h — order statistics of a small sample (timings: medians of repetitions, p90 latency).
#ifndef AH_QUANTILE_H
#define AH_QUANTILE_H

// The q-quantile (q in [0, 1]) of v[0, n) (n > 0), linear between order statistics (numpy's
// default): q = 0.5 is the median, the mean of the middle two when n is even. Sorts v in place.
double ah_quantile(double *v, int n, double q);

#endif
