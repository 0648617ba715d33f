// store_internal.h — helpers shared by store.c, store_write.c, store_read.c and store_merge.c.
// Not part of the store API.
#ifndef AH_STORE_INTERNAL_H
#define AH_STORE_INTERNAL_H

#include <hdf5.h>

#include "core/err.h"
#include "store/store.h"

#define STORE_SCHEMA_VERSION 1

// Turns off HDF5's own error-stack printing (library code never prints; our messages replace
// it). Called at every public entry point: cheap, and a caller may have turned printing on.
void st5_quiet(void);
// The innermost message of the current HDF5 error stack ("" when empty), for the tail of an
// error message: it carries the errno text when a file could not be opened.
const char *st5_why(char *buf, size_t cap);
// H5Fopen / H5Fcreate (truncating). Objects still open are closed with the file (so H5Fclose
// really closes it before the fsync and rename), and HDF5's own file locking is skipped on file
// systems that do not support it (NFS, Lustre) instead of failing the open. On failure the
// result is negative and e names the file with the reason (e.g. the errno text).
hid_t st5_open(const char *path, unsigned flags, ah_err *e);
hid_t st5_create(const char *path, ah_err *e);

// malloc'd "<path>.tmp.<pid>".
char *st_tmp_name(const char *path, ah_err *e);
// fsync(tmp), rename(tmp, path), fsync(dir of path). Leaves tmp in place on failure.
int st_publish(const char *tmp, const char *path, ah_err *e);
// flock(LOCK_EX|LOCK_NB) on "<path>.lock"; *fd keeps it. Error when another process holds it.
int st_lock(const char *path, int *fd, ah_err *e);

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
