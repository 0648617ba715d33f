// packed.c — packed linears: storage, dequantization, the portable GEMV, the tiled GEMM and
// the naive reference (packed.h). The vector GEMV kernels are in packed_avx2.c and
// packed_avx512.c.
#include "packed/packed.h"

#include <omp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/avx2.h"
#include "core/blas.h"
#include "core/mem.h"
#include "packed/packed_internal.h"
#include "quant/quant.h"

static int cpu_has(packed_kernel k);

// ----------------------------------------------------------------------------
// storage

packed_linear *packed_linear_new(int rows, int cols, int bits, int group, ah_err *e) {
    if (rows < 1 || cols < 1 || bits < 2 || bits > 8 || (group < 1 && group != QUANT_GROUP_ROW)) {
        ah_fail(e, "packed linear: bad shape (%d, %d), bits %d or group %d", rows, cols, bits, group);
        return NULL;
    }
    packed_linear *p = calloc(1, sizeof *p);
    if (!p) {
        ah_fail(e, "out of memory (packed linear)");
        return NULL;
    }
    p->rows = rows;
    p->cols = cols;
    p->bits = bits;
    p->group = group;
    p->gsize = group > 0 && group < cols ? group : cols;
    p->groups = (int)quant_groups((size_t)cols, group);
    p->row_bytes = quant_packed_size((size_t)cols, bits);
    size_t ng = (size_t)rows * (size_t)p->groups;
    if (!(p->q = ah_calloc((size_t)rows, p->row_bytes, "packed codes", e)) ||
        !(p->scale = ah_calloc(ng, sizeof(float), "packed scales", e)) ||
        !(p->zero = ah_calloc(ng, 1, "packed zeros", e))) {
        packed_linear_free(p);
        return NULL;
    }
    return p;
}

void packed_linear_free(packed_linear *p) {
    if (!p) return;
    ah_free(p->q);
    ah_free(p->scale);
    ah_free(p->zero);
    free(p);
}

size_t packed_linear_bytes(const packed_linear *p) {
    size_t ng = (size_t)p->rows * (size_t)p->groups;
    return (size_t)p->rows * p->row_bytes + ng * (sizeof(float) + 1);
}

void packed_linear_set_rows(packed_linear *p, int r0, int n, const uint8_t *codes,
                            const float *scale, const float *zero) {
    for (int r = 0; r < n; r++) {
        size_t o = (size_t)(r0 + r);
        quant_pack(p->q + o * p->row_bytes, codes + (size_t)r * p->cols, (size_t)p->cols, p->bits);
        for (int g = 0; g < p->groups; g++) {
            p->scale[o * p->groups + g] = scale[(size_t)r * p->groups + g];
            p->zero[o * p->groups + g] = (uint8_t)zero[(size_t)r * p->groups + g];
        }
    }
}

// out (cols) = w_hat of row o: (code - zero) * scale, the operations of quant_dequant.
static void dequant_row(float *out, const packed_linear *p, size_t o) {
    int per = packed_per_byte(p->bits);
    const uint8_t *q = p->q + o * p->row_bytes;
    for (int g = 0; g < p->groups; g++) {
        int a = g * p->gsize, b = a + p->gsize < p->cols ? a + p->gsize : p->cols;
        float s = p->scale[o * p->groups + g], z = (float)p->zero[o * p->groups + g];
        for (int i = a; i < b; i++) out[i] = ((float)packed_code(q, i, per) - z) * s;
    }
}

void packed_linear_dequant_with(float *out, const packed_linear *p, int r0, int n,
                                packed_kernel k) {
    if (k == PACKED_AUTO) k = packed_kernel_auto();
    if (k == PACKED_AVX512 && cpu_has(PACKED_AVX512) && packed_avx512_fits(p)) {
        packed_dequant_avx512(out, p, r0, n);
        return;
    }
    if (k != PACKED_PORTABLE && packed_kernel_available(PACKED_AVX2)) {
        packed_dequant_avx2(out, p, r0, n);   // and the AVX-512 kernel's misfits
        return;
    }
    for (int r = 0; r < n; r++) dequant_row(out + (size_t)r * p->cols, p, (size_t)(r0 + r));
}

void packed_linear_dequant(float *out, const packed_linear *p, int r0, int n) {
    packed_linear_dequant_with(out, p, r0, n, PACKED_AUTO);
}

// ----------------------------------------------------------------------------
// kernel choice

static int cpu_has(packed_kernel k) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (k == PACKED_AVX2) return ah_cpu_avx2_fma();
    // the AVX-512 kernel hands the linears it does not fit to the AVX2 one
    if (k == PACKED_AVX512) return __builtin_cpu_supports("avx512f") && ah_cpu_avx2_fma();
#endif
    return k == PACKED_PORTABLE;
}

int packed_kernel_available(packed_kernel k) { return cpu_has(k); }


const char *packed_kernel_name(packed_kernel k) {
    switch (k) {
    case PACKED_PORTABLE: return "portable";
    case PACKED_AVX2: return "avx2";
    case PACKED_AVX512: return "avx512";
    default: return "auto";
    }
}

packed_kernel packed_kernel_auto(void) {
    static packed_kernel chosen = PACKED_AUTO;   // the same answer every call: compute once
    packed_kernel k = chosen;
    if (k != PACKED_AUTO) return k;
    const char *env = getenv("AH_PACKED_KERNEL");
    if (env && !strcmp(env, "portable")) k = PACKED_PORTABLE;
    else if (env && !strcmp(env, "avx2")) k = cpu_has(PACKED_AVX2) ? PACKED_AVX2 : PACKED_PORTABLE;
    else if (env && !strcmp(env, "avx512"))
        k = cpu_has(PACKED_AVX512) ? PACKED_AVX512 : PACKED_PORTABLE;
    else k = cpu_has(PACKED_AVX512) ? PACKED_AVX512 : cpu_has(PACKED_AVX2) ? PACKED_AVX2 : PACKED_PORTABLE;
    chosen = k;
    return k;
}

// ----------------------------------------------------------------------------
// GEMV

// y[o] (+)= sum_g scale * sum_{i in g} (code_i - zero) * x_i for o in [o0, o1): the portable
// kernel (the zero point subtracted per weight, as dequantization does).
static void rows_portable(float *y, int accumulate, const packed_linear *p, int o0, int o1,
                          const float *x) {
    int per = packed_per_byte(p->bits);
    for (int o = o0; o < o1; o++) {
        const uint8_t *q = p->q + (size_t)o * p->row_bytes;
        const float *sc = p->scale + (size_t)o * p->groups;
        const uint8_t *zr = p->zero + (size_t)o * p->groups;
        float acc = 0.0f;
        for (int g = 0; g < p->groups; g++) {
            int a = g * p->gsize, b = a + p->gsize < p->cols ? a + p->gsize : p->cols;
            float z = (float)zr[g], s = 0.0f;
            for (int i = a; i < b; i++) s += ((float)packed_code(q, i, per) - z) * x[i];
            acc += s * sc[g];
        }
        y[o] = accumulate ? y[o] + acc : acc;
    }
}

// x reordered and the group sums of x, for GEMV_ROWS rows at once.
size_t packed_gemv_scratch(const packed_linear *p) {
    return GEMV_ROWS * ((size_t)p->cols + (size_t)p->groups);
}

// xp (cols): x reordered within whole chunks for `lanes` lanes, 8 (the AVX2 kernels) or 16 (the
// AVX-512 one; packed_internal.h); xs (groups): sum of x per group.
static void prepare_x(float *xp, float *xs, const float *x, const packed_linear *p, int lanes) {
    int per = packed_per_byte(p->bits), CH = lanes * per, whole = p->cols / CH * CH;
    for (int c = 0; c < whole; c += CH)
        for (int k = 0; k < per; k++)
            for (int j = 0; j < lanes; j++) xp[c + k * lanes + j] = x[c + per * j + k];
    for (int i = whole; i < p->cols; i++) xp[i] = x[i];
    // Each group's sum is a serial chain of adds (its order fixed: the results depend on it);
    // four groups' chains side by side keep the adder busy instead of waiting on one chain
    // (decoding prepares x serially, between parallel regions).
    const int G = p->groups, gs = p->gsize, full = p->cols / gs;   // groups of gs channels
    int g = 0;
    for (; g + 4 <= full; g += 4) {
        const float *x0 = x + (size_t)g * gs, *x1 = x0 + gs, *x2 = x1 + gs, *x3 = x2 + gs;
        float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
        for (int i = 0; i < gs; i++) {
            s0 += x0[i];
            s1 += x1[i];
            s2 += x2[i];
            s3 += x3[i];
        }
        xs[g] = s0;
        xs[g + 1] = s1;
        xs[g + 2] = s2;
        xs[g + 3] = s3;
    }
    for (; g < G; g++) {
        int a = g * gs, b = a + gs < p->cols ? a + gs : p->cols;
        float s = 0.0f;
        for (int i = a; i < b; i++) s += x[i];
        xs[g] = s;
    }
}

// Linears p[0, n) can share one reordered x when they read it with the same layout: the
// same input width, bits (codes a byte) and groups.
static int same_input_layout(const packed_linear *const *p, int n) {
    for (int j = 1; j < n; j++)
        if (p[j]->cols != p[0]->cols || packed_per_byte(p[j]->bits) != packed_per_byte(p[0]->bits) ||
            p[j]->gsize != p[0]->gsize || p[j]->groups != p[0]->groups)
            return 0;
    return 1;
}

// Blocks of GEMV_BLOCK output rows: a thread's rows share cache lines of y only at block
// edges. The blocks of linears p[0, n) are numbered one after the other; block_of finds
// which linear's block `blk` is and its rows [*o0, *o1).
#define GEMV_BLOCK 16
static int block_of(const packed_linear *const *p, int n, int blk, int *o0, int *o1) {
    int j = 0, nb;
    while (j + 1 < n && blk >= (nb = (p[j]->rows + GEMV_BLOCK - 1) / GEMV_BLOCK)) {
        blk -= nb;
        j++;
    }
    *o0 = blk * GEMV_BLOCK;
    *o1 = *o0 + GEMV_BLOCK < p[j]->rows ? *o0 + GEMV_BLOCK : p[j]->rows;
    return j;
}

void packed_gemv_shared(float *const *y, const float *x, const packed_linear *const *p, int n,
                        int N, int accumulate, packed_kernel k, float *scratch) {
    if (k == PACKED_AUTO) k = packed_kernel_auto();
    if (!cpu_has(k)) k = PACKED_PORTABLE;
    if (n > 1 && !same_input_layout(p, n)) {   // each its own x layout
        for (int j = 0; j < n; j++) packed_gemv_shared(&y[j], x, &p[j], 1, N, accumulate, k, scratch);
        return;
    }
    // The n linears share one layout, so the AVX-512 kernel fits all or none of them.
    if (k == PACKED_AVX512 && !packed_avx512_fits(p[0])) k = PACKED_AVX2;
    const int In = p[0]->cols, G = p[0]->groups, lanes = k == PACKED_AVX512 ? 16 : 8;
    int nb = 0;   // blocks of all n linears
    for (int j = 0; j < n; j++) nb += (p[j]->rows + GEMV_BLOCK - 1) / GEMV_BLOCK;
    int t = 0;
    // GEMV_ROWS input rows at a time (the AVX2 multi-row kernel, also on AVX-512 CPUs): the
    // codes widened once for all
    if (k == PACKED_AVX2 || k == PACKED_AVX512) {
        float *xp = scratch, *xs = scratch + GEMV_ROWS * (size_t)In;
        for (; t + GEMV_ROWS <= N; t += GEMV_ROWS) {
            const float *xt = x + (size_t)t * In;
            for (int r = 0; r < GEMV_ROWS; r++)
                prepare_x(xp + (size_t)r * In, xs + (size_t)r * G, xt + (size_t)r * In, p[0], 8);
#pragma omp parallel for schedule(static)
            for (int blk = 0; blk < nb; blk++) {
                int o0, o1, j = block_of(p, n, blk, &o0, &o1);
                packed_rows_avx2_multi(y[j] + (size_t)t * p[j]->rows, p[j]->rows, accumulate, p[j],
                                       o0, o1, xt, xp, xs);
            }
        }
    }
    for (; t < N; t++) {
        const float *xt = x + (size_t)t * In;
        // x reordered and summed once for all n linears (the vector kernels' layout)
        if (k != PACKED_PORTABLE) prepare_x(scratch, scratch + In, xt, p[0], lanes);
#pragma omp parallel for schedule(static)
        for (int blk = 0; blk < nb; blk++) {
            int o0, o1, j = block_of(p, n, blk, &o0, &o1);
            float *yt = y[j] + (size_t)t * p[j]->rows;
            if (k == PACKED_AVX2) packed_rows_avx2(yt, accumulate, p[j], o0, o1, xt, scratch, scratch + In);
            else if (k == PACKED_AVX512)
                packed_rows_avx512(yt, accumulate, p[j], o0, o1, scratch, scratch + In);
            else rows_portable(yt, accumulate, p[j], o0, o1, xt);
        }
    }
}

void packed_gemv(float *y, const float *x, const packed_linear *p, int N, int accumulate,
                 packed_kernel k, float *scratch) {
    packed_gemv_shared(&y, x, &p, 1, N, accumulate, k, scratch);
}

// ----------------------------------------------------------------------------
// GEMM: dequantized tiles through OpenBLAS

// Rows per tile: about tile_floats() floats, a multiple of 8, and at most a quarter of the
// rows (so that a narrow linear, k/v with grouped-query heads, still gives both threads tiles).
// Each sgemm call packs x (N, cols) again, so tiles of few rows over a wide input spend their
// time copying x: with 64 Ki-float tiles TinyLlama's 5632-wide down_proj had 8 rows a tile,
// and its packed pp64 linears ran at 0.80-0.82x the fp32 sgemm against 0.94-0.99x with 256 Ki
// on an AMD EPYC with 512 KiB of L2 a core (bench/packed_gemm --dim 2048 --ffn 5632 --kv 256
// --layers 2 --rows 64 --threads 2, 2026-12-06, idle; 2 and 4 MiB tiles were slower there).
// On an Intel Xeon with 2 MiB of L2 a core 2 MiB tiles were best: 0.85-0.87x with 1 MiB,
// 0.89-0.92x with 2 MiB, 0.89-0.90x with 4 MiB (the same command with --layers 4, 2026-12-07).
// So a tile is the larger of 1 MiB and the core's L2 cache.
static int tile_floats(void) {
    static atomic_int floats;   // 0: not yet read; racing readers agree
    int f = atomic_load_explicit(&floats, memory_order_relaxed);
    if (f == 0) {
        long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);   // bytes; 0 or -1 where unknown
        f = 262144;
        if (l2 / (long)sizeof(float) > f && l2 <= 64L << 20) f = (int)(l2 / (long)sizeof(float));
        atomic_store_explicit(&floats, f, memory_order_relaxed);
    }
    return f;
}

static int tile_rows(const packed_linear *p) {
    int r = tile_floats() / p->cols, quarter = p->rows / 4;
    if (r > quarter) r = quarter;
    r = r / 8 * 8;
    if (r < 8) r = 8;
    return r < p->rows ? r : p->rows;
}

size_t packed_gemm_scratch(const packed_linear *p) { return (size_t)tile_rows(p) * p->cols; }

// From PACKED_WHOLE_ROWS input rows on: the whole linear dequantized into scratch (OpenMP over
// blocks of rows), then one cblas_sgemm on OpenBLAS's own threads. Each tile's sgemm call
// packs all N rows of x again, and that grows with N: TinyLlama-shaped linears ran at 0.86x
// the fp32 sgemm with tiles at 64 rows but 0.83x at 512, against 0.77-0.81x (64) and
// 0.91-0.92x (512) this way (build/bench/packed_gemm --dim 2048 --ffn 5632 --kv 256 --layers
// 2 --rows 64,256,512 --threads 2, 2 alternating rounds, 2026-12-07, Intel Xeon; 0.89x
// either way at 256). The fp32 copy of the linear is written once and read by the sgemm, as
// the fp32 path reads its own weights.
static void gemm_whole(float *y, const float *x, const packed_linear *p, int N, int accumulate,
                       float *W) {
    const int B = 64;   // rows a dequantization task
#pragma omp parallel for schedule(static)
    for (int r0 = 0; r0 < p->rows; r0 += B)
        packed_linear_dequant(W + (size_t)r0 * p->cols, p, r0, r0 + B < p->rows ? B : p->rows - r0);
    // y (N, rows) (+)= x (N, cols) @ W^T (cols, rows)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, p->rows, p->cols, 1.0f, x, p->cols, W,
                p->cols, accumulate ? 1.0f : 0.0f, y, p->rows);
}

void packed_gemm(float *y, const float *x, const packed_linear *p, int N, int accumulate,
                 float *scratch) {
    if (N >= PACKED_WHOLE_ROWS) {
        gemm_whole(y, x, p, N, accumulate, scratch);
        return;
    }
    int TR = tile_rows(p), ntiles = (p->rows + TR - 1) / TR;
    size_t per_thread = packed_gemm_scratch(p);
    // Inside the parallel region OpenBLAS (the OpenMP build) runs each sgemm on its thread.
#pragma omp parallel for schedule(dynamic, 1)
    for (int t = 0; t < ntiles; t++) {
        int r0 = t * TR, n = r0 + TR < p->rows ? TR : p->rows - r0;
        float *W = scratch + (size_t)omp_get_thread_num() * per_thread;   // (n, cols)
        packed_linear_dequant(W, p, r0, n);
        // y[:, r0:r0+n] (N, n) (+)= x (N, cols) @ W^T (cols, n)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, n, p->cols, 1.0f, x, p->cols, W,
                    p->cols, accumulate ? 1.0f : 0.0f, y + r0, p->rows);
    }
}

size_t packed_scratch(const packed_linear *p) {
    size_t g = packed_gemv_scratch(p), m = packed_gemm_scratch(p) * (size_t)omp_get_max_threads();
    size_t w = (size_t)p->rows * p->cols;   // gemm_whole's fp32 copy (touched only when used)
    if (m < w) m = w;
    return g > m ? g : m;
}

// AH_PACKED_PATH=gemv|gemm forces one path whatever N (tests run a whole perplexity through
// each); anything else: by N.
static int forced_path(void) {
    static int path = -1;   // 0: by N, 1: gemv, 2: gemm; read once
    if (path < 0) {
        const char *v = getenv("AH_PACKED_PATH");
        path = v && !strcmp(v, "gemv") ? 1 : v && !strcmp(v, "gemm") ? 2 : 0;
    }
    return path;
}

// 1 when N input rows take the GEMV path.
static int gemv_path(int N) {
    int f = forced_path();
    return f == 1 || (f == 0 && N < PACKED_GEMM_ROWS);
}

void packed_linear_apply(float *y, const float *x, const packed_linear *p, int N,
                         int accumulate, float *scratch) {
    if (gemv_path(N)) packed_gemv(y, x, p, N, accumulate, PACKED_AUTO, scratch);
    else packed_gemm(y, x, p, N, accumulate, scratch);
}

void packed_linear_apply_shared(float *const *y, const float *x, const packed_linear *const *p,
                                int n, int N, int accumulate, float *scratch) {
    if (gemv_path(N)) {
        packed_gemv_shared(y, x, p, n, N, accumulate, PACKED_AUTO, scratch);
        return;
    }
    for (int j = 0; j < n; j++) packed_gemm(y[j], x, p[j], N, accumulate, scratch);
}

// ----------------------------------------------------------------------------
// reference

int packed_reference(float *y, const float *x, const packed_linear *p, int N) {
    float *w = malloc((size_t)p->cols * sizeof *w);
    if (!w) return -1;
    for (int o = 0; o < p->rows; o++) {
        dequant_row(w, p, (size_t)o);
        for (int t = 0; t < N; t++) {
            double s = 0.0;
            for (int i = 0; i < p->cols; i++) s += (double)w[i] * x[(size_t)t * p->cols + i];
            y[(size_t)t * p->rows + o] = (float)s;
        }
    }
    free(w);
    return 0;
}
