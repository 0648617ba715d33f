// attend_block_avx2.c — attend_block.h's two products in the order of OpenBLAS 0.3.21's
// `Haswell` sgemm, with AVX2 + FMA: the kernel set the harness runs on AVX2-only CPUs
// (core/blas.c); `Zen` runs the same kernel with the same parameters.
//
// Read off kernel/x86_64/sgemm_kernel_8x4_haswell_2.c and driver/level3/level3.c (param.h:
// GEMM_P = GEMM_Q = 320, GEMM_UNROLL_M = 8, GEMM_UNROLL_N = 4). The attention's products reach
// the kernel as column-major products C (m, n): n = the block's 128 query rows; m = the keys
// (scores, K = D) or the head's D dimensions (values, K = the keys, in K blocks: 320 while 640
// remain, then two halves rounded up to 8). The driver cuts m into blocks of up to P (320
// while 640 remain, then two halves rounded up to 8). For the first m block it calls the
// kernel on 12 query rows at a time, then 4 and 4 (rows 120-123, 124-127); later m blocks get
// all 128 rows in one call, which the kernel walks 12 at a time, then 8. The kernel sums an
// element in one of two ways:
//   sequential  one fused multiply-add chain over k from 0;
//   split       two chains, over k = 0, 2, 4, .. and k = 1, 3, 5, .. of the first 8 floor(K/8)
//               k, the rest of k continuing the first chain; then first + second.
// Split: in a 12-row call with m >= 16, whose m runs in panels of 8 (p = 0 .. P8 - 1,
// P8 = m / 8; the kernel walks them staggered, the first 6 rows a panel behind the last 6),
// rows 0-5 of panel 0 and of the last panel when P8 is even, rows 6-11 of the last panel when
// P8 is odd; in a 4-row call every full panel. Everything else (the 8-row walk, m < 16, the
// m % 8 tail) is sequential. Then C = fma(sum, alpha, C) on the zeroed C, block after block.
// attend_block_usable compares the bits with cblas_sgemm before these run.
#include "model/attend_block_avx2.h"

#include <math.h>
#include <stdlib.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))
#define INLINE __attribute__((always_inline)) static inline

// The driver's blocks (GEMM_P, GEMM_Q, GEMM_UNROLL_M); the kernel's calls over a block's 128
// query rows: 12 rows a call up to row 120 (CALL_ROWS), then the rest in calls of 4 or one walk.
enum { HSW_P = 320, HSW_Q = 320, HSW_UNROLL_M = 8, CALL_ROWS = 12, TAIL_ROWS_FROM = 120 };
_Static_assert(ATTEND_BLOCK_ROWS == TAIL_ROWS_FROM + 8 && TAIL_ROWS_FROM % CALL_ROWS == 0,
               "the row calls below are those of a 128-row block");

// The length of the block from index `at` of a dimension of n cut by OpenBLAS's driver into
// blocks of up to `cap` (cap while 2 cap remain, then two halves rounded up to 8).
static int driver_block(int n, int at, int cap) {
    int left = n - at;
    if (left >= 2 * cap) return cap;
    if (left > cap) return (left / 2 + HSW_UNROLL_M - 1) / HSW_UNROLL_M * HSW_UNROLL_M;
    return left;
}

// How the kernel meets query row r (0..127) of a block: in a 12-row call (first or last six
// rows), a 4-row call (first m block, rows 120-127) or the 8-row walk (later m blocks).
typedef enum { ROWS12_FIRST6, ROWS12_LAST6, ROWS4, ROWS8 } row_call;

static row_call row_kind(int r, int first_m_block) {
    if (r < TAIL_ROWS_FROM) return r % CALL_ROWS < 6 ? ROWS12_FIRST6 : ROWS12_LAST6;
    return first_m_block ? ROWS4 : ROWS8;
}

// 1 when panel p (m = 8p .. 8p+7) of an m block of length m is summed split for rows met as k.
static int panel_split(int m, int p, row_call k) {
    int p8 = m / 8;
    if (p >= p8) return 0;   // the m % 8 tail: sequential
    if (k == ROWS4) return 1;
    if (k == ROWS8 || m < 16) return 0;
    if (k == ROWS12_FIRST6) return p == 0 || (p8 % 2 == 0 && p == p8 - 1);
    return p8 % 2 == 1 && p == p8 - 1;
}

// How the tiles take the panels from p on (np of them): a split panel alone (its two chains fill
// the registers), two sequential ones together, or a sequential one whose neighbour is split or
// absent alone. The tiles' shapes are compile-time constants, so the callers switch on this.
typedef enum { RUN_SPLIT, RUN_PAIR, RUN_ONE } panel_run;

static panel_run next_run(int m, int p, int np, row_call k) {
    if (panel_split(m, p, k)) return RUN_SPLIT;
    return p + 1 < np && !panel_split(m, p + 1, k) ? RUN_PAIR : RUN_ONE;
}

// ---------------------------------------------------------------------------------------------
// scores: S row r, keys in panels of 8 (kp holds panels of 16: attend_block_pack_keys)

// Key panel q's 8 keys for dimension d.
INLINE const float *kp8(const float *kp, int q, int D, int d) {
    return kp + ((size_t)(q / 2) * D + d) * 16 + 8 * (q % 2);
}

// Lanes [0, valid) of v, the rest -inf: the keys of a panel at or before a row's last.
AVX2 INLINE __m256 first_lanes(__m256 v, int valid) {
    if (valid >= 8) return v;
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256 keep = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(valid), iota));
    return _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), v, keep);
}

// Rows [0, R) x key panels q0 .. q0+NP-1, sequential (split = 0) or split; S (R rows, ldS) at
// the panels' first key; mx[r] takes the max over keys up to last[r] (key index of the row's
// last key minus the first panel's first key).
AVX2 INLINE void scores_tile(float *S, size_t ldS, const float *q, size_t ldq, const float *kp,
                             int q0, int D, float scale, __m256 *mx, const int *last, const int R,
                             const int NP, const int split) {
    __m256 acc[6][2], acc2[6];
#pragma GCC unroll 6
    for (int r = 0; r < R; r++) {
#pragma GCC unroll 2
        for (int p = 0; p < NP; p++) acc[r][p] = _mm256_setzero_ps();
        acc2[r] = _mm256_setzero_ps();
    }
    int d = 0;
    if (split)
        for (int d8 = D / 8 * 8; d < d8; d += 2) {   // even d on acc, odd d on acc2
            __m256 k0 = _mm256_loadu_ps(kp8(kp, q0, D, d)), k1 = _mm256_loadu_ps(kp8(kp, q0, D, d + 1));
#pragma GCC unroll 6
            for (int r = 0; r < R; r++) {
                acc[r][0] = _mm256_fmadd_ps(_mm256_broadcast_ss(q + (size_t)r * ldq + d), k0, acc[r][0]);
                acc2[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(q + (size_t)r * ldq + d + 1), k1, acc2[r]);
            }
        }
    for (; d < D; d++) {
        __m256 kv[2];
#pragma GCC unroll 2
        for (int p = 0; p < NP; p++) kv[p] = _mm256_loadu_ps(kp8(kp, q0 + p, D, d));
#pragma GCC unroll 6
        for (int r = 0; r < R; r++) {
            __m256 qb = _mm256_broadcast_ss(q + (size_t)r * ldq + d);
#pragma GCC unroll 2
            for (int p = 0; p < NP; p++) acc[r][p] = _mm256_fmadd_ps(qb, kv[p], acc[r][p]);
        }
    }
    const __m256 vs = _mm256_set1_ps(scale), zero = _mm256_setzero_ps();
#pragma GCC unroll 6
    for (int r = 0; r < R; r++)
#pragma GCC unroll 2
        for (int p = 0; p < NP; p++) {
            __m256 sum = split ? _mm256_add_ps(acc[r][p], acc2[r]) : acc[r][p];
            __m256 sc = _mm256_fmadd_ps(sum, vs, zero);
            _mm256_storeu_ps(S + (size_t)r * ldS + 8 * p, sc);
            mx[r] = _mm256_max_ps(mx[r], first_lanes(sc, last[r] - 8 * p + 1));
        }
}

// Rows [r0, r0 + R) of the block, all met alike by the kernel (within one 6-row half of a 12-row
// call, or within rows 120-127), against the keys [is, is + m) of one m block: every key panel
// of it up to the rows' last key; rowmax[r0 ..] takes their maxima.
AVX2 INLINE void scores_rows(float *S, float *rowmax, const float *q, size_t ldq, const float *kp,
                             int i0, int r0, int is, int m, int D, float scale, const int R) {
    int n = i0 + ATTEND_BLOCK_ROWS, top = i0 + r0 + R - 1;   // the rows' last key
    size_t ldS = (size_t)n;
    __m256 mx[6];
    int last[6];
    for (int r = 0; r < R; r++) mx[r] = _mm256_set1_ps(rowmax[r0 + r]);
    row_call k = row_kind(r0, is == 0);
    int np = (top - is) / 8 + 1;   // panels of this block the rows read
    if (np > (m + 7) / 8) np = (m + 7) / 8;
    for (int p = 0; p < np;) {
        int q0 = is / 8 + p, key0 = 8 * q0;
        for (int r = 0; r < R; r++) last[r] = i0 + r0 + r - key0;
        float *Sp = S + (size_t)r0 * ldS + key0;
        const float *qr = q + (size_t)r0 * ldq;
        panel_run run = next_run(m, p, np, k);
        if (run == RUN_SPLIT) scores_tile(Sp, ldS, qr, ldq, kp, q0, D, scale, mx, last, R, 1, 1);
        else if (run == RUN_PAIR) scores_tile(Sp, ldS, qr, ldq, kp, q0, D, scale, mx, last, R, 2, 0);
        else scores_tile(Sp, ldS, qr, ldq, kp, q0, D, scale, mx, last, R, 1, 0);
        p += run == RUN_PAIR ? 2 : 1;
    }
    for (int r = 0; r < R; r++) {   // the max of the 8 lanes
        __m128 h = _mm_max_ps(_mm256_castps256_ps128(mx[r]), _mm256_extractf128_ps(mx[r], 1));
        h = _mm_max_ps(h, _mm_movehl_ps(h, h));
        h = _mm_max_ss(h, _mm_movehdup_ps(h));
        rowmax[r0 + r] = _mm_cvtss_f32(h);
    }
}

// m block by m block (its keys, up to 320, stay in L2 while every row tile reads them), the
// row tiles that reach into it.
AVX2 void attend_block_scores_avx2(float *S, float *rowmax, const float *q, size_t ldq,
                                   const float *kp, int i0, int D, float scale) {
    int n = i0 + ATTEND_BLOCK_ROWS;
    for (int r = 0; r < ATTEND_BLOCK_ROWS; r++) rowmax[r] = -INFINITY;
    for (int is = 0; is < n;) {
        int m = driver_block(n, is, HSW_P), r0 = 0;
        for (; r0 < TAIL_ROWS_FROM; r0 += 6)
            if (i0 + r0 + 5 >= is) scores_rows(S, rowmax, q, ldq, kp, i0, r0, is, m, D, scale, 6);
        for (; r0 < ATTEND_BLOCK_ROWS; r0 += 4)
            if (i0 + r0 + 3 >= is) scores_rows(S, rowmax, q, ldq, kp, i0, r0, is, m, D, scale, 4);
        is += m;
    }
}

// ---------------------------------------------------------------------------------------------
// values: out row r = P row r @ v over the keys, in the driver's K blocks

// out rows [0, R) x dimension panels [0, NC) (8 each) += P @ v over keys [ls, stop) of a K block
// [ls, le): sequential, or split (even keys of the first 8 floor((le - ls) / 8) on acc, odd on
// acc2, the rest on acc). first: the output is zero before (OpenBLAS's zeroed C).
AVX2 INLINE void values_tile(float *out, size_t ldo, const float *P, size_t ldP, const float *v,
                             size_t ldv, int ls, int le, int stop, int first, const int R,
                             const int NC, const int split) {
    __m256 acc[6][2], acc2[6];
#pragma GCC unroll 6
    for (int r = 0; r < R; r++) {
#pragma GCC unroll 2
        for (int c = 0; c < NC; c++) acc[r][c] = _mm256_setzero_ps();
        acc2[r] = _mm256_setzero_ps();
    }
    int j = ls;
    if (split) {
        int pairs_end = ls + (le - ls) / 8 * 8;
        if (pairs_end > stop) pairs_end = stop;   // zeros past stop: no change to a chain
        for (; j + 1 < pairs_end; j += 2) {
            __m256 v0 = _mm256_loadu_ps(v + (size_t)j * ldv), v1 = _mm256_loadu_ps(v + (size_t)(j + 1) * ldv);
#pragma GCC unroll 6
            for (int r = 0; r < R; r++) {
                acc[r][0] = _mm256_fmadd_ps(_mm256_broadcast_ss(P + (size_t)r * ldP + j), v0, acc[r][0]);
                acc2[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(P + (size_t)r * ldP + j + 1), v1, acc2[r]);
            }
        }
        if (j < pairs_end) {   // an even key whose odd partner is past stop
#pragma GCC unroll 6
            for (int r = 0; r < R; r++)
                acc[r][0] = _mm256_fmadd_ps(_mm256_broadcast_ss(P + (size_t)r * ldP + j),
                                            _mm256_loadu_ps(v + (size_t)j * ldv), acc[r][0]);
        }
        j = ls + (le - ls) / 8 * 8;   // the rest continue the first chain
    }
    for (; j < stop; j++) {
        __m256 vv[2];
#pragma GCC unroll 2
        for (int c = 0; c < NC; c++) vv[c] = _mm256_loadu_ps(v + (size_t)j * ldv + 8 * c);
#pragma GCC unroll 6
        for (int r = 0; r < R; r++) {
            __m256 pb = _mm256_broadcast_ss(P + (size_t)r * ldP + j);
#pragma GCC unroll 2
            for (int c = 0; c < NC; c++) acc[r][c] = _mm256_fmadd_ps(pb, vv[c], acc[r][c]);
        }
    }
    const __m256 zero = _mm256_setzero_ps();
#pragma GCC unroll 6
    for (int r = 0; r < R; r++)
#pragma GCC unroll 2
        for (int c = 0; c < NC; c++) {
            float *o = out + (size_t)r * ldo + 8 * c;
            __m256 sum = split ? _mm256_add_ps(acc[r][c], acc2[r]) : acc[r][c];
            _mm256_storeu_ps(o, _mm256_add_ps(first ? zero : _mm256_loadu_ps(o), sum));
        }
}

// Rows [r0, r0 + R), met alike by the kernel, over the K block [ls, le): the dimension panels in
// next_run's runs.
AVX2 INLINE void values_rows(float *out, size_t ldo, const float *P, const float *v, size_t ldv,
                             int i0, int r0, int ls, int le, int D, const int R) {
    int n = i0 + ATTEND_BLOCK_ROWS, jmax = i0 + r0 + R;   // keys from jmax on: zero weights
    int stop = le < jmax ? le : jmax, first = ls == 0;
    row_call k = row_kind(r0, 1);                          // D <= 320: one m block
    float *o = out + (size_t)r0 * ldo;
    const float *Pr = P + (size_t)r0 * n;
    for (int c = 0; c < D / 8;) {
        panel_run run = next_run(D, c, D / 8, k);
        float *oc = o + 8 * c;
        const float *vc = v + 8 * c;
        if (run == RUN_SPLIT) values_tile(oc, ldo, Pr, (size_t)n, vc, ldv, ls, le, stop, first, R, 1, 1);
        else if (run == RUN_PAIR) values_tile(oc, ldo, Pr, (size_t)n, vc, ldv, ls, le, stop, first, R, 2, 0);
        else values_tile(oc, ldo, Pr, (size_t)n, vc, ldv, ls, le, stop, first, R, 1, 0);
        c += run == RUN_PAIR ? 2 : 1;
    }
}

// K block by K block (its values, up to 320 rows, stay in L2 while every row tile reads them),
// the row tiles whose keys reach into it; a tile's output is complete after its last block.
AVX2 void attend_block_values_avx2(float *out, size_t ldo, const float *P, const float *v,
                                   size_t ldv, int i0, int D) {
    int n = i0 + ATTEND_BLOCK_ROWS;
    for (int ls = 0; ls < n;) {
        int le = ls + driver_block(n, ls, HSW_Q), r0 = 0;
        for (; r0 < TAIL_ROWS_FROM; r0 += 6)
            if (i0 + r0 + 6 > ls) values_rows(out, ldo, P, v, ldv, i0, r0, ls, le, D, 6);
        for (; r0 < ATTEND_BLOCK_ROWS; r0 += 4)
            if (i0 + r0 + 4 > ls) values_rows(out, ldo, P, v, ldv, i0, r0, ls, le, D, 4);
        ls = le;
    }
}

#else

void attend_block_scores_avx2(float *S, float *rowmax, const float *q, size_t ldq,
                              const float *kp, int i0, int D, float scale) {
    (void)S, (void)rowmax, (void)q, (void)ldq, (void)kp, (void)i0, (void)D, (void)scale;
    abort();   // attend_block_usable is 0 here
}

void attend_block_values_avx2(float *out, size_t ldo, const float *P, const float *v,
                              size_t ldv, int i0, int D) {
    (void)out, (void)ldo, (void)P, (void)v, (void)ldv, (void)i0, (void)D;
    abort();
}
#endif
