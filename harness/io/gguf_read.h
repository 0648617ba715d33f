// gguf_read.h — reading GGUF files (the container llama.cpp loads; gguf_write.h writes them).
//
// Layout (ggml docs/gguf.md, ../shared/design/FORMATS.md section 4.3): "GGUF", u32 version
// (2 or 3), u64 tensor count, u64 key-value count, the key-values, the tensor infos (name,
// u32 n_dims, u64 ne[n_dims] fastest first, u32 ggml type, u64 offset into the data section),
// padding to general.alignment (default 32), then the data. Little-endian.
//
// The file is mmap'd read-only and never trusted: every length, count and offset is checked
// against the file size before it is used (a truncated file, a bad magic or version, counts
// that cannot fit, a string running past the end, a duplicate key or tensor, a nested array,
// tensor data outside the file or off the alignment), and a tensor type the harness cannot
// dequantize (anything but F32, F16, BF16, Q4_0, Q4_1, Q8_0) is refused at open, naming the
// tensor and its type. Every error names the file (and the tensor or key); nothing crashes.
#ifndef AH_GGUF_READ_H
#define AH_GGUF_READ_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "io/gguf_write.h"

// GGUF value types (gguf.h enum gguf_type).
typedef enum { GGUF_U8 = 0, GGUF_I8 = 1, GGUF_U16 = 2, GGUF_I16 = 3, GGUF_U32 = 4, GGUF_I32 = 5,
               GGUF_F32 = 6, GGUF_BOOL = 7, GGUF_STRING = 8, GGUF_ARRAY = 9, GGUF_U64 = 10,
               GGUF_I64 = 11, GGUF_F64 = 12 } gguf_vtype;

// One key-value, pointing into the mapping. Scalars and numeric arrays: val holds the raw
// little-endian bytes (read with memcpy: any alignment). Strings: val is the first byte, n the
// length (no NUL). Arrays: elem is the element type, n the count; a string array's val is the
// first element's u64 length (walk it with gguf_str_next: it was checked at open).
typedef struct {
    const char *key;          // not NUL-terminated: key_len bytes
    size_t key_len;
    gguf_vtype type, elem;
    uint64_t n;
    const uint8_t *val;
} gguf_kv;

typedef struct {
    char name[64];            // NUL-terminated (GGUF names have at most 63 bytes)
    int ndim;                 // 1..4
    uint64_t ne[4];           // ggml order: ne[0] is the row length (a PyTorch (O, I) has {I, O})
    gguf_ggml_type type;
    const void *data;         // in the mapping, ALIGNMENT-aligned from the data section
    uint64_t nbytes;
} gguf_tensor;

typedef struct gguf_file gguf_file;

// Opens and checks path (mmap). NULL + e naming the file and what is wrong.
gguf_file *gguf_open(const char *path, ah_err *e);
// The same checks over bytes in memory (borrowed; the fuzz target). name: for messages.
gguf_file *gguf_open_mem(const void *data, size_t len, const char *name, ah_err *e);
void gguf_close(gguf_file *f);   // NULL-safe

const char *gguf_path(const gguf_file *f);
size_t gguf_kv_count(const gguf_file *f);
const gguf_kv *gguf_kv_at(const gguf_file *f, size_t i);
const gguf_kv *gguf_find(const gguf_file *f, const char *key);   // NULL when absent
size_t gguf_tensor_count(const gguf_file *f);
const gguf_tensor *gguf_tensor_at(const gguf_file *f, size_t i);
const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name);   // NULL: absent

// Typed reads of a key. Each returns 0 (found, *out set), 1 (absent, *out untouched) or -1
// (present with another type, or out of range: e names the file and key).
// int: any integer type (or bool) whose value fits [lo, hi]; f32: F32 or F64; str: a STRING
// (*s points into the mapping, *len its bytes); arr: an ARRAY of elem (elem < 0: any).
int gguf_get_int(const gguf_file *f, const char *key, int64_t lo, int64_t hi, int64_t *out,
                 ah_err *e);
int gguf_get_f32(const gguf_file *f, const char *key, float *out, ah_err *e);
int gguf_get_str(const gguf_file *f, const char *key, const char **s, size_t *len, ah_err *e);
int gguf_get_arr(const gguf_file *f, const char *key, int elem, const gguf_kv **out, ah_err *e);
// Element i of a numeric array as int64 / float (the caller checked elem and i < n).
int64_t gguf_arr_int(const gguf_kv *kv, uint64_t i);
float gguf_arr_f32(const gguf_kv *kv, uint64_t i);
// Walks a string array: p = kv->val for the first element; returns the next element's start.
const uint8_t *gguf_str_next(const uint8_t *p, const char **s, uint64_t *len);

// llama.cpp's name of a ggml type id ("Q4_K"), or "id N" for an id it has no name for here.
const char *gguf_type_name(uint32_t type, char *buf, size_t cap);

// Drops the resident pages of [p, p + n) when inside the mapping (ah_release_mapped).
void gguf_release(const gguf_file *f, const void *p, size_t n);

// Dequantizes n values of a Q4_0 / Q4_1 / Q8_0 / F16 / BF16 / F32 row into out (n % 32 == 0
// for the block types), as llama.cpp's dequantize_row_* computes them in fp32.
void gguf_dequant_row(float *out, const void *src, gguf_ggml_type t, size_t n);

#endif
