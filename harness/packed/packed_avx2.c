// packed_avx2.c — the AVX2 + FMA GEMV kernel of packed linears (packed_internal.h).
//
// Compiled for AVX2 + FMA by a target attribute (the rest of the build is x86-64 baseline);
// packed_gemv calls it only when the CPU has both. Per whole chunk of 8 bytes: one vpmovzxbd
// straight from memory widens the 8 bytes to 8 int32 lanes, then per plane k (per = 1, 2 or
// 4 planes) a 256-bit shift and mask of the lanes gives plane k's 8 codes, one conversion
// makes them floats and one FMA multiplies them with 8 reordered floats of x. Widening once
// per chunk instead of once per plane leaves one shuffle-port uop per 8 bytes (Zen 3 and
// Intel cores have one or two shuffle ports, and the per-plane widening filled them); the
// codes and the FMAs, and their order, are those of the per-plane widening, so the sums are
// bit for bit the same. Each instantiation has `per` as a constant, so the chunk bounds of a
// group are shifts, not divisions.
#include "packed/packed_internal.h"

#if defined(__x86_64__)
#include "core/avx2.h"

#define AVX2 AH_AVX2

// The 8 bytes at q, each widened to an int32 lane (one vpmovzxbd from memory).
AVX2 static inline __m256i widen8(const uint8_t *q) {
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)q));
}

// Plane k (of per) of the widened bytes w as 8 floats: (w >> k * slot) & (2^slot - 1). The
// lowest plane needs no shift, the highest no mask (the lanes hold 8 bits).
AVX2 static inline __m256 plane(__m256i w, int k, int per) {
    const int slot = 8 / per;
    __m256i v = k ? _mm256_srli_epi32(w, k * slot) : w;
    if (k + 1 < per) v = _mm256_and_si256(v, _mm256_set1_epi32((1 << slot) - 1));
    return _mm256_cvtepi32_ps(v);
}

// acc += plane k of w * xp (8).
#define FMA_PLANE(acc, w, k, PER, xp) acc = _mm256_fmadd_ps(plane(w, k, PER), _mm256_loadu_ps(xp), acc)

// sum over the whole chunks in [c0, c1) (multiples of CH) of code * x, in one vector.
// PER codes a byte: a compile-time constant in each instantiation, so the planes unroll.
#define CHUNKS(PER)                                                                           \
    AVX2 static inline __m256 chunks_##PER(const uint8_t *q, const float *xp, int c0, int c1) { \
        const int CH = 8 * PER;                                                               \
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();                            \
        int c = c0;                                                                           \
        /* two chunks a step into two accumulators, every plane of chunk c into a0 and of */ \
        /* chunk c + CH into a1 (PAIR_STEP's order) */                                       \
        for (; c + 2 * CH <= c1; c += 2 * CH) {                                               \
            __m256i b = widen8(q + c / PER), d = widen8(q + (c + CH) / PER);                  \
            _Pragma("GCC unroll 4") for (int k = 0; k < PER; k++) {                           \
                FMA_PLANE(a0, b, k, PER, xp + c + k * 8);                                     \
                FMA_PLANE(a1, d, k, PER, xp + c + CH + k * 8);                                \
            }                                                                                 \
        }                                                                                     \
        for (; c < c1; c += CH) {                                                             \
            __m256i b = widen8(q + c / PER);                                                  \
            _Pragma("GCC unroll 4") for (int k = 0; k < PER; k++)                             \
                FMA_PLANE(a0, b, k, PER, xp + c + k * 8);                                     \
        }                                                                                     \
        return _mm256_add_ps(a0, a1);                                                         \
    }

// One step of two rows' chunk loop: the chunk pair at c and c + CH (codes of row 0 at q0, of
// row 1 at q1, x reordered at xp), every plane of chunk c into a0 (row 0) and b0 (row 1), of
// chunk c + CH into a1 and b1: the accumulators of the scope that uses it. Two accumulators a
// row, not four: the group's partial sums take one add to combine, and fewer live registers
// left the loop 4% faster (TinyLlama's linears, bench/packed_gemm --rows 1) although each
// FMA chain is twice as deep.
#define PAIR_STEP(PER, q0, q1, xp, c)                                                         \
    do {                                                                                      \
        const int CH_ = 8 * PER;                                                              \
        __m256i wb = widen8((q0) + (c) / PER), wd = widen8((q0) + ((c) + CH_) / PER);         \
        __m256i ub = widen8((q1) + (c) / PER), ud = widen8((q1) + ((c) + CH_) / PER);         \
        _Pragma("GCC unroll 4") for (int k = 0; k < PER; k++) {                               \
            FMA_PLANE(a0, wb, k, PER, (xp) + (c) + k * 8);                                    \
            FMA_PLANE(b0, ub, k, PER, (xp) + (c) + k * 8);                                    \
            FMA_PLANE(a1, wd, k, PER, (xp) + (c) + CH_ + k * 8);                              \
            FMA_PLANE(b1, ud, k, PER, (xp) + (c) + CH_ + k * 8);                              \
        }                                                                                     \
    } while (0)

#define ZERO_PAIR_ACC                                                                         \
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();                                \
    __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps()

// The sums of chunks_PER for two rows at once (codes q0 and q1, the same x): each row's
// accumulators take the same FMAs in the same order as chunks_PER's, so each result is bit
// for bit chunks_PER's; two rows give the core four independent FMA chains instead of two
// (with one row the latency of those chains, not the issue width, bounded the loop).
#define CHUNKS_PAIR(PER)                                                                      \
    AVX2 static inline void chunks_pair_##PER(__m256 *v0, __m256 *v1, const uint8_t *q0,      \
                                              const uint8_t *q1, const float *xp, int c0,     \
                                              int c1) {                                       \
        const int CH = 8 * PER;                                                               \
        ZERO_PAIR_ACC;                                                                        \
        int c = c0;                                                                           \
        for (; c + 2 * CH <= c1; c += 2 * CH) PAIR_STEP(PER, q0, q1, xp, c);                  \
        for (; c < c1; c += CH) {                                                             \
            __m256i wb = widen8(q0 + c / PER), ub = widen8(q1 + c / PER);                     \
            _Pragma("GCC unroll 4") for (int k = 0; k < PER; k++) {                           \
                FMA_PLANE(a0, wb, k, PER, xp + c + k * 8);                                    \
                FMA_PLANE(b0, ub, k, PER, xp + c + k * 8);                                    \
            }                                                                                 \
        }                                                                                     \
        *v0 = _mm256_add_ps(a0, a1);                                                          \
        *v1 = _mm256_add_ps(b0, b1);                                                          \
    }

// Group g's channels [a, b) and its whole chunks [c0, c1) (c0 >= c1: none).
#define GROUP_BOUNDS(PER)                                                                     \
    int a = g * p->gsize, b = a + p->gsize < p->cols ? a + p->gsize : p->cols;                \
    int c0 = (a + 8 * PER - 1) / (8 * PER) * (8 * PER), c1 = b / (8 * PER) * (8 * PER)

// Group g of two rows (codes q, q1, scales s, s1) on any bounds: the whole chunks' sums
// scaled into rowv / rowv1 (chunks_pair_PER), the scalar ends' sums returned in tail / tail1.
#define GROUP_PAIR(PER)                                                                       \
    AVX2 static inline void group_pair_##PER(const packed_linear *p, int g, const uint8_t *q, \
                                             const uint8_t *q1, const float *x,               \
                                             const float *xp, float s, float s1,              \
                                             __m256 *rowv, __m256 *rowv1, float *tail,        \
                                             float *tail1) {                                  \
        GROUP_BOUNDS(PER);                                                                    \
        if (c0 >= c1) {   /* no whole chunk in this group */                                 \
            *tail = packed_dot_scalar(q, x, a, b, PER);                                       \
            *tail1 = packed_dot_scalar(q1, x, a, b, PER);                                     \
            return;                                                                           \
        }                                                                                     \
        if (c0 == a && c1 == b) {   /* no scalar ends: two empty sums */                     \
            *tail = *tail1 = 0.0f + 0.0f;                                                     \
        } else {                                                                              \
            *tail = packed_dot_scalar(q, x, a, c0, PER) + packed_dot_scalar(q, x, c1, b, PER); \
            *tail1 = packed_dot_scalar(q1, x, a, c0, PER) + packed_dot_scalar(q1, x, c1, b, PER); \
        }                                                                                     \
        __m256 v, v1;                                                                         \
        chunks_pair_##PER(&v, &v1, q, q1, xp, c0, c1);                                        \
        *rowv = _mm256_fmadd_ps(v, _mm256_set1_ps(s), *rowv);                                 \
        *rowv1 = _mm256_fmadd_ps(v1, _mm256_set1_ps(s1), *rowv1);                             \
    }

// Output rows [o0, o1) of one input row (packed_internal.h), PER codes a byte, groups of
// NI chunk pairs (NI > 0: gsize = 16 * PER * NI, which the dispatcher checks) or any (NI =
// 0): two rows at a time, an odd last row alone; per row, the same operations in the same
// order either way.
// With NI > 0 the whole groups (all but a last partial one) run the chunk loop with constant
// offsets, fully unrolled, and skip the bounds and scalar-end tests: on the general path,
// index arithmetic, loop control and spills took much of a group as short as 4 chunk pairs
// (4 bits, group 128): the linears of 22 TinyLlama-1.1B-shaped blocks took 29.6 ms a token
// at 2 threads instead of 36.1 (bench/packed_gemm --dim 2048 --ffn 5632 --kv 256 --layers 22
// --rows 1; 27.7 with two accumulators a row and packed_zero_dot). The same FMAs, sums and
// zero-point terms in the same order as the general path, so the results are bit for bit the
// same. (A branch between the two kinds of group inside one loop cost a third of the gain:
// the constant loop has a function of its own.)
#define ROWS(PER, NI)                                                                         \
    AVX2 static void rows_##PER##_##NI(float *y, int accumulate, const packed_linear *p,      \
                                       int o0, int o1, const float *x, const float *xp,       \
                                       const float *xs) {                                     \
        const int whole = NI ? p->cols / p->gsize : 0;   /* groups of the constant loop */   \
        const size_t ahead = packed_prefetch_ahead(p->row_bytes);                             \
        int o = o0;                                                                           \
        for (; o + 1 < o1; o += 2) {                                                          \
            const uint8_t *q = p->q + (size_t)o * p->row_bytes, *q1 = q + p->row_bytes;       \
            const float *sc = p->scale + (size_t)o * p->groups, *sc1 = sc + p->groups;        \
            const uint8_t *zr = p->zero + (size_t)o * p->groups, *zr1 = zr + p->groups;       \
            __m256 rowv = _mm256_setzero_ps(), rowv1 = _mm256_setzero_ps();                  \
            float rows = 0.0f, rows1 = 0.0f;                                                  \
            int g = 0;                                                                        \
            for (; g < whole; g++) {   /* NI chunk pairs, no scalar ends */                  \
                const size_t off = (size_t)g * 16 * NI;   /* the group's first byte */        \
                const uint8_t *qa = q + off, *qb = q1 + off;                                  \
                const float *xg = xp + off * PER;                                             \
                packed_prefetch_pair(q, ahead, p->row_bytes, off, 16 * NI);                   \
                ZERO_PAIR_ACC;                                                                \
                _Pragma("GCC unroll 16") for (int j = 0; j < NI; j++)                         \
                    PAIR_STEP(PER, qa, qb, xg, j * 16 * PER);                                 \
                rowv = _mm256_fmadd_ps(_mm256_add_ps(a0, a1), _mm256_set1_ps(sc[g]), rowv);   \
                rowv1 = _mm256_fmadd_ps(_mm256_add_ps(b0, b1), _mm256_set1_ps(sc1[g]), rowv1); \
            }                                                                                 \
            for (; g < p->groups; g++) {   /* any bounds */                                  \
                packed_prefetch_pair(q, ahead, p->row_bytes, (size_t)g * p->gsize / PER, 1);  \
                float s = sc[g], s1 = sc1[g], tail, tail1;                                    \
                group_pair_##PER(p, g, q, q1, x, xp, s, s1, &rowv, &rowv1, &tail, &tail1);   \
                rows += s * tail;                                                             \
                rows1 += s1 * tail1;                                                          \
            }                                                                                 \
            float acc = ah_hsum8(rowv) + (rows - packed_zero_dot(sc, zr, xs, p->groups));     \
            float acc1 = ah_hsum8(rowv1) + (rows1 - packed_zero_dot(sc1, zr1, xs, p->groups)); \
            y[o] = accumulate ? y[o] + acc : acc;                                             \
            y[o + 1] = accumulate ? y[o + 1] + acc1 : acc1;                                   \
        }                                                                                     \
        for (; o < o1; o++) {                                                                 \
            const uint8_t *q = p->q + (size_t)o * p->row_bytes;                               \
            const float *sc = p->scale + (size_t)o * p->groups;                               \
            const uint8_t *zr = p->zero + (size_t)o * p->groups;                              \
            __m256 rowv = _mm256_setzero_ps();                                                \
            float rows = 0.0f;                                                                \
            for (int g = 0; g < p->groups; g++) {                                             \
                GROUP_BOUNDS(PER);                                                            \
                float s = sc[g], tail;                                                        \
                if (c0 >= c1) {   /* no whole chunk in this group */                         \
                    tail = packed_dot_scalar(q, x, a, b, PER);                                \
                } else {                                                                      \
                    tail = packed_dot_scalar(q, x, a, c0, PER) +                              \
                           packed_dot_scalar(q, x, c1, b, PER);                               \
                    rowv = _mm256_fmadd_ps(chunks_##PER(q, xp, c0, c1), _mm256_set1_ps(s), rowv); \
                }                                                                             \
                rows += s * tail;                                                             \
            }                                                                                 \
            float acc = ah_hsum8(rowv) + (rows - packed_zero_dot(sc, zr, xs, p->groups));     \
            y[o] = accumulate ? y[o] + acc : acc;                                             \
        }                                                                                     \
    }
CHUNKS(1)
CHUNKS(2)
CHUNKS(4)
CHUNKS_PAIR(1)
CHUNKS_PAIR(2)
CHUNKS_PAIR(4)
GROUP_PAIR(1)
GROUP_PAIR(2)
GROUP_PAIR(4)
ROWS(1, 0)   // 8-bit codes (5..8 bits): any group; groups of 32, 64, 128
ROWS(1, 2)
ROWS(1, 4)
ROWS(1, 8)
ROWS(2, 0)   // 3- and 4-bit codes: any group; groups of 32, 64, 128
ROWS(2, 1)
ROWS(2, 2)
ROWS(2, 4)
ROWS(4, 0)   // 2-bit codes: any group; groups of 64, 128
ROWS(4, 1)
ROWS(4, 2)

typedef void (*rows_kernel)(float *, int, const packed_linear *, int, int, const float *,
                            const float *, const float *);
// The row kernels by codes a byte (PER) and chunk pairs a group (NI; 0: any group size).
static const rows_kernel ROWS_KERNELS[5][9] = {
    [1] = {[0] = rows_1_0, [2] = rows_1_2, [4] = rows_1_4, [8] = rows_1_8},
    [2] = {[0] = rows_2_0, [1] = rows_2_1, [2] = rows_2_2, [4] = rows_2_4},
    [4] = {[0] = rows_4_0, [1] = rows_4_1, [2] = rows_4_2},
};

AVX2 void packed_rows_avx2(float *y, int accumulate, const packed_linear *p, int o0, int o1,
                           const float *x, const float *xp, const float *xs) {
    const int per = packed_per_byte(p->bits);
    // chunk pairs a group, where groups of that many have a kernel of their own (per-row
    // "groups" and sizes off the chunk grid take the general one)
    const int ni = p->gsize % (16 * per) || p->gsize > p->cols ? 0 : p->gsize / (16 * per);
    rows_kernel rows = ni <= 8 && ROWS_KERNELS[per][ni] ? ROWS_KERNELS[per][ni]
                                                        : ROWS_KERNELS[per][0];
    rows(y, accumulate, p, o0, o1, x, xp, xs);
}

// The same sums for GEMV_ROWS input rows at once: a[t] = sum over the whole chunks in [c0, c1)
// of code * xp[t]. Each plane's 8 codes are converted to floats once and multiplied with every
// row, so a short prompt pays the widening once per GEMV_ROWS tokens instead of per token (or
// per weight of a dequantized tile): with few rows that widening, not the FMAs, is the cost.
#define CHUNKS_ROWS(PER)                                                                      \
    AVX2 static inline void chunks_rows_##PER(__m256 a[GEMV_ROWS], const uint8_t *q,          \
                                              const float *xp, int ldx, int c0, int c1) {     \
        const int CH = 8 * PER;                                                               \
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();                            \
        __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();                            \
        const float *x0 = xp, *x1 = xp + ldx, *x2 = xp + 2 * (size_t)ldx, *x3 = xp + 3 * (size_t)ldx; \
        for (int c = c0; c < c1; c += CH) {                                                   \
            __m256i b = widen8(q + c / PER);                                                  \
            _Pragma("GCC unroll 4") for (int k = 0; k < PER; k++) {                           \
                __m256 w = plane(b, k, PER);                                                  \
                int i = c + k * 8;                                                            \
                a0 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x0 + i), a0);                         \
                a1 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x1 + i), a1);                         \
                a2 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x2 + i), a2);                         \
                a3 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x3 + i), a3);                         \
            }                                                                                 \
        }                                                                                     \
        a[0] = a0; a[1] = a1; a[2] = a2; a[3] = a3;                                           \
    }
CHUNKS_ROWS(1)
CHUNKS_ROWS(2)
CHUNKS_ROWS(4)

// Output rows [o0, o1) of GEMV_ROWS input rows, PER codes a byte.
#define ROWS_MULTI(PER)                                                                       \
    AVX2 static void rows_multi_##PER(float *y, int ldy, int accumulate, const packed_linear *p, \
                                      int o0, int o1, const float *x, const float *xp,        \
                                      const float *xs) {                                      \
        const int CH = 8 * PER, In = p->cols, G = p->groups;                                  \
        for (int o = o0; o < o1; o++) {                                                       \
            const uint8_t *q = p->q + (size_t)o * p->row_bytes;                               \
            const float *sc = p->scale + (size_t)o * G;                                       \
            const uint8_t *zr = p->zero + (size_t)o * G;                                      \
            __m256 rowv[GEMV_ROWS];                                                           \
            float rows[GEMV_ROWS];                                                            \
            for (int t = 0; t < GEMV_ROWS; t++) {                                             \
                rowv[t] = _mm256_setzero_ps();                                                \
                rows[t] = 0.0f;                                                               \
            }                                                                                 \
            for (int g = 0; g < G; g++) {                                                     \
                int a = g * p->gsize, b = a + p->gsize < In ? a + p->gsize : In;              \
                int c0 = (a + CH - 1) / CH * CH, c1 = b / CH * CH;   /* whole chunks */      \
                float s = sc[g], z = (float)zr[g];                                            \
                int whole = c0 < c1;   /* else no whole chunk in this group: all scalar */   \
                /* the next row's codes of this group, one row ahead (as in rows_PER) */      \
                _mm_prefetch((const char *)(q + p->row_bytes + a / PER), _MM_HINT_T0);         \
                if (whole) {                                                                  \
                    __m256 v[GEMV_ROWS];                                                      \
                    chunks_rows_##PER(v, q, xp, In, c0, c1);                                  \
                    __m256 sv = _mm256_set1_ps(s);                                            \
                    for (int t = 0; t < GEMV_ROWS; t++) rowv[t] = _mm256_fmadd_ps(v[t], sv, rowv[t]); \
                }                                                                             \
                for (int t = 0; t < GEMV_ROWS; t++) {                                         \
                    const float *xt = x + (size_t)t * In;                                     \
                    float tail = whole ? packed_dot_scalar(q, xt, a, c0, PER) +               \
                                             packed_dot_scalar(q, xt, c1, b, PER)             \
                                       : packed_dot_scalar(q, xt, a, b, PER);                 \
                    rows[t] += s * (tail - z * xs[(size_t)t * G + g]);                        \
                }                                                                             \
            }                                                                                 \
            for (int t = 0; t < GEMV_ROWS; t++) {                                             \
                float acc = ah_hsum8(rowv[t]) + rows[t];                                       \
                float *yo = y + (size_t)t * ldy + o;                                          \
                *yo = accumulate ? *yo + acc : acc;                                           \
            }                                                                                 \
        }                                                                                     \
    }
ROWS_MULTI(1)
ROWS_MULTI(2)
ROWS_MULTI(4)

AVX2 void packed_rows_avx2_multi(float *y, int ldy, int accumulate, const packed_linear *p,
                                 int o0, int o1, const float *x, const float *xp,
                                 const float *xs) {
    switch (packed_per_byte(p->bits)) {
    case 1: rows_multi_1(y, ldy, accumulate, p, o0, o1, x, xp, xs); break;
    case 2: rows_multi_2(y, ldy, accumulate, p, o0, o1, x, xp, xs); break;
    default: rows_multi_4(y, ldy, accumulate, p, o0, o1, x, xp, xs); break;
    }
}

// out[0, 8 * PER) = (codes of the 8 bytes at q, in order - z) * s: the dequantization of
// quant_dequant (a subtraction, then a multiplication, each rounded: bit for bit the same).
AVX2 static inline void dequant_chunk(float *out, const uint8_t *q, int per, __m256 z, __m256 s) {
    __m128i b = _mm_loadl_epi64((const __m128i *)q), in_order[2];
    int n16;   // vectors of 16 codes (as bytes) in order
    if (per == 1) {
        in_order[0] = b;
        n16 = 0;   // 8 codes: one half vector
    } else if (per == 2) {
        const __m128i m = _mm_set1_epi8(0x0F);
        in_order[0] = _mm_unpacklo_epi8(_mm_and_si128(b, m), _mm_and_si128(_mm_srli_epi16(b, 4), m));
        n16 = 1;
    } else {
        const __m128i m = _mm_set1_epi8(0x03);
        __m128i p0 = _mm_and_si128(b, m), p1 = _mm_and_si128(_mm_srli_epi16(b, 2), m);
        __m128i p2 = _mm_and_si128(_mm_srli_epi16(b, 4), m), p3 = _mm_and_si128(_mm_srli_epi16(b, 6), m);
        __m128i a01 = _mm_unpacklo_epi8(p0, p1), a23 = _mm_unpacklo_epi8(p2, p3);
        in_order[0] = _mm_unpacklo_epi16(a01, a23);
        in_order[1] = _mm_unpackhi_epi16(a01, a23);
        n16 = 2;
    }
    if (n16 == 0) {
        __m256 c = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(in_order[0]));
        _mm256_storeu_ps(out, _mm256_mul_ps(_mm256_sub_ps(c, z), s));
        return;
    }
    for (int v = 0; v < n16; v++) {
        __m256 c0 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(in_order[v]));
        __m256 c1 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(in_order[v], 8)));
        _mm256_storeu_ps(out + 16 * v, _mm256_mul_ps(_mm256_sub_ps(c0, z), s));
        _mm256_storeu_ps(out + 16 * v + 8, _mm256_mul_ps(_mm256_sub_ps(c1, z), s));
    }
}

AVX2 void packed_dequant_avx2(float *out, const packed_linear *p, int r0, int n) {
    const int per = packed_per_byte(p->bits), CH = 8 * per;
    for (int r = 0; r < n; r++) {
        size_t o = (size_t)(r0 + r);
        const uint8_t *q = p->q + o * p->row_bytes;
        float *w = out + (size_t)r * p->cols;
        for (int g = 0; g < p->groups; g++) {
            int a = g * p->gsize, b = a + p->gsize < p->cols ? a + p->gsize : p->cols;
            int c0 = (a + CH - 1) / CH * CH, c1 = b / CH * CH;
            float sf = p->scale[o * p->groups + g], zf = (float)p->zero[o * p->groups + g];
            if (c0 >= c1) c0 = c1 = b;   // no whole chunk: all scalar
            for (int i = a; i < c0 && i < b; i++) w[i] = ((float)packed_code(q, i, per) - zf) * sf;
            __m256 z = _mm256_set1_ps(zf), s = _mm256_set1_ps(sf);
            for (int c = c0; c < c1; c += CH) dequant_chunk(w + c, q + c / per, per, z, s);
            for (int i = c1 > a ? c1 : a; i < b; i++) w[i] = ((float)packed_code(q, i, per) - zf) * sf;
        }
    }
}

#else
void packed_dequant_avx2(float *out, const packed_linear *p, int r0, int n) {
    (void)out; (void)p; (void)r0; (void)n;
}
void packed_rows_avx2(float *y, int accumulate, const packed_linear *p, int o0, int o1,
                      const float *x, const float *xp, const float *xs) {
    (void)y; (void)accumulate; (void)p; (void)o0; (void)o1; (void)x; (void)xp; (void)xs;
}
void packed_rows_avx2_multi(float *y, int ldy, int accumulate, const packed_linear *p, int o0,
                            int o1, const float *x, const float *xp, const float *xs) {
    (void)y; (void)ldy; (void)accumulate; (void)p; (void)o0; (void)o1; (void)x; (void)xp; (void)xs;
}
#endif
