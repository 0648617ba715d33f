// attend_block.c — the attention's score and value products for a block of 128 query rows in
// OpenBLAS's summation order (attend_block.h says which order and how it was found).
#include "model/attend_block.h"

#include "core/blas.h"
#include <math.h>
#include <omp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/vecmax.h"
#include "model/attend_block_avx2.h"

// The K block (keys) OpenBLAS's level-3 driver takes from key ls of a product over n keys:
// GEMM_Q = 448 while at least 2 * 448 remain, else half of what remains rounded up to
// GEMM_UNROLL_M = 16 when more than 448 remain, else the rest (driver/level3/level3.c, the
// `SkylakeX` sgemm parameters of param.h).
static int kblock(int n, int ls) {
    enum { Q = 448, UNROLL = 16 };
    int left = n - ls;
    if (left >= 2 * Q) return Q;
    if (left > Q) return (left / 2 + UNROLL - 1) / UNROLL * UNROLL;
    return left;
}

size_t attend_block_kp_floats(int n, int D) { return (size_t)(n + 15) / 16 * 16 * (size_t)D; }

void attend_block_pack_keys(float *kp, const float *k, size_t ldk, int n, int D) {
    for (int p = 0; p < (n + 15) / 16; p++)
        for (int l = 0; l < 16; l++) {
            int j = 16 * p + l;
            float *dst = kp + (size_t)p * D * 16 + l;
            if (j >= n) {
                for (int d = 0; d < D; d++) dst[(size_t)d * 16] = 0.0f;
                continue;
            }
            const float *kj = k + (size_t)j * ldk;
            for (int d = 0; d < D; d++) dst[(size_t)d * 16] = kj[d];
        }
}

void attend_block_pack_values(float *vp, const float *v, size_t ldv, int n, int D) {
    for (int j = 0; j < n; j++) memcpy(vp + (size_t)j * D, v + (size_t)j * ldv, sizeof(float) * D);
}

#if defined(__x86_64__)
#include <immintrin.h>
#define AVX512 __attribute__((target("avx512f")))
#define INLINE __attribute__((always_inline)) static inline

// S rows [0, R) x panels [0, P) of 16 keys: acc = fma chain over d from 0 (q broadcast, 16
// keys a vector), then fma(acc, scale, 0) as OpenBLAS's kernel adds alpha * acc to the zeroed
// block. R = 8, P <= 3: 24 accumulators. mx[r] (lanes) takes the max of the row's scores of
// keys up to last[r] (the tile's first key is key 0 of the panels here).
AVX512 INLINE void scores_tile(float *S, size_t ldS, const float *q, size_t ldq, const float *kp,
                               int D, float scale, __m512 mx[8], const int last[8], const int R,
                               const int P) {
    __m512 acc[8][3];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
#pragma GCC unroll 8
        for (int p = 0; p < P; p++) acc[r][p] = _mm512_setzero_ps();
    for (int d = 0; d < D; d++) {
        __m512 kv[3];
#pragma GCC unroll 8
        for (int p = 0; p < P; p++) kv[p] = _mm512_loadu_ps(kp + ((size_t)p * D + d) * 16);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            __m512 qb = _mm512_set1_ps(q[(size_t)r * ldq + d]);
#pragma GCC unroll 8
            for (int p = 0; p < P; p++) acc[r][p] = _mm512_fmadd_ps(qb, kv[p], acc[r][p]);
        }
    }
    const __m512 vs = _mm512_set1_ps(scale), zero = _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
#pragma GCC unroll 8
        for (int p = 0; p < P; p++) {
            __m512 sc = _mm512_fmadd_ps(acc[r][p], vs, zero);
            _mm512_storeu_ps(S + (size_t)r * ldS + 16 * p, sc);
            int valid = last[r] - 16 * p + 1;   // keys of this panel at or before the row's
            __mmask16 m = valid >= 16 ? (__mmask16)0xffff : valid <= 0 ? 0 : (__mmask16)((1u << valid) - 1);
            mx[r] = _mm512_mask_max_ps(mx[r], m, mx[r], sc);
        }
}

AVX512 static void scores_avx512(float *S, float *rowmax, const float *q, size_t ldq,
                                 const float *kp, int i0, int D, float scale) {
    enum { R = 8 };
    size_t ldS = (size_t)i0 + ATTEND_BLOCK_ROWS, panel = (size_t)D * 16;
    for (int r0 = 0; r0 < ATTEND_BLOCK_ROWS; r0 += R) {
        // rows r0 .. r0+7 read keys up to i0 + r0 + 7
        int np = (i0 + r0 + R + 15) / 16, p = 0, last[R];
        __m512 mx[R];
        for (int r = 0; r < R; r++) {
            mx[r] = _mm512_set1_ps(-INFINITY);
            last[r] = i0 + r0 + r;
        }
        float *Sr = S + (size_t)r0 * ldS;
        const float *qr = q + (size_t)r0 * ldq;
        for (; p + 3 <= np; p += 3) {
            scores_tile(Sr + 16 * p, ldS, qr, ldq, kp + p * panel, D, scale, mx, last, R, 3);
            for (int r = 0; r < R; r++) last[r] -= 48;   // keys counted from the next tile's
        }
        if (np - p == 2) scores_tile(Sr + 16 * p, ldS, qr, ldq, kp + p * panel, D, scale, mx, last, R, 2);
        if (np - p == 1) scores_tile(Sr + 16 * p, ldS, qr, ldq, kp + p * panel, D, scale, mx, last, R, 1);
        for (int r = 0; r < R; r++) rowmax[r0 + r] = _mm512_reduce_max_ps(mx[r]);
    }
}

// out rows [0, R) x columns [0, 16 NC) = P @ v over keys [0, jmax) (the rows' weights are zero
// from jmax on), in the K blocks of a product over n keys: a fused chain per block from 0,
// each block's sum added to the output (zero before the first), as OpenBLAS does.
AVX512 INLINE void values_tile(float *out, size_t ldo, const float *P, size_t ldP, const float *v,
                               size_t ldv, int n, int jmax, const int R, const int NC) {
    const __m512 zero = _mm512_setzero_ps();
    int first = 1;
    for (int ls = 0; ls < jmax;) {
        int le = ls + kblock(n, ls);
        int stop = le < jmax ? le : jmax;
        __m512 acc[6][4];
#pragma GCC unroll 8
        for (int r = 0; r < R; r++)
#pragma GCC unroll 8
            for (int c = 0; c < NC; c++) acc[r][c] = zero;
        for (int j = ls; j < stop; j++) {
            __m512 vv[4];
#pragma GCC unroll 8
            for (int c = 0; c < NC; c++) vv[c] = _mm512_loadu_ps(v + (size_t)j * ldv + 16 * c);
#pragma GCC unroll 8
            for (int r = 0; r < R; r++) {
                __m512 pb = _mm512_set1_ps(P[(size_t)r * ldP + j]);
#pragma GCC unroll 8
                for (int c = 0; c < NC; c++) acc[r][c] = _mm512_fmadd_ps(pb, vv[c], acc[r][c]);
            }
        }
#pragma GCC unroll 8
        for (int r = 0; r < R; r++)
#pragma GCC unroll 8
            for (int c = 0; c < NC; c++) {
                float *o = out + (size_t)r * ldo + 16 * c;
                _mm512_storeu_ps(o, _mm512_add_ps(first ? zero : _mm512_loadu_ps(o), acc[r][c]));
            }
        first = 0;
        ls = le;
    }
}

// Rows [r0, r0 + R) of the block, columns 64 at a time (NC = 4), then the D % 64 rest.
AVX512 INLINE void values_rows(float *out, size_t ldo, const float *P, size_t ldP, const float *v,
                               size_t ldv, int n, int jmax, int D, const int R) {
    int c0 = 0;
    for (; c0 + 64 <= D; c0 += 64) values_tile(out + c0, ldo, P, ldP, v + c0, ldv, n, jmax, R, 4);
    switch ((D - c0) / 16) {
    case 3: values_tile(out + c0, ldo, P, ldP, v + c0, ldv, n, jmax, R, 3); break;
    case 2: values_tile(out + c0, ldo, P, ldP, v + c0, ldv, n, jmax, R, 2); break;
    case 1: values_tile(out + c0, ldo, P, ldP, v + c0, ldv, n, jmax, R, 1); break;
    default: break;
    }
}

AVX512 static void values_avx512(float *out, size_t ldo, const float *P, const float *v,
                                 size_t ldv, int i0, int D) {
    enum { R = 6 };
    _Static_assert(ATTEND_BLOCK_ROWS % 6 == 2, "the row tiles below: 6 rows, then 2");
    int n = i0 + ATTEND_BLOCK_ROWS, r0 = 0;
    for (; r0 + R <= ATTEND_BLOCK_ROWS; r0 += R)
        values_rows(out + (size_t)r0 * ldo, ldo, P + (size_t)r0 * n, (size_t)n, v, ldv, n,
                    i0 + r0 + R, D, R);
    if (ATTEND_BLOCK_ROWS - r0 == 2)
        values_rows(out + (size_t)r0 * ldo, ldo, P + (size_t)r0 * n, (size_t)n, v, ldv, n,
                    i0 + r0 + 2, D, 2);
}
#endif

// Which kernels follow the order of the kernel set OpenBLAS runs: the AVX2 ones for its Haswell
// (and Zen) set, else the AVX-512 ones (SkylakeX's order) where the CPU has AVX-512; none
// elsewhere. attend_block_usable checks the bits before either runs.
typedef enum { KERNELS_NONE, KERNELS_SKYLAKEX, KERNELS_HASWELL } kernel_set;

static kernel_set kernels_here(void) {
#if defined(__x86_64__)
    const char *core = ah_blas_core();
    if ((!strcasecmp(core, "Haswell") || !strcasecmp(core, "Zen")) &&
        __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return KERNELS_HASWELL;
    if (__builtin_cpu_supports("avx512f")) return KERNELS_SKYLAKEX;
#endif
    return KERNELS_NONE;
}

void attend_block_scores(float *S, float rowmax[ATTEND_BLOCK_ROWS], const float *q, size_t ldq,
                         const float *kp, int i0, int D, float scale) {
#if defined(__x86_64__)
    if (kernels_here() == KERNELS_HASWELL) attend_block_scores_avx2(S, rowmax, q, ldq, kp, i0, D, scale);
    else scores_avx512(S, rowmax, q, ldq, kp, i0, D, scale);
#else
    (void)S, (void)rowmax, (void)q, (void)ldq, (void)kp, (void)i0, (void)D, (void)scale;
    abort();   // attend_block_usable is 0 here
#endif
}

void attend_block_values(float *out, size_t ldo, const float *P, const float *v, size_t ldv,
                         int i0, int D) {
#if defined(__x86_64__)
    if (kernels_here() == KERNELS_HASWELL) attend_block_values_avx2(out, ldo, P, v, ldv, i0, D);
    else values_avx512(out, ldo, P, v, ldv, i0, D);
#else
    (void)out, (void)ldo, (void)P, (void)v, (void)ldv, (void)i0, (void)D;
    abort();
#endif
}

// ---------------------------------------------------------------------------------------------
// the check against OpenBLAS

// x[0, n) <- reproducible values in [-amp, amp) with full mantissas (an LCG's top bits).
static void fill(float *x, size_t n, uint32_t seed, float amp) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = amp * ((float)(seed >> 8) * 0x1p-23f - 1.0f);
    }
}

int attend_block_first_difference(int D, int nthreads, int n) {
    enum { M = ATTEND_BLOCK_ROWS, H = 3, G = 2 };
    size_t ldq = (size_t)H * D, ldkv = (size_t)G * D;
    float *q = malloc((size_t)n * ldq * sizeof *q), *k = malloc((size_t)n * ldkv * sizeof *k),
          *v = malloc((size_t)n * ldkv * sizeof *v),
          *kp = malloc(attend_block_kp_floats(n, D) * sizeof *kp),
          *S_ref = malloc((size_t)M * n * sizeof(float)), *S = malloc((size_t)M * n * sizeof(float)),
          *o_ref = malloc((size_t)M * ldq * sizeof(float)), *o = malloc((size_t)M * ldq * sizeof(float));
    int bad = -2;
    if (q && k && v && kp && S_ref && S && o_ref && o) {
        bad = -1;
        fill(q, (size_t)n * ldq, 1, 2.0f);
        fill(k, (size_t)n * ldkv, 2, 2.0f);
        fill(v, (size_t)n * ldkv, 3, 1.0f);
        const float *kh = k + (size_t)(G - 1) * D, *vh = v + (size_t)(G - 1) * D;   // the last kv head
        attend_block_pack_keys(kp, kh, ldkv, n, D);
        float scale = 1.0f / sqrtf((float)D);
        // One thread: OpenBLAS on one thread too, as in a run with one (the attention's team of
        // one is no parallel region to OpenBLAS, which would otherwise take the process's
        // threads; the Haswell kernel's order depends on how its driver shares the work).
        int threads_were = omp_get_max_threads();
        if (nthreads == 1) omp_set_num_threads(1);
#pragma omp parallel num_threads(nthreads) if (nthreads > 1)
#pragma omp single
        for (int i0 = 0; i0 + M <= n && bad == -1; i0 += M) {
            int nk = i0 + M;   // the block's keys
            const float *qh = q + (size_t)i0 * ldq + (size_t)(H - 1) * D;   // the last query head
            float rowmax[M];
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, nk, D, scale, qh, (int)ldq, kh,
                        (int)ldkv, 0.0f, S_ref, nk);
            attend_block_scores(S, rowmax, qh, ldq, kp, i0, D, scale);
            for (int r = 0; r < M; r++) {
                const float *row = S_ref + (size_t)r * nk;
                if (memcmp(S + (size_t)r * nk, row, (size_t)(i0 + r + 1) * sizeof(float)) != 0 ||
                    rowmax[r] != ah_max_f32(row, (size_t)(i0 + r + 1)))
                    bad = i0;
                // causal softmax numerators: weights of mixed sizes, zeros past the row's key
                for (int j = 0; j < nk; j++)
                    S[(size_t)r * nk + j] = j <= i0 + r ? expf(row[j] - rowmax[r]) : 0.0f;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, D, nk, 1.0f, S, nk, vh,
                        (int)ldkv, 0.0f, o_ref, (int)ldq);
            attend_block_values(o, ldq, S, vh, ldkv, i0, D);
            for (int r = 0; r < M && bad == -1; r++)
                if (memcmp(o + (size_t)r * ldq, o_ref + (size_t)r * ldq, (size_t)D * sizeof(float)) != 0)
                    bad = i0;
        }
        omp_set_num_threads(threads_were);
    }
    free(q); free(k); free(v); free(kp); free(S_ref); free(S); free(o_ref); free(o);
    return bad;
}

int attend_block_usable(int D, int nthreads) {
    enum { MAX_D = 256 };
    // per (kernel set, one thread or more, D / 8): 0 not yet checked, 1 matches, 2 does not
    static atomic_int verdict[3][2][MAX_D / 8 + 1];
    const char *env = getenv("AH_ATTEND_BLOCK");
    if (env && strcmp(env, "0") == 0) return 0;
#if defined(__x86_64__)
    kernel_set ks = kernels_here();
    int lanes = ks == KERNELS_HASWELL ? 8 : 16;   // D in whole vectors
    if (ks == KERNELS_NONE || D <= 0 || D > MAX_D || D % lanes != 0) return 0;
    atomic_int *v = &verdict[ks][nthreads > 1][D / 8];
    int got = atomic_load_explicit(v, memory_order_relaxed);
    if (got == 0) {   // racing checkers reach the same verdict
        got = attend_block_first_difference(D, nthreads, 1024) == -1 ? 1 : 2;
        atomic_store_explicit(v, got, memory_order_relaxed);
    }
    return got == 1;
#else
    (void)nthreads;
    return 0;
#endif
}
