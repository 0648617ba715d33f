// store_internal.h — helpers shared by store.c, store_write.c, store_read.c, store_merge.c and
// store_testkill.c.
// Not part of the store API.
#ifndef AH_STORE_INTERNAL_H
#define AH_STORE_INTERNAL_H

#include <hdf5.h>
#include <sys/types.h>

#include "core/err.h"
#include "store/store.h"

#define STORE_SCHEMA_VERSION 1
#define SUMMARY_CHUNK 64   // rows per /summary chunk

// Turns off HDF5's own error-stack printing (library code never prints; our messages replace
// it). Called at every public entry point: cheap, and a caller may have turned printing on.
void st5_quiet(void);
// The innermost message of the current HDF5 error stack ("" when empty), for the tail of an
// error message: it carries the errno text when a file could not be opened.
// A failed write is given as "write failed: <errno text>".
const char *st5_why(char *buf, size_t cap);
// ah_fail with "<path>: write failed: <errno text> (<what>)" when the current HDF5 error stack
// ends in a failed write (full disk, file-size limit), else "<path>: <what> (<why>)". Returns -1.
int st5_fail(ah_err *e, const char *path, const char *what);
// H5Fopen / H5Fcreate (truncating). Objects still open are closed with the file (so H5Fclose
// really closes it before the fsync and rename), and HDF5's own file locking is skipped on file
// systems that do not support it (NFS, Lustre) instead of failing the open. On failure the
// result is negative and e names the file with the reason (e.g. the errno text).
hid_t st5_open(const char *path, unsigned flags, ah_err *e);
hid_t st5_create(const char *path, ah_err *e);
// A new HDF5 file held in memory (core driver, no backing store); name only names it. Files
// written from scratch are built this way and saved with st5_save_image: HDF5 1.10 crashes
// (H5Ocopy, or H5Fclose at exit) after a failed write, so a full disk must fail in our write(2)
// instead, where it is reported ("<path>: write failed: No space left on device").
hid_t st5_create_mem(const char *name, ah_err *e);
// Flushes in-memory file f and writes its image to tmp (created, truncated; removed again on
// failure). path names the file in errors. f stays open: the caller closes it.
int st5_save_image(hid_t f, const char *path, const char *tmp, ah_err *e);

// Test-only kill points (store_testkill.c): with AH_TEST_KILL_AT=<stage>:<n> the process sends
// itself SIGKILL the n-th time it reaches <stage>. Stages, in the order a run meets them:
//   run-mid-write       a run file or AWQ cache entry (also a new results file) half written
//                       to its temporary <file>.tmp.<pid>
//   run-before-rename   that file closed, complete and fsync'd, not yet renamed into place
//   run-after-rename    renamed into place (the run is in the cache, not in the results file)
//   commit-mid-copy     the results file half copied to its temporary
//   commit-after-copy   fully copied, not yet opened
//   commit-after-h5ocopy the run group copied into the open temporary (torn on disk)
//   commit-after-summary /summary rebuilt, temporary still open
//   commit-before-rename temporary closed and fsync'd
//   commit-after-rename the new results file in place, directory not yet fsync'd
// st_test_kill_due returns 1 (once) when this is the chosen hit, for a caller that does half
// of its work first; st_test_kill kills at once.
int st_test_kill_due(const char *stage);
void st_test_kill(const char *stage);
void st_test_kill_now(void);

// Extends file tmp by `bytes` allocated bytes (posix_fallocate) so that HDF5's writes into it
// cannot meet a full disk or a file-size limit (HDF5 1.10 crashes after a failed write); HDF5
// truncates the file to its real end when it closes it. path names the file in errors
// ("<path>: write failed: No space left on device (reserving ...)").
int st_reserve(const char *tmp, off_t bytes, const char *path, ah_err *e);

// malloc'd "<path>.tmp.<pid>".
char *st_tmp_name(const char *path, ah_err *e);
// fsync(tmp), rename(tmp, path), fsync(dir of path). Leaves tmp in place on failure.
// kill_stage ("commit", "run" or NULL): the test kill points <kill_stage>-before-rename and
// <kill_stage>-after-rename.
int st_publish(const char *tmp, const char *path, const char *kill_stage, ah_err *e);
// flock(LOCK_EX|LOCK_NB) on "<path>.lock"; *fd keeps it. Error when another process holds it.
// path must be resolved first (st_resolve): the lock is per name.
int st_lock(const char *path, int *fd, ah_err *e);
// The path a writer of results file `path` works on, malloc'd in *out: path itself, or the
// target of a symbolic link (so the target receives the runs and the lock beside it is the
// one every writer takes). Refused: a dangling link, a file with several hard links (a rename
// splits them, and the per-name lock does not see the other names), and anything that is not a
// regular file (a FIFO would block the open). A path with nothing there is returned as is.
int st_resolve(const char *path, char **out, ah_err *e);
// Removes "<path>.tmp.<digits>" left by killed writers. Only called with the lock held, when
// no live writer can own one.
void st_remove_stale(const char *path);
// Byte copy of results file src to its temporary dst. Errors name src (the file the user
// knows) and the temporary. reserve: bytes allocated beyond the copy (posix_fallocate), so that
// HDF5's writes into the copy cannot meet a full disk or a file-size limit (HDF5 1.10 crashes
// after a failed write); HDF5 truncates the file to its real end when it closes it.
int st_copy_file(const char *src, const char *dst, off_t reserve, ah_err *e);
// Releases st_lock's lock and removes "<path>.lock" (unlinked while held; fd < 0 ignored).
void st_unlock(const char *path, int fd);

// One scalar attribute (or scalar dataset) value, whatever type it was written with.
typedef enum { SV_MISSING, SV_INT, SV_REAL, SV_STR } st_kind;
typedef struct {
    st_kind kind;
    long long i;
    double r;
    char *s;   // malloc'd for SV_STR
} st_value;

// Reads attribute `name` of object `obj` (path relative to loc) into *v. Returns 0 with
// v->kind == SV_MISSING when there is no such attribute, -1 when it exists but is not a
// single integer, float or string.
int st_attr_get(hid_t loc, const char *obj, const char *name, st_value *v);
// The same for a dataset holding one number or string.
int st_dset_get(hid_t loc, const char *name, st_value *v);
void st_value_free(st_value *v);
// Conversions; -1 when the value does not convert (a string that is not a number, a real
// that is not integral, a missing value).
int st_value_real(const st_value *v, double *out);
int st_value_int(const st_value *v, long long *out);
// Numbers are printed shortest-round-trip. Returns -1 when missing or when it does not fit.
int st_value_str(const st_value *v, char *buf, size_t cap);

// Writes (replacing) a scalar attribute on an open object.
int st_attr_put_str(hid_t obj, const char *name, const char *v);
int st_attr_put_i64(hid_t obj, const char *name, long long v);
int st_attr_put_f64(hid_t obj, const char *name, double v);

// 1 when object `obj` (relative to loc) has attribute status == "complete".
int st_is_complete(hid_t loc, const char *obj);
// An existing file must be a results file (HDF5, with a supported schema_version); checked
// read-only, never modified. Refuses a FIFO or device without opening it.
int st_verify_results(const char *path, ah_err *e);
// 1 when /summary is exactly what st_summary_rebuild would write for the complete runs in
// /runs (same type, same rows, same values); 0 when it is missing, damaged or stale.
int st_summary_matches(hid_t file);
// Checks what results file `path` says about itself as it is read back (store_names.c): the
// experiment name and the stored INI's [plot.NAME] names must be plain (they become parts of
// output paths), and live `include` lines of the stored INI are turned into comments (the
// stored INI is self-contained; an include would read another file). -1 (e names path) when a
// name is not plain.
int st_check_stored(const char *path, store_summary *s, ah_err *e);
// Checks root attribute schema_version of an open file: present and <= STORE_SCHEMA_VERSION.
int st_check_schema(hid_t file, const char *path, ah_err *e);
// The names of the links in group `grp` (relative to loc), strcmp-sorted; *names malloc'd.
int st_link_names(hid_t loc, const char *grp, char ***names, int *n);
void st_names_free(char **names, int n);
// Rebuilds /summary of an open results file from its complete /runs/*; path names it in errors.
int st_summary_rebuild(hid_t file, const char *path, ah_err *e);
// The /summary compound type: "id" then store_summary_columns, packed, with off[0] the id's
// offset and off[1 + c] column c's (the same layout serves as the memory type). With only >= 0
// (a compound type read from a file), members absent from it are left out, their room kept.
hid_t st_summary_type(hid_t only, size_t *off, size_t *size);
// Run ids must fit the /summary id column: 1..STORE_STR_MAX bytes, no '/', not "." or "..".
// path names the file the id came from (or goes to) in the error.
int st_check_id(const char *path, const char *id, ah_err *e);

#endif
