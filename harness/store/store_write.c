// store_write.c — writing one run into its own run file (store_run_*); see store.h.
//
// The run file is built in memory (st5_create_mem), written out by store_run_finish as
// "<path>.tmp.<pid>" after status = "complete" is set, fsync'd and renamed to path: a run file at
// its final path is always whole, so it can serve directly as the content-keyed cache entry,
// and a full disk fails in one write(2) with a clear message, never inside HDF5.
#include "store/store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/mem.h"
#include "core/version.h"

#define CHUNK_ELEMS 65536     // elements per chunk of a compressed dataset
#define COMPRESS_ABOVE 4096   // datasets with more elements are chunked and deflated

struct store_run_writer {
    hid_t f;
    char *path;   // final name
    char *tmp;    // name while being written
};

static void writer_free(store_run_writer *w) {
    if (w->f >= 0) H5Fclose(w->f);
    if (w->tmp) unlink(w->tmp);
    free(w->tmp);
    free(w->path);
    free(w);
}

// ---------------------------------------------------------------------------------------------
// scalar attributes (also used by store.c for the results file's root)

static int attr_put(hid_t obj, const char *name, hid_t ftype, hid_t mtype, const void *v) {
    if (H5Aexists(obj, name) > 0 && H5Adelete(obj, name) < 0) return -1;
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = sp < 0 ? -1 : H5Acreate2(obj, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a >= 0 && H5Awrite(a, mtype, v) >= 0 ? 0 : -1;
    if (a >= 0 && H5Aclose(a) < 0) rc = -1;
    if (sp >= 0) H5Sclose(sp);
    return rc;
}

int st_attr_put_str(hid_t obj, const char *name, const char *v) {
    // Variable-length UTF-8: h5py reads it as str, and there is no length limit.
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0) return -1;
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    const char *p = v ? v : "";
    int rc = attr_put(obj, name, t, t, &p);
    H5Tclose(t);
    return rc;
}

int st_attr_put_i64(hid_t obj, const char *name, long long v) {
    return attr_put(obj, name, H5T_STD_I64LE, H5T_NATIVE_LLONG, &v);
}

int st_attr_put_f64(hid_t obj, const char *name, double v) {
    return attr_put(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
}

// ---------------------------------------------------------------------------------------------
// the run writer

store_run_writer *store_run_begin(const char *path, ah_err *e) {
    st5_quiet();
    if (!path || !*path) {
        ah_fail(e, "store_run_begin: empty path");
        return NULL;
    }
    store_run_writer *w = calloc(1, sizeof *w);
    if (!w) {
        ah_fail(e, "%s: out of memory", path);
        return NULL;
    }
    w->f = -1;
    if (!(w->path = strdup(path)) || !(w->tmp = st_tmp_name(path, e))) {
        ah_fail(e, "%s: out of memory", path);
        free(w->path);
        free(w);
        return NULL;
    }
    // The temporary is created now (empty) so that a wrong or unwritable folder is reported
    // before the run is built; it is filled by store_run_finish.
    int fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        ah_fail(e, "%s: cannot create %s: %s", path, w->tmp, strerror(errno));
        free(w->tmp);
        w->tmp = NULL;   // nothing was created
        writer_free(w);
        return NULL;
    }
    close(fd);
    if ((w->f = st5_create_mem(w->tmp, e)) < 0) {
        writer_free(w);
        return NULL;
    }
    // Which build produced the run: a sweep resumed with a newer binary, or a merge of shards,
    // keeps each run's own provenance (the caller may overwrite these).
    hid_t root = H5Gopen2(w->f, "/", H5P_DEFAULT);
    int bad = root < 0 || st_attr_put_str(root, "harness_version", AH_VERSION) ||
              st_attr_put_str(root, "git_commit", ah_git_commit());
    if (root >= 0) H5Gclose(root);
    if (bad) {
        ah_fail(e, "%s: cannot write attributes", w->tmp);
        writer_free(w);
        return NULL;
    }
    return w;
}

void store_run_abort(store_run_writer *w) {
    if (w) writer_free(w);
}

// The group's name as it appears in messages.
static const char *gname(const char *group) { return group && *group ? group : "/"; }

// Opens group (relative to the run's root; leading '/' ignored), creating it and any missing
// parents. Negative (e set) on failure.
static hid_t open_group(store_run_writer *w, const char *group, ah_err *e) {
    if (!w || w->f < 0) return ah_fail(e, "store: no run writer");
    while (group && *group == '/') group++;
    if (!group || !*group) return H5Gopen2(w->f, "/", H5P_DEFAULT);
    hid_t g = H5Gopen2(w->f, group, H5P_DEFAULT);
    if (g >= 0) return g;
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    g = H5Gcreate2(w->f, group, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    char why[256];
    if (g < 0) st5_why(why, sizeof why);
    H5Pclose(lcpl);
    if (g < 0) ah_fail(e, "%s: cannot create group '%s' (%s)", w->path, group, why);
    return g;
}

typedef enum { A_STR, A_INT, A_REAL } attr_kind;

static int put_attr(store_run_writer *w, const char *group, const char *name, attr_kind k,
                    const char *s, long long i, double r, ah_err *e) {
    if (!name || !*name) return ah_fail(e, "%s: %s: empty attribute name", w ? w->path : "store", gname(group));
    hid_t g = open_group(w, group, e);
    if (g < 0) return -1;
    int rc = k == A_STR ? st_attr_put_str(g, name, s) : k == A_INT ? st_attr_put_i64(g, name, i)
                                                                   : st_attr_put_f64(g, name, r);
    H5Gclose(g);
    if (rc) {
        char what[300];
        snprintf(what, sizeof what, "%s: cannot write attribute '%s'", gname(group), name);
        return st5_fail(e, w->path, what);
    }
    return 0;
}

int store_run_attr_str(store_run_writer *w, const char *group, const char *name, const char *v, ah_err *e) {
    return put_attr(w, group, name, A_STR, v, 0, 0, e);
}

int store_run_attr_int(store_run_writer *w, const char *group, const char *name, long long v, ah_err *e) {
    return put_attr(w, group, name, A_INT, NULL, v, 0, e);
}

int store_run_attr_real(store_run_writer *w, const char *group, const char *name, double v, ah_err *e) {
    return put_attr(w, group, name, A_REAL, NULL, 0, v, e);
}

// Creates (replacing) dataset group/name and writes data (n elements, NULL only when n == 0).
static int put_dataset(store_run_writer *w, const char *group, const char *name, hid_t ftype,
                       hid_t mtype, const void *data, int rank, const size_t *dims, ah_err *e) {
    const char *path = w ? w->path : "store";
    if (!name || !*name) return ah_fail(e, "%s: %s: empty dataset name", path, gname(group));
    char ds[512];   // "group/name" for messages
    snprintf(ds, sizeof ds, "%s%s%s", group && *group ? group : "", group && *group ? "/" : "", name);
    if (rank < 0 || rank > 2 || (rank > 0 && !dims))
        return ah_fail(e, "%s: %s: rank %d (0, 1 or 2 with dims)", path, ds, rank);
    hsize_t hd[2] = {1, 1};
    size_t n = 1;
    for (int i = 0; i < rank; i++) {
        hd[i] = dims[i];
        if (ah_mul_ok(&n, n, dims[i])) return ah_fail(e, "%s: %s: size overflows", path, ds);
    }
    if (n && !data) return ah_fail(e, "%s: %s: no data", path, ds);
    hid_t g = open_group(w, group, e);
    if (g < 0) return -1;
    hid_t sp = rank ? H5Screate_simple(rank, hd, NULL) : H5Screate(H5S_SCALAR);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE), lcpl = H5Pcreate(H5P_LINK_CREATE), d = -1;
    H5Pset_create_intermediate_group(lcpl, 1);
    if (n > COMPRESS_ABOVE && H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0) {
        // Chunks of about CHUNK_ELEMS elements, whole rows where rows are short.
        hsize_t ch[2];
        if (rank == 1) {
            ch[0] = hd[0] < CHUNK_ELEMS ? hd[0] : CHUNK_ELEMS;
        } else {
            ch[1] = hd[1] < CHUNK_ELEMS ? hd[1] : CHUNK_ELEMS;
            ch[0] = CHUNK_ELEMS / ch[1];
            if (ch[0] > hd[0]) ch[0] = hd[0];
            if (ch[0] < 1) ch[0] = 1;
        }
        H5Pset_chunk(dcpl, rank, ch);
        H5Pset_shuffle(dcpl);
        H5Pset_deflate(dcpl, 4);
    }
    int rc = -1;
    char what[600];
    if (H5Lexists(g, name, H5P_DEFAULT) > 0 && H5Ldelete(g, name, H5P_DEFAULT) < 0) {
        snprintf(what, sizeof what, "%s: cannot replace the existing dataset", ds);
        st5_fail(e, path, what);
    } else if (sp < 0 || (d = H5Dcreate2(g, name, ftype, sp, lcpl, dcpl, H5P_DEFAULT)) < 0) {
        snprintf(what, sizeof what, "%s: cannot create dataset", ds);
        st5_fail(e, path, what);
    } else if (n && H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
        snprintf(what, sizeof what, "dataset %s", ds);
        st5_fail(e, path, what);
    } else {
        rc = 0;
    }
    // Closing flushes the chunk cache: a full disk may show only here.
    if (d >= 0 && H5Dclose(d) < 0 && rc == 0) {
        snprintf(what, sizeof what, "dataset %s", ds);
        rc = st5_fail(e, path, what);
    }
    H5Pclose(lcpl);
    H5Pclose(dcpl);
    if (sp >= 0) H5Sclose(sp);
    H5Gclose(g);
    return rc;
}

int store_run_f32(store_run_writer *w, const char *group, const char *name, const float *data,
                  int rank, const size_t *dims, ah_err *e) {
    return put_dataset(w, group, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, data, rank, dims, e);
}

int store_run_f64(store_run_writer *w, const char *group, const char *name, const double *data,
                  int rank, const size_t *dims, ah_err *e) {
    return put_dataset(w, group, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, data, rank, dims, e);
}

int store_run_i32(store_run_writer *w, const char *group, const char *name, const int32_t *data,
                  int rank, const size_t *dims, ah_err *e) {
    return put_dataset(w, group, name, H5T_STD_I32LE, H5T_NATIVE_INT32, data, rank, dims, e);
}

int store_run_finish(store_run_writer *w, ah_err *e) {
    st5_quiet();
    if (!w) return ah_fail(e, "store_run_finish: no run writer");
    hid_t root = H5Gopen2(w->f, "/", H5P_DEFAULT);
    int rc = root < 0 || st_attr_put_str(root, "status", "complete") ? -1 : 0;
    if (root >= 0) H5Gclose(root);
    if (rc) {
        st5_fail(e, w->path, "cannot set status");
    } else {
        rc = st5_save_image(w->f, w->path, w->tmp, e);
        herr_t cr = H5Fclose(w->f);   // in memory: nothing left to write
        w->f = -1;
        if (!rc && cr < 0) rc = st5_fail(e, w->path, "closing the run file failed");
        if (!rc) rc = st_publish(w->tmp, w->path, "run", e);
    }
    if (rc == 0) {
        free(w->tmp);   // renamed: nothing left to remove
        w->tmp = NULL;
    }
    writer_free(w);
    return rc;
}
