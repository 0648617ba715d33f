// packed_gemm.c — the prefill path of packed linears (packed_linear_apply with N >= 8 rows)
// against the fp32 path's cblas_sgemm on the same (dequantized) weights, over the linears of
// a model shape: the seven linears of each of L decoder blocks, N prompt rows (N = 1: a decoded
// token, where the fp32 path calls cblas_sgemv). L blocks of
// distinct weights (default 30, SmolLM2-135M's count) so the fp32 weights are read from
// memory as in a model (one block's 14 MB would stay in the last-level cache and flatter
// the fp32 side). Issue 22's prefill
// target compares these two (packed tokens/s >= 0.9x fp32).
//
//   bench/packed_gemm [--dim C] [--ffn F] [--kv KV] [--layers L] [--bits B] [--group G]
//                     [--reps R] [--threads T] [--rows N,N,...]
//
// Defaults: SmolLM2-135M's block (C 576, F 1536, KV 192), 4 bits, group 128, rows 16..256.
// Runs alternate (fp32, packed, fp32, ...) and each side keeps its best of R calls, so load
// that comes and goes on a shared machine hits both alike. Prints one key=value line per N:
// rows= fp32_ms= packed_ms= ratio= (fp32 time / packed time: the packed path's share of the
// fp32 speed). Build: make bench-tools (build/bench/packed_gemm).
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/blas.h"
#include "packed/packed.h"
#include "quant/quant.h"

void openblas_set_num_threads(int n);

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

enum { NLIN = 7, MAXL = 64 };

int main(int argc, char **argv) {
    int C = 576, F = 1536, KV = 192, L = 30, bits = 4, group = 128, reps = 20, threads = 2;
    const char *rows_arg = "16,32,64,128,256";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) goto usage;
        if (!strcmp(a, "--dim")) C = atoi(v);
        else if (!strcmp(a, "--ffn")) F = atoi(v);
        else if (!strcmp(a, "--kv")) KV = atoi(v);
        else if (!strcmp(a, "--layers")) L = atoi(v);
        else if (!strcmp(a, "--bits")) bits = atoi(v);
        else if (!strcmp(a, "--group")) group = atoi(v);
        else if (!strcmp(a, "--reps")) reps = atoi(v);
        else if (!strcmp(a, "--threads")) threads = atoi(v);
        else if (!strcmp(a, "--rows")) rows_arg = v;
        else goto usage;
        i++;
    }
    if (C < 1 || F < 1 || KV < 1 || L < 1 || L > MAXL || reps < 1 || threads < 1) goto usage;
    ah_err e = {{0}};
    if (ah_blas_select(&e)) {
        fprintf(stderr, "packed_gemm: %s\n", e.msg);
        return 1;
    }
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);
    // the block's linears: q, k, v, o, gate, up, down as (out, in)
    const int O[NLIN] = {C, KV, KV, C, F, F, C}, In[NLIN] = {C, C, C, C, C, C, F};
    static packed_linear *pk[MAXL * NLIN];   // [layer * NLIN + linear]
    static float *W[MAXL * NLIN];
    size_t scratch_n = 0;
    srand(1);
    for (int j = 0; j < L * NLIN; j++) {
        int l = j % NLIN;
        size_t n = (size_t)O[l] * In[l];
        quant_cfg q = {.kind = QUANT_MINMAX, .bits = bits, .group = group};
        size_t ng = (size_t)O[l] * quant_groups((size_t)In[l], group);
        float *w = malloc(n * sizeof *w), *s = malloc(ng * sizeof *s), *z = malloc(ng * sizeof *z);
        uint8_t *codes = malloc(n);
        if (!w || !s || !z || !codes || !(pk[j] = packed_linear_new(O[l], In[l], bits, group, &e)))
            goto oom;
        for (size_t i = 0; i < n; i++) w[i] = 0.04f * ((float)rand() / RAND_MAX - 0.5f);
        quant_codes(codes, s, z, w, (size_t)O[l], (size_t)In[l], &q);
        packed_linear_set_rows(pk[j], 0, O[l], codes, s, z);
        packed_linear_dequant(w, pk[j], 0, O[l]);   // fp32 side: the same weights
        W[j] = w;
        free(s); free(z); free(codes);
        size_t sn = packed_scratch(pk[j]);
        if (sn > scratch_n) scratch_n = sn;
    }
    int maxN = 0;
    for (const char *p = rows_arg; *p;) {
        int n = atoi(p);
        if (n > maxN) maxN = n;
        p = strchr(p, ',') ? strchr(p, ',') + 1 : p + strlen(p);
    }
    float *x = malloc((size_t)maxN * F * sizeof *x), *y = malloc((size_t)maxN * F * sizeof *y),
          *scratch = malloc(scratch_n * sizeof *scratch);
    if (!x || !y || !scratch) goto oom;
    for (size_t i = 0; i < (size_t)maxN * F; i++) x[i] = (float)rand() / RAND_MAX - 0.5f;
    printf("packed_gemm: %d blocks of C %d F %d KV %d, %d-bit group %d, %d threads, kernel %s, BLAS %s\n",
           L, C, F, KV, bits, group, threads, packed_kernel_name(packed_kernel_auto()), ah_blas_core());
    for (const char *p = rows_arg; *p;) {
        int N = atoi(p);
        p = strchr(p, ',') ? strchr(p, ',') + 1 : p + strlen(p);
        if (N < 1) continue;
        double best_f = 1e30, best_p = 1e30;
        for (int r = 0; r <= reps; r++) {   // r = 0 warms up
            double t0 = now();
            for (int j = 0; j < L * NLIN; j++) {   // y (N, O) = x (N, In) @ W^T, as fwd_linear calls it
                int l = j % NLIN;
                if (N == 1)   // a decoded token: sgemv (sgemm packs W even for one row)
                    cblas_sgemv(CblasRowMajor, CblasNoTrans, O[l], In[l], 1.0f, W[j], In[l], x, 1,
                                0.0f, y, 1);
                else
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, O[l], In[l], 1.0f, x,
                                In[l], W[j], In[l], 0.0f, y, O[l]);
            }
            double t1 = now();
            for (int j = 0; j < L * NLIN; j++) packed_linear_apply(y, x, pk[j], N, 0, scratch);
            double t2 = now();
            if (r > 0 && t1 - t0 < best_f) best_f = t1 - t0;
            if (r > 0 && t2 - t1 < best_p) best_p = t2 - t1;
        }
        printf("rows=%d fp32_ms=%.3f packed_ms=%.3f ratio=%.3f\n", N, best_f * 1e3, best_p * 1e3,
               best_f / best_p);
    }
    return 0;
oom:
    fprintf(stderr, "packed_gemm: %s\n", e.msg[0] ? e.msg : "out of memory");
    return 1;
usage:
    fprintf(stderr, "usage: %s [--dim C] [--ffn F] [--kv KV] [--bits B] [--group G] [--reps R] "
                    "[--threads T] [--rows N,N,...]\n", argv[0]);
    return 2;
}
