// awq.c — scale rules, the alpha search with per-module losses, and the block driver.
//
// Symbols as in the paper / docs/AWQ.md: x_mean (mean |x| per input channel), x_max,
// w_mean (duo rule), s (scales), alpha. Dims: K*L = rows of the loss inputs (K sequences of
// L tokens), I = group input width, O = output width of the inspected module.
#include "awq/awq.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "awq/fold.h"
#include "core/blas.h"
#include "core/mem.h"
#include "core/names.h"
#include "core/progress.h"
#include "model/forward.h"

static const char *RULE_NAMES[] = {[AWQ_SEARCH] = "search", [AWQ_DUO] = "duo",
                                   [AWQ_FIXED] = "fixed", [AWQ_SALIENT] = "salient"};

const char *awq_rule_name(awq_rule r) { return r <= AWQ_SALIENT ? RULE_NAMES[r] : "?"; }

int awq_rule_parse(const char *s, awq_rule *r) {
    int i = ah_word_index(RULE_NAMES, AWQ_SALIENT + 1, s);
    if (i < 0) return -1;
    *r = (awq_rule)i;
    return 0;
}

void awq_defaults(awq_cfg *a) {
    memset(a, 0, sizeof *a);
    a->rule = AWQ_SEARCH;
    a->grid_points = 20;
    a->alpha_mode = AWQ_ALPHA_SEARCH;
    a->clip = 1;
    a->salient_scale = 2.0;
    a->scale_pct = 1.0;
}

int awq_cfg_check(const awq_cfg *a, ah_err *e) {
    if (a->grid_points < 1 || a->grid_points + a->grid_include_one > AWQ_MAX_GRID)
        return ah_fail(e, "AWQ grid of %d points outside 1..%d", a->grid_points, AWQ_MAX_GRID - 1);
    if (a->rule == AWQ_FIXED && a->alpha_mode == AWQ_ALPHA_SEARCH)
        return ah_fail(e, "scale rule fixed needs an alpha (--alpha)");
    if (a->alpha_mode == AWQ_ALPHA_FIXED && !(a->alpha >= 0.0 && a->alpha <= 1.0))
        return ah_fail(e, "alpha %g outside [0, 1]", a->alpha);
    if (a->samples < 0) return ah_fail(e, "AWQ samples %d must be >= 0", a->samples);
    if (a->rule == AWQ_SALIENT && !(a->salient_scale > 0 && a->salient_scale < 1e6))
        return ah_fail(e, "salient scale %g must be positive", a->salient_scale);
    if (a->rule == AWQ_SALIENT && !(a->scale_pct >= 0 && a->scale_pct <= 100))
        return ah_fail(e, "scaled channel percentage %g outside [0, 100]", a->scale_pct);
    return 0;
}

void awq_result_free(awq_block_result *r) {
    for (int g = 0; g < ARCH_MAX_GROUPS; g++) {
        free(r->group[g].scales);
        free(r->group[g].x_mean);
        free(r->group[g].x_max);
        free(r->group[g].x_p99);
    }
    for (int k = 0; k < L_COUNT; k++) free(r->clip[k]);
    memset(r, 0, sizeof *r);
}

// ----------------------------------------------------------------------------
// scale rules

// s /= sqrt(max(s) * min(s)) after clamping at 1e-4 (the reference's normalisation), in
// float64; the caller rounds once to fp32 (as tools/ref_awq.py does).
static void normalise(double *s, int n) {
    double mx = 0.0, mn = INFINITY;
    for (int j = 0; j < n; j++) {
        if (!(s[j] >= 1e-4)) s[j] = 1e-4;   // also catches NaN
        mx = s[j] > mx ? s[j] : mx;
        mn = s[j] < mn ? s[j] : mn;
    }
    double d = sqrt(mx * mn);
    for (int j = 0; j < n; j++) s[j] /= d;
}

// w_mean[j]: mean over every row of every linear of |W[i,j]| / max |W[i, quant group of j]|.
static void weight_mean(float *w_mean, const block_f32 *b, const model_config *c,
                        const arch_scale_group *g, int group_size) {
    int I = awq_group_width(c, g);
    double *acc = calloc((size_t)I, sizeof *acc);
    long rows_total = 0;
    int gs = group_size > 0 ? group_size : I;
    for (int k = 0; k < g->n_linears; k++) {
        const float *W = b->w[g->linears[k]];
        size_t rows = b->numel[g->linears[k]] / (size_t)I;
        for (size_t i = 0; i < rows; i++)
            for (int j0 = 0; j0 < I; j0 += gs) {
                int j1 = j0 + gs < I ? j0 + gs : I;
                float m = 0.0f;
                for (int j = j0; j < j1; j++) m = fabsf(W[i * I + j]) > m ? fabsf(W[i * I + j]) : m;
                if (m > 0)
                    for (int j = j0; j < j1; j++) acc[j] += fabsf(W[i * I + j]) / m;
            }
        rows_total += (long)rows;
    }
    for (int j = 0; j < I; j++) w_mean[j] = (float)(acc[j] / (double)rows_total);
    free(acc);
}

// Scales for one alpha under the rule, computed in float64 and rounded once to fp32.
// tmp: [I] scratch.
static void rule_scales(float *s, double *tmp, const awq_cfg *a, double alpha,
                        const float *x_mean, const float *x_max, const float *w_mean,
                        const float *w_colmax, int I) {
    for (int j = 0; j < I; j++) {
        switch (a->rule) {
        case AWQ_SEARCH: tmp[j] = pow(x_mean[j], alpha); break;
        case AWQ_DUO: tmp[j] = pow(x_mean[j], alpha) / (pow(w_mean[j], 1.0 - alpha) + 1e-4); break;
        case AWQ_FIXED:   // an all-zero weight column: the clamp value (the channel is unused)
            tmp[j] = w_colmax[j] > 0 ? pow(x_max[j], alpha) / w_colmax[j] : 1e-4;
            break;
        case AWQ_SALIENT: tmp[j] = 1.0; break;   // handled before any grid (search_group)
        }
    }
    normalise(tmp, I);
    for (int j = 0; j < I; j++) s[j] = (float)tmp[j];
}

// ----------------------------------------------------------------------------
// candidate weights, whole or in row chunks
//
// A candidate W' = Q(W * s) / s of every linear of a big group (gate + up of Llama-2-7B:
// 2 F C fp32 = 344 MiB) would sit beside the block. Quant groups run along a row, so rows
// are independent: when the group's candidates exceed ah_chunk_bytes() (4 MiB), the search
// builds one chunk of at most that many bytes of a linear's rows at a time (ah_chunk_rows) and
// multiplies it into the matching output columns of the module's projection buffers
// (s->q / k / v, s->h1 / h2, or the linear's output), then runs the rest of the module
// (fwd_attention_tail, fwd_mlp_tail) on them (module_out). Each output value is the same dot product over
// the same input width as with the whole candidate (OpenBLAS blocks the sum over the input
// width independently of the output columns); groups that fit (every group of the test
// models, unless AH_TEST_CHUNK_BYTES says otherwise) take the whole-candidate calls unchanged.

// Wc (rows, I) = Q(W * s) / s for W (rows, I), s (I): the candidate of these rows.
static void candidate_rows(float *Wc, const float *W, size_t rows, int I, const float *s,
                           const quant_cfg *q) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < rows; i++)
        for (int j = 0; j < I; j++) Wc[i * I + j] = W[i * I + j] * s[j];
    quant_fake(Wc, rows, (size_t)I, q);
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < rows; i++)
        for (int j = 0; j < I; j++) Wc[i * I + j] /= s[j];
}

// Rows per chunk of a linear of `rows` rows of I inputs.
static size_t chunk_rows(size_t rows, int I) {
    return ah_chunk_rows(rows, (size_t)I * sizeof(float));
}

// ----------------------------------------------------------------------------
// the inspected module's output

typedef struct {
    const model *m;
    const arch_scale_group *g;
    fwd_state *s;
    const float *x;    // (K*L, I) the group's captured input
    int K, L, batch;
    int out_width;     // O
    // candidates built in row chunks (module_out with scales)
    const quant_cfg *q;
    float *chunk;          // (max chunk rows, I) one chunk of candidate rows
} module_ctx;

static int in_group(const arch_scale_group *g, arch_layer_role r) {
    for (int k = 0; k < g->n_linears; k++)
        if (g->linears[k] == r) return 1;
    return 0;
}

// dst (N, O) = x (N, I) @ W_r'^T (+ bias) for role r of b, W_r (O, I): with its candidate
// Q(W_r * s) / s built chunk by chunk when scales s are given and r is in the group, with W_r
// itself otherwise. bias may be NULL.
static void project(float *dst, const float *x, int N, arch_layer_role r, const float *bias,
                    const module_ctx *mc, const block_f32 *b, const float *scales, int I) {
    const float *W = b->w[r];
    size_t rows = b->numel[r] / (size_t)I;
    if (!scales || !in_group(mc->g, r)) {
        fwd_linear(dst, x, W, bias, N, I, (int)rows, 0);
        return;
    }
    size_t cr = chunk_rows(rows, I);
    for (size_t r0 = 0; r0 < rows; r0 += cr) {
        size_t n = rows - r0 < cr ? rows - r0 : cr;
        candidate_rows(mc->chunk, W + r0 * I, n, I, scales, mc->q);
        fwd_linear_cols(dst + r0, (int)rows, x, mc->chunk, N, I, (int)n);   // columns r0..r0+n
    }
    if (bias) fwd_add_bias(dst, bias, N, (int)rows);
}

// y (K*L, O) = the output of the module group g feeds (fwd_attention / fwd_mlp / the linear,
// as the forward pass computes them), with the weights of b, or, given scales, with the
// group's candidates for them built in row chunks per batch (the projection buffers hold one
// batch; rebuilding costs about O·I per batch against the GEMMs' 2·N·I·O flops). The search
// sets no capture hook, so the projections' input is offered to none.
static void module_out(float *y, const module_ctx *mc, const block_f32 *b, const float *scales) {
    const model_config *c = &mc->m->cfg;
    int I = awq_group_width(c, mc->g), L = mc->L;
    fwd_state *s = mc->s;
    for (int i = 0; i < mc->K; i += mc->batch) {
        int nb = mc->K - i < mc->batch ? mc->K - i : mc->batch, N = nb * L;
        const float *x = mc->x + (size_t)i * L * I;
        float *out = y + (size_t)i * L * mc->out_width;
        switch (mc->g->loss) {
        case LOSS_ATTENTION:
            project(s->q, x, N, L_Q, b->w[L_Q_B], mc, b, scales, I);
            project(s->k, x, N, L_K, b->w[L_K_B], mc, b, scales, I);
            project(s->v, x, N, L_V, b->w[L_V_B], mc, b, scales, I);
            fwd_attention_tail(out, 0, s, b, c, L, nb);
            break;
        case LOSS_MLP:   // up / gate biases: added by the activation pass, as in fwd_mlp
            project(s->h2, x, N, L_UP, NULL, mc, b, scales, I);
            if (c->arch->mlp == MLP_SWIGLU) project(s->h1, x, N, L_GATE, NULL, mc, b, scales, I);
            fwd_mlp_tail(out, 0, s, b, c, L, nb);
            break;
        case LOSS_LINEAR: {
            arch_layer_role r = mc->g->linears[0];   // its bias is the next role (L_O -> L_O_B)
            project(out, x, N, r, b->w[r + 1], mc, b, scales, I);
            break;
        }
        }
    }
}

// y_fp (K*L, O), the FP output of the module, from what calib_block already computed. The
// attention's and the MLP's output is their last linear (o_proj, down) applied to that linear's
// input, and calib_block kept that input verbatim (the sample rows of FWD_IN_O / FWD_IN_DOWN)
// while it ran the FP block over the same captured rows. So one GEMM per batch replaces the
// q/k/v projections and the attention (gate/up and the activation) of the FP pass, one of the
// n_alpha + 1 module passes: 2.5-3.3% of the pass's flops on the tinyprose, SmolLM2-135M and
// TinyLlama-1.1B shapes (bench/README.md, "AWQ pass"). The same call (fwd_linear) on the same
// rows per call as module_out's last step, so the same bits; only when each batch of the K
// loss sequences is a batch the calibration forward ran (K = N, or whole batches): a GEMM over
// other rows may sum in another order (OpenBLAS's small-matrix kernels), and the kept input
// rows would come from such a GEMM. -1: not applicable (the caller runs module_out).
// AH_TEST_AWQ_FP_FORWARD in the environment turns it off (tests/cli/test_awq_fp_capture.sh).
static int module_out_captured(float *y, const module_ctx *mc, const block_f32 *b,
                               const calib_run *run) {
    if (getenv("AH_TEST_AWQ_FP_FORWARD")) return -1;
    arch_layer_role r;
    fwd_input src;
    switch (mc->g->loss) {
    case LOSS_ATTENTION: r = L_O; src = FWD_IN_O; break;
    case LOSS_MLP: r = L_DOWN; src = FWD_IN_DOWN; break;
    default: return -1;   // the linear alone: module_out is already one GEMM
    }
    const calib_input *t = &run->in[src];
    int K = mc->K, L = mc->L, B = mc->batch, In = t->width, O = mc->out_width;
    if (b->pk[r] || t->sample_rows < K * L || !(K == run->cs->n || K % B == 0)) return -1;
    for (int i = 0; i < K; i += B) {
        int nb = K - i < B ? K - i : B;
        fwd_linear(y + (size_t)i * L * O, t->sample + (size_t)i * L * In, b->w[r], b->w[r + 1],
                   nb * L, In, O, 0);
    }
    return 0;
}

static double mse(const float *a, const float *b, size_t n) {
    double s = 0.0;
#pragma omp parallel for reduction(+ : s) schedule(static)
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        s += d * d;
    }
    return s / (double)n;
}

// ----------------------------------------------------------------------------
// linear losses through the Gram matrix
//
// For a group whose loss is one linear's output, y_fp - y' = x (W - W')^T (the bias cancels),
// so the loss mean((y_fp - y')^2) over the (n, O) outputs equals
//   sum_o dW_o G dW_o^T / (n O) = ||dW L||_F^2 / (n O),
//   dW = W - W' (O, I),   G = x^T x = L L^T (I, I),
// all in float64: one (n, I, I) product for G and its Cholesky factor, then a triangular
// (O, I, I) product per alpha instead of the (n, I, O) GEMM per alpha. Worth it when n (K*L loss
// rows) is large against I: OPT-125m's fc1 / o at K*L = 2048 rows, every linear group at the
// paper's 128 x 512. The value is the same sum as the direct path; only the fp32 rounding of
// y_fp and y' (relative 1e-7 of |y|, about 1e-5 of a loss) is gone. A G that is not positive
// definite (fewer rows than channels, a dead channel) keeps the symmetric product
// dW G dW^T (twice the flops).

#define GRAM_MAX_BYTES ((size_t)256 << 20)   // G (I, I) float64: I up to 5792
#define GRAM_CHUNK 1024                      // rows of x widened to float64 at a time

// Direct: n_alpha fp32 GEMMs of 2 n I O flops. Gram: n I^2 once plus O I^2 per alpha, in
// float64 (counted twice: half the fp32 GEMM rate).
static int gram_cheaper(size_t n, int I, int O, int n_alpha) {
    if ((size_t)I * I * sizeof(double) > GRAM_MAX_BYTES) return 0;
    double direct = (double)n_alpha * 2.0 * (double)n * I * O;
    double gram = 2.0 * ((double)n * I * I + (double)n_alpha * O * (double)I * I);
    return gram < direct;
}

// G (I, I) upper triangle = x^T x for x (n, I), in float64.
static int gram_build(double *G, const float *x, size_t n, int I) {
    memset(G, 0, (size_t)I * I * sizeof(double));
    for (size_t r = 0; r < n; r += GRAM_CHUNK) {
        int rows = n - r < GRAM_CHUNK ? (int)(n - r) : GRAM_CHUNK;
        if (calib_hess_accumulate(G, x + r * (size_t)I, rows, I)) return -1;
    }
    return 0;
}

// The loss for dW = W - Wc (O, I). chol: G holds L (lower) and M is unused; else G holds x^T x
// (upper) and M (O, I) is scratch. dW (O, I) float64 scratch.
static double gram_loss(const double *G, int chol, const float *W, const float *Wc, double *dW,
                        double *M, int O, int I, size_t n) {
    size_t m = (size_t)O * I;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < m; i++) dW[i] = (double)W[i] - (double)Wc[i];
    double s = 0.0;
    if (chol) {
        // dW (O, I) <- dW @ L (I, I), in place
        cblas_dtrmm(CblasRowMajor, CblasRight, CblasLower, CblasNoTrans, CblasNonUnit, O, I, 1.0,
                    G, I, dW, I);
#pragma omp parallel for reduction(+ : s) schedule(static)
        for (size_t i = 0; i < m; i++) s += dW[i] * dW[i];
    } else {
        // M (O, I) = dW (O, I) @ G (I, I), G symmetric (upper triangle stored)
        cblas_dsymm(CblasRowMajor, CblasRight, CblasUpper, O, I, 1.0, G, I, dW, I, 0.0, M, I);
#pragma omp parallel for reduction(+ : s) schedule(static)
        for (size_t i = 0; i < m; i++) s += M[i] * dW[i];
    }
    return s / ((double)n * O);
}

// ----------------------------------------------------------------------------
// one group: search alpha, return the chosen scales

static int search_group(awq_group_result *gr, const awq_cfg *a, const quant_cfg *q,
                        const block_f32 *b, const model *m, const arch_scale_group *g,
                        const calib_run *run, ah_err *e) {
    const model_config *c = &m->cfg;
    const calib_input *in = &run->in[g->input];
    int L = run->cs->len;
    int I = awq_group_width(c, g), rc = -1;
    int K = a->samples > 0 ? a->samples : in->sample_rows / L;
    if (K * L > in->sample_rows) K = in->sample_rows / L;
    float *x_mean = malloc((size_t)I * sizeof(float)), *w_mean = malloc((size_t)I * sizeof(float)),
          *w_colmax = calloc((size_t)I, sizeof(float)), *s = malloc((size_t)I * sizeof(float));
    double *tmp = malloc((size_t)I * sizeof(double));
    gr->scales = malloc((size_t)I * sizeof(float));
    int O = g->loss == LOSS_LINEAR ? (int)(b->numel[g->linears[0]] / (size_t)I) : c->dim;
    size_t ny = (size_t)K * L * O;
    float *y_fp = NULL, *y = NULL, *cand[3] = {0};
    double *G = NULL, *dW = NULL, *M = NULL;   // the Gram path's float64 buffers
    block_f32 view = *b;   // shallow copy: the group's linears point at candidates
    gr->x_mean = malloc((size_t)I * sizeof(float));
    gr->x_max = malloc((size_t)I * sizeof(float));
    gr->x_p99 = malloc((size_t)I * sizeof(float));
    if (!x_mean || !w_mean || !w_colmax || !s || !tmp || !gr->scales || !gr->x_mean ||
        !gr->x_max || !gr->x_p99)
        goto oom;
    calib_input_mean_abs(in, x_mean);
    memcpy(gr->x_mean, x_mean, (size_t)I * sizeof(float));
    memcpy(gr->x_max, in->abs_max, (size_t)I * sizeof(float));
    memcpy(gr->x_p99, in->abs_p99, (size_t)I * sizeof(float));
    for (int j = 0; j < I; j++)
        if (!isfinite(x_mean[j])) {
            ah_fail(e, "AWQ: non-finite activation statistic in group %s", g->name);
            goto done;
        }
    // The weight statistics, for the rules that use them (serial passes over every weight of
    // the group).
    if (a->rule == AWQ_DUO) weight_mean(w_mean, b, c, g, q->group);
    for (int k = 0; a->rule == AWQ_FIXED && k < g->n_linears; k++) {
        const float *W = b->w[g->linears[k]];
        size_t rows = b->numel[g->linears[k]] / (size_t)I;
        for (size_t i = 0; i < rows; i++)
            for (int j = 0; j < I; j++)
                w_colmax[j] = fabsf(W[i * I + j]) > w_colmax[j] ? fabsf(W[i * I + j]) : w_colmax[j];
    }

    gr->width = I;
    if (a->rule == AWQ_SALIENT) {   // top scale_pct % channels by mean |x| get salient_scale
        int k = (int)floor(a->scale_pct / 100.0 * I + 0.5);
        if (k < 1 && a->scale_pct > 0) k = 1;
        for (int j = 0; j < I; j++) gr->scales[j] = 1.0f;
        for (int n = 0; n < k; n++) {   // k passes of a max search: k is small (1% of I)
            int best_j = -1;
            for (int j = 0; j < I; j++)
                if (gr->scales[j] == 1.0f && (best_j < 0 || x_mean[j] > x_mean[best_j])) best_j = j;
            if (best_j < 0) break;
            gr->scales[best_j] = (float)a->salient_scale;
        }
        gr->n_alpha = 1;
        gr->alphas[0] = gr->alpha = 0.0f;
        gr->loss[0] = -1.0;
        rc = 0;
        goto done;
    }
    // The grid (a fixed alpha is a one-point grid).
    gr->n_alpha = 0;
    if (a->alpha_mode == AWQ_ALPHA_FIXED) {
        gr->alphas[gr->n_alpha++] = (float)a->alpha;
    } else {
        for (int i = 0; i < a->grid_points; i++) gr->alphas[gr->n_alpha++] = (float)i / a->grid_points;
        if (a->grid_include_one) gr->alphas[gr->n_alpha++] = 1.0f;
    }
    gr->width = I;
    if (gr->n_alpha == 1 || K == 0) {   // nothing to compare: take the (first) alpha as is
        gr->alpha = gr->alphas[0];
        gr->loss[0] = -1.0;
        rule_scales(gr->scales, tmp, a, gr->alpha, x_mean, in->abs_max, w_mean, w_colmax, I);
        rc = 0;
        goto done;
    }

    size_t n = (size_t)K * L;
    int gram = g->loss == LOSS_LINEAR && gram_cheaper(n, I, O, gr->n_alpha), chol = 0;
    if (gram) {
        if (!(G = ah_alloc((size_t)I * I, sizeof(double), "AWQ Gram matrix", e)) ||
            !(dW = ah_alloc((size_t)O * I, sizeof(double), "AWQ Gram scratch", e)))
            goto done;
        if (gram_build(G, in->sample, n, I)) goto oom;
        chol = awq_cholesky_lower(G, I) == 0;
        if (!chol) {   // not positive definite: rebuild G (the attempt overwrote it)
            if (!(M = ah_alloc((size_t)O * I, sizeof(double), "AWQ Gram scratch", e))) goto done;
            if (gram_build(G, in->sample, n, I)) goto oom;
        }
    } else if (!(y_fp = ah_alloc(ny, sizeof(float), "AWQ module output", e)) ||
               !(y = ah_alloc(ny, sizeof(float), "AWQ module output", e))) {
        goto done;
    }
    // Whole candidates when they fit in ah_chunk_bytes() (and for the Gram path, which takes
    // dW whole); else one chunk buffer (see module_out).
    size_t cand_n = 0, chunk_n = 0;
    for (int k = 0; k < g->n_linears; k++) {
        size_t rows = b->numel[g->linears[k]] / (size_t)I, cr = chunk_rows(rows, I);
        cand_n += rows * I;
        chunk_n = cr * I > chunk_n ? cr * I : chunk_n;
    }
    int chunked = !gram && cand_n * sizeof(float) > ah_chunk_bytes();
    if (chunked) {
        if (!(cand[0] = ah_alloc(chunk_n, sizeof(float), "AWQ candidate chunk", e))) goto done;
    } else {
        for (int k = 0; k < g->n_linears; k++)
            if (!(cand[k] = ah_alloc(b->numel[g->linears[k]], sizeof(float), "AWQ candidate", e)))
                goto done;
        for (int k = 0; k < g->n_linears; k++) view.w[g->linears[k]] = cand[k];
    }
    module_ctx mc = {.m = m, .g = g, .s = run->s, .x = in->sample, .K = K, .L = L,
                     .batch = run->batch, .out_width = O, .q = q, .chunk = cand[0]};
    if (!gram && module_out_captured(y_fp, &mc, b, run)) module_out(y_fp, &mc, b, NULL);

    double best = INFINITY;
    for (int ai = 0; ai < gr->n_alpha; ai++) {
        rule_scales(s, tmp, a, gr->alphas[ai], x_mean, in->abs_max, w_mean, w_colmax, I);
        if (chunked) {   // candidates built chunk by chunk inside
            module_out(y, &mc, b, s);
            gr->loss[ai] = mse(y_fp, y, ny);
        } else {
            // Candidate W' = Q(W * s) / s for every linear of the group.
            for (int k = 0; k < g->n_linears; k++)
                candidate_rows(cand[k], b->w[g->linears[k]], b->numel[g->linears[k]] / (size_t)I,
                               I, s, q);
            if (gram) {
                gr->loss[ai] = gram_loss(G, chol, b->w[g->linears[0]], cand[0], dW, M, O, I, n);
            } else {
                module_out(y, &mc, &view, NULL);
                gr->loss[ai] = mse(y_fp, y, ny);
            }
        }
        if (gr->loss[ai] < best) {   // strict: ties keep the smaller alpha
            best = gr->loss[ai];
            gr->alpha = gr->alphas[ai];
            memcpy(gr->scales, s, (size_t)I * sizeof(float));
        }
    }
    if (!isfinite(best)) {
        ah_fail(e, "AWQ: group %s: every candidate gave a non-finite loss", g->name);
        goto done;
    }
    rc = 0;
    goto done;
oom:
    ah_fail(e, "out of memory (AWQ search)");
done:
    free(x_mean); free(w_mean); free(w_colmax); free(s); free(tmp);
    ah_free(y_fp); ah_free(y);
    ah_free(G); ah_free(dW); ah_free(M);
    for (int k = 0; k < 3; k++) ah_free(cand[k]);
    return rc;
}

// ----------------------------------------------------------------------------
// block driver

int awq_block(const awq_cfg *a, const quant_cfg *q, block_f32 *b, const model *m, int layer,
              const calib_run *run, awq_block_result *res, ah_err *e) {
    const model_config *c = &m->cfg;
    const arch_desc *ad = c->arch;
    memset(res, 0, sizeof *res);
    double t0 = ah_now();
    if (ad->n_groups == 0)
        return ah_fail(e, "AWQ: architecture %s has no scaling groups", ad->model_type);
    // 1. Scales for every group, from the ORIGINAL block and captures (groups independent).
    for (int gi = 0; gi < ad->n_groups; gi++) {
        const arch_scale_group *g = &ad->groups[gi];
        if (!awq_group_applies(c, g)) continue;
        res->group[gi].applied = 1;
        if (search_group(&res->group[gi], a, q, b, m, g, run, e))
            return ah_wrap(e, "layer %d", layer);
    }
    // 2. Fold them all.
    for (int gi = 0; gi < ad->n_groups; gi++)
        if (res->group[gi].applied) awq_fold_group(b, c, &ad->groups[gi], res->group[gi].scales);
    if (!a->clip) {
        res->seconds = ah_now() - t0;
        return 0;
    }
    // 3. Clip every linear but q and k, with its scaled clip inputs x / s.
    for (int gi = 0; gi < ad->n_groups; gi++) {
        const arch_scale_group *g = &ad->groups[gi];
        const calib_input *in = &run->in[g->input];
        int I = awq_group_width(c, g), R = in->clip_rows;
        if (R == 0) continue;
        float *X = malloc((size_t)R * I * sizeof(float));
        if (!X) return ah_fail(e, "out of memory (AWQ clip)");
        const float *sc = res->group[gi].applied ? res->group[gi].scales : NULL;
        for (int r = 0; r < R; r++)
            for (int j = 0; j < I; j++)
                X[(size_t)r * I + j] = sc ? in->clip[(size_t)r * I + j] / sc[j] : in->clip[(size_t)r * I + j];
        for (int k = 0; k < g->n_linears; k++) {
            arch_layer_role role = g->linears[k];
            if (role == L_Q || role == L_K) continue;   // attention scores: AWQ leaves them
            int rows = (int)(b->numel[role] / (size_t)I);
            size_t G = quant_groups((size_t)I, q->group);
            res->clip[role] = malloc((size_t)rows * G * sizeof(float));
            res->clip_groups[role] = (int)G;
            if (!res->clip[role]) {
                free(X);
                return ah_fail(e, "out of memory (AWQ clip)");
            }
            awq_clip_linear(b->w[role], res->clip[role], rows, I, X, R, q);
        }
        free(X);
    }
    res->seconds = ah_now() - t0;
    return 0;
}

static float *copy_floats(const float *src, size_t n) {
    if (!src) return NULL;
    float *d = malloc(n * sizeof *d);
    if (d) memcpy(d, src, n * sizeof *d);
    return d;
}

int awq_block_apply(const awq_block_result *pre, const quant_cfg *q, block_f32 *b,
                    const model *m, awq_block_result *res, ah_err *e) {
    const model_config *c = &m->cfg;
    const arch_desc *ad = c->arch;
    memset(res, 0, sizeof *res);
    for (int gi = 0; gi < ad->n_groups; gi++) {
        const awq_group_result *src = &pre->group[gi];
        awq_group_result *g = &res->group[gi];
        int applies = awq_group_applies(c, &ad->groups[gi]);
        int width = awq_group_width(c, &ad->groups[gi]);
        if (src->applied != applies || (applies && (src->width != width || !src->scales)))
            return ah_fail(e, "stored AWQ result does not fit group %s (width %d)",
                           ad->groups[gi].name, width);
        *g = *src;
        g->scales = copy_floats(src->scales, (size_t)width);
        g->x_mean = copy_floats(src->x_mean, (size_t)width);
        g->x_max = copy_floats(src->x_max, (size_t)width);
        g->x_p99 = copy_floats(src->x_p99, (size_t)width);
        if (applies && !g->scales) return ah_fail(e, "out of memory");
        if (applies) awq_fold_group(b, c, &ad->groups[gi], g->scales);
    }
    for (int r = 0; r < L_COUNT; r++) {
        if (!pre->clip[r]) continue;
        int I = model_input_width(c, (fwd_input)arch_role_input((arch_layer_role)r));
        int rows = b->w[r] ? (int)(b->numel[r] / (size_t)I) : 0;
        size_t G = quant_groups((size_t)I, q->group);
        if (!rows || pre->clip_groups[r] != (int)G)
            return ah_fail(e, "stored AWQ clip thresholds of %s do not fit (%d groups, want %zu)",
                           arch_layer_role_name((arch_layer_role)r), pre->clip_groups[r], G);
        res->clip[r] = copy_floats(pre->clip[r], (size_t)rows * G);
        res->clip_groups[r] = (int)G;
        if (!res->clip[r]) return ah_fail(e, "out of memory");
        awq_clamp_linear(b->w[r], res->clip[r], rows, I, q->group);
    }
    return 0;
}
