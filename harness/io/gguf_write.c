// gguf_write.c — GGUF v3 writer (gguf_write.h). The header (key-values, tensor infos) is built
// in one growable buffer as it is declared; tensor offsets are known as soon as a tensor is
// registered, so the file is written front to back in one pass.
#include "io/gguf_write.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"

// GGUF value types (gguf.h enum gguf_type).
enum { GV_U32 = 4, GV_I32 = 5, GV_F32 = 6, GV_BOOL = 7, GV_STRING = 8, GV_ARRAY = 9 };

typedef struct {
    uint64_t nbytes;     // data bytes, unpadded
} gguf_tinfo;

struct gguf_w {
    ah_buf kv;           // the key-value section, serialized
    uint64_t n_kv;
    ah_buf ti;           // the tensor-info section, serialized
    gguf_tinfo *t;       // (n_t)
    size_t n_t, cap_t;
    uint64_t data_len;   // data section bytes so far (each tensor padded to GGUF_ALIGN)
};

static uint64_t pad_to(uint64_t n) { return (n + GGUF_ALIGN - 1) / GGUF_ALIGN * GGUF_ALIGN; }

gguf_w *gguf_w_new(ah_err *e) {
    gguf_w *w = calloc(1, sizeof *w);
    if (!w) ah_fail(e, "out of memory (GGUF writer)");
    return w;
}

void gguf_w_free(gguf_w *w) {
    if (!w) return;
    free(w->kv.p);
    free(w->ti.p);
    free(w->t);
    free(w);
}

static int put(ah_buf *b, const void *p, size_t n, ah_err *e) {
    return ah_buf_put(b, p, n) ? ah_fail(e, "out of memory (GGUF header)") : 0;
}
static int put_u32(ah_buf *b, uint32_t v, ah_err *e) { return put(b, &v, 4, e); }
static int put_u64(ah_buf *b, uint64_t v, ah_err *e) { return put(b, &v, 8, e); }
// gguf_string: u64 length, bytes (no NUL).
static int put_str(ah_buf *b, const char *s, size_t n, ah_err *e) {
    return put_u64(b, n, e) || put(b, s, n, e) ? -1 : 0;
}

// Key and value type of a new key-value.
static int kv_head(gguf_w *w, const char *key, uint32_t type, ah_err *e) {
    w->n_kv++;
    return put_str(&w->kv, key, strlen(key), e) || put_u32(&w->kv, type, e) ? -1 : 0;
}

int gguf_w_u32(gguf_w *w, const char *key, uint32_t v, ah_err *e) {
    return kv_head(w, key, GV_U32, e) || put_u32(&w->kv, v, e) ? -1 : 0;
}
int gguf_w_i32(gguf_w *w, const char *key, int32_t v, ah_err *e) {
    return kv_head(w, key, GV_I32, e) || put(&w->kv, &v, 4, e) ? -1 : 0;
}
int gguf_w_f32(gguf_w *w, const char *key, float v, ah_err *e) {
    return kv_head(w, key, GV_F32, e) || put(&w->kv, &v, 4, e) ? -1 : 0;
}
int gguf_w_bool(gguf_w *w, const char *key, int v, ah_err *e) {
    uint8_t b = v != 0;   // GGUF bool: one byte, 0 or 1
    return kv_head(w, key, GV_BOOL, e) || put(&w->kv, &b, 1, e) ? -1 : 0;
}
int gguf_w_str(gguf_w *w, const char *key, const char *s, ah_err *e) {
    return kv_head(w, key, GV_STRING, e) || put_str(&w->kv, s, strlen(s), e) ? -1 : 0;
}

// An array's head: element type and count.
static int arr_head(gguf_w *w, const char *key, uint32_t elem, size_t n, ah_err *e) {
    return kv_head(w, key, GV_ARRAY, e) || put_u32(&w->kv, elem, e) || put_u64(&w->kv, n, e) ? -1 : 0;
}

int gguf_w_arr_str(gguf_w *w, const char *key, const char *const *s, const uint32_t *len,
                   size_t n, ah_err *e) {
    if (arr_head(w, key, GV_STRING, n, e)) return -1;
    for (size_t i = 0; i < n; i++)
        if (put_str(&w->kv, s[i], len ? len[i] : strlen(s[i]), e)) return -1;
    return 0;
}
int gguf_w_arr_f32(gguf_w *w, const char *key, const float *v, size_t n, ah_err *e) {
    return arr_head(w, key, GV_F32, n, e) || put(&w->kv, v, n * 4, e) ? -1 : 0;
}
int gguf_w_arr_i32(gguf_w *w, const char *key, const int32_t *v, size_t n, ah_err *e) {
    return arr_head(w, key, GV_I32, n, e) || put(&w->kv, v, n * 4, e) ? -1 : 0;
}

uint64_t gguf_row_bytes(gguf_ggml_type t, uint64_t n) {
    switch (t) {
    case GGML_T_F32: return 4 * n;
    case GGML_T_F16: case GGML_T_BF16: return 2 * n;
    case GGML_T_Q4_0: return n % GGML_QK ? 0 : n / GGML_QK * 18;
    case GGML_T_Q4_1: return n % GGML_QK ? 0 : n / GGML_QK * 20;
    case GGML_T_Q8_0: return n % GGML_QK ? 0 : n / GGML_QK * 34;
    }
    return 0;
}

int gguf_w_tensor(gguf_w *w, const char *name, gguf_ggml_type type, int ndim,
                  const uint64_t *ne, ah_err *e) {
    size_t nlen = strlen(name);
    if (nlen == 0 || nlen > 63)   // llama.cpp refuses names of GGML_MAX_NAME (64) bytes or more
        return ah_fail(e, "GGUF tensor name '%s' must have 1 to 63 bytes", name);
    if (ndim < 1 || ndim > 4) return ah_fail(e, "GGUF tensor '%s': %d dims (1..4)", name, ndim);
    uint64_t nbytes = gguf_row_bytes(type, ne[0]);
    if (nbytes == 0)
        return ah_fail(e, "GGUF tensor '%s': a row of %llu values has no %d-value blocks of type %d",
                       name, (unsigned long long)ne[0], GGML_QK, (int)type);
    for (int d = 1; d < ndim; d++) {
        if (ne[d] == 0 || nbytes > UINT64_MAX / 2 / ne[d])
            return ah_fail(e, "GGUF tensor '%s': dim %d is %llu", name, d, (unsigned long long)ne[d]);
        nbytes *= ne[d];
    }
    if (w->n_t == w->cap_t) {
        size_t cap = w->cap_t ? 2 * w->cap_t : 64;
        gguf_tinfo *t = realloc(w->t, cap * sizeof *t);
        if (!t) return ah_fail(e, "out of memory (GGUF header)");
        w->t = t;
        w->cap_t = cap;
    }
    if (put_str(&w->ti, name, nlen, e) || put_u32(&w->ti, (uint32_t)ndim, e)) return -1;
    for (int d = 0; d < ndim; d++)
        if (put_u64(&w->ti, ne[d], e)) return -1;
    if (put_u32(&w->ti, (uint32_t)type, e) || put_u64(&w->ti, w->data_len, e)) return -1;
    w->t[w->n_t++].nbytes = nbytes;
    w->data_len += pad_to(nbytes);
    return 0;
}

uint64_t gguf_w_tensor_bytes(const gguf_w *w, size_t i) { return i < w->n_t ? w->t[i].nbytes : 0; }

static int write_all(int fd, const void *p, size_t n, const char *path, ah_err *e) {
    const uint8_t *c = p;
    while (n > 0) {
        ssize_t r = write(fd, c, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return ah_fail(e, "%s: write failed: %s", path, r < 0 ? strerror(errno) : "no progress (disk full?)");
        c += r;
        n -= (size_t)r;
    }
    return 0;
}

int gguf_w_write(gguf_w *w, const char *path, gguf_fill_fn fill, void *ctx, ah_err *e) {
    enum { CHUNK = 4 << 20 };
    static const uint8_t zeros[GGUF_ALIGN];
    ah_buf head = {0};
    uint8_t *buf = malloc(CHUNK);
    int fd = -1, rc = -1;
    if (!buf || put(&head, "GGUF", 4, e) || put_u32(&head, 3, e) || put_u64(&head, w->n_t, e) ||
        put_u64(&head, w->n_kv, e) || put(&head, w->kv.p, w->kv.n, e) ||
        put(&head, w->ti.p, w->ti.n, e)) {
        if (!buf) ah_fail(e, "out of memory (GGUF writer)");
        goto done;
    }
    if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
        ah_fail(e, "%s: cannot create: %s", path, strerror(errno));
        goto done;
    }
    // The data section starts at the header's length rounded up to the alignment.
    if (write_all(fd, head.p, head.n, path, e) ||
        write_all(fd, zeros, pad_to(head.n) - head.n, path, e))
        goto done;
    for (size_t i = 0; i < w->n_t; i++) {
        uint64_t nb = w->t[i].nbytes;
        for (uint64_t off = 0; off < nb; off += CHUNK) {
            size_t len = nb - off < CHUNK ? (size_t)(nb - off) : CHUNK;
            if (fill(ctx, i, buf, off, len, e) || write_all(fd, buf, len, path, e)) goto done;
        }
        if (write_all(fd, zeros, pad_to(nb) - nb, path, e)) goto done;
    }
    if (fsync(fd) != 0) {
        ah_fail(e, "%s: fsync failed: %s", path, strerror(errno));
        goto done;
    }
    rc = 0;
done:
    if (fd >= 0 && close(fd) != 0 && rc == 0) rc = ah_fail(e, "%s: close failed: %s", path, strerror(errno));
    free(head.p);
    free(buf);
    return rc;
}
