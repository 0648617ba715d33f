// gguf_write.h — writing GGUF v3 files (the container llama.cpp loads).
//
// Layout (ggml docs/gguf.md; read back by llama.cpp's gguf.cpp): "GGUF", u32 version 3, u64
// tensor count, u64 key-value count, the key-values (u64-length string key, u32 value type,
// value), the tensor infos (name, u32 n_dims, u64 ne[n_dims], u32 ggml type, u64 offset into
// the data section), zero padding to GGUF_ALIGN, then each tensor's bytes, each padded to
// GGUF_ALIGN. Little-endian throughout (the harness only builds on little-endian hosts).
//
// Dims are in ggml order, fastest first: a PyTorch (rows, cols) weight has ne = {cols, rows}.
// The writer keeps the key-values and tensor infos in memory (a vocabulary of 150k tokens is a
// few MB) and streams the tensor data from a callback, so a 7B model never sits in memory.
#ifndef AH_GGUF_WRITE_H
#define AH_GGUF_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define GGUF_ALIGN 32   // general.alignment's default: no key needed

// ggml tensor types the export writes (ggml.h enum ggml_type). Q4_0 / Q4_1 / Q8_0 are blocks
// of 32 consecutive values of a row (ne[0] % 32 == 0) of 18 / 20 / 34 bytes (ggml-common.h
// block_q4_0: fp16 d, 16 bytes of nibbles; block_q4_1: fp16 d, fp16 m, nibbles; block_q8_0:
// fp16 d, 32 int8).
typedef enum { GGML_T_F32 = 0, GGML_T_F16 = 1, GGML_T_Q4_0 = 2, GGML_T_Q4_1 = 3, GGML_T_Q8_0 = 8,
               GGML_T_BF16 = 30 } gguf_ggml_type;
#define GGML_QK 32   // values per Q4_0 / Q4_1 / Q8_0 block

// Bytes of one row of n values of type t (n % GGML_QK == 0 for the block types); 0 when the
// type is not one of the above or n does not fit its blocks.
uint64_t gguf_row_bytes(gguf_ggml_type t, uint64_t n);

typedef struct gguf_w gguf_w;

gguf_w *gguf_w_new(ah_err *e);
void gguf_w_free(gguf_w *w);   // NULL-safe

// Key-values, in the order added. Each returns 0, or -1 with e filled (out of memory).
int gguf_w_u32(gguf_w *w, const char *key, uint32_t v, ah_err *e);
int gguf_w_i32(gguf_w *w, const char *key, int32_t v, ah_err *e);
int gguf_w_f32(gguf_w *w, const char *key, float v, ah_err *e);
int gguf_w_bool(gguf_w *w, const char *key, int v, ah_err *e);
int gguf_w_str(gguf_w *w, const char *key, const char *s, ah_err *e);
// Arrays: n strings s[i] of len[i] bytes (len NULL: NUL-terminated); n f32; n i32.
int gguf_w_arr_str(gguf_w *w, const char *key, const char *const *s, const uint32_t *len,
                   size_t n, ah_err *e);
int gguf_w_arr_f32(gguf_w *w, const char *key, const float *v, size_t n, ah_err *e);
int gguf_w_arr_i32(gguf_w *w, const char *key, const int32_t *v, size_t n, ah_err *e);

// Registers a tensor: name (at most 63 bytes, llama.cpp's GGML_MAX_NAME - 1), type, ne[ndim]
// in ggml order (ndim 1..4). Its data comes from the fill callback at gguf_w_write.
int gguf_w_tensor(gguf_w *w, const char *name, gguf_ggml_type type, int ndim,
                  const uint64_t *ne, ah_err *e);

// Bytes of tensor i's data (without padding).
uint64_t gguf_w_tensor_bytes(const gguf_w *w, size_t i);

// Produces bytes [offset, offset + len) of tensor i into buf.
typedef int (*gguf_fill_fn)(void *ctx, size_t i, void *buf, uint64_t offset, size_t len,
                            ah_err *e);

// Writes the file at path (created or truncated; the caller renames a temporary into place)
// and fsyncs it. Tensor data is requested in chunks of at most 4 MiB, in registration order.
int gguf_w_write(gguf_w *w, const char *path, gguf_fill_fn fill, void *ctx, ah_err *e);

#endif
