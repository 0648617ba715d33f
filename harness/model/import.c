// import.c — published quantized checkpoints, dequantized at load (model.h, model_import_*):
// AutoAWQ GEMM, GPTQ (checkpoint_format gptq = v1, gptq_v2) and compressed-tensors
// pack-quantized. Layouts: ../shared/design/FORMATS.md sections 1-3 and export/pack.h; the
// writers of the same formats are export/hf_quant.c.
//
// Dims legend: O = out_features, I = in_features, G = groups per row, b = bits, per = 32 / b.
// Every linear becomes W[o, i] = s[o, g] * (q[o, i] - z[o, g]) computed in fp32 (the product
// of a small integer and a 16-bit scale is exact there) and rounded to the checkpoint's dtype
// (that of its embedding), as a runtime computing in that dtype gets it. GPTQ's g_idx gives g
// (act-order checkpoints included); the others use g = i / group.
// The dequantized weights live in memory for the model's lifetime (m->owned): a quantized
// checkpoint costs its dequantized linears in RAM, unlike a plain one that stays mapped.
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/half.h"
#include "export/pack.h"
#include "model/model.h"

// A field of quantization_config as an int: the first of the names present (AutoAWQ's own
// files say w_bit / q_group_size, transformers' bits / group_size). def when none is.
static int qc_int(const json_t *qc, const char *a, const char *b, int def) {
    const json_t *v = json_object_get(qc, a);
    if (!v && b) v = json_object_get(qc, b);
    return json_is_integer(v) ? (int)json_integer_value(v) : def;
}

static const char *qc_str(const json_t *qc, const char *key) {
    const json_t *v = json_object_get(qc, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

int model_import_detect(model *m, const char *cfg_text, const char *cfg_path, ah_err *e) {
    json_t *root = json_loads(cfg_text, 0, NULL);
    const json_t *qc = json_object_get(root, "quantization_config");
    model_quant *q = &m->quant;
    int rc = 0;
    memset(q, 0, sizeof *q);
    if (!json_is_object(qc)) goto done;
    const char *meth = qc_str(qc, "quant_method");
    if (!meth) {
        rc = ah_fail(e, "%s: quantization_config has no quant_method", cfg_path);
    } else if (!strcmp(meth, "awq")) {
        const char *ver = qc_str(qc, "version");
        json_t *zp = json_object_get(qc, "zero_point");
        q->format = MQ_AWQ;
        q->bits = qc_int(qc, "bits", "w_bit", 4);
        q->group = qc_int(qc, "group_size", "q_group_size", 128);
        if (ver && strcasecmp(ver, "gemm"))
            rc = ah_fail(e, "%s: AWQ version '%s': only the GEMM layout is read", cfg_path, ver);
        else if (zp && !json_is_true(zp))
            rc = ah_fail(e, "%s: AWQ zero_point false: AutoAWQ GEMM always has zeros", cfg_path);
    } else if (!strcmp(meth, "gptq")) {
        const char *cf = qc_str(qc, "checkpoint_format");
        if (!cf) cf = qc_str(qc, "format");
        q->format = MQ_GPTQ;
        q->bits = qc_int(qc, "bits", NULL, 4);
        q->group = qc_int(qc, "group_size", NULL, 128);
        q->gptq_v1 = !cf || !strcmp(cf, "gptq");
        if (cf && strcmp(cf, "gptq") && strcmp(cf, "gptq_v2"))
            rc = ah_fail(e, "%s: GPTQ checkpoint_format '%s': gptq or gptq_v2 are read", cfg_path, cf);
    } else if (!strcmp(meth, "compressed-tensors")) {
        const char *fmt = qc_str(qc, "format");
        const json_t *groups = json_object_get(qc, "config_groups");
        const char *key;
        json_t *g, *w = NULL;
        q->format = MQ_CT;
        if (!fmt || strcmp(fmt, "pack-quantized")) {
            rc = ah_fail(e, "%s: compressed-tensors format '%s': only pack-quantized is read",
                         cfg_path, fmt ? fmt : "(none)");
            goto done;
        }
        int n_groups = 0;
        json_object_foreach((json_t *)groups, key, g) {
            n_groups++;
            w = json_object_get(g, "weights");
        }
        const char *strat = w ? qc_str(w, "strategy") : NULL;
        if (n_groups != 1 || !json_is_object(w) || !strat)
            rc = ah_fail(e, "%s: compressed-tensors: one config group with weights and a strategy is "
                         "read (found %d groups)", cfg_path, n_groups);
        else if (strcmp(strat, "group") && strcmp(strat, "channel"))
            rc = ah_fail(e, "%s: compressed-tensors strategy '%s': group or channel are read", cfg_path, strat);
        else if (qc_str(w, "actorder") || (qc_str(w, "type") && strcmp(qc_str(w, "type"), "int")))
            rc = ah_fail(e, "%s: compressed-tensors: int weights without actorder are read", cfg_path);
        if (rc) goto done;
        q->bits = qc_int(w, "num_bits", NULL, 4);
        q->group = strcmp(strat, "channel") ? qc_int(w, "group_size", NULL, 128) : -1;
        q->sym = json_is_true(json_object_get(w, "symmetric"));
    } else {
        rc = ah_fail(e, "%s: quant_method '%s': awq, gptq or compressed-tensors are read", cfg_path, meth);
    }
    if (!rc && (q->bits < 2 || q->bits > 8 || (q->format == MQ_AWQ && q->bits != 4) ||
                (q->format == MQ_GPTQ && 32 % q->bits)))
        rc = ah_fail(e, "%s: %d-bit %s checkpoints are not read", cfg_path, q->bits, meth);
    if (!rc && (q->group == 0 || q->group < -1))
        rc = ah_fail(e, "%s: quantization_config group_size %d", cfg_path, q->group);
    if (!rc) {   // dequantized weights in the dtype of the rest of the checkpoint
        char emb[MODEL_NAME_CAP];
        snprintf(emb, sizeof emb, m->cfg.arch->global_names[G_EMBED], 0);
        const st_tensor *t = st_find(m->st, emb);
        q->dtype = t && (t->dtype == ST_F16 || t->dtype == ST_BF16) ? t->dtype : ST_F32;
    }
done:
    json_decref(root);
    return rc;
}

// ---------------------------------------------------------------------------------------------

// NAME.suffix, checked to have dtype d and the given shape (ndim 1 or 2).
static const st_tensor *need(const model *m, const char *base, const char *suffix, st_dtype d,
                             int ndim, int64_t s0, int64_t s1, ah_err *e) {
    char nm[MODEL_NAME_CAP + 32];
    snprintf(nm, sizeof nm, "%s.%s", base, suffix);
    const st_tensor *t = st_find(m->st, nm);
    if (!t) {
        ah_fail(e, "%s: quantized linear '%s': tensor '%s' missing", m->path, base, nm);
        return NULL;
    }
    int ok = t->dtype == d && t->ndim == ndim && t->shape[0] == s0 && (ndim < 2 || t->shape[1] == s1);
    if (!ok) {
        ah_fail(e, "%s: tensor '%s' is %s [%lld%s%lld]; expected %s [%lld%s%lld]", t->file, nm,
                st_dtype_name(t->dtype), (long long)t->shape[0], t->ndim > 1 ? "," : "",
                t->ndim > 1 ? (long long)t->shape[1] : 0LL, st_dtype_name(d), (long long)s0,
                ndim > 1 ? "," : "", ndim > 1 ? (long long)s1 : 0LL);
        return NULL;
    }
    return t;
}

// A tensor's bytes, copied (mapped data may sit at any alignment).
static void *copy_of(const st_tensor *t) {
    void *p = malloc(t->nbytes + 1);
    if (p) memcpy(p, t->data, t->nbytes);
    return p;
}

int model_import_linear(model *m, model_weight *w, const char *name, const int64_t shape[2],
                        ah_err *e) {
    const model_quant *q = &m->quant;
    const int64_t O = shape[0], I = shape[1], gl = q->group > 0 ? q->group : I;
    const int b = q->bits;
    char base[MODEL_NAME_CAP];
    snprintf(base, sizeof base, "%.*s", (int)strlen(name) - 7, name);
    if (I % gl)
        return ah_fail(e, "%s: '%s' has %lld input channels, not a multiple of group_size %lld",
                       m->path, base, (long long)I, (long long)gl);
    const int64_t G = I / gl, per = 32 / b;
    const st_tensor *qw = NULL, *qz = NULL, *sc = NULL, *gi = NULL;
    switch (q->format) {
    case MQ_AWQ:
        if (O % 8) return ah_fail(e, "%s: '%s' has %lld outputs, not a multiple of 8", m->path, base, (long long)O);
        qw = need(m, base, "qweight", ST_I32, 2, I, O / 8, e);
        qz = qw ? need(m, base, "qzeros", ST_I32, 2, G, O / 8, e) : NULL;
        sc = qz ? need(m, base, "scales", ST_F16, 2, G, O, e) : NULL;
        break;
    case MQ_GPTQ:
        if (I % per || O % per)
            return ah_fail(e, "%s: '%s' is %lldx%lld: %d-bit GPTQ needs both multiples of %lld",
                           m->path, base, (long long)O, (long long)I, b, (long long)per);
        qw = need(m, base, "qweight", ST_I32, 2, I / per, O, e);
        qz = qw ? need(m, base, "qzeros", ST_I32, 2, G, O / per, e) : NULL;
        sc = qz ? need(m, base, "scales", ST_F16, 2, G, O, e) : NULL;
        gi = sc ? need(m, base, "g_idx", ST_I32, 1, I, 0, e) : NULL;
        if (sc && !gi) return -1;
        break;
    case MQ_CT: {
        char nm[MODEL_NAME_CAP + 32];
        snprintf(nm, sizeof nm, "%s.weight_scale", base);
        const st_tensor *s0 = st_find(m->st, nm);
        st_dtype sd = s0 ? s0->dtype : ST_F32;
        qw = need(m, base, "weight_packed", ST_I32, 2, O, (int64_t)qpack_dense_words((size_t)I, b), e);
        sc = qw ? need(m, base, "weight_scale", sd == ST_F16 || sd == ST_BF16 ? sd : ST_F32, 2, O, G, e) : NULL;
        const st_tensor *ws = sc ? need(m, base, "weight_shape", ST_I64, 1, 2, 0, e) : NULL;
        if (sc && !ws) return -1;
        if (ws) {
            int64_t s2[2];
            memcpy(s2, ws->data, sizeof s2);
            if (s2[0] != O || s2[1] != I)
                return ah_fail(e, "%s: '%s.weight_shape' is [%lld, %lld]; config.json implies [%lld, %lld]",
                               ws->file, base, (long long)s2[0], (long long)s2[1], (long long)O, (long long)I);
        }
        if (sc && !q->sym)
            qz = need(m, base, "weight_zero_point", ST_I32, 2, (int64_t)qpack_dense_words((size_t)O, b), G, e);
        else if (sc) qz = sc;   // symmetric: no zero tensor
        break;
    }
    default:
        return ah_fail(e, "%s: '%s': not a quantized checkpoint", m->path, base);
    }
    if (!qw || !qz || !sc) return -1;

    const size_t n = (size_t)O * (size_t)I;
    uint8_t *codes = malloc(n + 1), *zeros = malloc((size_t)O * G + 1);
    uint32_t *words = copy_of(qw), *zw = q->format == MQ_CT && q->sym ? NULL : copy_of(qz);
    int32_t *gidx = gi ? copy_of(gi) : NULL;
    void *out = malloc(n * st_dtype_size(q->dtype) + 1);
    int rc = 0;
    if (!codes || !zeros || !words || (!zw && !(q->format == MQ_CT && q->sym)) || (gi && !gidx) || !out) {
        rc = ah_fail(e, "out of memory dequantizing '%s'", base);
        goto done;
    }
    switch (q->format) {
    case MQ_AWQ:
        qpack_awq_unpack(codes, words, (size_t)O, (size_t)I);
        qpack_awq_unpack(zeros, zw, (size_t)O, (size_t)G);
        break;
    case MQ_GPTQ:
        qpack_gptq_weight_unpack(codes, words, (size_t)O, (size_t)I, b);
        qpack_gptq_zeros_unpack(zeros, zw, (size_t)O, (size_t)G, b, q->gptq_v1);
        for (int64_t i = 0; i < I && !rc; i++)
            if (gidx[i] < 0 || gidx[i] >= G)
                rc = ah_fail(e, "%s: '%s.g_idx'[%lld] = %d outside [0, %lld)", gi->file, base,
                             (long long)i, gidx[i], (long long)G);
        break;
    case MQ_CT: {
        size_t nw = qpack_dense_words((size_t)I, b);
        for (int64_t o = 0; o < O; o++)
            qpack_dense_unpack(codes + o * I, 1, words + o * nw, 1, (size_t)I, b);
        if (q->sym) memset(zeros, 1 << (b - 1), (size_t)O * G);
        else
            for (int64_t g = 0; g < G; g++)
                qpack_dense_unpack(zeros + g, (size_t)G, zw + g, (size_t)G, (size_t)O, b);
        break;
    }
    default:
        break;
    }
    for (int64_t o = 0; o < O && !rc; o++)
        for (int64_t i = 0; i < I; i++) {
            int64_t g = gidx ? gidx[i] : i / gl;
            // scale s[o, g]: (G, O) for AWQ and GPTQ, (O, G) for compressed-tensors
            size_t si = q->format == MQ_CT ? (size_t)(o * G + g) : (size_t)(g * O + o);
            uint16_t h;
            float s;
            if (sc->dtype == ST_F32) memcpy(&s, (const char *)sc->data + 4 * si, 4);
            else {
                memcpy(&h, (const char *)sc->data + 2 * si, 2);
                s = sc->dtype == ST_F16 ? ah_f16_to_f32(h) : ah_bf16_to_f32(h);
            }
            if (!isfinite(s)) {
                rc = ah_fail(e, "%s: '%s' scale [%lld, %lld] is %g", sc->file, base,
                             (long long)o, (long long)g, s);
                break;
            }
            float v = ((float)codes[o * I + i] - (float)zeros[o * G + g]) * s;
            size_t k = (size_t)(o * I + i);
            if (q->dtype == ST_F16) ((uint16_t *)out)[k] = ah_f32_to_f16(v);
            else if (q->dtype == ST_BF16) ((uint16_t *)out)[k] = ah_f32_to_bf16(v);
            else ((float *)out)[k] = v;
        }
done:
    free(codes);
    free(zeros);
    free(words);
    free(zw);
    free(gidx);
    if (rc || model_own(m, out, e)) {
        if (rc) free(out);
        return -1;
    }
    w->dtype = q->dtype;
    w->data = out;
    w->ndim = 2;
    w->shape[0] = O;
    w->shape[1] = I;
    return 0;
}
