// store.c — the results file: open (create, lock), commit, has_run; the /summary table and the
// helpers the other store_*.c files share (store_internal.h). See store.h for the layout.
//
// The results file is never modified in place: every change is made on a byte copy
// "<file>.tmp.<pid>" that is fsync'd and renamed over it, so a reader (or a crash) sees the
// old file or the new one. A replaced run's old group leaves unused space behind in the copy
// (HDF5 does not reclaim it across sessions); `h5repack` compacts such a file. /summary is
// rewritten in place (chunked, resizable), so the commits of a sweep do not pile up copies.
#include "store/store_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/mem.h"
#include "core/version.h"

const store_column store_summary_columns[] = {
    {"method", STORE_COL_STR},      {"bits", STORE_COL_INT},        {"group_size", STORE_COL_INT},
    {"scale_rule", STORE_COL_STR},  {"alpha", STORE_COL_REAL},      {"clip", STORE_COL_STR},
    {"propagate", STORE_COL_STR},   {"salient_pct", STORE_COL_REAL}, {"salient_by", STORE_COL_STR},
    {"salient_scale", STORE_COL_REAL}, {"scale_pct", STORE_COL_REAL}, {"calib", STORE_COL_STR},
    {"eval_data", STORE_COL_STR},   {"seqlen", STORE_COL_INT},      {"ppl", STORE_COL_REAL},
    {"nll", STORE_COL_REAL},        {"windows", STORE_COL_INT},     {"seconds", STORE_COL_REAL},
    {"awq_seconds", STORE_COL_REAL}, {"cache", STORE_COL_STR},      {"key", STORE_COL_STR},
    // The rest of every run's parameters (issue 18): alpha_mode tells a searched alpha
    // ("search", alpha NaN) from a fixed one ("fixed"); absent where a method has no such
    // parameter. Files written before these columns existed read them as missing.
    {"alpha_mode", STORE_COL_STR},  {"grid", STORE_COL_INT},        {"model_name", STORE_COL_STR},
    {"calib_samples", STORE_COL_INT}, {"calib_seqlen", STORE_COL_INT}, {"calib_pick", STORE_COL_STR},
    {"awq_samples", STORE_COL_INT}, {"seed", STORE_COL_INT},        {"max_windows", STORE_COL_INT},
    {"protocol", STORE_COL_STR},    {"damp", STORE_COL_REAL},       {"block_size", STORE_COL_INT},
    {"act_order", STORE_COL_STR},   {"grid_include_one", STORE_COL_STR}, {"quantizer", STORE_COL_STR},
    // KL divergence of a quantized run from the FP model (llama.cpp's statistics; the other
    // quantiles are run attributes only). FP16 runs and runs recorded before it: missing.
    {"kld_mean", STORE_COL_REAL},   {"kld_se", STORE_COL_REAL},     {"kld_median", STORE_COL_REAL},
    {"kld_p90", STORE_COL_REAL},    {"kld_p99", STORE_COL_REAL},    {"kld_p999", STORE_COL_REAL},
    {"kld_max", STORE_COL_REAL},    {"top1_agree", STORE_COL_REAL}, {"dp_mean", STORE_COL_REAL},
    // The perplexity's uncertainty (issue 19, docs/UNCERTAINTY.md): llama.cpp's standard error
    // and the 95% window-bootstrap interval. Runs recorded before them: missing.
    {"ppl_se", STORE_COL_REAL},     {"ppl_lo", STORE_COL_REAL},     {"ppl_hi", STORE_COL_REAL},
    // Issue 19: calibration sequences sharing a 32-token passage with the evaluation text
    // (0: none; experiment/overlap.h), and the checkpoint's weight type ("F32": its
    // unquantized run is an FP32 baseline). Runs recorded before them: missing.
    {"calib_eval_overlap", STORE_COL_INT}, {"weights_dtype", STORE_COL_STR},
    // Zero-shot tasks (issue 20, docs/TASKS.md; eval/tasks_table.c names them): lm-eval's
    // metrics as <metric>_<task>. Runs without the task: missing.
#define TASK_MC_COLUMNS(t) {"acc_" t, STORE_COL_REAL}, {"acc_stderr_" t, STORE_COL_REAL}, \
                           {"acc_norm_" t, STORE_COL_REAL}
    TASK_MC_COLUMNS("hellaswag"), TASK_MC_COLUMNS("piqa"), TASK_MC_COLUMNS("arc_easy"),
    TASK_MC_COLUMNS("arc_challenge"), TASK_MC_COLUMNS("winogrande"), TASK_MC_COLUMNS("mc"),
#undef TASK_MC_COLUMNS
    {"acc_lambada", STORE_COL_REAL}, {"acc_stderr_lambada", STORE_COL_REAL},
    {"ppl_lambada", STORE_COL_REAL}, {"word_perplexity_wikitext", STORE_COL_REAL},
    {"byte_perplexity_wikitext", STORE_COL_REAL}, {"bits_per_byte_wikitext", STORE_COL_REAL},
    // A sweep's [export] step (experiment/export_step.h): the scale dtype the run was
    // quantized with (missing: f32, runs recorded before it), the formats it was exported in
    // (space-separated) and the largest export_check difference among them (must be 0; NaN:
    // no format that is read back). Runs without exports: missing.
    {"scale_dtype", STORE_COL_STR}, {"exports", STORE_COL_STR},
    {"export_max_abs_diff", STORE_COL_REAL},
    // Memory and generation speed (issue 22, [evaluation] efficiency; experiment/efficiency.h):
    // the block linears' bytes as held, the peak RSS, prefill and decode tokens/s, and the
    // threads they ran on. Runs without the measurement: missing.
    {"weight_bytes", STORE_COL_INT}, {"peak_rss_mb", STORE_COL_REAL},
    {"prefill_tok_s", STORE_COL_REAL}, {"decode_tok_s", STORE_COL_REAL},
    {"eff_threads", STORE_COL_INT},
};
const int store_summary_ncolumns = (int)(sizeof store_summary_columns / sizeof store_summary_columns[0]);
_Static_assert(sizeof store_summary_columns / sizeof store_summary_columns[0] <= STORE_MAX_COLUMNS,
               "raise STORE_MAX_COLUMNS");

#define COMMIT_SLACK (64 << 10)   // bytes reserved in a commit beyond the run and a /summary chunk

struct store {
    char *path;
    int lock_fd;
};

// ---------------------------------------------------------------------------------------------
// HDF5 plumbing

void st5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

static herr_t why_cb(unsigned n, const H5E_error2_t *err, void *data) {
    (void)n;
    char **out = data;
    if (!*out && err->desc) *out = (char *)err->desc;   // the innermost entry comes first
    return 0;
}

const char *st5_why(char *buf, size_t cap) {
    char *desc = NULL;
    buf[0] = '\0';
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, why_cb, &desc);
    if (!desc) return buf;
    // A failed open carries "..., errno = 2, error message = 'No such file or directory', ...":
    // the quoted text is the useful part.
    // A failed write (sec2 driver: "file write failed: ..., error message = 'File too large'")
    // is named as such: a full disk or a file-size limit is the usual cause.
    const char *m = strstr(desc, "error message = '");
    if (m) {
        const char *kind = strncmp(desc, "file write failed", 17) == 0 ? "write failed: " : "";
        m += strlen("error message = '");
        const char *q = strchr(m, '\'');
        snprintf(buf, cap, "%s%.*s", kind, q ? (int)(q - m) : (int)strlen(m), m);
    } else {
        snprintf(buf, cap, "%s", desc);
    }
    return buf;
}

int st5_fail(ah_err *e, const char *path, const char *what) {
    char why[256];
    st5_why(why, sizeof why);
    if (strncmp(why, "write failed: ", 14) == 0) return ah_fail(e, "%s: %s (%s)", path, why, what);
    return ah_fail(e, "%s: %s%s%s%s", path, what, why[0] ? " (" : "", why, why[0] ? ")" : "");
}

static hid_t make_fapl(void) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) return fapl;
    H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
#if H5_VERSION_GE(1, 12, 1) || (H5_VERS_MAJOR == 1 && H5_VERS_MINOR == 10 && H5_VERS_RELEASE >= 7)
    H5Pset_file_locking(fapl, 1, 1);
#endif
    return fapl;
}

hid_t st5_open(const char *path, unsigned flags, ah_err *e) {
    // HDF5's open of a FIFO waits for a writer forever: the type is checked first.
    if (ah_check_regular(path, e)) return -1;
    hid_t fapl = make_fapl();
    hid_t f = H5Fopen(path, flags, fapl);
    if (f < 0) {
        char why[256];
        st5_why(why, sizeof why);   // before H5Pclose resets the error stack
        ah_fail(e, "%s: cannot open as an HDF5 file%s%s%s", path, why[0] ? " (" : "", why,
                why[0] ? ")" : "");
    }
    H5Pclose(fapl);
    return f;
}

hid_t st5_create(const char *path, ah_err *e) {
    hid_t fapl = make_fapl();
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (f < 0) {
        char why[256];
        st5_why(why, sizeof why);
        ah_fail(e, "%s: cannot create HDF5 file%s%s%s", path, why[0] ? " (" : "", why,
                why[0] ? ")" : "");
    }
    H5Pclose(fapl);
    return f;
}

hid_t st5_create_mem(const char *name, ah_err *e) {
    hid_t fapl = make_fapl();
    hid_t f = fapl < 0 || H5Pset_fapl_core(fapl, 1 << 20, 0) < 0 ? -1
            : H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (f < 0) st5_fail(e, name, "cannot create an HDF5 file in memory");
    if (fapl >= 0) H5Pclose(fapl);
    return f;
}

// write(2) all of buf; -1 with errno set on failure.
static int write_all(int fd, const char *buf, size_t n) {
    while (n) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -1;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

int st5_save_image(hid_t f, const char *path, const char *tmp, ah_err *e) {
    if (H5Fflush(f, H5F_SCOPE_GLOBAL) < 0) return st5_fail(e, path, "cannot flush the in-memory file");
    ssize_t n = H5Fget_file_image(f, NULL, 0);
    char *buf = n > 0 ? malloc((size_t)n) : NULL;
    if (!buf || H5Fget_file_image(f, buf, (size_t)n) != n) {
        free(buf);
        return st5_fail(e, path, "cannot take the file image");
    }
    int rc = 0, fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        rc = ah_fail(e, "%s: cannot create %s: %s", path, tmp, strerror(errno));
    } else {
        // Other processes' cache cleaning (store_clean_stale) leaves a locked temporary alone.
        flock(fd, LOCK_EX | LOCK_NB);
        if (st_test_kill_due("run-mid-write")) {   // test-only: leave a torn temporary
            if (write_all(fd, buf, (size_t)n / 2)) {}
            st_test_kill_now();
        }
        int err = write_all(fd, buf, (size_t)n) ? errno : 0;
        if (close(fd) && !err) err = errno;
        if (err) {
            rc = ah_fail(e, "%s: write failed: %s (temporary %s)", path, strerror(err), tmp);
            unlink(tmp);
        }
    }
    free(buf);
    return rc;
}

// ---------------------------------------------------------------------------------------------
// results-file checks

int st_is_complete(hid_t loc, const char *obj) {
    st_value v;
    int ok = st_attr_get(loc, obj, "status", &v) == 0 && v.kind == SV_STR && strcmp(v.s, "complete") == 0;
    st_value_free(&v);
    return ok;
}

int st_check_schema(hid_t file, const char *path, ah_err *e) {
    st_value v;
    long long sv = 0;
    int rc = st_attr_get(file, ".", "schema_version", &v);
    if (rc == 0 && v.kind == SV_MISSING)
        rc = ah_fail(e, "%s: not an awq-harness results file (no schema_version attribute)", path);
    else if (rc || st_value_int(&v, &sv))
        rc = ah_fail(e, "%s: schema_version attribute is not an integer", path);
    else if (sv < 1 || sv > STORE_SCHEMA_VERSION)
        rc = ah_fail(e, "%s: schema_version %lld is not supported (this build reads %d)", path, sv,
                     STORE_SCHEMA_VERSION);
    st_value_free(&v);
    return rc;
}

int st_check_id(const char *path, const char *id, ah_err *e) {
    if (!id || !*id || strlen(id) > STORE_STR_MAX || strchr(id, '/') || !strcmp(id, ".") || !strcmp(id, ".."))
        return ah_fail(e, "%s: run id '%s' unusable (1..%d bytes, no '/', not '.' or '..')", path,
                       id ? id : "(null)", STORE_STR_MAX);
    return 0;
}

// ---------------------------------------------------------------------------------------------
// link names

typedef struct {
    char **v;
    int n, cap, oom;
} name_list;

static herr_t names_cb(hid_t g, const char *name, const H5L_info_t *info, void *data) {
    (void)g; (void)info;
    name_list *l = data;
    if (l->n == l->cap) {
        int nc = l->cap ? 2 * l->cap : 16;
        char **nv = realloc(l->v, (size_t)nc * sizeof *nv);
        if (!nv) return l->oom = 1, -1;
        l->v = nv;
        l->cap = nc;
    }
    if (!(l->v[l->n] = strdup(name))) return l->oom = 1, -1;
    l->n++;
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int st_link_names(hid_t loc, const char *grp, char ***names, int *n) {
    name_list l = {0};
    *names = NULL;
    *n = 0;
    hid_t g = H5Gopen2(loc, grp, H5P_DEFAULT);
    if (g < 0) return -1;
    herr_t r = H5Literate(g, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, names_cb, &l);
    H5Gclose(g);
    if (r < 0) {
        st_names_free(l.v, l.n);
        return -1;
    }
    if (l.n) qsort(l.v, (size_t)l.n, sizeof *l.v, cmp_str);
    *names = l.v;
    *n = l.n;
    return 0;
}

void st_names_free(char **names, int n) {
    for (int i = 0; names && i < n; i++) free(names[i]);
    free(names);
}

// ---------------------------------------------------------------------------------------------
// the results file

// 1 when path exists, 0 when not, -1 (e set) when it cannot be told.
static int exists(const char *path, ah_err *e) {
    struct stat st;
    if (stat(path, &st) == 0) return 1;
    if (errno == ENOENT) return 0;
    return ah_fail(e, "%s: %s", path, strerror(errno));
}

int st_verify_results(const char *path, ah_err *e) {
    if (ah_check_regular(path, e)) return -1;   // H5Fis_hdf5 would block on a FIFO
    if (H5Fis_hdf5(path) <= 0)
        return ah_fail(e, "%s: exists and is not an HDF5 results file; refusing to touch it", path);
    hid_t f = st5_open(path, H5F_ACC_RDONLY, e);
    if (f < 0) return -1;
    int rc = st_check_schema(f, path, e);
    H5Fclose(f);
    return rc;
}

// Closes f (written to its temporary tmp) and, unless an earlier step failed (failed != 0),
// renames tmp over path durably. kill: st_publish's test kill points.
static int close_publish(hid_t f, int failed, const char *tmp, const char *path, const char *kill, ah_err *e) {
    herr_t cr = H5Fclose(f);
    if (failed) return -1;
    if (cr < 0) return st5_fail(e, path, "closing failed");
    return st_publish(tmp, path, kill, e);
}

static int create_results(const char *path, const store_meta *meta, ah_err *e) {
    char *tmp = st_tmp_name(path, e);
    if (!tmp) return -1;
    int rc = -1;
    hid_t f = st5_create_mem(tmp, e), root = -1, runs = -1;   // saved by st5_save_image
    if (f < 0) goto done;
    char created[32];
    time_t now = time(NULL);
    struct tm tm;
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    root = H5Gopen2(f, "/", H5P_DEFAULT);
    if (root < 0 || st_attr_put_i64(root, "schema_version", STORE_SCHEMA_VERSION) ||
        st_attr_put_str(root, "harness_version", AH_VERSION) ||
        st_attr_put_str(root, "git_commit", ah_git_commit()) ||
        st_attr_put_str(root, "created", created) ||
        st_attr_put_str(root, "experiment", meta && meta->experiment ? meta->experiment : "") ||
        (meta && meta->experiment_ini && st_attr_put_str(root, "experiment_ini", meta->experiment_ini)) ||
        (runs = H5Gcreate2(f, "runs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0) {
        ah_fail(e, "%s: cannot write the root attributes", path);
        goto done;
    }
    if (st_summary_rebuild(f, path, e)) goto done;
    H5Gclose(runs);
    H5Gclose(root);
    runs = root = -1;
    int sr = st5_save_image(f, path, tmp, e);
    hid_t saved = f;
    f = -1;
    rc = close_publish(saved, sr, tmp, path, NULL, e);
done:
    if (runs >= 0) H5Gclose(runs);
    if (root >= 0) H5Gclose(root);
    if (f >= 0) H5Fclose(f);
    if (rc) unlink(tmp);
    free(tmp);
    return rc;
}

// Changes results file `path` (whose lock the caller holds) the only safe way: on a byte copy
// with `reserve` bytes of room, through edit(dst, arg, e), then fsync and rename over path.
// kill: the test kill points of a commit ("commit") or none (NULL).
typedef int (*edit_fn)(hid_t dst, void *arg, const char *path, ah_err *e);
static int edit_by_copy(const char *path, off_t reserve, edit_fn edit, void *arg, const char *kill, ah_err *e) {
    int rc = -1;
    hid_t dst = -1;
    char *tmp = st_tmp_name(path, e);
    if (!tmp || st_copy_file(path, tmp, reserve, e)) goto done;
    if (kill) st_test_kill("commit-after-copy");
    if ((dst = st5_open(tmp, H5F_ACC_RDWR, e)) < 0 || edit(dst, arg, path, e)) goto done;
    if (kill) st_test_kill("commit-after-summary");
    hid_t edited = dst;
    dst = -1;
    rc = close_publish(edited, 0, tmp, path, kill, e);
done:
    if (dst >= 0) H5Fclose(dst);
    if (rc && tmp) unlink(tmp);
    free(tmp);
    return rc;
}

static int summary_edit(hid_t dst, void *arg, const char *path, ah_err *e) {
    (void)arg;
    return st_summary_rebuild(dst, path, e);
}

// /summary is rebuilt when it does not match the runs (deleted, overwritten, or its values
// edited): `run` would otherwise find every run complete and leave a file `report` cannot read.
static int repair_summary(const char *path, ah_err *e) {
    hid_t f = st5_open(path, H5F_ACC_RDONLY, e);
    if (f < 0) return -1;
    int ok = st_summary_matches(f);
    hsize_t bytes = 0;
    H5Fget_filesize(f, &bytes);
    H5Fclose(f);
    if (ok) return 0;
    size_t off[1 + STORE_MAX_COLUMNS], row;
    H5Tclose(st_summary_type(-1, off, &row));
    // Room for a new table as large as the file (rows are smaller than their runs) and slack.
    off_t reserve = (off_t)bytes + (off_t)(SUMMARY_CHUNK * row) + COMMIT_SLACK;
    if (edit_by_copy(path, reserve, summary_edit, NULL, NULL, e))
        return ah_wrap(e, "%s: /summary does not match the runs and could not be rebuilt", path);
    return 0;
}

store *store_open(const char *path_in, const store_meta *meta, ah_err *e) {
    st5_quiet();
    char *path = NULL;
    if (!path_in || !*path_in) {
        ah_fail(e, "store_open: empty path");
        return NULL;
    }
    // A link is followed once, here; a FIFO or a file with several hard links is refused.
    if (st_resolve(path_in, &path, e)) return NULL;
    // Checked before taking the lock, so a wrong path (a checkpoint, a typo) gets no .lock
    // file beside it either.
    int ex = exists(path, e), fd = -1;
    if (ex < 0 || (ex && st_verify_results(path, e)) || st_lock(path, &fd, e)) {
        free(path);
        return NULL;
    }
    st_remove_stale(path);
    int ex2 = exists(path, e);
    if (ex2 < 0 || (!ex2 && create_results(path, meta, e)) || (ex2 && !ex && st_verify_results(path, e)) ||
        (ex2 && repair_summary(path, e))) {
        st_unlock(path, fd);
        free(path);
        return NULL;
    }
    store *s = calloc(1, sizeof *s);
    if (!s) {
        st_unlock(path, fd);
        ah_fail(e, "%s: out of memory", path);
        free(path);
        return NULL;
    }
    s->path = path;
    s->lock_fd = fd;
    return s;
}

void store_close(store *s) {
    if (!s) return;
    st_unlock(s->path, s->lock_fd);   // releases the flock, removes the lock file
    free(s->path);
    free(s);
}

int store_has_run(store *s, const char *id, const char *key) {
    st5_quiet();
    if (!s || !key || st_check_id(s->path, id, NULL)) return 0;
    hid_t f = st5_open(s->path, H5F_ACC_RDONLY, NULL);
    if (f < 0) return 0;
    char obj[STORE_STR_MAX + 8];
    snprintf(obj, sizeof obj, "runs/%s", id);
    int has = 0;
    if (H5Lexists(f, "runs", H5P_DEFAULT) > 0 && H5Lexists(f, obj, H5P_DEFAULT) > 0 && st_is_complete(f, obj)) {
        st_value v;
        has = st_attr_get(f, obj, "key", &v) == 0 && v.kind == SV_STR && strcmp(v.s, key) == 0;
        st_value_free(&v);
    }
    H5Fclose(f);
    return has;
}

typedef struct {
    hid_t src;             // the run file
    const char *id, *run_path;
    const store_attr_set *set;   // attributes to set on the copy
    int n;
    hid_t overlay;               // a run file laid over the copy (-1: none)
    const char *overlay_path, *group;
    const char *const *attrs;
    int n_attrs;
} commit_arg;

// Lays a->overlay over /runs/<id> (runs: the open /runs group): store_commit_overlay.
static int overlay_edit(hid_t runs, const commit_arg *a, const char *path, ah_err *e) {
    char what[4400];
    hid_t g = H5Gopen2(runs, a->id, H5P_DEFAULT);
    if (g < 0) {
        snprintf(what, sizeof what, "cannot open /runs/%s", a->id);
        return st5_fail(e, path, what);
    }
    int rc = 0;
    if (H5Lexists(a->overlay, a->group, H5P_DEFAULT) > 0) {
        if ((H5Lexists(g, a->group, H5P_DEFAULT) > 0 && H5Ldelete(g, a->group, H5P_DEFAULT) < 0) ||
            H5Ocopy(a->overlay, a->group, g, a->group, H5P_DEFAULT, H5P_DEFAULT) < 0) {
            snprintf(what, sizeof what, "cannot copy group %s of %s into /runs/%s", a->group,
                     a->overlay_path, a->id);
            rc = st5_fail(e, path, what);
        }
    }
    for (int i = 0; rc == 0 && i < a->n_attrs; i++) {
        st_value v = {SV_MISSING, 0, 0.0, NULL};
        int bad = st_attr_get(a->overlay, ".", a->attrs[i], &v) != 0;
        if (!bad && v.kind == SV_STR) bad = st_attr_put_str(g, a->attrs[i], v.s) != 0;
        else if (!bad && v.kind == SV_INT) bad = st_attr_put_i64(g, a->attrs[i], v.i) != 0;
        else if (!bad && v.kind == SV_REAL) bad = st_attr_put_f64(g, a->attrs[i], v.r) != 0;
        st_value_free(&v);
        if (bad) {
            snprintf(what, sizeof what, "cannot copy attribute %s of %s onto /runs/%s",
                     a->attrs[i], a->overlay_path, a->id);
            rc = st5_fail(e, path, what);
        }
    }
    H5Gclose(g);
    return rc;
}

// Copies the run into /runs/<id> of the open temporary and rebuilds /summary.
static int commit_edit(hid_t dst, void *arg, const char *path, ah_err *e) {
    const commit_arg *a = arg;
    char what[4200];
    hid_t runs = H5Lexists(dst, "runs", H5P_DEFAULT) > 0 ? H5Gopen2(dst, "runs", H5P_DEFAULT)
                                                         : H5Gcreate2(dst, "runs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (runs < 0) return st5_fail(e, path, "cannot open /runs");
    int rc = -1;
    if (H5Lexists(runs, a->id, H5P_DEFAULT) > 0 && H5Ldelete(runs, a->id, H5P_DEFAULT) < 0) {
        snprintf(what, sizeof what, "cannot replace /runs/%s", a->id);
        st5_fail(e, path, what);
    } else if (H5Ocopy(a->src, ".", runs, a->id, H5P_DEFAULT, H5P_DEFAULT) < 0) {
        snprintf(what, sizeof what, "cannot copy run file %s into /runs/%s", a->run_path, a->id);
        st5_fail(e, path, what);
    } else {
        rc = 0;
    }
    for (int i = 0; rc == 0 && i < a->n; i++) {
        hid_t g = H5Gopen2(runs, a->id, H5P_DEFAULT);
        const store_attr_set *x = &a->set[i];
        if (g < 0 || (H5Aexists(g, x->name) > 0 && H5Adelete(g, x->name) < 0) ||
            (x->str ? st_attr_put_str(g, x->name, x->str) : st_attr_put_i64(g, x->name, x->num))) {
            snprintf(what, sizeof what, "cannot set /runs/%s attribute %s", a->id, x->name);
            rc = st5_fail(e, path, what);
        }
        if (g >= 0) H5Gclose(g);
    }
    if (rc == 0 && a->overlay >= 0) rc = overlay_edit(runs, a, path, e);
    H5Gclose(runs);
    if (rc) return -1;
    st_test_kill("commit-after-h5ocopy");
    return st_summary_rebuild(dst, path, e);
}

int store_commit(store *s, const char *id, const char *run_path, ah_err *e) {
    return store_commit_with(s, id, run_path, NULL, 0, e);
}

int store_commit_with(store *s, const char *id, const char *run_path, const store_attr_set *set,
                      int n, ah_err *e) {
    return store_commit_overlay(s, id, run_path, set, n, NULL, NULL, NULL, 0, e);
}

int store_commit_overlay(store *s, const char *id, const char *run_path, const store_attr_set *set,
                         int n, const char *overlay_path, const char *group,
                         const char *const *attrs, int n_attrs, ah_err *e) {
    st5_quiet();
    if (!s || !run_path) return ah_fail(e, "store_commit: no store or no run file");
    if (st_check_id(s->path, id, e)) return -1;
    hid_t src = st5_open(run_path, H5F_ACC_RDONLY, e);
    if (src < 0) return -1;
    if (!st_is_complete(src, ".")) {
        H5Fclose(src);
        return ah_fail(e, "%s: run file is not complete (no status = \"complete\"); not committed to %s",
                       run_path, s->path);
    }
    // Room for what the commit adds: the run (twice its file, for HDF5's metadata), a new
    // /summary chunk, and slack for B-tree nodes, heaps and object headers.
    struct stat rst;
    size_t off[1 + STORE_MAX_COLUMNS], row;
    H5Tclose(st_summary_type(-1, off, &row));
    off_t reserve = (stat(run_path, &rst) == 0 ? 2 * rst.st_size : 0) +
                    (off_t)(SUMMARY_CHUNK * row) + COMMIT_SLACK;
    hid_t overlay = -1;
    if (overlay_path) {
        if ((overlay = st5_open(overlay_path, H5F_ACC_RDONLY, e)) < 0) {
            H5Fclose(src);
            return -1;
        }
        if (stat(overlay_path, &rst) == 0) reserve += 2 * rst.st_size;
    }
    commit_arg a = {src, id, run_path, set, n, overlay, overlay_path, group, attrs, n_attrs};
    int rc = edit_by_copy(s->path, reserve, commit_edit, &a, "commit", e);
    if (overlay >= 0) H5Fclose(overlay);
    H5Fclose(src);
    return rc;
}
