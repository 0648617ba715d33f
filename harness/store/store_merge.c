// store_merge.c — joining the results files of shards (store_merge); see store.h.
//
// The output is built fresh as "<out>.tmp.<pid>" (root attributes of the first input, room for
// all inputs reserved, every complete run copied with H5Ocopy, /summary rebuilt) and renamed
// over out at the end, so out may be one of the inputs and an error leaves out as it was. An
// existing out is always merged into: when it is not among the inputs it becomes the first
// (its runs are kept, its root attributes win), so `merge X.h5 shards...` never drops the runs
// X.h5 already held. All ids and keys are gathered and checked before anything is copied.
#include "store/store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    char *id, *key;
    int input;   // index into inputs
} merge_run;

static int cmp_run(const void *a, const void *b) {
    const merge_run *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->input > y->input) - (x->input < y->input);
}

// Copies one attribute of the source root onto the destination root (op_data), whatever its
// type: read through the native type, written with the file type.
static herr_t copy_attr_cb(hid_t loc, const char *name, const H5A_info_t *info, void *op_data) {
    (void)info;
    hid_t dst = *(hid_t *)op_data;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT), ft = -1, mt = -1, sp = -1, na = -1;
    void *buf = NULL;
    herr_t rc = -1;
    if (a < 0 || (ft = H5Aget_type(a)) < 0 || (sp = H5Aget_space(a)) < 0 ||
        (mt = H5Tget_native_type(ft, H5T_DIR_ASCEND)) < 0)
        goto done;
    hssize_t npts = H5Sget_simple_extent_npoints(sp);
    size_t sz = H5Tget_size(mt);
    if (npts < 0 || !(buf = calloc(npts ? (size_t)npts : 1, sz))) goto done;
    if (H5Aread(a, mt, buf) < 0) goto done;
    na = H5Acreate2(dst, name, ft, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (na >= 0 && H5Awrite(na, mt, buf) >= 0) rc = 0;
    if (H5Tis_variable_str(mt) > 0 || H5Tdetect_class(mt, H5T_VLEN) > 0)
        H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, buf);
done:
    free(buf);
    if (na >= 0) H5Aclose(na);
    if (mt >= 0) H5Tclose(mt);
    if (sp >= 0) H5Sclose(sp);
    if (ft >= 0) H5Tclose(ft);
    if (a >= 0) H5Aclose(a);
    return rc;
}

// Appends the complete runs of input i (open as f) to *runs.
static int gather(hid_t f, const char *path, int i, merge_run **runs, int *nruns, int *cap, ah_err *e) {
    char **ids = NULL;
    int nids = 0, rc = 0;
    if (H5Lexists(f, "runs", H5P_DEFAULT) <= 0 || st_link_names(f, "runs", &ids, &nids))
        return ah_fail(e, "%s: no /runs group", path);
    for (int k = 0; k < nids && !rc; k++) {
        char obj[STORE_STR_MAX + 8];
        if ((rc = st_check_id(path, ids[k], e))) break;
        snprintf(obj, sizeof obj, "runs/%s", ids[k]);
        if (!st_is_complete(f, obj)) continue;   // a half-written run is never merged
        if (*nruns == *cap) {
            int nc = *cap ? 2 * *cap : 64;
            merge_run *nr = realloc(*runs, (size_t)nc * sizeof *nr);
            if (!nr) {
                rc = ah_fail(e, "%s: out of memory", path);
                break;
            }
            *runs = nr;
            *cap = nc;
        }
        st_value v;
        char *key = st_attr_get(f, obj, "key", &v) == 0 && v.kind == SV_STR ? v.s : strdup("");
        if (key == v.s) v.s = NULL;
        st_value_free(&v);
        if (!key) {
            rc = ah_fail(e, "%s: out of memory", path);
            break;
        }
        (*runs)[(*nruns)++] = (merge_run){ids[k], key, i};
        ids[k] = NULL;   // owned by runs now
    }
    st_names_free(ids, nids);
    return rc;
}

// 1 when file a and file b are the same file (device and inode), whatever their names.
static int same_file(const char *a, const char *b) {
    struct stat x, y;
    return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

// The input list: inputs, behind an existing out that is not one of them. *all malloc'd.
static int with_out(const char *out, const char *const *inputs, int n, const char ***all, int *nall,
                    ah_err *e) {
    struct stat st;
    int listed = 0, ex = stat(out, &st) == 0;
    for (int i = 0; ex && i < n; i++) listed |= same_file(out, inputs[i]);
    int add = ex && !listed;
    if (!(*all = malloc((size_t)(n + 1) * sizeof **all))) return ah_fail(e, "merge: out of memory");
    if (add) (*all)[0] = out;
    memcpy(*all + add, inputs, (size_t)n * sizeof *inputs);
    *nall = n + add;
    return 0;
}

static int merge_files(const char *out, const char *const *inputs, int n, ah_err *e);

int store_merge(const char *out_in, const char *const *inputs_in, int n_in, ah_err *e) {
    st5_quiet();
    if (!out_in || !*out_in || !inputs_in || n_in < 1) return ah_fail(e, "merge: no output or no input files");
    char *out = NULL;
    const char **inputs = NULL;
    int n, lock_fd = -1, rc = -1;
    // A link is followed (its target gets the runs); out, when it exists, must be a results
    // file: anything else (a checkpoint, a typo'd name) is never replaced. Checked before the
    // lock, so a wrong path gets no .lock file beside it.
    if (st_resolve(out_in, &out, e) || (access(out, F_OK) == 0 && st_verify_results(out, e)) ||
        st_lock(out, &lock_fd, e))   // a sweep committing into out would lose its runs at our rename
        goto done;
    if (with_out(out, inputs_in, n_in, &inputs, &n, e) == 0) rc = merge_files(out, inputs, n, e);
done:
    st_unlock(out, lock_fd);   // fd < 0: nothing was locked
    free(inputs);
    free(out);
    return rc;
}

// store_merge under the lock on out (resolved), with out among the inputs when it exists.
static int merge_files(const char *out, const char *const *inputs, int n, ah_err *e) {
    int rc = -1, nruns = 0, cap = 0;
    merge_run *runs = NULL;
    char *tmp = NULL;
    hid_t *in = malloc((size_t)n * sizeof *in), dst = -1, root = -1, src_root = -1, dst_runs = -1;
    if (!in) {
        ah_fail(e, "merge: out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++) in[i] = -1;
    for (int i = 0; i < n; i++) {   // an input the readers refuse (a stored name that is not
        store_summary sum;          // plain, ...) would give an output they refuse too
        if (store_summary_read(inputs[i], &sum, e)) goto done;
        store_summary_free(&sum);
    }
    for (int i = 0; i < n; i++) {
        if ((in[i] = st5_open(inputs[i], H5F_ACC_RDONLY, e)) < 0 || st_check_schema(in[i], inputs[i], e) ||
            gather(in[i], inputs[i], i, &runs, &nruns, &cap, e))
            goto done;
    }
    if (nruns) qsort(runs, (size_t)nruns, sizeof *runs, cmp_run);
    for (int k = 1; k < nruns; k++)
        if (strcmp(runs[k].id, runs[k - 1].id) == 0 && strcmp(runs[k].key, runs[k - 1].key) != 0) {
            ah_fail(e, "merge: run '%s' differs between %s and %s (different key)", runs[k].id,
                    inputs[runs[k - 1].input], inputs[runs[k].input]);
            goto done;
        }

    // The skeleton (root attributes, /runs) is built in memory and saved; room for every input
    // is reserved before HDF5 copies runs into it (see st_reserve: a full disk must fail here).
    if (!(tmp = st_tmp_name(out, e)) || (dst = st5_create_mem(tmp, e)) < 0) goto done;
    root = H5Gopen2(dst, "/", H5P_DEFAULT);
    src_root = H5Gopen2(in[0], "/", H5P_DEFAULT);
    if (root < 0 || src_root < 0 ||
        H5Aiterate2(src_root, H5_INDEX_NAME, H5_ITER_INC, NULL, copy_attr_cb, &root) < 0) {
        ah_fail(e, "%s: cannot copy the root attributes of %s", out, inputs[0]);
        goto done;
    }
    if ((dst_runs = H5Gcreate2(dst, "runs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0) {
        ah_fail(e, "%s: cannot create /runs", out);
        goto done;
    }
    H5Gclose(dst_runs);
    H5Gclose(root);
    dst_runs = root = -1;
    int sr = st5_save_image(dst, out, tmp, e);
    H5Fclose(dst);
    dst = -1;
    off_t room = 256 << 10;
    for (int i = 0; i < n; i++) {
        struct stat st;
        if (stat(inputs[i], &st) == 0) room += st.st_size;
    }
    if (sr || st_reserve(tmp, room, out, e) || (dst = st5_open(tmp, H5F_ACC_RDWR, e)) < 0 ||
        (root = H5Gopen2(dst, "/", H5P_DEFAULT)) < 0 ||
        (dst_runs = H5Gopen2(dst, "runs", H5P_DEFAULT)) < 0) {
        if (!sr && dst >= 0) st5_fail(e, out, "cannot reopen /runs");
        goto done;
    }
    for (int k = 0; k < nruns; k++) {
        if (k && strcmp(runs[k].id, runs[k - 1].id) == 0) continue;   // same key: taken once
        char obj[STORE_STR_MAX + 8];
        snprintf(obj, sizeof obj, "runs/%s", runs[k].id);
        if (H5Ocopy(in[runs[k].input], obj, dst_runs, runs[k].id, H5P_DEFAULT, H5P_DEFAULT) < 0) {
            char what[STORE_STR_MAX + 4200];
            snprintf(what, sizeof what, "cannot copy /runs/%s of %s", runs[k].id, inputs[runs[k].input]);
            st5_fail(e, out, what);
            goto done;
        }
    }
    H5Gclose(dst_runs);
    dst_runs = -1;
    if (st_summary_rebuild(dst, out, e)) goto done;
    H5Gclose(root);
    root = -1;
    herr_t cr = H5Fclose(dst);
    dst = -1;
    if (cr < 0) {
        st5_fail(e, out, "closing failed");
        goto done;
    }
    H5Gclose(src_root);
    src_root = -1;
    for (int i = 0; i < n; i++) {   // out may be one of them: let go of it before the rename
        H5Fclose(in[i]);
        in[i] = -1;
    }
    rc = st_publish(tmp, out, NULL, e);
done:
    if (dst_runs >= 0) H5Gclose(dst_runs);
    if (src_root >= 0) H5Gclose(src_root);
    if (root >= 0) H5Gclose(root);
    if (dst >= 0) H5Fclose(dst);
    for (int i = 0; in && i < n; i++)
        if (in[i] >= 0) H5Fclose(in[i]);
    free(in);
    if (rc && tmp) unlink(tmp);
    free(tmp);
    for (int k = 0; k < nruns; k++) {
        free(runs[k].id);
        free(runs[k].key);
    }
    free(runs);
    return rc;
}
