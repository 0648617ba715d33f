// quant.c — weight quantizers (contract and formulas: quant.h, METHODS.md "Quantizers").
//
// Dims legend: R = rows (output channels), C = cols (input channels), g = group size
// (g = -1: one group of C), G = quant_groups(C, g) groups per row, the last one holding
// C - (G - 1) * g channels (shorter when g does not divide C), b = bits, maxq = 2^b - 1.
//
// One shape for every kind. Each group gets a (scale, zero) pair from group_params(); then
//   code  = clamp(rint(w / scale) + zero, 0, maxq)          (group_code)
//   w_hat = (code - zero) * scale                           (dequant)
// RTN fits this shape with zero = 2^(b-1): clamp(rint(w / s), -2^(b-1), 2^(b-1) - 1) + 2^(b-1)
// is the same integer, because adding an integer to an integer-valued float is exact. So
// quant_fake, quant_codes and quant_dequant run the same float operations on the same values,
// and quant_dequant(quant_codes(W)) == quant_fake(W) bit for bit. Codes are held as floats
// with exact small-integer values; the clamps are written `x > lo ? x : lo` so that -0.0
// becomes +0.0 and (code - zero) is never -0.0 (w_hat of an exact zero is +0.0).
// Rounding: rintf under the default rounding mode (round half to even). No reduction here
// depends on summation order (only min / max), so results do not depend on threads or
// vectorisation, and tools/ref_quant.py (PyTorch) reproduces them bit for bit.
//
// Edge cases (what the formulas give, and the guards):
//   * minmax: scale >= 1e-5 / maxq > 0, so never a division by zero. A constant group c
//     (max == min) reproduces c exactly only when c == 0 or |c / scale| <= maxq (|c| below
//     about 1e-5); any other constant collapses to +-(maxq * scale) = about +-1e-5 (for c > 0
//     zero = 0, code = maxq; for c < 0 zero = maxq, code = 0). That is the formula (AWQ's
//     reference behaves the same); the range is not widened to include 0.
//   * rtn: an all-zero group has scale 0; a group whose max|w| / (2^(b-1) - 1) underflows to 0
//     (subnormal weights only) too. Such a group is not divided: every code is the zero point
//     and w_hat = 0 * 0 = +0.0 (all-zero groups, including -0.0, come back as +0.0).
//   * gptq-rtn: max == min == 0 uses min = -1, max = +1 (as GPTQ does), so an all-zero group
//     has scale 2 / maxq, zero = rint(maxq / 2) and comes back as +0.0 exactly. A constant
//     group c != 0 sits on an end of the widened range [min(c, 0), max(c, 0)]: c > 0 gives
//     zero = 0, code = maxq, w_hat = maxq * (c / maxq); c < 0 gives zero = maxq, code = 0,
//     w_hat = -maxq * (-c / maxq). That is c or within 1 ulp of it (exactly c for the powers of
//     two and small integers in the tests). Should the scale underflow to 0 (subnormal-only
//     groups) the rtn guard applies with zero = 0: codes 0, w_hat +0.0.
//   * Non-finite weights are outside the contract (the model loader rejects them); the clamps
//     still map a NaN quotient to code 0, so codes never leave [0, maxq] and nothing is UB.
#include "quant/quant.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/half.h"
#include "core/simd.h"

// ---------------------------------------------------------------------------------------------
// config

int quant_cfg_check(const quant_cfg *q, ah_err *e) {
    if (!q) return ah_fail(e, "quant config missing");
    if (q->kind != QUANT_RTN && q->kind != QUANT_MINMAX && q->kind != QUANT_GPTQ_RTN)
        return ah_fail(e, "kind %d unknown: want rtn, minmax or gptq-rtn", (int)q->kind);
    if (q->bits < 2 || q->bits > 8) return ah_fail(e, "bits %d outside 2..8", q->bits);
    if (q->group == 0 || q->group < -1)
        return ah_fail(e, "group size %d: want a positive size or -1", q->group);
    if (q->scale_dtype != QUANT_SCALE_F32 && q->scale_dtype != QUANT_SCALE_F16 &&
        q->scale_dtype != QUANT_SCALE_BF16 && q->scale_dtype != QUANT_SCALE_F16_Q41)
        return ah_fail(e, "scale dtype %d unknown", (int)q->scale_dtype);
    return 0;
}

// A positive scale at or below half the smallest fp16 subnormal (2^-25: an rtn group of tiny
// weights) would round to 0 and lose the group: it becomes that subnormal.
const char *quant_scale_dtype_name(quant_scale_dtype d) {
    static const char *const NAME[] = {"f32", "f16", "bf16", "f16-q41"};
    return (unsigned)d < sizeof NAME / sizeof NAME[0] ? NAME[d] : "?";
}

int quant_scale_dtype_holds(quant_scale_dtype stored, quant_scale_dtype run) {
    return stored == run || stored == QUANT_SCALE_F32 ||
           (stored == QUANT_SCALE_F16 && run == QUANT_SCALE_F16_Q41);
}

float quant_round_scale(float s, quant_scale_dtype d) {
    float r = s;
    if (d == QUANT_SCALE_F16 || d == QUANT_SCALE_F16_Q41) r = ah_f16_to_f32(ah_f32_to_f16(s));
    if (d == QUANT_SCALE_BF16) r = ah_bf16_to_f32(ah_f32_to_bf16(s));
    if (d == QUANT_SCALE_F16_Q41 && r > 0.0f && isfinite(r)) {
        // 7 significant bits (m * 128 in [64, 128], rounded half to even), then back on
        // fp16's grid: a subnormal keeps its last bit at 2^-24, so still at most 7 bits.
        int ex;
        float m = frexpf(r, &ex);
        r = ah_f16_to_f32(ah_f32_to_f16(ldexpf(rintf(m * 128.0f), ex - 7)));
    }
    int f16 = d == QUANT_SCALE_F16 || d == QUANT_SCALE_F16_Q41;
    return r == 0.0f && s > 0.0f ? ldexpf(1.0f, f16 ? -24 : -133) : r;
}

const char *quant_kind_name(quant_kind k) {
    switch (k) {
    case QUANT_RTN: return "rtn";
    case QUANT_MINMAX: return "minmax";
    case QUANT_GPTQ_RTN: return "gptq-rtn";
    }
    return "?";
}

int quant_kind_parse(const char *s, quant_kind *k) {
    static const quant_kind all[] = {QUANT_RTN, QUANT_MINMAX, QUANT_GPTQ_RTN};
    if (!s) return -1;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(s, quant_kind_name(all[i])) == 0) {
            if (k) *k = all[i];
            return 0;
        }
    return -1;
}

const char *quant_group_label(double group, char *buf, size_t cap) {
    if (group <= 0) snprintf(buf, cap, "per-row");
    else snprintf(buf, cap, "g%g", group);
    return buf;
}

size_t quant_groups(size_t cols, int group) {
    if (group == QUANT_GROUP_ROW) return cols ? 1 : 0;
    if (group <= 0) return 0;
    return cols / (size_t)group + (cols % (size_t)group != 0);
}

static int cfg_ok(const quant_cfg *q) { return q && quant_cfg_check(q, NULL) == 0; }

// Channels in each full group: g, or C for g = -1.
static size_t group_len(size_t cols, int group) {
    return group == -1 ? cols : (size_t)group;
}

// ---------------------------------------------------------------------------------------------
// per-group kernels (the shared helpers: every entry point goes through these)

// (scale, zero) of one group w (n), n >= 1. zero is an integer in [0, maxq] held in a float.
// Inlined into every caller so the min / max loop vectorises in the callers' AH_VEC_CLONES
// versions. The vector min / max may pick -0.0 or +0.0 where both occur; every kind below
// gives the same scale and zero for either (d = mx - mn, and z's clamp maps -0.0 to +0.0).
__attribute__((always_inline)) static inline void group_params(float *scale, float *zero,
                                                               const float *w, size_t n,
                                                               quant_kind kind, int bits,
                                                               quant_scale_dtype sd) {
    const float maxq = (float)((1 << bits) - 1);
    float mn = w[0], mx = w[0];
#pragma omp simd reduction(min : mn) reduction(max : mx)
    for (size_t i = 1; i < n; i++) {
        mn = w[i] < mn ? w[i] : mn;
        mx = w[i] > mx ? w[i] : mx;
    }
    float s, z;
    switch (kind) {
    case QUANT_RTN: {
        float amax = fabsf(mn) > fabsf(mx) ? fabsf(mn) : fabsf(mx);
        s = quant_round_scale(amax / (float)((1 << (bits - 1)) - 1), sd);
        z = (float)(1 << (bits - 1));
        break;
    }
    case QUANT_GPTQ_RTN: {
        mn = mn < 0.0f ? mn : 0.0f;
        mx = mx > 0.0f ? mx : 0.0f;
        if (mn == 0.0f && mx == 0.0f) { mn = -1.0f; mx = 1.0f; }
        s = quant_round_scale((mx - mn) / maxq, sd);
        z = s > 0.0f ? rintf(-mn / s) : 0.0f;
        z = z > 0.0f ? z : 0.0f;       // -0.0 -> +0.0; the range holds 0, so z is in [0, maxq]
        z = z < maxq ? z : maxq;
        break;
    }
    case QUANT_MINMAX:
    default: {
        float d = mx - mn;
        d = d > 1e-5f ? d : 1e-5f;
        s = quant_round_scale(d / maxq, sd);
        z = -rintf(mn / s);
        z = z > 0.0f ? z : 0.0f;
        z = z < maxq ? z : maxq;
        break;
    }
    }
    *scale = s;
    *zero = z;
}

void quant_group_params(float *scale, float *zero, const float *w, size_t n, const quant_cfg *q) {
    group_params(scale, zero, w, n, q->kind, q->bits, q->scale_dtype);
}

// code (n) as exact integer floats in [0, maxq] for one group w (n). scale == 0 (rtn all-zero
// or subnormal-only group): every code is the zero point, no division.
static void group_codes_f(float *code, const float *w, size_t n, float scale, float zero,
                          float maxq) {
    if (scale == 0.0f) {
        for (size_t i = 0; i < n; i++) code[i] = zero;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        float c = rintf(w[i] / scale) + zero;
        c = c > 0.0f ? c : 0.0f;       // NaN -> 0 too
        c = c < maxq ? c : maxq;
        code[i] = c;
    }
}

// Fake quantization of one group in place: w (n) <- (code - zero) * scale, the code computed
// by the same operations as group_codes_f.
__attribute__((always_inline)) static inline void group_fake(float *w, size_t n, float scale,
                                                             float zero, float maxq) {
    if (scale == 0.0f) {
        for (size_t i = 0; i < n; i++) w[i] = (zero - zero) * scale;
        return;
    }
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float c = rintf(w[i] / scale) + zero;
        c = c > 0.0f ? c : 0.0f;
        c = c < maxq ? c : maxq;
        w[i] = (c - zero) * scale;
    }
}

// ---------------------------------------------------------------------------------------------
// matrices: OpenMP over rows (rows are independent; small matrices stay single-threaded)

#define PAR_MIN_ELEMS ((size_t)1 << 15)

// row (C) <- dequant(quant(row)) per group of gl; G groups.
AH_VEC_CLONES static void fake_row(float *row, size_t cols, size_t G, size_t gl, quant_kind kind,
                                   int bits, quant_scale_dtype sd) {
    const float maxq = (float)((1 << bits) - 1);
    for (size_t j = 0; j < G; j++) {
        size_t c0 = j * gl, n = cols - c0 < gl ? cols - c0 : gl;
        float s, z;
        group_params(&s, &z, row + c0, n, kind, bits, sd);
        group_fake(row + c0, n, s, z, maxq);
    }
}

// W (R, C) <- dequant(quant(W)) per group.
void quant_fake(float *W, size_t rows, size_t cols, const quant_cfg *q) {
    if (!cfg_ok(q) || !rows || !cols) return;
    const size_t G = quant_groups(cols, q->group), gl = group_len(cols, q->group);
#pragma omp parallel for schedule(static) if (rows * cols >= PAR_MIN_ELEMS)
    for (size_t r = 0; r < rows; r++) fake_row(W + r * cols, cols, G, gl, q->kind, q->bits, q->scale_dtype);
}

// codes (R, C), scale (R, G), zero (R, G) <- quant(W (R, C)).
void quant_codes(uint8_t *codes, float *scale, float *zero, const float *W, size_t rows,
                 size_t cols, const quant_cfg *q) {
    if (!cfg_ok(q) || !rows || !cols) return;
    const size_t G = quant_groups(cols, q->group), gl = group_len(cols, q->group);
    const float maxq = (float)((1 << q->bits) - 1);
#pragma omp parallel for schedule(static) if (rows * cols >= PAR_MIN_ELEMS)
    for (size_t r = 0; r < rows; r++) {
        const float *row = W + r * cols;                // (C)
        float buf[256];                                 // codes as floats, a chunk at a time
        for (size_t j = 0; j < G; j++) {
            size_t c0 = j * gl, n = cols - c0 < gl ? cols - c0 : gl;
            float s, z;
            group_params(&s, &z, row + c0, n, q->kind, q->bits, q->scale_dtype);
            scale[r * G + j] = s;
            zero[r * G + j] = z;
            for (size_t k = 0; k < n; k += 256) {
                size_t m = n - k < 256 ? n - k : 256;
                group_codes_f(buf, row + c0 + k, m, s, z, maxq);
                uint8_t *out = codes + r * cols + c0 + k;
                for (size_t i = 0; i < m; i++) out[i] = (uint8_t)buf[i];
            }
        }
    }
}

// W (R, C) <- (codes (R, C) - zero (R, G)) * scale (R, G).
void quant_dequant(float *W, const uint8_t *codes, const float *scale, const float *zero,
                   size_t rows, size_t cols, const quant_cfg *q) {
    if (!cfg_ok(q) || !rows || !cols) return;
    const size_t G = quant_groups(cols, q->group), gl = group_len(cols, q->group);
#pragma omp parallel for schedule(static) if (rows * cols >= PAR_MIN_ELEMS)
    for (size_t r = 0; r < rows; r++) {
        for (size_t j = 0; j < G; j++) {
            size_t c0 = j * gl, n = cols - c0 < gl ? cols - c0 : gl;
            const float s = scale[r * G + j], z = zero[r * G + j];
            const uint8_t *in = codes + r * cols + c0;
            float *out = W + r * cols + c0;
            for (size_t i = 0; i < n; i++) out[i] = ((float)in[i] - z) * s;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// packing: per = floor(8 / b) codes per byte in slots of 8 / per bits (b = 2: 4 x 2 bits;
// b = 3, 4: 2 x 4 bits; b >= 5: one code per byte), first code in the lowest slot; unused
// high slots of the last byte are 0. Codes are masked to b bits.

static unsigned per_byte(int bits) { return bits >= 2 && bits <= 8 ? 8u / (unsigned)bits : 0u; }

size_t quant_packed_size(size_t n, int bits) {
    unsigned per = per_byte(bits);
    return per ? n / per + (n % per != 0) : 0;
}

size_t quant_pack(uint8_t *out, const uint8_t *codes, size_t n, int bits) {
    unsigned per = per_byte(bits);
    if (!per) return 0;
    const unsigned slot = 8u / per, mask = (1u << bits) - 1u;
    size_t nb = quant_packed_size(n, bits);
    for (size_t o = 0; o < nb; o++) {
        unsigned byte = 0;
        for (unsigned k = 0; k < per && o * per + k < n; k++)
            byte |= ((unsigned)codes[o * per + k] & mask) << (k * slot);
        out[o] = (uint8_t)byte;
    }
    return nb;
}

void quant_unpack(uint8_t *codes, const uint8_t *packed, size_t n, int bits) {
    unsigned per = per_byte(bits);
    if (!per) return;
    const unsigned slot = 8u / per, mask = (1u << bits) - 1u;
    for (size_t i = 0; i < n; i++)
        codes[i] = (uint8_t)(((unsigned)packed[i / per] >> ((i % per) * slot)) & mask);
}
