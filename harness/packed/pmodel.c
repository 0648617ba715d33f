// pmodel.c — a model's quantized linears as packed codes (pmodel.h).
#include "packed/pmodel.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/mem.h"

packed_set *packed_set_new(const model *m, const quant_cfg *q, ah_err *e) {
    packed_set *ps = calloc(1, sizeof *ps);
    if (!ps) {
        ah_fail(e, "out of memory (packed model)");
        return NULL;
    }
    ps->m = m;
    ps->q = *q;
    ps->n_layers = m->cfg.n_layers;
    if (!(ps->lin = calloc((size_t)ps->n_layers * L_COUNT, sizeof *ps->lin))) {
        free(ps);
        ah_fail(e, "out of memory (packed model)");
        return NULL;
    }
    return ps;
}

void packed_set_free(packed_set *ps) {
    if (!ps) return;
    for (size_t i = 0; i < (size_t)ps->n_layers * L_COUNT; i++) packed_linear_free(ps->lin[i]);
    free(ps->lin);
    ah_free(ps->scratch);
    free(ps);
}

size_t packed_set_bytes(const packed_set *ps) {
    size_t n = 0;
    for (size_t i = 0; i < (size_t)ps->n_layers * L_COUNT; i++)
        if (ps->lin[i]) n += packed_linear_bytes(ps->lin[i]);
    return n;
}

int packed_set_sink(void *ctx, int layer, arch_layer_role role, const float *W_hat,
                    const float *W_orig, const method_codes *qc, int r0, int n, int rows, int cols,
                    const int *keep_idx, int kept, ah_err *e) {
    (void)W_hat;
    (void)keep_idx;
    packed_set *ps = ctx;
    const char *name = model_lw(ps->m, layer, role)->name;
    if (kept > 0)
        return ah_fail(e, "packed weights: '%s' keeps %d input channels in full precision, which "
                       "the packed kernels do not hold (run without --packed)", name, kept);
    packed_linear **slot = &ps->lin[(size_t)layer * L_COUNT + role];
    if (r0 == 0) {
        packed_linear_free(*slot);
        if (!(*slot = packed_linear_new(rows, cols, ps->q.bits, ps->q.group, e))) return -1;
    }
    packed_linear *p = *slot;
    if (!p || p->rows != rows || p->cols != cols)
        return ah_fail(e, "packed weights: '%s' chunks arrive out of order", name);
    size_t G = (size_t)p->groups;
    if (qc) {   // the method's own codes (GPTQ, imatrix), indexed from row 0
        packed_linear_set_rows(p, r0, n, qc->codes + (size_t)r0 * cols, qc->scale + (size_t)r0 * G,
                               qc->zero + (size_t)r0 * G);
        return 0;
    }
    uint8_t *codes = malloc((size_t)n * cols + 1);
    float *sc = malloc((size_t)n * G * sizeof *sc + 1), *z = malloc((size_t)n * G * sizeof *z + 1);
    int rc = 0;
    if (!codes || !sc || !z) {
        rc = ah_fail(e, "out of memory packing '%s'", name);
    } else {
        quant_codes(codes, sc, z, W_orig, (size_t)n, (size_t)cols, &ps->q);
        packed_linear_set_rows(p, r0, n, codes, sc, z);
    }
    free(codes);
    free(sc);
    free(z);
    return rc;
}

int packed_set_attach(packed_set *ps, int layer, block_f32 *b, ah_err *e) {
    size_t need = 0;
    for (int r = 0; r < L_COUNT; r++) {
        const packed_linear *p = ps->lin[(size_t)layer * L_COUNT + r];
        size_t k = p ? packed_scratch(p) : 0;
        need = k > need ? k : need;
    }
    if (need > ps->scratch_n) {
        ah_free(ps->scratch);
        ps->scratch_n = 0;
        if (!(ps->scratch = ah_alloc(need, sizeof(float), "packed kernels' scratch", e))) return -1;
        ps->scratch_n = need;
    }
    for (int r = 0; r < L_COUNT; r++) b->pk[r] = ps->lin[(size_t)layer * L_COUNT + r];
    b->pk_scratch = ps->scratch;
    return 0;
}

block_f32 *packed_block_slim(const block_f32 *full, ah_err *e) {
    block_f32 *b = calloc(1, sizeof *b);
    if (!b) {
        ah_fail(e, "out of memory (block)");
        return NULL;
    }
    size_t total = 0;
    for (int r = 0; r < L_COUNT; r++)
        if (!arch_role_is_linear(r) && full->w[r]) total += (full->numel[r] + 15) & ~(size_t)15;
    if (!(b->arena = ah_calloc(total ? total : 1, sizeof(float), "block norms and biases", e))) {
        free(b);
        return NULL;
    }
    float *p = b->arena;
    for (int r = 0; r < L_COUNT; r++) {
        if (arch_role_is_linear(r) || !full->w[r]) continue;
        b->numel[r] = full->numel[r];
        b->w[r] = p;
        memcpy(p, full->w[r], full->numel[r] * sizeof(float));
        p += (full->numel[r] + 15) & ~(size_t)15;
    }
    return b;
}

// ----------------------------------------------------------------------------
// from an export

// bits and group_size of dir/manifest.json.
static int read_manifest(const char *dir, quant_cfg *q, ah_err *e) {
    char path[4200];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) return ah_fail(e, "%s:%d: %s", path, je.line, je.text);
    json_t *b = json_object_get(root, "bits"), *g = json_object_get(root, "group_size");
    int rc = 0;
    if (!json_is_integer(b) || !json_is_integer(g)) {
        rc = ah_fail(e, "%s: expected integer \"bits\" and \"group_size\"", path);
    } else {
        q->kind = QUANT_MINMAX;
        q->bits = (int)json_integer_value(b);
        q->group = (int)json_integer_value(g);
        ah_err why = {{0}};
        if ((rc = quant_cfg_check(q, &why))) ah_fail(e, "%s: %s", path, why.msg);
    }
    json_decref(root);
    return rc;
}

static const st_tensor *need(const st_set *s, const char *file, const char *name,
                             const char *part, st_dtype dt, size_t nbytes, ah_err *e) {
    char full[MODEL_NAME_CAP + 32];
    snprintf(full, sizeof full, "%s.%s", name, part);
    const st_tensor *t = st_find(s, full);
    if (!t) ah_fail(e, "%s: tensor '%s' missing", file, full);
    else if (t->dtype != dt || t->nbytes != nbytes)
        ah_fail(e, "%s: tensor '%s' is %s of %zu bytes, expected %s of %zu", file, full,
                st_dtype_name(t->dtype), t->nbytes, st_dtype_name(dt), nbytes);
    else return t;
    return NULL;
}

// Checks and copies one linear; codes outside [0, 2^bits), zeros too, or scales that are not
// finite are errors naming the tensor.
static int load_linear(packed_linear *p, const st_set *s, const char *file, const char *name,
                       ah_err *e) {
    size_t G = (size_t)p->groups, R = (size_t)p->rows;
    const st_tensor *qw = need(s, file, name, "qweight", ST_U8, R * p->row_bytes, e);
    const st_tensor *sc = qw ? need(s, file, name, "scales", ST_F32, R * G * 4, e) : NULL;
    const st_tensor *zp = sc ? need(s, file, name, "zeros", ST_U8, R * G, e) : NULL;
    if (!zp) return -1;
    char full[MODEL_NAME_CAP + 32];
    snprintf(full, sizeof full, "%s.fp_columns", name);
    if (st_find(s, full))
        return ah_fail(e, "%s: '%s' keeps input channels in full precision, which the packed "
                       "kernels do not hold (run without --packed)", file, name);
    // A slot wider than the codes (3 bits in 4-bit slots, 5..7 bits in a byte) must have its
    // spare high bits clear.
    int per = p->bits <= 2 ? 4 : p->bits <= 4 ? 2 : 1, slot = 8 / per;
    unsigned spare = 0;
    for (int k = 0; k < per; k++) spare |= (((1u << slot) - 1u) & ~((1u << p->bits) - 1u)) << (k * slot);
    const uint8_t *q = qw->data;
    for (size_t i = 0; i < qw->nbytes; i++)
        if (q[i] & spare)
            return ah_fail(e, "%s: '%s.qweight' byte %zu holds a code above %d bits", file, name, i,
                           p->bits);
    memcpy(p->q, q, qw->nbytes);
    memcpy(p->scale, sc->data, sc->nbytes);   // st data may be unaligned: memcpy, then check
    memcpy(p->zero, zp->data, zp->nbytes);
    for (size_t i = 0; i < R * G; i++) {
        if (!isfinite(p->scale[i]))
            return ah_fail(e, "%s: '%s.scales' element %zu is not finite", file, name, i);
        if (p->zero[i] >> p->bits)
            return ah_fail(e, "%s: '%s.zeros' element %zu is %u, above %d bits", file, name, i,
                           p->zero[i], p->bits);
    }
    return 0;
}

packed_set *packed_set_load_export(const model *m, const char *dir, int *absent, ah_err *e) {
    char file[4200];
    snprintf(file, sizeof file, "%s/quantized.safetensors", dir);
    *absent = 0;
    FILE *f = fopen(file, "rb");
    if (!f) {
        *absent = 1;
        return NULL;
    }
    fclose(f);
    quant_cfg q = {.scale_dtype = QUANT_SCALE_F32};   // the codes are what matter here
    if (read_manifest(dir, &q, e)) return NULL;
    st_set *s = st_open(file, e);
    if (!s) return NULL;
    packed_set *ps = packed_set_new(m, &q, e);
    if (!ps) goto fail;
    for (int l = 0; l < m->cfg.n_layers; l++)
        for (int r = 0; r < L_COUNT; r++) {
            if (!arch_role_is_linear(r)) continue;
            const model_weight *w = model_lw(m, l, r);
            if (!w->data) continue;
            packed_linear *p = packed_linear_new((int)w->shape[0], (int)w->shape[1], q.bits, q.group, e);
            ps->lin[(size_t)l * L_COUNT + r] = p;
            if (!p || load_linear(p, s, file, w->name, e)) goto fail;
        }
    st_close(s);
    return ps;
fail:
    st_close(s);
    packed_set_free(ps);
    return NULL;
}

const char *packed_export_dir(char *out, size_t cap, const char *model_path) {
    struct stat st;
    snprintf(out, cap, "%s", model_path);
    if (stat(model_path, &st) == 0 && S_ISDIR(st.st_mode)) return out;
    char *slash = strrchr(out, '/');
    if (slash) *slash = 0;
    else snprintf(out, cap, ".");
    return out;
}

int packed_hook_block(void *ctx, int layer, block_f32 *b, ah_err *e) {
    packed_hook *h = ctx;
    // The previous layer's codes must not stand in for this layer's fp32 weights while the
    // method calibrates and quantizes them.
    memset(b->pk, 0, sizeof b->pk);
    if (h->qp && qpass_block(h->qp, layer, b, e)) return -1;
    return packed_set_attach(h->ps, layer, b, e);
}
