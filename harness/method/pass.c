#include "method/pass.h"

#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/progress.h"

qpass *qpass_new(const model *m, const method_cfg *mc, const calib_set *cs, ah_err *e) {
    if (method_needs_calib(mc) && !cs) {
        if (!(method_traits_of(mc->kind)->stats & ~(unsigned)MS_MEAN_ABS))   // only kept channels need it
            ah_fail(e, "method %s with channels kept by %s needs calibration data (--calib SOURCE)",
                    method_name(mc->kind), salient_by_name(mc->by));
        else
            ah_fail(e, "method %s needs calibration data (--calib SOURCE)", method_name(mc->kind));
        return NULL;
    }
    qpass *p = calloc(1, sizeof *p);
    if (!p) {
        ah_fail(e, "out of memory");
        return NULL;
    }
    p->m = m;
    p->mc = *mc;
    p->metrics = calloc((size_t)m->cfg.n_layers * L_COUNT, sizeof *p->metrics);
    if (!p->metrics) {
        ah_fail(e, "out of memory");
        qpass_free(p);
        return NULL;
    }
    // AWQ's losses need K whole calibration sequences of every linear input.
    size_t keep = 0;
    if ((method_stats(mc) & MS_SEQUENCES) && cs) {
        int K = mc->awq.samples > 0 && mc->awq.samples < cs->n ? mc->awq.samples : cs->n;
        keep = (size_t)K * cs->len;
    }
    if (cs && method_takes(mc->kind, MP_QUANT) && !(p->run = calib_run_new(m, cs, keep, e))) {
        qpass_free(p);
        return NULL;
    }
    if (p->run && (method_stats(mc) & MS_HESSIAN) && calib_run_want_hessian(p->run, e)) {
        qpass_free(p);
        return NULL;
    }
    if (method_uses_awq(mc->kind) &&
        !(p->awq = calloc((size_t)m->cfg.n_layers, sizeof *p->awq))) {
        ah_fail(e, "out of memory");
        qpass_free(p);
        return NULL;
    }
    if (p->run && mc->propagate_quantized &&
        !(p->saved_hidden = ah_calloc((size_t)cs->n * cs->len * m->cfg.dim, sizeof(float),
                                      "calibration hidden states", e))) {
        qpass_free(p);
        return NULL;
    }
    return p;
}

void qpass_free(qpass *p) {
    if (!p) return;
    calib_run_free(p->run);
    if (p->awq)
        for (int l = 0; l < p->m->cfg.n_layers; l++) awq_result_free(&p->awq[l]);
    free(p->awq);
    ah_free(p->saved_hidden);
    if (p->act_mean)
        for (int i = 0; i < p->m->cfg.n_layers * FWD_IN_COUNT; i++) {
            free(p->act_mean[i]);
            free(p->act_max[i]);
        }
    free(p->act_mean);
    free(p->act_max);
    free(p->metrics);
    free(p);
}

static int calibrate_and_quantize(qpass *p, int layer, block_f32 *b, ah_err *e);

int qpass_block(void *ctx, int layer, block_f32 *b, ah_err *e) {
    qpass *p = ctx;
    if (p->mc.kind == METHOD_FP16) return 0;
    double t0 = ah_now();
    int rc = calibrate_and_quantize(p, layer, b, e);
    p->seconds += ah_now() - t0;
    return rc;
}

static int calibrate_and_quantize(qpass *p, int layer, block_f32 *b, ah_err *e) {
    size_t hidden_bytes = p->run ? (size_t)p->run->cs->n * p->run->cs->len * p->m->cfg.dim * sizeof(float) : 0;
    if (p->saved_hidden) memcpy(p->saved_hidden, p->run->hidden, hidden_bytes);
    // Calibration inputs of this block: the capture runs on the FP block, before any change.
    if (p->run && calib_block(p->run, b, layer, e)) return -1;
    if (p->act_mean) {
        const model_config *c = &p->m->cfg;
        for (int k = 0; k < FWD_IN_COUNT; k++) {
            const calib_input *in = &p->run->in[k];
            float *mean = p->act_mean[layer * FWD_IN_COUNT + k], *mx = p->act_max[layer * FWD_IN_COUNT + k];
            int w = model_input_width(c, (fwd_input)k);
            if (in->width != w || !in->abs_sum) continue;
            calib_input_mean_abs(in, mean);
            memcpy(mx, in->abs_max, (size_t)w * sizeof *mx);
        }
    }
    const int awq = method_uses_awq(p->mc.kind);
    if (awq && p->awq_preset) {
        if (awq_block_apply(&p->awq_preset[layer], &p->mc.q, b, p->m, &p->awq[layer], e)) return -1;
    } else if (awq) {
        if (awq_block(&p->mc.awq, &p->mc.q, b, p->m, layer, p->run, &p->awq[layer], e)) return -1;
    }
    if (awq) {
        // The folded linears see x / s: salient selection, error metrics and GPTQ's Hessian
        // (awq+gptq) must too.
        const arch_desc *ad = p->m->cfg.arch;
        for (int g = 0; g < ad->n_groups; g++)
            if (p->awq[layer].group[g].applied)
                calib_input_scale(&p->run->in[ad->groups[g].input], p->awq[layer].group[g].scales);
    }
    if (method_apply_block(&p->mc, b, p->m, layer, p->run, p->metrics + (size_t)layer * L_COUNT,
                           p->sink, p->sink_ctx, e))
        return -1;
    if (p->block_sink && p->block_sink(p->sink_ctx, layer, b, e)) return -1;
    if (p->saved_hidden) {   // propagate = quantized: the next block sees this one's error
        memcpy(p->run->hidden, p->saved_hidden, hidden_bytes);
        calib_advance(p->run, b);
    }
    return 0;
}

int qpass_keep_stats(qpass *p, ah_err *e) {
    if (!p->run) return ah_fail(e, "activation statistics need a calibration set");
    size_t n = (size_t)p->m->cfg.n_layers * FWD_IN_COUNT;
    p->act_mean = calloc(n, sizeof *p->act_mean);
    p->act_max = calloc(n, sizeof *p->act_max);
    if (!p->act_mean || !p->act_max) return ah_fail(e, "out of memory");
    for (size_t i = 0; i < n; i++) {
        int w = model_input_width(&p->m->cfg, (fwd_input)(i % FWD_IN_COUNT));
        p->act_mean[i] = calloc((size_t)w, sizeof(float));
        p->act_max[i] = calloc((size_t)w, sizeof(float));
        if (!p->act_mean[i] || !p->act_max[i]) return ah_fail(e, "out of memory");
    }
    return 0;
}

void qpass_release_calibration(qpass *p) {
    calib_run_free(p->run);
    p->run = NULL;
    ah_free(p->saved_hidden);
    p->saved_hidden = NULL;
}

void qpass_summary(const qpass *p, int *n_linears, double *weight_mse, double *output_mse) {
    int n = 0, with_output = 0;
    double w = 0.0, o = 0.0;
    for (size_t i = 0; i < (size_t)p->m->cfg.n_layers * L_COUNT; i++) {
        const method_metrics *mm = &p->metrics[i];
        if (mm->rows == 0) continue;
        n++;
        w += mm->weight_mse;
        o += mm->output_mse;
        with_output += mm->output_mse >= 0;   // -1: measured without calibration rows
    }
    *n_linears = n;
    *weight_mse = n ? w / n : 0.0;
    *output_mse = (n && with_output == n) ? o / n : -1.0;
}
