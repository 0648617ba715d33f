// imatrix_asym.c — asymmetric importance-weighted fit: llama.cpp's make_qkx3_quants (as
// quantize_row_q4_1_impl calls it: nmax = 2^b - 1, rmin = -0.9, rdelta = 0.05, nstep = 36,
// squared error, weights imatrix_internal.h) adapted to the harness's integer zero point.
//
// llama.cpp fits w ~ scale * L + min with a free float min (Q4_1 stores m = min in fp16). The
// harness stores w_hat = (code - zero) * scale with an INTEGER zero (exports write zero points
// as integers), so min must be -zero * scale. What is kept and what is adapted:
//   kept     min = min(group, 0) (the range always reaches 0 from below), max = max(group);
//            sum_w = sum weight, sum_x = sum weight w; the 37 candidate inverse scales
//            (rmin + rdelta is + nmax) / (max - min_best), is = 0..36, around the current best
//            min; levels l = v > 0 ? rint(min(v, nmax)) : 0 of v = iscale (w - min_best); the
//            weighted least-squares (scale, min) of those levels (D = sum_w sum_l2 - sum_l^2 > 0;
//            a positive min is set to 0 and the scale refitted alone); keep a candidate only when
//            its weighted squared error is strictly smaller.
//   adapted  the first candidate is scale = (max - min) / nmax with zero = rint(-min / scale)
//            (llama.cpp: the same scale with the float min); each candidate's min becomes
//            zero = clamp(rint(-min / scale), 0, nmax) and its scale is refitted for that zero
//            (one-variable weighted least squares with the candidate's levels, from the sums:
//            sum w x (l - z) / sum w (l - z)^2); the error is measured with the codes rounded
//            under (scale, zero) as quant.h rounds them, code = clamp(rint(w / scale) + zero),
//            which is what is stored (never worse than the candidate's levels, since each code
//            is the nearest); candidates whose scale is not positive are skipped; min_best is
//            -zero * scale. A constant group c <= 0 (max <= min) is kept exactly as scale = -c,
//            zero = 1, code 0 (llama.cpp: scale 0 and min c); c == 0 gives scale 0, zero 0.
// All fp32 in the order written here, sums left to right (tools/ref_imatrix.py _fit_asym).
#include "core/simd.h"
#include "quant/imatrix_internal.h"
#include "quant/quant.h"

typedef struct {
    const float *x, *imp;   // (n)
    size_t n;
    float sigma2, maxq, max, sum_w, sum_x;
} asym_group;

IMX_INLINE float clamp_code(float z, float maxq) {
    z = z > 0.0f ? z : 0.0f;           // -0.0 -> +0.0
    return z < maxq ? z : maxq;
}

// Weighted squared error sum weight ((code - zero) * scale - w)^2 of the stored codes.
IMX_INLINE float stored_error(const asym_group *g, float scale, float zero) {
    float err = 0.0f;
    for (size_t i = 0; i < g->n; i++) {
        const float d = (quant_code1(g->x[i], scale, zero, g->maxq) - zero) * scale - g->x[i];
        err += imx_weight(g->x, g->imp, i, g->sigma2) * (d * d);
    }
    return err;
}

// Candidate `is`: levels around the current best, their least-squares (scale, min), the zero
// rounded and the scale refitted; replaces *f when its error is below *best.
IMX_INLINE void try_candidate(imx_fit *f, float *best, const asym_group *g, int is) {
    const float min_best = -f->zero * f->scale;
    const float iscale = (-0.9f + 0.05f * (float)is + g->maxq) / (g->max - min_best);
    float sum_l = 0.0f, sum_l2 = 0.0f, sum_xl = 0.0f;
    for (size_t i = 0; i < g->n; i++) {
        const float v = iscale * (g->x[i] - min_best);
        const float l = v > 0.0f ? rintf(v < g->maxq ? v : g->maxq) : 0.0f;
        const float wt = imx_weight(g->x, g->imp, i, g->sigma2);
        sum_l += wt * l;
        sum_l2 += wt * l * l;
        sum_xl += wt * l * g->x[i];
    }
    const float D = g->sum_w * sum_l2 - sum_l * sum_l;
    if (!(D > 0.0f)) return;
    float scale = (g->sum_w * sum_xl - g->sum_x * sum_l) / D;
    float min = (sum_l2 * g->sum_x - sum_l * sum_xl) / D;
    if (min > 0.0f) {
        min = 0.0f;
        scale = sum_xl / sum_l2;
    }
    if (!(scale > 0.0f)) return;
    const float z = clamp_code(rintf(-min / scale), g->maxq);
    const float num = sum_xl - z * g->sum_x, den = sum_l2 - 2.0f * z * sum_l + z * z * g->sum_w;
    if (!(den > 0.0f && num > 0.0f)) return;
    const float s = num / den, err = stored_error(g, s, z);
    if (err < *best) {
        *best = err;
        f->scale = s;
        f->zero = z;
    }
}

// Per instruction set like imatrix.c quant_row (same bits in every clone).
AH_VEC_CLONES imx_fit quant_imatrix_fit_asym(const float *x, const float *imp, size_t n,
                                             float sigma2, int bits) {
    asym_group g = {x, imp, n, sigma2, (float)((1 << bits) - 1), x[0], 0.0f, 0.0f};
    float min = x[0];
    g.sum_w = imx_weight(x, imp, 0, sigma2);
    g.sum_x = g.sum_w * x[0];
    for (size_t i = 1; i < n; i++) {
        min = x[i] < min ? x[i] : min;
        g.max = x[i] > g.max ? x[i] : g.max;
        const float wt = imx_weight(x, imp, i, sigma2);
        g.sum_w += wt;
        g.sum_x += wt * x[i];
    }
    if (min > 0.0f) min = 0.0f;
    imx_fit f = {0.0f, 0.0f, 0.0f};
    if (g.max <= min) {                 // constant group c = min <= 0
        if (min < 0.0f) f = (imx_fit){-min, 1.0f, 0.0f};
        return f;
    }
    f.scale = 1.0f / (g.maxq / (g.max - min));
    f.zero = clamp_code(rintf(-min / f.scale), g.maxq);
    float best = stored_error(&g, f.scale, f.zero);
    for (int is = 0; is <= 36; is++) try_candidate(&f, &best, &g, is);
    return f;
}
