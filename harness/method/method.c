#include "method/method.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/blas.h"
#include "core/half.h"
#include "core/mem.h"
#include "core/names.h"

static const char *SALIENT_NAMES[] = {
    [SALIENT_ACTIVATION] = "activation", [SALIENT_WEIGHT] = "weight", [SALIENT_RANDOM] = "random",
};

const char *salient_by_name(salient_by b) { return b <= SALIENT_RANDOM ? SALIENT_NAMES[b] : "?"; }

int salient_by_parse(const char *s, salient_by *b) {
    int i = ah_word_index(SALIENT_NAMES, SALIENT_RANDOM + 1, s);
    if (i < 0) return -1;
    *b = (salient_by)i;
    return 0;
}

int method_cfg_check(method_cfg *mc, ah_err *e) {
    const method_traits *t = method_traits_of(mc->kind);
    if (!t) return ah_fail(e, "unknown method %d", (int)mc->kind);
    if (!(t->params & MP_QUANT)) return 0;   // fp16
    mc->q.kind = t->quantizer;
    if ((t->params & MP_AWQ) && awq_cfg_check(&mc->awq, e)) return -1;
    if ((t->params & MP_GPTQ) && gptq_cfg_check(&mc->gptq, e)) return -1;
    if (!(t->params & MP_SALIENT) && mc->salient_pct != 0) {
        char names[256];
        return ah_fail(e, "salient percentage applies to %s, not %s",
                       method_names(names, sizeof names, MP_SALIENT), t->name);
    }
    if (quant_cfg_check(&mc->q, e)) return -1;
    if (!(mc->salient_pct >= 0.0 && mc->salient_pct <= 100.0))
        return ah_fail(e, "salient percentage %g outside [0, 100]", mc->salient_pct);
    return 0;
}

// ----------------------------------------------------------------------------
// application

// W rounded to the checkpoint's stored dtype, as an exported checkpoint would hold it.
static void round_to_dtype(float *W, size_t n, st_dtype d) {
    if (d == ST_F16) {
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) W[i] = ah_f16_to_f32(ah_f32_to_f16(W[i]));
    } else if (d == ST_BF16) {
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) W[i] = ah_bf16_to_f32(ah_f32_to_bf16(W[i]));
    }
}

// The output-error metric uses the first CALIB_SAMPLE_TOKENS sample rows (AWQ keeps more; the
// metric stays the same size).
static int output_rows(const calib_input *in) {
    return in->sample_rows < CALIB_SAMPLE_TOKENS ? in->sample_rows : CALIB_SAMPLE_TOKENS;
}

// Output error of rows [r0, r0 + n) of a linear (rows, cols): y[:, r0:r0+n] (S, rows) =
// x (S, cols) @ (W - W_hat)^T for the chunk (n, cols); diff (n, cols) scratch, which may be W
// itself (overwritten). Every y value is the same dot product as a whole-linear GEMM's.
static void output_error_rows(const calib_input *in, const float *W, const float *W_hat,
                              float *diff, float *y, int r0, int n, int rows, int cols) {
    size_t m = (size_t)n * cols;
    for (size_t i = 0; i < m; i++) diff[i] = W[i] - W_hat[i];
    int S = output_rows(in);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, S, n, cols, 1.0f, in->sample, cols,
                diff, cols, 0.0f, y + r0, rows);
}

// mean over the sample rows and outputs of y (S, rows)^2, the output error of the whole linear.
static double output_mse(const calib_input *in, const float *y, int rows) {
    int S = output_rows(in);
    double sum = 0.0;
    for (size_t i = 0; i < (size_t)S * rows; i++) sum += (double)y[i] * y[i];
    return sum / ((double)S * rows);
}

// Rows per chunk of a linear of `cols` columns (ah_chunk_rows: 4 MiB of fp32 weights, a
// whole linear of the small models).
static int chunk_rows(int rows, int cols) {
    return (int)ah_chunk_rows((size_t)rows, (size_t)cols * sizeof(float));
}

int method_apply_block(const method_cfg *mc, block_f32 *b, const model *m, int layer,
                       const calib_run *run, method_metrics *metrics, method_sink_fn sink,
                       void *sink_ctx, ah_err *e) {
    const method_traits *t = method_traits_of(mc->kind);
    if (!t || !(t->params & MP_QUANT)) return 0;   // fp16
    if (method_needs_calib(mc) && !run)
        return ah_fail(e, "method %s needs calibration data (--calib)", t->name);
    // A method with codes of its own (GPTQ, imatrix) quantizes a linear as a whole; the others
    // walk it in row chunks. orig holds the weights a chunk was quantized from: one chunk of
    // rows, or the whole linear.
    const method_linear_fn own = t->quantize_linear;
    size_t max_orig = 0, max_cols = 0, max_rows = 0, max_n = 0;
    for (int r = 0; r < L_COUNT; r++) {
        if (!arch_role_is_linear(r) || !b->w[r]) continue;
        const model_weight *w = model_lw(m, layer, r);
        int rows = (int)w->shape[0], cols = (int)w->shape[1];
        size_t chunk = (size_t)(own ? rows : chunk_rows(rows, cols)) * cols;
        if (chunk > max_orig) max_orig = chunk;
        if (b->numel[r] > max_n) max_n = b->numel[r];
        if ((size_t)cols > max_cols) max_cols = (size_t)cols;
        if ((size_t)rows > max_rows) max_rows = (size_t)rows;
    }
    int rc = -1;
    method_codes qc = {0};
    float *orig = ah_alloc(max_orig, sizeof(float), "quantization scratch", e);
    // y (S, rows): the output error on the S sample rows the metric uses (at most
    // CALIB_SAMPLE_TOKENS; fewer with a small calibration set).
    size_t S = 0;
    for (int k = 0; run && k < FWD_IN_COUNT; k++)
        if ((size_t)output_rows(&run->in[k]) > S) S = (size_t)output_rows(&run->in[k]);
    float *y = ah_alloc(S * max_rows, sizeof(float), "quantization scratch", e);
    float *act = ah_calloc(max_cols, sizeof(float), "quantization scratch", e);
    int *keep = ah_calloc(max_cols, sizeof(int), "quantization scratch", e);
    if (!orig || !y || !act || !keep) goto done;
    size_t max_g = quant_groups(max_cols, mc->q.group);
    if (own && (!(qc.codes = ah_calloc(max_n, 1, "method codes", e)) ||
                !(qc.scale = ah_calloc(max_rows * max_g, sizeof(float), "method scales", e)) ||
                !(qc.zero = ah_calloc(max_rows * max_g, sizeof(float), "method zeros", e))))
        goto done;

    for (int r = 0; r < L_COUNT; r++) {
        if (!arch_role_is_linear(r) || !b->w[r]) continue;
        const model_weight *mw = model_lw(m, layer, r);
        int rows = (int)mw->shape[0], cols = (int)mw->shape[1];
        float *W = b->w[r];
        const calib_input *in = run ? &run->in[arch_role_input(r)] : NULL;
        int with_output = in && in->sample_rows > 0;
        if (in && mc->by == SALIENT_ACTIVATION) calib_input_mean_abs(in, act);
        int kept = method_salient_columns(keep, W, rows, cols, act, mc, layer, r);
        if (kept < 0) {
            ah_fail(e, "out of memory (salient channels)");
            goto done;
        }
        method_metrics *mm = &metrics[r];
        memset(mm, 0, sizeof *mm);
        if (own) {   // the whole linear at once; then one "chunk" below
            memcpy(orig, W, (size_t)rows * cols * sizeof(float));
            if (own(W, rows, cols, in, mc, &qc, mm, e)) {
                ah_wrap(e, "layer %d %s", layer, arch_layer_role_name((arch_layer_role)r));
                goto done;
            }
            if (mm->gptq_retries)
                fprintf(stderr, "warning: gptq layer %d %s: Hessian not positive definite with "
                        "damp %g; used damp %g\n", layer, arch_layer_role_name((arch_layer_role)r),
                        mc->gptq.damp, mm->gptq_damp);
        }
        // Row chunks (rows are independent in every step below); the sums run in row order
        // across chunks, as over the whole linear.
        double se = 0.0;
        int step = own ? rows : chunk_rows(rows, cols);
        for (int r0 = 0; r0 < rows; r0 += step) {
            int n = rows - r0 < step ? rows - r0 : step;
            size_t len = (size_t)n * cols;
            float *Wc = W + (size_t)r0 * cols;                    // (n, cols)
            if (!own) {
                memcpy(orig, Wc, len * sizeof(float));
                quant_fake(Wc, (size_t)n, (size_t)cols, &mc->q);
            }
            for (int i = 0; i < n; i++)   // kept columns back to full precision
                for (int k = 0; k < kept; k++) Wc[(size_t)i * cols + keep[k]] = orig[(size_t)i * cols + keep[k]];
            round_to_dtype(Wc, len, mw->dtype);
            for (size_t i = 0; i < len; i++) se += (double)(Wc[i] - orig[i]) * (Wc[i] - orig[i]);
            if (sink && sink(sink_ctx, layer, r, Wc, orig, own ? &qc : NULL, r0, n, rows, cols,
                             keep, kept, e))
                goto done;
            // orig is done with once exported: the output error's W - W_hat overwrites it in
            // place (one fewer scratch at the peak of quantization).
            if (with_output) output_error_rows(in, orig, Wc, orig, y, r0, n, rows, cols);
        }
        mm->layer = layer;
        mm->role = r;
        mm->rows = rows;
        mm->cols = cols;
        mm->kept = kept;
        mm->weight_mse = se / ((double)rows * cols);
        mm->output_mse = with_output ? output_mse(in, y, rows) : -1.0;
    }
    rc = 0;
done:
    ah_free(orig);
    ah_free(y);
    ah_free(act);
    ah_free(keep);
    ah_free(qc.codes);
    ah_free(qc.scale);
    ah_free(qc.zero);
    return rc;
}
