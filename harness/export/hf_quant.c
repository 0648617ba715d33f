// hf_quant.c — AutoAWQ GEMM, GPTQ and compressed-tensors model directories (hf_quant.h).
//
// Dims legend: O = out_features (rows of a linear's W), I = in_features (cols), g = group
// size (-1: one group of I), G = groups per row, b = bits, per = 32 / b.
// Every format stores the same numbers: W[o, i] = s[o, g(i)] * (q[o, i] - z[o, g(i)]) with the
// harness's codes q, zeros z and scales s (quant.h), only packed and laid out differently:
//   awq   NAME.qweight I32 (I, O/8), NAME.qzeros I32 (G, O/8), NAME.scales F16 (G, O)
//   gptq  NAME.qweight I32 (I/per, O), NAME.qzeros I32 (G, O/per) (v1: z - 1),
//         NAME.scales F16 (G, O), NAME.g_idx I32 (I)
//   ct    NAME.weight_packed I32 (O, ceil(I*b/32)), NAME.weight_scale (O, G) in the linear's
//         dtype, NAME.weight_shape I64 (2) = [O, I], NAME.weight_zero_point I32
//         (ceil(O*b/32), G) for asymmetric codes only
// where NAME is the linear's tensor name without ".weight".
#include "export/hf_quant.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/half.h"
#include "core/mem.h"
#include "export/export_dir.h"
#include "export/pack.h"

#define HQ_MAX_PARTS 5

typedef struct {
    const char *suffix;        // appended to NAME
    st_dtype dtype;
    int ndim;
    int64_t shape[2];
} hq_part;

// How one format lays out a linear: its parts and their shapes.
typedef struct {
    const char *name;          // --format value, for messages
    int n_parts;
    hq_part part[HQ_MAX_PARTS];
} hq_layout;

typedef struct {
    hq_format f;
    int bits, group, sym;      // sym: every zero is 2^(b-1) (the rtn quantizer)
    int gptq_v1;               // gptq: checkpoint_format "gptq" (z - 1 stored) vs "gptq_v2"
} hq_spec;

static const char *FORMAT_NAME[] = {[HQ_AWQ] = "awq", [HQ_GPTQ] = "gptq",
                                    [HQ_CT] = "compressed-tensors"};

quant_scale_dtype qexport_hq_scale_dtype(hq_format f, const model *m) {
    if (f != HQ_CT) return QUANT_SCALE_F16;
    st_dtype d = model_lw(m, 0, L_Q)->dtype;
    return d == ST_F16 ? QUANT_SCALE_F16 : d == ST_BF16 ? QUANT_SCALE_BF16 : QUANT_SCALE_F32;
}

static st_dtype scale_st_dtype(quant_scale_dtype d) {
    return d == QUANT_SCALE_F16 ? ST_F16 : d == QUANT_SCALE_BF16 ? ST_BF16 : ST_F32;
}

static hq_spec spec_of(hq_format f, const method_cfg *mc) {
    hq_spec s = {.f = f, .bits = mc->q.bits, .group = mc->q.group,
                 .sym = mc->q.kind == QUANT_RTN};
    s.gptq_v1 = f == HQ_GPTQ && s.sym;
    return s;
}

// The parts of an (O, I) linear under spec s, scales in dtype sd.
static hq_layout layout_of(const hq_spec *s, int64_t O, int64_t I, st_dtype sd) {
    hq_layout L = {.name = FORMAT_NAME[s->f]};
    int64_t G = (int64_t)quant_groups((size_t)I, s->group), per = 32 / s->bits;
    switch (s->f) {
    case HQ_AWQ:
        L.n_parts = 3;
        L.part[0] = (hq_part){"qweight", ST_I32, 2, {I, O / 8}};
        L.part[1] = (hq_part){"qzeros", ST_I32, 2, {G, O / 8}};
        L.part[2] = (hq_part){"scales", ST_F16, 2, {G, O}};
        break;
    case HQ_GPTQ:
        L.n_parts = 4;
        L.part[0] = (hq_part){"qweight", ST_I32, 2, {I / per, O}};
        L.part[1] = (hq_part){"qzeros", ST_I32, 2, {G, O / per}};
        L.part[2] = (hq_part){"scales", ST_F16, 2, {G, O}};
        L.part[3] = (hq_part){"g_idx", ST_I32, 1, {I, 0}};
        break;
    case HQ_CT:
        L.n_parts = s->sym ? 3 : 4;
        L.part[0] = (hq_part){"weight_packed", ST_I32, 2,
                              {O, (int64_t)qpack_dense_words((size_t)I, s->bits)}};
        L.part[1] = (hq_part){"weight_scale", sd, 2, {O, G}};
        L.part[2] = (hq_part){"weight_shape", ST_I64, 1, {2, 0}};
        if (!s->sym)
            L.part[3] = (hq_part){"weight_zero_point", ST_I32, 2,
                                  {(int64_t)qpack_dense_words((size_t)O, s->bits), G}};
        break;
    }
    return L;
}

static size_t part_bytes(const hq_part *p) {
    size_t n = (size_t)p->shape[0] * (p->ndim > 1 ? (size_t)p->shape[1] : 1);
    return n * st_dtype_size(p->dtype);
}

// ---------------------------------------------------------------------------------------------
// check

int qexport_hq_check(hq_format f, const model *m, const method_cfg *mc, ah_err *e) {
    const char *fn = FORMAT_NAME[f];
    const int b = mc->q.bits, g = mc->q.group;
    if (!m->st)
        return ah_fail(e, "--format %s writes a HuggingFace directory; %s is a %s file "
                       "(convert it to a HuggingFace directory first)", fn, m->path, m->gguf ? "GGUF" : "llama2.c");
    if (mc->kind == METHOD_IMATRIX && qexport_hq_scale_dtype(f, m) != QUANT_SCALE_F32)
        return ah_fail(e, "--format %s stores %s scales; imatrix fits fp32 scales of its own, so "
                       "its codes would not be the file's: choose another method",
                       fn, f == HQ_CT ? "16-bit" : "fp16");
    if (mc->salient_pct > 0)
        return ah_fail(e, "--format %s cannot hold input channels kept in full precision "
                       "(--salient-pct %g): every weight is a code", fn, mc->salient_pct);
    if (f == HQ_AWQ && b != 4)
        return ah_fail(e, "--format awq: AutoAWQ GEMM holds 4-bit codes only, not %d-bit", b);
    if (f == HQ_GPTQ && b != 2 && b != 4 && b != 8)
        return ah_fail(e, "--format gptq: this writer packs 2, 4 or 8 bits, not %d (GPTQ's "
                       "3-bit word-straddling layout is not written)", b);
    if (f == HQ_CT && b != 4 && b != 8)
        return ah_fail(e, "--format compressed-tensors: W4A16 or W8A16 (4 or 8 bits), not %d", b);
    if (f == HQ_AWQ && g <= 0)
        return ah_fail(e, "--format awq: AutoAWQ GEMM needs a group size (got one group per row)");
    const int per = 32 / b;
    for (int r = 0; r < L_COUNT; r++) {
        const model_weight *w = model_lw(m, 0, r);
        if (!arch_role_is_linear(r) || !w->data) continue;
        int64_t O = w->shape[0], I = w->shape[1];
        if (g > 0 && I % g)
            return ah_fail(e, "--format %s: group size %d does not divide the %lld input channels "
                           "of '%s' (a ragged last group has no place in the format)",
                           fn, g, (long long)I, w->name);
        if (f == HQ_AWQ && O % 8)
            return ah_fail(e, "--format awq: '%s' has %lld output channels, not a multiple of 8",
                           w->name, (long long)O);
        if (f == HQ_GPTQ && (I % per || O % per))
            return ah_fail(e, "--format gptq: '%s' is %lldx%lld; %d-bit GPTQ packs %d channels "
                           "per word along both", w->name, (long long)O, (long long)I, b, per);
    }
    return 0;
}

// ---------------------------------------------------------------------------------------------
// one linear: integer form -> the format's tensors, and back

// The tensors of one quantized linear, built whole when its first byte is asked for.
typedef struct {
    size_t src;                // index of the source tensor in the st_set
    hq_layout L;
    void *data[HQ_MAX_PARTS];
} hq_built;

static void built_free(hq_built *b) {
    for (int k = 0; k < HQ_MAX_PARTS; k++) free(b->data[k]);
    memset(b, 0, sizeof *b);
    b->src = (size_t)-1;
}

static void put_scales(void *out, const float *s, size_t n, st_dtype d) {
    if (d == ST_F16) for (size_t i = 0; i < n; i++) ((uint16_t *)out)[i] = ah_f32_to_f16(s[i]);
    else if (d == ST_BF16) for (size_t i = 0; i < n; i++) ((uint16_t *)out)[i] = ah_f32_to_bf16(s[i]);
    else memcpy(out, s, n * sizeof(float));
}

// codes (O, I), scales (O, G), zeros (O, G) -> b->data per b->L. sT: scratch (G, O).
static void pack_linear(hq_built *b, const hq_spec *s, const uint8_t *codes, const float *scales,
                        const uint8_t *zeros, size_t O, size_t I, size_t G, float *sT) {
    for (size_t o = 0; o < O; o++)
        for (size_t g = 0; g < G; g++) sT[g * O + o] = scales[o * G + g];
    switch (s->f) {
    case HQ_AWQ:
        qpack_awq(b->data[0], codes, O, I);
        qpack_awq(b->data[1], zeros, O, G);
        put_scales(b->data[2], sT, G * O, ST_F16);
        break;
    case HQ_GPTQ:
        qpack_gptq_weight(b->data[0], codes, O, I, s->bits);
        qpack_gptq_zeros(b->data[1], zeros, O, G, s->bits, s->gptq_v1);
        put_scales(b->data[2], sT, G * O, ST_F16);
        for (size_t i = 0; i < I; i++)   // no act-order reordering: channel i is in group i / g
            ((int32_t *)b->data[3])[i] = (int32_t)(s->group > 0 ? i / (size_t)s->group : 0);
        break;
    case HQ_CT: {
        size_t nw = qpack_dense_words(I, s->bits);
        for (size_t o = 0; o < O; o++)
            qpack_dense((uint32_t *)b->data[0] + o * nw, 1, codes + o * I, I, 1, s->bits);
        put_scales(b->data[1], scales, O * G, b->L.part[1].dtype);
        int64_t shape[2] = {(int64_t)O, (int64_t)I};
        memcpy(b->data[2], shape, sizeof shape);
        if (!s->sym)   // packed along O: column g of zeros is one bit stream, word w at [w, g]
            for (size_t g = 0; g < G; g++)
                qpack_dense((uint32_t *)b->data[3] + g, G, zeros + g, O, G, s->bits);
        break;
    }
    }
}

static float get_scale(const void *p, size_t i, st_dtype d) {
    uint16_t h;
    float f;
    if (d == ST_F32) return memcpy(&f, (const char *)p + 4 * i, 4), f;
    memcpy(&h, (const char *)p + 2 * i, 2);
    return d == ST_F16 ? ah_f16_to_f32(h) : ah_bf16_to_f32(h);
}

// The format's tensors t[] of one (O, I) linear -> w (O, I) = s * (q - z) in fp32, as the
// format's own dequantization computes it. Data may sit at any alignment: copied first.
static int unpack_linear(float *w, const hq_spec *s, const st_tensor *const *t, size_t O,
                         size_t I, size_t G, ah_err *e) {
    uint8_t *codes = malloc(O * I + 1), *zeros = malloc(O * G + 1);
    uint32_t *words[2] = {malloc(t[0]->nbytes + 1), malloc(s->f == HQ_CT && s->sym ? 1 : t[s->f == HQ_CT ? 3 : 1]->nbytes + 1)};
    int rc = 0;
    if (!codes || !zeros || !words[0] || !words[1]) {
        rc = ah_fail(e, "out of memory reading the export back");
        goto out;
    }
    memcpy(words[0], t[0]->data, t[0]->nbytes);
    const st_tensor *sc = t[s->f == HQ_CT ? 1 : 2];
    switch (s->f) {
    case HQ_AWQ:
        memcpy(words[1], t[1]->data, t[1]->nbytes);
        qpack_awq_unpack(codes, words[0], O, I);
        qpack_awq_unpack(zeros, words[1], O, G);
        break;
    case HQ_GPTQ: {
        memcpy(words[1], t[1]->data, t[1]->nbytes);
        qpack_gptq_weight_unpack(codes, words[0], O, I, s->bits);
        qpack_gptq_zeros_unpack(zeros, words[1], O, G, s->bits, s->gptq_v1);
        for (size_t i = 0; i < I && !rc; i++) {
            int32_t gi;
            memcpy(&gi, (const char *)t[3]->data + 4 * i, 4);
            if (gi != (int32_t)(s->group > 0 ? i / (size_t)s->group : 0))
                rc = ah_fail(e, "read back: g_idx[%zu] = %d", i, gi);
        }
        break;
    }
    case HQ_CT: {
        size_t nw = qpack_dense_words(I, s->bits);
        for (size_t o = 0; o < O; o++) qpack_dense_unpack(codes + o * I, 1, words[0] + o * nw, 1, I, s->bits);
        if (s->sym) memset(zeros, 1 << (s->bits - 1), O * G);
        else {
            memcpy(words[1], t[3]->data, t[3]->nbytes);
            for (size_t g = 0; g < G; g++) qpack_dense_unpack(zeros + g, G, words[1] + g, G, O, s->bits);
        }
        break;
    }
    }
    size_t gl = s->group > 0 ? (size_t)s->group : I;
    for (size_t o = 0; o < O && !rc; o++)
        for (size_t i = 0; i < I; i++) {
            size_t g = i / gl;
            float sv = s->f == HQ_CT ? get_scale(sc->data, o * G + g, sc->dtype)
                                     : get_scale(sc->data, g * O + o, sc->dtype);
            w[o * I + i] = ((float)codes[o * I + i] - (float)zeros[o * G + g]) * sv;
        }
out:
    free(codes);
    free(zeros);
    free(words[0]);
    free(words[1]);
    return rc;
}

// ---------------------------------------------------------------------------------------------
// model.safetensors

// One output tensor: a source tensor as the harness evaluated it (part -1) or part k of the
// quantized linear that replaces source tensor src.
typedef struct {
    size_t src;
    int part;
} hq_item;

typedef struct {
    qexport *x;
    const model *m;
    hq_spec s;
    st_dtype scale_dt;
    const hq_item *items;
    hq_built cur;
    float *rowbuf;             // rows of an evaluated tensor being copied
    size_t rowbuf_cap;
} hq_writer;

// The source tensor i as a model_weight (what the export's lookups take).
static model_weight weight_of(const model *m, size_t i) {
    const st_tensor *t = st_at(m->st, i);
    model_weight w = {.name = t->name, .dtype = t->dtype, .data = t->data, .ndim = t->ndim > 1 ? 2 : 1};
    w.shape[0] = t->ndim > 1 ? t->shape[0] : (int64_t)t->numel;
    w.shape[1] = t->ndim > 1 ? (int64_t)(t->numel / (size_t)t->shape[0]) : 1;
    return w;
}

static int is_float(st_dtype d) { return d == ST_F32 || d == ST_F16 || d == ST_BF16; }

static int build_linear(hq_writer *w, size_t src, ah_err *e) {
    built_free(&w->cur);
    model_weight mw = weight_of(w->m, src);
    size_t O = (size_t)mw.shape[0], I = (size_t)mw.shape[1], G = quant_groups(I, w->s.group);
    w->cur.src = src;
    w->cur.L = layout_of(&w->s, (int64_t)O, (int64_t)I, w->scale_dt);
    uint8_t *codes = malloc(O * I + 1), *zeros = malloc(O * G + 1);
    float *scales = malloc(O * G * sizeof(float) + 1), *sT = malloc(O * G * sizeof(float) + 1);
    int rc = !codes || !zeros || !scales || !sT ? ah_fail(e, "out of memory exporting '%s'", mw.name) : 0;
    for (int k = 0; k < w->cur.L.n_parts && !rc; k++)
        if (!(w->cur.data[k] = calloc(1, part_bytes(&w->cur.L.part[k]) + 1)))
            rc = ah_fail(e, "out of memory exporting '%s'", mw.name);
    int kept = 0;
    if (!rc) rc = qexport_linear_int(w->x, &mw, codes, scales, zeros, &kept, e);
    if (!rc && kept) rc = ah_fail(e, "'%s' keeps %d channels in full precision", mw.name, kept);
    for (size_t i = 0; i < O * G && !rc; i++)   // the quantizer rounded them: exact, finite
        if (!isfinite(scales[i]) ||
            (w->scale_dt == ST_F16 && ah_f16_to_f32(ah_f32_to_f16(scales[i])) != scales[i]) ||
            (w->scale_dt == ST_BF16 && ah_bf16_to_f32(ah_f32_to_bf16(scales[i])) != scales[i]))
            rc = ah_fail(e, "'%s': scale %g (row %zu, group %zu) is not a %s value; the method "
                         "did not round its scales for this format", mw.name, scales[i], i / G,
                         i % G, st_dtype_name(w->scale_dt));
    if (!rc) pack_linear(&w->cur, &w->s, codes, scales, zeros, O, I, G, sT);
    free(codes);
    free(zeros);
    free(scales);
    free(sT);
    return rc;
}

static void to_dtype(void *out, const float *v, size_t n, st_dtype d) {
    if (d == ST_F16) for (size_t i = 0; i < n; i++) ((uint16_t *)out)[i] = ah_f32_to_f16(v[i]);
    else if (d == ST_BF16) for (size_t i = 0; i < n; i++) ((uint16_t *)out)[i] = ah_f32_to_bf16(v[i]);
    else memcpy(out, v, n * sizeof(float));
}

static int fill(void *ctx, size_t i, void *buf, size_t off, size_t len, ah_err *e) {
    hq_writer *w = ctx;
    const hq_item *it = &w->items[i];
    const st_tensor *t = st_at(w->m->st, it->src);
    if (it->part >= 0) {
        if (w->cur.src != it->src && build_linear(w, it->src, e)) return -1;
        memcpy(buf, (const char *)w->cur.data[it->part] + off, len);
        return 0;
    }
    model_weight mw = weight_of(w->m, it->src);
    if (!is_float(t->dtype)) {   // not a weight the harness reads: as stored
        memcpy(buf, (const char *)t->data + off, len);
        return 0;
    }
    // The values the harness evaluated (AWQ's folded norms included), in the dtype they are exact in.
    st_dtype d = qexport_value_dtype(w->x, &mw);
    size_t cols = mw.ndim == 2 ? (size_t)mw.shape[1] : (size_t)mw.shape[0];   // 1-D: one row
    size_t es = st_dtype_size(d), rb = cols * es;
    size_t r0 = off / rb, r1 = (off + len + rb - 1) / rb;
    size_t need = (r1 - r0) * cols * (sizeof(float) + es);
    if (need > w->rowbuf_cap) {
        free(w->rowbuf);
        if (!(w->rowbuf = malloc(need))) {
            w->rowbuf_cap = 0;
            return ah_fail(e, "out of memory exporting '%s'", t->name);
        }
        w->rowbuf_cap = need;
    }
    float *v = w->rowbuf;
    void *raw = v + (r1 - r0) * cols;
    if (qexport_rows_f32(w->x, &mw, v, r0, r1 - r0, e)) return -1;
    to_dtype(raw, v, (r1 - r0) * cols, d);
    memcpy(buf, (const char *)raw + (off - r0 * rb), len);
    if (d == t->dtype) st_release(w->m->st, (const char *)t->data + off, len);
    return 0;
}

// The output tensors in source order; names and items owned by the caller.
static int list_tensors(hq_writer *w, st_write_tensor **tp, hq_item **ip, char **namesp,
                        size_t *np, ah_err *e) {
    size_t n = st_count(w->m->st), cap = n * HQ_MAX_PARTS + 1, k = 0;
    st_write_tensor *t = calloc(cap, sizeof *t);
    hq_item *it = calloc(cap, sizeof *it);
    char *names = calloc(cap, MODEL_NAME_CAP + 32);
    if (!t || !it || !names) {
        free(t), free(it), free(names);
        return ah_fail(e, "out of memory (export)");
    }
    for (size_t i = 0; i < n; i++) {
        const st_tensor *s = st_at(w->m->st, i);
        model_weight mw = weight_of(w->m, i);
        if (!qexport_is_quantized(w->x, &mw)) {
            t[k] = (st_write_tensor){.name = s->name, .ndim = s->ndim,
                                     .dtype = is_float(s->dtype) ? qexport_value_dtype(w->x, &mw) : s->dtype};
            memcpy(t[k].shape, s->shape, sizeof t[k].shape);
            it[k++] = (hq_item){i, -1};
            continue;
        }
        size_t nl = strlen(s->name);
        if (nl < 7 || strcmp(s->name + nl - 7, ".weight")) {
            free(t), free(it), free(names);
            return ah_fail(e, "'%s': a quantized linear's name must end in .weight", s->name);
        }
        hq_layout L = layout_of(&w->s, mw.shape[0], mw.shape[1], w->scale_dt);
        for (int p = 0; p < L.n_parts; p++) {
            char *nm = names + k * (MODEL_NAME_CAP + 32);
            snprintf(nm, MODEL_NAME_CAP + 32, "%.*s.%s", (int)(nl - 7), s->name, L.part[p].suffix);
            t[k] = (st_write_tensor){.name = nm, .dtype = L.part[p].dtype, .ndim = L.part[p].ndim,
                                     .shape = {L.part[p].shape[0], L.part[p].shape[1]}};
            it[k++] = (hq_item){i, p};
        }
    }
    *tp = t, *ip = it, *namesp = names, *np = k;
    return 0;
}

// Reads tmp/model.safetensors back and compares every quantized linear with the evaluated
// weights: *max_diff = max |dequant(file) rounded to the linear's dtype - evaluated|.
static int read_back(hq_writer *w, const char *file, double *max_diff, size_t *n_lin, ah_err *e) {
    st_set *st = st_open(file, e);
    if (!st) return -1;
    int rc = 0;
    *max_diff = 0;
    *n_lin = 0;
    for (size_t i = 0; i < st_count(w->m->st) && !rc; i++) {
        model_weight mw = weight_of(w->m, i);
        if (!qexport_is_quantized(w->x, &mw)) continue;
        size_t O = (size_t)mw.shape[0], I = (size_t)mw.shape[1], G = quant_groups(I, w->s.group);
        hq_layout L = layout_of(&w->s, (int64_t)O, (int64_t)I, w->scale_dt);
        const st_tensor *t[HQ_MAX_PARTS] = {0};
        size_t nl = strlen(mw.name) - 7;
        for (int p = 0; p < L.n_parts && !rc; p++) {
            char nm[MODEL_NAME_CAP + 32];
            snprintf(nm, sizeof nm, "%.*s.%s", (int)nl, mw.name, L.part[p].suffix);
            if (!(t[p] = st_find(st, nm)) || t[p]->nbytes != part_bytes(&L.part[p]))
                rc = ah_fail(e, "%s: read back: tensor '%s' missing or of the wrong size", file, nm);
        }
        float *got = malloc(O * I * sizeof(float) + 1), *ref = malloc(O * I * sizeof(float) + 1);
        if (!rc && (!got || !ref)) rc = ah_fail(e, "out of memory reading the export back");
        if (!rc) rc = unpack_linear(got, &w->s, t, O, I, G, e);
        if (!rc) rc = qexport_rows_f32(w->x, &mw, ref, 0, O, e);
        st_dtype d = qexport_value_dtype(w->x, &mw);
        for (size_t k = 0; k < O * I && !rc; k++) {
            float g = got[k];
            if (d == ST_F16) g = ah_f16_to_f32(ah_f32_to_f16(g));
            if (d == ST_BF16) g = ah_bf16_to_f32(ah_f32_to_bf16(g));
            double diff = fabs((double)g - (double)ref[k]);
            if (!(diff <= *max_diff)) *max_diff = isnan(diff) ? INFINITY : diff;
        }
        free(got);
        free(ref);
        (*n_lin)++;
    }
    st_close(st);
    return rc;
}

// ---------------------------------------------------------------------------------------------
// config.json, quantize_config.json, tokenizer files

static json_t *quant_config(const hq_spec *s, st_dtype scale_dt) {
    switch (s->f) {
    case HQ_AWQ:   // AwqConfig.to_transformers_dict (FORMATS.md 1)
        return json_pack("{s:s, s:b, s:i, s:i, s:s, s:[s]}", "quant_method", "awq", "zero_point", 1,
                         "group_size", s->group, "bits", s->bits, "version", "gemm",
                         "modules_to_not_convert", "lm_head");
    case HQ_GPTQ: {   // AutoGPTQ BaseQuantizeConfig.to_dict + GPTQModel's format keys (FORMATS.md 2)
        const char *cf = s->gptq_v1 ? "gptq" : "gptq_v2";
        return json_pack("{s:i, s:i, s:b, s:b, s:f, s:b, s:b, s:s, s:s, s:s, s:s, s:n, s:s, s:b}",
                         "bits", s->bits, "group_size", s->group, "desc_act", 0, "sym", s->sym,
                         "damp_percent", 0.01, "true_sequential", 1, "static_groups", 0,
                         "quant_method", "gptq", "checkpoint_format", cf, "format", cf,
                         "pack_dtype", "int32", "model_name_or_path", "model_file_base_name",
                         "model", "lm_head", 0);
    }
    case HQ_CT: {   // QuantizationConfig as llm-compressor saves W4A16 / W8A16 (FORMATS.md 3)
        json_t *wt = json_pack("{s:i, s:s, s:b, s:s, s:b, s:n, s:s}", "num_bits", s->bits,
                               "type", "int", "symmetric", s->sym,
                               "strategy", s->group > 0 ? "group" : "channel", "dynamic", 0,
                               "actorder", "observer", "minmax");
        if (s->group > 0) json_object_set_new(wt, "group_size", json_integer(s->group));
        (void)scale_dt;
        return json_pack("{s:s, s:s, s:s, s:{s:{s:[s], s:o, s:n, s:n}}, s:[s], s:n, s:n}",
                         "quant_method", "compressed-tensors", "format", "pack-quantized",
                         "quantization_status", "compressed", "config_groups", "group_0",
                         "targets", "Linear", "weights", wt, "input_activations",
                         "output_activations", "ignore", "lm_head", "kv_cache_scheme",
                         "global_compression_ratio");
    }
    }
    return NULL;
}

static int write_json(const char *dir, const char *name, json_t *j, ah_err *e) {
    char path[4200];
    ah_path_join(path, sizeof path, dir, name);
    int rc = json_dump_file(j, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    return rc ? ah_fail(e, "%s: write failed (disk full?)", path) : 0;
}

static int write_side_files(const model *m, const hq_spec *s, st_dtype scale_dt, const char *dir,
                            ah_err *e) {
    char from[4200];
    ah_path_join(from, sizeof from, m->path, "config.json");
    json_error_t je;
    json_t *cfg = json_load_file(from, 0, &je);
    if (!json_is_object(cfg)) {
        json_decref(cfg);
        return ah_fail(e, "%s:%d: %s", from, je.line, je.text);
    }
    json_t *qc = quant_config(s, scale_dt);
    int rc = qc ? 0 : ah_fail(e, "out of memory (config.json)");
    if (!rc && s->f == HQ_GPTQ) rc = write_json(dir, "quantize_config.json", qc, e);
    if (!rc) json_object_set(cfg, "quantization_config", qc);
    if (!rc) rc = write_json(dir, "config.json", cfg, e);
    json_decref(qc);
    json_decref(cfg);
    for (const char *const *side = QEXPORT_SIDE_FILES; *side && !rc; side++) {
        char to[4200];
        if (!strcmp(*side, "config.json")) continue;
        ah_path_join(from, sizeof from, m->path, *side);
        ah_path_join(to, sizeof to, dir, *side);
        if (!ah_is_file(from)) continue;
        size_t len;
        char *buf = ah_read_file(from, &len, e);
        if (!buf) return -1;
        FILE *f = fopen(to, "wb");
        int bad = !f || fwrite(buf, 1, len, f) != len;
        if (f) bad |= fclose(f) != 0;
        free(buf);
        if (bad) rc = ah_fail(e, "%s: write failed (disk full?)", to);
    }
    return rc;
}

// ---------------------------------------------------------------------------------------------

static char *manifest_with(const char *manifest_json, const hq_spec *s, double max_diff,
                           size_t n_lin, ah_err *e) {
    json_t *j = json_loads(manifest_json, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        ah_fail(e, "export: the manifest is not a JSON object");
        return NULL;
    }
    json_object_del(j, "packed_layout");
    json_object_set_new(j, "format", json_string(FORMAT_NAME[s->f]));
    if (s->f == HQ_GPTQ)
        json_object_set_new(j, "checkpoint_format", json_string(s->gptq_v1 ? "gptq" : "gptq_v2"));
    json_object_set_new(j, "weights", json_string(
        "model.safetensors: each quantized linear's codes, zeros and scales in the format's own "
        "tensors (docs/EXPORT.md), every other tensor with the values the harness evaluated"));
    json_object_set_new(j, "export_check", json_pack("{s:f, s:I, s:s}", "max_abs_diff", max_diff,
        "linears", (json_int_t)n_lin, "what", "model.safetensors read back and dequantized "
        "(s * (q - z), rounded to each linear's dtype) against the weights the harness evaluated"));
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (!text) ah_fail(e, "out of memory (manifest)");
    return text;
}

int qexport_hq_write(hq_format f, qexport *x, const model *m, const char *out,
                     const char *manifest_json, double *max_diff, ah_err *e) {
    hq_writer w = {.x = x, .m = m, .s = spec_of(f, qexport_method(x)),
                   .scale_dt = scale_st_dtype(qexport_hq_scale_dtype(f, m))};
    w.cur.src = (size_t)-1;
    st_write_tensor *t = NULL;
    hq_item *items = NULL;
    char *names = NULL, *man = NULL, tmp[4200], file[4300];
    size_t n = 0, n_lin = 0;
    *max_diff = INFINITY;
    if (qexport_dir_begin(out, tmp, sizeof tmp, e)) return -1;
    int rc = list_tensors(&w, &t, &items, &names, &n, e);
    w.items = items;
    ah_path_join(file, sizeof file, tmp, "model.safetensors");
    if (!rc) rc = st_write_fill(file, t, n, "{\"format\": \"pt\"}", fill, &w, e);
    built_free(&w.cur);
    free(w.rowbuf);
    if (!rc) rc = read_back(&w, file, max_diff, &n_lin, e);
    if (!rc && *max_diff != 0)
        rc = ah_fail(e, "--format %s: %s read back differs from the evaluated weights by up to "
                     "%g", FORMAT_NAME[f], file, *max_diff);
    if (!rc) rc = write_side_files(m, &w.s, w.scale_dt, tmp, e);
    if (!rc && !(man = manifest_with(manifest_json, &w.s, *max_diff, n_lin, e))) rc = -1;
    if (!rc) rc = qexport_dir_manifest(tmp, man, e);
    if (!rc) rc = qexport_dir_commit(tmp, out, e);
    if (rc) qexport_dir_abort(tmp);
    free(man);
    free(t);
    free(items);
    free(names);
    return rc;
}
