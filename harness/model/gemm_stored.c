// gemm_stored.c — y = x @ W^T from F32 / F16 / BF16 weights read in place, in OpenBLAS's order
// (gemm_stored.h says which order and where it holds).
#include "model/gemm_stored.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/blas.h"
#include "core/half.h"

enum {
    GEMM_Q = 448,        // OpenBLAS's SkylakeX sgemm K block (param.h)
    UNROLL_M = 16,       // its sgemm unroll, for level3.c's rounding of the last blocks
    NR = 8,              // token rows per tile (broadcast)
    NP = 3,              // panels of 16 outputs per tile (vectors): 24 accumulators
    CHUNK_PANELS = 24,   // panels packed at once per thread: 24 x 16 x 448 floats = 688 KiB (L2)
};
#define CHUNK_FLOATS ((size_t)CHUNK_PANELS * 16 * GEMM_Q)

// OpenBLAS's multiply-add count up to which it runs one thread (interface/gemm.c:
// SMP_THRESHOLD_MIN 65536 x GEMM_MULTITHREAD_THRESHOLD 4), and up to which its SkylakeX
// small-matrix kernels run instead of the blocked driver (sgemm_small_kernel_permit_skylakex.c).
#define ONE_THREAD_MNK 262144.0
#define SMALL_MNK 1e6

// The K block the driver takes at input ls of In: threaded is level3_thread.c's rule, else
// level3.c's.
static int kblock(int In, int ls, int threaded) {
    int left = In - ls;
    if (left >= 2 * GEMM_Q) return GEMM_Q;
    if (left > GEMM_Q)
        return threaded ? (left + 1) / 2 : (left / 2 + UNROLL_M - 1) / UNROLL_M * UNROLL_M;
    return left;
}

static int runs_threaded(int T, int In, int O) {
    return omp_get_max_threads() > 1 && (double)T * O * In > ONE_THREAD_MNK;
}

size_t gemm_stored_scratch_floats(int nthreads) {
    return CHUNK_FLOATS * (size_t)(nthreads > 0 ? nthreads : 1);
}

// W[i] as a float (exactly: F16 and BF16 widen without rounding).
static float weight_at(const void *W, size_t i, gs_dtype dt) {
    if (dt == GS_F32) return ((const float *)W)[i];
    uint16_t h = ((const uint16_t *)W)[i];
    return dt == GS_BF16 ? ah_bf16_to_f32(h) : ah_f16_to_f32(h);
}

static int nonfinite(float v) { return isnan(v) || isinf(v); }

// Panel p of 16 rows from row f0 (rows from O on read as zeros), inputs [ls + k0, ls + kb),
// packed one input after another: pk[(p * kb + k) * 16 + l] = W[f0 + 16 p + l][ls + k]. The
// scalar path of pack_panels (a panel short of 16 rows, the inputs past the last 16-wide step).
// Returns 1 when a weight read is NaN or infinite.
static int pack_rest(float *pk, const void *W, size_t ldw, int f0, int p, int O, int ls,
                     int k0, int kb, gs_dtype dt) {
    int bad = 0;
    float *dst = pk + (size_t)p * kb * 16;
    for (int k = k0; k < kb; k++)
        for (int l = 0; l < 16; l++) {
            int f = f0 + 16 * p + l;
            float v = f < O ? weight_at(W, (size_t)f * ldw + ls + k, dt) : 0.0f;
            bad |= nonfinite(v);
            dst[(size_t)k * 16 + l] = v;
        }
    return bad;
}

#if defined(__x86_64__)
#include <immintrin.h>
#define AVX512 __attribute__((target("avx512f")))
#define INLINE __attribute__((always_inline)) static inline

// 16 stored weights at p -> 16 floats: F32 as they are, F16 by vcvtph2ps (exact, subnormals
// included), BF16 by a shift. *bad gets the lanes that are NaN or infinite (exponent all ones).
AVX512 INLINE __m512 load16(const void *p, gs_dtype dt, __mmask16 *bad) {
    const __m512i e = _mm512_set1_epi32(0x7f800000);
    __m512 v;
    if (dt == GS_F32) {
        v = _mm512_loadu_ps(p);
    } else {
        __m256i h = _mm256_loadu_si256((const __m256i *)p);
        v = dt == GS_BF16 ? _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16))
                          : _mm512_cvtph_ps(h);
    }
    *bad |= _mm512_cmpeq_epi32_mask(_mm512_and_si512(_mm512_castps_si512(v), e), e);
    return v;
}

// r[i] = row i of a 16 x 16 block -> r[c] = column c.
AVX512 INLINE void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 8; i++) {   // per 128-bit lane L: t[2i] = r2i[4L], r2i+1[4L], r2i[4L+1], ...
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {   // r[4i + c], lane L: rows 4i .. 4i+3 of column 4L + c
        r[4 * i + 0] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    for (int c = 0; c < 4; c++) {   // lanes 0, 2 / 1, 3 of groups 0, 1 and of groups 2, 3
        t[c] = _mm512_shuffle_f32x4(r[c], r[4 + c], 0x88);
        t[c + 4] = _mm512_shuffle_f32x4(r[c], r[4 + c], 0xDD);
        t[c + 8] = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0x88);
        t[c + 12] = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0xDD);
    }
    for (int c = 0; c < 4; c++) {   // column 4L + c: lane L of r[c], r[4+c], r[8+c], r[12+c]
        r[c] = _mm512_shuffle_f32x4(t[c], t[c + 8], 0x88);
        r[8 + c] = _mm512_shuffle_f32x4(t[c], t[c + 8], 0xDD);
        r[4 + c] = _mm512_shuffle_f32x4(t[c + 4], t[c + 12], 0x88);
        r[12 + c] = _mm512_shuffle_f32x4(t[c + 4], t[c + 12], 0xDD);
    }
}

// pack_rest's layout for panels [0, np), 16 x 16 blocks through the registers; the NaN /
// infinity test on the widened values as they are loaded. Inlined per dtype (pack_panels).
AVX512 INLINE int pack_panels_dt(float *pk, const void *W, size_t ldw, int f0, int np, int O,
                                 int ls, int kb, const gs_dtype dt) {
    size_t esz = dt == GS_F32 ? 4 : 2;
    __mmask16 badm = 0;
    int bad = 0;
    for (int p = 0; p < np; p++) {
        int k = 0;
        if (f0 + 16 * p + 16 <= O) {
            const char *src = (const char *)W + ((size_t)(f0 + 16 * p) * ldw + (size_t)ls) * esz;
            float *dst = pk + (size_t)p * kb * 16;
            for (; k + 16 <= kb; k += 16) {
                __m512 r[16];
                for (int l = 0; l < 16; l++)
                    r[l] = load16(src + ((size_t)l * ldw + k) * esz, dt, &badm);
                transpose16(r);
                for (int c = 0; c < 16; c++) _mm512_store_ps(dst + (size_t)(k + c) * 16, r[c]);
            }
        }
        bad |= pack_rest(pk, W, ldw, f0, p, O, ls, k, kb, dt);
    }
    return bad | (badm != 0);
}

AVX512 static int pack_panels(float *pk, const void *W, size_t ldw, int f0, int np, int O, int ls,
                              int kb, gs_dtype dt) {
    if (dt == GS_F32) return pack_panels_dt(pk, W, ldw, f0, np, O, ls, kb, GS_F32);
    if (dt == GS_BF16) return pack_panels_dt(pk, W, ldw, f0, np, O, ls, kb, GS_BF16);
    return pack_panels_dt(pk, W, ldw, f0, np, O, ls, kb, GS_F16);
}

// y rows [0, R) x panels [0, P) of 16 outputs (mask: the last panel's live outputs), over one
// K block of kb inputs: acc = fma chain from 0 over k (x broadcast, 16 outputs a vector); then
// y = acc + 0 (OpenBLAS adds its kernel's sum to the zeroed output), or y + acc.
AVX512 INLINE void tile(float *y, size_t ldy, const float *x, size_t ldx, const float *pk, int kb,
                        int add, __mmask16 mask, const int R, const int P) {
    __m512 acc[NR][NP];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int p = 0; p < P; p++) acc[r][p] = _mm512_setzero_ps();
    for (int k = 0; k < kb; k++) {
        __m512 w[NP];
#pragma GCC unroll 4
        for (int p = 0; p < P; p++) w[p] = _mm512_load_ps(pk + ((size_t)p * kb + k) * 16);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            __m512 xb = _mm512_set1_ps(x[(size_t)r * ldx + k]);
#pragma GCC unroll 4
            for (int p = 0; p < P; p++) acc[r][p] = _mm512_fmadd_ps(xb, w[p], acc[r][p]);
        }
    }
    const __m512 zero = _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int p = 0; p < P; p++) {
            float *o = y + (size_t)r * ldy + 16 * p;
            __mmask16 m = p == P - 1 ? mask : (__mmask16)0xffff;
            __m512 base = add ? _mm512_maskz_loadu_ps(m, o) : zero;
            _mm512_mask_storeu_ps(o, m, _mm512_add_ps(base, acc[r][p]));
        }
}

typedef void (*tile_fn)(float *, size_t, const float *, size_t, const float *, int, int, __mmask16);
#define TILE(R, P)                                                                                 \
    AVX512 static void tile_##R##_##P(float *y, size_t ldy, const float *x, size_t ldx,            \
                                      const float *pk, int kb, int add, __mmask16 mask) {          \
        tile(y, ldy, x, ldx, pk, kb, add, mask, R, P);                                             \
    }
#define TILES(R) TILE(R, 1) TILE(R, 2) TILE(R, 3)
TILES(1) TILES(2) TILES(3) TILES(4) TILES(5) TILES(6) TILES(7) TILES(8)
#define ROW(R) {tile_##R##_1, tile_##R##_2, tile_##R##_3}
static const tile_fn tiles[NR][NP] = {ROW(1), ROW(2), ROW(3), ROW(4), ROW(5), ROW(6), ROW(7), ROW(8)};

// One thread's panels [p0, p1) of the product, CHUNK_PANELS at a time: each chunk packed per
// K block, then every token tile against it.
static int gemm_panels(float *y, const float *x, const void *W, gs_dtype dt, int T, int In,
                       int O, int accumulate, int threaded, float *pk, int p0, int p1) {
    int bad = 0, npanels = (O + 15) / 16;
    for (int c0 = p0; c0 < p1; c0 += CHUNK_PANELS) {
        int nc = p1 - c0 < CHUNK_PANELS ? p1 - c0 : CHUNK_PANELS;
        for (int ls = 0, first = 1; ls < In; first = 0) {
            int kb = kblock(In, ls, threaded);
            bad |= pack_panels(pk, W, (size_t)In, 16 * c0, nc, O, ls, kb, dt);
            for (int t0 = 0; t0 < T; t0 += NR) {
                int R = T - t0 < NR ? T - t0 : NR;
                for (int p = 0; p < nc; p += NP) {
                    int P = nc - p < NP ? nc - p : NP;
                    __mmask16 mask = 0xffff;
                    if (c0 + p + P == npanels && O % 16) mask = (__mmask16)((1u << (O % 16)) - 1);
                    tiles[R - 1][P - 1](y + (size_t)t0 * O + 16 * (size_t)(c0 + p), (size_t)O,
                                        x + (size_t)t0 * In + ls, (size_t)In,
                                        pk + (size_t)p * kb * 16, kb, accumulate || !first, mask);
                }
            }
            ls += kb;
        }
    }
    return bad;
}
#endif

int gemm_stored(float *y, const float *x, const void *W, gs_dtype dt, int T, int In, int O,
                int accumulate, float *scratch) {
#if defined(__x86_64__)
    int threaded = runs_threaded(T, In, O), npanels = (O + 15) / 16, bad = 0;
#pragma omp parallel reduction(| : bad)
    {
        int t = omp_get_thread_num(), n = omp_get_num_threads();
        // the panels split evenly: each thread widens and multiplies its own outputs' weights
        int p0 = (int)((long)npanels * t / n), p1 = (int)((long)npanels * (t + 1) / n);
        bad |= gemm_panels(y, x, W, dt, T, In, O, accumulate, threaded,
                           scratch + (size_t)t * CHUNK_FLOATS, p0, p1);
    }
    return bad;
#else
    (void)y, (void)x, (void)W, (void)dt, (void)T, (void)In, (void)O, (void)accumulate, (void)scratch;
    abort();   // gemm_stored_usable is 0 here
#endif
}

// ---------------------------------------------------------------------------------------------
// the check against OpenBLAS

static uint32_t lcg(uint32_t *s) { return *s = *s * 1664525u + 1013904223u; }

long gemm_stored_first_difference(int T, int In, int O, gs_dtype dt) {
    int nth = omp_get_max_threads();
    size_t nw = (size_t)O * In, ny = (size_t)T * O;
    uint16_t *W = malloc(nw * sizeof *W);   // the stored halves (F16 / BF16)
    float *Wf = malloc(nw * sizeof *Wf),   // the weights as floats (what F32 stores)
          *x = malloc((size_t)T * In * sizeof *x),
          *y = malloc(ny * sizeof *y), *yr = malloc(ny * sizeof *yr),
          *scratch = aligned_alloc(64, gemm_stored_scratch_floats(nth) * sizeof(float));
    long bad = -2;
    if (W && Wf && x && y && yr && scratch) {
        uint32_t s = 12345;
        // finite weights of magnitudes 2^-5 .. 2^5 with random mantissas, and random signs
        for (size_t i = 0; i < nw; i++) {
            uint32_t v = lcg(&s) >> 8, e = (lcg(&s) >> 16) % 11;
            if (dt == GS_F32) {
                uint32_t bits = (v & 0x807fffffu) | ((122 + e) << 23);
                memcpy(&Wf[i], &bits, sizeof bits);
                continue;
            }
            W[i] = dt == GS_BF16 ? (uint16_t)((v & 0x807f) | ((122 + e) << 7))
                                 : (uint16_t)((v & 0x83ff) | ((10 + e) << 10));
            Wf[i] = weight_at(W, i, dt);
        }
        for (size_t i = 0; i < (size_t)T * In; i++)
            x[i] = ((float)(lcg(&s) >> 8) * 0x1p-23f - 1.0f) * (float)(1 << ((lcg(&s) >> 20) % 8));
        bad = -1;
        for (int accumulate = 0; accumulate <= 1 && bad == -1; accumulate++) {
            for (size_t i = 0; i < ny; i++) y[i] = yr[i] = (float)(lcg(&s) >> 8) * 0x1p-20f;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, O, In, 1.0f, x, In, Wf, In,
                        accumulate ? 1.0f : 0.0f, yr, O);
            if (gemm_stored(y, x, dt == GS_F32 ? (const void *)Wf : W, dt, T, In, O, accumulate,
                            scratch)) {
                bad = -2;   // finite weights read as NaN / infinity: cannot be
                break;
            }
            for (size_t i = 0; i < ny && bad == -1; i++)
                if (memcmp(&y[i], &yr[i], sizeof(float)) != 0) bad = (long)i;
        }
    }
    free(W); free(Wf); free(x); free(y); free(yr); free(scratch);
    return bad;
}

int gemm_stored_available(void) {
    const char *env = getenv("AH_GEMM_STORED");
    if (env && strcmp(env, "0") == 0) return 0;
#if defined(__x86_64__)
    return __builtin_cpu_supports("avx512f") && strcasecmp(ah_blas_core(), "SkylakeX") == 0;
#else
    return 0;
#endif
}

int gemm_stored_usable(int T, int In, int O) {
    enum { SLOTS = 64 };
    // per checked inner size and thread regime: 1 matches, 2 does not
    typedef struct { int In, threaded, verdict; } checked;
    static checked seen[SLOTS];
    static int nseen;
#if defined(__x86_64__)
    if (T <= 0 || In <= 0 || O <= 0 || (double)T * O * In <= SMALL_MNK || omp_in_parallel() ||
        !gemm_stored_available())
        return 0;
    int threaded = runs_threaded(T, In, O), verdict = 0;
#pragma omp critical(gemm_stored_verdicts)
    {
        for (int i = 0; i < nseen && !verdict; i++)
            if (seen[i].In == In && seen[i].threaded == threaded) verdict = seen[i].verdict;
        if (!verdict) {
            // 69 rows (8 tiles of 8, one of 5) x 88 outputs (panel tiles of 3 and 2, the last
            // panel half full), more rows until past the small-matrix bound
            int Tc = 69;
            while ((double)Tc * 88 * In <= SMALL_MNK) Tc += 8;
            verdict = gemm_stored_first_difference(Tc, In, 88, GS_F16) == -1 ? 1 : 2;
            if (nseen < SLOTS) seen[nseen++] = (checked){In, threaded, verdict};
        }
    }
    return verdict == 1;
#else
    (void)T, (void)In, (void)O;
    return 0;
#endif
}
