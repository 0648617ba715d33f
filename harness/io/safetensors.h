// safetensors.h — read (mmap) and write HuggingFace safetensors files.
//
// Format: 8-byte little-endian header length N, N bytes of JSON header
// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}},
// then the data buffer; offsets are relative to the buffer start.
// Reading never trusts the file: header length, offsets, shape products (overflow-checked) and
// dtype sizes are all validated against the file size before any tensor is used, and the
// tensors must tile the data buffer exactly (the reference implementation's rule); errors name
// the file and the tensor. Tensor data is used in place, at any alignment (st_widen).
// Reading: safetensors.c; writing: st_write.c.
// A checkpoint directory may hold model.safetensors or a sharded set listed in
// model.safetensors.index.json ({"weight_map": {"tensor": "file", ...}}).
#ifndef AH_SAFETENSORS_H
#define AH_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define ST_MAX_DIMS 8

typedef enum { ST_F32, ST_F16, ST_BF16, ST_I32, ST_U8, ST_I8, ST_I64, ST_F64 } st_dtype;

typedef struct {
    const char *name;        // owned by the st_set
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t numel;
    const void *data;        // borrowed from the mmap'd file (little-endian)
    size_t nbytes;
    const char *file;        // path of the file holding it
} st_tensor;

typedef struct st_set st_set;   // one file or a sharded set, all mmap'd read-only

// path: a .safetensors file, or a directory with model.safetensors or
// model.safetensors.index.json. NULL + e on error.
st_set *st_open(const char *path, ah_err *e);
void st_close(st_set *s);   // NULL-safe; unmaps everything

const st_tensor *st_find(const st_set *s, const char *name);   // NULL when absent
size_t st_count(const st_set *s);
const st_tensor *st_at(const st_set *s, size_t i);
const char *st_dtype_name(st_dtype d);
size_t st_dtype_size(st_dtype d);

// Drops this process's pages of bytes [p, p + n) of a mapped file (madvise MADV_DONTNEED; the
// range is widened to whole pages). Mapped pages once touched count in the resident set until
// then; the data stays readable (a later access faults it in again from the page cache), so
// this only ever costs time. A no-op when the range is not inside one of s's files.
void st_release(const st_set *s, const void *p, size_t n);

// Widens a float tensor (F32/F16/BF16) into out[numel]. Errors for other dtypes.
int st_to_f32(float *out, const st_tensor *t, ah_err *e);
// out (n) = src (n values of dtype d, little-endian, at any alignment) as fp32; F32 is copied.
// Returns -1 (nothing written) when d is not F32, F16 or BF16.
int st_widen(float *out, const void *src, size_t n, st_dtype d);

// Writing: tensors given as name, dtype, shape, data (data in that dtype, little-endian).
// The file is written to path.tmp then renamed, so a crash never leaves a half file.
typedef struct {
    const char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const void *data;
} st_write_tensor;
int st_write(const char *path, const st_write_tensor *t, size_t n, const char *metadata_json,
             ah_err *e);

// Streaming write for outputs larger than memory: t[i].data is ignored (may be NULL) and
// fill(ctx, i, buf, offset, len, e) produces bytes [offset, offset + len) of tensor i into buf,
// in order, in chunks of at most 16 MiB; the writer holds one chunk at a time.
typedef int (*st_fill_fn)(void *ctx, size_t i, void *buf, size_t offset, size_t len, ah_err *e);
int st_write_fill(const char *path, const st_write_tensor *t, size_t n,
                  const char *metadata_json, st_fill_fn fill, void *ctx, ah_err *e);

#endif
