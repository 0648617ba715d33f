// quant.h — weight quantizers: per output row, in groups of g input channels.
//
// A quantizer is a pure function of (weights, config): no hidden state, so AWQ and GPTQ call
// the same code. Formulas (METHODS.md; b = bits, all rounding half-to-even = rintf):
//   QUANT_MINMAX  asymmetric with zero point (what the AWQ paper calls RTN):
//                 scale = max(max - min, 1e-5) / (2^b - 1)
//                 zero  = clamp(-round(min / scale), 0, 2^b - 1)
//                 q     = clamp(round(w / scale) + zero, 0, 2^b - 1);  w_hat = (q - zero) * scale
//                 The range is NOT widened to include 0.
//   QUANT_RTN     symmetric, no zero point: scale = max|w| / (2^(b-1) - 1),
//                 q = clamp(round(w / scale), -2^(b-1), 2^(b-1) - 1); w_hat = q * scale.
//                 An all-zero group has scale 0 and reproduces zeros exactly.
//   QUANT_GPTQ_RTN  the GPTQ paper's RTN baseline: asymmetric like MINMAX but with the range
//                 widened to include 0 (min = min(min, 0), max = max(max, 0)) and
//                 scale = (max - min) / (2^b - 1), zero = round(-min / scale); a group with
//                 max == min == 0 uses min = -1, max = +1 as the GPTQ code does.
// With scale_dtype F16 / BF16 the scale is rounded to that dtype right after it is computed
// (before the zero point and the codes), so every formula above then uses the rounded scale.
// Groups: g > 0 splits each row into ceil(cols / g) groups; when g does not divide cols the
// last group is shorter (cols % g channels). g = -1 is one group per row.
#ifndef AH_QUANT_H
#define AH_QUANT_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef enum { QUANT_RTN, QUANT_MINMAX, QUANT_GPTQ_RTN } quant_kind;

// The dtype a group's scale is rounded to as soon as it is computed, before any code: an export
// format that stores fp16 scales (AutoAWQ, GPTQ, GGUF blocks) quantizes with QUANT_SCALE_F16
// so the codes are the ones its rounded scales give, and the perplexity the harness reports is
// that of the file (FORMATS.md, "Rule for exporters"). F32 (0, the default) rounds nothing.
// QUANT_SCALE_F16_Q41: an fp16 value with at most 7 significant bits, so that for every zero
// z in [0, 15] the product s * z is an fp16 value too: GGUF's Q4_1 stores d = s and the minimum
// m = -s * z in fp16 and dequantizes q * d + m, which is then exactly s * (q - z).
typedef enum { QUANT_SCALE_F32 = 0, QUANT_SCALE_F16, QUANT_SCALE_BF16, QUANT_SCALE_F16_Q41 }
    quant_scale_dtype;

typedef struct {
    quant_kind kind;
    int bits;        // 2..8
    int group;       // > 0, or -1 for whole rows
    quant_scale_dtype scale_dtype;   // scales rounded to this dtype first (default F32: none)
} quant_cfg;

// s rounded to the dtype d (F32: s itself). Exported so methods with scales of their own
// (GPTQ's groups) round the same way.
float quant_round_scale(float s, quant_scale_dtype d);
// "f32", "f16", "bf16", "f16-q41": the --scale-dtype spelling (records, keys, messages).
const char *quant_scale_dtype_name(quant_scale_dtype d);
// 1 when every scale rounded to `run` is a value of `stored` exactly (F32 holds all; an
// f16-q41 scale is an fp16 value): a file storing `stored` scales holds a run quantized with
// `run` scales without rounding them again.
int quant_scale_dtype_holds(quant_scale_dtype stored, quant_scale_dtype run);

// Validates a config: bits in 2..8, group > 0 or -1. Error names the bad field.
int quant_cfg_check(const quant_cfg *q, ah_err *e);
const char *quant_kind_name(quant_kind k);          // "rtn", "minmax", "gptq-rtn"
int quant_kind_parse(const char *s, quant_kind *k);  // -1 when unknown

// A group size meaning "one group per row" (every input channel of a row shares a scale).
#define QUANT_GROUP_ROW (-1)

// Groups per row for cols input channels.
size_t quant_groups(size_t cols, int group);
// How tables, plots and messages name a group size: "g128", or "per-row" for group <= 0 (one
// representation for people; INI values and run ids write "row"). Returns buf.
const char *quant_group_label(double group, char *buf, size_t cap);

// Fake quantization in place: W (rows, cols) <- dequant(quant(W)). OpenMP over rows.
void quant_fake(float *W, size_t rows, size_t cols, const quant_cfg *q);

// Integer codes for export. codes (rows, cols): unsigned code q in [0, 2^b) (RTN stores
// q + 2^(b-1) so every kind is unsigned); scale (rows, groups); zero (rows, groups) as the
// unsigned code that represents 0.0 (RTN: 2^(b-1)). Dequantization for every kind:
//   w_hat = (code - zero) * scale
// which reproduces quant_fake bit for bit.
void quant_codes(uint8_t *codes, float *scale, float *zero, const float *W, size_t rows,
                 size_t cols, const quant_cfg *q);
void quant_dequant(float *W, const uint8_t *codes, const float *scale, const float *zero,
                   size_t rows, size_t cols, const quant_cfg *q);

// One group's (scale, zero) from its n >= 1 weights w, exactly as quant_fake / quant_codes
// compute them (GPTQ computes each group's parameters itself, from its error-updated weights).
void quant_group_params(float *scale, float *zero, const float *w, size_t n, const quant_cfg *q);
// One weight's code (an exact integer in [0, 2^b - 1], as a float) under (scale, zero): the
// same operations as quant_codes (scale == 0: the zero point). w_hat = (code - zero) * scale.
static inline float quant_code1(float w, float scale, float zero, float maxq) {
    if (scale == 0.0f) return zero;
    float c = rintf(w / scale) + zero;
    c = c > 0.0f ? c : 0.0f;
    return c < maxq ? c : maxq;
}

// Packs codes of `bits` bits into bytes, little-endian within a byte: for bits <= 4 two codes
// per byte at bits 4 (b = 3, 4) or four per byte at b = 2 — in general floor(8 / b) codes per
// byte, first code in the lowest bits; b > 4 uses one byte per code. Returns bytes written.
size_t quant_pack(uint8_t *out, const uint8_t *codes, size_t n, int bits);
void quant_unpack(uint8_t *codes, const uint8_t *packed, size_t n, int bits);
size_t quant_packed_size(size_t n, int bits);

#endif
