// stream.c — a STREAM-style copy bandwidth: b[i] = a[i] over arrays far larger than the caches,
// OpenMP across the threads asked for, best and median of the repetitions. Decoding reads
// every weight once per token, so bytes per token / this bandwidth bounds tokens/s.
//   make bench-tools && build/bench/stream [MiB per array] [reps]
// Counts 2 bytes moved per byte copied (read a, write b), as STREAM's Copy does.
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

int main(int argc, char **argv) {
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 256;
    int reps = argc > 2 ? atoi(argv[2]) : 10;
    if (mib < 1 || reps < 1 || reps > 1000) {
        fprintf(stderr, "usage: stream [MiB per array >= 1] [reps 1..1000]\n");
        return 2;
    }
    size_t n = mib * (1u << 20) / sizeof(double);
    double *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *gbs = malloc(reps * sizeof *gbs);
    if (!a || !b || !gbs) {
        fprintf(stderr, "stream: out of memory for 2 x %zu MiB\n", mib);
        return 1;
    }
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) a[i] = (double)i, b[i] = 0.0;   // first touch by the copier
    for (int r = 0; r < reps; r++) {
        double t0 = omp_get_wtime();
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) b[i] = a[i];
        double dt = omp_get_wtime() - t0;
        gbs[r] = 2.0 * n * sizeof(double) / dt / 1e9;
    }
    double best = 0;
    for (int r = 0; r < reps; r++) best = gbs[r] > best ? gbs[r] : best;
    qsort(gbs, reps, sizeof *gbs, cmp);
    printf("copy_gb_per_s_best=%.3f copy_gb_per_s_median=%.3f mib=%zu reps=%d threads=%d check=%g\n",
           best, gbs[reps / 2], mib, reps, omp_get_max_threads(), b[n - 1]);
    free(a);
    free(b);
    free(gbs);
    return 0;
}
