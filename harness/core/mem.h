// mem.h — allocation with overflow-checked sizes, and whole-file reading.
#ifndef AH_MEM_H
#define AH_MEM_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

// *out = a * b; returns 0, or -1 when the product overflows size_t.
static inline int ah_mul_ok(size_t *out, size_t a, size_t b) {
    return __builtin_mul_overflow(a, b, out) ? -1 : 0;
}

// 64-byte aligned, zero-filled allocation of n elements of size sz; NULL (and e set) on
// overflow or out of memory. `what` names the buffer in the error. Free with ah_free.
void *ah_calloc(size_t n, size_t sz, const char *what, ah_err *e);
// The same, not zero-filled: for scratch that is written whole before it is read. Zeroing
// is a serial pass that also takes every page's first-touch fault (about 9 us per 4 KiB page
// on the project's VMs; memset and the faults under it were 9% of the samples of an AWQ pass
// at 2 threads).
void *ah_alloc(size_t n, size_t sz, const char *what, ah_err *e);
void ah_free(void *p);

// Reads a whole file into a NUL-terminated buffer (free with free()). *len excludes the NUL.
// Errors name the path and tell a missing file from a read error. Only regular files are read
// (a FIFO or a device is refused without blocking on it).
char *ah_read_file(const char *path, size_t *len, ah_err *e);

// Joins a directory and a file name into out (size cap); returns -1 if it does not fit.
int ah_path_join(char *out, size_t cap, const char *dir, const char *name);

// mkdir -p: creates path and its missing parents (existing ones are fine); -1 + e naming the
// directory that could not be made.
int ah_make_dirs(const char *path, ah_err *e);

// Rows per chunk for kernels that walk a big matrix of `rows` rows of `row_bytes` bytes in
// chunks of rows, to bound the scratch they hold beside a block (AWQ candidates, quantization
// scratch, export, block widening): at most 4 MiB, a multiple of 64 rows, at least 64 (see
// mem.c), at most rows. 4 MiB: what a chunk adds to quantize's peak stays small beside a block
// (16 MiB chunks held OPT-1.3B's quantize at 1.31x its layer-major bound, 4 MiB at 1.20x;
// same speed, bench/README.md). AH_TEST_CHUNK_BYTES=<bytes> in the environment replaces the
// 4 MiB (tests: small models' linears then take several chunks, which must give the same
// results as one).
size_t ah_chunk_rows(size_t rows, size_t row_bytes);
size_t ah_chunk_bytes(void);   // the limit itself

// Drops the resident pages holding bytes [p, p + n) of a read-only private file mapping; the
// data stays readable (it faults in again from the page cache). The caller checks that the
// range lies inside the mapping (the pages it rounds out to are then the mapping's too).
void ah_release_mapped(const void *p, size_t n);

// How a stat mode that is not a regular file reads in a message: "a FIFO", "a directory", ...
const char *ah_file_kind(unsigned mode);
// -1 (e: "PATH: not a regular file (a FIFO)") when path exists and is not a regular file
// (links followed); 0 when it is one or nothing is there (the caller's open says so). For paths
// a library opens itself (HDF5): opening a FIFO blocks until a writer comes, forever.
int ah_check_regular(const char *path, ah_err *e);

// 1 if path names an existing regular file, 0 otherwise.
int ah_is_file(const char *path);
// 1 if path names an existing directory.
int ah_is_dir(const char *path);

#endif
