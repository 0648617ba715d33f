// gptq_linear.c — the method table's quantize_linear for gptq and awq+gptq: GPTQ (quant/gptq.h)
// on one whole linear with the Hessian of its calibration input.
#include <string.h>

#include "method/method.h"

int method_gptq_linear(float *W, int rows, int cols, const calib_input *in, const method_cfg *mc,
                       method_codes *out, method_metrics *mm, ah_err *e) {
    if (!in || !in->hess) return ah_fail(e, "method %s: no Hessian captured", method_name(mc->kind));
    gptq_info gi = {0};
    if (gptq_quantize(W, rows, cols, in->hess, &mc->q, &mc->gptq, out->codes, out->scale,
                      out->zero, &gi, e))
        return -1;
    mm->gptq_damp = gi.damp_used;
    mm->gptq_retries = gi.retries;
    mm->gptq_dead = gi.dead;
    return 0;
}
