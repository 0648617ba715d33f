// sgemm_order.c — in which order does OpenBLAS's sgemm sum one element of the attention's
// scores S (nr, i1) = scale * q (nr, D) @ k^T (D, i1)? For each element it tells apart the
// serial fused sum (acc = fma(q_d, k_d, acc) for d = 0..D-1, then scale * acc) from the sum
// split into even and odd d (two such chains added at the end), as the call is made inside the
// attention (one thread: OpenBLAS runs single-threaded inside an OpenMP region). Why it
// matters: a fused attention kernel of our own must give these bits to keep every perplexity
// (bench/README.md, "Faster evaluation"); model/attend_block.c gives the `SkylakeX` kernels'
// bits and checks them at first use. Not part of the test suite.
//
//   cc -O2 -mfma -o /tmp/sgemm_order bench/sgemm_order.c
//      -I/usr/include/x86_64-linux-gnu/openblas-openmp -L/usr/lib/x86_64-linux-gnu/openblas-openmp
//      -l:libopenblas.so.0 -Wl,-rpath,/usr/lib/x86_64-linux-gnu/openblas-openmp -lm   (one line)
//   OMP_NUM_THREADS=1 OPENBLAS_CORETYPE=Haswell /tmp/sgemm_order
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int main(void) {
    const int nr = 128, D = 64, ldq = 9 * 64, ldk = 3 * 64;   // SmolLM2: H = 9, G = 3, D = 64
    const float scale = 0.125f;                                // 1 / sqrt(64)
    for (int i1 = 128; i1 <= 2048; i1 *= 2) {
        float *q = malloc(sizeof(float) * nr * ldq), *k = malloc(sizeof(float) * i1 * ldk),
              *S = malloc(sizeof(float) * nr * i1);
        if (!q || !k || !S) return 1;
        srand(1);
        for (int i = 0; i < nr * ldq; i++) q[i] = rand() / (float)RAND_MAX - 0.5f;
        for (int i = 0; i < i1 * ldk; i++) k[i] = rand() / (float)RAND_MAX - 0.5f;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nr, i1, D, scale, q, ldq, k, ldk,
                    0.0f, S, i1);
        long serial = 0, split = 0, neither = 0;
        for (int i = 0; i < nr; i++)
            for (int j = 0; j < i1; j++) {
                const float *a = q + (size_t)i * ldq, *b = k + (size_t)j * ldk;
                float acc = 0.0f, ev = 0.0f, od = 0.0f;
                for (int d = 0; d < D; d++) acc = fmaf(a[d], b[d], acc);
                for (int d = 0; d < D; d += 2) {
                    ev = fmaf(a[d], b[d], ev);
                    od = fmaf(a[d + 1], b[d + 1], od);
                }
                float got = S[(size_t)i * i1 + j];
                if (got == scale * acc) serial++;
                else if (got == scale * (ev + od)) split++;
                else neither++;
            }
        printf("S %d x %d, D %d: serial fused sum %ld, even/odd split %ld, neither %ld\n", nr, i1,
               D, serial, split, neither);
        free(q); free(k); free(S);
    }
    return 0;
}
