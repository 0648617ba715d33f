#include "export/export.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/half.h"
#include "core/mem.h"
#include "export/export_dir.h"

// One quantized linear as it will be written. A quantized model does not fit in memory at
// 7B scale (13.5 GB fake-quantized F16 + 3.4 GB of 4-bit codes), so each linear's parts go to
// unlinked spool files the moment the method hands them over; qexport_write streams them
// from there (st_write_fill). Two spools, so that the two big parts can both be appended chunk
// by chunk and still lie contiguous: the fake values (and the small parts) in one, the packed
// codes in the other. Memory: a chunk of rows of one linear, and its small parts.
enum { P_FAKE, P_PACKED, P_SCALES, P_ZEROS, P_FP_COLUMNS, P_FP_VALUES, P_COUNT };
enum { SPOOL_MAIN, SPOOL_CODES, SPOOL_COUNT };   // P_PACKED lives in SPOOL_CODES, the rest in MAIN
static int part_spool(int part) { return part == P_PACKED ? SPOOL_CODES : SPOOL_MAIN; }

typedef struct {
    const model_weight *src;   // the source tensor (name, dtype, shape)
    int64_t off[P_COUNT];      // offsets of the parts in their spools (-1: none):
                               //   fake (rows, cols) in the source dtype, packed (rows,
                               //   packed_cols) U8, scales F32 and zeros U8 (rows, groups),
                               //   fp_columns I32 (kept), fp_values F32 (rows, kept)
    void *fake;                // a norm / bias changed by AWQ folding, in F32 (fake_dtype), in
                               // memory (a few KiB)
    st_dtype fake_dtype;
    int kept;
} qlinear;

// The small parts of the linear being received (method_sink_fn hands a linear over in chunks
// of rows): kept until its last chunk, then spooled. The fake values and the packed codes go
// to their spools chunk by chunk, so a linear costs about 1 byte per group beside the block,
// not its whole export (3.5 bytes per weight at 4 bits).
typedef struct {
    float *scales;             // (rows, groups)
    uint8_t *zeros;            // (rows, groups)
    float *fp_values;          // (rows, kept)
} qpending;

struct qexport {
    const model *m;
    method_cfg mc;
    qlinear *lin;              // [n_layers][L_COUNT]
    int spool[SPOOL_COUNT];    // file descriptors of the unlinked spool files
    int64_t spool_len[SPOOL_COUNT];
    qpending pend;
};

static void pending_free(qpending *p) {
    free(p->scales);
    free(p->zeros);
    free(p->fp_values);
    memset(p, 0, sizeof *p);
}

qexport *qexport_new(const model *m, const method_cfg *mc, ah_err *e) {
    qexport *x = calloc(1, sizeof *x);
    if (x) x->lin = calloc((size_t)m->cfg.n_layers * L_COUNT, sizeof *x->lin);
    if (!x || !x->lin) {
        free(x);
        ah_fail(e, "out of memory (export)");
        return NULL;
    }
    x->m = m;
    x->mc = *mc;
    for (size_t i = 0; i < (size_t)m->cfg.n_layers * L_COUNT; i++)
        for (int k = 0; k < P_COUNT; k++) x->lin[i].off[k] = -1;
    for (int k = 0; k < SPOOL_COUNT; k++) x->spool[k] = -1;
    const char *dir = getenv("TMPDIR");
    for (int k = 0; k < SPOOL_COUNT; k++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/awq-harness-export-XXXXXX", dir && *dir ? dir : "/tmp");
        x->spool[k] = mkstemp(path);
        if (x->spool[k] < 0) {
            ah_fail(e, "%s: cannot create the export spool file: %s", path, strerror(errno));
            qexport_free(x);
            return NULL;
        }
        unlink(path);   // gone when closed, whatever happens
    }
    return x;
}

void qexport_free(qexport *x) {
    if (!x) return;
    for (size_t i = 0; i < (size_t)x->m->cfg.n_layers * L_COUNT; i++) free(x->lin[i].fake);
    pending_free(&x->pend);
    for (int k = 0; k < SPOOL_COUNT; k++)
        if (x->spool[k] >= 0) close(x->spool[k]);
    free(x->lin);
    free(x);
}

// Appends n bytes to spool k; *off receives their offset.
static int spool_put(qexport *x, int k, int64_t *off, const void *p, size_t n, ah_err *e) {
    const uint8_t *c = p;
    *off = x->spool_len[k];
    for (size_t done = 0; done < n;) {
        ssize_t w = pwrite(x->spool[k], c + done, n - done, (off_t)(x->spool_len[k] + (int64_t)done));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return ah_fail(e, "export spool: write failed: %s (disk full?)", strerror(errno));
        done += (size_t)w;
    }
    x->spool_len[k] += (int64_t)n;
    return 0;
}

static int spool_get(const qexport *x, int k, void *buf, int64_t off, size_t n, ah_err *e) {
    uint8_t *c = buf;
    for (size_t done = 0; done < n;) {
        ssize_t r = pread(x->spool[k], c + done, n - done, (off_t)(off + (int64_t)done));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return ah_fail(e, "export spool: read failed: %s", r < 0 ? strerror(errno) : "short file");
        done += (size_t)r;
    }
    return 0;
}

// fp32 values into the source dtype's bytes (exact: W_hat was already rounded to it).
static void to_dtype(void *out, const float *w, size_t n, st_dtype d) {
    if (d == ST_F16) for (size_t i = 0; i < n; i++) ((uint16_t *)out)[i] = ah_f32_to_f16(w[i]);
    else if (d == ST_BF16) for (size_t i = 0; i < n; i++) ((uint16_t *)out)[i] = ah_f32_to_bf16(w[i]);
    else memcpy(out, w, n * sizeof(float));
}

int qexport_sink(void *ctx, int layer, arch_layer_role role, const float *W_hat,
                 const float *W_orig, const method_codes *qc, int r0, int n, int rows, int cols,
                 const int *keep_idx, int kept, ah_err *e) {
    qexport *x = ctx;
    qlinear *q = &x->lin[(size_t)layer * L_COUNT + role];
    qpending *pd = &x->pend;
    size_t G = quant_groups((size_t)cols, x->mc.q.group);
    size_t pc = quant_packed_size((size_t)cols, x->mc.q.bits), RG = (size_t)rows * G;
    size_t len = (size_t)n * cols, g0 = (size_t)r0 * G;
    if (r0 == 0) {   // first chunk: the linear's small parts, where its fake values and codes start
        pending_free(pd);
        q->src = model_lw(x->m, layer, role);
        q->fake_dtype = q->src->dtype;
        q->kept = kept;
        q->off[P_FAKE] = x->spool_len[SPOOL_MAIN];
        q->off[P_PACKED] = x->spool_len[SPOOL_CODES];
        pd->scales = malloc(RG * sizeof(float) + 1);
        pd->zeros = malloc(RG + 1);
        pd->fp_values = malloc((size_t)rows * kept * sizeof(float) + 1);
    }
    void *fake = malloc(len * st_dtype_size(q->src->dtype) + 1);
    uint8_t *codes = malloc(len + 1), *packed = malloc((size_t)n * pc + 1);   // this chunk's
    float *zf = malloc((size_t)n * G * sizeof(float) + 1);
    int rc = 0;
    if (!pd->scales || !pd->zeros || !pd->fp_values || !fake || !codes || !packed || !zf) {
        rc = ah_fail(e, "out of memory exporting '%s'", q->src->name);
        goto out;
    }
    to_dtype(fake, W_hat, len, q->src->dtype);
    int64_t chunk_off;   // a linear's chunks follow each other in each spool
    if ((rc = spool_put(x, SPOOL_MAIN, &chunk_off, fake, len * st_dtype_size(q->src->dtype), e)))
        goto out;
    const uint8_t *cc = codes;
    if (qc) {   // the method's own codes (GPTQ): W_hat = (code - zero) * scale already
        cc = qc->codes + (size_t)r0 * cols;
        memcpy(pd->scales + g0, qc->scale + g0, (size_t)n * G * sizeof(float));
        memcpy(zf, qc->zero + g0, (size_t)n * G * sizeof(float));
    } else {
        quant_codes(codes, pd->scales + g0, zf, W_orig, (size_t)n, (size_t)cols, &x->mc.q);
    }
    for (size_t i = 0; i < (size_t)n * G; i++) pd->zeros[g0 + i] = (uint8_t)zf[i];
    for (int r = 0; r < n; r++)
        quant_pack(packed + (size_t)r * pc, cc + (size_t)r * cols, (size_t)cols, x->mc.q.bits);
    if ((rc = spool_put(x, SPOOL_CODES, &chunk_off, packed, (size_t)n * pc, e))) goto out;
    for (int r = 0; r < n; r++)
        for (int k = 0; k < kept; k++)
            pd->fp_values[(size_t)(r0 + r) * kept + k] = W_hat[(size_t)r * cols + keep_idx[k]];
    if (r0 + n == rows) {   // last chunk: the small parts, in P_* order, after the fake values
        int32_t *fp_columns = malloc((size_t)kept * sizeof(int32_t) + 1);
        if (!fp_columns) {
            rc = ah_fail(e, "out of memory exporting '%s'", q->src->name);
            goto out;
        }
        for (int k = 0; k < kept; k++) fp_columns[k] = keep_idx[k];
        const void *part[P_COUNT] = {NULL, NULL, pd->scales, pd->zeros, fp_columns, pd->fp_values};
        size_t bytes[P_COUNT] = {0, 0, RG * sizeof(float), RG, (size_t)kept * sizeof(int32_t),
                                 (size_t)rows * kept * sizeof(float)};
        for (int k = P_SCALES; k < P_COUNT && rc == 0; k++)
            if (k < P_FP_COLUMNS || kept > 0)
                rc = spool_put(x, part_spool(k), &q->off[k], part[k], bytes[k], e);
        free(fp_columns);
        pending_free(pd);
    }
out:
    free(fake);
    free(codes);
    free(packed);
    free(zf);
    return rc;
}

int qexport_block(void *ctx, int layer, const block_f32 *b, ah_err *e) {
    qexport *x = ctx;
    for (int r = 0; r < L_COUNT; r++) {
        qlinear *q = &x->lin[(size_t)layer * L_COUNT + r];
        if (!b->w[r] || arch_role_is_linear(r) || q->fake) continue;
        // Unchanged tensors are copied from the source as they are; changed ones (AWQ's folded
        // norms and biases) are kept exact in F32 rather than rounded to the source dtype.
        const model_weight *src = model_lw(x->m, layer, r);
        float *orig = malloc(b->numel[r] * sizeof(float));
        if (!orig || model_weight_f32(orig, src, e)) {
            free(orig);
            return orig ? -1 : ah_fail(e, "out of memory exporting '%s'", src->name);
        }
        int changed = memcmp(orig, b->w[r], b->numel[r] * sizeof(float)) != 0;
        free(orig);
        if (!changed) continue;
        q->src = src;
        q->fake_dtype = ST_F32;
        q->fake = malloc(b->numel[r] * sizeof(float));
        if (!q->fake) return ah_fail(e, "out of memory exporting '%s'", q->src->name);
        memcpy(q->fake, b->w[r], b->numel[r] * sizeof(float));
    }
    model_release_layer(x->m, layer);   // the source norms and biases read above
    return 0;
}

// The export's record of w (a quantized linear or a changed tensor), or NULL.
static const qlinear *find_lin(const qexport *x, const model_weight *w) {
    for (size_t j = 0; j < (size_t)x->m->cfg.n_layers * L_COUNT; j++)
        if (x->lin[j].src && w->data && x->lin[j].src->data == w->data) return &x->lin[j];
    return NULL;
}

st_dtype qexport_value_dtype(const qexport *x, const model_weight *w) {
    const qlinear *q = find_lin(x, w);
    return q ? q->fake_dtype : w->dtype;
}

int qexport_rows_f32(const qexport *x, const model_weight *w, float *out, size_t r0, size_t n,
                     ah_err *e) {
    const qlinear *q = find_lin(x, w);
    size_t cols = w->ndim == 2 ? (size_t)w->shape[1] : model_weight_numel(w);
    if (!q) {
        if (w->ndim == 2) return model_weight_rows_f32(out, w, r0, n, e);
        return model_weight_f32(out, w, e);
    }
    if (q->off[P_FAKE] < 0) {   // a changed norm or bias, in memory in F32
        memcpy(out, (const float *)q->fake + r0 * cols, n * cols * sizeof(float));
        return 0;
    }
    size_t es = st_dtype_size(q->fake_dtype), len = n * cols;
    void *raw = es == sizeof(float) ? (void *)out : malloc(len * es + 1);
    if (!raw) return ah_fail(e, "out of memory exporting '%s'", w->name);
    int rc = spool_get(x, SPOOL_MAIN, raw, q->off[P_FAKE] + (int64_t)(r0 * cols * es), len * es, e);
    if (!rc && q->fake_dtype == ST_F16)
        for (size_t i = 0; i < len; i++) out[i] = ah_f16_to_f32(((const uint16_t *)raw)[i]);
    if (!rc && q->fake_dtype == ST_BF16)
        for (size_t i = 0; i < len; i++) out[i] = ah_bf16_to_f32(((const uint16_t *)raw)[i]);
    if (raw != out) free(raw);
    return rc;
}

int qexport_is_quantized(const qexport *x, const model_weight *w) {
    const qlinear *q = find_lin(x, w);
    return q && q->off[P_PACKED] >= 0;
}

const method_cfg *qexport_method(const qexport *x) { return &x->mc; }

int qexport_linear_int(const qexport *x, const model_weight *w, uint8_t *codes, float *scales,
                       uint8_t *zeros, int *kept, ah_err *e) {
    const qlinear *q = find_lin(x, w);
    if (!q || q->off[P_PACKED] < 0) return ah_fail(e, "export: '%s' is not a quantized linear", w->name);
    size_t rows = (size_t)w->shape[0], cols = (size_t)w->shape[1];
    size_t G = quant_groups(cols, x->mc.q.group), pc = quant_packed_size(cols, x->mc.q.bits);
    uint8_t *packed = malloc(rows * pc + 1);
    if (!packed) return ah_fail(e, "out of memory exporting '%s'", w->name);
    int rc = spool_get(x, SPOOL_CODES, packed, q->off[P_PACKED], rows * pc, e);
    if (!rc) rc = spool_get(x, SPOOL_MAIN, scales, q->off[P_SCALES], rows * G * sizeof(float), e);
    if (!rc) rc = spool_get(x, SPOOL_MAIN, zeros, q->off[P_ZEROS], rows * G, e);
    if (!rc)
        for (size_t r = 0; r < rows; r++)
            quant_unpack(codes + r * cols, packed + r * pc, cols, x->mc.q.bits);
    free(packed);
    *kept = q->kept;
    return rc;
}

// ----------------------------------------------------------------------------
// files

static int copy_file(const char *from, const char *to, ah_err *e) {
    size_t len;
    char *buf = ah_read_file(from, &len, e);
    if (!buf) return -1;
    FILE *f = fopen(to, "wb");
    if (!f) {
        free(buf);
        return ah_fail(e, "%s: cannot create: %s", to, strerror(errno));
    }
    size_t w = fwrite(buf, 1, len, f);
    int bad = w != len || fclose(f) != 0;
    free(buf);
    return bad ? ah_fail(e, "%s: write failed (disk full?)", to) : 0;
}

// st_write_fill sources for the output tensors: a spooled part, an in-memory F32 tensor, or the
// source checkpoint's mapped bytes (released once copied, so the copy does not keep them
// resident).
typedef struct {
    const qexport *x;
    const int64_t *spool_off;    // [n] spool offset, or -1
    const unsigned char *spool;  // [n] which spool (SPOOL_*); NULL: all SPOOL_MAIN
    const void *const *mem;      // [n] bytes when spool_off is -1: in memory or in the source
                                 // mapping (st_release ignores pointers outside it)
} fill_ctx;

static int fill_part(void *vctx, size_t i, void *buf, size_t off, size_t len, ah_err *e) {
    const fill_ctx *c = vctx;
    if (c->spool_off[i] >= 0)
        return spool_get(c->x, c->spool ? c->spool[i] : SPOOL_MAIN, buf,
                         c->spool_off[i] + (int64_t)off, len, e);
    const uint8_t *src = (const uint8_t *)c->mem[i] + off;
    memcpy(buf, src, len);
    if (c->x->m->st) st_release(c->x->m->st, src, len);
    return 0;
}

static int write_hf(qexport *x, const char *dir, ah_err *e) {
    const model *m = x->m;
    size_t n = st_count(m->st);
    st_write_tensor *t = calloc(n ? n : 1, sizeof *t);
    int64_t *soff = calloc(n ? n : 1, sizeof *soff);
    const void **mem = calloc(n ? n : 1, sizeof *mem);
    if (!t || !soff || !mem) {
        free(t); free(soff); free(mem);
        return ah_fail(e, "out of memory (export)");
    }
    for (size_t i = 0; i < n; i++) {
        const st_tensor *s = st_at(m->st, i);
        t[i].name = s->name;
        t[i].dtype = s->dtype;
        t[i].ndim = s->ndim;
        memcpy(t[i].shape, s->shape, sizeof t[i].shape);
        soff[i] = -1;
        mem[i] = s->data;
        for (size_t j = 0; j < (size_t)m->cfg.n_layers * L_COUNT; j++) {   // replaced?
            const qlinear *q = &x->lin[j];
            if (!q->src || q->src->data != s->data) continue;
            t[i].dtype = q->fake_dtype;
            if (q->off[P_FAKE] >= 0) soff[i] = q->off[P_FAKE];
            else mem[i] = q->fake;
        }
    }
    fill_ctx fc = {.x = x, .spool_off = soff, .mem = mem};
    char path[4200];
    ah_path_join(path, sizeof path, dir, "model.safetensors");
    int rc = st_write_fill(path, t, n, "{\"format\": \"pt\"}", fill_part, &fc, e);
    free(t);
    free(soff);
    free(mem);
    if (rc) return -1;
    for (const char *const *side = QEXPORT_SIDE_FILES; *side; side++) {
        char from[4200], to[4200];
        ah_path_join(from, sizeof from, m->path, *side);
        ah_path_join(to, sizeof to, dir, *side);
        if (ah_is_file(from) && copy_file(from, to, e)) return -1;
    }
    return 0;
}

// llama2.c: the source file with each quantized tensor overwritten at its offset (all F32).
static int write_llama2c(qexport *x, const char *dir, const char *tokenizer_path, ah_err *e) {
    const model *m = x->m;
    char *buf = malloc(m->map_len);
    if (!buf) return ah_fail(e, "out of memory (export)");
    memcpy(buf, m->map, m->map_len);
    for (size_t j = 0; j < (size_t)m->cfg.n_layers * L_COUNT; j++) {
        const qlinear *q = &x->lin[j];
        if (!q->src) continue;
        size_t off = (size_t)((const char *)q->src->data - (const char *)m->map);
        size_t nb = model_weight_numel(q->src) * sizeof(float);
        if (q->off[P_FAKE] < 0) {
            memcpy(buf + off, q->fake, nb);
        } else if (spool_get(x, SPOOL_MAIN, buf + off, q->off[P_FAKE], nb, e)) {
            free(buf);
            return -1;
        }
    }
    char path[4200], tmp[4300];
    ah_path_join(path, sizeof path, dir, "model.bin");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    int bad = !f || fwrite(buf, 1, m->map_len, f) != m->map_len;
    if (f) bad |= fclose(f) != 0;
    free(buf);
    if (bad || rename(tmp, path) != 0) {
        remove(tmp);
        return ah_fail(e, "%s: write failed (disk full?)", path);
    }
    if (tokenizer_path && ah_is_file(tokenizer_path)) {
        ah_path_join(path, sizeof path, dir, "tokenizer.bin");
        if (copy_file(tokenizer_path, path, e)) return -1;
    }
    return 0;
}

// Writes dir/file from tensors t[n] whose names live in `names`, then frees both.
static int write_owned(const char *dir, const char *file, st_write_tensor *t, size_t n,
                       char *names, ah_err *e) {
    char path[4200];
    ah_path_join(path, sizeof path, dir, file);
    int rc = st_write(path, t, n, NULL, e);
    free(t);
    free(names);
    return rc;
}

static int write_packed(qexport *x, const char *dir, ah_err *e) {
    const model *m = x->m;
    size_t L = (size_t)m->cfg.n_layers * L_COUNT, n = 0;
    st_write_tensor *t = calloc(L * 5, sizeof *t);
    int64_t *soff = calloc(L * 5, sizeof *soff);
    unsigned char *spool = calloc(L * 5, 1);
    char *names = calloc(L * 5, MODEL_NAME_CAP + 16);
    if (!t || !soff || !spool || !names) {
        free(t);
        free(soff);
        free(spool);
        free(names);
        return ah_fail(e, "out of memory (export)");
    }
    static const char *SUFFIX[] = {"qweight", "scales", "zeros", "fp_columns", "fp_values"};
    for (size_t j = 0; j < L; j++) {
        const qlinear *q = &x->lin[j];
        if (!q->src || q->off[P_PACKED] < 0) continue;   // norms and biases have no integer form
        int64_t rows = q->src->shape[0], cols = q->src->shape[1];
        int64_t G = (int64_t)quant_groups((size_t)cols, x->mc.q.group);
        int64_t pc = (int64_t)quant_packed_size((size_t)cols, x->mc.q.bits);
        const struct { st_dtype d; int nd; int64_t s0, s1; } parts[] = {
            {ST_U8, 2, rows, pc}, {ST_F32, 2, rows, G}, {ST_U8, 2, rows, G},
            {ST_I32, 1, q->kept, 0}, {ST_F32, 2, rows, q->kept},
        };
        for (int k = 0; k < 5; k++) {
            if (k >= 3 && q->kept == 0) continue;
            char *nm = names + n * (MODEL_NAME_CAP + 16);
            snprintf(nm, MODEL_NAME_CAP + 16, "%s.%s", q->src->name, SUFFIX[k]);
            t[n] = (st_write_tensor){.name = nm, .dtype = parts[k].d, .ndim = parts[k].nd,
                                     .shape = {parts[k].s0, parts[k].s1}};
            soff[n] = q->off[P_PACKED + k];
            spool[n] = (unsigned char)part_spool(P_PACKED + k);
            n++;
        }
    }
    fill_ctx fc = {.x = x, .spool_off = soff, .spool = spool};
    char path[4200];
    ah_path_join(path, sizeof path, dir, "quantized.safetensors");
    int rc = st_write_fill(path, t, n, NULL, fill_part, &fc, e);
    free(t);
    free(soff);
    free(spool);
    free(names);
    return rc;
}

static int write_awq(const qexport *x, const char *out_dir, const awq_block_result *res,
                     ah_err *e) {
    const model *m = x->m;
    const arch_desc *ad = m->cfg.arch;
    size_t cap = (size_t)m->cfg.n_layers * (ARCH_MAX_GROUPS * 7 + L_COUNT), n = 0;
    st_write_tensor *t = calloc(cap, sizeof *t);
    char *names = calloc(cap, MODEL_NAME_CAP + 32);
    if (!t || !names) {
        free(t);
        free(names);
        return ah_fail(e, "out of memory (AWQ export)");
    }
#define ADD(dt, nd, s0, s1, ptr, ...)                                                         \
    do {                                                                                      \
        char *nm_ = names + n * (MODEL_NAME_CAP + 32);                                        \
        snprintf(nm_, MODEL_NAME_CAP + 32, __VA_ARGS__);                                      \
        t[n++] = (st_write_tensor){.name = nm_, .dtype = dt, .ndim = nd, .shape = {s0, s1},    \
                                   .data = ptr};                                              \
    } while (0)
    for (int l = 0; l < m->cfg.n_layers; l++) {
        const awq_block_result *r = &res[l];
        for (int gi = 0; gi < ad->n_groups; gi++) {
            const awq_group_result *g = &r->group[gi];
            const char *gn = ad->groups[gi].name;
            if (!g->applied) continue;
            ADD(ST_F32, 1, g->width, 0, g->scales, "layers.%d.%s.scales", l, gn);
            ADD(ST_F32, 1, 1, 0, &g->alpha, "layers.%d.%s.alpha", l, gn);
            ADD(ST_F32, 1, g->n_alpha, 0, g->alphas, "layers.%d.%s.alphas", l, gn);
            ADD(ST_F64, 1, g->n_alpha, 0, g->loss, "layers.%d.%s.loss", l, gn);
            ADD(ST_F32, 1, g->width, 0, g->x_mean, "layers.%d.%s.x_mean", l, gn);
            ADD(ST_F32, 1, g->width, 0, g->x_max, "layers.%d.%s.x_max", l, gn);
            ADD(ST_F32, 1, g->width, 0, g->x_p99, "layers.%d.%s.x_p99", l, gn);
        }
        for (int k = 0; k < L_COUNT; k++) {
            if (!r->clip[k]) continue;
            const model_weight *w = model_lw(m, l, k);
            ADD(ST_F32, 2, w->shape[0], r->clip_groups[k], r->clip[k], "%s.clip", w->name);
        }
    }
#undef ADD
    return write_owned(out_dir, "awq.safetensors", t, n, names, e);
}

int qexport_write(qexport *x, const char *out_dir, const char *tokenizer_path,
                  const char *manifest_json, const awq_block_result *awq, ah_err *e) {
    // Into a temporary sibling, swapped in whole (export_dir.h): a kill or a full disk never
    // leaves out_dir a mix of two exports.
    char tmp[4200];
    if (qexport_dir_begin(out_dir, tmp, sizeof tmp, e)) return -1;
    int rc = x->m->st ? write_hf(x, tmp, e) : write_llama2c(x, tmp, tokenizer_path, e);
    if (!rc) rc = write_packed(x, tmp, e);
    if (!rc && awq) rc = write_awq(x, tmp, awq, e);
    if (!rc) rc = qexport_dir_manifest(tmp, manifest_json, e);   // last: it lists the others
    if (!rc) rc = qexport_dir_commit(tmp, out_dir, e);
    if (rc) qexport_dir_abort(tmp);
    return rc;
}

// ----------------------------------------------------------------------------
// reading the integer form back

static const st_tensor *need(const st_set *s, const char *name, const char *suffix,
                             ah_err *e) {
    char full[MODEL_NAME_CAP + 32];
    snprintf(full, sizeof full, "%s.%s", name, suffix);
    const st_tensor *t = st_find(s, full);
    if (!t) ah_fail(e, "quantized.safetensors: tensor '%s' missing", full);
    return t;
}

int qexport_dequant(float *out, const st_set *packed, const char *name, int rows, int cols,
                    int bits, int group, st_dtype source_dtype, ah_err *e) {
    const st_tensor *qw = need(packed, name, "qweight", e), *sc = need(packed, name, "scales", e),
                    *zp = need(packed, name, "zeros", e);
    if (!qw || !sc || !zp) return -1;
    size_t G = quant_groups((size_t)cols, group), pc = quant_packed_size((size_t)cols, bits);
    if (qw->nbytes != (size_t)rows * pc || sc->numel != (size_t)rows * G || zp->numel != (size_t)rows * G)
        return ah_fail(e, "quantized.safetensors: '%s' has shapes that do not match %dx%d, %d bits, group %d",
                       name, rows, cols, bits, group);
    uint8_t *codes = malloc((size_t)rows * cols);
    float *scales = malloc(sc->numel * sizeof(float)), *zeros = malloc(zp->numel * sizeof(float));
    if (!codes || !scales || !zeros) {
        free(codes); free(scales); free(zeros);
        return ah_fail(e, "out of memory");
    }
    for (int r = 0; r < rows; r++)
        quant_unpack(codes + (size_t)r * cols, (const uint8_t *)qw->data + (size_t)r * pc,
                     (size_t)cols, bits);
    memcpy(scales, sc->data, sc->numel * sizeof(float));
    for (size_t i = 0; i < zp->numel; i++) zeros[i] = ((const uint8_t *)zp->data)[i];
    quant_cfg q = {.kind = QUANT_MINMAX, .bits = bits, .group = group};
    quant_dequant(out, codes, scales, zeros, (size_t)rows, (size_t)cols, &q);
    free(codes); free(scales); free(zeros);
    size_t n = (size_t)rows * cols;
    if (source_dtype == ST_F16) for (size_t i = 0; i < n; i++) out[i] = ah_f16_to_f32(ah_f32_to_f16(out[i]));
    if (source_dtype == ST_BF16) for (size_t i = 0; i < n; i++) out[i] = ah_bf16_to_f32(ah_f32_to_bf16(out[i]));
    char full[MODEL_NAME_CAP + 32];
    snprintf(full, sizeof full, "%s.fp_columns", name);
    const st_tensor *fc = st_find(packed, full);
    if (fc) {
        const st_tensor *fv = need(packed, name, "fp_values", e);
        if (!fv) return -1;
        size_t k = fc->numel;
        if (fv->numel != (size_t)rows * k) return ah_fail(e, "quantized.safetensors: '%s' fp_values shape", name);
        // Tensors after U8 ones may sit at unaligned offsets: copy before reading.
        int32_t *idx = malloc(k * sizeof *idx);
        float *val = malloc((size_t)rows * k * sizeof *val);
        if (!idx || !val) {
            free(idx);
            free(val);
            return ah_fail(e, "out of memory");
        }
        memcpy(idx, fc->data, k * sizeof *idx);
        memcpy(val, fv->data, (size_t)rows * k * sizeof *val);
        int bad = 0;
        for (size_t j = 0; j < k; j++) bad |= idx[j] < 0 || idx[j] >= cols;
        if (!bad)
            for (int r = 0; r < rows; r++)
                for (size_t j = 0; j < k; j++) out[(size_t)r * cols + idx[j]] = val[(size_t)r * k + j];
        free(idx);
        free(val);
        if (bad) return ah_fail(e, "quantized.safetensors: '%s' fp_columns out of range", name);
    }
    return 0;
}
