// expf_speed.c — ns per value of each path of ah_expf_shift_n (core/expf_vec.h) this CPU has
// against the reference path (ah_expf per element, the compiler's widest clone), on one
// thread, rows of 2048 softmax-like inputs (x - max in [-30, 0]), in place as the attention
// calls it. Alternating rounds, thread
// CPU time (the machines are shared), median of ROUNDS. Not part of the test suite.
//
//   cc -O2 -std=c11 -fopenmp -fno-trapping-math -Iharness -o /tmp/expf_speed
//      bench/expf_speed.c harness/core/expf_vec.c -lm && /tmp/expf_speed   (one line)
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/expf_vec.h"

enum { N = 2048, REPS = 20000, ROUNDS = 7 };

static double cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// ns per value of REPS calls of path p over a fresh copy of x (N values) each time.
static double time_ns(int p, const float *x, float *y) {
    double t0 = cpu_seconds();
    for (int r = 0; r < REPS; r++) {
        memcpy(y, x, N * sizeof(float));
        ah_expf_shift_n_path(p, y, y, N, 0.0f);
    }
    return (cpu_seconds() - t0) / ((double)REPS * N) * 1e9;
}

int main(void) {
    static float x[N], y[N];
    unsigned s = 12345u;
    for (int i = 0; i < N; i++) {
        s = s * 1103515245u + 12345u;
        x[i] = -30.0f * (float)((s >> 8) & 0xffff) / 65536.0f;
    }
    enum { PATHS = AH_EXPF_AVX512 + 1 };
    double t[PATHS][ROUNDS];
    for (int k = 0; k < ROUNDS; k++)   // the paths alternating within each round
        for (int p = 0; p < PATHS; p++)
            if (ah_expf_path_supported(p)) t[p][k] = time_ns(p, x, y);
    for (int p = 0; p < PATHS; p++) qsort(t[p], ROUNDS, sizeof t[p][0], cmp_double);
    double ref = t[AH_EXPF_REF][ROUNDS / 2];
    printf("expf_speed: reference %.3f ns/value", ref);
    for (int p = AH_EXPF_AVX2; p < PATHS; p++)
        if (ah_expf_path_supported(p))
            printf(", %s %.3f (%.2fx)", ah_expf_path_name(p), t[p][ROUNDS / 2], ref / t[p][ROUNDS / 2]);
    printf("; ah_expf_shift_n runs %s; medians of %d rounds\n", ah_expf_path_name(ah_expf_vec_path()),
           ROUNDS);
    return 0;
}
