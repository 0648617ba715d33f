// imatrix.c — the method table's quantize_linear for imatrix: llama.cpp's importance-weighted
// rounding (quant/imatrix.h, docs/IMATRIX.md), the importance of input channel j being the
// calibration mean of x_j^2 of the linear's input, as llama-imatrix collects it.
#include "method/method.h"

#include "core/mem.h"
#include "quant/imatrix.h"

int method_imatrix_linear(float *W, int rows, int cols, const calib_input *in,
                          const method_cfg *mc, method_codes *out, method_metrics *mm, ah_err *e) {
    (void)mm;
    if (!in || in->tokens <= 0 || in->width != cols)
        return ah_fail(e, "method imatrix: no calibration statistics of this linear's input");
    float *imp = ah_alloc((size_t)cols, sizeof(float), "imatrix importance", e);
    if (!imp) return -1;
    calib_input_mean_sq(in, imp);
    int rc = quant_imatrix_codes(out->codes, out->scale, out->zero, W, (size_t)rows, (size_t)cols,
                                 &mc->q, imp);
    ah_free(imp);
    if (rc) return ah_fail(e, "method imatrix: quantizer %s with %d bits, group %d is not supported",
                           quant_kind_name(mc->q.kind), mc->q.bits, mc->q.group);
    // W_hat from the codes: quant_imatrix_fake would give the same bits (quant/imatrix.h).
    quant_dequant(W, out->codes, out->scale, out->zero, (size_t)rows, (size_t)cols, &mc->q);
    return 0;
}
