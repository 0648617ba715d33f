// safetensors.c — read (mmap) HuggingFace safetensors files and widen their float tensors; see
// safetensors.h (writing: st_write.c).
//
// Reading never trusts the file. Order of checks for one file, all before any allocation whose
// size comes from the file:
//   file size >= 8  ->  header length N <= size - 8 and <= ST_MAX_HEADER  ->  header starts
//   with '{'  ->  JSON parses (jansson: duplicate keys rejected, nesting depth capped at
//   JSON_PARSER_MAX_DEPTH = 2048, so a hostile header cannot blow the stack)  ->  it is an
//   object  ->  per tensor: known dtype, shape of <= ST_MAX_DIMS non-negative ints whose
//   product (and byte size) does not overflow, data_offsets [begin, end] with
//   begin <= end <= buffer size and end - begin == numel * dtype size  ->  the tensors' data
//   ranges tile the data buffer exactly: no overlap, no gap, no trailing bytes.
// Tensors keep the header's order (shards in index order); a name-sorted pointer array serves
// st_find by bsearch.
#include "io/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/half.h"
#include "core/mem.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c reads tensor data in place and assumes a little-endian host"
#endif

#define ST_MAX_HEADER ((uint64_t)100000000)    // 100 MB, as the reference implementation
#define ST_MAX_INDEX ((off_t)100000000)        // an index.json larger than this is not one
#define ST_SINGLE_NAME "model.safetensors"
#define ST_INDEX_NAME "model.safetensors.index.json"

// ---------------------------------------------------------------------------------------------
// dtypes

static const struct {
    const char *name;
    size_t size;
} dtype_info[] = {
    [ST_F32] = {"F32", 4}, [ST_F16] = {"F16", 2}, [ST_BF16] = {"BF16", 2}, [ST_I32] = {"I32", 4},
    [ST_U8] = {"U8", 1},   [ST_I8] = {"I8", 1},   [ST_I64] = {"I64", 8},   [ST_F64] = {"F64", 8},
};
#define ST_NDTYPES (sizeof dtype_info / sizeof dtype_info[0])

static int dtype_valid(st_dtype d) { return (unsigned)d < ST_NDTYPES; }

const char *st_dtype_name(st_dtype d) { return dtype_valid(d) ? dtype_info[d].name : "?"; }

size_t st_dtype_size(st_dtype d) { return dtype_valid(d) ? dtype_info[d].size : 0; }

static int dtype_parse(const char *s, st_dtype *out) {
    for (size_t i = 0; i < ST_NDTYPES; i++)
        if (strcmp(s, dtype_info[i].name) == 0) {
            *out = (st_dtype)i;
            return 0;
        }
    return -1;
}

// ---------------------------------------------------------------------------------------------
// the set

typedef struct {
    char *path;   // owned; st_tensor.file points here
    void *map;    // mmap'd read-only, size bytes
    size_t size;
} st_file;

struct st_set {
    st_file *files;   // (nfiles)
    size_t nfiles, cap_files;
    st_tensor *t;     // (n) header order; names owned
    size_t n, cap_t;
    const st_tensor **by_name;   // (n) sorted by name
};

void st_close(st_set *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) free((char *)s->t[i].name);
    for (size_t i = 0; i < s->nfiles; i++) {
        if (s->files[i].map) munmap(s->files[i].map, s->files[i].size);
        free(s->files[i].path);
    }
    free(s->files);
    free(s->t);
    free(s->by_name);
    free(s);
}

size_t st_count(const st_set *s) { return s ? s->n : 0; }

const st_tensor *st_at(const st_set *s, size_t i) { return s && i < s->n ? &s->t[i] : NULL; }

static int cmp_by_name(const void *a, const void *b) {
    return strcmp((*(const st_tensor *const *)a)->name, (*(const st_tensor *const *)b)->name);
}

static int cmp_key_name(const void *key, const void *elem) {
    return strcmp((const char *)key, (*(const st_tensor *const *)elem)->name);
}

const st_tensor *st_find(const st_set *s, const char *name) {
    if (!s || !name || s->n == 0) return NULL;
    const st_tensor *const *hit = bsearch(name, s->by_name, s->n, sizeof *s->by_name, cmp_key_name);
    return hit ? *hit : NULL;
}

// Builds by_name; a name present twice (only possible across shards: jansson rejects duplicate
// keys inside one header) is an error naming both files.
static int build_index(st_set *s, ah_err *e) {
    s->by_name = malloc((s->n ? s->n : 1) * sizeof *s->by_name);
    if (!s->by_name) return ah_fail(e, "safetensors: out of memory indexing %zu tensors", s->n);
    for (size_t i = 0; i < s->n; i++) s->by_name[i] = &s->t[i];
    qsort(s->by_name, s->n, sizeof *s->by_name, cmp_by_name);
    for (size_t i = 1; i < s->n; i++)
        if (strcmp(s->by_name[i - 1]->name, s->by_name[i]->name) == 0)
            return ah_fail(e, "%s: tensor '%s': duplicate name (also in %s)", s->by_name[i]->file,
                           s->by_name[i]->name, s->by_name[i - 1]->file);
    return 0;
}

// ---------------------------------------------------------------------------------------------
// one file

// Reads an int from a JSON array element: a non-negative integer.
static int json_nonneg(const json_t *v, uint64_t *out) {
    if (!json_is_integer(v)) return -1;
    json_int_t x = json_integer_value(v);
    if (x < 0) return -1;
    *out = (uint64_t)x;
    return 0;
}

// Validates one header entry and fills *t (name and file are set by the caller).
static int parse_entry(st_tensor *t, const char *path, const char *name, const json_t *v,
                       const uint8_t *buf, size_t buflen, ah_err *e) {
    if (!json_is_object(v)) return ah_fail(e, "%s: tensor '%s': entry is not a JSON object", path, name);

    const json_t *jd = json_object_get(v, "dtype");
    if (!json_is_string(jd)) return ah_fail(e, "%s: tensor '%s': missing or non-string \"dtype\"", path, name);
    if (dtype_parse(json_string_value(jd), &t->dtype))
        return ah_fail(e, "%s: tensor '%s': unknown dtype '%s' (known: F32 F16 BF16 I32 U8 I8 I64 F64)",
                       path, name, json_string_value(jd));

    const json_t *js = json_object_get(v, "shape");
    if (!json_is_array(js)) return ah_fail(e, "%s: tensor '%s': missing or non-array \"shape\"", path, name);
    size_t nd = json_array_size(js);
    if (nd > ST_MAX_DIMS)
        return ah_fail(e, "%s: tensor '%s': %zu dimensions, at most %d supported", path, name, nd,
                       ST_MAX_DIMS);
    t->ndim = (int)nd;
    size_t numel = 1;
    for (size_t i = 0; i < nd; i++) {
        uint64_t d;
        if (json_nonneg(json_array_get(js, i), &d) || d > (uint64_t)INT64_MAX)
            return ah_fail(e, "%s: tensor '%s': shape[%zu] is not a non-negative integer", path, name, i);
        t->shape[i] = (int64_t)d;
        if (d > SIZE_MAX || ah_mul_ok(&numel, numel, (size_t)d))
            return ah_fail(e, "%s: tensor '%s': shape product overflows", path, name);
    }
    for (size_t i = nd; i < ST_MAX_DIMS; i++) t->shape[i] = 0;
    t->numel = numel;
    if (ah_mul_ok(&t->nbytes, numel, dtype_info[t->dtype].size))
        return ah_fail(e, "%s: tensor '%s': byte size overflows (%zu elements of %s)", path, name,
                       numel, dtype_info[t->dtype].name);

    const json_t *jo = json_object_get(v, "data_offsets");
    uint64_t begin, end;
    if (!json_is_array(jo) || json_array_size(jo) != 2 || json_nonneg(json_array_get(jo, 0), &begin) ||
        json_nonneg(json_array_get(jo, 1), &end))
        return ah_fail(e, "%s: tensor '%s': \"data_offsets\" must be [begin, end] of non-negative integers",
                       path, name);
    if (end < begin)
        return ah_fail(e, "%s: tensor '%s': data_offsets end %llu < begin %llu", path, name,
                       (unsigned long long)end, (unsigned long long)begin);
    if (end > buflen)
        return ah_fail(e, "%s: tensor '%s': data_offsets [%llu, %llu] run past the data buffer (%zu bytes); "
                       "file truncated?", path, name, (unsigned long long)begin,
                       (unsigned long long)end, buflen);
    if (end - begin != t->nbytes)
        return ah_fail(e, "%s: tensor '%s': data_offsets span %llu bytes but shape x %s needs %zu",
                       path, name, (unsigned long long)(end - begin), dtype_info[t->dtype].name,
                       t->nbytes);
    t->data = buf + begin;
    return 0;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap : 16;
    while (nc < need) {
        if (nc > SIZE_MAX / 2) return -1;
        nc *= 2;
    }
    size_t bytes;
    if (ah_mul_ok(&bytes, nc, elem)) return -1;
    void *q = realloc(*p, bytes);
    if (!q) return -1;
    *p = q;
    *cap = nc;
    return 0;
}

// Data order: by first byte; at the same first byte empty tensors first (as the reference
// sorts by (begin, end)), then the larger, so that a tensor inside another is the one named.
static int cmp_by_data(const void *a, const void *b) {
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    if (x->data != y->data) return (const uint8_t *)x->data < (const uint8_t *)y->data ? -1 : 1;
    if ((x->nbytes == 0) != (y->nbytes == 0)) return x->nbytes == 0 ? -1 : 1;
    return x->nbytes > y->nbytes ? -1 : x->nbytes < y->nbytes;
}

// The reference implementation's rule for tensors [first, s->n) of one file: in data order
// they tile the data buffer exactly, from its first byte to its last, with no overlap (a
// hostile header could alias one tensor's bytes into another's), no gap and no trailing bytes
// (bytes no tensor owns: a file this loader accepted would be refused by the others).
static int check_layout(st_set *s, size_t first, const uint8_t *buf, size_t buflen,
                        const char *path, ah_err *e) {
    size_t n = s->n - first, next = 0;   // next: where the next tensor must begin
    const st_tensor **v = malloc((n ? n : 1) * sizeof *v);
    if (!v) return ah_fail(e, "%s: out of memory", path);
    for (size_t i = 0; i < n; i++) v[i] = &s->t[first + i];
    qsort(v, n, sizeof *v, cmp_by_data);
    int rc = 0;
    const st_tensor *prev = NULL;   // the last non-empty tensor so far
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t begin = (size_t)((const uint8_t *)v[i]->data - buf);
        if (begin < next)
            rc = ah_fail(e, "%s: tensor '%s': data_offsets overlap those of tensor '%s'", path,
                         v[i]->name, prev->name);
        else if (begin > next)
            rc = ah_fail(e, "%s: tensor '%s': data_offsets begin %zu leaves %zu bytes unused after "
                         "%s%s%s (tensors must cover the data buffer without gaps)", path,
                         v[i]->name, begin, begin - next, prev ? "tensor '" : "the buffer start",
                         prev ? prev->name : "", prev ? "'" : "");
        next = begin + v[i]->nbytes;
        if (v[i]->nbytes) prev = v[i];
    }
    if (rc == 0 && next != buflen)
        rc = ah_fail(e, "%s: %zu trailing bytes after the last tensor's data (the tensors cover %zu "
                     "of the %zu-byte data buffer)", path, buflen - next, next, buflen);
    free(v);
    return rc;
}

// mmaps path, validates its header and appends its tensors to s.
static int load_file(st_set *s, const char *path, ah_err *e) {
    if (grow((void **)&s->files, &s->cap_files, s->nfiles + 1, sizeof *s->files))
        return ah_fail(e, "%s: out of memory", path);
    st_file *f = &s->files[s->nfiles];
    memset(f, 0, sizeof *f);
    f->path = strdup(path);
    if (!f->path) return ah_fail(e, "%s: out of memory", path);
    s->nfiles++;   // from here st_close frees it

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ah_fail(e, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return ah_fail(e, "%s: cannot stat: %s", path, strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return ah_fail(e, "%s: not a regular file", path);
    }
    if (st.st_size < 8) {
        close(fd);
        if (st.st_size == 0) return ah_fail(e, "%s: empty file, not a safetensors checkpoint", path);
        return ah_fail(e, "%s: only %lld bytes, too short for a safetensors header (8-byte length + JSON)",
                       path, (long long)st.st_size);
    }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        return ah_fail(e, "%s: file too large to map", path);
    }
    size_t size = (size_t)st.st_size;
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int merr = errno;
    close(fd);
    if (map == MAP_FAILED) return ah_fail(e, "%s: cannot mmap %zu bytes: %s", path, size, strerror(merr));
    f->map = map;
    f->size = size;

    const uint8_t *p = map;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | p[i];
    if (hlen > size - 8)
        return ah_fail(e, "%s: not a safetensors file: header length %llu exceeds the %zu bytes after "
                       "the 8-byte length field", path, (unsigned long long)hlen, size - 8);
    if (hlen > ST_MAX_HEADER)
        return ah_fail(e, "%s: header length %llu exceeds the %llu-byte limit", path,
                       (unsigned long long)hlen, (unsigned long long)ST_MAX_HEADER);
    if (hlen < 2 || p[8] != '{')
        return ah_fail(e, "%s: not a safetensors file: header (%llu bytes) does not start with '{'",
                       path, (unsigned long long)hlen);

    json_error_t jerr;
    json_t *root = json_loadb((const char *)p + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        if (strstr(jerr.text, "duplicate object key"))   // jansson: ... near '"name"'
            return ah_fail(e, "%s: duplicate tensor name in header (%s)", path, jerr.text);
        return ah_fail(e, "%s: header is not valid JSON: %s (line %d, column %d)", path, jerr.text,
                       jerr.line, jerr.column);
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return ah_fail(e, "%s: header JSON is not an object", path);
    }

    const uint8_t *buf = p + 8 + hlen;
    size_t buflen = size - 8 - (size_t)hlen;
    if (grow((void **)&s->t, &s->cap_t, s->n + json_object_size(root), sizeof *s->t)) {
        json_decref(root);
        return ah_fail(e, "%s: out of memory for %zu tensors", path, json_object_size(root));
    }
    const char *key;
    json_t *val;
    int rc = 0;
    size_t first = s->n;
    json_object_foreach(root, key, val) {
        if (strcmp(key, "__metadata__") == 0) continue;
        st_tensor *t = &s->t[s->n];
        memset(t, 0, sizeof *t);
        if (parse_entry(t, path, key, val, buf, buflen, e)) {
            rc = -1;
            break;
        }
        t->name = strdup(key);
        if (!t->name) {
            rc = ah_fail(e, "%s: out of memory", path);
            break;
        }
        t->file = f->path;
        s->n++;
    }
    json_decref(root);
    if (rc == 0) rc = check_layout(s, first, buf, buflen, path, e);
    return rc;
}

// ---------------------------------------------------------------------------------------------
// opening: file, directory, sharded index

static int name_is_safe(const char *n) {
    if (!n[0] || n[0] == '/') return 0;
    for (const char *c = n; *c;) {   // reject any ".." path component
        const char *slash = strchr(c, '/');
        size_t len = slash ? (size_t)(slash - c) : strlen(c);
        if (len == 2 && c[0] == '.' && c[1] == '.') return 0;
        c += len + (slash ? 1 : 0);
    }
    return 1;
}

static int load_index(st_set *s, const char *index_path, ah_err *e) {
    struct stat st;
    if (stat(index_path, &st) != 0) return ah_fail(e, "%s: cannot stat: %s", index_path, strerror(errno));
    if (st.st_size > ST_MAX_INDEX)
        return ah_fail(e, "%s: %lld bytes, too large for a shard index", index_path, (long long)st.st_size);
    size_t len;
    char *text = ah_read_file(index_path, &len, e);
    if (!text) return -1;
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!root)
        return ah_fail(e, "%s: not valid JSON: %s (line %d, column %d)", index_path, jerr.text,
                       jerr.line, jerr.column);
    json_t *wm = json_object_get(root, "weight_map");
    if (!json_is_object(root) || !json_is_object(wm)) {
        json_decref(root);
        return ah_fail(e, "%s: no \"weight_map\" object; not a safetensors index", index_path);
    }

    // Directory of the index: shard names are relative to it.
    char dir[4096];
    const char *slash = strrchr(index_path, '/');
    size_t dl = slash ? (size_t)(slash - index_path) : 0;
    if (dl >= sizeof dir) {
        json_decref(root);
        return ah_fail(e, "%s: path too long", index_path);
    }
    if (slash) {
        memcpy(dir, index_path, dl);
        dir[dl] = '\0';
        if (dl == 0) strcpy(dir, "/");
    } else {
        strcpy(dir, ".");
    }

    int rc = 0;
    const char *key;
    json_t *val;
    char shard[4096];
    // Pass 1: open each distinct shard once, in order of first appearance.
    json_object_foreach(wm, key, val) {
        if (!json_is_string(val)) {
            rc = ah_fail(e, "%s: tensor '%s': weight_map value is not a file name", index_path, key);
            break;
        }
        const char *sn = json_string_value(val);
        if (!name_is_safe(sn)) {
            rc = ah_fail(e, "%s: tensor '%s': shard name '%s' is absolute or leaves the directory",
                         index_path, key, sn);
            break;
        }
        if (ah_path_join(shard, sizeof shard, dir, sn)) {
            rc = ah_fail(e, "%s: tensor '%s': shard path too long", index_path, key);
            break;
        }
        int seen = 0;
        for (size_t i = 0; i < s->nfiles && !seen; i++) seen = strcmp(s->files[i].path, shard) == 0;
        if (seen) continue;
        if (!ah_is_file(shard)) {
            rc = ah_fail(e, "%s: shard '%s' (holding tensor '%s') is missing: %s", index_path, shard,
                         key, strerror(ENOENT));
            break;
        }
        if (load_file(s, shard, e)) {
            rc = ah_wrap(e, "%s: shard '%s'", index_path, sn);
            break;
        }
    }
    if (rc == 0) rc = build_index(s, e);
    // Pass 2: every indexed tensor is in the shard the index names.
    if (rc == 0) {
        json_object_foreach(wm, key, val) {
            ah_path_join(shard, sizeof shard, dir, json_string_value(val));
            const st_tensor *t = st_find(s, key);
            if (!t) {
                rc = ah_fail(e, "%s: tensor '%s' is listed in the index but absent from shard '%s'",
                             index_path, key, shard);
                break;
            }
            if (strcmp(t->file, shard) != 0) {
                rc = ah_fail(e, "%s: tensor '%s' is listed in shard '%s' but found in '%s'", index_path,
                             key, shard, t->file);
                break;
            }
        }
    }
    json_decref(root);
    return rc;
}

static int has_suffix(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

st_set *st_open(const char *path, ah_err *e) {
    if (!path) {
        ah_fail(e, "st_open: NULL path");
        return NULL;
    }
    st_set *s = calloc(1, sizeof *s);
    if (!s) {
        ah_fail(e, "%s: out of memory", path);
        return NULL;
    }
    int rc;
    char buf[4096];
    if (ah_is_dir(path)) {
        if (ah_path_join(buf, sizeof buf, path, ST_SINGLE_NAME) == 0 && ah_is_file(buf)) {
            rc = load_file(s, buf, e);
            if (rc == 0) rc = build_index(s, e);
        } else if (ah_path_join(buf, sizeof buf, path, ST_INDEX_NAME) == 0 && ah_is_file(buf)) {
            rc = load_index(s, buf, e);
        } else {
            rc = ah_fail(e, "%s: directory holds neither %s nor %s", path, ST_SINGLE_NAME, ST_INDEX_NAME);
        }
    } else if (has_suffix(path, ".index.json")) {
        rc = load_index(s, path, e);
    } else {
        rc = load_file(s, path, e);
        if (rc == 0) rc = build_index(s, e);
    }
    if (rc) {
        st_close(s);
        return NULL;
    }
    return s;
}

void st_release(const st_set *s, const void *p, size_t n) {
    if (!s || !p || n == 0) return;
    const uint8_t *b = p;
    for (size_t i = 0; i < s->nfiles; i++) {
        const uint8_t *m = s->files[i].map;
        if (!m || b < m || n > s->files[i].size || (size_t)(b - m) > s->files[i].size - n) continue;
        ah_release_mapped(b, n);
        return;
    }
}

// ---------------------------------------------------------------------------------------------
// widening

#define ST_CHUNK ((size_t)1 << 16)        // elements per conversion chunk
#define ST_PAR_MIN ((size_t)1 << 18)      // below this, one thread is faster

// The data of a mapped file is used in place at whatever address the header puts it (an odd
// header length leaves F16 at odd, F32 at non-multiple-of-4 addresses): it is only ever read
// through memcpy or the byte-loading widening kernels of core/half.c, never a typed pointer.
int st_widen(float *out, const void *src, size_t n, st_dtype d) {
    if (d != ST_F32 && d != ST_F16 && d != ST_BF16) return -1;
    if (n == 0) return 0;
    if (d == ST_F32) {
        memcpy(out, src, n * sizeof(float));
        return 0;
    }
    const uint8_t *p = src;
    size_t nchunks = (n + ST_CHUNK - 1) / ST_CHUNK;
#pragma omp parallel for schedule(static) if (n >= ST_PAR_MIN)
    for (size_t c = 0; c < nchunks; c++) {
        size_t lo = c * ST_CHUNK, len = n - lo < ST_CHUNK ? n - lo : ST_CHUNK;
        if (d == ST_F16) ah_f16_to_f32_n(out + lo, p + 2 * lo, len);
        else ah_bf16_to_f32_n(out + lo, p + 2 * lo, len);
    }
    return 0;
}

int st_to_f32(float *out, const st_tensor *t, ah_err *e) {
    if (!t) return ah_fail(e, "st_to_f32: NULL tensor");
    if (!out && t->numel) return ah_fail(e, "%s: tensor '%s': NULL output buffer", t->file, t->name);
    if (st_widen(out, t->data, t->numel, t->dtype))
        return ah_fail(e, "%s: tensor '%s': dtype %s is not a float type (F32/F16/BF16) and cannot "
                       "be widened", t->file, t->name, st_dtype_name(t->dtype));
    return 0;
}
