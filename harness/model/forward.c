// forward.c — one decoder block, the embedding and the LM head, in fp32.
//
// Written to be read top to bottom beside HF's modeling_llama.py / modeling_opt.py and
// llama2.c's run.c. Dims legend in model.h.
#include "model/forward.h"

#include "core/blas.h"
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/expf_vec.h"
#include "core/fastexp.h"
#include "core/mem.h"
#include "core/vecmax.h"
#include "model/attend_block.h"
#include "model/gemm_stored.h"
#include "packed/packed.h"

// Query rows per block of the causal attention: 128 (half the K / V packing of 64, measured 8%
// faster on OPT-125m; bench/README.md), the block attend_block.h's kernels take.
#define ATT_ROWS ATTEND_BLOCK_ROWS

// ----------------------------------------------------------------------------
// elementwise kernels that call exp
//
// ah_expf (core/fastexp.h) is the correctly rounded exp; ah_expf_shift_n (core/expf_vec.h)
// gives its results bit for bit, 1.2x faster on AVX2 (bench/README.md). The softmax sum
// stays serial in float: the AWQ reference tests compare alphas exactly and some near-ties
// flip on last-bit changes of the attention output (softmax sums in 8 lanes moved
// tests/fixtures/awq/opt-b3-g32-search-clip's perplexity to 1.4e-3 off the reference).

// row[0, n) <- exp(row[0, n) - mx), mx = max(row[0, n)): the unnormalised softmax. mx: NULL to
// take the max here, else the max already known.
static void exp_shifted_row(float *row, int n, const float *mx) {
    ah_expf_shift_n(row, row, (size_t)n, mx ? *mx : ah_max_f32(row, (size_t)n));
}

// row[0, n) *= inv; row[n, m) <- 0 (the masked part of a block).
AH_VEC_CLONES static void scale_row(float *row, int n, int m, float inv) {
#pragma omp simd
    for (int j = 0; j < n; j++) row[j] *= inv;
    for (int j = n; j < m; j++) row[j] = 0.0f;
}

// 8 float lanes, one per row of a group of 8 rows (GCC vector extension: each clone of the
// caller lowers it to its own instructions).
typedef float ah_v8sf __attribute__((vector_size(32)));
// Lanes of (a, b) picked by 8 constant indices (0-7: a, 8-15: b). __builtin_shufflevector is
// the spelling GCC (12 on) and clang share; GCC's __builtin_shuffle does not build with clang
// (make fuzz).
#define AH_SHUF8(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)

// sum[r] = m[r][0] + m[r][1] + ... + m[r][n-1], added in that order (a serial float sum per row,
// as a scalar loop would), for 8 rows m[r] = base + r * ld. Vectorised across the rows: each 8x8
// tile is transposed so that one vector add adds column j to all 8 running sums; the tail
// (n % 8 columns) goes on in scalar, in order.
AH_VEC_CLONES void fwd_sum8_rows(float sum[8], const float *base, int ld, int n) {
    ah_v8sf acc = {0};
    int j = 0;
    for (; j + 8 <= n; j += 8) {
        ah_v8sf m[8], a[8], b[8];
        for (int r = 0; r < 8; r++) memcpy(&m[r], base + (size_t)r * ld + j, sizeof m[r]);
        for (int i = 0; i < 8; i += 2) {   // a[i]: (m_i, m_i+1) even columns, a[i+1]: odd
            a[i] = AH_SHUF8(m[i], m[i + 1], 0, 8, 2, 10, 4, 12, 6, 14);
            a[i + 1] = AH_SHUF8(m[i], m[i + 1], 1, 9, 3, 11, 5, 13, 7, 15);
        }
        for (int i = 0; i < 8; i += 4) {   // rows i..i+3 of columns (0,4), (1,5), (2,6), (3,7)
            b[i] = AH_SHUF8(a[i], a[i + 2], 0, 1, 8, 9, 4, 5, 12, 13);
            b[i + 1] = AH_SHUF8(a[i + 1], a[i + 3], 0, 1, 8, 9, 4, 5, 12, 13);
            b[i + 2] = AH_SHUF8(a[i], a[i + 2], 2, 3, 10, 11, 6, 7, 14, 15);
            b[i + 3] = AH_SHUF8(a[i + 1], a[i + 3], 2, 3, 10, 11, 6, 7, 14, 15);
        }
        for (int c = 0; c < 4; c++) {      // column c = rows 0..7 of it: lower halves of b[c], b[c+4]
            m[c] = AH_SHUF8(b[c], b[c + 4], 0, 1, 2, 3, 8, 9, 10, 11);
            m[c + 4] = AH_SHUF8(b[c], b[c + 4], 4, 5, 6, 7, 12, 13, 14, 15);
        }
        for (int c = 0; c < 8; c++) acc += m[c];   // columns j, j+1, ..., j+7 in order
    }
    for (int r = 0; r < 8; r++) {
        float t = acc[r];
        for (int i = j; i < n; i++) t += base[(size_t)r * ld + i];
        sum[r] = t;
    }
}

// Causal softmax of a block of nr rows of S (row stride ld): row r covers columns
// [0, n0 + r + 1), the rest of its ld columns is set to 0. Each row's sum is the serial float
// sum (the order the AWQ reference tests were matched with); 8 rows' sums run side by side,
// in vector lanes (fwd_sum8_rows), instead of one chain of n dependent adds per row. Eight
// rows at a time from exp to scale: 8 rows of 2048 are 64 KiB and stay in L2 between the
// passes (the whole block, 1 MiB, did not). rowmax: each row's max score where the scores'
// kernel took it (attend_block_scores), NULL to take it here.
static void softmax_causal_block(float *S, int nr, int ld, int n0, const float *rowmax) {
    float sum[8];
    for (int r0 = 0; r0 < nr; r0 += 8) {
        int k = nr - r0 < 8 ? nr - r0 : 8, common = n0 + r0 + 1;   // row r0 is the shortest
        float *base = S + (size_t)r0 * ld;
        for (int r = 0; r < k; r++)
            exp_shifted_row(base + (size_t)r * ld, common + r, rowmax ? rowmax + r0 + r : NULL);
        for (int r = 0; r < 8; r++) sum[r] = 0.0f;
        if (k == 8) {
            fwd_sum8_rows(sum, base, ld, common);
        } else {
            for (int r = 0; r < k; r++)
                for (int j = 0; j < common; j++) sum[r] += base[(size_t)r * ld + j];
        }
        for (int r = 1; r < k; r++)   // the tails beyond the shortest row, in order
            for (int j = common; j < common + r; j++) sum[r] += base[(size_t)r * ld + j];
        for (int r = 0; r < k; r++)
            scale_row(S + (size_t)(r0 + r) * ld, n0 + r0 + r + 1, ld, 1.0f / sum[r]);
    }
}

// up (n) <- silu(gate) * up, 256 at a time: exp(-gate) into a buffer first (ah_expf_shift_n;
// -g - 0 is -g exactly), then the same float operations as before, in the same order.
AH_VEC_CLONES static void swiglu_apply(float *up, const float *gate, const float *e, int n) {
#pragma omp simd
    for (int i = 0; i < n; i++) up[i] *= gate[i] / (1.0f + e[i]);
}

static void swiglu_row(float *up, const float *gate, int n) {
    float e[256];
    for (int i0 = 0; i0 < n; i0 += 256) {
        int len = n - i0 < 256 ? n - i0 : 256;
        for (int i = 0; i < len; i++) e[i] = -gate[i0 + i];
        ah_expf_shift_n(e, e, (size_t)len, 0.0f);
        swiglu_apply(up + i0, gate + i0, e, len);
    }
}

// The exps go into a buffer of 256 so the double sum keeps its serial order.
void fwd_lse_chunk(const float *l, size_t n, float *max, double *sum) {
    float mx = ah_max_f32(l, n);
    double se = 0.0;
    float e[256];
    for (size_t j0 = 0; j0 < n; j0 += 256) {
        size_t len = n - j0 < 256 ? n - j0 : 256;
        ah_expf_shift_n(e, l + j0, len, mx);
        for (size_t j = 0; j < len; j++) se += (double)e[j];
    }
    *max = mx;
    *sum = se;
}

// y[0, n) += b[0, n)
AH_VEC_CLONES static void add_row(float *y, const float *b, int n) {
#pragma omp simd
    for (int i = 0; i < n; i++) y[i] += b[i];
}

// h (n) <- relu(h + b); b may be NULL.
AH_VEC_CLONES static void relu_row(float *h, const float *b, int n) {
    if (b) {
#pragma omp simd
        for (int i = 0; i < n; i++) {
            float u = h[i] + b[i];
            h[i] = u > 0.0f ? u : 0.0f;
        }
    } else {
#pragma omp simd
        for (int i = 0; i < n; i++) h[i] = h[i] > 0.0f ? h[i] : 0.0f;
    }
}

// up (n) <- silu(gate + bg) * (up + bu); bg, bu may be NULL (Llama has no MLP biases).
static void swiglu_bias_row(float *up, float *gate, const float *bg, const float *bu, int n) {
    if (bg) add_row(gate, bg, n);
    if (bu) add_row(up, bu, n);
    swiglu_row(up, gate, n);
}

// ----------------------------------------------------------------------------
// state

int fwd_batch_windows(int T, size_t windows) {
    size_t b = FWD_BATCH_TOKENS / (size_t)T;
    if (b < 1) b = 1;
    if (b > windows) b = windows;
    return b < 1 ? 1 : (int)b;
}

fwd_state *fwd_state_new(const model_config *c, int T, int B, ah_err *e) {
    fwd_state *s = calloc(1, sizeof *s);
    if (!s) {
        ah_fail(e, "out of memory (forward state)");
        return NULL;
    }
    size_t t = (size_t)T, n = (size_t)T * (size_t)B, C = (size_t)c->dim, Q = (size_t)c->n_heads * c->head_dim,
           KV = (size_t)c->n_kv_heads * c->head_dim, F = (size_t)c->hidden_dim,
           D2 = (size_t)c->head_dim / 2;
    s->T = T;
    s->B = B;
    s->nthreads = omp_get_max_threads();
    // Scores: one (T, T) buffer per thread, never more than (window, head) pairs.
    size_t pairs = (size_t)B * c->n_heads;
    size_t score_bufs = (size_t)s->nthreads < pairs ? (size_t)s->nthreads : pairs;
    if (!(s->xn = ah_calloc(n * C, sizeof(float), "activations", e)) ||
        !(s->q = ah_calloc(n * Q, sizeof(float), "activations", e)) ||
        !(s->k = ah_calloc(n * KV, sizeof(float), "activations", e)) ||
        !(s->v = ah_calloc(n * KV, sizeof(float), "activations", e)) ||
        !(s->att = ah_calloc(n * Q, sizeof(float), "activations", e)) ||
        !(s->scores = ah_calloc(score_bufs * (t < ATT_ROWS ? t : ATT_ROWS) * t, sizeof(float),
                                "attention scores", e)) ||
        // keys in panels and values in rows for attend_block.h, per thread: where its kernels
        // will run (its first-use check is made here, as the attention will call it)
        (t >= ATT_ROWS && attend_block_usable(c->head_dim, (int)score_bufs) &&
         !(s->kpack = ah_alloc(score_bufs * (attend_block_kp_floats(T, c->head_dim) + t * c->head_dim),
                               sizeof(float), "attention keys", e))) ||
        // h1 holds the gate projection: gated MLPs only
        !(s->h1 = ah_calloc(c->arch->mlp == MLP_SWIGLU ? n * F : 1, sizeof(float), "MLP activations", e)) ||
        !(s->h2 = ah_calloc(n * F, sizeof(float), "MLP activations", e)) ||
        !(s->rope_cos = ah_calloc(t * (D2 ? D2 : 1), sizeof(float), "rotary table", e)) ||
        !(s->rope_sin = ah_calloc(t * (D2 ? D2 : 1), sizeof(float), "rotary table", e))) {
        fwd_state_free(s);
        return NULL;
    }
    s->nthreads = (int)score_bufs;
    // Rotary table as HF computes it in fp32: inv_freq[i] = 1 / theta^(2i/D),
    // angle = pos * inv_freq (fp32 product), then cos/sin.
    for (size_t i = 0; i < D2; i++) {
        float inv_freq = (float)(1.0 / pow((double)c->rope_theta, (double)(2 * i) / c->head_dim));
        for (size_t p = 0; p < t; p++) {
            float angle = (float)p * inv_freq;
            s->rope_cos[p * D2 + i] = cosf(angle);
            s->rope_sin[p * D2 + i] = sinf(angle);
        }
    }
    return s;
}

void fwd_state_free(fwd_state *s) {
    if (!s) return;
    ah_free(s->xn); ah_free(s->q); ah_free(s->k); ah_free(s->v); ah_free(s->att);
    ah_free(s->scores); ah_free(s->kpack); ah_free(s->h1); ah_free(s->h2);
    ah_free(s->rope_cos); ah_free(s->rope_sin);
    free(s);
}

// ----------------------------------------------------------------------------
// elementwise layers
//
// Their loops run over rows, one per token; `if (T > 1)` runs a single row (a decoded token)
// on the calling thread: opening and joining a parallel region for one iteration cost more
// than the row, and decoding passes a dozen such rows per block.

// out (T, C) = rmsnorm(x (T, C)) * w (C)
static void rmsnorm(float *out, const float *x, const float *w, int T, int C, float eps) {
#pragma omp parallel for schedule(static) if (T > 1)
    for (int t = 0; t < T; t++) {
        const float *xt = x + (size_t)t * C;
        float *ot = out + (size_t)t * C;
        float ss = 0.0f;
        for (int i = 0; i < C; i++) ss += xt[i] * xt[i];
        float r = 1.0f / sqrtf(ss / C + eps);
        for (int i = 0; i < C; i++) ot[i] = w[i] * (xt[i] * r);
    }
}

// out (T, C) = (x - mean) / sqrt(var + eps) * w + b, biased variance as torch.
static void layernorm(float *out, const float *x, const float *w, const float *b, int T, int C,
                      float eps) {
#pragma omp parallel for schedule(static) if (T > 1)
    for (int t = 0; t < T; t++) {
        const float *xt = x + (size_t)t * C;
        float *ot = out + (size_t)t * C;
        float mean = 0.0f, var = 0.0f;
        for (int i = 0; i < C; i++) mean += xt[i];
        mean /= C;
        for (int i = 0; i < C; i++) var += (xt[i] - mean) * (xt[i] - mean);
        var /= C;
        float r = 1.0f / sqrtf(var + eps);
        for (int i = 0; i < C; i++) ot[i] = (xt[i] - mean) * r * w[i] + (b ? b[i] : 0.0f);
    }
}

void fwd_norm(float *out, const float *x, const float *w, const float *b, const model_config *c,
              int T) {
    if (c->arch->norm == NORM_RMS) rmsnorm(out, x, w, T, c->dim, c->norm_eps);
    else layernorm(out, x, w, b, T, c->dim, c->norm_eps);
}

// y (T, O) = x (T, In) @ W^T (O, In) + b (O); accumulate: y += instead of y =.
void fwd_linear(float *y, const float *x, const float *W, const float *b, int T, int In,
                   int O, int accumulate) {
    if (T == 1)   // one row (a decoded token): OpenBLAS's sgemm packs W into its tile layout
        // even then (Debian 12's 0.3.21 has no forwarding to gemv), which read the fp32
        // weights of a decode step at about a third of the copy bandwidth; sgemv streams them once
        cblas_sgemv(CblasRowMajor, CblasNoTrans, O, In, 1.0f, W, In, x, 1,
                    accumulate ? 1.0f : 0.0f, y, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, O, In, 1.0f, x, In, W, In,
                    accumulate ? 1.0f : 0.0f, y, O);
    if (b) fwd_add_bias(y, b, T, O);
}

// y (N, O) (+)= x (N, In) @ W_r^T + bias for linear r of block b: from its packed codes when the
// block holds it packed, else the fp32 GEMM.
void fwd_block_linear(float *y, const float *x, const block_f32 *b, arch_layer_role r,
                      const float *bias, int N, int In, int O, int accumulate) {
    if (b->pk[r]) {
        packed_linear_apply(y, x, b->pk[r], N, accumulate, b->pk_scratch);
        if (bias) fwd_add_bias(y, bias, N, O);
    } else if (b->stored[r] && gemm_stored_usable(N, In, O)) {
        gs_dtype dt = b->src[r]->dtype == ST_BF16 ? GS_BF16 : GS_F16;   // stored halves
        if (gemm_stored(y, x, b->stored[r], dt, N, In, O, accumulate, block_stored_scratch(b)))
            block_stored_flag(b, r);   // block_f32_view_check names it
        if (bias) fwd_add_bias(y, bias, N, O);
    } else if (b->stored[r]) {
        fwd_linear(y, x, block_f32_as_floats(b, r), bias, N, In, O, accumulate);
    } else {
        fwd_linear(y, x, b->w[r], bias, N, In, O, accumulate);
    }
}

void fwd_block_linears(int n, float *const *y, const arch_layer_role *r, const float *const *bias,
                       const int *O, const float *x, const block_f32 *b, int N, int In) {
    enum { MAX_SHARED = 4 };
    const packed_linear *pk[MAX_SHARED];
    int packed = n <= MAX_SHARED;
    for (int j = 0; j < n && packed; j++) packed = (pk[j] = b->pk[r[j]]) != NULL;
    if (!packed) {   // fp32 (or a mix): one GEMM each
        for (int j = 0; j < n; j++) fwd_block_linear(y[j], x, b, r[j], bias[j], N, In, O[j], 0);
        return;
    }
    packed_linear_apply_shared(y, x, pk, n, N, 0, b->pk_scratch);
    for (int j = 0; j < n; j++)
        if (bias[j]) fwd_add_bias(y[j], bias[j], N, O[j]);
}

// y (T, ldy)[:, 0:O] = x (T, In) @ W^T (O, In): the same product as fwd_linear's, into a
// column slice of a wider output.
void fwd_linear_cols(float *y, int ldy, const float *x, const float *W, int T, int In, int O) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, O, In, 1.0f, x, In, W, In, 0.0f,
                y, ldy);
}

// y (T, O) += b (O) per row.
void fwd_add_bias(float *y, const float *b, int T, int O) {
#pragma omp parallel for schedule(static) if (T > 1)
    for (int t = 0; t < T; t++) add_row(y + (size_t)t * O, b, O);
}

// Rotary position embedding on x (N, n_heads * D), in place; row r is position pos0 + r % T.
// ROPE_HALF pairs (i, i + D/2) as HF's rotate_half; ROPE_INTERLEAVED pairs (2i, 2i+1).
void fwd_rope(float *x, const fwd_state *s, int N, int T, int pos0, int n_heads, int D,
              arch_rope kind) {
    int D2 = D / 2;
#pragma omp parallel for schedule(static) if (N > 1)
    for (int t = 0; t < N; t++) {
        size_t p = (size_t)(pos0 + t % T);
        const float *cs = s->rope_cos + p * D2, *sn = s->rope_sin + p * D2;
        for (int h = 0; h < n_heads; h++) {
            float *v = x + ((size_t)t * n_heads + h) * D;
            for (int i = 0; i < D2; i++) {
                int a = kind == ROPE_HALF ? i : 2 * i, b = kind == ROPE_HALF ? i + D2 : 2 * i + 1;
                float x1 = v[a], x2 = v[b];
                v[a] = x1 * cs[i] - x2 * sn[i];
                v[b] = x2 * cs[i] + x1 * sn[i];
            }
        }
    }
}

// ----------------------------------------------------------------------------
// attention

// att (T, H*D) = causal softmax(q k^T / sqrt(D)) v for each of B windows and each head;
// kv head g = h / (H/G). One (window, head) pair per task. Only the rows from first_row on (a
// multiple of ATT_ROWS) of each window: their row blocks are the ones a full pass has. Full row
// blocks take attend_block.h's kernels where they give OpenBLAS's bits (keys and values packed
// once per window and kv head a thread meets), else cblas_sgemm. The tasks go out a kv head's
// group of heads at a time where there are enough groups to share (so a thread packs each
// kv head once), else one head at a time.
static void attention(fwd_state *s, const model_config *c, int T, int B, int first_row) {
    int H = c->n_heads, G = c->n_kv_heads, D = c->head_dim, group = H / G;
    float scale = 1.0f / sqrtf((float)D);
    int nbuf = s->nthreads;
    // kpack is there only where the kernels run (fwd_state_new); asked again for
    // AH_ATTEND_BLOCK=0, which a test sets between calls
    int blocks = s->kpack && attend_block_usable(D, nbuf);
    size_t kp_floats = attend_block_kp_floats(T, D), pack_floats = kp_floats + (size_t)T * D;
    int chunk = B * G >= 2 * nbuf ? group : 1;
#pragma omp parallel num_threads(nbuf)
    {
        int thread = omp_get_thread_num(), packed = -1;   // packed: the (window, kv head) in kp
        float rowmax[ATT_ROWS];   // each row's max score, from attend_block_scores
        // (ATT_ROWS, T) per thread: one row block's scores at a time
        float *S = s->scores + (size_t)thread * (T < ATT_ROWS ? T : ATT_ROWS) * T;
        // this thread's keys in panels, then its values in rows of D (attend_block.h)
        float *kp = blocks ? s->kpack + (size_t)thread * pack_floats : NULL, *vp = kp ? kp + kp_floats : NULL;
#pragma omp for schedule(dynamic, chunk)
        for (int task = 0; task < B * H; task++) {
            int bw = task / H, h = task % H;
            size_t row0 = (size_t)bw * T;   // first row of this window
            const float *qh = s->q + row0 * H * D + (size_t)h * D;
            const float *kh = s->k + row0 * G * D + (size_t)(h / group) * D;
            const float *vh = s->v + row0 * G * D + (size_t)(h / group) * D;
            float *att = s->att + row0 * H * D + (size_t)h * D;
            // Causal attention in row blocks of ATT_ROWS: block [i0, i1) needs keys 0 .. i1-1
            // only, so the products skip the masked upper triangle (about half the work at long T).
            for (int i0 = first_row; i0 < T; i0 += ATT_ROWS) {
                int i1 = i0 + ATT_ROWS < T ? i0 + ATT_ROWS : T, nr = i1 - i0;
                if (kp && nr == ATT_ROWS) {
                    if (packed != bw * G + h / group) {   // this kv head's keys and values
                        attend_block_pack_keys(kp, kh, (size_t)G * D, T, D);
                        attend_block_pack_values(vp, vh, (size_t)G * D, T, D);
                        packed = bw * G + h / group;
                    }
                    attend_block_scores(S, rowmax, qh + (size_t)i0 * H * D, (size_t)H * D, kp, i0, D, scale);
                    softmax_causal_block(S, nr, i1, i0, rowmax);
                    attend_block_values(att + (size_t)i0 * H * D, (size_t)H * D, S, vp, (size_t)D, i0, D);
                    continue;
                }
                // S (nr, i1) = scale * q_h[i0:i1] (nr, D) @ k_h[0:i1]^T (D, i1); row stride i1
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nr, i1, D, scale,
                            qh + (size_t)i0 * H * D, H * D, kh, G * D, 0.0f, S, i1);
                softmax_causal_block(S, nr, i1, i0, NULL);   // softmax over j <= i; zero j in (i, i1)
                // att_h[i0:i1] (nr, D) = S (nr, i1) @ v_h[0:i1] (i1, D)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nr, D, i1, 1.0f, S, i1, vh,
                            G * D, 0.0f, att + (size_t)i0 * H * D, H * D);
            }
        }
    }
}

// ----------------------------------------------------------------------------
// block

static void capture(fwd_state *s, fwd_input which, const float *x, int T, int In) {
    if (s->capture) s->capture(s->capture_ctx, which, x, T, In);
}

static void attention_tail_rows(float *out, int accumulate, fwd_state *s, const block_f32 *b,
                                const model_config *c, int T, int B, int r0);

// The rows [r0, T) of each of B windows as segments of consecutive rows: one of all N = T*B
// rows when r0 is 0 (one GEMM for the batch), else one per window, segment g starting at row
// g*T + r0. Returns the count; *rows = each one's length.
static int row_segments(int T, int B, int r0, int *rows) {
    *rows = r0 ? T - r0 : T * B;
    return r0 ? B : 1;
}

// fwd_attention for the rows from r0 on (fwd_block_rows): the keys and values of every row,
// the rest only of those rows. r0 > 0 only without packed linears or a capture hook.
static void attention_rows(float *out, int accumulate, const float *in, fwd_state *s,
                           const block_f32 *b, const model_config *c, int T, int B, int r0) {
    int C = c->dim, Q = c->n_heads * c->head_dim, KV = c->n_kv_heads * c->head_dim, N = T * B;
    float *const *w = b->w;
    capture(s, FWD_IN_QKV, in, N, C);
    float *const y[3] = {s->q, s->k, s->v};
    const arch_layer_role r[3] = {L_Q, L_K, L_V};
    const float *const bias[3] = {w[L_Q_B], w[L_K_B], w[L_V_B]};
    const int O[3] = {Q, KV, KV};
    if (r0 == 0) {   // q, k, v together (the packed GEMV path prepares `in` once for all three)
        fwd_block_linears(3, y, r, bias, O, in, b, N, C);
    } else {         // k, v of every row, q of the segments
        fwd_block_linears(2, y + 1, r + 1, bias + 1, O + 1, in, b, N, C);
        int rows, nseg = row_segments(T, B, r0, &rows);
        for (int g = 0; g < nseg; g++) {
            size_t row = (size_t)g * T + (size_t)r0;
            fwd_block_linear(s->q + row * Q, in + row * C, b, L_Q, w[L_Q_B], rows, C, Q, 0);
        }
    }
    attention_tail_rows(out, accumulate, s, b, c, T, B, r0);
}

void fwd_attention(float *out, int accumulate, const float *in, fwd_state *s,
                   const block_f32 *b, const model_config *c, int T, int B) {
    attention_rows(out, accumulate, in, s, b, c, T, B, 0);
}

// fwd_attention_tail for the rows from r0 on: rope of every key and of those queries, their
// attention, o_proj of those rows into out.
static void attention_tail_rows(float *out, int accumulate, fwd_state *s, const block_f32 *b,
                                const model_config *c, int T, int B, int r0) {
    int C = c->dim, H = c->n_heads, D = c->head_dim, Q = H * D, N = T * B;
    float *const *w = b->w;
    int rows, nseg = row_segments(T, B, r0, &rows);
    if (c->arch->rope != ROPE_NONE) {
        for (int g = 0; g < nseg; g++)   // row r of a segment is at position r0 + r % T
            fwd_rope(s->q + ((size_t)g * T + (size_t)r0) * Q, s, rows, T, r0, H, D, c->arch->rope);
        fwd_rope(s->k, s, N, T, 0, c->n_kv_heads, D, c->arch->rope);
    }
    attention(s, c, T, B, r0);
    capture(s, FWD_IN_O, s->att, N, Q);
    for (int g = 0; g < nseg; g++) {
        size_t row = (size_t)g * T + (size_t)r0;
        fwd_block_linear(out + row * C, s->att + row * Q, b, L_O, w[L_O_B], rows, Q, C, accumulate);
    }
}

void fwd_attention_tail(float *out, int accumulate, fwd_state *s, const block_f32 *b,
                        const model_config *c, int T, int B) {
    attention_tail_rows(out, accumulate, s, b, c, T, B, 0);
}

void fwd_mlp(float *out, int accumulate, const float *in, fwd_state *s, const block_f32 *b,
             const model_config *c, int T, int B) {
    int C = c->dim, F = c->hidden_dim, N = T * B;
    capture(s, FWD_IN_GATE_UP, in, N, C);
    // The up / gate GEMMs leave their biases to the activation pass (one pass over (N, F)
    // instead of three).
    float *const y[2] = {s->h2, s->h1};
    const arch_layer_role r[2] = {L_UP, L_GATE};
    const float *const bias[2] = {NULL, NULL};
    const int O[2] = {F, F};
    fwd_block_linears(c->arch->mlp == MLP_SWIGLU ? 2 : 1, y, r, bias, O, in, b, N, C);
    fwd_mlp_tail(out, accumulate, s, b, c, T, B);
}

void fwd_mlp_tail(float *out, int accumulate, fwd_state *s, const block_f32 *b,
                  const model_config *c, int T, int B) {
    int C = c->dim, F = c->hidden_dim, N = T * B;
    float *const *w = b->w;
    const float *bu = w[L_UP_B];
    // one row (a decoded token) on the calling thread, as the elementwise layers above
    if (c->arch->mlp == MLP_SWIGLU) {
        const float *bg = w[L_GATE_B];
#pragma omp parallel for schedule(static) if (N > 1)
        for (int t = 0; t < N; t++)   // silu(gate) * up
            swiglu_bias_row(s->h2 + (size_t)t * F, s->h1 + (size_t)t * F, bg, bu, F);
    } else if (c->arch->mlp == MLP_RELU) {
#pragma omp parallel for schedule(static) if (N > 1)
        for (int t = 0; t < N; t++) relu_row(s->h2 + (size_t)t * F, bu, F);
    } else {   // GELU, tanh approximation (GPT-2's gelu_new)
#pragma omp parallel for schedule(static) if (N > 1)
        for (int t = 0; t < N; t++) {
            float *h = s->h2 + (size_t)t * F;
            for (int i = 0; i < F; i++) {
                float u = h[i] + (bu ? bu[i] : 0.0f);
                h[i] = 0.5f * u * (1.0f + tanhf(0.7978845608f * (u + 0.044715f * u * u * u)));
            }
        }
    }
    capture(s, FWD_IN_DOWN, s->h2, N, F);
    fwd_block_linear(out, s->h2, b, L_DOWN, w[L_DOWN_B], N, F, C, accumulate);
}

// 1 when some linear of b is computed from packed codes.
static int block_has_packed(const block_f32 *b) {
    for (int r = 0; r < L_COUNT; r++)
        if (b->pk[r]) return 1;
    return 0;
}

void fwd_block_rows(float *x, fwd_state *s, const block_f32 *b, const model_config *c, int T,
                    int B, int first) {
    int C = c->dim, N = T * B, r0 = first > 0 ? first / ATT_ROWS * ATT_ROWS : 0;
    // Every row where fewer than ATT_ROWS rows would remain (a GEMM of so few rows may take
    // another OpenBLAS path than the full block's: gemv for one row, a small-matrix kernel),
    // where OpenBLAS's kernel sums a row by its place in the GEMM (Haswell, Zen: a segment's
    // rows would come out in other bits than the batch's), for the packed path's shared GEMV,
    // the post-norm order, and a capture hook (which wants every row).
    if (T - r0 < ATT_ROWS || !c->norm_before || s->capture || block_has_packed(b) ||
        !ah_blas_rows_independent())
        r0 = 0;
    float *const *w = b->w;
    if (!c->norm_before) {   // post-norm: x = norm(x + o(attn(x))), then x = norm(x + mlp(x))
        memcpy(s->xn, x, (size_t)N * C * sizeof(float));
        fwd_attention(s->xn, 1, x, s, b, c, T, B);
        fwd_norm(x, s->xn, w[L_ATTN_NORM], w[L_ATTN_NORM_B], c, N);
        memcpy(s->xn, x, (size_t)N * C * sizeof(float));
        fwd_mlp(s->xn, 1, x, s, b, c, T, B);
        fwd_norm(x, s->xn, w[L_MLP_NORM], w[L_MLP_NORM_B], c, N);
        return;
    }
    // pre-norm: x = x + o(attn(norm(x))) (the residual added through beta = 1), then
    // x = x + down(act(gate(n)) * up(n)) or x + fc2(relu(fc1(n))), n = norm(x); every row's
    // norm feeds the keys and values, the rest runs on the rows from r0 on
    fwd_norm(s->xn, x, w[L_ATTN_NORM], w[L_ATTN_NORM_B], c, N);
    attention_rows(x, 1, s->xn, s, b, c, T, B, r0);
    int rows, nseg = row_segments(T, B, r0, &rows);
    for (int g = 0; g < nseg; g++) {
        size_t row = (size_t)g * T + (size_t)r0;
        float *xr = x + row * C, *xn = s->xn + row * C;
        fwd_norm(xn, xr, w[L_MLP_NORM], w[L_MLP_NORM_B], c, rows);
        fwd_mlp(xr, 1, xn, s, b, c, rows, 1);
    }
}

void fwd_block(float *x, fwd_state *s, const block_f32 *b, const model_config *c, int T, int B) {
    fwd_block_rows(x, s, b, c, T, B, 0);
}

// ----------------------------------------------------------------------------
// embedding and head

void fwd_embed(float *x, const model *m, const int32_t *tokens, int T) {
    const model_config *c = &m->cfg;
    int C = c->dim;
    const model_weight *pos = &m->global[G_POS_EMBED];
#pragma omp parallel for schedule(static)
    for (int t = 0; t < T; t++) {
        float *xt = x + (size_t)t * C;
        model_embed_row(xt, &m->global[G_EMBED], tokens[t], C);
        if (pos->data) {
            float row[C];
            model_embed_row(row, pos, t + c->arch->pos_offset, C);
            for (int i = 0; i < C; i++) xt[i] += row[i];
        }
    }
}

void fwd_embed_release(const model *m) {
    model_release(m, &m->global[G_EMBED], 0, (size_t)m->cfg.vocab_size);
    model_release(m, &m->global[G_POS_EMBED], 0, (size_t)m->global[G_POS_EMBED].shape[0]);
}

// Final norm of x (T, C) into x itself (through s->xn as scratch).
static void final_norm(float *x, fwd_state *s, const model_config *c, const float *norm_w,
                       const float *norm_b, int T) {
    fwd_norm(s->xn, x, norm_w, norm_b, c, T);
    memcpy(x, s->xn, (size_t)T * c->dim * sizeof(float));
}

void fwd_final_norm(float *x, fwd_state *s, const model_config *c, const float *norm_w,
                    const float *norm_b, int T) {
    final_norm(x, s, c, norm_w, norm_b, T);
}

void fwd_logits(float *out, float *x, fwd_state *s, const model_config *c, const float *head,
                const float *norm_w, const float *norm_b, int T, int rows) {
    final_norm(x, s, c, norm_w, norm_b, T);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, c->vocab_size, c->dim, 1.0f, x,
                c->dim, head, c->dim, 0.0f, out, c->vocab_size);
}
