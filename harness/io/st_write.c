// st_write.c — writing safetensors files (st_write, st_write_fill; safetensors.h).
//
// Tensors are laid out in the order given, back to back from offset 0, and the file ends with
// the last one's data: the exact tiling the reader (safetensors.c) and the reference
// implementation require. The header is padded with spaces to a multiple of 8 bytes, as
// HuggingFace's writer does, so every tensor of 8-byte-multiple size stays aligned.
#include "io/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mem.h"

// Writes all n bytes, retrying short writes and EINTR.
static int write_all(int fd, const void *p, size_t n, const char *path, ah_err *e) {
    const uint8_t *c = p;
    while (n > 0) {
        size_t step = n < ((size_t)1 << 30) ? n : ((size_t)1 << 30);
        ssize_t w = write(fd, c, step);
        if (w < 0) {
            if (errno == EINTR) continue;
            return ah_fail(e, "%s: write failed: %s", path, strerror(errno));
        }
        if (w == 0) return ah_fail(e, "%s: write made no progress (disk full?)", path);
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

// Builds the header object: "__metadata__" first, then tensors in the given order.
// need_data: tensors must carry their data (st_write); st_write_fill produces it instead.
static json_t *build_header(const char *path, const st_write_tensor *t, size_t n,
                            const char *metadata_json, int need_data, ah_err *e) {
    json_t *h = json_object();
    if (!h) {
        ah_fail(e, "%s: out of memory", path);
        return NULL;
    }
    if (metadata_json) {
        json_error_t jerr;
        json_t *m = json_loads(metadata_json, JSON_REJECT_DUPLICATES, &jerr);
        if (!m) {
            ah_fail(e, "%s: metadata is not valid JSON: %s", path, jerr.text);
            goto fail;
        }
        const char *k;
        json_t *v;
        int bad = !json_is_object(m);
        if (!bad) {
            json_object_foreach(m, k, v) bad |= !json_is_string(v);
        }
        if (bad) {
            json_decref(m);
            ah_fail(e, "%s: metadata must be a JSON object of string values (safetensors loaders "
                    "reject anything else)", path);
            goto fail;
        }
        json_object_set_new(h, "__metadata__", m);
    }
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = t[i].name;
        if (!name || !name[0]) {
            ah_fail(e, "%s: tensor #%zu has no name", path, i);
            goto fail;
        }
        if (strcmp(name, "__metadata__") == 0) {
            ah_fail(e, "%s: tensor '%s': name is reserved", path, name);
            goto fail;
        }
        if (st_dtype_size(t[i].dtype) == 0) {
            ah_fail(e, "%s: tensor '%s': invalid dtype %d", path, name, (int)t[i].dtype);
            goto fail;
        }
        if (t[i].ndim < 0 || t[i].ndim > ST_MAX_DIMS) {
            ah_fail(e, "%s: tensor '%s': ndim %d out of range 0..%d", path, name, t[i].ndim, ST_MAX_DIMS);
            goto fail;
        }
        if (json_object_get(h, name)) {
            ah_fail(e, "%s: tensor '%s': duplicate name", path, name);
            goto fail;
        }
        size_t numel = 1, nbytes;
        json_t *shape = json_array();
        for (int d = 0; d < t[i].ndim; d++) {
            if (t[i].shape[d] < 0 || (uint64_t)t[i].shape[d] > SIZE_MAX ||
                ah_mul_ok(&numel, numel, (size_t)t[i].shape[d])) {
                json_decref(shape);
                ah_fail(e, "%s: tensor '%s': bad shape (negative dimension or overflowing product)",
                        path, name);
                goto fail;
            }
            json_array_append_new(shape, json_integer(t[i].shape[d]));
        }
        if (ah_mul_ok(&nbytes, numel, st_dtype_size(t[i].dtype)) || off + nbytes < off ||
            off + nbytes > (uint64_t)INT64_MAX) {
            json_decref(shape);
            ah_fail(e, "%s: tensor '%s': byte size overflows", path, name);
            goto fail;
        }
        if (nbytes && !t[i].data && need_data) {
            json_decref(shape);
            ah_fail(e, "%s: tensor '%s': NULL data", path, name);
            goto fail;
        }
        json_t *ent = json_object();
        json_t *js = json_string(st_dtype_name(t[i].dtype));
        json_t *offs = json_pack("[II]", (json_int_t)off, (json_int_t)(off + nbytes));
        off += nbytes;
        if (!ent || !js || !shape || !offs || json_object_set_new(ent, "dtype", js) ||
            json_object_set_new(ent, "shape", shape) || json_object_set_new(ent, "data_offsets", offs) ||
            json_object_set_new(h, name, ent)) {   // fails on a name that is not valid UTF-8
            ah_fail(e, "%s: tensor '%s': cannot build header entry (name not UTF-8?)", path, name);
            goto fail;
        }
    }
    return h;
fail:
    json_decref(h);
    return NULL;
}

// Bytes per st_write_fill chunk: bounds the writer's memory whatever the tensor sizes (the
// buffer, plus the source pages a fill copies from before it releases them).
#define ST_FILL_CHUNK ((size_t)16 << 20)

// Writes tensor i's nbytes: from t[i].data, or (fill set) produced chunk by chunk into buf.
static int write_tensor(int fd, const st_write_tensor *t, size_t i, size_t nbytes, st_fill_fn fill,
                        void *ctx, uint8_t *buf, const char *path, ah_err *e) {
    if (!fill) return write_all(fd, t[i].data, nbytes, path, e);
    for (size_t off = 0; off < nbytes; off += ST_FILL_CHUNK) {
        size_t len = nbytes - off < ST_FILL_CHUNK ? nbytes - off : ST_FILL_CHUNK;
        if (fill(ctx, i, buf, off, len, e)) return ah_wrap(e, "%s: tensor '%s'", path, t[i].name);
        if (write_all(fd, buf, len, path, e)) return -1;
    }
    return 0;
}

static int write_file(const char *path, const st_write_tensor *t, size_t n,
                      const char *metadata_json, st_fill_fn fill, void *ctx, ah_err *e) {
    if (!path) return ah_fail(e, "st_write: NULL path");
    if (n && !t) return ah_fail(e, "%s: NULL tensor list", path);
    json_t *h = build_header(path, t, n, metadata_json, fill == NULL, e);
    if (!h) return -1;
    char *text = json_dumps(h, JSON_COMPACT);
    json_decref(h);
    if (!text) return ah_fail(e, "%s: cannot serialise header", path);

    size_t tl = strlen(text), padded = (tl + 7) & ~(size_t)7;   // HF pads with spaces to 8
    char *hdr = malloc(8 + padded);
    if (!hdr) {
        free(text);
        return ah_fail(e, "%s: out of memory", path);
    }
    for (int i = 0; i < 8; i++) hdr[i] = (char)(((uint64_t)padded >> (8 * i)) & 0xff);
    memcpy(hdr + 8, text, tl);
    memset(hdr + 8 + tl, ' ', padded - tl);
    free(text);

    size_t pl = strlen(path);
    char *tmp = malloc(pl + 5);
    if (!tmp) {
        free(hdr);
        return ah_fail(e, "%s: out of memory", path);
    }
    memcpy(tmp, path, pl);
    memcpy(tmp + pl, ".tmp", 5);

    int rc = 0;
    uint8_t *buf = NULL;
    if (fill && !(buf = malloc(ST_FILL_CHUNK))) {
        rc = ah_fail(e, "%s: out of memory (write buffer)", path);
        goto out;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = ah_fail(e, "%s: cannot create %s: %s", path, tmp, strerror(errno));
        goto out;
    }
    rc = write_all(fd, hdr, 8 + padded, path, e);
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t nbytes = st_dtype_size(t[i].dtype);
        for (int d = 0; d < t[i].ndim; d++) nbytes *= (size_t)t[i].shape[d];   // checked above
        if (nbytes) rc = write_tensor(fd, t, i, nbytes, fill, ctx, buf, path, e);
    }
    if (rc == 0 && fsync(fd) != 0) rc = ah_fail(e, "%s: fsync failed: %s", path, strerror(errno));
    if (close(fd) != 0 && rc == 0) rc = ah_fail(e, "%s: close failed: %s", path, strerror(errno));
    if (rc == 0 && rename(tmp, path) != 0)
        rc = ah_fail(e, "%s: cannot rename %s into place: %s", path, tmp, strerror(errno));
    if (rc) {
        unlink(tmp);
    } else {   // make the rename durable; best effort (some filesystems refuse fsync on a dir)
        const char *slash = strrchr(path, '/');
        char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
        int dfd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
        if (dfd >= 0) {
            (void)fsync(dfd);
            close(dfd);
        }
        free(dir);
    }
out:
    free(buf);
    free(tmp);
    free(hdr);
    return rc;
}

int st_write(const char *path, const st_write_tensor *t, size_t n, const char *metadata_json,
             ah_err *e) {
    return write_file(path, t, n, metadata_json, NULL, NULL, e);
}

int st_write_fill(const char *path, const st_write_tensor *t, size_t n,
                  const char *metadata_json, st_fill_fn fill, void *ctx, ah_err *e) {
    if (!fill) return ah_fail(e, "%s: st_write_fill without a fill function", path ? path : "?");
    return write_file(path, t, n, metadata_json, fill, ctx, e);
}
