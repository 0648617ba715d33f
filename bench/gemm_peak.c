// gemm_peak.c — single-precision GEMM throughput of the BLAS exactly as the harness links and
// calls it (OpenBLAS OpenMP build by path, row-major x @ W^T as fwd_linear does): the
// machine's practical peak that bench/throughput.sh relates the harness's achieved FLOP/s to.
//
//   bench/gemm_peak [--threads N] [--reps R]
//
// For each shape (M, N, K) of an OPT-125m / Llama-style block at a 2048-token window, plus a
// large square GEMM, prints the best of R timed calls (after one warm-up) in GFLOP/s
// (2*M*N*K flops per call). The last line is key=value: peak_gflops= the best shape,
// core= the kernel set OpenBLAS runs (SkylakeX = AVX-512, Haswell = AVX2), chosen as the
// harness chooses it (ah_blas_select, AH_BLAS_CORE). Build: make bench-tools (build/bench/gemm_peak).
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/blas.h"

void openblas_set_num_threads(int n);

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    int threads = 0, reps = 5;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--threads N] [--reps R]\n", argv[0]);
            return 2;
        }
    }
    ah_err e = {{0}};
    if (ah_blas_select(&e)) {
        fprintf(stderr, "gemm_peak: %s\n", e.msg);
        return 1;
    }
    if (threads > 0) {
        omp_set_num_threads(threads);
        openblas_set_num_threads(threads);
    }
    // name, M (rows of x = tokens), N (outputs), K (inputs)
    static const struct { const char *name; int M, N, K; } shapes[] = {
        {"qkv 2048x2304x768", 2048, 2304, 768},    // OPT-125m fused q,k,v
        {"fc1 2048x3072x768", 2048, 3072, 768},    // OPT-125m fc1
        {"fc2 2048x768x3072", 2048, 768, 3072},    // OPT-125m fc2
        {"o 2048x768x768", 2048, 768, 768},        // OPT-125m out_proj
        {"head 64x50272x768", 64, 50272, 768},     // LM head GEMM of 64 rows
        {"square 2048^3", 2048, 2048, 2048},
    };
    size_t maxa = 0, maxb = 0, maxc = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        size_t a = (size_t)shapes[s].M * shapes[s].K, b = (size_t)shapes[s].N * shapes[s].K,
               c = (size_t)shapes[s].M * shapes[s].N;
        if (a > maxa) maxa = a;
        if (b > maxb) maxb = b;
        if (c > maxc) maxc = c;
    }
    float *A = aligned_alloc(64, (maxa * 4 + 63) / 64 * 64), *Bm = aligned_alloc(64, (maxb * 4 + 63) / 64 * 64),
          *Cm = aligned_alloc(64, (maxc * 4 + 63) / 64 * 64);
    if (!A || !Bm || !Cm) {
        fprintf(stderr, "gemm_peak: out of memory\n");
        return 1;
    }
    srand(1);
    for (size_t i = 0; i < maxa; i++) A[i] = (float)rand() / RAND_MAX - 0.5f;
    for (size_t i = 0; i < maxb; i++) Bm[i] = (float)rand() / RAND_MAX - 0.5f;
    memset(Cm, 0, maxc * sizeof(float));
    double peak = 0;
    const char *peak_name = "";
    printf("OpenBLAS core %s, %d thread(s)\n", ah_blas_core(), omp_get_max_threads());
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        int M = shapes[s].M, N = shapes[s].N, K = shapes[s].K;
        double best = 1e30;
        for (int r = 0; r <= reps; r++) {   // r = 0 warms up (page faults, BLAS buffers)
            double t0 = now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, A, K, Bm, K, 0.0f,
                        Cm, N);
            double dt = now() - t0;
            if (r > 0 && dt < best) best = dt;
        }
        double gf = 2.0 * M * N * K / best * 1e-9;
        printf("  %-20s %8.1f GFLOP/s  (%.2f ms)\n", shapes[s].name, gf, best * 1e3);
        if (gf > peak) {
            peak = gf;
            peak_name = shapes[s].name;
        }
    }
    printf("peak_gflops=%.1f peak_shape=\"%s\" threads=%d core=%s\n", peak, peak_name,
           omp_get_max_threads(), ah_blas_core());
    free(A);
    free(Bm);
    free(Cm);
    return 0;
}
