// store.h — HDF5 results files: one atomically committed record per run (results/README.md).
//
// File layout (schema_version 1):
//   /                    attrs: schema_version, harness_version, git_commit, created (ISO 8601),
//                               experiment, experiment_ini (the expanded INI text)
//   /runs/<run-id>/      attrs: every run parameter and timing (the caller decides which;
//                               see experiment/record.c), always `key` (content hash of the run's
//                               inputs) and `status` = "complete"
//     ppl                scalar float64
//     nll_per_window     [W] float64
//     layers/<l>/<name>/ per-linear / per-group metadata (datasets + attrs written by the caller)
//   /summary             compound table (1-D, chunked, resizable; 0 rows when empty), one row
//                        per complete run, sorted by run id (strcmp): field `id` (string) then
//                        the columns of store_summary_columns. STR columns are fixed strings of
//                        STORE_STR_MAX bytes, NUL-padded (longer values cut at a UTF-8 character
//                        boundary; the run's attribute keeps the whole text), INT columns int64,
//                        REAL columns float64. A column's value is the run's attribute of that
//                        name (int, real or string attributes converted), else a scalar dataset
//                        of that name (ppl, nll). Missing: "" (STR), NaN (REAL), INT64_MIN
//                        (INT: -1 is a valid group_size, "per row"); store_summary_read turns
//                        INT64_MIN into NaN.
//
// Never lose a run: a run is first written complete into its own small HDF5 file (the "run
// file", which doubles as the content-keyed run cache entry), then committed: the results file
// is copied to a temporary beside it, the run group copied in (H5Ocopy), /summary rebuilt,
// the temporary fsync'd and renamed over the results file. SIGKILL at any moment leaves either
// the old or the new file, both complete. One writer per results file (flock on "<file>.lock",
// removed by store_close).
// A full disk never fails inside HDF5 (1.10 crashes after a failed write): files written from
// scratch are built in memory and saved with write(2); a commit's temporary gets its room
// reserved (posix_fallocate) before HDF5 writes into it. Errors name the file: "<file>: write
// failed: No space left on device (...)".
#ifndef AH_STORE_H
#define AH_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

// ---- writing one run (into a standalone run file) ------------------------------------------

typedef struct store_run_writer store_run_writer;

// Creates run file `path` (built in memory; written to path.tmp.<pid> and renamed by
// store_run_finish). Its root group is the run; it starts with attributes harness_version and
// git_commit of this build.
store_run_writer *store_run_begin(const char *path, ah_err *e);
// Attributes on group `group` ("" = the run's root group; "layers/3/q_proj" creates the
// intermediate groups). A second write of the same attribute replaces it.
int store_run_attr_str(store_run_writer *w, const char *group, const char *name, const char *v, ah_err *e);
int store_run_attr_int(store_run_writer *w, const char *group, const char *name, long long v, ah_err *e);
int store_run_attr_real(store_run_writer *w, const char *group, const char *name, double v, ah_err *e);
// Datasets: rank 0 (scalar: dims ignored), 1 or 2. Stored as float32 / float64 / int32.
int store_run_f32(store_run_writer *w, const char *group, const char *name, const float *data,
                  int rank, const size_t *dims, ah_err *e);
int store_run_f64(store_run_writer *w, const char *group, const char *name, const double *data,
                  int rank, const size_t *dims, ah_err *e);
int store_run_i32(store_run_writer *w, const char *group, const char *name, const int32_t *data,
                  int rank, const size_t *dims, ah_err *e);
// Sets status = "complete", closes, fsyncs and renames into place. Frees w either way.
int store_run_finish(store_run_writer *w, ah_err *e);
// Discards the partial run file. NULL-safe.
void store_run_abort(store_run_writer *w);

// Removes what killed writers left in directory dir (a cache folder, shared by any number of
// processes): temporaries "<name>.tmp.<pid>" and staging run files "uncached-<pid>-<key>.h5"
// and "export-<pid>-<key>.h5" (a run's [export] record before its commit) whose process is gone (kill(pid, 0) says ESRCH) and that nobody holds open through HDF5 (its
// flock on the file is free). Files of live processes are left alone. Returns how many were
// removed (0 when dir cannot be read).
int store_clean_stale(const char *dir);

// Test-only kill point for writers outside the store (export/export_dir.c: export-before-manifest,
// export-before-swap, export-after-swap): SIGKILL when AH_TEST_KILL_AT=<stage>:<n> names this
// stage and hit (store_internal.h). Never set the variable otherwise.
void store_test_kill(const char *stage);
// Test-only failure point, the same variable: 1 (the caller then fails as a real error
// would) when AH_TEST_KILL_AT names this stage and hit (experiment/export_step.c:
// export-fail, a sweep's export failing after its run is recorded). Never set it otherwise.
int store_test_fail(const char *stage);

// ---- the results file -----------------------------------------------------------------------

typedef struct store store;

typedef struct {
    const char *experiment;      // name
    const char *experiment_ini;  // expanded INI text (may be NULL)
} store_meta;

// Opens (creating when absent) results file `path` for committing runs; takes the lock and
// removes stale temporaries of earlier killed writers. Fails when another process holds the
// lock, or when `path` exists and is not a results file (never overwritten). A symbolic link is
// followed once (the target is locked and written; the link stays); a dangling link, a file
// with several hard links and anything but a regular file (a FIFO) are refused. A /summary
// that does not match the complete runs (missing, damaged, edited) is rebuilt here.
store *store_open(const char *path, const store_meta *meta, ah_err *e);
void store_close(store *s);   // NULL-safe; releases the lock and removes the lock file

// 1 when /runs/<id> exists with status "complete" and attribute key == key; 0 otherwise.
int store_has_run(store *s, const char *id, const char *key);

// Commits the run in run file `run_path` as /runs/<id> (replacing an existing group of that
// id), rebuilds /summary, and atomically replaces the results file.
int store_commit(store *s, const char *id, const char *run_path, ah_err *e);
// The same, setting n attributes of the committed run (replacing the run file's): a run taken
// from the run cache records this experiment's names of its data and what this build records.
typedef struct {
    const char *name;
    const char *str;   // a string value, or NULL: the integer num
    long long num;
} store_attr_set;
int store_commit_with(store *s, const char *id, const char *run_path, const store_attr_set *set,
                      int n, ah_err *e);
// The same, then lays run file overlay_path (written with store_run_*; NULL: none) over the
// committed run: its group `group` replaces the run's group of that name, and its root
// attributes attrs[n_attrs] (as stored: string, integer or real; absent ones skipped) are set
// on the run. What a run gains at commit that its run cache entry does not hold (a sweep's
// exports, experiment/export_step.h), in the same atomic replacement of the results file.
int store_commit_overlay(store *s, const char *id, const char *run_path, const store_attr_set *set,
                         int n, const char *overlay_path, const char *group,
                         const char *const *attrs, int n_attrs, ah_err *e);

// Joins complete runs of results files inputs[n] into out (written atomically, under out's
// lock; a link followed as in store_open). An existing out is merged into, never dropped: when
// it is not among the inputs it is taken as the first. An out that exists and is not a
// results file is refused. The same id in two inputs: identical key -> taken once; different
// key -> error naming both. Root attributes come from the first input (out when it existed).
int store_merge(const char *out, const char *const *inputs, int n, ah_err *e);

// ---- reading --------------------------------------------------------------------------------

// The /summary columns, in order. Numeric columns hold NaN when a run lacks the attribute.
typedef enum { STORE_COL_STR, STORE_COL_INT, STORE_COL_REAL } store_col_type;
typedef struct {
    const char *name;
    store_col_type type;
} store_column;
extern const store_column store_summary_columns[];
extern const int store_summary_ncolumns;
// Upper bound of store_summary_ncolumns (offset arrays on the stack; store.c checks it).
#define STORE_MAX_COLUMNS 128

#define STORE_STR_MAX 64                  // bytes of a /summary string field (and of a run id)
#define STORE_STR_CAP (STORE_STR_MAX + 1) // the same plus the NUL: a 64-digit SHA-256 key fits
typedef struct {
    char id[STORE_STR_CAP];
    // values indexed like store_summary_columns: str[i] for STR columns, num[i] otherwise
    // (num[i] is NaN for a missing INT or REAL value; str[i] "" for a missing STR value)
    char (*str)[STORE_STR_CAP];
    double *num;
} store_row;

typedef struct {
    int n;
    store_row *rows;
    char experiment[256];
    char *experiment_ini;   // malloc'd, may be NULL
} store_summary;

// Reads /summary (and the root attributes) of results file path (read-only, no lock). Refuses
// a file whose experiment name or stored [plot.NAME] names are not plain (core/names.h: they
// become parts of output paths); `include` lines of the stored INI come back as comments.
int store_summary_read(const char *path, store_summary *out, ah_err *e);
void store_summary_free(store_summary *s);
// Index of a summary column by name, -1 when none.
int store_column_index(const char *name);

// The readers below take run_id = NULL to read a run file itself (its root group is the run).

// Reads a float64 or float32 (or integer) dataset of a run as float64: path
// "layers/3/q_proj/loss_vs_alpha".
// *data malloc'd, *n elements (all dims multiplied), dims[2] filled (dims[1] = 1 for rank 1).
int store_read_f64(const char *file, const char *run_id, const char *dataset, double **data,
                   size_t *n, size_t dims[2], ah_err *e);
// Names of the child groups of /runs/<run_id>/<group> ("layers" -> "0", "1", ...), sorted
// numerically when all are numbers. *names malloc'd array of malloc'd strings.
int store_list(const char *file, const char *run_id, const char *group, char ***names, int *n,
               ah_err *e);
void store_list_free(char **names, int n);

// Attribute `name` of /runs/<run_id>/<group> ("" = the run's root group). str_get prints
// numbers (shortest round trip); real_get converts integers and numeric strings. Errors when
// the group or attribute is missing, the value does not convert, or it does not fit in cap.
int store_run_attr_str_get(const char *file, const char *run_id, const char *group, const char *name,
                           char *buf, size_t cap, ah_err *e);
int store_run_attr_real_get(const char *file, const char *run_id, const char *group,
                            const char *name, double *v, ah_err *e);

#endif
