// table.c — the method table (method.h): one row per quantization method. Adding a method is a
// row here, its enum value in method.h and, when it computes its own codes, a quantize_linear
// function in a file of its own (docs/ARCHITECTURE.md, "Adding a method").
#include <stdio.h>
#include <string.h>

#include "method/method.h"

// Salient-channel retention (MP_SALIENT) is a modifier every quantizing method takes: its kept
// columns go back to full precision after the method's own quantization (method.c). Report
// rank: FP16 first, then the baselines, then the methods the papers propose. Colours
// follow matplotlib's tab10 (gnuplot draws them), one per method, fixed across every figure.
static const method_traits METHODS[METHOD_COUNT] = {
    [METHOD_FP16] = {"fp16", "fp16", "FP16", "#000000", 0, QUANT_MINMAX, 0, 0, NULL, METHOD_FP16},
    [METHOD_RTN] = {"rtn", "rtn", "RTN", "#d62728", 1, QUANT_RTN, MP_QUANT | MP_SALIENT, 0, NULL,
                    METHOD_RTN},
    [METHOD_GPTQ_RTN] = {"gptq-rtn", "gptq-rtn", "RTN (GPTQ)", "#8c564b", 2, QUANT_GPTQ_RTN,
                         MP_QUANT | MP_SALIENT, 0, NULL, METHOD_GPTQ_RTN},
    [METHOD_MINMAX] = {"minmax", "minmax", "MinMax", "#ff7f0e", 3, QUANT_MINMAX,
                       MP_QUANT | MP_SALIENT, 0, NULL, METHOD_SALIENT},
    [METHOD_IMATRIX] = {"imatrix", "imatrix", "imatrix", "#bcbd22", 4, QUANT_MINMAX,
                        MP_QUANT | MP_SALIENT, MS_MEAN_SQ, method_imatrix_linear, METHOD_IMATRIX},
    [METHOD_SALIENT] = {"salient", "minmax", "FP16 kept", "#9467bd", 5, QUANT_MINMAX,
                        MP_QUANT | MP_SALIENT, MS_MEAN_ABS, NULL, METHOD_SALIENT},
    [METHOD_GPTQ] = {"gptq", "gptq", "GPTQ", "#2ca02c", 6, QUANT_MINMAX,
                     MP_QUANT | MP_GPTQ | MP_SALIENT,
                     MS_HESSIAN, method_gptq_linear, METHOD_GPTQ},
    [METHOD_AWQ] = {"awq", "awq", "AWQ", "#1f77b4", 7, QUANT_MINMAX,
                    MP_QUANT | MP_AWQ | MP_SALIENT, MS_SEQUENCES, NULL, METHOD_AWQ},
    [METHOD_AWQ_GPTQ] = {"awq+gptq", "awq+gptq", "AWQ + GPTQ", "#17becf", 8, QUANT_MINMAX,
                         MP_QUANT | MP_AWQ | MP_GPTQ | MP_SALIENT, MS_SEQUENCES | MS_HESSIAN,
                         method_gptq_linear, METHOD_AWQ_GPTQ},
};

const method_traits *method_traits_of(method_kind k) {
    return (int)k >= 0 && k < METHOD_COUNT ? &METHODS[k] : NULL;
}

const method_traits *method_traits_named(const char *name) {
    method_kind k;
    return name && method_parse(name, &k) == 0 ? &METHODS[k] : NULL;
}

const char *method_name(method_kind k) {
    const method_traits *t = method_traits_of(k);
    return t ? t->name : "?";
}

int method_parse(const char *s, method_kind *k) {
    for (int i = 0; i < METHOD_COUNT; i++)
        if (strcmp(s, METHODS[i].name) == 0) {
            *k = (method_kind)i;
            return 0;
        }
    return -1;
}

int method_takes(method_kind k, unsigned params) {
    const method_traits *t = method_traits_of(k);
    return t && (t->params & params) == params;
}

const char *method_names(char *buf, size_t cap, unsigned params) {
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; i < METHOD_COUNT && o < cap; i++)
        if ((METHODS[i].params & params) == params)
            o += (size_t)snprintf(buf + o, cap - o, "%s%s", o ? ", " : "", METHODS[i].name);
    return buf;
}

method_kind method_with_kept(method_kind k, int keeps) {
    const method_traits *t = method_traits_of(k);
    if (!t) return k;
    if (keeps) return t->kept_as;
    for (int i = 0; i < METHOD_COUNT; i++)   // the row whose runs with kept channels are k
        if (METHODS[i].kept_as == k && i != (int)k) return (method_kind)i;
    return k;
}

int method_uses_awq(method_kind k) { return method_takes(k, MP_AWQ); }
int method_uses_gptq(method_kind k) { return method_takes(k, MP_GPTQ); }

unsigned method_stats(const method_cfg *mc) {
    const method_traits *t = method_traits_of(mc->kind);
    if (!t) return 0;
    unsigned s = t->stats & ~(unsigned)MS_MEAN_ABS;
    // Salient channels chosen by activation need mean |x|; by weight or at random, nothing.
    if ((t->params & MP_SALIENT) && mc->salient_pct > 0 && mc->by == SALIENT_ACTIVATION)
        s |= MS_MEAN_ABS;
    return s;
}

int method_needs_calib(const method_cfg *mc) { return method_stats(mc) != 0; }
