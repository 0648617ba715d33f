#include "quant/pass.h"

#include <stdlib.h>

qpass *qpass_new(const model *m, const method_cfg *mc, const calib_set *cs, ah_err *e) {
    if (method_needs_calib(mc) && !cs) {
        ah_fail(e, "method %s by %s needs calibration data (--calib SOURCE)",
                method_name(mc->kind), salient_by_name(mc->by));
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
    if (cs && mc->kind != METHOD_FP16 && !(p->run = calib_run_new(m, cs, 0, e))) {
        qpass_free(p);
        return NULL;
    }
    return p;
}

void qpass_free(qpass *p) {
    if (!p) return;
    calib_run_free(p->run);
    free(p->metrics);
    free(p);
}

int qpass_block(void *ctx, int layer, block_f32 *b, ah_err *e) {
    qpass *p = ctx;
    if (p->mc.kind == METHOD_FP16) return 0;
    // Calibration inputs of this block come from the FP output of the previous one: the
    // capture runs before the block is quantized.
    if (p->run && calib_block(p->run, b, layer, e)) return -1;
    return method_apply_block(&p->mc, b, p->m, layer, p->run,
                              p->metrics + (size_t)layer * L_COUNT, p->sink, p->sink_ctx, e);
}

void qpass_summary(const qpass *p, int *n_linears, double *weight_mse, double *output_mse) {
    int n = 0;
    double w = 0.0, o = 0.0;
    for (size_t i = 0; i < (size_t)p->m->cfg.n_layers * L_COUNT; i++) {
        const method_metrics *mm = &p->metrics[i];
        if (mm->rows == 0) continue;
        n++;
        w += mm->weight_mse;
        o += mm->output_mse;
    }
    *n_linears = n;
    *weight_mse = n ? w / n : 0.0;
    *output_mse = (n && p->run) ? o / n : -1.0;
}
