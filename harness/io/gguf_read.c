// gguf_read.c — GGUF reader (gguf_read.h): one pass over the header with a bounds-checked
// cursor, then the tensor infos checked against the data section.
#include "io/gguf_read.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/half.h"
#include "core/mem.h"

// Caps on what a header may declare. Real files: a few hundred tensors per 7B model, under 50
// keys, vocabularies under 300k tokens. Counts are also bounded by the bytes left (each entry
// takes at least 8), so these only keep the allocations small on a hostile file.
#define GGUF_MAX_TENSORS (1u << 20)
#define GGUF_MAX_KV (1u << 16)

struct gguf_file {
    char path[4096];
    const uint8_t *base;      // the whole file
    size_t len;
    int mapped;               // base is our mmap (unmapped at close)
    gguf_kv *kv;              // (n_kv)
    size_t n_kv;
    gguf_tensor *t;           // (n_t)
    size_t n_t;
};

// A bounds-checked cursor over the header. A read past the end fails with the field's name.
typedef struct {
    gguf_file *f;
    size_t pos;
    ah_err *e;
} cursor;

static int need(cursor *c, uint64_t n, const char *what) {
    if (n > c->f->len - c->pos)
        return ah_fail(c->e, "%s: truncated: %s needs %llu bytes at offset %zu; the file has %zu bytes",
                       c->f->path, what, (unsigned long long)n, c->pos, c->f->len);
    return 0;
}
static int rd(cursor *c, void *out, size_t n, const char *what) {
    if (need(c, n, what)) return -1;
    memcpy(out, c->f->base + c->pos, n);
    c->pos += n;
    return 0;
}
static int rd_str(cursor *c, const char **s, uint64_t *n, const char *what) {
    if (rd(c, n, 8, what) || need(c, *n, what)) return -1;
    *s = (const char *)c->f->base + c->pos;
    c->pos += (size_t)*n;
    return 0;
}

// Bytes of one scalar of value type t; 0 for STRING / ARRAY / unknown.
static size_t scalar_size(uint32_t t) {
    static const uint8_t SIZE[] = {[GGUF_U8] = 1, [GGUF_I8] = 1, [GGUF_U16] = 2, [GGUF_I16] = 2,
                                   [GGUF_U32] = 4, [GGUF_I32] = 4, [GGUF_F32] = 4, [GGUF_BOOL] = 1,
                                   [GGUF_U64] = 8, [GGUF_I64] = 8, [GGUF_F64] = 8};
    return t < sizeof SIZE ? SIZE[t] : 0;
}

static int absurd_count(cursor *c, const char *what, uint64_t n) {
    return ah_fail(c->e, "%s: %s: an array of %llu elements cannot fit the %zu bytes left (truncated?)",
                   c->f->path, what, (unsigned long long)n, c->f->len - c->pos);
}

// The value of key-value kv (its type already read) at the cursor.
static int read_value(cursor *c, gguf_kv *kv) {
    char what[128];
    snprintf(what, sizeof what, "key '%.*s'", (int)(kv->key_len > 80 ? 80 : kv->key_len), kv->key);
    kv->val = c->f->base + c->pos;
    kv->n = 1;
    if (kv->type == GGUF_STRING) {
        const char *s;
        if (rd_str(c, &s, &kv->n, what)) return -1;
        kv->val = (const uint8_t *)s;
        return 0;
    }
    if (kv->type != GGUF_ARRAY) {
        size_t sz = scalar_size(kv->type);
        if (!sz) return ah_fail(c->e, "%s: %s has unknown value type %u", c->f->path, what, kv->type);
        return need(c, sz, what) ? -1 : (c->pos += sz, 0);
    }
    uint32_t et;
    if (rd(c, &et, 4, what) || rd(c, &kv->n, 8, what)) return -1;
    kv->elem = (gguf_vtype)et;
    kv->val = c->f->base + c->pos;
    if (et == GGUF_STRING) {
        // Each element is at least its 8-byte length: a count beyond that is refused at once.
        if (kv->n > (c->f->len - c->pos) / 8) return absurd_count(c, what, kv->n);
        for (uint64_t i = 0; i < kv->n; i++) {
            const char *s;
            uint64_t n;
            if (rd_str(c, &s, &n, what)) return -1;
        }
        return 0;
    }
    size_t sz = scalar_size(et);
    if (!sz)
        return ah_fail(c->e, "%s: %s is an array of value type %u (nested arrays are not read)",
                       c->f->path, what, et);
    if (kv->n > (c->f->len - c->pos) / sz) return absurd_count(c, what, kv->n);
    c->pos += (size_t)kv->n * sz;
    return 0;
}

// llama.cpp's type names (ggml.c type_traits), for messages about types not read here.
static const char *const TYPE_NAMES[] = {
    [0] = "F32", [1] = "F16", [2] = "Q4_0", [3] = "Q4_1", [6] = "Q5_0", [7] = "Q5_1",
    [8] = "Q8_0", [9] = "Q8_1", [10] = "Q2_K", [11] = "Q3_K", [12] = "Q4_K", [13] = "Q5_K",
    [14] = "Q6_K", [15] = "Q8_K", [16] = "IQ2_XXS", [17] = "IQ2_XS", [18] = "IQ3_XXS",
    [19] = "IQ1_S", [20] = "IQ4_NL", [21] = "IQ3_S", [22] = "IQ2_S", [23] = "IQ4_XS", [24] = "I8",
    [25] = "I16", [26] = "I32", [27] = "I64", [28] = "F64", [29] = "IQ1_M", [30] = "BF16",
    [34] = "TQ1_0", [35] = "TQ2_0", [39] = "MXFP4",
};

const char *gguf_type_name(uint32_t type, char *buf, size_t cap) {
    if (type < sizeof TYPE_NAMES / sizeof TYPE_NAMES[0] && TYPE_NAMES[type]) return TYPE_NAMES[type];
    snprintf(buf, cap, "id %u", type);
    return buf;
}

static int type_read(uint32_t t) {
    return t == GGML_T_F32 || t == GGML_T_F16 || t == GGML_T_BF16 || t == GGML_T_Q4_0 ||
           t == GGML_T_Q4_1 || t == GGML_T_Q8_0;
}

// Keys and tensor names must be unique (llama.cpp refuses repeats): checked on sorted
// pointers, O(n log n), so a header of a million tensor infos is no quadratic hang.
static int kv_cmp(const void *a, const void *b) {
    const gguf_kv *x = *(const gguf_kv *const *)a, *y = *(const gguf_kv *const *)b;
    if (x->key_len != y->key_len) return x->key_len < y->key_len ? -1 : 1;
    return memcmp(x->key, y->key, x->key_len);
}
static int t_cmp(const void *a, const void *b) {
    return strcmp((*(const gguf_tensor *const *)a)->name, (*(const gguf_tensor *const *)b)->name);
}
static int check_unique(const gguf_file *f, ah_err *e) {
    size_t n = f->n_kv > f->n_t ? f->n_kv : f->n_t;
    const void **p = malloc((n ? n : 1) * sizeof *p);
    if (!p) return ah_fail(e, "%s: out of memory", f->path);
    int rc = 0;
    for (size_t i = 0; i < f->n_kv; i++) p[i] = &f->kv[i];
    qsort(p, f->n_kv, sizeof *p, kv_cmp);
    for (size_t i = 1; i < f->n_kv && !rc; i++)
        if (!kv_cmp(&p[i - 1], &p[i])) {
            const gguf_kv *kv = p[i];
            rc = ah_fail(e, "%s: key '%.*s' appears twice", f->path,
                         (int)(kv->key_len > 80 ? 80 : kv->key_len), kv->key);
        }
    for (size_t i = 0; i < f->n_t && !rc; i++) p[i] = &f->t[i];
    if (!rc) qsort(p, f->n_t, sizeof *p, t_cmp);
    for (size_t i = 1; i < f->n_t && !rc; i++)
        if (!t_cmp(&p[i - 1], &p[i]))
            rc = ah_fail(e, "%s: tensor '%s' appears twice", f->path, ((const gguf_tensor *)p[i])->name);
    free(p);
    return rc;
}

static int parse(gguf_file *f, ah_err *e) {
    cursor c = {.f = f, .pos = 0, .e = e};
    char magic[4];
    uint32_t version;
    uint64_t n_t, n_kv;
    if (f->len < 4 || memcmp(f->base, "GGUF", 4))
        return ah_fail(e, "%s: not a GGUF file (bad magic: the first bytes are not \"GGUF\")", f->path);
    if (rd(&c, magic, 4, "magic") || rd(&c, &version, 4, "version")) return -1;
    if (version != 2 && version != 3)
        return ah_fail(e, "%s: GGUF version %u: versions 2 and 3 are read", f->path, version);
    if (rd(&c, &n_t, 8, "tensor count") || rd(&c, &n_kv, 8, "key-value count")) return -1;
    if (n_t > GGUF_MAX_TENSORS || n_t > (f->len - c.pos) / 8)
        return ah_fail(e, "%s: tensor count %llu cannot fit a file of %zu bytes", f->path,
                       (unsigned long long)n_t, f->len);
    if (n_kv > GGUF_MAX_KV || n_kv > (f->len - c.pos) / 8)
        return ah_fail(e, "%s: key-value count %llu cannot fit a file of %zu bytes", f->path,
                       (unsigned long long)n_kv, f->len);
    f->kv = calloc(n_kv ? n_kv : 1, sizeof *f->kv);
    f->t = calloc(n_t ? n_t : 1, sizeof *f->t);
    if (!f->kv || !f->t) return ah_fail(e, "%s: out of memory", f->path);
    for (uint64_t i = 0; i < n_kv; i++) {
        gguf_kv *kv = &f->kv[i];
        uint64_t klen;
        uint32_t type;
        char what[48];
        snprintf(what, sizeof what, "key-value %llu", (unsigned long long)i);
        if (rd_str(&c, &kv->key, &klen, what) || rd(&c, &type, 4, what)) return -1;
        kv->key_len = (size_t)klen;
        kv->type = (gguf_vtype)type;
        if (read_value(&c, kv)) return -1;
        f->n_kv++;
    }
    int64_t align = 32;
    int r = gguf_get_int(f, "general.alignment", 1, 1 << 30, &align, e);
    if (r < 0) return -1;
    if (align & (align - 1))
        return ah_fail(e, "%s: general.alignment %lld is not a power of two", f->path, (long long)align);
    for (uint64_t i = 0; i < n_t; i++) {
        gguf_tensor *t = &f->t[i];
        const char *name;
        uint64_t nlen;
        uint32_t nd, type;
        char what[96];
        snprintf(what, sizeof what, "tensor info %llu", (unsigned long long)i);
        if (rd_str(&c, &name, &nlen, what)) return -1;
        if (nlen == 0 || nlen >= sizeof t->name)
            return ah_fail(e, "%s: tensor %llu has a name of %llu bytes (1 to 63 are allowed)",
                           f->path, (unsigned long long)i, (unsigned long long)nlen);
        memcpy(t->name, name, (size_t)nlen);
        t->name[nlen] = 0;
        if (strlen(t->name) != nlen)
            return ah_fail(e, "%s: tensor %llu's name holds a NUL byte", f->path, (unsigned long long)i);
        snprintf(what, sizeof what, "tensor '%s'", t->name);
        if (rd(&c, &nd, 4, what)) return -1;
        if (nd < 1 || nd > 4)
            return ah_fail(e, "%s: tensor '%s' has %u dims (1 to 4)", f->path, t->name, nd);
        t->ndim = (int)nd;
        for (uint32_t d = 0; d < nd; d++)
            if (rd(&c, &t->ne[d], 8, what)) return -1;
        uint64_t off;
        if (rd(&c, &type, 4, what) || rd(&c, &off, 8, what)) return -1;
        char tb[32];
        if (!type_read(type))
            return ah_fail(e, "%s: tensor '%s' has ggml type %s: F32, F16, BF16, Q4_0, Q4_1 and "
                           "Q8_0 are read", f->path, t->name, gguf_type_name(type, tb, sizeof tb));
        t->type = (gguf_ggml_type)type;
        uint64_t nb = gguf_row_bytes(t->type, t->ne[0]);
        if (t->ne[0] == 0 || nb == 0)
            return ah_fail(e, "%s: tensor '%s': a row of %llu values does not fit %s blocks of %d",
                           f->path, t->name, (unsigned long long)t->ne[0], TYPE_NAMES[type], GGML_QK);
        for (uint32_t d = 1; d < nd; d++) {
            // overflow only: a size beyond the file is found with the data section below
            if (t->ne[d] == 0 || nb > UINT64_MAX / 2 / t->ne[d])
                return ah_fail(e, "%s: tensor '%s': dims [%llu, ..., %llu] (zero or overflowing)",
                               f->path, t->name, (unsigned long long)t->ne[0],
                               (unsigned long long)t->ne[d]);
            nb *= t->ne[d];
        }
        t->nbytes = nb;
        if (off % (uint64_t)align)
            return ah_fail(e, "%s: tensor '%s' data offset %llu is not a multiple of the alignment %lld",
                           f->path, t->name, (unsigned long long)off, (long long)align);
        t->data = (const void *)(uintptr_t)off;   // made a pointer once the data section is known
        f->n_t++;
    }
    if (check_unique(f, e)) return -1;
    uint64_t data0 = (c.pos + (uint64_t)align - 1) / (uint64_t)align * (uint64_t)align;
    for (size_t i = 0; i < f->n_t; i++) {
        gguf_tensor *t = &f->t[i];
        uint64_t off = (uint64_t)(uintptr_t)t->data;
        if (data0 > f->len || off > f->len - data0 || t->nbytes > f->len - data0 - off)
            return ah_fail(e, "%s: tensor '%s' data [%llu, %llu) lies outside the file (%zu bytes; "
                           "truncated?)", f->path, t->name, (unsigned long long)(data0 + off),
                           (unsigned long long)(data0 + off + t->nbytes), f->len);
        t->data = f->base + data0 + off;
    }
    return 0;
}

static gguf_file *finish(gguf_file *f, ah_err *e) {
    if (parse(f, e)) {
        gguf_close(f);
        return NULL;
    }
    return f;
}

gguf_file *gguf_open_mem(const void *data, size_t len, const char *name, ah_err *e) {
    gguf_file *f = calloc(1, sizeof *f);
    if (!f) {
        ah_fail(e, "%s: out of memory", name);
        return NULL;
    }
    snprintf(f->path, sizeof f->path, "%s", name);
    f->base = data;
    f->len = data ? len : 0;
    return finish(f, e);
}

gguf_file *gguf_open(const char *path, ah_err *e) {
    gguf_file *f = calloc(1, sizeof *f);
    if (!f) {
        ah_fail(e, "%s: out of memory", path);
        return NULL;
    }
    snprintf(f->path, sizeof f->path, "%s", path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        ah_fail(e, "%s: cannot open: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        free(f);
        return NULL;
    }
    if (!S_ISREG(st.st_mode) || st.st_size < 24) {
        close(fd);
        free(f);
        ah_fail(e, "%s: %s", path, S_ISREG(st.st_mode) ? "truncated: shorter than a GGUF header (24 bytes)"
                                                         : "not a regular file");
        return NULL;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        ah_fail(e, "%s: mmap failed: %s", path, strerror(errno));
        free(f);
        return NULL;
    }
    f->base = p;
    f->len = (size_t)st.st_size;
    f->mapped = 1;
    return finish(f, e);
}

void gguf_close(gguf_file *f) {
    if (!f) return;
    if (f->mapped) munmap((void *)f->base, f->len);
    free(f->kv);
    free(f->t);
    free(f);
}

const char *gguf_path(const gguf_file *f) { return f->path; }
size_t gguf_kv_count(const gguf_file *f) { return f->n_kv; }
const gguf_kv *gguf_kv_at(const gguf_file *f, size_t i) { return i < f->n_kv ? &f->kv[i] : NULL; }
size_t gguf_tensor_count(const gguf_file *f) { return f->n_t; }
const gguf_tensor *gguf_tensor_at(const gguf_file *f, size_t i) { return i < f->n_t ? &f->t[i] : NULL; }

const gguf_kv *gguf_find(const gguf_file *f, const char *key) {
    size_t n = strlen(key);
    for (size_t i = 0; i < f->n_kv; i++)
        if (f->kv[i].key_len == n && !memcmp(f->kv[i].key, key, n)) return &f->kv[i];
    return NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name) {
    for (size_t i = 0; i < f->n_t; i++)
        if (!strcmp(f->t[i].name, name)) return &f->t[i];
    return NULL;
}

// A scalar integer (or bool) at p of value type t into *v; 0, or -1 for a non-integer type.
static int int_of(const uint8_t *p, uint32_t t, int64_t *v, int *unsigned_big) {
    *unsigned_big = 0;
    switch (t) {
    case GGUF_U8: case GGUF_BOOL: { uint8_t x; memcpy(&x, p, 1); *v = x; return 0; }
    case GGUF_I8: { int8_t x; memcpy(&x, p, 1); *v = x; return 0; }
    case GGUF_U16: { uint16_t x; memcpy(&x, p, 2); *v = x; return 0; }
    case GGUF_I16: { int16_t x; memcpy(&x, p, 2); *v = x; return 0; }
    case GGUF_U32: { uint32_t x; memcpy(&x, p, 4); *v = x; return 0; }
    case GGUF_I32: { int32_t x; memcpy(&x, p, 4); *v = x; return 0; }
    case GGUF_U64: { uint64_t x; memcpy(&x, p, 8); *unsigned_big = x > INT64_MAX; *v = (int64_t)x; return 0; }
    case GGUF_I64: { int64_t x; memcpy(&x, p, 8); *v = x; return 0; }
    default: return -1;
    }
}

int gguf_get_int(const gguf_file *f, const char *key, int64_t lo, int64_t hi, int64_t *out,
                 ah_err *e) {
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv) return 1;
    int64_t v;
    int big;
    if (int_of(kv->val, kv->type, &v, &big))
        return ah_fail(e, "%s: key '%s' has value type %u, not an integer", f->path, key, kv->type);
    if (big || v < lo || v > hi)
        return ah_fail(e, "%s: key '%s' is %s%lld, outside [%lld, %lld]", f->path, key,
                       big ? "above " : "", big ? (long long)INT64_MAX : (long long)v,
                       (long long)lo, (long long)hi);
    *out = v;
    return 0;
}

int gguf_get_f32(const gguf_file *f, const char *key, float *out, ah_err *e) {
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv) return 1;
    if (kv->type == GGUF_F32) memcpy(out, kv->val, 4);
    else if (kv->type == GGUF_F64) {
        double d;
        memcpy(&d, kv->val, 8);
        *out = (float)d;
    } else {
        return ah_fail(e, "%s: key '%s' has value type %u, not a float", f->path, key, kv->type);
    }
    return 0;
}

int gguf_get_str(const gguf_file *f, const char *key, const char **s, size_t *len, ah_err *e) {
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv) return 1;
    if (kv->type != GGUF_STRING)
        return ah_fail(e, "%s: key '%s' has value type %u, not a string", f->path, key, kv->type);
    *s = (const char *)kv->val;
    *len = (size_t)kv->n;
    return 0;
}

int gguf_get_arr(const gguf_file *f, const char *key, int elem, const gguf_kv **out, ah_err *e) {
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv) return 1;
    if (kv->type != GGUF_ARRAY || (elem >= 0 && kv->elem != (gguf_vtype)elem))
        return ah_fail(e, "%s: key '%s' is not an array of value type %d", f->path, key, elem);
    *out = kv;
    return 0;
}

int64_t gguf_arr_int(const gguf_kv *kv, uint64_t i) {
    int64_t v = 0;
    int big;
    size_t sz = scalar_size(kv->elem);
    if (sz && int_of(kv->val + i * sz, kv->elem, &v, &big) == 0) return v;
    if (kv->elem == GGUF_F32) return (int64_t)gguf_arr_f32(kv, i);
    return 0;
}

float gguf_arr_f32(const gguf_kv *kv, uint64_t i) {
    if (kv->elem == GGUF_F32) {
        float v;
        memcpy(&v, kv->val + i * 4, 4);
        return v;
    }
    if (kv->elem == GGUF_F64) {
        double v;
        memcpy(&v, kv->val + i * 8, 8);
        return (float)v;
    }
    return (float)gguf_arr_int(kv, i);
}

const uint8_t *gguf_str_next(const uint8_t *p, const char **s, uint64_t *len) {
    memcpy(len, p, 8);
    *s = (const char *)p + 8;
    return p + 8 + *len;
}

void gguf_release(const gguf_file *f, const void *p, size_t n) {
    const uint8_t *q = p;
    if (!f || !f->mapped || q < f->base || n > f->len || (size_t)(q - f->base) > f->len - n) return;
    ah_release_mapped(p, n);
}

// ---------------------------------------------------------------------------------------------
// Blocks (FORMATS.md section 4.1): per 32 values, fp16 d (and fp16 m for Q4_1), then codes.
// Q4_0 y = (nibble - 8) * d, Q4_1 y = nibble * d + m, Q8_0 y = q * d; byte k of the nibbles
// holds value k (low) and value k + 16 (high). Each product is exact in fp32.

void gguf_dequant_row(float *out, const void *src, gguf_ggml_type t, size_t n) {
    const uint8_t *b = src;
    if (t == GGML_T_F32 || t == GGML_T_F16 || t == GGML_T_BF16) {
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            if (t == GGML_T_F32) {
                memcpy(&out[i], b + 4 * i, 4);
                continue;
            }
            memcpy(&h, b + 2 * i, 2);
            out[i] = t == GGML_T_F16 ? ah_f16_to_f32(h) : ah_bf16_to_f32(h);
        }
        return;
    }
    size_t bb = (size_t)gguf_row_bytes(t, GGML_QK);   // bytes per block
    for (size_t j = 0; j < n / GGML_QK; j++, b += bb) {
        float *y = out + j * GGML_QK;
        uint16_t dh, mh;
        memcpy(&dh, b, 2);
        float d = ah_f16_to_f32(dh);
        if (t == GGML_T_Q8_0) {
            for (int k = 0; k < GGML_QK; k++) y[k] = (float)(int8_t)b[2 + k] * d;
            continue;
        }
        float m = 0.0f;
        const uint8_t *qs = b + 2;
        if (t == GGML_T_Q4_1) {
            memcpy(&mh, b + 2, 2);
            m = ah_f16_to_f32(mh);
            qs = b + 4;
        }
        for (int k = 0; k < 16; k++) {
            int lo = qs[k] & 0x0F, hi = qs[k] >> 4;
            y[k] = t == GGML_T_Q4_1 ? (float)lo * d + m : (float)(lo - 8) * d;
            y[k + 16] = t == GGML_T_Q4_1 ? (float)hi * d + m : (float)(hi - 8) * d;
        }
    }
}
